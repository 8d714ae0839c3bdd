#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 10, a break of the exit check on the upgrade path, expected to
# fail (tests/meson.build, should_fail) until it is fixed.  A broker
# restart adopts a cube's pinned program without checking it
# (persist.c, bpfobj_adopt()), and the worker's replay of the same bytes
# is skipped by their hash (bpfobj_load(): "loaded (or adopted) from these
# very bytes"), so the exit check never runs on a cube loaded before it
# existed.  A broker of the commit before the check (62c13d5~1, built once
# into $CUB_BUILD/review10-old with its worker and plugins, or $CUB_OLD_BUILD) loads evil_tpass
# (PASS returns TC_ACT_OK) first before th1 (DROP) on veth1; this broker
# then starts on the same state and pins, adopts it, and every ping
# passes, though it refuses evil_tpass at add.  What the test asks: after
# the upgrade, th1 drops every ping (ev1 re-checked and refused, or
# detached).
. "$(dirname "$0")/../lib/netns.sh"

# The old broker runs with its own worker and plugins (a worker speaks
# its broker's protocol: today's dials a packet-in socket the old broker
# does not have); today's broker then runs today's worker with the very
# same plugin files, as an upgrade of the framework alone would.
old_dir=${CUB_OLD_BUILD:-$CUB_BUILD/review10-old/build}
old_targets=(broker/cubicled workers/cubicle-worker
	plugins/transparenthelloworld/transparenthelloworld.so
	plugins/testing/evil_tpass.so)
have_old() {
	local t
	for t in "${old_targets[@]}"; do [ -e "$old_dir/$t" ] || return 1; done
}
if ! have_old; then
	src=$(cd "$CUB_LIB/../.." && pwd)
	dir=$CUB_BUILD/review10-old
	rm -rf "$dir" && mkdir -p "$dir"
	old_dir=$dir/build
	git -C "$src" archive 62c13d5~1 | tar -x -C "$dir" ||
		fail "cannot extract the broker before the exit check"
	(cd "$dir" && meson setup build >/dev/null && ninja -C build "${old_targets[@]}" >/dev/null) ||
		fail "cannot build the broker before the exit check"
fi
old=$old_dir/broker/cubicled

PLUGINS=("$old_dir/plugins/transparenthelloworld/transparenthelloworld.so"
	"$old_dir/plugins/testing/evil_tpass.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
start_with() { # BROKER: broker_start with another cubicled
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	local p
	for p in "${PLUGINS[@]}"; do ln -sf "$p" "$T/plugins/"; done
	# The old broker finds its own libraries by its rpath: under ASan
	# LD_LIBRARY_PATH names instrumented ones it cannot load.
	local e=()
	[ "$1" = "$CUB_BUILD/broker/cubicled" ] || e=(env -u LD_LIBRARY_PATH)
	"${e[@]}" "$1" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$(dirname "$1")/../workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	broker_wait_ready
}

start_with "$old"
cub_ok transparenthelloworld add th1
cub_ok th1 set ingress-action=DROP
cub_ok attach th1 veth1
cub_ok evil_tpass add ev1
cub_ok attach ev1 veth1 position=first
ip netns exec ca ping -c 5 -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 || true
cub_log "the old broker: ev1 before th1: $(grep loss "$T/ping.out")"

kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start_with "$CUB_BUILD/broker/cubicled"
for _ in $(seq 1 50); do
	cub services 2>/dev/null | grep -q "evil_tpass .*running" && break
	sleep 0.2
done
sleep 1
cub_log "this broker: $(cub topology show veth1 | grep -E 'ingress service chain')"
ip netns exec ca ping -c 10 -i 0.05 -W 1 198.18.0.2 >"$T/ping.out" 2>&1 || true
cub_log "this broker: $(grep loss "$T/ping.out")"
grep -q " 100% packet loss" "$T/ping.out" ||
	fail "BREAK: after the upgrade the adopted, never checked ev1 (evil_tpass) still skips th1: $(grep loss "$T/ping.out")"
