// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The broker's per-netdev XDP dispatcher: the XDP variant of the
 * transparent-cube stack (tstack.bpf.c), one object per netdev with XDP
 * transparent cubes (broker/tcube.c), loaded with the broker's privileges.
 * A PROG_ARRAY serves one program type, so the XDP stack has tables of
 * its own; the slot layout is the TC one's (cube_shared.h), ingress only:
 * XDP has no egress hook.
 *
 * tstack_xdp_ingress is the netdev's XDP program.  It records position 0
 * in the per-CPU tstack_ctx and tail-calls slot 0 of tstack_progs.  A
 * cube lets the packet go with cub_pass_xdp(), which tail-calls slot
 * CUB_EGRESS_OUT of its own cub_egress: tstack_xdp_next, which advances
 * the position and tail-calls the next slot.  The slot after the last
 * cube holds tstack_xdp_end, which tail-calls slot CUB_TSTACK_END: the
 * program of the standard XDP cube whose port peers with the netdev (the
 * broker writes it there), or, when there is none, returns XDP_PASS (to
 * the kernel's stack).
 *
 * Framework state: on XDP a cube's in-port is what cub_in_port_xdp()
 * finds for ctx->ingress_ifindex, which no program can write, so unlike
 * TC's skb->cb words there is nothing a stacked cube could change for
 * the port's cube; the position is the broker's (tstack_ctx), as on TC.
 * A tail call that fails before the end drops the packet (the budget
 * spent).  An XDP program run is not preempted (NAPI, BH disabled), so
 * the per-CPU position is the packet's until its chain ends.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube_shared.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_TSTACK_SLOTS);
} tstack_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_tstack_ctx);
	__uint(max_entries, 1);
} tstack_ctx SEC(".maps");

static __always_inline int
tstack_xdp_run(struct xdp_md *ctx, __u32 pos)
{
	__u32 zero = 0;
	struct cub_tstack_ctx *t = bpf_map_lookup_elem(&tstack_ctx, &zero);

	if (!t)
		return XDP_DROP;
	if (pos >= CUB_TSTACK_MAX) { /* a full stack: no room for the end */
		bpf_tail_call(ctx, &tstack_progs, CUB_TSTACK_END);
		return XDP_PASS;
	}
	t->dir = 0;
	t->pos = pos;
	bpf_tail_call(ctx, &tstack_progs, pos);
	/* Every stack ends in tstack_xdp_end: the budget is spent. */
	return XDP_DROP;
}

SEC("xdp")
int
tstack_xdp_ingress(struct xdp_md *ctx)
{
	return tstack_xdp_run(ctx, 0);
}

/* The slot after a stack's last cube: the port's cube, or the stack. */
SEC("xdp")
int
tstack_xdp_end(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &tstack_progs, CUB_TSTACK_END);
	return XDP_PASS;
}

SEC("xdp")
int
tstack_xdp_next(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct cub_tstack_ctx *t = bpf_map_lookup_elem(&tstack_ctx, &zero);

	if (!t || t->dir)
		return XDP_DROP;
	return tstack_xdp_run(ctx, t->pos + 1);
}

char _license[] SEC("license") = "GPL";
