#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Netdev and address events reach the workers that asked for them
# (docs/architecture.md "Netdev events").  helloworld hw0 has ports on
# veth1 and veth2 and logs every event of its ports; veth3 is used by no
# cube.  On veth1, link down/up, an address added and removed, a rename
# and the deletion show in hw0's log, in order, and nothing of veth3 does;
# the port's status follows its netdev (DOWN, UP, DOWN once deleted, the
# port staying) and port.down/port.up are published.  A burst of 2000
# address adds and 2000 removals on veth2 leaves the broker answering
# (show cubes within 5 s throughout), and every event of the burst is
# either delivered to the worker (its own count) or counted as dropped.
# `cubicle netdevs show` lists the veths with their MACs and users.
# $1 = overrun: the broker's rtnetlink buffer is made tiny
# (--netlink-rcvbuf 4096), so the burst overruns it; the re-dumps that
# follow leave netdevs show exactly right (all 2000 addresses, then none)
# and the accounting still holds.
. "$(dirname "$0")/../lib/netns.sh"

# hwhost may have every netdev's events, except in the overrun run, which
# checks that without --host-netdev-events it gets none of them.
MODE=${1:-}
if [ "$MODE" = overrun ]; then
	export CUB_BROKER_ARGS="--netlink-rcvbuf 4096"
else
	export CUB_BROKER_ARGS="--host-netdev-events sf,hwhost"
fi

PLUGINS+=("$CUB_BUILD/plugins/helloworld/helloworld.so"
	"$CUB_BUILD/plugins/testing/hwhost.so")
need python3
netns_hosts TC ca:veth1:198.18.0.1 cb:veth2:198.18.0.2 cc:veth3:198.18.0.3
broker_start

# The binary itself, not the cub function: a subshell killed at exit
# would leave it listening.
"$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" events -o json --timeout 120000 \
	</dev/null >"$T/events" 2>&1 &
EV=$!
cub_ok helloworld add hw0
cub_ok hw0 ports add port1 peer=veth1
cub_ok hw0 ports add port2 peer=veth2
# hh0: a host-wide service's cube (hwhost asks CUB_NETDEV_HOST), no ports.
cub_ok hwhost add hh0

if [ "$MODE" != overrun ]; then
mac_of() { ip -o link show "$1" | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2; }

# netdevs show: every veth, its MAC and mtu, state, and who uses it.
cub netdevs show -o json >"$T/nd.json"
for i in 1 2 3; do
	want=$(mac_of "veth$i")
	python3 - "$T/nd.json" "veth$i" "$want" "$([ $i = 3 ] || echo "hw0:port$i")" <<'PY' ||
import json, sys
nd = {d["name"]: d for d in json.load(open(sys.argv[1]))}
d = nd.get(sys.argv[2])
assert d, "no " + sys.argv[2]
assert d["mac"] == sys.argv[3], (d["mac"], sys.argv[3])
assert d["used_by"] == sys.argv[4], (d["used_by"], sys.argv[4])
assert d["state"] == "UP" and d["mtu"] == 1500 and d["ifindex"] > 0, d
PY
		fail "netdevs show is wrong for veth$i (MAC $want): $(cat "$T/nd.json")"
done
grep -qE '^ *veth1 +[0-9]+ +'"$(mac_of veth1)"' +1500 +UP' <<<"$(cub netdevs show)" ||
	fail "text netdevs show lacks veth1: $(cub netdevs show)"
ip addr add 198.18.7.1/24 dev veth3
for _ in $(seq 1 100); do
	grep -q '198.18.7.1/24' <<<"$(cub netdevs show -o json)" && break
	sleep 0.1
done
grep -q '198.18.7.1/24' <<<"$(cub netdevs show -o json)" ||
	fail "netdevs show lacks veth3's new address: $(cub netdevs show -o json)"
cub_refused 2 netdevs frobnicate | grep -q "netdevs show" ||
	fail "a bad netdevs verb is not refused naming 'netdevs show'"
cub_log "netdevs show: veth1-3 with their MACs, mtu, state and users"

