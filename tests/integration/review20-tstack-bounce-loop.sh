#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Review 20 (tstack cub_bounce(), d5f4fb4): a frame a transparent cube
# bounces at TC ingress goes out of the same netdev by bpf_redirect()
# (bpf/tstack.bpf.c tstack_bounced()), through that netdev's clsact
# egress, so its egress stack runs on it; a cube there that bounces it
# sends it into the host as received on the netdev (BPF_F_INGRESS), where
# the ingress stack runs on it again: tstack_bounced() clears cb[0..3]
# and marks nothing, so nothing ends the cycle.  One frame from a wire
# circles between the two directions for as long as the cube stays
# attached, in softirq, and never reaches the wire it was bounced to.
# plugins/testing/review20_tcb bounces a 0x88b6 frame in either
# direction (a reflector such as REJECT, made simple); ca sends ONE such
# frame to the host: it should be seen by the cube a bounded number of
# times (once per direction it crossed) and end; here the cube counted
# thousands a second.  Fixed: the egress bounce of a packet that came in
# by a netdev (here, the ingress bounce's answer leaving) is dropped.  (A REJECT answer is not itself
# rejected by iptables' rules here, so iptables alone does not loop; any
# transparent cube that bounces what it bounced does.)
. "$(dirname "$0")/../lib/netns.sh"
need python3

FRAMES="$CUB_LIB/l2frames.py"
host_peer ca veth1 198.18.0.1 198.18.0.2
mkdir -p "$T/plugins"
cp "$CUB_BUILD/plugins/testing/review20_tcb.so" "$T/plugins/transparenthelloworld.so"
broker_start
mac_host=$(ip -o link show veth1 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
mac_ca=$(ip -n ca -o link show eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
cub_ok transparenthelloworld add t1
cub_ok attach t1 veth1
ping -c 1 -W 2 198.18.0.1 >/dev/null || fail "no ping to ca across t1 (PASS)"
seen() { echo $(( $(cub t1 show ingress-packets) + $(cub t1 show egress-packets) )); }
s0=$(seen)
rx0=$(ip netns exec ca cat /sys/class/net/eth0/statistics/rx_packets)
ip netns exec ca python3 "$FRAMES" eth0 "$mac_host" "$mac_ca" 1 88b6 >/dev/null
sleep 1
s1=$(seen)
rx1=$(ip netns exec ca cat /sys/class/net/eth0/statistics/rx_packets)
# Stop the cycle before asserting (it holds a CPU while attached).
cub_ok detach t1 veth1
sleep 0.2
s2=$(seen)
cub_log "one 0x88b6 frame from ca: t1 saw $((s1 - s0)) packets in 1 s ($((s2 - s0)) by its detach); ca received $((rx1 - rx0)) frames"
# Exactly twice: bounced at ingress (it was), seen again leaving by the
# egress stack (so the bounce took it out), bounced there and dropped.
[ $((s1 - s0)) -le 4 ] ||
	fail "one bounced frame ran through t1 $((s1 - s0)) times in 1 s (ingress bounce -> egress stack -> bounce -> ingress ...): a bounce loop"
[ $((s1 - s0)) = 2 ] ||
	fail "t1 saw the frame $((s1 - s0)) times, not 2 (in, then its answer leaving): the ingress bounce did not send it out"
# The rule that ends it (docs/architecture.md, cub_bounce()): an egress
# bounce of a packet that came in by a netdev is a drop, so t1's second
# bounce (of its own answer, leaving) ends the frame: ca gets nothing.
[ $((rx1 - rx0)) = 0 ] || fail "ca received $((rx1 - rx0)) frames: the answer's second bounce was not dropped"
