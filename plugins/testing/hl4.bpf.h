/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The body of the hl4_<form>.bpf.c objects (hl4_shared.h): HL4_FORM picks
 * how the L4 header behind a variable-length IPv4 header is reached.
 *   HL4_ARITH  Polycube's: data + ETH_HLEN + 4 * ihl (a variable added to
 *              a packet pointer; the hardened verifier refuses it)
 *   HL4_TABLE  cub_l4(): one constant offset per ihl
 *   HL4_COPY   cub_l4_copy(): bpf_{skb,xdp}_load_bytes at the offset
 *   HL4_MAPIDX the packet's first bytes copied into a map value, indexed
 *              there by 4 * ihl (a variable added to a map value pointer)
 *   HL4_LOOP   the packet pointer advanced by 4 in a bounded loop, once
 *              per 32-bit word of options
 */
#include <cubicle/cube.bpf.h>
#include <linux/in.h>

#include "hl4_shared.h"

#define HL4_ICMP_ECHO 8 /* <linux/icmp.h> needs libc headers */

#define HL4_COPY_LEN (ETH_HLEN + 60 + 4)

#define HL4_ARITH 1
#define HL4_TABLE 2
#define HL4_COPY 3
#define HL4_MAPIDX 4
#define HL4_LOOP 5

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
} hl4_ihl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CUB_MAX_PORTS);
} hl4_port SEC(".maps");

struct hl4_buf {
	__u8 b[HL4_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct hl4_buf);
	__uint(max_entries, 1);
} hl4_buf SEC(".maps");

/* Whether the first 4 bytes of an L4 header make the packet a probe. */
static __always_inline int
hl4_probe(__u8 proto, const __u8 *l4)
{
	if (proto == IPPROTO_ICMP)
		return l4[0] == HL4_ICMP_ECHO;
	if (proto == IPPROTO_UDP)
		return l4[2] == (HL4_PORT >> 8) && l4[3] == (HL4_PORT & 0xff);
	return 0;
}

/* 1: a probe, 0: not one, -1: no L4 header to read. */
static __always_inline int
hl4_parse(void *ctx, enum cub_hook hook, struct cub_scratch *s)
{
	struct iphdr *ip = cub_ipv4(ctx, hook);
	__u8 proto, ihl;

	if (!ip)
		return -1;
	proto = ip->protocol;
	ihl = ip->ihl;
	s->key[1] = ihl;
#if HL4_FORM == HL4_ARITH
	{
		void *end = cub_data_end(ctx, hook);
		__u8 *l4 = cub_data(ctx, hook) + ETH_HLEN + 4 * ihl;

		if ((void *)(l4 + 4) > end)
			return -1;
		return hl4_probe(proto, l4);
	}
#elif HL4_FORM == HL4_TABLE
	{
		void *l4;

		if (cub_l4(ctx, hook, 4, &l4))
			return -1;
		return hl4_probe(proto, l4);
	}
#elif HL4_FORM == HL4_COPY
	{
		struct hl4_buf *buf = bpf_map_lookup_elem(&hl4_buf, &cub_zero_key);

		if (!buf || cub_l4_copy(ctx, hook, buf->b, 4) < 0)
			return -1;
		return hl4_probe(proto, buf->b);
	}
#elif HL4_FORM == HL4_MAPIDX
	{
		/* The most a header may need (options of 40 bytes and 4 of
		 * L4), copied whole: a constant length, as a variable one
		 * clamped in C reaches the helper unbounded (clang 14 tests
		 * a copy of the register it passes). */
		struct hl4_buf *buf = bpf_map_lookup_elem(&hl4_buf, &cub_zero_key);
		__u32 off;

		if (!buf || cub_pkt_len(ctx, hook) < HL4_COPY_LEN)
			return -1;
		if (hook == CUB_HOOK_XDP
			? bpf_xdp_load_bytes(ctx, 0, buf->b, HL4_COPY_LEN)
			: bpf_skb_load_bytes(ctx, 0, buf->b, HL4_COPY_LEN))
			return -1;
		off = ETH_HLEN + 4 * (ihl & 0xf);
		return hl4_probe(proto, buf->b + off);
	}
#elif HL4_FORM == HL4_LOOP
	{
		void *end = cub_data_end(ctx, hook);
		__u8 *l4 = (__u8 *)(ip + 1);
		int i;

		for (i = 5; i < 15; i++) {
			if (i >= ihl)
				break;
			l4 += 4;
			asm volatile("" : "+r"(l4));
		}
		if ((void *)(l4 + 4) > end)
			return -1;
		return hl4_probe(proto, l4);
	}
#else
#error "define HL4_FORM"
#endif
}

static __always_inline int
hl4_ingress(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s;
	__u64 *n;
	int port;

	port = cub_in_port(ctx, hook);
	s = cub_scratch();
	if (port < 0 || !s)
		return cub_drop(hook);
	s->key[0] = port;
	if (hl4_parse(ctx, hook, s) == 1) {
		n = bpf_map_lookup_elem(&hl4_ihl, &s->key[1]);
		if (n)
			__sync_fetch_and_add(n, 1);
		n = bpf_map_lookup_elem(&hl4_port, &s->key[0]);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	s->key[2] = s->key[0] ^ 1;
	if (!cub_port_ifindex_at(&s->key[2]))
		return cub_drop(hook);
	return cub_forward(ctx, hook, s->key[2]);
}

CUB_ENTRY_POINTS(hl4_ingress)

char _license[] SEC("license") = "GPL";
