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
cat >"$T/server.py" <<'PY'
import socket, socketserver, sys, threading
name = sys.argv[1]
class T(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write((name + " " + self.client_address[0] + "\n").encode())
        for line in self.rfile:
            self.wfile.write((name + "\n").encode())
class TS(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512
class U(socketserver.BaseRequestHandler):
    def handle(self):
        self.request[1].sendto(name.encode(), self.client_address)
t = TS(("0.0.0.0", 80), T)
u = socketserver.UDPServer(("0.0.0.0", 53), U)
threading.Thread(target=u.serve_forever, daemon=True).start()
open(sys.argv[2], "w").close()
t.serve_forever()
PY
cat >"$T/client.py" <<'PY'
# flows N BASE: N short TCP connections from source ports BASE..: one
#   line "sport name" each ("sport -" when it failed).
# udp N BASE: the same over UDP; "sport name" or "sport -" (no answer,
#   or an answer from elsewhere than the VIP).
# hold N BASE: N connections kept open; then, for each line "check" on
#   stdin, one line "sport:name ..." (name "-" for a dead one); "close"
#   closes them.
import socket, struct, sys
from concurrent.futures import ThreadPoolExecutor
VIP = "198.19.0.1"
mode, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def conn(sport):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(5)
    s.bind(("198.18.1.1", sport))
    s.connect((VIP, 80))
    f = s.makefile("r")
    return s, f, f.readline().strip()
def flow(sport):
    for attempt in range(3):
        try:
            s, f, name = conn(sport)
            s.close()
            return "%d %s" % (sport, name or "-")
        except OSError:
            pass
    return "%d -" % sport
def uflow(sport):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.1.1", sport))
    s.settimeout(2)
    for attempt in range(3):
        try:
            s.sendto(b"hi", (VIP, 53))
            data, addr = s.recvfrom(100)
            s.close()
            if addr != (VIP, 53):
                return "%d -" % sport
            return "%d %s" % (sport, data.decode())
        except OSError:
            pass
    return "%d -" % sport
if mode in ("flows", "udp"):
    with ThreadPoolExecutor(32) as ex:
        for line in ex.map(flow if mode == "flows" else uflow,
                           range(base, base + n)):
            print(line)
    sys.exit(0)
held = {}
for sport in range(base, base + n):
    held[sport] = conn(sport)
print(" ".join("%d:%s" % (p, c[2]) for p, c in held.items()), flush=True)
for cmd in sys.stdin:
    if cmd.strip() == "close":
        break
    out = []
    for p, (s, f, _) in held.items():
        try:
            s.sendall(b"x\n")
            out.append("%d:%s" % (p, f.readline().strip() or "-"))
        except OSError:
            out.append("%d:-" % p)
    print(" ".join(out), flush=True)
for s, f, _ in held.values():
    s.close()
PY
for i in 1 2 3; do
	ip netns exec b$i python3 "$T/server.py" b$i "$T/up$i" &
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
	sed "s/198.18.1.1\", sport/198.18.1.$c\", sport/" "$T/client.py" >"$T/client$c.py"
	ip netns exec c$c python3 "$T/client$c.py" flows 300 20000 >"$T/f$c" &
	pids+=($!)
done
wait "${pids[@]}"
for c in 1 2; do
	n=$(awk -v c=198.18.1.$c '$2 ~ /^b[123]$/ && $3 == c' "$T/f$c" | wc -l)
	[ "$n" = 300 ] || fail "c$c: $n of 300 flows answered: $(grep -m3 ' -$' "$T/f$c")"
done
sed -i 's/VIP = "198.19.0.1"/VIP = "198.19.0.2"/' "$T/client1.py"
ip netns exec c1 python3 "$T/client1.py" flows 100 30000 >"$T/g1"
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
	sed -i 's/VIP = "198.19.0.2"/VIP = "198.19.0.1"/' "$T/client$c.py"
	ip netns exec c$c python3 "$T/client$c.py" flows 200 32000 >"$T/s$c" &
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
