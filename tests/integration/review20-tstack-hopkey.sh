#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (hop key, 725bdae "one per cube"): the claim is that no cube
# can learn another cube's key.  A transparent cube attached to a cube
# port that peers with another cube runs in the port's ingress stack,
# which the peer's egress program enters by tail call with the hop
# already in skb->cb: cb[0] = the port's cube's key[0], cb[2] = its
# key[1] but for the low byte (the port).  tstack_enter()
# (bpf/tstack.bpf.c) saves cb[0..2] and tstack_finish() restores them,
# but nothing clears them for the stack's cubes, so the transparent
# cube reads the whole TC hop secret of a cube of another service.
# plugins/testing/review20_tcb (a transparenthelloworld whose PASS
# copies cb[0..2] into a 0x88b5 frame) on br2:p1, br1:p2 -> br2:p1: n1
# sends such a frame to n2; what n2 receives holds br2's key (the pinned
# br2/hopkey), and n2, with a TC egress program of its own writing those
# words into cb (as review19-hop-wire-tc), forges hops into br2: frames
# it sends into br2:p2 are learned behind br2:p1 (a wrong key, the
# control, behind p2).
. "$(dirname "$0")/../lib/netns.sh"
need python3 bpftool clang tc

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC n1:veth1:198.18.0.1 n2:veth2:198.18.0.2
mkdir -p "$T/plugins"
cp "$CUB_BUILD/plugins/testing/review20_tcb.so" "$T/plugins/transparenthelloworld.so"
broker_start
mac_of() { ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2; }
key_hex() { # CUBE: its pinned hop key's 8 bytes, in memory order
	bpftool -j map dump pinned "$T/pins/$1/hopkey" | python3 -c '
import json, sys
print("".join("%02x" % int(b, 16) for b in json.load(sys.stdin)[0]["value"]))'
}

cub_ok simplebridge add br1
cub_ok simplebridge add br2
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth2
cub_ok connect br1:p2 br2:p1
cub_ok transparenthelloworld add t2
cub_ok attach t2 br2:p1
ip netns exec n1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "n1 cannot ping n2 across br1, t2 and br2"

cat >"$T/sniff.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("eth0", 0))
s.settimeout(0.2)
end = time.time() + 5
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if len(f) >= 26 and f[12:14] == b"\x88\xb5":
        print(f[14:26].hex())
        break
PY
ip netns exec n2 python3 "$T/sniff.py" >"$T/cb" &
sp=$!
sleep 0.5
ip netns exec n1 python3 "$FRAMES" eth0 "$(mac_of n2)" "$(mac_of n1)" 3 >/dev/null
wait $sp || true
cb=$(cat "$T/cb")
key=$(key_hex br2)
cub_log "cb[0..2] as t2 read them, off n2's wire: '$cb'; br2's key: $key; br1's: $(key_hex br1)"
[ -n "$cb" ] || fail "no 0x88b5 frame reached n2 (the test is wrong)"
bad=""
[ "${cb:0:8}" = "${key:0:8}" ] &&
	bad="t2, a transparent cube of another service on br2:p1, read br2's hop key from skb->cb (cb[0] = ${cb:0:8} = br2's key[0]; cb[2] = ${cb:16:8}) and sent it onto n2's wire"

# n2 (a host with its own TC egress program, as review19-hop-wire-tc)
# writes the words it read into the cb of what it sends into br2:p2:
# br2 takes its frames as from p1, its cube-peer port.
w0=$(python3 -c "print(int.from_bytes(bytes.fromhex('${cb:0:8}'), 'little'))")
w2=$(python3 -c "print(int.from_bytes(bytes.fromhex('${cb:16:8}'), 'little'))")
forge() {
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
	ip netns exec n2 tc qdisc replace dev eth0 clsact
	ip netns exec n2 tc filter replace dev eth0 egress pref 1 handle 1 bpf da obj "$T/forge.o" sec tc ||
		fail "tc filter on n2"
}
fdb_port() {
	cub br2 fdb entry "$1" show -o json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)["port"])' 2>/dev/null || true
}
forge $(((w0 ^ 1) & 0xffffffff)) "$w2"
ip netns exec n2 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:20:00:01 5 >/dev/null
sleep 0.3
ctl=$(fdb_port 02:00:00:20:00:01)
[ "$ctl" = p2 ] || fail "control (a wrong key): 02:00:00:20:00:01 from n2 learned behind '$ctl', not p2"
forge "$w0" "$w2"
ip netns exec n2 python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:20:00:02 5 >/dev/null
sleep 0.3
got=$(fdb_port 02:00:00:20:00:02)
cub_log "with the words t2 leaked: 02:00:00:20:00:02 (sent by n2 into veth2) learned behind '$got'"
[ "$got" = p2 ] || bad="${bad:+$bad; }with them n2 forges hops into br2: its frames into br2:p2 are taken as from br2:p1 (learned behind '$got')"
[ -z "$bad" ] || fail "$bad"
cub_log "t2 saw no key of br2 in cb"
