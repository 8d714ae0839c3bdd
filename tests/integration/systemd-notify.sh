#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cubicled speaks sd_notify(3) to the socket $NOTIFY_SOCKET names (the
# test is the service manager: tests/lib/notify-listen.py).
# 1. A first start: STATUS= lines, then READY=1; the workers do not
#    inherit NOTIFY_SOCKET.
# 2. kill -9, then a start with cubes pinned, on an @abstract socket:
#    READY=1 comes after the log says the pinned program was adopted;
#    right after READY the broker lists the cube and it forwards.
# 3. WATCHDOG_USEC: WATCHDOG=1 every half of it, from the main loop; a
#    stopped broker (SIGSTOP) sends none; after SIGCONT they resume.
# 4. SIGTERM: STOPPING=1.  WATCHDOG_PID of another process: no pings.
. "$(dirname "$0")/../lib/netns.sh"

need python3
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2

# listen ADDR OUT: a listener in the background, bound before it returns.
listen() {
	rm -f "$2.bound"
	python3 "$CUB_LIB/notify-listen.py" "$1" "$2" "$T/broker.log" &
	for _ in $(seq 1 100); do
		[ -e "$2.bound" ] && return 0
		sleep 0.05
	done
	fail "the notify listener on $1 did not bind"
}
# msgs OUT KEY: the messages of OUT holding the line KEY=... (grep -E).
msgs() { grep -E "(^[0-9.]+ |\|)$2(\||$)" "$1" || true; }
nmsgs() { msgs "$1" "$2" | wc -l; }
# wait_msgs OUT KEY N: until N such messages arrived (60 s).
wait_msgs() {
	local end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(nmsgs "$1" "$2")" -ge "$3" ] && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || fail "cubicled exited: $(tail -5 "$T/broker.log")"
		sleep 0.05
	done
	fail "$3 '$2' message(s) expected on $1, got: $(cat "$1")"
}
# start_notify ADDR [VAR=VALUE...]: cubicled with NOTIFY_SOCKET=ADDR.
start_notify() {
	local addr=$1
	shift
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	ln -sf "${PLUGINS[0]}" "$T/plugins/"
	env NOTIFY_SOCKET="$addr" "$@" "$CUB_BUILD/broker/cubicled" \
		--socket-dir "$T/s" --state-dir "$T/st" --pin-root "$T/pins" \
		--plugin-dir "$T/plugins" --worker "$CUB_BUILD/workers/cubicle-worker" \
		>>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
}
stop_broker() {
	kill -TERM "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
}

# 1. First start, empty store, a socket path.
listen "$T/notify.sock" "$T/n1"
start_notify "$T/notify.sock"
wait_msgs "$T/n1" READY=1 1
broker_wait_ready
first=$(head -1 "$T/n1")
grep -q "STATUS=loading the state store" <<<"$first" ||
	fail "the first message is not the loading STATUS: $(cat "$T/n1")"
ready=$(msgs "$T/n1" READY=1)
grep -q "STATUS=ready: 0 cube(s)" <<<"$ready" ||
	fail "READY=1 without its STATUS line: $ready"
grep -q "ready: socket-dir" "$T/n1.ready.1" ||
	fail "READY=1 arrived before the broker logged it was ready"
[ "$(nmsgs "$T/n1" WATCHDOG=1)" = 0 ] || fail "watchdog pings without WATCHDOG_USEC"
# The services' STATUS: none running at READY, then the one (a client
# request, here broker_wait_ready's, turns the main loop).
wait_msgs "$T/n1" 'STATUS=ready: 1 of 1 service\(s\) running; 0 cube\(s\) from the store' 1
grep -q "STATUS=ready: 0 of 1 service(s) running (their cubes forward; changes wait); 0 cube(s)" "$T/n1" ||
	fail "no STATUS of the service starting: $(cat "$T/n1")"
cub_ok simpleforwarder add sf1 type=TC
cub_ok sf1 ports add p1 peer=vetha action=drop
cub_ok sf1 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf1 ports p1 set action=forward outport=p2
pings || fail "no forwarding through sf1"
wpid=$(worker_pid simpleforwarder)
[ -n "$wpid" ] && [ "$wpid" != 0 ] || fail "no worker pid"
# The worker runs as --uid-base's default + its index (0: the only
# service), outside systemd's DynamicUser range 61184-65519.
base=$("$CUB_BUILD/broker/cubicled" --help | sed -n 's/.*--uid-base UID.*(default \([0-9]*\)).*/\1/p')
[ -n "$base" ] && [ "$base" -lt 61184 ] || fail "the default --uid-base '$base' is in DynamicUser's range"
grep -qE "^Uid:\s+$base\s+$base\s+$base\s+$base$" "/proc/$wpid/status" ||
	fail "the worker is not uid $base: $(grep ^Uid: "/proc/$wpid/status")"
tr '\0' '\n' <"/proc/$wpid/environ" >"$T/wenv" || fail "cannot read the worker's environment"
grep -qE "^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=" "$T/wenv" &&
	fail "the worker inherited the notify variables: $(grep -E 'NOTIFY|WATCHDOG' "$T/wenv")"
cub_log "first start: $(wc -l <"$T/n1") message(s), READY=1 after 'ready', none in the worker's environment"

