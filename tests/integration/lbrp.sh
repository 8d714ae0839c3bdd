#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# lbrp in the hook mode given as $1 (TC default): a client namespace cl
# on the FRONTEND port, a router namespace gw on the BACKEND port, and
# behind gw three backends b1..b3, each a python3 TCP (port 80) and UDP
# (port 53) server answering with its own name.  Asserted on what the
# client receives:
# - 3000 TCP flows (fixed source ports) to 198.19.0.1:80 reach the
#   backends by their weights 20/30/50, each within 10% of its share;
#   UDP flows reach all three, every reply from the VIP.
# - Sessions stay: 60 long-lived connections; a backend removed: each
#   connection of the others still talks to its backend, and the 3000
#   flows of before, made again, keep their backends (those of the
#   removed one go to the others); every flow, before and after, is on
#   the backend Maglev gives it (the table and hash redone in Python).
# - Draining (weight 0): its open connections go on, no new flow gets it.
# - kill -9 of the worker and of the broker: open connections go on,
#   the session table is as it was.
# - Echo requests to a VIP are answered; bad input is refused, nothing
#   changes.
. "$(dirname "$0")/../lib/netns.sh"
need python3 ping

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/lbrp/lbrp.so")
VIP=198.19.0.1

netns_host cl fe0 198.18.1.1
ip -n cl route add default via 198.18.1.254
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
if [ "$HOOK" != TC ]; then
	need ethtool
	napi_on cl
	napi_on gw
	# XDP sees a locally sent packet's partial checksum as if it were
	# whole (lbrp.bpf.c, README): the senders compute theirs.
	for n in cl b1 b2 b3; do
		ip netns exec $n ethtool -K eth0 tx off >/dev/null
	done
fi

cat >"$T/maglev.py" <<'PY'
# predict BASE N IP:PORT:WEIGHT:NAME...: the backend lbrp's Maglev table
# gives each flow 198.18.1.1:sport -> 198.19.0.1:80 TCP, sport from BASE
# (maglev.c and lbrp.bpf.c's lb_hash() in Python), one "sport name" a line.
import ipaddress, socket, struct, sys
M, M64, M32 = 16381, (1 << 64) - 1, 0xffffffff
def mix64(x):
    x ^= x >> 30; x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27; x = (x * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)
def fill(bes):
    e = []
    for ip, port, w, name in sorted(bes, key=lambda b: (int(ipaddress.ip_address(b[0])) << 16) | b[1]):
        key = (int(ipaddress.ip_address(ip)) << 16) | port
        e.append([mix64(key ^ 0x6d61676c65763031) % M,
                  mix64(key ^ 0x6b617472616e3032) % (M - 1) + 1, 0, w, name])
    t, filled = [None] * M, 0
    while any(x[3] for x in e) and filled < M:
        for x in e:
            for _ in range(x[3]):
                if filled >= M:
                    break
                while True:
                    s = (x[0] + x[2] * x[1]) % M
                    x[2] += 1
                    if t[s] is None:
                        break
                t[s] = x[4]
                filled += 1
    return t
def rol(x, k): return ((x << k) | (x >> (32 - k))) & M32
def le32(ip): return struct.unpack("<I", socket.inet_aton(ip))[0]
def le16(p): return struct.unpack("<H", struct.pack(">H", p))[0]
def jhash(sa, da, sp, dp, proto):
    init = (0xdeadbeef + 12 + proto) & M32
    a, b, c = (le32(sa) + init) & M32, (le32(da) + init) & M32, (((le16(sp) << 16) | le16(dp)) + init) & M32
    c ^= b; c = (c - rol(b, 14)) & M32
    a ^= c; a = (a - rol(c, 11)) & M32
    b ^= a; b = (b - rol(a, 25)) & M32
    c ^= b; c = (c - rol(b, 16)) & M32
    a ^= c; a = (a - rol(c, 4)) & M32
    b ^= a; b = (b - rol(a, 14)) & M32
    c ^= b; c = (c - rol(b, 24)) & M32
    return c
