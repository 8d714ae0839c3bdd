#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# iptables -i / -o (plugins/iptables/README.md "Interfaces"): names become
# ifindexes when the ruleset compiles, through the broker's netdev table
# (cub_host__netdevs(), cubicled --host-netdev-events iptables), and a
# netdev that appears, goes or is renamed later compiles the ruleset again
# by itself (the service's netdev events).  The test's namespace is the
# host: ca (198.18.0.1) behind veth-a (198.18.0.2), cb (198.18.1.1) behind
# veth-b (198.18.1.2).  Each case's outcome (which side's ping to the
# host passes) is compared with Linux iptables-legacy running the same
# rules in a twin: lh with veth-a to la and veth-b to lb.  Cases: -i NAME,
# -i NAME+, ! -i, -o in OUTPUT, a netdev added (moved into the namespace)
# after the rule and matched without a new command, then renamed out of
# the wildcard; -S as iptables prints it; bad names refused with the
# ruleset unchanged; -o in FORWARD refused.
. "$(dirname "$0")/../lib/netns.sh"
need iptables-legacy python3

export CUB_BROKER_ARGS="--host-netdev-events iptables"
PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth-a 198.18.0.1 198.18.0.2
host_peer cb veth-b 198.18.1.1 198.18.1.2
broker_start

# The twin: lh is Linux's "host", la and lb its two sides.
for ns in lh la lb lc; do
	ip netns add $ns
	NAMESPACES+=($ns)
	ip -n $ns link set lo up
done
twin_side() { # NS IFNAME SUBNET (198.18.N): NS's eth0 .1, lh's IFNAME .2
	ip link add "$2" netns lh type veth peer name eth0 netns "$1"
	ip -n "$1" addr add "$3.1/24" dev eth0
	ip -n lh addr add "$3.2/24" dev "$2"
	ip -n "$1" link set eth0 up
	ip -n lh link set "$2" up
}
twin_side la veth-a 198.18.4
twin_side lb veth-b 198.18.5

ipt() { "$CUB_BUILD/plugins/iptables/cubicle-iptables" --socket-dir "$T/s" ipt0 "$@"; }
lin() { ip netns exec lh iptables-legacy "$@"; }
both() { # the same iptables argv on the cube and on the twin
	ipt "$@" || fail "cubicle-iptables $*: exit $?"
	lin "$@" || fail "iptables-legacy $*: exit $?"
}
# pass_drop NS DST: "pass" if one echo is answered, else "drop".
pass_drop() {
	if ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; then echo pass; else echo drop; fi
}
# host_ping DST [NS]: the host's own ping (NS: the twin's lh).
host_ping() {
	local cmd=(ping -c 1 -W 1 "$1")
	[ -n "${2:-}" ] && cmd=(ip netns exec "$2" "${cmd[@]}")
	if "${cmd[@]}" >/dev/null 2>&1; then echo pass; else echo drop; fi
}
# in_pkts: the packets the cube's INPUT rules counted.
in_pkts() {
	cub ipt0 show -o json | python3 -c '
import json, sys
print(sum(r.get("pkts", 0) for c in json.load(sys.stdin).get("chain", [])
          if c["name"] == "INPUT" for r in c.get("rule", [])))'
}
# cube_in / lin_in: which sides' pings to the host pass ("a:pass b:drop").
cube_in() { echo "a:$(pass_drop ca 198.18.0.2) b:$(pass_drop cb 198.18.1.2)${1:+ c:$(pass_drop cc 198.18.3.2)}"; }
lin_in() { echo "a:$(pass_drop la 198.18.4.2) b:$(pass_drop lb 198.18.5.2)${1:+ c:$(pass_drop lc 198.18.6.2)}"; }
# check WHAT WANT [c]: the cube and Linux both give WANT.
check() {
	local c l
	c=$(cube_in ${3:-})
	l=$(lin_in ${3:-})
	[ "$l" = "$2" ] || fail "$1: Linux gives '$l', not '$2' (the test is wrong)"
	[ "$c" = "$2" ] || fail "$1: the cube gives '$c', Linux '$2'"
	cub_log "$1: $c (as Linux)"
}

