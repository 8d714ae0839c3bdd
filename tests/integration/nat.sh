#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The nat service (plugins/nat) against Linux nft NAT set up the same way
# (tests/lib/nat.sh: the cube's world, the test's namespace routing
# in1 <-> out1 with nat1 on vout; the twin, namespace tw routing in2 <->
# out2 with nft).  Rules: SNAT 198.18.1.0/24 -> 198.19.0.100, DNAT
# 198.19.0.10 -> 198.18.1.1, port forwarding 198.19.0.20:8080 ->
# 198.18.1.1:80 (tcp).  Each check runs in both worlds and compares what
# the far side saw: the TCP and UDP peer address (source port fixed, so
# both keep it), a time exceeded from a router outside, the UDP checksum on the far side's wire (updated and
# valid; zero stays zero), an echo reply, a port unreachable for the inside's own
# UDP socket, and the outside's for a DNAT'd datagram (the quoted header
# translated both ways).  Then the natting
# table (sessions of each rule, with their conntrack state), a rule
# deleted under an open connection (it keeps working), masquerade with
# the netdev's address and its change followed, the flush, and bad input
# refused with nothing changed.
. "$(dirname "$0")/../lib/netns.sh"
need python3 nft ethtool
. "$CUB_LIB/nat.sh"

PLUGINS+=("$CUB_BUILD/plugins/nat/nat.so")
nat_world_cube
nat_world_twin <<'NFT'
table ip nat {
	chain pre {
		type nat hook prerouting priority -100;
		iifname "vout" ip daddr 198.19.0.20 tcp dport 8080 dnat to 198.18.1.1:80
		iifname "vout" ip daddr 198.19.0.10 dnat to 198.18.1.1
	}
	chain post {
		type nat hook postrouting priority 100;
		oifname "vout" ip saddr 198.18.1.0/24 snat to 198.19.0.100
	}
}
NFT
broker_start

cub_ok nat add nat1
cub_ok attach nat1 vout
cub_ok nat1 rule snat entry add 1 internal-net=198.18.1.0/24 external-ip=198.19.0.100
cub_ok nat1 rule dnat entry add 1 external-ip=198.19.0.10 internal-ip=198.18.1.1
cub_ok nat1 rule port-forwarding entry add 1 external-ip=198.19.0.20 \
	external-port=8080 internal-ip=198.18.1.1 internal-port=80 proto=tcp

for w in 1 2; do
	nat_server out$w tcp 7000
	nat_server out$w udp 7001
	nat_server in$w tcp 80
	nat_server in$w udp 5353
done

# both WHAT CMD...: CMD with %in / %out replaced by each world's
# namespaces; both must succeed and print the same.
both() {
	local what=$1 a b
	shift
	a=$(eval "${*//%/1}" 2>&1) || fail "$what, nat cube: $a"
	b=$(eval "${*//%/2}" 2>&1) || fail "$what, nft twin: $b"
	[ "$a" = "$b" ] || fail "$what: the cube gives '$a', nft '$b'"
	cub_log "$what: $a (same as nft)"
	printf '%s\n' "$a"
}
# (%1 and %2 stand for the world: in%, out%.)

# SNAT, TCP and UDP: the far side sees 198.19.0.100 and the port kept.
p=$(both "SNAT tcp" nat_py in% tcp 198.18.2.1 7000 40001)
[ "$p" = 198.19.0.100:40001 ] || fail "SNAT tcp: the server saw $p"
p=$(both "SNAT udp" nat_py in% udp 198.18.2.1 7001 40002)
[ "$p" = 198.19.0.100:40002 ] || fail "SNAT udp: the server saw $p"
# Checksums as the far side's wire has them: a UDP checksum updated
# (it verifies), and a zero one (no checksum, SO_NO_CHECK) left zero.
# The inside computes its checksums in full for these (tx offload off;
# a veth otherwise carries a partial one, which the wire never sees
# finished); the other checks run with the offload on.
for w in 1 2; do
	for ns in in$w out$w; do ip netns exec $ns ethtool -K eth0 tx off >/dev/null; done
