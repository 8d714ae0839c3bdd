#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon-reader-valid: the reader's OpenMetrics and Prometheus text (its
# cumulative totals after two rounds of traffic, a CLI show in between)
# pass python3-prometheus-client's OpenMetrics parser and promtool check
# metrics, with the totals of both rounds.
set -euo pipefail
test=$1
shift
py=/usr/bin/python3
[ -x "$py" ] || py=python3
command -v promtool >/dev/null || { echo "SKIP: no promtool (Debian prometheus)"; exit 77; }
"$py" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
	{ echo "SKIP: no python3-prometheus-client"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$test" --render "$dir/om.txt" "$dir/prom.txt" "$@"

promtool check metrics < "$dir/prom.txt" || { cat "$dir/prom.txt"; exit 1; }
grep -q '^sw_pc_total 5$' "$dir/prom.txt" || { cat "$dir/prom.txt"; exit 1; }

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

# reader_test.c's traffic(0) and traffic(3): sw_pc += 1, then 4; sw_port
# 1000 += 2, 1001 += 1, then 1008 += 2, 1010 += 1; e_port 1001 += 3, then
# 1010 += 3; hist buckets 0, then 3.
check(fams["sw_pc"].type == "counter", "sw_pc type")
check(samples("sw_pc")[("sw_pc_total", ())] == 5, "sw_pc: %r" % samples("sw_pc"))
sp = samples("sw_port")
check(sp[("sw_port_total", (("key", "1000"),))] == 2, "sw_port 1000: %r" % sp)
check(sp[("sw_port_total", (("key", "1001"),))] == 1, "sw_port 1001: %r" % sp)
check(sp[("sw_port_total", (("key", "1008"),))] == 2, "sw_port 1008: %r" % sp)
check(sp[("sw_port_total", (("key", "1010"),))] == 1, "sw_port 1010: %r" % sp)
ep = samples("e_port")
check(ep[("e_port_total", (("key", "1001"),))] == 3, "e_port 1001: %r" % ep)
check(ep[("e_port_total", (("key", "1010"),))] == 3, "e_port 1010: %r" % ep)
h = samples("hist")
check(fams["hist"].type == "histogram", "hist type")
check(h[("hist_count", ())] == 2, "hist count: %r" % h)
b = {float(dict(l)["le"]): v for (n, l), v in h.items() if n == "hist_bucket"}
check(b[1.0] == 1 and b[2.0] == 1 and b[4.0] == 1 and b[8.0] == 2 and
      b[float("inf")] == 2, "cumulative exp2 buckets: %r" % b)
check(samples("a_cnt")[("a_cnt_total", (("index", "0"), ("site", 'a"b')))] == 0, "a_cnt")
check(fams["g_lvl"].type == "gauge", "g_lvl gauge")
print("ok: %d families" % len(fams))
PY
