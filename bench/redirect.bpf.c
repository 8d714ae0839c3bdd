// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The baseline the simpleforwarder benchmark compares against: the least
 * an XDP forwarder can do, bpf_redirect() to one netdev whose ifindex is
 * set in .rodata before load.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

volatile const __u32 rd_out_ifindex = 0;

SEC("xdp")
int
rd_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(rd_out_ifindex, 0);
}

char _license[] SEC("license") = "GPL";
