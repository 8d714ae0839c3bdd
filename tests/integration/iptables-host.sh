#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's iptables service (plugins/iptables/iptables.c): a host-wide
# filter table with real traffic.  The test's namespace is the host (the
# broker's); ca (198.18.0.1, host side 198.18.0.2 on veth1) and cb
# (198.18.1.1, host side 198.18.1.2 on veth2), routed through the host.
# INPUT policy DROP and an ICMP ACCEPT rule, counted; REJECT answered
# (TCP reset, ICMP port unreachable, in FORWARD host prohibited); FORWARD
# dropped one way; OUTPUT; conntrack for the host's own connections; an
# insert at index 0; counters across an insert and a worker kill -9; bad
# specs refused with the ruleset unchanged; enforcing across a broker
# kill -9 and restart; the INPUT case against Linux iptables in a twin.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
sysctl -qw net.ipv4.ip_forward=1
ip -n ca route add 198.18.1.0/24 via 198.18.0.2
ip -n cb route add 198.18.0.0/24 via 198.18.1.2
broker_start

CA=198.18.0.1 CB=198.18.1.1 HA=198.18.0.2
# ping_from NS DST [LOST]: one echo, answered or not (the host: NS "-");
# 2 s for its answer, 1 s with LOST (for what must not pass: an echo let
# through a veth is answered in milliseconds; the host's, -w 1 too: it
# ends ping's ENOBUFS retries of a send OUTPUT dropped, 5 s otherwise).
ping_from() {
	local w=(-W 2)
	[ -z "${3:-}" ] || w=(-W 1)
	if [ "$1" = - ]; then
		[ -z "${3:-}" ] || w+=(-w 1)
		ping -c 1 "${w[@]}" "$2" >/dev/null
	else
		ip netns exec "$1" ping -c 1 "${w[@]}" "$2" >/dev/null
	fi
}
# ping_ok NS DST: answered once in up to three tries (a loaded machine
# loses one now and then, as netns.sh's pings()); for what must pass.
ping_ok() {
	local _
	for _ in 1 2 3; do ping_from "$1" "$2" && return 0; done
	return 1
}
# cnt CHAIN [ID]: the rule's packets (no ID: the policy's).
cnt() {
	cub ipt0 show -o json | python3 -c '
import json, sys
chain, rid = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
for c in json.load(sys.stdin).get("chain", []):
    if c["name"] != chain:
        continue
    if rid is None:
        print(c.get("pkts", 0)); sys.exit(0)
    for r in c.get("rule", []):
        if r["id"] == rid:
            print(r.get("pkts", 0)); sys.exit(0)
print("none")' "$@"
}
ids() {
	cub ipt0 show -o json | python3 -c '
import json, sys
print(" ".join(c["name"] + ":" + r["id"] + "=" + r["spec"]
               for c in json.load(sys.stdin).get("chain", [])
               for r in c.get("rule", [])))'
}
# connect_from NS HOST PORT [SECONDS]: "ok", "refused" or "timeout"
# (other: the error); 2 s, 1 where it must time out (a SYN let through a
# veth to a listening server is answered in milliseconds).
connect_from() {
	local cmd=(python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"ping\n")
    print("ok" if s.recv(5) == b"ping\n" else "short")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.strerror)' "$2" "$3" "${4:-2}")
	if [ "$1" = - ]; then "${cmd[@]}"; else ip netns exec "$1" "${cmd[@]}"; fi
}
# serve NS PORT: an echo server (the host: NS "-"), in the background.
serve() {
	local cmd=(python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        c.sendall(c.recv(64))
    except OSError:
        pass
    c.close()' "$2")
	if [ "$1" = - ]; then "${cmd[@]}" & else ip netns exec "$1" "${cmd[@]}" & fi
}
serve - 7020
serve ca 7030
sleep 0.5

ping_ok ca "$HA" || fail "no ping to the host before any cube"
ping_ok ca "$CB" || fail "no ping ca -> cb (forwarded) before any cube"
[ "$(connect_from ca "$HA" 7020)" = ok ] || fail "no TCP to the host before any cube"

# 1. INPUT: policy DROP stops a ping to the host; -p icmp -j ACCEPT lets
# it through, counted exactly (one echo request per ping).
cub_ok iptables add ipt0
ping_ok ca "$HA" || fail "no ping through an empty ruleset"
cub_ok ipt0 chain add INPUT policy=DROP
p0=$(cnt INPUT)
ping_from ca "$HA" lost && fail "a ping passed INPUT policy DROP"
[ "$(cnt INPUT)" = $((p0 + 1)) ] || fail "INPUT policy counted $(cnt INPUT), not $((p0 + 1))"
cub_ok ipt0 chain INPUT rule add icmp spec="-p icmp -j ACCEPT"
ping_from ca "$HA" || fail "no ping with -p icmp -j ACCEPT"
ping_from ca "$HA" || fail "no second ping with -p icmp -j ACCEPT"
[ "$(cnt INPUT icmp)" = 2 ] || fail "rule icmp counted $(cnt INPUT icmp), not 2"
[ "$(connect_from ca "$HA" 7020 1)" = timeout ] || fail "TCP passed INPUT policy DROP"
cub_log "INPUT: policy DROP stops a ping, -p icmp -j ACCEPT passes it, counted 2/2"

# Linux iptables in a twin namespace, same ruleset: the same outcome.
if command -v iptables-legacy >/dev/null; then
	ip netns add la
	ip netns add lb
	NAMESPACES+=(la lb)
	ip link add eth0 netns la type veth peer name eth0 netns lb
	ip -n la addr add 198.18.2.1/24 dev eth0
	ip -n lb addr add 198.18.2.2/24 dev eth0
	for ns in la lb; do ip -n $ns link set eth0 up; ip -n $ns link set lo up; done
	ip netns exec lb iptables-legacy -P INPUT DROP
	ip netns exec lb iptables-legacy -A INPUT -p icmp -j ACCEPT
	ip netns exec la ping -c 1 -W 2 198.18.2.2 >/dev/null || fail "Linux: no ping"
	ip netns exec lb python3 -c '
import socket; s = socket.socket(); s.bind(("0.0.0.0", 7020)); s.listen(1)
import time; time.sleep(4)' &
	sleep 0.3
	[ "$(connect_from la 198.18.2.2 7020 1)" = timeout ] || fail "Linux: TCP passed"
	# What section 2 asks of the cube's REJECT, as Linux does it.
	ip netns exec lb iptables-legacy -I INPUT -p tcp --dport 7020 -j REJECT --reject-with tcp-reset
	[ "$(connect_from la 198.18.2.2 7020)" = refused ] || fail "Linux: REJECT tcp-reset did not refuse"
	cub_log "Linux iptables (twin): the same outcome for INPUT"
fi

# 2. REJECT answers from the data plane (cub_bounce()): --reject-with
# tcp-reset: ca's connect is refused (a RST, as Linux sends), counted;
# UDP with the default icmp-port-unreachable: ca's socket gets
# ECONNREFUSED; cb, which no REJECT names, passes.
cub_ok ipt0 chain INPUT rule add rst spec="-s $CA/32 -p tcp -m tcp --dport 7020 -j REJECT --reject-with tcp-reset" index=0
cub_ok ipt0 chain INPUT rule add web spec="-p tcp -m tcp --dport 7020 -j ACCEPT"
out=$(connect_from ca "$HA" 7020)
[ "$out" = refused ] || fail "TCP to a REJECT --reject-with tcp-reset rule: '$out', not refused"
[ "$(cnt INPUT rst)" -ge 1 ] || fail "the REJECT rule counted $(cnt INPUT rst)"
[ "$(connect_from cb 198.18.1.2 7020)" = ok ] || fail "TCP from cb (not rejected) did not pass"
cub_log "REJECT tcp-reset: ca's connect gets '$out' (rule counted $(cnt INPUT rst)); cb's passes"
cub_ok ipt0 chain INPUT rule add udprej spec="-s $CA/32 -p udp -m udp --dport 7021 -j REJECT" index=0
udp_from() { # NS DST PORT: a datagram, then what a recv says
	ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"x")
try:
    s.recv(16)
    print("answer")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")' "$2" "$3"
}
out=$(udp_from ca "$HA" 7021)
[ "$out" = refused ] || fail "UDP to a REJECT rule (icmp-port-unreachable): '$out', not refused"
[ "$(cnt INPUT udprej)" = 1 ] || fail "udprej counted $(cnt INPUT udprej), not 1"
cub_log "REJECT icmp-port-unreachable: ca's UDP socket gets '$out'"
cub_ok ipt0 chain INPUT rule del udprej
cub_ok ipt0 chain INPUT rule del rst
cub_ok ipt0 chain INPUT rule del web

