/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_classify.bpf.h: Linear Bit Vector Search over the engine's maps
 * (fw_maps.bpf.h), step for step what fw_model.c does over a struct
 * fw_image: per used field of the chain a vector id (one LPM lookup for
 * an address, a bounded binary search over a port's intervals, a hash
 * lookup with the chain's default for a small field, the "unset" vector
 * for L4 fields of a later fragment), the AND of those vectors one
 * 64-bit word at a time, set bits in order (a SWAR popcount: clang 14
 * crashes on __builtin_ctzll), a jump stack of FW_JUMP_DEPTH, and past
 * FW_ITER_MAX steps a drop (fail closed).  One bpf_loop() step examines
 * up to FW_STEP_WORDS words (each one step of the cap, as in the model)
 * or enters one chain: the verifier sees one step, not 65536.
 *
 * The scan's state and every map key live in a per-CPU scratch value,
 * not on the stack (cube.bpf.h: stack keys cost a Spectre barrier each).
 *
 * Post-conditions (-m set, -m limit): the includer may define
 * FW_POST(s, a), true when rule a's post-conditions hold for s->pkt;
 * without it a rule with one never matches.  FW_CLASSIFY_TRACE records
 * the first FW_TRACE_MAX counted slots in the result (for tests).
 *
 * Include after fw_maps.bpf.h.
 */
#ifndef CUBICLE_FW_CLASSIFY_BPF_H
#define CUBICLE_FW_CLASSIFY_BPF_H

#ifndef FW_POST
#define FW_POST(s, a) 0
#endif

/*
 * Vector words one bpf_loop() step may examine: one, so that the step has
 * no loop (a loop inside a callback has no cost bound the broker can
 * read: broker/loopcheck.h refuses it).  review21_iptloop builds 8.
 */
#ifndef FW_STEP_WORDS
#define FW_STEP_WORDS 1
#endif

struct fw_scan {
	struct fw_pkt pkt;
	struct fw_res res;
	__u32 copy, start, chain, pos, depth, it;
	__u32 nrules, nwords, used, rule_base;
	__u32 policy, policy_slot;
	__u32 vid[FW_F_MAX], vid2;
	__u64 sum[FW_SUM_MAX]; /* the words the chain's fields all have */
	__u32 stack_chain[FW_JUMP_DEPTH], stack_pos[FW_JUMP_DEPTH];
	__u32 enter, done;
	/* Keys, here rather than on the stack. */
	__u32 key;
	struct fw_addr_key akey;
	struct fw_small_key skey;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_scan);
	__uint(max_entries, 1);
} fw_scan_map SEC(".maps");

/* Trailing zeros of v (not 0) without a table: the popcount of the bits
 * below its lowest set one (SWAR; clang 14 crashes on __builtin_ctzll).
 * A De Bruijn table lookup in two places of the step made the
 * unprivileged verifier refuse its pointer arithmetic (the compiler
 * merged lookups from different paths). */
static __always_inline __u32
fw_ctz64(__u64 v)
{
	__u64 x = (v & -v) - 1;

	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (__u32)((x * 0x0101010101010101ull) >> 56);
}

/* The interval of port among n from base: its vector id, or -1. */
static __always_inline long
fw_ival_vid(struct fw_scan *s, void *ivm, __u32 base, __u32 n, __u32 port)
{
	const struct fw_ival *iv;
	__u32 lo = 0, hi = n, miss = 0;

	/* Unrolled, as every loop a bpf_loop() callback runs must be: the
	 * broker bounds a callback by its length (broker/loopcheck.h). */
#pragma unroll
	for (int i = 0; i < FW_IVAL_STEPS; i++) {
		__u32 mid = (lo + hi) / 2;

		if (hi - lo > 1 && !miss) {
			s->key = base + mid;
			iv = bpf_map_lookup_elem(ivm, &s->key);
			if (!iv)
				miss = 1;
			else if (iv->lo <= port)
				lo = mid;
			else
				hi = mid;
		}
	}
	if (miss)
		return -1;
	s->key = base + lo;
	iv = bpf_map_lookup_elem(ivm, &s->key);
	return iv ? (long)iv->vid : -1;
}

/* A small field's vector id: its key's, else the chain's default. */
static __always_inline __u32
fw_small_vid(struct fw_scan *s, void *smm, const struct fw_chain_meta *m, int f,
    __u32 value)
{
	const __u32 *v;

	s->skey.chain = (__u16)s->chain;
	s->skey.field = (__u8)f;
	s->skey.pad_ = 0;
	s->skey.value = value;
	v = bpf_map_lookup_elem(smm, &s->skey);
	return v ? *v : m->dflt_vid[f];
}

/* The AND of the used fields' summaries (FW_SUM_WORDS after each
 * vector's words), as fw_model.c's chain_sum(). */
