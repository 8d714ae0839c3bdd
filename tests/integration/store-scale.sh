#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Defect 1 of issue 7: a store of 210 simpleforwarder cubes of 128 ports
# is written, and the next cubicled start reads it back (main refused it
# from about 127 cubes: over the wire's 256 Ki elements).  The cubes come
# back with the same configuration, and changes keep being acknowledged.
. "$(dirname "$0")/../lib/netns.sh"

N=${CUB_SCALE_CUBES:-210}
python3 -c '
import json
print(json.dumps({"ports": [{"name": "p%d" % i, "action": "forward",
    "outport": "p%d" % ((i + 1) % 128)} for i in range(128)]}))' >"$T/body.json"
broker_start
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
	cub_ok simpleforwarder add "sf$i" --file "$T/body.json"
done
cub_log "$N cubes of 128 ports created in $(echo "$(date +%s.%N) - $start" | bc) s," \
	"store $(stat -c %s "$T/st/state.db") bytes"
cubes_before=$(cub show cubes -o json)
[ "$(grep -c '"simpleforwarder"' <<<"$cubes_before")" = "$N" ] ||
	fail "not $N cubes: $cubes_before"
conf() { cub "$1" show -o json | grep -vE '_packets|_bytes|drops|slowpath|packet_ins'; }
first=$(conf sf1)
last=$(conf "sf$N")
grep -q '"p127"' <<<"$last" || fail "sf$N has no p127: $last"

kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
[ "$(cub show cubes -o json)" = "$cubes_before" ] || fail "cubes differ after restart"
[ "$(conf sf1)" = "$first" ] || fail "sf1 differs after restart"
[ "$(conf "sf$N")" = "$last" ] || fail "sf$N differs after restart"
# Still writable and read back after one more change.
cub_ok "sf$N" ports p5 set action=drop
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
[ "$(cub "sf$N" ports p5 show action)" = drop ] || fail "the last change was lost"
true
