#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 11: one cube blanks other cubes' metrics on /metrics.  A cube
# whose only family is a gauge named famcube_packets_total (valid alone:
# famcube squat=true) clashes with every famcube_packets counter (sample
# famcube_packets_total).  Since families_fit() a cube that clashes is
# skipped alone, but the first cube in the broker's listing won the
# clash, and the broker lists the newest cube first: a squatter created
# after fc1 and fc2 took the name and left their metrics out.  In a
# shared metric service (dynmon: the user picks the metric names) one
# tenant hid the others'.
# Fixed (docs "cubicle-gateway", "Family clashes"): a family served holds
# its name for --family-hold after its last cube stops exporting it, and
# cubes are merged oldest first.  Checked here: squatters by sample name
# (zz), by type (zy) and by help (zx, same type: its samples join, the
# first help stays) lose to fc1 and fc2, with the gateway running before
# them and with a gateway started after them (no memory: oldest first);
# the oldest cube's own new help does not replace the one served;
# while fc1 and fc2 fail for a moment the name stays theirs, and is only
# free --family-hold after.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need setpriv curl
URL=http://127.0.0.1:9000/metrics
HELP='# HELP famcube_packets_total Packets "seen" by \\famcube\nper path.'
PLUGINS+=("$CUB_BUILD/plugins/testing/famcube.so")
gateway_broker_args
broker_start
cub_ok famcube add fc1 >/dev/null
cub_ok famcube add fc2 >/dev/null
gateway_start 9000 --metrics-service famcube --family-hold 1500
curl -sS -o "$T/before.txt" "$URL" || fail "no /metrics"
grep -q '^famcube_packets_total{path="in",cube="fc1"}' "$T/before.txt" ||
	fail "fc1's metrics missing before the squatter: $(grep famcube "$T/before.txt")"

# served FILE: fc1's and fc2's counters are in FILE, with their help, and
# none of zz's and zy's samples.
served() {
	local c
	for c in fc1 fc2; do
		grep -q "^famcube_packets_total{path=\"in\",cube=\"$c\"} " "$1" ||
			fail "$2: $c's famcube_packets missing: $(grep -c '^famcube' "$1") famcube lines"
	done
	grep -qF "$HELP" "$1" || fail "$2: famcube_packets' help is not fc1's: $(grep 'HELP famcube_packets' "$1")"
	! grep -qE '^famcube.*cube="z[zy]"' "$1" ||
		fail "$2: a squatter's samples: $(grep -E '^famcube.*cube="z[zy]"' "$1")"
}

cub_ok famcube add zz squat=true >/dev/null
cub_ok famcube add zy squat_type=true >/dev/null
cub_ok famcube add zx squat_help=true >/dev/null
curl -sS -o "$T/after.txt" "$URL" || fail "no /metrics"
served "$T/after.txt" "squatters after the gateway started"
grep -q '^famcube_packets_total{path="in",cube="zx"} 3$' "$T/after.txt" ||
	fail "zx's sample (same name, type) did not join: $(grep 'cube="zx"' "$T/after.txt")"
for c in zz zy; do
	grep -q "scrape: cube '$c' skipped: .*(with a family served before)" "$T/gw-9000.log" ||
		fail "$c's skip is not logged: $(cat "$T/gw-9000.log")"
done
clashes=$(gw_sample 9000 cubicle_gateway_family_clashes_total)
[ "$clashes" -ge 2 ] || fail "cubicle_gateway_family_clashes_total $clashes"
cub_log "zz, zy skipped ($clashes clashes counted), zx joined with fc1's help"

# A gateway started after the squatters: no memory, oldest cube first.
kill "$GW_PID"
wait "$GW_PID" || fail "the gateway exited $? on SIGTERM"
gateway_start 9000 --metrics-service famcube --family-hold 1500
curl -sS -o "$T/restart.txt" "$URL" || fail "no /metrics"
served "$T/restart.txt" "a gateway started after the squatters"
cub_log "restarted gateway: fc1 and fc2 still win (oldest first)"
# The oldest cube changing its help: the help served first stays.
cub_ok fc1 set squat_help=true
curl -sS -o "$T/rehelp.txt" "$URL" || fail "no /metrics"
grep -qF "$HELP" "$T/rehelp.txt" ||
	fail "fc1's new help replaced the one served: $(grep 'HELP famcube_packets' "$T/rehelp.txt")"
grep -q '^famcube_packets_total{path="in",cube="fc1"} 3$' "$T/rehelp.txt" ||
	fail "fc1's new sample: $(grep 'cube="fc1"' "$T/rehelp.txt" | grep ^famcube)"
cub_ok fc1 set squat_help=false
cub_log "the oldest cube's new help does not replace the one served"

# fc1 and fc2 fail for a moment: the name stays theirs.
cub_ok zx del
cub_ok zy del
cub_ok fc1 set fail=true
cub_ok fc2 set fail=true
curl -sS -o "$T/down.txt" "$URL" || fail "no /metrics"
! grep -q '^famcube.*cube="zz"' "$T/down.txt" ||
	fail "zz took famcube_packets' name while fc1 and fc2 failed"
# --family-hold (1.5 s) after they were last served, the name is free.
ok=
for _ in $(seq 1 300); do
	if curl -sS "$URL" | grep -q '^famcube_packets_total{cube="zz"} 1$'; then
		ok=1
		break
	fi
	sleep 0.1
done
[ -n "$ok" ] || fail "zz not served 30 s after the others stopped exporting famcube_packets"
cub_log "held while fc1, fc2 failed; free after --family-hold"
kill "$GW_PID"
wait "$GW_PID" || fail "the gateway exited $? on SIGTERM"
gw_sanitizer_check "$T/gw-9000.log"
