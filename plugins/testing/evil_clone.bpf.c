// SPDX-License-Identifier: GPL-2.0
/* A cube program that copies every packet to a netdev of its choosing. */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	bpf_clone_redirect(skb, evil_ifindex, 0);
	return TC_ACT_SHOT;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}
