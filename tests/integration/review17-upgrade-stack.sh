#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 17 (issue 6): a broker upgrade over a stack pinned by the broker
# before cells and links (bdc02a9: slots, an "end" pin, no "links" pin).
# tp_adopt() (broker/tcube.c) fails on the missing "links" pin; tp_new()
# then finds the old broker's own tstack_ingress at handle 0xc0bf prio 1
# and refuses it as "someone else's filter", so the cube is "not attached
# again" and tp_stray() unpins the old stack without taking its filters
# off (it cannot adopt it either).  The old filters stay on the netdev
# with their tstack_progs flushed (no user reference left): every packet
# on the netdev is dropped, by a stack no broker knows, and the cube the
# store says is attached is not.  tp_unpin() knows the "end" pin: the
# upgrade was meant to work.  What the test asks: after the upgrade the
# cube is still attached to veth1, its (PASS) stack lets pings through,
# and only the new broker's programs are at 0xc0bf.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool python3

old_rev=bdc02a9 # "tests: policy-narrow ...", the commit before the cells
old_dir=${CUB_OLD_BUILD:-$CUB_BUILD/review17-old/build}
old_targets=(broker/cubicled workers/cubicle-worker
	plugins/transparenthelloworld/transparenthelloworld.so)
have_old() {
	local t
	for t in "${old_targets[@]}"; do [ -e "$old_dir/$t" ] || return 1; done
}
if ! have_old; then
	src=$(cd "$CUB_LIB/../.." && pwd)
	dir=$CUB_BUILD/review17-old
	rm -rf "$dir" && mkdir -p "$dir"
	old_dir=$dir/build
	git -C "$src" archive "$old_rev" | tar -x -C "$dir" ||
		fail "cannot extract the broker of $old_rev"
	(cd "$dir" && meson setup build >/dev/null && ninja -C build "${old_targets[@]}" >/dev/null) ||
		fail "cannot build the broker of $old_rev"
fi
old=$old_dir/broker/cubicled

PLUGINS=("$old_dir/plugins/transparenthelloworld/transparenthelloworld.so")
host_peer ca veth1 198.18.0.1 198.18.0.2
start_with() { # BROKER
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	local p
	for p in "${PLUGINS[@]}"; do ln -sf "$p" "$T/plugins/"; done
	local e=()
	[ "$1" = "$CUB_BUILD/broker/cubicled" ] || e=(env -u LD_LIBRARY_PATH)
	"${e[@]}" "$1" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$(dirname "$1")/../workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	broker_wait_ready
}
ping_a() { ip netns exec ca ping -c 1 -W 2 198.18.0.2 >/dev/null; }

start_with "$old"
cub_ok transparenthelloworld add t1
cub_ok attach t1 veth1
ping_a || fail "no ping through t1 (PASS) under the old broker"
[ -e "$T/pins/_tstack/veth1/end" ] || fail "the old broker pinned no 'end': not the layout this test is about"
[ ! -e "$T/pins/_tstack/veth1/links" ] || fail "the old broker pinned 'links': not the layout this test is about"
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
ping_a || fail "no ping with the old broker stopped (the dataplane stays)"

start_with "$CUB_BUILD/broker/cubicled"
sleep 1
cub topology show veth1 >/dev/null 2>&1 ||
	fail "after the upgrade t1 is not attached to veth1 any more (the store says it is): $(grep -E "t1|veth1" "$T/broker.log" | grep -vE "^<6>.*(loaded|adopted)" | tail -4)"
ping_a || fail "after the upgrade no ping passes veth1 (t1 PASS): the old stack's filter is left, its programs flushed: $(tc filter show dev veth1 ingress | grep -o 'handle 0xc0bf.*name [a-z_]*')"
ids=$(tc filter show dev veth1 ingress | grep -o 'handle 0xc0bf.* id [0-9]*' | grep -o '[0-9]*$')
pinned=$(bpftool -j prog show pinned "$T/pins/_tstack/veth1/ingress" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') ||
	fail "no stack pinned for veth1 after the upgrade"
[ "$ids" = "$pinned" ] || fail "veth1's filter at 0xc0bf runs $ids, the pinned stack is $pinned"
cub_log "a stack of the broker before cells and links is adopted or rebuilt at an upgrade"