static __always_inline int
fw_enter_sum(struct fw_scan *s)
{
	void *vecm = cub_swap_member(&fw__vec, s->copy);
	const __u64 *v;
	__u64 w;

	if (!vecm)
		return -1;
	s->sum[0] = s->sum[1] = ~0ull;
#pragma unroll
	for (int f = 0; f < FW_F_MAX; f++) {
		if (!(s->used & 1u << f))
			continue;
#pragma unroll
		for (int j = 0; j < FW_SUM_MAX; j++) {
			if (j >= (int)FW_SUM_WORDS(s->nwords))
				break;
			s->key = s->vid[f] + s->nwords + j;
			v = bpf_map_lookup_elem(vecm, &s->key);
			if (!v)
				return -1;
			w = *v;
			if (f == FW_F_EITHER) {
				s->key = s->vid2 + s->nwords + j;
				v = bpf_map_lookup_elem(vecm, &s->key);
				if (!v)
					return -1;
				w |= *v;
			}
			s->sum[j & 1] &= w;
		}
	}
	return 0;
}

/* The first word at or after wi the summary has, or FW_WORDS_MAX (as
 * fw_model.c's fw_sum_next()). */
static __always_inline __u32
fw_sum_next(const struct fw_scan *s, __u32 wi)
{
	__u32 base = 64;
	__u64 w;

	if (wi >= FW_WORDS_MAX)
		return FW_WORDS_MAX;
	if (wi < 64) {
		w = s->sum[0] & (~0ull << wi);
		if (w)
			base = 0;
		else
			w = s->sum[1];
	} else {
		w = s->sum[1] & (~0ull << ((wi - 64) & 63));
	}
	return w ? base + fw_ctz64(w) : FW_WORDS_MAX;
}

/* Enter s->chain: its metadata and its used fields' vector ids. */
static __always_inline int
fw_enter(struct fw_scan *s)
{
	void *chm = cub_swap_member(&fw__chain, s->copy);
	void *adm = cub_swap_member(&fw__addr, s->copy);
	void *ivm = cub_swap_member(&fw__ival, s->copy);
	void *smm = cub_swap_member(&fw__small, s->copy);
	const struct fw_chain_meta *m;
	const __u32 *v;
	__u32 used;
	long r;

	if (!chm || !adm || !ivm || !smm)
		return -1;
	s->key = s->chain;
	m = bpf_map_lookup_elem(chm, &s->key);
	if (!m)
		return -1;
	s->nrules = m->nrules;
	s->nwords = m->nwords;
	s->used = used = m->used;
	s->rule_base = m->rule_base;
	if (s->pkt.frag) {
		if (used & 1u << FW_F_SPORT)
			s->vid[FW_F_SPORT] = m->unset_vid[FW_F_SPORT];
		if (used & 1u << FW_F_DPORT)
			s->vid[FW_F_DPORT] = m->unset_vid[FW_F_DPORT];
		if (used & 1u << FW_F_EITHER)
			s->vid[FW_F_EITHER] = s->vid2 =
			    m->unset_vid[FW_F_EITHER];
		if (used & 1u << FW_F_TCPF)
			s->vid[FW_F_TCPF] = m->unset_vid[FW_F_TCPF];
		if (used & 1u << FW_F_ICMP)
			s->vid[FW_F_ICMP] = m->unset_vid[FW_F_ICMP];
	} else {
		if (used & 1u << FW_F_SPORT) {
			r = fw_ival_vid(s, ivm, m->ival_base[FW_F_SPORT],
			    m->ival_n[FW_F_SPORT], s->pkt.sport);
			if (r < 0)
				return -1;
			s->vid[FW_F_SPORT] = (__u32)r;
		}
		if (used & 1u << FW_F_DPORT) {
			r = fw_ival_vid(s, ivm, m->ival_base[FW_F_DPORT],
			    m->ival_n[FW_F_DPORT], s->pkt.dport);
			if (r < 0)
				return -1;
			s->vid[FW_F_DPORT] = (__u32)r;
		}
		if (used & 1u << FW_F_EITHER) {
			r = fw_ival_vid(s, ivm, m->ival_base[FW_F_EITHER],
			    m->ival_n[FW_F_EITHER], s->pkt.sport);
			if (r < 0)
				return -1;
			s->vid[FW_F_EITHER] = (__u32)r;
			r = fw_ival_vid(s, ivm, m->ival_base[FW_F_EITHER],
			    m->ival_n[FW_F_EITHER], s->pkt.dport);
			if (r < 0)
				return -1;
			s->vid2 = (__u32)r;
		}
		if (used & 1u << FW_F_TCPF)
			s->vid[FW_F_TCPF] = fw_small_vid(
			    s, smm, m, FW_F_TCPF, s->pkt.tcp_flags);
		if (used & 1u << FW_F_ICMP) {
			s->skey.chain = (__u16)s->chain;
			s->skey.field = FW_F_ICMP;
			s->skey.pad_ = 0;
			s->skey.value =
			    FW_ICMP_KEY(s->pkt.icmp_type, s->pkt.icmp_code);
			v = bpf_map_lookup_elem(smm, &s->skey);
			if (!v) {
				s->skey.value =
				    FW_ICMP_ANYCODE(s->pkt.icmp_type);
				v = bpf_map_lookup_elem(smm, &s->skey);
			}
			s->vid[FW_F_ICMP] = v ? *v : m->dflt_vid[FW_F_ICMP];
		}
	}
	if (used & 1u << FW_F_SRC) {
		s->akey.prefixlen = 64;
		s->akey.cd = bpf_htonl(s->chain << 1);
		s->akey.addr = bpf_htonl(s->pkt.saddr);
		v = bpf_map_lookup_elem(adm, &s->akey);
		if (!v)
			return -1;
		s->vid[FW_F_SRC] = *v;
	}
	if (used & 1u << FW_F_DST) {
		s->akey.prefixlen = 64;
		s->akey.cd = bpf_htonl(s->chain << 1 | 1);
		s->akey.addr = bpf_htonl(s->pkt.daddr);
		v = bpf_map_lookup_elem(adm, &s->akey);
		if (!v)
			return -1;
		s->vid[FW_F_DST] = *v;
	}
	if (used & 1u << FW_F_PROTO)
		s->vid[FW_F_PROTO] =
		    fw_small_vid(s, smm, m, FW_F_PROTO, s->pkt.proto);
	if (used & 1u << FW_F_IIF)
		s->vid[FW_F_IIF] =
		    fw_small_vid(s, smm, m, FW_F_IIF, s->pkt.iif);
	if (used & 1u << FW_F_OIF)
		s->vid[FW_F_OIF] =
		    fw_small_vid(s, smm, m, FW_F_OIF, s->pkt.oif);
	if (used & 1u << FW_F_CT)
		s->vid[FW_F_CT] = fw_small_vid(s, smm, m, FW_F_CT, s->pkt.ct);
	if (used & 1u << FW_F_STYPE)
		s->vid[FW_F_STYPE] =
		    fw_small_vid(s, smm, m, FW_F_STYPE, s->pkt.src_type);
	if (used & 1u << FW_F_DTYPE)
		s->vid[FW_F_DTYPE] =
		    fw_small_vid(s, smm, m, FW_F_DTYPE, s->pkt.dst_type);
	return fw_enter_sum(s);
}

