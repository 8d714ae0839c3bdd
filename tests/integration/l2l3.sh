#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Two bridges and a router between four namespaces, in the hook mode
# given as $1 (TC, XDP_SKB or XDP_DRV), wired by cube ports:
#   h1, h2 - br1 - r1:p1        198.18.1.0/24
#   h3     -       r1:p2        198.18.2.0/24 (a netdev port)
#   h4     - br2 - r1:p3        198.18.3.0/24
# Every pair pings (ARP crosses the bridges' floods into the router, its
# answers come back through them); a transparent cube on r1:p2 drops
# and passes what crosses that port, in each direction; a ping every
# 10 ms from h1 to h4 across both bridges and the router loses nothing
# across a kill -9 of each worker and of the broker; deleting all of it
# leaves no program on any netdev.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so"
	"$CUB_BUILD/plugins/router/router.so"
	"$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
netns_hosts "$HOOK" h1:veth1:198.18.1.1 h2:veth2:198.18.1.2 \
	h3:veth3:198.18.2.1 h4:veth4:198.18.3.1
ip -n h1 route add default via 198.18.1.254
ip -n h2 route add default via 198.18.1.254
ip -n h3 route add default via 198.18.2.254
ip -n h4 route add default via 198.18.3.254
broker_start

cub_ok simplebridge add br1 type="$HOOK"
cub_ok simplebridge add br2 type="$HOOK"
cub_ok router add r1 type="$HOOK"
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
cub_ok br1 ports add p3
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth4
cub_ok r1 ports add p1 ip=198.18.1.254/24
cub_ok r1 ports add p2 ip=198.18.2.254/24 peer=veth3
cub_ok r1 ports add p3 ip=198.18.3.254/24
cub_ok connect br1:p3 r1:p1
cub_ok connect r1:p3 br2:p1

all_ping() {
	local a b
	for a in 198.18.1.1:h1 198.18.1.2:h2 198.18.2.1:h3 198.18.3.1:h4; do
		for b in 198.18.1.1 198.18.1.2 198.18.2.1 198.18.3.1 198.18.1.254 198.18.3.254; do
			[ "${a%%:*}" = "$b" ] && continue
			ip netns exec "${a##*:}" ping -c 1 -W 3 "$b" >/dev/null ||
				fail "$1: ${a##*:} cannot ping $b"
		done
	done
}
all_ping "wired"

# A transparent cube on r1:p2 (the router's netdev port); on XDP on its
# netdev (XDP transparent cubes attach to netdevs only, for now).
cub_ok transparenthelloworld add th1 type="$HOOK"
[ "$HOOK" = TC ] && AT=r1:p2 || AT=veth3
cub_ok attach th1 $AT
ip netns exec h1 ping -c 1 -W 2 198.18.2.1 >/dev/null || fail "th1 PASS: h1 -> h3"
if [ "$HOOK" = TC ]; then
	cub_ok th1 set egress-action=DROP
	ip netns exec h1 ping -c 2 -i 0.2 -W 1 198.18.2.1 >/dev/null &&
		fail "th1 egress-action=DROP on $AT, yet h1 reached h3"
	cub_ok th1 set egress-action=PASS
fi
cub_ok th1 set ingress-action=DROP
ip netns exec h3 ping -c 2 -i 0.2 -W 1 198.18.1.1 >/dev/null &&
	fail "th1 ingress-action=DROP on $AT, yet h3 reached h1"
ip netns exec h1 ping -c 1 -W 2 198.18.3.1 >/dev/null || fail "th1 on $AT stopped h1 -> h4"
cub_ok th1 set ingress-action=PASS
ip netns exec h3 ping -c 1 -W 2 198.18.1.1 >/dev/null || fail "th1 PASS again: h3 -> h1"
[ "$(cub th1 show ingress-packets)" -ge 2 ] || fail "th1 saw $(cub th1 show ingress-packets) packets"
cub_ok detach th1 $AT

# A ping every 10 ms across br1, r1 and br2, through kill -9 of each
# worker and of the broker: the fast path needs none of them.
ip netns exec h1 ping -i 0.01 -c 500 -W 1 198.18.3.1 >"$T/ping.out" 2>&1 &
pp=$!
sleep 0.5
kill -9 "$(worker_pid simplebridge)"
sleep 0.5
kill -9 "$(worker_pid router)"
sleep 0.5
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
wait $pp || true
grep -q " 0% packet loss" "$T/ping.out" || fail "pings across the kills: $(tail -2 "$T/ping.out")"
all_ping "after the kills"

for c in th1 br1 br2 r1; do cub_ok $c del; done
links=$(bpftool -j net show | grep -c '"id"' || true)
[ "$links" = 0 ] || fail "programs left on netdevs: $(bpftool net show)"
