#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bridge (802.1Q) on TC: n1, n2 on access ports of VLAN 10, n3, n4 of
# VLAN 20, n5 on a trunk (allowed 10 and 20) that sends and receives
# tagged frames made by hand (tests/lib/vlanframes.py: this kernel has
# no VLAN netdevs).  Same-VLAN hosts ping, cross-VLAN ones never; a
# broadcast stays in its VLAN (tagged to the trunk, untagged to access
# ports); the trunk's allowed list and native VLAN (on, off) filter and
# count; the FDB is per VLAN and shows (vlan, address, port); the
# bridge's MAC is shown; bad input is refused and changes nothing; XDP
# is refused; pings every 10 ms cross a kill -9 of the worker and of the
# broker unlost.  $1 = scale: 65536 hosts learned too; $1 = nooffload:
# veth's VLAN offloads off.
. "$(dirname "$0")/../lib/netns.sh"
need python3 ping bpftool

PLUGINS+=("$CUB_BUILD/plugins/bridge/bridge.so")
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2 \
	n3:veth3:198.18.0.3 n4:veth4:198.18.0.4 n5:veth5:198.18.0.5
# veth offloads the tag by default (tx-vlan-offload on: the tag goes to
# the peer as the skb's); $1 = nooffload turns that off on both ends, so
# the tags travel in the bytes (the receiving stack takes them out into
# the skb before TC either way).
if [ "${1:-}" = nooffload ]; then
	need ethtool
	for i in 1 2 3 4 5; do
		ethtool -K veth$i txvlan off rxvlan off
		ip netns exec n$i ethtool -K eth0 txvlan off rxvlan off
	done
fi
broker_start
. "$CUB_LIB/l2.sh"

. "$CUB_LIB/vlan.sh"
fdb_port() { # fdb_port VLAN MAC: "port type" of (VLAN, MAC), "" when absent
	cub br1 fdb entry "$1" "$2" show -o json 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)
print(e["port"], e.get("type", ""))' 2>/dev/null || true
}
ctr() { cub br1 ports "$1" show "$2"; }

# XDP: refused, said why.
err=$(cub_refused 2 bridge add brx type=XDP_DRV)
grep -q "TC only" <<<"$err" || fail "bridge type=XDP_DRV: '$err'"

cub_ok bridge add br1
for i in 1 2 3 4 5; do cub_ok br1 ports add p$i peer=veth$i; done
cub_ok br1 ports p1 access set vlanid=10
cub_ok br1 ports p2 access set vlanid=10
cub_ok br1 ports p3 access set vlanid=20
cub_ok br1 ports p4 access set vlanid=20
cub_ok br1 ports p5 set mode=trunk
cub_ok br1 ports p5 trunk allowed add 10
cub_ok br1 ports p5 trunk allowed add 20
M1=$(mac_of n1) M2=$(mac_of n2) M3=$(mac_of n3) M4=$(mac_of n4)

# Same VLAN: pings; across VLANs: never (not even the ARP request).
ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "n1 cannot ping n2 (VLAN 10)"
ip netns exec n3 ping -c 2 -i 0.2 -W 2 198.18.0.4 >/dev/null || fail "n3 cannot ping n4 (VLAN 20)"
ip netns exec n1 ping -c 2 -i 0.2 -W 1 198.18.0.3 >/dev/null && fail "n1 (VLAN 10) pinged n3 (VLAN 20)"
ip netns exec n4 ping -c 2 -i 0.2 -W 1 198.18.0.2 >/dev/null && fail "n4 (VLAN 20) pinged n2 (VLAN 10)"
[ "$(fdb_port 10 "$M1")" = "p1 dynamic" ] || fail "fdb (10, n1): '$(fdb_port 10 "$M1")'"
[ "$(fdb_port 20 "$M3")" = "p3 dynamic" ] || fail "fdb (20, n3): '$(fdb_port 20 "$M3")'"
[ -z "$(fdb_port 20 "$M1")" ] || fail "n1 learned in VLAN 20: '$(fdb_port 20 "$M1")'"
cub_log "fdb: $(cub br1 fdb entry show | tr '\n' ' ')"

