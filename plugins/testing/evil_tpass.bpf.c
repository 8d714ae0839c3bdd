// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * evil_tpass (Polycube's pcn-transparent-helloworld): a
 * transparent cube with one action per direction (pass, drop, slow path)
 * and a packet counter per direction.  The broker's stack program says
 * the direction (cub_tdir_tc()); cub_pass_tc() lets the packet go on to
 * the next cube of the stack, or out of it.  TC only.
 */
#include <cubicle/cube.bpf.h>

#include "transparenthelloworld_shared.h"

#define TH_REASON_ACTION 1

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

/* Keys in cub_scratch(), not on the (fenced) stack: see cube.bpf.h. */
SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	struct cub_scratch *s = cub_scratch();
	struct th_stats *st;
	__u32 *action;

	if (!s)
		return TC_ACT_SHOT;
	s->key[0] = cub_tdir_tc(skb) == CUB_TDIR_EGRESS ? TH_EGRESS
							: TH_INGRESS;
	st = bpf_map_lookup_elem(&th_stats, &s->key[0]);
	action = bpf_map_lookup_elem(&th_actions, &s->key[0]);
	if (!st || !action)
		return TC_ACT_SHOT;
	st->packets++;
	st->bytes += skb->len;
	switch (*action) {
	case TH_DROP:
		st->drops++;
		return TC_ACT_SHOT;
	case TH_SLOWPATH:
		st->slowpath++;
		return cub_slowpath_tc(skb, s->key[0], TH_REASON_ACTION);
	default:
		return TC_ACT_OK; /* not cub_pass_tc(): skip the cubes after */
	}
}

char _license[] SEC("license") = "GPL";
