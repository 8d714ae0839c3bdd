#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# simplebridge in the hook mode given as $1 (TC, XDP_SKB or XDP_DRV):
# five namespaces n1..n5, four of them bridged by br1 (p1..p4), n5 on a
# netdev no port uses.  Pings cross; the FDB learns each host on its
# port; a broadcast and an unknown unicast reach every bridged namespace
# but the sender's, exactly once, and n5 never; a known unicast reaches
# its host alone; static entries win over learning; aging, flush and a
# deleted port forget hosts; bad input is refused and changes nothing;
# 65536 hosts are learned; pings go on, unlost, across a kill -9 of the
# worker and of the broker (the fast path keeps forwarding, the FDB is
# kept).
. "$(dirname "$0")/../lib/netns.sh"
need bpftool python3

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
netns_hosts "$HOOK" n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 \
	n3:veth3:198.18.0.3 n4:veth4:198.18.0.4 n5:veth5:198.18.0.5
broker_start

. "$CUB_LIB/l2.sh"
fdb_port() { # fdb_port MAC: "port type age" of MAC in the FDB, "" when absent
	cub br1 fdb entry "$1" show -o json 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)
print(e["port"], e.get("type", ""), e.get("age", ""))' 2>/dev/null || true
}

cub_ok simplebridge add br1 type="$HOOK"
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
cub_ok br1 ports add p3
cub_ok br1 ports add p4
cub_ok connect br1:p3 veth3
cub_ok connect br1:p4 veth4
M1=$(mac_of n1) M2=$(mac_of n2) M3=$(mac_of n3) M4=$(mac_of n4)

# Pings across (ARP requests are broadcasts: flooded; replies learned).
for d in 2 3 4; do
	ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.$d >/dev/null ||
		fail "n1 cannot ping 198.18.0.$d through br1"
done
ip netns exec n3 ping -c 1 -W 2 198.18.0.4 >/dev/null || fail "n3 cannot ping n4"
for i in 1 2 3 4; do
	eval m=\$M$i
	got=$(fdb_port "$m")
	case "$got" in
	"p$i dynamic "*) ;;
	*) fail "fdb entry of n$i ($m): '$got', expected p$i dynamic" ;;
	esac
done
cub_log "learned: $(cub br1 fdb entry show | tr '\n' ' ')"
# From here the counts are exact: no ARP of the stacks (their
# neighbours are made permanent), only the frames the test sends.
freeze_neigh

# A broadcast and an unknown unicast: once to n2, n3, n4; not back to
# n1, never to n5.
d=$(deltas send n1 ff:ff:ff:ff:ff:ff "$M1" 50)
[ "$d" = "0 50 50 50 0" ] || fail "50 broadcasts from n1 reached n1..n5: $d"
d=$(deltas send n3 02:00:00:00:99:99 "$M3" 40)
[ "$d" = "40 40 0 40 0" ] || fail "40 unknown unicasts from n3 reached n1..n5: $d"
[ "$(port_counter br1 p1 floods)" -ge 50 ] || fail "p1 floods: $(port_counter br1 p1 floods)"
# A known unicast reaches its host alone.
d=$(deltas send n1 "$M2" "$M1" 30)
[ "$d" = "0 30 0 0 0" ] || fail "30 frames n1 -> n2 reached n1..n5: $d"
# A frame to a host on the port it came in by is dropped.
d=$(deltas send n1 "$M1" 02:00:00:00:00:11 10)
[ "$d" = "0 0 0 0 0" ] || fail "10 frames to n1's own port reached n1..n5: $d"

# Static entries: the document's, they win over learning.
S=02:00:00:00:00:77
cub_ok br1 fdb entry add $S port=p3
[ "$(fdb_port $S)" = "p3 static 0" ] || fail "static entry: '$(fdb_port $S)'"
d=$(deltas send n1 $S "$M1" 20)
[ "$d" = "0 0 20 0 0" ] || fail "20 frames to the static host reached n1..n5: $d"
send n4 ff:ff:ff:ff:ff:ff $S 5 >/dev/null # the host "moves" to p4: it may not
d=$(deltas send n1 $S "$M1" 20)
[ "$d" = "0 0 20 0 0" ] || fail "a static host moved by what it sent: $d"
# A learned host that becomes static is where the document says.
cub_ok br1 fdb entry add "$M2" port=p4
d=$(deltas send n1 "$M2" "$M1" 10)
[ "$d" = "0 0 0 10 0" ] || fail "static entry over a learned one: $d"
cub_ok br1 fdb entry del "$M2"
ip netns exec n2 ping -c 1 -W 2 198.18.0.1 >/dev/null || fail "n2 cannot ping n1 after its static entry went"
[ "$(fdb_port "$M2" | cut -d' ' -f1-2)" = "p2 dynamic" ] || fail "n2 not learned again: $(fdb_port "$M2")"

