#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 12: a dataplane-config whose metrics give one OpenMetrics sample
# name from two families (a counter 'x', whose sample is x_total, and a
# gauge 'x_total'; on two paths or on one) was taken: dm_reader_open()
# refused only two metrics of one family name.  Every `open-metrics show`
# (and a show of the cube) then failed ("its sample name 'x_total' is
# already taken") until the config changed again.  Fixed: the set is
# refused naming both metrics and the sample name; the old config stays
# and its open-metrics still renders.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need python3

CUB_BROKER_ARGS="$DM_ARGS"
broker_start
cub_ok dynmon add mon1 >/dev/null

# mk OUT SPEC...: SPEC is PATH:NAME:TYPE, a metric on the path's map A.
mk() {
	python3 - "$@" <<'PY'
import json, sys
code = ("BPF_ARRAY(A, u64, 1);\n"
        "static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)\n"
        "{\n\tA.atomic_increment(0);\n\treturn RX_OK;\n}\n")
d = {}
for spec in sys.argv[2:]:
    p, n, t = spec.split(":")
    path = d.setdefault(p + "-path", {"name": p, "code": code, "metric-configs": []})
    path["metric-configs"].append({"name": n, "map-name": "A",
        "open-metrics-metadata": {"help": "h", "type": t}})
json.dump(d, open(sys.argv[1], "w"))
PY
}
om() { cub mon1 open-metrics show -o json; }

mk "$T/good.json" ingress:x:counter egress:y:gauge
cub_ok mon1 dataplane-config set --file "$T/good.json"
om >"$T/om0" || fail "open-metrics show of a good config: $(cat "$T/om0")"
grep -q 'x_total 0' "$T/om0" || fail "no x_total: $(cat "$T/om0")"
before=$(cub mon1 dataplane-config show -o json)

for specs in "ingress:x:counter egress:x_total:gauge" \
	"ingress:x:counter ingress:x_total:untyped" \
	"egress:x_total:gauge ingress:x:counter"; do
	# shellcheck disable=SC2086 # the specs
	mk "$T/c.json" $specs
	err=$(cub_refused 2 mon1 dataplane-config set --file "$T/c.json")
	grep -q "sample name 'x_total'" <<<"$err" || fail "$specs: '$err' does not name the sample"
	[ "$(cub mon1 dataplane-config show -o json)" = "$before" ] || fail "$specs: the config changed"
	om >"$T/om1" || fail "open-metrics show after the refusal of $specs: $(cat "$T/om1")"
	cub_log "refused as it should: $err"
done
# A name that only looks alike still loads: a gauge x_totals beside a
# counter x.
mk "$T/ok.json" ingress:x:counter egress:x_totals:gauge
cub_ok mon1 dataplane-config set --file "$T/ok.json"
om >"$T/om2" || fail "open-metrics show with x and x_totals: $(cat "$T/om2")"
grep -q 'x_totals 0' "$T/om2" || fail "no x_totals: $(cat "$T/om2")"
