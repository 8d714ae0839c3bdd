#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 13, first slice: cubicle-gateway's REST verbs under /polycube/v1/
# (gateway/rest.c, docs "cubicle-gateway", "REST"), through curl only,
# each checked against what the broker really has (cubicle ... show):
# simpleforwarder: a cube created by POST (with a body field), shown by
# GET, ports added by POST (key in the path, key in the body), a port's
# fields PATCHed (its peer: pings then count on it), a leaf PUT, a leaf
# read, the reset-counters action run (its answer, and the counts back
# to 0), a port and the cube DELETEd; dynmon: Polycube's own flow,
# `curl -X PUT --upload-file cfg.json .../dynmon/dm1/dataplane-config`,
# then the metric read back by GET after pings.  Refusals: bad JSON, a
# bad path, an unknown service, a cube of another service, a wrong verb
# (405 with Allow), a refused value, an existing cube, a non-JSON body, a
# body over 1 MiB: each a JSON error {code, name, message} with its
# status, and nothing changed.  /openapi.json parses and names every path
# and verb the test used.  Bearer tokens (--tokens, stored hashed): an
# admin tenant's write applied and logged with its name, a reader
# tenant's refused, unknown ones 401, off loopback no token 401.  Last,
# under a broker without --gateway-may reader,admin: reads work, writes
# get 403 with the broker's message.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need setpriv curl python3
B=http://127.0.0.1:9000/polycube/v1
SF=$B/simpleforwarder
CUB_BROKER_ARGS="$DM_ARGS --gateway-may reader,admin"
gateway_broker_args
broker_start
# Bearer tokens, stored hashed, in a file only root reads (the gateway
# reads it before it leaves root).
printf '# tenant role sha256\nalice admin %s\nbob reader %s\n' \
	"$(printf %s tok-alice | sha256sum | cut -d' ' -f1)" \
	"$(printf %s tok-bob | sha256sum | cut -d' ' -f1)" >"$T/tokens"
chmod 0600 "$T/tokens"
gateway_start 9000 --tokens "$T/tokens"

# req METHOD URL [CURL ARGS...]: the status; the answer in $T/out, the
# head in $T/hdr.
req() {
	local m=$1 u=$2
	shift 2
	curl -sS -X "$m" -o "$T/out" -D "$T/hdr" -w '%{http_code}' "$@" "$u"
}
J=(-H 'Content-Type: application/json')
# pj EXPR: EXPR of the JSON j on stdin.
pj() { python3 -c "import json,sys; j=json.load(sys.stdin); print(($1))"; }
# expect STATUS METHOD URL [ARGS...]: the status must be STATUS.
expect() {
	local want=$1 got
	shift
	got=$(req "$@") || fail "curl $*: failed"
	[ "$got" = "$want" ] || fail "$1 $2: status $got, expected $want: $(cat "$T/out")"
}
# err_is STATUS NAME REGEX METHOD URL [ARGS...]: a JSON error with its
# status, name and a message matching REGEX, and nothing changed.
snapshot() {
	cub cubes -o json
	cub sf1 show -o json
	cub dm1 dataplane-config show -o json 2>&1 || true
}
err_is() {
	local st=$1 name=$2 re=$3
	shift 3
	expect "$st" "$@"
	python3 - "$T/out" "$name" "$re" <<'PY' || fail "$1 $2: bad error: $(cat "$T/out")"
import json, re, sys
e = json.load(open(sys.argv[1]))["error"]
assert set(e) == {"code", "name", "message"}, e
assert e["name"] == sys.argv[2], e
assert isinstance(e["code"], int) and e["code"] > 0, e
assert re.search(sys.argv[3], e["message"]), e
PY
	[ "$(snapshot)" = "$before" ] || fail "$1 $2 changed the broker's state"
	cub_log "$1 $2: $st $(pj 'j["error"]["name"] + ": " + j["error"]["message"]' <"$T/out")"
}

