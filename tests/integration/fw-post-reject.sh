#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's REJECT in the data plane (plugins/fwcore/bpf/fw_reject.bpf.h)
# with real traffic, in the hook mode $1 (TC or XDP_DRV): namespaces ca
# (198.18.0.1, port p1) and cb (198.18.0.2, p2) through an iptcube whose
# FORWARD chain rejects UDP and TCP ports with every --reject-with kind;
# cb listens on every one of those ports, so an answer can only come from
# the cube.  Each client's socket error (UDP with IP_RECVERR, TCP
# connect) must be the one Linux's errno mapping gives for the kind, and
# the same ruleset in Linux iptables (INPUT of lb, in a twin pair la/lb
# on 198.18.1.0/24) must give the same errors.  A sniffer in ca checks
# the answers' IP, ICMP and TCP checksums, the ICMP quote (a prefix of
# the datagram, its IP header and 8 bytes at least: the cube quotes
# those, Linux more) and the RST's seq/ack.  An unrejected
# port answers normally (the cube forwards).
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/iptcube.so")
need python3 iptables-legacy-restore
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
if [ "$HOOK" != TC ]; then
	for ns in ca cb; do
		ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null ||
			fail "ethtool -K eth0 tx off failed in $ns"
	done
fi
# The twin: la and lb on one veth, lb's INPUT holds the rules.
ip netns add la
ip netns add lb
NAMESPACES+=(la lb)
ip link add eth0 netns la type veth peer name eth0 netns lb
ip -n la addr add 198.18.1.1/24 dev eth0
ip -n lb addr add 198.18.1.2/24 dev eth0
ip -n la link set eth0 up
ip -n lb link set eth0 up
ip -n la link set lo up
ip -n lb link set lo up
for ns in la lb; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec lb sysctl -qw net.ipv4.icmp_ratelimit=0
broker_start

RULES='*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p udp --dport 7000 -j REJECT
-A FORWARD -p udp --dport 7001 -j REJECT --reject-with icmp-net-unreachable
-A FORWARD -p udp --dport 7002 -j REJECT --reject-with icmp-host-unreachable
-A FORWARD -p udp --dport 7003 -j REJECT --reject-with icmp-proto-unreachable
-A FORWARD -p udp --dport 7004 -j REJECT --reject-with icmp-net-prohibited
-A FORWARD -p udp --dport 7005 -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -p udp --dport 7006 -j REJECT --reject-with icmp-admin-prohibited
-A FORWARD -p udp --dport 7007 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -p tcp --dport 7020 -j REJECT --reject-with tcp-reset
-A FORWARD -p tcp --dport 7021 -j REJECT
-A FORWARD -p tcp --dport 7022 -j REJECT --reject-with icmp-host-prohibited
COMMIT
'
python3 -c 'import json, sys; json.dump({"ruleset": sys.argv[1]}, open(sys.argv[2], "w"))' \
	"$RULES" "$T/rules.json"
sed 's/-A FORWARD/-A INPUT/' <<<"$RULES" | ip netns exec lb iptables-legacy-restore ||
	fail "iptables-legacy-restore in lb failed"

cub_ok iptcube add c1 type="$HOOK"
cub_ok c1 ports add p1 peer=vetha
cub_ok c1 ports add p2 peer=vethb
cub_ok c1 set --file "$T/rules.json"
for p in p1 p2; do
	for _ in $(seq 1 100); do
		[ "$(cub c1 ports $p show status)" = UP ] && break
		sleep 0.1
	done
	[ "$(cub c1 ports $p show status)" = UP ] || fail "port $p not UP"
done

# Servers on every port in cb and lb: without the REJECT, clients succeed.
SERVERS='
import socket, sys, threading, os
addr = sys.argv[1]
def udp(p):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, p))
    while True:
        d, a = u.recvfrom(2000); u.sendto(d, a)
def tcp(p):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, p)); l.listen(16)
    while True:
        c, _ = l.accept(); c.close()
for p in list(range(7000, 7008)) + [7099]:
    threading.Thread(target=udp, args=(p,), daemon=True).start()
for p in (7020, 7021, 7022, 7098):
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
open(sys.argv[2], "w").close()
threading.Event().wait()
'
ip netns exec cb python3 -c "$SERVERS" 198.18.0.2 "$T/cb.ready" &
ip netns exec lb python3 -c "$SERVERS" 198.18.1.2 "$T/lb.ready" &
for _ in $(seq 1 100); do
	[ -e "$T/cb.ready" ] && [ -e "$T/lb.ready" ] && break
	sleep 0.1
done

# client NS DST PROTO PORT: what the socket says (OK, TIMEOUT, errno name);
# with the sniffer, checks every answer that came back from DST and prints
# "bad: ..." for one that is wrong.
CLIENT='
import errno, socket, struct, sys, time
dst, proto, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
# Linux leaves its own L4 checksums to the (veth) offload: not checked.
l4sum = len(sys.argv) < 5
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s
sn = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sn.bind(("eth0", 0)); sn.settimeout(0.05)
res = "OK"
try:
    if proto == "udp":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR
        u.setsockopt(socket.IPPROTO_IP, 11, 1)
        u.settimeout(3); u.connect((dst, port)); u.send(b"0123456789abcdefghij")
        u.recv(100)
    else:
        socket.create_connection((dst, port), timeout=3).close()