B=ff:ff:ff:ff:ff:ff
# A broadcast from VLAN 10: n2 untagged, the trunk tagged 10, no one else.
got=$(probe 02:00:00:00:10:01 n1 $B 0 20)
[ "$got" = "none | -:20 | none | none | 10:20" ] || fail "20 broadcasts from n1 (VLAN 10): $got"
# A tagged 20 broadcast from the trunk: n3, n4 untagged, no one else.
got=$(probe 02:00:00:00:20:05 n5 $B 20 15)
[ "$got" = "none | none | -:15 | -:15 | none" ] || fail "15 broadcasts tagged 20 from the trunk: $got"
# Unknown unicast in VLAN 20 from n4: n3 and the trunk (tagged 20).
got=$(probe 02:00:00:00:20:04 n4 02:00:00:00:99:99 0 12)
[ "$got" = "none | none | -:12 | none | 20:12" ] || fail "12 unknown unicasts from n4 (VLAN 20): $got"
# The FDB is per VLAN: one MAC on the trunk in VLANs 10 and 20.
X=02:00:00:00:00:5a
vf n5 send eth0 $B $X 1 10 >/dev/null
vf n5 send eth0 $B $X 1 20 >/dev/null
[ "$(fdb_port 10 $X)" = "p5 dynamic" ] || fail "fdb (10, X): '$(fdb_port 10 $X)'"
[ "$(fdb_port 20 $X)" = "p5 dynamic" ] || fail "fdb (20, X): '$(fdb_port 20 $X)'"
show=$(cub br1 fdb entry show)
grep -E "10.*$X.*p5|$X.*10.*p5" <<<"$show" >/dev/null || fail "fdb entry show lacks (10, X, p5): $show"
# A known unicast to X from VLAN 20: out of the trunk alone, tagged 20.
got=$(probe 02:00:00:00:20:03 n3 $X 0 10)
[ "$got" = "none | none | none | none | 20:10" ] || fail "10 frames n3 -> X (VLAN 20): $got"
# ... and from VLAN 10, tagged 10.
got=$(probe 02:00:00:00:10:02 n2 $X 0 10)
[ "$got" = "none | none | none | none | 10:10" ] || fail "10 frames n2 -> X (VLAN 10): $got"
# A known unicast from the trunk to n1: untagged, n1 alone.
got=$(probe $X n5 "$M1" 10 10)
[ "$got" = "-:10 | none | none | none | none" ] || fail "10 frames X -> n1 tagged 10: $got"
# ... but tagged 20 it is VLAN 20's: n1 is unknown there, flooded in 20.
got=$(probe $X n5 "$M1" 20 10)
[ "$got" = "none | none | -:10 | -:10 | none" ] || fail "10 frames X -> n1 tagged 20: $got"

# The allowed list: VLAN 30 is not the trunk's: dropped, counted.
v0=$(ctr p5 vlan_drops) d0=$(ctr p5 drops)
got=$(probe 02:00:00:00:30:05 n5 $B 30 25)
[ "$got" = "none | none | none | none | none" ] || fail "25 broadcasts tagged 30 (not allowed): $got"
[ $(($(ctr p5 vlan_drops) - v0)) = 25 ] || fail "p5 vlan_drops +$(($(ctr p5 vlan_drops) - v0)), expected +25"
[ $(($(ctr p5 drops) - d0)) -ge 25 ] || fail "p5 drops +$(($(ctr p5 drops) - d0)), expected +25"
# A tagged frame on an access port: dropped, counted.
v0=$(ctr p1 vlan_drops)
got=$(probe 02:00:00:00:10:01 n1 $B 10 7)
[ "$got" = "none | none | none | none | none" ] || fail "7 tagged broadcasts on access port p1: $got"
[ $(($(ctr p1 vlan_drops) - v0)) = 7 ] || fail "p1 vlan_drops +$(($(ctr p1 vlan_drops) - v0)), expected +7"
# Allowed list grows: VLAN 30 then passes (no host there but the trunk).
cub_ok br1 ports p5 trunk allowed add 30
cub_ok br1 ports p3 access set vlanid=30
got=$(probe 02:00:00:00:30:05 n5 $B 30 5)
[ "$got" = "none | none | -:5 | none | none" ] || fail "5 broadcasts tagged 30 (allowed, p3 in 30): $got"
cub_ok br1 ports p3 access set vlanid=20
cub_ok br1 ports p5 trunk allowed del 30

