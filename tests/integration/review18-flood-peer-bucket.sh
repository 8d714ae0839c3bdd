#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (the flood path): the copies of a flood towards cube peers
# other than the one the packet itself takes go through the cube's
# cub_pktin ring (256 KiB, ~168 records of 1552 bytes) and the broker's
# packet-out bucket (broker/pktout.c pktout_flood(): bucket_take(), by
# default 1000 a second, a burst of 64).  So a bridge with two cube
# peers (br1 -> br2, br1 -> br3) floods at line rate to its netdevs and
# to one peer, and at 1000 frames a second to the other: of 2000
# broadcasts one host behind a peer sees them all, the other about 80.
# The rest are not even counted: a copy the full ring refuses is lost
# without a trace (bpf/egress.bpf.c egress_flood_copy()), so
# pktout_sent + pktout_dropped stays far below what was flooded.  A
# one-way flow to a host that never speaks (never learned: always
# flooded) behind the second peer loses almost everything.  (Polycube
# floods through its slow path for every port alike; here the netdev
# ports and the first peer get all, a second peer a few per cent.)
# On XDP every cube peer gets its copies that way (the flood devmap
# reaches netdevs only): both hosts behind peers see about 80.
# br1 (hook $1: TC, XDP_SKB or XDP_DRV): p1 = veth1 (n1), p2 -> br2:p1,
# p3 -> br3:p1; br2: p2 = veth2 (n2); br3: p2 = veth3 (n3).
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
HOOK=${1:-TC}
netns_hosts "$HOOK" n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 n3:veth3:198.18.0.3
broker_start
L2_N=3
. "$CUB_LIB/l2.sh"

deltas() {
	local a=() i out
	for i in 1 2 3; do a[i]=$(rx n$i); done
	"$@" >/dev/null
	sleep 1
	out=
	for i in 1 2 3; do out="$out $(($(rx n$i) - a[i]))"; done
	echo $out
}
sb_pktout() {
	cub services -o json | python3 -c '
import json, sys
s = [s for s in json.load(sys.stdin) if s["name"] == "simplebridge"][0]
print(s.get("pktout_sent", 0) + s.get("pktout_dropped", 0))'
}

for b in br1 br2 br3; do cub_ok simplebridge add $b type="$HOOK"; done
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2
cub_ok br1 ports add p3
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth2
cub_ok br3 ports add p1
cub_ok br3 ports add p2 peer=veth3
cub_ok connect br1:p2 br2:p1
cub_ok connect br1:p3 br3:p1
M1=$(mac_of n1)
for i in 1 2 3; do
	for j in 1 2 3; do
		[ $i = $j ] && continue
		ip -n n$i neigh replace 198.18.0.$j lladdr "$(mac_of n$j)" dev eth0 nud permanent
	done
done
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 20)
[ "$d" = "0 20 20" ] || fail "20 broadcasts from n1 reached n1..n3: $d (the test is wrong)"

c0=$(sb_pktout)
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 2000)
c1=$(sb_pktout)
cub_log "2000 broadcasts from n1 reached n1..n3: $d; copies through the broker counted (sent or dropped): $((c1 - c0))"
bad=
[ "$d" = "0 2000 2000" ] || bad="$HOOK: 2000 broadcasts from n1 reached n1..n3: $d (a cube peer's copies are held to the packet-out bucket)"
want=2000
[ "$HOOK" = TC ] || want=4000
[ $((c1 - c0)) -ge $want ] ||
	bad="$bad; of $want flood copies for the cube peers through the broker, $((c1 - c0)) are counted (sent or dropped): the others were lost uncounted"
[ -z "$bad" ] || fail "${bad#; }"
