#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Hostile clients (issue 6, points 9, 11 and 17): a client that floods and
# pipelines requests without reading, clients that close with requests in
# flight, ones that hold 1200 connections or 4200 subscriptions, an events
# subscriber that never reads, and a request with invalid UTF-8.
# Meanwhile a normal client keeps its answers within a generous deadline,
# supervision keeps working, and a cube add loads its BPF object.
. "$(dirname "$0")/../lib/netns.sh"

need python3
HOSTILE=(python3 "$(dirname "$0")/../lib/hostile_client.py" "$T/s")
DEADLINE=5

# The broker starts with the soft fd limit of a login shell (1024) and a
# hard limit above it: it must raise its own limit (point 11).  Tests run
# as root, which may raise a low hard limit itself.
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 4096 ]; then
	ulimit -Hn 4096 || fail "cannot raise the hard fd limit $(ulimit -Hn) to 4096"
fi
ulimit -Sn 1024
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

# 17. An error reply carries the request's msgid even when the request
# did not decode: the sender sees the real reason, not "malformed answer".
test_msgid() {
	local out err rc=0
	out=$("${HOSTILE[@]}" badutf8 4242)
	cub_log "invalid UTF-8: $out"
	grep -q '^msgid=4242 ' <<<"$out" || fail "error reply lost the msgid: $out"
	grep -qi 'invalid UTF-8' <<<"$out" || fail "error reply lacks the reason: $out"
	err=$(cub $'\xff' 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "cubicle with invalid UTF-8 in argv succeeded"
	grep -q 'malformed answer' <<<"$err" && fail "CLI hides the reason: $err"
	grep -qi 'UTF-8' <<<"$err" || fail "CLI does not say what was wrong: $err"
	cub_log "CLI with invalid UTF-8: $err"
}

# 9. Flooders that never read, and an events subscriber that never reads:
# the broker never waits for a client.
test_flood() {
	local i old new st
	"${HOSTILE[@]}" deaf-sub 60 >"$T/sub.out" 2>&1 &
	# Each flooder runs until told to stop (flood.stop, touched once the
	# checks below are done) after the broker dropped it at least once,
	# 25 s at most: the flood lasts all the checks, and a broker that
	# never drops a client that does not read keeps "dropped 0".
	"${HOSTILE[@]}" flood 4 3000 25 "$T/flood.stop" >"$T/flood1.out" 2>&1 &
	FLOOD1=$!
	"${HOSTILE[@]}" flood 8 500 25 "$T/flood.stop" >"$T/flood2.out" 2>&1 &
	FLOOD2=$!
	sleep 2
	for i in 1 2 3; do
		timed show cubes >/dev/null
		timed services >/dev/null
		# Events for the deaf subscriber, and mutations under the flood.
		timed simpleforwarder add "f$i" >/dev/null
		timed simpleforwarder del "f$i" >/dev/null
	done
	# Supervision still works: a killed worker is restarted.
	old=$(worker_pid simpleforwarder)
	[ -n "$old" ] && [ "$old" != 0 ] || fail "no worker pid"
	kill -9 "$old"
	for _ in $(seq 1 100); do
		new=$(worker_pid simpleforwarder)
		st=$(timed services -o json)
		if [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] &&
			! grep -q '"starting"' <<<"$st"; then
			break
		fi
		sleep 0.1
	done
	[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] ||
		fail "worker not restarted under the flood"
	cub_log "worker $old killed, restarted as $new under the flood"
	timed show cubes >/dev/null
	touch "$T/flood.stop"
	wait "$FLOOD1" "$FLOOD2" || true
	cub_log "$(cat "$T/flood1.out") / $(cat "$T/flood2.out")"
	grep -q "dropped [1-9]" "$T/flood1.out" ||
		fail "the broker kept answering a client that does not read: $(cat "$T/flood1.out")"
	grep -qE "client .*not reading|does not read" "$T/broker.log" ||
		fail "the broker did not log the client it dropped"
}

# 11. 1200 idle connections: the broker still serves, and a cube add
# (which loads BPF) succeeds or fails as what it is, never as a verifier
# refusal.
test_many_clients() {
	local rc=0 err pids lim nfd nfd0
	nfd0=$(ls "/proc/$BROKER_PID/fd" | wc -l)
	"${HOSTILE[@]}" idle 1200 30 >"$T/idle.out" 2>&1 &
	for _ in $(seq 1 150); do
		grep -q "connected" "$T/idle.out" && break
		sleep 0.1
	done
	cub_log "$(cat "$T/idle.out")"
	timed show cubes >/dev/null
	timed services >/dev/null
	err=$(timeout "$DEADLINE" "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" \
		simpleforwarder add many </dev/null 2>&1) || rc=$?
	[ "$rc" = 124 ] && fail "cube add: no answer within $DEADLINE s"
	if [ "$rc" != 0 ]; then
		grep -qiE "verifier|refused the object" <<<"$err" &&
			fail "cube add under 1200 clients: misleading error: $err"
		grep -qiE "too many (open files|connections|clients)" <<<"$err" ||
			fail "cube add under 1200 clients: unclear error: $err"
	fi
	cub_log "cube add under 1200 idle clients: exit $rc $err"
	grep -q many <<<"$(timed show cubes)" || [ "$rc" != 0 ] ||
		fail "cube 'many' missing after its add succeeded"
	grep -q "too many client connections" "$T/broker.log" ||
		fail "the broker did not cap client connections"
	# The broker holds only the connections it accepted.
	fds_below $((nfd0 + 300)) ||
		fail "broker holds $nfd fds (before: $nfd0) with 1200 idle clients"
	cub_log "broker holds $nfd fds (before: $nfd0)"
	pids=$(pgrep -f "hostile_client.py $T/s idle" || true)
	[ -n "$pids" ] || fail "idle client exited early: $(cat "$T/idle.out")"
	# The broker's limit was raised at start.
	lim=$(awk '/Max open files/ { print $4 }' "/proc/$BROKER_PID/limits")
	[ "$lim" -gt 1024 ] || fail "broker's soft fd limit still $lim"
	cub_log "broker's soft fd limit: $lim"
}

# 11. Out of file descriptors, a cube add says so: not a verifier refusal,
# not "not a valid BPF ELF object".  The broker's limit is lowered while it
# runs to just above what it holds, leaving room for the CLI's connection
# but not for a BPF object's maps.
test_fd_exhaustion() {
	local nfd rc=0 err lim
	timed show cubes >/dev/null
	fds_settled || fail "broker's fd count still moving after 10 s: $nfd"
	lim=$(prlimit --pid "$BROKER_PID" --nofile -o SOFT,HARD --noheadings |
		awk '{ print $1 ":" $2 }')
	# Only the soft limit: the hard limit could not be raised back.
	prlimit --pid "$BROKER_PID" --nofile=$((nfd + 3)):
	err=$(timeout "$DEADLINE" "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" \
		simpleforwarder add starved </dev/null 2>&1) || rc=$?
	prlimit --pid "$BROKER_PID" --nofile="$lim"
	cub_log "cube add with $((nfd + 3)) fds: exit $rc: $err"
	[ "$rc" = 2 ] || fail "cube add out of fds: exit $rc: $err"
	grep -qi "too many open files" <<<"$err" ||
		fail "cube add out of fds: unclear error: $err"
	grep -qiE "verifier|not a valid" <<<"$err" &&
		fail "cube add out of fds: misleading error: $err"
	# Nothing was created, and the broker recovers.
	grep -q starved <<<"$(timed show cubes)" && fail "refused cube 'starved' exists"
	timed simpleforwarder add fed >/dev/null
	timed simpleforwarder del fed >/dev/null
}

# 11. Past --max-clients (256), or past 32 connections from one process,
# the least recently active connection of the process holding the most is
# closed: nine processes holding 40 idle connections each lock nobody out.
test_cap() {
	local i rc=0 err pids=() nfd nfd0 opt
	# A bad cap is refused before anything starts.
	for opt in 0 65537 many -1; do
		rc=0
		err=$("$CUB_BUILD/broker/cubicled" --max-clients "$opt" \
			--socket-dir "$T/nb" 2>&1) || rc=$?
		[ "$rc" = 1 ] && grep -q -- "--max-clients: '$opt'" <<<"$err" ||
			fail "cubicled --max-clients $opt: exit $rc: $err"
	done
	[ ! -e "$T/nb" ] || fail "a refused --max-clients created the socket dir"
	nfd0=$(ls "/proc/$BROKER_PID/fd" | wc -l)
	for i in $(seq 1 9); do
		"${HOSTILE[@]}" idle 40 60 >"$T/cap$i.out" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 1 9); do
		for _ in $(seq 1 100); do
			grep -q "connected" "$T/cap$i.out" && break
			sleep 0.1
		done
	done
	fds_below $((nfd0 + 300)) || fail "broker holds $nfd fds past its cap (before: $nfd0)"
	cub_log "360 connections from 9 processes: broker holds $nfd fds (before: $nfd0)"
	for i in 1 2 3; do
		timed show cubes >/dev/null
	done
	grep -q "too many client connections" "$T/broker.log" ||
		fail "the broker did not log the connections it closed"
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null || true
	timed show cubes >/dev/null
}

