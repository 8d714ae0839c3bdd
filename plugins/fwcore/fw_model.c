/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_model.c: the classifier as the BPF program runs it (fw_model.h).
 * Every loop has a constant bound; the image's arrays stand for the maps
 * (a bsearch for a hash or LPM lookup of one key).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_model.h"

static const uint8_t debruijn64[64] = {
    0,
    1,
    48,
    2,
    57,
    49,
    28,
    3,
    61,
    58,
    50,
    42,
    38,
    29,
    17,
    4,
    62,
    55,
    59,
    36,
    53,
    51,
    43,
    22,
    45,
    39,
    33,
    30,
    24,
    18,
    12,
    5,
    63,
    47,
    56,
    27,
    60,
    41,
    37,
    16,
    54,
    35,
    52,
    21,
    44,
    32,
    23,
    11,
    46,
    26,
    40,
    15,
    34,
    20,
    31,
    10,
    25,
    14,
    19,
    9,
    13,
    8,
    7,
    6,
};

uint32_t
fw_ctz64(uint64_t v)
{
	return debruijn64[((v & -v) * 0x03f79d71b4cb0a89ull) >> 58];
}

/* bpf_map_lookup_elem(&fw__addr, key) on the LPM trie: the longest
 * prefix first, 33 exact lookups. */
static int
lookup_addr(
    const struct fw_image *img, uint32_t cd, uint32_t addr, uint32_t *vid)
{
	for (int len = 32; len >= 0; len--) {
		struct fw_addr_key k = {
		    .prefixlen = 32 + (uint32_t)len,
		    .cd = htonl(cd),
		    .addr = htonl(len ? addr & ~0u << (32 - len) : 0),
		};
		const struct fw_addr_ent *e =
		    img->naddr ? bsearch(&k, img->addr, img->naddr,
				     sizeof(*img->addr), fw_addr_key_cmp)
			       : NULL;

		if (e) {
			*vid = e->vid;
			return 0;
		}
	}
	return -ENOENT;
}

/* The interval holding port: the last whose lo <= port (the first's lo
 * is 0), FW_IVAL_STEPS halvings. */
static uint32_t
lookup_ival(
    const struct fw_image *img, uint32_t base, uint32_t n, uint32_t port)
{
	uint32_t lo = 0, hi = n;

	for (int s = 0; s < FW_IVAL_STEPS; s++) {
		uint32_t mid;

		if (hi - lo <= 1)
			break;
		mid = (lo + hi) / 2;
		if (img->ival[base + mid].lo <= port)
			lo = mid;
		else
			hi = mid;
	}
	return img->ival[base + lo].vid;
}

/* bpf_map_lookup_elem(&fw__small, key). */
static bool
lookup_small(const struct fw_image *img, uint32_t chain, int field,
    uint32_t value, uint32_t *vid)
{
	struct fw_small_key k = {
	    .chain = (__u16)chain, .field = (__u8)field, .value = value};
	const struct fw_small_ent *e =
	    img->nsmall ? bsearch(&k, img->small, img->nsmall,
			      sizeof(*img->small), fw_small_key_cmp)
			: NULL;

	if (!e)
		return false;
	*vid = e->vid;
	return true;
}

/* The vector ids of chain c's used fields for pkt (vid2: FW_F_EITHER's
 * destination-port vector).  -ENOENT: an image without 0/0 (a bug). */
