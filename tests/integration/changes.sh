#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Changes, not documents (issue 7): a request reaches a worker as the
# change it made (cube.change), a document over one message reaches it in
# parts (cube.apply + cube.entries), on create and on the replay after a
# worker restart.  biglist keeps its 100k-entry list in a BPF hash and
# reports what it was handed; simpleforwarder writes only the map entries
# of the ports a change touched.  On main the second 40k load already
# failed: the broker sent the whole 80k-entry document in one message,
# over the element cap.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/biglist.so"
	"$CUB_BUILD/plugins/testing/rulesetdoc.so")
broker_start

# The CLI with a long deadline: a 100k-entry cube under ASan on a loaded
# machine takes its time (a deadline, not a measurement).
cub() {
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 120000 "$@" </dev/null
}

# refused ARGS...: the CLI must fail; prints what it said.
refused() {
	local out
	if out=$(cub "$@" 2>&1); then
		fail "cubicle $* was accepted: $out"
	fi
	printf '%s\n' "$out"
}

# field NAME [CUBE]: a ro counter of the cube.
field() { cub "${2:-bl1}" show "$1"; }

want() { # want NAME VALUE WHAT
	local got
	got=$(field "$1")
	[ "$got" = "$2" ] || fail "$3: $1 is '$got', expected '$2'"
}

python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
for n, (a, b) in enumerate([(0, 40000), (40000, 80000), (80000, 100000)]):
    json.dump({"entries": [{"id": i, "value": i % 11} for i in range(a, b)]},
              open("%s/b%d.json" % (t, n), "w"))
# 20000 new entries, one of which biglist refuses.
json.dump({"entries": [{"id": i, "value": 13 if i == 219999 else 1}
                       for i in range(200000, 220000)]},
          open("%s/bad.json" % t, "w"))
json.dump({"entries": [{"id": i, "value": 13 if i == 39999 else 2}
                       for i in range(40000)]},
          open("%s/badnew.json" % t, "w"))
# The sum the map holds after the edits below.
s = sum(i % 11 for i in range(100000)) - 777 % 11 + 5 - 778 % 11 + 9
open("%s/sum" % t, "w").write(str(s))
PY
sum=$(cat "$T/sum")

# 1. Created from a document of 40k entries: in parts.
cub_ok biglist add bl1 --file "$T/b0.json"
grep -qE "cube 'bl1': document sent in [0-9]+ messages \(40000 list entries in 1 lists\)" "$T/broker.log" ||
	fail "the creation was not sent in parts: $(grep "bl1" "$T/broker.log" | tail -3)"
want applies 1 "created"
want apply_entries 40000 "created"
want map_entries 40000 "created"

# 2. Two more loads of 40k and 20k entries: each one change call with
# one change per entry, in several messages; no document.
cub_ok bl1 set --file "$T/b1.json"
grep -qE "cube 'bl1': 40000 changes sent in [0-9]+ messages" "$T/broker.log" ||
	fail "40k changes not sent in parts: $(grep "bl1" "$T/broker.log" | tail -3)"
want last_changes 40000 "second load"
cub_ok bl1 set --file "$T/b2.json"
want last_changes 20000 "third load"
want change_calls 2 "three loads"
want applies 1 "three loads"
want map_entries 100000 "three loads"

# 3. One set on the 100k-entry list: one change, one map entry.
cub_ok bl1 entries 777 set value=5
want last_changes 1 "one set"
want last_written 1 "one set"
want change_calls 3 "one set"
want applies 1 "one set"
[ "$(cub bl1 entries 777 show in_map)" = 5 ] || fail "entry 777 in the map: $(cub bl1 entries 777 show)"
cub_ok bl1 entries del 778
want last_changes 1 "one del"
cub_ok bl1 entries add 100000 value=9
want last_changes 1 "one add"
want map_entries 100000 "add and del"
want map_sum "$sum" "add and del"
grep -q "change: changes=1 written=1" <<<"$(cub bl1 log show)" ||
	fail "the worker did not log one change: $(cub bl1 log show | tail -3)"

# 4. Refused changes change nothing: one entry, and a load of 20k whose
# last entry is refused.
err=$(refused bl1 entries 777 set value=13)
grep -q "value 13 is refused by biglist" <<<"$err" || fail "refusal: $err"
[ "$(cub bl1 entries 777 show value)" = 5 ] || fail "a refused set stayed: $(cub bl1 entries 777 show)"
err=$(refused bl1 set --file "$T/bad.json")
grep -q "entry 219999: value 13 is refused" <<<"$err" || fail "refused load: $err"
refused bl1 entries 200000 show >/dev/null
want change_calls 5 "refusals" # the worker's count: it saw both, took neither
want map_entries 100000 "refusals"
want map_sum "$sum" "refusals"
[ "$(cub bl1 entries 777 show in_map)" = 5 ] || fail "entry 777 after refusals"

# A creation refused at its last part creates nothing.
err=$(refused biglist add bl2 --file "$T/badnew.json")
grep -q "entry 39999: value 13 is refused" <<<"$err" || fail "refused creation: $err"
refused bl2 show >/dev/null
grep -qE "cube 'bl2': document sent" "$T/broker.log" &&
	fail "a refused document was logged as sent"