# 11. Connections closed with two requests in flight, in a tight loop from
# 16 processes in turn: no client is locked out, the broker keeps
# answering, and the fds come back.
test_leak() {
	local i nfd nfd0
	nfd0=$(ls "/proc/$BROKER_PID/fd" | wc -l)
	for i in $(seq 1 16); do
		"${HOSTILE[@]}" pipeline-close 100 >"$T/leak$i.out" 2>&1
	done
	cub_log "pipelined and closed: $(cat "$T"/leak*.out | awk '{ n += $2 } END { print n }') connections"
	for i in 1 2 3; do
		timed show cubes >/dev/null
	done
	timed simpleforwarder add leak >/dev/null
	timed simpleforwarder del leak >/dev/null
	for _ in $(seq 1 100); do
		nfd=$(ls "/proc/$BROKER_PID/fd" | wc -l)
		[ "$nfd" -le "$((nfd0 + 16))" ] && break
		sleep 0.1
	done
	[ "$nfd" -le "$((nfd0 + 16))" ] ||
		fail "broker holds $nfd fds after pipelined closes (before: $nfd0)"
	cub_log "broker holds $nfd fds (before: $nfd0)"
}

# 9, 11. 4200 events subscribers, under a broker fd limit of 4096:
# subscribers are capped like clients, and requests keep answering.
test_subs() {
	local i nfd lim pids=()
	lim=$(prlimit --pid "$BROKER_PID" --nofile -o SOFT,HARD --noheadings |
		awk '{ print $1 ":" $2 }')
	prlimit --pid "$BROKER_PID" --nofile=4096:
	for i in 1 2; do
		"${HOSTILE[@]}" subs 2100 30 >"$T/subs$i.out" 2>&1 &
		pids+=($!)
	done
	for i in 1 2; do
		for _ in $(seq 1 200); do
			grep -q "connected" "$T/subs$i.out" && break
			sleep 0.1
		done
	done
	cub_log "$(cat "$T/subs1.out") / $(cat "$T/subs2.out")"
	timed simpleforwarder add subs >/dev/null
	grep -q subs <<<"$(timed show cubes)" || fail "cube 'subs' missing"
	timed simpleforwarder del subs >/dev/null
	fds_below 1024 || fail "broker holds $nfd fds: subscribers uncapped"
	cub_log "broker holds $nfd fds with 4200 subscribers"
	grep -q "too many events connections" "$T/broker.log" ||
		fail "the broker did not log the subscribers it closed"
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null || true
	prlimit --pid "$BROKER_PID" --nofile="$lim"
	timed show cubes >/dev/null
}

