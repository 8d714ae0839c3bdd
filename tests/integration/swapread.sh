#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Issue 9's swap-on-read, fast and exact (docs "Reader side"): real UDP
# packets from namespace ca through a transparent swapread cube on veth1
# (plugins/testing/swapread.bpf.c: set pkt, a per-CPU counter and a hash
# by destination port, 2 copies; sr_total counts the same packets outside
# the set).
#  1. A stream of at least 100k packets over 1000 ports while hundreds of
#     reads run, most back to back (faster than a grace period), and the
#     worker is killed (-9) between two of them: the reads of both members
#     sum to the packets the program counted, exactly, and that to what
#     the sender sent (less what veth1 dropped).
#  2. Late writers: each packet spends ~10 ms between taking its copy and
#     writing it, 300 packets to 300 new ports while reads run back to
#     back: late updates were folded (the broker says how many), and every
#     port is counted exactly once, including entries a late writer
#     created in the copy a read had just left.
. "$(dirname "$0")/../lib/netns.sh"

PLUGINS+=("$CUB_BUILD/plugins/testing/swapread.so")
CUB_BROKER_ARGS="${CUB_BROKER_ARGS:-} --call-timeout 120000"
FLOOD="$(dirname "$0")/../lib/udpflood.py"
host_peer ca veth1 198.18.0.1 198.18.0.2
broker_start

act() {
	local out
	out=$(cub --timeout 120000 -o json sr1 debug "$@" 2>&1) ||
		fail "sr1 debug $*: $out"
	printf '%s\n' "$out"
}
# j JSON KEY: a top-level number of a JSON answer.
j() {
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
drops() { # veth1's rx drops (/sys is the host's in this namespace)
	python3 -c 'import sys
for l in open("/proc/net/dev"):
    n, _, r = l.partition(":")
    if n.strip() == "veth1": print(r.split()[3])'
}

cub_ok swapread add sr1
cub_ok attach sr1 veth1
svc_pid=$(worker_pid swapread)

# 1. The stream.
tot_cnt=0 tot_port=0 reads=0 late=0
add() { # the sums of one reads answer
	tot_cnt=$((tot_cnt + $(j "$1" cnt)))
	tot_port=$((tot_port + $(j "$1" port)))
	reads=$((reads + $(j "$1" reads)))
	late=$((late + $(j "$1" late_cnt) + $(j "$1" late_port)))
}
d0=$(drops)
t0=$(cub sr1 show total)
rm -f "$T/stop"
ip netns exec ca python3 "$FLOOD" 198.18.0.2 100000 "$T/stop" 1000 >"$T/flood.out" 2>"$T/flood.err" &
FLOODER=$!
for i in $(seq 1 300); do
	[ "$(cub sr1 show total)" -gt "$t0" ] && break
	kill -0 "$FLOODER" 2>/dev/null || fail "udpflood: $(cat "$T/flood.err")"
	sleep 0.1
done
[ "$(cub sr1 show total)" -gt "$t0" ] || fail "no packet counted 30 s after the sender started"
for round in 1 2 3 4; do
	add "$(act reads n=40)"
	if [ "$round" = 2 ]; then
		# kill -9 of the worker between two reads: it comes back with
		# the same object, the broker kept the shadows.
		kill -9 "$svc_pid"
		for _ in $(seq 1 300); do
			new=$(worker_pid swapread)
			[ "${new:-0}" -gt 0 ] && [ "$new" != "$svc_pid" ] &&
				cub sr1 show total >/dev/null 2>&1 && break
			sleep 0.1
		done
		[ "${new:-0}" -gt 0 ] && [ "$new" != "$svc_pid" ] || fail "the worker did not come back"
		cub_log "worker $svc_pid killed, $new serves"
	fi
	add "$(act reads n=15 interval_ms=2)"
done
touch "$T/stop"
wait "$FLOODER" || fail "udpflood: $(cat "$T/flood.err")"
sent=$(sed -n 's/^sent=//p' "$T/flood.out")
# The last packets may still be in veth1's backlog: poll until the count
# settles, then two reads take everything (the second folds the first's
# late updates).
prev=-1
for _ in $(seq 1 100); do
	cur=$(cub sr1 show total)
	[ "$cur" = "$prev" ] && break
	prev=$cur
	sleep 0.2
done
add "$(act reads n=2)"
total=$(($(cub sr1 show total) - t0))
dropped=$(($(drops) - d0))
cub_log "stream: sent $sent, veth1 dropped $dropped, program counted $total; $reads reads summed cnt $tot_cnt, port $tot_port ($late late entries folded)"
[ "$sent" -ge 100000 ] || fail "only $sent packets sent"
[ "$reads" -ge 220 ] || fail "only $reads reads"
[ "$tot_cnt" = "$total" ] || fail "the reads of the per-CPU counter summed $tot_cnt, the program counted $total"
[ "$tot_port" = "$total" ] || fail "the reads of the port hash summed $tot_port, the program counted $total"
[ "$total" = $((sent - dropped)) ] || fail "the program counted $total of $sent sent ($dropped dropped by veth1)"

# 2. Late writers.
act loops n=1000000 >/dev/null
act reads n=2 >/dev/null # what the stream left
t0=$(cub sr1 show total)
ip netns exec ca python3 "$FLOOD" 198.18.0.2 0 "$T/stop" 300 3000 0 >"$T/flood.out" 2>"$T/flood.err" &
FLOODER=$!
o1=$(act reads n=250 list=1)
wait "$FLOODER" || fail "udpflood: $(cat "$T/flood.err")"
prev=-1
for _ in $(seq 1 100); do
	cur=$(cub sr1 show total)
	[ "$cur" = "$prev" ] && break
	prev=$cur
	sleep 0.2
done
o2=$(act reads n=2 list=1)
total=$(($(cub sr1 show total) - t0))
res=$(python3 - "$o1" "$o2" <<'PY'
import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
ports = {}
for o in (a, b):
    for p, n in o.get("ports", []):
        ports[p] = ports.get(p, 0) + n
want = set(range(3000, 3300))
bad = {p: n for p, n in ports.items() if p not in want or n != 1}
print(len(ports), len(want - set(ports)), len(bad),
      a["cnt"] + b["cnt"], a["port"] + b["port"],
      a["late_port"] + b["late_port"], a["late_cnt"] + b["late_cnt"])
PY
)
read -r nports missing bad cnt port late_port late_cnt <<<"$res"
cub_log "late writers: $total packets, $nports ports seen ($missing missing, $bad miscounted), cnt $cnt, port $port; late entries folded: port $late_port, cnt $late_cnt"
[ "$total" = 300 ] || fail "the program counted $total of 300 packets"
[ "$missing" = 0 ] && [ "$bad" = 0 ] && [ "$nports" = 300 ] ||
	fail "ports: $nports seen, $missing missing, $bad counted other than once"
[ "$cnt" = 300 ] && [ "$port" = 300 ] || fail "late writers: cnt $cnt, port $port, not 300"
[ "$late_port" -gt 0 ] && [ "$late_cnt" -gt 0 ] ||
	fail "no late update folded ($late_port port, $late_cnt cnt): the test did not exercise the late writers"
