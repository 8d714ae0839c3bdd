#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (simplebridge, aging): aging-time is "seconds after which a
# host not seen is forgotten", but an aged entry is only hidden: the
# dataplane treats it as unknown and the show skips it
# (plugins/simplebridge/simplebridge.bpf.c sb_ingress(), simplebridge.c
# sb_show_fn()), and nothing deletes it.  Raise aging-time and every
# host forgotten comes back, as known, on the port where it was last
# seen however long ago: frames to it are forwarded there, not flooded
# (a host that moved silently meanwhile is black-holed until it
# speaks).  A host past aging-time should be gone (deleted when the
# dataplane or the show meets it, or when aging-time changes).
# br1 (TC): p1 = veth1 (n1), p2 = veth2 (n2); n2 learned, aging-time 2,
# 3 s of silence (n2 forgotten), aging-time 300, p3 = veth3 (n3) added:
# frames from n1 to n2 must be flooded (reach n3 too).
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 n3:veth3:198.18.0.3
broker_start
L2_N=3
. "$CUB_LIB/l2.sh"

fdb_port() {
	cub br1 fdb entry "$1" show -o json 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)
print(e["port"], e.get("type", ""))' 2>/dev/null || true
}

cub_ok simplebridge add br1
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
M1=$(mac_of n1) M2=$(mac_of n2)
ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "n1 cannot ping n2"
for i in 1 2 3; do
	for j in 1 2 3; do
		[ $i = $j ] && continue
		ip -n n$i neigh replace 198.18.0.$j lladdr "$(mac_of n$j)" dev eth0 nud permanent
	done
done
[ "$(fdb_port "$M2")" = "p2 dynamic" ] || fail "n2 not learned on p2: '$(fdb_port "$M2")'"
cub_ok br1 fdb set aging-time=2
sleep 3
[ -z "$(fdb_port "$M2")" ] || fail "n2 not forgotten after aging-time 2 and 3 s of silence (the test is wrong)"
cub_ok br1 fdb set aging-time=300
cub_ok br1 ports add p3 peer=veth3
bad=
got=$(fdb_port "$M2")
[ -z "$got" ] || bad="n2, forgotten (aged), is back in the FDB as '$got' once aging-time went up"
d=$(deltas send n1 "$M2" "$M1" 10)
[ "$d" = "0 10 10" ] || bad="$bad; 10 frames from n1 to the forgotten n2 reached n1..n3: $d (forwarded to its old port, not flooded)"
[ -z "$bad" ] || fail "${bad#; }"
