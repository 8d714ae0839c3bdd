#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 22 (tenants): a tenant's cube of a host-wide-events service
# (CUB_NETDEV_HOST, named in --host-netdev-events) gets the events of
# every netdev, those granted to no one or to another tenant included:
# netmon.c emit() queues each event for every cube of the service
# ("host && !any"), with no look at the cube's owner's grants.  The
# plugin hands them to the cube (hwhost logs each), so tb reads in its
# own cube's log the names, state changes and addresses of ta's veths,
# which 'netdevs show' hides from it ("netdev ... is not granted" is all
# tb may learn of them).  Wanted: a tenant's cube gets the events of the
# netdevs granted to its tenant only (or the file/option refuses the
# combination): here none of vetha*'s, while vethb1's arrive.
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/testing/hwhost.so")
CUB_BROKER_ARGS="--host-netdev-events hwhost"
. "$(dirname "$0")/../lib/review22.sh"
r22_start

ok tb hwhost add hb1
! tb netdevs show | grep -q vetha || fail "tb's netdevs show lists ta's veths"
# ta's veth changes, then one of tb's: events arrive in order.
ip addr add 198.18.22.1/24 dev vetha1
ip link set vetha0 down
ip link set vetha0 up
ip addr add 198.18.22.9/24 dev vethb1
for _ in $(seq 1 100); do
	tb hb1 log show | grep -q "vethb1 address 198.18.22.9" && break
	sleep 0.1
done
log=$(tb hb1 log show)
grep -q "vethb1 address 198.18.22.9" <<<"$log" ||
	fail "tb's hb1 never got its own vethb1's event: $log"
if grep -q vetha <<<"$log"; then
	fail "tb's cube hb1 got ta's netdevs' events: $(grep vetha <<<"$log" | tr -s ' ' | tr '\n' ';')"
fi
cub_log "tb's hb1: vethb1's events only"
