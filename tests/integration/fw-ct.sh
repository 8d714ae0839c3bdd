#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 10's conntrack (plugins/fwcore/bpf/fw_ct.bpf.h) with real traffic,
# in the hook mode $1 (TC or XDP_DRV): namespaces ca (198.18.0.1, port p1,
# trusted) and cb (198.18.0.2, port p2) through a ctcube, whose policy
# lets everything in from p1 and only ESTABLISHED or RELATED packets
# from p2.  TCP: a connect from ca works, one from cb is dropped (its SYN
# is NEW); the session table shows the connection ESTABLISHED, FIN_WAIT
# after ca's half close, TIME_WAIT after cb's close.  UDP likewise both
# ways; ICMP echo from ca only; a UDP datagram from ca to a closed port
# of cb brings back a port unreachable, RELATED, counted, and ca's socket
# sees ECONNREFUSED.  A bare ACK with no connection is INVALID: dropped
# from cb, passed from ca without opening an entry.  Each check fails if
# tracking is broken (every packet ESTABLISHED: cb's connect, ping and
# datagrams get through; nothing tracked: ca's replies are dropped).
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
PLUGINS+=("$CUB_BUILD/plugins/testing/ctcube.so")
need python3
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
if [ "$HOOK" != TC ]; then
	# An XDP redirect between veths carries a TCP segment's partial
	# checksum as it is, and the receiver drops it: checksums in full.
	for ns in ca cb; do
		ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null ||
			fail "ethtool -K eth0 tx off failed in $ns"
	done
fi
# Every port unreachable is sent (no rate limit).
ip netns exec cb sysctl -qw net.ipv4.icmp_ratelimit=0
broker_start

cub_ok ctcube add c1 type="$HOOK"
cub_ok c1 ports add p1 peer=vetha
cub_ok c1 ports add p2 peer=vethb
for p in p1 p2; do
	for _ in $(seq 1 100); do
		[ "$(cub c1 ports $p show status)" = UP ] && break
		sleep 0.1
	done
	[ "$(cub c1 ports $p show status)" = UP ] || fail "port $p not UP"
done
err=$(cub_refused 2 c1 ports add p3)
grep -qF "ports are p1 (trusted) and p2" <<<"$err" ||
	fail "port p3: message '$err' does not name the ports"

cnt() { port_counter c1 "$1" "$2"; }

# cnt_is PORT FIELD WANT: wait (10 s) until the counter is WANT (a veth
# delivers on a softirq, after the sender's call returned).
cnt_is() {
	local i v
	for i in $(seq 1 100); do
		v=$(cnt "$1" "$2")
		[ "$v" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$1 $2 is $v, expected $3"
}

# The session table as lines "proto src:sport dst:dport STATE ETA".
sessions() {
	cub c1 session-table show -o json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
rows = doc.get("session-table", doc) if isinstance(doc, dict) else doc
for r in rows or []:
    print(r["l4proto"], "%s:%s" % (r["src"], r["sport"]),
          "%s:%s" % (r["dst"], r["dport"]), r["state"], r["eta"])
'
}

# session_is PROTO SRC:SPORT DST:DPORT STATE: wait (10 s) until the table
# has that row; prints its eta.
session_is() {
	local i
	for i in $(seq 1 100); do
		sessions >"$T/sess" || fail "session-table show failed"
		if awk -v p="$1" -v s="$2" -v d="$3" -v st="$4" '
			$1 == p && $2 == s && $3 == d && $4 == st { print $5; f = 1 }
			END { exit !f }' "$T/sess"; then
			return 0
		fi
		sleep 0.1
	done
	fail "no session '$*' in the table: $(cat "$T/sess")"
}

py() { ip netns exec "$1" python3 -c "$2" "${@:3}"; }

# ---- ICMP echo: ca -> cb answers, cb -> ca is NEW from p2: dropped.
ip netns exec ca ping -c 3 -i 0.2 -W 5 198.18.0.2 >"$T/ping" ||
	fail "ping ca -> cb: $(tail -2 "$T/ping")"
sessions >"$T/sess" || fail "session-table show failed"
grep -qE '^icmp 198\.18\.0\.1:[0-9]+ 198\.18\.0\.2:[0-9]+ ESTABLISHED ([0-9]+)$' \
	"$T/sess" || fail "no ESTABLISHED icmp session: $(cat "$T/sess")"
eta=$(awk '$1 == "icmp" { print $5 }' "$T/sess")
[ "$eta" -ge 1 ] && [ "$eta" -le 30 ] || fail "icmp eta $eta not in 1..30"
new0=$(cnt p2 ct_new)
est0=$(cnt p2 ct_established)
# (a first request may go before p2 is wired: count what came back)
got=$(grep -oE '[0-9]+ received' "$T/ping" | cut -d' ' -f1)
[ "$est0" = "$got" ] ||
	fail "p2 labelled $est0 echo replies ESTABLISHED, ping got $got: $(cat "$T/ping")"
if ip netns exec cb ping -c 2 -i 0.2 -W 1 198.18.0.1 >"$T/ping"; then
	fail "ping cb -> ca went through: $(tail -2 "$T/ping")"
fi
cnt_is p2 ct_new $((new0 + 2)) # the 2 echo requests
cub_log "icmp: echo from p1 ESTABLISHED (eta $eta), from p2 NEW and dropped"

# ---- TCP from ca (p1): works, and the table follows the connection.
mkfifo "$T/srv.cmd" "$T/cli.cmd"
py cb '
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("198.18.0.2", 5001)); l.listen(4)
open(sys.argv[1] + "/srv.ready", "w").close()
c, _ = l.accept()
c.sendall(c.recv(100).upper())
while c.recv(100):
    pass
