#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Output and input hygiene (issue 6, points 12, 15, 16 and 17): names are
# printable UTF-8 and not built-in words, nothing a client or a worker
# supplies forges a log line or reaches the terminal raw, a worker cannot
# flood the broker's log, and the CLI checks its own arguments.
. "$(dirname "$0")/../lib/netns.sh"
need python3

PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so")
netns_host ca vetha 198.18.0.1
# Netdev names may hold ESC and C1 controls: the kernel allows them.  (A
# veth: this kernel has no dummy driver.)
ESCDEV=$'d\033x'
C1DEV=$'c\xc2\x9bx'
ip link add "$ESCDEV" type veth peer name escpeer
ip link add "$C1DEV" type veth peer name c1peer
broker_start

# raw_ctl: true if stdin holds a control character other than newline
# (C0 incl. tab and CR, DEL, or a UTF-8 C1 control).
raw_ctl() {
	LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]'
}

cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha
cub_ok evil add e1
state() { cub show cubes -o json; cub sf1 show -o json | grep -vE '_packets|_bytes|drops|slowpath'; }
before=$(state)

# 15. Names with control characters are refused with a clear error that
# names the field; the error itself reaches the terminal escaped.
for bad in $'p\n1' $'p\t1' $'p\0331' $'p\x7f1' $'p\xc2\x9b1' $'p\r1'; do
	err=$(cub_refused 2 sf1 ports add "$bad")
	grep -q "name" <<<"$err" && grep -qi "control character" <<<"$err" ||
		fail "port name $(printf %q "$bad"): unclear error: $(printf %q "$err")"
	! raw_ctl <<<"$err" || fail "raw control character in the error: $(printf %q "$err")"
	[ "$(state)" = "$before" ] || fail "refused port name $(printf %q "$bad") changed state"
done
printf '{"ports":[{"name":"q\\u001b1","peer":"vetha"}]}' >"$T/esc.json"
err=$(cub_refused 2 simpleforwarder add sf9 --file "$T/esc.json")
grep -qi "control character" <<<"$err" || fail "body port name: $(printf %q "$err")"
for bad in $'c\n1' $'c\t1' $'c\0331'; do
	err=$(cub_refused 2 simpleforwarder add "$bad")
	grep -q "cube name" <<<"$err" || fail "cube name $(printf %q "$bad"): $(printf %q "$err")"
	! raw_ctl <<<"$err" || fail "raw control character in the error: $(printf %q "$err")"
done
[ "$(state)" = "$before" ] || fail "refused names changed state"
cub_log "names with control characters refused, errors escaped"

# A netdev named with ESC or C1 is a valid peer; no output shows it raw.
cub_ok sf1 ports add p2 peer="$ESCDEV"
cub_ok sf1 ports add p3 peer="$C1DEV"
for view in "sf1 ports" "sf1 show" "sf1 ports p2 show" "sf1 ports -o json" \
	"sf1 ports -o yaml" "show cubes"; do
	out=$(cub $view 2>&1) || fail "cubicle $view: $out"
	! raw_ctl <<<"$out" || fail "cubicle $view: raw control character: $(printf %q "$out")"
done
grep -qF 'd\x1bx' <<<"$(cub sf1 ports)" || fail "escaped netdev name not shown: $(cub sf1 ports | od -c | head)"
grep -qiF 'd\u001bx' <<<"$(cub sf1 ports -o json)" || fail "JSON does not escape ESC"
grep -qiF 'c\u009bx' <<<"$(cub sf1 ports -o json)" || fail "JSON does not escape C1"
err=$(cub_refused 2 sf1 ports add p4 peer="$ESCDEV")
! raw_ctl <<<"$err" || fail "raw ESC in an error: $(printf %q "$err")"
cub_log "ESC and C1 netdev names shown escaped in text, JSON, YAML and errors"

# The broker's log escapes what clients send: a request id is logged.
forged=$'r1\n<3>cubicled[1]: forged by a client\033[2J'
cub_ok --rid "$forged" sf1 ports add p5
cub_ok --rid "$forged" sf1 ports add p5
grep -q "answered again from cache" "$T/broker.log" || fail "no cache hit logged"
! grep -q '^<3>cubicled\[1\]' "$T/broker.log" || fail "a client forged a log line"
! LC_ALL=C grep -q $'\033' "$T/broker.log" || fail "raw ESC from a client in the log"

# A worker's stderr is marked as the worker's and escaped.
cub_ok e1 debug stderr what=forge >/dev/null
for _ in $(seq 1 50); do
	grep -q "forged by a worker" "$T/broker.log" && grep -q "again" "$T/broker.log" && break
	sleep 0.1
done
grep -qE '^<[0-9]>cubicled\[[0-9]+\]: worker evil\[[0-9]+\]: .*cubicled\[1\]: forged by a worker' "$T/broker.log" ||
	fail "worker line not marked: $(grep forged "$T/broker.log" | od -c | head)"
! grep -qE '^<[0-9]>cubicled\[1\]' "$T/broker.log" || fail "a worker forged a broker line"
! LC_ALL=C grep -q $'\033' "$T/broker.log" || fail "raw ESC from a worker in the log"
! LC_ALL=C grep -q $'\r' "$T/broker.log" || fail "raw CR from a worker in the log"
grep -q 'worker evil\[[0-9]*\]: .*\\x1b\[31mred' "$T/broker.log" || fail "ESC not shown escaped"
grep -qF 'tab\there\rcarriage' "$T/broker.log" || fail "tab and CR not shown escaped"
# Every worker line, including the worker's own log, carries the mark.
grep -q 'worker evil\[[0-9]*\]: .*serving service' "$T/broker.log" ||
	fail "the worker's own log lines are not marked"
