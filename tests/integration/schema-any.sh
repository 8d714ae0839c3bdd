#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 7's opaque values (CUB_T_ANY, docs "Schema types (issue 7)") through
# the worker, the broker and the CLI, on the test-only anycube service:
# its show fills a read-only list of metrics whose ANY `value` holds
# Polycube dynmon's shapes (struct-keyed entries with per-CPU lists, u64s
# above 2^53, a string with quotes, a newline and a backslash, every other
# kind) and a cube-level ANY map.  JSON and YAML carry them exactly (key
# order too); text shows them as one line of JSON and one row an entry;
# narrowed shows (an entry, its value, the cube-level field) return them;
# a set of them is refused as for any ro field and changes nothing; a
# schema with a writable ANY is refused naming the field.  At size: a
# 4096-entry value.
. "$(dirname "$0")/../lib/netns.sh"

need setpriv curl
PLUGINS+=("$CUB_BUILD/plugins/testing/anycube.so" "$CUB_BUILD/plugins/testing/anybad.so")
# nobody (65534, group nogroup 65534) is the gateway.
CUB_BROKER_ARGS="--socket-group 65534 --gateway-group 65534"
chmod 0711 "$T" # nobody reaches $T/s
broker_start

# check WHAT FILE PYTHON: PYTHON asserts on d, FILE's JSON (order kept).
check() {
	python3 - "$2" "$3" <<'PY' || fail "$1: $(head -c 2000 "$2")"
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}

U64=18446744073709551615
cub_ok anycube add ac1 flows=3

# --- JSON: every level as the service gave it ---
cub ac1 metrics show -o json >"$T/m.json" || fail "metrics show -o json"
check "metrics json" "$T/m.json" '
names = [e["name"] for e in d]
assert names == ["flows", "packets", "big", "note", "mixed"], names
assert all(list(e) == ["name", "value", "timestamp"] for e in d), d
f = d[0]["value"]
assert len(f) == 3, f
for i, e in enumerate(f):
    assert list(e) == ["key", "value"], e
    assert list(e["key"]) == ["saddr", "daddr", "sport", "dport", "proto"], e
    assert e["key"]["saddr"] == "198.18.0.%d" % i, e
    assert e["value"] == [i * 10, i * 10 + 1, i * 10 + 2, 2**64 - 1 - i], e
assert d[1]["value"] == [5], d[1]
assert d[2]["value"] == [2**64 - 1, 2**53 + 1], d[2]
assert d[3]["value"] == "say \"hi\"\nline 2\\end", d[3]
m = d[4]["value"]
assert m[:4] == [None, True, -5, 0.5] and m[5:] == [{}, [], {"deep": [{"x": 1}]}], m
assert isinstance(m[4], str) and m[4], m
'
grep -q "$U64" "$T/m.json" || fail "u64 not written exactly: $(cat "$T/m.json")"
grep -q '9007199254740993' "$T/m.json" || fail "2^53 + 1 not exact"

# The whole cube, and the cube-level ANY field, keys in the service's order.
cub ac1 show -o json >"$T/c.json" || fail "show -o json"
check "cube json" "$T/c.json" '
assert list(d["summary"]) == ["zeta", "alpha", "mid"], d["summary"]
assert d["summary"] == {"zeta": 3, "alpha": "first after zeta", "mid": False}
assert [e["name"] for e in d["metrics"]] == ["flows", "packets", "big", "note", "mixed"]
assert d["metrics"][2]["value"] == [2**64 - 1, 2**53 + 1]
assert d["flows"] == 3
'
cub ac1 summary -o json >"$T/s.json" || fail "summary -o json"
check "summary json" "$T/s.json" 'assert list(d) == ["zeta", "alpha", "mid"], d'

# --- narrowed shows: an entry, its value, by both spellings ---
cub ac1 metrics flows show -o json >"$T/e.json" || fail "entry show"
check "entry json" "$T/e.json" '
assert d["name"] == "flows" and len(d["value"]) == 3, d
assert d["value"][2]["value"][3] == 2**64 - 3, d
'
cub ac1 metrics big value -o json >"$T/v.json" || fail "value show"
check "value json" "$T/v.json" 'assert d == [2**64 - 1, 2**53 + 1], d'
cub ac1 metrics big show value -o json >"$T/v2.json" || fail "show value"
cmp -s "$T/v.json" "$T/v2.json" || fail "show value differs: $(cat "$T/v2.json")"
cub ac1 metrics note value -o json >"$T/n.json" || fail "note value"
check "note json" "$T/n.json" 'assert d == "say \"hi\"\nline 2\\end", repr(d)'
# Text escapes control characters only: the newline shows as \n.
[ "$(cub ac1 metrics note value)" = 'say "hi"\nline 2\end' ] ||
	fail "note in text: $(cub ac1 metrics note value)"

# --- YAML: the same document ---
cub ac1 metrics show -o yaml >"$T/m.yaml" || fail "metrics show -o yaml"
python3 - "$T/m.json" "$T/m.yaml" <<'PY' || fail "yaml differs: $(cat "$T/m.yaml")"
import json, sys, yaml
j = json.load(open(sys.argv[1]))
y = yaml.safe_load(open(sys.argv[2]))
# YAML writes a bin as the JSON emitter does (base64 text).
assert y == j, (y, j)
assert [list(e["key"]) for e in y[0]["value"]] == [list(e["key"]) for e in j[0]["value"]]
PY