open(sys.argv[1] + "/srv.eof", "w").close()
open(sys.argv[1] + "/srv.cmd").readline()
c.close()
' "$T" &
srv=$!
for _ in $(seq 1 100); do [ -e "$T/srv.ready" ] && break; sleep 0.1; done
py ca '
import socket, sys
s = socket.create_connection(("198.18.0.2", 5001), timeout=10)
s.sendall(b"hello")
print(s.recv(100).decode(), s.getsockname()[1], flush=True)
open(sys.argv[1] + "/cli.cmd").readline()
s.shutdown(socket.SHUT_WR)
print(repr(s.recv(100)), flush=True)
' "$T" >"$T/cli.out" &
cli=$!
for _ in $(seq 1 100); do [ -s "$T/cli.out" ] && break; sleep 0.1; done
read -r reply sport <"$T/cli.out" || fail "tcp client: no reply"
[ "$reply" = HELLO ] || fail "tcp ca -> cb: reply '$reply'"
eta=$(session_is tcp "198.18.0.1:$sport" 198.18.0.2:5001 ESTABLISHED)
[ "$eta" -gt 431000 ] && [ "$eta" -le 432000 ] ||
	fail "ESTABLISHED eta $eta, expected about 432000"
echo shut >"$T/cli.cmd"
for _ in $(seq 1 100); do [ -e "$T/srv.eof" ] && break; sleep 0.1; done
[ -e "$T/srv.eof" ] || fail "the server never saw ca's FIN"
eta=$(session_is tcp "198.18.0.1:$sport" 198.18.0.2:5001 FIN_WAIT)
[ "$eta" -le 120 ] || fail "FIN_WAIT eta $eta > 120"
echo close >"$T/srv.cmd"
wait "$cli" || fail "tcp client failed"
eta=$(session_is tcp "198.18.0.1:$sport" 198.18.0.2:5001 TIME_WAIT)
[ "$eta" -le 120 ] || fail "TIME_WAIT eta $eta > 120"
wait "$srv" || fail "tcp server failed"
cub_log "tcp ca -> cb: ESTABLISHED, FIN_WAIT, TIME_WAIT (eta $eta)"

# A connect from ca to a closed port of cb is refused at once: cb's RST
# is ESTABLISHED (it answers the SYN), and it deletes the entry.
py ca '
import socket
try:
    socket.create_connection(("198.18.0.2", 5009), timeout=10)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit("connect to a closed port: not refused")
' || fail "tcp ca -> cb:5009 not refused"
sessions | grep -q ':5009 ' && fail "a refused connection left an entry: $(sessions)"

# ---- TCP from cb (p2): the SYN is NEW, dropped; the server never sees it.
py ca '
import socket, sys
l = socket.socket(); l.bind(("198.18.0.1", 5002)); l.listen(4)
open(sys.argv[1] + "/srvb.ready", "w").close()
c, a = l.accept()
open(sys.argv[1] + "/srvb.accepted", "w").close()
' "$T" &
srvb=$!
for _ in $(seq 1 100); do [ -e "$T/srvb.ready" ] && break; sleep 0.1; done
new0=$(cnt p2 ct_new)
drop0=$(cnt p2 dropped)
py cb '
import socket
try:
    socket.create_connection(("198.18.0.1", 5002), timeout=3)
except socket.timeout:
    raise SystemExit(0)
except OSError as e:
    raise SystemExit("connect from cb: %s, not a timeout" % e)
raise SystemExit("connect from cb went through")
' || fail "tcp cb -> ca was not dropped"
[ ! -e "$T/srvb.accepted" ] || fail "ca's server accepted cb's connection"
kill "$srvb" 2>/dev/null || true
new1=$(cnt p2 ct_new)
[ "$new1" -gt "$new0" ] && [ "$(cnt p2 dropped)" -ge $((drop0 + new1 - new0)) ] ||
	fail "p2: ct_new $new0 -> $new1, dropped $drop0 -> $(cnt p2 dropped)"
