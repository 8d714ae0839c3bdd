#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 7, "Changes, not documents", at the benchmark's sizes: the ruleset
# service (the stand-in for an iptables compiler) takes change(), so a
# one-entry set, add or del on a 10,000-rule cube hands its worker one
# change and writes one entry of its rs_rules map, as on a 10-rule cube
# (main sent ruleset the whole document per request, and had no map).
# The map holds what the document says: after the changes, and after a
# worker restart (the replay empties it and writes every rule).
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/ruleset.so")
broker_start

want() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

python3 - "$T" <<'PY'
import json, sys
for n in (10, 10000):
    json.dump({"rules": [{"id": i, "action": "log", "src": "10.%d.%d.0/24" % (i >> 8 & 255, i & 255)}
                         for i in range(n)]},
              open("%s/r%d.json" % (sys.argv[1], n), "w"))
PY
cub_ok ruleset add small --file "$T/r10.json"
cub_ok ruleset add big --file "$T/r10000.json"
want "big: rules applied" "$(cub big show applied)" 10000
want "big: the create" "$(cub big show last_op)" apply
want "big: rules written by the create" "$(cub big show last_written)" 10000

for c in small big; do
	k=$([ "$c" = big ] && echo 5000 || echo 5)
	n=$([ "$c" = big ] && echo 10000 || echo 10)
	w0=$(cub "$c" show map_writes)
	cub_ok "$c" rules "$k" set action=forward
	want "$c: set: the worker's call" "$(cub "$c" show last_op)" change
	want "$c: set: changes handed to the worker" "$(cub "$c" show last_changes)" 1
	want "$c: set: map entries written" "$(cub "$c" show last_written)" 1
	want "$c: set: map writes in all" "$(cub "$c" show map_writes)" $((w0 + 1))
	want "$c: set: rule $k in the map" "$(cub "$c" rules "$k" show in_map)" forward
	want "$c: set: rule $((k + 1)) in the map" "$(cub "$c" rules $((k + 1)) show in_map)" log
	cub_ok "$c" rules add 20000 action=drop
	want "$c: add: changes" "$(cub "$c" show last_changes)" 1
	want "$c: add: map entries written" "$(cub "$c" show last_written)" 1
	want "$c: add: rules" "$(cub "$c" show applied)" $((n + 1))
	want "$c: add: in the map" "$(cub "$c" rules 20000 show in_map)" drop
	cub_ok "$c" rules del 3
	want "$c: del: map entries written" "$(cub "$c" show last_written)" 1
	want "$c: del: rules" "$(cub "$c" show applied)" "$n"
	# A set of the cube's own fields writes no rule.
	cub_ok "$c" set ttl=9
	want "$c: ttl: the worker's call" "$(cub "$c" show last_op)" change
	want "$c: ttl: map entries written" "$(cub "$c" show last_written)" 0
	want "$c: map writes for set, add, del and ttl" "$(cub "$c" show map_writes)" $((w0 + 3))
done

# Refused by the engine: the worker hears nothing, the map is unchanged.
w0=$(cub big show map_writes)
err=$(cub_refused 2 big rules 5000 set action=reject)
grep -q "'reject' is not one of" <<<"$err" || fail "bad action: $err"
want "a refusal wrote nothing" "$(cub big show map_writes)" "$w0"

# The replay after a worker restart rebuilds the map from the document.
old=$(worker_pid ruleset)
kill -9 "$old"
for _ in $(seq 1 600); do
	new=$(worker_pid ruleset)
	[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] &&
		[ "$(cub big show applied 2>/dev/null)" = 10000 ] && break
	sleep 0.1
done
want "replay: rules" "$(cub big show applied)" 10000
want "replay: the worker's call" "$(cub big show last_op)" apply
want "replay: rule 5000" "$(cub big rules 5000 show in_map)" forward
want "replay: rule 20000" "$(cub big rules 20000 show in_map)" drop
cub_refused 2 big rules 3 show >/dev/null
want "replay: the next set" "$(cub big rules 6000 set action=drop && cub big show last_written)" 1
cub_log "ruleset: one change and one map entry per one-entry request at 10 and 10,000 rules"
