#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# An upgrade over a dataplane pinned by the broker before each cube had a
# hop key of its own (86a728d: one key for the whole broker, pinned in
# every cube's directory; egress programs without cub_peerkey).  That
# broker (built once into $CUB_BUILD/hopkey-old, or $CUB_OLD_BUILD) runs
# two bridges peered by cube ports, h1 behind br1, h2 behind br2; it is
# killed (-9) and this broker starts on its state and pins while h1 pings
# h2 every 20 ms: nothing is lost, the old egress programs are replaced
# (the log says so), pings still cross; a new cube (br3, a key of its
# own) peered with the adopted br2 reaches h1 through br2 and br1; br3's
# key is not the old one; deleting every cube leaves no pin.
. "$(dirname "$0")/../lib/netns.sh"
need bpftool git

old_dir=${CUB_OLD_BUILD:-$CUB_BUILD/hopkey-old/build}
old_targets=(broker/cubicled workers/cubicle-worker
	plugins/simplebridge/simplebridge.so)
have_old() {
	local t
	for t in "${old_targets[@]}"; do [ -e "$old_dir/$t" ] || return 1; done
}
if ! have_old; then
	src=$(cd "$CUB_LIB/../.." && pwd)
	dir=$CUB_BUILD/hopkey-old
	rm -rf "$dir" && mkdir -p "$dir"
	old_dir=$dir/build
	git -C "$src" archive 86a728d | tar -x -C "$dir" ||
		fail "cannot extract the broker of 86a728d"
	(cd "$dir" && meson setup build >/dev/null && ninja -C build "${old_targets[@]}" >/dev/null) ||
		fail "cannot build the broker of 86a728d"
fi

# Both brokers run the old plugin file (an upgrade of the framework alone:
# the same object bytes, so today's broker adopts them and reloads none).
start_with() { # DIR: broker_start with the cubicled and worker of DIR
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	ln -sf "$old_dir/plugins/simplebridge/simplebridge.so" "$T/plugins/"
	local e=()
	[ "$1" = "$CUB_BUILD" ] || e=(env -u LD_LIBRARY_PATH)
	"${e[@]}" "$1/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$1/workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	broker_wait_ready
}
key_of() { # CUBE: its pinned hop key's bytes
	bpftool -j map dump pinned "$T/pins/$1/hopkey" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["value"])'
}

netns_hosts TC h1:veth1:198.18.1.1 h2:veth2:198.18.1.2 h3:veth3:198.18.1.3
start_with "$old_dir"
cub_ok simplebridge add br1
cub_ok simplebridge add br2
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth2
cub_ok br2 ports add p3
cub_ok connect br1:p2 br2:p1
ip netns exec h1 ping -c 3 -i 0.2 -W 2 198.18.1.2 >/dev/null ||
	fail "the old broker: h1 cannot ping h2 across br1 and br2"
old_key=$(key_of br1)
[ "$old_key" = "$(key_of br2)" ] || fail "the old broker had one key: br1 $old_key, br2 $(key_of br2)"

ip netns exec h1 ping -i 0.02 -c 400 -W 1 198.18.1.2 >"$T/ping.out" 2>&1 &
ping_pid=$!
sleep 1
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start_with "$CUB_BUILD"
wait "$ping_pid" || true
cub_log "h1 -> h2 across the upgrade: $(grep loss "$T/ping.out")"
grep -q " 0% packet loss" "$T/ping.out" ||
	fail "pings lost across the upgrade: $(grep loss "$T/ping.out")"
ip netns exec h1 ping -c 3 -i 0.2 -W 2 198.18.1.2 >/dev/null ||
	fail "after the upgrade h1 cannot ping h2"

# br3: made by this broker (its own key), peered with the adopted br2.
cub_ok simplebridge add br3
cub_ok br3 ports add p1 peer=veth3
cub_ok br3 ports add p2
cub_ok connect br3:p2 br2:p3
ip netns exec h3 ping -c 3 -i 0.2 -W 2 198.18.1.1 >/dev/null ||
	fail "h3 (behind br3, a cube of this broker) cannot ping h1 through the adopted br2 and br1"
ip netns exec h2 ping -c 3 -i 0.2 -W 2 198.18.1.3 >/dev/null ||
	fail "h2 cannot ping h3"
[ "$(key_of br3)" != "$old_key" ] || fail "br3 has the old broker-wide key"
wait_log 2 "the egress program of an older broker replaced"

for c in br1 br2 br3; do cub_ok "$c" del; done
left=$(find "$T/pins" -mindepth 1 -maxdepth 1 -type d ! -name '_*' -printf '%f ')
[ -z "$left" ] || fail "pins left after every cube went: $left"
