#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 7's schema types through the broker, the CLI and the JSON/YAML
# file paths, on the test-only ruleset service: u8/u16, IPv6 and either-
# family addresses and prefixes (stored in RFC 5952 form), port ranges,
# leaf-lists, an ordered chain with insert positions and Polycube's
# append/insert (the order show returns is the order the worker got),
# references to the "sets" list.
# Bad input is refused with a message naming the field and what was
# wrong, and changes nothing.  At size: an 8192-entry chain from a file,
# with inserts at the front, the middle, the back, before and after a key.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/ruleset.so")
broker_start

cubin() {
	"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" "$@"
}

# jq_like JSON EXPR: python evaluates EXPR on the parsed JSON (as d).
pyget() {
	python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2]), separators=(",", ":")))' "$1" "$2"
}

# want WHAT GOT EXPECTED
want() {
	[ "$2" = "$3" ] || fail "$1: got $2, expected $3"
}

snapshot() { cub t1 show -o json; }

# --- the CLI path ---
cub_ok ruleset add t1 ttl=64 mss=1460
want ttl "$(cub t1 show ttl)" 64
want mss "$(cub t1 show mss)" 1460
cub_ok t1 sets add web nets=10.0.0.0/8,2001:DB8:0:0::/32
cub_ok t1 sets add lan
want "sets web nets" "$(pyget "$(cub t1 sets web show -o json)" 'd["nets"]')" \
    '["10.0.0.0/8","2001:db8::/32"]'
cub_ok t1 chain add 10 proto=6 src6=2001:DB8::/32 gw6=FE80:0:0:0:0:0:0:1 \
    dst=2001:db8:0:0:1:0:0:1 net=198.18.0.0/15 sport=1024:65535 \
    dports=80,443 match=web action=FORWARD
e=$(cub t1 chain 10 show -o json)
want "chain 10" "$(pyget "$e" '[d[k] for k in ("proto","src6","gw6","dst","net","sport","dports","match","action")]')" \
    '[6,"2001:db8::/32","fe80::1","2001:db8::1:0:0:1","198.18.0.0/15","1024:65535",[80,443],"web","forward"]'
want "chain 10 dports as text" "$(cub t1 chain 10 show dports)" 80,443
cub t1 chain 10 show | grep -qE '^dports +80,443$' || fail "chain 10 as text: $(cub t1 chain 10 show)"
cub_ok t1 chain 10 set sport=8000:8000 dst=198.18.0.1 dports=
want "chain 10 after set" "$(pyget "$(cub t1 chain 10 show -o json)" '[d["sport"], d["dst"], d["dports"]]')" \
    '["8000","198.18.0.1",[]]'

# Ordered: append, first, before, after, index.
cub_ok t1 chain add 20
cub_ok t1 chain add 5 position=first
cub_ok t1 chain add 15 before=20
cub_ok t1 chain add 12 after=10
cub_ok t1 chain add 1 index=0
# Polycube's spellings: append (last), insert (first, or where told).
cub_ok t1 chain append 25 action=LOG
cub_ok t1 chain insert 0
cub_ok t1 chain insert 18 before=20
order='[0,1,5,10,12,15,18,20,25]'
want "chain order" "$(pyget "$(cub t1 chain show -o json)" '[e["id"] for e in d]')" "$order"
want "order the worker got" "$(pyget "$(cub t1 show -o json)" 'd["chain_seen"]')" "$order"
want "chain_len" "$(cub t1 show chain_len)" 9
want "t1 chain_v6" "$(cub t1 show chain_v6)" 0

