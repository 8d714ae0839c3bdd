// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* thello: Polycube's transparenthelloworld; per direction, PASS or DROP. */
#include <cubicle/cube.bpf.h>

#include "thello.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, THELLO_DIRS);
} thello_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct thello_stats);
	__uint(max_entries, THELLO_DIRS);
} thello_stats SEC(".maps");

/* The broker's stack program says the direction; keys in cub_scratch(). */
static __always_inline int
thello(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s = cub_scratch();
	struct thello_stats *st;
	__u32 *action;

	if (!s)
		return cub_drop(hook);
	s->key[0] = cub_tdir(ctx, hook) == CUB_TDIR_EGRESS ? THELLO_EGRESS
							   : THELLO_INGRESS;
	st = bpf_map_lookup_elem(&thello_stats, &s->key[0]);
	action = bpf_map_lookup_elem(&thello_actions, &s->key[0]);
	if (!st || !action)
		return cub_drop(hook);
	st->packets++;
	if (*action != THELLO_DROP)
		return cub_pass(ctx, hook);
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(thello)

char _license[] SEC("license") = "GPL";
