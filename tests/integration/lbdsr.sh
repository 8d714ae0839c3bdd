#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# lbdsr in the hook mode given as $1 (TC default).  The client cl is
# behind a router gw; gw reaches the VIPs through lbdsr's FRONTEND port
# (gw's ARP for a VIP answered by the cube with the frontend MAC); the
# BACKEND port is on a Linux bridge with three backends b1..b3 (each
# holding the VIPs on lo, arp_ignore=1, arp_announce=2, a python3 TCP
# server answering with its name) and gw's third leg, their default
# route.  Asserted: 600 TCP flows to two VIPs reach all three backends,
# every reply goes direct (gw -> cl, never through the cube: the cube
# counts no packet from a VIP); SRC_IP hashing keeps one client on one
# backend; a backend removed at run time gets no more flows, one added
# gets its share; bad input is refused and changes nothing.
. "$(dirname "$0")/../lib/netns.sh"
need python3 ping

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/lbdsr/lbdsr.so")
VIP=198.19.0.1 VIP2=198.19.0.2 FMAC=02:00:00:00:0f:01

newns() {
	ip netns add "$1"
	NAMESPACES+=("$1")
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$1" link set lo up
}
newns cl
newns gw
newns sw
ip netns exec gw sysctl -qw net.ipv4.ip_forward=1
# cl -- gw
ip -n gw link add eth0 type veth peer name eth0 netns cl
ip -n cl addr add 198.18.1.1/24 dev eth0
ip -n cl link set eth0 up
ip -n cl route add default via 198.18.1.254
ip -n gw addr add 198.18.1.254/24 dev eth0
ip -n gw link set eth0 up
# gw -- the cube's frontend (fe0, here)
ip link add fe0 type veth peer name eth1 netns gw
ip link set fe0 up
ip -n gw addr add 198.18.2.254/24 dev eth1
ip -n gw link set eth1 up
ip -n gw route add $VIP/32 dev eth1
ip -n gw route add $VIP2/32 dev eth1
# the backends' bridge (in sw): the cube's backend port (be0), gw's
# third leg, b1..b3
ip -n sw link add br0 type bridge
ip -n sw link set br0 up
ip link add be0 type veth peer name p0 netns sw
ip link set be0 up
ip -n sw link set p0 master br0 up
ip -n sw link add pg type veth peer name eth2 netns gw
ip -n sw link set pg master br0 up
ip -n gw addr add 198.18.3.254/24 dev eth2
ip -n gw link set eth2 up
for i in 1 2 3; do
	newns b$i
	ip -n sw link add p$i type veth peer name eth0 netns b$i
	ip -n sw link set p$i master br0 up
	ip -n b$i link set eth0 address 02:00:00:00:03:0$i
	ip -n b$i addr add 198.18.3.1$i/24 dev eth0
	ip -n b$i link set eth0 up
	ip -n b$i route add default via 198.18.3.254
	ip -n b$i addr add $VIP/32 dev lo
	ip -n b$i addr add $VIP2/32 dev lo
	ip netns exec b$i sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 \
		net.ipv4.conf.eth0.arp_announce=2
done
if [ "$HOOK" != TC ]; then
	need ethtool
	ip netns exec gw ethtool -K eth1 gro on >/dev/null
	ip netns exec sw ethtool -K p0 gro on >/dev/null
	# A packet the client's stack left with a partial checksum reaches
	# the backends through XDP as if it were whole (and is dropped
	# there): the client computes its checksums.
	ip netns exec cl ethtool -K eth0 tx off >/dev/null
fi

