#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 9 (netmon.c "odd netdev names"): Linux takes any bytes but '/',
# ':' and white space in a netdev name, non-UTF-8 ones included.  netmon
# copies IFLA_IFNAME as it is into `netdevs show` (and into the workers'
# netdev.event): one netdev so named must not make `netdevs show` fail for
# every client, nor the rest of the broker's answers.
. "$(dirname "$0")/../lib/netns.sh"
need python3
broker_start
ip link add name "$(printf "bad\xff\xfe")" type veth peer name okpeer ||
	{ cub_log "kernel refuses the name: nothing to test"; exit 0; }
ip link add name ok0 type veth peer name ok1
sleep 1
out=$(cub netdevs show -o json 2>&1) && rc=0 || rc=$?
cub_log "netdevs show: rc=$rc: ${out:0:300}"
[ "$rc" = 0 ] || fail "one netdev named with non-UTF-8 bytes breaks 'netdevs show' for every client: $out"
grep -q ok0 <<<"$out" || fail "netdevs show lost ok0: $out"
cub_ok cubes
cub_log "netdevs show survives a non-UTF-8 netdev name"
