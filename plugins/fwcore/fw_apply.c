/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_apply.c: an image into a cube's maps (bpf/fw_maps.bpf.h) through the
 * SDK: the swap set fw's free copy is emptied, filled member by member in
 * batches and flipped in one commit; the counters (fw_cnt, outside the
 * set) of slots the active image did not have are zeroed first.  From an
 * op only (synchronous calls to the broker).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cubicle/plugin.h>

#include "fw_apply.h"

static int
put(struct cub_cube *cube, struct cub_swap_txn *txn, const char *member,
    const void *keys, const void *values, uint32_t n, char *err, size_t errlen)
{
	uint32_t count = n;
	cub_map m;
	int r = cub_swap__map(txn, member, &m);

	if (r) {
		snprintf(
		    err, errlen, "the object has no member fw__%s", member);
		return r;
	}
	if (!n)
		return 0;
	r = cub_map__update_batch(cube, &m, keys, values, &count, NULL);
	if (r)
		snprintf(err, errlen, "fw__%s: %u of %u entries written: %s",
		    member, count, n, strerror(-r));
	return r;
}

struct slots {
	uint32_t *v;
	uint32_t n, cap;
};

/* Keys of a map, key_size bytes each. */
struct keys {
	uint8_t *v;
	uint32_t n, cap, ksz;
};

static int
key_add(const void *key, const void *value, void *ctx)
{
	struct keys *k = ctx;

	(void)value;
	if (k->n == k->cap) {
		uint32_t c = k->cap ? 2 * k->cap : 1024;
		uint8_t *v = realloc(k->v, (size_t)c * k->ksz);

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = c;
	}
	memcpy(k->v + (size_t)k->n++ * k->ksz, key, k->ksz);
	return 0;
}

/* Every entry of member (a hash or trie of txn's copy) deleted. */
#define FW_DEL_CHUNK 16384
static int
empty(struct cub_cube *cube, struct cub_swap_txn *txn, const char *member,
    char *err, size_t errlen)
{
	struct keys k = {0};
	cub_map m;
	int r = cub_swap__map(txn, member, &m);

	if (r) {
		snprintf(
		    err, errlen, "the object has no member fw__%s", member);
		return r;
	}
	k.ksz = m.key_size;
	r = cub_map__dump(cube, &m, key_add, &k);
	for (uint32_t i = 0; !r && i < k.n; i += FW_DEL_CHUNK)
		r = cub_map__delete_batch_n(cube, &m, k.v + (size_t)i * k.ksz,
		    k.n - i < FW_DEL_CHUNK ? k.n - i : FW_DEL_CHUNK);
	if (r)
		snprintf(err, errlen, "fw__%s: emptying the copy: %s", member,
		    strerror(-r));
	free(k.v);
	return r;
}

