// SPDX-License-Identifier: GPL-2.0
/*
 * A cube program that re-points its port 1 at a netdev of its choosing,
 * then forwards there through the broker's egress program.  cub_ports is
 * read-only to programs: the verifier refuses the write.
 */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

static __always_inline int
evil_repoint(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s = cub_scratch();
	struct cub_port *p;

	if (!s)
		return cub_drop(hook);
	s->key[0] = 1;
	p = bpf_map_lookup_elem(&cub_ports, &s->key[0]);
	if (!p)
		return cub_drop(hook);
	p->ifindex = evil_ifindex;
	p->flags = CUB_PORT_UP;
	return cub_forward(ctx, hook, 1);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return evil_repoint(skb, CUB_HOOK_TC);
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return evil_repoint(ctx, CUB_HOOK_XDP);
}
