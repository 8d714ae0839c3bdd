// SPDX-License-Identifier: GPL-2.0
/*
 * An object the verifier takes about a second over (twice that on a busy
 * machine) before it loads: 16 branches on an unknown value, each folding
 * its bit into a length the program then passes to a helper (so the
 * verifier tracks it precisely and prunes no path): 2^16 paths, about
 * 950k of the 1M instructions it processes at most.  The worker renames
 * evslow_0000 before every load so that no two loads are of the same
 * bytes (the broker keeps an object loaded from the same bytes).
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#define EVIL_SLOWLOAD_BRANCHES 16

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} evslow_0000 SEC(".maps");

static __always_inline __u32
evil_slowload_len(__u32 x)
{
	__u32 idx = 0;

#pragma unroll
	for (int i = 0; i < EVIL_SLOWLOAD_BRANCHES; i++) {
		/* Two different updates: clang cannot make them one. */
		if (x & (1u << i))
			idx = idx * 3 + i;
		else
			idx = (idx ^ 0x5a5) + 7 * i;
		asm volatile("" : "+r"(idx));
	}
	return (idx & 31) + 1;
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	__u8 buf[32];
	__u32 k = 0;

	if (bpf_skb_load_bytes(skb, 0, buf, evil_slowload_len(skb->len)))
		return TC_ACT_OK;
	if (buf[0] == 0xff && bpf_map_lookup_elem(&evslow_0000, &k))
		return TC_ACT_OK;
	return TC_ACT_OK;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	__u8 buf[32];
	__u32 k = 0;

	if (bpf_xdp_load_bytes(
		ctx, 0, buf, evil_slowload_len(ctx->data_end - ctx->data)))
		return XDP_PASS;
	if (buf[0] == 0xff && bpf_map_lookup_elem(&evslow_0000, &k))
		return XDP_PASS;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
