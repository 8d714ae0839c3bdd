#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 15 (issue 6): a detach shifts a stack under a packet in flight,
# and the packet skips the cube after the one it is in.  veth1's ingress
# chain is x1 ---> s1 ---> d1: x1 passes (evil_tburn, PASS), d1 drops
# everything (evil_tburn, ingress DROP), s1 (review15_tslow) is a slow
# cube: its PASS holds the packet in its own run while its egress action
# is DROP, then calls cub_pass_tc() as the exit check wants.  One UDP
# datagram is sent and held in s1 (slot 1); x1 is detached, so the
# stack is rewritten from its start up: slot 1 = d1, slot 2 = the end;
# s1 lets the datagram go: tstack_next runs slot 2, the end, and the
# datagram reaches the host without d1 ever seeing it.  docs/architecture.md
# ("Stacks are data"): "a packet in flight may meet a cube twice, never
# skip one that stays".  Passes only if no datagram ever reaches the host
# while d1 is attached and dropping.
# The datagram is sent from CPU 0 and held in its softirq there; the
# test, the broker and its workers run on CPU 1.  A held CPU runs nothing
# else, its interrupts' work included: with the disk's completions on
# it, the broker's store write (fsync) waits for the hold to end, so
# does the detach, and the held datagram leaves before the slots change
# (here the disk's interrupt is on CPU 1).  The test lets the datagram go
# by writing s1's pinned th_actions itself; s1 lets go by itself after
# some seconds.
. "$(dirname "$0")/../lib/netns.sh"
need python3 bpftool taskset
[ "$(nproc)" -ge 2 ] || { cub_log "SKIP: needs 2 CPUs"; exit 77; }
taskset -p 2 $$ >/dev/null # CPU 1: this shell and all it starts

PLUGINS+=("$CUB_BUILD/plugins/testing/evil_tburn.so")
mkdir -p "$T/plugins" # the service is the file's name
cp "$CUB_BUILD/plugins/testing/review15_tslow.so" "$T/plugins/transparenthelloworld.so"
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

# The host's receiver: counts datagrams to 198.18.0.2:9999 in $T/rx.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.2", 9999))
n = 0
open(sys.argv[1], "w").write("0")
while True:
    s.recv(2048)
    n += 1
    open(sys.argv[1], "w").write(str(n))
' "$T/rx" &
for _ in $(seq 1 50); do [ -s "$T/rx" ] && break; sleep 0.1; done
send() { # one datagram from ca to the host, sent from CPU 0
	taskset 1 ip netns exec ca python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x" * 64, ("198.18.0.2", 9999))'
}
rx() { cat "$T/rx"; }
# released: packets s1 let go after a hold (th_stats[ingress].slowpath,
# summed over the CPUs).
released() {
	bpftool -j map lookup pinned "$T/pins/s1/th_stats" key 0 0 0 0 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(int.from_bytes(bytes(int(x, 16) for x in v["value"][24:32]), "little")
          for v in d["values"]))'
}
wait_rx() { # N: (polled, 5 s) the host got N datagrams?
	local _
	for _ in $(seq 1 50); do
		[ "$(rx)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# Nothing attached: the datagram arrives (the receiver works).
send
wait_rx 1 || fail "no datagram reaches the host with nothing attached"

cub_ok evil_tburn add x1
cub_ok evil_tburn add d1 ingress-action=DROP
cub_ok transparenthelloworld add s1
cub_ok attach d1 veth1
cub_ok attach s1 veth1 position=first
cub_ok attach x1 veth1 position=first
cub topology show veth1 | grep -q "ingress service chain: x1 ---> s1 ---> d1" ||
	fail "veth1's chain: $(cub topology show veth1)"
send
wait_rx 2 && fail "a datagram passed d1 (DROP) with the stack at rest: the test is wrong"
[ "$(cub d1 show ingress-drops)" -ge 1 ] || fail "d1 dropped nothing"

broken= spans=0
for try in 1 2 3 4 5; do
	if [ "$try" -gt 1 ]; then
		cub_ok s1 set egress-action=PASS
		cub topology show veth1 | grep -q "x1 ---> s1" ||
			cub_ok attach x1 veth1 position=first
	fi
	p0=$(cub s1 show ingress-packets)
	d0=$(cub d1 show ingress-drops)
	r0=$(rx)
	cub_ok s1 set egress-action=DROP # hold what enters s1
	send &
	sender=$!
	for _ in $(seq 1 100); do
		[ "$(cub s1 show ingress-packets)" -gt "$p0" ] && break
		sleep 0.02
	done
	h0=$(released)
	cub_ok detach x1 veth1
	[ "$(released)" = "$h0" ] || {
		cub_log "try $try: s1 let the datagram go before the detach ended"
		continue
	}
	spans=$((spans + 1))
	# let it go: s1's egress action PASS (TH_PASS 0), without the broker
	bpftool map update pinned "$T/pins/s1/th_actions" key 1 0 0 0 value 0 0 0 0
	wait "$sender" || true
	wait_rx $((r0 + 1)) || true
	r1=$(rx)
	d1=$(cub d1 show ingress-drops)
	cub_log "try $try: s1 saw $(($(cub s1 show ingress-packets) - p0)), d1 dropped $((d1 - d0)), the host got $((r1 - r0))"
	if [ "$r1" -gt "$r0" ]; then
		broken="try $try: a datagram held in s1 while x1 was detached reached the host; d1 (DROP, attached throughout) dropped $((d1 - d0)): it skipped d1"
		break
	fi
done
[ -z "$broken" ] || fail "$broken"
[ "$spans" -gt 0 ] || fail "no datagram was held in s1 across a detach: the test proved nothing"
cub_log "a detach never lets a packet in flight skip a cube that stays"
