#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 12 (fixed): dynmon's schema took a `code` of up to 1 MiB per
# path, but a document over one part (1 MiB, broker/cube.c) with no list
# cannot reach the worker, and the compile helper's input is one bin of
# at most 1 MiB holding both codes: one code of 1 MiB, or two of 1e6
# bytes, were refused as "its document is over a message" (untrue: the
# message cap is 4 MiB).  Now a code is at most 480 KiB (DM_CODE_MAX), so
# both paths at their maximum go through, and a code over it is refused
# by the schema naming the field and the limit, the old code counting on.
# Deterministic: sizes only.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need python3

CUB_BROKER_ARGS="$DM_ARGS"
broker_start
cub_ok dynmon add mon1 >/dev/null

# mk OUT INGRESS_BYTES EGRESS_BYTES: pass-through code padded with a
# comment to exactly that many bytes (0: no such path).
mk() {
	python3 - "$@" <<'PY'
import json, sys
out, i, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = "static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)\n{\n\treturn RX_OK;\n}\n"
def code(n): return c + "//" + "x" * (n - len(c) - 3) + "\n"
d = {"ingress-path": {"name": "big", "code": code(i)}}
if e: d["egress-path"] = {"name": "big", "code": code(e)}
json.dump(d, open(out, "w"))
PY
}
MAX=$((480 * 1024))
# Sanity: a code well under the cap loads.
mk "$T/small.json" 100000 0
cub_ok mon1 set dataplane-config --file "$T/small.json"

# Both paths at the maximum: taken (compiled and loaded).
mk "$T/c.json" "$MAX" "$MAX"
out=$(cub mon1 set dataplane-config --file "$T/c.json" 2>&1) ||
	fail "two codes of $MAX bytes (the schema's maximum) refused: $out"
cub_log "two codes of $MAX bytes: taken"
len=$(cub mon1 show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)["dataplane-config"]
print(len(d["ingress-path"]["code"]), len(d["egress-path"]["code"]))')
[ "$len" = "$MAX $MAX" ] || fail "the codes shown are $len bytes, not $MAX $MAX"

# One byte over: refused by the schema, naming the field and the limit;
# nothing changed.
mk "$T/over.json" $((MAX + 1)) 0
out=$(cub mon1 set dataplane-config --file "$T/over.json" 2>&1) &&
	fail "a code of $((MAX + 1)) bytes was taken"
grep -q "code" <<<"$out" && grep -q "$MAX" <<<"$out" ||
	fail "the refusal does not name the code and its limit $MAX: $out"
len2=$(cub mon1 show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)["dataplane-config"]
print(len(d["ingress-path"]["code"]), len(d["egress-path"]["code"]))')
[ "$len2" = "$MAX $MAX" ] || fail "a refused set changed the codes: $len2"
cub_log "a code of $((MAX + 1)) bytes: $out"
