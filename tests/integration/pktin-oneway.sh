#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Packet-in is a one-way notification (issue 7): the broker sends
# batches of {port, reason, data} on the service's own PUSH socket and
# the worker answers none of them.  A stopped worker (SIGSTOP) for four
# times --call-timeout under a stream of slow-path packets is not taken
# for a hung one (before, each batch was a call, which timed out and got
# the worker killed and restarted); the broker keeps answering, drops
# what its bounded queue towards the worker cannot hold and counts it
# per cube in `cubicle show cubes`; once continued, the worker gets
# packets again.  No packet-in is a request the worker answers:
# `worker_calls` of `cubicle services` (the broker's requests on the
# worker's cmd socket) does not move while packet-ins are delivered.
. "$(dirname "$0")/../lib/netns.sh"

CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 2000"
netns_hosts TC ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
broker_start

cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha
cub_ok sf1 ports add p2 peer=vethb
cub_ok sf1 ports p1 set action=slowpath

# cube_field CUBE FIELD: from show cubes.
cube_field() {
	cub show cubes -o json | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        print(c.get(sys.argv[2], ""))' "$1" "$2"
}
# svc_field FIELD: of service simpleforwarder in 'cubicle services'.
svc_field() {
	cub services -o json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["name"] == "simpleforwarder":
        print(s[sys.argv[1]])' "$1"
}
restarts() { svc_field restarts; }
# wait_pktins N: the worker's packet_ins on p1 reach N (30 s).
wait_pktins() {
	local i
	for i in $(seq 1 300); do
		[ "$(port_counter sf1 p1 packet_ins)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "packet_ins $(port_counter sf1 p1 packet_ins), expected >= $1"
}

# 1. A running worker gets them, and no packet-in is a call: the
# broker's requests to the worker (each waits for a reply) stay as they
# were while 20 packet-ins are delivered.
calls0=$(svc_field worker_calls)
ip netns exec ca ping -c 20 -i 0.02 -W 1 198.18.0.2 >/dev/null || true
wait_pktins 20
[ "$(cube_field sf1 pktin_sent)" -ge 20 ] || fail "pktin_sent $(cube_field sf1 pktin_sent)"
calls1=$(svc_field worker_calls)
[ "$calls1" = "$calls0" ] ||
	fail "packet-in made $((calls1 - calls0)) call(s) to the worker for $(port_counter sf1 p1 packet_ins) packet-ins (a reply per batch)"
cub_log "running worker: $(port_counter sf1 p1 packet_ins) packet-ins, sent $(cube_field sf1 pktin_sent), worker calls $calls0 -> $calls1"

# 2. The worker stopped for 4 x --call-timeout, packets streaming in.
pid=$(worker_pid simpleforwarder)
r0=$(restarts)
d0=$(cube_field sf1 pktin_dropped)
s0=$(cube_field sf1 pktin_sent)
kill -STOP "$pid"
ip netns exec ca ping -f -c 20000 -W 1 198.18.0.2 >/dev/null 2>&1 &
flood=$!
end=$((SECONDS + 8))
n=0
while [ "$SECONDS" -lt "$end" ]; do
	timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" show cubes </dev/null >/dev/null ||
		fail "show cubes did not answer within 5 s while the worker was stopped"
	n=$((n + 1))
	sleep 0.2
done
kill "$flood" 2>/dev/null || true
wait "$flood" 2>/dev/null || true
d1=$(cube_field sf1 pktin_dropped)
s1=$(cube_field sf1 pktin_sent)
[ "$(worker_pid simpleforwarder)" = "$pid" ] ||
	fail "the stopped worker was replaced: pid $(worker_pid simpleforwarder), was $pid"
[ "$(restarts)" = "$r0" ] || fail "restarts $(restarts), was $r0"
[ "$d1" -gt "$d0" ] || fail "no packet dropped while the worker was stopped ($d0 -> $d1)"
cub_log "stopped 8 s: $n show cubes answered, sent $s0 -> $s1, dropped $d0 -> $d1, worker $pid kept"
grep -q "worker $pid" "$T/broker.log" && grep "worker $pid" "$T/broker.log" | grep -qiE 'timed out|killed' &&
	fail "the broker gave up on worker $pid: $(grep "worker $pid" "$T/broker.log")"

# 3. Continued: what was queued arrives, then new packets do.
kill -CONT "$pid"
before=$(port_counter sf1 p1 packet_ins)
for _ in $(seq 1 100); do
	ip netns exec ca ping -c 1 -W 1 198.18.0.2 >/dev/null || true
	[ "$(port_counter sf1 p1 packet_ins)" -ge $((before + 5)) ] && break
done
wait_pktins $((before + 5))
[ "$(worker_pid simpleforwarder)" = "$pid" ] || fail "worker replaced after SIGCONT"
cub_log "continued: packet_ins $before -> $(port_counter sf1 p1 packet_ins)"
