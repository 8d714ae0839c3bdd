#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Which forms of reaching the L4 header behind a variable-length IPv4
# header the broker's hardened verifier (no CAP_SYS_ADMIN, no CAP_PERFMON)
# takes, in the hook mode $1 (TC or XDP_DRV): one parser written four ways
# (plugins/testing/hl4.bpf.h), one service each.  Refused: Polycube's
# data + 14 + 4 * ihl, with an error naming cub_l4() and
# --unhardened-service.  (The fifth, a pointer advanced in a bounded loop,
# hl4_loop.bpf.o, runs into the verifier's 1M-instruction limit after
# tens of seconds: measured by hand, docs/architecture.md.)  Taken,
# and counting real probes with IP options (ihl 5, 6, 10 and 15) by their
# L4 header while forwarding: cub_l4(), cub_l4_copy(), and a copy of the
# packet indexed in a map value.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
for f in arith table copy mapidx; do
	PLUGINS+=("$CUB_BUILD/plugins/testing/hl4_$f.so")
done
need python3 bpftool
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
broker_start

# A refused load leaves no cube and no program on the veths.
nothing_left() {
	! cub "$1" show >/dev/null 2>&1 || fail "$1 exists after its refusal"
	[ -z "$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+')" ] ||
		fail "a program on vetha after $1's refusal"
}

err=$(cub_refused 2 hl4_arith add a1 type="$HOOK")
for want in "pointer arithmetic with it prohibited for !root" \
	"cub_l4()" "--unhardened-service hl4_arith"; do
	grep -qF -- "$want" <<<"$err" || fail "arith: '$want' not in: $err"
done
nothing_left a1
cub_log "data + 4 * ihl: refused: $err"

# udp NS DST N OPTBYTES: N datagrams to port 4242 with OPTBYTES bytes of
# IP options (NOPs, then an end-of-list), from NS.
udp() {
	ip netns exec "$1" python3 -c '
import socket, sys
dst, n, opt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1] * (opt - 1) + [0]))
for _ in range(n):
    s.sendto(b"p" * 48, (dst, 4242))
' "$2" "$3" "$4"
}

for f in table copy mapidx; do
	c="c_$f"
	cub_ok "hl4_$f" add "$c" type="$HOOK"
	cub_ok "$c" ports add p1 peer=vetha
	cub_ok "$c" ports add p2 peer=vethb
	# ihl 5: plain pings; ihl 15: record route (39 bytes, padded to 40)
	ip netns exec ca ping -c 5 -i 0.05 -W 10 198.18.0.2 >"$T/ping.out" ||
		fail "$f: ping through $c ($HOOK): $(tail -2 "$T/ping.out")"
	ip netns exec ca ping -R -c 4 -i 0.05 -W 10 198.18.0.2 >"$T/ping.out" ||
		fail "$f: ping -R through $c ($HOOK): $(tail -2 "$T/ping.out")"
	grep -q '^RR:' "$T/ping.out" || fail "$f: no record route: $(cat "$T/ping.out")"
	udp ca 198.18.0.2 3 4  # ihl 6
	udp ca 198.18.0.2 2 20 # ihl 10
	got=
	for n in 5 6 7 8 9 10 11 12 13 14 15; do
		got+="$n:$(cub "$c" show "ihl$n") "
	done
	want="5:5 6:3 7:0 8:0 9:0 10:2 11:0 12:0 13:0 14:0 15:4 "
	[ "$got" = "$want" ] || fail "$f: probes by ihl '$got', expected '$want'"
	[ "$(port_counter "$c" p1 probes)" = 14 ] &&
		[ "$(port_counter "$c" p2 probes)" = 0 ] ||
		fail "$f: port probes $(port_counter "$c" p1 probes) $(port_counter "$c" p2 probes)"
	id=$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
	nospec=$(bpftool prog dump xlated id "$id" | grep -c nospec || true)
	cub_log "$f ($HOOK): taken; probes by ihl $got; $nospec nospec"
	cub_ok "$c" del
	for _ in $(seq 1 100); do
		[ -z "$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+')" ] && break
		sleep 0.1
	done
done
