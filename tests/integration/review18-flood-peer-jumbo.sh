#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (the flood path): a flood's copy for the cube peers the
# packet itself does not take is "the whole frame or nothing (a frame
# over CUB_PKTIN_MAX is not copied)" (bpf/egress.bpf.c
# egress_flood_copy(): 1536 bytes).  So on links with a larger MTU
# (jumbo frames, 9000), a broadcast or unknown unicast of more than
# 1536 bytes reaches the netdev ports and one cube peer (TC: the one the
# packet takes) and never the others, without a count anywhere; on XDP
# it reaches no cube peer at all.  The same frame crosses each link
# alone (unicast) and reaches every netdev port.
# br1 (hook $1): p1 = veth1 (n1), p2 -> br2:p1, p3 -> br3:p1; br2: p2 =
# veth2 (n2); br3: p2 = veth3 (n3); every link MTU 9000; 10 broadcasts
# of 4000 bytes from n1.
. "$(dirname "$0")/../lib/netns.sh"
need python3

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
netns_hosts "$HOOK" n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 n3:veth3:198.18.0.3
for i in 1 2 3; do
	ip link set veth$i mtu 9000
	ip -n n$i link set eth0 mtu 9000
done
broker_start
L2_N=3
. "$CUB_LIB/l2.sh"

big() { # big NS DST COUNT LEN: COUNT frames of LEN bytes from NS's eth0
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'PY'
import socket, sys
dst = bytes(int(x, 16) for x in sys.argv[1].split(":"))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
src = open("/sys/class/net/eth0/address").read().strip()
src = bytes(int(x, 16) for x in src.split(":"))
for _ in range(int(sys.argv[2])):
    s.send(dst + src + b"\x88\xb5" + b"\0" * (int(sys.argv[3]) - 14))
PY
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
for i in 1 2 3; do
	for j in 1 2 3; do
		[ $i = $j ] && continue
		ip -n n$i neigh replace 198.18.0.$j lladdr "$(mac_of n$j)" dev eth0 nud permanent
	done
done
for j in 2 3; do
	ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.$j >/dev/null || fail "n1 cannot ping n$j"
	ip netns exec n1 ping -c 1 -W 2 -s 3972 -M do 198.18.0.$j >/dev/null ||
		fail "$HOOK: n1 cannot ping n$j with 4000-byte frames (the test is wrong)"
done
d=$(deltas big n1 ff:ff:ff:ff:ff:ff 10 1000)
[ "$d" = "0 10 10" ] || fail "$HOOK: 10 broadcasts of 1000 bytes from n1 reached n1..n3: $d (the test is wrong)"
d=$(deltas big n1 ff:ff:ff:ff:ff:ff 10 4000)
[ "$d" = "0 10 10" ] || fail "$HOOK: 10 broadcasts of 4000 bytes from n1 (MTU 9000) reached n1..n3: $d"