static int
chain_vids(const struct fw_image *img, uint32_t c, const struct fw_pkt *pkt,
    uint32_t vid[FW_F_MAX], uint32_t *vid2)
{
	const struct fw_chain_meta *m = &img->chain[c];

	for (int f = 0; f < FW_F_MAX; f++) {
		uint32_t v = 0;
		bool small = false;

		if (!(m->used & 1u << f))
			continue;
		if (f < FW_F_L4_END_ && pkt->frag) {
			vid[f] = m->unset_vid[f];
			if (f == FW_F_EITHER)
				*vid2 = m->unset_vid[f];
			continue;
		}
		switch (f) {
		case FW_F_SRC:
		case FW_F_DST:
			if (lookup_addr(img, c << 1 | (f == FW_F_DST),
				f == FW_F_DST ? pkt->daddr : pkt->saddr,
				&vid[f]))
				return -ENOENT;
			continue;
		case FW_F_SPORT:
			vid[f] = lookup_ival(
			    img, m->ival_base[f], m->ival_n[f], pkt->sport);
			continue;
		case FW_F_DPORT:
			vid[f] = lookup_ival(
			    img, m->ival_base[f], m->ival_n[f], pkt->dport);
			continue;
		case FW_F_EITHER:
			vid[f] = lookup_ival(
			    img, m->ival_base[f], m->ival_n[f], pkt->sport);
			*vid2 = lookup_ival(
			    img, m->ival_base[f], m->ival_n[f], pkt->dport);
			continue;
		case FW_F_ICMP:
			if (lookup_small(img, c, f,
				FW_ICMP_KEY(pkt->icmp_type, pkt->icmp_code),
				&vid[f]))
				continue;
			if (lookup_small(img, c, f,
				FW_ICMP_ANYCODE(pkt->icmp_type), &vid[f]))
				continue;
			vid[f] = m->dflt_vid[f];
			continue;
		case FW_F_PROTO:
			v = pkt->proto;
			small = true;
			break;
		case FW_F_TCPF:
			v = pkt->tcp_flags;
			small = true;
			break;
		case FW_F_IIF:
			v = pkt->iif;
			small = true;
			break;
		case FW_F_OIF:
			v = pkt->oif;
			small = true;
			break;
		case FW_F_CT:
			v = pkt->ct;
			small = true;
			break;
		case FW_F_STYPE:
			v = pkt->src_type;
			small = true;
			break;
		case FW_F_DTYPE:
			v = pkt->dst_type;
			small = true;
			break;
		}
		if (small && !lookup_small(img, c, f, v, &vid[f]))
			vid[f] = m->dflt_vid[f];
	}
	return 0;
}

/* The AND of chain m's used fields' summaries (FW_SUM_WORDS): the words
 * the scan examines. */
static void
chain_sum(const struct fw_image *img, const struct fw_chain_meta *m,
    const uint32_t vid[FW_F_MAX], uint32_t vid2, uint64_t sum[FW_SUM_MAX])
{
	for (int j = 0; j < FW_SUM_MAX; j++)
		sum[j] = ~0ull;
	for (int f = 0; f < FW_F_MAX; f++) {
		if (!(m->used & 1u << f))
			continue;
		for (uint32_t j = 0; j < FW_SUM_WORDS(m->nwords); j++) {
			uint64_t v = img->vec[vid[f] + m->nwords + j];

			if (f == FW_F_EITHER)
				v |= img->vec[vid2 + m->nwords + j];
			sum[j] &= v;
		}
	}
}

/* The first word at or after wi the summary has, or FW_WORDS_MAX. */
uint32_t
fw_sum_next(const uint64_t sum[FW_SUM_MAX], uint32_t wi)
{
	uint64_t w;

	if (wi >= FW_WORDS_MAX)
		return FW_WORDS_MAX;
	if (wi < 64) {
		w = sum[0] & (~0ull << wi);
		if (w)
			return fw_ctz64(w);
		wi = 64;
	}
	w = sum[1] & (~0ull << (wi - 64));
	return w ? 64 + fw_ctz64(w) : FW_WORDS_MAX;
}

static void
count(struct fw_result *res, uint32_t slot)
{
	if (res->ncounted < FW_RES_COUNTED_MAX)
		res->counted[res->ncounted] = slot;
	res->ncounted++;
}

