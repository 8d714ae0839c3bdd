#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review (issue 6 "a plugin cannot reach what is not its own"; issue 7's
# request threads): a peer taken on a cube whose creation then fails.
# evil's a1 is being created (its worker takes 3 s, then refuses); in
# that window simpleforwarder's b1 peers its port q1 with a1:p1 (a1 is
# in the cube list already).  cube_create()'s rollback unlinks a1 without
# topo_cube_gone(): b1 keeps the peer a1:p1, in its document and the
# store, wired to nothing that exists.  The next cube named a1, of any
# service (here evilstall, another uid), then gets b1's q1 traffic
# without b1's owner doing anything.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so" "$CUB_BUILD/plugins/testing/evilstall.so")
broker_start

cub_ok simpleforwarder add b1
cub_ok b1 ports add q1
cub_ok evil add e0
cub_ok e0 debug slow apply_ms=3000 apply_fail=1 apply_create=1 >/dev/null
echo '{"ports": [{"name": "p1"}]}' >"$T/a1.json"
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 20000 evil add a1 \
	-f "$T/a1.json" >"$T/create.out" 2>&1 </dev/null &
create=$!
sleep 0.7
out=$(cub b1 ports q1 set peer=a1:p1 2>&1) && peered=1 || peered=0
cub_log "b1 q1 peer=a1:p1 while a1 was being created: $peered: $out"
[ "$peered" = 0 ] || fail "b1 peered with a1 while a1 was being created"
grep -q "cube 'a1' is being created" <<<"$out" ||
	fail "the peer on a1 was refused for another reason: $out"
rc=0
wait "$create" || rc=$?
cub_log "a1's creation: exit $rc: $(tr '\n' ' ' <"$T/create.out")"
[ "$rc" = 2 ] || fail "a1's creation was not refused (exit $rc)"
cub_ok e0 debug slow apply_ms=0 apply_fail=0 apply_create=0 >/dev/null
cub a1 show >/dev/null 2>&1 && fail "a1 exists after its refused creation"

if cub b1 show -o json | grep -q '"a1:p1"'; then
	fail "a1's creation failed, yet b1's q1 still names peer a1:p1: $(cub b1 show -o json | tr -d '\n ')"
fi
# Another service's cube of that name must not inherit anything.
cub_ok evilstall add a1 -f "$T/a1.json"
if cub b1 show -o json | grep -q '"a1:p1"'; then
	fail "b1's q1 is peered with evilstall's new a1"
fi
cub_log "no peer left on a cube that was never created"