# ---- simpleforwarder: POST, GET ----
expect 201 POST "$SF/sf1/" "${J[@]}" -d '{"loglevel": "DEBUG"}'
[ "$(cub sf1 show -o json | pj 'j["service"], j["loglevel"]')" = "('simpleforwarder', 'DEBUG')" ] ||
	fail "POST sf1: the broker has $(cub sf1 show -o json)"
expect 200 GET "$SF/sf1/"
[ "$(pj 'j["name"], j["service"], j["loglevel"]' <"$T/out")" = "('sf1', 'simpleforwarder', 'DEBUG')" ] ||
	fail "GET sf1: $(cat "$T/out")"
expect 200 GET "$SF/"
pj '[c["name"] for c in (j if isinstance(j, list) else j["cubes"])]' <"$T/out" | grep -q "'sf1'" ||
	fail "GET /simpleforwarder/ lists no sf1: $(cat "$T/out")"
expect 200 GET "$B/cubes"
grep -q '"sf1"' "$T/out" || fail "GET /cubes: $(cat "$T/out")"
# The same tree without the prefix.
expect 200 GET http://127.0.0.1:9000/simpleforwarder/sf1/loglevel
[ "$(pj 'j' <"$T/out")" = DEBUG ] || fail "GET without the prefix: $(cat "$T/out")"
cub_log "POST, GET of the cube (with and without /polycube/v1); /simpleforwarder/ and /cubes list it"

# ---- ports: key in the path, key in the body ----
expect 201 POST "$SF/sf1/ports/p1/" "${J[@]}" -d '{}'
expect 201 POST "$SF/sf1/ports/" "${J[@]}" -d '{"name": "p2", "action": "slowpath"}'
[ "$(cub sf1 ports show -o json | pj 'sorted((p["name"], p["action"]) for p in j)')" = \
	"[('p1', 'drop'), ('p2', 'slowpath')]" ] || fail "ports: $(cub sf1 ports show -o json)"
expect 200 GET "$SF/sf1/ports/p2/"
[ "$(pj 'j["name"], j["action"]' <"$T/out")" = "('p2', 'slowpath')" ] || fail "GET p2: $(cat "$T/out")"
cub_log "ports p1 (key in the path), p2 (key in the body) added"

# ---- PATCH a port (its peer: traffic counts on it), PUT leaves ----
host_peer ns1 veth1 198.18.0.2 198.18.0.1
expect 200 PATCH "$SF/sf1/ports/p1/" "${J[@]}" -d '{"peer": "veth1", "action": "forward", "outport": "p2"}'
[ "$(cub sf1 ports p1 show -o json | pj 'j["peer"], j["action"], j["outport"]')" = \
	"('veth1', 'forward', 'p2')" ] || fail "PATCH p1: $(cub sf1 ports p1 show -o json)"
expect 200 PUT "$SF/sf1/ports/p1/action" "${J[@]}" -d '"drop"'
[ "$(cub sf1 ports p1 show -o json | pj 'j["action"], j["outport"]')" = "('drop', 'p2')" ] ||
	fail "PUT p1/action: $(cub sf1 ports p1 show -o json)"
expect 200 PUT "$SF/sf1/loglevel" "${J[@]}" -d '"WARN"'
[ "$(cub sf1 show -o json | pj 'j["loglevel"]')" = WARN ] || fail "PUT loglevel: $(cub sf1 show -o json)"
expect 200 GET "$SF/sf1/ports/p1/action/"
[ "$(pj 'j' <"$T/out")" = drop ] || fail "GET p1/action: $(cat "$T/out")"
# Expect: 100-continue is answered (curl would wait 20 s for it, past
# its --max-time).
expect 200 PATCH "$SF/sf1/ports/p2/" "${J[@]}" -H 'Expect: 100-continue' \
	--expect100-timeout 20 --max-time 10 -d '{"action": "drop"}'
