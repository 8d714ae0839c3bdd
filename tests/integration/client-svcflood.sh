#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6, the open break (docs "Security: client connections", fair
# service queues): a client with many connections used to fill the one
# 32-request FIFO of a service, and every other client of the service got
# "service ... is busy".  The reviewer's flooder (review_spsrv.py
# svcflood: 8 processes x 30 connections x 8 requests in flight) runs
# first as another uid (65534, let in by the socket group), then as root,
# the uid of the normal client itself; meanwhile the normal client's
# `sf1 show` answers within 5 s every time and is never refused as busy.
# During the first flood, one connection pipelines 10 x (set, set, show)
# on sf1: its replies come back in the order sent, and each show sees the
# set before it (per-client FIFOs keep one connection's order).
. "$(dirname "$0")/../lib/netns.sh"

need python3 setpriv
# The system's python: one under /root (pyenv) is not another uid's.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
SOCKGID=64901
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --socket-group $SOCKGID"
DEADLINE=5
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
chmod 0711 "$T" # the flooder's uid reaches $T/s
broker_start
cub_ok simpleforwarder add sf1 >/dev/null
cub_ok sf1 ports add p1 >/dev/null

# flood_while_showing WHO PIPELINE CMD...: run the flooder (CMD) for 14
# s; the normal client's shows must all answer in time and none be busy;
# with PIPELINE=1, a pipelining connection's replies must keep its order.
flood_while_showing() {
	local who=$1 pipeline=$2 atk n=0 maxq=0 q out rc pl=
	shift 2
	"$@" "$PY" "$CUB_LIB/review_spsrv.py" "$T/s" svcflood 8 30 8 14 \
		>"$T/flood.out" 2>&1 &
	atk=$!
	# The flood is on once the service's queue fills.
	for _ in $(seq 1 100); do
		q=$(cub services -o json | awk '/"queued"/ { gsub(",", ""); print $2 }')
		[ "${q:-0}" -gt "$maxq" ] && maxq=$q
		[ "$maxq" -ge 16 ] && break
		sleep 0.1
	done
	[ "$maxq" -ge 16 ] ||
		fail "flooder ($who) never filled the queue (at most $maxq waiting): $(cat "$T/flood.out")"
	if [ "$pipeline" = 1 ]; then
		"$PY" "$CUB_LIB/client_uid.py" "$T/s" pipeline sf1 10 \
			>"$T/pipeline.out" 2>&1 &
		pl=$!
	fi
	while kill -0 "$atk" 2>/dev/null; do
		rc=0
		out=$(timeout "$DEADLINE" "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" \
			sf1 show </dev/null 2>&1) || rc=$?
		[ "$rc" != 124 ] || fail "flooder $who: sf1 show: no answer within $DEADLINE s"
		[ "$rc" = 0 ] || fail "flooder $who: sf1 show: exit $rc: $out"
		grep -q p1 <<<"$out" || fail "flooder $who: sf1 show: $out"
		n=$((n + 1))
		q=$(cub services -o json | awk '/"queued"/ { gsub(",", ""); print $2 }')
		[ "${q:-0}" -gt "$maxq" ] && maxq=$q
	done
	wait "$atk" 2>/dev/null || true
	if [ -n "$pl" ]; then
		wait "$pl" || true
		grep -q '^in order 30' "$T/pipeline.out" ||
			fail "flooder $who: a pipelining connection: $(cat "$T/pipeline.out")"
		cub_log "flooder $who: 30 pipelined requests of one connection answered in order"
	fi
	[ "$n" -ge 3 ] || fail "flooder $who: only $n shows ran during the flood"
	cub_log "flooder $who: $n rounds of sf1 show answered in time, none busy (up to $maxq requests waiting)"
}

flood_while_showing "uid 65534" 1 setpriv --reuid=65534 --regid=$SOCKGID --clear-groups
# 240 connections from 8 processes: past its 64, the uid's busy
# processes are refused instead of closing its busy connections (which
# would only dial again, a storm that starved the broker's main thread).
grep -q "(uid 65534) refused: the uid holds 64 connections, all active" "$T/broker.log" ||
	fail "the flooder's uid was never refused past its cap"
flood_while_showing "root (the client's own uid)" 0 env
cub_ok show cubes >/dev/null