# 9. The broker's own SP parser (broker/spsrv.c): each wire-level
# violation closes that connection at once and is logged with what was
# wrong; a client that leaves 64 replies unread is closed, not buffered;
# a truncated frame then a close leaves nothing behind; a
# connection that sends no SP header is closed after 10 s, one that sent
# its header and idles is kept; the broker keeps answering.
test_wire() {
	local c out nfd nfd0 log
	fds_settled || fail "broker's fd count still moving after 10 s: $nfd"
	nfd0=$nfd
	"${HOSTILE[@]}" wire silent >"$T/silent.out" 2>&1 &
	local silent=$!
	"${HOSTILE[@]}" wire idle-hello >"$T/idle-hello.out" 2>&1 &
	local idle=$!
	for c in badhdr badproto subonreq reqonpub toolong badtype nobacktrace short unread; do
		out=$(timeout 60 "${HOSTILE[@]}" wire "$c")
		[ "$out" = "$c: closed" ] || fail "wire $c: the broker kept the connection: $out"
	done
	for log in "not an SP header (00 53 51 00 00 30 00 00)" \
		"peer speaks SP protocol 0x31, expected 0x30" \
		"peer speaks SP protocol 0x21, expected 0x30" \
		"events connection from pid [0-9]*: peer speaks SP protocol 0x30, expected 0x21" \
		"message of 1099511627776 bytes (at most [0-9]*)" \
		"message type 0x02 (expected 0x01)" \
		"a request of [0-9]* bytes without a backtrace" \
		"a request of 2 bytes without a backtrace" \
		"client connection from pid [0-9]* does not read its replies (64 unread"; do
		grep -q "$log" "$T/broker.log" || fail "broker did not log '$log'"
	done
	for _ in $(seq 1 20); do
		"${HOSTILE[@]}" wire truncated >/dev/null
	done
	out=$(timeout 30 "${HOSTILE[@]}" wire good)
	[ "$out" = "good: answered" ] || fail "a good request after the bad ones: $out"
	timed show cubes >/dev/null
	wait "$silent" "$idle"
	[ "$(cat "$T/silent.out")" = "silent: closed" ] ||
		fail "a connection that sent nothing was kept: $(cat "$T/silent.out")"
	[ "$(cat "$T/idle-hello.out")" = "idle-hello: open" ] ||
		fail "an idle connection with its SP header was closed: $(cat "$T/idle-hello.out")"
	grep -q "client connection from pid [0-9]* sent no SP header within 10 s" "$T/broker.log" ||
		fail "the broker did not log the silent connection it closed"
	fds_below $((nfd0 + 3)) ||
		fail "broker holds $nfd fds after the wire cases (before: $nfd0)"
	cub_log "wire cases: broker holds $nfd fds (before: $nfd0)"
}

