#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Transparent cubes on a netdev (issue 7; Polycube's S15-S17): a
# transparenthelloworld attached to veth1 sees both directions and drops
# when told; five stacked in the order first/last/before/after print
# Polycube's chains and run in that order (proven by their counters);
# the refusals of S16, each with its message; deleting an attached cube,
# and the middle of a stack, keeps traffic flowing; a broker kill -9
# keeps the attachments and every program id; a reboot rebuilds them.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/transparenthelloworld/transparenthelloworld.so")
netns_host ca veth1 198.18.0.1
ip addr add 198.18.0.2/24 dev veth1
netns_host cb veth2 198.18.1.1
ip addr add 198.18.1.2/24 dev veth2
# Permanent neighbours both ways: no ARP crosses the cubes, so a drop
# test leaves no failed neighbour entry behind to slow the next ping.
arp_veth1() {
	local m1 m2
	m1=$(ip -n ca -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	m2=$(ip -o link show veth1 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
	ip -n ca neigh replace 198.18.0.2 lladdr "$m2" dev eth0 nud permanent
	ip neigh replace 198.18.0.1 lladdr "$m1" dev veth1 nud permanent
}
arp_veth1
broker_start

pings() { # N: N pings from ca to the test's namespace, all answered?
	ip netns exec ca ping -c "$1" -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
ctr() { cub "$1" show "$2"; }

# ---- S17: one cube on a netdev ----
pings 2 || fail "no ping before anything is attached"
cub_ok transparenthelloworld add th0
cub_ok attach th0 veth1
# The worker is handed its parent's parameters (read only) on attach.
mac1=$(ip -o link show veth1 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
for i in $(seq 1 50); do
	cub th0 log show | grep -qF "attached to veth1, mac $mac1" && break
	sleep 0.1
done
cub th0 log show | grep -qF "attached to veth1, mac $mac1" ||
	fail "th0's worker was not told it is attached to veth1 ($mac1): $(cub th0 log show)"
tc filter show dev veth1 ingress | grep -q "handle 0xc0bf" || fail "no stack on veth1 ingress"
tc filter show dev veth1 egress | grep -q "handle 0xc0bf" || fail "no stack on veth1 egress"
i0=$(ctr th0 ingress-packets)
e0=$(ctr th0 egress-packets)
pings 10 || fail "ping through th0 (PASS) failed: $(tail -2 "$T/ping.out")"
i1=$(ctr th0 ingress-packets)
e1=$(ctr th0 egress-packets)
[ $((i1 - i0)) -ge 10 ] || fail "th0 ingress-packets grew by $((i1 - i0)), expected >= 10"
[ $((e1 - e0)) -ge 10 ] || fail "th0 egress-packets grew by $((e1 - e0)), expected >= 10"
cub_log "th0 on veth1 counted $((i1 - i0)) in, $((e1 - e0)) out for 10 pings"
prog=$(cub show topology -o json | grep -A6 '"name": "th0"' | grep -oE '"prog_id": [0-9]+')
# Polycube's spelling, any case; the action is map data: no reload.
cub_ok th0 set egress-action=drop
[ "$(ctr th0 egress-action)" = DROP ] || fail "egress-action not canonicalised to DROP"
d0=$(ctr th0 egress-drops)
pings 3 && fail "ping passed with th0 egress-action=DROP"
d1=$(ctr th0 egress-drops)
[ $((d1 - d0)) -ge 3 ] || fail "th0 egress-drops grew by $((d1 - d0)), expected >= 3"
[ "$prog" = "$(cub show topology -o json | grep -A6 '"name": "th0"' | grep -oE '"prog_id": [0-9]+')" ] ||
	fail "setting an action reloaded th0's program"
cub_ok detach th0 veth1
cub th0 log show | tail -1 | grep -qF "not attached" ||
	fail "th0's worker was not told of its detach: $(cub th0 log show | tail -2)"
pings 3 || fail "ping failed after detaching th0"
[ -z "$(tc filter show dev veth1 ingress)$(tc filter show dev veth1 egress)" ] ||
	fail "detaching the last cube left filters on veth1"
cub_ok th0 set egress-action=PASS

# ---- S15: five cubes, positions first/last/before/after ----
for i in 1 2 3 4 5; do cub_ok transparenthelloworld add th$i; done
cub_ok attach th3 veth1
cub_ok attach th1 veth1 position=first
cub_ok attach th5 veth1 position=last
cub_ok attach th2 veth1 after=th1
cub_ok attach th4 veth1 before=th5
out=$(cub topology show veth1)
want="ingress service chain: th1 ---> th2 ---> th3 ---> th4 ---> th5 ---> stack
egress service chain: th5 ---> th4 ---> th3 ---> th2 ---> th1 ---> stack"
[ "$out" = "$want" ] || fail "topology show veth1 printed
$out
expected
$want"
cub show topology | grep -qxF "  ingress service chain: th1 ---> th2 ---> th3 ---> th4 ---> th5 ---> stack" ||
	fail "show topology lacks veth1's ingress chain: $(cub show topology)"
pings 3 || fail "ping through five PASS cubes failed"

# The run order, by the data plane: th3 drops; in each direction only
# the cubes before it see packets.
snap() { # DIR: that direction's packet counters of th1..th5
	local i
	for i in 1 2 3 4 5; do printf '%s ' "$(ctr th$i "$1-packets")"; done
}
order_check() { # DIR "cubes that must count" "cubes that must not"
	local dir=$1 i
	read -r -a a <<<"$(snap "$dir")"
	pings 5 && fail "ping passed with th3 $dir-action=DROP"
	read -r -a b <<<"$(snap "$dir")"
	for i in $2; do
		[ $((b[i - 1] - a[i - 1])) -ge 5 ] ||
			fail "th$i $dir-packets grew by $((b[i - 1] - a[i - 1])), expected >= 5 (it runs before th3)"
	done
	for i in $3; do
		[ $((b[i - 1] - a[i - 1])) = 0 ] ||
			fail "th$i $dir-packets grew by $((b[i - 1] - a[i - 1])), expected 0 (it runs after th3, which drops)"
	done
	cub_log "$dir: th1..th5 counted $(for i in 0 1 2 3 4; do printf '%s ' $((b[i] - a[i])); done)"
}
cub_ok th3 set ingress-action=DROP
order_check ingress "1 2 3" "4 5"
cub_ok th3 set ingress-action=PASS egress-action=DROP
order_check egress "5 4 3" "2 1"
cub_ok th3 set egress-action=PASS
pings 3 || fail "ping failed with every cube back to PASS"

# ---- S16: refusals, each naming what was wrong; nothing changes ----
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=veth2
cub_ok simpleforwarder add sfx type=XDP_SKB
cub_ok sfx ports add p1
snapshot() { cub show topology -o json; }
before=$(snapshot)
refused_unchanged "only transparent cubes can be attached" attach sf1 veth1
refused_unchanged "th1' is already attached to 'veth1'" attach th1 veth2
refused_unchanged "incompatible hooks" attach th0 sfx:p1
refused_unchanged "th0' is not attached" detach th0 veth1
refused_unchanged "attached to 'veth1', not to 'veth2'" detach th1 veth2
refused_unchanged "position 'auto' is not supported" attach th0 veth1 position=auto
refused_unchanged "no cube 'nosuch' is attached to 'veth1'" attach th0 veth1 before=nosuch
refused_unchanged "give one of position, before or after" attach th0 veth1 position=first after=th1
refused_unchanged "unknown argument 'where'" attach th0 veth1 where=first
refused_unchanged "netdev 'nosuch0' does not exist" attach th0 nosuch0
refused_unchanged "peer of cube 'sf1' port 'p1'" attach th0 veth2
refused_unchanged "has transparent cubes attached" sf1 ports add p2 peer=veth1
refused_unchanged "no ports" th0 ports add p1
refused_unchanged "no cube named 'nosuch'" attach nosuch veth1
refused_unchanged "reserved" transparenthelloworld add topology
cub_ok sf1 del
cub_ok sfx del

# ---- on a cube port: sf1 between cc and cd, th6 on sf1:p2 ----
netns_host cc vethc 198.18.2.1
netns_host cd vethd 198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
pings_cd() { # N: N pings from cc to cd through sf1, all answered?
	ip netns exec cc ping -c "$1" -i 0.05 -W 1 198.18.2.2 >"$T/ping.out" 2>&1 &&
		grep -q " 0% packet loss" "$T/ping.out"
}
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vethc
cub_ok transparenthelloworld add th6
cub_ok transparenthelloworld add th7
cub_ok sf1 ports add p2
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
# S16: attach before the port has a peer, then set the peer.
cub_ok attach th6 sf1:p2
cub th6 log show | grep -qF "attached to sf1:p2" ||
	fail "th6's worker was not told it is attached to sf1:p2: $(cub th6 log show)"
cub_ok sf1 ports p2 set peer=vethd
pings_cd 3 || fail "ping through sf1 with th6 on sf1:p2 failed: $(tail -2 "$T/ping.out")"
port_dirs() { # th6: ingress and egress packets
	echo "$(ctr th6 ingress-packets) $(ctr th6 egress-packets)"
}
read -r a_in a_eg <<<"$(port_dirs)"
pings_cd 10 || fail "ping through th6 on sf1:p2 failed"
read -r b_in b_eg <<<"$(port_dirs)"
# Requests leave sf1 by p2 (egress), replies enter it by p2 (ingress).
[ $((b_eg - a_eg)) -ge 10 ] || fail "th6 egress-packets grew by $((b_eg - a_eg)), expected >= 10"
[ $((b_in - a_in)) -ge 10 ] || fail "th6 ingress-packets grew by $((b_in - a_in)), expected >= 10"
cub_log "th6 on sf1:p2 counted $((b_in - a_in)) in, $((b_eg - a_eg)) out for 10 pings"
for dir in ingress egress; do
	cub_ok th6 set $dir-action=DROP
	d0=$(ctr th6 $dir-drops)
	pings_cd 3 && fail "ping passed with th6 $dir-action=DROP on sf1:p2"
	d1=$(ctr th6 $dir-drops)
	[ $((d1 - d0)) -ge 3 ] || fail "th6 $dir-drops grew by $((d1 - d0)), expected >= 3"
	cub_ok th6 set $dir-action=PASS
	pings_cd 3 || fail "ping failed with th6 back to PASS"
done
tc filter show dev vethd ingress | grep -q "tstack_ingress" ||
	fail "vethd does not enter sf1:p2's ingress stack: $(tc filter show dev vethd ingress)"
# A chain: cc - sf1 - sf2 - cd, th6 on sf1:p2 (now a cube peer), th7
# on sf2:p1; both count both directions.
cub_ok simpleforwarder add sf2
cub_ok sf2 ports add p1
cub_ok sf2 ports add p2
cub_ok sf1 ports p2 set peer=
cub_ok connect sf1:p2 sf2:p1
cub_ok sf2 ports p2 set peer=vethd
cub_ok sf2 ports p1 set action=forward outport=p2
cub_ok sf2 ports p2 set action=forward outport=p1
cub_ok attach th7 sf2:p1 position=first
read -r a_in a_eg <<<"$(port_dirs)"
a7=$(ctr th7 ingress-packets)
pings_cd 10 || fail "ping through sf1 - sf2 with th6 and th7 failed: $(tail -2 "$T/ping.out")"
read -r b_in b_eg <<<"$(port_dirs)"
[ $((b_eg - a_eg)) -ge 10 ] && [ $((b_in - a_in)) -ge 10 ] ||
	fail "th6 between sf1 and sf2 counted $((b_in - a_in)) in, $((b_eg - a_eg)) out, expected >= 10"
[ $(($(ctr th7 ingress-packets) - a7)) -ge 10 ] || fail "th7 on sf2:p1 did not count"
cub_ok th7 set ingress-action=DROP
pings_cd 2 && fail "ping passed with th7 on sf2:p1 dropping"
cub_ok th7 set ingress-action=PASS
pings_cd 2 || fail "ping failed with th7 back to PASS"
cub show topology | grep -q "netdev sf2:p1" || fail "show topology lacks sf2:p1"

# ---- kill -9 of the broker: attachments and program ids unchanged ----
cub_ok th2 set egress-action=DROP
pings 2 && fail "ping passed with th2 egress-action=DROP"
topo_before=$(cub show topology -o json)
tc_before=$(tc filter show dev veth1 ingress; tc filter show dev veth1 egress)
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
pings 2 && fail "ping passed with th2 egress-action=DROP while the broker was down"
broker_start
[ "$(cub show topology -o json)" = "$topo_before" ] ||
	fail "topology differs after a broker kill -9:
$(diff <(echo "$topo_before") <(cub show topology -o json))"
[ "$(tc filter show dev veth1 ingress; tc filter show dev veth1 egress)" = "$tc_before" ] ||
	fail "veth1's filters changed across a broker kill -9"
grep -q "attach point 'veth1': 5 transparent cube" "$T/broker.log" || fail "the stack was not adopted"
cub_ok th2 set egress-action=PASS
pings 3 || fail "ping failed after the restart with every cube PASS: $(cat "$T/ping.out"); $(for i in 1 2 3 4 5; do cub th$i show -o json | tr -d "\n "; done)"
read -r a_in a_eg <<<"$(port_dirs)"
pings_cd 5 || fail "ping through sf1 - sf2 failed after the restart"
read -r b_in b_eg <<<"$(port_dirs)"
[ $((b_eg - a_eg)) -ge 5 ] && [ $((b_in - a_in)) -ge 5 ] ||
	fail "th6 stopped counting after the restart"
# Deleting the cube whose port has a stack detaches it; pings go on.
cub_ok sf2 ports p1 set action=forward
cub_ok th7 del
pings_cd 3 || fail "ping failed after deleting th7, attached to sf2:p1"
cub_log "broker kill -9: stack and program ids $(grep -oE '"(ingress|egress)_prog_id": [0-9]+' <<<"$topo_before" | tr '\n' ' ')unchanged"

# ---- deleting an attached cube, and the middle of a stack ----
cub_ok th5 del
cub_ok th1 del
pings 3 || fail "ping failed after deleting attached cubes"
cub_ok th3 del
[ "$(cub topology show veth1)" = "ingress service chain: th2 ---> th4 ---> stack
egress service chain: th4 ---> th2 ---> stack" ] || fail "after deleting th1, th3, th5: $(cub topology show veth1)"
i2=$(ctr th2 ingress-packets)
i4=$(ctr th4 ingress-packets)
pings 5 || fail "ping failed after deleting the middle of the stack"
[ $(($(ctr th2 ingress-packets) - i2)) -ge 5 ] || fail "th2 stopped counting"
[ $(($(ctr th4 ingress-packets) - i4)) -ge 5 ] || fail "th4 stopped counting"

# ---- a reboot: store kept, pins and netdevs gone: rebuilt ----
cub_ok th4 set ingress-action=DROP
pings 2 && fail "ping passed with th4 ingress-action=DROP"
topo_before=$(cub show topology veth1 -o json | grep -v prog_id)
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
umount "$T/pins"
for ns in ca cc cd; do ip netns del $ns; done
NAMESPACES=(cb)
links_gone veth1 vethc vethd
netns_host ca veth1 198.18.0.1
ip addr add 198.18.0.2/24 dev veth1
arp_veth1
netns_host cc vethc 198.18.2.1
netns_host cd vethd 198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
[ -z "$(tc filter show dev veth1 ingress)" ] || fail "veth1 is not fresh"
pings 2 || fail "no ping on a fresh veth1"
broker_start
for i in $(seq 1 100); do
	pings 1 || break
	sleep 0.1
done
pings 2 && fail "ping passes after the reboot: th4's ingress-action=DROP not rebuilt"
[ "$(cub show topology veth1 -o json | grep -v prog_id)" = "$topo_before" ] ||
	fail "topology of veth1 differs after the reboot"
cub_ok th4 set ingress-action=PASS
pings 3 || fail "ping failed after the reboot with every cube PASS"
read -r a_in a_eg <<<"$(port_dirs)"
pings_cd 5 || fail "ping through sf1 - sf2 failed after the reboot: $(tail -2 "$T/ping.out")"
read -r b_in b_eg <<<"$(port_dirs)"
[ $((b_eg - a_eg)) -ge 5 ] && [ $((b_in - a_in)) -ge 5 ] ||
	fail "th6 on sf1:p2 does not count after the reboot"
cub_ok detach th2 veth1
cub_ok detach th4 veth1
cub_ok detach th6 sf1:p2
pings_cd 3 || fail "ping through sf1 - sf2 failed after detaching th6"
[ -z "$(tc filter show dev veth1 ingress)$(tc filter show dev veth1 egress)" ] ||
	fail "filters left on veth1"
[ -z "$(ls -A "$T/pins/_tstack" 2>/dev/null)" ] || fail "stack pins left: $(ls "$T/pins/_tstack")"
pings 2 || fail "ping failed with nothing attached"
