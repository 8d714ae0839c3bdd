// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The broker's per-netdev XDP dispatcher: the XDP variant of the
 * transparent-cube stack (tstack.bpf.c), one object per netdev with XDP
 * transparent cubes (broker/tcube.c), loaded with the broker's privileges.
 * A PROG_ARRAY serves one program type, so the XDP stack has tables of
 * its own; the slot layout is the TC one's (cube_shared.h), ingress only:
 * XDP has no egress hook.
 *
 * tstack_xdp_ingress is the netdev's XDP program.  It follows the head
 * of tstack_links to the first cube's cell, records it in the per-CPU
 * tstack_ctx and tail-calls that cell of tstack_progs.  A cube lets the
 * packet go with cub_pass_xdp(), which tail-calls slot CUB_EGRESS_OUT of
 * its own cub_egress: tstack_xdp_next, which follows the link after the
 * cube's cell.  The link after the last cube is the end, which
 * tail-calls slot CUB_TSTACK_END: the program of the standard XDP cube
 * whose port peers with the netdev (the broker writes it there), or,
 * when there is none, returns XDP_PASS (to the kernel's stack).
 *
 * Framework state: on XDP a cube's in-port is what cub_in_port_xdp()
 * finds for ctx->ingress_ifindex, which no program can write, so unlike
 * TC's skb->cb words there is nothing a stacked cube could change for
 * the port's cube; the position is the broker's (tstack_ctx), as on TC.
 * A tail call that fails before the end drops the packet (the budget
 * spent).  An XDP program run is not preempted (NAPI, BH disabled), so
 * the per-CPU position is the packet's until its chain ends.  The
 * run/end/next logic is tstack.bpf.h's, shared with the TC stack.
 */
#include <linux/bpf.h>

#define TSTACK_CTX struct xdp_md
#define TSTACK_SEC "xdp"
#define TSTACK_DROP XDP_DROP
#define TSTACK_NDIRS 1
#include "tstack.bpf.h"

/* XDP cubes find their in-port from ctx: nothing to tell them. */
static __always_inline void
tstack_mark(struct xdp_md *ctx, __u32 dir)
{
}

/* The end: the port's cube (slot CUB_TSTACK_END), or the stack. */
static __always_inline int
tstack_finish(struct xdp_md *ctx, struct cub_tstack_ctx *t, __u32 dir)
{
	bpf_tail_call(ctx, &tstack_progs, CUB_TSTACK_END);
	return XDP_PASS;
}

/* A bounce (cube_shared.h): the metadata word off, out of the netdev. */
static __always_inline int
tstack_bounced(struct xdp_md *ctx, struct cub_tstack_ctx *t)
{
	__u32 *m = (void *)(long)ctx->data_meta;

	if ((void *)(m + 1) > (void *)(long)ctx->data || *m != CUB_TBOUNCE)
		return -1;
	if (bpf_xdp_adjust_meta(ctx, (int)sizeof(*m)))
		return XDP_DROP;
	return XDP_TX;
}

SEC("xdp")
int
tstack_xdp_ingress(struct xdp_md *ctx)
{
	return tstack_first(ctx, 0);
}

TSTACK_PROGRAMS(tstack_xdp_next)

char _license[] SEC("license") = "GPL";
