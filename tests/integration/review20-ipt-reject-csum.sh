#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (iptables REJECT, d5f4fb4): Linux's REJECT answers only a
# segment or datagram whose TCP or UDP checksum is right
# (nf_reject_ipv4.c: nf_send_unreach() sends the ICMP error only if
# nf_ip_checksum() is 0; nf_send_reset() takes no header whose checksum
# fails, nf_reject_ip_tcphdr_get()), as the twin below shows with
# iptables-legacy.  The cube's fw_reject() (plugins/fwcore/bpf/
# fw_reject.bpf.h) checks no checksum: a UDP datagram or a TCP SYN with a
# wrong checksum (damaged on the way, or forged so) to a REJECT rule
# gets an ICMP port unreachable or a RST, which Linux never sends.
# Control: the same with the right checksum is answered by both.
. "$(dirname "$0")/../lib/netns.sh"
need python3 iptables-legacy

L4="$CUB_LIB/review20_l4.py"
PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start
HA=198.18.0.2
mac_host=$(ip -o link show veth1 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)

# Linux in a twin: la (198.18.2.1) -> lb (198.18.2.2), lb's INPUT
# rejects UDP 7021 (port unreachable) and TCP 7022 (tcp-reset).
ip netns add la
ip netns add lb
NAMESPACES+=(la lb)
ip link add eth0 netns la type veth peer name eth0 netns lb
ip -n la addr add 198.18.2.1/24 dev eth0
ip -n lb addr add 198.18.2.2/24 dev eth0
for ns in la lb; do ip -n $ns link set eth0 up; ip -n $ns link set lo up; done
ip netns exec lb iptables-legacy -A INPUT -p udp --dport 7021 -j REJECT
ip netns exec lb iptables-legacy -A INPUT -p tcp --dport 7022 -j REJECT --reject-with tcp-reset
mac_lb=$(ip -n lb -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
linux() { ip netns exec la python3 "$L4" eth0 "$mac_lb" 198.18.2.1 198.18.2.2 "$@"; }
for p in "udp 7021" "tcp 7022"; do
	set -- $p
	good=$(linux $1 $2 good)
	bad=$(linux $1 $2 bad)
	cub_log "Linux REJECT, $1 with the right checksum: '$good'; with a wrong one: '$bad'"
	[ -n "$good" ] || fail "Linux: $1 to port $2 with the right checksum not answered (the test is wrong)"
	[ -z "$bad" ] || fail "Linux answered $1 with a wrong checksum: '$bad' (the test's premise is wrong)"
done

cub_ok iptables add ipt0
cub_ok ipt0 chain add INPUT
cub_ok ipt0 chain INPUT rule add u spec="-p udp -m udp --dport 7021 -j REJECT"
cub_ok ipt0 chain INPUT rule add t spec="-p tcp -m tcp --dport 7022 -j REJECT --reject-with tcp-reset"
cube() { ip netns exec ca python3 "$L4" eth0 "$mac_host" 198.18.0.1 "$HA" "$@"; }
out=""
for p in "udp 7021" "tcp 7022"; do
	set -- $p
	good=$(cube $1 $2 good)
	bad=$(cube $1 $2 bad)
	cub_log "the cube's REJECT, $1 with the right checksum: '$good'; with a wrong one: '$bad'"
	[ -n "$good" ] || fail "control: $1 to a REJECT rule with the right checksum not answered"
	[ -z "$bad" ] || out+=" $1 with a wrong checksum answered: '$bad';"
done
[ -z "$out" ] || fail "the cube's REJECT answers what Linux's does not:$out"
