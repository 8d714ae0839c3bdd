// SPDX-License-Identifier: GPL-2.0
/* A cube program that routes packets out of a netdev of its choosing. */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return bpf_redirect_neigh(evil_ifindex, NULL, 0, 0);
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}
