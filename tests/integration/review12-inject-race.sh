#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 12, run by hand only (its outcome depends on timing, so it is
# not in tests/meson.build): two `dynmon inject` of one new cube at once,
# to different netdevs.  Each plans from `show topology` before it
# changes anything; the one whose add loses returns, but one that sees
# the other's cube (update) and attaches it elsewhere can make the
# creator's attach fail, and the creator's "undo the add" then deletes a
# cube the other inject reported as set up.  Checked: after both end, a
# cube exists and is attached wherever an inject that succeeded said.
#   CUB_BUILD=build tests/integration/review12-inject-race.sh [ROUNDS]
. "$(dirname "$0")/../lib/netns.sh"
need python3

D="$CUB_BUILD/plugins/dynmon"
PLUGINS+=("$D/dynmon.so")
broker_start
host_peer ns1 veth1 198.18.0.2 198.18.0.1
host_peer ns2 veth2 198.18.1.2 198.18.1.1
echo '{"ingress-path": {"name": "p"}, "egress-path": {}}' >"$T/c.json"
bad=0
for r in $(seq 1 "${1:-20}"); do
	cub dynmon inject mon1 veth1 "$T/c.json" >"$T/a.out" 2>&1 &
	a=$!
	cub dynmon inject mon1 veth2 "$T/c.json" >"$T/b.out" 2>&1 &
	b=$!
	ra=0 rb=0
	wait "$a" || ra=$?
	wait "$b" || rb=$?
	where=$(cub show topology -o json | python3 -c '
import json, sys
c = [c for c in json.load(sys.stdin)["cubes"] if c["name"] == "mon1"]
print(c[0].get("attached", "") if c else "missing")')
	if { [ "$ra" = 0 ] || [ "$rb" = 0 ]; } && [ "$where" = missing ]; then
		cub_log "round $r: BREAK: an inject succeeded, no mon1 ($ra: $(cat "$T/a.out" | tr '\n' ' ') / $rb: $(cat "$T/b.out" | tr '\n' ' '))"
		bad=1
	fi
	cub mon1 del >/dev/null 2>&1 || true
done
[ "$bad" = 0 ] || fail "concurrent injects lost a cube an inject reported"
