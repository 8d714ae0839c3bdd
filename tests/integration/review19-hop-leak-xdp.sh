#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 19 (the hop key, XDP): every cube program can read the broker's
# hop key (cube.bpf.h declares cub_hopkey in every cube, read-only), and
# the key is one for the whole broker.  The XDP egress program
# (bpf/egress.bpf.c egress_hop_forged()) drops only a frame to a netdev
# that STARTS with a hop and the key; a hostile cube that writes the key
# anywhere else in a frame it forwards (plugins/testing/
# evil_hopleak.bpf.c: right after the Ethernet header) sends it onto a
# wire.  From then on anyone on any wire of this broker forges hops:
# a host behind br1 (another tenant's simplebridge, XDP) sends a frame
# that starts with struct cub_hop {CUB_HOP_MAGIC, br1:p3, key} and br1
# takes it as coming from p3, its cube-peer port (it learns the frame's
# source MAC behind p3).  docs/architecture.md leaves only "a cube that
# bounces (XDP_TX) such a frame onto a veth"; the leak reaches every
# cube of the broker from any host.  A cube should not be able to read
# the key (a per-peering secret the egress program alone holds, or the
# hop's trust not resting on bytes that can reach a wire).
# (XDP_SKB here: on XDP_DRV cb saw nothing of e1's frames, cause not
# established; on TC the key leaks the same, and its first word is the
# whole of a TC hop's secret: review19-hop-wire-tc.)
# e1 (evil, $1, default XDP_SKB): p1 = vetha (ca), p2 = vethb (cb).
# br1 (simplebridge): p1 = veth1 (h1), p2 = veth2 (h2), p3 peers br2:p1.
. "$(dirname "$0")/../lib/netns.sh"
need python3

HOOK=${1:-XDP_SKB}
PLUGINS+=("$CUB_BUILD/plugins/testing/evil.so" "$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts "$HOOK" ca:vetha:198.18.0.1 cb:vethb:198.18.0.2 \
	h1:veth1:198.18.1.1 h2:veth2:198.18.1.2
broker_start

cub_ok evil add e1 type="$HOOK"
cub_ok e1 ports add p1 peer=vetha action=drop
cub_ok e1 ports add p2 peer=vethb action=drop
cub_ok simplebridge add br1 type="$HOOK"
cub_ok simplebridge add br2 type="$HOOK"
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2 peer=veth2
cub_ok br1 ports add p3
cub_ok br2 ports add p1
cub_ok connect br1:p3 br2:p1
ip netns exec h1 ping -c 2 -i 0.2 -W 2 198.18.1.2 >/dev/null || fail "h1 cannot ping h2 across br1"
idx3=$(cub br1 ports p3 show index)
p2idx=$(cub e1 ports p2 show index)

# The leak: e1's program writes the key after the Ethernet header of what
# comes in and forwards it out of p2; cb listens.
err=$(cub e1 debug egress object=hop-leak ifindex="$p2idx" 2>&1) || true
cub_log "hop-leak: $err"
cat >"$T/sniff.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("eth0", 0))
s.settimeout(0.2)
end = time.time() + 5
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if len(f) >= 22 and f[12:14] == b"\x88\xb5" and f[14:22] != b"\0" * 8:
        print(f[14:22].hex())
        break
PY
ip netns exec cb python3 "$T/sniff.py" >"$T/key" &
sp=$!
sleep 0.5
ip netns exec ca python3 "$FRAMES" eth0 ff:ff:ff:ff:ff:ff 02:00:00:19:00:0a 3 >/dev/null
wait $sp || true
key=$(cat "$T/key")
cub_log "the key as cb (a host) read it off vethb: '${key:+(8 bytes)}'"
[ -n "$key" ] || fail "no key leaked to cb (e1's hop-leak object not loaded? $err)"

# h1 forges a hop into br1 with it: "from p3".
cat >"$T/forge.py" <<'PY'
import socket, struct, sys
key = bytes.fromhex(sys.argv[1])
idx = int(sys.argv[2])
src = bytes(int(x, 16) for x in sys.argv[3].split(":"))
hop = struct.pack("<II", 0xc0be4e71, idx) + key
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(3):
    s.send(hop + b"\xff" * 6 + src + b"\x88\xb5" + b"\0" * 46)
PY
fdb_port() {
	cub br1 fdb entry "$1" show -o json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin)["port"])' 2>/dev/null || true
}
# Control: a wrong key is not a hop.
wrong=$(python3 -c "import sys; b=bytearray.fromhex('$key'); b[0]^=1; print(b.hex())")
ip netns exec h1 python3 "$T/forge.py" "$wrong" "$idx3" 02:00:00:19:00:01
sleep 0.3
ctl=$(fdb_port 02:00:00:19:00:01)
[ "$ctl" != p3 ] || fail "control: a hop with a wrong key was taken as from p3"
ip netns exec h1 python3 "$T/forge.py" "$key" "$idx3" 02:00:00:19:00:02
sleep 0.3
got=$(fdb_port 02:00:00:19:00:02)
cub_log "a frame h1 sent into veth1 with the leaked key: 02:00:00:19:00:02 learned behind '$got'"
[ "$got" != p3 ] || fail "with the key e1 leaked onto vethb, h1's frame into br1:p1 (veth1) is taken as from br1:p3, its cube-peer port"
