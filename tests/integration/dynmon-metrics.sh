#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon's metrics through the CLI (the plugin's show with the reader,
# plugins/dynmon/reader.c): Polycube's JSON for the packet counter
# (whole, one path, one metric); OpenMetrics text that
# python3-prometheus-client's parser takes; swap-on-read under a ping
# stream: successive reads sum to the packets sent, exactly, and a show of
# metric-families (the gateway's) between them takes nothing from the
# next read; the per-flow bytes example as Polycube's hash shape and as
# labelled OpenMetrics samples; the packet-size histogram's buckets;
# Polycube's test_map_extraction and test_queuestack give its exact JSON;
# cubicle-gateway's /metrics with the monitor's counter, in both formats
# through both validators.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need python3 curl promtool setpriv
/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' 2>/dev/null ||
	fail "python3-prometheus-client is not installed"

LIB="$(dirname "$0")/../lib"
# nobody (65534) is the gateway.
chmod 0711 "$T"
CUB_BROKER_ARGS="$DM_ARGS --socket-group 65534 --gateway-group 65534"
broker_start
host_peer ns1 veth1 198.18.0.2 198.18.0.1
pings() { # N: N pings from ns1, all answered?
	ip netns exec ns1 ping -c "$1" -i 0.02 -W 1 198.18.0.1 >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
# jq-like: python3 EXPR on the JSON of stdin (as j)
pj() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
# open-metrics show's text (the CLI's table escapes newlines: -o json)
omtext() {
	cub "$1" open-metrics show -o json | python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.stdout.write(j["open-metrics"] if isinstance(j, dict) else j)'
}
om_check() { # FILE: the OpenMetrics parser takes it; prints name value per sample
	/usr/bin/python3 - "$1" <<'EOF'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        lab = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print(s.name, lab, int(s.value) if s.value == int(s.value) else s.value)
EOF
}

# ---- the packet counter: Polycube's JSON, one path, one metric ----
cub_ok dynmon add mon1
cub_ok attach mon1 veth1
cub_ok mon1 dataplane-config set --file "$EX/packet_counter.json"
pings 20 || fail "ping through the packet counter"
cub mon1 metrics show -o json >"$T/m.json" || fail "metrics show: $(cat "$T/m.json")"
n=$(pj 'j["ingress-metrics"][0]["value"][0] if j["ingress-metrics"][0]["name"] == "packets_total" else -1' <"$T/m.json")
[ "$n" -ge 20 ] || fail "metrics show: packets_total $n for 20 pings: $(cat "$T/m.json")"
[ "$(pj 'len(j.get("egress-metrics", []))' <"$T/m.json")" = 0 ] || fail "egress metrics: $(cat "$T/m.json")"
pj 'j["ingress-metrics"][0]["timestamp"]' <"$T/m.json" >/dev/null || fail "no timestamp"
one=$(cub mon1 metrics ingress-metrics packets_total show -o json | pj 'j["value"][0]') ||
	fail "metrics ingress-metrics packets_total show failed"
[ "$one" -ge "$n" ] || fail "one metric: $one, the whole show said $n"
refused_msg=$(cub_refused 2 mon1 metrics ingress-metrics nosuch show)
grep -q "nosuch" <<<"$refused_msg" || fail "an unknown metric: $refused_msg"
omtext mon1 >"$T/om.txt" || fail "open-metrics show"
grep -q '^# EOF' "$T/om.txt" || fail "no # EOF: $(cat "$T/om.txt")"
om_check "$T/om.txt" >"$T/om.samples" || fail "the OpenMetrics parser refused: $(cat "$T/om.txt")"
grep -qE "^packets_total  [0-9]+$" "$T/om.samples" || fail "no packets_total sample: $(cat "$T/om.samples")"
cub_log "packet counter: $n in metrics show, open-metrics: $(tr '\n' ' ' <"$T/om.samples")"

# ---- cubicle-gateway: the counter in /metrics, both formats ----
URL=http://127.0.0.1:9000/metrics
OM='Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5'
"$CUB_BUILD/gateway/cubicle-gateway" --user nobody --socket-dir "$T/s" >>"$T/gw.log" 2>&1 &
for _ in $(seq 1 300); do
	curl -sf -o /dev/null "$URL" && break
	sleep 0.1
done
curl -sS -H "$OM" -o "$T/gw.om" "$URL" || fail "curl /metrics: $(cat "$T/gw.log")"
curl -sS -o "$T/gw.prom" "$URL" || fail "curl /metrics (Prometheus)"
om_check "$T/gw.om" >"$T/gw.samples" || fail "the gateway's OpenMetrics: $(cat "$T/gw.om")"
g=$(awk '$1 == "packets_total" && $2 == "cube=mon1" { print $3 }' "$T/gw.samples")
[ -n "$g" ] && [ "$g" -ge 20 ] || fail "no packets_total{cube=mon1} >= 20 in /metrics: $(head -20 "$T/gw.samples")"
out=$(promtool check metrics <"$T/gw.prom" 2>&1) || fail "promtool check metrics: $out"
grep -qE '^packets_total\{cube="mon1"\} [0-9]+' "$T/gw.prom" || fail "Prometheus text lacks the counter: $(head "$T/gw.prom")"
cub_log "gateway: packets_total{cube=\"mon1\"} $g"

# ---- swap-on-read under a stream: the reads sum to what was sent ----
python3 - "$T/swap.json" <<'EOF'
import json, sys
code = """BPF_PERCPU_ARRAY(PKTS, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	PKTS.increment(0);
	return RX_OK;
}
"""
json.dump({"ingress-path": {"name": "swapped", "code": code,
    "metric-configs": [{"name": "pkts", "map-name": "PKTS",
        "extraction-options": {"swap-on-read": True},
        "open-metrics-metadata": {"help": "packets", "type": "counter"}}]}},
    open(sys.argv[1], "w"))
EOF
cub_ok mon1 dataplane-config set --file "$T/swap.json"
val() { # the delta of this read: per-CPU values summed
	cub mon1 metrics ingress-metrics pkts show -o json | pj 'sum(sum(e["value"]) if isinstance(e, dict) else e for e in j["value"])'
}
fam() { # the gateway's view: the cumulative total
	cub mon1 metric-families show -o json | pj '[s["value"] for f in j for s in f["samples"]][0]'
}
val >/dev/null # baseline
ip netns exec ns1 ping -c 300 -i 0.01 -W 1 198.18.0.1 >"$T/stream.out" 2>&1 &
stream=$!
sum=0 reads=0
while kill -0 "$stream" 2>/dev/null; do
	v=$(val) || fail "a read during the stream failed"
	sum=$((sum + v))
	reads=$((reads + 1))
	fam >/dev/null || fail "a metric-families show during the stream failed"
done
wait "$stream" || fail "the ping stream: $(tail -3 "$T/stream.out")"
sleep 0.2
sum=$((sum + $(val)))
[ "$sum" = 300 ] || fail "swap-on-read: $reads reads summed to $sum, 300 sent"
total=$(fam)
[ "$total" -ge 300 ] || fail "metric-families total $total < 300"
cub_log "swap-on-read: $reads reads during a 300-ping stream summed to $sum; families total $total"
# A families show between two reads takes nothing from the second.
pings 7 || fail "ping 7"
fam >/dev/null
fam >/dev/null
[ "$(val)" = 7 ] || fail "a metric-families show took the CLI's delta"

# ---- per-flow bytes: Polycube's hash shape, labelled samples ----
cub_ok mon1 dataplane-config set --file "$EX/flow_bytes.json"
ip netns exec ns1 python3 "$LIB/udpflood.py" 198.18.0.1 0 "$T/none" 3 6000 20 >/dev/null
cub mon1 metrics show -o json >"$T/f.json"
python3 - "$T/f.json" <<'EOF' || fail "flow_bytes JSON: $(cat "$T/f.json")"
import json, sys
v = json.load(open(sys.argv[1]))["ingress-metrics"][0]["value"]
udp = [e for e in v if e["key"]["proto"] == 17]
assert len(udp) == 3, udp
assert all(sorted(e["key"]) == ["daddr", "dport", "proto", "saddr", "sport"] for e in udp), udp
assert all(e["value"] == 60 for e in udp), udp
EOF
omtext mon1 >"$T/fom.txt"
om_check "$T/fom.txt" >"$T/fom.samples" || fail "flow_bytes OpenMetrics: $(cat "$T/fom.txt")"
for p in 6000 6001 6002; do
	grep -qE "^flow_bytes_total daddr=198.18.0.1,dport=$p,probe=flow_bytes,proto=17,saddr=198.18.0.2,sport=[0-9]+ 60$" \
		"$T/fom.samples" || fail "no flow sample for port $p: $(cat "$T/fom.samples")"
done

# ---- packet sizes: the exp2 buckets ----
cub_ok mon1 dataplane-config set --file "$EX/packet_size_histogram.json"
pings 5 || fail "ping -s 56"
ip netns exec ns1 ping -c 3 -i 0.02 -s 200 198.18.0.1 >/dev/null || fail "ping -s 200"
omtext mon1 >"$T/hom.txt"
om_check "$T/hom.txt" >"$T/hom.samples" || fail "histogram OpenMetrics: $(cat "$T/hom.txt")"
grep -qx "packet_size_bytes_bucket le=64.0 0" "$T/hom.samples" &&
	grep -qx "packet_size_bytes_bucket le=128.0 5" "$T/hom.samples" &&
	grep -qx "packet_size_bytes_bucket le=256.0 8" "$T/hom.samples" &&
	grep -qx "packet_size_bytes_count  8" "$T/hom.samples" &&
	grep -qx "packet_size_bytes_sum  $((5 * 98 + 3 * 242))" "$T/hom.samples" ||
	fail "histogram samples: $(cat "$T/hom.samples")"
cub_log "packet sizes: $(grep -c _bucket "$T/hom.samples") buckets, count 8, sum $((5 * 98 + 3 * 242))"
# ---- Polycube's test_map_extraction and test_queuestack: its JSON ----
TD="$(dirname "$0")/../../plugins/dynmon/tests"
vals() { # NAME=JSON per metric, one a line
	cub mon1 metrics show -o json | python3 -c '
import json, sys
for m in json.load(sys.stdin)["ingress-metrics"]:
    print(m["name"] + "=" + json.dumps(m["value"], separators=(",", ":")))'
}
cub_ok mon1 dataplane-config set --file "$TD/test_map_extraction.json"
pings 1 || fail "ping through test_map_extraction"
vals >"$T/px.txt"
grep -qxF 'SIMPLE_ARRAY=[{"timestamp":1010,"length":1010}]' "$T/px.txt" &&
	grep -qxF 'SIMPLE_HASH=[{"key":{"saddr":1,"daddr":2,"sport":11,"dport":22,"proto":0},"value":0}]' "$T/px.txt" ||
	fail "test_map_extraction is not Polycube's JSON: $(cat "$T/px.txt")"
cub_ok mon1 dataplane-config set --file "$TD/test_queuestack.json"
pings 1 || fail "ping through test_queuestack"
vals >"$T/pq1.txt"
vals >"$T/pq2.txt"
grep -qxF 'SIMPLE_QUEUE=[{"timestamp":1010,"length":1010}]' "$T/pq1.txt" &&
	grep -qxF 'SIMPLE_QUEUE=[]' "$T/pq2.txt" ||
	fail "the queue: $(cat "$T/pq1.txt" "$T/pq2.txt")"
cub_log "Polycube's test_map_extraction and test_queuestack: its JSON; the queue drained by the read"
cub_ok mon1 del
