#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's iptables service at its per-chain cap (8192 rules,
# IPT_CHAIN_RULES_MAX): one cubicle-iptables-restore of 8192 INPUT rules
# (policy DROP), rule i `-s 198.19.<i>/32 -p udp -m udp --dport <i+1>`,
# every source and port its own (8191 prefixes and intervals), the last
# one `-s 198.18.0.1/32 -p udp -m udp --dport 7000`: only it matches the
# probe (UDP from ca 198.18.0.1 to the host 198.18.0.2:7000; rule 7000
# has the port, not the source).  The last rule ACCEPT: the probes
# arrive and the rule counts them, a datagram to port 7001 meets the
# policy (dropped, counted there); a second restore makes the last rule
# DROP (its id kept): none arrives, the rule counts them all.  Past the
# cap: a restore of 8193 rules is refused naming the chain and the cap,
# and so is an 8193rd rule by cubicle-iptables -A and by the CLI (the
# worker's check), the ruleset unchanged (8192 rules, the probe's
# verdict as before).  The same file in Linux (iptables-legacy-restore
# in a twin namespace) gives the same outcome and counts.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
RESTORE=$CUB_BUILD/plugins/iptables/cubicle-iptables-restore
IPTCLI=$CUB_BUILD/plugins/iptables/cubicle-iptables
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

# gen N VERDICT: iptables-save text, N INPUT rules, the last one the
# probe's with VERDICT.
gen() {
	python3 - "$1" "$2" <<'EOF'
import sys
n, verdict = int(sys.argv[1]), sys.argv[2]
print("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]")
for i in range(n - 1):
    print(f"-A INPUT -s 198.19.{i // 256}.{i % 256}/32 -p udp -m udp --dport {i + 1} -j ACCEPT")
print(f"-A INPUT -s 198.18.0.1/32 -p udp -m udp --dport 7000 -j {verdict}")
print("COMMIT")
EOF
}
gen 8192 ACCEPT >"$T/accept.rules"
gen 8192 DROP >"$T/drop.rules"
gen 8193 ACCEPT >"$T/over.rules"

# probe NS DST PORT K: K datagrams from NS to DST:PORT, received by a
# socket in this (the host's) namespace or in NS2 ($4 of probe_in);
# prints how many arrived.
probe_in() { # RXNS TXNS DST PORT K
	local rx=()
	[ "$1" = - ] || rx=(ip netns exec "$1")
	"${rx[@]}" python3 - "$2" "$3" "$4" "$5" <<'EOF'
import socket, subprocess, sys
txns, dst, port, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
s.settimeout(2)
subprocess.run(["ip", "netns", "exec", txns, "python3", "-c",
    "import socket, sys\n"
    "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "for i in range(int(sys.argv[3])): c.sendto(b'p%d' % i, (sys.argv[1], int(sys.argv[2])))",
    dst, str(port), str(k)], check=True)
got = 0
try:
    while True:
        s.recv(64)
        got += 1
except socket.timeout:
    pass
print(got)
EOF
}
# last: "NRULES LASTID LASTPKTS LASTSPEC POLICYPKTS" of INPUT
last() {
	cub ipt0 show -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin).get("chain", []):
    if c["name"] == "INPUT":
        r = c.get("rule", [])
        print(len(r), r[-1]["id"], r[-1].get("pkts", 0), r[-1]["spec"].split()[-1], c.get("pkts", 0))'
}

"$RESTORE" --socket-dir "$T/s" ipt0 "$T/accept.rules" >"$T/restore.out" 2>&1 ||
	fail "restore of 8192 rules: $(cat "$T/restore.out")"
read -r n id0 pk verdict pol <<<"$(last)"
[ "$n" = 8192 ] || fail "INPUT holds $n rules after restoring 8192"
[ "$verdict" = ACCEPT ] || fail "the last rule is $verdict, not ACCEPT"
got=$(probe_in - ca 198.18.0.2 7000 5)
[ "$got" = 5 ] || fail "8192 rules, the last ACCEPT: $got of 5 probes arrived"
[ "$(probe_in - ca 198.18.0.2 7001 3)" = 0 ] || fail "a datagram no rule accepts passed the policy DROP"
read -r n id pk verdict pol <<<"$(last)"
[ "$pk" = 5 ] || fail "the 8192nd rule counted $pk of 5 probes"
[ "$pol" = 3 ] || fail "the INPUT policy counted $pol of 3 datagrams"
cub_log "8192 rules in one restore: the last (ACCEPT) passed 5/5 probes and counted $pk; policy counted $pol"

