#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 18 (simplebridge): "a port that goes forgets its hosts" is the
# worker's (plugins/simplebridge/simplebridge.c sb_port_removed(), from
# the SDK's ports_fresh_new() as it applies the document without the
# port), and the worker applies before the broker takes the port out of
# cub_ports (docs/architecture.md: the worker updates its maps, then the
# broker detaches).  A host that keeps sending in that window is learned
# again on the port's index, after the forget: the port is gone, its
# host stays in sb_fdb under its index (shown with port "?"), and the
# next port added takes that index and inherits the host: frames to a
# host that was never behind it go out of it, as to a known host, for
# the aging time (300 s).  The FDB should hold no host of a port that
# is not there (forget after the port is out of the dataplane, or drop
# on learning a port that is not up).
# br1 (TC): p1 = veth1 (n1), p2 = veth2 (n2); n2 sends without pause
# while p2 is deleted; p3 = veth3 is added (p2's index).  Up to 5 tries.
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
[ "$(fdb_port "$M2")" = "p2 dynamic" ] || fail "n2 not learned on p2: '$(fdb_port "$M2")'"
idx2=$(cub br1 ports p2 show index)

try=0
stale=
while [ $try -lt 5 ] && [ -z "$stale" ]; do
	try=$((try + 1))
	ip netns exec n2 python3 "$FRAMES" eth0 "$M1" "$M2" 100000000 >/dev/null 2>&1 &
	spid=$!
	sleep 0.3
	cub_ok br1 ports del p2
	sleep 0.3
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	stale=$(fdb_port "$M2")
	cub_log "try $try: after p2 went, n2 in the FDB: '$stale'"
	[ -n "$stale" ] && break
	cub_ok br1 ports add p2 peer=veth2
	ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "n1 cannot ping n2 again"
done
cub_ok br1 ports add p3 peer=veth3
idx3=$(cub br1 ports p3 show index)
cub_log "p2 had index $idx2, p3 has $idx3"
bad=
got=$(fdb_port "$M2")
[ -z "$got" ] || bad="n2 ($M2), learned on p2 which went, is shown as '$got' (p3 has p2's index $idx2: $idx3)"
f0=$(port_counter br1 p1 floods)
t0=$(port_counter br1 p3 tx_packets)
send n1 "$M2" "$M1" 10 >/dev/null
sleep 0.5
f1=$(port_counter br1 p1 floods)
t1=$(port_counter br1 p3 tx_packets)
[ $((f1 - f0)) = 10 ] ||
	bad="$bad; 10 frames to n2 (gone with p2): $((f1 - f0)) flooded, $((t1 - t0)) forwarded out of p3 as to a known host"
[ -z "$bad" ] || fail "${bad#; }"
