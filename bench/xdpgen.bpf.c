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
 * With xg_dst_count set (xdpgen run --dst-ip-range BASE COUNT), every run
 * also writes a destination address drawn at random from BASE ..
 * BASE + COUNT - 1 into the IPv4 header and recomputes its checksum; the
 * template's own address and checksum are otherwise sent as they are.
 *
 * xg_count: the sink; counts packets per CPU and drops them.  Attached in
 * driver mode it also gives the sink veth the NAPI a redirect needs.
 */
#include <linux/bpf.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define XG_FRAME_LEN 64
#define XG_IP_OFF 14 /* after the Ethernet header */
#define XG_IP_HDR_WORDS 10 /* 20 bytes, no options */

__u8 xg_frame[XG_FRAME_LEN] SEC(".data") = { 1 };
/* Host order; count 0: the template's destination only. */
__u32 xg_dst_base SEC(".data") = 0;
__u32 xg_dst_count SEC(".data") = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} xg_counter SEC(".maps");

/* daddr (host order) into the frame's IPv4 header, checksum redone. */
static __always_inline void
set_dst(void *data, __u32 daddr)
{
	__u16 *w = data + XG_IP_OFF;
	__u32 sum = 0;
	int i;

	w[8] = bpf_htons(daddr >> 16);
	w[9] = bpf_htons(daddr & 0xffff);
	w[5] = 0;
	for (i = 0; i < XG_IP_HDR_WORDS; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	w[5] = (__u16)~sum;
}

SEC("xdp")
int
xg_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + XG_FRAME_LEN > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, xg_frame, XG_FRAME_LEN);
	if (xg_dst_count)
		set_dst(data, xg_dst_base + bpf_get_prandom_u32() % xg_dst_count);
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
