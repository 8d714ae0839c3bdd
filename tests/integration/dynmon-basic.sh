#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon, the plugin (plugins/dynmon/dynmon.c): a cube with the default
# (built-in pass-through) configuration forwards; Polycube's packet
# counter set from a file (both spellings: `set dataplane-config --file`
# and `dataplane-config set --file`) and from stdin counts at least the
# pings sent
# (read with bpftool under the broker's pin root); dataplane-config show
# round-trips the file; a set with a body replaces the whole config; broken
# code, a metric naming a missing map and a helper outside the networking
# set are refused with the user's line, the map's name and the helper's
# name, and the old program keeps counting; a map whose type changes
# under the same name loads; a type=XDP_DRV cube counts.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need bpftool python3

CLI="$CUB_BUILD/sdk/cubicle"
CUB_BROKER_ARGS="$DM_ARGS"
broker_start

counter() { dm_counter "$@"; }
mkconf() { dm_conf "$@"; }
# dpshow CUBE: dataplane-config show as canonical JSON without the empty
# containers and lists the tree fills in.
canon() { dm_canon; }
dpshow() { cub "$1" dataplane-config show -o json | canon; }
pings() { # NS ADDR N: N pings, all answered?
	ip netns exec "$1" ping -c "$3" -i 0.05 -W 1 "$2" >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}

host_peer ns1 veth1 198.18.0.2 198.18.0.1

# ---- the default: built in, pass-through, no helper call ----
cub_ok dynmon add mon1
cub_ok attach mon1 veth1
pings ns1 198.18.0.1 3 || fail "ping through the default monitor: $(cat "$T/ping.out")"
grep -qF "ingress-path: pass-through, egress-path: pass-through" \
	<<<"$(cub mon1 log show)" || fail "no pass-through load in the log: $(cub mon1 log show)"

# ---- the packet counter, from stdin ----
"$CLI" --socket-dir "$T/s" mon1 dataplane-config set <"$EX/packet_counter.json" ||
	fail "dataplane-config set from stdin refused"
[ "$(dpshow mon1)" = "$(canon <"$EX/packet_counter.json")" ] ||
	fail "dataplane-config show does not round-trip the file: $(dpshow mon1)"
c0=$(counter mon1 i_PKT_COUNTER)
pings ns1 198.18.0.1 20 || fail "ping through the packet counter: $(cat "$T/ping.out")"
c1=$(counter mon1 i_PKT_COUNTER)
[ $((c1 - c0)) -ge 20 ] || fail "packet counter counted $((c1 - c0)) of 20 pings"
cub_log "packet counter (stdin): $((c1 - c0)) packets for 20 pings"
# Its pcn_log(ctx, LOG_TRACE, "counter: %d", ...) on its line 11, in the
# cube's log once the cube keeps TRACE (the framework's log ring).
cub mon1 log show | grep -qF "counter: " && fail "TRACE lines logged at INFO"
cub_ok mon1 set loglevel=TRACE
pings ns1 198.18.0.1 3 || fail "ping at TRACE"
for _ in $(seq 1 50); do
	cub mon1 log show | grep -E "ingress:11: counter: [0-9]+" >/dev/null && break
	sleep 0.1
done
cub mon1 log show | grep -E "ingress:11: counter: [0-9]+" >/dev/null ||
	fail "no pcn_log line in the cube's log: $(cub mon1 log show | tail -5)"
cub_ok mon1 set loglevel=INFO

# ---- a set with a body replaces the whole config ----
cat >"$T/egress.c" <<'EOF'
BPF_ARRAY(EG, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	EG.atomic_increment(0);
	return RX_OK;
}
EOF
python3 - "$T/egress.c" "$T/egress.json" <<'EOF'
import json, sys
json.dump({"egress-path": {"name": "eg", "code": open(sys.argv[1]).read()}},
          open(sys.argv[2], "w"))
EOF
# (the spelling of Polycube's docs: set first)
cub_ok mon1 set dataplane-config --file "$T/egress.json"
[ "$(dpshow mon1)" = "$(canon <"$T/egress.json")" ] ||
	fail "the ingress path survived a set without it: $(dpshow mon1)"
[ ! -e "$T/pins/mon1/i_PKT_COUNTER" ] || fail "the old object's map is still pinned"
pings ns1 198.18.0.1 5 || fail "ping through the egress counter"
[ "$(counter mon1 e_EG)" -ge 5 ] || fail "egress counter: $(counter mon1 e_EG) of 5"

# ---- swap-on-read: the map is a swap set's copies (i0_c0, i0_c1) ----
cat >"$T/swap.c" <<'EOF'
BPF_PERCPU_ARRAY(PKT_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	PKT_COUNTER.increment(0);
	return RX_OK;
}
EOF
python3 - "$T/swap.c" "$T/swap.json" <<'EOF'
import json, sys
json.dump({"ingress-path": {"name": "swapped", "code": open(sys.argv[1]).read(),
    "metric-configs": [{"name": "packets_total", "map-name": "PKT_COUNTER",
        "extraction-options": {"swap-on-read": True}}]}},
    open(sys.argv[2], "w"))
