#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 9 (transparent cubes, docs "Stacks are data": "a cube can
# neither skip the cubes after it nor jump anywhere else"): a stacked
# cube's verdict is its program's return value, and a tc program may
# return TC_ACT_OK, which ends the tc run: the cubes after it (and on a
# cube port the port's cube) would never see the packet.  evil_tpass is
# transparenthelloworld whose PASS returns TC_ACT_OK instead of
# cub_pass_tc(): the broker must refuse it at add, naming the program,
# the exit and what it may return, and change nothing (broker/exitcheck.c).
# On the old code it loaded, and attached first before th1 (DROP) on
# veth1 it let every ping through.  Then the claim itself, with a cube
# that passes: th0 (PASS) first and th1 (DROP) after it, on a netdev and
# on a cube port (sf1:p2), th1 sees and drops every packet th0 passed.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so"
	"$CUB_BUILD/plugins/testing/evil_tpass.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

# pings NS ADDR N: N pings, all answered?  lost NS ADDR N: all lost?
pings() {
	ip netns exec "$1" ping -c "$3" -i 0.05 -W 10 "$2" >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
lost() {
	ip netns exec "$1" ping -c "$3" -i 0.05 -W 1 "$2" >"$T/ping.out" 2>&1
	grep -q " 100% packet loss" "$T/ping.out"
}
ctr() { cub "$1" show "$2"; }

# th_pass_drop TARGET NS ADDR: th0 (PASS) first, th1 (DROP ingress)
# after it on TARGET; every ping from NS to ADDR is lost, th1 drops each
# request (netdev) or reply (cube port) that th0 passed.
th_pass_drop() {
	local target=$1 ns=$2 addr=$3 p0 p1 d0 d1
	cub_ok th1 set ingress-action=DROP
	cub_ok attach th1 "$target"
	cub_ok attach th0 "$target" position=first
	cub topology show "$target" | grep -qE "ingress service chain: th0 ---> th1" ||
		fail "$target's stack is not th0 then th1: $(cub topology show "$target")"
	p0=$(ctr th0 ingress-packets)
	d0=$(ctr th1 ingress-drops)
	lost "$ns" "$addr" 10 || fail "on $target, with th1 after th0 dropping, pings passed: $(tail -2 "$T/ping.out")"
	p1=$(ctr th0 ingress-packets)
	d1=$(ctr th1 ingress-drops)
	[ $((p1 - p0)) -ge 10 ] || fail "on $target th0 passed $((p1 - p0)) packets in, expected >= 10"
	[ $((d1 - d0)) -ge $((p1 - p0)) ] ||
		fail "on $target th1 dropped $((d1 - d0)) of the $((p1 - p0)) packets th0 passed: it was skipped"
	cub_log "on $target: th0 passed $((p1 - p0)) in, th1 after it dropped $((d1 - d0))"
	cub_ok detach th0 "$target"
	cub_ok detach th1 "$target"
	cub_ok th1 set ingress-action=PASS
}

pings ca 198.18.0.2 2 || fail "no ping before anything is attached"
cub_ok transparenthelloworld add th0
cub_ok transparenthelloworld add th1
cub_ok th1 set ingress-action=DROP
cub_ok attach th1 veth1
lost ca 198.18.0.2 3 || fail "ping passed with th1 dropping: the test is wrong"

# ---- evil_tpass is refused at add, and nothing changes ----
snapshot() {
	cub show cubes -o json
	cub topology show veth1
	tc filter show dev veth1 ingress
}
before=$(snapshot)
refused_unchanged "program 'cub_ingress_tc' of transparent cube 'ev1': exit at insn [0-9]+ may return a value other than TC_ACT_SHOT; pass packets with cub_pass_tc\(\)" \
	evil_tpass add ev1
cub ev1 show >/dev/null 2>&1 && fail "ev1 exists after its add was refused"
# The same rule for XDP stacks: its XDP program returns XDP_PASS itself.
refused_unchanged "program 'cub_ingress_xdp' of transparent cube 'ev2': exit at insn [0-9]+ may return a value other than XDP_ABORTED or XDP_DROP; pass packets with cub_pass_xdp\(\)" \
	evil_tpass add ev2 type=XDP_DRV
lost ca 198.18.0.2 3 || fail "ping passed with th1 dropping after ev1 was refused"
cub_ok detach th1 veth1
cub_ok th1 set ingress-action=PASS
pings ca 198.18.0.2 2 || fail "no ping with th1 detached"

# ---- the claim, on a netdev and on a cube port ----
th_pass_drop veth1 ca 198.18.0.2

netns_host cc vethc 198.18.2.1
netns_host cd vethd 198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports add p2 peer=vethd
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
pings cc 198.18.2.2 3 || fail "no ping through sf1: $(tail -2 "$T/ping.out")"
# Replies from cd enter sf1 by p2: its ingress stack, th0 then th1.
th_pass_drop sf1:p2 cc 198.18.2.2
pings cc 198.18.2.2 3 || fail "no ping through sf1 once th0 and th1 are detached"
cub_log "a stacked cube cannot skip the cubes after it"
