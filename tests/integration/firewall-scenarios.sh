#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's firewall cube (plugins/firewall) through Polycube's scenarios
# S10-S13, hook $1 (TC or XDP_DRV), attached to $2: "netdev" (veth1, the
# host end of namespace ca: A = ca 198.18.0.1, B = this namespace
# 198.18.0.2) or "port" (sf1:p1, a simpleforwarder between ca and cb: B
# = cb 198.18.0.2).  INGRESS is what comes in (A -> B), EGRESS what goes
# out (B -> A); XDP has no egress hook, so there EGRESS never runs (its
# counters stay 0) and S12 (conntrack needs both ways) is TC only.
#   S10 both defaults DROP, ICMP accept rules: ping, stats 2/196 per
#       chain, reset-counters to 0/0.
#   S11 insert a DROP at the head: ping fails; delete it by fields: ping
#       works; ids past the end refused with their message, the rest
#       taken, ids contiguous.
#   S12 accept-established OFF, NEW/ESTABLISHED rules: B's TCP connect to
#       A works, A's to B does not; UDP likewise, A's answer later too.
#   S13 a batch of 130 rules whose ICMP accept is rule 63: ping works,
#       rule 63 counted it, a DROP rule after it that also matches never.
# Bad input is refused naming the field, and changes nothing.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
WHERE=${2:-netdev}
need python3
PLUGINS+=("$CUB_BUILD/plugins/firewall/firewall.so")
A=198.18.0.1
B=198.18.0.2
if [ "$WHERE" = netdev ]; then
	host_peer ca veth1 $A $B
	inB() { "$@"; }
else
	netns_hosts "$HOOK" ca:vetha:$A cb:vethb:$B
	static_arp ca $A cb $B
	inB() { ip netns exec cb "$@"; }
fi
broker_start

if [ "$WHERE" = netdev ]; then
	cub_ok firewall add fw1 type="$HOOK"
	cub_ok attach fw1 veth1
else
	cub_ok simpleforwarder add sf1 type="$HOOK"
	cub_ok sf1 ports add p1 peer=vetha
	cub_ok sf1 ports add p2 peer=vethb
	cub_ok sf1 ports p1 set action=forward outport=p2
	cub_ok sf1 ports p2 set action=forward outport=p1
	cub_ok firewall add fw1 type="$HOOK"
	cub_ok attach fw1 sf1:p1
fi

ping_ok() { # N: N pings from A to B, all answered (three tries)
	local try
	for try in 1 2 3; do
		ip netns exec ca ping -c "$1" -i 0.2 -W 2 $B >"$T/ping.out" 2>&1 &&
			grep -q " 0% packet loss" "$T/ping.out" && return 0
	done
	return 1
}
ping_none() { # N: N pings from A to B, none answered
	! ip netns exec ca ping -c "$1" -i 0.2 -W 1 $B >"$T/ping.out" 2>&1
}
# stat CHAIN ID FIELD
stat() {
	cub fw1 chain "$1" stats show -o json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
rows = rows.get("stats", rows) if isinstance(rows, dict) else rows
print([r for r in rows if r["id"] == int(sys.argv[1])][0][sys.argv[2]])' "$2" "$3"
}
# ids CHAIN: the rule ids, space separated
ids() {
	cub fw1 chain "$1" rule show -o json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
rows = rows.get("rule", rows) if isinstance(rows, dict) else rows
print(" ".join(str(r["id"]) for r in rows or []))'
}
snapshot() { cub fw1 chain INGRESS rule show -o json; cub fw1 chain EGRESS rule show -o json; }

# ---- S10: stateless, counters
cub_ok fw1 chain add INGRESS default=DROP
cub_ok fw1 chain add EGRESS default=DROP
if [ "$HOOK" = TC ]; then
	ping_none 2 || fail "ping passed with both chains default DROP"
fi
cub_ok fw1 chain INGRESS append src=$A dst=$B l4proto=ICMP action=ACCEPT
cub_ok fw1 chain EGRESS append src=$B dst=$A l4proto=icmp action=accept
cub_ok fw1 chain INGRESS reset-counters
cub_ok fw1 chain EGRESS reset-counters
ip netns exec ca ping -c 2 -i 0.2 -W 2 $B >"$T/ping.out" 2>&1 ||
	fail "S10: ping through the ICMP accept rules: $(cat "$T/ping.out")"
[ "$(stat INGRESS 0 pkts)/$(stat INGRESS 0 bytes)" = 2/196 ] ||
	fail "S10: INGRESS rule 0 counted $(stat INGRESS 0 pkts)/$(stat INGRESS 0 bytes), expected 2/196"
