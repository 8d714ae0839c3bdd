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

static int
old_slot(const void *key, const void *value, void *ctx)
{
	const struct fw_act *a = value;

	return a->slot ? slot_add(ctx, a->slot) : 0;
}

static int
old_policy(const void *key, const void *value, void *ctx)
{
	const struct fw_chain_meta *m = value;

	return m->builtin && m->policy_slot ? slot_add(ctx, m->policy_slot) : 0;
}

/* The slots of img the active copy (the other one) does not count. */
static int
new_slots(struct cub_cube *cube, uint32_t copy, const struct fw_image *img,
    struct slots *out)
{
	struct slots old = {0};
	char name[16];
	cub_map m;
	int r = 0;

	/* The active copy is the other of two (FW_COPIES). */
	snprintf(name, sizeof(name), "fw_act%u", 1 - copy);
	if (!cub_cube__map(cube, name, &m))
		r = cub_map__dump(cube, &m, old_slot, &old);
	snprintf(name, sizeof(name), "fw_chain%u", 1 - copy);
	if (!r && !cub_cube__map(cube, name, &m))
		r = cub_map__dump(cube, &m, old_policy, &old);
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
	struct cub_swap_opts o = {.sz = sizeof(o), .clear = true};
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
	if ((r = put(
		 cube, txn, "vec", keys, img->vec, img->nvec, err, errlen)) ||
	    (r = put(
		 cube, txn, "addr", akeys, avals, img->naddr, err, errlen)) ||
	    (r = put(cube, txn, "ival", keys, img->ival, img->nival, err,
		 errlen)) ||
	    (r = put(
		 cube, txn, "small", skeys, svals, img->nsmall, err, errlen)) ||
	    (r = put(cube, txn, "chain", keys, img->chain, img->nchains, err,
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
	free(fresh.v);
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
