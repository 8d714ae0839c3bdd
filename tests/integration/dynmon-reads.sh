#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon's reads under a continuous UDP stream (plugins/dynmon/reader.c,
# docs/architecture.md "The reader (reader.c)"): a monitor on veth1 counts
# the stream's datagrams in a per-CPU array and in a hash keyed by
# destination port, each twice: swap-on-read and empty-on-read; ALL counts
# them in a plain per-CPU array.  While the stream runs, CLI shows (whole,
# one metric) and the gateway's metric-families shows interleave.  Then:
#  - swap-on-read: the shows' deltas sum to ALL exactly, per port too, and
#    ALL to what the sender sent less what veth1 dropped;
#  - metric-families: every swap-on-read total is monotonic over the
#    stream and equals ALL at the end (the CLI's reads took nothing);
#  - a QUEUE of the ports is popped by a show, oldest first, and drained;
#  - empty-on-read: never more than ALL (an array's read-then-zero, and a
#    hash's delete racing a program's add, may lose what arrives between:
#    the loss is reported, not hidden).
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need python3

FLOOD="$(dirname "$0")/../lib/udpflood.py"
CUB_BROKER_ARGS="$DM_ARGS"
broker_start
host_peer ns1 veth1 198.18.0.2 198.18.0.1
pj() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
drops() { # veth1's rx drops
	python3 -c 'import sys
for l in open("/proc/net/dev"):
    n, _, r = l.partition(":")
    if n.strip() == "veth1": print(r.split()[3])'
}

python3 - "$T/reads.json" <<'PY'
import json, sys
code = r"""BPF_PERCPU_ARRAY(ALL, u64, 1);
BPF_PERCPU_ARRAY(SW_PKTS, u64, 1);
BPF_HASH(SW_PORT, u16, u64, 64);
BPF_PERCPU_ARRAY(EM_PKTS, u64, 1);
BPF_HASH(EM_PORT, u16, u64, 64);
BPF_QUEUE(Q, u32, 16);

/* The stream: UDP to 198.18.0.1, ports 5000 to 5002. */
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	uint64_t zero = 0, *v;
	uint16_t port;
	uint32_t p32;

	if ((void *)(eth + 1) > data_end || eth->h_proto != htons(ETH_P_IP))
		return RX_OK;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP || ip->daddr != htonl(0xc6120001))
		return RX_OK;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return RX_OK;
	port = ntohs(udp->dest);
	if (port < 5000 || port > 5002)
		return RX_OK;
	ALL.increment(0);
	p32 = port;
	Q.push(&p32, 0);
	SW_PKTS.increment(0);
	EM_PKTS.increment(0);
	v = SW_PORT.lookup_or_try_init(&port, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = EM_PORT.lookup_or_try_init(&port, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	return RX_OK;
}
"""
def m(name, mapn, opt=None):
    d = {"name": name, "map-name": mapn,
         "open-metrics-metadata": {"help": name, "type": "counter"}}
    if opt:
        d["extraction-options"] = {opt: True}
    return d
json.dump({"ingress-path": {"name": "reads", "code": code, "metric-configs": [
    m("all", "ALL"), m("sw_pkts", "SW_PKTS", "swap-on-read"),
    m("sw_port", "SW_PORT", "swap-on-read"),
    m("em_pkts", "EM_PKTS", "empty-on-read"),
    m("em_port", "EM_PORT", "empty-on-read"),
    {"name": "q", "map-name": "Q"}]}}, open(sys.argv[1], "w"))
PY
cub_ok dynmon add mon1
cub_ok attach mon1 veth1
cub_ok mon1 dataplane-config set --file "$T/reads.json"

# add SHOW.json: a show's values into $T/sums (name[:port] count lines)
add() {
	python3 - "$1" "$T/sums" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j = j.get("ingress-metrics", [j])
sums = {}
try:
    for l in open(sys.argv[2]):
        k, v = l.split()
        sums[k] = int(v)
except FileNotFoundError:
    pass
def total(v):
    return sum(total(x) for x in v) if isinstance(v, list) else v
for e in j:
    for x in e["value"]:
        if isinstance(x, dict) and e["name"].endswith("_port"):
            k = "%s:%d" % (e["name"], x["key"])
            sums[k] = sums.get(k, 0) + x["value"]
        elif e["name"] != "all":
            v = total(x["value"] if isinstance(x, dict) else x)
            sums[e["name"]] = sums.get(e["name"], 0) + v
with open(sys.argv[2], "w") as f:
    for k, v in sorted(sums.items()):
        f.write("%s %d\n" % (k, v))
PY
}
# fams: the gateway's totals, one "family[:key] value" a line
fams() {
	cub mon1 metric-families show -o json | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    for s in f["samples"]:
        lab = s.get("labels", {})
        if isinstance(lab, list): # the doc form: [{name, value}]
            lab = {l["name"]: l["value"] for l in lab}
        k = lab.get("key")
        print("%s%s %d" % (f["name"], ":" + k if k else "", int(float(s["value"]))))'
}
# monotonic OLD NEW: no total of OLD is above NEW's
monotonic() {
	python3 - "$1" "$2" <<'PY' || fail "metric-families went down: $(cat "$1") -> $(cat "$2")"
import sys
old = dict(l.split() for l in open(sys.argv[1]))
new = dict(l.split() for l in open(sys.argv[2]))
for k, v in old.items():
    if k.startswith(("sw_", "all")):
        assert int(new.get(k, 0)) >= int(v), k
PY
}