if [ "$HOOK" = TC ]; then
	[ "$(stat EGRESS 0 pkts)/$(stat EGRESS 0 bytes)" = 2/196 ] ||
		fail "S10: EGRESS rule 0 counted $(stat EGRESS 0 pkts)/$(stat EGRESS 0 bytes), expected 2/196"
else
	[ "$(stat EGRESS 0 pkts)" = 0 ] || fail "S10: EGRESS ran on XDP"
fi
cub_ok fw1 chain INGRESS reset-counters
cub_ok fw1 chain EGRESS reset-counters
[ "$(stat INGRESS 0 pkts)/$(stat INGRESS 0 bytes)/$(stat EGRESS 0 pkts)/$(stat EGRESS 0 bytes)" = 0/0/0/0 ] ||
	fail "S10: reset-counters left $(stat INGRESS 0 pkts)/$(stat INGRESS 0 bytes) $(stat EGRESS 0 pkts)/$(stat EGRESS 0 bytes)"
cub_log "S10: 2 pings counted 2/196 on each chain; reset to 0/0"

# Bad input: refused naming the field, nothing changed.
before=$(snapshot)
refused_unchanged "src '198.18.0.1/33' is not an IPv4" fw1 chain INGRESS append src=198.18.0.1/33
refused_unchanged "dst '198.18.0.300' is not an IPv4" fw1 chain INGRESS append dst=198.18.0.300
refused_unchanged "dport" fw1 chain INGRESS append l4proto=TCP dport=70000
refused_unchanged "'FOO' is not a flag" fw1 chain INGRESS append l4proto=TCP tcpflags=SYN,FOO
refused_unchanged "l4proto 'SCTPX' is not" fw1 chain INGRESS append l4proto=SCTPX
refused_unchanged "need l4proto=TCP or UDP" fw1 chain INGRESS append dport=22
refused_unchanged "action LOG is not supported" fw1 chain INGRESS append action=LOG
refused_unchanged "id 5 is past the end" fw1 chain INGRESS insert id=5 l4proto=TCP
refused_unchanged "no rule 7" fw1 chain INGRESS delete id=7
refused_unchanged "no rule of chain INGRESS has those fields" fw1 chain INGRESS delete l4proto=UDP
refused_unchanged "rules\[1\] \(append\): dport is not a port" fw1 chain INGRESS batch \
	rules='[{"operation":"append","l4proto":"TCP"},{"operation":"append","l4proto":"TCP","dport":70000}]'
refused_unchanged "unknown field 'prot'" fw1 chain INGRESS batch rules='[{"operation":"append","prot":"TCP"}]'
refused_unchanged "rules is not JSON" fw1 chain INGRESS batch rules='[{'

# ---- S11: insert at the head, delete by fields, ids
cub_ok fw1 chain INGRESS insert src=$A dst=$B l4proto=ICMP action=DROP
[ "$(ids INGRESS)" = "0 1" ] || fail "S11: ids after an insert: $(ids INGRESS)"
ping_none 2 || fail "S11: ping passed with a DROP rule inserted at the head"
cub_ok fw1 chain INGRESS delete src=$A dst=$B l4proto=ICMP action=DROP
ping_ok 2 || fail "S11: ping failed after deleting the head DROP by fields: $(cat "$T/ping.out")"
cub fw1 chain INGRESS rule show -o json | grep -q '"ACCEPT"' ||
	fail "S11: delete by fields took the ACCEPT rule"
cub_ok fw1 chain INGRESS insert id=1 l4proto=TCP dport=1 action=DROP
cub_ok fw1 chain INGRESS insert id=2 l4proto=TCP dport=2 action=DROP
before=$(snapshot)
refused_unchanged "id 5 is past the end" fw1 chain INGRESS insert id=5 l4proto=TCP dport=5
refused_unchanged "id" fw1 chain INGRESS insert id=-1 l4proto=TCP dport=5
for bad in -1 4 5 10; do
	refused_unchanged "id|no rule" fw1 chain INGRESS delete id=$bad
done
[ "$(ids INGRESS)" = "0 1 2" ] || fail "S11: ids not contiguous: $(ids INGRESS)"
cub_ok fw1 chain INGRESS delete id=1
[ "$(ids INGRESS)" = "0 1" ] || fail "S11: ids after delete id=1: $(ids INGRESS)"
cub fw1 chain INGRESS rule show -o json | python3 -c '
import json, sys
rows = json.load(sys.stdin); rows = rows.get("rule", rows) if isinstance(rows, dict) else rows
assert [r.get("dport") for r in rows] == [None, 2], rows' || fail "S11: delete id=1 removed the wrong rule"
cub_ok fw1 chain INGRESS delete id=1
ping_ok 2 || fail "S11: ping after the deletes"
cub_log "S11: head DROP stops the ping, delete by fields restores it; ids contiguous, bad ids refused"

