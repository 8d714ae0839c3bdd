#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Counters the broker reads itself (issue 7): simpleforwarder's counters,
# bound in its schema to sf_stats and sf_pktins, equal the pings sent; a
# show answers, with live values, while the worker is stopped (SIGSTOP):
# no call reaches it; a set of a counter is refused as read-only; hostile
# bindings (plugins/testing/evil_ctr.c) are refused at hello or at load,
# naming the field, and change nothing.
. "$(dirname "$0")/../lib/netns.sh"

netns_hosts TC ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
for a in off nomap other pcpu keysz ok; do
	PLUGINS+=("$CUB_BUILD/plugins/testing/evctr_$a.so")
done
broker_start

cub_ok simpleforwarder add sf1
cub_ok sf1 ports add p1 peer=vetha
cub_ok sf1 ports add p2 peer=vethb
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1
static_arp ca 198.18.0.1 cb 198.18.0.2

# rx1 tx2 rx2 tx1 rb1 tb2, from one show of the whole cube.
counters() {
	cub sf1 show -o json | awk '
		/"name": "p1"/ { p = 1 } /"name": "p2"/ { p = 2 }
		/"rx_packets"/ { gsub(/[ ,]/, "", $2); rx[p] = $2 }
		/"tx_packets"/ { gsub(/[ ,]/, "", $2); tx[p] = $2 }
		/"rx_bytes"/ { gsub(/[ ,]/, "", $2); rb[p] = $2 }
		/"tx_bytes"/ { gsub(/[ ,]/, "", $2); tb[p] = $2 }
		END { print rx[1] + 0, tx[2] + 0, rx[2] + 0, tx[1] + 0, rb[1] + 0, tb[2] + 0 }'
}
# pings N: N echo requests through sf1 and N replies back, none lost.
pings() {
	ip netns exec ca ping -c "$1" -i 0.01 -W 10 198.18.0.2 >"$T/ping.out" ||
		fail "ping through sf1 failed: $(tail -2 "$T/ping.out")"
	grep -q " 0% packet loss" "$T/ping.out" || fail "loss: $(tail -2 "$T/ping.out")"
}
# expect_grown BEFORE AFTER N: every packet counter grew by exactly N and
# the byte counters by N 98-byte frames.
expect_grown() {
	local -a a b
	read -r -a a <<<"$1"
	read -r -a b <<<"$2"
	local names=(p1.rx_packets p2.tx_packets p2.rx_packets p1.tx_packets) i
	for i in 0 1 2 3; do
		[ $((b[i] - a[i])) = "$3" ] ||
			fail "${names[i]} grew by $((b[i] - a[i])), expected exactly $3"
	done
	for i in 4 5; do
		[ $((b[i] - a[i])) = $(($3 * 98)) ] ||
			fail "byte counter $i grew by $((b[i] - a[i])), expected $(($3 * 98))"
	done
}

c0=$(counters)
pings 50
c1=$(counters)
expect_grown "$c0" "$c1" 50
cub_log "50 pings: counters exact ($c1)"

# The worker stopped: shows still answer, with values read now.
wpid=$(worker_pid simpleforwarder)
[ -n "$wpid" ] || fail "no simpleforwarder worker"
# (A failure below kills the broker, and the stopped worker with it.)
kill -STOP "$wpid"
for _ in $(seq 1 100); do
	grep -qE '^State:\s+T' "/proc/$wpid/status" && break
	sleep 0.05
