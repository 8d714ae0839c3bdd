// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Other software's XDP program, for tests/integration/foreign.sh: a
 * program Cubicle did not attach and must leave alone.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int
foreign_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
