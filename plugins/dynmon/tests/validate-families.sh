#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon-families-valid: dynmon_decode's families, rendered by
# cub_om_render(), pass python3-prometheus-client's OpenMetrics parser and
# promtool check metrics (Prometheus text), with the values expected.
set -euo pipefail
render=$1
# Debian's python3 (the package's module is in its dist-packages), not one
# earlier on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian prometheus)"; exit 77; }
"$py" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
	{ echo "SKIP: no python3-prometheus-client"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$render" "$dir/om.txt" "$dir/prom.txt"

promtool check metrics < "$dir/prom.txt" || { cat "$dir/prom.txt"; exit 1; }

"$py" - "$dir/om.txt" <<'PY'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def samples(name):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for s in fams[name].samples}

def check(cond, what):
    if not cond:
        print(text)
        sys.exit("FAIL: " + what)

ntp = samples("ntp_packets")
check(fams["ntp_packets"].type == "counter", "ntp type")
check(fams["ntp_packets"].documentation == 'NTP packets \\ "quoted"\nsecond line', "help escaped")
check(ntp[("ntp_packets_total", (("IP_PROTO", "UDP"), ("L4", 'NTP "v4"\\x'), ("cube", "mon1")))] == 84,
      "ntp counter totals over two reads: %r" % ntp)
check(samples("queue_depth")[("queue_depth", (("cube", "mon1"),))] == 7, "gauge summed over CPUs")
ports = samples("port_packets")
check(ports[("port_packets_total", (("cube", "mon1"), ("index", "3")))] == 16, "array by index")
flows = samples("flow_bytes")
check(len(flows) == 4096, "flows capped at DM_SERIES_MAX: %d" % len(flows))
key = ("flow_bytes_total", (("cube", "mon1"), ("daddr", "192.168.1.1"), ("dport", "123"),
       ("ifname", "veth0"), ("mac", "02:00:00:00:00:01"), ("proto", "17"),
       ("saddr", "10.0.0.100"), ("sport", "40099")))
check(flows.get(key) == 2 * 1099, "flow labels: %r" % list(flows)[:2])
lat = samples("latency_seconds")
check(fams["latency_seconds"].type == "histogram", "histogram type")
check(lat[("latency_seconds_bucket", (("cube", "mon1"), ("le", "+Inf")))] == 90, "+Inf")
check(lat[("latency_seconds_count", (("cube", "mon1"),))] == 90, "_count")
check(abs(lat[("latency_seconds_sum", (("cube", "mon1"),))] - 2 * 10 * 1e-6) < 1e-12, "_sum")
check(lat[("latency_seconds_bucket", (("cube", "mon1"), ("le", "4e-06")))] == 12, "exp2 bucket: %r" % lat)
sz = samples("packet_size_bytes")
check(sz[("packet_size_bytes_bucket", (("cube", "mon1"), ("le", "512.0")))] == 2 * (0 + 3 + 6), "linear bucket: %r" % sz)
check(sz[("packet_size_bytes_sum", (("cube", "mon1"),))] == 2 * 15 * 256, "linear sum")
print("ok: %d families" % len(fams))
PY
