#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Sessions survive kill -9 of the nat worker and of the broker: 200 TCP
# connections through SNAT and 50 through port forwarding held open
# (tests/lib/nat.sh's cube world); after each kill every connection
# still gets its echo (out1 has no route to the inside: only a kept
# translation answers), and `natting-table show` lists the same
# sessions as before (tuple, rule, external address and port).
. "$(dirname "$0")/../lib/netns.sh"
need python3
. "$CUB_LIB/nat.sh"

PLUGINS+=("$CUB_BUILD/plugins/nat/nat.so")
nat_world_cube
broker_start
cub_ok nat add nat1
cub_ok attach nat1 vout
cub_ok nat1 rule snat entry add 1 internal-net=198.18.1.0/24 external-ip=198.19.0.100
cub_ok nat1 rule port-forwarding entry add 1 external-ip=198.19.0.20 \
	external-port=8080 internal-ip=198.18.1.1 internal-port=80 proto=tcp
nat_server out1 tcp 7000
nat_server in1 tcp 80

mkfifo "$T/a.ctl" "$T/b.ctl"
nat_py in1 hold 198.18.2.1 7000 200 "$T/a.ctl" >"$T/a.out" &
nat_py out1 hold 198.19.0.20 8080 50 "$T/b.ctl" >"$T/b.out" &
exec 7<>"$T/a.ctl" 8<>"$T/b.ctl"
for _ in $(seq 1 200); do
	grep -q held "$T/a.out" && grep -q held "$T/b.out" && break
	sleep 0.1
done
grep -q held "$T/a.out" && grep -q held "$T/b.out" ||
	fail "connections not opened: $(cat "$T/a.out" "$T/b.out")"

# round N: each held connection sends and gets its echo, the N-th time.
round() {
	local i
	echo go >&7
	echo go >&8
	for i in $(seq 1 200); do
		[ "$(grep -c round "$T/a.out")" -ge "$1" ] &&
			[ "$(grep -c round "$T/b.out")" -ge "$1" ] && break
		sleep 0.1
	done
	[ "$(grep round "$T/a.out" | sed -n "${1}p")" = "round 200/200" ] ||
		fail "round $1 ($2), snat: $(grep round "$T/a.out" | sed -n "${1}p")"
	[ "$(grep round "$T/b.out" | sed -n "${1}p")" = "round 50/50" ] ||
		fail "round $1 ($2), port forwarding: $(grep round "$T/b.out" | sed -n "${1}p")"
	cub_log "round $1 ($2): 250 of 250 connections echoed"
}
# The sessions without their state and eta (which move).
sessions() {
	cub nat1 natting-table show -o json | python3 -c '
import json, sys
for r in sorted(json.load(sys.stdin)["entry"], key=lambda r: json.dumps(r, sort_keys=True)):
    print(r["proto"], r["internal-src"], r["internal-sport"], r["internal-dst"],
          r["internal-dport"], r["originating-rule"], r["external-ip"], r["external-port"])'
}

round 1 "before the kills"
sessions >"$T/s0"
[ "$(grep -c ' snat ' "$T/s0")" -ge 200 ] || fail "$(grep -c ' snat ' "$T/s0") snat sessions"
[ "$(grep -c ' portforwarding ' "$T/s0")" -ge 50 ] || fail "$(grep -c ' portforwarding ' "$T/s0") pf sessions"

pid=$(worker_pid nat)
kill -9 "$pid"
for _ in $(seq 1 100); do
	p=$(worker_pid nat)
	[ -n "$p" ] && [ "$p" != "$pid" ] && cub nat1 natting-table show >/dev/null 2>&1 && break
	sleep 0.1
done
round 2 "after kill -9 of the worker"
sessions >"$T/s1"
diff "$T/s0" "$T/s1" >&2 || fail "the sessions changed over the worker's kill -9"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
round 3 "broker dead"
broker_start
for _ in $(seq 1 100); do
	cub nat1 natting-table show >/dev/null 2>&1 && break
	sleep 0.1
done
round 4 "after the broker's restart"
sessions >"$T/s2"
diff "$T/s0" "$T/s2" >&2 || fail "the sessions changed over the broker's kill -9"
# New flows still get translated.
p=$(nat_py in1 tcp 198.18.2.1 7000 40100) || fail "a new flow after the restarts: $p"
[ "$p" = 198.19.0.100:40100 ] || fail "a new flow after the restarts: the server saw $p"
echo quit >&7
echo quit >&8
cub_ok nat1 del
