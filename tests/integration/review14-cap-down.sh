#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# review14 (d2ae7f8): cubicled's caps lowered while it was down leave
# the programs they refuse running.
#  1. --max-cube-map-bytes is part of the rules (rules_of()), but a
#     restart with a cap under the cube's maps (100000 bytes; u1's maps
#     are about 385 KB) and under the service's policy makes the broker
#     refuse the hello, so nothing loads and nothing is retired: u1,
#     adopted, forwards on, pinned, with no worker (architecture.md calls
#     this out; the promise is that such a program never keeps running).
#  2. --max-service-map-bytes is not part of the rules: a restart with a
#     cap under what the service's three cubes hold (about 3 x 385 KB)
#     but over one cube's adopts all three and skips their replayed
#     loads; all keep running over the cap, while a new cube is refused.
# Fixed: both caps are in the rules; with no load (1) the program is
# retired at --vet-timeout, and (2) the replayed loads are checked, the
# first over the cap refused and retired.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/upgrade.sh"
need tc

pinned() { find "$T/pins" -name prog 2>/dev/null | grep -c '/u[0-9]*/' || true; }
restart() { # ARGS for cubicled
	kill "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	CUB_BROKER_ARGS="$*"
	"$CUB_BUILD/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$CUB_BUILD/workers/cubicle-worker" $CUB_BROKER_ARGS \
		>>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	for _ in $(seq 1 100); do cub services >/dev/null 2>&1 && break; sleep 0.1; done
}

install_plugin v1
netns_host ca vetha 198.18.0.1
netns_host cb vethb 198.18.0.2
static_arp ca 198.18.0.1 cb 198.18.0.2
broker_start
cub_ok upgrade add u1 color=red
cub_ok u1 ports add p1 peer=vetha
cub_ok u1 ports add p2 peer=vethb action=forward outport=p1
cub_ok u1 ports p1 set action=forward outport=p2
cub_ok upgrade add u2
cub_ok upgrade add u3
pings || fail "no forwarding through u1"
bad=

# 1. The per-cube cap under u1's maps.
restart --max-cube-map-bytes 100000 --vet-timeout 2000
wait_log 1 "cube 'u1': program id [0-9]+ retired"
cub_log "1: $(cub services | grep -E '^upgrade ' | tr -s ' ' | cut -c1-60); $(grep -c 'hello refused\|is over cubicled' "$T/broker.log") refusals"
grep -q "is over cubicled's --max-cube-map-bytes 100000" "$T/broker.log" ||
	fail "1: the hello was not refused for the cap (the case under test)"
no_pings || bad+=" 1: u1 (maps of ~385 KB) forwards under --max-cube-map-bytes 100000 ($(pinned) programs pinned);"

# 2. The per-service cap under what the three cubes hold.
restart
broker_wait_ready
for _ in $(seq 1 100); do pings && break; sleep 0.2; done
n=$(grep -cE "cube 'u[0-9]': program id [0-9]+ retired" "$T/broker.log" || true)
restart --max-service-map-bytes 800000 --vet-timeout 2000
broker_wait_ready
wait_log $((n + 1)) "cube 'u[0-9]': program id [0-9]+ retired"
out=$(cub upgrade add u4 2>&1) && fail "2: u4 added over --max-service-map-bytes 800000"
grep -q "max-service-map-bytes" <<<"$out" || fail "2: u4's refusal: $out"
cub_log "2: u4 refused ($out); pinned: $(pinned)"
[ "$(pinned)" -le 2 ] || bad+=" 2: $(pinned) cubes of ~385 KB run under --max-service-map-bytes 800000, never retired;"
[ -z "$bad" ] || fail "programs run under caps that refuse them:$bad"