# Refusals: clear, naming the field, and nothing changes.
before=$(snapshot)
refused_unchanged "ttl: '256' is out of range \[0, 255\]" t1 set ttl=256
refused_unchanged "mss: '100' is out of range \[536, 65535\]" t1 set mss=100
refused_unchanged "proto: '300' is out of range \[0, 255\]" t1 chain 10 set proto=300
refused_unchanged "gw6: '2001:db8::g' is not an IPv6 address" t1 chain 10 set gw6=2001:db8::g
refused_unchanged "src6: '2001:db8::/129': prefix length 129 is over 128" t1 chain 10 set src6=2001:db8::/129
refused_unchanged "dst: '300.1.1.1' is not an IPv4 or IPv6 address" t1 chain 10 set dst=300.1.1.1
refused_unchanged "sport: '9:8': the first port 9 is over the last 8" t1 chain 10 set sport=9:8
refused_unchanged "sport: '80:70000': a port is 0 to 65535" t1 chain 10 set sport=80:70000
refused_unchanged "dports: 9 values, at most 8" t1 chain 10 set dports=1,2,3,4,5,6,7,8,9
refused_unchanged "dports: '80' is given twice" t1 chain add 30 dports=80,80
refused_unchanged "dports: value 2: 'x' is not a u16" t1 chain add 30 dports=80,x
refused_unchanged "nets: value 1: 'nope' is not an IPv4 or IPv6 prefix" t1 sets add dmz nets=nope
refused_unchanged "match: 'nope' is not an entry of sets" t1 chain add 30 match=nope
refused_unchanged "match: 'nope' is not an entry of sets" t1 chain 10 set match=nope
refused_unchanged "'web' is still referred to by chain 10 match" t1 sets del web
refused_unchanged "index: 99 is past the end" t1 chain add 30 index=99
refused_unchanged "append puts the entry last" t1 chain append 30 index=0
refused_unchanged "index: 99 is past the end" t1 chain insert 30 index=99
refused_unchanged "before: no entry '99'" t1 chain add 30 before=99
refused_unchanged "position: expected first or last" t1 chain add 30 position=2
refused_unchanged "give one insert position" t1 chain add 30 before=5 after=5
refused_unchanged "an insert position applies to an ordered list" t1 sets add dmz index=0
refused_unchanged "entry '12' already exists" t1 chain add 12 position=first
cub_ok t1 chain 10 set match=lan
cub_ok t1 sets del web

# --- the JSON file path ---
cat >"$T/t2.json" <<'JSON'
{"ttl": 8, "mss": 9000,
 "sets": [{"name": "lan", "nets": ["192.0.2.0/24", "2001:DB8:1::/48"]}],
 "chain": [{"id": 3, "dports": [22, "8080"], "src6": "2001:DB8:0::/48",
            "match": "lan", "sport": 53},
           {"id": 1, "dst": "::FFFF:198.18.0.1", "action": "Log"}]}
JSON
cub_ok ruleset add t2 --file "$T/t2.json"
d=$(cub t2 show -o json)
want "t2 from JSON" "$(pyget "$d" '[d["ttl"], d["mss"], d["sets"][0]["nets"], [e["id"] for e in d["chain"]], d["chain"][0]["dports"], d["chain"][0]["src6"], d["chain"][0]["sport"], d["chain"][1]["dst"], d["chain"][1]["action"], d["chain_seen"]]')" \
    '[8,9000,["192.0.2.0/24","2001:db8:1::/48"],[3,1],[22,8080],"2001:db8::/48","53","::ffff:198.18.0.1","log",[3,1]]'
want "t2 chain_v6" "$(cub t2 show chain_v6)" 1
printf '{"chain": [{"id": 1, "match": "wan"}]}' >"$T/badref.json"
err=$(cub_refused 2 ruleset add t3 --file "$T/badref.json")
grep -q "chain 1: match: 'wan' is not an entry of sets" <<<"$err" || fail "bad reference in a file: $err"
printf '{"mss": 70000}' >"$T/badmss.json"
err=$(cub_refused 2 ruleset add t3 --file "$T/badmss.json")
grep -q "mss: 70000 is out of range \[536, 65535\]" <<<"$err" || fail "u16 over its range in a file: $err"
printf '{"chain": [{"id": 1, "dports": 80}]}' >"$T/badll.json"
err=$(cub_refused 2 ruleset add t3 --file "$T/badll.json")
grep -q "dports: expected a list of u16" <<<"$err" || fail "leaf-list given a number: $err"
cub_refused 2 t3 show >/dev/null

# --- the YAML file path and stdin ---
cat >"$T/t3.yaml" <<'YAML'
ttl: 255
sets:
  - name: wan
    nets:
      - 0.0.0.0/0
      - ::/0
chain:
  - id: 7
    gw6: 2001:db8::0:0:1
    dports: [443, 8443]
    match: wan
  - {id: 2, sport: "1:1023", net: "2001:DB8::/32"}
