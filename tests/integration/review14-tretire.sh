#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (d2ae7f8): a retired transparent cube fails open.  A
# transparent cube is the shape of a firewall ("firewall, NAT,
# monitors", plugin-guide.md); t1 (transparenthelloworld) on veth1
# drops what comes in (ingress-action=drop): no ping from ca answered.
# Its plugin is replaced by review14_thnarrow.so (the same with
# max_map_bytes 4096) and reloaded: t1's reload is refused and its
# program retired, and "its own stack slot stepping over it" lets every
# packet through: the pings t1 dropped are answered, while t1 is listed
# with its document (ingress-action DROP).  A retired standard cube's
# traffic is dropped (its peers' slots emptied); a retired filter's
# passes.  Hook: $1 (TC default, or XDP_SKB).
. "$(dirname "$0")/../lib/netns.sh"
HOOK=${1:-TC}
PLUGINS=()
mkdir -p "$T/plugins"
cp "$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so" "$T/plugins/"
netns_host ca veth1 198.18.0.1
ip addr add 198.18.0.2/24 dev veth1
m1=$(ip -n ca -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
m2=$(ip -o link show veth1 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
ip -n ca neigh replace 198.18.0.2 lladdr "$m2" dev eth0 nud permanent
ip neigh replace 198.18.0.1 lladdr "$m1" dev veth1 nud permanent
broker_start
pings() { ip netns exec ca ping -c 3 -i 0.2 -W 1 198.18.0.2 >/dev/null 2>&1; }
pings || fail "no ping before anything is attached"
cub_ok transparenthelloworld add t1 type="$HOOK"
cub_ok attach t1 veth1
cub_ok t1 set ingress-action=drop
no_pings || fail "t1 (ingress-action=drop) lets pings through"
cp "$CUB_BUILD/plugins/testing/review14_thnarrow.so" "$T/plugins/.th.new"
mv -f "$T/plugins/.th.new" "$T/plugins/transparenthelloworld.so"
cub services reload transparenthelloworld -o json >/dev/null 2>&1 || true
for _ in $(seq 1 100); do
	grep -q "cube 't1': program id [0-9]* retired" "$T/broker.log" && break
	sleep 0.1
done
grep -q "cube 't1': program id [0-9]* retired" "$T/broker.log" ||
	fail "t1 not retired (the case under test)"
cub t1 show -o json | grep -qi '"ingress-action": "drop"' ||
	fail "t1's document lost: $(cub t1 show -o json)"
cub_log "t1 retired; $(cub show topology | tr -s ' ' | head -5 | tr '\n' ';')"
no_pings || fail "t1, retired, fails open: its stack steps over it and the pings it dropped are answered"
cub_log "t1 retired, its traffic still dropped"
