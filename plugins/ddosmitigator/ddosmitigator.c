// SPDX-License-Identifier: BSD-2-Clause
/*
 * ddosmitigator, control plane: Polycube's pcn-ddosmitigator, a
 * transparent cube with two blacklists.  blacklist-src and blacklist-dst
 * are lists keyed "ip"; an entry is an address ("198.18.0.1") or, beyond
 * Polycube, a prefix ("198.18.0.0/24", /0 to /31, host bits clear).  An
 * address goes into the list's per-CPU hash, a prefix into its LPM trie
 * with a slot of ddos_pfx_drops for its counter (ddosmitigator_shared.h).
 * Each entry shows its drop-pkts; stats shows pkts (the broker reads
 * ddos_stats itself) and pps (drops per second since the previous show).
 *
 * change() takes what a request changed (one entry, or a --file body of
 * tens of thousands) and writes the maps in batches; apply() at creation
 * and at a replay (worker restart, broker restart) reconciles the maps
 * with the whole document: entries already there keep their counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "ddosmitigator.skel.h"
#include "ddosmitigator_shared.h"

/* A show fills drop-pkts for lists of at most this many entries (a page
 * of a list is at most 10,000). */
#define DDOS_SHOW_MAX 10000u

struct ddos_list {
	cub_map addrs, pfx;
	uint32_t naddr, npfx;
	uint8_t used[DDOS_PFX_MAX / 8]; /* slots of this list in use */
};

struct ddos_cube {
	struct ddos_list l[DDOS_LISTS];
	cub_map pfx_drops, cfg, stats;
	bool loaded;
	bool sampled;
	uint64_t last_pkts, last_ns, pps;
};

static const char *const ddos_list_names[DDOS_LISTS] = {
    "blacklist-src", "blacklist-dst"};

/* One entry, parsed: an address is a /32. */
struct ddos_entry {
	uint32_t addr; /* network order */
	uint32_t plen;
};

/* A decimal number of 1 to maxd digits, no leading zero, at most max. */
static const char *
parse_num(const char *s, unsigned maxd, uint32_t max, uint32_t *out)
{
	uint32_t v = 0;
	unsigned n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < maxd + 1)
		v = v * 10 + (uint32_t)(s[n++] - '0');
	if (!n || n > maxd || (n > 1 && s[0] == '0') || v > max)
		return NULL;
	*out = v;
	return s + n;
}

/*
 * text -> entry, strictly: "a.b.c.d" or "a.b.c.d/n" (n 0 to 31), decimal
 * without leading zeros, host bits clear.  A /32 is written as the
 * address (one spelling per entry: the list's key is the text).
 * 0, or CUB_E_* with msg set.
 */
static int
ddos_parse(const char *s, struct ddos_entry *e, char *msg, size_t len)
{
	const char *p = s;
	uint32_t oct[4], plen = 32, host, i;
	struct in_addr a;

	for (i = 0; i < 4; i++) {
		if (i && *p++ != '.')
			break;
		if (!(p = parse_num(p, 3, 255, &oct[i])))
			break;
	}
	if (i < 4 || (*p && *p != '/')) {
		snprintf(msg, len,
		    "'%.64s' is not an IPv4 address or prefix (expected "
		    "a.b.c.d or a.b.c.d/n, decimal, no leading zeros)",
		    s);
		return CUB_E_TYPE;
	}
	if (*p == '/') {
		if (!(p = parse_num(p + 1, 2, 99, &plen)) || *p) {
			snprintf(msg, len,
			    "'%.64s' is not an IPv4 prefix (expected "
			    "a.b.c.d/n, n from 0 to 32)",
			    s);
			return CUB_E_TYPE;
		}
		if (plen > 32) {
			snprintf(msg, len,
			    "'%.64s': prefix length %u is over 32", s, plen);
			return CUB_E_INVAL;
		}
		if (plen == 32) {
			snprintf(msg, len,
			    "'%.64s': write a /32 as the address, %u.%u.%u.%u",
			    s, oct[0], oct[1], oct[2], oct[3]);
			return CUB_E_INVAL;
		}
	}
	host = oct[0] << 24 | oct[1] << 16 | oct[2] << 8 | oct[3];
	if (plen < 32 && (host & (plen ? ~0u >> plen : ~0u))) {
		host &= plen ? ~0u << (32 - plen) : 0;
		snprintf(msg, len,
		    "'%.64s' has host bits set: the prefix is "
		    "%u.%u.%u.%u/%u",
		    s, host >> 24, host >> 16 & 255, host >> 8 & 255,
		    host & 255, plen);
		return CUB_E_INVAL;
	}
	a.s_addr = htonl(host);
	e->addr = a.s_addr;
	e->plen = plen;
	return 0;
}

