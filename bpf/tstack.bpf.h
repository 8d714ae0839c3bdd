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
 * and after including it, before TSTACK_PROGRAMS(), three functions:
 *   tstack_mark(ctx, dir): what a cube of the stack is told of the
 *     direction (TC: skb->cb[3]; XDP: nothing);
 *   tstack_finish(ctx, t, dir): the end of the stack, the way on;
 *   tstack_bounced(ctx, t): the cube that just ran asked for a bounce
 *     (cube_shared.h, CUB_TBOUNCE): its verdict, else -1.
 * tstack_first(ctx, dir) runs a direction from its head;
 * TSTACK_PROGRAMS(next) defines the program cub_pass_tc()/cub_pass_xdp()
 * reaches (next), which follows the link after the running cube's cell.
 * The cells and links: cube_shared.h.
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

/* The run order: see cube_shared.h (CUB_TSTACK_HEAD, links). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_TSTACK_LINKS);
} tstack_links SEC(".maps");

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
static __always_inline int tstack_bounced(
    TSTACK_CTX *ctx, struct cub_tstack_ctx *t);

/* Link key k of the links (a head or a cell's next): a cell + 1, the
 * end, or 0 (not written). */
static __always_inline __u32
tstack_link(__u32 k)
{
	__u32 *v = bpf_map_lookup_elem(&tstack_links, &k);

	return v ? *v : 0;
}

/*
 * Run what link (a cell + 1, or the end) of direction dir leads to.  A
 * link never written drops the packet (a stack being built), as does a
 * cell whose tail call fails: every cell a link leads to holds a
 * program (broker/tcube.c tp_link), so a tail call that fails is one the
 * kernel refused: the budget of 33 is spent (a cube that tail-calls
 * itself can spend it).  Fail closed: the cubes after this one never
 * ran.
 */
static __always_inline int
tstack_run(TSTACK_CTX *ctx, __u32 dir, __u32 link)
{
	struct cub_tstack_ctx *t = tstack_get();

	if (!t || !link)
		return TSTACK_DROP;
	if (link == CUB_TSTACK_LINK_END)
		return tstack_finish(ctx, t, dir);
	if (link > CUB_TSTACK_MAX)
		return TSTACK_DROP;
	t->dir = dir;
	t->pos = link - 1;
	tstack_mark(ctx, dir);
	bpf_tail_call(ctx, &tstack_progs, link - 1);
	return TSTACK_DROP;
}

/* Enter direction dir's stack: its head. */
static __always_inline int
tstack_first(TSTACK_CTX *ctx, __u32 dir)
{
	return tstack_run(ctx, dir, tstack_link(CUB_TSTACK_HEAD + dir));
}

/* A cube lets the packet go: what the link after its cell leads to. */
#define TSTACK_PROGRAMS(next)                                                  \
	SEC(TSTACK_SEC)                                                        \
	int next(TSTACK_CTX *ctx)                                              \
	{                                                                      \
		struct cub_tstack_ctx *t = tstack_get();                       \
		int v;                                                         \
                                                                               \
		if (!t || t->dir >= TSTACK_NDIRS || t->pos >= CUB_TSTACK_MAX)  \
			return TSTACK_DROP;                                    \
		if ((v = tstack_bounced(ctx, t)) >= 0)                         \
			return v;                                              \
		return tstack_run(ctx, t->dir,                                 \
		    tstack_link(t->dir * CUB_TSTACK_MAX + t->pos));            \
	}

#endif /* CUBI_TSTACK_BPF_H */
