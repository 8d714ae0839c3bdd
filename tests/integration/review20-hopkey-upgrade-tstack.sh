#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (hop key, 725bdae): an upgrade from 86a728d over a cube port
# with a transparent stack.  The egress half that runs after a cube
# port's egress stack (the attach point's "final" program,
# cubi_egress_load_after_stack()) writes the hop into the peer; the old
# broker's took the one broker-wide key (cub_hopkey).  At adoption
# egress_upgrade() (broker/bpfobj.c) replaces each cube's egress program,
# but tcube.c tp_wire_port() adopts the pinned final program as it is
# (final_adopt(): it uses the cube's cub_ports), so it keeps writing the
# old key.  A cube made by today's broker (br3, a key of its own) peered
# with that port then gets hops with the wrong key: nothing from br2's
# p3 reaches br3 (h1 and h3 cannot ping), where hopkey-upgrade.sh (no
# stack) passes.  The old broker is built once (tests/lib/review20-old.sh:
# hopkey-upgrade.sh's $CUB_BUILD/hopkey-old if it has it, else
# $CUB_BUILD/review20-old).
# br1: p1 = veth1 (h1), p2 -> br2:p1; br2: p2 = veth2 (h2), p3 (a
# transparenthelloworld, PASS, attached); after the upgrade br3: p1 =
# veth3 (h3), p2 -> br2:p3.
. "$(dirname "$0")/../lib/netns.sh"
need git flock bpftool python3

. "$CUB_LIB/review20-old.sh"
old_build 86a728d review20-old broker/cubicled workers/cubicle-worker plugins/simplebridge/simplebridge.so plugins/transparenthelloworld/transparenthelloworld.so

# Both brokers run the old plugin files (the framework's upgrade alone).
start_with() { # DIR: the cubicled and worker of DIR
	mkdir -p "$T/plugins" "$T/s" "$T/st"
	ln -sf "$old_dir/plugins/simplebridge/simplebridge.so" "$T/plugins/"
	ln -sf "$old_dir/plugins/transparenthelloworld/transparenthelloworld.so" "$T/plugins/"
	local e=()
	[ "$1" = "$CUB_BUILD" ] || e=(env -u LD_LIBRARY_PATH)
	"${e[@]}" "$1/broker/cubicled" --socket-dir "$T/s" --state-dir "$T/st" \
		--pin-root "$T/pins" --plugin-dir "$T/plugins" \
		--worker "$1/workers/cubicle-worker" >>"$T/broker.log" 2>&1 &
	BROKER_PID=$!
	broker_wait_ready
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
cub_ok transparenthelloworld add t1
cub_ok attach t1 br2:p3
ip netns exec h1 ping -c 3 -i 0.2 -W 2 198.18.1.2 >/dev/null ||
	fail "the old broker: h1 cannot ping h2 across br1 and br2"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start_with "$CUB_BUILD"
ip netns exec h1 ping -c 3 -i 0.2 -W 2 198.18.1.2 >/dev/null ||
	fail "after the upgrade h1 cannot ping h2"
wait_log 2 "the egress program of an older broker replaced"

cub_ok simplebridge add br3
cub_ok br3 ports add p1 peer=veth3
cub_ok br3 ports add p2
cub_ok connect br3:p2 br2:p3
# Which key map the adopted final program of br2:p3 reads.
final_maps() {
	local f
	f=$(find "$T/pins" -name final | head -1)
	[ -n "$f" ] || { echo "(no final pin)"; return; }
	bpftool -j prog show pinned "$f" | python3 -c '
import json, subprocess, sys
names = []
for i in json.load(sys.stdin).get("map_ids", []):
    m = json.loads(subprocess.check_output(["bpftool", "-j", "map", "show", "id", str(i)]))
    names.append(m.get("name", "?"))
print(" ".join(sorted(names)))'
}
cub_log "the maps of br2:p3's after-stack egress program: $(final_maps)"
out=$(ip netns exec h3 ping -c 3 -i 0.2 -W 2 198.18.1.1 2>&1 | grep loss || true)
cub_log "h3 (behind br3) -> h1 through br2:p3's stack (t1): $out"
ip netns exec h3 ping -c 3 -i 0.2 -W 2 198.18.1.1 >/dev/null ||
	fail "h3, behind br3 (a cube of today's broker), cannot ping h1 through the adopted br2's p3 and its stack: $out"
