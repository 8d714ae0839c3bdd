#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A port that takes the index of a deleted port starts with its counters
# at zero (issue 8): del p2, add p3 at p2's index, p3 shows 0, not p2's
# counts.  Through change() (simpleforwarder) and through apply() alone
# (plugins/testing upgrade.c, a plugin without change()).  And a
# cube-level action with the cube's document at hand: `cubicle sf1
# reset-counters` zeroes every port's counters (the SDK's
# cub_cube__reset_port_counters() over the ports of the document the
# broker sent).
. "$(dirname "$0")/../lib/netns.sh"

mkdir -p "$T/plugins"
ln -sf "$CUB_BUILD/plugins/testing/upgrade_v1.so" "$T/plugins/upgrade.so"
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
broker_start

FIELDS="rx_packets rx_bytes tx_packets tx_bytes drops slowpath packet_ins"

# ping_ok: one ping answered, of up to three (a loaded machine loses one
# now and then).
ping_ok() {
	local i
	for i in 1 2 3; do
		ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null && return 0
	done
	return 1
}

# reuse SERVICE CUBE
reuse() {
	local svc=$1 c=$2 f v idx2 idx3
	cub_ok "$svc" add "$c"
	cub_ok "$c" ports add p1 peer=vetha action=drop
	cub_ok "$c" ports add p2 peer=vethb action=forward outport=p1
	cub_ok "$c" ports p1 set action=forward outport=p2
	ping_ok || fail "$c: no forwarding"
	ip netns exec ca ping -c 3 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
		fail "$c: no forwarding"
	# One packet to the slow path too.
	cub_ok "$c" ports p2 set action=slowpath
	ip netns exec cb ping -c 1 -W 1 198.18.0.1 >/dev/null || true
	for f in rx_packets tx_packets slowpath; do
		v=$(port_counter "$c" p2 "$f")
		[ "$v" -gt 0 ] || fail "$c: p2 $f is $v before the del"
	done
	idx2=$(cub "$c" ports p2 show index)
	cub_ok "$c" ports p1 set action=drop
	cub_ok "$c" ports del p2
	cub_ok "$c" ports add p3 action=drop
	idx3=$(cub "$c" ports p3 show index)
	[ "$idx3" = "$idx2" ] || fail "$c: p3 took index $idx3, not p2's $idx2"
	for f in $FIELDS; do
		v=$(port_counter "$c" p3 "$f")
		[ "$v" = 0 ] || fail "$c: p3 (index $idx3) inherited p2's $f: $v"
	done
	if [ "$svc" = simpleforwarder ]; then
		# The worker's own count of p3's slow-path packets starts
		# at 0 as well: one packet in, packet_ins says 1.
		cub_ok "$c" ports p3 set peer=vethb action=slowpath
		ip netns exec cb ping -c 1 -W 1 198.18.0.1 >/dev/null || true
		for _ in $(seq 1 100); do
			[ "$(port_counter "$c" p3 packet_ins)" -ge 1 ] && break
			sleep 0.1
		done
		v=$(port_counter "$c" p3 packet_ins)
		[ "$v" = "$(port_counter "$c" p3 slowpath)" ] && [ "$v" -ge 1 ] ||
			fail "$c: p3 packet_ins $v, slowpath $(port_counter "$c" p3 slowpath)"
	fi
	# p1's counters are its own: untouched.
	v=$(port_counter "$c" p1 rx_packets)
	[ "$v" -ge 3 ] || fail "$c: p1 rx_packets lost: $v"
	cub_log "$c: p3 at p2's index $idx3 starts at 0; p1 keeps $v"
	cub_ok "$c" del
}
reuse simpleforwarder sf1
reuse upgrade u1

# reset-counters: a schema-declared action on the cube itself.
cub_ok simpleforwarder add sf2
cub_ok sf2 ports add p1 peer=vetha action=drop
cub_ok sf2 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf2 ports p1 set action=forward outport=p2
ping_ok || fail "sf2: no forwarding"
ip netns exec ca ping -c 3 -i 0.2 -W 10 198.18.0.2 >/dev/null || fail "sf2: no forwarding"
grep -qE "reset-counters +action" <<<"$(cub sf2 ?)" || fail "sf2 ? lists no reset-counters: $(cub sf2 ?)"
for p in p1 p2; do
	[ "$(port_counter sf2 $p rx_packets)" -ge 3 ] || fail "sf2 $p counted nothing"
done
out=$(cub sf2 reset-counters -o json) || fail "reset-counters: $out"
grep -q '"ports": 2' <<<"$out" || fail "reset-counters did not see the 2 ports of the document: $out"
for p in p1 p2; do
	for f in $FIELDS; do
		v=$(port_counter sf2 $p "$f")
		[ "$v" = 0 ] || fail "sf2 $p $f is $v after reset-counters"
	done
done
# Counting goes on from zero.
ip netns exec ca ping -c 2 -i 0.2 -W 10 198.18.0.2 >/dev/null || fail "sf2: no forwarding after the reset"
v=$(port_counter sf2 p1 rx_packets)
[ "$v" -ge 2 ] && [ "$v" -le 4 ] || fail "sf2 p1 rx_packets $v after reset + 2 pings"
err=$(cub_refused 2 sf2 reset-counters now=1)
cub_log "reset-counters with an argument: $err"
err=$(cub_refused 2 sf2 ports p1 reset-counters)
cub_log "reset-counters on a port: $err"
true
