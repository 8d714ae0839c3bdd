#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 12 (a break, not fixed): a metric-config's map-name that the code
# does not declare is taken when it lands on the object name of a map
# whose name is hashed.  The rewriter names a map of more than 13
# characters "i_" + its first 9 + 4 hex digits of a 16-bit FNV-1a fold
# (dm_map_objname()), and it refuses two *declared* maps with one object
# name; but dm_catalog_find() resolves a metric's map-name by object name
# alone, so
#   - the 13-character name NTP_PACKE213f (the hashed object's name less
#     its "i_") and
#   - NTP_PACKETS_49939 (another 17-character name whose fold is 0x213f,
#     found by trying numbers)
# both read NTP_PACKETS_COUNTER: the set is accepted instead of refused
# as "a metric-config naming a map its path lacks" (docs "The plugin").
# In a shared monitor the metric reports a counter under a name the code
# never had.  Deterministic: FNV-1a is fixed.  The fix needs the user's
# full name in the object (the BCC form's struct dm_mt_i_<NAME> carries
# it; a plain `NAME SEC(".maps")` declaration does not).
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need python3

CUB_BROKER_ARGS="$DM_ARGS"
broker_start

# mkconf OUT CODEFILE MAP: the code on ingress, one counter metric on MAP.
mkconf() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
out, code, m = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
json.dump({"ingress-path": {"name": "probe", "code": code,
    "metric-configs": [{"name": "packets_total", "map-name": m,
        "open-metrics-metadata": {"help": "packets", "type": "counter"}}]},
    "egress-path": {}}, open(out, "w"))
PY
}
# The fold of dm_map_objname(), to check the names collide as said.
fold() {
	python3 -c '
import sys
x = 2166136261
for c in sys.argv[1].encode(): x = ((x ^ c) * 16777619) & 0xffffffff
print("%04x" % ((x >> 16) ^ (x & 0xffff)))' "$1"
}
[ "$(fold NTP_PACKETS_COUNTER)" = 213f ] && [ "$(fold NTP_PACKETS_49939)" = 213f ] ||
	fail "the names do not collide: $(fold NTP_PACKETS_COUNTER) $(fold NTP_PACKETS_49939)"

cat >"$T/long.c" <<'C'
BPF_ARRAY(NTP_PACKETS_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	NTP_PACKETS_COUNTER.atomic_increment(0);
	return RX_OK;
}
C
cub_ok dynmon add mon1 >/dev/null
# Sanity: the declared name is taken, a plainly missing one refused.
mkconf "$T/ok.json" "$T/long.c" NTP_PACKETS_COUNTER
cub_ok mon1 dataplane-config set --file "$T/ok.json"
[ -e "$T/pins/mon1/i_NTP_PACKE213f" ] || fail "no i_NTP_PACKE213f: $(ls "$T/pins/mon1")"
mkconf "$T/miss.json" "$T/long.c" NTP_PACKETS_OTHER
err=$(cub_refused 2 mon1 dataplane-config set --file "$T/miss.json")
grep -q NTP_PACKETS_OTHER <<<"$err" || fail "a missing map's refusal: $err"

bad=0
for name in NTP_PACKE213f NTP_PACKETS_49939; do
	mkconf "$T/c.json" "$T/long.c" "$name"
	if out=$(cub mon1 dataplane-config set --file "$T/c.json" 2>&1); then
		cub_log "BREAK: map-name $name (not in the code) accepted: reads NTP_PACKETS_COUNTER"
		bad=1
	else
		grep -q "$name" <<<"$out" || fail "refused without naming $name: $out"
		cub_log "refused as it should: $out"
	fi
done
[ "$bad" = 0 ] || fail "metric-configs naming maps the code lacks were accepted"
