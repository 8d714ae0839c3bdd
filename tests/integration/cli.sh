#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The CLI: help at every depth from the service's schema, output formats,
# JSON bodies from a file and from stdin, request ids applied once, and
# the event stream.
. "$(dirname "$0")/../lib/netns.sh"

netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
broker_start
cub events -o json --timeout 8000 >"$T/events" &
EV=$!
sleep 0.3

# Help at every depth.
grep -qE "^ *simpleforwarder +service" <<<"$(cub ?)" || fail "top help lacks the service: $(cub ?)"
grep -q "XDP_DRV" <<<"$(cub simpleforwarder ?)" || fail "service help lacks type values"
cub_ok simpleforwarder add sf1
grep -q "ports" <<<"$(cub sf1 ?)" || fail "cube help lacks ports"
h=$(cub sf1 ports ?)
grep -q "forward|drop|slowpath\|forward, drop, slowpath" <<<"$h" || fail "ports help lacks the action enum: $h"
grep -q "cubicle sf1 ports add <name>" <<<"$h" || fail "ports help lacks an example: $h"
cub sf1 ports p9 help >/dev/null || fail "help on a new entry failed"
cub_ok sf1 ports add p1 peer=vetha
grep -q "outport" <<<"$(cub sf1 ports p1 ?)" || fail "entry help lacks outport"

# The socket directory from the environment.
grep -q sf1 <<<"$(CUBICLE_SOCKET_DIR="$T/s" "$CUB_BUILD/sdk/cubicle" show cubes </dev/null)" ||
	fail "CUBICLE_SOCKET_DIR not used"

# Formats.
grep -q '"name": "sf1"' <<<"$(cub show cubes -o json)" || fail "json"
grep -q -- '- name: sf1' <<<"$(cub show cubes -o yaml)" || fail "yaml"
grep -q '"service": "simpleforwarder"' <<<"$(cub show cubes -json)" || fail "-json"
grep -qE "^name +service +owner +type +ports +pktin_sent +pktin_dropped$" <<<"$(cub show cubes | sed -n 1p)" || fail "text header: $(cub show cubes)"

# Bodies: --file and stdin (JSON), for a whole cube.
cat >"$T/sf2.json" <<'JSON'
{"type": "TC", "ports": [
  {"name": "a", "peer": "vethb", "action": "forward", "outport": "b"},
  {"name": "b", "action": "drop"}]}
JSON
cub_ok simpleforwarder add sf2 --file "$T/sf2.json"
[ "$(cub sf2 ports a show outport)" = b ] || fail "--file body not applied"
[ "$(cub sf2 ports a show peer)" = vethb ] || fail "--file body peer not applied"
cub_ok sf2 del
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" simpleforwarder add sf3 <"$T/sf2.json" ||
	fail "body from stdin refused"
[ "$(cub sf3 ports b show action)" = drop ] || fail "stdin body not applied"
cub_ok sf3 del

# A resent request (same id) is applied once and answered the same way.
cub_ok --rid r-test-1 sf1 ports add p2 peer=vethb
cub_ok --rid r-test-1 sf1 ports add p2 peer=vethb
[ "$(cub sf1 ports show -o json | grep -c '"name"')" = 2 ] || fail "resend applied twice"
err=$(cub_refused 2 --rid r-test-2 sf1 ports add p2 peer=vethb)
grep -q exists <<<"$err" || fail "new request id not applied: $err"
grep -q "answered again from cache" "$T/broker.log" || fail "no cache hit logged"

# Events: cube created, port up/down, worker restarted, cube deleted.
kill -9 "$(worker_pid simpleforwarder)"
sleep 0.3
broker_wait_ready
cub_ok sf1 ports del p2
cub_ok sf1 del
sleep 0.3
kill $EV 2>/dev/null || true
wait $EV 2>/dev/null || true
for ev in '"event":"cube.created","cube":"sf1"' '"event":"port.up","cube":"sf1","port":"p1"' \
	'"event":"worker.restarted","service":"simpleforwarder"' \
	'"event":"port.down","cube":"sf1","port":"p2"' '"event":"cube.deleted","cube":"sf1"'; do
	grep -qF "$ev" "$T/events" || fail "event $ev missing: $(cat "$T/events")"
done
cub_log "events: $(wc -l <"$T/events") received"
