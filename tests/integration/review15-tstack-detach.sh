#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 15 (issue 6): a detach shifted a stack under a packet in flight,
# and the packet skipped the cube after the one it was in; an attach in
# front of it made it meet its cube twice.  Stacks are now cells and
# links (cube_shared.h, broker/tcube.c tp_link()): a cube keeps its cell
# while it stays, an attach or detach rewrites links only.
# veth1's ingress chain is x1 ---> s1 ---> d1: x1 passes (evil_tburn,
# PASS), d1 drops everything (evil_tburn, ingress DROP), s1
# (review15_tslow) is a slow cube: its PASS holds the packet in its own
# run while its egress action is DROP, then calls cub_pass_tc() as the
# exit check wants.  One UDP datagram is sent and held in s1, and then:
#   1. x1 (before s1) is detached: the old code rewrote the stack from
#      its start up (slot 1 = d1, slot 2 = the end), and the datagram
#      let go ran slot 2, the end, and reached the host without d1;
#   2. x1 is attached again in front: the old code wrote s1 into slot 1
#      and the datagram let go from slot 0 met s1 again;
#   3. s1 itself is detached: the old code put d1 in slot 0 and the end
#      in slot 1, and the datagram went from s1 to the end.
# Each passes only if the datagram reaches d1 (dropped) and not the
# host, and s1 saw it once.  The detach and attach must not wait for the
# held datagram (a cube that holds packets must not hold the broker).
# The datagram is sent from CPU 0 and held in its softirq there; the
# test, the broker and its workers run on CPU 1.  The test lets the
# datagram go by writing s1's pinned th_actions itself; s1 lets go by
# itself after some seconds.
. "$(dirname "$0")/../lib/netns.sh"
# review15_tslow holds a packet for seconds on purpose (one bpf_loop() of
# 8 Mi rounds of 32 clock reads): past the broker's default loop bound
# (broker/loopcheck.h), so this broker takes any.
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --max-loop-cost 1125899906842624"
need python3 bpftool taskset
[ "$(nproc)" -ge 2 ] || { cub_log "SKIP: needs 2 CPUs"; exit 77; }
taskset -p 2 $$ >/dev/null # CPU 1: this shell and all it starts

PLUGINS+=("$CUB_BUILD/plugins/testing/evil_tburn.so")
mkdir -p "$T/plugins" # the service is the file's name
cp "$CUB_BUILD/plugins/testing/review15_tslow.so" "$T/plugins/transparenthelloworld.so"
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

# The host's receiver: counts datagrams to 198.18.0.2:9999 in $T/rx.
. "$(dirname "$0")/../lib/hold.sh"
hold_receiver

# Nothing attached: the datagram arrives (the receiver works).
send
wait_rx 1 || fail "no datagram reaches the host with nothing attached"

cub_ok evil_tburn add x1
cub_ok evil_tburn add d1 ingress-action=DROP
cub_ok transparenthelloworld add s1
cub_ok attach d1 veth1
cub_ok attach s1 veth1 position=first
cub_ok attach x1 veth1 position=first
cub topology show veth1 | grep -q "ingress service chain: x1 ---> s1 ---> d1" ||
	fail "veth1's chain: $(cub topology show veth1)"
send
wait_rx 2 && fail "a datagram passed d1 (DROP) with the stack at rest: the test is wrong"
[ "$(cub d1 show ingress-drops)" -ge 1 ] || fail "d1 dropped nothing"

# hold UNDO CMD...: hold a datagram in s1, run CMD while it is held, let
# it go; fails unless d1 dropped it, the host did not get it and s1 saw
# it once.  When s1 let go before CMD ended (a slow machine), UNDO (a
# cubicle command line) puts the chain back and it tries again.
hold() {
	local try p0 d0 r0 h0 sender undo=$1
	shift
	for try in 1 2 3 4 5; do
		cub_ok s1 set egress-action=PASS
		p0=$(cub s1 show ingress-packets)
		d0=$(cub d1 show ingress-drops)
		r0=$(rx)
		cub_ok s1 set egress-action=DROP # hold what enters s1
		send &
		sender=$!
		for _ in $(seq 1 500); do
			[ "$(cub s1 show ingress-packets)" -gt "$p0" ] && break
			sleep 0.02
		done
		if [ "$(cub s1 show ingress-packets)" -le "$p0" ]; then
			# A loaded machine: the datagram is not in s1 after 10 s
			# (CMD would run before it came): let it go, try again.
			cub_log "try $try: the datagram did not reach s1 in 10 s"
			bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0
			wait "$sender" || true
			sleep 1
			continue
		fi
		h0=$(released)
		cub_ok "$@"
		if [ "$(released)" != "$h0" ]; then
			cub_log "try $try: s1 let the datagram go before '$*' ended"
			wait "$sender" || true
			# shellcheck disable=SC2086
			cub_ok $undo
			continue
		fi
		# let it go: s1's egress action PASS (TH_PASS 0), not by the broker
		bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0
		wait "$sender" || true
		for _ in $(seq 1 50); do
			[ "$(cub d1 show ingress-drops)" -gt "$d0" ] && break
			[ "$(rx)" -gt "$r0" ] && break
			sleep 0.1
		done
		sleep 0.3
		cub_log "'$*': s1 saw $(($(cub s1 show ingress-packets) - p0)), d1 dropped $(($(cub d1 show ingress-drops) - d0)), the host got $(($(rx) - r0))"
		[ "$(rx)" = "$r0" ] ||
			fail "'$*' while a datagram was held in s1: it reached the host; d1 (DROP, attached throughout) never saw it"
		[ "$(cub d1 show ingress-drops)" -eq $((d0 + 1)) ] ||
			fail "'$*' while a datagram was held in s1: d1 dropped $(($(cub d1 show ingress-drops) - d0)), not 1"
		[ "$(cub s1 show ingress-packets)" -eq $((p0 + 1)) ] ||
			fail "'$*' while a datagram was held in s1: s1 saw it $(($(cub s1 show ingress-packets) - p0)) times"
		return 0
	done
	fail "no datagram was held in s1 across '$*': the test proved nothing"
}

hold "attach x1 veth1 position=first" detach x1 veth1
cub topology show veth1 | grep -q "ingress service chain: s1 ---> d1" ||
	fail "veth1's chain: $(cub topology show veth1)"
hold "detach x1 veth1" attach x1 veth1 position=first
cub topology show veth1 | grep -q "ingress service chain: x1 ---> s1 ---> d1" ||
	fail "veth1's chain: $(cub topology show veth1)"
hold "attach s1 veth1 after=x1" detach s1 veth1
cub topology show veth1 | grep -q "ingress service chain: x1 ---> d1" ||
	fail "veth1's chain: $(cub topology show veth1)"
# The cells left are emptied once no packet can be in them: s1 attached
# again runs, and the stack drops as before.
cub_ok attach s1 veth1 after=x1
cub_ok s1 set egress-action=PASS
p0=$(cub s1 show ingress-packets)
send
sleep 0.5
[ "$(cub s1 show ingress-packets)" -gt "$p0" ] || fail "s1 attached again sees nothing"
wait_rx $(($(rx) + 1)) && fail "a datagram passed d1 after the changes"
cub_log "an attach or detach never lets a packet in flight skip a cube that stays or meet one twice"
