#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 6): a broker restart must adopt the pinned cells and
# links unchanged.  When the store's stack is not the pinned one (here: a
# cube of it whose plugin was uninstalled is kept in the store but goes
# back into no stack; or the crash do_detach() allows between its store
# write and stack_remove()), cells_restore() (broker/tcube.c) gives up on the
# pinned cells and numbers the cubes 0, 1, ..., and tcube_restore()'s
# forced tp_link() writes other programs into cells a packet in flight
# is about to run and other links after them: the packet skips a cube
# that stays or meets one twice.  A dropped cube should be unlinked like
# a detach, the others keeping their cells.
# veth1's chain: x1 (evil_tburn, PASS; cell 2) ---> s1 (review15_tslow;
# cell 1) ---> d1 (evil_tburn, DROP; cell 0).  A datagram is held in s1;
# the broker stops, the store is edited as a detach of x1 that crashed
# before its stack_remove() leaves it (x1's record without "attach"), the
# broker starts again: the cells become s1 = 0, d1 = 1, and the held datagram,
# let go from cell 1, follows d1's link (the end) and reaches the host
# without d1 (attached throughout).  See review15-tstack-detach.sh for
# the hold.
. "$(dirname "$0")/../lib/netns.sh"
# review15_tslow holds a packet for seconds on purpose (one bpf_loop() of
# 8 Mi rounds of 32 clock reads): past the broker's default loop bound
# (broker/loopcheck.h), so this broker takes any.
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --max-loop-cost 1125899906842624"
need python3 bpftool taskset
[ "$(nproc)" -ge 2 ] || { cub_log "SKIP: needs 2 CPUs"; exit 77; }
taskset -p 2 $$ >/dev/null

PLUGINS+=("$CUB_BUILD/plugins/testing/evil_tburn.so")
mkdir -p "$T/plugins"
cp "$CUB_BUILD/plugins/testing/review15_tslow.so" "$T/plugins/transparenthelloworld.so"
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

. "$(dirname "$0")/../lib/hold.sh"
hold_receiver
send
for _ in $(seq 1 50); do [ "$(rx)" -ge 1 ] && break; sleep 0.1; done
[ "$(rx)" -ge 1 ] || fail "no datagram reaches the host with nothing attached"

cub_ok evil_tburn add d1 ingress-action=DROP
cub_ok evil_tburn add x1
cub_ok transparenthelloworld add s1
cub_ok attach d1 veth1
cub_ok attach s1 veth1 position=first
cub_ok attach x1 veth1 position=first
cub topology show veth1 | grep -q "ingress service chain: x1 ---> s1 ---> d1" ||
	fail "veth1's chain: $(cub topology show veth1)"
send
sleep 0.5
[ "$(rx)" = 1 ] || fail "a datagram passed d1 (DROP) with the stack at rest: the test is wrong"

cub_ok s1 set egress-action=DROP # hold what enters s1
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
python3 - "$T/st/state.db" <<'PY' || fail "could not rewrite the store"
import struct, sys, zlib
path = sys.argv[1]
buf = open(path, "rb").read()
magic, version, crc, length = struct.unpack("<8sIIQ", buf[:24])
assert magic == b"CUBSTATE" and version == 2, (magic, version)
payload = buf[24:24 + length]
recs, off = [], 0
while off < len(payload):
    n, = struct.unpack("<I", payload[off:off + 4])
    recs.append(payload[off:off + 4 + n])
    off += 4 + n
hit = [i for i, r in enumerate(recs) if b"\xa4name\xa2x1" in r and b"\xa6attach" in r]
assert len(hit) == 1, hit
recs[hit[0]] = recs[hit[0]].replace(b"\xa6attach", b"\xa6attacX")
payload = b"".join(recs)
hdr = struct.pack("<8sIIQ", magic, version, zlib.crc32(payload), len(payload))
open(path, "wb").write(hdr + payload)
PY
[ ! -s "$T/st/state.journal" ] || fail "the journal is not empty after a clean stop"
d0=$(bpftool -j map lookup pinned "$T/pins/d1/th_stats" key 0 0 0 0 | python3 -c '
import json, sys
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][16:24]), "little") for v in json.load(sys.stdin)["values"]))')
p0=$(s1_packets)
r0=$(rx)
h0=$(released)
send &
sender=$!
for _ in $(seq 1 100); do
	[ "$(s1_packets)" -gt "$p0" ] && break
	sleep 0.02
done
[ "$(s1_packets)" -gt "$p0" ] || fail "the datagram never reached s1"
# broker_start, but the stack's rebuild is looked at as soon as it is
# logged (before the workers are ready).
nlog=$(wc -l <"$T/broker.log")
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" \
	${CUB_BROKER_ARGS:-} >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 200); do
	tail -n +"$((nlog + 1))" "$T/broker.log" | grep -q "attach point 'veth1': 2 transparent cube(s)" && break
	sleep 0.02
done
rebuilt=$(released)
broker_wait_ready
if [ "$rebuilt" != "$h0" ]; then
	cub_log "SKIP: s1 let the datagram go before the restart ended (a slow machine): proved nothing"
	exit 77
fi
cub topology show veth1 | grep -q "ingress service chain: s1 ---> d1" ||
	fail "veth1's chain after the restart: $(cub topology show veth1)"
bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0
wait "$sender" || true
sleep 1
d1=$(bpftool -j map lookup pinned "$T/pins/d1/th_stats" key 0 0 0 0 | python3 -c '
import json, sys
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][16:24]), "little") for v in json.load(sys.stdin)["values"]))')
cub_log "held across the restart: d1 dropped $((d1 - d0)), the host got $(($(rx) - r0))"
[ "$(rx)" = "$r0" ] ||
	fail "a datagram held in s1 across a restart that dropped x1 from the stack reached the host: it skipped d1 (DROP, in the stack throughout)"
[ "$d1" -eq $((d0 + 1)) ] || fail "d1 dropped $((d1 - d0)) of the held datagram, not 1"
cub_log "a restart that drops a cube from a stack keeps the other cubes' cells"