YAML
cub_ok ruleset add t3 --file "$T/t3.yaml"
d=$(cub t3 show -o json)
want "t3 from YAML" "$(pyget "$d" '[d["ttl"], d["sets"][0]["nets"], [e["id"] for e in d["chain"]], d["chain"][0]["gw6"], d["chain"][0]["dports"], d["chain"][1]["sport"], d["chain"][1]["net"]]')" \
    '[255,["0.0.0.0/0","::/0"],[7,2],"2001:db8::1",[443,8443],"1:1023","2001:db8::/32"]'
printf 'dports: [53, 853]\nsrc6: 2001:db8:a::/64\n' | cubin t3 chain 2 set ||
	fail "YAML on stdin refused"
want "YAML on stdin" "$(pyget "$(cub t3 chain 2 show -o json)" '[d["dports"], d["src6"]]')" \
    '[[53,853],"2001:db8:a::/64"]'
snapshot() { cub t3 show -o json; }
before=$(snapshot)
err=$(printf 'dports: [1, 1]\n' | cubin t3 chain 2 set 2>&1) && fail "duplicate leaf-list values accepted"
grep -q "dports: '1' is given twice" <<<"$err" || fail "YAML duplicate: $err"
err=$(printf 'ttl: 256\n' | cubin t3 set 2>&1) && fail "u8 over its range accepted"
grep -q "ttl: 256 is out of range \[0, 255\]" <<<"$err" || fail "YAML u8: $err"
[ "$(snapshot)" = "$before" ] || fail "a refused YAML body changed t3"

# --- at size: an 8192-entry chain, inserts anywhere ---
python3 - "$T/big.json" <<'PY'
import json, sys
chain = [{"id": i, "dports": [i % 65536], "dst": "2001:db8::%x" % i}
         for i in range(0, 16384, 2)]
json.dump({"chain": chain}, open(sys.argv[1], "w"))
PY
cub_ok ruleset add big --file "$T/big.json"
want "big chain_len" "$(cub big show chain_len)" 8192
want "big chain_v6 (the worker's typed view)" "$(cub big show chain_v6)" 8192
cub_ok big chain add 1 position=first
cub_ok big chain add 3 index=4096
cub_ok big chain add 5
cub_ok big chain add 7 before=8000
cub_ok big chain add 9 after=8000
cub_ok big chain add 11 index=1
want "big chain_len after inserts" "$(cub big show chain_len)" 8198
check_big() {
	python3 - "$T/s" "$CUB_BUILD/sdk/cubicle" <<'PY' || fail "the 8k chain is not in the order of its inserts ($1)"
import json, subprocess, sys
sock, cli = sys.argv[1], sys.argv[2]
model = list(range(0, 16384, 2))
model.insert(0, 1)
model.insert(4096, 3)
model.append(5)
model.insert(model.index(8000), 7)
model.insert(model.index(8000) + 1, 9)
model.insert(1, 11)
def show(*words):
    return json.loads(subprocess.run([cli, "--socket-dir", sock, "big"] +
        list(words) + ["-o", "json"], check=True, capture_output=True,
        text=True).stdout)
after, ids = None, []
while True:
    p = show("chain", "show", "limit=3000", *(["after=" + after] if after else []))
    ids += [e["id"] for e in p["entries"]]
    if "next" not in p:
        break
    after = p["next"]
assert ids == model, "order differs at %d" % next(
    i for i in range(min(len(ids), len(model))) if ids[i] != model[i])
seen = show("show")["chain_seen"]
assert seen == model[:len(seen)] and len(seen) == 64, seen
assert show("chain", "8000", "show")["dst"] == "2001:db8::1f40"
PY
}
check_big "as inserted"

# The store keeps every type, and the order, across a restart; the
# restarted worker is handed the chain in that order.
# (Without what the worker's last call did: a change before, the replay
# after.)
state_of() {
	cub "$1" show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in ("last_op", "last_changes", "last_written", "map_writes"):
    d.pop(k, None)
print(json.dumps(d, indent=1))'
}
for c in t1 t2 t3; do
	eval "saved_$c=\$(state_of $c)"
done
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
for c in t1 t2 t3; do
	eval "was=\$saved_$c"
	grep -q chain_seen <<<"$was" || fail "no show of $c before the restart: $was"
	[ "$(state_of $c)" = "$was" ] || fail "$c changed in a restart: $(state_of $c), was $was"
done
check_big "after a restart"
cub_log "schematypes: types, leaf-lists, ordered chain and references through the CLI, JSON and YAML"