! grep -q '^<[0-9]>cubicle-worker' "$T/broker.log" || fail "unmarked worker line"
cub_log "worker stderr marked and escaped"

# 12. A worker writing 10 MiB to stderr grows the log by a bounded amount
# (rate-limited, long lines cut) and the broker keeps answering.
size0=$(stat -c %s "$T/broker.log")
cub e1 debug stderr what=flood >"$T/flood.out" 2>&1 &
fp=$!
sleep 0.2
timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 5000 services </dev/null >/dev/null ||
	fail "broker not answering during a worker's stderr flood"
wait $fp || fail "flood action failed: $(cat "$T/flood.out")"
for _ in $(seq 1 50); do
	grep -q "lines suppressed" "$T/broker.log" && break
	sleep 0.1
done
grep -qE 'worker evil\[[0-9]+\]: [0-9]+ lines suppressed' "$T/broker.log" || fail "no suppression note"
size1=$(stat -c %s "$T/broker.log")
grown=$((size1 - size0))
[ "$grown" -lt $((1 << 20)) ] || fail "10 MiB of worker stderr grew the log by $grown bytes"
long=$(awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }' "$T/broker.log")
[ "$long" -le 2048 ] || fail "a log line of $long bytes"
timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 5000 e1 show </dev/null >/dev/null ||
	fail "broker not answering after the flood"
cub_log "10 MiB of worker stderr grew the log by $grown bytes; longest line $long"

# 17. Invalid UTF-8 in argv: the CLI names the argument (by its place
# in argv: cub() puts --socket-dir DIR first), exit 1.
err=$(cub_refused 1 sf1 ports add $'p\xff1')
grep -q "argument 6" <<<"$err" && grep -q "not valid UTF-8" <<<"$err" ||
	fail "invalid UTF-8 argument: $(printf %q "$err")"
! LC_ALL=C grep -q $'\xff' <<<"$err" || fail "raw invalid byte echoed"
err=$(cub_refused 1 sf1 ports p1 set peer=$'\xc3(')
grep -q "argument 7" <<<"$err" && grep -q "not valid UTF-8" <<<"$err" || fail "invalid UTF-8 value: $err"
[ "$(cub sf1 ports -o json | grep -c '"name"')" = 4 ] || fail "a refused argument changed state"
cub_log "invalid UTF-8 arguments named, exit 1"

# 16. Built-in words and service names cannot be cube names.
for w in services cubes events ping show help cube version add del set; do
	err=$(cub_refused 2 simpleforwarder add "$w")
	grep -q "reserved" <<<"$err" || fail "cube name '$w': $err"
done
err=$(cub_refused 2 simpleforwarder add evil)
grep -q "service" <<<"$err" || fail "cube name 'evil': $err"
grep -qE '"(services|cubes|events|ping)"' <<<"$(cub show cubes -o json)" && fail "a reserved cube was created"
cub_log "reserved words refused as cube names"

# A stored cube whose name became reserved (an upgrade) still loads and is
# reachable as 'cubicle cube <name> ...'.  Simulated by renaming a stored
# cube 'zzzzz' to 'cubes' in the store file while the broker is down.
cub_ok simpleforwarder add zzzzz
cub_ok zzzzz ports add z1 action=drop
kill -TERM "$BROKER_PID"
for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BROKER_PID" 2>/dev/null && fail "broker did not stop"
python3 - "$T/st/state.db" <<'PY' || fail "could not rewrite the store"
import struct, sys, zlib
p = sys.argv[1]
d = open(p, 'rb').read()
hdr, payload = d[:24], d[24:]
assert hdr[:8] == b"CUBSTATE", hdr
old = b"\xa5zzzzz"
assert old in payload
payload = payload.replace(old, b"\xa5cubes")
hdr = hdr[:12] + struct.pack("<I", zlib.crc32(payload) & 0xffffffff) + hdr[16:]
open(p, 'wb').write(hdr + payload)
PY
broker_start
grep -q "cube 'cubes': its name is reserved" "$T/broker.log" || fail "no warning about the reserved name"
out=$(cub cube cubes show -o json) || fail "reserved cube not reachable: $out"
grep -q '"name": "cubes"' <<<"$out" || fail "cube cubes show: $out"
grep -q '"name": "sf1"' <<<"$(cub cubes show -o json)" || fail "'cubes show' no longer lists the cubes"
cub_ok cube cubes ports z1 set action=forward outport=z1
grep -q forward <<<"$(cub cube cubes ports z1 show action)" || fail "set through 'cube' not applied"
grep -q "cube <name>" <<<"$(cub ?)" || fail "top-level help does not show the 'cube' escape"
err=$(cub_refused 2 cube nosuch show)
grep -q "nosuch" <<<"$err" || fail "cube nosuch: $err"
cub_ok cube cubes del
grep -q '"cubes"' <<<"$(cub show cubes -o json)" && fail "reserved cube not deleted"
cub_log "a stored cube named 'cubes' loads and is reachable via 'cubicle cube cubes ...'"
