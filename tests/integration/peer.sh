#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Two simpleforwarders chained, A - sf1 - sf2 - B, in the hook mode given
# as $1 (TC, XDP_SKB or XDP_DRV): sf1's p2 peers with sf2's p1 (no netdev
# between them), pings pass and every port counts exactly what crossed it,
# so the in-port the broker's egress program hands sf2 is right;
# connecting, disconnecting and re-peering reload no program, and a
# broker kill -9 keeps the peering (adopted); a peer that
# does not exist, or of the other hook family, is refused; deleting sf2
# unpeers sf1.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

HOOK=${1:-TC}
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
broker_start
static_arp ca 198.18.0.1 cb 198.18.0.2

cub_ok simpleforwarder add sf1 type="$HOOK"
cub_ok simpleforwarder add sf2 type="$HOOK"
# The peered ports get index 0 on both sides (a port index is not an
# ifindex: 0 must not read as "not connected").
cub_ok sf1 ports add p2
cub_ok sf2 ports add p1
cub_ok sf1 ports add p1 peer=vetha
cub_ok sf2 ports add p2 peer=vethb
[ "$(cub sf1 ports p2 show index)" = 0 ] || fail "sf1 p2 index $(cub sf1 ports p2 show index)"
[ "$(cub sf2 ports p1 show index)" = 0 ] || fail "sf2 p1 index $(cub sf2 ports p1 show index)"
err=$(cub_refused 2 sf1 ports p2 set peer=sf3:p1)
grep -q "no cube 'sf3'" <<<"$err" || fail "peer with a missing cube: $err"
err=$(cub_refused 2 sf1 ports p2 set peer=sf2:p9)
grep -q "with a port 'p9'" <<<"$err" || fail "peer with a missing port: $err"
err=$(cub_refused 2 sf1 ports p2 set peer=0123456789abcdef)
grep -q "neither a netdev name (at most 15 characters) nor cube:port" <<<"$err" ||
	fail "a 16-character netdev name: $err"
[ "$HOOK" = TC ] && other=XDP_SKB || other=TC
cub_ok simpleforwarder add sfx type=$other
cub_ok sfx ports add p1
err=$(cub_refused 2 sf1 ports p2 set peer=sfx:p1)
grep -q "both be TC or both XDP" <<<"$err" || fail "peer across hook families: $err"
cub_ok sfx del

progs() { # the program ids on vetha and vethb, and sf1's and sf2's egress
	echo $(bpftool -j net show dev vetha; bpftool -j net show dev vethb) |
		grep -oE '"id":[0-9]+' | tr '\n' ' '
	for c in sf1 sf2; do
		bpftool -j prog show pinned "$T/pins/$c/egress" | grep -oE '"id":[0-9]+' | sed -n 1p
	done
}
before=$(progs)

cub_ok sf1 ports p2 set peer=sf2:p1
cub_ok sf2 ports p1 set peer=sf1:p2
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
cub_ok sf2 ports p1 set action=forward outport=p2
cub_ok sf2 ports p2 set action=forward outport=p1
[ "$(cub sf1 ports p2 show peer)" = sf2:p1 ] || fail "sf1 p2 peer: $(cub sf1 ports p2 show peer)"

N=20
ip netns exec ca ping -c $N -i 0.01 -W 10 198.18.0.2 >"$T/ping.out" ||
	fail "ping through sf1 - sf2 ($HOOK) failed: $(tail -2 "$T/ping.out")"
for c in "sf1 p1 rx_packets" "sf1 p2 tx_packets" "sf2 p1 rx_packets" \
	"sf2 p2 tx_packets" "sf2 p2 rx_packets" "sf2 p1 tx_packets" \
	"sf1 p2 rx_packets" "sf1 p1 tx_packets"; do
	v=$(port_counter $c)
	[ "$v" = $N ] || fail "$c = $v, expected exactly $N"
done
cub_log "$N pings through sf1 - sf2, every port counted exactly $N each way"
[ "$(progs)" = "$before" ] || fail "peering reloaded a program: $before -> $(progs)"

