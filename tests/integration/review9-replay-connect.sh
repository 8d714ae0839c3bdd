#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 9 (documents in parts, cube.c doc_send(); "lose state", "stall
# the broker"): a replay of a document over one message goes in parts,
# and doc_send() keeps pointers into c->doc (its lists) while the state
# lock is released for each part's worker call.  A connect made on
# another service's thread changes this cube's document off its thread
# (cube_change() with tell false): it is refused only while the cube's
# own change waits (c->stored_doc), not while a replay or a create is
# sending it, so it replaces c->doc and frees the old one under the
# replay: a use after free in the root broker.  Here: biglist bl1 with
# 100k entries and a port, its worker killed (replay in ~17 parts), and
# meanwhile 'connect sf1:p1 bl1:p1' / 'disconnect' in a loop (sf1 is
# simpleforwarder's: its thread makes the change).  The broker must
# live, and bl1 must keep its 100k entries and be replayed whole.
. "$(dirname "$0")/../lib/netns.sh"
PLUGINS+=("$CUB_BUILD/plugins/testing/biglist.so")
need python3
broker_start
cub() {
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 120000 "$@" </dev/null
}
python3 - "$T" <<'PY'
import json, sys
for n, (a, b) in enumerate([(0, 40000), (40000, 80000), (80000, 100000)]):
    json.dump({"entries": [{"id": i, "value": i % 11} for i in range(a, b)]},
              open("%s/b%d.json" % (sys.argv[1], n), "w"))
PY
cub_ok biglist add bl1 --file "$T/b0.json"
cub_ok bl1 set --file "$T/b1.json"
cub_ok bl1 set --file "$T/b2.json"
cub_ok bl1 ports add p1
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1
grep -q "cube 'bl1': document sent in" "$T/broker.log" ||
	fail "bl1's document was not sent in parts: the test is wrong"
sent=$(grep -c "cube 'bl1': document sent in" "$T/broker.log")
for round in 1 2 3; do
	old=$(worker_pid biglist)
	[ -n "$old" ] && [ "$old" != 0 ] || fail "no biglist worker"
	kill -9 "$old"
	# connect / disconnect from sf1's thread while bl1 is replayed: up
	# to 60 rounds, ended once the replay logged its last part (the
	# race is with doc_send(); connects after it race with nothing).
	for i in $(seq 1 60); do
		kill -0 "$BROKER_PID" 2>/dev/null || break
		cub connect sf1:p1 bl1:p1 >/dev/null 2>&1 || true
		cub disconnect sf1:p1 bl1:p1 >/dev/null 2>&1 || true
		[ "$(grep -c "cube 'bl1': document sent in" "$T/broker.log")" -gt "$sent" ] &&
			break
	done
	cub_log "round $round: $i connect/disconnect pairs during the replay"
	kill -0 "$BROKER_PID" 2>/dev/null ||
		fail "the broker died (round $round): a connect from another service's thread freed bl1's document under its replay in parts"
	for _ in $(seq 1 300); do
		[ "$(grep -c "cube 'bl1': document sent in" "$T/broker.log")" -gt "$sent" ] && break
		sleep 0.1
	done
	sent=$(grep -c "cube 'bl1': document sent in" "$T/broker.log")
done
kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died"
n=$(cub bl1 show map_entries 2>&1)
[ "$n" = 100000 ] || fail "bl1's map holds '$n' entries after the replays, not 100000"
grep -E "replay to worker failed" "$T/broker.log" | tail -3 || true
cub_log "a connect during a replay in parts is harmless"
