#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 6): "a cube that holds a packet for long cannot hold the
# broker" (stack_remove(), broker/tcube.c) holds for the detach only.
# Attaching the cube again, anywhere, waits in stack_insert() for its
# grace (mapswap_grace_wait(c->tp_left)) with b->lock and the state lock
# held, and the grace cannot end while the cube holds a packet: every
# other client of the broker waits with it (here `cubicle show cubes`),
# for as long as the plugin's program cares to hold packets (seconds,
# again and again).  So does any attach that finds all 16 cells taken or
# waiting (cell_free()).  A detached cube attached elsewhere at once
# should not stall the broker (defer its way out, or refuse with "busy").
# s1 (review15_tslow) holds a datagram on veth1 (s1 ---> k1); s1 is
# detached (not the last: review17-last-detach-wait), then attached to
# veth2, whose stack (k2) exists already (no tc filter is added, which
# would wait in the kernel too), in the background; and
# `cubicle show cubes` must answer
# while the datagram is still held.  The hold: review15-tstack-detach.sh.
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
cub_ok transparenthelloworld add k1
cub_ok attach k1 veth1 # keeps the point: the detach of s1 is not the last
cub_ok transparenthelloworld add k2
cub_ok attach k2 veth2 # veth2's stack exists: no tc change at the attach
cub_ok attach s1 veth1 position=first
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
[ "$(released)" = "$h0" ] || fail "s1 let the datagram go during its detach: the detach waited"
cub attach s1 veth2 >"$T/attach.out" 2>&1 &
att=$!
sleep 0.5 # let the attach reach the broker (ordering only: the verdict is below)
cub show cubes >/dev/null || fail "show cubes failed"
held=$(released)
att_running=no
kill -0 "$att" 2>/dev/null && att_running=yes
bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0 || true
# The attach either waited within its bound or was refused, naming why
# and asking to try again; once the datagram is gone it is taken.
if ! wait "$att"; then
	grep -q "try again" "$T/attach.out" || fail "attach s1 veth2: $(cat "$T/attach.out")"
	cub_log "the attach was refused while s1 held a packet: $(cat "$T/attach.out")"
	wait "$sender" || true
	ok=
	for _ in $(seq 1 50); do
		cub attach s1 veth2 >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	[ -n "$ok" ] || fail "attach s1 veth2 refused after the datagram went"
fi
wait "$sender" || true
cub_log "show cubes answered with the datagram $([ "$held" = "$h0" ] && echo "still held" || echo "let go"), the attach $([ $att_running = yes ] && echo "still waiting" || echo "done")"
[ "$held" = "$h0" ] ||
	fail "'cubicle show cubes' answered only once s1 let its datagram go: the attach of s1 (detached a moment before) held the broker for as long as s1 held a packet"
cub_log "a cube holding a packet does not hold the broker, attach included"
