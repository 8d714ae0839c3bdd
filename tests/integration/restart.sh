#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Packets keep flowing through a worker kill -9 and a broker kill -9:
# the dataplane belongs to the kernel and the broker's pins.  The worker
# comes back re-synced; the restarted broker adopts the pinned objects and
# shows the same cubes.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
if [ "$HOOK" != TC ]; then napi_on ca; napi_on cb; fi
broker_start
cub_ok simpleforwarder add sf1 type="$HOOK"
cub_ok sf1 ports add p1 peer=vetha action=drop
cub_ok sf1 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf1 ports p1 set action=forward outport=p2
ip netns exec ca ping -c 1 -W 10 198.18.0.2 >/dev/null || fail "no forwarding"

# ping_during COUNT: a continuous ping in the background.
ping_bg() {
	ip netns exec ca ping -c "$1" -i 0.01 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 &
	PING_PID=$!
}
ping_check() {
	wait "$PING_PID" || true
	grep -q " 0% packet loss" "$T/ping.out" ||
		fail "$1: packets lost: $(grep -E 'transmitted|loss' "$T/ping.out")"
	cub_log "$1: $(grep transmitted "$T/ping.out")"
}

# 1. Worker kill -9 during a continuous ping.
old=$(worker_pid simpleforwarder)
[ -n "$old" ] && [ "$old" != 0 ] || fail "no worker pid"
before=$(port_counter sf1 p1 rx_packets)
ping_bg 300
sleep 0.5
kill -9 "$old"
sleep 0.2
broker_wait_ready
new=$(worker_pid simpleforwarder)
[ "$new" != "$old" ] && [ "$new" != 0 ] || fail "worker not restarted ($old -> $new)"
grep -q "simpleforwarder .*running .* 1 " <<<"$(cub services)" ||
	fail "restart not counted: $(cub services)"
ping_check "worker kill -9"
after=$(port_counter sf1 p1 rx_packets)
[ "$after" -ge $((before + 300)) ] || fail "counters lost across worker restart ($before -> $after)"
# Re-synced: the new worker serves changes.
cub_ok sf1 ports p2 set action=drop
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null &&
	fail "new worker did not apply action=drop"
cub_ok sf1 ports p2 set action=forward
grep -q "killed by signal 9" "$T/broker.log" || fail "broker did not log the kill"

# 2. Broker kill -9 during a continuous ping, then a new broker.
show_before=$(cub show cubes -o json)
conf_before=$(cub sf1 show -o json | grep -vE '_packets|_bytes|drops|slowpath')
prog_before=$(ip link show vetha; tc filter show dev vetha ingress)
old_workers=$(cub services -o json | awk '/"pid"/ { gsub(",", "", $2); print $2 }')
[ -n "$old_workers" ] || fail "no worker pids before the broker kill"
ping_bg 300
sleep 0.5
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
# No worker of the killed broker survives it (PR_SET_PDEATHSIG after the
# uid switch): by pid, and by this test's socket directory in a cmdline.
alive_workers() {
	local p st
	for p in $old_workers; do
		st=$(awk '/^State:/ { print $2 }' /proc/$p/status 2>/dev/null) || continue
		[ -n "$st" ] && [ "$st" != Z ] && echo "$p"
	done
	for p in $(pgrep -f "cubicle-worker .*--socket-dir $T/s( |$)" || true); do
		st=$(awk '/^State:/ { print $2 }' /proc/$p/status 2>/dev/null) || continue
		[ -n "$st" ] && [ "$st" != Z ] && echo "$p"
	done
}
for _ in $(seq 1 50); do
	[ -z "$(alive_workers)" ] && break
	sleep 0.1
done
left=$(alive_workers | sort -u | tr '\n' ' ')
[ -z "$left" ] || fail "workers outlived the killed broker: $left"
broker_start
ping_check "broker kill -9"
# Every call reaches the new broker's own worker: none of 20 fails.
for i in $(seq 1 20); do
	out=$(cub sf1 show -o json) || fail "call $i to the new broker failed: $out"
	grep -q '"ports"' <<<"$out" || fail "call $i: wrong answer: $out"
	out=$(cub services) || fail "services call $i failed: $out"
	grep -q "simpleforwarder .*running" <<<"$out" || fail "services call $i: $out"
done
[ "$(cub show cubes -o json)" = "$show_before" ] || fail "cubes differ after broker restart"
conf_after=$(cub sf1 show -o json | grep -vE '_packets|_bytes|drops|slowpath')
[ "$conf_after" = "$conf_before" ] || fail "sf1 config differs after broker restart"
[ "$prog_before" = "$(ip link show vetha; tc filter show dev vetha ingress)" ] ||
	fail "the restarted broker replaced the program instead of adopting it"
grep -q "adopted pinned program" "$T/broker.log" || fail "no adoption logged"
cub_ok sf1 ports p2 set action=drop
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null &&
	fail "restarted broker cannot change the cube"
cub_ok sf1 del
# The restarted broker knew which qdiscs it had created: nothing is left.
for d in vetha vethb; do
	[ -z "$(tc filter show dev $d ingress)" ] || fail "filter left on $d after restart + del"
	grep -q clsact <<<"$(tc qdisc show dev $d)" && fail "clsact left on $d after restart + del"
	grep -q xdp <<<"$(ip link show $d)" && fail "XDP left on $d after restart + del"
done
true