static int
list_of(const char *name)
{
	int i;

	for (i = 0; name && i < DDOS_LISTS; i++)
		if (!strcmp(name, ddos_list_names[i]))
			return i;
	return -1;
}

/* An entry's "ip", parsed, or a refusal naming the list and the text. */
static int
entry_of(struct cub_cube *cube, int list, const struct cub_val *entry,
    struct ddos_entry *e)
{
	const char *ip = cub_val__get_str(entry, "ip");
	char msg[192];
	int code;

	if (!ip)
		return cub_cube__set_error(cube, CUB_E_MISSING,
		    "%s: an entry without ip", ddos_list_names[list]);
	if ((code = ddos_parse(ip, e, msg, sizeof(msg))))
		return cub_cube__set_error(
		    cube, code, "%s: %s", ddos_list_names[list], msg);
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_lpm(const void *a, const void *b)
{
	const struct ddos_lpm_key *x = a, *y = b;

	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	return cmp_u32(&x->addr, &y->addr);
}

/* Slots: list l owns [l * DDOS_PFX_MAX, (l + 1) * DDOS_PFX_MAX). */
static int
slot_alloc(struct ddos_list *dl, int list, uint32_t *slot)
{
	uint32_t i;

	for (i = 0; i < DDOS_PFX_MAX; i++)
		if (!(dl->used[i / 8] & 1u << (i % 8))) {
			dl->used[i / 8] |= (uint8_t)(1u << (i % 8));
			*slot = (uint32_t)list * DDOS_PFX_MAX + i;
			return 0;
		}
	return -ENOSPC;
}

static bool
slot_take(struct ddos_list *dl, int list, uint32_t slot)
{
	uint32_t i = slot - (uint32_t)list * DDOS_PFX_MAX;

	if (slot < (uint32_t)list * DDOS_PFX_MAX || i >= DDOS_PFX_MAX ||
	    dl->used[i / 8] & 1u << (i % 8))
		return false;
	dl->used[i / 8] |= (uint8_t)(1u << (i % 8));
	return true;
}

static void
slot_free(struct ddos_list *dl, int list, uint32_t slot)
{
	uint32_t i = slot - (uint32_t)list * DDOS_PFX_MAX;

	if (i < DDOS_PFX_MAX)
		dl->used[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* Adds n addresses with zeroed counters, in batches. */
static int
addrs_add(struct cub_cube *cube, const cub_map *m, const uint32_t *keys,
    uint32_t n, uint32_t *done)
{
	void *zeros;
	int r;

	*done = 0;
	if (!n)
		return 0;
	if (!(zeros = calloc(n, cub_map__value_bytes(m))))
		return -ENOMEM;
	*done = n;
	r = cub_map__update_batch(cube, m, keys, zeros, done, NULL);
	free(zeros);
	return r;
}

static int
addrs_del(struct cub_cube *cube, const cub_map *m, const uint32_t *keys,
    uint32_t n, uint32_t *done)
{
	*done = n;
	return n ? cub_map__delete_batch(cube, m, keys, done, NULL) : 0;
}

/* A prefix in: a free slot, zeroed, then the trie entry. */
static int
pfx_add(struct cub_cube *cube, struct ddos_cube *d, int list,
    const struct ddos_lpm_key *k)
{
	struct ddos_list *dl = &d->l[list];
	uint32_t slot;
	int r;

	if (slot_alloc(dl, list, &slot))
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "%s: no free prefix slot (at most %u prefixes)",
		    ddos_list_names[list], DDOS_PFX_MAX);
	if ((r = cub_map__zero_batch(cube, &d->pfx_drops, &slot, 1)) ||
	    (r = cub_map__update(cube, &dl->pfx, k, &slot, BPF_ANY))) {
		slot_free(dl, list, slot);
		return r;
	}
	dl->npfx++;
	return 0;
}

static int
pfx_del(struct cub_cube *cube, struct ddos_cube *d, int list,
    const struct ddos_lpm_key *k)
{
	struct ddos_list *dl = &d->l[list];
	uint32_t slot;
	int r;

	if ((r = cub_map__lookup(cube, &dl->pfx, k, &slot)))
		return r == -ENOENT ? 0 : r;
	if ((r = cub_map__delete(cube, &dl->pfx, k)))
		return r;
	slot_free(dl, list, slot);
	dl->npfx--;
	return 0;
}

static int
cfg_write(struct cub_cube *cube, struct ddos_cube *d)
{
	struct ddos_cfg cfg = {
	    .npfx = {d->l[DDOS_SRC].npfx, d->l[DDOS_DST].npfx}};
	uint32_t zero = 0;

	return cub_map__update(cube, &d->cfg, &zero, &cfg, BPF_ANY);
}

/* What one list of a document holds, parsed and sorted. */
struct ddos_want {
	uint32_t *addrs, naddr;
	struct ddos_lpm_key *pfx;
	uint32_t npfx;
};

static void
want_free(struct ddos_want *w)
{
	free(w->addrs);
	free(w->pfx);
	memset(w, 0, sizeof(*w));
}

static int
want_of(struct cub_cube *cube, int list, const struct cub_val *config,
    struct ddos_want *w)
{
	const struct cub_val *arr = cub_val__get(config, ddos_list_names[list]);
	uint32_t i, n = arr && arr->kind == CUB_V_ARRAY ? arr->arr.len : 0;
	struct ddos_entry e;
	int r;

	memset(w, 0, sizeof(*w));
	if (n && (!(w->addrs = calloc(n, sizeof(*w->addrs))) ||
		     !(w->pfx = calloc(n, sizeof(*w->pfx)))))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if ((r = entry_of(cube, list, arr->arr.items[i], &e)))
			return r;
		if (e.plen == 32)
			w->addrs[w->naddr++] = e.addr;
		else
			w->pfx[w->npfx++] = (struct ddos_lpm_key){
			    .prefixlen = e.plen, .addr = e.addr};
	}
	if (w->npfx > DDOS_PFX_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "%s: %u prefixes, at most %u", ddos_list_names[list],
		    w->npfx, DDOS_PFX_MAX);
	/* (Not with a NULL array: UBSan's nonnull.) */
	if (w->naddr)
		qsort(w->addrs, w->naddr, sizeof(*w->addrs), cmp_u32);
	if (w->npfx)
		qsort(w->pfx, w->npfx, sizeof(*w->pfx), cmp_lpm);
	return 0;
}

/* The map's keys and values as a dump collects them. */
struct ddos_have {
	uint32_t *keys, n, cap;
	struct ddos_lpm_key *pkeys;
	uint32_t *slots;
};

static int
have_addr(const void *key, const void *value, void *ctx)
{
	struct ddos_have *h = ctx;
	uint32_t *k;

	(void)value;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 4096;
		if (!(k = realloc(h->keys, h->cap * sizeof(*k))))
			return -ENOMEM;
		h->keys = k;
	}
	memcpy(&h->keys[h->n++], key, sizeof(uint32_t));
	return 0;
}

