#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 6): "a detached cube's cell is emptied after an RCU
# grace period without the detach waiting" holds unless the cube is the
# last of its stack.  Then stack_remove() drops the point at once
# (tp_drop() -> tp_unhook(): bpf_tc_detach() of the stack's filters, and
# the clsact qdisc): the kernel, taking the last filter off a clsact
# hook, swaps its mini-Qdisc and waits for an RCU grace period
# (mini_qdisc_pair_swap(): cond_synchronize_rcu()), which cannot end
# while the cube holds a packet.  The detach, with the state lock held,
# waits for as long as the plugin's program holds the packet, and the
# whole broker with it.  The point could stay (empty, the filters in
# place) until the tick's reap, and go then.
# s1 (review15_tslow), alone on veth1, holds a datagram; `detach s1
# veth1` must return while the datagram is still held.  The hold:
# review15-tstack-detach.sh.
. "$(dirname "$0")/../lib/netns.sh"
# review15_tslow holds a packet for seconds on purpose (one bpf_loop() of
# 8 Mi rounds of 32 clock reads): past the broker's default loop bound
# (broker/loopcheck.h), so this broker takes any.
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --max-loop-cost 1125899906842624"
need python3 bpftool taskset
[ "$(nproc)" -ge 2 ] || { cub_log "SKIP: needs 2 CPUs"; exit 77; }
taskset -p 2 $$ >/dev/null

mkdir -p "$T/plugins"
cp "$CUB_BUILD/plugins/testing/review15_tslow.so" "$T/plugins/transparenthelloworld.so"
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
broker_start

. "$(dirname "$0")/../lib/hold.sh"
hold_receiver
send
for _ in $(seq 1 50); do [ "$(rx)" -ge 1 ] && break; sleep 0.1; done
[ "$(rx)" -ge 1 ] || fail "no datagram reaches the host with nothing attached"

cub_ok transparenthelloworld add s1
cub_ok attach s1 veth1
cub_ok s1 set egress-action=DROP # hold what enters s1
p0=$(s1_packets)
h0=$(released)
send &
sender=$!
for _ in $(seq 1 100); do
	[ "$(s1_packets)" -gt "$p0" ] && break
	sleep 0.02
done
[ "$(s1_packets)" -gt "$p0" ] || fail "the datagram never reached s1"
cub_ok detach s1 veth1
held=$(released)
bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0 || true
wait "$sender" || true
[ "$held" = "$h0" ] ||
	fail "'detach s1 veth1' (the last cube of veth1's stack) returned only once s1 let its held datagram go: the detach waited for the packet"
cub_log "the last detach of a stack does not wait for a packet in the cube"
