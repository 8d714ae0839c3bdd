// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * review20_tcb: transparenthelloworld's maps and actions, whose TC PASS
 * first copies skb->cb[0..2] (what the stack's entry left there) into
 * the 12 bytes after the Ethernet header of a frame of EtherType 0x88b5
 * (the IEEE local experimental one), then calls cub_pass().  Attached
 * to a cube port that peers with another cube, it sees the hop the
 * peer's egress program wrote: the port's cube's hop key in cb[0] and
 * cb[2] (cube_shared.h), and the frame takes it on to the cube's wires.
 * tests/integration/review20-tstack-hopkey.sh.  A frame of EtherType
 * 0x88b6 it bounces (cub_bounce()), whichever its direction: a
 * reflector, as REJECT is one (review20-tstack-bounce-loop.sh).
 */
#include <cubicle/cube.bpf.h>

#include "transparenthelloworld_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, TH_DIRS);
} th_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct th_stats);
	__uint(max_entries, TH_DIRS);
} th_stats SEC(".maps");

static __always_inline void
r20_copy_cb(void *ctx, enum cub_hook hook)
{
	struct __sk_buff *skb = ctx;
	__u32 w[3];
	__be16 proto;

	if (hook != CUB_HOOK_TC || skb->len < 14 + sizeof(w) ||
	    bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)) ||
	    proto != bpf_htons(0x88b5))
		return;
	w[0] = skb->cb[0];
	w[1] = skb->cb[1];
	w[2] = skb->cb[2];
	bpf_skb_store_bytes(skb, 14, w, sizeof(w), 0);
}

/* Whether the frame is of EtherType 0x88b6 (bounced). */
static __always_inline int
r20_bounce(void *ctx, enum cub_hook hook)
{
	void *data = cub_data(ctx, hook), *end = cub_data_end(ctx, hook);
	__be16 *proto = data + 12;

	if ((void *)(proto + 1) > end)
		return 0;
	return *proto == bpf_htons(0x88b6);
}

static __always_inline int
r20_run(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s = cub_scratch();
	struct th_stats *st;
	__u32 *action;

	if (!s)
		return cub_drop(hook);
	s->key[0] =
	    cub_tdir(ctx, hook) == CUB_TDIR_EGRESS ? TH_EGRESS : TH_INGRESS;
	st = bpf_map_lookup_elem(&th_stats, &s->key[0]);
	action = bpf_map_lookup_elem(&th_actions, &s->key[0]);
	if (!st || !action)
		return cub_drop(hook);
	st->packets++;
	st->bytes += cub_pkt_len(ctx, hook);
	if (*action == TH_DROP) {
		st->drops++;
		return cub_drop(hook);
	}
	if (r20_bounce(ctx, hook))
		return cub_bounce(ctx, hook);
	r20_copy_cb(ctx, hook);
	return cub_pass(ctx, hook);
}

CUB_ENTRY_POINTS(r20_run)

char _license[] SEC("license") = "GPL";
