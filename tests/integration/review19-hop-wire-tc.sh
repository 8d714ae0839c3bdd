#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (the hop key, TC): cub_in_port_tc() (bpf/include/cubicle/
# cube.bpf.h) now trusts skb->cb[0..2] (the key's first word,
# CUB_HOP_MAGIC, a port) BEFORE the ingress netdev, on the grounds that
# "TC's cb words are what the kernel left there" (docs/architecture.md,
# cube_shared.h struct cub_hopkey).  They are what the SENDER left
# there: a host behind a veth that has CAP_NET_ADMIN in its own
# namespace (a container) attaches a TC egress program to its eth0 that
# writes cb[]; veth keeps skb->cb across the pair, so the cube's TC
# ingress sees them.  All that is left between a wire and a forged hop
# is 32 bits of key, and there is no oracle-free limit on tries (one
# frame each, at line rate: 2^32 frames is about an hour here).  The
# test reads the key from its pin, standing in for the guess: with it,
# frames h1 sends in by br1's netdev port p1 are taken as coming from
# p3, br1's cube-peer port (br1 learns h1's source MAC behind p3); a
# wrong key, the control, is learned behind p1.  A hop's trust should
# not rest on cb words a sender can write (the netdev first unless the
# packet really came through the egress program: e.g. a tail call's
# per-CPU mark the egress program sets and the ingress clears, which
# nothing outside BPF can set).
# br1 (simplebridge, TC): p1 = veth1 (h1), p2 = veth2 (h2), p3 peers
# br2:p1 (simplebridge, TC); br2:p2 = veth3 (h3).
. "$(dirname "$0")/../lib/netns.sh"
need python3
need clang
need tc
need bpftool

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC h1:veth1:198.18.0.1 h2:veth2:198.18.0.2 h3:veth3:198.18.0.3
broker_start

cub_ok simplebridge add br1
cub_ok simplebridge add br2
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
cub_ok br1 ports add p3
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth3
cub_ok connect br1:p3 br2:p1
ip netns exec h1 ping -c 2 -i 0.2 -W 2 198.18.0.3 >/dev/null || fail "h1 cannot ping h3 across br1 - br2"
idx3=$(cub br1 ports p3 show index)
key0=$(bpftool -j map dump pinned "$T/pins/br1/hopkey" | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
v = d.get("value")
b = bytes(int(x, 16) for x in v[:4]) if isinstance(v, list) else None
print(int.from_bytes(b, "little"))')
[ -n "$key0" ] || fail "cannot read the hop key's first word"
cub_log "br1:p3 index $idx3; hop key word 0 read from the pin"

# h1's egress program: cb[0] = $1, cb[1] = CUB_HOP_MAGIC, cb[2] = p3.
forge() {
	cat >"$T/forge.bpf.c" <<C
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
__attribute__((section("tc"), used)) int forge(struct __sk_buff *s)
{
	s->cb[0] = $1u;
	s->cb[1] = 0xc0be4e71u;
	s->cb[2] = ${idx3}u;
	return TC_ACT_OK;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
C
	clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c "$T/forge.bpf.c" -o "$T/forge.o" || fail "clang"
	ip netns exec h1 tc qdisc replace dev eth0 clsact
	ip netns exec h1 tc filter replace dev eth0 egress pref 1 handle 1 bpf da obj "$T/forge.o" sec tc ||
		fail "tc filter on h1"
}
fdb_port() {
	cub br1 fdb entry "$1" show -o json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)["port"])' 2>/dev/null || true
}

# Control: a wrong key: learned behind p1, where it came in.
forge $(((key0 ^ 1) & 0xffffffff))
ip netns exec h1 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:19:00:01 5 >/dev/null
sleep 0.3
ctl=$(fdb_port 02:00:00:19:00:01)
[ "$ctl" = p1 ] || fail "control (wrong key): 02:00:00:19:00:01 learned behind '$ctl', not p1"

forge "$key0"
ip netns exec h1 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:19:00:02 5 >/dev/null
sleep 0.3
got=$(fdb_port 02:00:00:19:00:02)
cub_log "with the key: 02:00:00:19:00:02 (sent by h1 into veth1) learned behind '$got'"
[ "$got" = p1 ] || fail "h1's frames with cb[] = (key, CUB_HOP_MAGIC, $idx3) from the wire are taken as from br1's cube-peer port: learned behind '$got', not p1"