# 2. kill -9; the next broker adopts sf1 before READY=1, on an abstract
# socket (the test's network namespace holds its name).
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
adopted0=$(grep -c "cube 'sf1': adopted pinned program" "$T/broker.log" || true)
[ "$adopted0" = 0 ] || fail "adoption logged before any restart"
listen "@cubicle-notify-$$" "$T/n2"
start_notify "@cubicle-notify-$$" WATCHDOG_USEC=1000000
wait_msgs "$T/n2" READY=1 1
# Right after READY: the broker answers for sf1 and it forwards.  (READY
# does not wait for the workers: a cube's own show answers
# service-unavailable until its worker has re-synced.)
show=$(cub show cubes -o json) || fail "show cubes right after READY=1 failed"
grep -q '"sf1"' <<<"$show" || fail "show cubes after READY=1 has no sf1: $show"
pings || fail "no forwarding through sf1 right after READY=1"
broker_wait_ready
show=$(cub sf1 show -o json) || fail "sf1 show after its worker's re-sync failed"
grep -q '"vethb"' <<<"$show" || fail "sf1 show after the restart lost its ports: $show"
grep -q "cube 'sf1': adopted pinned program id" "$T/n2.ready.1" ||
	fail "READY=1 arrived before the log said sf1's pinned program was adopted: $(tail -5 "$T/n2.ready.1")"
grep -q "STATUS=ready: 1 cube(s)" <<<"$(msgs "$T/n2" READY=1)" ||
	fail "READY=1's STATUS does not count sf1: $(msgs "$T/n2" READY=1)"
wait_msgs "$T/n2" 'STATUS=ready: 1 of 1 service\(s\) running; 1 cube\(s\) from the store' 1
cub_log "restart after kill -9: READY=1 after '$(grep -m1 "adopted pinned" "$T/n2.ready.1" | sed 's/.*cube/cube/')'"

# 3. The watchdog: WATCHDOG_USEC=1 s, a ping every 0.5 s.  Over 3 s:
# no gap shorter than the interval less the receiver's scheduling (0.4 s:
# an idle broker does not ping faster), none longer than WATCHDOG_USEC
# (what a service manager would kill for).
grep -q "service manager watchdog: a ping every 500 ms" "$T/broker.log" ||
	fail "the broker did not log its watchdog interval"
n0=$(nmsgs "$T/n2" WATCHDOG=1)
sleep 3
msgs "$T/n2" WATCHDOG=1 | awk '{ print $1 }' >"$T/pings"
n1=$(wc -l <"$T/pings")
[ "$((n1 - n0))" -ge 4 ] || fail "$((n1 - n0)) watchdog pings in 3 s at a 0.5 s interval"
gaps=$(awk 'NR > 1 { printf "%.3f\n", $1 - last } { last = $1 }' "$T/pings" | sort -n)
min=$(head -1 <<<"$gaps")
max=$(tail -1 <<<"$gaps")
awk -v m="$min" 'BEGIN { exit !(m >= 0.4) }' || fail "watchdog pings closer than the interval: $min s"
awk -v m="$max" 'BEGIN { exit !(m < 1.0) }' || fail "a watchdog gap of $max s, WATCHDOG_USEC is 1 s"
cub_log "watchdog: $n1 pings, gaps $min..$max s (interval 0.5 s)"

# A stopped main loop sends none: SIGSTOP for 2.5 s (over WATCHDOG_USEC).
kill -STOP "$BROKER_PID"
for _ in $(seq 1 100); do
	[ "$(awk '/^State:/ { print $2 }' "/proc/$BROKER_PID/status")" = T ] && break
	sleep 0.01
done
[ "$(awk '/^State:/ { print $2 }' "/proc/$BROKER_PID/status")" = T ] || fail "the broker did not stop"
sleep 0.2 # a ping sent just before the stop is read by now
s0=$(nmsgs "$T/n2" WATCHDOG=1)
sleep 2.5
s1=$(nmsgs "$T/n2" WATCHDOG=1)
kill -CONT "$BROKER_PID"
[ "$s1" = "$s0" ] || fail "$((s1 - s0)) watchdog ping(s) while the broker was stopped"
wait_msgs "$T/n2" WATCHDOG=1 $((s1 + 2))
cub_log "SIGSTOP 2.5 s: no ping; after SIGCONT they resume"

# 4. SIGTERM: STOPPING=1.  Then WATCHDOG_PID names another process:
# READY=1 but no pings (sd_watchdog_enabled(3)).
stop_broker
wait_msgs "$T/n2" STOPPING=1 1
grep -q "STATUS=stopping on signal 15" <<<"$(msgs "$T/n2" STOPPING=1)" ||
	fail "STOPPING=1 without its STATUS: $(msgs "$T/n2" STOPPING=1)"
listen "$T/notify3.sock" "$T/n3"
start_notify "$T/notify3.sock" WATCHDOG_USEC=100000 WATCHDOG_PID=1
wait_msgs "$T/n3" READY=1 1
broker_wait_ready
sleep 1
[ "$(nmsgs "$T/n3" WATCHDOG=1)" = 0 ] ||
	fail "watchdog pings for WATCHDOG_PID=1: $(nmsgs "$T/n3" WATCHDOG=1)"
stop_broker
# A malformed NOTIFY_SOCKET is named in the log; the broker still runs.
start_notify "relative/sock"
broker_wait_ready
grep -q "NOTIFY_SOCKET 'relative/sock' is not an absolute socket path" "$T/broker.log" ||
	fail "a bad NOTIFY_SOCKET is not named in the log"
cub_log "STOPPING=1 on SIGTERM; WATCHDOG_PID=1: no pings; a bad NOTIFY_SOCKET is logged"