static int
have_pfx(const void *key, const void *value, void *ctx)
{
	struct ddos_have *h = ctx;
	struct ddos_lpm_key *k;
	uint32_t *s;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		if (!(k = realloc(h->pkeys, h->cap * sizeof(*k))))
			return -ENOMEM;
		h->pkeys = k;
		if (!(s = realloc(h->slots, h->cap * sizeof(*s))))
			return -ENOMEM;
		h->slots = s;
	}
	memcpy(&h->pkeys[h->n], key, sizeof(*k));
	memcpy(&h->slots[h->n++], value, sizeof(uint32_t));
	return 0;
}

/*
 * The maps of one list made to hold exactly w: what is there and wanted
 * stays (with its counter), the rest goes, what is missing comes in.
 */
static int
list_reconcile(struct cub_cube *cube, struct ddos_cube *d, int list,
    const struct ddos_want *w)
{
	struct ddos_list *dl = &d->l[list];
	struct ddos_have h = {0};
	uint32_t *del = NULL, *add = NULL, ndel = 0, nadd = 0, i, j, done;
	bool *kept = NULL;
	int r;

	/* Addresses: a merge of two sorted arrays. */
	if ((r = cub_map__dump(cube, &dl->addrs, have_addr, &h)))
		goto out;
	if (h.n)
		qsort(h.keys, h.n, sizeof(*h.keys), cmp_u32);
	if ((h.n && !(del = calloc(h.n, sizeof(*del)))) ||
	    (w->naddr && !(add = calloc(w->naddr, sizeof(*add))))) {
		r = -ENOMEM;
		goto out;
	}
	for (i = j = 0; i < h.n || j < w->naddr;) {
		if (j == w->naddr || (i < h.n && h.keys[i] < w->addrs[j]))
			del[ndel++] = h.keys[i++];
		else if (i == h.n || w->addrs[j] < h.keys[i])
			add[nadd++] = w->addrs[j++];
		else
			i++, j++;
	}
	if ((r = addrs_del(cube, &dl->addrs, del, ndel, &done)) ||
	    (r = addrs_add(cube, &dl->addrs, add, nadd, &done)))
		goto out;
	dl->naddr = w->naddr;

	/* Prefixes: keep those wanted whose slot is theirs. */
	free(h.keys);
	memset(&h, 0, sizeof(h));
	if ((r = cub_map__dump(cube, &dl->pfx, have_pfx, &h)))
		goto out;
	memset(dl->used, 0, sizeof(dl->used));
	dl->npfx = 0;
	if (w->npfx && !(kept = calloc(w->npfx, sizeof(*kept)))) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < h.n; i++) {
		struct ddos_lpm_key *at =
		    w->npfx ? bsearch(&h.pkeys[i], w->pfx, w->npfx,
				  sizeof(*w->pfx), cmp_lpm)
			    : NULL;

		if (at && slot_take(dl, list, h.slots[i])) {
			kept[at - w->pfx] = true;
			dl->npfx++;
		} else if ((r = cub_map__delete(cube, &dl->pfx, &h.pkeys[i]))) {
			goto out;
		}
	}
	for (j = 0; j < w->npfx; j++)
		if (!kept[j] && (r = pfx_add(cube, d, list, &w->pfx[j])))
			goto out;