static __always_inline void
fw_count(struct fw_scan *s, __u32 slot)
{
	struct fw_cnt *c;

	s->key = slot;
	c = bpf_map_lookup_elem(&fw_cnt, &s->key);
	if (c) {
		c->pkts++;
		c->bytes += s->pkt.len;
	}
#ifdef FW_CLASSIFY_TRACE
	if (s->res.ncounted < FW_TRACE_MAX)
		s->res.counted[s->res.ncounted & (FW_TRACE_MAX - 1)] = slot;
#endif
	s->res.ncounted++;
}

/* One step: enter a chain, or examine words of the current one up to
 * the first with a matching rule. */
static long
fw_step(__u32 i, void *unused)
{
	struct fw_scan *s = bpf_map_lookup_elem(&fw_scan_map, &cub_zero_key);
	const struct fw_act *a;
	void *vecm, *actm;
	const __u64 *v;
	__u64 word, w;
	__u32 wi, ri, d;

	if (!s)
		return 1;
	if (s->enter) {
		s->enter = 0;
		if (fw_enter(s))
			goto drop;
		return 0;
	}
	if (s->it++ >= FW_ITER_MAX)
		goto drop;
	if (s->pos >= s->nrules) {
		if (!s->depth)
			goto policy;
		s->depth--;
		d = s->depth & (FW_JUMP_DEPTH - 1);
		s->chain = s->stack_chain[d];
		s->pos = s->stack_pos[d];
		s->enter = 1;
		return 0;
	}
	vecm = cub_swap_member(&fw__vec, s->copy);
	actm = cub_swap_member(&fw__act, s->copy);
	if (!vecm || !actm)
		goto drop;
	/* Up to FW_STEP_WORDS words per step, each one of the model's
	 * iterations; a chain's end is left to the next step. */
	word = 0;
	wi = 0;
	for (int k = 0; k < FW_STEP_WORDS; k++) {
		if (k && (s->pos >= s->nrules || s->it++ >= FW_ITER_MAX))
			break;
		/* The next word the summary has; none: the chain's end. */
		wi = fw_sum_next(s, s->pos / 64);
		if (wi >= s->nwords) {
			s->pos = s->nrules;
			word = 0;
			break;
		}
		if (wi > s->pos / 64)
			s->pos = wi * 64;
		word = ~0ull << (s->pos % 64);
		if (wi == s->nwords - 1 && s->nrules % 64)
			word &= (1ull << (s->nrules % 64)) - 1;
#pragma unroll
		for (int f = 0; f < FW_F_MAX; f++) {
			if (!(s->used & 1u << f))
				continue;
			s->key = s->vid[f] + wi;
			v = bpf_map_lookup_elem(vecm, &s->key);
			if (!v)
				goto drop;
			w = *v;
			if (f == FW_F_EITHER) {
				s->key = s->vid2 + wi;
				v = bpf_map_lookup_elem(vecm, &s->key);
				if (!v)
					goto drop;
				w |= *v;
			}
			word &= w;
		}
		if (word)
			break;
		s->pos = (wi + 1) * 64;
	}
	if (s->it > FW_ITER_MAX)
		goto drop;
	if (!word)
		return 0;
	ri = wi * 64 + fw_ctz64(word);
	s->pos = ri + 1;
	s->key = s->rule_base + ri;
	a = bpf_map_lookup_elem(actm, &s->key);
	if (!a)
		goto drop;
	if (a->post && !(FW_POST(s, a)))
		return 0;
	fw_count(s, a->slot);
	switch (a->target) {
	case FW_TGT_NONE:
		return 0;
	case FW_TGT_LOG:
		d = s->res.nlog;
		if (d < FW_LOG_REQ_MAX) {
			s->res.log_slot[d & (FW_LOG_REQ_MAX - 1)] = a->slot;
			s->res.log_logp[d & (FW_LOG_REQ_MAX - 1)] = a->logp;
			s->res.log_level[d & (FW_LOG_REQ_MAX - 1)] =
			    a->log_level;
		}
		s->res.nlog++;
		return 0;
	case FW_TGT_ACCEPT:
	case FW_TGT_DROP:
	case FW_TGT_REJECT:
		s->res.verdict = a->target;
		s->res.reject_with = a->reject_with;
		s->res.slot = a->slot;
		s->done = 1;
		return 1;
	case FW_TGT_JUMP:
		if (s->depth >= FW_JUMP_DEPTH)
			goto drop;
		d = s->depth & (FW_JUMP_DEPTH - 1);
		s->stack_chain[d] = s->chain;
		s->stack_pos[d] = s->pos;
		s->depth++;
		/* fall through */
	case FW_TGT_GOTO:
		s->chain = a->jump;
		s->pos = 0;
		s->enter = 1;
		return 0;
	case FW_TGT_RETURN:
		if (!s->depth)
			goto policy;
		s->depth--;
		d = s->depth & (FW_JUMP_DEPTH - 1);
		s->chain = s->stack_chain[d];
		s->pos = s->stack_pos[d];
		s->enter = 1;
		return 0;
	}
drop:
	s->res.verdict = FW_TGT_DROP;
	s->res.capped = 1;
	s->res.slot = 0;
	s->done = 1;
	return 1;
policy:
	s->res.verdict = (__u8)s->policy;
	s->res.slot = s->policy_slot;
	fw_count(s, s->policy_slot);
	s->done = 1;
	return 1;
}

