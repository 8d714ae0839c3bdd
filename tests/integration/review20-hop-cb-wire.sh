#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (hop key, TC): a hop into a cube carries the cube's key in
# skb->cb[0] (key[0]) and cb[2] (key[1] but for its low byte, the port).
# cub_in_port_tc() reads them and clears nothing; cub_forward() then
# overwrites cb[0] with the out-port, and the egress program
# (bpf/egress.bpf.c cub_egress_tc()) clears only cb[1] on a redirect to a
# netdev.  cb[2] leaves with the packet, and veth keeps skb->cb across
# the pair (review19-hop-wire-tc): a host behind a netdev port with a TC
# ingress program of its own reads 24 of the 56 bits of the key of the
# cube that sent it the packet, off every packet that crossed a cube
# peering.  What is left to guess is the 32-bit key[0], the secret
# review 19 called guessable in about an hour of frames (the reason the
# key grew to 56 bits).  br1: p1 = veth1 (h1), p2 -> br2:p1; br2: p2 =
# veth2 (h2); h1 sends 0x88b5 frames to h2, h2's ingress program records
# their cb words in a map of its own.
. "$(dirname "$0")/../lib/netns.sh"
need python3 bpftool clang tc

PLUGINS+=("$CUB_BUILD/plugins/simplebridge/simplebridge.so")
FRAMES="$CUB_LIB/l2frames.py"
netns_hosts TC h1:veth1:198.18.0.1 h2:veth2:198.18.0.2
broker_start
mac_of() { ip -n "$1" -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2; }
cub_ok simplebridge add br1
cub_ok simplebridge add br2
cub_ok br1 ports add p1 peer=veth1
cub_ok br1 ports add p2
cub_ok br2 ports add p1
cub_ok br2 ports add p2 peer=veth2
cub_ok connect br1:p2 br2:p1
ip netns exec h1 ping -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || fail "h1 cannot ping h2 across br1 - br2"

cat >"$T/peek.bpf.c" <<'C'
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 3);
} r20_seen SEC(".maps");
SEC("tc") int peek(struct __sk_buff *s)
{
	__u32 k, v;

	if (s->protocol != bpf_htons(0x88b5))
		return TC_ACT_OK;
	k = 0; v = s->cb[0]; bpf_map_update_elem(&r20_seen, &k, &v, 0);
	k = 1; v = s->cb[1]; bpf_map_update_elem(&r20_seen, &k, &v, 0);
	k = 2; v = s->cb[2]; bpf_map_update_elem(&r20_seen, &k, &v, 0);
	return TC_ACT_OK;
}
char _license[] SEC("license") = "GPL";
C
clang -O2 -g -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -c "$T/peek.bpf.c" -o "$T/peek.o" || fail "clang"
ip netns exec h2 tc qdisc replace dev eth0 clsact
ip netns exec h2 tc filter replace dev eth0 ingress pref 1 handle 1 bpf da obj "$T/peek.o" sec tc ||
	fail "tc filter on h2"
pid=$(ip netns exec h2 tc -j filter show dev eth0 ingress | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    p = f.get("options", {}).get("prog", {}).get("id")
    if p: print(p); break')
mid=$(bpftool -j prog show id "$pid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["map_ids"][0])')
ip netns exec h1 python3 "$FRAMES" eth0 "$(mac_of h2)" "$(mac_of h1)" 3 >/dev/null
sleep 0.3
read -r c0 c1 c2 <<<"$(bpftool -j map dump id "$mid" | python3 -c '
import json, sys
d = {}
for e in json.load(sys.stdin):
    k = e["key"]; v = e["value"]
    k = int.from_bytes(bytes(int(x, 16) for x in k), "little") if isinstance(k, list) else int(k)
    v = int.from_bytes(bytes(int(x, 16) for x in v), "little") if isinstance(v, list) else int(v)
    d[k] = v
print(d.get(0, 0), d.get(1, 0), d.get(2, 0))')"
k1=$(bpftool -j map dump pinned "$T/pins/br2/hopkey" | python3 -c '
import json, sys
b = bytes(int(x, 16) for x in json.load(sys.stdin)[0]["value"])
print(int.from_bytes(b[4:8], "little"))')
cub_log "h2's ingress saw cb = $c0 $c1 $(printf 0x%08x "$c2"); br2's key[1] $(printf 0x%08x "$k1")"
[ "$c1" = 0 ] || cub_log "(cb[1] is not cleared either: $c1)"
[ $((c2 & 0xffffff00)) -ne $((k1 & 0xffffff00)) ] ||
	fail "a host behind br2:p2 reads 24 bits of br2's hop key (cb[2] = $(printf 0x%08x "$c2"), key[1] $(printf 0x%08x "$k1")) off a frame br2 got from br1 through their peering"