done
p=$(both "SNAT udp checksum" nat_csum in% out% 198.18.2.1 7003 40030)
[ "$p" = "198.19.0.100:40030 good" ] || fail "SNAT udp checksum: $p"
p=$(both "SNAT udp zero checksum" nat_csum in% out% 198.18.2.1 7004 40031 nocheck)
[ "$p" = "198.19.0.100:40031 zero" ] || fail "SNAT udp zero checksum: $p"
p=$(both "DNAT udp checksum" nat_csum out% in% 198.19.0.10 7005 40032)
[ "$p" = "198.18.2.1:40032 good" ] || fail "DNAT udp checksum: $p"
p=$(both "DNAT udp zero checksum" nat_csum out% in% 198.19.0.10 7006 40033 nocheck)
[ "$p" = "198.18.2.1:40033 zero" ] || fail "DNAT udp zero checksum: $p"
# TCP with full checksums: the receivers verify them (a partial one on
# a veth is not verified), so a wrong update loses the connection.
p=$(both "SNAT tcp, full checksums" nat_py in% tcp 198.18.2.1 7000 40034)
[ "$p" = 198.19.0.100:40034 ] || fail "SNAT tcp, full checksums: the server saw $p"
p=$(both "DNAT tcp, full checksums" nat_py out% tcp 198.19.0.10 80 40035)
[ "$p" = 198.18.2.1:40035 ] || fail "DNAT tcp, full checksums: the server saw $p"
for w in 1 2; do
	for ns in in$w out$w; do ip netns exec $ns ethtool -K eth0 tx on >/dev/null; done
done
# ICMP echo through SNAT (out% has no route to 198.18.1.0/24).
both "SNAT ping" "ip netns exec in% ping -c 2 -i 0.2 -W 2 198.18.2.1 >/dev/null && echo ok" >/dev/null
# An ICMP error about a translated datagram reaches the inside socket.
both "port unreachable" nat_py in% udp-refused 198.18.2.1 9 >/dev/null

# A time exceeded from a router outside (out% forwards towards
# 198.18.3.0/24, which the inside reaches with TTL 2) reaches the
# inside's socket.
ip route add 198.18.3.0/24 via 198.18.2.1
ip -n tw route add 198.18.3.0/24 via 198.18.2.1
for w in 1 2; do
	ip netns exec out$w sysctl -qw net.ipv4.ip_forward=1
	ip -n out$w route add 198.18.3.0/24 via 198.18.2.254
done
both "time exceeded" nat_py in% udp-ttl 198.18.3.1 9 2 >/dev/null

# DNAT (every protocol) and port forwarding: the inside sees the real
# client.
p=$(both "DNAT tcp" nat_py out% tcp 198.19.0.10 80 40003)
[ "$p" = 198.18.2.1:40003 ] || fail "DNAT tcp: the server saw $p"
p=$(both "DNAT udp" nat_py out% udp 198.19.0.10 5353 40004)
[ "$p" = 198.18.2.1:40004 ] || fail "DNAT udp: the server saw $p"
both "DNAT ping" "ip netns exec out% ping -c 2 -i 0.2 -W 2 198.19.0.10 >/dev/null && echo ok" >/dev/null
# An ICMP error going out about a DNAT'd datagram reaches the outside
# socket (the quoted header gets the external address back).
both "port unreachable, DNAT" nat_py out% udp-refused 198.19.0.10 9 >/dev/null
p=$(both "port forwarding" nat_py out% tcp 198.19.0.20 8080 40005)
[ "$p" = 198.18.2.1:40005 ] || fail "port forwarding: the server saw $p"
cub_ok nat1 rule port-forwarding entry del 1
NAT_NEG=1 nat_py out1 tcp 198.19.0.20 8080 40009 >/dev/null 2>&1 &&
	fail "port forwarding still there after its deletion"
cub_ok nat1 rule port-forwarding entry add 1 external-ip=198.19.0.20 \
	external-port=8080 internal-ip=198.18.1.1 internal-port=80 proto=tcp
# Port forwarding is tcp only: udp to 198.19.0.20:8080 is not forwarded
# (nothing answers in either world).
for w in 1 2; do
	NAT_NEG=1 nat_py out$w udp 198.19.0.20 8080 40016 >/dev/null 2>&1 &&
		fail "world $w: udp to the tcp-only forwarded port got an answer"
done

# Port forwarding with a protocol wins over one without: udp to
# 198.19.0.20:8080 now goes to in%'s udp server, tcp still to port 80.
cub_ok nat1 rule port-forwarding entry add 2 external-ip=198.19.0.20 \
	external-port=8080 internal-ip=198.18.1.1 internal-port=5353 proto=all