# A second broker on the same socket directory is refused while the first
# lives (a stale socket file of a dead one is replaced: restart.sh), and
# the first keeps its sockets.  It shares the pin root: a bpffs it mounted
# elsewhere would outlive the test.
test_listen() {
	local rc=0 err
	err=$(timeout 30 "$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" \
		--state-dir "$T/st2" --pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$CUB_BUILD/workers/cubicle-worker" 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "second broker on a live socket: exit $rc: $err"
	grep -q "listen on ipc://$T/s/cubicled.sock: Address already in use" <<<"$err" ||
		fail "second broker on a live socket: unclear error: $err"
	timed show cubes >/dev/null
	[ -S "$T/s/events.sock" ] || fail "the refused broker removed the events socket"
}

# 9, 11. Subscribers and clients reconnecting in a tight loop for 10 s,
# from 3 processes each holding 40 to each socket (over the 32 per
# process), redialing at once each one the broker evicts: every
# connection the broker evicts is closed at once, so under an fd limit of
# 4096 its fd count stays within its caps, and cube adds succeed
# meanwhile.  With nng closing them on its reaper thread, later,
# the fds piled up on a busy machine until an add failed with "Too many
# open files".
test_churn() {
	local i nfd nfd0 max=0 bound lim pids=() adds=0 busy
	fds_settled || fail "broker's fd count still moving after 10 s: $nfd"
	nfd0=$nfd
	# 3 processes x 32 per socket x 2 sockets, and room for cube adds.
	bound=$((nfd0 + 3 * 32 * 2 + 64))
	lim=$(prlimit --pid "$BROKER_PID" --nofile -o SOFT,HARD --noheadings |
		awk '{ print $1 ":" $2 }')
	prlimit --pid "$BROKER_PID" --nofile=4096:
	for i in 1 2 3; do
		"${HOSTILE[@]}" churn 10 40 >"$T/churn$i.out" 2>&1 &
		pids+=($!)
	done
	# Cube adds and deletes meanwhile, each within $DEADLINE s; the fd
	# count is polled here.
	(
		n=0
		while [ ! -e "$T/churn.done" ]; do
			timed simpleforwarder add "churn$n" >/dev/null
			timed simpleforwarder del "churn$n" >/dev/null
			n=$((n + 1))
		done
		echo "$n" >"$T/churn.adds"
	) >"$T/churn-adds.out" 2>&1 &
	local adder=$!
	while :; do
		busy=0
		for i in "${pids[@]}"; do
			kill -0 "$i" 2>/dev/null && busy=1
		done
		[ "$busy" = 1 ] || break
		nfd=$(ls "/proc/$BROKER_PID/fd" | wc -l)
		[ "$nfd" -gt "$max" ] && max=$nfd
		[ "$nfd" -le "$bound" ] ||
			fail "broker holds $nfd fds under reconnecting clients (at most $bound; before: $nfd0)"
		sleep 0.05
	done
	touch "$T/churn.done"
	wait "$adder" || fail "cube add or delete failed under reconnecting clients: $(cat "$T/churn-adds.out")"
	adds=$(cat "$T/churn.adds")
	wait "${pids[@]}"
	prlimit --pid "$BROKER_PID" --nofile="$lim"
	cub_log "$(cat "$T"/churn*.out | tr '\n' ' '): broker held at most $max fds (bound $bound, before: $nfd0), $adds adds"
	[ "$adds" -ge 1 ] || fail "no cube add ran during the churn"
	grep -q "too many events connections" "$T/broker.log" ||
		fail "the broker did not evict reconnecting subscribers"
	grep -q "too many client connections" "$T/broker.log" ||
		fail "the broker did not evict reconnecting clients"
	fds_below $((nfd0 + 3)) || fail "broker holds $nfd fds after the churn (before: $nfd0)"
}

# After all that, SIGTERM still stops the broker within 5 s.
test_stop() {
	broker_stop 5
	grep -E "nng did not close|stopping on signal" "$T/broker.log" |
		while read -r line; do cub_log "$line"; done

}

# A fast client that waits for each reply is served, however fast: only
# requests sent ahead of their replies count towards the burst
# (broker/clients.c, CLIENT_BURST).  Before, 1000 in-step requests within
# a second closed the connection.
test_instep() {
	local out
	out=$(timeout 120 "${HOSTILE[@]}" instep 6000)
	cub_log "$out"
	grep -q "^instep: 6000 of 6000 answered" <<<"$out" ||
		fail "an in-step client was closed: $out"
}

# One test by name (or several, in one argument), or all of them.
for t in ${1:-msgid wire listen many_clients cap subs churn fd_exhaustion instep flood leak stop}; do
	"test_$t"
done