EOF
cub_ok mon1 dataplane-config set --file "$T/swap.json"
[ -e "$T/pins/mon1/i0_c0" ] && [ -e "$T/pins/mon1/i0_c1" ] && [ -e "$T/pins/mon1/cub_sw_i0" ] ||
	fail "no swap set i0 for the swap-on-read map: $(ls "$T/pins/mon1")"
pings ns1 198.18.0.1 10 || fail "ping through the swap-on-read counter"
n=$(($(counter mon1 i0_c0) + $(counter mon1 i0_c1)))
[ "$n" -ge 10 ] || fail "swap-on-read counter: $n of 10"
# A map name longer than 13 characters (Polycube's NTP examples have 19
# and 32): the object's name is hashed (dm_map_objname()), the metric
# still finds it.
cat >"$T/long.c" <<'EOF'
BPF_ARRAY(NTP_PACKETS_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	NTP_PACKETS_COUNTER.atomic_increment(0);
	return RX_OK;
}
EOF
mkconf "$T/long.json" "$T/long.c" NTP_PACKETS_COUNTER
cub_ok mon1 dataplane-config set --file "$T/long.json"
long=$(ls "$T/pins/mon1" | grep '^i_NTP_PACKE') || fail "no hashed map name: $(ls "$T/pins/mon1")"
pings ns1 198.18.0.1 5 || fail "ping through the long-named counter"
[ "$(counter mon1 "$long")" -ge 5 ] || fail "long-named counter: $(counter mon1 "$long") of 5"
# ... and swap-on-read with it (the catalogue bound only names of up to
# 13 characters): the copies i0_c0/i0_c1, the metric read through them.
python3 - "$T/long.c" "$T/longswap.json" <<'EOF'
import json, sys
json.dump({"ingress-path": {"name": "longswap", "code": open(sys.argv[1]).read(),
    "metric-configs": [{"name": "ntp_total", "map-name": "NTP_PACKETS_COUNTER",
        "extraction-options": {"swap-on-read": True}}]}},
    open(sys.argv[2], "w"))
EOF
cub_ok mon1 dataplane-config set --file "$T/longswap.json"
[ -e "$T/pins/mon1/i0_c0" ] && [ -e "$T/pins/mon1/i0_c1" ] ||
	fail "no swap set for the long-named swap-on-read map: $(ls "$T/pins/mon1")"
pings ns1 198.18.0.1 5 || fail "ping through the long-named swap-on-read counter"
out=$(cub mon1 metrics ingress-metrics ntp_total show -o json)
v=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
d = d[0] if isinstance(d, list) else d
v = d["value"]
print(v if isinstance(v, int) else v[0])' "$out") || fail "metric ntp_total: $out"
[ "$v" -ge 5 ] || fail "long-named swap-on-read metric: $v of 5 ($out)"
cub_log "a 19-character swap-on-read map: $v"

# ---- the packet counter again, with --file ----
t0=$(date +%s%N)
cub_ok mon1 set dataplane-config --file "$EX/packet_counter.json"
t1=$(date +%s%N)
cub_log "dataplane-config set (compile, verify, attach) took $(((t1 - t0) / 1000000)) ms"
[ "$(dpshow mon1)" = "$(canon <"$EX/packet_counter.json")" ] ||
	fail "dataplane-config show after --file: $(dpshow mon1)"
c0=$(counter mon1 i_PKT_COUNTER)
pings ns1 198.18.0.1 20 || fail "ping through the packet counter (--file)"
c1=$(counter mon1 i_PKT_COUNTER)
[ $((c1 - c0)) -ge 20 ] || fail "packet counter (--file) counted $((c1 - c0)) of 20"
good=$(dpshow mon1)
snapshot() { dpshow mon1; }
before=$good

# ---- refusals: each with its reason, the old program counting ----
# A syntax error on the user's line 5.
cat >"$T/broken.c" <<'EOF'
BPF_ARRAY(PKT_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	u32 k = 0;
	u64 *v = PKT_COUNTER.lookup(&k)
	if (v)
		*v += 1;
	return RX_OK;
}
EOF
mkconf "$T/broken.json" "$T/broken.c"
refused_unchanged "ingress: line 6:[0-9]+: error: expected ';'|ingress: line 5:[0-9]+: error: expected ';'" \
	mon1 dataplane-config set --file "$T/broken.json"
c0=$(counter mon1 i_PKT_COUNTER)
pings ns1 198.18.0.1 10 || fail "ping after a refused compile"
c1=$(counter mon1 i_PKT_COUNTER)
[ $((c1 - c0)) -ge 10 ] || fail "the old program stopped counting after a compile error: $((c1 - c0))"
# A metric naming a map the code does not have.
cat >"$T/count.c" <<'EOF'
BPF_ARRAY(PKT_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	PKT_COUNTER.atomic_increment(0);
	return RX_OK;
}
EOF
mkconf "$T/nomap.json" "$T/count.c" NO_SUCH_MAP
refused_unchanged "metric 'packets_total': map-name 'NO_SUCH_MAP' is not a map" \
	mon1 dataplane-config set --file "$T/nomap.json"
