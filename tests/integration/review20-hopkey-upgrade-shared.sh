#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (hop key, 725bdae): "no cube can learn another cube's key"
# does not hold for the cubes an upgrade from 86a728d adopts.  That
# broker pinned ONE key in every cube's directory; today's broker takes
# each cube's key from its pin (bpfobj.c bpfobj_hopkey_fd()), keeps it
# across reloads and restarts, and egress_upgrade() fills every
# cub_peerkey with it: every adopted cube keeps sharing the one key, with
# no way to get a key of its own short of deleting the cube.  So review
# 19's attack lives on after the upgrade: a cube that reads its own key
# (allowed: cub_hopkey is in its object; evil_hopleak writes it into
# frames) hands a wire every other adopted cube.  Here br1 (tenant A)
# and br2 (tenant B) are made by the old broker; after the upgrade the
# test reads br1's key from br1's pin (standing in for br1's own program
# leaking it), and h2, behind br2 with a TC egress program of its own (as
# review19-hop-wire-tc), writes it into cb: br2 takes h2's frames into
# br2:p2 as from br2:p1, its cube-peer port.  The old broker is built
# once (tests/lib/review20-old.sh: hopkey-upgrade.sh's
# $CUB_BUILD/hopkey-old if it has it, else $CUB_BUILD/review20-old).
. "$(dirname "$0")/../lib/netns.sh"
need git flock bpftool python3 clang tc

FRAMES="$CUB_LIB/l2frames.py"
. "$CUB_LIB/review20-old.sh"
old_build 86a728d review20-old broker/cubicled workers/cubicle-worker plugins/simplebridge/simplebridge.so
start_with() { # DIR: the cubicled and worker of DIR, the old plugin
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
key_words() { # CUBE: its pinned key as two words, "k0 k1"
	bpftool -j map dump pinned "$T/pins/$1/hopkey" | python3 -c '
import json, sys
b = bytes(int(x, 16) for x in json.load(sys.stdin)[0]["value"])
print(int.from_bytes(b[:4], "little"), int.from_bytes(b[4:8], "little"))'
}

netns_hosts TC h1:veth1:198.18.1.1 h2:veth2:198.18.1.2
start_with "$old_dir"
cub_ok simplebridge add br1
cub_ok simplebridge add br2
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth2
cub_ok connect br1:p2 br2:p1
ip netns exec h1 ping -c 2 -i 0.2 -W 2 198.18.1.2 >/dev/null || fail "the old broker: h1 cannot ping h2"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
start_with "$CUB_BUILD"
ip netns exec h1 ping -c 2 -i 0.2 -W 2 198.18.1.2 >/dev/null || fail "after the upgrade h1 cannot ping h2"
wait_log 2 "the egress program of an older broker replaced"

read -r a0 a1 <<<"$(key_words br1)"
read -r b0 b1 <<<"$(key_words br2)"
cub_log "after the upgrade: br1's key $a0/$a1, br2's $b0/$b1"
idx1=$(cub br2 ports p1 show index)

forge() { # CB0 CB2: h2's egress program writes a hop into cb
	cat >"$T/forge.bpf.c" <<C
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
__attribute__((section("tc"), used)) int forge(struct __sk_buff *s)
{
	s->cb[0] = $1u;
	s->cb[1] = 0xc0be4e71u;
	s->cb[2] = $2u;
	return TC_ACT_OK;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
C
	clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c "$T/forge.bpf.c" -o "$T/forge.o" || fail "clang"
	ip netns exec h2 tc qdisc replace dev eth0 clsact
	ip netns exec h2 tc filter replace dev eth0 egress pref 1 handle 1 bpf da obj "$T/forge.o" sec tc ||
		fail "tc filter on h2"
}
fdb_port() {
	cub br2 fdb entry "$1" show -o json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)["port"])' 2>/dev/null || true
}
cb2=$(((a1 & 0xffffff00) | idx1))
forge $(((a0 ^ 1) & 0xffffffff)) "$cb2"
ip netns exec h2 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:20:01:01 5 >/dev/null
sleep 0.3
ctl=$(fdb_port 02:00:00:20:01:01)
[ "$ctl" = p2 ] || fail "control (a wrong key): 02:00:00:20:01:01 from h2 learned behind '$ctl', not p2"
forge "$a0" "$cb2"
ip netns exec h2 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:20:01:02 5 >/dev/null
sleep 0.3
got=$(fdb_port 02:00:00:20:01:02)
cub_log "h2's frames with br1's key in cb: 02:00:00:20:01:02 learned behind '$got'"
bad=""
[ "$a0/$a1" != "$b0/$b1" ] || bad="br1 and br2 share one hop key after the upgrade"
[ "$got" = p2 ] || bad="${bad:+$bad; }with br1's key h2 forges hops into br2 (its frames into br2:p2 learned behind '$got', br2's cube-peer port)"
[ -z "$bad" ] || fail "$bad"
