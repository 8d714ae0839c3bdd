#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 9, cubicle-gateway's /metrics (docs "cubicle-gateway"): the
# gateway runs as an unprivileged uid of cubicled's --gateway-group (no
# capabilities, no_new_privs, seccomp), serves every famcube cube's
# metric families with cube="NAME" plus cubicle_* and process_*, as
# OpenMetrics (passes prometheus_client's parser) or Prometheus text
# (passes promtool check metrics) by the Accept header; a cube that fails
# is skipped and counted; two concurrent scrapers see monotonic counters;
# other paths 404, other methods 405; as root without --user it refuses;
# with no broker a scrape ends at --scrape-timeout, requests that wait
# share scrapes, and past --max-connections a new connection is closed.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need setpriv curl promtool prlimit
/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' ||
	fail "python3-prometheus-client is not installed"
URL=http://127.0.0.1:9000/metrics
OM='Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5'
PLUGINS+=("$CUB_BUILD/plugins/testing/famcube.so")
# nobody (65534, group nogroup 65534) is the gateway.
gateway_broker_args
broker_start
cub_ok famcube add fc1 >/dev/null
cub_ok famcube add fc2 >/dev/null
cub_ok famcube add bad1 fail=true >/dev/null
cub_ok simpleforwarder add sf1 >/dev/null

