// SPDX-License-Identifier: GPL-2.0
/* A cube program that asks the kernel's FIB where to send a packet. */
#include <cubicle/cube.bpf.h>

#include "evil_egress.h"

static __always_inline __u32
evil_fib(void *ctx)
{
	struct bpf_fib_lookup fib = {.family = 2, .ifindex = evil_ifindex};

	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	return fib.ifindex;
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return evil_fib(skb) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return evil_fib(ctx) ? XDP_PASS : XDP_DROP;
}
