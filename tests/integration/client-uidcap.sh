#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 leftover (docs "Security: client connections", caps by uid):
# connection caps counted SO_PEERCRED pids only, so one uid that forks
# could hold the table and churn it.  With --max-clients-per-uid (default
# 64) a uid past its cap gives up its own least recently active
# connection if idle for a second (else the newcomer is refused), and a
# full table gives up one of the uid holding the most:
# 4 processes of uid 65534 holding 32 connections each, then 400 more
# dialed from fresh pids, leave a quiet root connection and a quiet
# connection of uid 65533 open and answered, and new clients of both uids
# answered.  Then with one uid allowed the whole table (--max-clients 64
# --max-clients-per-uid 64), a new uid's first connection still gets in.
. "$(dirname "$0")/../lib/netns.sh"

need python3 setpriv
PY=/usr/bin/python3 # not a pyenv shim under /root: other uids run it
[ -x "$PY" ] || PY=$(command -v python3)
SOCK=64905
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
chmod 0711 "$T"
HELPER="$CUB_LIB/client_uid.py"
# Commands, not functions: a function sent to the background runs in a
# subshell, whose pid ($!) is not the helper's, and a kill then leaves
# the helper running.
NOBODY=(setpriv --reuid=65534 --regid=$SOCK --clear-groups)
OTHER=(setpriv --reuid=65533 --regid=$SOCK --clear-groups)

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (60 s).
wait_line() {
	for _ in $(seq 1 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no '$2' in $1 within 60 s: $(cat "$1")"
}

# attack PROCS CONNS CHURN PERUID: quiet connections of root and uid 65533
# survive uid 65534's PROCS x CONNS held + CHURN churned connections.
attack() {
	local procs=$1 conns=$2 churn=$3 peruid=$4 atk l1 l2 nfd0 held
	rm -f "$T/go"
	nfd0=$(ls "/proc/$BROKER_PID/fd" | wc -l)
	"$PY" "$HELPER" "$T/s" legit "$T/go" >"$T/legit-root.out" 2>&1 &
	l1=$!
	"${OTHER[@]}" "$PY" "$HELPER" "$T/s" legit "$T/go" >"$T/legit-other.out" 2>&1 &
	l2=$!
	wait_line "$T/legit-root.out" '^open'
	wait_line "$T/legit-other.out" '^open'
	"${NOBODY[@]}" "$PY" "$HELPER" "$T/s" hold "$procs" "$conns" "$churn" \
		>"$T/atk.out" 2>&1 &
	atk=$!
	wait_line "$T/atk.out" '^held [0-9]'
	# NULs stripped: once (CI of 188969f) grep found the line and awk no
	# number in it, which is what a line behind NUL bytes gives (grep
	# takes a NUL for a line's end in a binary file; awk does not).
	held=$(tr -d '\0' <"$T/atk.out" | awk '/^held/ { print $2 }')
	[ -n "$held" ] || fail "no count in the attacker's output: $(cat -v "$T/atk.out" | head -c 600)"
	fds_settled || true
	cub_log "uid 65534: $procs x $conns held + $churn from fresh pids: $held of the churned still open, broker at $nfd fds (before: $nfd0)"
	[ "$held" -le "$peruid" ] || fail "uid 65534 holds $held churned connections, past its cap $peruid"
	[ "$nfd" -le $((nfd0 + peruid + 16)) ] ||
		fail "broker holds $nfd fds (before: $nfd0): uid 65534 holds past its cap $peruid"
	touch "$T/go"
	wait "$l1" "$l2" || true
	grep -q '^answered' "$T/legit-root.out" ||
		fail "root's quiet connection: $(cat "$T/legit-root.out")"
	grep -q '^answered' "$T/legit-other.out" ||
		fail "uid 65533's quiet connection: $(cat "$T/legit-other.out")"
	cub_ok show cubes >/dev/null
	"${OTHER[@]}" "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes >/dev/null ||
		fail "a new uid 65533 client was not answered"
	grep -qE "too many client connections (per uid|in all)|refused: the uid holds" \
		"$T/broker.log" || fail "the broker did not log what it closed or refused"
	kill "$atk"
	wait "$atk" 2>/dev/null || true
	# Its processes die with it (SIGTERM, then PR_SET_PDEATHSIG).
	for _ in $(seq 1 100); do
		pgrep -f "client_uid.py $T/s" >/dev/null || break
		sleep 0.1
	done
	! pgrep -f "client_uid.py $T/s" >/dev/null ||
		fail "the attacker's processes outlived it: $(pgrep -af "client_uid.py $T/s")"
	cub_log "quiet connections of root and uid 65533 kept and answered; new ones answered"
}

CUB_BROKER_ARGS="--socket-group $SOCK"
broker_start
attack 4 32 400 64
grep -qE "too many client connections per uid|\(uid 65534\) refused: the uid holds 64 connections" \
	"$T/broker.log" || fail "the per-uid cap was never reached"

kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
CUB_BROKER_ARGS="--socket-group $SOCK --max-clients 64 --max-clients-per-uid 64"
broker_start
attack 4 16 100 64
grep -q "too many client connections in all" "$T/broker.log" ||
	fail "the table was never full"