cub mon1 metrics show -o json >/dev/null || fail "the baseline read"
: >"$T/sums"
: >"$T/fam.prev"
d0=$(drops)
rm -f "$T/stop"
ip netns exec ns1 python3 "$FLOOD" 198.18.0.1 30000 "$T/stop" 3 5000 >"$T/flood.out" 2>"$T/flood.err" &
FLOODER=$!
reads=0 famreads=0
while kill -0 "$FLOODER" 2>/dev/null; do
	case $((reads % 3)) in
	0) cub mon1 metrics show -o json >"$T/s.json" || fail "a show during the stream: $(cat "$T/s.json")" ;;
	1) cub mon1 metrics ingress-metrics sw_port show -o json >"$T/s.json" || fail "sw_port show" ;;
	2) cub mon1 metrics ingress-metrics sw_pkts show -o json >"$T/s.json" || fail "sw_pkts show" ;;
	esac
	add "$T/s.json"
	reads=$((reads + 1))
	fams >"$T/fam.now" || fail "metric-families during the stream"
	monotonic "$T/fam.prev" "$T/fam.now"
	mv "$T/fam.now" "$T/fam.prev"
	famreads=$((famreads + 1))
	[ "$reads" -ge 30 ] && touch "$T/stop"
done
wait "$FLOODER" || fail "udpflood: $(cat "$T/flood.err")"
sent=$(sed -n 's/^sent=//p' "$T/flood.out")
dropped=$(( $(drops) - d0 ))
sleep 0.5 # the last datagrams through the program
cub mon1 metrics show -o json >"$T/s.json" || fail "the last show"
add "$T/s.json"
all=$(pj 'sum(sum(e["value"]) for e in j["value"])' < <(cub mon1 metrics ingress-metrics all show -o json))
[ "$all" = $((sent - dropped)) ] ||
	fail "ALL counted $all, the sender sent $sent and veth1 dropped $dropped"
get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
cat "$T/sums" >&2
[ "$(get sw_pkts "$T/sums")" = "$all" ] ||
	fail "swap-on-read per-CPU counter: $reads reads summed to $(get sw_pkts "$T/sums"), ALL $all"
ports=0
for p in 5000 5001 5002; do
	ports=$((ports + $(get "sw_port:$p" "$T/sums")))
done
[ "$ports" = "$all" ] || fail "swap-on-read hash by port: reads summed to $ports, ALL $all"
fams >"$T/fam.now"
monotonic "$T/fam.prev" "$T/fam.now"
[ "$(get sw_pkts "$T/fam.now")" = "$all" ] ||
	fail "metric-families sw_pkts $(get sw_pkts "$T/fam.now"), ALL $all"
fports=0
for p in 5000 5001 5002; do
	[ "$(get "sw_port:$p" "$T/fam.now")" = "$(get "sw_port:$p" "$T/sums")" ] ||
		fail "port $p: families $(get "sw_port:$p" "$T/fam.now"), shows $(get "sw_port:$p" "$T/sums")"
	fports=$((fports + $(get "sw_port:$p" "$T/fam.now")))
done
[ "$fports" = "$all" ] || fail "metric-families sw_port sums to $fports, ALL $all"
em=$(get em_pkts "$T/sums")
emp=0
for p in 5000 5001 5002; do
	emp=$((emp + $(get "em_port:$p" "$T/sums" || echo 0)))
done
[ "$em" -le "$all" ] && [ "$emp" -le "$all" ] ||
	fail "empty-on-read counted more than ALL: array $em, hash $emp, ALL $all"
cub_log "$sent sent, $dropped dropped, ALL $all; $reads shows and $famreads families reads during the stream;" \
	"swap-on-read: counter $(get sw_pkts "$T/sums"), by port $ports (exact);" \
	"empty-on-read: counter $em (lost $((all - em))), by port $emp (lost $((all - emp)))"
# The queue, popped through the broker: oldest first, drained by a show.
qshow() { cub mon1 metrics ingress-metrics q show -o json | pj 'j["value"]'; }
[ "$(qshow)" = "[]" ] || fail "the queue was not drained by the last show"
ip netns exec ns1 python3 "$FLOOD" 198.18.0.1 0 "$T/none" 5 5000 20 >/dev/null || fail "5 datagrams"
sleep 0.5
[ "$(qshow)" = "[5000, 5001, 5002]" ] || fail "queue: $(qshow)"
[ "$(qshow)" = "[]" ] || fail "the queue was not drained"
cub_ok mon1 del
