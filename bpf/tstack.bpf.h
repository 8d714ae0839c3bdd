/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The run/end/next logic of the broker's transparent-cube stacks, shared
 * by the TC stack (tstack.bpf.c) and the XDP dispatcher
 * (tstack_xdp.bpf.c): the stack's tables, the position kept in the
 * broker's per-CPU tstack_ctx, the tail call to the next slot, and the
 * end.  What differs is the context, as cube.bpf.h's cub_drop(hook)
 * does for cubes.  Before including it, an object defines:
 *   TSTACK_CTX    its context type (struct __sk_buff, struct xdp_md);
 *   TSTACK_SEC    its programs' section ("tc", "xdp");
 *   TSTACK_DROP   the verdict that drops (TC_ACT_SHOT, XDP_DROP);
 *   TSTACK_NDIRS  how many directions its stacks have (2, 1);
 * and after including it, before TSTACK_PROGRAMS(), two functions:
 *   tstack_mark(ctx, dir): what a cube of the stack is told of the
 *     direction (TC: skb->cb[3]; XDP: nothing);
 *   tstack_finish(ctx, t, dir): the end of the stack, the way on.
 * TSTACK_PROGRAMS(end, next) defines the slot after a stack's last cube
 * (end) and the program cub_pass_tc()/cub_pass_xdp() reaches (next).
 */
#ifndef CUBI_TSTACK_BPF_H
#define CUBI_TSTACK_BPF_H

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

static __always_inline struct cub_tstack_ctx *
tstack_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tstack_ctx, &zero);
}

static __always_inline void tstack_mark(TSTACK_CTX *ctx, __u32 dir);
static __always_inline int tstack_finish(
    TSTACK_CTX *ctx, struct cub_tstack_ctx *t, __u32 dir);

/* Run slot pos of direction dir's stack. */
static __always_inline int
tstack_run(TSTACK_CTX *ctx, __u32 dir, __u32 pos)
{
	struct cub_tstack_ctx *t = tstack_get();

	if (!t)
		return TSTACK_DROP;
	if (pos >= CUB_TSTACK_MAX) /* a full stack: no room for the end */
		return tstack_finish(ctx, t, dir);
	t->dir = dir;
	t->pos = pos;
	tstack_mark(ctx, dir);
	bpf_tail_call(ctx, &tstack_progs, dir * CUB_TSTACK_MAX + pos);
	/*
	 * Every stack ends in its end program (broker/tcube.c tp_write), so
	 * a tail call that fails here is one the kernel refused: the budget
	 * of 33 is spent (a cube that tail-calls itself can spend it).  Fail
	 * closed: the cubes after this one never ran.
	 */
	return TSTACK_DROP;
}

#define TSTACK_PROGRAMS(end, next)                                             \
	/* The slot after a stack's last cube. */                              \
	SEC(TSTACK_SEC)                                                        \
	int end(TSTACK_CTX *ctx)                                               \
	{                                                                      \
		struct cub_tstack_ctx *t = tstack_get();                       \
                                                                               \
		if (!t || t->dir >= TSTACK_NDIRS)                              \
			return TSTACK_DROP;                                    \
		return tstack_finish(ctx, t, t->dir);                          \
	}                                                                      \
                                                                               \
	/* A cube lets the packet go: the next slot. */                        \
	SEC(TSTACK_SEC)                                                        \
	int next(TSTACK_CTX *ctx)                                              \
	{                                                                      \
		struct cub_tstack_ctx *t = tstack_get();                       \
                                                                               \
		if (!t || t->dir >= TSTACK_NDIRS)                              \
			return TSTACK_DROP;                                    \
		return tstack_run(ctx, t->dir, t->pos + 1);                    \
	}

#endif /* CUBI_TSTACK_BPF_H */