out:
	free(h.keys);
	free(h.pkeys);
	free(h.slots);
	free(del);
	free(add);
	free(kept);
	return r;
}

static int
ddos_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct ddos_cube *d = cub_cube__priv(cube);
	struct ddos_want w[DDOS_LISTS] = {0};
	static const char *const names[DDOS_LISTS][2] = {
	    {"ddos_src_addrs", "ddos_src_pfx"},
	    {"ddos_dst_addrs", "ddos_dst_pfx"}};
	const void *elf;
	size_t len;
	int r = 0, i;

	(void)create;
	/* Everything checked before anything is written. */
	for (i = 0; !r && i < DDOS_LISTS; i++)
		r = want_of(cube, i, config, &w[i]);
	if (r)
		goto out;
	if (!d->loaded) {
		elf = ddosmitigator__elf_bytes(&len);
		if ((r = cub_cube__load_map(
			 cube, elf, len, "ddos_cfg", &d->cfg)))
			goto out;
		for (i = 0; !r && i < DDOS_LISTS; i++)
			if (cub_cube__map(cube, names[i][0], &d->l[i].addrs) ||
			    cub_cube__map(cube, names[i][1], &d->l[i].pfx))
				r = -ENOENT;
		if (r || cub_cube__map(cube, "ddos_pfx_drops", &d->pfx_drops) ||
		    cub_cube__map(cube, "ddos_stats", &d->stats)) {
			r = cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': a ddos_* map is missing",
			    cub_cube__name(cube));
			goto out;
		}
		d->loaded = true;
	}
	for (i = 0; !r && i < DDOS_LISTS; i++)
		r = list_reconcile(cube, d, i, &w[i]);
	if (!r)
		r = cfg_write(cube, d);
	if (!r)
		cub_cube__log(cube, CUB_LOG_INFO,
		    "%s: blacklist-src %u addresses, %u prefixes; "
		    "blacklist-dst %u addresses, %u prefixes",
		    create ? "applied (new or replayed)" : "applied",
		    d->l[DDOS_SRC].naddr, d->l[DDOS_SRC].npfx,
		    d->l[DDOS_DST].naddr, d->l[DDOS_DST].npfx);
