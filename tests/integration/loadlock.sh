#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6's last stall, issue 7 "no lock held across a verifier load": a
# worker that loops slow loads (evil_slowload.bpf.c: seconds in the verifier)
# from a thread of its own delays no other service and no client.  While
# one of its loads runs, a `show` of a simpleforwarder cube and a
# `simpleforwarder add` both complete before that load ends.  A cube
# deleted during its load leaves nothing behind: no pins, no fds, whether
# its deleter or the load ends last.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS=("$CUB_BUILD/plugins/simpleforwarder/simpleforwarder.so"
	"$CUB_BUILD/plugins/testing/evil.so")

# The broker's threads, one id a line, sorted.
threads() {
	ls "/proc/$BROKER_PID/task" | sort
}

# load_thread BASE: wait (60 s) for a thread of the broker that the file
# BASE does not list: the thread bpfobj.c runs one verifier load on (it
# lives as long as that load).  Prints its id.
load_thread() {
	local tid
	for _ in $(seq 1 600); do
		tid=$(threads | comm -13 "$1" - | head -n 1)
		if [ -n "$tid" ]; then
			echo "$tid"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

alive() {
	[ -d "/proc/$BROKER_PID/task/$1" ]
}

# ends CUBE: loads of CUBE the broker has finished (the line it logs once
# it installed one).
ends() {
	grep -c "cube '$1': program cub_ingress_tc loaded" "$T/broker.log" || true
}

# wait_log REGEX: until the broker log has a line matching REGEX (120 s).
wait_log() {
	for _ in $(seq 1 1200); do
		grep -qE -- "$1" "$T/broker.log" && return 0
		sleep 0.1
	done
	fail "no line /$1/ in the broker log after 120 s"
}

# fds_back N: wait (30 s) until the broker holds at most N fds; sets nfd.
fds_back() {
	for _ in $(seq 1 300); do
		nfd=$(ls "/proc/$BROKER_PID/fd" | wc -l)
		[ "$nfd" -le "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# fds_settled: wait (10 s) until the broker's fd count holds still for
# half a second (nng closes connections on its own threads); sets nfd.
fds_settled() {
	local last=-1 same=0
	for _ in $(seq 1 100); do
		nfd=$(ls "/proc/$BROKER_PID/fd" | wc -l)
		if [ "$nfd" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 5 ] && return 0
		else
			same=0
		fi
		last=$nfd
		sleep 0.1
	done
}

# fd_list: what the broker's fds are, one a line, sorted.
fd_list() {
	for f in "/proc/$BROKER_PID/fd"/*; do
		readlink "$f" 2>/dev/null | sed 's/[0-9]\+/N/g'
	done | sort
}

broker_start
cub_ok simpleforwarder add sf1
cub_ok evil add e1

# 1. Another service's client calls complete during a slow load.
threads >"$T/base"
cub_ok e1 debug slowload n=10 >/dev/null
done_during=
for attempt in $(seq 1 10); do
	# None within 60 s: the loop is over (all of it ended while the
	# calls waited).
	tid=$(load_thread "$T/base") || break
	before=$(ends e1)
	# The load ended before we looked: take the next one.
	if ! alive "$tid"; then
		threads >"$T/base"
		continue
	fi
	cub_log "load $attempt runs on broker thread $tid ($before loads ended)"
	cub_ok sf1 show >/dev/null
	cub_ok simpleforwarder add "sf$((attempt + 1))" >/dev/null
	after=$(ends e1)
	if alive "$tid" && [ "$after" = "$before" ]; then
		echo "loadlock-test: show and add done during load $attempt" >>"$T/broker.log"
		done_during=$attempt
		break
	fi
	# On a busy machine a load of about a second can end while the calls
	# run; a broker that holds its lock across the verifier never
	# completes them while the load they waited for still runs.
	cub_log "load $attempt ended before the show and the add completed"
	threads >"$T/base"
done
[ -n "$done_during" ] || fail "during 10 slow loads, the show and the add of " \
	"another service never completed while the load still ran: the broker " \
	"holds its lock across the verifier"
# In the log, that load's end comes after the calls' completion.
wait_log "loadlock-test: show and add done"
for _ in $(seq 1 600); do
	[ "$(ends e1)" -gt "$before" ] && break
	sleep 0.1
done
awk -v want="$((before + 1))" '
	/loadlock-test: show and add done/ { mark = NR }
	/cube .e1.: program cub_ingress_tc loaded/ { n++; if (n == want) end = NR }
	END { exit !(mark && end > mark) }' "$T/broker.log" ||
	fail "the load's end is not logged after the show and add completed"
cub_log "show and add completed during slow load $done_during"
# The rest of the loop ends, every load installed.
for _ in $(seq 1 1800); do
	grep -q "evil-slowload: cube e1: load 10/10 end" "$T/broker.log" && break
	sleep 0.1
done
[ "$(grep -c "evil-slowload: cube e1: load .*end: loaded" "$T/broker.log")" = 10 ] ||
	fail "not every slow load of e1 ended loaded: $(grep "evil-slowload" "$T/broker.log")"
[ -e "$T/pins/e1/evslow_0010" ] || fail "e1 does not run its last object: $(ls "$T/pins/e1")"
[ "$(ls "$T/pins/e1" | grep -c '^evslow_')" = 1 ] || fail "e1 pins more than its last object: $(ls "$T/pins/e1")"
# Gone before the fds are counted: the evil worker's restart in 3 would
# reload it (with evil's own object, one map more than the slow one).
cub_ok e1 del

# 2. Deleted during its load, the deleter ending last (the worker's
# destroy waits for its load): nothing installed, nothing left.
fds_settled
nfd0=$nfd
cub_ok evil add e2
threads >"$T/base"
cub_ok e2 debug slowload n=1 >/dev/null
tid=$(load_thread "$T/base") || fail "no verifier load of e2 began within 60 s"
cub_ok e2 del
wait_log "cube 'e2': deleted while its object loaded; nothing was installed"
[ ! -e "$T/pins/e2" ] || fail "pins of e2 left: $(ls "$T/pins/e2")"
fds_back "$nfd0" || fail "broker holds $nfd fds, $nfd0 before e2 existed"
cub_log "e2 deleted during its load: no pins, $nfd fds (before: $nfd0)"

# 3. The same, the load ending last: the worker exits in its destroy,
# the deleter lets go first and the load's end frees the cube.
fds_settled
nfd0=$nfd
fd_list >"$T/fds0"
cub_ok evil add e3
threads >"$T/base"
cub_ok e3 debug slowload n=1 on-destroy=exit >/dev/null
tid=$(load_thread "$T/base") || fail "no verifier load of e3 began within 60 s"
cub_ok e3 del
if alive "$tid"; then
	# Its name stays taken until the load has removed its pins.
	rc=0
	err=$(cub evil add e3 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then
		! alive "$tid" || fail "e3 added again while its old load ran"
		cub_ok e3 del
	else
		grep -qE "is being deleted|not running" <<<"$err" ||
			fail "re-adding e3 during its load: exit $rc: $err"
	fi
	cub_log "re-adding e3 during its load: exit $rc: $err"
fi
wait_log "cube 'e3': deleted while its object loaded; nothing was installed"
[ ! -e "$T/pins/e3" ] || fail "pins of e3 left: $(ls "$T/pins/e3")"
broker_wait_ready
fds_back "$nfd0" || fail "broker holds $nfd fds, $nfd0 before e3 existed:" \
	"$(fd_list | diff "$T/fds0" - | grep '^[<>]' | tr '\n' ' ')"
cub_log "e3 deleted during its load: no pins, $nfd fds (before: $nfd0)"
# The name is free again, and the other cubes still answer.
cub_ok evil add e3
cub_ok e3 show >/dev/null
cub_ok sf1 show >/dev/null