# 3. An insert at index 0 takes precedence; counters follow the rule
# across it.
cub_ok ipt0 chain INPUT rule add deny spec="-s $CA/32 -p icmp -j DROP" index=0
[ "$(ids)" = "INPUT:deny=-s $CA/32 -p icmp -j DROP INPUT:icmp=-p icmp -j ACCEPT" ] ||
	fail "the rules are not in order: $(ids)"
ping_from ca "$HA" lost && fail "a ping passed the DROP rule inserted at index 0"
[ "$(cnt INPUT deny)" = 1 ] || fail "deny counted $(cnt INPUT deny), not 1"
[ "$(cnt INPUT icmp)" = 2 ] || fail "icmp's counters did not follow it: $(cnt INPUT icmp)"
ping_from cb 198.18.1.2 || fail "no ping from cb (deny names ca only)"
[ "$(cnt INPUT icmp)" = 3 ] || fail "icmp counted $(cnt INPUT icmp) after cb's ping, not 3"
cub_log "insert at index 0: first, counted 1; icmp's count followed it (2, then 3)"

# 4. Bad specs: refused, naming chain, id and reason; the ruleset unchanged.
before=$(ids)
refused() {
	local want=$1 out
	shift
	out=$(cub_refused 3 "$@") || true
	grep -qF "$want" <<<"$out" || fail "cubicle $*: '$out' does not say '$want'"
	grep -qF "chain INPUT, rule 'bad'" <<<"$out" || fail "'$out' names no chain/id"
	[ "$(ids)" = "$before" ] || fail "a refused change changed the rules: $(ids)"
}
# The exit code of a refused change: find it from the CLI once.
rc=0
cub ipt0 chain INPUT rule add bad spec="--bogus -j DROP" >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "an unknown option was taken"
cub_refused() { local want=$1 r=0 e; shift; e=$(cub "$@" 2>&1 >/dev/null) || r=$?; [ "$r" = "$rc" ] || fail "cubicle $*: exit $r ($e)"; printf '%s\n' "$e"; }
refused 'unknown option "--bogus"' ipt0 chain INPUT rule add bad spec="--bogus -j DROP"
refused "70000" ipt0 chain INPUT rule add bad spec="-p tcp --dport 70000 -j DROP"
refused "NOSUCH" ipt0 chain INPUT rule add bad spec="-p tcp -j NOSUCH"
out=$(cub ipt0 chain add MINE policy=DROP 2>&1) && fail "a user chain took a policy"
grep -q "builtins only" <<<"$out" || fail "user chain policy: $out"
ping_from ca "$HA" lost && fail "a ping passed after the refused changes"
[ "$(cnt INPUT deny)" = 2 ] || fail "deny counted $(cnt INPUT deny) after the refusals"
cub_log "bad specs refused (unknown option, port 70000, missing chain), ruleset unchanged"