# 1. Refusals before anything is served.
rc=0
out=$("$GW" --socket-dir "$T/s" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "refusing to run as root: give --user NAME" <<<"$out" ||
	fail "as root without --user: exit $rc: $out"
for opt in "--user no-such-user-xyz" "--listen nowhere" "--timeout 5" \
	"--metrics-service ''" "--max-connections 0" "--max-connections 4097" \
	"--header-timeout 99" "--scrape-timeout x" "--scrape-gap -1" \
	"--family-hold 1e3"; do
	rc=0
	# shellcheck disable=SC2086
	out=$(eval "$GW" $opt --socket-dir "$T/s" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -q -- "${opt%% *}" <<<"$out" ||
		fail "cubicle-gateway $opt: exit $rc: $out"
done
# Descriptors for --max-connections beyond the hard limit: refused.
rc=0
out=$(prlimit --nofile=100:100 -- "$GW" --user nobody --socket-dir "$T/s" \
	--listen 127.0.0.1:9002 --max-connections 4096 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q -- "--max-connections 4096 needs [0-9]* descriptors; the hard RLIMIT_NOFILE is 100" <<<"$out" ||
	fail "--max-connections beyond RLIMIT_NOFILE: exit $rc: $out"
cub_log "root without --user, bad options, too few descriptors: refused"

# 2. The gateway, dropped to nobody.
gateway_start 9000 --metrics-service famcube
st=$(cat "/proc/$GW_PID/status")
grep -qE '^Uid:\s+65534\s+65534\s+65534\s+65534$' <<<"$st" || fail "uid: $(grep Uid <<<"$st")"
grep -qE '^Gid:\s+65534\s+65534\s+65534\s+65534$' <<<"$st" || fail "gid: $(grep Gid <<<"$st")"
grep -qE '^CapEff:\s+0+$' <<<"$st" || fail "$(grep CapEff <<<"$st")"
grep -qE '^CapPrm:\s+0+$' <<<"$st" || fail "$(grep CapPrm <<<"$st")"
grep -qE '^NoNewPrivs:\s+1$' <<<"$st" || fail "$(grep NoNewPrivs <<<"$st")"
grep -qE '^Seccomp:\s+2$' <<<"$st" || fail "$(grep Seccomp: <<<"$st")"
cub_log "gateway: uid 65534, no capabilities, no_new_privs, seccomp filter"

# 3. Both formats, both validators, the content.
curl -sS -D "$T/om.h" -H "$OM" -o "$T/om.txt" "$URL" || fail "curl (OpenMetrics)"
curl -sS -D "$T/p.h" -o "$T/p.txt" "$URL" || fail "curl (Prometheus)"
grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8' "$T/om.h" ||
	fail "OpenMetrics content type: $(cat "$T/om.h")"
grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$T/p.h" ||
	fail "Prometheus content type: $(cat "$T/p.h")"
out=$(promtool check metrics <"$T/p.txt" 2>&1) || fail "promtool check metrics: $out"
/usr/bin/python3 - "$T/om.txt" <<'PY' || fail "OpenMetrics content (above)"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
assert text.endswith("# EOF\n"), "no # EOF"
fams = {f.name: f for f in text_string_to_metric_families(text)}
def samples(name, **labels):
    return [s for s in fams[name].samples
            if all(s.labels.get(k) == v for k, v in labels.items())]
pk = fams["famcube_packets"]
assert pk.type == "counter", pk.type
assert pk.documentation == 'Packets "seen" by \\famcube\nper path.', repr(pk.documentation)
for cube in ("fc1", "fc2"):
    assert len(samples("famcube_packets", cube=cube, path="in")) == 1, cube
    odd = samples("famcube_packets", cube=cube, path='a"b\\c\nd')
    assert len(odd) == 1 and odd[0].name == "famcube_packets_total", odd
    assert len(samples("famcube_size_bytes", cube=cube)) == 5, cube
    assert fams["famcube_age_seconds"].unit == "seconds"
    assert samples("cubicle_cube_info", cube=cube, service="famcube")
# The failing cube is skipped, the others' metrics are there.
assert not any(s.labels.get("cube") == "bad1"
               for f in fams.values() if f.name.startswith("famcube")
               for s in f.samples), "bad1 has samples"
assert fams["cubicle_gateway_scrape_errors"].samples[0].value >= 1
assert samples("cubicle_build_info")[0].labels["version"], "no version"
assert samples("cubicle_service_up", service="famcube")[0].value == 1
assert samples("cubicle_cubes")[0].value == 4
assert fams["process_cpu_seconds"].samples[0].value >= 0
for p in ("process_resident_memory_bytes", "process_open_fds",
          "process_start_time_seconds"):
    assert fams[p].samples[0].value > 0, p
print("ok", len(fams), "families", file=sys.stderr)
PY
grep -q '^famcube_packets_total{path="a\\"b\\\\c\\nd",cube="fc1"} [0-9]*$' "$T/p.txt" ||
	fail "escaped label in Prometheus text: $(grep famcube_packets "$T/p.txt")"
grep -q "cube 'bad1' skipped: .*famcube 'bad1': metrics refused (fail=true)" "$T/gw-9000.log" ||
	fail "the skipped cube is not logged: $(cat -A "$T/gw-9000.log")"
cub_log "both formats pass both validators; bad1 skipped"

# 4. Each scrape counts bad1's error once more.
errs() {
	curl -sS "$URL" | awk '/^cubicle_gateway_scrape_errors_total /{print $2}'
}
e1=$(errs)
e2=$(errs)
[ "$e2" = $((e1 + 1)) ] || fail "scrape errors: $e1 then $e2, not +1"
cub_log "scrape errors counted: $e1, $e2"

# 5. Two scrapers at once: every answer a valid exposition, each
# scraper's counters strictly increasing.
scraper() {
	local i
	for i in $(seq 1 25); do
		curl -sS -H "$OM" "$URL" >"$T/sc$1.$i" || echo "curl failed" >"$T/sc$1.err"
	done
}
scraper 1 &
s1=$!
scraper 2 &
s2=$!
wait "$s1" "$s2"
[ ! -e "$T/sc1.err" ] && [ ! -e "$T/sc2.err" ] || fail "a concurrent scrape failed"
/usr/bin/python3 - "$T" <<'PY' || fail "concurrent scrapes (above)"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for sc in (1, 2):
    last = {}
    for i in range(1, 26):
        text = open(f"{sys.argv[1]}/sc{sc}.{i}").read()
        for f in text_string_to_metric_families(text):
            if f.name not in ("famcube_packets", "cubicle_gateway_scrapes"):
                continue
            for s in f.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                assert key not in last or s.value > last[key], \
                    f"scraper {sc}, scrape {i}: {key} {last.get(key)} -> {s.value}"
                last[key] = s.value
    assert len(last) == 5, last
PY
cub_log "two concurrent scrapers x 25: valid, monotonic"

# 6. Other paths and methods.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code http://127.0.0.1:9000/)" = 404 ] || fail "GET / is not 404"
[ "$(code http://127.0.0.1:9000/metricsx)" = 404 ] || fail "GET /metricsx is not 404"
[ "$(code -X POST "$URL")" = 405 ] || fail "POST /metrics is not 405"
[ "$(code -X DELETE "$URL")" = 405 ] || fail "DELETE /metrics is not 405"
[ "$(code "$URL?x=1")" = 200 ] || fail "GET /metrics?x=1 is not 200"
[ "$(code -I "$URL")" = 200 ] || fail "HEAD /metrics is not 200"
cub_log "404 and 405"

# 6b. The HTTP server's own rules, on raw sockets: keep-alive, pipelining,
# HTTP/1.0, refusals that close; an idle kept-alive connection closed at
# --header-timeout (5 s) without counting as a timeout.
t0=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="timeout"}')
/usr/bin/python3 <<'PY' || fail "HTTP rules (above)"
import socket, time
def conn():
    return socket.create_connection(("127.0.0.1", 9000), timeout=60)
def response(s, buf=b""):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        assert d, f"closed before a response: {buf!r}"
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {k.lower(): v.strip() for k, v in
            (l.split(":", 1) for l in lines[1:])}
    n = int(hdrs["content-length"])
    while len(rest) < n:
        d = s.recv(65536)
        assert d, "closed in a body"
        rest += d
    return lines[0], hdrs, rest[:n], rest[n:]
def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
s = conn()
for i in range(2):
    s.sendall(get)
    st, h, body, left = response(s)
    assert st == "HTTP/1.1 200 OK" and "connection" not in h, (st, h)
    assert b"cubicle_gateway_scrapes_total" in body and not left
s.sendall(get + get)  # pipelined
st, h, b1, left = response(s)
st2, h2, b2, left = response(s, left)
assert st == st2 == "HTTP/1.1 200 OK" and not left
t = time.monotonic()
assert closed(s), "an idle kept-alive connection stays open"
print(f"idle connection closed after {time.monotonic() - t:.1f} s")
s = conn()
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
st, h, body, _ = response(s)
assert st == "HTTP/1.1 200 OK" and h["connection"] == "close", (st, h)
assert closed(s)
for req, want in ((b"GET /metrics HTTP/1.1\r\n\r\n", "400"),
                  (b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", "505"),
                  (b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", "400"),
                  # 8192 bytes, no end: all read (no reset at the close)
                  (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (8192 - 26), "431")):
    s = conn()
    s.sendall(req)
    st, h, body, _ = response(s)
    assert st.split()[1] == want and h["connection"] == "close", (req[:40], st, h, body)
    assert closed(s), req[:40]
PY
t1=$(gw_sample 9000 'cubicle_gateway_connections_dropped_total{reason="timeout"}')
[ "$t1" = "$t0" ] || fail "an idle kept-alive connection counted as a timeout ($t0 -> $t1)"
cub_log "keep-alive, pipelining, HTTP/1.0, 400/431/505 with close; idle closed, not counted"

# 7. A scrape changes nothing: the broker's documents are the same.
before=$(cub show cubes -o json; cub fc1 show -o json | grep -v '"value"\|"sum"\|"count"')
curl -sS -o /dev/null "$URL"
after=$(cub show cubes -o json; cub fc1 show -o json | grep -v '"value"\|"sum"\|"count"')
[ "$before" = "$after" ] || fail "a scrape changed the cubes"
cub_log "a scrape changes nothing"

# 8. cubicled restarts: the gateway (seccomp-confined) re-dials it, and
# serves the replayed cubes again; meanwhile it answers, with errors.
# A second gateway shows, with no broker (each broker call then waits its
# whole timeout): a scrape ends at --scrape-timeout (5000 + 2500 ms here,
# not twice --timeout); 8 requests at once share at most 3 scrapes; with
# its 8 connections (--max-connections 8) all waiting for a scrape, the
# next 8 get a 503, a 17th (those 8 still sending) is closed at once,
# each counted, and the first 8 are answered.
GW1_PID=$GW_PID
gateway_start 9001 --metrics-service famcube --timeout 5000 \
	--scrape-timeout 7500 --max-connections 8
GW2_PID=$GW_PID
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
[ "$(code "$URL")" = 200 ] || fail "/metrics without a broker is not 200"
s0=$(gw_sample 9001 cubicle_gateway_scrapes_total)
/usr/bin/python3 - <<'PY' || fail "17 connections, 8 allowed (above)"
import socket, sys, time
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
socks = []
for i in range(8):
    s = socket.create_connection(("127.0.0.1", 9001), timeout=120)
    s.sendall(req)
    socks.append(s)
def answer(s):
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return data
        data += d
time.sleep(2)  # the 8 parsed and waiting for a scrape (7.5 s)
busy = [socket.create_connection(("127.0.0.1", 9001), timeout=120)
        for i in range(8)]
time.sleep(1)  # the 8 accepted
last = socket.create_connection(("127.0.0.1", 9001), timeout=120)
try:
    last.sendall(req)
    got = last.recv(100)
except (ConnectionResetError, BrokenPipeError):
    got = b""
assert got == b"", f"the 17th connection was answered: {got!r}"
for i, s in enumerate(busy):
    s.sendall(req)
    data = answer(s)
    assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), (i, data)
for i, s in enumerate(socks):
    data = answer(s)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), (i, data[:200])
    assert b"cubicle_gateway_scrapes_total" in data, i
print("8 answered, 8 got a 503, the 17th closed", file=sys.stderr)
PY
# One scrape (each waits its whole timeout with no broker) for the four.
curl -sS "http://127.0.0.1:9001/metrics" >"$T/page-9001"
s1=$(gw_pick cubicle_gateway_scrapes_total <"$T/page-9001")
# s1's own scrape is one.
[ $((s1 - s0 - 1)) -le 3 ] || fail "8 requests made $((s1 - s0 - 1)) scrapes"
refused=$(gw_pick 'cubicle_gateway_connections_dropped_total{reason="refused"}' <"$T/page-9001")
[ "$refused" -ge 1 ] || fail "the refused connection is not counted"
busy=$(gw_pick cubicle_gateway_busy_total <"$T/page-9001")
[ "$busy" = 8 ] || fail "cubicle_gateway_busy_total $busy, not 8"
cuts=$(gw_pick cubicle_gateway_scrape_timeouts_total <"$T/page-9001")
[ "$cuts" -ge 1 ] || fail "no scrape cut by --scrape-timeout"
grep -q "scrape: --scrape-timeout 7500 ms passed" "$T/gw-9001.log" ||
	fail "the scrape deadline is not logged: $(cat "$T/gw-9001.log")"
cub_log "no broker: 8 requests, $((s1 - s0 - 1)) scrapes, $cuts cut at --scrape-timeout; 8 more got 503, the 17th closed"
broker_start
ok=
for _ in $(seq 1 300); do
	if curl -sS "$URL" | grep -q '^famcube_packets_total{path="in",cube="fc1"} '; then
		ok=1
		break
	fi
	sleep 0.1
done
[ -n "$ok" ] || fail "no fc1 metrics 30 s after cubicled restarted"
kill "$GW2_PID"
wait "$GW2_PID" || fail "the second gateway exited $? on SIGTERM"
GW_PID=$GW1_PID
kill -0 "$GW_PID" || fail "the gateway died"
cub_log "cubicled restarted: re-dialled, fc1 served again"
kill "$GW_PID"
wait "$GW_PID" || fail "the gateway exited $? on SIGTERM"
grep -q "signal 15: stopping" "$T/gw-9000.log" || fail "no clean stop: $(cat "$T/gw-9000.log")"
# Sanitizer builds: a report from either gateway fails.
gw_sanitizer_check "$T/gw-9000.log" "$T/gw-9001.log"
