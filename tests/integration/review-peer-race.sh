#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review (issue 6 "lost or wrong state"; issue 7's request threads): a
# cube deleted while another service's thread waits for its worker.
# evil's a1 has port p1 peered with simpleforwarder's b1:q1.  A change of
# a1 waits 3 s for its worker (which then refuses it); meanwhile b1 is
# deleted on simpleforwarder's thread, and topo_cube_gone() removes the
# peer from a1's current document, the one being tried.  The refusal puts
# back the document from before the change, with the peer in it: a1 then
# names a peer of a deleted cube that its ports do not have, and the
# store (written by b1's deletion from a1's stored_doc) has it too, so
# after a restart a1 is restored with a peer no cube answers to; and
# every later change of a1 is refused, as its document names that peer.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
broker_start

cub_ok simpleforwarder add b1
cub_ok b1 ports add q1
cub_ok evil add a1
cub_ok a1 ports add p1 peer=b1:q1
cub a1 show -o json | grep -q '"peer": "b1:q1"' || fail "a1 p1 not peered: $(cub a1 show)"
cub_ok a1 debug slow apply_ms=3000 apply_fail=1 >/dev/null

"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 20000 a1 ports add p2 \
	>"$T/change.out" 2>&1 </dev/null &
change=$!
sleep 0.7
cub_ok b1 del
rc=0
wait "$change" || rc=$?
cub_log "a1's change: exit $rc: $(tr '\n' ' ' <"$T/change.out")"
[ "$rc" = 2 ] || fail "the change of a1 was not refused (exit $rc)"
cub_ok a1 debug slow apply_ms=0 apply_fail=0 >/dev/null

# a1 must still take changes (a document naming a peer no cube has is
# refused by ports_prepare() on every change).
out=$(cub a1 ports add p3 2>&1) ||
	fail "a1 takes no change any more after b1's deletion: $out"

if cub a1 show -o json | grep -q '"b1:q1"'; then
	fail "after b1's deletion, a1 still names peer b1:q1 (the rollback of a refused change put it back): $(cub a1 show -o json | tr -d '\n ')"
fi
# The store too: a restarted broker must not bring the peer back.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
broker_start
if cub a1 show -o json | grep -q '"b1:q1"'; then
	fail "after a restart, a1 names peer b1:q1 of deleted cube b1"
fi
cub_log "no peer of a deleted cube left"

# The deletion's one save records the unpeering too: a broker killed
# right after it (here while b2's worker, stopped, is being told of the
# deletion) restarts with a1 unpeered.  Before, a second save after the
# worker call did it, and a failure of that save was only logged.
cub_ok simpleforwarder add b2
cub_ok b2 ports add q1
cub_ok a1 ports p1 set peer=b2:q1
cub a1 show -o json | grep -q '"peer": "b2:q1"' || fail "a1 p1 not peered with b2: $(cub a1 show)"
sfpid=$(worker_pid simpleforwarder)
[ -n "$sfpid" ] || fail "no simpleforwarder worker"
before=$(sha256sum <"$T/st/state.db")
kill -STOP "$sfpid"
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 20000 b2 del \
	>"$T/del.out" 2>&1 </dev/null &
del=$!
for _ in $(seq 1 200); do
	[ "$(sha256sum <"$T/st/state.db")" != "$before" ] && break
	sleep 0.05
done
[ "$(sha256sum <"$T/st/state.db")" != "$before" ] || fail "b2's deletion wrote no store"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
kill -CONT "$sfpid" 2>/dev/null || true
# The CLI would wait its whole timeout for an answer that never comes.
kill "$del" 2>/dev/null || true
wait "$del" 2>/dev/null || true
for _ in $(seq 1 200); do
	kill -0 "$sfpid" 2>/dev/null || break
	sleep 0.05
done
broker_start
cub b2 show >/dev/null 2>&1 && fail "b2 is back after its recorded deletion"
if cub a1 show -o json | grep -q '"b2:q1"'; then
	fail "after a broker killed during b2's deletion, a1 names peer b2:q1: the deletion's save kept it"
fi
cub_ok a1 ports add p4
cub_log "the deletion's save records the unpeering"
