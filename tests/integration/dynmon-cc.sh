#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon's compile helper (plugins/dynmon/dynmon-cc.c) run directly on
# Polycube's examples and test programs: each object loads with libbpf and
# BPF_PROG_TEST_RUN on a crafted packet shows the effect; the packet
# counter loaded hardened (no CAP_SYS_ADMIN, no CAP_PERFMON) carries no
# nospec barrier; broken code comes back with the path and user's line.
. "$(dirname "$0")/../lib/netns.sh"

D="$CUB_BUILD/plugins/dynmon"
CC="$D/cubicle-dynmon-cc"
LOAD="$D/dmcc-load"
SRC="$(dirname "$0")/../../plugins/dynmon"
[ -x "$CC" ] && [ -x "$LOAD" ] || fail "cubicle-dynmon-cc or dmcc-load not built"

# compile NAME TYPE CONFIG: $T/NAME.o
compile() {
	"$LOAD" --input "$2" "$3" >"$T/$1.in" || fail "$1: no input"
	"$CC" <"$T/$1.in" >"$T/$1.o" 2>"$T/$1.err" ||
		fail "$1: dynmon-cc failed: $(cat "$T/$1.err")"
	[ ! -s "$T/$1.err" ] || fail "$1: stderr on success: $(cat "$T/$1.err")"
	[ "$(head -c4 "$T/$1.o" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		fail "$1: the output is not an ELF object"
}
# expect OUT LINE: OUT has the exact line
expect() { grep -qxF -- "$2" <<<"$1" || fail "'$2' not in: $1"; }

# Packet counter (TC): counts every packet, passes them all, logs with
# its argument; the ELF carries Polycube's map as i_PKT_COUNTER.
compile pc TC "$SRC/examples/packet_counter.json"
out=$("$LOAD" "$T/pc.o" --runs 5 --log --dump i_PKT_COUNTER) || fail "pc: $out"
expect "$out" "verdict pass 7"
expect "$out" "map i_PKT_COUNTER 00000000 0500000000000000"
expect "$out" "log 0 ingress 11 counter: %d|5"
cub_log "packet counter: 5 runs, counter 5, 5 log records"
# Its egress path is the default: passes, counts nothing.
out=$("$LOAD" "$T/pc.o" --egress --runs 3 --dump i_PKT_COUNTER) || fail "$out"
expect "$out" "verdict pass 7"
expect "$out" "map i_PKT_COUNTER 00000000 0000000000000000"
# Logging off (cub_config before the broker writes it): no record.
out=$("$LOAD" "$T/pc.o") || fail "$out"
! grep -q '^log' <<<"$out" || fail "logged with the log mask off: $out"
# The same program as XDP.
compile pcx XDP "$SRC/examples/packet_counter.json"
out=$("$LOAD" "$T/pcx.o" --xdp --runs 4 --dump i_PKT_COUNTER) || fail "$out"
expect "$out" "verdict pass 7"
expect "$out" "map i_PKT_COUNTER 00000000 0400000000000000"

# Hardened, as the broker loads: no nospec in the packet counter.
out=$("$LOAD" "$T/pc.o" --hardened --xlated) || fail "hardened: $out"
grep -qF 'dm_i_rx_tc' <<<"$out" || fail "no xlated dump: $out"
n=$(grep -c nospec <<<"$out" || true)
[ "$n" = 0 ] || fail "the hardened packet counter has $n nospec: $out"
cub_log "hardened packet counter: 0 nospec"

# NTP: only UDP port 123 counts; %I:%P logs addresses and ports.  Its
# map names are longer than 13 characters: the object's are 15
# (rewrite.h, dm_map_objname()).
NPC=$("$LOAD" --objname i NTP_PACKETS_COUNTER)
NMP=$("$LOAD" --objname i NTP_MODE_PRIVATE_PACKETS_COUNTER)
[ "${#NPC}" = 15 ] && [ "${#NMP}" = 15 ] && [ "$NPC" != "$NMP" ] ||
	fail "object names '$NPC' '$NMP'"
compile ntp TC "$SRC/examples/ntp_packets_counter.json"
out=$("$LOAD" "$T/ntp.o" --dport 53 --runs 2 --dump "$NPC") || fail "$out"
expect "$out" "map $NPC 00000000 0000000000000000"
out=$("$LOAD" "$T/ntp.o" --dport 123 --sport 40000 --runs 3 --log \
	--dump "$NPC") || fail "$out"
expect "$out" "verdict pass 7"
expect "$out" "map $NPC 00000000 0300000000000000"
# 10.0.0.1:40000 -> 10.0.0.2:123, as the packet holds them (network order)
expect "$out" "log 0 ingress 45 %I:%P	-> %I:%P|16777226,16540,33554442,31488"

# Known limit (docs/architecture.md, dynmon): Polycube's NTP code adds
# the variable 4 * ihl to a packet pointer, which the hardened verifier
# of this kernel refuses (Spectre v1 sanitation knows no packet
# pointers), so the broker, which loads hardened, cannot take it as is.
rc=0
out=$("$LOAD" "$T/ntp.o" --hardened 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -qF "pointer arithmetic with it prohibited for !root" <<<"$out" ||
	fail "the hardened NTP load: exit $rc: $(tail -3 <<<"$out")"
cub_log "hardened NTP: $(grep -F 'prohibited for !root' <<<"$out")"

# NTP mode 7: mode-private packets counted apart.
compile ntp7 TC "$SRC/examples/ntp_packets_ntp_mode_private_counters.json"
out=$("$LOAD" "$T/ntp7.o" --dport 123 --payload 1b --runs 2 \
	--dump "$NPC" --dump "$NMP") || fail "$out"
expect "$out" "map $NPC 00000000 0200000000000000"
expect "$out" "map $NMP 00000000 0000000000000000"
out=$("$LOAD" "$T/ntp7.o" --dport 123 --payload 17 --runs 3 --log \
	--dump "$NMP") || fail "$out"
expect "$out" "map $NMP 00000000 0300000000000000"
expect "$out" "log 0 ingress 81 NTP mode: %hhu|7"
expect "$out" "log 0 ingress 83 RECEIVED NTP MODE 7|"

# test_map_extraction: SIMPLE_HASH {1,2,11,22,0} -> 0, SIMPLE_ARRAY
# [{1010, 1010}] (packed: u64 then u16).
compile mx TC "$SRC/tests/test_map_extraction.json"
out=$("$LOAD" "$T/mx.o" --dump i_SIMPLE_HASH --dump i_SIMPLE_ARRAY) ||
	fail "$out"
expect "$out" "map i_SIMPLE_HASH 01000000020000000b00160000 00000000"
expect "$out" "map i_SIMPLE_ARRAY 00000000 f203000000000000f203"
# test_queuestack: one {1010, 1010} queued (size 1: the second push fails).
compile qs TC "$SRC/tests/test_queuestack.json"
out=$("$LOAD" "$T/qs.o" --runs 2 --dump i_SIMPLE_QUEUE) || fail "$out"
expect "$out" "map i_SIMPLE_QUEUE - f203000000000000f203"
[ "$(grep -c '^map i_SIMPLE_QUEUE' <<<"$out")" = 1 ] || fail "queue: $out"
cub_log "map extraction and queue: Polycube's values"

# RX_DROP drops (TC_ACT_SHOT, XDP_DROP), on the egress path too; the
# swap-on-read map goes to the packet's copy (copy 0 before any flip).
cat >"$T/drop.json" <<'JSON'
{"ingress-path": {"code": "BPF_ARRAY(hits, u64, 1);\nstatic int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {\n  hits.increment(0);\n  return RX_DROP;\n}\n",
   "metric-configs": [{"name": "hits", "map-name": "hits", "extraction-options": {"swap-on-read": true}}]},
 "egress-path": {"code": "static int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { return md->packet_len > 60 ? RX_DROP : RX_OK; }"}}
JSON
compile drop TC "$T/drop.json"
out=$("$LOAD" "$T/drop.o" --runs 2 --dump i0_c0 --dump i0_c1) || fail "$out"
expect "$out" "verdict drop 2"
expect "$out" "map i0_c0 00000000 0200000000000000"
expect "$out" "map i0_c1 00000000 0000000000000000"
out=$("$LOAD" "$T/drop.o" --egress) || fail "$out"
expect "$out" "verdict drop 2"
out=$("$LOAD" "$T/drop.o" --egress --payload 00 --dump cub_sw_i0) || fail "$out"
expect "$out" "verdict drop 2"
compile dropx XDP "$T/drop.json"
out=$("$LOAD" "$T/dropx.o" --xdp) || fail "$out"
expect "$out" "verdict drop 1"
# XDP type: the TC program passes ingress packets, runs the egress path.
out=$("$LOAD" "$T/dropx.o") || fail "$out"
expect "$out" "verdict pass 7"
cub_log "RX_DROP: TC_ACT_SHOT and XDP_DROP"

# Errors: stdout empty, exit 1, the path and the user's line first.
# err NAME WANT: the input $T/NAME.in fails with WANT at the start
err() {
	local rc=0
	"$CC" <"$T/$1.in" >"$T/$1.o" 2>"$T/$1.err" || rc=$?
	[ "$rc" = 1 ] || fail "$1: exit $rc"
	[ ! -s "$T/$1.o" ] || fail "$1: output on failure"
	[ "$(wc -c <"$T/$1.err")" -le 1025 ] || fail "$1: stderr over 1 KiB"
	head -c "${#2}" "$T/$1.err" | grep -qxF -- "$2" ||
		fail "$1: '$(cat "$T/$1.err")' does not start with '$2'"
	cub_log "$1: $(head -1 "$T/$1.err")"
}
printf '{"egress-path": {"code": "BPF_ARRAY(c, u64, 1);\\nstatic int\\nhandle_rx(struct CTXTYPE *ctx,\\n    struct pkt_metadata *md)\\n{\\n\\tu32 k = 0;\\n\\tu64 *v = c.lookup(&k)\\n\\tif (v) *v += 1;\\n\\treturn RX_OK;\\n}\\n"}}' >"$T/syn.json"
"$LOAD" --input TC "$T/syn.json" >"$T/syn.in"
err syn "egress: line 7:"
printf '{"ingress-path": {"code": "\\nBPF_TABLE(\\"trie\\", u32, u64, t, 1);"}}' >"$T/bad.json"
"$LOAD" --input TC "$T/bad.json" >"$T/bad.in"
err bad 'ingress: line 2: unknown map type "trie"'
printf 'not msgpack' >"$T/junk.in"
err junk "ingress: the input is not MessagePack"
