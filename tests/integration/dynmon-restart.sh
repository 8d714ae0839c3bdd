#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# dynmon on a cube port and across a worker's death: mon1 attached to
# sf1:p1 (a simpleforwarder port, TC) counts what sf1 forwards from p1;
# while a ping stream runs, the dynmon worker is killed with SIGKILL: the
# program keeps counting while no worker runs (bpftool under the pin
# root), and the restarted worker's replay (a compile of the same
# dataplane-config, byte-identical) brings the monitor back without
# reloading: same program id, same counter, still counting, and metrics
# show reads it again.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
need bpftool python3

CUB_BROKER_ARGS="$DM_ARGS"
broker_start

counter() { dm_counter "$@"; } # CUBE MAP: the sum of its values
prog_id() { bpftool prog show pinned "$T/pins/$1/prog" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# cc - sf1 (p1, p2) - cd, mon1 on sf1:p1.
netns_host cc vethc 198.18.2.1
netns_host cd vethd 198.18.2.2
static_arp cc 198.18.2.1 cd 198.18.2.2
cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vethc
cub_ok sf1 ports add p2 peer=vethd
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
cub_ok dynmon add mon1
cub_ok attach mon1 sf1:p1
cub_ok mon1 dataplane-config set --file "$EX/packet_counter.json"
ip netns exec cc ping -c 20 -i 0.05 -W 1 198.18.2.2 >"$T/ping.out" 2>&1 ||
	fail "ping through sf1 with mon1 on sf1:p1: $(cat "$T/ping.out")"
n=$(counter mon1 i_PKT_COUNTER)
[ "$n" -ge 20 ] || fail "mon1 on sf1:p1 counted $n of 20 pings sf1 forwarded"
cub_log "mon1 on sf1:p1 counted $n for 20 pings through sf1"

# A stream; the worker killed.
id0=$(prog_id mon1)
ip netns exec cc ping -i 0.02 198.18.2.2 >/dev/null 2>&1 &
stream=$!
sleep 0.5
pid=$(worker_pid dynmon)
[ -n "$pid" ] || fail "no dynmon worker"
# Keep the worker from coming back at once: its restart backoff starts
# at 100 ms; the count is read between the kill and the worker's hello.
kill -9 "$pid"
a=$(counter mon1 i_PKT_COUNTER)
sleep 0.5
b=$(counter mon1 i_PKT_COUNTER)
[ "$b" -gt "$a" ] || fail "the counter stopped with the worker killed ($a, then $b)"
# (Its status "running": services has no "ready", the loop waited
# its 20 s out every time.)
for _ in $(seq 1 200); do
	np=$(worker_pid dynmon)
	st=$(cub services -o json | awk '
		/"name"/ { name = $2; sub(",", "", name) }
		/"status"/ { st = $2; sub(",", "", st); if (name == "\"dynmon\"") print st }')
	[ -n "$np" ] && [ "$np" != "$pid" ] && [ "$st" = '"running"' ] && break
	sleep 0.1
done
[ "$st" = '"running"' ] || fail "the dynmon worker is $st, not running, 20 s after its kill"
[ -n "$np" ] && [ "$np" != "$pid" ] || fail "the dynmon worker did not come back"
broker_wait_ready
cub mon1 dataplane-config show -o json | grep -F 'PKT_COUNTER' >/dev/null ||
	fail "mon1's config is gone after the restart"
# The replay is done when the worker logged its load.
for _ in $(seq 1 200); do
	[ "$(cub mon1 log show | grep -c ' loaded TC object')" -ge 2 ] && break
	sleep 0.1
done
[ "$(cub mon1 log show | grep -c ' loaded TC object')" -ge 2 ] ||
	fail "the replay did not load: $(cub mon1 log show)"
id1=$(prog_id mon1)
[ "$id0" = "$id1" ] || fail "the replay reloaded the program (id $id0, now $id1)"
c=$(counter mon1 i_PKT_COUNTER)
sleep 0.5
d=$(counter mon1 i_PKT_COUNTER)
kill "$stream"
wait "$stream" 2>/dev/null || true
[ "$c" -ge "$b" ] && [ "$d" -gt "$c" ] ||
	fail "counting after the restart: $b before, then $c, $d"
cub_log "killed worker $pid: counter $a -> $b while it was gone, $c -> $d after; program id $id0 kept"
# metrics show works again, with the count the program kept.
m=$(cub mon1 metrics show -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ingress-metrics"][0]["value"][0])') ||
	fail "metrics show after the restart failed"
[ "$m" -ge "$d" ] || fail "metrics show after the restart: $m, bpftool said $d"
cub_log "metrics show after the restart: packets_total $m"
# The monitor takes new configs again.
cub_ok mon1 dataplane-config set --file "$EX/packet_counter.json"
cub_ok mon1 del
cub_ok sf1 del