# log_since N: the messages of hw0's log after its first N lines.
log_total() {
	cub hw0 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["held"] + d["dropped"])'
}
log_since() {
	cub hw0 log show -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
new = d["held"] + d["dropped"] - int(sys.argv[1])
for l in (d["lines"][-new:] if new > 0 else []):
    print(l["message"])' "$1"
}
# wait_line N LINE: until LINE is among the messages after the first N
# (30 s: a loaded machine).
wait_line() {
	local i
	for i in $(seq 1 300); do
		log_since "$1" | grep -qxF "$2" && return 0
		sleep 0.1
	done
	fail "no '$2' in hw0's log after line $1: $(log_since "$1")"
}
status() { cub hw0 ports "$1" show status; }
wait_status() {
	local i
	for i in $(seq 1 300); do
		[ "$(status "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "port $1 status is $(status "$1"), expected $2"
}
ev_count() { cub hw0 show netdev_events; }

# A bridge port leaving its bridge is an AF_BRIDGE RTM_DELLINK, not the
# netdev going: veth2 (hw0's port2) in and out of a bridge makes no
# "removed" nor "added", and stays in netdevs show.
if ip link add br0 type bridge 2>/dev/null; then
	base=$(log_total)
	ip link set veth2 master br0
	ip link set veth2 nomaster
	ip link del br0
	ip addr add 198.18.8.2/32 dev veth2
	wait_line "$base" "port2: veth2 address 198.18.8.2/32 added"
	! log_since "$base" | grep -qE 'veth2 (removed|added)$' ||
		fail "leaving a bridge looked like veth2 going: $(log_since "$base")"
	grep -q '"veth2"' <<<"$(cub netdevs show -o json)" ||
		fail "veth2 left netdevs show when it left a bridge"
	ip addr del 198.18.8.2/32 dev veth2
	wait_line "$base" "port2: veth2 address 198.18.8.2/32 removed"
	cub_log "veth2 in and out of a bridge: no removed/added event"
else
	cub_log "no bridge support here: the AF_BRIDGE check is skipped"
fi

base=$(log_total)
ev0=$(ev_count)
ip link set veth1 down
wait_status port1 DOWN
ip link set veth3 down # not hw0's: no event
ip addr add 198.18.9.1/32 dev veth1
ip addr add 198.18.9.3/32 dev veth3
ip link set veth1 up
wait_status port1 UP
ip link set veth3 up
ip addr del 198.18.9.1/32 dev veth1
ip addr del 198.18.9.3/32 dev veth3
ip link set veth1 down
ip link set veth1 name veth1r
ip link set veth3 down
ip link set veth3 name veth3r
ip link set veth3r up
ip link set veth1r up
wait_status port1 UP
ip link del veth3r
ip link del veth1r
wait_line "$base" "port1: veth1r removed"
wait_status port1 DOWN
[ "$(cub hw0 ports show -o json | grep -c '"name"')" = 2 ] ||
	fail "a port went away with its netdev: $(cub hw0 ports show -o json)"
[ "$(cub hw0 ports port1 show peer)" = veth1 ] ||
	fail "port1's peer changed: $(cub hw0 ports port1 show peer)"
log_since "$base" >"$T/got"
# Deleting an up netdev takes it down first: that "down" may come.
grep -vxF "port1: veth1r down" "$T/got" >"$T/got2" || true
cat >"$T/want" <<'EOF'
port1: veth1 down
port1: veth1 address 198.18.9.1/32 added
port1: veth1 up
port1: veth1 address 198.18.9.1/32 removed
port1: veth1 down
port1: veth1 renamed to veth1r
port1: veth1r up
port1: veth1r removed
EOF
diff "$T/want" "$T/got2" >"$T/diff" ||
	fail "hw0's log is not the events of veth1 in order: $(cat "$T/diff")"
! grep -q veth3 "$T/got" || fail "hw0 got an event of veth3, which it does not use: $(cat "$T/got")"
n=$(wc -l <"$T/got")
for _ in $(seq 1 100); do
	[ $(($(ev_count) - ev0)) -ge "$n" ] && break
	sleep 0.1
done
[ $(($(ev_count) - ev0)) = "$n" ] ||
	fail "the worker counted $(($(ev_count) - ev0)) events, its log has $n lines"
cub_log "veth1: down, address added, up, address removed, rename, delete: logged in order; veth3: nothing"
# The host-wide service saw both, veth3 included, with no port.
for l in "-: veth3 down" "-: veth3 address 198.18.9.3/32 added" \
	"-: veth3 renamed to veth3r" "-: veth3r removed" "-: veth1 down"; do
	for _ in $(seq 1 100); do
		cub hh0 log show -o json | grep -qF "\"$l\"" && break
		sleep 0.1
	done
	cub hh0 log show -o json | grep -qF "\"$l\"" ||
		fail "host-wide hh0 lacks '$l': $(cub hh0 log show)"
done
cub_log "host-wide hwhost: sees veth3 and veth1, with no port"

# port.down / port.up on events.sock, from the netdev's state.
for _ in $(seq 1 100); do
	[ "$(grep -c '"port.down"' "$T/events")" -ge 3 ] && break
	sleep 0.1
done
python3 - "$T/events" <<'PY' || fail "port.down/port.up events are wrong: $(cat "$T/events")"
import json, sys
txt = open(sys.argv[1]).read()
dec, i, evs = json.JSONDecoder(), 0, []
while i < len(txt):
    if txt[i].isspace():
        i += 1
        continue
    v, i = dec.raw_decode(txt, i)
    evs.append(v)
seq = [(e.get("event") or e.get("method"), (e.get("params") or e).get("port"))
       for e in evs]
seq = [s for s in seq if s[0] in ("port.up", "port.down") and s[1] == "port1"]
# attach up, (down, up) x2 by hand, the deletion's down.
kinds = [s[0] for s in seq]
want = ["port.up", "port.down", "port.up", "port.down", "port.up", "port.down"]
assert kinds == want, kinds
PY
cub_log "port.up/port.down published as veth1 went down, up and away"
fi
ev_count() { cub hw0 show netdev_events; }
# n_burst: addresses of the burst netdevs show lists.
n_burst() { cub netdevs show -o json | grep -c '"198\.19\.' || true; }

# The burst: 2000 address adds and 2000 removals on veth2 (hw0's port2).
read -r sent0 dropped0 <<<"$(cub services -o json | python3 -c '
import json, sys
s = {e["name"]: e for e in json.load(sys.stdin)}["helloworld"]
print(s["netdev_sent"], s["netdev_dropped"])')"
ev0=$(ev_count)
over0=$(cub netdevs stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["overruns"])')
for i in $(seq 0 1999); do
	echo "addr add 198.19.$((i / 250)).$((i % 250 + 1))/32 dev veth2"
done >"$T/add.batch"
sed 's/^addr add/addr del/' "$T/add.batch" >"$T/del.batch"
(
	# show cubes answers within 5 s throughout.
	# (Not while the overrun run stops the broker on purpose.)
	while [ "$MODE" != overrun ] && [ ! -f "$T/burst.done" ]; do
		timeout 5 "$CUB_BUILD/sdk/cubicle" --socket-dir "$T/s" --timeout 5000 \
			show cubes </dev/null >/dev/null 2>&1 || echo late >>"$T/late"
		sleep 0.05
	done
) &
WATCH=$!
if [ "$MODE" = overrun ]; then
	# The broker stopped while the adds happen: its buffer overruns.
	kill -STOP "$BROKER_PID"
	ip -batch "$T/add.batch" || { kill -CONT "$BROKER_PID"; fail "ip -batch add failed"; }
	kill -CONT "$BROKER_PID"
else
	ip -batch "$T/add.batch" || fail "ip -batch add failed"
fi
if [ "$MODE" = overrun ]; then
	# However many messages were lost, the table comes to list all 2000.
	for _ in $(seq 1 300); do
		[ "$(n_burst)" = 2000 ] && break
		sleep 0.1
	done
	[ "$(n_burst)" = 2000 ] ||
		fail "after the adds netdevs show lists $(n_burst) of the 2000 addresses"
fi
ip -batch "$T/del.batch" || fail "ip -batch del failed"
# Until the queue is empty and the worker has counted what it got.
for _ in $(seq 1 600); do
	read -r sent dropped queued <<<"$(cub services -o json | python3 -c '
import json, sys
s = {e["name"]: e for e in json.load(sys.stdin)}["helloworld"]
print(s["netdev_sent"], s["netdev_dropped"], s["netdev_queued"])')"
	[ "$queued" = 0 ] && [ $((sent + dropped - sent0 - dropped0)) -ge 4000 ] &&
		[ $(($(ev_count) - ev0)) = $((sent - sent0)) ] && break
	sleep 0.1
done
touch "$T/burst.done"
wait "$WATCH"
[ ! -f "$T/late" ] || fail "show cubes took over 5 s $(wc -l <"$T/late") time(s) during the burst"
over=$(cub netdevs stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["overruns"])')
delivered=$((sent - sent0))
lost=$((dropped - dropped0))
got=$(($(ev_count) - ev0))
cub_log "burst: $delivered delivered, $lost dropped, worker counted $got, overruns $((over - over0))"
[ "$got" = "$delivered" ] ||
	fail "the worker received $got events, the broker says it delivered $delivered"
if [ "$over" = "$over0" ]; then
	[ $((delivered + lost)) = 4000 ] ||
		fail "burst: $delivered delivered + $lost dropped != 4000 events"
else
	# An overrun: the re-dump replaces what was lost; what was seen adds up.
	[ $((delivered + lost)) -le 4000 ] ||
		fail "burst: $delivered delivered + $lost dropped > 4000 events"
fi
[ "$lost" -gt 0 ] || cub_log "note: nothing dropped (the worker kept up)"
if [ "$MODE" = overrun ]; then
	# hwhost asked for every netdev's events but was not allowed: its
	# cube hh0, which has no port, got none of the burst.
	[ "$(cub hh0 show netdev_events)" = 0 ] ||
		fail "hwhost got $(cub hh0 show netdev_events) events without --host-netdev-events"
	grep -q "hwhost.*--host-netdev-events does not allow" "$T/broker.log" ||
		fail "the broker did not say it refused hwhost every netdev's events"
fi
# The table ends with veth2 as it is: none of the burst's addresses.
for _ in $(seq 1 300); do
	[ "$(n_burst)" = 0 ] && break
	sleep 0.1
done
[ "$(n_burst)" = 0 ] || fail "netdevs show keeps $(n_burst) addresses of the burst"
if [ "$MODE" = overrun ]; then
	[ "$over" -gt "$over0" ] ||
		fail "the burst did not overrun a 4096-byte buffer: the re-dump went untested"
	cub_log "overrun: $((over - over0)) overruns, re-dumps left the table right"
fi
kill "$EV" 2>/dev/null || true