[ "$(cube_in)" = "a:pass b:pass" ] || fail "no pings before any cube: $(cube_in)"
cub_ok iptables add ipt0
check "no rules" "a:pass b:pass"

# 1. -i NAME drops one side only, counted.
both -A INPUT -i veth-a -p icmp -j DROP
check "-A INPUT -i veth-a -p icmp -j DROP" "a:drop b:pass"
[ "$(in_pkts)" = 1 ] || fail "-i veth-a counted $(in_pkts) packets, not 1"
# 2. a wildcard matches both.
both -F INPUT
both -A INPUT -i veth+ -p icmp -j DROP
check "-A INPUT -i veth+ -p icmp -j DROP" "a:drop b:drop"
# 3. ! -i.
both -F INPUT
both -A INPUT ! -i veth-a -p icmp -j DROP
check "-A INPUT ! -i veth-a -p icmp -j DROP" "a:pass b:drop"
both -F INPUT
both -A INPUT ! -i veth-b+ -p icmp -j DROP
check "-A INPUT ! -i veth-b+ -p icmp -j DROP" "a:drop b:pass"
# -S prints them back as iptables does.
both -A INPUT -i veth-a -s 198.18.0.0/15 -j ACCEPT
[ "$(ipt -S INPUT)" = "$(lin -S INPUT)" ] ||
	fail "-S: the cube prints '$(ipt -S INPUT)', Linux '$(lin -S INPUT)'"
both -F INPUT

# 4. -o in OUTPUT: the host's own pings, out of veth-b only dropped.
both -A OUTPUT -o veth-b -p icmp -j DROP
c="a:$(host_ping 198.18.0.1) b:$(host_ping 198.18.1.1)"
l="a:$(host_ping 198.18.4.1 lh) b:$(host_ping 198.18.5.1 lh)"
[ "$l" = "a:pass b:drop" ] || fail "-o veth-b: Linux gives '$l'"
[ "$c" = "$l" ] || fail "-o veth-b in OUTPUT: the cube gives '$c', Linux '$l'"
cub_log "-A OUTPUT -o veth-b -p icmp -j DROP: $c (as Linux)"
both -F OUTPUT
both -A OUTPUT ! -o veth-b -p icmp -j DROP
c="a:$(host_ping 198.18.0.1) b:$(host_ping 198.18.1.1)"
l="a:$(host_ping 198.18.4.1 lh) b:$(host_ping 198.18.5.1 lh)"
[ "$c" = "a:drop b:pass" ] && [ "$l" = "$c" ] ||
	fail "! -o veth-b in OUTPUT: the cube gives '$c', Linux '$l'"
cub_log "-A OUTPUT ! -o veth-b -p icmp -j DROP: $c (as Linux)"
both -F OUTPUT

# 4b. In user chains: -i from INPUT, -o from OUTPUT, and ! -i from
# OUTPUT (no in netdev there: it always matches, as Linux's empty indev).
both -N UIN
both -A UIN -i veth-a -p icmp -j DROP
both -A INPUT -j UIN
check "-A UIN -i veth-a -p icmp -j DROP, INPUT -j UIN" "a:drop b:pass"
both -N UOUT
both -A UOUT -o veth-b -p icmp -j DROP
both -A UOUT ! -i veth-a -p icmp -s 198.18.0.0/15 -d 198.18.0.1 -j DROP
both -A UOUT ! -i veth-a -p icmp -s 198.18.0.0/15 -d 198.18.4.1 -j DROP
both -A OUTPUT -j UOUT
c="a:$(host_ping 198.18.0.1) b:$(host_ping 198.18.1.1)"
l="a:$(host_ping 198.18.4.1 lh) b:$(host_ping 198.18.5.1 lh)"
[ "$c" = "a:drop b:drop" ] && [ "$l" = "$c" ] ||
	fail "user chain from OUTPUT (-o veth-b, ! -i veth-a): the cube gives '$c', Linux '$l'"
cub_log "user chains: -i from INPUT, -o and ! -i from OUTPUT: as Linux"
both -F OUTPUT
both -F INPUT
both -F UIN
both -F UOUT # (cubicle-iptables has no -X: the empty chains stay)