out:
	for (i = 0; i < DDOS_LISTS; i++)
		want_free(&w[i]);
	return r;
}

/* The list and entry a change is about; -1 for any other change. */
static int
target_of(const struct cub_change *ch)
{
	if (ch->path->arr.len != 2 ||
	    (ch->op != CUB_CHANGE_ADD && ch->op != CUB_CHANGE_DEL))
		return -1;
	return list_of(cub_val__as_str(ch->path->arr.items[0]));
}

/* A request's changes of one list, split by kind. */
struct ddos_ops {
	uint32_t *adel, nadel, *aadd, naadd;
	struct ddos_lpm_key *pdel, *padd;
	uint32_t npdel, npadd;
};

static void
ops_free(struct ddos_ops *o)
{
	free(o->adel);
	free(o->aadd);
	free(o->pdel);
	free(o->padd);
}

/*
 * One list's part of a request: deletions first (the engine's order),
 * then additions.  On a failed map call what was written is put back,
 * best effort (addresses deleted come back with zeroed counters).
 */
static int
list_change(struct cub_cube *cube, struct ddos_cube *d, int list,
    const struct ddos_ops *o)
{
	struct ddos_list *dl = &d->l[list];
	uint32_t adel = 0, aadd = 0, pdel = 0, padd = 0, n;
	int r;

	if ((r = addrs_del(cube, &dl->addrs, o->adel, o->nadel, &adel)))
		goto undo;
	for (; pdel < o->npdel; pdel++)
		if ((r = pfx_del(cube, d, list, &o->pdel[pdel])))
			goto undo;
	if ((r = addrs_add(cube, &dl->addrs, o->aadd, o->naadd, &aadd)))
		goto undo;
	for (; padd < o->npadd; padd++)
		if ((r = pfx_add(cube, d, list, &o->padd[padd])))
			goto undo;
	dl->naddr += o->naadd - o->nadel;
	return 0;
undo:
	while (padd--)
		pfx_del(cube, d, list, &o->padd[padd]);
	cub_map__delete_batch(cube, &dl->addrs, o->aadd, aadd);
	while (pdel--)
		pfx_add(cube, d, list, &o->pdel[pdel]);
	addrs_add(cube, &dl->addrs, o->adel, adel, &n);
	return r;
}

