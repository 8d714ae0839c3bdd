#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of the exit check, expected to fail (tests/meson.build,
# should_fail) until it is fixed.  Whether a service is transparent, and
# so whether its objects get the exit check (bpfobj.c check_object(),
# "c->svc->transparent && check_exits()"), is what its worker's first
# hello after a broker start says (wcall.c): it is not stored.  The
# stacks are (tcube_restore() puts the stored cubes back in them without
# asking).  evil_tflip says transparent with a clean object; ev1 is
# attached before th1 (DROP) on veth1 and pings are lost.  The broker
# restarts (an upgrade; here with EVIL_TFLIP in its environment, the
# plugin's signal), the worker now says "not transparent" and loads an
# object that passes with TC_ACT_OK: unchecked, it runs in ev1's stack
# slot and th1 is skipped.  What the test asks: after the restart, pings
# are still lost (the hello is refused, or the object is).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so"
	"$CUB_BUILD/plugins/testing/evil_tflip.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

cub_ok transparenthelloworld add th1
cub_ok th1 set ingress-action=DROP
cub_ok attach th1 veth1
cub_ok evil_tflip add ev1
cub_ok attach ev1 veth1 position=first
cub topology show veth1 | grep -qE "ingress service chain: ev1 ---> th1" ||
	fail "veth1's stack is not ev1 then th1: $(cub topology show veth1)"
ip netns exec ca ping -c 3 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with ev1 (clean) before th1 (DROP): the test is wrong"
cub_log "before the restart: ev1 then th1, pings lost"

kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
sleep 1
EVIL_TFLIP=1 broker_start
for _ in $(seq 1 50); do
	cub services 2>/dev/null | grep -q "evil_tflip .*running" && break
	sleep 0.2
done
sleep 1
# The refusal is shown: the service's status and the broker's log.
for _ in $(seq 1 100); do
	cub services 2>/dev/null | grep -q "evil_tflip .*refused" && break
	sleep 0.2
done
cub services 2>&1 | grep -q "evil_tflip .*refused" ||
	fail "evil_tflip's flipped hello is not shown refused: $(cub services 2>&1)"
grep -q "service 'evil_tflip': worker says it is not transparent, its cubes in the store are transparent; refused" "$T/broker.log" ||
	fail "no log of evil_tflip's refused hello"
cub_log "after the restart: $(cub services 2>&1 | grep evil_tflip); $(cub topology show veth1 2>&1 | grep -E 'chain' | head -2 | tr '\n' ' ')"
grep -E "ev1|evil_tflip" "$T/broker.log" | tail -5 >&2 || true
ip netns exec ca ping -c 10 -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 || true
cub_log "pings after the restart: $(grep -E 'packet loss' "$T/ping.out")"
grep -q " 100% packet loss" "$T/ping.out" ||
	fail "BREAK: after a restart where evil_tflip said 'not transparent', its unchecked object skipped th1: $(grep -E 'packet loss' "$T/ping.out")"