base, n = int(sys.argv[1]), int(sys.argv[2])
bes = []
for a in sys.argv[3:]:
    ip, port, w, name = a.split(":")
    bes.append((ip, int(port), int(w), name))
t = fill(bes)
for sp in range(base, base + n):
    print("%d %s" % (sp, t[jhash("198.18.1.1", "198.19.0.1", sp, 80, 6) % M]))
PY
for i in 1 2 3; do
	ip netns exec b$i python3 "$CUB_LIB/lb_server.py" b$i "$T/up$i" &
done
for i in 1 2 3; do
	for _ in $(seq 1 100); do [ -e "$T/up$i" ] && break; sleep 0.1; done
	[ -e "$T/up$i" ] || fail "the server of b$i did not start"
done

broker_start
cub_ok lbrp add lb0 type="$HOOK"
cub_ok lb0 ports add fe peer=fe0 type=FRONTEND
cub_ok lb0 ports add be peer=be0 type=BACKEND

# ARP and what is not to a VIP pass between the ports.
ip netns exec cl ping -c 2 -i 0.2 -W 2 198.18.1.254 >/dev/null ||
	fail "the client cannot ping gw through lb0"
ip netns exec cl ping -c 1 -W 2 198.18.11.1 >/dev/null ||
	fail "the client cannot ping b1 (not a VIP) through lb0"

cub_ok lb0 services add $VIP 80 TCP name=web
cub_ok lb0 services $VIP 80 TCP backend add 198.18.11.1 port=80 weight=20 name=b1
cub_ok lb0 services $VIP 80 TCP backend add 198.18.12.1 port=80 weight=30 name=b2
cub_ok lb0 services $VIP 80 TCP backend add 198.18.13.1 port=80 weight=50 name=b3

# counts FILE: "n1 n2 n3 failed" of the lines "sport name" in FILE.
counts() {
	awk '{ c[$2]++ } END { printf "%d %d %d %d\n", c["b1"], c["b2"], c["b3"], c["-"] }' "$1"
}
within() { # within GOT SHARE TOTAL: GOT within 10% of SHARE of TOTAL
	python3 -c "import sys; g, s, t = map(float, sys.argv[1:]); sys.exit(0 if abs(g - s * t) <= 0.1 * s * t else 1)" "$@"
}

ip netns exec cl python3 "$CUB_LIB/lb_client.py" flows 3000 20000 >"$T/f1" ||
	fail "the client failed"
read -r n1 n2 n3 nf <<<"$(counts "$T/f1")"
cub_log "3000 flows, weights 20/30/50: b1 $n1 b2 $n2 b3 $n3 failed $nf"
[ "$nf" = 0 ] || fail "$nf of 3000 flows failed: $(grep -m3 ' -$' "$T/f1")"
within "$n1" 0.2 3000 && within "$n2" 0.3 3000 && within "$n3" 0.5 3000 ||
	fail "3000 flows by weights 20/30/50: b1 $n1 b2 $n2 b3 $n3"
# Each flow on the backend Maglev gives it (the table and the hash in
# Python, $T/maglev.py).
python3 "$T/maglev.py" 20000 3000 198.18.11.1:80:20:b1 198.18.12.1:80:30:b2 \
	198.18.13.1:80:50:b3 >"$T/p1"
cmp -s "$T/f1" "$T/p1" ||
	fail "$(diff "$T/f1" "$T/p1" | grep -c '^<') of 3000 flows not on their Maglev backend: $(diff "$T/f1" "$T/p1" | head -4)"
[ "$(port_counter lb0 fe lb_packets)" -ge 3000 ] ||
	fail "fe lb_packets: $(port_counter lb0 fe lb_packets)"
[ "$(port_counter lb0 be rev_packets)" -ge 3000 ] ||
	fail "be rev_packets: $(port_counter lb0 be rev_packets)"

# UDP: every reply comes from the VIP.
cub_ok lb0 services add $VIP 53 UDP name=dns
for i in 1 2 3; do
	cub_ok lb0 services $VIP 53 UDP backend add 198.18.1$i.1 port=53
