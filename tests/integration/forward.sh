#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# simpleforwarder passes real pings between two namespaces, in the hook mode
# given as $1 (TC, XDP_SKB or XDP_DRV); counters equal what was sent; the
# drop action drops; switching actions never reloads the program.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
broker_start

cub_ok simpleforwarder add sf1 type="$HOOK"
cub_ok sf1 ports add p1 peer=vetha
cub_ok sf1 ports add p2 peer=vethb
# Default action is drop: nothing passes yet.
ip netns exec ca ping -c 2 -W 1 -i 0.2 198.18.0.2 >/dev/null &&
	fail "ping passed before any forward action was set"
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1

[ "$(cub sf1 show type)" = "$HOOK" ] || fail "type is not $HOOK"
# simpleforwarder keeps its map keys off the stack (cube.bpf.h): even
# verified unprivileged (the default) it carries no Spectre v4 barrier, and
# with --spectre-hardening=off it was reloaded without any.
need bpftool
id=$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
[ -n "$id" ] || fail "no program on vetha"
! grep -q nospec <<<"$(bpftool prog dump xlated id "$id")" ||
	fail "program $id has Spectre barriers (nospec): a stack write crept into the fast path"
prog_before=$(ip link show vetha; tc filter show dev vetha ingress)

# Counters equal packets sent: no ARP (static entries), no IPv6 (off), so
# exactly N echo requests and N replies cross the cube.
static_arp ca 198.18.0.1 cb 198.18.0.2
counters() { # rx1 tx2 rx2 tx1 rx1_bytes, from one show
	cub sf1 show -o json | awk '
		/"name": "p1"/ { p = 1 } /"name": "p2"/ { p = 2 }
		/"rx_packets"/ { gsub(/[ ,]/, "", $2); rx[p] = $2 }
		/"tx_packets"/ { gsub(/[ ,]/, "", $2); tx[p] = $2 }
		/"rx_bytes"/ { gsub(/[ ,]/, "", $2); rb[p] = $2 }
		END { print rx[1], tx[2], rx[2], tx[1], rb[1] }'
}
read -r rx1 tx2 rx2 tx1 rb1 <<<"$(counters)"
N=20
ip netns exec ca ping -c $N -i 0.01 -W 10 198.18.0.2 >"$T/ping.out" ||
	fail "ping through sf1 ($HOOK) failed: $(tail -2 "$T/ping.out")"
grep -q " 0% packet loss" "$T/ping.out" || fail "loss: $(tail -2 "$T/ping.out")"
read -r rx1b tx2b rx2b tx1b rb1b <<<"$(counters)"
for c in "p1 rx_packets:$rx1:$rx1b" "p2 tx_packets:$tx2:$tx2b" \
	"p2 rx_packets:$rx2:$rx2b" "p1 tx_packets:$tx1:$tx1b"; do
	IFS=: read -r what a b <<<"$c"
	[ $((b - a)) = $N ] || fail "$what grew by $((b - a)), expected exactly $N"
done
# An echo request of ping's default 56 data bytes is a 98-byte frame.
[ $((rb1b - rb1)) = $((N * 98)) ] ||
	fail "p1 rx_bytes grew by $((rb1b - rb1)), expected $((N * 98))"
cub_log "counted exactly: $N requests in p1 and out p2, $N replies back"

# Drop: replies stop, drops counted on p2, program not reloaded.
cub_ok sf1 ports p2 set action=drop
d0=$(port_counter sf1 p2 drops)
ip netns exec ca ping -c 5 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with p2 action=drop"
d1=$(port_counter sf1 p2 drops)
[ $((d1 - d0)) -ge 5 ] || fail "p2 drops grew by $((d1 - d0)), expected >= 5"
[ "$prog_before" = "$(ip link show vetha; tc filter show dev vetha ingress)" ] ||
	fail "changing an action changed the attached program"
cub_ok sf1 ports p2 set action=forward
ip netns exec ca ping -c 3 -i 0.05 -W 10 198.18.0.2 >/dev/null ||
	fail "ping failed after restoring forward"

# Slow path: packets go to the worker through the broker, not onwards.
cub_ok sf1 ports p1 set action=slowpath
s0=$(port_counter sf1 p1 slowpath)
ip netns exec ca ping -c 5 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with p1 action=slowpath"
sleep 0.5
s1=$(port_counter sf1 p1 slowpath)
[ $((s1 - s0)) -ge 5 ] || fail "p1 slowpath grew by $((s1 - s0)), expected >= 5"
pin=$(port_counter sf1 p1 packet_ins)
[ "$pin" -ge 5 ] || fail "the worker received $pin packet-ins, expected >= 5"
cub_log "slow path: $((s1 - s0)) packets counted by the cube, $pin delivered to the worker"
cub_ok sf1 ports p1 set action=forward

# Output formats.
grep -q '"outport": "p1"' <<<"$(cub sf1 show -o json)" || fail "json show lacks outport"
grep -q 'peer: vethb' <<<"$(cub sf1 show -o yaml)" || fail "yaml show lacks peer"
grep -q 'rx_packets' <<<"$(cub sf1 show)" || fail "text show lacks counters"
grep -q "sf1 .*simpleforwarder" <<<"$(cub show cubes)" || fail "show cubes lacks sf1"
cub_ok sf1 del