# 5. A worker kill -9: the counters and the verdicts stay.
old=$(worker_pid iptables)
kill -9 "$old"
for _ in $(seq 1 100); do
	new=$(worker_pid iptables)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.1
done
broker_wait_ready
[ "$(cnt INPUT deny)" = 2 ] || fail "deny counted $(cnt INPUT deny) after a worker kill -9, not 2"
[ "$(cnt INPUT icmp)" = 3 ] || fail "icmp counted $(cnt INPUT icmp) after a worker kill -9, not 3"
ping_from ca "$HA" lost && fail "a ping passed after a worker kill -9"
cub_ok ipt0 chain INPUT rule add first spec="-p udp -j DROP" index=0
[ "$(cnt INPUT deny)" = 3 ] || fail "deny counted $(cnt INPUT deny) after an insert past a restart"
[ "$(cnt INPUT icmp)" = 3 ] || fail "icmp counted $(cnt INPUT icmp) after an insert past a restart"
[ "$(cnt INPUT first)" = 0 ] || fail "a new rule starts at $(cnt INPUT first)"
cub_ok ipt0 chain INPUT rule del first
cub_log "worker kill -9: counters (deny 2, icmp 3) and verdicts kept; slots still follow ids"

# 6. A broker kill -9 and restart: enforcing throughout.
ip netns exec ca ping -i 0.05 -c 100 -W 1 "$HA" >"$T/flood" 2>&1 &
flood=$!
sleep 0.5
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
broker_start
wait "$flood" || true
grep -q "100 packets transmitted, 0 received" "$T/flood" ||
	fail "denied pings passed across a broker restart: $(tail -2 "$T/flood")"