done
ip netns exec cl python3 "$CUB_LIB/lb_client.py" udp 300 30000 >"$T/u1"
read -r n1 n2 n3 nf <<<"$(counts "$T/u1")"
cub_log "300 UDP flows, equal weights: b1 $n1 b2 $n2 b3 $n3 failed $nf"
[ "$nf" = 0 ] && [ "$n1" -gt 50 ] && [ "$n2" -gt 50 ] && [ "$n3" -gt 50 ] ||
	fail "300 UDP flows: b1 $n1 b2 $n2 b3 $n3, $nf failed or not from the VIP"

# Long-lived connections; then b1 goes.
coproc HOLD { ip netns exec cl python3 "$CUB_LIB/lb_client.py" hold 60 40000 2>&1; }
read -r -t 30 -u "${HOLD[0]}" held0 || fail "the held connections did not open"
hold_check() {
	echo check >&"${HOLD[1]}"
	read -r -t 30 -u "${HOLD[0]}" held || fail "the held connections did not answer"
	printf '%s\n' "$held"
}
[ "$(hold_check)" = "$held0" ] || fail "held connections changed with nothing changed"
before=$(cub lb0 show sessions)
cub_log "held: $held0; sessions $before"
cub_ok lb0 services $VIP 80 TCP backend del 198.18.11.1
held1=$(hold_check)
for e in $held0; do
	case "$e" in *:b1) continue ;; esac
	grep -qw -- "$e" <<<"$held1" ||
		fail "connection ${e%%:*} of ${e#*:} moved when b1 went: $held1"
done
ip netns exec cl python3 "$CUB_LIB/lb_client.py" flows 3000 20000 >"$T/f2"
moved=0
while read -r sp old && read -r sp2 new <&3; do
	[ "$sp" = "$sp2" ] || fail "flow lists out of step"
	if [ "$old" = b1 ]; then
		case "$new" in b2 | b3) ;; *) fail "flow $sp of b1 went to '$new'" ;; esac
	elif [ "$old" != "$new" ]; then
		moved=$((moved + 1))
	fi
done <"$T/f1" 3<"$T/f2"
[ "$moved" = 0 ] || fail "$moved flows of b2/b3 moved when b1 went"
# b1's flows went where the new table says; new flows follow it too.
python3 "$T/maglev.py" 20000 3000 198.18.12.1:80:30:b2 198.18.13.1:80:50:b3 >"$T/p2"
paste -d' ' "$T/f1" "$T/p2" | awk '{ print $1, ($2 == "b1" ? $4 : $2) }' >"$T/p2s"
cmp -s "$T/f2" "$T/p2s" || fail "after b1 went, flows not where sessions and Maglev say: $(diff "$T/f2" "$T/p2s" | head -4)"
ip netns exec cl python3 "$CUB_LIB/lb_client.py" flows 3000 10000 >"$T/f2n"
python3 "$T/maglev.py" 10000 3000 198.18.12.1:80:30:b2 198.18.13.1:80:50:b3 >"$T/p2n"
cmp -s "$T/f2n" "$T/p2n" || fail "new flows after b1 went, not on their Maglev backend: $(diff "$T/f2n" "$T/p2n" | head -4)"
cub_log "b1 removed: every flow of b2 and b3 kept its backend"

# Drain b2: its connections go on, no new flow reaches it.
cub_ok lb0 services $VIP 80 TCP backend 198.18.12.1 set weight=0
held2=$(hold_check)
for e in $held0; do
	case "$e" in *:b1) continue ;; esac
	grep -qw -- "$e" <<<"$held2" || fail "connection $e changed when b2 drained: $held2"
done
grep -q ':b2' <<<"$held2" || fail "no held connection on b2 to watch: $held2"
ip netns exec cl python3 "$CUB_LIB/lb_client.py" flows 1000 50000 >"$T/f3"
read -r n1 n2 n3 nf <<<"$(counts "$T/f3")"
[ "$n2" = 0 ] && [ "$n3" = 1000 ] || fail "1000 new flows with b2 drained: b1 $n1 b2 $n2 b3 $n3 failed $nf"
cub_log "b2 drained: its connections go on, 1000 new flows all on b3"