static int
ddos_change(struct cub_cube *cube, const struct cub_change *changes, uint32_t n)
{
	struct ddos_cube *d = cub_cube__priv(cube);
	struct ddos_ops o[DDOS_LISTS] = {0};
	const struct cub_change *ch;
	struct ddos_entry e;
	uint32_t i, cnt[DDOS_LISTS] = {0};
	int r = 0, l;

	for (i = 0; i < n; i++)
		if ((l = target_of(&changes[i])) >= 0)
			cnt[l]++;
	for (l = 0; l < DDOS_LISTS; l++)
		if (cnt[l] && (!(o[l].adel = calloc(cnt[l], 4)) ||
				  !(o[l].aadd = calloc(cnt[l], 4)) ||
				  !(o[l].pdel = calloc(cnt[l], 8)) ||
				  !(o[l].padd = calloc(cnt[l], 8)))) {
			r = -ENOMEM;
			goto out;
		}
	/* Everything checked before anything is written. */
	for (i = 0; i < n; i++) {
		ch = &changes[i];
		if ((l = target_of(ch)) < 0)
			continue;
		if ((r = entry_of(cube, l,
			 ch->op == CUB_CHANGE_DEL ? ch->before : ch->after,
			 &e)))
			goto out;
		if (e.plen == 32 && ch->op == CUB_CHANGE_DEL)
			o[l].adel[o[l].nadel++] = e.addr;
		else if (e.plen == 32)
			o[l].aadd[o[l].naadd++] = e.addr;
		else if (ch->op == CUB_CHANGE_DEL)
			o[l].pdel[o[l].npdel++] = (struct ddos_lpm_key){
			    .prefixlen = e.plen, .addr = e.addr};
		else
			o[l].padd[o[l].npadd++] = (struct ddos_lpm_key){
			    .prefixlen = e.plen, .addr = e.addr};
	}
	for (l = 0; l < DDOS_LISTS; l++)
		if (d->l[l].npfx + o[l].npadd - o[l].npdel > DDOS_PFX_MAX) {
			r = cub_cube__set_error(cube, CUB_E_LIMIT,
			    "%s: %u prefixes, at most %u", ddos_list_names[l],
			    d->l[l].npfx + o[l].npadd - o[l].npdel,
			    DDOS_PFX_MAX);
			goto out;
		}
	for (l = 0; l < DDOS_LISTS; l++)
		if ((r = list_change(cube, d, l, &o[l]))) {
			/* Undo the lists changed before, best effort. */
			while (l--) {
				struct ddos_ops inv = {.adel = o[l].aadd,
				    .nadel = o[l].naadd,
				    .aadd = o[l].adel,
				    .naadd = o[l].nadel,
				    .pdel = o[l].padd,
				    .npdel = o[l].npadd,
				    .padd = o[l].pdel,
				    .npadd = o[l].npdel};

				list_change(cube, d, l, &inv);
			}
			cfg_write(cube, d);
			goto out;
		}
	r = cfg_write(cube, d);
out:
	for (l = 0; l < DDOS_LISTS; l++)
		ops_free(&o[l]);
	return r;
}

static uint64_t
sum_u64(const cub_map *m, void *values)
{
	uint64_t s = 0, v;
	uint32_t c;

	for (c = 0; c < m->ncpus; c++) {
		memcpy(&v, cub_map__cpu_value(m, values, c), sizeof(v));
		s += v;
	}
	return s;
}

/* An entry's drops, summed over CPUs; 0 when the maps lack it. */
static uint64_t
entry_drops(struct cub_cube *cube, struct ddos_cube *d, int list,
    const struct ddos_entry *e, void *buf)
{
	struct ddos_lpm_key k = {.prefixlen = e->plen, .addr = e->addr};
	uint32_t slot;

	if (e->plen == 32)
		return cub_map__lookup(cube, &d->l[list].addrs, &e->addr, buf)
			   ? 0
			   : sum_u64(&d->l[list].addrs, buf);
	if (cub_map__lookup(cube, &d->l[list].pfx, &k, &slot) ||
	    cub_map__lookup(cube, &d->pfx_drops, &slot, buf))
		return 0;
	return sum_u64(&d->pfx_drops, buf);
}