cat >"$T/server.py" <<'PY'
import socketserver, sys
name = sys.argv[1]
class T(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write((name + "\n").encode())
class TS(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512
t = TS(("0.0.0.0", 80), T)
open(sys.argv[2], "w").close()
t.serve_forever()
PY
cat >"$T/client.py" <<'PY'
# VIP N BASE: N TCP connections from source ports BASE..: "sport name".
import socket, struct, sys
from concurrent.futures import ThreadPoolExecutor
vip, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def flow(sport):
    for attempt in range(3):
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.settimeout(5)
            s.bind(("198.18.1.1", sport))
            s.connect((vip, 80))
            name = s.makefile("r").readline().strip()
            s.close()
            return "%d %s" % (sport, name or "-")
        except OSError:
            pass
    return "%d -" % sport
with ThreadPoolExecutor(32) as ex:
    for line in ex.map(flow, range(base, base + n)):
        print(line)
PY
for i in 1 2 3; do
	ip netns exec b$i python3 "$T/server.py" b$i "$T/up$i" &
done
for i in 1 2 3; do
	for _ in $(seq 1 100); do [ -e "$T/up$i" ] && break; sleep 0.1; done
	[ -e "$T/up$i" ] || fail "the server of b$i did not start"
done

broker_start
cub_ok lbdsr add d0 type="$HOOK"
cub_ok d0 ports add fe peer=fe0 type=FRONTEND
cub_ok d0 ports add be peer=be0 type=BACKEND
cub_ok d0 set frontend vip=$VIP mac=$FMAC
cub_ok d0 vips add $VIP2
for i in 1 2 3; do
	cub_ok d0 backend pool add $i mac=02:00:00:00:03:0$i
done

counts() {
	awk '{ c[$2]++ } END { printf "%d %d %d %d\n", c["b1"], c["b2"], c["b3"], c["-"] }' "$1"
}
gw_rx() { ip netns exec gw cat /sys/class/net/eth2/statistics/rx_packets; }

g0=$(gw_rx)
ip netns exec cl python3 "$T/client.py" $VIP 300 20000 >"$T/f1"
ip netns exec cl python3 "$T/client.py" $VIP2 300 20000 >>"$T/f1"
g1=$(gw_rx)
read -r n1 n2 n3 nf <<<"$(counts "$T/f1")"
cub_log "600 flows to two VIPs: b1 $n1 b2 $n2 b3 $n3 failed $nf; gw got $((g1 - g0)) packets from the backends"
[ "$nf" = 0 ] || fail "$nf of 600 flows failed"
[ "$n1" -gt 100 ] && [ "$n2" -gt 100 ] && [ "$n3" -gt 100 ] ||
	fail "600 flows: b1 $n1 b2 $n2 b3 $n3"
[ "$(port_counter d0 fe lb_packets)" -ge 1800 ] ||
	fail "fe lb_packets $(port_counter d0 fe lb_packets): fewer than 3 per flow"
[ "$(port_counter d0 fe arp_replies)" -ge 1 ] || fail "gw's ARP for a VIP was not answered"
vr=$(port_counter d0 be vip_replies)
[ "$vr" = 0 ] || fail "$vr packets from a VIP came through the cube"
[ $((g1 - g0)) -ge 1200 ] || fail "gw got $((g1 - g0)) packets from the backends: the replies did not go direct"

# SRC_IP: one client, one backend, whatever its ports.
cub_ok d0 set algorithm=SRC_IP
ip netns exec cl python3 "$T/client.py" $VIP 100 30000 >"$T/f2"
read -r n1 n2 n3 nf <<<"$(counts "$T/f2")"
[ "$nf" = 0 ] && { [ "$n1" = 100 ] || [ "$n2" = 100 ] || [ "$n3" = 100 ]; } ||
	fail "SRC_IP: 100 flows of one client: b1 $n1 b2 $n2 b3 $n3 failed $nf"
cub_ok d0 set algorithm=FIVE_TUPLE

# A backend removed at run time: no flow reaches it; added back, flows
# come to it again.
cub_ok d0 backend pool del 2
ip netns exec cl python3 "$T/client.py" $VIP 300 40000 >"$T/f3"
read -r n1 n2 n3 nf <<<"$(counts "$T/f3")"
[ "$nf" = 0 ] && [ "$n2" = 0 ] && [ "$n1" -gt 90 ] && [ "$n3" -gt 90 ] ||
	fail "b2 removed: b1 $n1 b2 $n2 b3 $n3 failed $nf"
cub_ok d0 backend pool add 2 mac=02:00:00:00:03:02
ip netns exec cl python3 "$T/client.py" $VIP 300 40000 >"$T/f4"
read -r n1 n2 n3 nf <<<"$(counts "$T/f4")"
[ "$nf" = 0 ] && [ "$n2" -gt 60 ] || fail "b2 back: b1 $n1 b2 $n2 b3 $n3 failed $nf"
# The same flows as before the removal: the same backends (Maglev's
# table is the set's, whatever happened between).
ip netns exec cl python3 "$T/client.py" $VIP 300 20000 >"$T/f5"
cmp -s <(head -300 "$T/f1") "$T/f5" || fail "flows of the same pool changed backends"

# kill -9 of the worker, then of the broker: the same flows, the same
# backends, with each down and after.
wpid=$(worker_pid lbdsr)
kill -9 "$wpid"
ip netns exec cl python3 "$T/client.py" $VIP 300 20000 >"$T/f6"
cmp -s "$T/f5" "$T/f6" || fail "flows changed across the worker's kill -9"
for _ in $(seq 1 100); do
	p=$(worker_pid lbdsr)
	[ -n "$p" ] && [ "$p" != "$wpid" ] && break
	sleep 0.1
done
broker_wait_ready
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
ip netns exec cl python3 "$T/client.py" $VIP 300 20000 >"$T/f6"
cmp -s "$T/f5" "$T/f6" || fail "flows changed with the broker dead"
broker_start
ip netns exec cl python3 "$T/client.py" $VIP 300 20000 >"$T/f6"
cmp -s "$T/f5" "$T/f6" || fail "flows changed after the broker's restart"
cub_ok d0 backend pool del 3
ip netns exec cl python3 "$T/client.py" $VIP 300 20000 >"$T/f7"
read -r n1 n2 n3 nf <<<"$(counts "$T/f7")"
[ "$nf" = 0 ] && [ "$n3" = 0 ] || fail "b3 removed after the restarts: b1 $n1 b2 $n2 b3 $n3 failed $nf"
cub_ok d0 backend pool add 3 mac=02:00:00:00:03:03
cub_log "kill -9 of worker and broker: flows kept their backends"

# Bad input.
snapshot() { cub d0 show -o json | grep -v '_packets\|_bytes\|drops\|_replies'; }
before=$(snapshot)
refused_unchanged -i "FRONTEND" d0 ports add fe2 type=FRONTEND
refused_unchanged -i "unicast" d0 backend pool add 9 mac=01:00:5e:00:00:01
refused_unchanged -i "MAC" d0 backend pool add 9 mac=02:00:00:00:03:01
refused_unchanged -i "algorithm|not one of" d0 set algorithm=RANDOM
refused_unchanged -i "unicast" d0 vips add 224.0.0.5

cub_ok d0 del