# ---- S12: conntrack, TCP and UDP (TC only: XDP sees one direction)
if [ "$HOOK" = TC ]; then
	cub_ok fw1 set conntrack=ON accept-established=OFF
	cub_ok fw1 chain INGRESS delete id=0
	cub_ok fw1 chain EGRESS delete id=0
	cub_ok fw1 chain INGRESS batch rules='[
	  {"operation":"append","l4proto":"TCP","conntrack":"ESTABLISHED","action":"ACCEPT"},
	  {"operation":"append","l4proto":"UDP","conntrack":"ESTABLISHED","action":"ACCEPT"},
	  {"operation":"append","l4proto":"ICMP","action":"ACCEPT"}]'
	cub_ok fw1 chain EGRESS batch rules='[
	  {"operation":"append","l4proto":"TCP","conntrack":"NEW","action":"ACCEPT"},
	  {"operation":"append","l4proto":"TCP","conntrack":"ESTABLISHED","action":"ACCEPT"},
	  {"operation":"append","l4proto":"UDP","conntrack":"NEW","action":"ACCEPT"},
	  {"operation":"append","l4proto":"UDP","conntrack":"ESTABLISHED","action":"ACCEPT"},
	  {"operation":"append","l4proto":"ICMP","action":"ACCEPT"}]'
	# Servers run in the background, their pids in BG (killed at the
	# end of S12: none may keep the test's output open).
	BG=()
	bg_in() { # NS|- CMD...: CMD in namespace NS (- : this one), in the background
		local ns=$1
		shift
		if [ "$ns" = - ]; then "$@" & else ip netns exec "$ns" "$@" & fi
		BG+=($!)
	}
	nsB=-
	[ "$WHERE" = netdev ] || nsB=cb
	srv() { # NS ADDR PORT: a TCP server that answers one line per connection
		bg_in "$1" python3 -c '
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(8)
while True:
    c, _ = l.accept(); c.sendall(c.recv(100).upper()); c.close()' "$2" "$3"
	}
	# tcp_ask ADDR PORT [SECONDS]: connect, send, print the answer
	# (5 s; 1 s where it must not pass: a SYN let through to B's server,
	# already listening on a veth, is answered in milliseconds).
	tcp_ask() {
		python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])),
                                 timeout=float(sys.argv[3]))
    s.sendall(b"hello"); print(s.recv(100).decode())
except OSError as e:
    print("error", e)' "$1" "$2" "${3:-5}"
	}
	srv ca $A 60123
	srv $nsB $B 60124
	sleep 0.5
	out=$(inB bash -c "$(declare -f tcp_ask); tcp_ask $A 60123")
	[ "$out" = HELLO ] || fail "S12: B's TCP connect to A:60123: $out"
	cub fw1 session-table show -o json | grep -q '"ESTABLISHED"\|"TIME_WAIT"\|"FIN_WAIT"\|"LAST_ACK"' ||
		fail "S12: no tracked TCP session: $(cub fw1 session-table show)"
	out=$(ip netns exec ca bash -c "$(declare -f tcp_ask); tcp_ask $B 60124 1")
	[ "$out" != HELLO ] || fail "S12: A's TCP connect to B went through (its SYN is NEW on INGRESS)"
	cub_log "S12 TCP: B -> A connects, A -> B does not ($out)"
	# UDP: A's datagram to B gets no answer; B's to A does, and A's
	# later datagram on that flow reaches B (ESTABLISHED).
	udp_srv='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 50000))
while True:
    d, peer = s.recvfrom(100); s.sendto(d.upper(), peer)
    time.sleep(1); s.sendto(b"AGAIN", peer)'
	# udp_ask FROM TO PORT SECONDS: each of the two answers waited for
	# SECONDS (3 where they must come, the second 1 s after the first;
	# 1 where none may: B's server answers a datagram at once).
	udp_ask='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[3]))); s.settimeout(float(sys.argv[4]))
s.sendto(b"hello", (sys.argv[2], 50000))
got = []
for _ in range(2):
    try:
        got.append(s.recv(100).decode())
    except OSError:
        got.append("none")