# 5. The worker killed: the replay of 100k entries goes in parts, and
# the map is rebuilt from it (biglist empties it first).
old=$(worker_pid biglist)
[ -n "$old" ] && [ "$old" != 0 ] || fail "no biglist worker"
sent=$(grep -c "cube 'bl1': document sent in" "$T/broker.log")
kill -9 "$old"
for _ in $(seq 1 600); do
	new=$(worker_pid biglist)
	if [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] &&
		[ "$(field applies 2>/dev/null)" = 1 ]; then
		break
	fi
	sleep 0.1
done
[ "$(field applies)" = 1 ] || fail "no replay after the worker kill: $(cub services)"
[ "$(grep -c "cube 'bl1': document sent in" "$T/broker.log")" -gt "$sent" ] ||
	fail "the replay was not sent in parts"
grep -qE "cube 'bl1': document sent in [0-9]+ messages \(100000 list entries in 1 lists\)" "$T/broker.log" ||
	fail "the replay did not carry 100000 entries: $(grep "bl1" "$T/broker.log" | tail -3)"
want apply_entries 100000 "replay"
want change_calls 0 "replay"
want map_entries 100000 "replay"
want map_sum "$sum" "replay"
[ "$(cub bl1 entries 777 show in_map)" = 5 ] || fail "entry 777 after the replay"
[ "$(cub bl1 entries 100000 show in_map)" = 9 ] || fail "entry 100000 after the replay"
refused bl1 entries 778 show >/dev/null
cub_ok bl1 entries 777 set value=6
want last_changes 1 "a set after the replay"
want change_calls 1 "a set after the replay"

# 6. simpleforwarder: a change writes only the entries it touches.
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1
cub_ok sf1 ports add p2
cub_ok sf1 ports add p3 action=forward outport=p1
grep -q "configuration changed: 3 ports, loglevel INFO (1 change, 1 map entry written)" <<<"$(cub sf1 log show)" ||
	fail "adding a forwarding port: $(cub sf1 log show | tail -2)"
cub_ok sf1 ports p2 set action=slowpath
grep -q "configuration changed: 3 ports, loglevel INFO (1 change, 1 map entry written)" <<<"$(cub sf1 log show | tail -1)" ||
	fail "one port set: $(cub sf1 log show | tail -2)"
cub_ok sf1 set loglevel=DEBUG
grep -q "configuration changed: 3 ports, loglevel DEBUG (1 change, 0 map entries written)" <<<"$(cub sf1 log show | tail -1)" ||
	fail "a loglevel change: $(cub sf1 log show | tail -2)"
err=$(refused sf1 ports del p1)
grep -q "outport 'p1' is not a port" <<<"$err" || fail "deleting a forwarding target: $err"
[ "$(cub sf1 ports p1 show name)" = p1 ] || fail "a refused del removed p1"
cub_ok sf1 ports p3 set action=drop
cub_ok sf1 ports del p1
grep -q "configuration changed: 2 ports, loglevel DEBUG (1 change, 0 map entries written)" <<<"$(cub sf1 log show | tail -1)" ||
	fail "deleting a dropping port: $(cub sf1 log show | tail -2)"
# 8. A change made on another service's thread (connect sets bl1's peer
# from sf1's) reaches bl1's worker ahead of its next change.
cub_ok bl1 ports add p1
want last_changes 1 "a port added"
cub_ok connect sf1:p2 bl1:p1
[ "$(cub bl1 ports p1 show peer)" = sf1:p2 ] || fail "connect: $(cub bl1 ports p1 show)"
cub_ok bl1 entries 777 set value=7
want last_changes 2 "the set after a connect from another service"
cub_ok bl1 entries 777 set value=5
want last_changes 1 "the next set"

# 7. A service without change() (rulesetdoc) gets whole documents, in parts
# too: on a set, and on the replay.
python3 - "$T" <<'PY'
import json, sys
for n, (a, b) in enumerate([(0, 40000), (40000, 60000)]):
    json.dump({"rules": [{"id": i, "action": "log"} for i in range(a, b)]},
              open("%s/r%d.json" % (sys.argv[1], n), "w"))
PY
cub_ok rulesetdoc add rs1 --file "$T/r0.json"
cub_ok rs1 set --file "$T/r1.json"
[ "$(cub rs1 show applied)" = 60000 ] || fail "rulesetdoc got $(cub rs1 show applied) rules, not 60000"
grep -qE "cube 'rs1': document sent in [0-9]+ messages \(60000 list entries" "$T/broker.log" ||
	fail "the 60k document was not sent in parts"
old=$(worker_pid rulesetdoc)
kill -9 "$old"
for _ in $(seq 1 600); do
	new=$(worker_pid rulesetdoc)
	[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] &&
		[ "$(cub rs1 show applied 2>/dev/null)" = 60000 ] && break
	sleep 0.1
done
[ "$(cub rs1 show applied)" = 60000 ] || fail "rulesetdoc replay: $(cub rs1 show applied) rules"

grep -E "cube '(bl1|rs1)': (document sent|[0-9]+ changes sent)" "$T/broker.log" |
	sed "s/.*cube '\([a-z0-9]*\)'/\1/" >&2
cub_log "changes: 100k entries loaded in parts, one-entry changes, refusals undone, replay in parts"