grep -q '^HTTP/1.1 100 Continue' "$T/hdr" || fail "no 100 Continue: $(cat "$T/hdr")"
[ "$(cub sf1 ports p2 show -o json | pj 'j["action"]')" = drop ] ||
	fail "PATCH p2 with Expect: $(cub sf1 ports p2 show -o json)"
cub_log "PATCH p1 (peer, action, outport), PUT p1/action and loglevel, GET a leaf, Expect: 100-continue"

# ---- the action: counts, reset-counters, zero ----
ip netns exec ns1 ping -c 5 -i 0.05 -W 1 198.18.0.1 >/dev/null 2>&1 || true
rx=$(cub sf1 ports p1 show -o json | pj 'j["rx_packets"]')
[ "$rx" -ge 5 ] || fail "p1 counted $rx of 5 pings"
expect 200 POST "$SF/sf1/reset-counters" "${J[@]}" -d '{}'
[ "$(pj 'j["ports"]' <"$T/out")" = 2 ] || fail "reset-counters answered $(cat "$T/out")"
rx2=$(cub sf1 ports p1 show -o json | pj 'j["rx_packets"]')
[ "$rx2" -lt "$rx" ] && [ "$rx2" -le 1 ] || fail "after reset-counters p1 has rx_packets $rx2 (was $rx)"
cub_log "reset-counters: {ports: 2}, rx_packets $rx -> $rx2"

# ---- dynmon: Polycube's flow ----
expect 201 POST "$B/dynmon/dm1/" "${J[@]}" -d '{}'
host_peer ns2 veth2 198.18.1.2 198.18.1.1
cub_ok attach dm1 veth2
cp "$EX/packet_counter.json" "$T/cfg.json"
code=$(curl -sS -o "$T/out" -w '%{http_code}' -X PUT --upload-file "$T/cfg.json" \
	"$B/dynmon/dm1/dataplane-config") || fail "curl --upload-file"
[ "$code" = 200 ] || fail "PUT dataplane-config: $code $(cat "$T/out")"
[ "$(cub dm1 dataplane-config show -o json | dm_canon)" = "$(dm_canon <"$T/cfg.json")" ] ||
	fail "dataplane-config after PUT: $(cub dm1 dataplane-config show -o json)"
ip netns exec ns2 ping -c 10 -i 0.05 -W 1 198.18.1.1 >/dev/null 2>&1 ||
	fail "pings through dm1"
expect 200 GET "$B/dynmon/dm1/metrics/ingress-metrics/packets_total/"
n=$(pj 'j["value"][0]' <"$T/out")
[ "$n" -ge 10 ] || fail "packets_total $n for 10 pings: $(cat "$T/out")"
expect 200 GET "$B/dynmon/dm1/dataplane-config/ingress-path/name"
[ "$(pj 'j' <"$T/out")" = "Packets counter probe" ] || fail "GET ingress-path/name: $(cat "$T/out")"
# polycubed's /polycube/v1/metrics: the gateway's /metrics.
curl -sS "$B/metrics" >"$T/metrics.txt" || fail "GET /polycube/v1/metrics"
grep -q '^packets_total{.*cube="dm1"' "$T/metrics.txt" ||
	fail "/polycube/v1/metrics: no packets_total of dm1: $(grep packets_total "$T/metrics.txt")"
cub_log "dynmon: PUT --upload-file dataplane-config; packets_total $n for 10 pings"