# --- text: one header, one row an entry, nested values as JSON ---
cub ac1 metrics show >"$T/m.txt" || fail "metrics show"
[ "$(wc -l <"$T/m.txt")" = 6 ] || fail "text rows: $(cat "$T/m.txt")"
grep -qE '^name +timestamp +value$' "$T/m.txt" || fail "text header: $(cat "$T/m.txt")"
grep -qF '[{"key":{"saddr":"198.18.0.0","daddr":"198.19.0.1","sport":1024,"dport":443,"proto":6},"value":[0,1,2,18446744073709551615]},' "$T/m.txt" ||
	fail "flows row: $(cat "$T/m.txt")"
grep -qE '^big +3 +\[?18446744073709551615,9007199254740993\]?$' "$T/m.txt" ||
	fail "big row: $(cat "$T/m.txt")"
grep -qE '^note +4 +say "hi"\\nline 2\\end$' "$T/m.txt" || fail "note row: $(cat "$T/m.txt")"
grep -qE '^mixed +5 +\[null,true,-5,0.5,"[A-Za-z0-9+/=]+",\{\},\[\],\{"deep":\[\{"x":1\}\]\}\]$' "$T/m.txt" ||
	fail "mixed row: $(cat "$T/m.txt")"
cub ac1 metrics flows show >"$T/e.txt" || fail "entry show (text)"
grep -qE '^name +flows$' "$T/e.txt" && grep -qE '^ +value +key$' "$T/e.txt" &&
	grep -qE '^ +0,1,2,18446744073709551615 +\{"saddr":"198.18.0.0",' "$T/e.txt" ||
	fail "entry in text: $(cat "$T/e.txt")"
cub ac1 show >"$T/c.txt" || fail "show (text)"
grep -qE '^summary:$' "$T/c.txt" && grep -qE '^  zeta +3$' "$T/c.txt" ||
	fail "cube in text: $(cat "$T/c.txt")"

# --- ro: a set or an add that gives it is refused, nothing changes ---
before=$(cub ac1 show -o json)
for cmd in "ac1 set summary=x" "ac1 metrics flows set value=1" \
	"ac1 metrics add x value=1"; do
	# shellcheck disable=SC2086
	err=$(cub_refused 2 $cmd)
	grep -q "read-only" <<<"$err" || fail "cubicle $cmd: $err"
done
err=$(cub_refused 2 ac1 set summary=x)
grep -qF "summary: is read-only" <<<"$err" || fail "set summary: $err"
printf '{"summary": {"a": 1}}\n' >"$T/body.json"
err=$("$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" ac1 set --file "$T/body.json" 2>&1) &&
	fail "set from a body accepted"
grep -qF "summary: is read-only" <<<"$err" || fail "set body: $err"
err=$(cub_refused 2 anycube add ac2 summary=x)
grep -qF "summary: is read-only" <<<"$err" || fail "add ac2: $err"
[ "$(cub ac1 show -o json)" = "$before" ] || fail "a refused set changed the cube"
cub_refused 2 ac2 show >/dev/null

# --- at size: a 4096-entry value, exactly, through every path ---
cub_ok ac1 set flows=4096
cub ac1 metrics flows value -o json >"$T/big.json" || fail "4096 flows"
check "4096 flows" "$T/big.json" '
assert len(d) == 4096, len(d)
assert d[4095]["key"]["saddr"] == "198.18.15.255", d[4095]
assert d[4095]["value"] == [40950, 40951, 40952, 2**64 - 4096], d[4095]
'
[ "$(cub ac1 metrics show | wc -l)" = 6 ] || fail "4096 flows broke the text rows"

# --- as deep as a reply may be (28 containers), and one more ---
cub_ok ac1 set deep=true
cub ac1 metrics show -o json >"$T/d.json" || fail "a 28-deep metrics show"
check "deep" "$T/d.json" '
v, n = d[5]["value"], 1
assert d[5]["name"] == "deep", d[5]
while isinstance(v, list):
    assert len(v) == 1, v
    v, n = v[0], n + 1
assert v == {"d": 26} and n == 26, (v, n)
'
cub ac1 metrics deep value -o json >/dev/null || fail "the deep value alone"
err=$(cub_refused 2 ac1 show)
grep -q "too-big" <<<"$err" && grep -q "nests 29 containers deep, over the 28" <<<"$err" ||
	fail "a 29-deep show: $err"
cub_ok ac1 set deep=false
cub_log "values: json, yaml, text, narrowed, ro refusals, 4096 entries, 28 deep"

# --- cubicle-gateway scrapes a cube whose schema has ANY fields ---
URL=http://127.0.0.1:9000/metrics
"$CUB_BUILD/gateway/cubicle-gateway" --user nobody --socket-dir "$T/s" \
	--metrics-service anycube >>"$T/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 300); do
	curl -sf -o /dev/null "$URL" && break
	kill -0 "$GW_PID" 2>/dev/null || { cat "$T/gw.log" >&2; fail "the gateway exited"; }
	sleep 0.1
done
curl -sS -o "$T/p.txt" "$URL" || { cat "$T/gw.log" >&2; fail "no /metrics"; }
grep -q '^anycube_flows_total{cube="ac1"} 4096$' "$T/p.txt" ||
	fail "gateway: $(grep -E 'anycube|scrape_errors' "$T/p.txt")"
grep -q '^cubicle_gateway_scrape_errors_total 0$' "$T/p.txt" ||
	fail "gateway scrape errors: $(grep scrape_errors "$T/p.txt"; cat "$T/gw.log")"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true
cub_log "gateway: anycube's metric families scraped, no error"

# --- a schema with a writable ANY field: the service is refused ---
grep -q "schema refused: schema: blob: a writable any field" "$T/broker.log" ||
	fail "anybad's schema not refused by name: $(grep -i anybad "$T/broker.log" | tail -5)"
cub_refused 2 anybad add ab1 >/dev/null
cub_log "writable any: refused, naming the field"
