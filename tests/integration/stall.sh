#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# One slow worker stalls nothing but itself (issue 7, defect 4).  An evil
# cube whose packet_in sleeps 500 ms gets a stream of slow-path packets,
# and an evil show or action sleeps 9 s: meanwhile the broker's own
# answers (show cubes, services) and another service's cube (sf1) answer
# within a generous deadline, and so does the slow cube itself between
# two packets.  A set then a show on one cube, queued behind a slow
# action, see each other in order.  A worker past --call-timeout is
# still killed and restarted, and requests past the 32 its queue holds
# are refused at once.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 12000"
DEADLINE=5
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
broker_start

# timed ARGS...: the CLI must answer within $DEADLINE s.
timed() {
	local out rc=0
	out=$(timeout "$DEADLINE" "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" \
		"$@" </dev/null 2>&1) || rc=$?
	[ "$rc" = 124 ] && fail "cubicle $*: no answer within $DEADLINE s"
	[ "$rc" = 0 ] || fail "cubicle $*: exit $rc: $out"
	printf '%s\n' "$out"
}

# The others keep answering: broker, another service, for SECONDS.
others_answer() {
	local until=$((SECONDS + $1)) n=0
	while [ "$SECONDS" -lt "$until" ]; do
		timed show cubes >/dev/null
		timed services >/dev/null
		timed sf1 show >/dev/null
		n=$((n + 1))
	done
	cub_log "$n rounds of show cubes, services, sf1 show answered in time"
}

cub_ok evil add e1
cub_ok e1 ports add p1 peer=vetha
cub_ok e1 ports p1 set action=slowpath
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vethb
cub_ok e1 debug slow pktin_ms=500 >/dev/null

# 1. A slow packet_in: 1000 packets to the slow path in 4 s, 500 ms each.
# Packet-in is one-way and batched (slowpath.c): a slow broker (ASan)
# makes batches of up to PKTIN_BATCH, so up to 8 batches queued towards
# the worker and the cube's ring hold about 320 packets; 1000 must
# overflow them whatever the batch size.
ip -n ca neigh replace 198.18.0.9 lladdr 02:00:00:00:00:09 dev eth0 nud permanent
ip netns exec ca ping -q -c 1000 -i 0.004 -W 1 198.18.0.9 >/dev/null 2>&1 &
PING=$!
sleep 1
others_answer 8
# The slow cube itself answers between two packets.
n=$(timed e1 ports p1 show packet_ins)
[ "$n" -ge 1 ] || fail "e1 got no packet-in ($n)"
wait "$PING" || true
drops=$(timed services -o json | awk '
	/"name"/ { name = $2 } /"pktin_dropped"/ { if (name ~ /"evil"/) print $2 }' |
	tr -d ,)
cub_log "e1: $n packets delivered so far, $drops dropped"
[ "${drops:-0}" -gt 0 ] || fail "no packet-in drops counted with 1000 packets at 2/s"
cub_ok e1 debug slow pktin_ms=0 >/dev/null

# 2. A show that sleeps 9 s, then an action that does.
cub_ok e1 debug slow show_ms=9000 >/dev/null
start=$SECONDS
cub --timeout 30000 e1 show >"$T/slowshow.out" 2>&1 &
SLOW=$!
sleep 0.5
others_answer 4
wait "$SLOW" || fail "slow show failed: $(cat "$T/slowshow.out")"
[ $((SECONDS - start)) -ge 8 ] || fail "the show did not sleep: $((SECONDS - start)) s"
cub_ok e1 debug slow show_ms=0 >/dev/null
cub --timeout 30000 e1 debug slow sleep_ms=9000 >"$T/slowact.out" 2>&1 &
SLOW=$!
sleep 0.5
others_answer 4
# 3. Ordering: a set queued behind the slow action, then a show.
cub --timeout 30000 e1 ports p1 set action=drop >"$T/set.out" 2>&1 &
SET=$!
sleep 0.5
out=$(cub --timeout 30000 e1 ports p1 show action)
[ "$out" = drop ] || fail "a show after a set saw action '$out', not drop"
wait "$SLOW" || fail "slow action failed: $(cat "$T/slowact.out")"
wait "$SET" || fail "set failed: $(cat "$T/set.out")"
grep -q 9000 "$T/slowact.out" || fail "slow action: $(cat "$T/slowact.out")"

# 4. Past --call-timeout (12 s): killed, restarted, and nobody else waits.
old=$(worker_pid evil)
rc=0
cub --timeout 30000 e1 debug slow sleep_ms=60000 >"$T/timeout.out" 2>&1 &
SLOW=$!
sleep 0.5
# Meanwhile 40 more requests for e1: 32 wait their turn, the rest are
# refused at once.
QUEUED=()
for i in $(seq 1 40); do
	cub --timeout 30000 e1 ports p1 show action >"$T/q$i.out" 2>&1 &
	QUEUED+=($!)
done
others_answer 4
wait "$SLOW" || rc=$?
wait "${QUEUED[@]}" || true
busy=$(cat "$T"/q*.out | grep -c "is busy" || true)
cub_log "$busy of 40 requests queued behind a hung worker refused as busy"
[ "$busy" -ge 1 ] && [ "$busy" -le 8 ] ||
	fail "$busy of 40 requests behind a hung worker refused as busy, expected 1 to 8"
grep -q "did not answer 'cube.action' within 12000" "$T/timeout.out" ||
	fail "action past --call-timeout: $(cat "$T/timeout.out")"
[ "$rc" != 0 ] || fail "an action past --call-timeout succeeded"
for _ in $(seq 1 100); do
	new=$(worker_pid evil)
	[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] &&
		! grep -q '"starting"' <<<"$(timed services -o json)" && break
	sleep 0.1
done
[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] ||
	fail "worker $old not restarted after its timeout"
grep -q "did not answer 'cube.action' within 12000 ms" "$T/broker.log" ||
	fail "the broker did not log the timeout"
[ "$(timed e1 ports p1 show action)" = drop ] || fail "e1 lost its state in the restart"
cub_log "worker $old killed after 12 s, restarted as $new"
