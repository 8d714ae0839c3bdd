#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 9 (netmon.c "odd netdev names"): Linux allows any byte but '/',
# ':' and white space in a netdev name, so a netdev a cube's port uses may
# be renamed to non-UTF-8 bytes.  netmon copies IFLA_IFNAME as it is into
# the netdev.event batch for the worker; the wire refuses strings that are
# not UTF-8, so the whole batch (up to NETQ_BATCH events, of any netdev)
# is lost and counted as dropped: the rename of veth1 never reaches
# helloworld's worker, which logs every event of its ports (veth2 going
# down after it, in a later batch, does).  And 'netdevs show' fails for
# every client from then on.
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/helloworld/helloworld.so")
need python3
netns_hosts TC ca:veth1:198.18.0.1 cb:veth2:198.18.0.2
broker_start
cub_ok helloworld add hw0
cub_ok hw0 ports add port1 peer=veth1
cub_ok hw0 ports add port2 peer=veth2
sleep 1
bad=$(printf 'v\xff\xfe')
ip link set veth1 name "$bad" && ip link set veth2 down
ok=0
for i in $(seq 1 50); do
	cub hw0 log show >"$T/hwlog" 2>&1 || true
	grep -q "port2: veth2 down" "$T/hwlog" && { ok=1; break; }
	sleep 0.1
done
sed 's/^/  hw0 log: /' "$T/hwlog" | tail -6
cub services -o json 2>&1 | grep -E '"netdev_events' | head -3 || true
lost=""
[ "$ok" = 1 ] || lost=" (and veth2 going down, another port's plain-named event of the same batch, was lost with it)"
grep -q "port1: veth1 renamed" "$T/hwlog" ||
	fail "the rename of veth1 to a non-UTF-8 name never reached hw0's worker: its netdev.event batch was dropped whole$lost"
[ "$ok" = 1 ] || fail "veth2 going down never reached hw0's worker"
out=$(cub netdevs show 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "a netdev renamed to non-UTF-8 bytes breaks 'netdevs show': $out"
cub_log "odd names are harmless"
