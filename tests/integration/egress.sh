#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The way out of a cube is the framework's (issue 7 defect 3), in the hook
# mode given as $1 (TC, XDP_SKB or XDP_DRV): a hostile plugin's programs
# that call a redirect helper (bpf_redirect, clone_redirect, redirect_peer,
# redirect_neigh, redirect_map on a DEVMAP of their own) or bpf_fib_lookup
# towards a veth no cube was given are refused at load with the helper
# named, and so are programs that re-point a port in cub_ports; that veth
# receives nothing while the cube keeps forwarding between its own ports.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
# No IPv6 chatter from the host side of the veths either: vethc's
# counters count only what a cube would inject.
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2 cc:vethc:198.18.0.3
broker_start

cub_ok evil add e1 type="$HOOK"
cub_ok e1 ports add p1 peer=vetha action=drop
cub_ok e1 ports add p2 peer=vethb action=forward outport=p1
cub_ok e1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 2 -i 0.1 -W 10 198.18.0.2 >/dev/null || fail "e1 ($HOOK) does not forward"

# The cube's program calls no redirect helper: it tail-calls the broker's
# egress program, which is in its cub_egress.
id=$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
[ -n "$id" ] || fail "no program on vetha"
xl=$(bpftool prog dump xlated id "$id")
! grep -qE 'call bpf_(redirect|clone_redirect|redirect_peer|redirect_neigh|redirect_map|fib_lookup)#' <<<"$xl" ||
	fail "the cube's program calls a redirect helper: $(grep -E 'call bpf_' <<<"$xl" | sort -u)"
grep -q "call bpf_tail_call" <<<"$xl" || fail "the cube's program makes no tail call"
eg=$(bpftool -j prog show pinned "$T/pins/e1/egress" | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
[ -n "$eg" ] || fail "no egress program pinned for e1"
grep -q "$eg" <<<"$(bpftool map dump pinned "$T/pins/e1/cub_egress")" ||
	fail "e1's cub_egress does not hold its egress program $eg"
cub_log "cube program $id tail-calls egress program $eg"

# What reaches vethc: packets sent out of it plus packets its peer got.
packets() { # DEV [NETNS]: "rx tx"
	ip ${2:+-n "$2"} -s -j link show "$1" | grep -oE '"packets":[0-9]+' |
		sed -n '1,2s/.*://p' | tr '\n' ' '
}
injected() {
	local rx tx peer_rx peer_tx
	read -r rx tx <<<"$(packets vethc)"
	read -r peer_rx peer_tx <<<"$(packets eth0 cc)"
	echo $((tx + peer_rx))
}
idx=$(ip -j link show vethc | grep -oE '"ifindex":[0-9]+' | cut -d: -f2)
[ -n "$idx" ] || fail "no ifindex for vethc"
before=$(injected)
prog=$(ip link show vetha; tc filter show dev vetha ingress)

if [ "$HOOK" = TC ]; then
	objects="redirect:bpf_redirect clone-redirect:bpf_clone_redirect
		redirect-peer:bpf_redirect_peer redirect-neigh:bpf_redirect_neigh
		fib-lookup:bpf_fib_lookup"
else
	objects="redirect:bpf_redirect redirect-map:bpf_redirect_map
		fib-lookup:bpf_fib_lookup"
fi
# cub_ports is read-only to programs (the verifier refuses the write), and
# a cub_ports declared writable is not the framework's map.
objects="$objects ports-write:write.into.map.forbidden
	ports-flags:framework.map.'cub_ports'"
for o in $objects; do
	name=${o%%:*} want=${o#*:} rc=0
	err=$(cub e1 debug egress object="$name" ifindex="$idx" 2>&1 >/dev/null) || rc=$?
	# Traffic first: had the object loaded, this is what it would inject.
	pinged=0
	ip netns exec ca ping -c 3 -i 0.05 -W 1 198.18.0.2 >/dev/null && pinged=1
	now=$(injected)
	[ "$now" = "$before" ] ||
		fail "$name: vethc, which no cube was given, received $((now - before)) packets ($err)"
	[ $pinged = 1 ] || fail "e1 stopped forwarding after the $name object ($err)"
	[ "$rc" = 2 ] || fail "$name: exit $rc, expected 2 (refused): $err"
	grep -q "$want" <<<"$err" || fail "$name: expected '$want' in: $err"
	case $name in ports-*) ;; *)
		grep -q "may not redirect" <<<"$err" || fail "$name: $err" ;;
	esac
	cub_log "$name refused: $err"
done
after=$(injected)
[ "$after" = "$before" ] ||
	fail "vethc, which no cube was given, received $((after - before)) packets"
[ "$prog" = "$(ip link show vetha; tc filter show dev vetha ingress)" ] ||
	fail "a refused load changed the cube's program"
cub_log "vethc received nothing; e1 kept forwarding"
cub_ok e1 del
