#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A replay the worker refuses is retried with backoff (issue 7): after a
# worker's kill -9, and after a broker's, a cube whose first replays its
# new worker refuses (refuser, refuse_replays=N) shows the refusal in
# `cubicle show cubes` ("replay": "refused (<error>), retry in N s"), is
# retried 1 s, 2 s, 4 s ... apart, and ends up applied; the other cubes
# of the service and of another service are replayed as usual; a cube
# deleted or changed meanwhile is retried no more.  Before, the refusal
# was logged once and the cube stayed without its state in the worker.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/refuser.so")
broker_start

cub_ok simpleforwarder add sf1
for c in r1 r2 r3 r4; do cub_ok refuser add "$c"; done
cub_ok r1 set refuse_replays=3
cub_ok r3 set refuse_replays=1000
cub_ok r4 set refuse_replays=1000

# replay_of CUBE: its "replay" in show cubes, or nothing.
replay_of() {
	cub show cubes -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(c.get("replay", ""))' "$1"
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local until=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -lt "$until" ] || return 1
		sleep 0.1
	done
}

refused() { [ -n "$(replay_of "$1")" ]; }
applied() { [ -z "$(replay_of "$1")" ]; }
refusals() { grep -c "cube '$1': replay to worker refused" "$T/broker.log" || true; }

# 1. The worker killed: its replacement refuses r1 three times.
old=$(worker_pid refuser)
kill -9 "$old"
wait_for 30 refused r1 || fail "r1's refused replay is not shown: $(cub show cubes -o json)"
got=$(replay_of r1)
case "$got" in
"refused (refuser: replay "[1-3]" of 3 refused), retry in "[0-9]*" s") ;;
*) fail "r1's replay status: '$got'" ;;
esac
cub_log "r1 meanwhile: $got"
for c in r2 sf1; do
	applied "$c" || fail "$c shows a refused replay: $(replay_of "$c")"
done
grep -q "cube 'r2': replay to worker refused" "$T/broker.log" && fail "r2 was refused"

# r4 changed meanwhile: the change goes whole and ends its retries.
wait_for 30 refused r4 || fail "r4's refused replay is not shown"
cub_ok r4 set refuse_replays=0
applied r4 || fail "r4 still retried after a change: $(replay_of r4)"
n4=$(refusals r4)
# r3 deleted meanwhile: retried no more.
wait_for 30 refused r3 || fail "r3's refused replay is not shown"
cub_ok r3 del
n3=$(refusals r3)

wait_for 60 applied r1 || fail "r1 not applied after 60 s: $(replay_of r1)"
grep -q "cube 'r1': replayed to worker after 3 refusal(s)" "$T/broker.log" ||
	fail "r1: no 'replayed after 3 refusal(s)' in the log"
[ "$(refusals r1)" = 3 ] || fail "r1 refused $(refusals r1) times, expected 3"
# The waits doubled: 1 s, 2 s, 4 s.
waits=$(grep -o "cube 'r1': replay to worker refused.*retry in [0-9]* s" "$T/broker.log" |
	grep -oE '[0-9]+ s$' | tr '\n' ' ')
[ "$waits" = "1 s 2 s 4 s " ] || fail "r1's retries waited '$waits', expected 1 s 2 s 4 s"
# r1's three retries took 7 s: r3 and r4 would have been retried.
[ "$(refusals r3)" = "$n3" ] || fail "r3 retried after its deletion ($n3, now $(refusals r3))"
[ "$(refusals r4)" = "$n4" ] || fail "r4 retried after its change ($n4, now $(refusals r4))"
cub_refused 2 r3 show >/dev/null
[ "$(cub r4 show refuse_replays)" = 0 ] || fail "r4 lost its change"
cub_log "worker restart: r1 applied after 3 refusals ($waits), r3 and r4 retried no more"

# 2. The broker killed: its new worker refuses r1 once.
cub_ok r1 set refuse_replays=1
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
before=$(refusals r1)
broker_start
wait_for 60 applied r1 || fail "r1 not applied after the broker's restart: $(replay_of r1)"
[ "$(refusals r1)" = $((before + 1)) ] ||
	fail "r1 refused $(($(refusals r1) - before)) times after the broker's restart, expected 1"
for c in r2 r4 sf1; do
	applied "$c" || fail "$c after the broker's restart: $(replay_of "$c")"
done
cub_log "broker restart: r1 refused once, then applied"
