#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Every cube has a loglevel (Polycube's values, default INFO, any case) and
# a log its worker and its programs write to (`cubicle <cube> log show`):
# simpleforwarder logs each forwarded packet at DEBUG from BPF and each
# configuration change at INFO from its worker.  Changing the level never
# reloads the program, levels above a record's stop it at the source, a
# bad value changes nothing, a restart keeps the level, and a flood of
# records leaves the broker answering and the log bounded, drops counted.
# $1: the hook, TC (default), XDP_SKB or XDP_DRV.
. "$(dirname "$0")/../lib/netns.sh"

HOOK=${1:-TC}
need bpftool python3
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2
broker_start
static_arp ca 198.18.0.1 cb 198.18.0.2

cub_ok simpleforwarder add sf1 type="$HOOK"
cub_ok sf1 ports add p1 peer=vetha
cub_ok sf1 ports add p2 peer=vethb
cub_ok sf1 ports p1 set action=forward outport=p2
cub_ok sf1 ports p2 set action=forward outport=p1

prog_id() {
	bpftool -j net show dev vetha | grep -oE '"id":[0-9]+' | sed -n 1p | cut -d: -f2
}

# log_field FIELD: a field of sf1's log (held, dropped, suppressed, lost,
# bad, filtered, loglevel).
log_field() {
	cub sf1 log show -o json | python3 -c '
import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# total: lines ever appended to sf1's log (held + dropped).
total() {
	cub sf1 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["held"] + d["dropped"])'
}

# since N: the lines appended after the first N, one "source level
# message" a line.
since() {
	cub sf1 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
new = d["held"] + d["dropped"] - int(sys.argv[1])
for l in (d["lines"][-new:] if new > 0 else []):
    print(l["source"], l["level"], l["message"])' "$1"
}