static int
ddos_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct ddos_cube *d = cub_cube__priv(cube);
	const struct cub_val *arr;
	struct cub_val *ov, *ent, *st;
	struct ddos_entry e;
	struct timespec ts;
	uint64_t pkts, now;
	char msg[192];
	void *buf;
	uint32_t i, zero = 0;
	int l;

	if (!d->loaded)
		return 0;
	if (!(buf = calloc(1, cub_map__value_bytes(&d->pfx_drops) +
				  cub_map__value_bytes(&d->stats))))
		return -ENOMEM;
	for (l = 0; l < DDOS_LISTS; l++) {
		arr = cub_val__get(config, ddos_list_names[l]);
		if (!arr || arr->kind != CUB_V_ARRAY ||
		    arr->arr.len > DDOS_SHOW_MAX)
			continue;
		if (!(ov = cub_val__array()))
			goto nomem;
		for (i = 0; i < arr->arr.len; i++) {
			const char *ip =
			    cub_val__get_str(arr->arr.items[i], "ip");

			if (!ip || ddos_parse(ip, &e, msg, sizeof(msg)))
				continue;
			ent = cub_val__map();
			if (!ent || cub_val__set(ent, "ip", cub_val__str(ip)) ||
			    cub_val__set(ent, "drop-pkts",
				cub_val__uint(
				    entry_drops(cube, d, l, &e, buf))) ||
			    cub_val__push(ov, ent)) {
				cub_val__free(ent);
				cub_val__free(ov);
				goto nomem;
			}
		}
		if (cub_val__set(overlay, ddos_list_names[l], ov))
			goto nomem;
	}
	/* pps: the drops since the previous show over the time since. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (!cub_map__lookup(cube, &d->stats, &zero, buf)) {
		pkts = sum_u64(&d->stats, buf);
		if (d->sampled && now > d->last_ns && pkts >= d->last_pkts)
			d->pps = (pkts - d->last_pkts) * 1000000000u /
				 (now - d->last_ns);
		d->sampled = true;
		d->last_pkts = pkts;
		d->last_ns = now;
	}
	free(buf);
	if (!(st = cub_val__map()) ||
	    cub_val__set(st, "pps", cub_val__uint(d->pps)) ||
	    cub_val__set(overlay, "stats", st))
		return -ENOMEM;
	return 0;
nomem:
	free(buf);
	return -ENOMEM;
}

static const struct cub_field ddos_entry_fields[] = {
    {.name = "ip",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.min = 7,
	.max = 18,
	.help = "an IPv4 address (198.18.0.1) or prefix (198.18.0.0/24, "
		"/0 to /31, host bits clear)"},
    {.name = "drop-pkts",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets this entry dropped"},
    {0},
};

static const struct cub_field ddos_stats_fields[] = {
    {.name = "pps",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets dropped per second, since the previous show"},
    {.name = "pkts",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets dropped",
	.counter = &(const struct cub_counter){.map = "ddos_stats",
	    .offset = offsetof(struct ddos_stats, pkts),
	    .width = sizeof(((struct ddos_stats *)0)->pkts)}},
    {0},
};

static const struct cub_field ddos_schema[] = {
    {.name = "blacklist-src",
	.type = CUB_T_LIST,
	.help = "drop IPv4 packets coming in from these sources",
	.children = ddos_entry_fields},
    {.name = "blacklist-dst",
	.type = CUB_T_LIST,
	.help = "drop IPv4 packets coming in to these destinations",
	.children = ddos_entry_fields},
    {.name = "stats",
	.type = CUB_T_CONTAINER,
	.help = "drop statistics (its fields are read-only)",
	.children = ddos_stats_fields},
    {0},
};

static const struct cub_plugin_ops ddos_ops = {
    .apply = ddos_apply,
    .show = ddos_show,
    .change = ddos_change,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "ddosmitigator",
    .description = "transparent: drop IPv4 by source / destination "
		   "blacklist (addresses and prefixes), with counters",
    .cube_size = sizeof(struct ddos_cube),
    .schema = ddos_schema,
    .ops = &ddos_ops,
    .policy = CUB_POLICY_TC_XDP(
	CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(PERCPU_ARRAY) |
	    CUB_MAP_TYPE(PERCPU_HASH) | CUB_MAP_TYPE(LPM_TRIE),
	256ull << 20),
    /* A replay of 2 x 1M entries dumps, sorts and writes them. */
    .apply_timeout_ms = 120000,
    .flags = CUB_PLUGIN_F_TRANSPARENT,
    CUB_PLUGIN_SIZES,
};