static int
slot_add(struct slots *s, uint32_t slot)
{
	if (s->n == s->cap) {
		uint32_t c = s->cap ? 2 * s->cap : 1024;
		uint32_t *v = realloc(s->v, c * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = c;
	}
	s->v[s->n++] = slot;
	return 0;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* What new_slots() reads of the active copy: its policies' slots, the
 * end of its rules (entries of fw_act past it are stale: the copies are
 * not cleared, see fw_image_apply()), then its rules' slots. */
struct old_read {
	struct slots s;
	uint32_t nact;
};

static int
old_slot(const void *key, const void *value, void *ctx)
{
	struct old_read *o = ctx;
	const struct fw_act *a = value;
	uint32_t i;

	memcpy(&i, key, sizeof(i));
	return i < o->nact && a->slot ? slot_add(&o->s, a->slot) : 0;
}

static int
old_policy(const void *key, const void *value, void *ctx)
{
	struct old_read *o = ctx;
	const struct fw_chain_meta *m = value;

	(void)key;
	if (m->nrules && m->rule_base + m->nrules > o->nact)
		o->nact = m->rule_base + m->nrules;
	return m->builtin && m->policy_slot ? slot_add(&o->s, m->policy_slot)
					    : 0;
}

/* The slots of img the active copy (the other one) does not count. */
static int
new_slots(struct cub_cube *cube, uint32_t copy, const struct fw_image *img,
    struct slots *out)
{
	struct old_read o = {0};
	struct slots old;
	char name[16];
	cub_map m;
	int r = 0;

	/* The active copy is the other of two (FW_COPIES). */
	snprintf(name, sizeof(name), "fw_chain%u", 1 - copy);
	if (!cub_cube__map(cube, name, &m))
		r = cub_map__dump(cube, &m, old_policy, &o);
	snprintf(name, sizeof(name), "fw_act%u", 1 - copy);
	if (!r && o.nact && !cub_cube__map(cube, name, &m))
		r = cub_map__dump(cube, &m, old_slot, &o);
	old = o.s;
	if (r)
		goto out;
	if (old.n)
		qsort(old.v, old.n, sizeof(*old.v), u32_cmp);
	for (uint32_t i = 0; i < img->nact + img->nchains && !r; i++) {
		uint32_t s = i < img->nact
				 ? img->act[i].slot
				 : img->chain[i - img->nact].policy_slot;

		if (i >= img->nact && !img->chain[i - img->nact].builtin)
			continue;
		if (!s || (old.n && bsearch(&s, old.v, old.n, sizeof(*old.v),
					u32_cmp)))
			continue;
		r = slot_add(out, s);
	}
out:
	free(old.v);
	return r;
}

int
fw_image_apply(
    struct cub_cube *cube, const struct fw_image *img, char *err, size_t errlen)
{
	/* Not cleared by the broker (it zeroes every array whole: 32 MiB of
	 * vectors, most of an apply's time): the hashes and the trie are
	 * emptied here, fw_chain written whole; the rest is read only
	 * where the new image points (vector ids, interval ranges, rule
	 * ranges of the chains), and new_slots() reads fw_act of the
	 * active copy only up to its chains' rules. */
	struct cub_swap_opts o = {.sz = sizeof(o), .clear = false};
	struct fw_chain_meta *chains = NULL;
	uint32_t nchains = 0;
	uint32_t nkeys = img->nvec, *keys = NULL;
	struct fw_addr_key *akeys = NULL;
	struct fw_small_key *skeys = NULL;
	uint32_t *avals = NULL, *svals = NULL;
	struct slots fresh = {0};
	struct cub_swap_txn *txn = NULL;
	cub_map cnt;
	int r;

	if (errlen)
		err[0] = '\0';
	if (img->nival > nkeys)
		nkeys = img->nival;
	if (img->nact > nkeys)
		nkeys = img->nact;
	if (img->nlogp > nkeys)
		nkeys = img->nlogp;
	if (img->nchains > nkeys)
		nkeys = img->nchains;
	keys = malloc((nkeys + 1) * sizeof(*keys));
	akeys = malloc((img->naddr + 1) * sizeof(*akeys));
	avals = malloc((img->naddr + 1) * sizeof(*avals));
	skeys = malloc((img->nsmall + 1) * sizeof(*skeys));
	svals = malloc((img->nsmall + 1) * sizeof(*svals));
	if (!keys || !akeys || !avals || !skeys || !svals) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < nkeys; i++)
		keys[i] = i;
	for (uint32_t i = 0; i < img->naddr; i++) {
		akeys[i] = img->addr[i].key;
		avals[i] = img->addr[i].vid;
	}
	for (uint32_t i = 0; i < img->nsmall; i++) {
		skeys[i] = img->small[i].key;
		svals[i] = img->small[i].vid;
	}
	r = cub_cube__map(cube, "fw_cnt", &cnt);
	if (r) {
		snprintf(err, errlen, "the object has no map fw_cnt");
		goto out;
	}
	r = cub_swap__begin_opts(cube, "fw", &o, &txn);
	if (r) {
		snprintf(err, errlen, "swap set fw: begin: %s", strerror(-r));
		txn = NULL;
		goto out;
	}
	{
		cub_map cm;

		if ((r = cub_swap__map(txn, "chain", &cm))) {
			snprintf(err, errlen, "the object has no member fw__chain");
			goto out;
		}
		nchains = cm.max_entries > img->nchains ? cm.max_entries
							: img->nchains;
		chains = calloc(nchains + 1, sizeof(*chains));
		if (!chains) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		memcpy(chains, img->chain, img->nchains * sizeof(*chains));
		if (nchains > nkeys) {
			uint32_t *k2 = realloc(keys, (nchains + 1) * sizeof(*k2));

			if (!k2) {
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			keys = k2;
			for (uint32_t i = nkeys; i < nchains; i++)
				keys[i] = i;
		}
	}
	if ((r = empty(cube, txn, "addr", err, errlen)) ||
	    (r = empty(cube, txn, "small", err, errlen)))
		goto out;
	if ((r = put(
		 cube, txn, "vec", keys, img->vec, img->nvec, err, errlen)) ||
	    (r = put(
		 cube, txn, "addr", akeys, avals, img->naddr, err, errlen)) ||
	    (r = put(cube, txn, "ival", keys, img->ival, img->nival, err,
		 errlen)) ||
	    (r = put(
		 cube, txn, "small", skeys, svals, img->nsmall, err, errlen)) ||
	    (r = put(cube, txn, "chain", keys, chains, nchains, err,
		 errlen)) ||
	    (r = put(
		 cube, txn, "act", keys, img->act, img->nact, err, errlen)) ||
	    (r = put(
		 cube, txn, "logp", keys, img->logp, img->nlogp, err, errlen)))
		goto out;
	/* Slots the active image has not counted start at 0: the program
	 * running it cannot bump them, so this is before the flip. */
	r = new_slots(cube, cub_swap__copy(txn), img, &fresh);
	if (!r && fresh.n)
		r = cub_map__zero_batch(cube, &cnt, fresh.v, fresh.n);
	if (r) {
		snprintf(
		    err, errlen, "fw_cnt: zeroing new slots: %s", strerror(-r));
		goto out;
	}
	r = cub_swap__commit(txn);
	txn = NULL;
	if (r)
		snprintf(err, errlen, "swap set fw: commit: %s", strerror(-r));
out:
	if (txn)
		cub_swap__abort(txn);
	free(keys);
	free(akeys);
	free(avals);
	free(skeys);
	free(svals);
	free(chains);
	free(fresh.v);
	return r;
}

/* More slots than this: the whole map in one dump (a few broker calls),
 * not one lookup each (a 5000-rule show took 5000 calls). */
#define FW_CNT_DUMP_MIN 32

struct cnt_dump {
	const cub_map *m;
	struct fw_cnt *sum; /* per slot, FW_SLOTS_ALL */
};

static int
cnt_entry(const void *key, const void *value, void *ctx)
{
	struct cnt_dump *d = ctx;
	uint32_t slot;

	memcpy(&slot, key, sizeof(slot));
	if (slot >= FW_SLOTS_ALL)
		return 0;
	for (uint32_t c = 0; c < d->m->ncpus; c++) {
		const struct fw_cnt *v =
		    cub_map__cpu_value(d->m, (void *)value, c);

		d->sum[slot].pkts += v->pkts;
		d->sum[slot].bytes += v->bytes;
	}
	return 0;
}

static int
counters_dump(struct cub_cube *cube, const cub_map *m, const uint32_t *slots,
    uint32_t n, uint64_t *pkts, uint64_t *bytes)
{
	struct cnt_dump d = {.m = m};
	int r;

	d.sum = calloc(FW_SLOTS_ALL, sizeof(*d.sum));
	if (!d.sum)
		return -ENOMEM;
	r = cub_map__dump(cube, m, cnt_entry, &d);
	for (uint32_t i = 0; !r && i < n; i++) {
		pkts[i] = slots[i] < FW_SLOTS_ALL ? d.sum[slots[i]].pkts : 0;
		bytes[i] = slots[i] < FW_SLOTS_ALL ? d.sum[slots[i]].bytes : 0;
	}
	free(d.sum);
	return r;
}

int
fw_counters_read(struct cub_cube *cube, const uint32_t *slots, uint32_t n,
    uint64_t *pkts, uint64_t *bytes)
{
	void *buf;
	cub_map m;
	int r = cub_cube__map(cube, "fw_cnt", &m);

	if (r)
		return r;
	if (n > FW_CNT_DUMP_MIN)
		return counters_dump(cube, &m, slots, n, pkts, bytes);
	buf = malloc(cub_map__value_bytes(&m));
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && !r; i++) {
		pkts[i] = bytes[i] = 0;
		r = cub_map__lookup(cube, &m, &slots[i], buf);
		for (uint32_t c = 0; !r && c < m.ncpus; c++) {
			const struct fw_cnt *v = cub_map__cpu_value(&m, buf, c);

			pkts[i] += v->pkts;
			bytes[i] += v->bytes;
		}
	}
	free(buf);
	return r;
}

int
fw_counters_zero(struct cub_cube *cube, const uint32_t *slots, uint32_t n)
{
	cub_map m;
	int r = cub_cube__map(cube, "fw_cnt", &m);

	return r ? r : cub_map__zero_batch(cube, &m, slots, n);
}
