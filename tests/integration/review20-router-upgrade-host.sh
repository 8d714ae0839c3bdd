#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (router, 99a2e63 "/32 routes in a hash"): a router cube made
# by the plugin of before that change (cc92e38: every route, /32 ones
# included, in the LPM trie rt_routes) and upgraded to today's plugin
# (docs/plugin-guide.md "Upgrading a plugin": services reload; the
# pinned maps are reused, docs/architecture.md: "a new plugin version
# keeps map contents") keeps its /32 routes in the trie: the
# replay writes them into rt_host, and rt_cleanup() (router.c) deletes
# from rt_routes only what rt->rec lacks, and rt->rec has the /32 key
# (plen 32), so the trie's copy stays.  Deleting that route afterwards
# deletes it from rt_host alone (rt_write()); the program misses
# rt_host, asks the trie and still routes by the deleted route: h1's
# pings to 198.18.50.1 are forwarded to h2, where a net unreachable from
# the router is due (no route covers 198.18.50.1).  The old plugin is
# built once into $CUB_BUILD/router-old (tests/lib/review20-old.sh).
. "$(dirname "$0")/../lib/netns.sh"
need python3 git flock

. "$CUB_LIB/review20-old.sh"
old_build cc92e38 router-old plugins/router/router.so
old_so=$old_dir/plugins/router/router.so
PLUGINS+=("$old_so")
netns_hosts TC h1:veth1:198.18.1.1 h2:veth2:198.18.2.1
for i in 1 2; do ip -n h$i route add default via 198.18.$i.254; done
ip -n h2 addr add 198.18.50.1/32 dev lo
broker_start
cub_ok router add r1
cub_ok r1 ports add p1 peer=veth1 ip=198.18.1.254/24
cub_ok r1 ports add p2 peer=veth2 ip=198.18.2.254/24
cub_ok r1 route add 198.18.50.1/32 198.18.2.1
ip netns exec h1 ping -c 2 -i 0.2 -W 3 198.18.50.1 >/dev/null ||
	fail "the old router: h1 cannot ping 198.18.50.1 by its /32 route"
[ ! -e "$T/pins/r1/rt_host" ] || fail "the old router's object has an rt_host: not the plugin of before 99a2e63"

# The upgrade (docs/plugin-guide.md "Upgrading a plugin"): today's
# router.so put in place by rename, then services reload.
ln -s "$CUB_BUILD/plugins/router/router.so" "$T/plugins/.router.so.new"
mv -T "$T/plugins/.router.so.new" "$T/plugins/router.so"
cub_ok services reload router
for _ in $(seq 1 100); do [ -e "$T/pins/r1/rt_host" ] && break; sleep 0.1; done
[ -e "$T/pins/r1/rt_host" ] || fail "today's router object not loaded over the old one (no rt_host pin)"
ip netns exec h1 ping -c 2 -i 0.2 -W 3 198.18.50.1 >/dev/null ||
	fail "after the upgrade h1 cannot ping 198.18.50.1"

cub_ok r1 route del 198.18.50.1/32 198.18.2.1
cub r1 route show | grep -q 198.18.50.1 && fail "route show still lists 198.18.50.1/32"
trie=$(bpftool -j map dump pinned "$T/pins/r1/rt_routes" 2>/dev/null | python3 -c '
import json, sys
n = 0
for e in json.load(sys.stdin):
    k = e.get("key")
    if isinstance(k, list) and int(k[0], 16) == 32:
        n += 1
print(n)' 2>/dev/null || echo "?")
cub_log "after the del: /32 keys left in rt_routes (the trie): $trie"
out=$(ip netns exec h1 ping -c 1 -W 2 198.18.50.1 2>&1 || true)
cub_log "h1 -> 198.18.50.1 after its only route was deleted: $(grep -E 'bytes from|From|loss' <<<"$out" | head -2 | tr '\n' ' ')"
grep -q "bytes from 198.18.50.1" <<<"$out" &&
	fail "the deleted /32 route still routes: h1's ping to 198.18.50.1 was answered (the trie kept the old plugin's /32 entry)"
grep -q "From 198.18.1.254 .*Destination Net Unreachable" <<<"$out" ||
	fail "no net unreachable for 198.18.50.1 once its route was deleted: $out"
