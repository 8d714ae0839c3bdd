#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 6 (found by a review; docs "Past a cap nobody is locked out"): the per-process
# cap counts SO_PEERCRED pids, and the pid is the one that dialed: a client
# that dials each connection from a short-lived child (and takes the fd
# over SCM_RIGHTS) has 256 "processes" of one connection each.  victim()
# then picks, among equals, the pid of live[0], and conn_close() moves the
# newest connection into live[0]: a legitimate client that connects to a
# full table is evicted by the attacker's second new dial.  It must keep
# its connection (and get its "show cubes" answered).
. "$(dirname "$0")/../lib/netns.sh"

need python3
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
broker_start
out=$(timeout 120 python3 "$(dirname "$0")/../lib/review_spsrv.py" "$T/s" \
	lockout 256 2 2>&1) || fail "attacker failed: $out"
cub_log "$out"
grep -q '^lockout: answered' <<<"$out" ||
	fail "a legitimate client was evicted by two dials from fresh pids: $out"
cub_log "legitimate client kept its connection"