done
grep -qE '^State:\s+T' "/proc/$wpid/status" || fail "worker $wpid not stopped"
pings 20
c2=$(timeout 20 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 5000 sf1 show -o json </dev/null |
	awk '/"name": "p1"/ { p = 1 } /"name": "p2"/ { p = 2 }
		/"rx_packets"/ { gsub(/[ ,]/, "", $2); rx[p] = $2 }
		/"tx_packets"/ { gsub(/[ ,]/, "", $2); tx[p] = $2 }
		/"rx_bytes"/ { gsub(/[ ,]/, "", $2); rb[p] = $2 }
		/"tx_bytes"/ { gsub(/[ ,]/, "", $2); tb[p] = $2 }
		END { print rx[1] + 0, tx[2] + 0, rx[2] + 0, tx[1] + 0, rb[1] + 0, tb[2] + 0 }') ||
	fail "show of sf1 failed while its worker was stopped"
expect_grown "$c1" "$c2" 20
for f in rx_packets tx_packets drops slowpath packet_ins; do
	v=$(timeout 20 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 5000 \
		sf1 ports p1 show "$f" </dev/null) ||
		fail "show of p1 $f failed while the worker was stopped"
	[[ "$v" =~ ^[0-9]+$ ]] || fail "p1 $f shown as '$v'"
done
[ "$(port_counter sf1 p1 rx_packets)" = $((${c2%% *})) ] ||
	fail "p1 rx_packets alone differs from the whole show"
grep -qE '^State:\s+T' "/proc/$wpid/status" || fail "worker $wpid woke up"
kill -CONT "$wpid"
cub_log "worker stopped: 20 more pings shown exactly, no call reached it"

# Read-only: a set of a counter is refused and changes nothing.
err=$(cub_refused 2 sf1 ports p1 set rx_packets=0)
grep -q "read-only" <<<"$err" || fail "set of a counter: $err"
[ "$(port_counter sf1 p1 rx_packets)" -ge $((${c2%% *})) ] || fail "rx_packets went back"
cub_ok sf1 ports p1 set action=forward outport=p2 # the worker answers again

# packet_ins: kept by the worker in sf_pktins, read by the broker.
cub_ok sf1 ports p1 set action=slowpath
ip netns exec ca ping -c 5 -i 0.05 -W 1 198.18.0.2 >/dev/null &&
	fail "ping passed with p1 action=slowpath"
for _ in $(seq 1 100); do
	[ "$(port_counter sf1 p1 packet_ins)" -ge 5 ] && break
	sleep 0.1
done
pin=$(port_counter sf1 p1 packet_ins)
[ "$pin" -ge 5 ] || fail "packet_ins $pin, expected >= 5"
[ "$(port_counter sf1 p2 packet_ins)" = 0 ] || fail "p2 packet_ins not 0"
cub_log "packet_ins $pin, read from sf_pktins"

# Hostile bindings refused at load: the add fails naming the field, no
# cube is left.
snapshot() { cub show cubes -o json; }
before=$(snapshot)
refused_unchanged "counter 'ports.c': offset 48 \+ width 8 is past the 48-byte value of map 'sf_stats'" \
	evctr_off add x1
refused_unchanged "counter 'ports.c' is bound to map 'sf_nosuch', which is not in the cube's object" \
	evctr_nomap add x2
# sf1 has an sf_stats; evctr_other's own object has none.
refused_unchanged "cube 'x3': counter 'ports.c' is bound to map 'sf_stats', which is not in the cube's object" \
	evctr_other add x3
refused_unchanged "counter 'ports.c': offset 0 \+ width 8 is past the 4-byte value of map 'evctr_pc4' \(one CPU's value" \
	evctr_pcpu add x4
refused_unchanged "counter 'c': key_size 4 does not match map 'evctr_h8''s 8-byte keys" \
	evctr_keysz add x5
for x in x1 x2 x3 x4 x5; do
	[ ! -e "$T/pins/$x" ] || fail "refused cube $x left pins"
done
# The same map with the right key size is accepted and reads 0.
cub_ok evctr_ok add x6
[ "$(cub x6 show c)" = 0 ] || fail "evctr_ok's c: $(cub x6 show c)"
cub_ok x6 del

# Refused at hello: the schema itself names a path or the broker's map.
# The broker starts again with those services; each worker's hello is
# refused (and logged), the others run.
kill -TERM "$BROKER_PID"
for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BROKER_PID" 2>/dev/null && fail "cubicled did not stop"
ln -sf "$CUB_BUILD/plugins/testing/evctr_path.so" "$CUB_BUILD/plugins/testing/evctr_cub.so" "$T/plugins/"
"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
	--pin-root "$T/pins" --plugin-dir "$T/plugins" \
	--worker "$CUB_BUILD/workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
BROKER_PID=$!
want=("counter 'ports.c': map '../sf1/sf_stats' is not a map name"
	"counter 'ports.c': map 'cub_ports' belongs to the broker")
for _ in $(seq 1 600); do
	ok=1
	for w in "${want[@]}"; do grep -qF "$w" "$T/broker.log" || ok=0; done
	[ $ok = 1 ] && break
	kill -0 "$BROKER_PID" 2>/dev/null || fail "cubicled exited"
	sleep 0.1
done
for w in "${want[@]}"; do
	grep -qF "hello refused by broker: hello: schema refused: $w" "$T/broker.log" ||
		fail "no hello refusal '$w' in the broker log"
done
for _ in $(seq 1 200); do
	grep -q '"running"' <<<"$(cub services -o json 2>/dev/null | grep -A1 '"simpleforwarder"')" && break
	sleep 0.1
done
# Not running: still retrying (its last hello refused), or stopped after
# its refused hellos.
cub services -o json | grep -A1 '"evctr_path"' | grep -qE '"(starting|stopped|refused)"' ||
	fail "evctr_path runs: $(cub services -o json)"
[ "$(port_counter sf1 p1 packet_ins)" -ge 0 ] || fail "sf1 not shown after the restart"
c3=$(counters)
[ "${c3%% *}" -ge "${c2%% *}" ] || fail "counters after restart: $c3, before $c2"
cub_log "hello refused for a path and for cub_ports; sf1 still counted ($c3)"
