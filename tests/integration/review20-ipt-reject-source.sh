#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (iptables REJECT, d5f4fb4): the source of REJECT's ICMP
# error.  Linux's icmp_send() (net/ipv4/icmp.c __icmp_send()) answers
# from the original's destination only when that address is the host's
# own (RTCF_LOCAL: INPUT); a packet the host forwards (FORWARD) or makes
# (OUTPUT) gets its error from an address of the host (saddr 0: the
# route's preferred source), as the twin below shows with iptables-
# legacy: la -> lr (forwarding) -> lb, FORWARD REJECT: la's ping says
# "From 198.18.2.254", lr's address; lr's own ping to lb with OUTPUT
# REJECT says "From 198.18.3.254", lr's.  The cube's fw_reject()
# (plugins/fwcore/bpf/fw_reject.bpf.h) answers from the original's
# destination in every chain, so ca's ping across the host with FORWARD
# REJECT says "From 198.18.1.1" (cb, which never saw the packet: the
# error names the wrong hop), and the host's own ping to ca with OUTPUT
# REJECT says "From 198.18.0.1" (ca).  iptables-host.sh's "as Linux's"
# asserts the cube's, not Linux's.
. "$(dirname "$0")/../lib/netns.sh"
need python3 iptables-legacy

PLUGINS+=("$CUB_BUILD/plugins/iptables/iptables.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
host_peer cb veth2 198.18.1.1 198.18.1.2
sysctl -qw net.ipv4.ip_forward=1
ip -n ca route add 198.18.1.0/24 via 198.18.0.2
ip -n cb route add 198.18.0.0/24 via 198.18.1.2
broker_start
from_of() { sed -n 's/^From \([0-9.]*\) .*/\1/p' <<<"$1" | head -1; }

# The twin: la (198.18.2.1) - lr (198.18.2.254 | 198.18.3.254) - lb.
for n in la lr lb; do ip netns add $n; done
NAMESPACES+=(la lr lb)
ip link add eth0 netns la type veth peer name e0 netns lr
ip link add eth0 netns lb type veth peer name e1 netns lr
ip -n la addr add 198.18.2.1/24 dev eth0
ip -n lr addr add 198.18.2.254/24 dev e0
ip -n lr addr add 198.18.3.254/24 dev e1
ip -n lb addr add 198.18.3.1/24 dev eth0
for n in la lb; do ip -n $n link set eth0 up; ip -n $n link set lo up; done
for d in e0 e1 lo; do ip -n lr link set $d up; done
ip -n la route add default via 198.18.2.254
ip -n lb route add default via 198.18.3.254
ip netns exec lr sysctl -qw net.ipv4.ip_forward=1
ip netns exec la ping -c 1 -W 2 198.18.3.1 >/dev/null || fail "twin: la cannot ping lb through lr"
ip netns exec lr iptables-legacy -A FORWARD -s 198.18.2.1 -d 198.18.3.1 -p icmp -j REJECT --reject-with icmp-host-prohibited
lf=$(ip netns exec la ping -c 1 -W 2 198.18.3.1 2>&1 || true)
ip netns exec lr iptables-legacy -A OUTPUT -d 198.18.3.1 -p icmp -j REJECT
lo=$(ip netns exec lr ping -c 1 -W 2 198.18.3.1 2>&1 || true)
cub_log "Linux: FORWARD REJECT: la's ping: '$(grep ^From <<<"$lf")'; OUTPUT REJECT: lr's ping: '$(grep ^From <<<"$lo")'"
[ "$(from_of "$lf")" = 198.18.2.254 ] || fail "twin: Linux's FORWARD REJECT not from lr's 198.18.2.254: $lf (the test's premise is wrong)"
[ "$(from_of "$lo")" = 198.18.3.254 ] || fail "twin: Linux's OUTPUT REJECT not from lr's 198.18.3.254: $lo (the test's premise is wrong)"

cub_ok iptables add ipt0
cub_ok ipt0 chain add FORWARD
cub_ok ipt0 chain FORWARD rule add prohib spec="-s 198.18.0.1/32 -d 198.18.1.1/32 -p icmp -j REJECT --reject-with icmp-host-prohibited"
cf=$(ip netns exec ca ping -c 1 -W 2 198.18.1.1 2>&1 || true)
cub_ok ipt0 chain add OUTPUT
cub_ok ipt0 chain OUTPUT rule add out spec="-d 198.18.0.1/32 -p icmp -j REJECT"
co=$(ping -c 1 -W 2 198.18.0.1 2>&1 || true)
cub_log "the cube: FORWARD REJECT: ca's ping: '$(grep ^From <<<"$cf")'; OUTPUT REJECT: the host's ping: '$(grep ^From <<<"$co")'"
grep -q "Destination Host Prohibited" <<<"$cf" || fail "control: no host prohibited for ca's ping: $cf"
grep -q "Destination Port Unreachable" <<<"$co" || fail "control: no port unreachable for the host's ping: $co"
bad=""
[ "$(from_of "$cf")" = 198.18.0.2 ] || bad+=" FORWARD REJECT from $(from_of "$cf"), not the host's 198.18.0.2;"
[ "$(from_of "$co")" = 198.18.0.2 ] || bad+=" OUTPUT REJECT from $(from_of "$co"), not the host's 198.18.0.2;"
[ -z "$bad" ] || fail "the cube's ICMP errors come from the original's destination, Linux's from the host:$bad"
