/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_compile.c: chains of struct fw_rule into the maps' contents (Linear
 * Bit Vector Search, docs/firewall-contract.md section 2).
 *
 * Per chain of n rules, a vector is ceil(n / 64) 64-bit words, bit i for
 * rule i; per used field, every value a packet can carry leads to one
 * vector: the rules whose match of that field holds (rules not using the
 * field always hold).  A rule matches when its bit survives the AND of
 * the chain's used fields.  Equal vectors of a chain are stored once (a
 * vector id is its word offset in vec).
 *
 * - Addresses: one LPM entry per distinct prefix of a (chain, dir), 0/0
 *   always there.  A prefix's vector: the rules naming it or a prefix
 *   containing it, XOR the rules negating the field, OR the rules not
 *   using it.  The longest prefix holding an address is contained in
 *   exactly the rules' prefixes holding it, so unions and `!` are exact.
 * - Ports: elementary intervals from the boundaries {0, lo, hi + 1}; a
 *   sweep gives each its vector; equal neighbours merge.
 * - Small fields: a key per value some rule names (protocol, ICMP type
 *   and code or a type's other codes, ifindex), or per byte value whose
 *   vector differs from the most common one (TCP flags, ct state, address
 *   types); the chain's default vector serves the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_compile.h"

_Static_assert(FW_TGT_NONE == FW_T_NONE && FW_TGT_ACCEPT == FW_T_ACCEPT &&
		   FW_TGT_DROP == FW_T_DROP && FW_TGT_REJECT == FW_T_REJECT &&
		   FW_TGT_LOG == FW_T_LOG && FW_TGT_JUMP == FW_T_JUMP &&
		   FW_TGT_GOTO == FW_T_GOTO && FW_TGT_RETURN == FW_T_RETURN,
    "fw_shared.h's targets are enum fw_target's");
_Static_assert(FW_JUMP_DEPTH == FW_MAX_JUMP_DEPTH &&
		   FW_SLOTS_ALL == FW_MAX_SLOTS + 1 &&
		   FW_RULES_ALL >= 4 * FW_MAX_RULES &&
		   FW_LOG_PREFIX_MAX <= sizeof(struct fw_logp),
    "fw_shared.h's limits are fw_rule.h's");

_Static_assert(FW_RJ_PORT_UNREACH == FW_REJ_PORT_UNREACH &&
		   FW_RJ_NET_UNREACH == FW_REJ_NET_UNREACH &&
		   FW_RJ_HOST_UNREACH == FW_REJ_HOST_UNREACH &&
		   FW_RJ_PROTO_UNREACH == FW_REJ_PROTO_UNREACH &&
		   FW_RJ_NET_PROHIB == FW_REJ_NET_PROHIB &&
		   FW_RJ_HOST_PROHIB == FW_REJ_HOST_PROHIB &&
		   FW_RJ_ADMIN_PROHIB == FW_REJ_ADMIN_PROHIB &&
		   FW_RJ_TCP_RESET == FW_REJ_TCP_RESET,
    "fw_shared.h's REJECT kinds are enum fw_reject_with's");

/* Refs to a chain's index in the fw_chain array, by name. */
struct cc {
	const struct fw_chain *chains;
	uint32_t nchains;
	const struct fw_env *env;
	struct fw_image *img;
	uint32_t cap_vec, cap_addr, cap_ival, cap_small, cap_logp;
	char *err;
	size_t errlen;
	int16_t *jump_to;   /* per rule of all chains: chain index or -1 */
	uint32_t *rule_off; /* per chain: first rule's index in jump_to */

	/* The chain being built. */
	uint32_t ci, nr, nw;
	const struct fw_rule *rules;
	uint32_t *ht; /* vector dedupe: vid + 1, open addressing */
	uint32_t htcap, htn;
	uint64_t *tmp, *all;
	uint64_t *use[FW_F_MAX], *neg[FW_F_MAX];
};

static int
fail(struct cc *cc, int r, uint32_t chain, uint32_t rule, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (!cc->errlen)
		return r;
	if (chain < cc->nchains && rule)
		n = (size_t)snprintf(cc->err, cc->errlen,
		    "chain '%s' rule %u: ", cc->chains[chain].name, rule);
	else if (chain < cc->nchains)
		n = (size_t)snprintf(cc->err, cc->errlen,
		    "chain '%s': ", cc->chains[chain].name);
	if (n >= cc->errlen)
		return r;
	va_start(ap, fmt);
	vsnprintf(cc->err + n, cc->errlen - n, fmt, ap);
	va_end(ap);
	return r;
}

static int
grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	q = realloc(*p, (size_t)c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static inline void
bit_set(uint64_t *v, uint32_t i)
{
	v[i / 64] |= 1ull << (i % 64);
}

static inline void
bit_clr(uint64_t *v, uint32_t i)
{
	v[i / 64] &= ~(1ull << (i % 64));
}

static inline bool
bit_get(const uint64_t *v, uint32_t i)
{
	return v[i / 64] >> (i % 64) & 1;
}

static uint64_t
vec_hash(const uint64_t *v, uint32_t nw)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < nw; i++) {
		h ^= v[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

/* The id of vector v (nw words) of the current chain, stored once. */
static int
vec_add(struct cc *cc, const uint64_t *v, uint32_t *vid)
{
	struct fw_image *img = cc->img;
	uint32_t nw = cc->nw, mask, i;

	if (cc->htn * 2 >= cc->htcap) {
		uint32_t ncap = cc->htcap ? cc->htcap * 2 : 1024;
		uint32_t *nht = calloc(ncap, sizeof(*nht));

		if (!nht)
			return -ENOMEM;
		for (uint32_t j = 0; j < cc->htcap; j++) {
			uint32_t id = cc->ht[j];

			if (!id)
				continue;
			i = (uint32_t)vec_hash(img->vec + id - 1, nw) &
			    (ncap - 1);
			while (nht[i])
				i = (i + 1) & (ncap - 1);
			nht[i] = id;
		}
		free(cc->ht);
		cc->ht = nht;
		cc->htcap = ncap;
	}
	mask = cc->htcap - 1;
	i = (uint32_t)vec_hash(v, nw) & mask;
	while (cc->ht[i]) {
		if (!memcmp(img->vec + cc->ht[i] - 1, v, nw * sizeof(*v))) {
			*vid = cc->ht[i] - 1;
			return 0;
		}
		i = (i + 1) & mask;
	}
	if ((uint64_t)img->nvec + nw + FW_SUM_WORDS(nw) > FW_VEC_WORDS)
		return fail(cc, -E2BIG, cc->ci, 0,
		    "the image needs more than %u vector words "
		    "(FW_VEC_WORDS)",
		    FW_VEC_WORDS);
	if (grow((void **)&img->vec, &cc->cap_vec,
		img->nvec + nw + FW_SUM_WORDS(nw), sizeof(*img->vec)))
		return -ENOMEM;
	memcpy(img->vec + img->nvec, v, nw * sizeof(*v));
	/* The summary after the words: bit j set, word j is not zero. */
	memset(img->vec + img->nvec + nw, 0,
	    FW_SUM_WORDS(nw) * sizeof(*v));
	for (uint32_t j = 0; j < nw; j++)
		if (v[j])
			img->vec[img->nvec + nw + j / 64] |= 1ull << (j % 64);
	*vid = img->nvec;
	cc->ht[i] = img->nvec + 1;
	cc->htn++;
	img->nvec += nw + FW_SUM_WORDS(nw);
	return 0;
}

/* -------------------------------------------------------------------- */
/* Checks before building. */

static int
find_chain(const struct cc *cc, const char *name)
{
	for (uint32_t i = 0; i < cc->nchains; i++)
		if (!strcmp(cc->chains[i].name, name))
			return (int)i;
	return -1;
}

static int
check_rule(struct cc *cc, uint32_t ci, uint32_t ri, const struct fw_rule *r)
{
	const struct fw_addr_match *am[2] = {&r->src, &r->dst};
	const struct fw_port_match *pm[2] = {&r->sport, &r->dport};
	uint32_t n = ri + 1;

	for (int d = 0; d < 2; d++) {
		if (!am[d]->set)
			continue;
		if (am[d]->n > FW_MAX_PFX)
			return fail(cc, -EINVAL, ci, n,
			    "%u prefixes in one address match, at "
			    "most %u",
			    am[d]->n, FW_MAX_PFX);
		for (uint32_t i = 0; i < am[d]->n; i++)
			if (am[d]->p[i].len > 32)
				return fail(cc, -EINVAL, ci, n,
				    "prefix length %u is past 32",
				    am[d]->p[i].len);
	}
	for (int d = 0; d < 2; d++) {
		if (!pm[d]->set)
			continue;
		if (pm[d]->n > FW_MAX_PORTS)
			return fail(cc, -EINVAL, ci, n,
			    "%u port ranges in one match, at most %u", pm[d]->n,
			    FW_MAX_PORTS);
		for (uint32_t i = 0; i < pm[d]->n; i++)
			if (pm[d]->r[i].lo > pm[d]->r[i].hi)
				return fail(cc, -EINVAL, ci, n,
				    "port range %u:%u is reversed",
				    pm[d]->r[i].lo, pm[d]->r[i].hi);
	}
	if (r->slot > FW_MAX_SLOTS)
		return fail(cc, -EINVAL, ci, n,
		    "counter slot %u is past %u (FW_MAX_SLOTS)", r->slot,
		    FW_MAX_SLOTS);
	if (r->ports_either && !r->dport.set)
		return fail(cc, -EINVAL, ci, n, "--ports without a port list");
	if (r->ports_either && r->dport.neg)
		return fail(cc, -EINVAL, ci, n,
		    "! --ports (neither port in the list) is not "
		    "supported");
	switch (r->target) {
	case FW_T_NONE:
	case FW_T_ACCEPT:
	case FW_T_DROP:
	case FW_T_REJECT:
	case FW_T_LOG:
	case FW_T_RETURN:
		break;
	case FW_T_JUMP:
	case FW_T_GOTO: {
		int t = find_chain(cc, r->jump);

		if (t < 0)
			return fail(cc, -ENOENT, ci, n,
			    "jump to a missing chain '%.*s'", FW_CHAIN_NAME_MAX,
			    r->jump);
		if (cc->chains[t].builtin)
			return fail(cc, -EINVAL, ci, n,
			    "jump to the builtin chain '%s'",
			    cc->chains[t].name);
		cc->jump_to[cc->rule_off[ci] + ri] = (int16_t)t;
		break;
	}
	default:
		return fail(
		    cc, -EINVAL, ci, n, "unknown target %d", (int)r->target);
	}
	if (r->target == FW_T_REJECT &&
	    (unsigned)r->reject_with > FW_REJ_TCP_RESET)
		return fail(cc, -EINVAL, ci, n, "unknown --reject-with %d",
		    (int)r->reject_with);
	return 0;
}

/*
 * Loops and depth: depth[c] is the most JUMP frames a packet entering c
 * can push below it (GOTO pushes none).  Iterative DFS, colours: 0 new,
 * 1 on the path, 2 done.
 */
static int
check_graph(struct cc *cc)
{
	uint32_t n = cc->nchains;
	uint8_t *colour = calloc(n, 1);
	uint32_t *depth = calloc(n, sizeof(*depth));
	struct {
		uint32_t c, r;
	} *st = calloc(n + 1, sizeof(*st));
	int r = 0;

	if (!colour || !depth || !st) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t root = 0; root < n && !r; root++) {
		uint32_t sp = 0;

		if (colour[root])
			continue;
		st[sp].c = root;
		st[sp].r = 0;
		sp++;
		colour[root] = 1;
		while (sp && !r) {
			uint32_t c = st[sp - 1].c, ri = st[sp - 1].r;
			int t;

			if (ri == cc->chains[c].nrules) {
				colour[c] = 2;
				sp--;
				continue;
			}
			st[sp - 1].r++;
			t = cc->jump_to[cc->rule_off[c] + ri];
			if (t < 0)
				continue;
			if (colour[t] == 1) {
				r = fail(cc, -ELOOP, c, ri + 1,
				    "jump to '%s' makes a loop",
				    cc->chains[t].name);
			} else if (colour[t] == 0) {
				colour[t] = 1;
				st[sp].c = (uint32_t)t;
				st[sp].r = 0;
				sp++;
			}
		}
	}
	if (r)
		goto out;
	/* Depths in reverse post-order: repeat until stable (no loops, so
	 * at most n rounds; chains are few). */
	for (uint32_t round = 0; round <= n; round++) {
		bool changed = false;

		for (uint32_t c = 0; c < n; c++)
			for (uint32_t ri = 0; ri < cc->chains[c].nrules; ri++) {
				int t = cc->jump_to[cc->rule_off[c] + ri];
				uint32_t d;

				if (t < 0)
					continue;
				d = depth[t] +
				    (cc->chains[c].rules[ri].target ==
					FW_T_JUMP);
				if (d > depth[c]) {
					depth[c] = d;
					changed = true;
				}
			}
		if (!changed)
			break;
	}
	for (uint32_t b = 0; b < n && !r; b++) {
		uint32_t c = b, used = 0;

		if (!cc->chains[b].builtin || depth[b] <= FW_MAX_JUMP_DEPTH)
			continue;
		/* Follow the deepest path to the jump past the limit. */
		for (;;) {
			uint32_t ri;

			for (ri = 0; ri < cc->chains[c].nrules; ri++) {
				int t = cc->jump_to[cc->rule_off[c] + ri];
				uint32_t add;

				if (t < 0)
					continue;
				add =
				    cc->chains[c].rules[ri].target == FW_T_JUMP;
				if (used + add + depth[t] <= FW_MAX_JUMP_DEPTH)
					continue;
				if (used + add > FW_MAX_JUMP_DEPTH) {
					r = fail(cc, -ELOOP, c, ri + 1,
					    "jump to '%s' nests deeper "
					    "than %u chains from '%s'",
					    cc->chains[t].name,
					    FW_MAX_JUMP_DEPTH,
					    cc->chains[b].name);
					break;
				}
				used += add;
				c = (uint32_t)t;
				break;
			}
			if (r || ri == cc->chains[c].nrules)
				break;
		}
		if (!r) /* not reached: depth says a path exists */
			r = fail(cc, -ELOOP, b, 0, "jumps nest too deep");
	}
out:
	free(colour);
	free(depth);
	free(st);
	return r;
}

/* -------------------------------------------------------------------- */
/* Building one chain. */

static bool
rule_uses(const struct fw_rule *r, int f)
{
	switch (f) {
	case FW_F_SRC:
		return r->src.set;
	case FW_F_DST:
		return r->dst.set;
	case FW_F_PROTO:
		return r->proto.set;
	case FW_F_SPORT:
		return r->sport.set;
	case FW_F_DPORT:
		return r->dport.set && !r->ports_either;
	case FW_F_EITHER:
		return r->dport.set && r->ports_either;
	case FW_F_TCPF:
		return r->tcpflags.set;
	case FW_F_ICMP:
		return r->icmp.set;
	case FW_F_IIF:
		return r->iif.set;
	case FW_F_OIF:
		return r->oif.set;
	case FW_F_CT:
		return r->ctstate.set;
	case FW_F_STYPE:
		return r->srctype.set;
	case FW_F_DTYPE:
		return r->dsttype.set;
	}
	return false;
}

static bool
rule_neg(const struct fw_rule *r, int f)
{
	switch (f) {
	case FW_F_SRC:
		return r->src.neg;
	case FW_F_DST:
		return r->dst.neg;
	case FW_F_PROTO:
		return r->proto.neg;
	case FW_F_SPORT:
		return r->sport.neg;
	case FW_F_DPORT:
	case FW_F_EITHER:
		return r->dport.neg;
	case FW_F_TCPF:
		return r->tcpflags.neg;
	case FW_F_ICMP:
		return r->icmp.neg;
	case FW_F_IIF:
		return r->iif.neg;
	case FW_F_OIF:
		return r->oif.neg;
	case FW_F_CT:
		return r->ctstate.neg;
	case FW_F_STYPE:
		return r->srctype.neg;
	case FW_F_DTYPE:
		return r->dsttype.neg;
	}
	return false;
}

/* out = ((in ^ neg[f]) & use[f]) | ~use[f], within the chain's rules. */
static void
finish(struct cc *cc, int f, const uint64_t *in, uint64_t *out)
{
	for (uint32_t w = 0; w < cc->nw; w++)
		out[w] = (((in[w] ^ cc->neg[f][w]) & cc->use[f][w]) |
			     ~cc->use[f][w]) &
			 cc->all[w];
}

static int
small_add(struct cc *cc, int f, uint32_t value, uint32_t vid)
{
	struct fw_image *img = cc->img;
	struct fw_small_ent *e;

	if (img->nsmall >= FW_SMALL_MAX)
		return fail(cc, -E2BIG, cc->ci, 0,
		    "more than %u small-field entries (FW_SMALL_MAX)",
		    FW_SMALL_MAX);
	if (grow((void **)&img->small, &cc->cap_small, img->nsmall + 1,
		sizeof(*img->small)))
		return -ENOMEM;
	e = &img->small[img->nsmall++];
	memset(e, 0, sizeof(*e));
	e->key.chain = (__u16)cc->ci;
	e->key.field = (__u8)f;
	e->key.value = value;
	e->vid = vid;
	return 0;
}

struct pfx_ent {
	uint32_t addr;
	uint8_t len;
	uint32_t rule; /* UINT32_MAX: the 0/0 every (chain, dir) has */
};

static int
pfx_cmp(const void *a, const void *b)
{
	const struct pfx_ent *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

static inline uint32_t
pfx_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

static int
build_addr(struct cc *cc, int f)
{
	struct fw_image *img = cc->img;
	uint32_t dir = f == FW_F_DST, n = 1, k = 0, sp = 0;
	struct pfx_ent *e;
	uint64_t *stack, *fin;
	struct {
		uint32_t addr;
		uint8_t len;
	} spfx[34];
	int r = 0;

	for (uint32_t i = 0; i < cc->nr; i++)
		if (rule_uses(&cc->rules[i], f))
			n += f == FW_F_SRC ? cc->rules[i].src.n
					   : cc->rules[i].dst.n;
	e = malloc(n * sizeof(*e));
	stack = calloc(34 * (size_t)cc->nw + cc->nw, sizeof(*stack));
	if (!e || !stack) {
		r = -ENOMEM;
		goto out;
	}
	fin = stack + 34 * (size_t)cc->nw;
	e[k++] = (struct pfx_ent){0, 0, UINT32_MAX};
	for (uint32_t i = 0; i < cc->nr; i++) {
		const struct fw_addr_match *m =
		    f == FW_F_SRC ? &cc->rules[i].src : &cc->rules[i].dst;

		if (!m->set)
			continue;
		for (uint32_t j = 0; j < m->n; j++)
			e[k++] = (struct pfx_ent){
			    m->p[j].addr & pfx_mask(m->p[j].len), m->p[j].len,
			    i};
	}
	qsort(e, k, sizeof(*e), pfx_cmp);
	for (uint32_t i = 0; i < k;) {
		uint32_t j = i, vid;
		uint64_t *cur;
		struct fw_addr_ent *a;

		/* Pop the prefixes not holding this one. */
		while (sp && !(spfx[sp - 1].len <= e[i].len &&
				 ((e[i].addr ^ spfx[sp - 1].addr) &
				     pfx_mask(spfx[sp - 1].len)) == 0))
			sp--;
		cur = stack + (size_t)sp * cc->nw;
		if (sp)
			memcpy(cur, cur - cc->nw, cc->nw * sizeof(*cur));
		else
			memset(cur, 0, cc->nw * sizeof(*cur));
		for (; j < k && !pfx_cmp(&e[i], &e[j]); j++)
			if (e[j].rule != UINT32_MAX)
				bit_set(cur, e[j].rule);
		spfx[sp].addr = e[i].addr;
		spfx[sp].len = e[i].len;
		sp++;
		finish(cc, f, cur, fin);
		r = vec_add(cc, fin, &vid);
		if (r)
			goto out;
		if (img->naddr >= FW_ADDR_MAX) {
			r = fail(cc, -E2BIG, cc->ci, 0,
			    "more than %u address prefixes (FW_ADDR_MAX)",
			    FW_ADDR_MAX);
			goto out;
		}
		if (grow((void **)&img->addr, &cc->cap_addr, img->naddr + 1,
			sizeof(*img->addr))) {
			r = -ENOMEM;
			goto out;
		}
		a = &img->addr[img->naddr++];
		memset(a, 0, sizeof(*a));
		a->key.prefixlen = 32 + e[i].len;
		a->key.cd = htonl(cc->ci << 1 | dir);
		a->key.addr = htonl(e[i].addr);
		a->vid = vid;
		i = j;
	}
out:
	free(e);
	free(stack);
	return r;
}

struct port_ev {
	uint32_t pos;
	uint32_t rule;
	int delta;
};

static int
ev_cmp(const void *a, const void *b)
{
	const struct port_ev *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
build_ports(struct cc *cc, int f, struct fw_chain_meta *meta)
{
	struct fw_image *img = cc->img;
	uint32_t n = 0, k = 0, prev = UINT32_MAX, p = 0, i = 0;
	struct port_ev *ev;
	uint16_t *cnt;
	uint64_t *cur, *fin;
	int r = 0;

	for (uint32_t j = 0; j < cc->nr; j++)
		if (rule_uses(&cc->rules[j], f))
			n += 2u * (f == FW_F_SPORT ? cc->rules[j].sport.n
						   : cc->rules[j].dport.n);
	ev = malloc((n + 1) * sizeof(*ev));
	cnt = calloc(cc->nr, sizeof(*cnt));
	cur = calloc(2 * (size_t)cc->nw, sizeof(*cur));
	if (!ev || !cnt || !cur) {
		r = -ENOMEM;
		goto out;
	}
	fin = cur + cc->nw;
	for (uint32_t j = 0; j < cc->nr; j++) {
		const struct fw_port_match *m =
		    f == FW_F_SPORT ? &cc->rules[j].sport : &cc->rules[j].dport;

		if (!rule_uses(&cc->rules[j], f))
			continue;
		for (uint32_t q = 0; q < m->n; q++) {
			ev[k++] = (struct port_ev){m->r[q].lo, j, 1};
			if (m->r[q].hi < 65535)
				ev[k++] =
				    (struct port_ev){m->r[q].hi + 1u, j, -1};
		}
	}
	qsort(ev, k, sizeof(*ev), ev_cmp);
	meta->ival_base[f] = img->nival;
	for (;;) {
		uint32_t vid;

		for (; i < k && ev[i].pos == p; i++) {
			uint32_t j = ev[i].rule;

			if (ev[i].delta > 0 && cnt[j]++ == 0)
				bit_set(cur, j);
			else if (ev[i].delta < 0 && --cnt[j] == 0)
				bit_clr(cur, j);
		}
		finish(cc, f, cur, fin);
		r = vec_add(cc, fin, &vid);
		if (r)
			goto out;
		if (vid != prev) {
			if (img->nival >= FW_IVAL_MAX) {
				r = fail(cc, -E2BIG, cc->ci, 0,
				    "more than %u port intervals "
				    "(FW_IVAL_MAX)",
				    FW_IVAL_MAX);
				goto out;
			}
			if (grow((void **)&img->ival, &cc->cap_ival,
				img->nival + 1, sizeof(*img->ival))) {
				r = -ENOMEM;
				goto out;
			}
			img->ival[img->nival].lo = p;
			img->ival[img->nival].vid = vid;
			img->nival++;
			prev = vid;
		}
		if (i == k)
			break;
		p = ev[i].pos;
	}
	meta->ival_n[f] = img->nival - meta->ival_base[f];
out:
	free(ev);
	free(cnt);
	free(cur);
	return r;
}

/* A small field's match of rule r for value v (FW_F_ICMP: type << 8 |
 * code). */
static bool
small_match(const struct fw_rule *r, int f, uint32_t v)
{
	bool m = false;

	switch (f) {
	case FW_F_PROTO:
		m = r->proto.proto == 0 || r->proto.proto == v;
		break;
	case FW_F_TCPF:
		m = (v & r->tcpflags.mask) == r->tcpflags.cmp;
		break;
	case FW_F_ICMP:
		m = r->icmp.type == 255 ||
		    (r->icmp.type == v >> 8 &&
			(r->icmp.code < 0 ||
			    (uint32_t)r->icmp.code == (v & 255)));
		break;
	case FW_F_CT:
		m = (v & r->ctstate.mask) != 0;
		break;
	case FW_F_STYPE:
		m = (v & r->srctype.mask) != 0;
		break;
	case FW_F_DTYPE:
		m = (v & r->dsttype.mask) != 0;
		break;
	}
	return m;
}

static int
small_vec(struct cc *cc, int f, uint32_t v, uint32_t *vid)
{
	memset(cc->tmp, 0, cc->nw * sizeof(*cc->tmp));
	for (uint32_t i = 0; i < cc->nr; i++)
		if (!rule_uses(&cc->rules[i], f) ||
		    small_match(&cc->rules[i], f, v) !=
			rule_neg(&cc->rules[i], f))
			bit_set(cc->tmp, i);
	for (uint32_t w = 0; w < cc->nw; w++)
		cc->tmp[w] &= cc->all[w];
	return vec_add(cc, cc->tmp, vid);
}

/* TCP flags, ct state, address types: all 256 byte values. */
static int
build_bytes(struct cc *cc, int f, struct fw_chain_meta *meta)
{
	uint32_t vid[256], best = 0, bestn = 0;
	int r;

	for (uint32_t v = 0; v < 256; v++) {
		r = small_vec(cc, f, v, &vid[v]);
		if (r)
			return r;
	}
	for (uint32_t v = 0; v < 256; v++) {
		uint32_t c = 0;

		for (uint32_t u = 0; u < 256; u++)
			c += vid[u] == vid[v];
		if (c > bestn) {
			bestn = c;
			best = vid[v];
		}
	}
	meta->dflt_vid[f] = best;
	for (uint32_t v = 0; v < 256; v++)
		if (vid[v] != best && (r = small_add(cc, f, v, vid[v])))
			return r;
	return 0;
}

static int
build_proto(struct cc *cc, struct fw_chain_meta *meta)
{
	bool named[256] = {false};
	uint32_t vid;
	int r;

	for (uint32_t i = 0; i < cc->nr; i++)
		if (cc->rules[i].proto.set)
			named[cc->rules[i].proto.proto] = true;
	named[0] = false; /* -p all names no value; 0 is the default's */
	for (uint32_t v = 1; v < 256; v++) {
		if (!named[v])
			continue;
		if ((r = small_vec(cc, FW_F_PROTO, v, &vid)) ||
		    (r = small_add(cc, FW_F_PROTO, v, vid)))
			return r;
	}
	for (uint32_t v = 0; v < 256; v++)
		if (!named[v])
			return small_vec(
			    cc, FW_F_PROTO, v, &meta->dflt_vid[FW_F_PROTO]);
	return 0;
}

static int
build_icmp(struct cc *cc, struct fw_chain_meta *meta)
{
	static uint64_t codes[256][4]; /* codes named per type */
	bool typed[256] = {false};
	uint32_t vid;
	int r;

	memset(codes, 0, sizeof(codes));
	for (uint32_t i = 0; i < cc->nr; i++) {
		const struct fw_rule *x = &cc->rules[i];

		if (!x->icmp.set || x->icmp.type == 255)
			continue;
		typed[x->icmp.type] = true;
		if (x->icmp.code >= 0 && x->icmp.code < 256)
			codes[x->icmp.type][x->icmp.code / 64] |=
			    1ull << (x->icmp.code % 64);
	}
	for (uint32_t t = 0; t < 255; t++) {
		uint32_t other = 256;

		if (!typed[t])
			continue;
		for (uint32_t c = 0; c < 256; c++) {
			if (!(codes[t][c / 64] >> (c % 64) & 1)) {
				if (other == 256)
					other = c;
				continue;
			}
			if ((r = small_vec(
				 cc, FW_F_ICMP, FW_ICMP_KEY(t, c), &vid)) ||
			    (r = small_add(
				 cc, FW_F_ICMP, FW_ICMP_KEY(t, c), vid)))
				return r;
		}
		if (other < 256 && ((r = small_vec(cc, FW_F_ICMP,
					 FW_ICMP_KEY(t, other), &vid)) ||
				       (r = small_add(cc, FW_F_ICMP,
					    FW_ICMP_ANYCODE(t), vid))))
			return r;
	}
	for (uint32_t t = 0; t < 256; t++)
		if (!typed[t])
			return small_vec(cc, FW_F_ICMP, FW_ICMP_KEY(t, 0),
			    &meta->dflt_vid[FW_F_ICMP]);
	return 0;
}

struct if_pair {
	uint32_t ifindex, rule;
};

static int
ifp_cmp(const void *a, const void *b)
{
	const struct if_pair *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int
build_if(struct cc *cc, int f, struct fw_chain_meta *meta)
{
	struct {
		const char *name;
		uint32_t first, n;
	} *names = NULL;
	uint32_t nnames = 0, npairs = 0, cap_pairs = 0, ncache = 0;
	uint32_t *idx = NULL, *cache = NULL, cap_cache = 0;
	struct if_pair *pairs = NULL;
	uint64_t *base = NULL;
	int r = 0;

	names = calloc(cc->nr, sizeof(*names));
	idx = malloc(FW_IFLIST_MAX * sizeof(*idx));
	base = calloc(cc->nw, sizeof(*base));
	if (!names || !idx || !base) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < cc->nr; i++) {
		const struct fw_if_match *m =
		    f == FW_F_IIF ? &cc->rules[i].iif : &cc->rules[i].oif;
		uint32_t nm;

		if (!m->set) {
			bit_set(base, i);
			continue;
		}
		if (!m->name[0]) {
			if (!m->neg)
				bit_set(base, i);
			continue;
		}
		if (m->neg)
			bit_set(base, i);
		/* The name's ifindexes, asked once per distinct name. */
		for (nm = 0; nm < nnames; nm++)
			if (!strncmp(names[nm].name, m->name, FW_IFNAME_MAX))
				break;
		if (nm == nnames) {
			int n = cc->env && cc->env->ifmatch
				    ? cc->env->ifmatch(cc->env->arg, m->name,
					  idx, FW_IFLIST_MAX)
				    : 0;

			if (n < 0 || n > FW_IFLIST_MAX) {
				r = fail(cc, n < 0 ? n : -E2BIG, cc->ci, i + 1,
				    "interface '%.*s': %s", FW_IFNAME_MAX,
				    m->name,
				    n < 0 ? strerror(-n)
					  : "matches more than 4096 "
					    "interfaces");
				goto out;
			}
			if (grow((void **)&cache, &cap_cache,
				ncache + (uint32_t)n + 1, sizeof(*cache))) {
				r = -ENOMEM;
				goto out;
			}
			memcpy(cache + ncache, idx, (size_t)n * sizeof(*idx));
			names[nnames].name = m->name;
			names[nnames].first = ncache;
			names[nnames].n = (uint32_t)n;
			ncache += (uint32_t)n;
			nnames++;
		}
		if (grow((void **)&pairs, &cap_pairs, npairs + names[nm].n,
			sizeof(*pairs))) {
			r = -ENOMEM;
			goto out;
		}
		for (uint32_t q = 0; q < names[nm].n; q++)
			pairs[npairs++] =
			    (struct if_pair){cache[names[nm].first + q], i};
	}
	r = vec_add(cc, base, &meta->dflt_vid[f]);
	if (r || !npairs)
		goto out;
	qsort(pairs, npairs, sizeof(*pairs), ifp_cmp);
	for (uint32_t i = 0; i < npairs;) {
		uint32_t j = i, vid;

		memcpy(cc->tmp, base, cc->nw * sizeof(*base));
		for (; j < npairs && pairs[j].ifindex == pairs[i].ifindex;
		     j++) {
			const struct fw_if_match *m =
			    f == FW_F_IIF ? &cc->rules[pairs[j].rule].iif
					  : &cc->rules[pairs[j].rule].oif;

			if (m->neg)
				bit_clr(cc->tmp, pairs[j].rule);
			else
				bit_set(cc->tmp, pairs[j].rule);
		}
		if ((r = vec_add(cc, cc->tmp, &vid)) ||
		    (r = small_add(cc, f, pairs[i].ifindex, vid)))
			goto out;
		i = j;
	}
out:
	free(names);
	free(idx);
	free(base);
	free(cache);
	free(pairs);
	return r;
}

static int
logp_index(struct cc *cc, const char *prefix, uint32_t *out)
{
	struct fw_image *img = cc->img;

	for (uint32_t i = 0; i < img->nlogp; i++)
		if (!strncmp(img->logp[i].prefix, prefix, FW_LOG_PREFIX_MAX)) {
			*out = i;
			return 0;
		}
	if (grow((void **)&img->logp, &cc->cap_logp, img->nlogp + 1,
		sizeof(*img->logp)))
		return -ENOMEM;
	memset(&img->logp[img->nlogp], 0, sizeof(*img->logp));
	memcpy(img->logp[img->nlogp].prefix, prefix,
	    strnlen(prefix, FW_LOG_PREFIX_MAX - 1));
	*out = img->nlogp++;
	return 0;
}

static int
build_acts(struct cc *cc)
{
	struct fw_image *img = cc->img;

	for (uint32_t i = 0; i < cc->nr; i++) {
		const struct fw_rule *x = &cc->rules[i];
		struct fw_act *a = &img->act[img->nact++];
		int r;

		memset(a, 0, sizeof(*a));
		a->slot = x->slot;
		a->target = (__u8)x->target;
		a->reject_with =
		    x->target == FW_T_REJECT ? (__u8)x->reject_with : 0;
		if (x->target == FW_T_JUMP || x->target == FW_T_GOTO)
			a->jump = (__u16)cc->jump_to[cc->rule_off[cc->ci] + i];
		if (x->target == FW_T_LOG) {
			r = logp_index(cc, x->log_prefix, &a->logp);
			if (r)
				return r;
			a->log_level = x->log_level;
		}
		if (x->mset.set) {
			uint32_t id = 0, type = 0;

			r = cc->env && cc->env->setid
				? cc->env->setid(
				      cc->env->arg, x->mset.name, &id, &type)
				: -ENOENT;
			if (r < 0)
				return fail(cc, r, cc->ci, i + 1,
				    "set '%.*s': %s", FW_SET_NAME_MAX,
				    x->mset.name,
				    r == -ENOENT ? "no such set"
						 : strerror(-r));
			if (type == FW_SET_HASH_IP_PORT ? x->mset.ndirs < 2
			    : type == FW_SET_HASH_IP || type == FW_SET_HASH_NET
				? x->mset.ndirs < 1
				: 0)
				return fail(cc, -EINVAL, cc->ci, i + 1,
				    "set '%.*s' has %u dimension%s, the match "
				    "names %u direction%s",
				    FW_SET_NAME_MAX, x->mset.name,
				    type == FW_SET_HASH_IP_PORT ? 2 : 1,
				    type == FW_SET_HASH_IP_PORT ? "s" : "",
				    x->mset.ndirs, x->mset.ndirs == 1 ? "" : "s");
			a->post |= FW_POST_SET;
			a->set_id = id;
			a->set_neg = x->mset.neg;
			a->set_type = (__u8)type;
			for (uint32_t d = 0; d < x->mset.ndirs && d < 2; d++)
				if (x->mset.dirs[d])
					a->set_dirs |= (__u8)(1u << d);
		}
		if (x->limit.set) {
			a->post |= FW_POST_LIMIT;
			a->lim_rate_ns = x->limit.rate_ns;
			a->lim_burst = x->limit.burst;
			if (x->limit.name[0])
				a->lim_flags |= FW_LIM_HASH;
			if (x->limit.per_src)
				a->lim_flags |= FW_LIM_SRCIP;
			if (x->limit.above)
				a->lim_flags |= FW_LIM_ABOVE;
		}
	}
	return 0;
}

static int
build_chain(struct cc *cc, uint32_t ci)
{
	const struct fw_chain *ch = &cc->chains[ci];
	struct fw_chain_meta *meta = &cc->img->chain[ci];
	uint32_t nw = (ch->nrules + 63) / 64;
	int r = 0;

	memset(meta, 0, sizeof(*meta));
	cc->ci = ci;
	cc->nr = ch->nrules;
	cc->nw = nw;
	cc->rules = ch->rules;
	meta->nrules = ch->nrules;
	meta->nwords = nw;
	meta->rule_base = cc->img->nact;
	meta->builtin = ch->builtin;
	meta->policy = ch->builtin ? (__u8)ch->policy : 0;
	meta->policy_slot = ch->policy_slot;
	r = build_acts(cc);
	if (r || !nw)
		return r;
	if (cc->ht)
		memset(cc->ht, 0, cc->htcap * sizeof(*cc->ht));
	cc->htn = 0;
	cc->tmp = calloc((size_t)nw * (2 + 2 * FW_F_MAX), sizeof(uint64_t));
	if (!cc->tmp)
		return -ENOMEM;
	cc->all = cc->tmp + nw;
	for (int f = 0; f < FW_F_MAX; f++) {
		cc->use[f] = cc->all + nw * (1 + 2 * (uint32_t)f);
		cc->neg[f] = cc->use[f] + nw;
	}
	for (uint32_t i = 0; i < cc->nr; i++) {
		bit_set(cc->all, i);
		for (int f = 0; f < FW_F_MAX; f++) {
			if (!rule_uses(&cc->rules[i], f))
				continue;
			bit_set(cc->use[f], i);
			if (rule_neg(&cc->rules[i], f))
				bit_set(cc->neg[f], i);
			meta->used |= 1u << f;
		}
	}
	for (int f = 0; f < FW_F_MAX && !r; f++) {
		if (!(meta->used & 1u << f))
			continue;
		for (uint32_t w = 0; w < nw; w++)
			cc->tmp[w] = ~cc->use[f][w] & cc->all[w];
		r = vec_add(cc, cc->tmp, &meta->unset_vid[f]);
		if (r)
			break;
		switch (f) {
		case FW_F_SRC:
		case FW_F_DST:
			r = build_addr(cc, f);
			break;
		case FW_F_SPORT:
		case FW_F_DPORT:
		case FW_F_EITHER:
			r = build_ports(cc, f, meta);
			break;
		case FW_F_PROTO:
			r = build_proto(cc, meta);
			break;
		case FW_F_ICMP:
			r = build_icmp(cc, meta);
			break;
		case FW_F_IIF:
		case FW_F_OIF:
			r = build_if(cc, f, meta);
			break;
		default:
			r = build_bytes(cc, f, meta);
			break;
		}
	}
	free(cc->tmp);
	cc->tmp = NULL;
	return r;
}

int
fw_addr_key_cmp(const void *a, const void *b)
{
	const struct fw_addr_key *x = a, *y = b;
	uint32_t xc = ntohl(x->cd), yc = ntohl(y->cd);
	uint32_t xa = ntohl(x->addr), ya = ntohl(y->addr);

	if (xc != yc)
		return xc < yc ? -1 : 1;
	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	return xa < ya ? -1 : xa > ya;
}

int
fw_small_key_cmp(const void *a, const void *b)
{
	const struct fw_small_key *x = a, *y = b;

	if (x->chain != y->chain)
		return x->chain < y->chain ? -1 : 1;
	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

struct fw_image *
fw_image_free(struct fw_image *img)
{
	if (!img)
		return NULL;
	free(img->vec);
	free(img->addr);
	free(img->ival);
	free(img->small);
	free(img->chain);
	free(img->act);
	free(img->logp);
	free(img);
	return NULL;
}

int
fw_compile(const struct fw_chain *chains, uint32_t nchains,
    const struct fw_env *env, struct fw_image **out, char *err, size_t errlen)
{
	struct cc cc = {.chains = chains,
	    .nchains = nchains,
	    .env = env,
	    .err = err,
	    .errlen = errlen};
	uint32_t total = 0;
	int r = 0;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (nchains > FW_MAX_CHAINS || nchains > FW_CHAINS_ALL)
		return fail(&cc, -E2BIG, UINT32_MAX, 0, "%u chains, at most %u",
		    nchains, FW_MAX_CHAINS);
	for (uint32_t i = 0; i < nchains; i++) {
		const struct fw_chain *c = &chains[i];

		if (!c->name[0] ||
		    strnlen(c->name, sizeof(c->name)) == sizeof(c->name))
			return fail(&cc, -EINVAL, UINT32_MAX, 0,
			    "chain %u: a name of 1 to %u characters", i,
			    FW_CHAIN_NAME_MAX);
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(chains[j].name, c->name))
				return fail(
				    &cc, -EINVAL, i, 0, "defined twice");
		if (c->nrules > FW_MAX_RULES)
			return fail(&cc, -E2BIG, i, FW_MAX_RULES + 1,
			    "more than %u rules in a chain", FW_MAX_RULES);
		if (c->nrules && !c->rules)
			return fail(&cc, -EINVAL, i, 0, "no rules given");
		if (c->builtin && c->policy != FW_T_ACCEPT &&
		    c->policy != FW_T_DROP)
			return fail(&cc, -EINVAL, i, 0,
			    "a builtin chain's policy is ACCEPT or "
			    "DROP");
		if (c->policy_slot > FW_MAX_SLOTS)
			return fail(&cc, -EINVAL, i, 0,
			    "policy counter slot %u is past %u "
			    "(FW_MAX_SLOTS)",
			    c->policy_slot, FW_MAX_SLOTS);
		total += c->nrules;
	}
	if (total > FW_RULES_ALL)
		return fail(&cc, -E2BIG, UINT32_MAX, 0,
		    "%u rules in all chains, at most %u", total, FW_RULES_ALL);
	cc.jump_to = malloc((total + 1) * sizeof(*cc.jump_to));
	cc.rule_off = malloc((nchains + 1) * sizeof(*cc.rule_off));
	cc.img = calloc(1, sizeof(*cc.img));
	if (!cc.jump_to || !cc.rule_off || !cc.img) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0, off = 0; i < nchains; i++) {
		cc.rule_off[i] = off;
		off += chains[i].nrules;
	}
	for (uint32_t i = 0; i < total; i++)
		cc.jump_to[i] = -1;
	for (uint32_t i = 0; i < nchains && !r; i++)
		for (uint32_t j = 0; j < chains[i].nrules && !r; j++)
			r = check_rule(&cc, i, j, &chains[i].rules[j]);
	if (r || (r = check_graph(&cc)))
		goto out;
	cc.img->chain = calloc(nchains ? nchains : 1, sizeof(*cc.img->chain));
	cc.img->act = calloc(total ? total : 1, sizeof(*cc.img->act));
	if (!cc.img->chain || !cc.img->act) {
		r = -ENOMEM;
		goto out;
	}
	cc.img->nchains = nchains;
	for (uint32_t i = 0; i < nchains && !r; i++)
		r = build_chain(&cc, i);
	if (r)
		goto out;
	if (cc.img->naddr)
		qsort(cc.img->addr, cc.img->naddr, sizeof(*cc.img->addr),
		    fw_addr_key_cmp);
	if (cc.img->nsmall)
		qsort(cc.img->small, cc.img->nsmall, sizeof(*cc.img->small),
		    fw_small_key_cmp);
	*out = cc.img;
	cc.img = NULL;
out:
	if (r == -ENOMEM && errlen && !err[0])
		snprintf(err, errlen, "out of memory");
	free(cc.jump_to);
	free(cc.rule_off);
	free(cc.ht);
	fw_image_free(cc.img);
	return r;
}

uint64_t
fw_image_bytes(const struct fw_image *img)
{
	return (uint64_t)img->nvec * sizeof(__u64) +
	       (uint64_t)img->naddr * sizeof(struct fw_addr_ent) +
	       (uint64_t)img->nival * sizeof(struct fw_ival) +
	       (uint64_t)img->nsmall * sizeof(struct fw_small_ent) +
	       (uint64_t)img->nchains * sizeof(struct fw_chain_meta) +
	       (uint64_t)img->nact * sizeof(struct fw_act) +
	       (uint64_t)img->nlogp * sizeof(struct fw_logp);
}

uint64_t
fw_image_declared_bytes(void)
{
	return (uint64_t)FW_VEC_WORDS * sizeof(__u64) +
	       (uint64_t)FW_ADDR_MAX * sizeof(struct fw_addr_ent) +
	       (uint64_t)FW_IVAL_MAX * sizeof(struct fw_ival) +
	       (uint64_t)FW_SMALL_MAX * sizeof(struct fw_small_ent) +
	       (uint64_t)FW_CHAINS_ALL * sizeof(struct fw_chain_meta) +
	       (uint64_t)FW_RULES_ALL * sizeof(struct fw_act) +
	       (uint64_t)FW_RULES_ALL * sizeof(struct fw_logp);
}
