#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Polycube's NTP examples (plugins/dynmon/examples/ntp_*.json, unchanged)
# through the broker.  Their code adds the variable 4 * ihl to a packet
# pointer, which the hardened verifier refuses (docs/architecture.md,
# "Security"): without --unhardened-service the set is refused, naming
# the option, and the monitor keeps its previous program; with
# `--unhardened-service dynmon` both examples load and count NTP
# datagrams only, mode-7 ones apart, and pcn_log's %I:%P lines reach
# the cube's log at TRACE.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need python3

host_peer ns1 veth1 198.18.0.2 198.18.0.1

# udp PORT N [FIRST_BYTE]: N datagrams from ns1 to 198.18.0.1:PORT, from
# source port 40123, whose payload is 48 bytes (an NTP header) starting
# with FIRST_BYTE (0x1b: client, mode 3; 0x17: mode 7).
udp() {
	ip netns exec ns1 python3 - "$1" "$2" "${3:-27}" <<'PY'
import socket, sys
port, n, first = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.2", 40123))
for _ in range(n):
    s.sendto(bytes([first]) + b"\0" * 47, ("198.18.0.1", port))
PY
}
# metric CUBE NAME: the metric's value (an array of one counter, summed
# over the reads: each show is a delta only for swap/empty-on-read maps,
# and these are plain arrays, so it is the running count).
metric() {
	cub "$1" metrics ingress-metrics "$2" show -o json | python3 -c '
import json, sys
j = json.load(sys.stdin)
if isinstance(j, dict) and "ingress-metrics" in j:
    j = j["ingress-metrics"]
if isinstance(j, list):
    j = j[0]
v = j["value"]
print(v[0] if isinstance(v, list) else v)'
}

# ---- hardened (the default): refused, naming the option ----
CUB_BROKER_ARGS="$DM_ARGS"
broker_start
cub_ok dynmon add mon1
cub_ok attach mon1 veth1
err=$(cub_refused 2 mon1 set dataplane-config --file "$EX/ntp_packets_counter.json")
grep -qF -- "--unhardened-service" <<<"$err" ||
	fail "hardened refusal does not name the option: $err"
grep -qF "prohibited for !root" <<<"$err" ||
	fail "hardened refusal does not carry the verifier's reason: $err"
cub_log "hardened: $(head -c 300 <<<"$err")"
# The pass-through program is still there: the config did not change.
cub mon1 dataplane-config show -o json | grep -q NTP &&
	fail "a refused config was kept"
ip netns exec ns1 ping -c 3 -i 0.1 198.18.0.1 >/dev/null ||
	fail "ping through the pass-through monitor"
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true

# ---- --unhardened-service dynmon: both examples count ----
CUB_BROKER_ARGS="$DM_ARGS --unhardened-service dynmon"
broker_start
cub services -o json | grep '"hardened": *false' >/dev/null ||
	fail "cubicle services does not show dynmon unhardened: $(cub services -o json)"
cub_ok mon1 set dataplane-config --file "$EX/ntp_packets_counter.json"
cub_ok mon1 set loglevel=TRACE
udp 53 4
udp 123 5
n=$(metric mon1 ntp_packets_total) || fail "metrics show NTP_PACKETS_COUNTER"
[ "$n" = 5 ] || fail "NTP_PACKETS_COUNTER $n, expected 5 (4 DNS datagrams must not count)"
cub mon1 log show -o json >"$T/log.json"
grep -qE '198\.18\.0\.2:40123[^ ]{1,4}-> 198\.18\.0\.1:123' "$T/log.json" ||
	fail "pcn_log %I:%P line missing: $(tail -c 600 "$T/log.json")"
# `open-metrics show` prints the text itself (not a row with its
# newlines escaped): OpenMetrics's own parser takes the CLI's output.
cub mon1 open-metrics show >"$T/om.txt" || fail "open-metrics show"
/usr/bin/python3 - "$T/om.txt" <<'PY' || fail "open-metrics show's text: $(cat "$T/om.txt")"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
s = [x for f in fams if f.name == "ntp_packets" for x in f.samples]
assert len(s) == 1 and s[0].value == 5 and s[0].labels == {"IP_PROTO": "UDP", "L4": "NTP"}, s
PY
cub_log "ntp_packets_counter: 5 of 5 NTP datagrams counted, 4 DNS ones not"

cub_ok dynmon add mon7
cub_ok mon1 del
cub_ok attach mon7 veth1
cub_ok mon7 set dataplane-config --file "$EX/ntp_packets_ntp_mode_private_counters.json"
udp 123 3 27
udp 123 2 23
a=$(metric mon7 ntp_packets_total) || fail "metrics show mon7"
b=$(metric mon7 ntp_mode_private_packets_total) || fail "metrics show mon7 mode 7"
[ "$a" = 5 ] && [ "$b" = 2 ] ||
	fail "mode-7 example: $a NTP (want 5), $b mode 7 (want 2)"
cub_log "ntp mode 7: $a NTP datagrams, $b of mode 7"
cub_ok mon7 del