# Bad input: refused, named, nothing changed.
snapshot() { cub br1 show -o json | grep -v '"age"\|_packets\|_bytes\|floods\|drops'; }
before=$(snapshot)
refused_unchanged "MAC|address" br1 fdb entry add zz:zz port=p1
refused_unchanged "multicast" br1 fdb entry add 01:00:5e:00:00:01 port=p1
refused_unchanged "p9" br1 fdb entry add 02:00:00:00:00:78 port=p9
refused_unchanged "aging-time" br1 fdb set aging-time=0
refused_unchanged "aging-time" br1 fdb set aging-time=99999999
refused_unchanged "$S|p3|refer" br1 ports del p3
refused_unchanged "exists|already" br1 fdb entry add $S port=p1

# A deleted port forgets its hosts.
cub_ok br1 ports del p4
[ -z "$(fdb_port "$M4")" ] || fail "n4 still in the FDB after p4 went: $(fdb_port "$M4")"
cub_ok br1 ports add p4 peer=veth4

# Aging: a host not seen for aging-time is forgotten (shown no more,
# its frames flooded again).
ip netns exec n2 ping -c 1 -W 2 198.18.0.1 >/dev/null || fail "n2 -> n1"
cub_ok br1 fdb set aging-time=2
sleep 3
[ -z "$(fdb_port "$M2")" ] || fail "n2 shown after aging: $(fdb_port "$M2")"
d=$(deltas send n1 "$M2" "$M1" 10)
[ "$d" = "0 10 10 10 0" ] || fail "frames to an aged host were not flooded: $d"
cub_ok br1 fdb set aging-time=300

# Flush: every learned host goes, the static one stays.
ip netns exec n1 ping -c 1 -W 2 198.18.0.2 >/dev/null || fail "n1 -> n2"
[ -n "$(fdb_port "$M2")" ] || fail "n2 not learned"
out=$(cub br1 fdb flush)
grep -q "flushed" <<<"$out" || fail "flush said: $out"
[ -z "$(fdb_port "$M1")$(fdb_port "$M2")" ] || fail "flush left learned hosts"
[ "$(fdb_port $S)" = "p3 static 0" ] || fail "flush took the static entry"

# 65536 hosts learned (Polycube: 1024).
send n1 ff:ff:ff:ff:ff:ff seq:02:aa:00 65536 >/dev/null
sleep 1
pin=$(ls -d "$T"/pins/br1/sb_fdb)
n=$(bpftool -j map dump pinned "$pin" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$n" -ge 65536 ] || fail "sb_fdb holds $n of 65536 hosts"
d=$(deltas send n2 02:aa:00:00:12:34 "$M2" 10)
[ "$d" = "10 0 0 0 0" ] || fail "a frame to host 4660 of 65536 reached n1..n5: $d"
cub_log "65536 hosts learned ($n entries)"

# kill -9 of the worker, then of the broker, under a ping every 10 ms:
# the fast path forwards on (the FDB is kept), nothing is lost.
ip netns exec n1 ping -c 1 -W 2 198.18.0.3 >/dev/null
ip netns exec n1 ping -i 0.01 -c 400 -W 1 198.18.0.3 >"$T/ping.out" 2>&1 &
ping_pid=$!
sleep 0.5
kill -9 "$(worker_pid simplebridge)"
sleep 1
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
sleep 0.5
broker_start
wait $ping_pid || true
loss=$(grep -oE '[0-9.]+% packet loss' "$T/ping.out")
[ "$loss" = "0% packet loss" ] || fail "pings across the kills: $(tail -2 "$T/ping.out")"
until_ok() { local i; for i in $(seq 1 100); do "$@" && return 0; sleep 0.1; done; return 1; }
until_ok eval '[ "$(fdb_port $S)" = "p3 static 0" ]' || fail "static entry after the restart: '$(fdb_port $S)'"
[ "$(fdb_port "$M3" | cut -d" " -f1-2)" = "p3 dynamic" ] || fail "n3 forgotten across the restart: $(fdb_port "$M3")"
d=$(deltas send n1 "$M3" "$M1" 10)
[ "$d" = "0 0 10 0 0" ] || fail "after the restart, frames to n3 reached n1..n5: $d"

cub_ok br1 del
links=$(bpftool -j net show | grep -c '"id"' || true)
[ "$links" = 0 ] || fail "programs left on netdevs after br1 del: $(bpftool net show)"
