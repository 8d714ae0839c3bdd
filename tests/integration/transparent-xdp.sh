#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# XDP transparent cubes and the broker's per-netdev XDP dispatcher (issue
# 7, "Hooks"): an XDP_DRV transparenthelloworld on a netdev counts the
# pings coming in and drops them when told, and detaching it leaves the
# netdev with no XDP program; on a netdev that a port of an XDP_DRV
# simpleforwarder peers with, the dispatcher runs the transparent cubes
# then the forwarder (both count), the port can go and come back under
# it, and the last detach puts the forwarder's own program back; mixed
# hooks and modes are refused with their messages; a broker kill -9
# keeps every program id; XDP_SKB once.
. "$(dirname "$0")/../lib/netns.sh"

need ethtool
PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
netns_host ca veth1 198.18.0.1
ip addr add 198.18.0.2/24 dev veth1
static_host_arp() { # NS ADDR_IN_NS IFNAME ADDR_HERE
	local m1 m2
	m1=$(ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	m2=$(ip -o link show "$3" | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	ip -n "$1" neigh replace "$4" lladdr "$m2" dev eth0 nud permanent
	ip neigh replace "$2" lladdr "$m1" dev "$3" nud permanent
}
static_host_arp ca 198.18.0.1 veth1 198.18.0.2
netns_hosts XDP_DRV cc:vethc:198.18.2.1 cd:vethd:198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
broker_start

# A loaded machine (load average 28 seen) loses the odd ping with no
# cube at all: a path that must pass gets three tries of N pings, each
# all answered; counters are checked for at least N.
ping_ok() { # NS ADDR N
	local try
	for try in 1 2 3; do
		ip netns exec "$1" ping -c "$3" -i 0.05 -W 10 "$2" >"$T/ping.out" 2>&1 &&
			grep -q " 0% packet loss" "$T/ping.out" && return 0
		cub_log "try $try of $3 pings to $2: $(tail -2 "$T/ping.out" | head -1)"
	done
	return 1
}
pings() { ping_ok ca 198.18.0.2 "$1"; }    # ca -> veth1 (this namespace)
pings_cd() { ping_ok cc 198.18.2.2 "$1"; } # cc -> cd through sf1
nopings() { # N [NS ADDR]: N pings, none answered (-W 1: they are dropped)
	! ip netns exec "${2:-ca}" ping -c "$1" -i 0.05 -W 1 "${3:-198.18.0.2}" >/dev/null 2>&1
}
ctr() { cub "$1" show "$2"; }
xdp_id() { # NETDEV [xdp|xdpgeneric]: id of its XDP program in that mode, "" if none
	local out
	out=$(ip -d link show dev "$1")
	grep -qE "> mtu [0-9]+ ${2:-xdp} " <<<"$out" || return 0
	grep -oE "prog/xdp id [0-9]+" <<<"$out" | grep -oE '[0-9]+$' || true
}
topo_id() { # TARGET: the stack's ingress_prog_id in show topology
	cub show topology "$1" -o json | grep -oE '"ingress_prog_id": [0-9]+' | grep -oE '[0-9]+$'
}

# ---- one XDP_DRV cube on a netdev that no port uses ----
pings 2 || fail "no ping before anything is attached"
[ -z "$(xdp_id veth1)" ] || fail "veth1 has an XDP program before the test"
cub_ok transparenthelloworld add th1 type=XDP_DRV
cub_ok attach th1 veth1
id1=$(xdp_id veth1)
[ -n "$id1" ] || fail "no native XDP program on veth1 after attach: $(ip -d link show dev veth1)"
[ "$id1" = "$(topo_id veth1)" ] || fail "veth1's XDP program $id1 is not the dispatcher $(topo_id veth1)"
[ "$(cub topology show veth1)" = "ingress service chain: th1 ---> stack" ] ||
	fail "topology show veth1: $(cub topology show veth1)"
[ -z "$(tc filter show dev veth1 ingress 2>/dev/null)" ] || fail "an XDP stack put a tc filter on veth1"
i0=$(ctr th1 ingress-packets)
pings 10 || fail "ping through th1 (XDP_DRV, PASS) failed: $(tail -2 "$T/ping.out")"
i1=$(ctr th1 ingress-packets)
[ $((i1 - i0)) -ge 10 ] || fail "th1 ingress-packets grew by $((i1 - i0)), expected >= 10"
cub_log "th1 (XDP_DRV) on veth1 counted $((i1 - i0)) for 10 pings"
cub_ok th1 set ingress-action=DROP
d0=$(ctr th1 ingress-drops)
nopings 3 || fail "ping passed with th1 ingress-action=DROP"
d1=$(ctr th1 ingress-drops)
[ $((d1 - d0)) -ge 3 ] || fail "th1 ingress-drops grew by $((d1 - d0)), expected >= 3"
[ "$(xdp_id veth1)" = "$id1" ] || fail "setting an action changed veth1's XDP program"
cub_ok th1 set ingress-action=PASS
pings 2 || fail "ping failed with th1 back to PASS"

# ---- refusals on a netdev with an XDP_DRV stack; nothing changes ----
cub_ok transparenthelloworld add tsk type=XDP_SKB
cub_ok transparenthelloworld add ttc
cub_ok simpleforwarder add sfs type=XDP_SKB
cub_ok simpleforwarder add sft
snapshot() { cub show topology -o json; xdp_id veth1; xdp_id vethc; }
before=$(snapshot)
refused_unchanged "XDP stack on 'veth1' runs in XDP_DRV mode" attach tsk veth1
refused_unchanged "incompatible hooks" attach ttc veth1
refused_unchanged "XDP stack on 'veth1' runs in XDP_DRV mode" sfs ports add p1 peer=veth1
refused_unchanged "incompatible hooks" sft ports add p1 peer=veth1

# ---- an XDP_DRV simpleforwarder between cc and cd, tx1 on its vethc ----
cub_ok simpleforwarder add sf1 type=XDP_DRV
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports add p2 peer=vethd
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
pings_cd 3 || fail "no ping through sf1 (XDP_DRV): $(tail -2 "$T/ping.out")"
sfid=$(xdp_id vethc)
[ -n "$sfid" ] || fail "sf1 has no XDP program on vethc"
before=$(snapshot)
refused_unchanged "is XDP_DRV: the XDP dispatcher runs in one mode" attach tsk vethc
refused_unchanged "peer of cube 'sf1' port 'p1'" attach ttc vethc
refused_unchanged "attaches to a netdev, not to a cube port" attach tsk sf1:p1
cub_ok transparenthelloworld add tx1 type=XDP_DRV
cub_ok transparenthelloworld add tx2 type=XDP_DRV
cub_ok attach tx1 vethc
cub_ok attach tx2 vethc
disp=$(xdp_id vethc)
[ -n "$disp" ] && [ "$disp" != "$sfid" ] && [ "$disp" = "$(topo_id vethc)" ] ||
	fail "vethc's XDP program is $disp: not the dispatcher $(topo_id vethc) (sf1's is $sfid)"
a1=$(ctr tx1 ingress-packets)
a2=$(ctr tx2 ingress-packets)
r0=$(port_counter sf1 p1 rx_packets)
pings_cd 10 || fail "ping through tx1, tx2 and sf1 failed: $(tail -2 "$T/ping.out")"
b1=$(ctr tx1 ingress-packets)
b2=$(ctr tx2 ingress-packets)
r1=$(port_counter sf1 p1 rx_packets)
[ $((b1 - a1)) -ge 10 ] || fail "tx1 ingress-packets grew by $((b1 - a1)), expected >= 10"
[ $((b2 - a2)) -ge 10 ] || fail "tx2 ingress-packets grew by $((b2 - a2)), expected >= 10"
[ $((r1 - r0)) -ge 10 ] || fail "sf1 p1 rx_packets grew by $((r1 - r0)), expected >= 10"
cub_log "vethc: tx1 $((b1 - a1)), tx2 $((b2 - a2)), sf1 p1 rx $((r1 - r0)) for 10 pings"
# tx1 drops: neither tx2 nor sf1 sees the packets.
cub_ok tx1 set ingress-action=DROP
a2=$(ctr tx2 ingress-packets)
r0=$(port_counter sf1 p1 rx_packets)
nopings 3 cc 198.18.2.2 || fail "ping passed with tx1 dropping on vethc"
[ "$(ctr tx2 ingress-packets)" = "$a2" ] || fail "tx2 saw packets tx1 dropped"
[ "$(port_counter sf1 p1 rx_packets)" = "$r0" ] || fail "sf1 saw packets tx1 dropped"
cub_ok tx1 set ingress-action=PASS
pings_cd 2 || fail "ping failed with tx1 back to PASS"

# The port goes and comes back under the stack: the dispatcher stays.
cub_ok sf1 ports p2 set action=drop
cub_ok sf1 ports del p1
[ "$(xdp_id vethc)" = "$disp" ] || fail "deleting sf1:p1 changed vethc's XDP program"
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
[ "$(xdp_id vethc)" = "$disp" ] || fail "re-adding sf1:p1 changed vethc's XDP program"
a1=$(ctr tx1 ingress-packets)
pings_cd 5 || fail "ping failed after sf1:p1 came back: $(tail -2 "$T/ping.out")"
[ $(($(ctr tx1 ingress-packets) - a1)) -ge 5 ] || fail "tx1 stopped counting after sf1:p1 came back"

# ---- tail-call budget: the dispatcher's hops count in the 33 ----
# entry -> 15 cubes (2 each) -> end -> sf1 -> its egress: 33 tail calls,
# the kernel's limit; a 16th cube would make 35 and is refused.
for i in $(seq 3 15); do
	cub_ok transparenthelloworld add tx$i type=XDP_DRV
	cub_ok attach tx$i vethc
done
cub_ok transparenthelloworld add tx16 type=XDP_DRV
before=$(snapshot)
refused_unchanged "over the kernel's limit of 33" attach tx16 vethc
a15=$(ctr tx15 ingress-packets)
r0=$(port_counter sf1 p1 rx_packets)
pings_cd 5 || fail "ping through 15 stacked cubes and sf1 failed: $(tail -2 "$T/ping.out")"
[ $(($(ctr tx15 ingress-packets) - a15)) -ge 5 ] || fail "tx15, the last of 15, did not count"
[ $(($(port_counter sf1 p1 rx_packets) - r0)) -ge 5 ] || fail "sf1 did not count behind 15 cubes"
# A port peered with a netdev whose 16 cubes end in XDP_PASS (2 x 16
# tail calls) would make their end run its cube: 35, refused.
cub_ok sf1 ports p2 set action=drop
cub_ok sf1 ports del p1
cub_ok attach tx16 vethc
before=$(snapshot)
refused_unchanged "over the kernel's limit of 33" sf1 ports add p1 peer=vethc
cub_ok tx16 del
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
pings_cd 3 || fail "ping through 15 cubes and sf1 failed after its port came back"
for i in $(seq 3 15); do cub_ok tx$i del; done
[ "$(xdp_id vethc)" = "$disp" ] || fail "deleting stacked cubes changed vethc's XDP program"
cub_log "15 XDP cubes in front of sf1 pass pings (33 tail calls); a 16th, or a port behind 16, is refused"

# ---- kill -9 of the broker: every id unchanged ----
cub_ok tx2 set ingress-action=DROP
topo_before=$(cub show topology -o json)
ids_before="$(xdp_id veth1) $(xdp_id vethc) $(xdp_id vethd)"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
nopings 2 cc 198.18.2.2 || fail "ping passed with tx2 dropping while the broker was down"
broker_start
[ "$(cub show topology -o json)" = "$topo_before" ] ||
	fail "topology differs after a broker kill -9:
$(diff <(echo "$topo_before") <(cub show topology -o json))"
[ "$(xdp_id veth1) $(xdp_id vethc) $(xdp_id vethd)" = "$ids_before" ] ||
	fail "XDP program ids $ids_before became $(xdp_id veth1) $(xdp_id vethc) $(xdp_id vethd) across a kill -9"
nopings 2 cc 198.18.2.2 || fail "ping passed with tx2 dropping after the restart"
cub_ok tx2 set ingress-action=PASS
pings_cd 3 || fail "ping failed after the restart: $(tail -2 "$T/ping.out")"
cub_log "broker kill -9: XDP program ids $ids_before unchanged"

# ---- a reboot: store kept, pins and netdevs gone: rebuilt ----
cub_ok tx1 set ingress-action=DROP
topo_before=$(cub show topology -o json | grep -v prog_id)
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
umount "$T/pins"
for ns in ca cc cd; do ip netns del $ns; done
NAMESPACES=()
links_gone veth1 vethc vethd
netns_host ca veth1 198.18.0.1
ip addr add 198.18.0.2/24 dev veth1
static_host_arp ca 198.18.0.1 veth1 198.18.0.2
netns_hosts XDP_DRV cc:vethc:198.18.2.1 cd:vethd:198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
[ -z "$(xdp_id vethc)$(xdp_id veth1)" ] || fail "the netdevs are not fresh"
broker_start
# Each cube's program comes when its worker loads it (generous: loaded
# machine); until then its slot steps over it.
for i in $(seq 1 300); do
	! cub show topology -o json | grep -q '"prog_id": 0' &&
		[ -n "$(xdp_id vethc)" ] && [ "$(xdp_id vethc)" = "$(topo_id vethc)" ] &&
		[ -n "$(xdp_id vethd)" ] && break
	sleep 0.1
done
! cub show topology -o json | grep -q '"prog_id": 0' ||
	fail "cubes not loaded 30 s after the reboot: $(cub show topology -o json | grep -B5 '"prog_id": 0')"
[ "$(xdp_id vethc)" = "$(topo_id vethc)" ] || fail "no dispatcher on vethc after the reboot"
[ "$(xdp_id veth1)" = "$(topo_id veth1)" ] || fail "no dispatcher on veth1 after the reboot"
[ "$(cub show topology -o json | grep -v prog_id)" = "$topo_before" ] ||
	fail "topology differs after the reboot:
$(diff <(echo "$topo_before") <(cub show topology -o json | grep -v prog_id))"
nopings 2 cc 198.18.2.2 || fail "ping passed after the reboot: tx1's DROP not rebuilt"
cub_ok tx1 set ingress-action=PASS
a1=$(ctr tx1 ingress-packets)
r0=$(port_counter sf1 p1 rx_packets)
pings_cd 5 || fail "ping through tx1, tx2 and sf1 failed after the reboot: $(tail -2 "$T/ping.out")"
[ $(($(ctr tx1 ingress-packets) - a1)) -ge 5 ] || fail "tx1 does not count after the reboot"
[ $(($(port_counter sf1 p1 rx_packets) - r0)) -ge 5 ] || fail "sf1 does not count after the reboot"
pings 2 || fail "ping through th1 failed after the reboot"
disp=$(xdp_id vethc)
sfid=$(cub show topology -o json | grep -A6 '"name": "sf1"' | grep -oE '"prog_id": [0-9]+' | grep -oE '[0-9]+$')
cub_log "reboot: dispatchers rebuilt (vethc $disp), sf1's program $sfid"

# ---- the last detach puts sf1's own program back ----
cub_ok detach tx1 vethc
[ "$(xdp_id vethc)" = "$disp" ] || fail "detaching tx1 (tx2 stays) changed vethc's XDP program"
cub_ok detach tx2 vethc
[ "$(xdp_id vethc)" = "$sfid" ] || fail "vethc's XDP program is $(xdp_id vethc) after the last detach, not sf1's $sfid"
pings_cd 3 || fail "ping through sf1 failed after the last detach"
cub_ok detach th1 veth1
[ -z "$(xdp_id veth1)" ] || fail "veth1 keeps XDP program $(xdp_id veth1) after the last detach"
pings 3 || fail "ping failed after detaching th1"

# ---- XDP_SKB once ----
cub_ok attach tsk veth1
[ -n "$(xdp_id veth1 xdpgeneric)" ] && [ -z "$(xdp_id veth1)" ] ||
	fail "tsk (XDP_SKB) is not a generic XDP program on veth1: $(ip -d link show dev veth1)"
i0=$(ctr tsk ingress-packets)
pings 5 || fail "ping through tsk (XDP_SKB) failed"
[ $(($(ctr tsk ingress-packets) - i0)) -ge 5 ] || fail "tsk (XDP_SKB) did not count"
cub_ok detach tsk veth1
[ -z "$(xdp_id veth1 xdpgeneric)" ] || fail "veth1 keeps a generic XDP program"
[ -z "$(ls -A "$T/pins/_tstack" 2>/dev/null)" ] || fail "stack pins left: $(ls "$T/pins/_tstack")"