# Native VLAN on (default 1: no one else there): untagged from the
# trunk goes to VLAN 1 only.
got=$(probe 02:00:00:00:01:05 n5 $B 0 5)
[ "$got" = "none | none | none | none | none" ] || fail "5 untagged broadcasts from the trunk, native VLAN 1: $got"
# Native VLAN 10: the trunk's untagged frames are VLAN 10's (both ways
# untagged): n5's own stack pings n1.
cub_ok br1 ports p5 trunk set native-vlan=10
got=$(probe 02:00:00:00:01:05 n5 $B 0 9)
[ "$got" = "-:9 | -:9 | none | none | none" ] || fail "9 untagged broadcasts from the trunk, native VLAN 10: $got"
got=$(probe 02:00:00:00:10:01 n1 $B 0 4)
[ "$got" = "none | -:4 | none | none | -:4" ] || fail "4 broadcasts from n1 with the trunk's native VLAN 10: $got"
ip netns exec n5 ping -c 2 -i 0.2 -W 2 198.18.0.1 >/dev/null || fail "n5 (native VLAN 10) cannot ping n1"
ip netns exec n5 ping -c 2 -i 0.2 -W 1 198.18.0.3 >/dev/null && fail "n5 (native VLAN 10) pinged n3 (VLAN 20)"
# From here n5's stack sends nothing (its ARP for n3 would be counted).
ip -n n5 link set eth0 arp off
# Native VLAN off: untagged from the trunk dropped, counted; the trunk
# gets VLAN 10 tagged again.
cub_ok br1 ports p5 trunk set native-vlan-enabled=false
v0=$(ctr p5 vlan_drops)
got=$(probe 02:00:00:00:01:05 n5 $B 0 6)
[ "$got" = "none | none | none | none | none" ] || fail "6 untagged broadcasts from the trunk, native off: $got"
[ $(($(ctr p5 vlan_drops) - v0)) = 6 ] || fail "p5 vlan_drops +$(($(ctr p5 vlan_drops) - v0)), expected +6 (native off)"
got=$(probe 02:00:00:00:10:01 n1 $B 0 4)
[ "$got" = "none | -:4 | none | none | 10:4" ] || fail "4 broadcasts from n1, trunk native off: $got"
cub_ok br1 ports p5 trunk set native-vlan-enabled=true native-vlan=1