except socket.timeout:
    res = "TIMEOUT"
except OSError as e:
    res = errno.errorcode.get(e.errno, str(e.errno))
sent, bad = {}, []
end = time.time() + 0.5
while time.time() < end:
    try:
        f, a = sn.recvfrom(2000)
    except socket.timeout:
        continue
    if f[12:14] != b"\x08\x00":
        continue
    ip = f[14:]
    ihl = (ip[0] & 15) * 4
    src, d = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    if a[2] == socket.PACKET_OUTGOING:
        if ip[9] == 6 and d == dst:
            sent["syn"] = struct.unpack("!I", ip[ihl + 4:ihl + 8])[0]
        if d == dst:
            sent["ip"] = ip[:struct.unpack("!H", ip[2:4])[0]]
            sent["min"] = ihl + 8
        continue
    if src != dst or not ((ip[9] == 1 and ip[ihl] == 3) or
                          (ip[9] == 6 and ip[ihl + 13] & 4)):
        continue  # only answers: ICMP unreachables, RSTs
    if csum(ip[:ihl]) != 0xffff:
        bad.append("IP checksum")
    tot = struct.unpack("!H", ip[2:4])[0]
    l4 = ip[ihl:tot]
    if ip[9] == 1:
        if l4sum and csum(l4) != 0xffff:
            bad.append("ICMP checksum")
        q = l4[8:]
        if l4[0] == 3 and (len(q) < sent.get("min", 1 << 20) or
                           not sent.get("ip", b"").startswith(q)):
            bad.append("quote %s, sent %s" % (q.hex(), sent.get("ip", b"").hex()))
        if l4[0] == 3 and ip[1] & 0xe0 != 0xc0:
            bad.append("ICMP TOS %#x" % ip[1])
    elif ip[9] == 6:
        ph = ip[12:20] + struct.pack("!BBH", 0, 6, len(l4))
        if l4sum and csum(ph + l4) != 0xffff:
            bad.append("TCP checksum")
        seq, ack = struct.unpack("!II", l4[4:12])
        if l4[13] & 4 and (seq != 0 or ack != (sent.get("syn", -2) + 1) & 0xffffffff
                           or l4[13] != 0x14):
            bad.append("RST seq %u ack %u flags %#x, SYN seq %s" %
                       (seq, ack, l4[13], sent.get("syn")))
print(res + "".join(" bad: " + b for b in bad))
'
client() { ip netns exec "$1" python3 -c "$CLIENT" "${@:2}"; }

declare -A WANT=([udp:7000]=ECONNREFUSED [udp:7001]=ENETUNREACH
	[udp:7002]=EHOSTUNREACH [udp:7003]=ENOPROTOOPT [udp:7004]=ENETUNREACH
	[udp:7005]=EHOSTUNREACH [udp:7006]=EHOSTUNREACH [udp:7007]=ECONNREFUSED
	[tcp:7020]=ECONNREFUSED [tcp:7021]=ECONNREFUSED [tcp:7022]=EHOSTUNREACH
	[udp:7099]=OK [tcp:7098]=OK)
for k in udp:7000 udp:7001 udp:7002 udp:7003 udp:7004 udp:7005 udp:7006 \
	udp:7007 tcp:7020 tcp:7021 tcp:7022 udp:7099 tcp:7098; do
	proto=${k%%:*} port=${k#*:}
	got=$(client ca 198.18.0.2 "$proto" "$port") || fail "client $k failed"
	twin=$(client la 198.18.1.2 "$proto" "$port" linux) || fail "twin client $k failed"
	[ "$got" = "${WANT[$k]}" ] || fail "$k through the cube: '$got', expected ${WANT[$k]}"
	[ "$twin" = "${WANT[$k]}" ] || fail "$k through Linux iptables: '$twin', expected ${WANT[$k]}"
	cub_log "$k: cube $got, Linux $twin"
done
rej=$(port_counter c1 p1 rejected)
[ "$rej" -ge 11 ] || fail "p1 rejected $rej, expected at least 11"
# The counters of the rejecting rules moved (slot 1: the first rule).
cub c1 rules show -o json >"$T/rules.out"
python3 - "$T/rules.out" <<'PY' || fail "rule counters: $(cat "$T/rules.out")"
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc.get("rules", doc) if isinstance(doc, dict) else doc
fw = [r for r in rows if r["chain"] == "FORWARD" and r["num"]]
assert len(fw) == 11, fw
assert all(r["pkts"] >= 1 for r in fw), fw
assert fw[0]["rule"] == "-A FORWARD -p udp -m udp --dport 7000 -j REJECT --reject-with icmp-port-unreachable", fw[0]
PY
cub_log "iptcube ($HOOK): every REJECT kind answers as Linux does; rejected $rej"
