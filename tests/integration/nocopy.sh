#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# No whole-document copy per request (issue 7, "Changes, not documents"):
# a one-entry set, add or del on a 100k-entry cube, and its refusals, run
# on the cube's document itself (cubi_tree__change() in place, undone on a
# refusal), and the store journals the change from its change list.  The
# broker counts the whole copies of a service's documents it makes for
# requests (doc_copies in 'cubicle services'); main had no such count and
# copied the document for every change.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/biglist.so")
broker_start

# A long deadline: 100k entries under ASan on a loaded machine.
cub() {
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 120000 "$@" </dev/null
}

refused() {
	local out
	if out=$(cub "$@" 2>&1); then
		fail "cubicle $* was accepted: $out"
	fi
	printf '%s\n' "$out"
}

# copies: biglist's doc_copies.
copies() {
	cub services -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == "biglist":
        print(s["doc_copies"])
        break
else:
    sys.exit("no biglist service")' || fail "services has no doc_copies"
}

python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
for n, (a, b) in enumerate([(0, 40000), (40000, 80000), (80000, 100000)]):
    json.dump({"entries": [{"id": i, "value": i % 11} for i in range(a, b)]},
              open("%s/b%d.json" % (t, n), "w"))
PY
cub_ok biglist add bl1 --file "$T/b0.json"
cub_ok bl1 set --file "$T/b1.json"
cub_ok bl1 set --file "$T/b2.json"
[ "$(cub bl1 show map_entries)" = 100000 ] || fail "100k entries not loaded: $(cub bl1 show map_entries)"

# One-entry changes, shows and help on the 100k-entry cube: no copy.
c0=$(copies)
cub_ok bl1 entries 777 set value=5
cub_ok bl1 entries del 778
cub_ok bl1 entries add 100000 value=9
[ "$(cub bl1 entries 777 show value)" = 5 ] || fail "set lost: $(cub bl1 entries 777 show)"
[ "$(cub bl1 entries 777 show in_map)" = 5 ] || fail "set not in the map"
[ "$(cub bl1 entries 100000 show value)" = 9 ] || fail "add lost"
refused bl1 entries 778 show >/dev/null
cub bl1 entries ? >/dev/null || fail "help failed"
cub bl1 entries show limit=3 >/dev/null || fail "a page failed"
# Refusals put the document back: by the worker, by the tree engine.
err=$(refused bl1 entries 777 set value=13)
grep -q "value 13 is refused by biglist" <<<"$err" || fail "worker refusal: $err"
# The cube's log has who asked, then the refusal (docs "Cube logs").
log=$(cub bl1 log show)
grep -qF "request by client uid 0 (role admin): bl1 entries 777 set value=13" <<<"$log" ||
	fail "the refused request is not in bl1's log: $(tail -3 <<<"$log")"
grep -qE "WARN +broker +refused: .*value 13 is refused by biglist" <<<"$log" ||
	fail "the refusal is not in bl1's log: $(tail -3 <<<"$log")"
[ "$(cub bl1 entries 777 show value)" = 5 ] || fail "a refused set stayed: $(cub bl1 entries 777 show)"
err=$(refused bl1 entries add 100001 value=13)
grep -q "value 13 is refused by biglist" <<<"$err" || fail "refused add: $err"
refused bl1 entries 100001 show >/dev/null
err=$(refused bl1 entries 777 set value=abc)
grep -q "value" <<<"$err" || fail "bad value: $err"
[ "$(cub bl1 entries 777 show value)" = 5 ] || fail "a bad set changed entry 777"
c1=$(copies)
[ "$c1" = "$c0" ] || fail "one-entry requests copied the document $((c1 - c0)) times"
[ "$(cub bl1 show map_entries)" = 100000 ] || fail "map entries after the refusals"

# A set of the cube's own fields (the root) copies those fields only: its
# undo record shares the 100k-entry list, and the journal records the
# fields (main copied the root with its list for the undo record and
# journalled the whole record).  Refused, it leaves the fields as they were.
cub_ok bl1 set loglevel=debug
[ "$(cub bl1 show loglevel)" = DEBUG ] || fail "loglevel not set: $(cub bl1 show loglevel)"
err=$(refused bl1 set loglevel=LOUD)
grep -q "loglevel" <<<"$err" || fail "bad loglevel: $err"
[ "$(cub bl1 show loglevel)" = DEBUG ] || fail "a refused root set changed loglevel"
c2=$(copies)
[ "$c2" = "$c1" ] || fail "a root-level set copied the document $((c2 - c1)) times"
[ "$(cub bl1 show map_entries)" = 100000 ] || fail "map entries after the root set"
[ "$(cub bl1 entries 777 show value)" = 5 ] || fail "entry 777 after the root set"

# The count is live: a set whose body names the list copies the node.
cub_ok bl1 set --file "$T/b2.json"
c3=$(copies)
[ "$c3" -gt "$c2" ] || fail "a set of the list was not counted as a copy ($c2 -> $c3)"

# What the journal recorded from the change lists survives a restart.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
[ "$(cub bl1 entries 777 show value)" = 5 ] || fail "the set was not journalled: $(cub bl1 entries 777 show)"
[ "$(cub bl1 entries 100000 show value)" = 9 ] || fail "the add was not journalled"
refused bl1 entries 778 show >/dev/null
refused bl1 entries 100001 show >/dev/null
[ "$(cub bl1 show loglevel)" = DEBUG ] || fail "loglevel lost: $(cub bl1 show loglevel)"
[ "$(cub bl1 show map_entries)" = 100000 ] || fail "after the restart: $(cub bl1 show map_entries) entries"
cub_log "nocopy: one-entry changes on 100k entries made no document copy"
