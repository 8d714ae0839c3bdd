// SPDX-License-Identifier: GPL-2.0
/*
 * The swap test plugin's object (swap.c; tests/integration/mapswap.sh).
 *   Sets "ver" (3 copies) and "ver2" (2 copies): members a and b, a
 *   one-entry array of a version stamp each; the writer fills a copy with
 *   the same stamp in both.  Every packet reads a's stamp of each set,
 *   works through a slow path (sw_cfg's loop count of bpf_loop
 *   iterations), then reads b's: a different stamp is a mixture, counted
 *   in sw_stats[SW_MISMATCH].
 *   Set "ctr" (2 copies): member ctr__pkts, a per-CPU array of a packet
 *   count, incremented after the slow path (so a late write lands in the
 *   copy the packet took at its start); sw_stats[SW_PACKETS] counts the
 *   same packets outside any set, the ground truth for swap-on-read.
 *   sw_big: a 131072-entry hash for the batch calls (no program uses it).
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

#include "swap_shared.h"

struct stamp_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};
struct stamp_map sva0 SEC(".maps"), sva1 SEC(".maps"), sva2 SEC(".maps");
struct stamp_map svb0 SEC(".maps"), svb1 SEC(".maps"), svb2 SEC(".maps");

CUB_SWAP_SET(ver);
CUB_SWAP_MEMBER(ver, a, struct stamp_map, 3) = {
    .values = {&sva0, &sva1, &sva2}};
CUB_SWAP_MEMBER(ver, b, struct stamp_map, 3) = {
    .values = {&svb0, &svb1, &svb2}};

/* The same with two copies: the retired copy is the next one filled. */
struct stamp_map swa0 SEC(".maps"), swa1 SEC(".maps");
struct stamp_map swb0 SEC(".maps"), swb1 SEC(".maps");
CUB_SWAP_SET(ver2);
CUB_SWAP_MEMBER(ver2, a, struct stamp_map, 2) = {.values = {&swa0, &swa1}};
CUB_SWAP_MEMBER(ver2, b, struct stamp_map, 2) = {.values = {&swb0, &swb1}};

struct count_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};
struct count_map sc0 SEC(".maps"), sc1 SEC(".maps");

CUB_SWAP_SET(ctr);
CUB_SWAP_MEMBER(ctr, pkts, struct count_map, 2) = {.values = {&sc0, &sc1}};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, SW_NSTATS);
} sw_stats SEC(".maps");

/* The slow path's bpf_loop iterations (the worker sets it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} sw_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, SW_BIG_MAX);
} sw_big SEC(".maps");

static long
spin(__u32 i, void *ctx)
{
	__u64 *acc = ctx;

	*acc = *acc * 31 + i;
	return 0;
}

static __always_inline void
stat_add(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&sw_stats, &which);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The stamps of a and b in the copy of one set this packet takes. */
struct stamps {
	void *a, *b;
	__u64 sa, sb;
};

static __always_inline void
stamp_a(struct stamps *st, void *index, void *ma, void *mb)
{
	__u32 copy = cub_swap_copy(index);
	__u64 *v;

	st->a = cub_swap_member(ma, copy);
	st->b = cub_swap_member(mb, copy);
	if (st->a && (v = bpf_map_lookup_elem(st->a, &cub_zero_key)))
		st->sa = *(volatile __u64 *)v;
}

static __always_inline void
stamp_b(struct stamps *st)
{
	__u64 *v;

	if (st->b && (v = bpf_map_lookup_elem(st->b, &cub_zero_key)))
		st->sb = *(volatile __u64 *)v;
	if (st->sa != st->sb)
		stat_add(SW_MISMATCH);
}

static __always_inline int
swap_packet(void)
{
	struct stamps v3 = {0}, v2 = {0};
	__u32 ctr = cub_swap_copy(&cub_sw_ctr);
	void *pkts = cub_swap_member(&ctr__pkts, ctr);
	__u32 *loops = bpf_map_lookup_elem(&sw_cfg, &cub_zero_key);
	__u64 acc = 0, *v;

	stamp_a(&v3, &cub_sw_ver, &ver__a, &ver__b);
	stamp_a(&v2, &cub_sw_ver2, &ver2__a, &ver2__b);
	if (loops && *loops)
		bpf_loop(*loops & (SW_LOOPS_MAX - 1), spin, &acc, 0);
	stamp_b(&v3);
	stamp_b(&v2);
	if (pkts && (v = bpf_map_lookup_elem(pkts, &cub_zero_key)))
		__sync_fetch_and_add(v, 1);
	stat_add(SW_PACKETS);
	return acc == 1; /* keeps the loop's work */
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	swap_packet();
	return TC_ACT_SHOT;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	swap_packet();
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
