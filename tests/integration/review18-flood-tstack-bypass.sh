#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (the flood path): a flood's copies towards cube peers go
# through the broker (broker/pktout.c pktout_flood()), which runs the
# peer cube's own program (ingress(): c->obj->prog_fd) by
# BPF_PROG_TEST_RUN.  That skips every transparent cube attached to
# either end of the cube link: the egress stack of the flooding cube's
# port and the ingress stack of the peer's port (the fast path enters
# them: peer_wire() puts port_entry_fd() in the peer slot, and the
# egress program tail-calls CUB_PEERS_TSTACK + port).  A broadcast from
# an outside host thus crosses a transparent DROP cube (a firewall a
# user put on the link) to the hosts behind it.
# br1 (TC): p1 = veth1 (n1), p2 -> br2:p1, p3 -> br3:p1;
# br2: p2 = veth2 (n2); br3: p2 = veth3 (n3).  transparenthelloworld
# cubes with both actions DROP on both links, at the peer's end (first)
# and then at br1's end: no broadcast from n1 may reach n2 or n3.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so"
	"$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 n3:veth3:198.18.0.3
broker_start
L2_N=3
. "$CUB_LIB/l2.sh"


for b in br1 br2 br3; do cub_ok simplebridge add $b; done
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
[ "$d" = "0 20 20" ] || fail "with nothing attached, 20 broadcasts from n1 reached n1..n3: $d (the test is wrong)"

for t in t2 t3; do
	cub_ok transparenthelloworld add $t ingress-action=DROP egress-action=DROP
done
cub_ok attach t2 br2:p1
cub_ok attach t3 br3:p1
ip netns exec n1 ping -c 1 -W 1 198.18.0.3 >/dev/null &&
	fail "n1 pings n3 across t3 (DROP): the fast path skips the stack"
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 20)
bad=
[ "$d" = "0 0 0" ] || bad="DROP cubes on br2:p1 and br3:p1: 20 broadcasts from n1 reached n1..n3: $d (the broker's flood copy skips the peer port's ingress stack)"

cub_ok detach t2 br2:p1
cub_ok detach t3 br3:p1
cub_ok attach t2 br1:p2
cub_ok attach t3 br1:p3
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 20)
[ "$d" = "0 0 0" ] || bad="$bad; DROP cubes on br1:p2 and br1:p3: 20 broadcasts from n1 reached n1..n3: $d (the broker's flood copy skips br1's egress stack)"
[ -z "$bad" ] || fail "${bad#; }"