# The port-state map STP (the next slice) will drive, driven here by
# hand as its worker will: p2 (index 1) blocking in VLAN 10, left out of
# VLAN 10's flood (br_vlan fwd) and br_pstate looked up for VLAN 10.
need bpftool
vlan_set() { # vlan_set VID PSTATE FWD0: br_vlan[VID]'s pstate and fwd[0]
	local pin=$T/pins/br1/br_vlan key
	key=$(printf '%d 0 0 0' "$1")
	bpftool -j map lookup pinned "$pin" key $key | python3 -c '
import json, struct, sys
v = bytes(int(b, 16) for b in json.load(sys.stdin)["value"])
w = list(struct.unpack("<14I", v))
w[8] = int(sys.argv[2], 0)
w[12] = int(sys.argv[1])
print(" ".join(str(b) for b in struct.pack("<14I", *w)))' "$2" "$3" >"$T/vlan.val"
	bpftool map update pinned "$pin" key $key value $(cat "$T/vlan.val") ||
		fail "br_vlan[$1] update"
}
pstate() { # pstate PORT VID STATE|del
	local pin=$T/pins/br1/br_pstate key
	key="$1 0 $2 0"
	if [ "$3" = del ]; then
		bpftool map delete pinned "$pin" key $key
	else
		bpftool map update pinned "$pin" key $key value "$3" 0 0 0 ||
			fail "br_pstate ($1, $2) update"
	fi
}
pstate 1 10 1 # blocking
vlan_set 10 1 0x11 # fwd: p1 and p5 (indexes 0 and 4)
got=$(probe 02:00:00:00:10:01 n1 $B 0 8)
[ "$got" = "none | none | none | none | 10:8" ] || fail "8 broadcasts from n1 with p2 blocking in VLAN 10: $got"
d0=$(ctr p2 drops)
got=$(probe 02:00:00:00:10:02 n2 $B 0 8)
[ "$got" = "none | none | none | none | none" ] || fail "8 broadcasts from n2, p2 blocking: $got"
[ $(($(ctr p2 drops) - d0)) = 8 ] || fail "p2 drops +$(($(ctr p2 drops) - d0)), expected +8 (blocking)"
got=$(probe 02:00:00:00:10:01 n1 "$M2" 0 5)
[ "$got" = "none | none | none | none | none" ] || fail "5 frames to n2 behind blocking p2: $got"
[ -z "$(fdb_port 10 02:00:00:00:10:0b)" ] || fail "a blocking port learned"
# Learning: what p2 receives is learned, not forwarded.
pstate 1 10 3
got=$(probe 02:00:00:00:10:0b n2 $B 0 4)
[ "$got" = "none | none | none | none | none" ] || fail "4 broadcasts from n2, p2 learning: $got"
[ "$(fdb_port 10 02:00:00:00:10:0b)" = "p2 dynamic" ] || fail "p2 learning did not learn: '$(fdb_port 10 02:00:00:00:10:0b)'"
# Forwarding again (no entry, VLAN 10 without states): as before.
pstate 1 10 del
vlan_set 10 0 0x13
got=$(probe 02:00:00:00:10:01 n1 $B 0 6)
[ "$got" = "none | -:6 | none | none | 10:6" ] || fail "6 broadcasts from n1, p2 forwarding again: $got"

# Static entries are per VLAN and must be of a port that carries it.
S=02:00:00:00:00:77
cub_ok br1 fdb entry add 20 $S port=p4
[ "$(fdb_port 20 $S)" = "p4 static" ] || fail "static (20, S): '$(fdb_port 20 $S)'"
got=$(probe 02:00:00:00:20:03 n3 $S 0 6)
[ "$got" = "none | none | none | -:6 | none" ] || fail "6 frames to the static (20, S): $got"

# The bridge's own MAC: shown; the document's when set.
own=$(cub br1 show own-mac)
grep -qE '^02(:[0-9a-f]{2}){5}$' <<<"$own" || fail "br1 own-mac: '$own'"
cub_ok br1 set mac=02:00:00:00:b1:01
[ "$(cub br1 show mac)" = 02:00:00:00:b1:01 ] || fail "br1 mac after set: '$(cub br1 show mac)'"
[ "$(cub br1 show own-mac)" = 02:00:00:00:b1:01 ] || fail "br1 own-mac after set: '$(cub br1 show own-mac)'"

