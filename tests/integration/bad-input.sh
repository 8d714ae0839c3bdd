#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Bad input gets a clear error naming what was wrong, exit code 2, and
# changes nothing: the configuration and the kernel state stay the same.
. "$(dirname "$0")/../lib/netns.sh"

netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
ip link add vethx type veth peer name vethy
broker_start
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha action=forward outport=p1
cub_ok sf1 ports add p2 peer=vethb

snapshot() {
	cub show cubes -o json
	cub sf1 show -o json | grep -vE '_packets|_bytes|drops|slowpath'
	tc filter show dev vetha ingress
	tc filter show dev vethb ingress
	tc qdisc show dev vethx
	ls -R "$T/pins"
}
before=$(snapshot)

# expect MESSAGE-REGEX ARGS...: refused with exit 2 and a message matching.
expect() { refused_unchanged -i "$@"; }

expect "no cube or service named 'nosuch'" nosuch show
expect "unknown-command|not a command|'frobnicate'" sf1 frobnicate
expect "'bogus'" sf1 ports p1 bogus
expect "no entry 'p9'|'p9'" sf1 ports p9 set action=drop
expect "action.*'dorp'.*forward" sf1 ports p1 set action=dorp
expect "'color'" sf1 ports p1 set color=red
expect "missing|name" sf1 ports add
expect "netdev 'nosuchdev' does not exist" sf1 ports add p3 peer=nosuchdev
expect "netdev 'nosuchdev' does not exist" sf1 ports p2 set peer=nosuchdev
expect "already the peer|vetha" sf1 ports add p3 peer=vetha
expect "exists" simpleforwarder add sf1
expect "exists" sf1 ports add p1
expect "type.*'FOO'|'FOO'" simpleforwarder add sf2 type=FOO
expect "read-only|created" sf1 set type=XDP_DRV
expect "read-only" sf1 ports p1 set rx_packets=5
expect "outport 'p7' is not a port" sf1 ports p2 set action=forward outport=p7
expect "outport" sf1 ports p2 set action=forward outport=
expect "cube name" simpleforwarder add 'bad/name'
expect "40 characters" sf1 ports p1 set outport=$(printf 'x%.0s' $(seq 1 40))

# Usage errors: exit 1, no request sent.
err=$(cub_refused 1 sf1 show -o xml)
grep -q "'xml'" <<<"$err" || fail "bad -o not named: $err"
err=$(cub_refused 1 --no-such-option)
grep -q "no-such-option" <<<"$err" || fail "bad option not named: $err"
# Bad broker options: refused before anything starts (5000000000 used to
# wrap into a valid-looking uid).
for opt in "--uid-base 5000000000" "--uid-base -1" "--call-timeout 10ms" \
	"--spectre-hardening maybe"; do
	rc=0
	err=$("$CUB_BUILD/broker/cubicled" $opt --socket-dir "$T/nb" 2>&1) || rc=$?
	[ "$rc" = 1 ] && grep -q -- "${opt%% *}" <<<"$err" ||
		fail "cubicled $opt: exit $rc: $err"
done
[ ! -e "$T/nb" ] || fail "a refused option still created the socket dir"

# Unreachable broker: exit 3.
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/nowhere" show cubes </dev/null 2>/dev/null && fail "reached nothing"
rc=0; "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/nowhere" show cubes </dev/null 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "unreachable broker: exit $rc, expected 3"

# A JSON body with a bad field is refused as a whole.
printf '{"ports":[{"name":"q1","peer":"vethx"},{"name":"q2","peer":"nosuchdev"}]}' >"$T/bad.json"
err=$(cub_refused 2 simpleforwarder add sf9 --file "$T/bad.json")
grep -q nosuchdev <<<"$err" || fail "bad body: $err"
[ "$(snapshot)" = "$before" ] || fail "a refused body changed state"
printf '{"ports": [' >"$T/broken.json"
err=$(cub_refused 1 simpleforwarder add sf9 --file "$T/broken.json")
grep -qi "line 1" <<<"$err" || fail "broken JSON error lacks position: $err"

# A body over the message cap: a clear error, nothing sent.
python3 -c 'import sys; sys.stdout.write("{\"x\": \"" + "a" * (5 << 20) + "\"}")' >"$T/big.json"
err=$(cub_refused 1 simpleforwarder add sf9 --file "$T/big.json")
grep -q "message cap" <<<"$err" || fail "oversize body: $err"

# Hostile frames straight at the socket: error replies, broker alive.
python3 - "$T/s/cubicled.sock" <<'PY' || fail "raw-frame checks failed"
import socket, struct, sys
def call(payload):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    # nng IPC: 8-byte SP header (0x00 'S' 'P' 0x00, proto REQ=0x30 v0, rsvd)
    s.sendall(b"\x00SP\x00\x00\x30\x00\x00")
    hdr = s.recv(8)
    assert hdr[:4] == b"\x00SP\x00", hdr
    # nng REQ: 4-byte request id with the high bit set, then the body.
    body = b"\x80\x00\x00\x01" + payload
    s.sendall(b"\x01" + struct.pack(">Q", len(body)) + body)
    t = s.recv(9)
    n = struct.unpack(">Q", t[1:9])[0]
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    s.close()
    return data[4:]
for bad in [bytes.fromhex("ddff000000"), b"\x94\x00\x01", b"\xc1",
            bytes.fromhex("940001a77265717565737481a5776f726473dc0001c0")]:
    r = call(bad)
    assert r[:2] == b"\x94\x01", r  # [1, msgid, error, result]
    assert b"message" in r, r
# A change without a request id is refused (a resend could apply twice).
def s_(x): return bytes([0xa0 | len(x)]) + x
req = (b"\x94\x00\x02\xa7request\x82" + s_(b"words") + b"\x94" + s_(b"sf1") +
       s_(b"ports") + s_(b"p1") + s_(b"set") + s_(b"args") + b"\x81" + s_(b"action") + s_(b"drop"))
r = call(req)
assert r[:2] == b"\x94\x01" and b"request id" in r, r
# Over the 4 MiB cap (but under nng's limit): a clear too-big error.
big = b"\x94\x00\x01\xa7request\x81\xa5words\xc6" + struct.pack(">I", 5 << 20) + b"a" * (5 << 20)
r = call(big)
assert r[:2] == b"\x94\x01" and b"too-big" in r, r[:200]
print("ok")
PY
kill -0 "$BROKER_PID" || fail "broker died on hostile input"
[ "$(snapshot)" = "$before" ] || fail "hostile frames changed state"