# 5. A netdev that appears after the rule matches without a new command:
# veth-c made in cc, then moved into the host and brought up.
both -A INPUT -i veth+ -s 198.18.2.0/23 -p icmp -j DROP
both -A INPUT -i veth-c -p icmp -j DROP
netns_add_cc() {
	ip netns add cc
	NAMESPACES+=(cc)
	ip -n cc link set lo up
	ip -n cc link add veth-c type veth peer name eth0
	ip -n cc addr add 198.18.3.1/24 dev eth0
	ip -n cc link set eth0 up
	ip -n cc link set veth-c netns $$
	ip addr add 198.18.3.2/24 dev veth-c
	ip link set veth-c up
}
netns_add_cc
twin_side lc veth-c 198.18.6
# The worker compiles again on the event (its log says so); then ping.
for _ in $(seq 1 100); do
	cub ipt0 log show 2>/dev/null | grep -q "netdev 'veth-c' ([0-9]*) added: -i/-o compiled again" && break
	sleep 0.1
done
cub ipt0 log show | grep -q "netdev 'veth-c' ([0-9]*) added: -i/-o compiled again" ||
	fail "no compile on veth-c's arrival: $(cub ipt0 log show | tail -5)"
check "veth-c added after -i veth-c -j DROP" "a:pass b:pass c:drop" c
# Renamed out of both names: it matches no more, again by itself.
ip link set veth-c down
ip link set veth-c name xc0
ip link set xc0 up
ip -n lh link set veth-c down
ip -n lh link set veth-c name xc0
ip -n lh link set xc0 up
for _ in $(seq 1 100); do
	cub ipt0 log show 2>/dev/null | grep -q "netdev 'xc0' ([0-9]*) renamed: -i/-o compiled again" && break
	sleep 0.1
done
cub ipt0 log show | grep -q "netdev 'xc0' ([0-9]*) renamed: -i/-o compiled again" ||
	fail "no compile on the rename: $(cub ipt0 log show | tail -5)"
check "veth-c renamed xc0" "a:pass b:pass c:pass" c
# wait_cube_log PATTERN: the cube's log has it (the worker handled the event).
wait_cube_log() {
	for _ in $(seq 1 100); do
		cub ipt0 log show 2>/dev/null | grep -q "$1" && return 0
		sleep 0.1
	done
	fail "the cube's log never says '$1': $(cub ipt0 log show | tail -5)"
}
# Renamed back into the names, then deleted: compiled again each time.
ip link set xc0 down
ip link set xc0 name veth-c
ip link set veth-c up
ip -n lh link set xc0 down
ip -n lh link set xc0 name veth-c
ip -n lh link set veth-c up
wait_cube_log "netdev 'veth-c' ([0-9]*) renamed: -i/-o compiled again"
check "xc0 renamed veth-c again" "a:pass b:pass c:drop" c
ip link del veth-c
wait_cube_log "netdev 'veth-c' ([0-9]*) removed: -i/-o compiled again"
n=$(cub ipt0 log show | grep -c "compiled again")
# Netdevs no name matches compile nothing: after their events, one that
# matches (handled in order) is the only compile more.
ip link add xd0 type veth peer name xd1
ip link set xd0 up
ip link del xd0
ip link add veth-e type veth peer name xe1
wait_cube_log "netdev 'veth-e' ([0-9]*) added: -i/-o compiled again"
[ "$(cub ipt0 log show | grep -c "compiled again")" = $((n + 1)) ] ||
	fail "netdevs no name matches compiled the ruleset again: $(cub ipt0 log show | grep "compiled again" | tail -4)"
ip link del veth-e
check "veth-c deleted" "a:pass b:pass"
both -F INPUT

