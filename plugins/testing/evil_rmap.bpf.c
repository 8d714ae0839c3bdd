// SPDX-License-Identifier: GPL-2.0
/* A cube program that redirects through a DEVMAP of its own. */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} evil_devs SEC(".maps");

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
	return bpf_redirect_map(&evil_devs, 0, 0);
}