# ---- refusals: JSON errors, nothing changed ----
before=$(snapshot)
err_is 400 bad-message "not JSON" POST "$SF/sf1/ports/p3/" "${J[@]}" -d '{"action": '
err_is 404 not-found "no field or action named 'nosuch'" GET "$SF/sf1/nosuch/"
err_is 404 not-found "no service named 'nosuchsvc'" GET "$B/nosuchsvc/x/"
err_is 404 not-found "no simpleforwarder cube named 'dm1'" PATCH "$SF/dm1/" "${J[@]}" -d '{"loglevel": "ERR"}'
err_is 404 not-found "p9" DELETE "$SF/sf1/ports/p9/"
err_is 405 unknown-command "a field takes GET, PUT, PATCH" DELETE "$SF/sf1/loglevel"
grep -qi '^Allow: GET, PUT, PATCH' "$T/hdr" || fail "405 without Allow: $(cat "$T/hdr")"
err_is 405 unknown-command "GET only" POST "$B/cubes" "${J[@]}" -d '{}'
err_is 405 unknown-command "GET, POST, PUT, PATCH or DELETE" OPTIONS "$SF/sf1/"
err_is 400 invalid-value "explode" PATCH "$SF/sf1/ports/p1/" "${J[@]}" -d '{"action": "explode"}'
err_is 400 invalid-value "takes a JSON value.*not a map" PUT "$SF/sf1/ports/p1/action" "${J[@]}" -d '{"a": 1}'
err_is 409 exists "sf1" POST "$SF/sf1/" "${J[@]}" -d '{}'
err_is 415 wrong-type "must be JSON" POST "$SF/sf1/ports/p3/" -H 'Content-Type: text/plain' -d '{}'
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
err_is 413 too-big "over 1048576 bytes" POST "$SF/sf1/ports/p3/" "${J[@]}" --data-binary @"$T/big.json"
err_is 401 permission-denied "the bearer token is not known" GET "$SF/sf1/" -H 'Authorization: Bearer tok-alicE'
err_is 401 permission-denied "not Bearer" GET "$SF/sf1/" -H 'Authorization: Basic YTpi'

# ---- bearer tokens: alice (admin) writes, bob (reader) reads ----
expect 200 PATCH "$SF/sf1/" "${J[@]}" -H 'Authorization: Bearer tok-alice' -d '{"loglevel": "ERR"}'
[ "$(cub sf1 show -o json | pj 'j["loglevel"]')" = ERR ] || fail "alice's PATCH: $(cub sf1 show -o json)"
grep -q "on behalf of user 'alice' (role admin): simpleforwarder sf1 set" "$T/broker.log" ||
	fail "alice's request is not logged as hers"
expect 200 GET "$SF/sf1/loglevel" -H 'Authorization: Bearer tok-bob'
[ "$(pj 'j' <"$T/out")" = ERR ] || fail "bob's GET: $(cat "$T/out")"
before=$(snapshot)
err_is 403 permission-denied "reader" PATCH "$SF/sf1/" "${J[@]}" -H 'Authorization: Bearer tok-bob' -d '{"loglevel": "INFO"}'
# Not over loopback: a token is needed.
ip link add gw0 type veth peer name gw1
ip addr add 198.18.5.1/24 dev gw0
ip link set gw0 up
ip link set gw1 up
"$GW" --user nobody --socket-dir "$T/s" --listen 198.18.5.1:9001 \
	--tokens "$T/tokens" >>"$T/gw-9001.log" 2>&1 &
GW2_PID=$!
for _ in $(seq 1 300); do
	curl -sf -o /dev/null http://198.18.5.1:9001/metrics && break
	sleep 0.1
done
R=http://198.18.5.1:9001/polycube/v1/simpleforwarder
err_is 401 permission-denied "a bearer token is needed" GET "$R/sf1/"
err_is 401 permission-denied "a bearer token is needed" DELETE "$R/sf1/"
expect 200 GET "$R/sf1/" -H 'Authorization: Bearer tok-bob'
[ "$(pj 'j["name"]' <"$T/out")" = sf1 ] || fail "GET over 198.18.5.1: $(cat "$T/out")"
kill "$GW2_PID"
wait "$GW2_PID" 2>/dev/null || true
cub_log "tokens: alice's PATCH applied and logged as hers, bob reads and is refused writes, no token off loopback: 401"

