#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (the flood path): on TC a port with an egress stack of
# transparent cubes is a "tail" port of the flood set (broker/topology.c
# topo_flood_sync()); the packet itself takes the first of them and
# the others get nothing (bpf/egress.bpf.c egress_flood_tc(): no copy,
# not even through the broker, which copies to cube peers only).  So a
# pass-through cube (transparenthelloworld, PASS both ways) attached to
# two ports of a bridge cuts one of them off every broadcast: ARP
# requests never reach its host and nobody can ping it.  Polycube
# floods with a packet-out on every other port; the plugin's contract
# is "every connected port but the in-port" (cube.bpf.h cub_flood()).
# br1 (TC): p1 = veth1 (n1), p2 = veth2 (n2), p3 = veth3 (n3);
# t2 on br1:p2, t3 on br1:p3, both PASS.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so"
	"$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 n3:veth3:198.18.0.3
broker_start
L2_N=3
. "$CUB_LIB/l2.sh"


cub_ok simplebridge add br1
for i in 1 2 3; do cub_ok br1 ports add p$i peer=veth$i; done
M1=$(mac_of n1)
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 20)
[ "$d" = "0 20 20" ] || fail "with nothing attached, 20 broadcasts from n1 reached n1..n3: $d (the test is wrong)"

for t in t2 t3; do cub_ok transparenthelloworld add $t; done
cub_ok attach t2 br1:p2
cub_ok attach t3 br1:p3
bad=
for j in 2 3; do
	ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.$j >/dev/null ||
		bad="$bad; n1 cannot ping n$j (ARP is a broadcast)"
done
for i in 1 2 3; do
	for j in 1 2 3; do
		[ $i = $j ] && continue
		ip -n n$i neigh replace 198.18.0.$j lladdr "$(mac_of n$j)" dev eth0 nud permanent
	done
done
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 20)
[ "$d" = "0 20 20" ] || bad="$bad; PASS cubes on br1:p2 and br1:p3: 20 broadcasts from n1 reached n1..n3: $d"
[ -z "$bad" ] || fail "${bad#; }"
