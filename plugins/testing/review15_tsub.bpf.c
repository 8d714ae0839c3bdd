// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * review15_tsub: transparenthelloworld's maps and actions, whose ingress
 * PASS first runs the rest of its stack from a subprogram and then
 * passes again.  A tail call made in a subprogram replaces that
 * subprogram only (x86-64 JIT): when the programs it chains to return,
 * their verdict comes back to the caller, the cube's main function, as
 * the subprogram's result.  So r15_rest() runs tstack_next (cub_egress
 * slot 0): the cubes after this one run, and one that drops returns
 * TC_ACT_SHOT into r15_run() with the stack's position on it; the main
 * function then calls cub_pass_tc(), whose tstack_next goes on after the
 * cube that dropped: to the end, TC_ACT_OK.  Every exit of the main
 * function returns TC_ACT_SHOT (cub_pass_tc()'s, after its tail call):
 * the exit check passes it.  tests/integration/review15-tstack-subcall.sh.
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

/* The rest of the stack, run as a call: returns what its last cube did. */
static __attribute__((noinline)) int
r15_rest(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &cub_egress, CUB_EGRESS_OUT);
	return TC_ACT_SHOT;
}

static __always_inline int
r15_run(void *ctx, enum cub_hook hook)
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
	if (hook == CUB_HOOK_TC && s->key[0] == TH_INGRESS &&
	    r15_rest(ctx) == TC_ACT_SHOT)
		st->slowpath++; /* here: packets a cube after this one dropped */
	return cub_pass(ctx, hook);
}

CUB_ENTRY_POINTS(r15_run)

char _license[] SEC("license") = "GPL";