# wait_bpf N COUNT: until COUNT program lines follow the first N (20 s).
wait_bpf() {
	local i
	for i in $(seq 1 200); do
		[ "$(since "$1" | grep -c '^bpf ')" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "no $2 program lines after line $1: $(since "$1")"
}

ping1() {
	ip netns exec ca ping -c "$1" -i 0.05 -W 10 198.18.0.2 >/dev/null ||
		fail "ping through sf1 failed"
}

# silent LEVEL: at LEVEL, 5 pings (10 forwarded packets) make the program
# write nothing (none kept, none filtered by the broker).  Then back at DEBUG one ping logs exactly its 2 packets,
# after the worker's line for the change: had a record of the 5 pings
# been written, it would be in the ring before them.
silent() {
	local n f
	n=$(total)
	f=$(log_field filtered)
	[ "$(cub sf1 show loglevel)" = "$1" ] || cub_ok sf1 set loglevel="$1"
	ping1 5
	cub_ok sf1 set loglevel=DEBUG
	ping1 1
	wait_bpf "$n" 2
	sleep 0.2 # not needed for the check: late lines would only add
	since "$n" >"$T/since"
	[ "$(grep -c '^bpf ' "$T/since")" = 2 ] ||
		fail "at $1 the program logged: $(cat "$T/since")"
	# Nor did the broker filter any: the program wrote none (cub_config).
	[ "$(log_field filtered)" = "$f" ] ||
		fail "at $1 the program wrote $(($(log_field filtered) - f)) records the broker filtered"
	grep -q '^worker INFO configuration changed: 2 ports, loglevel DEBUG' "$T/since" ||
		fail "no worker line for the change back to DEBUG: $(cat "$T/since")"
	cub_log "$1: 10 forwarded packets, no program line; DEBUG again: 2"
}

# 1. Default INFO; the worker's configuration changes are logged.
[ "$(cub sf1 show loglevel)" = INFO ] || fail "default loglevel is not INFO: $(cub sf1 show loglevel)"
grep -q '^loglevel: INFO$' <<<"$(cub sf1 show -o yaml)" || fail "show lacks loglevel: $(cub sf1 show -o yaml)"
grep -qE '^loglevel +INFO$' <<<"$(cub sf1 show)" || fail "text show lacks loglevel: $(cub sf1 show)"
[ "$(log_field loglevel)" = INFO ] || fail "log show: loglevel $(log_field loglevel)"
grep -qE '^ *log +verb +log show' <<<"$(cub sf1 ?)" || fail "sf1 ? does not list log: $(cub sf1 ?)"
grep -qE 'loglevel' <<<"$(cub sf1 ?)" || fail "sf1 ? does not list loglevel: $(cub sf1 ?)"
since 0 >"$T/since"
[ "$(grep -c '^worker INFO configuration' "$T/since")" = 5 ] ||
	fail "expected 5 configuration lines from the worker: $(cat "$T/since")"

# 2. DEBUG without a reload; a ping makes the program's DEBUG lines.
id=$(prog_id)
[ -n "$id" ] || fail "no program on vetha"
silent INFO
[ "$(prog_id)" = "$id" ] || fail "setting the loglevel reloaded the program ($id -> $(prog_id))"
[ "$(cub sf1 show loglevel)" = DEBUG ] || fail "loglevel not DEBUG"
n=$(total)
ping1 3
wait_bpf "$n" 6
since "$n" >"$T/since"
grep -q '^bpf DEBUG forward: port 0 to port 1$' "$T/since" ||
	fail "no 'forward: port 0 to port 1' line: $(cat "$T/since")"
grep -q '^bpf DEBUG forward: port 1 to port 0$' "$T/since" ||
	fail "no 'forward: port 1 to port 0' line: $(cat "$T/since")"
grep -qE '"source": "bpf"' <<<"$(cub sf1 log show -o json)" || fail "json log lacks a bpf line"
grep -qE 'DEBUG +bpf +forward: port 0 to port 1' <<<"$(cub sf1 log show)" ||
	fail "text log lacks the bpf line"

# 3. ERR and OFF stop them at the source; TRACE keeps them.
silent ERR
silent OFF
[ "$(prog_id)" = "$id" ] || fail "changing the loglevel reloaded the program"
cub_ok sf1 set loglevel=TRACE
n=$(total)
ping1 1
wait_bpf "$n" 2

# 4. Polycube's spellings, any case; a bad value is refused and changes
# nothing; the same at create.
for v in debug DEBUG Debug trace Critical err wArN info oFF; do
	cub_ok sf1 set loglevel="$v"
	want=$(tr '[:lower:]' '[:upper:]' <<<"$v")
	[ "$(cub sf1 show loglevel)" = "$want" ] ||
		fail "loglevel=$v shows as $(cub sf1 show loglevel), expected $want"
done
cub_ok sf1 set loglevel=WARN
snapshot() { cub sf1 show loglevel; prog_id; cub show cubes; }
before=$(snapshot)
refused_unchanged "loglevel: 'verbose' is not one of TRACE, DEBUG, INFO, WARN, ERR, CRITICAL, OFF" \
	sf1 set loglevel=verbose
refused_unchanged "loglevel: '' is not one of" sf1 set loglevel=
refused_unchanged "loglevel: 'loud' is not one of" simpleforwarder add sf2 loglevel=loud
refused_unchanged "log show takes no key=value" sf1 log show level=DEBUG
refused_unchanged "usage: sf1 log \[show\]" sf1 log clear
cub_ok simpleforwarder add sf3 loglevel=debug
[ "$(cub sf3 show loglevel)" = DEBUG ] || fail "sf3 created at $(cub sf3 show loglevel)"
grep -q '"message": "configuration applied (new): 0 ports, loglevel DEBUG"' <<<"$(cub sf3 log show -o json)" ||
	fail "sf3's creation not logged: $(cub sf3 log show)"
cub_ok sf3 del

# 5. A restart keeps the level, in the store and in the program (adopted,
# not reloaded): at WARN after the restart the program stays silent.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
broker_start
[ "$(cub sf1 show loglevel)" = WARN ] || fail "after a restart loglevel is $(cub sf1 show loglevel)"
[ "$(prog_id)" = "$id" ] || fail "the restart reloaded the program"
silent WARN

# 6. Flood: every packet of a ping -f logged, for 5 s at least.  The broker
# keeps answering, the log holds at most 1000 lines, and what it could not
# keep is counted.
cub_ok sf1 set loglevel=DEBUG
ip netns exec ca ping -f -q -w 90 198.18.0.2 >/dev/null 2>&1 &
FLOOD=$!
ok=
i=0
start=$SECONDS
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ] && kill -0 "$FLOOD" 2>/dev/null; do
	i=$((i + 1))
	# Each call must answer within the CLI's timeout while flooded.
	out=$(cub --timeout 5000 sf1 log show -o json) || fail "log show failed under the flood"
	cub --timeout 5000 services >/dev/null || fail "services failed under the flood"
	read -r held dropped suppressed lost <<<"$(python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["held"], d["dropped"], d["suppressed"], d["lost"])' <<<"$out")"
	[ "$held" -le 1000 ] || fail "the log holds $held lines, over 1000"
	if [ "$held" = 1000 ] && [ "$dropped" -gt 0 ] &&
		[ $((suppressed + lost)) -gt 0 ] && [ $((SECONDS - start)) -ge 5 ]; then
		ok=1
		break
	fi
	sleep 0.1
done
alive=$(kill -0 "$FLOOD" 2>/dev/null && echo running || echo ended)
kill "$FLOOD" 2>/dev/null || true
wait "$FLOOD" 2>/dev/null || true
[ -n "$ok" ] || fail "flood ($i rounds, ping -f $alive): held $held, dropped $dropped, suppressed $suppressed, lost $lost"
cub_log "flood: held $held, dropped $dropped, suppressed $suppressed, lost $lost"
cub_ok sf1 set loglevel=INFO
ping1 3
cub_ok sf1 del