/*
 * Classify pkt from the builtin chain start.  Returns the result (in
 * this CPU's scratch, valid for this packet) or NULL (no scratch).  Not
 * IPv4: accepted, nothing counted.
 */
static __always_inline struct fw_res *
fw_classify(const struct fw_pkt *pkt, __u32 start)
{
	struct fw_scan *s = bpf_map_lookup_elem(&fw_scan_map, &cub_zero_key);
	const struct fw_chain_meta *m;
	void *chm;

	if (!s)
		return NULL;
	__builtin_memset(&s->res, 0, sizeof(s->res));
	s->pkt = *pkt;
	s->res.verdict = FW_TGT_ACCEPT;
	if (!pkt->ipv4)
		return &s->res;
	s->res.verdict = FW_TGT_DROP;
	s->copy = cub_swap_copy(&cub_sw_fw);
	chm = cub_swap_member(&fw__chain, s->copy);
	if (!chm)
		return &s->res;
	s->key = start;
	m = bpf_map_lookup_elem(chm, &s->key);
	if (!m || !m->builtin)
		return &s->res;
	s->policy = m->policy;
	s->policy_slot = m->policy_slot;
	s->start = s->chain = start;
	s->pos = s->depth = s->it = 0;
	s->enter = 1;
	s->done = 0;
	bpf_loop(2 * FW_ITER_MAX + 2, fw_step, NULL, 0);
	if (!s->done) {
		s->res.verdict = FW_TGT_DROP;
		s->res.capped = 1;
	}
	return &s->res;
}

#endif /* CUBICLE_FW_CLASSIFY_BPF_H */