int
fw_image_classify(const struct fw_image *img, uint32_t start,
    const struct fw_pkt *pkt, fw_post_fn post, void *arg, struct fw_result *res)
{
	struct {
		uint32_t chain, pos;
	} stack[FW_MAX_JUMP_DEPTH];
	uint32_t vid[FW_F_MAX] = {0}, vid2 = 0;
	uint32_t depth = 0, c = start, pos = 0;
	uint64_t sum[FW_SUM_MAX];
	const struct fw_chain_meta *m;

	memset(res, 0, sizeof(*res));
	if (start >= img->nchains || !img->chain[start].builtin)
		return -EINVAL;
	res->verdict = FW_T_ACCEPT;
	if (!pkt->ipv4)
		return 0;
	m = &img->chain[c];
	if (chain_vids(img, c, pkt, vid, &vid2))
		goto drop;
	chain_sum(img, m, vid, vid2, sum);
	for (uint32_t it = 0; it < FW_ITER_MAX; it++) {
		const struct fw_act *a;
		uint32_t wi, ri;
		uint64_t word;

		if (pos >= m->nrules) {
			if (depth == 0)
				goto policy;
			depth--;
			c = stack[depth].chain;
			pos = stack[depth].pos;
			m = &img->chain[c];
			if (chain_vids(img, c, pkt, vid, &vid2))
				goto drop;
			chain_sum(img, m, vid, vid2, sum);
			continue;
		}
		/* The next word the summary has; none: the chain's end. */
		wi = fw_sum_next(sum, pos / 64);
		if (wi >= m->nwords) {
			pos = m->nrules;
			continue;
		}
		if (wi > pos / 64)
			pos = wi * 64;
		word = ~0ull << (pos % 64);
		if (wi == m->nwords - 1 && m->nrules % 64)
			word &= (1ull << (m->nrules % 64)) - 1;
		for (int f = 0; f < FW_F_MAX; f++) {
			uint64_t v;

			if (!(m->used & 1u << f))
				continue;
			v = img->vec[vid[f] + wi];
			if (f == FW_F_EITHER)
				v |= img->vec[vid2 + wi];
			word &= v;
		}
		if (!word) {
			pos = (wi + 1) * 64;
			continue;
		}
		ri = wi * 64 + fw_ctz64(word);
		pos = ri + 1;
		a = &img->act[m->rule_base + ri];
		if (a->post && post && !post(arg, a->slot, pkt))
			continue;
		count(res, a->slot);
		switch (a->target) {
		case FW_T_NONE:
			break;
		case FW_T_LOG:
			if (res->nlog < FW_RES_LOG_MAX)
				res->log[res->nlog] = a->slot;
			res->nlog++;
			break;
		case FW_T_ACCEPT:
		case FW_T_DROP:
		case FW_T_REJECT:
			res->verdict = a->target;
			res->reject_with = a->reject_with;
			res->slot = a->slot;
			return 0;
		case FW_T_JUMP:
		case FW_T_GOTO:
			if (a->target == FW_T_JUMP) {
				if (depth >= FW_MAX_JUMP_DEPTH)
					goto drop;
				stack[depth].chain = c;
				stack[depth].pos = pos;
				depth++;
			}
			c = a->jump;
			pos = 0;
			m = &img->chain[c];
			if (chain_vids(img, c, pkt, vid, &vid2))
				goto drop;
			chain_sum(img, m, vid, vid2, sum);
			break;
		case FW_T_RETURN:
			if (depth == 0)
				goto policy;
			depth--;
			c = stack[depth].chain;
			pos = stack[depth].pos;
			m = &img->chain[c];
			if (chain_vids(img, c, pkt, vid, &vid2))
				goto drop;
			chain_sum(img, m, vid, vid2, sum);
			break;
		default:
			goto drop;
		}
	}
drop:
	res->verdict = FW_T_DROP;
	res->capped = true;
	res->slot = 0;
	return 0;
policy:
	m = &img->chain[start];
	res->verdict = m->policy;
	res->slot = m->policy_slot;
	count(res, res->slot);
	return 0;
}
