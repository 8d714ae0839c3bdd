// SPDX-License-Identifier: GPL-2.0
/* A cube program that redirects to a netdev of its choosing (bpf_redirect). */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return bpf_redirect(evil_ifindex, 0);
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return bpf_redirect(evil_ifindex, 0);
}
