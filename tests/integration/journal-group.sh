#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A request that changes two cubes (connect, disconnect of two cubes'
# ports) is one journal record (issue 7, "kill -9 at any instant leaves
# the old or the new state"): a broker killed between the two cubes'
# changes leaves both sides peered or neither, never one.
#
# The instant between is made wide, not hoped for: s2's apply sleeps
# (slowapply30, sleep_ms), s1's does not, and connect changes s1 first,
# so the test kills the broker while the worker sleeps in s2's apply
# (the worker's thread in clock_nanosleep), after s1's change was made.
# Before the fix s1's record was already in the journal, and the next
# broker had s1:p2 peered with s2:p1 and s2:p1 peered with nothing.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/slowapply30.so")
SLEEP_MS=4000
broker_start

for c in s1 s2; do
	cub_ok slowapply30 add "$c"
	cub_ok "$c" ports add p1
	cub_ok "$c" ports add p2
done
cub_ok --timeout 60000 s2 set sleep_ms=$SLEEP_MS

peers() {
	echo "s1:p2=$(cub s1 ports p2 show peer 2>&1) s2:p1=$(cub s2 ports p1 show peer 2>&1)"
}

# in_sleep: the worker of slowapply30 sleeps in an apply.
in_sleep() {
	local pid t
	pid=$(worker_pid slowapply30)
	[ -n "$pid" ] || return 1
	for t in /proc/"$pid"/task/*; do
		# 230: clock_nanosleep, 35: nanosleep (x86-64).
		case "$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)" in
		230 | 35) return 0 ;;
		esac
	done
	return 1
}

# kill_between VERB: VERB s1:p2 s2:p1, the broker killed while s2's
# apply sleeps; then a new broker.
kill_between() {
	local i
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 60000 "$1" \
		s1:p2 s2:p1 </dev/null >"$T/verb.out" 2>&1 &
	local verb=$!
	for i in $(seq 1 600); do
		in_sleep && break
		kill -0 "$verb" 2>/dev/null || fail "$1 ended before s2's apply: $(cat "$T/verb.out")"
		sleep 0.05
	done
	in_sleep || fail "$1: s2's apply never began (30 s)"
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	# Its REQ would resend to the next broker: it goes first.
	kill -9 "$verb" 2>/dev/null || true
	wait "$verb" 2>/dev/null || true
	broker_start
}

# kill_after VERB: VERB s1:p2 s2:p1 acknowledged, then kill -9.
kill_after() {
	cub_ok --timeout 60000 "$1" s1:p2 s2:p1
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	# One record for both sides: the journal holds a group.
	grep -qa group "$T/st/state.journal" ||
		fail "$1: no group record in the journal"
	broker_start
}

neither="s1:p2= s2:p1="
both="s1:p2=s2:p1 s2:p1=s1:p2"

# half VERB BEFORE AFTER: the broker killed inside VERB leaves the peers
# as they were (BEFORE); killed once VERB is acknowledged, as VERB made
# them (AFTER).
half() {
	local got
	kill_between "$1"
	got=$(peers)
	[ "$got" = "$2" ] || fail "killed inside $1: $got, expected the state before it ($2)"
	cub_log "killed between the two sides of $1: $got"
	kill_after "$1"
	got=$(peers)
	[ "$got" = "$3" ] || fail "killed after $1: $got, expected $3"
	cub_log "killed after $1: $got"
}

half connect "$neither" "$both"
half disconnect "$both" "$neither"

# The cubes work on: a connect after all of it is acknowledged.
cub_ok --timeout 60000 connect s1:p2 s2:p1
[ "$(peers)" = "$both" ] || fail "connect after the kills: $(peers)"