[ "$(cnt INPUT deny)" -ge 100 ] || fail "deny counted $(cnt INPUT deny) across the restart"
cub_ok ipt0 chain INPUT rule del deny
ping_ok ca "$HA" || fail "no ping after deny went (after the broker restart)"
cub_log "broker kill -9 and restart: 100 of 100 denied pings dropped throughout"

# 7. FORWARD: ca -> cb echo requests dropped, cb -> ca passes.
cub_ok ipt0 chain add FORWARD
cub_ok ipt0 chain FORWARD rule add one-way spec="-s $CA/32 -d $CB/32 -p icmp -m icmp --icmp-type 8 -j DROP"
ping_from ca "$CB" lost && fail "ca -> cb passed FORWARD's DROP"
ping_ok cb "$CA" || fail "cb -> ca did not pass (the rule is one way)"
[ "$(cnt FORWARD one-way)" = 1 ] || fail "one-way counted $(cnt FORWARD one-way)"
cub_log "FORWARD: ca -> cb dropped, cb -> ca passes"
# FORWARD REJECT: the answer goes back out of the netdev ca's packet came
# in by, from the address it was sent to (Linux's comes from the host's
# own address: review20-ipt-reject-source, open).
cub_ok ipt0 chain FORWARD rule add prohib spec="-s $CA/32 -d $CB/32 -p icmp -j REJECT --reject-with icmp-host-prohibited" index=0
out=$(ip netns exec ca ping -c 1 -W 2 "$CB" 2>&1 || true)
grep -q "From $CB .*Destination Host Prohibited" <<<"$out" ||
	fail "FORWARD REJECT icmp-host-prohibited: ca's ping says: $out"
cub_ok ipt0 chain FORWARD rule del prohib
cub_log "FORWARD REJECT: ca's ping gets 'Destination Host Prohibited' from $CB"

# 8. OUTPUT -d cb -j DROP stops the host's ping to cb, not to ca.
cub_ok ipt0 chain add OUTPUT
cub_ok ipt0 chain OUTPUT rule add no-cb spec="-d $CB/32 -j DROP"
ping_from - "$CB" lost 2>/dev/null && fail "the host's ping to cb passed OUTPUT's DROP"
ping_ok - "$CA" || fail "the host's ping to ca did not pass"
# (ping retries a send the egress hook dropped: ENOBUFS, not EPERM.)
[ "$(cnt OUTPUT no-cb)" -ge 1 ] || fail "no-cb counted $(cnt OUTPUT no-cb)"
cub_ok ipt0 chain OUTPUT rule del no-cb
cub_log "OUTPUT: the host's ping to cb dropped, to ca passes"

# 8b. -i/-o with a broker that does not let iptables list the netdevs
# (no --host-netdev-events iptables): refused, naming the option; the
# ruleset unchanged (iptables-iface runs them).
before=$(ids)
out=$(cub ipt0 chain INPUT rule add in1 spec="-i veth1 -p icmp -j DROP" 2>&1) && fail "-i was taken"
grep -q "chain INPUT, rule 2: -i/-o name netdevs, which service 'iptables' may not list: start cubicled with --host-netdev-events iptables" <<<"$out" || fail "-i: $out"
[ "$(ids)" = "$before" ] || fail "a refused -i changed the rules: $(ids)"
cub_log "-i/-o without --host-netdev-events iptables: refused, naming the option"

# 9. Conntrack: INPUT policy DROP with ESTABLISHED,RELATED accepted lets
# the host's own connections out and back; nothing new comes in.
cub_ok ipt0 chain INPUT rule del icmp
cub_ok ipt0 chain INPUT rule add est spec="-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
ping_from ca "$HA" lost && fail "a new ping came in with only ESTABLISHED,RELATED accepted"
ping_ok - "$CA" || fail "the host's ping to ca did not come back"
[ "$(connect_from - "$CA" 7030)" = ok ] || fail "the host's TCP to ca did not work"
[ "$(connect_from ca "$HA" 7020 1)" = timeout ] || fail "a new TCP came in"
[ "$(cnt INPUT est)" -ge 3 ] || fail "est counted $(cnt INPUT est)"
cub_log "conntrack: the host's ping and TCP out and back; ca's new ones dropped"