# ---- /openapi.json names every path and verb used ----
expect 200 GET http://127.0.0.1:9000/openapi.json
python3 - "$T/out" <<'PY' || fail "openapi.json (above)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["openapi"].startswith("3.0."), d["openapi"]
assert d["info"]["title"] and d["info"]["version"]
P = d["paths"]
S = "/polycube/v1/simpleforwarder/{cube}"
M = "/polycube/v1/dynmon/{cube}"
used = {
    S + "/": {"get", "post", "patch", "delete"},
    S + "/ports/": {"get", "post"},
    S + "/ports/{name}/": {"get", "post", "patch", "delete"},
    S + "/ports/{name}/action/": {"get", "put"},
    S + "/loglevel/": {"put"},
    S + "/reset-counters/": {"post"},
    M + "/": {"post", "delete"},
    M + "/dataplane-config/": {"put"},
    M + "/dataplane-config/ingress-path/name/": {"get"},
    M + "/metrics/ingress-metrics/{name}/": {"get"},
    "/polycube/v1/simpleforwarder/": {"get"},
    "/polycube/v1/cubes/": {"get"},
}
for p, verbs in used.items():
    assert p in P, "no path " + p
    assert verbs <= set(P[p]), (p, sorted(P[p]))
    for v in verbs:
        assert "responses" in P[p][v], (p, v)
    for prm in P[p].get("parameters", []):
        assert prm["in"] == "path" and "{%s}" % prm["name"] in p, (p, prm)
    for name in [s[1:-1] for s in p.split("/") if s.startswith("{")]:
        assert any(x["name"] == name for x in P[p]["parameters"]), (p, name)
comp = d["components"]["schemas"]
def refs(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "$ref":
                yield x
            else:
                yield from refs(x)
    elif isinstance(v, list):
        for x in v:
            yield from refs(x)
for r in refs(d):
    assert r.startswith("#/components/schemas/") and r.split("/")[-1] in comp, r
sf = comp["simpleforwarder"]["properties"]
port = sf["ports"]["items"]["properties"]
assert port["action"]["enum"] == ["drop", "forward", "slowpath"] or \
    set(port["action"]["enum"]) == {"drop", "forward", "slowpath"}, port["action"]
assert port["name"].get("x-key") is True, port["name"]
assert port["rx_packets"]["readOnly"] is True and port["rx_packets"]["type"] == "integer"
assert sf["loglevel"]["description"], sf["loglevel"]
assert "dataplane-config" in comp["dynmon"]["properties"]
assert set(comp["Error"]["properties"]["error"]["properties"]) == {"code", "name", "message"}
print("openapi: %d paths" % len(P), file=sys.stderr)
PY
cub_log "/openapi.json: OpenAPI 3.0, every path and verb used, refs resolve"

# ---- DELETE a port, the cubes ----
expect 200 DELETE "$SF/sf1/ports/p2/"
[ "$(cub sf1 ports show -o json | pj 'sorted(p["name"] for p in j)')" = "['p1']" ] ||
	fail "DELETE p2: $(cub sf1 ports show -o json)"
expect 200 DELETE "$B/dynmon/dm1/"
if cub dm1 show >/dev/null 2>&1; then fail "DELETE dm1: the broker still has dm1"; fi
cub_log "DELETE p2, dm1"

# ---- without --gateway-may reader,admin: reads work, writes 403 ----
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
CUB_BROKER_ARGS="--socket-group 65534 --gateway-group 65534 $DM_ARGS"
broker_start
for _ in $(seq 1 100); do
	[ "$(req GET "$SF/sf1/")" = 200 ] && break
	sleep 0.1
done
expect 200 GET "$SF/sf1/"
[ "$(pj 'j["name"]' <"$T/out")" = sf1 ] || fail "GET sf1 after the restart: $(cat "$T/out")"
before=$(snapshot)
err_is 403 permission-denied "may not vouch for role admin.*reader only" PATCH "$SF/sf1/" "${J[@]}" -d '{"loglevel": "ERR"}'
err_is 403 permission-denied "may not vouch for role admin" DELETE "$SF/sf1/"
cub_log "reader-only gateway: GET works, PATCH and DELETE 403"

gw_sanitizer_check "$T/gw-9000.log"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true
cub_log "ok"
