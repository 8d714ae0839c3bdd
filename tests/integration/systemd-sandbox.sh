#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cubicled under what the built cubicled.service confines it to, without
# PID 1 systemd: its CapabilityBoundingSet= (setpriv --bounding-set, as
# systemd does for a root service), its SystemCallFilter= with EPERM
# (every group expanded by systemd-analyze) and MemoryDenyWriteExecute=
# (tests/sd-syscall-filter.c).  Under them: READY=1 on $NOTIFY_SOCKET,
# workers enter their sandboxes, a cube forwards, a worker kill -9 is
# restarted, a broker kill -9 is adopted, a helper (dynmon's compiler)
# runs.  A control: the same filter without the landlock calls makes
# every worker fail, so the filter is really in force.  Then
# cubicle-gateway under cubicle-gateway.service's filter (its allow-list
# less its ~@privileged), as an unprivileged user with no_new_privs and
# an empty bounding set, as its unit runs it: /metrics answers.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/dynmon.sh"
. "$(dirname "$0")/../lib/gateway.sh"

need python3 setpriv systemd-analyze
UNIT=$CUB_BUILD/systemd/cubicled.service
[ -f "$UNIT" ] || fail "no $UNIT"
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2

# The bounding set: CAP_X -> +x.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ -n "$caps" ] || fail "no CapabilityBoundingSet= in $UNIT"
bset=$(tr ' ' '\n' <<<"$caps" | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -)
# The system call filter: every @group expanded, recursively.
filter=$(sed -n 's/^SystemCallFilter=//p' "$UNIT")
[ "$(grep -c '^SystemCallFilter=' "$UNIT")" = 1 ] && [ -n "$filter" ] && [ "${filter#\~}" = "$filter" ] ||
	fail "expected one allow-list SystemCallFilter= in $UNIT: $filter"
declare -A seen
expand() {
	local x
	for x in "$@"; do
		case "$x" in
		@*)
			[ -n "${seen[$x]:-}" ] && continue
			seen[$x]=1
			# shellcheck disable=SC2046
			expand $(systemd-analyze syscall-filter "$x" | sed '1d; s/#.*//')
			;;
		*) echo "$x" ;;
		esac
	done
}
# shellcheck disable=SC2086
expand $filter | sort -u >"$T/allow"
[ "$(wc -l <"$T/allow")" -gt 200 ] || fail "the filter expanded to $(wc -l <"$T/allow") calls"
grep -qx bpf "$T/allow" && grep -qx openat "$T/allow" || fail "the expanded filter lacks bpf or openat"
grep -q '^MemoryDenyWriteExecute=yes' "$UNIT" && export CUB_MDWE=1

gateway_broker_args
listen() {
	rm -f "$2.bound"
	python3 "$CUB_LIB/notify-listen.py" "$1" "$2" "$T/broker.log" &
	for _ in $(seq 1 100); do
		[ -e "$2.bound" ] && return 0
		sleep 0.05
	done
	fail "the notify listener did not bind"
}
# start_confined ALLOWFILE: cubicled as the unit confines it.
start_confined() {
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	local p
	for p in "${PLUGINS[@]}"; do ln -sf "$p" "$T/plugins/"; done
	# LeakSanitizer (the ASan build) stops the world with ptrace, which
	# the filter refuses: leaks are checked by the other tests.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	NOTIFY_SOCKET=$T/notify.sock setpriv --bounding-set "-all,$bset" \
		"$CUB_BUILD/tests/sd-syscall-filter" "$1" \
		"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$CUB_BUILD/workers/cubicle-worker" $DM_ARGS $CUB_BROKER_ARGS >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
}
readys() { grep -c "READY=1" "$T/notify" 2>/dev/null || true; }
wait_ready_msg() {
	local end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(readys)" -ge "$1" ] && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || fail "cubicled exited"
		sleep 0.05
	done
	fail "no READY=1 number $1"
}

# Control: without the landlock calls, no worker enters its sandbox.
grep -v '^landlock_' "$T/allow" >"$T/allow-nolandlock"
listen "$T/notify.sock" "$T/notify"
start_confined "$T/allow-nolandlock"
wait_log 2 "enter sandbox: Operation not permitted"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
cub_log "control: the filter without landlock_* stops every worker"
nbad=$(grep -c "enter sandbox" "$T/broker.log")

# The unit's confinement.
start_confined "$T/allow"
wait_ready_msg 2
broker_wait_ready
st=/proc/$BROKER_PID/status
want=$(setpriv --bounding-set "-all,$bset" grep ^CapBnd: /proc/self/status | awk '{ print $2 }')
[ "$(awk '/^CapBnd:/ { print $2 }' "$st")" = "$want" ] || fail "broker CapBnd $(grep ^CapBnd: "$st"), want $want"
grep -qE '^Seccomp:\s+2$' "$st" || fail "the broker is not under the filter: $(grep ^Seccomp: "$st")"
[ "$(grep -c "enter sandbox" "$T/broker.log")" = "$nbad" ] ||
	fail "a worker failed its sandbox under the unit's filter: $(grep "enter sandbox" "$T/broker.log" | tail -1)"
