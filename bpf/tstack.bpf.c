// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The broker's transparent-cube stack programs, one object per attach
 * point (broker/tcube.c), loaded with the broker's privileges.
 *
 * tstack_ingress and tstack_egress are attached to the netdev's tc
 * clsact ingress and egress.  Each follows its direction's head in
 * tstack_links (ingress: the stack as listed; egress: the reverse): it
 * records the direction and the first cube's cell in the per-CPU
 * tstack_ctx and tail-calls that cell of tstack_progs.  A cube that lets
 * the packet go calls cub_pass(), which tail-calls slot CUB_EGRESS_OUT
 * of its own cub_egress: tstack_next, which follows the link after the
 * cube's cell to the next cell.  The link after the last cube is the
 * end: on a netdev the packet goes on (TC_ACT_UNSPEC: to the next tc
 * filter, the host-wide stack's, then to the stack on ingress, to the
 * wire on egress); on a cube port it goes through slot
 * CUB_TSTACK_END + direction: the cube's program (ingress) or the second
 * half of the cube's egress program (egress), which sends it out of the
 * port.  A cube keeps its cell while attached: a detach or an attach
 * rewrites links only, so a packet in flight never skips a cube that
 * stays.
 *
 * The position lives where no cube can write (tstack_ctx is the broker's
 * map, not in any cube's object), so a cube can neither jump past the
 * cubes after it by tail calls nor run one twice; a tail call the kernel
 * refuses (the budget spent) drops the packet.  A cube's program that
 * would end the stack by returning TC_ACT_OK itself is refused at load
 * (the exit check, docs/architecture.md, "Transparent cubes").  The
 * position is per-CPU: a tc program run is not preempted (softirq or
 * BH-disabled), so nothing else runs on the CPU between a store and the next
 * program of the same chain.  The run/end/next logic is tstack.bpf.h's,
 * shared with the XDP dispatcher (tstack_xdp.bpf.c).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#define TSTACK_CTX struct __sk_buff
#define TSTACK_SEC "tc"
#define TSTACK_DROP TC_ACT_SHOT
#define TSTACK_NDIRS 2
#include "tstack.bpf.h"

/*
 * Set by the broker before load: an attach point on a cube port drops a
 * packet whose way on is missing (the cube or its egress not loaded), as
 * the cube's own path would; on a netdev the end is the kernel's.
 */
const volatile __u32 tstack_end_drop = 0;

/* The cubes of the stack see its direction in skb->cb[3]. */
static __always_inline void
tstack_mark(struct __sk_buff *skb, __u32 dir)
{
	skb->cb[3] = dir ? CUB_TDIR_EGRESS : CUB_TDIR_INGRESS;
}

/*
 * The end of the stack: on a cube port, the way on (the cube's program,
 * or its egress program's second half) gets back the framework's cb
 * words the stack's cubes could write.
 */
static __always_inline int
tstack_finish(struct __sk_buff *skb, struct cub_tstack_ctx *t, __u32 dir)
{
	skb->cb[0] = t->cb[0];
	skb->cb[1] = t->cb[1];
	skb->cb[2] = t->cb[2];
	bpf_tail_call(skb, &tstack_progs, CUB_TSTACK_END + dir);
	/* On a netdev: the next filter (the host-wide stack's), or the
	 * default action, which lets the packet go on. */
	return tstack_end_drop ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

/*
 * A bounce (cube_shared.h, CUB_TBOUNCE) on a netdev: ingress (from the
 * wire) out of it, egress (from the host) into the host as received on
 * it; no framework word of the cube's goes with it.  On a cube port: a
 * drop.
 */
static __always_inline int
tstack_bounced(struct __sk_buff *skb, struct cub_tstack_ctx *t)
{
	if (skb->cb[3] != CUB_TBOUNCE)
		return -1;
	skb->cb[0] = skb->cb[1] = skb->cb[2] = skb->cb[3] = 0;
	if (tstack_end_drop)
		return TC_ACT_SHOT;
	/* Egress: only what this host made goes back into it.  A packet
	 * that came in by a netdev (forwarded, or an ingress bounce's
	 * answer leaving) is dropped: two cubes bouncing each other's
	 * answers would loop it for ever (review 20). */
	if (t->dir && skb->ingress_ifindex)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, t->dir ? BPF_F_INGRESS : 0);
}

/* A packet enters the stack: keep the framework's cb words. */
static __always_inline int
tstack_enter(struct __sk_buff *skb, __u32 dir)
{
	struct cub_tstack_ctx *t = tstack_get();

	if (!t)
		return TC_ACT_SHOT;
	t->cb[0] = skb->cb[0];
	t->cb[1] = skb->cb[1];
	t->cb[2] = skb->cb[2];
	/* The stack's cubes see none of them: a hop into the port's cube
	 * carries that cube's key (review 20). */
	skb->cb[0] = skb->cb[1] = skb->cb[2] = 0;
	return tstack_first(skb, dir);
}

SEC("tc")
int
tstack_ingress(struct __sk_buff *skb)
{
	return tstack_enter(skb, 0);
}

SEC("tc")
int
tstack_egress(struct __sk_buff *skb)
{
	return tstack_enter(skb, 1);
}

TSTACK_PROGRAMS(tstack_next)

char _license[] SEC("license") = "GPL";
