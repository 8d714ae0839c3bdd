// SPDX-License-Identifier: GPL-2.0
/*
 * A cube object that reads kernel memory with bpf_probe_read_kernel().
 * The broker must refuse it: the helper is outside the networking set.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

static __always_inline int
peek(void)
{
	__u64 v = 0;

	/* An address in the kernel's direct map: reading it leaks memory. */
	bpf_probe_read_kernel(&v, sizeof(v), (void *)0xffff888000000000ull);
	return (int)(v & 1);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return peek() ? TC_ACT_OK : TC_ACT_UNSPEC;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return peek() ? XDP_PASS : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
