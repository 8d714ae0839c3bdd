#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# What a plugin upgrade leaves in the store (issue 8):
#  - the schema version is the store's, not the run's: a broker restart
#    keeps it (same schema) or counts one more (a plugin replaced while
#    the broker was down), so "refused by schema vN" names one schema
#    across restarts (it restarted from 1 each broker run);
#  - a field a reload adds with a default gets that default in every
#    stored cube's document, in memory ('show') and in the store: a later
#    schema without the field refuses the cube for it (the default was
#    only in the worker's copy, never in the document or the store);
#  - the policy is stored with the version: a plugin whose policy alone
#    changed while the broker was down is a new version, and stays it;
#    the cubes it has keep their documents, and a new cube is checked
#    against the new policy.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"

install_plugin v1
broker_start
cub_ok upgrade add u1 color=red
cub_ok upgrade add u2
[ "$(svc schema)" = 1 ] || fail "schema version: $(cub services)"

# A restart with the same plugin: the same version.
broker_kill
broker_start
[ "$(svc schema)" = 1 ] || fail "v1 after a restart: $(cub services)"

# A reload adds 'level', default 7: both documents have it.
install_plugin default
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -q '"schema": 2' <<<"$out" || fail "reload answer: $out"
for c in u1 u2; do
	[ "$(cub $c show level)" = 7 ] ||
		fail "$c: the new field's default is not in its document: $(cub $c show -o json)"
done
cub u1 show -o json | grep -q '"color": "red"' || fail "u1's color: $(cub u1 show -o json)"
cub_log "after the reload to v2: u1 level=$(cub u1 show level)"

# kill -9 and a restart with the same plugin: still v2 (not 1).
broker_kill
broker_start
[ "$(svc schema)" = 2 ] || fail "v2 not kept across a restart: $(cub services)"
[ "$(cub u1 show level)" = 7 ] || fail "u1 level after a restart: $(cub u1 show -o json)"

# The plugin replaced while the broker is down by one without 'level':
# the first hello takes it as v3, and refuses u1 and u2 for the 'level'
# the store holds.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_plugin v1
broker_start
[ "$(svc schema)" = 3 ] || fail "another schema at a start is not v3: $(cub services)"
cubes=$(cub show cubes)
for c in u1 u2; do
	grep -qE "$c .*refused by schema v3: .*unknown field 'level'" <<<"$cubes" ||
		fail "$c: the store did not have its default: $cubes"
done
cub u1 show -o json | grep -q '"color": "red"' || fail "u1's color: $(cub u1 show -o json)"
cub_log "after a start on v1 again: $(grep u1 <<<"$cubes")"

# And back: a reload to the schema with 'level' takes them again (v4).
install_plugin default
out=$(cub services reload upgrade -o json) || fail "reload: $out"
grep -q '"schema": 4' <<<"$out" || fail "reload answer: $out"
grep -q '"refused": \[\]' <<<"$out" || fail "still refused: $out"
cub_ok u1 set level=9
[ "$(cub u1 show level)" = 9 ] || fail "u1 level not set: $(cub u1 show -o json)"

# The same schema with another policy, replaced while the broker is
# down: v5 (the policy was not stored: it stayed v4), kept at a restart.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_plugin defpol
broker_start
[ "$(svc schema)" = 5 ] || fail "a policy changed while down is not v5: $(cub services)"
[ "$(cub u1 show level)" = 9 ] || fail "u1 after the policy change: $(cub u1 show -o json)"
cub show cubes | grep -q refused && fail "refused after a wider policy: $(cub show cubes)"
broker_kill
broker_start
[ "$(svc schema)" = 5 ] || fail "v5 not kept across a restart: $(cub services)"
cub_log "a policy changed while down: $(svc schema)"

# A policy too narrow for any cube, replaced while down: v6; u1 keeps
# its document (its program, refused by the new policy, is retired:
# policy-narrow.sh), a new cube is refused by it.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
install_plugin defnarrow
broker_start
[ "$(svc schema)" = 6 ] || fail "a narrower policy while down is not v6: $(cub services)"
[ "$(cub u1 show level)" = 9 ] || fail "u1 under the narrow policy: $(cub u1 show -o json)"
out=$(cub upgrade add u3 2>&1) && fail "u3 added under max_map_bytes 4096: $out"
grep -q "over the limit of 4096" <<<"$out" || fail "u3's refusal: $out"
cub show cubes | grep -q u3 && fail "u3 exists after its refusal: $(cub show cubes)"
cub_log "a narrower policy while down: v$(svc schema), u3 refused: $out"
