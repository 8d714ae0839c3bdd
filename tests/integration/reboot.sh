#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The reboot path: the store is there, the pins and the attachments are
# gone (a fresh bpffs, fresh netdevs).  The broker rebuilds every cube
# from the store (the workers load the programs again, the ports are
# attached again), adopts nothing, and packets flow through two
# simpleforwarders again.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
hosts() {
	netns_host ca vetha 198.18.0.1
	netns_host cb vethb 198.18.0.2
	netns_host cc vethc 198.18.1.1
	netns_host cd vethd 198.18.1.2
	if [ "$HOOK" != TC ]; then
		napi_on ca; napi_on cb; napi_on cc; napi_on cd
	fi
}
hosts
broker_start
for c in "sf1 vetha vethb" "sf2 vethc vethd"; do
	set -- $c
	cub_ok simpleforwarder add "$1" type="$HOOK"
	cub_ok "$1" ports add p1 peer="$2"
	cub_ok "$1" ports add p2 peer="$3" action=forward outport=p1
	cub_ok "$1" ports p1 set action=forward outport=p2
done
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "no forwarding through sf1"
ip netns exec cc ping -c 1 -W 10 198.18.1.2 >/dev/null || fail "no forwarding through sf2"
conf() { cub "$1" show -o json | grep -vE '_packets|_bytes|drops|slowpath|packet_ins|status'; }
cubes_before=$(cub show cubes -o json)
sf1_before=$(conf sf1)
sf2_before=$(conf sf2)

# The reboot: the broker stops, the pins and the netdevs (with what is
# attached to them) go, fresh ones come.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
umount "$T/pins"
[ -z "$(ls -A "$T/pins" 2>/dev/null)" ] || fail "pins still there"
for ns in ca cb cc cd; do ip netns del "$ns"; done
NAMESPACES=()
links_gone vetha vethb vethc vethd
hosts
for d in vetha vethb vethc vethd; do
	[ -z "$(tc filter show dev $d ingress 2>/dev/null)" ] || fail "$d is not fresh"
done
ip netns exec ca ping -c 1 -W 1 198.18.0.2 >/dev/null 2>&1 &&
	fail "packets flow before the broker rebuilt anything"

broker_start
[ "$(cub show cubes -o json)" = "$cubes_before" ] || fail "cubes differ after the reboot"
[ "$(conf sf1)" = "$sf1_before" ] || fail "sf1 differs after the reboot"
[ "$(conf sf2)" = "$sf2_before" ] || fail "sf2 differs after the reboot"
grep -q "adopted pinned program" "$T/broker.log" &&
	fail "the broker adopted something after a reboot"
ip netns exec ca ping -c 3 -i 0.2 -W 10 198.18.0.2 >/dev/null ||
	fail "no forwarding through sf1 after the reboot"
ip netns exec cc ping -c 3 -i 0.2 -W 10 198.18.1.2 >/dev/null ||
	fail "no forwarding through sf2 after the reboot"
[ -d "$T/pins/sf1" ] && [ -d "$T/pins/sf2" ] || fail "nothing pinned again: $(ls "$T/pins")"
# The rebuilt cubes are the broker's as before: changed, and deleted clean.
cub_ok sf1 ports p2 set action=drop
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null &&
	fail "rebuilt sf1 did not apply action=drop"
cub_ok sf1 del
cub_ok sf2 del
for d in vetha vethb vethc vethd; do
	[ -z "$(tc filter show dev $d ingress)" ] || fail "filter left on $d"
	grep -q xdp <<<"$(ip link show $d)" && fail "XDP left on $d"
done
true