# Bad input: refused, named, nothing changed.
snapshot() { cub br1 show -o json | grep -v '"age"\|_packets\|_bytes\|floods\|drops'; }
before=$(snapshot)
refused_unchanged "vlanid|1..4094|range" br1 ports p1 access set vlanid=0
refused_unchanged "vlanid|1..4094|range" br1 ports p1 access set vlanid=4095
refused_unchanged "vlanid|1..4094|range" br1 ports p1 access set vlanid=5000
refused_unchanged "vlanid|1..4094|range" br1 ports p5 trunk allowed add 0
refused_unchanged "vlanid|1..4094|range" br1 ports p5 trunk allowed add 4095
refused_unchanged "vlanid|1..4094|range" br1 ports p5 trunk allowed add 5000
refused_unchanged "native-vlan|1..4094|range" br1 ports p5 trunk set native-vlan=4095
refused_unchanged "trunk" br1 ports p5 access set vlanid=10
refused_unchanged "mode|access|trunk" br1 ports p1 set mode=hybrid
refused_unchanged "vlan|1..4094|range" br1 fdb entry add 0 02:00:00:00:00:78 port=p1
refused_unchanged "VLAN 20|carry" br1 fdb entry add 20 02:00:00:00:00:78 port=p1
refused_unchanged "multicast" br1 fdb entry add 10 01:00:5e:00:00:01 port=p1
refused_unchanged "p9" br1 fdb entry add 10 02:00:00:00:00:78 port=p9
refused_unchanged "exists|already" br1 ports p5 trunk allowed add 10
refused_unchanged "VLAN 20|carry|p4|refer" br1 ports p4 access set vlanid=10

# With $1 = scale (bridge-scale-tc, suite scale): 65536 hosts learned
# in VLAN 10 (Polycube: 1024), in their VLAN only.
if [ "${1:-}" = scale ]; then
	send n1 $B seq:02:aa:00 65536 >/dev/null
	pin=$(ls -d "$T"/pins/br1/br_fdb)
	n=$(bpftool -j map dump pinned "$pin" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if int(e["key"][0], 16) | int(e["key"][1], 16) << 8 == 10))')
	[ "$n" -ge 65536 ] || fail "br_fdb holds $n hosts in VLAN 10 of 65536"
	[ "$(fdb_port 10 02:aa:00:00:12:34)" = "p1 dynamic" ] || fail "host 4660 of 65536: '$(fdb_port 10 02:aa:00:00:12:34)'"
	[ -z "$(fdb_port 20 02:aa:00:00:12:34)" ] || fail "host 4660 learned in VLAN 20"
	got=$(probe 02:00:00:00:10:02 n2 02:aa:00:00:12:34 0 10)
	[ "$got" = "-:10 | none | none | none | none" ] || fail "10 frames to host 4660 of 65536: $got"
	cub_log "65536 hosts learned in VLAN 10 ($n entries)"
fi

# Flush: learned hosts go, the static one stays.
out=$(cub br1 fdb flush)
grep -q flushed <<<"$out" || fail "flush said: $out"
[ -z "$(fdb_port 10 "$M1")$(fdb_port 10 $X)" ] || fail "flush left learned hosts"
[ "$(fdb_port 20 $S)" = "p4 static" ] || fail "flush took the static entry"

# kill -9 of the worker, then of the broker, under a ping every 10 ms
# in VLAN 10: the fast path forwards on, nothing is lost.
ip netns exec n1 ping -c 1 -W 2 198.18.0.2 >/dev/null || fail "n1 -> n2 before the kills"
ip netns exec n1 ping -i 0.01 -c 400 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 &
ping_pid=$!
sleep 0.5
kill -9 "$(worker_pid bridge)"
sleep 1
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
sleep 0.5
broker_start
wait $ping_pid || true
loss=$(grep -oE '[0-9.]+% packet loss' "$T/ping.out")
[ "$loss" = "0% packet loss" ] || fail "pings across the kills: $(tail -2 "$T/ping.out")"
until_ok() { local i; for i in $(seq 1 100); do "$@" && return 0; sleep 0.1; done; return 1; }
until_ok eval '[ "$(fdb_port 20 $S)" = "p4 static" ]' || fail "static entry after the restart: '$(fdb_port 20 $S)'"
[ "$(fdb_port 10 "$M2")" = "p2 dynamic" ] || fail "n2 forgotten across the restart: '$(fdb_port 10 "$M2")'"
got=$(probe 02:00:00:00:10:01 n1 $B 0 8)
[ "$got" = "none | -:8 | none | none | 10:8" ] || fail "after the restart, 8 broadcasts from n1: $got"

cub_ok br1 del
