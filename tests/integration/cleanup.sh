#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Deleting every cube leaves no program, map, pin, tc filter, qdisc or XDP
# program behind.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
netns_host cc vethc 198.18.0.3
netns_host cd vethd 198.18.0.4
broker_start
cub_ok simpleforwarder add tc1 type=TC
cub_ok tc1 ports add p1 peer=vetha
cub_ok tc1 ports add p2 peer=vethb
cub_ok simpleforwarder add xdp1 type=XDP_DRV
cub_ok xdp1 ports add p1 peer=vethc
cub_ok xdp1 ports add p2 peer=vethd
cub_ok simpleforwarder add skb1 type=XDP_SKB
cub_ok skb1 ports add p1

# Record every program and map id the cubes use.
ids=$(bpftool -j net show | grep -oE '"id":[0-9]+' | cut -d: -f2 | sort -u)
[ "$(wc -w <<<"$ids")" -ge 2 ] || fail "expected attached programs, got: $(bpftool net show)"
maps=""
for id in $ids; do
	maps+=" $(bpftool -j prog show id "$id" | grep -oE '"map_ids":\[[0-9,]*\]' | grep -oE '[0-9]+')"
done
[ -n "${maps// /}" ] || fail "no maps found for programs $ids"
grep -q tc1 <<<"$(ls "$T/pins")" || fail "no pins for tc1"

# A port can be removed on its own: its netdev is released at once.
cub_ok tc1 ports del p2
[ -z "$(tc filter show dev vethb ingress)" ] || fail "filter left on vethb after port del"
grep -q clsact <<<"$(tc qdisc show dev vethb)" && fail "clsact left on vethb after port del"

# Disconnecting a port (empty peer) releases its netdev; reconnecting
# attaches again.
cub_ok tc1 ports p1 set peer=
[ -z "$(tc filter show dev vetha ingress)" ] || fail "filter left on vetha after peer="
[ "$(cub tc1 ports p1 show status)" = DOWN ] || fail "p1 not DOWN without a peer"
cub_ok tc1 ports p1 set peer=vetha
grep -q bpf <<<"$(tc filter show dev vetha ingress)" || fail "no filter on vetha after reconnect"
[ "$(cub tc1 ports p1 show status)" = UP ] || fail "p1 not UP after reconnect"

for c in tc1 xdp1 skb1; do cub_ok "$c" del; done
[ "$(cub show cubes -o json | tr -d ' \n')" = "[]" ] || fail "cubes left: $(cub show cubes)"
for d in vetha vethb vethc vethd; do
	[ -z "$(tc filter show dev $d ingress)" ] || fail "tc filter left on $d"
	grep -q clsact <<<"$(tc qdisc show dev $d)" && fail "clsact qdisc left on $d"
	grep -q xdp <<<"$(ip link show $d)" && fail "XDP program left on $d"
done
# A bpffs holds only the kernel's maps.debug and progs.debug when empty.
left=$(ls -A "$T/pins" | grep -vxE '(maps|progs)\.debug' || true)
[ -z "$left" ] || fail "pins left: $left"
sleep 0.5 # programs are freed after an RCU grace period
for id in $ids; do
	bpftool prog show id "$id" >/dev/null 2>&1 && fail "program $id still loaded"
done
for id in $maps; do
	bpftool map show id "$id" >/dev/null 2>&1 && fail "map $id still exists"
done
cub_log "no program, map, pin, filter or qdisc left (programs: $ids; maps: $maps)"
