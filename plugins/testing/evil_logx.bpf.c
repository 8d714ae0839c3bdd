// SPDX-License-Identifier: GPL-2.0
/*
 * Extended log records (struct cub_log_xrec, cube_log.bpf.h), honest and
 * hostile, for tests/integration/cubelog-ext.sh.
 *
 * Honest: a UDP packet to port 4242 logs, through cub_logx_at() at INFO,
 * its addresses, ports and MACs with %I %P %M, its TTL with %hhu and a
 * %c: the broker must show them as the packet holds them.
 *
 * Hostile, on every packet whatever the loglevel: a CRITICAL record
 * claiming 1000 arguments with a 128-byte format and a 12-byte tag, both
 * without their NUL, printf conversions the broker must not run (%s %n
 * %p), Polycube's conversions, one conversion past the 8 arguments,
 * control characters and bytes that are not UTF-8; an INFO record with
 * one argument and four conversions past it (garbage in the arguments it
 * does not claim); records of 100, 208 and 224 bytes (neither kind); an
 * extended record of level 99.  The packet passes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>

/* 6 bytes as a little-endian __u64 holds them after a memcpy. */
static __always_inline __u64
mac64(const unsigned char *p)
{
	return (__u64)p[0] | (__u64)p[1] << 8 | (__u64)p[2] << 16 |
	       (__u64)p[3] << 24 | (__u64)p[4] << 32 | (__u64)p[5] << 40;
}

static __always_inline void
honest(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = data + sizeof(*eth) + sizeof(*ip);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    udp->dest != bpf_htons(4242))
		return;
	cub_logx_at(CUB_LOG_INFO, "honest", 42,
	    "%I:%P -> %I:%P %M > %M ttl %hhu %c", ip->saddr, udp->source,
	    ip->daddr, udp->dest, mac64(eth->h_source), mac64(eth->h_dest),
	    ip->ttl, 'u');
}

static __always_inline void
bad_size(__u32 size)
{
	__u32 *r = bpf_ringbuf_reserve(&cub_log_ring, size, 0);

	if (r) {
		*r = CUB_LOG_CRITICAL;
		bpf_ringbuf_submit(r, 0);
	}
}

static __always_inline void
hostile(void)
{
	struct cub_log_xrec *x;
	int i;

	x = bpf_ringbuf_reserve(&cub_log_ring, sizeof(*x), 0);
	if (x) {
		x->level = CUB_LOG_CRITICAL;
		x->nargs = 1000;
		x->line = 7;
		x->args[0] = 0x020012c6;     /* %I 198.18.0.2 */
		x->args[1] = 0x102a;         /* %P 0x2a10 = 10768 */
		x->args[2] = 0x665544332211; /* %M */
		x->args[3] = 0xffff00 | 'Z'; /* %c */
		x->args[4] = 0xff;           /* %hhd -1 */
		x->args[5] = 0xdeadbeefcafe; /* %x (32 bits) */
		x->args[6] = 0xffffffff;     /* %u */
		x->args[7] = 7;              /* %d */
		__builtin_memcpy(
		    x->tag, "\x1b[2Jtag56789-not-shown", CUB_LOGX_TAG_MAX);
		__builtin_memcpy(x->fmt,
		    "%s%n%p|%I|%P|%M|%c|%hhd|%x|%u|%d|%I|\x01\xff|tail-no-nul-"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaNOT-"
		    "SHOWN",
		    CUB_LOGX_FMT_MAX);
		bpf_ringbuf_submit(x, 0);
	}
	x = bpf_ringbuf_reserve(&cub_log_ring, sizeof(*x), 0);
	if (x) {
		x->level = CUB_LOG_INFO;
		x->nargs = 1;
		x->line = 0;
		x->tag[0] = '\0';
		for (i = 0; i < CUB_LOGX_ARGS; i++)
			x->args[i] = 0x4141414141414141ull;
		x->args[0] = 0x010012c6; /* 198.18.0.1 */
		__builtin_memcpy(x->fmt, "%I|%I|%P|%M|%c", 15);
		bpf_ringbuf_submit(x, 0);
	}
	x = bpf_ringbuf_reserve(&cub_log_ring, sizeof(*x), 0);
	if (x) {
		x->level = 99;
		x->nargs = 0;
		x->line = 0;
		x->tag[0] = '\0';
		__builtin_memcpy(x->fmt, "level 99", 9);
		bpf_ringbuf_submit(x, 0);
	}
	bad_size(100);
	bad_size(sizeof(struct cub_log_xrec) - 8);
	bad_size(sizeof(struct cub_log_xrec) + 8);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	honest((void *)(long)skb->data, (void *)(long)skb->data_end);
	hostile();
	return TC_ACT_OK;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	honest((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	hostile();
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
