// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Benchmark helpers loaded by xdpgen (not part of any cube).
 *
 * xg_gen: the traffic source, run by BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES.  Live frames are recycled with whatever the
 * stack wrote into them, so it rewrites the whole frame from xg_frame on
 * every run and bounces it out of the ingress netdev with XDP_TX.  The
 * template lives in .data, set before load (clang 14 folds volatile const
 * arrays passed to memcpy).
 *
 * xg_count: the sink; counts packets per CPU and drops them.  Attached in
 * driver mode it also gives the sink veth the NAPI a redirect needs.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#define XG_FRAME_LEN 64

__u8 xg_frame[XG_FRAME_LEN] SEC(".data") = { 1 };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} xg_counter SEC(".maps");

SEC("xdp")
int
xg_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + XG_FRAME_LEN > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, xg_frame, XG_FRAME_LEN);
	return XDP_TX;
}

SEC("xdp")
int
xg_count(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&xg_counter, &key);

	if (n)
		(*n)++;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