print(" ".join(got))'
	bg_in ca python3 -c "$udp_srv" $A
	bg_in $nsB python3 -c "$udp_srv" $B
	sleep 0.5
	out=$(ip netns exec ca python3 -c "$udp_ask" $A $B 50001 1)
	[ "$out" = "none none" ] || fail "S12 UDP: A's datagram to B was answered: $out"
	out=$(inB python3 -c "$udp_ask" $B $A 50002 3)
	[ "$out" = "HELLO AGAIN" ] || fail "S12 UDP: B -> A got '$out', expected 'HELLO AGAIN'"
	cub_log "S12 UDP: A -> B unanswered, B -> A answered and A's later datagram passed"
	kill "${BG[@]}"
	wait "${BG[@]}" 2>/dev/null || true
	cub_ok fw1 set conntrack=OFF accept-established=ON
	cub_ok fw1 chain INGRESS batch rules='[{"operation":"delete","id":0},{"operation":"delete","id":0},{"operation":"delete","id":0}]'
	cub_ok fw1 chain EGRESS batch rules='[{"operation":"delete","id":0},{"operation":"delete","id":0},{"operation":"delete","id":0},{"operation":"delete","id":0},{"operation":"delete","id":0}]'
	[ -z "$(ids INGRESS)$(ids EGRESS)" ] || fail "S12: chains not empty: $(ids INGRESS) / $(ids EGRESS)"
	cub_ok fw1 chain EGRESS append src=$B dst=$A l4proto=ICMP action=ACCEPT
else
	cub_ok fw1 chain INGRESS delete id=0
fi

# ---- S13: a batch of 130 rules, the ICMP accept in the middle
ping_none 2 || fail "S13: ping passed with an empty INGRESS at DROP"
python3 - "$A" "$B" >"$T/batch.json" <<'EOF'
import json, sys
a, b = sys.argv[1], sys.argv[2]
ops = []
for i in range(63):  # near misses: A's address but TCP, or other hosts
    if i % 3 == 0:
        ops.append({"operation": "append", "src": a, "dst": b, "l4proto": "TCP",
                    "dport": 1000 + i, "action": "DROP"})
    elif i % 3 == 1:
        ops.append({"operation": "append", "src": "198.19.%d.0/31" % i, "l4proto": "ICMP",
                    "action": "DROP"})
    else:
        ops.append({"operation": "append", "src": "198.19.0.0/16", "dst": b,
                    "l4proto": "TCP", "tcpflags": "SYN,!ACK", "action": "DROP"})
ops.append({"operation": "insert", "id": 63, "src": a, "dst": b, "l4proto": "ICMP",
            "action": "ACCEPT", "description": "the one"})
for i in range(65):
    if i == 36:  # matches too, but after rule 63: never reached
        ops.append({"operation": "append", "src": "198.18.0.0/16", "l4proto": "ICMP",
                    "action": "DROP"})
    elif i % 2:
        ops.append({"operation": "append", "src": "198.19.%d.1" % i, "dst": b,
                    "l4proto": "UDP", "sport": 53, "action": "DROP"})
    else:
        ops.append({"operation": "append", "src": a, "l4proto": "TCP",
                    "tcpflags": "SYN", "sport": 2000 + i, "action": "DROP"})
print(json.dumps(ops))
EOF
# (an action takes no body: the batch is one argument)
cub_ok fw1 chain INGRESS batch rules="$(cat "$T/batch.json")"
[ "$(ids INGRESS | wc -w)" = 129 ] || fail "S13: $(ids INGRESS | wc -w) rules after the batch, expected 129"
cub_ok fw1 chain INGRESS reset-counters
ping_ok 3 || fail "S13: ping through the batch's rule 63: $(cat "$T/ping.out")"
[ "$(stat INGRESS 63 pkts)" -ge 3 ] || fail "S13: rule 63 counted $(stat INGRESS 63 pkts)"
[ "$(stat INGRESS 100 pkts)" = 0 ] || fail "S13: rule 100 (a DROP after 63) counted $(stat INGRESS 100 pkts)"
[ "$(stat INGRESS 129 pkts)" = 0 ] || fail "S13: the default counted $(stat INGRESS 129 pkts)"
cub_ok fw1 chain INGRESS delete id=63
ping_none 2 || fail "S13: ping passed once rule 63 was deleted (rule 99 drops it)"
[ "$(stat INGRESS 99 pkts)" -ge 2 ] || fail "S13: rule 99 (was 100) counted $(stat INGRESS 99 pkts)"
cub_log "S13: 129 rules in one batch, rule 63 accepts, the DROP after it decides once 63 is gone"
