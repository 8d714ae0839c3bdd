// SPDX-License-Identifier: GPL-2.0
/*
 * The swap-on-read test plugin's object (swapread.c;
 * tests/integration/swapread.sh, bench/dynmon-swap).  A transparent cube
 * on TC: every UDP packet arriving (ingress) is counted and dropped;
 * anything else passes untouched.
 *   Set "pkt" (2 copies, as dynmon's): member pkt__cnt, a per-CPU array
 *   of one packet count; member pkt__port, a hash of the packet's UDP
 *   destination port to the packets seen on it (atomic adds).  A packet
 *   takes its copy first, then spends sr_cfg's bpf_loop iterations (the
 *   slow path: 0 normally), then writes: a packet that read the index
 *   before a flip writes late into the copy it left.
 *   sr_total: the same packets counted outside any set (the truth).
 *   Built with -DSR_BENCH=1 (swapread_ba) and =2 (swapread_bh): sets a1,
 *   ak, am (arrays of 1, 1024, 65536 __u64) or h1, hk, hm (hashes as
 *   large), member v, that the worker fills for the bench, and a program
 *   that passes every packet.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

#include "swapread_shared.h"

#ifndef SR_BENCH
struct cnt_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};
struct port_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, SR_PORTS);
};
struct cnt_map src0 SEC(".maps"), src1 SEC(".maps");
struct port_map srp0 SEC(".maps"), srp1 SEC(".maps");
CUB_SWAP_SET(pkt);
CUB_SWAP_MEMBER(pkt, cnt, struct cnt_map, 2) = {.values = {&src0, &src1}};
CUB_SWAP_MEMBER(pkt, port, struct port_map, 2) = {.values = {&srp0, &srp1}};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} sr_total SEC(".maps");

/* The slow path's bpf_loop iterations (the worker sets it). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} sr_cfg SEC(".maps");

#endif

/* The bench's sets: one member v each, 2 copies (SR_BENCH 1: the arrays;
 * 2: the hashes; objects of their own, for the 32 maps of an object). */
#define BENCH_ARRAY(set, n)                                                    \
	struct set##_m {                                                       \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__type(key, __u32);                                            \
		__type(value, __u64);                                          \
		__uint(max_entries, n);                                        \
	};                                                                     \
	struct set##_m set##_c0 SEC(".maps"), set##_c1 SEC(".maps");           \
	CUB_SWAP_SET(set);                                                     \
	CUB_SWAP_MEMBER(set, v, struct set##_m, 2) = {                         \
	    .values = {&set##_c0, &set##_c1}}
#define BENCH_HASH(set, n)                                                     \
	struct set##_m {                                                       \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__type(key, __u32);                                            \
		__type(value, __u64);                                          \
		__uint(max_entries, n);                                        \
	};                                                                     \
	struct set##_m set##_c0 SEC(".maps"), set##_c1 SEC(".maps");           \
	CUB_SWAP_SET(set);                                                     \
	CUB_SWAP_MEMBER(set, v, struct set##_m, 2) = {                         \
	    .values = {&set##_c0, &set##_c1}}
#if SR_BENCH == 1
BENCH_ARRAY(a1, 1);
BENCH_ARRAY(ak, 1024);
BENCH_ARRAY(am, SR_BIG);
#elif SR_BENCH == 2
BENCH_HASH(h1, 1);
BENCH_HASH(hk, 1024);
BENCH_HASH(hm, SR_BIG);
#elif SR_BENCH == 3 || SR_BENCH == 4
/* Review 11 (swapread-uneven): set ev's copies differ in size, which
 * BPF_F_INNER_MAP lets an ARRAY_OF_MAPS hold: copy 0 (active first) of
 * SR_UNEVEN entries, copy 1 of one.  The broker bounds a read by the size
 * of the copy it flips to (1), then reads the one it leaves (SR_UNEVEN). */
struct ev_small {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
};
struct ev_big {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
#if SR_BENCH == 3
	__uint(max_entries, SR_UNEVEN);
#else
	__uint(max_entries, SR_UNEVEN4);
#endif
	__uint(map_flags, BPF_F_INNER_MAP);
};
#if SR_BENCH == 3
struct ev_big ev_c0 SEC(".maps");
struct ev_small ev_c1 SEC(".maps");
CUB_SWAP_SET(ev);
CUB_SWAP_MEMBER(ev, v, struct ev_small, 2) = {.values = {
    (struct ev_small *)&ev_c0, &ev_c1}};
#else
/* SR_BENCH 4 (swapread-lockstall): two big copies alike (uneven ones are
 * refused since review 11), so a fresh set's first swap.read {wait: true}
 * empties the inactive one, SR_UNEVEN4 entries. */
struct ev_big ev_c0 SEC(".maps");
struct ev_big ev_c1 SEC(".maps");
CUB_SWAP_SET(ev);
CUB_SWAP_MEMBER(ev, v, struct ev_big, 2) = {.values = {&ev_c0, &ev_c1}};
#endif
#endif

#ifdef SR_BENCH
SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return cub_pass_tc(skb);
}
#else

static long
spin(__u32 i, void *ctx)
{
	__u64 *acc = ctx;

	*acc = *acc * 31 + i;
	return 0;
}

/* The packet's UDP destination port, or -1 when it is not UDP over IPv4. */
static __always_inline int
udp_dport(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return -1;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return -1;
	return bpf_ntohs(udp->dest);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	struct cub_scratch *s = cub_scratch();
	__u32 copy, *loops;
	void *cnt, *port;
	__u64 acc = 0, *v, one = 1;
	int dport;

	if (cub_tdir_tc(skb) != CUB_TDIR_INGRESS || !s)
		return cub_pass_tc(skb);
	dport = udp_dport(skb);
	if (dport < 0)
		return cub_pass_tc(skb);
	copy = cub_swap_copy(&cub_sw_pkt);
	cnt = cub_swap_member(&pkt__cnt, copy);
	port = cub_swap_member(&pkt__port, copy);
	loops = bpf_map_lookup_elem(&sr_cfg, &cub_zero_key);
	if (loops && *loops)
		bpf_loop(*loops & (SR_LOOPS_MAX - 1), spin, &acc, 0);
	if (cnt && (v = bpf_map_lookup_elem(cnt, &cub_zero_key)))
		__sync_fetch_and_add(v, 1);
	s->key[0] = (__u32)dport;
	if (port) {
		v = bpf_map_lookup_elem(port, &s->key[0]);
		if (v)
			__sync_fetch_and_add(v, 1);
		else if (bpf_map_update_elem(port, &s->key[0], &one,
			     BPF_NOEXIST) &&
			 (v = bpf_map_lookup_elem(port, &s->key[0])))
			__sync_fetch_and_add(v, 1);
	}
	if ((v = bpf_map_lookup_elem(&sr_total, &cub_zero_key)))
		__sync_fetch_and_add(v, 1);
	if (acc == 1) /* keeps the loop's work */
		return cub_pass_tc(skb);
	return cub_drop(CUB_HOOK_TC);
}
#endif

char _license[] SEC("license") = "GPL";
