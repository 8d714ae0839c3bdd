#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A service may declare a longer apply timeout than --call-timeout
# (issue 7, "Atomic map transactions"; struct cub_plugin's
# apply_timeout_ms).  With --call-timeout 10 s:
#  1. slowapply30 (declares 30 s): a 15 s apply succeeds, its worker is
#     not killed, and meanwhile the broker and another service's cube
#     (sf1) answer within a generous deadline;
#  2. slowapply5 (declares 5 s, under the call timeout): the call timeout
#     rules: the 15 s apply fails at 10 s, the worker is killed and
#     restarted, the old configuration stays;
#  3. --max-apply-timeout 12 s caps slowapply30's 30 s: a 16 s apply is
#     killed at 12 s.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/slowapply30.so"
	"$CUB_BUILD/plugins/testing/slowapply5.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 10000"
DEADLINE=5
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

# The others keep answering for SECONDS (or until pid $2 exits).
others_answer() {
	local until=$((SECONDS + $1)) n=0
	while [ "$SECONDS" -lt "$until" ]; do
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && break
		timed show cubes >/dev/null
		timed services >/dev/null
		timed sf1 show >/dev/null
		n=$((n + 1))
	done
	cub_log "$n rounds of show cubes, services, sf1 show answered in time"
}

# restarted SERVICE OLDPID: wait (20 s) for a new worker of SERVICE.
restarted() {
	local new
	for _ in $(seq 1 200); do
		new=$(worker_pid "$1")
		[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$2" ] &&
			! grep -q '"starting"' <<<"$(timed services -o json)" && return 0
		sleep 0.1
	done
	fail "worker $2 of $1 not restarted"
}

cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vethb
cub_ok slowapply30 add a1
cub_ok slowapply5 add b1

# 1 and 2 side by side (two services, two workers: one's kill must not
# touch the other's apply, and the others answer throughout).
# 1. Declared 30 s: a 15 s apply succeeds.
# 2. Declared 5 s: --call-timeout (10 s) rules.
old=$(worker_pid slowapply30)
oldb=$(worker_pid slowapply5)
start=$SECONDS
t0=$(date +%s)
cub --timeout 60000 a1 set sleep_ms=15000 >"$T/a1.out" 2>&1 &
SLOW=$!
(
	rc=0
	cub --timeout 60000 b1 set sleep_ms=15000 >"$T/b1.out" 2>&1 || rc=$?
	echo "$rc $(($(date +%s) - t0))" >"$T/b1.end"
) &
SLOWB=$!
sleep 0.5
others_answer 20 "$SLOW"
wait "$SLOW" || fail "a 15 s apply, 30 s declared: $(cat "$T/a1.out")"
took=$((SECONDS - start))
[ "$took" -ge 14 ] || fail "the apply did not sleep ($took s)"
[ "$(worker_pid slowapply30)" = "$old" ] || fail "slowapply30's worker was killed"
[ "$(timed a1 show sleep_ms)" = 15000 ] || fail "a1 did not keep its new sleep_ms"
cub_log "a 15 s apply with 30 s declared succeeded after $took s, worker $old alive"

wait "$SLOWB"
read -r rc took <"$T/b1.end"
[ "$rc" != 0 ] || fail "a 15 s apply with 5 s declared succeeded"
grep -q "did not answer 'cube.apply' within 10000 ms" "$T/b1.out" ||
	fail "b1's apply: $(cat "$T/b1.out")"
[ "$took" -lt 15 ] || fail "b1's apply was cut after $took s, not at the 10 s call timeout"
restarted slowapply5 "$oldb"
[ "$(timed b1 show sleep_ms 2>/dev/null || true)" != 15000 ] ||
	fail "b1 kept the configuration its apply timed out on"
cub_log "a 15 s apply with 5 s declared killed after $took s"

# 3. --max-apply-timeout caps what a service declares.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
CUB_BROKER_ARGS="$CUB_BROKER_ARGS --max-apply-timeout 12000"
broker_start
grep -q "service 'slowapply30': declared apply timeout 30000 ms is over --max-apply-timeout" \
	"$T/broker.log" || fail "the broker did not say it capped slowapply30's timeout"
old=$(worker_pid slowapply30)
start=$SECONDS
rc=0
cub --timeout 60000 a1 set sleep_ms=16000 >"$T/a1b.out" 2>&1 || rc=$?
took=$((SECONDS - start))
[ "$rc" != 0 ] || fail "a 16 s apply under a 12 s cap succeeded"
grep -q "did not answer 'cube.apply' within 12000 ms" "$T/a1b.out" ||
	fail "a1's capped apply: $(cat "$T/a1b.out")"
restarted slowapply30 "$old"
cub_log "capped at 12 s: a 16 s apply killed after $took s"