ip netns exec tw nft add rule ip nat pre iifname vout ip daddr 198.19.0.20 \
	udp dport 8080 dnat to 198.18.1.1:5353
p=$(both "port forwarding, all" nat_py out% udp 198.19.0.20 8080 40006)
[ "$p" = 198.18.2.1:40006 ] || fail "port forwarding, all: the server saw $p"
p=$(both "port forwarding, tcp over all" nat_py out% tcp 198.19.0.20 8080 40007)
[ "$p" = 198.18.2.1:40007 ] || fail "port forwarding, tcp over all: the server saw $p"
# Port forwarding wins over DNAT: with a DNAT of 198.19.0.20 too, tcp
# to :8080 still reaches port 80 (DNAT would keep 8080, where nothing
# listens).
cub_ok nat1 rule dnat entry add 2 external-ip=198.19.0.20 internal-ip=198.18.1.1
p=$(nat_py out1 tcp 198.19.0.20 8080 40008) || fail "port forwarding over dnat: $p"
[ "$p" = 198.18.2.1:40008 ] || fail "port forwarding over dnat: the server saw $p"
cub_ok nat1 rule dnat entry del 2

# The natting table: one session per flow above, with its rule.
tab=$(cub nat1 natting-table show -o json)
chk() {
	python3 -c '
import json, sys
t = json.loads(sys.argv[1])
rows = t.get("entry", t) if isinstance(t, dict) else t
want = sys.argv[2:]
for r in rows:
    key = "%s %s %s %s %s %s %s:%s" % (r["proto"], r["internal-src"], r["internal-sport"],
        r["internal-dst"], r["internal-dport"], r["originating-rule"], r["external-ip"], r["external-port"])
    if key in want:
        want.remove(key)
if want:
    sys.exit("missing: %s in %s" % (want, json.dumps(rows)))
' "$tab" "$@" || fail "natting-table"
}
chk "tcp 198.18.1.1 40001 198.18.2.1 7000 snat 198.19.0.100:40001" \
	"udp 198.18.1.1 40002 198.18.2.1 7001 snat 198.19.0.100:40002" \
	"tcp 198.18.1.1 80 198.18.2.1 40003 dnat 198.19.0.10:80" \
	"udp 198.18.1.1 5353 198.18.2.1 40004 dnat 198.19.0.10:5353" \
	"tcp 198.18.1.1 80 198.18.2.1 40005 portforwarding 198.19.0.20:8080"
grep -q '"icmp"' <<<"$tab" || fail "no icmp session: $tab"
grep -q '"TIME_WAIT"\|"FIN_WAIT"\|"LAST_ACK"' <<<"$tab" || fail "no closed tcp session's state: $tab"
[ "$(cub nat1 stats show sessions)" -ge 7 ] || fail "stats: $(cub nat1 stats show)"
[ "$(cub nat1 stats show port-exhausted)" = 0 ] || fail "stats: $(cub nat1 stats show)"

# A rule deleted under an open connection: the connection keeps its
# translation; a new one is not translated (no reply route: it fails).
mkfifo "$T/hold.ctl"
nat_py in1 hold 198.18.2.1 7000 5 "$T/hold.ctl" >"$T/hold.out" &
exec 7<>"$T/hold.ctl"
for _ in $(seq 1 100); do grep -q held "$T/hold.out" && break; sleep 0.1; done
grep -q held "$T/hold.out" || fail "5 connections not opened: $(cat "$T/hold.out")"
cub_ok nat1 rule snat entry del 1
echo go >&7
for _ in $(seq 1 100); do grep -q round "$T/hold.out" && break; sleep 0.1; done
grep -q "round 5/5" "$T/hold.out" || fail "after the rule's deletion: $(cat "$T/hold.out")"
NAT_NEG=1 nat_py in1 tcp 198.18.2.1 7000 40010 >/dev/null 2>&1 &&
	fail "a new connection was translated with no rule"

# Masquerade: the netdev's address, and the new one after a change.
cub_ok nat1 rule masquerade set enabled=true
p=$(nat_py in1 tcp 198.18.2.1 7000 40011) || fail "masquerade: $p"
[ "$p" = 198.18.2.254:40011 ] || fail "masquerade: the server saw $p"
ip addr del 198.18.2.254/24 dev vout
ip addr add 198.18.2.250/24 dev vout
ip -n out1 route replace 198.19.0.0/24 via 198.18.2.250
for _ in $(seq 1 100); do
	[ "$(cub nat1 rule masquerade show address)" = 198.18.2.250 ] && break
	sleep 0.1
