// SPDX-License-Identifier: GPL-2.0
/*
 * biglist's object (biglist.c): a hash of 128Ki entries that the worker
 * keeps equal to the cube's list "entries" (key id, value value), and
 * programs that pass every packet.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 131072);
} bl_entries SEC(".maps");

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
