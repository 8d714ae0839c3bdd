# SPDX-License-Identifier: BSD-2-Clause
# What dynmon's integration tests share (tests/integration/dynmon-*.sh,
# review12-dynmon-*.sh); sourced after netns.sh:
#   D, EX        the plugin's build directory, its examples
#   DM_HELPER    cubicled's --helper registration of dynmon-cc (the
#                helper sandbox's read-only toolchain, a 20 s timeout)
#   DM_ARGS      the broker arguments the tests start with (a 30 s call
#                timeout: a compile is a worker call); tests add to it
#   dm_conf OUT CODEFILE [MAP]   a dataplane-config with CODEFILE as the
#                ingress-path's code and one counter on MAP (PKT_COUNTER)
#   dm_counter CUBE MAP          the sum of a pinned map's values (every
#                entry, every CPU, every integer of a struct), by bpftool
#   dm_canon     stdin's JSON, sorted, without the empty containers and
#                lists the tree engine fills in
D="$CUB_BUILD/plugins/dynmon"
EX="$(dirname "${BASH_SOURCE[0]}")/../../plugins/dynmon/examples"
PLUGINS+=("$D/dynmon.so")
DM_HELPER="--helper dynmon-cc=$D/cubicle-dynmon-cc,service=dynmon,ro=/usr/lib/llvm-14:/usr/include,timeout=20"
DM_ARGS="--call-timeout 30000 $DM_HELPER"

dm_conf() {
	python3 - "$1" "$2" "${3:-PKT_COUNTER}" <<'PY'
import json, sys
out, code, m = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
json.dump({"ingress-path": {"name": "probe", "code": code,
    "metric-configs": [{"name": "packets_total", "map-name": m,
        "open-metrics-metadata": {"help": "packets", "type": "counter"}}]},
    "egress-path": {}}, open(out, "w"))
PY
}

dm_counter() {
	bpftool map dump pinned "$T/pins/$1/$2" -j | python3 -c '
import json, sys
def s(v):
    if isinstance(v, list): return sum(s(x) for x in v)
    if isinstance(v, dict): return sum(s(x) for x in v.values())
    return int(v)
t = 0
for e in json.load(sys.stdin):
    if "formatted" in e: e = e["formatted"]
    t += s(e.get("value", e.get("values")))
print(t)'
}

dm_canon() {
	python3 -c '
import json, sys
def prune(v):
    if isinstance(v, dict):
        v = {k: prune(x) for k, x in v.items()}
        return {k: x for k, x in v.items() if x not in ({}, [])}
    if isinstance(v, list): return [prune(x) for x in v]
    return v
print(json.dumps(prune(json.load(sys.stdin)), sort_keys=True))'
}