"$RESTORE" --socket-dir "$T/s" ipt0 "$T/drop.rules" >"$T/restore.out" 2>&1 ||
	fail "second restore (the last rule DROP): $(cat "$T/restore.out")"
read -r n id pk verdict pol <<<"$(last)"
[ "$n" = 8192 ] && [ "$verdict" = DROP ] && [ "$id" = "$id0" ] ||
	fail "after the second restore: $n rules, last $verdict id $id (was $id0)"
got=$(probe_in - ca 198.18.0.2 7000 4)
[ "$got" = 0 ] || fail "8192 rules, the last DROP: $got of 4 probes arrived"
read -r n id pk verdict pol <<<"$(last)"
[ "$pk" = 9 ] || fail "the 8192nd rule (DROP, id kept) counts $pk, not 5 + 4"
cub_log "the last rule DROP (second restore, id kept): 0/4 arrived, counted $pk"

# Past the cap: refused, naming the chain and the cap; nothing changed.
if "$RESTORE" --socket-dir "$T/s" ipt0 "$T/over.rules" >"$T/restore.out" 2>&1; then
	fail "a restore of 8193 rules was accepted"
fi
grep -q "chain INPUT: more than 8192 rules" "$T/restore.out" ||
	fail "8193-rule restore refused without naming chain and cap: $(cat "$T/restore.out")"
if "$IPTCLI" --socket-dir "$T/s" ipt0 -A INPUT -p tcp --dport 9 -j ACCEPT >"$T/cli.out" 2>&1; then
	fail "an 8193rd rule by cubicle-iptables -A was accepted"
fi
grep -q "chain INPUT: 8193 rules, at most 8192 in a chain" "$T/cli.out" ||
	fail "the 8193rd -A refused without naming chain and cap: $(cat "$T/cli.out")"
err=$(cub_refused 2 ipt0 chain INPUT rule add extra spec="-p tcp -m tcp --dport 9 -j ACCEPT" index=0)
grep -q "chain INPUT: 8193 rules, at most 8192 in a chain" <<<"$err" ||
	fail "the 8193rd rule by the CLI refused without naming chain and cap: $err"
read -r n id pk verdict pol <<<"$(last)"
[ "$n" = 8192 ] && [ "$verdict" = DROP ] && [ "$pk" = 9 ] ||
	fail "after the refusals: $n rules, last $verdict counted $pk"
[ "$(probe_in - ca 198.18.0.2 7000 2)" = 0 ] || fail "after the refusals the probe passed"
cub_log "8193 rules refused (restore: '$(head -c 120 "$T/restore.out")'; -A: '$(head -c 120 "$T/cli.out")'), the 8192 unchanged"

# Linux, the same files in a twin namespace: the same outcome.
if command -v iptables-legacy-restore >/dev/null; then
	ip netns add la
	ip netns add lb
	NAMESPACES+=(la lb)
	ip link add eth0 netns la type veth peer name eth0 netns lb
	ip -n la addr add 198.18.0.1/24 dev eth0
	ip -n lb addr add 198.18.0.2/24 dev eth0
	for ns in la lb; do ip -n $ns link set eth0 up; ip -n $ns link set lo up; done
	lpk() { ip netns exec lb iptables-legacy -L INPUT -v -x -n | awk 'END { print $1 }'; }
	ip netns exec lb iptables-legacy-restore <"$T/accept.rules" || fail "iptables-legacy-restore"
	[ "$(ip netns exec lb iptables-legacy -S INPUT | grep -c '^-A')" = 8192 ] ||
		fail "Linux holds $(ip netns exec lb iptables-legacy -S INPUT | grep -c '^-A') rules"
	[ "$(probe_in lb la 198.18.0.2 7000 5)" = 5 ] || fail "Linux: the last ACCEPT did not pass 5 probes"
	[ "$(lpk)" = 5 ] || fail "Linux: the last rule counted $(lpk)"
	ip netns exec lb iptables-legacy-restore <"$T/drop.rules" || fail "iptables-legacy-restore (DROP)"
	[ "$(probe_in lb la 198.18.0.2 7000 4)" = 0 ] || fail "Linux: the last DROP passed a probe"
	[ "$(lpk)" = 4 ] || fail "Linux: the last DROP counted $(lpk)"
	cub_log "Linux iptables-legacy (twin): the same outcome (5/5 passed and counted, then 0/4 dropped and counted; restore zeroes counters)"
fi
exit 0