done
[ "$(cub nat1 rule masquerade show address)" = 198.18.2.250 ] ||
	fail "masquerade address not followed: $(cub nat1 rule masquerade show)"
p=$(nat_py in1 tcp 198.18.2.1 7000 40012) || fail "masquerade after the change: $p"
[ "$p" = 198.18.2.250:40012 ] || fail "masquerade after the change: the server saw $p"
# SNAT wins over masquerade.
cub_ok nat1 rule snat entry add 2 internal-net=198.18.1.0/24 external-ip=198.19.0.101
p=$(nat_py in1 tcp 198.18.2.1 7000 40013) || fail "snat over masquerade: $p"
[ "$p" = 198.19.0.101:40013 ] || fail "snat over masquerade: the server saw $p"
# Nested SNAT prefixes: the longest wins, whatever the ids' order.
cub_ok nat1 rule snat entry add 0 internal-net=198.18.1.0/25 external-ip=198.19.0.102
cub_ok nat1 rule snat entry add 9 internal-net=198.18.0.0/16 external-ip=198.19.0.103
p=$(nat_py in1 tcp 198.18.2.1 7000 40014) || fail "nested snat: $p"
[ "$p" = 198.19.0.102:40014 ] || fail "nested snat: the server saw $p"
cub_ok nat1 rule snat entry del 0
p=$(nat_py in1 tcp 198.18.2.1 7000 40015) || fail "nested snat: $p"
[ "$p" = 198.19.0.101:40015 ] || fail "nested snat after a deletion: the server saw $p"
cub_ok nat1 rule snat entry del 9

# The flush: no session left; the held connections lose their
# translation.
cub_ok nat1 natting-table flush
n=$(cub nat1 natting-table show -o json | grep -c internal-src || true)
[ "$n" = 0 ] || fail "after the flush $n sessions: $(cub nat1 natting-table show)"
echo quit >&7

# Bad input: a clear error, nothing changed.
snapshot() { cub nat1 rule show -o json; }
before=$(snapshot)
refused_unchanged "already exists" nat1 rule snat entry add 2 internal-net=198.18.3.0/24 external-ip=198.19.0.1
refused_unchanged "host bits" nat1 rule snat entry add 3 internal-net=198.18.1.1/24 external-ip=198.19.0.1
refused_unchanged "not an IPv4 prefix" nat1 rule snat entry add 3 internal-net=198.18.1/24 external-ip=198.19.0.1
refused_unchanged "over 32" nat1 rule snat entry add 3 internal-net=198.18.1.0/33 external-ip=198.19.0.1
refused_unchanged "entry 2's already" nat1 rule snat entry add 3 internal-net=198.18.1.0/24 external-ip=198.19.0.1
refused_unchanged "out of range" nat1 rule port-forwarding entry add 3 external-ip=198.19.0.20 external-port=70000 internal-ip=198.18.1.1 internal-port=80
refused_unchanged "out of range" nat1 rule port-forwarding entry add 3 external-ip=198.19.0.20 external-port=0 internal-ip=198.18.1.1 internal-port=80
refused_unchanged "not one of tcp, udp, all" nat1 rule port-forwarding entry add 3 external-ip=198.19.0.20 external-port=81 internal-ip=198.18.1.1 internal-port=80 proto=icmp
refused_unchanged "entry 1's already" nat1 rule port-forwarding entry add 3 external-ip=198.19.0.20 external-port=8080 internal-ip=198.18.1.2 internal-port=80 proto=tcp
refused_unchanged "entry 1's already" nat1 rule dnat entry add 2 external-ip=198.19.0.10 internal-ip=198.18.1.2
refused_unchanged "not an IPv4 address" nat1 rule dnat entry add 2 external-ip=198.19.0 internal-ip=198.18.1.2
cub_ok nat1 del
# TC only: an XDP nat would translate nothing going out.
err=$(cub_refused 2 nat add nat2 type=XDP_DRV)
grep -q "TC only" <<<"$err" || fail "nat type=XDP_DRV: $err"