cub_ok simpleforwarder add sf1 type=TC
cub_ok sf1 ports add p1 peer=vetha action=drop
cub_ok sf1 ports add p2 peer=vethb action=forward outport=p1
cub_ok sf1 ports p1 set action=forward outport=p2
pings || fail "no forwarding through sf1 under the unit's confinement"
# A helper: dynmon compiles Polycube's packet counter with its
# sandboxed clang (cubicle-dynmon-cc, run by the broker's helper.c).
cub_ok dynmon add mon1
cub_ok mon1 set dataplane-config --file "$EX/packet_counter.json"
grep -q "PKT_COUNTER" <<<"$(cub mon1 dataplane-config show -o json)" ||
	fail "mon1 did not take the packet counter under the confinement"
cub_log "confined: CapBnd $want, Seccomp 2, sf1 forwards, dynmon compiled"

# A worker kill -9: restarted, under the same limits.
old=$(worker_pid simpleforwarder)
kill -9 "$old"
sleep 0.2
broker_wait_ready
new=$(worker_pid simpleforwarder)
[ "$new" != "$old" ] && [ "$new" != 0 ] || fail "worker not restarted ($old -> $new)"
cub_ok sf1 ports p2 set action=drop
ip netns exec ca ping -c 2 -i 0.1 -W 1 198.18.0.2 >/dev/null && fail "the new worker did not apply action=drop"
cub_ok sf1 ports p2 set action=forward
pings || fail "no forwarding after the worker restart"

# A broker kill -9: the next one, confined too, adopts sf1 before READY.
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start_confined "$T/allow"
wait_ready_msg 3
grep -q "cube 'sf1': adopted pinned program id" "$T/notify.ready.3" ||
	fail "READY=1 before sf1 was adopted under the confinement"
broker_wait_ready
pings || fail "no forwarding after the confined broker's restart"
grep -q '"vethb"' <<<"$(cub sf1 show -o json)" || fail "sf1 lost its ports"
[ "$(grep -c "enter sandbox" "$T/broker.log")" = "$nbad" ] ||
	fail "a worker failed its sandbox under the unit's filter: $(grep "enter sandbox" "$T/broker.log" | tail -1)"
cub_log "confined: worker kill -9 restarted, broker kill -9 adopted before READY=1"

# The gateway, as its unit runs it.
GUNIT=$CUB_BUILD/systemd/cubicle-gateway.service
[ -f "$GUNIT" ] || fail "no $GUNIT"
mapfile -t gf < <(sed -n 's/^SystemCallFilter=//p' "$GUNIT")
[ "${#gf[@]}" = 2 ] && [ "${gf[0]#\~}" = "${gf[0]}" ] && [ "${gf[1]#\~}" != "${gf[1]}" ] ||
	fail "expected an allow-list then a ~deny-list SystemCallFilter= in $GUNIT: ${gf[*]}"
seen=()
declare -A seen
# shellcheck disable=SC2086
expand ${gf[0]} | sort -u >"$T/gw-allow0"
seen=()
declare -A seen
# shellcheck disable=SC2086
expand ${gf[1]#\~} | sort -u >"$T/gw-deny"
comm -23 "$T/gw-allow0" "$T/gw-deny" >"$T/gw-allow"
grep -qx setresuid "$T/gw-allow" && fail "the gateway's filter still allows setresuid"
grep -q '^NoNewPrivileges=yes' "$GUNIT" || fail "cubicle-gateway.service without NoNewPrivileges=yes"
grep -q '^CapabilityBoundingSet=$' "$GUNIT" || fail "cubicle-gateway.service keeps capabilities"
GW_WRAP=(setpriv --reuid 65534 --regid 65534 --init-groups --inh-caps=-all
	--bounding-set=-all --no-new-privs
	"$CUB_BUILD/tests/sd-syscall-filter" "$T/gw-allow")
# Not root, so without --user (gateway_start's own --user is for root).
"${GW_WRAP[@]}" "$GW" --socket-dir "$T/s" --listen 127.0.0.1:9000 \
	--metrics-service simpleforwarder >>"$T/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 300); do
	curl -sf -o "$T/metrics" http://127.0.0.1:9000/metrics && break
	kill -0 "$GW_PID" 2>/dev/null || fail "the confined gateway exited: $(cat "$T/gw.log")"
	sleep 0.1
done
grep -q '^cubicle_cube_info{cube="sf1"' "$T/metrics" ||
	fail "no sf1 in the confined gateway's /metrics: $(head -5 "$T/metrics") $(cat "$T/gw.log")"
st=/proc/$GW_PID/status
grep -qE '^Seccomp_filters:\s+2$' "$st" || fail "gateway: $(grep ^Seccomp_filters: "$st") (the unit's and its own expected)"
grep -qE '^CapBnd:\s+0+$' "$st" || fail "gateway: $(grep ^CapBnd: "$st")"
cub_log "gateway under its unit's filter, uid 65534, no_new_privs, empty bounding set: /metrics lists sf1"
