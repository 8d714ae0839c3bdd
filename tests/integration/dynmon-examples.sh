#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon's examples end to end (plugins/dynmon/examples/): per-flow bytes
# (a BPF_HASH keyed by a packed 5-tuple) counts each UDP flow sent, with
# its ports and protocol; the packet-size histogram (exp2 buckets and the
# sum key) puts pings of two sizes into their buckets, exactly; the
# latency histogram counts the gaps between echo requests.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need bpftool python3

LIB="$(dirname "$0")/../lib"
CUB_BROKER_ARGS="$DM_ARGS"
broker_start
host_peer ns1 veth1 198.18.0.2 198.18.0.1
dump() { bpftool map dump pinned "$T/pins/$1/$2" -j; }

# ---- per-flow bytes: 5 UDP datagrams to ports 5000..5004 ----
cub_ok dynmon add flows
cub_ok attach flows veth1
cub_ok flows dataplane-config set --file "$EX/flow_bytes.json"
ip netns exec ns1 python3 "$LIB/udpflood.py" 198.18.0.1 0 "$T/none" 5 5000 20 >"$T/udp.out"
grep -qx "sent=5" "$T/udp.out" || fail "udpflood: $(cat "$T/udp.out")"
dump flows i_FLOW_BYTES >"$T/flows.json"
python3 - "$T/flows.json" <<'EOF' || fail "flow bytes: $(cat "$T/flows.json")"
import json, socket, struct, sys
ents = json.load(open(sys.argv[1]))
flows = {}
for e in ents:
    k, v = e["formatted"]["key"] if "formatted" in e else e["key"], None
    f = e.get("formatted", e)
    k, v = f["key"], f["value"]
    if k["proto"] != 17:
        continue
    dport = socket.ntohs(k["dport"])
    saddr = socket.inet_ntoa(struct.pack("<I", k["saddr"]))
    daddr = socket.inet_ntoa(struct.pack("<I", k["daddr"]))
    assert (saddr, daddr) == ("198.18.0.2", "198.18.0.1"), (saddr, daddr)
    flows[dport] = v
# 18 bytes of payload: 14 + 20 + 8 + 18 = 60 bytes a frame.
assert sorted(flows) == list(range(5000, 5005)), flows
assert all(v == 60 for v in flows.values()), flows
print("flows", flows)
EOF
cub_log "flow_bytes: 5 UDP flows of 60 bytes each"

# ---- packet sizes: 7 pings of 98 bytes (64 < n <= 128), 4 of 242 ----
cub_ok dynmon add sizes
cub_ok flows del
cub_ok attach sizes veth1
cub_ok sizes dataplane-config set --file "$EX/packet_size_histogram.json"
ip netns exec ns1 ping -c 7 -i 0.05 -s 56 198.18.0.1 >/dev/null || fail "ping -s 56"
ip netns exec ns1 ping -c 4 -i 0.05 -s 200 198.18.0.1 >/dev/null || fail "ping -s 200"
dump sizes i_PKT_SIZE >"$T/sizes.json"
python3 - "$T/sizes.json" <<'EOF' || fail "packet sizes: $(cat "$T/sizes.json")"
import json, sys
v = {}
for e in json.load(open(sys.argv[1])):
    f = e.get("formatted", e)
    v[f["key"]] = f["value"]
want = {i: 0 for i in range(16)}
want[7], want[8] = 7, 4
assert {i: v[i] for i in range(16)} == want, v
assert v[16] == 7 * 98 + 4 * 242, v[16]
EOF
cub_log "packet_size_histogram: 7 in le=128, 4 in le=256, sum $((7 * 98 + 4 * 242))"
cub_ok sizes del

# ---- echo gaps (a latency histogram): 11 pings 0.2 s apart, 10 gaps ----
# Read through open-metrics show (the reader's histogram, as a scraper
# sees it): 10 samples, none of them 512 us or less (a gap is at least
# the time the next ping waits), their sum under the time the pings took.
cub_ok dynmon add gaps
cub_ok attach gaps veth1
cub_ok gaps dataplane-config set --file "$EX/latency_histogram.json"
t0=$(date +%s%N)
ip netns exec ns1 ping -c 11 -i 0.2 198.18.0.1 >/dev/null || fail "ping -i 0.2"
t1=$(date +%s%N)
cub gaps open-metrics show >"$T/gaps.txt" || fail "open-metrics show"
/usr/bin/python3 - "$T/gaps.txt" $(((t1 - t0) / 1000)) <<'EOF' || fail "echo gaps: $(cat "$T/gaps.txt")"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fam = [f for f in text_string_to_metric_families(open(sys.argv[1]).read())
       if f.name == "echo_gap_microseconds"]
assert len(fam) == 1 and fam[0].type == "histogram", fam
s = {(x.name, x.labels.get("le")): x.value for x in fam[0].samples}
assert s[("echo_gap_microseconds_count", None)] == 10, s
assert s[("echo_gap_microseconds_bucket", "+Inf")] == 10, s
assert s[("echo_gap_microseconds_bucket", "512.0")] == 0, s
total = s[("echo_gap_microseconds_sum", None)]
assert 0 < total <= int(sys.argv[2]), (total, sys.argv[2])
EOF
cub_log "latency_histogram: 10 echo gaps, sum $(grep _sum "$T/gaps.txt")"
cub_ok gaps del
