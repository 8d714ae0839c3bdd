// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * review15_tslow: transparenthelloworld's maps and actions, whose
 * ingress PASS holds the packet inside its own run while its egress
 * action is DROP (the flag its worker writes; at most a few seconds:
 * one bpf_loop() of a busy callback), then calls cub_pass_tc() as the
 * exit check wants.  A slow cube, made deterministic: the packet is
 * inside it for as long as the test wants.
 * tests/integration/review15-tstack-detach.sh; review15_thold
 * (-DR15_NESTED -DR15_ROUNDS='(3u << 21)': nested bpf_loop()s, about 17 s
 * here, refused at load) for review15-tstack-hold.sh.
 */
#include <cubicle/cube.bpf.h>

#include "transparenthelloworld_shared.h"

#ifdef R15_NESTED /* review15_thold: bpf_loop() in the callback (refused) */
#ifndef R15_ROUNDS
#define R15_ROUNDS (1u << 21) /* some seconds at most (about 6 s here) */
#endif
#define R15_SPINS 256
#elif defined(R21_COUNT) /* review21_tcount: as many rounds as a map says */
#define R15_SPINS 32
#else /* review15_tslow: one bpf_loop() in the main function */
#define R15_ROUNDS (1u << 23) /* bpf_loop()'s most */
#define R15_SPINS 32 /* clock reads a round: some seconds at most */
#endif

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

#ifdef R15_NESTED
static long
r15_spin(__u32 i, void *ctx)
{
	(void)i;
	(void)ctx;
	return 0;
}
#endif

/* One round of the hold: go on while the egress action is DROP. */
static long
r15_hold(__u32 i, void *ctx)
{
	__u32 key = TH_EGRESS, *flag = bpf_map_lookup_elem(&th_actions, &key);
#ifndef R15_NESTED
	__u32 j;
#endif

	(void)i;
	(void)ctx;
	if (!flag || *flag != TH_DROP)
		return 1;
#ifdef R15_NESTED
	bpf_loop(R15_SPINS, r15_spin, NULL, 0);
#else
	/* Unrolled: the verifier follows no loop here. */
#pragma unroll
	for (j = 0; j < R15_SPINS; j++)
		bpf_ktime_get_ns();
#endif
	return 0;
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
	if (s->key[0] == TH_INGRESS) {
#ifdef R21_COUNT
		bpf_loop((__u32)st->packets, r15_hold, NULL, 0);
#else
		bpf_loop(R15_ROUNDS, r15_hold, NULL, 0);
#endif
		st->slowpath++; /* here: packets let go after a hold */
	}
	return cub_pass(ctx, hook);
}

CUB_ENTRY_POINTS(r15_run)

char _license[] SEC("license") = "GPL";