# A helper outside the networking set: refused by the broker, by name.
cat >"$T/kread.c" <<'EOF'
BPF_ARRAY(PKT_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), (void *)(long)ctx->data);
	PKT_COUNTER.atomic_increment(0);
	return v == 7 ? RX_DROP : RX_OK;
}
EOF
mkconf "$T/kread.json" "$T/kread.c"
# (libbpf turns bpf_probe_read_kernel into bpf_probe_read, #4, when its
# probe for the former fails, as it does without CAP_PERFMON: the
# unprivileged verifier then names that one.)
refused_unchanged "helper bpf_probe_read(_kernel)?( \\(|#)" mon1 dataplane-config set --file "$T/kread.json"
# A helper the kernel allows a TC program but the broker's networking
# set does not (a redirect): the broker's own check names it.
cat >"$T/redir.c" <<'EOF'
BPF_ARRAY(PKT_COUNTER, u64, 1);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	PKT_COUNTER.atomic_increment(0);
	return bpf_redirect(1, 0) == 7 ? RX_DROP : RX_OK;
}
EOF
mkconf "$T/redir.json" "$T/redir.c"
refused_unchanged "bpf_redirect \(#23\)" mon1 dataplane-config set --file "$T/redir.json"
# A refused load whose map changes shape leaves the old map pinned and
# counting (the new one was never pinned).
cat >"$T/kreadhash.c" <<'EOF'
BPF_HASH(PKT_COUNTER, u32, u32, 8);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	u64 v = 0;
	u32 k = 1, one = 1;
	bpf_probe_read_kernel(&v, sizeof(v), (void *)(long)ctx->data);
	PKT_COUNTER.update(&k, &one);
	return v == 7 ? RX_DROP : RX_OK;
}
EOF
mkconf "$T/kreadhash.json" "$T/kreadhash.c"
refused_unchanged "helper bpf_probe_read(_kernel)?( \\(|#)" mon1 dataplane-config set --file "$T/kreadhash.json"
bpftool map show pinned "$T/pins/mon1/i_PKT_COUNTER" | grep -w "array" >/dev/null ||
	fail "a refused load replaced the pinned map: $(bpftool map show pinned "$T/pins/mon1/i_PKT_COUNTER")"
c0=$(counter mon1 i_PKT_COUNTER)
pings ns1 198.18.0.1 10 || fail "ping after the refusals"
c1=$(counter mon1 i_PKT_COUNTER)
[ $((c1 - c0)) -ge 10 ] || fail "the old program stopped counting after the refusals: $((c1 - c0))"
cub_log "after three refusals the old program counted $((c1 - c0)) of 10"

# ---- the same map name, another type, key, value and size: loads ----
cat >"$T/hash.c" <<'EOF'
struct fkey { u32 saddr; u32 daddr; } __attribute__((packed));
BPF_HASH(PKT_COUNTER, struct fkey, u32, 64);
static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)
{
	struct fkey k = {1, 2};
	u32 one = 1, *v = PKT_COUNTER.lookup(&k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		PKT_COUNTER.update(&k, &one);
	return RX_OK;
}
EOF
mkconf "$T/hash.json" "$T/hash.c"
cub_ok mon1 dataplane-config set --file "$T/hash.json"
pings ns1 198.18.0.1 10 || fail "ping through the hash counter"
[ "$(counter mon1 i_PKT_COUNTER)" -ge 10 ] ||
	fail "the hash PKT_COUNTER counted $(counter mon1 i_PKT_COUNTER) of 10"
bpftool map show pinned "$T/pins/mon1/i_PKT_COUNTER" | grep "hash" >/dev/null ||
	fail "i_PKT_COUNTER is not the new hash: $(bpftool map show pinned "$T/pins/mon1/i_PKT_COUNTER")"
# And back to the array.
cub_ok mon1 dataplane-config set --file "$EX/packet_counter.json"
pings ns1 198.18.0.1 5 || fail "ping through the packet counter again"
[ "$(counter mon1 i_PKT_COUNTER)" -ge 5 ] || fail "back to the array: no count"

# ---- type=XDP_DRV ----
need ethtool
host_peer ns2 veth2 198.18.1.2 198.18.1.1
napi_on ns2
cub_ok dynmon add mon2 type=XDP_DRV
cub_ok attach mon2 veth2
cub_ok mon2 dataplane-config set --file "$EX/packet_counter.json"
pings ns2 198.18.1.1 20 || fail "ping through the XDP_DRV packet counter: $(cat "$T/ping.out")"
x=$(counter mon2 i_PKT_COUNTER)
[ "$x" -ge 20 ] || fail "XDP_DRV packet counter counted $x of 20"
cub_log "XDP_DRV packet counter: $x packets for 20 pings"

cub_ok mon1 del
cub_ok mon2 del
[ ! -e "$T/pins/mon1" ] || fail "mon1's pins are left"
