#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's firewall cube at its limits and across its worker's death,
# on veth1 (TC), A = namespace ca 198.18.0.1, B = this namespace
# 198.18.0.2:
#   - 8192 rules in INGRESS through batch (8 batches of 1024: one
#     argument of the CLI holds at most 128 KiB): applied, the last rule
#     decides (ACCEPT: the ping passes; updated to DROP: it fails); the
#     8193rd is refused, by append and inside a batch, the chain
#     unchanged.
#   - Counters belong to the rule: an insert that shifts the ICMP rule
#     from id 0 to 1 keeps its count, and so does a kill -9 of the
#     worker (its replay reads the rules and their slots back); a new
#     rule never inherits a deleted one's counts.
#   - A DROP rule under a continuous ping from A never lapses across 20
#     rule updates and a kill -9 of the worker: zero replies.
. "$(dirname "$0")/../lib/netns.sh"

need python3
PLUGINS+=("$CUB_BUILD/plugins/firewall/firewall.so")
A=198.18.0.1
B=198.18.0.2
host_peer ca veth1 $A $B
broker_start
cub_ok firewall add fw1
cub_ok attach fw1 veth1

stat() { # CHAIN ID FIELD
	cub fw1 chain "$1" stats show -o json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
rows = rows.get("stats", rows) if isinstance(rows, dict) else rows
print([r for r in rows if r["id"] == int(sys.argv[1])][0][sys.argv[2]])' "$2" "$3"
}
nrules() { # CHAIN: the number of rules and the last one's fields
	cub fw1 chain "$1" rule show -o json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
rows = rows.get("rule", rows) if isinstance(rows, dict) else rows or []
assert [r["id"] for r in rows] == list(range(len(rows))), "ids not contiguous"
last = rows[-1] if rows else {}
print(len(rows), last.get("src"), last.get("l4proto"), last.get("action"))'
}
ping_ok() {
	local try
	for try in 1 2 3; do
		ip netns exec ca ping -c "$1" -i 0.2 -W 2 $B >"$T/ping.out" 2>&1 &&
			grep -q " 0% packet loss" "$T/ping.out" && return 0
	done
	return 1
}
ping_none() { ! ip netns exec ca ping -c "$1" -i 0.2 -W 1 $B >"$T/ping.out" 2>&1; }
restart_worker() {
	local old new i
	old=$(worker_pid firewall)
	[ -n "$old" ] || fail "no firewall worker"
	kill -9 "$old"
	for i in $(seq 1 200); do
		new=$(worker_pid firewall)
		[ -n "$new" ] && [ "$new" != "$old" ] &&
			cub fw1 chain INGRESS stats show >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "the firewall worker did not come back"
	cub_log "worker $old killed (-9), $new replayed"
}

# ---- counters follow the rule: insert shift, worker kill -9
cub_ok fw1 chain add EGRESS default=DROP
cub_ok fw1 chain EGRESS append src=$B dst=$A l4proto=ICMP action=ACCEPT description=replies
ping_ok 3 || fail "ping with EGRESS accepting the replies: $(cat "$T/ping.out")"
c0=$(stat EGRESS 0 pkts)
[ "$c0" -ge 3 ] || fail "EGRESS rule 0 counted $c0 of 3 replies"
cub_ok fw1 chain EGRESS insert id=0 l4proto=TCP dport=9 action=DROP
[ "$(stat EGRESS 1 pkts)" = "$c0" ] ||
	fail "the ICMP rule, shifted to id 1, counts $(stat EGRESS 1 pkts), had $c0"
[ "$(stat EGRESS 0 pkts)" = 0 ] || fail "the new rule 0 inherited $(stat EGRESS 0 pkts) packets"
restart_worker
[ "$(stat EGRESS 1 pkts)" = "$c0" ] ||
	fail "after the worker's kill -9 the ICMP rule (id 1) counts $(stat EGRESS 1 pkts), had $c0"
[ "$(nrules EGRESS)" = "2 198.18.0.2/32 ICMP ACCEPT" ] ||
	fail "after the worker's kill -9 EGRESS holds $(nrules EGRESS)"
ping_ok 2 || fail "ping after the worker's restart"
[ "$(stat EGRESS 1 pkts)" -ge $((c0 + 2)) ] ||
	fail "the ICMP rule stopped counting after the restart: $(stat EGRESS 1 pkts)"
# A deleted rule's slot, taken again by the next rule, starts at zero.
cub_ok fw1 chain EGRESS delete id=1
cub_ok fw1 chain EGRESS append src=$B dst=$A l4proto=ICMP action=ACCEPT description=again
[ "$(stat EGRESS 1 pkts)" = 0 ] ||
	fail "a new rule took a deleted one's slot with its $(stat EGRESS 1 pkts) packets"
ping_ok 2 || fail "ping through the re-added ICMP rule"
cub_log "counters: $c0 kept through an insert (id 0 -> 1) and a worker kill -9; a reused slot starts at 0"

# ---- a DROP that never lapses: 20 updates and a kill -9 under a ping
cub_ok fw1 chain add INGRESS default=ACCEPT
cub_ok fw1 chain INGRESS append src=$A l4proto=ICMP action=DROP
ping_none 2 || fail "ping passed the DROP rule"
ip netns exec ca ping -i 0.01 -W 1 $B >"$T/flood.out" 2>&1 &
flood=$!
for i in $(seq 1 20); do
	case $((i % 4)) in
	0) cub_ok fw1 chain INGRESS insert id=0 l4proto=UDP dport=$i action=DROP ;;
	1) cub_ok fw1 chain INGRESS append l4proto=TCP dport=$i action=ACCEPT ;;
	2)
		n=$(nrules INGRESS | cut -d' ' -f1)
		cub_ok fw1 chain INGRESS batch rules="[{\"operation\":\"append\",\"src\":\"198.19.0.$i\",\"action\":\"ACCEPT\"},{\"operation\":\"update\",\"id\":$n,\"l4proto\":\"TCP\",\"dport\":$i,\"action\":\"ACCEPT\"}]"
		;;
	3) cub_ok fw1 chain INGRESS delete id=$(($(nrules INGRESS | cut -d' ' -f1) - 1)) ;;
	esac
	if [ "$i" = 10 ]; then restart_worker; fi
