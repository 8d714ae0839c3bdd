#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Three simplebridges chained by cube ports, in the hook mode given as $1
# (TC, XDP_SKB or XDP_DRV): br1 (n1, n2) - br2 (n3, n4) - br3 (n5); br2
# has two cube peers.  A flood crosses every cube link: on TC the packet
# itself takes the first cube peer and the broker gives the others a
# copy; on XDP the broker gives every cube peer its copy (the devmap
# reaches netdevs only).  Broadcasts from each end and from the middle
# reach every namespace but the sender's exactly once; pings cross the
# chain; unicast to a learned host crosses to it alone; the flood copies
# show in `cubicle services`'s pktout_sent, and a broker restart
# keeps all of it working.
. "$(dirname "$0")/../lib/netns.sh"
need python3

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
netns_hosts "$HOOK" n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 \
	n3:veth3:198.18.0.3 n4:veth4:198.18.0.4 n5:veth5:198.18.0.5
broker_start

. "$CUB_LIB/l2.sh"

for b in br1 br2 br3; do cub_ok simplebridge add $b type="$HOOK"; done
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
cub_ok br1 ports add p3
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth3
cub_ok br2 ports add p3 peer=veth4
cub_ok br2 ports add p4
cub_ok br3 ports add p1
cub_ok br3 ports add p2 peer=veth5
cub_ok connect br1:p3 br2:p1
cub_ok connect br2:p4 br3:p1

check_all() {
	local i j
	for i in 1 3 5; do
		for j in 1 2 3 4 5; do
			[ $i = $j ] && continue
			ip netns exec n$i ping -c 1 -W 3 198.18.0.$j >/dev/null ||
				fail "$1: n$i cannot ping n$j across the chain"
		done
	done
}
check_all "before"
# Exact counts from here: permanent neighbours, no ARP of the stacks.
freeze_neigh
M1=$(mac_of n1) M3=$(mac_of n3) M5=$(mac_of n5)
floods() {
	local d
	d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 20)
	[ "$d" = "0 20 20 20 20" ] || fail "$1: 20 broadcasts from n1 (br1) reached n1..n5: $d"
	d=$(deltas send n3 ff:ff:ff:ff:ff:ff "$M3" 20)
	[ "$d" = "20 20 0 20 20" ] || fail "$1: 20 broadcasts from n3 (br2, two cube peers) reached n1..n5: $d"
	d=$(deltas send n5 02:00:00:00:99:99 "$M5" 20)
	[ "$d" = "20 20 20 20 0" ] || fail "$1: 20 unknown unicasts from n5 (br3) reached n1..n5: $d"
	d=$(deltas send n5 "$M1" "$M5" 20)
	[ "$d" = "20 0 0 0 0" ] || fail "$1: 20 frames n5 -> n1 reached n1..n5: $d"
}
floods "before"
sent=$(cub services -o json | python3 -c '
import json, sys
print(sum(s.get("pktout_sent", 0) for s in json.load(sys.stdin) if s["name"] == "simplebridge"))')
[ "$sent" -ge 20 ] || fail "the flood copies through the broker: pktout_sent $sent"
cub_log "$sent flood copies went through the broker"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
floods "after a broker restart"
for b in br1 br2 br3; do cub_ok $b del; done