# kill -9 of the worker, then of the broker: the connections go on, the
# session table is what it was.
sess=$(cub lb0 show sessions)
wpid=$(worker_pid lbrp)
kill -9 "$wpid"
for _ in $(seq 1 100); do
	p=$(worker_pid lbrp)
	[ -n "$p" ] && [ "$p" != "$wpid" ] && break
	sleep 0.1
done
broker_wait_ready
[ "$(hold_check)" = "$held2" ] || fail "held connections after the worker's kill -9"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
[ "$(hold_check)" = "$held2" ] || fail "held connections with the broker dead"
broker_start
[ "$(hold_check)" = "$held2" ] || fail "held connections after the broker's restart"
s2=$(cub lb0 show sessions)
[ "$s2" = "$sess" ] || fail "sessions $sess before the kills, $s2 after"
ip netns exec cl python3 "$CUB_LIB/lb_client.py" flows 3000 20000 >"$T/f4"
cmp -s "$T/f2" "$T/f4" || fail "flows changed backends across the kills: $(diff "$T/f2" "$T/f4" | head -5)"
cub_log "kill -9 of worker and broker: connections and $s2 sessions kept"
echo close >&"${HOLD[1]}"
wait "$HOLD_PID" || true

# Echo requests to a VIP: answered by the cube.
ip netns exec cl ping -c 2 -i 0.2 -W 2 $VIP >/dev/null || fail "no echo reply from the VIP"
[ "$(port_counter lb0 fe icmp_echo)" -ge 2 ] || fail "fe icmp_echo: $(port_counter lb0 fe icmp_echo)"

# An ICMP service: echo requests go to its backend (b3), whose replies
# come back from the VIP; the cube answers none of them.
cub_ok lb0 services add $VIP 0 ICMP name=ping
cub_ok lb0 services $VIP 0 ICMP backend add 198.18.13.1
echos() { # echos NS: echo requests NS has received
	ip netns exec "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i; h = 1 } else print $c }' /proc/net/snmp
}
e0=$(port_counter lb0 fe icmp_echo) b0=$(echos b3)
ip netns exec cl ping -c 3 -i 0.2 -W 2 $VIP >/dev/null || fail "no echo reply from the VIP's ICMP backend"
e1=$(port_counter lb0 fe icmp_echo) b1=$(echos b3)
[ "$e1" = "$e0" ] && [ $((b1 - b0)) = 3 ] ||
	fail "3 pings to an ICMP service: the cube answered $((e1 - e0)), b3 got $((b1 - b0))"
cub_ok lb0 services del $VIP 0 ICMP

# Bad input: refused, named, nothing changed.
snapshot() { cub lb0 show -o json | grep -v '_packets\|_bytes\|drops\|icmp_echo\|sessions'; }
before=$(snapshot)
refused_unchanged -i "not found|no such|service" lb0 services 198.19.0.9 80 TCP backend add 198.18.11.1 port=80
refused_unchanged -i "weight|range|100" lb0 services $VIP 80 TCP backend add 198.18.11.1 weight=101
refused_unchanged -i "weight|range|100" lb0 services $VIP 80 TCP backend 198.18.13.1 set weight=1000
refused_unchanged -i "proto|SCTP|ICMP, TCP" lb0 services add 198.19.0.2 80 SCTP
refused_unchanged -i "FRONTEND|SINGLE" lb0 ports add fe2 type=FRONTEND
refused_unchanged -i "type" lb0 ports add p3
refused_unchanged -i "vport 0" lb0 services add 198.19.0.3 7 ICMP
cub_ok lb0 ports fe set ip=198.18.1.100
before=$(snapshot)
refused_unchanged -i "port's address" lb0 services add 198.18.1.100 80 TCP
refused_unchanged -i "port's address" lb0 ports be set ip=$VIP

cub_ok lb0 del
