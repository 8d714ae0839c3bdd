/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers for a cube that answers with a frame of its own (REJECT's
 * answer, a router's ICMP errors): the bytes of the packet, whichever
 * the hook; an Internet checksum folded; the packet replaced whole by a
 * frame built in a map value.  Include after cube.bpf.h.
 */
#ifndef CUBICLE_FRAME_BPF_H
#define CUBICLE_FRAME_BPF_H

#include <cubicle/cube.bpf.h>

/* bpf_csum_diff()'s 32-bit sum folded and inverted: the checksum. */
static __always_inline __u16
cub_csum_fold(__s64 c)
{
	__u32 s = (__u32)c;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* len bytes of the packet from off into to (a map value); 0 or < 0. */
static __always_inline int
cub_load_bytes(void *ctx, enum cub_hook hook, __u32 off, void *to, __u32 len)
{
	if (hook == CUB_HOOK_XDP)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * The packet becomes frame (len bytes, a constant-bounded length): 0,
 * or -1 (drop it).  On XDP a frame a veth made from an skb may have no
 * tailroom: it then grows at the head (the frame is rewritten whole).
 */
static __always_inline int
cub_frame_replace(void *ctx, enum cub_hook hook, const void *frame, __u32 len)
{
	if (hook == CUB_HOOK_XDP) {
		int delta = (int)len - (int)cub_pkt_len(ctx, hook);

		if (bpf_xdp_adjust_tail(ctx, delta) &&
		    (delta < 0 || bpf_xdp_adjust_head(ctx, -delta)))
			return -1;
		return bpf_xdp_store_bytes(ctx, 0, (void *)frame, len) ? -1 : 0;
	}
	if (bpf_skb_change_tail(ctx, len, 0) ||
	    bpf_skb_store_bytes(ctx, 0, frame, len, 0))
		return -1;
	return 0;
}

#endif /* CUBICLE_FRAME_BPF_H */
