/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fw_log.bpf.h: the LOG target's lines (docs/firewall-contract.md,
 * "engine: post-conditions, REJECT, LOG").  After fw_classify(), each of
 * the first FW_LOG_REQ_MAX LOG rules the packet matched writes one line
 * into the cube's log (cube_log.bpf.h's ring, a struct cub_log_xrec the
 * broker formats):
 *
 *	PREFIX IN=<in port> OUT=<out port> SRC=a.b.c.d DST=a.b.c.d LEN=n
 *	PROTO=n SPT=n DPT=n
 *
 * (one line; ports by index, ICMP's SPT/DPT its type and code), at the
 * cube log level of the rule's --log-level (syslog 0-2 CRITICAL, 3 ERR,
 * 4 WARN, 5-6 INFO, 7 DEBUG).  The prefix is the record's format, copied
 * with constant offsets up to its NUL and the rest of the format after
 * it; a '%' in it must have been doubled by the front end (iptcube does
 * it in the image's fw__logp).
 *
 * Rate limit: one token bucket for the whole cube (fw_log_bucket, the
 * GCRA of fw_post.bpf.h), FW_LOG_RATE lines a second, FW_LOG_BURST at
 * once; lines over it are counted in fw_log_stats.suppressed, lines the
 * ring had no room for in cub_scratch()->log_lost (cube_log.bpf.h).  The
 * broker's own per-service bucket comes after that.
 *
 * Include after fw_classify.bpf.h and fw_post.bpf.h.
 */
#ifndef CUBICLE_FW_LOG_BPF_H
#define CUBICLE_FW_LOG_BPF_H

#ifndef FW_LOG_RATE
#define FW_LOG_RATE 50
#endif
#ifndef FW_LOG_BURST
#define FW_LOG_BURST 100
#endif

#define FW_LOG_SUFFIX "IN=%u OUT=%u SRC=%I DST=%I LEN=%u PROTO=%u SPT=%u DPT=%u"

struct fw_log_stats {
	__u64 lines, suppressed;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_bucket);
	__uint(max_entries, 1);
} fw_log_bucket SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_log_stats);
	__uint(max_entries, 1);
} fw_log_stats SEC(".maps");

static __always_inline __u32
fw_log_level(__u8 syslog)
{
	if (syslog <= 2)
		return CUB_LOG_CRITICAL;
	if (syslog == 3)
		return CUB_LOG_ERR;
	if (syslog == 4)
		return CUB_LOG_WARN;
	if (syslog <= 6)
		return CUB_LOG_INFO;
	return CUB_LOG_DEBUG;
}

/* One line for LOG request i of res (i a constant). */
static __always_inline void
fw_log_one(struct fw_res *res, __u32 copy, const struct fw_pkt *pkt, __u32 in,
    __u32 out, int i)
{
	struct fw_log_stats *st;
	const struct fw_logp *lp;
	struct cub_log_xrec *x;
	struct fw_bucket *b;
	void *lpm;

	st = bpf_map_lookup_elem(&fw_log_stats, &cub_zero_key);
	b = bpf_map_lookup_elem(&fw_log_bucket, &cub_zero_key);
	lpm = cub_swap_member(&fw__logp, copy);
	if (!st || !b || !lpm)
		return;
	lp = bpf_map_lookup_elem(lpm, &res->log_logp[i]);
	if (!lp)
		return;
	if (!fw_bucket_take(b, bpf_ktime_get_ns(), 1000000000ull / FW_LOG_RATE,
		FW_LOG_BURST)) {
		__sync_fetch_and_add(&st->suppressed, 1);
		return;
	}
	x = cub_log_reserve_size(
	    fw_log_level(res->log_level[i]), sizeof(struct cub_log_xrec));
	if (!x)
		return;
	__sync_fetch_and_add(&st->lines, 1);
	x->tag[0] = 0;
	x->line = 0;
	/* The prefix up to its NUL, then the suffix: constant offsets
	 * (clang does not unroll such a loop; the hardened verifier would
	 * refuse a variable offset into the ring's memory). */
#define FW_LOG_AT(k)                                                           \
	if (!lp->prefix[k] || (k) == sizeof(lp->prefix) - 1) {                 \
		__builtin_memcpy(                                              \
		    &x->fmt[k], FW_LOG_SUFFIX, sizeof(FW_LOG_SUFFIX));         \
		goto fmt_done;                                                 \
	}                                                                      \
	x->fmt[k] = lp->prefix[k];
#define FW_LOG_AT8(k)                                                          \
	FW_LOG_AT(k)                                                           \
	FW_LOG_AT(k + 1)                                                       \
	FW_LOG_AT(k + 2)                                                       \
	FW_LOG_AT(k + 3)                                                       \
	FW_LOG_AT(k + 4)                                                       \
	FW_LOG_AT(k + 5)                                                       \
	FW_LOG_AT(k + 6)                                                       \
	FW_LOG_AT(k + 7)
	FW_LOG_AT8(0)
	FW_LOG_AT8(8)
	FW_LOG_AT8(16)
	FW_LOG_AT8(24)
#undef FW_LOG_AT8
#undef FW_LOG_AT
fmt_done:
	x->nargs = 8;
	x->args[0] = in;
	x->args[1] = out;
	x->args[2] = bpf_htonl(pkt->saddr);
	x->args[3] = bpf_htonl(pkt->daddr);
	x->args[4] = pkt->len;
	x->args[5] = pkt->proto;
	if (pkt->proto == IPPROTO_ICMP) {
		x->args[6] = pkt->icmp_type;
		x->args[7] = pkt->icmp_code;
	} else {
		x->args[6] = pkt->sport;
		x->args[7] = pkt->dport;
	}
	bpf_ringbuf_submit(x, 0);
}

/* The lines of res's LOG requests (res from fw_classify() on pkt). */
static __always_inline void
fw_log(struct fw_res *res, __u32 copy, const struct fw_pkt *pkt, __u32 in,
    __u32 out)
{
	if (res->nlog > 0)
		fw_log_one(res, copy, pkt, in, out, 0);
	if (res->nlog > 1)
		fw_log_one(res, copy, pkt, in, out, 1);
	if (res->nlog > 2)
		fw_log_one(res, copy, pkt, in, out, 2);
	if (res->nlog > 3)
		fw_log_one(res, copy, pkt, in, out, 3);
}

#endif /* CUBICLE_FW_LOG_BPF_H */
