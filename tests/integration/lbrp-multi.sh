#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# lbrp port_mode MULTI: two clients c1 (198.18.1.1) and c2 (198.18.1.2),
# each on a FRONTEND port of its own (the port's ip: the client's
# address), one BACKEND port to a router namespace gw with three
# backends behind it (lbrp.sh's).  Asserted: each client's 300 TCP
# flows are answered (every reply went out of the frontend port its
# session came in by); each pings gw (a packet no session takes goes out
# of the port whose ip it is for); ARP from gw reaches both (flooded to
# the frontends); two services from one document each get their own
# table; src-ip-rewrite: the backends see the rewritten clients, the
# clients get their answers; a second BACKEND port is refused.
. "$(dirname "$0")/../lib/netns.sh"
need python3 ping

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/lbrp/lbrp.so")
VIP=198.19.0.1

netns_host c1 fe1 198.18.1.1
netns_host c2 fe2 198.18.1.2
ip -n c1 route add default via 198.18.1.254
ip -n c2 route add default via 198.18.1.254
newns() {
	ip netns add "$1"
	NAMESPACES+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$1" link set lo up
}
newns gw
ip netns exec gw sysctl -qw net.ipv4.ip_forward=1
ip link add be0 type veth peer name eth0 netns gw
ip link set be0 up
ip -n gw addr add 198.18.1.254/24 dev eth0
ip -n gw link set eth0 up
for i in 1 2 3; do
	newns b$i
	ip -n gw link add v$i type veth peer name eth0 netns b$i
	ip -n gw addr add 198.18.1$i.254/24 dev v$i
	ip -n gw link set v$i up
	ip -n b$i addr add 198.18.1$i.1/24 dev eth0
	ip -n b$i link set eth0 up
	ip -n b$i route add default via 198.18.1$i.254
done
for i in 1 2 3; do
	ip netns exec b$i python3 "$CUB_LIB/lb_server.py" b$i "$T/up$i" peer &
done
for i in 1 2 3; do
	for _ in $(seq 1 100); do [ -e "$T/up$i" ] && break; sleep 0.1; done
	[ -e "$T/up$i" ] || fail "the server of b$i did not start"
done

broker_start
# The whole cube from one document: two services written by one apply
# (each its own id and table: VIP2 goes to b1 alone).
cat >"$T/lb0.json" <<JSON
{"type": "$HOOK", "port_mode": "MULTI", "ports": [
  {"name": "fe1", "peer": "fe1", "type": "FRONTEND", "ip": "198.18.1.1"},
  {"name": "fe2", "peer": "fe2", "type": "FRONTEND", "ip": "198.18.1.2"},
  {"name": "be", "peer": "be0", "type": "BACKEND"}],
 "services": [
  {"vip": "$VIP", "vport": 80, "proto": "TCP", "backend": [
    {"ip": "198.18.11.1", "port": 80}, {"ip": "198.18.12.1", "port": 80},
    {"ip": "198.18.13.1", "port": 80}]},
  {"vip": "198.19.0.2", "vport": 80, "proto": "TCP", "backend": [
    {"ip": "198.18.11.1", "port": 80}]}]}
JSON
cub_ok lbrp add lb0 --file "$T/lb0.json"
for c in 1 2; do
	ip netns exec c$c ping -c 2 -i 0.2 -W 2 198.18.1.254 >/dev/null ||
		fail "c$c cannot ping gw through lb0"
done
pids=()
for c in 1 2; do
	ip netns exec c$c env LB_SRC=198.18.1.$c python3 "$CUB_LIB/lb_client.py" flows 300 20000 >"$T/f$c" &
	pids+=($!)
done
wait "${pids[@]}"
for c in 1 2; do
	n=$(awk -v c=198.18.1.$c '$2 ~ /^b[123]$/ && $3 == c' "$T/f$c" | wc -l)
	[ "$n" = 300 ] || fail "c$c: $n of 300 flows answered: $(grep -m3 ' -$' "$T/f$c")"
done
ip netns exec c1 env LB_VIP=198.19.0.2 python3 "$CUB_LIB/lb_client.py" flows 100 30000 >"$T/g1"
n=$(awk '$2 == "b1"' "$T/g1" | wc -l)
[ "$n" = 100 ] || fail "198.19.0.2 (b1 alone): $n of 100 flows on b1: $(sort -k2 "$T/g1" | uniq -c -f1 | head)"
[ "$(port_counter lb0 fe1 lb_packets)" -ge 900 ] && [ "$(port_counter lb0 fe2 lb_packets)" -ge 900 ] ||
	fail "lb_packets fe1 $(port_counter lb0 fe1 lb_packets) fe2 $(port_counter lb0 fe2 lb_packets)"
cub_log "MULTI: 300 flows from each of two frontend ports answered"
# src-ip-rewrite: the backends see 198.18.5.x; the replies, sent there
# (gw's neighbours of 198.18.5.x: the clients' MACs), reach the clients
# from the VIP.
mac_of_ns() { ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2; }
snapshot() { cub lb0 show -o json | grep -v '_packets\|_bytes\|drops\|icmp_echo\|sessions'; }
before=$(snapshot)
refused_unchanged -i "both" lb0 set src-ip-rewrite ip-range=198.18.1.0/24
refused_unchanged -i "one length" lb0 set src-ip-rewrite ip-range=198.18.1.0/24 new_ip_range=198.18.4.0/23
cub_ok lb0 set src-ip-rewrite ip-range=198.18.1.0/24 new_ip_range=198.18.5.0/24
ip -n gw route add 198.18.5.0/24 dev eth0
pids=()
for c in 1 2; do
	ip -n gw neigh replace 198.18.5.$c lladdr "$(mac_of_ns c$c)" dev eth0 nud permanent
	ip netns exec c$c env LB_SRC=198.18.1.$c python3 "$CUB_LIB/lb_client.py" flows 200 32000 >"$T/s$c" &
	pids+=($!)
done
wait "${pids[@]}"
for c in 1 2; do
	n=$(awk -v c=198.18.5.$c '$2 ~ /^b[123]$/ && $3 == c' "$T/s$c" | wc -l)
	[ "$n" = 200 ] || fail "src-ip-rewrite: c$c got $n of 200 answers seen from 198.18.5.$c: $(head -3 "$T/s$c")"
done
cub_log "src-ip-rewrite: 400 flows answered, the backends saw 198.18.5.1 and .2"
before=$(cub lb0 show -o json | grep -v '_packets\|_bytes\|drops\|icmp_echo\|sessions')
snapshot() { cub lb0 show -o json | grep -v '_packets\|_bytes\|drops\|icmp_echo\|sessions'; }
refused_unchanged -i "BACKEND" lb0 ports add be2 type=BACKEND
cub_ok lb0 del
