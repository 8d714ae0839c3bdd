#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 15 (issue 6): a cube's program keeps a CPU for as long as it
# wants, and the broker on that CPU answers nothing meanwhile.
# bpf_loop() is in the networking set (bpfpolicy.c); each call is bounded
# (8 Mi rounds), but a callback may call bpf_loop() again, and nothing
# bounds the product: s1 (review15_thold, a transparenthelloworld) holds
# an ingress packet in its run while its egress action is DROP (nested
# bpf_loop()s, up to about 17 s here), then passes it with cub_pass_tc().
# The packet runs in the softirq of the CPU that sent it, and that CPU
# runs nothing else until the program returns: no task, no softirq of
# another device (a disk's completions, other netdevs' packets), no RCU
# quiescent state.  Here the broker and its workers are pinned to CPU 0
# and the datagram is sent from CPU 0 (the CLI and this shell run on CPU
# 1): one CPU, so that the machine keeps the other.  A host's packets
# arrive on every CPU, so a cube that holds every packet holds every CPU
# the broker could run on.  Passes if the object is refused, or if the
# broker answers 'show cubes' while s1 holds the packet.
. "$(dirname "$0")/../lib/netns.sh"
need python3 bpftool taskset
[ "$(nproc)" -ge 2 ] || { cub_log "SKIP: needs 2 CPUs"; exit 77; }
taskset -p 2 $$ >/dev/null # CPU 1: this shell and all it starts

mkdir -p "$T/plugins" # the service is the file's name
cp "$CUB_BUILD/plugins/testing/review15_thold.so" "$T/plugins/transparenthelloworld.so"
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

# th_stats[ingress] field at OFFSET (0 packets, 24 let go), over the CPUs.
stat() {
	bpftool -j map lookup pinned "$T/pins/s1/th_stats" key 0 0 0 0 | python3 -c '
import json, sys
o = int(sys.argv[1])
d = json.load(sys.stdin)
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][o:o + 8]), "little")
          for v in d["values"]))' "$1"
}
let_go() { # s1's egress action PASS (TH_PASS 0), written without the broker
	bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0
}

rc=0
err=$(cub transparenthelloworld add s1 2>&1) || rc=$?
if [ "$rc" != 0 ]; then
	cub_log "s1 refused ($rc): $err"
	grep -qi "bpf_loop\|loop" <<<"$err" || fail "s1 refused, not for its loop: $err"
	exit 0
fi
cub_ok attach s1 veth1
cub_ok s1 set egress-action=DROP # hold what enters s1
cub s1 show >/dev/null
for p in $BROKER_PID $(pgrep -P "$BROKER_PID"); do
	taskset -a -p 1 "$p" >/dev/null
done

p0=$(stat 0) h0=$(stat 24)
taskset 1 ip netns exec ca python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x" * 64, ("198.18.0.2", 9999))' &
for _ in $(seq 1 100); do
	[ "$(stat 0)" -gt "$p0" ] && break
	sleep 0.05
done
[ "$(stat 0)" -gt "$p0" ] || { let_go; fail "the datagram never entered s1"; }
rc=0
out=$(cub show cubes 2>&1) || rc=$?
held=$([ "$(stat 24)" = "$h0" ] && echo yes || echo no)
let_go
cub_log "show cubes while s1 held a packet on the broker's CPU: exit $rc ($(head -c 200 <<<"$out")); still held when it returned: $held"
for _ in $(seq 1 300); do
	[ "$(stat 24)" != "$h0" ] && break
	sleep 0.1
done
[ "$rc" = 0 ] ||
	fail "the broker did not answer while one cube's program held a packet on its CPU: $out"
cub_log "no cube's program keeps a CPU from the broker"
