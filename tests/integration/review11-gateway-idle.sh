#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 11: slowloris against cubicle-gateway.  nng 1.5.2's HTTP server
# has no header-read timeout and no cap on connections, and the gateway
# set neither (nor an RLIMIT_NOFILE of its own): a client that opened
# connections and sent half a request line on each held a descriptor per
# connection forever.  With the descriptor limit a service commonly gets
# (systemd's soft LimitNOFILE=1024, modelled with prlimit), one
# unauthenticated local client took every descriptor and /metrics stopped
# answering for everyone.
# Fixed (docs "cubicle-gateway", "Its own HTTP server"): the gateway's own
# HTTP server on nng's stream API; a request head must arrive whole within
# --header-timeout (from the connection's start, not from its last byte);
# at --max-connections (64) a new connection closes the longest idle one
# still reading a head; RLIMIT_NOFILE is set to what it needs.  Checked
# here: with 1100 half requests held, and then with a client re-opening
# half requests as fast as it can, every scrape is answered; a client
# dripping a valid head one byte at a time is cut at the deadline, and so
# is one that stops reading its answers; the descriptors stay within the
# connection cap, under the gateway's own limit, below 1024.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need setpriv curl python3 prlimit
URL=http://127.0.0.1:9000/metrics
gateway_broker_args
broker_start
GW_WRAP=(prlimit --nofile=1024:1024 --)
gateway_start 9000 --header-timeout 2000
maxfd=$(gw_sample 9000 process_max_fds)
[ "$maxfd" -ge 64 ] && [ "$maxfd" -lt 1024 ] ||
	fail "process_max_fds $maxfd: not the gateway's own limit"
fds() { ls "/proc/$GW_PID/fd" | wc -l; }
base=$(fds)
cub_log "gateway: RLIMIT_NOFILE $maxfd (of 1024), $base descriptors open"

# 1. 1100 half requests held: scrapes still answered, at once.
python3 - "$T/loris.ready" <<'PY' &
import socket, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
socks = []
for i in range(1100):
    try:
        s = socket.create_connection(("127.0.0.1", 9000), timeout=2)
        s.sendall(b"GET /metr")
        socks.append(s)
    except OSError:
        break
open(sys.argv[1], "w").write(str(len(socks)))
time.sleep(60)
PY
LORIS=$!
for _ in $(seq 1 600); do [ -s "$T/loris.ready" ] && break; sleep 0.1; done
[ -s "$T/loris.ready" ] || fail "the slow client did not get its connections"
cub_log "slow client opened $(cat "$T/loris.ready") connections; gateway fds $(fds)"
# The cap: 64 connections, 8 more for a 503, 16 closed not yet freed, 4
# more (an accept in flight, a scrape's /proc reads, a broker re-dial).
cap=$((base + 64 + 8 + 16 + 4))
n=$(fds)
[ "$n" -le "$cap" ] || fail "$n descriptors, over $cap"
for i in $(seq 1 10); do
	curl -sSf -m 60 -o /dev/null "$URL" 2>"$T/curl.err" ||
		fail "scrape $i: no /metrics while 1100 half requests are held ($(cat "$T/curl.err"))"
done
# Past the cap: the oldest idle one evicted (none is refused: the new
# ones are accepted only as the closed ones are freed).
evicted=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="evicted"}')
refused=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="refused"}')
[ "$((evicted + refused))" -ge 1000 ] ||
	fail "only $evicted connections evicted, $refused refused"
cub_log "10 scrapes answered; $evicted idle connections evicted, $refused refused"
# The held ones that are left end at --header-timeout.
for _ in $(seq 1 300); do
	[ "$(fds)" -le $((base + 2)) ] && break
	sleep 0.1
done
[ "$(fds)" -le $((base + 2)) ] || fail "$(fds) descriptors 30 s on, $base at start"
timeouts=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="timeout"}')
[ "$timeouts" -ge 1 ] || fail "no connection closed at --header-timeout"
kill "$LORIS" 2>/dev/null
wait "$LORIS" 2>/dev/null || true
cub_log "the rest closed at --header-timeout ($timeouts); fds $(fds)"

# 2. A client dripping a whole, valid request head, a byte every 0.25 s
# (15 s in all): closed at the 2 s deadline, never answered.
python3 <<'PY' || fail "the dripping client (above)"
import socket, time
req = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: aaaaaaaaaaaaa\r\n\r\n"
s = socket.create_connection(("127.0.0.1", 9000), timeout=30)
sent = 0
try:
    for b in req:
        s.sendall(bytes([b]))
        sent += 1
        time.sleep(0.25)
    got = s.recv(100)
except (BrokenPipeError, ConnectionResetError):
    got = b""
assert sent < len(req) or got == b"", f"answered after {sent} bytes: {got!r}"
print(f"closed after {sent} of {len(req)} bytes")
PY

# 3. A client re-opening half requests as fast as it can, keeping 2000
# open, while 10 scrapes are made: every one answered.
python3 - "$T/flood.stop" <<'PY' &
import os, socket, sys, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
socks, n = [], 0
while not os.path.exists(sys.argv[1]):
    try:
        s = socket.create_connection(("127.0.0.1", 9000), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        socks.append(s)
        n += 1
    except OSError:
        pass
    if len(socks) > 2000:
        socks.pop(0).close()
print(f"flood: {n} connections", file=sys.stderr)
PY
FLOOD=$!
sleep 2
# Under a churning flood the connections closed but not yet freed are
# as many as the machine's load makes them (CI saw 104 against the
# quiet cap of 99): what holds is the gateway's own limit, which its
# descriptors stay under while every scrape is answered.
cap=$maxfd
t0=$(awk '{print $14+$15}' "/proc/$GW_PID/stat")
for i in $(seq 1 10); do
	curl -sSf -m 60 -o /dev/null "$URL" 2>"$T/curl.err" ||
		fail "scrape $i: no /metrics during the flood ($(cat "$T/curl.err"))"
	n=$(fds)
	[ "$n" -le "$cap" ] || fail "$n descriptors, over $cap"
done
t1=$(awk '{print $14+$15}' "/proc/$GW_PID/stat")
touch "$T/flood.stop"
wait "$FLOOD" || true
cub_log "flood: 10 scrapes answered; gateway CPU $((t1 - t0)) ticks meanwhile, fds $(fds) (limit $maxfd)"
# 4. A client that stops reading: 30 pipelined requests (some 5 kB of
# answer each), nothing read.  The answers stall once the socket buffers
# are full (send buffers capped at 4 kB in this test's namespace: a
# loopback one grows to 4 MB), and the connection is closed when a send
# makes no progress in --header-timeout; others are answered meanwhile.
sysctl -qw net.ipv4.tcp_wmem="4096 4096 4096"
t0=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="timeout"}')
python3 - "$T/stall.stop" <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", 9000))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 30)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.1)
PY
STALL=$!
ok=
for _ in $(seq 1 600); do
	t=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="timeout"}')
	if [ "$t" -gt "$t0" ]; then
		ok=1
		break
	fi
	sleep 0.1
done
touch "$T/stall.stop"
wait "$STALL" || true
[ -n "$ok" ] || fail "a client not reading its answers was not closed in 60 s"
cub_log "a client not reading: closed at --header-timeout, others answered meanwhile"

kill -0 "$GW_PID" || fail "the gateway died"
kill "$GW_PID"
wait "$GW_PID" || fail "the gateway exited $? on SIGTERM"
gw_sanitizer_check "$T/gw-9000.log"