done
sleep 0.5
kill -INT $flood
wait $flood || true
sent=$(grep -oE '[0-9]+ packets transmitted' "$T/flood.out" | cut -d' ' -f1)
got=$(grep -oE '[0-9]+ received' "$T/flood.out" | cut -d' ' -f1)
[ -n "$sent" ] && [ "$sent" -ge 100 ] || fail "the ping stream sent only '$sent': $(tail -3 "$T/flood.out")"
[ "$got" = 0 ] || fail "$got of $sent pings got through the DROP rule during updates and a restart"
cub_log "DROP held: 0 of $sent pings answered across 20 updates and a worker kill -9"
cub_ok fw1 chain del INGRESS
ping_ok 2 || fail "ping after the DROP chain went"

# ---- 8192 rules through batch; the last decides; the 8193rd refused
cub_ok fw1 chain add INGRESS default=DROP
for c in $(seq 0 7); do
	python3 - "$c" "$A" >"$T/b$c.json" <<'EOF'
import json, sys
c, a = int(sys.argv[1]), sys.argv[2]
ops = []
for i in range(c * 1024, c * 1024 + 1024):
    if i == 8191:  # the last rule: the only one that matches the ping
        ops.append({"operation": "append", "src": a, "l4proto": "ICMP", "action": "ACCEPT"})
    elif i % 2:
        ops.append({"operation": "append", "src": "198.19.%d.%d" % (i >> 8, i & 255),
                    "l4proto": "ICMP", "action": "ACCEPT"})
    else:
        ops.append({"operation": "append", "src": a, "l4proto": "TCP", "dport": i,
                    "action": "ACCEPT"})
print(json.dumps(ops, separators=(",", ":")))
EOF
	cub_ok fw1 chain INGRESS batch rules="$(cat "$T/b$c.json")" >/dev/null
done
[ "$(nrules INGRESS)" = "8192 198.18.0.1/32 ICMP ACCEPT" ] || fail "INGRESS after 8 batches: $(nrules INGRESS)"
cub_ok fw1 chain INGRESS reset-counters
ping_ok 3 || fail "ping with rule 8191 of 8192 accepting it: $(cat "$T/ping.out")"
[ "$(stat INGRESS 8191 pkts)" -ge 3 ] || fail "rule 8191 counted $(stat INGRESS 8191 pkts)"
before=$(nrules INGRESS)
snapshot() { nrules INGRESS; }
refused_unchanged "already has 8192 rules \(at most 8192\)" fw1 chain INGRESS append l4proto=UDP action=DROP
refused_unchanged "rules\[2\] \(append\): chain INGRESS already has 8192 rules" fw1 chain INGRESS batch \
	rules='[{"operation":"delete","id":0},{"operation":"append","l4proto":"UDP"},{"operation":"append","l4proto":"UDP"}]'
refused_unchanged "already has 8192 rules" fw1 chain INGRESS insert id=0 l4proto=UDP action=DROP
cub_ok fw1 chain INGRESS batch rules='[{"operation":"update","id":8191,"src":"198.18.0.1","l4proto":"ICMP","action":"DROP"}]'
ping_none 2 || fail "ping passed with rule 8191 of 8192 updated to DROP"
[ "$(stat INGRESS 8191 pkts)" -ge 5 ] || fail "rule 8191 (now DROP) counted $(stat INGRESS 8191 pkts)"
restart_worker
[ "$(nrules INGRESS)" = "8192 198.18.0.1/32 ICMP DROP" ] || fail "after a kill -9: $(nrules INGRESS)"
cub_log "8192 rules: the last decides both ways, the 8193rd refused, all kept through a kill -9"

# ---- cost per packet at 8192 rules (BPF_PROG_TEST_RUN; printed, no
# threshold): an echo request from A, decided by rule 8191 (the last),
# and a TCP SYN no rule matches (the default decides).
if command -v bpftool >/dev/null; then
	python3 - "$T" <<'PY'
import socket, struct, sys
def frame(proto, l4):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                     socket.inet_aton("198.18.0.1"), socket.inet_aton("198.18.0.2"))
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + l4
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + bytes(56)
tcp = struct.pack("!HHIIBBHHH", 40000, 9999, 1, 0, 0x50, 0x02, 65535, 0, 0)
open(sys.argv[1] + "/icmp.bin", "wb").write(frame(1, icmp))
open(sys.argv[1] + "/syn.bin", "wb").write(frame(6, tcp))
PY
	for p in icmp syn; do
		out=$(bpftool prog run pinned "$T/pins/fw1/prog" data_in "$T/$p.bin" repeat 100000 2>&1) ||
			fail "bpftool prog run ($p): $out"
		cub_log "BPF_PROG_TEST_RUN at 8192 rules, $p ($([ $p = icmp ] && echo "rule 8191 decides" || echo "the default decides")): $(grep -oE 'Return value: [0-9]+|duration \(average\): [0-9]+ ?ns' <<<"$out" | paste -sd, -) (TC_ACT_SHOT 2: both drop)"
	done
else
	cub_log "bpftool not installed: no BPF_PROG_TEST_RUN cost printed"
fi