cub_log "tcp cb -> ca: $((new1 - new0)) SYNs NEW, dropped"

# ---- UDP: ca -> cb answered (ESTABLISHED), cb -> ca dropped (NEW).
py cb '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.18.0.2", 5003))
open(sys.argv[1] + "/udp.ready", "w").close()
d, a = u.recvfrom(100)
u.sendto(d.upper(), a)
' "$T" &
udps=$!
for _ in $(seq 1 100); do [ -e "$T/udp.ready" ] && break; sleep 0.1; done
usport=$(py ca '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
u.sendto(b"ping", ("198.18.0.2", 5003))
d, a = u.recvfrom(100)
assert d == b"PING", d
print(u.getsockname()[1])
') || fail "udp ca -> cb: no answer"
wait "$udps" || fail "udp server failed"
eta=$(session_is udp "198.18.0.1:$usport" 198.18.0.2:5003 ESTABLISHED)
[ "$eta" -gt 170 ] && [ "$eta" -le 180 ] || fail "udp ESTABLISHED eta $eta"
py ca '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("198.18.0.1", 5004))
open(sys.argv[1] + "/udpa.ready", "w").close()
u.recvfrom(100)
open(sys.argv[1] + "/udpa.got", "w").close()
' "$T" &
udpa=$!
for _ in $(seq 1 100); do [ -e "$T/udpa.ready" ] && break; sleep 0.1; done
new0=$(cnt p2 ct_new)
drop0=$(cnt p2 dropped)
py cb '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    u.sendto(b"x", ("198.18.0.1", 5004))
'
cnt_is p2 ct_new $((new0 + 3))
cnt_is p2 dropped $((drop0 + 3))
[ ! -e "$T/udpa.got" ] || fail "ca received cb's datagram"
kill "$udpa" 2>/dev/null || true
cub_log "udp: ca -> cb ESTABLISHED (eta $eta), cb -> ca NEW and dropped"

# ---- ICMP port unreachable for ca's datagram to a closed port: RELATED.
rel0=$(cnt p2 ct_related)
py ca '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
u.connect(("198.18.0.2", 5999))
u.send(b"anyone?")
try:
    u.recv(100)
except ConnectionRefusedError:
    raise SystemExit(0)
raise SystemExit("no ECONNREFUSED")
' || fail "udp to a closed port: the port unreachable did not arrive"
cnt_is p2 ct_related $((rel0 + 1))
cub_log "icmp port unreachable: RELATED, passed"

# ---- A bare ACK with no connection: INVALID.  From cb it is dropped;
# from ca it passes (p1 is trusted) but opens nothing.
# bare_ack NS SRC DST: one TCP ACK 40000 -> 5005, IP header included.
bare_ack() {
	py "$1" '
import socket, struct, sys
src, dst = sys.argv[1], sys.argv[2]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
sa, da = socket.inet_aton(src), socket.inet_aton(dst)
tcp = struct.pack("!HHIIBBHHH", 40000, 5005, 1000, 2000, 5 << 4, 0x10, 8192, 0, 0)
c = csum(sa + da + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, sa, da)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + tcp, (dst, 0))
' "$2" "$3"
}
inv0=$(cnt p2 ct_invalid)
drop0=$(cnt p2 dropped)
acc0=$(cnt p2 accepted)
bare_ack cb 198.18.0.2 198.18.0.1 || fail "could not send a bare ACK from cb"
cnt_is p2 ct_invalid $((inv0 + 1))
cnt_is p2 dropped $((drop0 + 1))
cnt_is p2 accepted "$acc0"
inv1=$(cnt p1 ct_invalid)
bare_ack ca 198.18.0.1 198.18.0.2 || fail "could not send a bare ACK from ca"
cnt_is p1 ct_invalid $((inv1 + 1))
# cb's kernel answers it with a RST: no entry, so INVALID, dropped.
sessions | grep -q ':5005 ' && fail "a bare ACK opened an entry: $(sessions)"
cub_log "bare ACK: INVALID; dropped from p2, no entry from p1"

n=$(cub c1 show sessions)
[ "$n" -ge 3 ] || fail "sessions $n, expected at least the icmp, tcp and udp ones"
if command -v bpftool >/dev/null; then
	id=$(bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2)
	nospec=$(bpftool prog dump xlated id "$id" | grep -c nospec || true)
	insns=$(bpftool prog dump xlated id "$id" | grep -cE '^ *[0-9]+:' || true)
	cub_log "ctcube ($HOOK): $insns instructions, $nospec nospec"
fi
cub_log "sessions: $n; p1 $(cub c1 ports p1 show -o json | tr -d ' \n')"
cub_log "p2 $(cub c1 ports p2 show -o json | tr -d ' \n')"