# 6. Bad names: refused, naming what is wrong; the ruleset unchanged.
both -A INPUT -i veth-a -p icmp -j DROP
before=$(ipt -S)
bad() { # WANT ARGS...: cubicle-iptables refuses ARGS saying WANT
	local want=$1 out
	shift
	out=$(ipt "$@" 2>&1) && fail "cubicle-iptables $* was taken"
	grep -qF -- "$want" <<<"$out" || fail "cubicle-iptables $*: '$out' does not say '$want'"
	[ "$(ipt -S)" = "$before" ] || fail "a refused rule changed the ruleset: $(ipt -S)"
}
bad "interface name \`veth-abcdefghijk' must be shorter than IFNAMSIZ (16)" -A INPUT -i veth-abcdefghijk -j DROP
lin -A INPUT -i veth-abcdefghijk -j DROP 2>/dev/null && fail "Linux took a 16-byte name"
bad "interface name \`ve+th': bad character \`+'" -A INPUT -i ve+th -j DROP
bad "Can't use -o with INPUT" -A INPUT -o veth-a -j DROP
# The CLI path, naming chain and id.
out=$(cub ipt0 chain INPUT rule add bad spec="-o veth-a -j DROP" 2>&1) && fail "-o in INPUT was taken"
grep -qF "chain INPUT, rule 'bad': Can't use -o with INPUT" <<<"$out" || fail "-o in INPUT: $out"
# -o in FORWARD (or a chain FORWARD jumps to): refused, the reason named.
bad "chain FORWARD, rule 1: -o in FORWARD is not supported" -A FORWARD -o veth-b -j DROP
ipt -N FWD || fail "-N FWD"
ipt -A FWD -o veth-b -j DROP || fail "-A FWD -o veth-b (no FORWARD jump yet)"
before=$(ipt -S)
bad "chain FWD, rule 1: -o in FORWARD (a chain FORWARD jumps to) is not supported" -A FORWARD -j FWD
check "after the refusals" "a:drop b:pass"
cub_log "bad names and -o in FORWARD refused, naming the reason; ruleset unchanged"

# 7. A worker kill -9: the replay fetches the netdevs again.
old=$(worker_pid iptables)
kill -9 "$old"
for _ in $(seq 1 100); do
	new=$(worker_pid iptables)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.1
done
broker_wait_ready
check "after a worker kill -9" "a:drop b:pass"

# 8. A burst: 400 veth pairs no name matches (800 events, more than the
# broker's queue of 256 for the service holds), then veth-f, which
# -i veth-f names, last.  Its event may be among the dropped ones: the
# worker is told events were lost (cub_netdev_event.lost) and compiles
# again all the same, once the burst's events are handled.
ipt -A INPUT -i veth-f -p icmp -j DROP || fail "-A INPUT -i veth-f"
ip netns add cf
NAMESPACES+=(cf)
ip -n cf link set lo up
{
	for i in $(seq 1 400); do echo "link add vz$i type veth peer name vw$i"; done
	echo "link add veth-f type veth peer name eth0 netns cf"
} | ip -batch - || fail "ip -batch"
ip -n cf addr add 198.18.7.1/24 dev eth0
ip -n cf link set eth0 up
ip addr add 198.18.7.2/24 dev veth-f
ip link set veth-f up
total=$(ip -o link | wc -l)
for _ in $(seq 1 300); do
	cub ipt0 log show 2>/dev/null | grep -q "compiled again ($total netdevs)" && break
	sleep 0.1
done
cub ipt0 log show | grep -q "compiled again ($total netdevs)" ||
	fail "no compile saw the $total netdevs: $(cub ipt0 log show | grep "compiled again" | tail -3)"
dropped=$(cub services -o json | python3 -c '
import json, sys
print(sum(s.get("netdev_dropped", 0) for s in json.load(sys.stdin) if s["name"] == "iptables"))')
[ "$dropped" -gt 0 ] || fail "the burst lost no event: this case proves nothing"
[ "$(pass_drop cf 198.18.7.2)" = drop ] || fail "veth-f, last of a burst, is not matched by -i veth-f"
ipt -D INPUT -i veth-f -p icmp -j DROP || fail "-D INPUT -i veth-f"
[ "$(pass_drop cf 198.18.7.2)" = pass ] || fail "no ping over veth-f without the rule"
cub ipt0 log show | grep "compiled again" | tail -4 >&2
cub_log "a burst of 801 netdevs ($dropped events dropped): veth-f, last, matched without a command ($(cub ipt0 log show | grep -c "compiled again") compiles in all)"