# XDP frames, not only skbs: ca's eth0 sends every frame it receives back
# out by XDP (xdpgen redirect eth0 eth0), so what cb sends comes back into
# sf1 p1 through veth's XDP transmit path (pings, skbs, never take it) and
# must cross the peering to sf2 like the rest.
if [ "$HOOK" = XDP_DRV ]; then
	[ -x "$CUB_BUILD/bench/xdpgen" ] || fail "bench/xdpgen not built"
	ip netns exec ca "$CUB_BUILD/bench/xdpgen" redirect eth0 eth0 ||
		fail "cannot attach the reflector in ca"
	r0=$(port_counter sf2 p1 rx_packets)
	t0=$(port_counter sf2 p2 tx_packets)
	ip netns exec cb ping -c $N -i 0.01 -W 1 198.18.0.1 >/dev/null || true
	r1=$(port_counter sf2 p1 rx_packets)
	t1=$(port_counter sf2 p2 tx_packets)
	ip -n ca link set dev eth0 xdp off
	[ $((r1 - r0)) = $N ] ||
		fail "sf2 p1 got $((r1 - r0)) of $N XDP frames reflected back through sf1"
	[ $((t1 - t0)) = $N ] || fail "sf2 p2 sent $((t1 - t0)) of $N reflected frames"
	cub_log "$N XDP frames (veth's XDP transmit path) crossed sf1 - sf2"
fi

# A broker kill -9 and a new broker: the peering is adopted, not rebuilt.
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
broker_start
ip netns exec ca ping -c 3 -i 0.1 -W 10 198.18.0.2 >/dev/null ||
	fail "ping through sf1 - sf2 failed after a broker restart"
[ "$(progs)" = "$before" ] || fail "the restart reloaded a program: $before -> $(progs)"
[ "$(cub sf1 ports p2 show peer)" = sf2:p1 ] || fail "sf1 p2 peer after restart: $(cub sf1 ports p2 show peer)"
cub_log "peering adopted across a broker kill -9"

# Disconnect: nothing passes; re-peer: passes again; never a reload.
cub_ok sf1 ports p2 set peer=
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with sf1 p2 unpeered"
cub_ok sf1 ports p2 set peer=sf2:p1
ip netns exec ca ping -c 3 -i 0.1 -W 10 198.18.0.2 >/dev/null ||
	fail "ping failed after re-peering"
[ "$(progs)" = "$before" ] || fail "re-peering reloaded a program: $before -> $(progs)"
cub_log "disconnect and re-peer without a reload"

# Deleting sf2's port p1 unpeers sf1 p2 (it peered with it): in its
# document, its cub_ports entry and its cub_peers slot, so that no packet
# of sf1 enters sf2 by a port index sf2 no longer has (or gives a new
# port).  Any later change of sf1 is not refused for a peer gone.
cub_ok sf2 ports p2 set action=drop
cub_ok sf2 ports del p1
[ -z "$(cub sf1 ports p2 show -o json | grep '"peer"' | grep sf2)" ] ||
	fail "sf1 p2 still peers with sf2:p1 after sf2 deleted p1: $(cub sf1 ports p2 show -o json)"
v=$(bpftool -j map lookup pinned "$T/pins/sf1/cub_ports" key 0 0 0 0)
grep -q '"value":\[\("0x00",\?\)\{8\}\]' <<<"$v" ||
	fail "sf1 cub_ports[0] still set after sf2:p1 was deleted: $v"
[ "$(bpftool -j map dump pinned "$T/pins/sf1/peers")" = "[]" ] ||
	fail "sf1 cub_peers not empty after sf2:p1 was deleted: $(bpftool -j map dump pinned "$T/pins/sf1/peers")"
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf2 ports add p1 action=forward outport=p2
cub_ok sf2 ports p2 set action=forward outport=p1
cub_ok sf1 ports p2 set peer=sf2:p1
cub_ok sf2 ports p1 set peer=sf1:p2
ip netns exec ca ping -c 3 -i 0.1 -W 10 198.18.0.2 >/dev/null ||
	fail "ping failed after sf2:p1 was added back and re-peered"
cub_log "deleting a peered port unpeers the other side"

# Deleting sf2 unpeers sf1 p2, in its document too.
cub_ok sf2 del
out=$(cub sf1 show -o json) || fail "sf1 show after sf2 was deleted: $out"
grep -q '"name": "p2"' <<<"$out" || fail "sf1 lost p2: $out"
! grep -q 'sf2:p1' <<<"$out" || fail "sf1 p2 still peers with sf2:p1 after sf2 was deleted: $out"
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with sf2 deleted"
grep -q "cube 'sf1' port 'p2': unpeered from deleted cube 'sf2'" "$T/broker.log" ||
	fail "sf1 p2 not unpeered when sf2 was deleted"
cub_ok sf1 del
