#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 11: slowloris against cubicle-gateway.  nng 1.5.2's HTTP server
# has no header-read timeout and no cap on connections, and the gateway
# sets neither (nor an RLIMIT_NOFILE of its own): a client that opens
# connections and sends half a request line on each holds a descriptor
# per connection forever.  With the descriptor limit a service commonly
# gets (systemd's soft LimitNOFILE=1024, modelled with prlimit), one
# unauthenticated local client takes every descriptor and /metrics stops
# answering for everyone; what happens to the gateway's CPU is printed.
# Wanted: idle/slow connections closed after a timeout, or a cap on them
# below the descriptor limit, /metrics still served.
. "$(dirname "$0")/../lib/netns.sh"

need setpriv curl python3 prlimit
GW="$CUB_BUILD/gateway/cubicle-gateway"
URL=http://127.0.0.1:9000/metrics
CUB_BROKER_ARGS="--socket-group 65534 --gateway-group 65534"
chmod 0711 "$T"
broker_start
prlimit --nofile=1024:1024 -- "$GW" --user nobody --socket-dir "$T/s" >>"$T/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 300); do
	curl -sf -o /dev/null "$URL" && break
	kill -0 "$GW_PID" 2>/dev/null || { cat "$T/gw.log" >&2; fail "the gateway exited"; }
	sleep 0.1
done
curl -sf -o /dev/null "$URL" || fail "no /metrics"
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
for _ in $(seq 1 300); do [ -s "$T/loris.ready" ] && break; sleep 0.1; done
cub_log "slow client holds $(cat "$T/loris.ready") connections"
sleep 10 # well past any sane header timeout
t0=$(awk '{print $14+$15}' "/proc/$GW_PID/stat")
sleep 2
t1=$(awk '{print $14+$15}' "/proc/$GW_PID/stat")
cub_log "gateway CPU over 2 s with the slow client: $((t1 - t0)) ticks; fds $(ls /proc/$GW_PID/fd | wc -l)"
rc=0
curl -sS -m 5 -o /dev/null "$URL" 2>"$T/curl.err" || rc=$?
kill "$LORIS" 2>/dev/null
wait "$LORIS" 2>/dev/null || true
[ "$rc" = 0 ] || fail "/metrics does not answer while one slow client holds connections (curl $rc: $(cat "$T/curl.err"))"
kill "$GW_PID"
