// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon's metrics reader (reader.h; docs/architecture.md, "dynmon", "The
 * reader (reader.c)"): reads a loaded object's maps through the SDK (batch
 * lookups, lookup-and-delete, pops, swap reads) and turns the reads into
 * Polycube's JSON, the gateway's cumulative metric families and
 * OpenMetrics text.
 *
 * Each read is folded twice: into the CLI's accumulation of the metric
 * (what arrived since its last dm_reader_show(), cleared by that show)
 * and, for metrics with open-metrics-metadata, into the gateway's totals
 * (families.h's dm_totals).  A read of a swap- or empty-on-read map (or a
 * queue's pops) is a delta; any other read is a snapshot, shown as it is
 * and replacing the totals.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/btf.h>
#include <linux/bpf.h>

#include "btfval.h"
#include "catalog.h"
#include "dpconf.h"
#include "families.h"
#include "reader.h"

/*
 * What one show answer may carry: it travels with the rest of the cube's
 * document (two paths' code of up to 1 MiB each, the metric-configs), so
 * the metrics' values get half the message's elements and a quarter of
 * its bytes.  A show over them is refused naming the metric and its
 * entries; nothing is lost (the deltas stay for the next show).
 */
#define DM_SHOW_ELEMS_MAX (CUB_ELEMS_MAX / 2)
#define DM_SHOW_BYTES_MAX (CUB_MSG_MAX / 4)
/* Distinct keys (or popped values) the CLI's accumulation of one metric
 * holds between two shows; past it new keys are dropped and counted. */
#define DM_ACC_MAX (CUB_ELEMS_MAX / 2)
/* Metric-configs per path. */
#define DM_METRICS_MAX 256u

/* Raw entries accumulated: keys and values back to back, indexed by key. */
struct dm_acc {
	uint8_t *keys, *vals;
	uint32_t n, cap;
	uint32_t *idx; /* open addressing, entry + 1, 0 empty */
	uint32_t idx_cap;
	size_t ks, vs;
	uint32_t ncpus;
	uint64_t dropped;
};

struct dm_rmetric {
	char path;                   /* 'i' or 'e' */
	const char *name, *map_name; /* into the reader's dpconf */
	const struct cub_val *mc;
	const struct dm_map *map;
	bool swap, empty, delta, om;
	bool gauge;
	/* Summable values: integer lanes of this width (1, 2, 4, 8), 0 when
	 * the value is not a number or array of numbers (latest wins). */
	uint32_t lane;
	char *family;     /* the family's name, om only */
	char *omtype;     /* the open-metrics type as given, om only */
	char famtype[12]; /* the family's type (counter, ..., unknown) */
	/* open-metrics-metadata on a value that is not a number (Polycube's
	 * own test files have such): shown in JSON, not exported; why, for
	 * one warning in the cube's log. */
	char *skip;
	bool warned;
	/* Series past DM_SERIES_MAX in its family when last logged. */
	uint64_t dropped_logged;
	struct dm_acc acc;
};

struct dm_reader {
	struct dm_catalog *cat;
	struct cub_val *conf;
	struct dm_rmetric *m;
	size_t n;
	struct dm_totals *totals;
};

/* One read: entries as the SDK returns them (owned here or by sr). */
struct dm_read {
	uint8_t *keys, *vals;
	uint32_t count, ncpus;
	size_t ks, vs;
	struct cub_swap_result *sr;
};

static const char *
path_word(char path)
{
	return path == 'i' ? "ingress-path" : "egress-path";
}

static bool
is_queue(uint32_t type)
{
	return type == BPF_MAP_TYPE_QUEUE || type == BPF_MAP_TYPE_STACK;
}

static bool
is_array(uint32_t type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static bool
is_hash(uint32_t type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* ---- The accumulation ---- */

static void
acc_fini(struct dm_acc *a)
{
	free(a->keys);
	free(a->vals);
	free(a->idx);
	memset(a, 0, sizeof(*a));
}

static uint64_t
key_hash(const uint8_t *k, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h;
}

/* The slot of key in a->idx: its entry's, or the empty one to take. */
static uint32_t *
acc_slot(const struct dm_acc *a, const uint8_t *key)
{
	uint32_t mask = a->idx_cap - 1,
		 i = (uint32_t)key_hash(key, a->ks) & mask;

	while (a->idx[i] &&
	       memcmp(a->keys + (size_t)(a->idx[i] - 1) * a->ks, key, a->ks))
		i = (i + 1) & mask;
	return &a->idx[i];
}

static int
acc_grow(struct dm_acc *a)
{
	uint32_t cap = a->cap ? a->cap * 2 : 64, i, *idx;
	uint8_t *k, *v;

	if (cap > DM_ACC_MAX)
		cap = DM_ACC_MAX;
	k = realloc(a->keys, (size_t)cap * a->ks + 1);
	if (!k)
		return -ENOMEM;
	a->keys = k;
	v = realloc(a->vals, (size_t)cap * a->vs + 1);
	if (!v)
		return -ENOMEM;
	a->vals = v;
	a->cap = cap;
	if (!a->ks)
		return 0;
	idx = calloc((size_t)cap * 2, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	free(a->idx);
	a->idx = idx;
	a->idx_cap = cap * 2;
	for (i = 0; i < a->n; i++)
		*acc_slot(a, a->keys + (size_t)i * a->ks) = i + 1;
	return 0;
}

/* dst += src in lanes of w bytes, per CPU (values at stride vs / ncpus),
 * modulo 2^(8w): counters, signed or not. */
static void
add_lanes(uint8_t *dst, const uint8_t *src, size_t value_size, uint32_t ncpus,
    size_t vs, uint32_t w)
{
	size_t stride = ncpus > 1 ? vs / ncpus : vs, off, c;

	for (c = 0; c < ncpus; c++)
		for (off = 0; off + w <= value_size; off += w) {
			uint8_t *d = dst + c * stride + off;
			const uint8_t *s = src + c * stride + off;
			uint64_t x = 0, y = 0;

			memcpy(&x, d, w);
			memcpy(&y, s, w);
			x += y;
			memcpy(d, &x, w);
		}
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Fold a delta read into m's accumulation: a key seen before gets the
 * read's value added (lane) or replacing it (latest wins; an array's
 * index reads zero when nothing arrived, so a zero does not replace); a
 * new key is
 * appended, up to DM_ACC_MAX (then dropped and counted); popped values
 * are appended.
 */
static int
acc_fold(struct dm_rmetric *m, const struct dm_read *rd)
{
	struct dm_acc *a = &m->acc;
	uint32_t i, *slot = NULL;
	int r;

	if (a->n && (a->ks != rd->ks || a->vs != rd->vs))
		acc_fini(a); /* the layout changed (a reload): start over */
	if (!a->cap) {
		a->ks = rd->ks;
		a->vs = rd->vs;
	}
	a->ncpus = rd->ncpus;
	for (i = 0; i < rd->count; i++) {
		const uint8_t *k = rd->keys + (size_t)i * rd->ks;
		const uint8_t *v = rd->vals + (size_t)i * rd->vs;

		if (a->ks && a->n && (slot = acc_slot(a, k)) && *slot) {
			uint8_t *dv = a->vals + (size_t)(*slot - 1) * a->vs;

			if (m->lane)
				add_lanes(dv, v, m->map->value_size, rd->ncpus,
				    rd->vs, m->lane);
			else if (!is_array(m->map->type) || !all_zero(v, a->vs))
				memcpy(dv, v, a->vs);
			continue;
		}
		if (a->n == a->cap) {
			if (a->cap == DM_ACC_MAX) {
				a->dropped++;
				continue;
			}
			if ((r = acc_grow(a)))
				return r;
		}
		if (a->ks) {
			memcpy(a->keys + (size_t)a->n * a->ks, k, a->ks);
			*acc_slot(a, k) = a->n + 1;
		}
		memcpy(a->vals + (size_t)a->n * a->vs, v, a->vs);
		a->n++;
	}
	return 0;
}

static void
acc_clear(struct dm_acc *a)
{
	a->n = 0;
	a->dropped = 0;
	if (a->idx)
		memset(a->idx, 0, (size_t)a->idx_cap * sizeof(*a->idx));
}

static int
acc_copy(struct dm_acc *dst, const struct dm_acc *src)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->cap)
		return 0;
	*dst = *src;
	dst->keys = malloc((size_t)src->cap * src->ks + 1);
	dst->vals = malloc((size_t)src->cap * src->vs + 1);
	dst->idx = src->idx ? calloc(src->idx_cap, sizeof(*dst->idx)) : NULL;
	if (!dst->keys || !dst->vals || (src->idx && !dst->idx)) {
		acc_fini(dst);
		return -ENOMEM;
	}
	memcpy(dst->keys, src->keys, (size_t)src->n * src->ks);
	memcpy(dst->vals, src->vals, (size_t)src->n * src->vs);
	if (src->idx)
		memcpy(dst->idx, src->idx, src->idx_cap * sizeof(*dst->idx));
	return 0;
}

/* ---- Opening ---- */

/*
 * Integer lanes of a value of BTF type id: its size for an integer of 1,
 * 2, 4 or 8 bytes, the element's for (nested) arrays of such integers;
 * 0 for anything else (struct, union, enum, float, bool, char[]).
 */
static uint32_t
value_lane(const struct dm_catalog *cat, uint32_t id)
{
	const struct btf_type *t = dm_btf_resolve(cat->btf, id, &id);
	int depth;

	for (depth = 0; t && btf_is_array(t) && depth < 8; depth++)
		t = dm_btf_resolve(cat->btf, btf_array(t)->type, &id);
	if (!t || !btf_is_int(t) || (btf_int_encoding(t) & BTF_INT_BOOL) ||
	    (btf_int_encoding(t) & BTF_INT_CHAR) || btf_int_offset(t) ||
	    btf_int_bits(t) != t->size * 8)
		return 0;
	return t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8
		   ? t->size
		   : 0;
}

/* A number as families.c takes one: an integer of 1 to 8 whole bytes
 * (not bool), an enum, a float. */
static bool
value_is_number(const struct dm_catalog *cat, uint32_t id)
{
	const struct btf_type *t = dm_btf_resolve(cat->btf, id, NULL);

	if (!t)
		return false;
	if (btf_is_int(t))
		return !btf_int_offset(t) && btf_int_bits(t) == t->size * 8 &&
		       t->size <= 8 && !(btf_int_encoding(t) & BTF_INT_BOOL);
	return btf_is_any_enum(t) || btf_is_float(t);
}

static bool
same_metric(const struct dm_rmetric *a, const struct dm_rmetric *b)
{
	return a->path == b->path && !strcmp(a->name, b->name) &&
	       !strcmp(a->map_name, b->map_name) &&
	       a->map->type == b->map->type &&
	       a->map->key_size == b->map->key_size &&
	       a->map->value_size == b->map->value_size && a->swap == b->swap &&
	       a->empty == b->empty && a->om == b->om &&
	       (!a->om || (!strcmp(a->family, b->family) &&
			      !strcasecmp(a->omtype, b->omtype)));
}

struct dm_reader *
dm_reader_free(struct dm_reader *r)
{
	size_t i;

	if (!r)
		return NULL;
	for (i = 0; i < r->n; i++) {
		acc_fini(&r->m[i].acc);
		free(r->m[i].family);
		free(r->m[i].omtype);
		free(r->m[i].skip);
	}
	free(r->m);
	dm_totals_free(r->totals);
	cub_val__free(r->conf);
	dm_catalog_free(r->cat);
	free(r);
	return NULL;
}

/* Check mc (metric k of path) and fill m. */
static int
metric_open(struct dm_reader *r, char path, size_t k, const struct cub_val *mc,
    struct dm_rmetric *m, char *err, size_t errlen)
{
	const struct cub_val *om = cub_val__get(mc, "open-metrics-metadata");
	char ferr[512];
	struct cub_val *fam = NULL;
	struct dm_entries none = {0};
	int rc;

	m->path = path;
	m->mc = mc;
	m->name = cub_val__get_str(mc, "name");
	m->map_name = cub_val__get_str(mc, "map-name");
	if (!m->name || !*m->name)
		return dm_fail(err, errlen, "%s: metric-config %zu has no name",
		    path_word(path), k);
	if (!m->map_name || !*m->map_name)
		return dm_fail(err, errlen, "%s: metric '%s' has no map-name",
		    path_word(path), m->name);
	m->map = dm_catalog_find(r->cat, path, m->map_name);
	if (!m->map)
		return dm_fail(err, errlen,
		    "%s: metric '%s': map-name '%s' is not a map of the "
		    "%s's code",
		    path_word(path), m->name, m->map_name, path_word(path));
	if (!is_hash(m->map->type) && !is_array(m->map->type) &&
	    !is_queue(m->map->type))
		return dm_fail(err, errlen,
		    "%s: metric '%s': map '%s' is of type %u, which dynmon "
		    "does "
		    "not extract (HASH, LRU_HASH, ARRAY, PERCPU_HASH, "
		    "PERCPU_ARRAY, LRU_PERCPU_HASH, QUEUE, STACK)",
		    path_word(path), m->name, m->map_name, m->map->type);
	m->swap = dm_conf_swap_on_read(mc);
	m->empty = dm_conf_empty_on_read(mc);
	if (m->swap && is_queue(m->map->type))
		return dm_fail(err, errlen,
		    "%s: metric '%s': map '%s' is a %s, drained on every read: "
		    "swap-on-read does not apply",
		    path_word(path), m->name, m->map_name,
		    m->map->type == BPF_MAP_TYPE_QUEUE ? "QUEUE" : "STACK");
	if (m->swap && !m->map->swap_set[0])
		return dm_fail(err, errlen,
		    "%s: metric '%s': map '%s' has swap-on-read but the object "
		    "has no swap set for it",
		    path_word(path), m->name, m->map_name);
	m->delta = m->swap || m->empty || is_queue(m->map->type);
	m->om = om != NULL;
	if (m->om) {
		const char *type = cub_val__get_str(om, "type");

		rc = dm_families_from_metric(
		    r->cat, m->map, mc, &none, &fam, ferr, sizeof(ferr));
		if (rc == -ENOMEM)
			return rc;
		if (rc && !cub_val__get(mc, "histogram") &&
		    !value_is_number(r->cat, m->map->value_type_id)) {
			/* Polycube skips it with a warning; so do we. */
			m->om = false;
			m->skip = strdup(ferr);
			return m->skip ? 0 : -ENOMEM;
		}
		if (rc)
			return dm_fail(err, errlen,
			    "%s: metric '%s' (map '%s'): %s", path_word(path),
			    m->name, m->map_name, ferr);
		m->family = strdup(cub_val__get_str(fam, "name") ?: "");
		m->omtype = strdup(type ?: "");
		m->gauge =
		    !strcmp(cub_val__get_str(fam, "type") ?: "", "gauge");
		snprintf(m->famtype, sizeof(m->famtype), "%s",
		    cub_val__get_str(fam, "type") ?: "");
		cub_val__free(fam);
		if (!m->family || !m->omtype)
			return -ENOMEM;
	}
	m->lane = m->gauge ? 0 : value_lane(r->cat, m->map->value_type_id);
	return 0;
}

/* The sample names a family of type t gives, as cub_om_render() claims
 * them (sdk/src/openmetrics.c om_types). */
static const char *const *
type_suffixes(const char *t)
{
	static const char *const counter[] = {"_total", NULL};
	static const char *const hist[] = {"_bucket", "_count", "_sum", NULL};
	static const char *const summary[] = {"", "_count", "_sum", NULL};
	static const char *const plain[] = {"", NULL};

	return !strcmp(t, "counter")     ? counter
	       : !strcmp(t, "histogram") ? hist
	       : !strcmp(t, "summary")   ? summary
					 : plain;
}

/*
 * Whether two exported metrics of different families give one sample
 * name (a counter x's x_total and a gauge x_total): the exposition
 * refuses that at every show, so the config is refused instead.
 */
static int
samples_clash(const struct dm_rmetric *a, const struct dm_rmetric *b, char *err,
    size_t errlen)
{
	const char *const *sa = type_suffixes(a->famtype), *const *sb =
							       type_suffixes(
								   b->famtype);
	char na[256], nb[256];
	size_t i, j;

	if (!strcmp(a->family, b->family))
		return 0; /* the same family: said by the caller */
	for (i = 0; sa[i]; i++) {
		snprintf(na, sizeof(na), "%s%s", a->family, sa[i]);
		for (j = 0; sb[j]; j++) {
			snprintf(nb, sizeof(nb), "%s%s", b->family, sb[j]);
			if (!strcmp(na, nb))
				return dm_fail(err, errlen,
				    "%s: metric '%s' (%s '%s') gives the "
				    "sample "
				    "name '%s' that %s metric '%s' (%s '%s') "
				    "gives too",
				    path_word(b->path), b->name, b->famtype,
				    b->family, nb, path_word(a->path), a->name,
				    a->famtype, a->family);
		}
	}
	return 0;
}

/* Before the swap sets are bound: a swap-on-read QUEUE or STACK. */
static int
swap_queue_check(const struct dm_reader *r, char path,
    const struct cub_val *mcs, char *err, size_t errlen)
{
	const struct dm_map *map;
	const char *name;
	uint32_t i;

	for (i = 0; mcs && mcs->kind == CUB_V_ARRAY && i < mcs->arr.len; i++) {
		if (!dm_conf_swap_on_read(mcs->arr.items[i]))
			continue;
		name = cub_val__get_str(mcs->arr.items[i], "map-name");
		map = name ? dm_catalog_find(r->cat, path, name) : NULL;
		if (map && is_queue(map->type))
			return dm_fail(err, errlen,
			    "%s: metric '%s': map '%s' is a %s, drained on "
			    "every read: swap-on-read does not apply",
			    path_word(path),
			    cub_val__get_str(mcs->arr.items[i], "name") ?: "",
			    name,
			    map->type == BPF_MAP_TYPE_QUEUE ? "QUEUE"
							    : "STACK");
	}
	return 0;
}

int
dm_reader_open(const void *elf, size_t len, const struct cub_val *dpconf,
    const struct dm_reader *prev, struct dm_reader **out, char *err,
    size_t errlen)
{
	static const char paths[2] = {'i', 'e'};
	const char *swap[DM_SWAP_MAX];
	struct cub_val *fams = NULL;
	struct dm_reader *r;
	size_t ns, i, j, p, total = 0;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!elf || !len)
		return dm_fail(err, errlen, "dynmon: no object to read");
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->conf = dpconf ? cub_val__dup(dpconf) : cub_val__map();
	r->totals = dm_totals_new();
	if (!r->conf || !r->totals) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = dm_catalog_open(elf, len, &r->cat, err, errlen)))
		goto fail;
	for (p = 0; p < 2; p++) {
		const struct cub_val *mcs = dm_conf_metrics(r->conf, paths[p]);
		char berr[512];

		if ((rc = dm_conf_swap_list(
			 r->conf, paths[p], swap, &ns, err, errlen)) ||
		    (rc = swap_queue_check(r, paths[p], mcs, err, errlen)))
			goto fail;
		if ((rc = dm_catalog_bind_swap(
			 r->cat, paths[p], swap, ns, berr, sizeof(berr)))) {
			if (rc != -ENOMEM)
				dm_fail(err, errlen,
				    "%s: %s (was the object "
				    "compiled from this "
				    "dataplane-config?)",
				    path_word(paths[p]), berr);
			goto fail;
		}
		if (mcs && mcs->kind == CUB_V_ARRAY) {
			if (mcs->arr.len > DM_METRICS_MAX) {
				rc = dm_fail(err, errlen,
				    "%s: %u metric-configs, more than %u",
				    path_word(paths[p]), mcs->arr.len,
				    DM_METRICS_MAX);
				goto fail;
			}
			total += mcs->arr.len;
		}
	}
	r->m = calloc(total ?: 1, sizeof(*r->m));
	if (!r->m) {
		rc = -ENOMEM;
		goto fail;
	}
	for (p = 0; p < 2; p++) {
		const struct cub_val *mcs = dm_conf_metrics(r->conf, paths[p]);

		for (i = 0; mcs && mcs->kind == CUB_V_ARRAY && i < mcs->arr.len;
		     i++) {
			struct dm_rmetric *m = &r->m[r->n];

			rc = metric_open(
			    r, paths[p], i, mcs->arr.items[i], m, err, errlen);
			r->n++;
			if (rc)
				goto fail;
			for (j = 0; j + 1 < r->n; j++) {
				if (r->m[j].path == m->path &&
				    !strcmp(r->m[j].name, m->name)) {
					rc = dm_fail(err, errlen,
					    "%s: two metric-configs are named "
					    "'%s'",
					    path_word(m->path), m->name);
					goto fail;
				}
				if (m->om && r->m[j].om &&
				    (rc = samples_clash(
					 &r->m[j], m, err, errlen)))
					goto fail;
				if (m->om && r->m[j].om &&
				    !strcmp(r->m[j].family, m->family)) {
					rc = dm_fail(err, errlen,
					    "%s: metric '%s' gives the metric "
					    "family '%s' that %s metric '%s' "
					    "gives too",
					    path_word(m->path), m->name,
					    m->family, path_word(r->m[j].path),
					    r->m[j].name);
					goto fail;
				}
			}
		}
	}
	/* What carries over from prev: the accumulations and the totals of
	 * metrics that are the same (name, path, map, type, options). */
	if (prev && (rc = dm_totals_families(prev->totals, &fams)))
		goto fail;
	for (i = 0; prev && i < r->n; i++) {
		struct dm_rmetric *m = &r->m[i];

		for (j = 0; j < prev->n && !same_metric(m, &prev->m[j]); j++)
			;
		if (j == prev->n)
			continue;
		if ((rc = acc_copy(&m->acc, &prev->m[j].acc)))
			goto fail;
		for (p = 0; m->om && fams && p < fams->arr.len; p++) {
			const struct cub_val *f = fams->arr.items[p];

			if (strcmp(
				cub_val__get_str(f, "name") ?: "", m->family))
				continue;
			rc = dm_totals_add(r->totals, f, true, err, errlen);
			if (rc)
				goto fail;
		}
	}
	cub_val__free(fams);
	*out = r;
	return 0;
fail:
	cub_val__free(fams);
	dm_reader_free(r);
	return rc;
}

/* ---- Reading ---- */

static void
read_fini(struct dm_read *rd)
{
	if (rd->sr)
		cub_swap__result_free(rd->sr);
	else {
		free(rd->keys);
		free(rd->vals);
	}
	memset(rd, 0, sizeof(*rd));
}

static int
read_fail(char *err, size_t errlen, const struct dm_rmetric *m, int rc,
    const char *what)
{
	if (err && errlen)
		snprintf(err, errlen,
		    "%s: metric '%s' (map '%s', object map "
		    "'%s'): %s: %s",
		    path_word(m->path), m->name, m->map_name, m->map->name,
		    what, strerror(-rc));
	return rc;
}

/*
 * Every entry of cm, by batches: lookups, lookup-and-delete (del) or, for
 * QUEUE and STACK, pops until empty; at most max_entries entries (a map
 * that refills as it is emptied is read on at the next read).
 */
static int
read_batches(
    struct cub_cube *cube, const cub_map *cm, bool del, struct dm_read *rd)
{
	size_t csz = cub_map__batch_cursor_size(cm);
	uint32_t cap = cm->max_entries ?: 1, got = 0, n;
	uint8_t *cursor = calloc(1, csz + 1);
	bool first = true;
	int rc = 0;

	rd->ks = cm->key_size;
	rd->vs = cub_map__value_bytes(cm);
	rd->ncpus = cm->ncpus ?: 1;
	rd->keys = malloc((size_t)cap * rd->ks + 1);
	rd->vals = malloc((size_t)cap * rd->vs + 1);
	if (!cursor || !rd->keys || !rd->vals) {
		free(cursor);
		return -ENOMEM;
	}
	while (got < cap) {
		n = cap - got;
		rc = (del ? cub_map__lookup_and_delete_batch
			  : cub_map__lookup_batch)(cube, cm,
		    first ? NULL : cursor, cursor,
		    rd->keys + (size_t)got * rd->ks,
		    rd->vals + (size_t)got * rd->vs, &n, NULL);
		first = false;
		got += n;
		if (rc == -ENOENT) {
			rc = 0;
			break;
		}
		if (rc || !n)
			break;
	}
	rd->count = got;
	free(cursor);
	return rc;
}

/* One read of m: 0 with rd filled, or -errno with err. */
static int
read_metric(struct cub_cube *cube, const struct dm_rmetric *m,
    struct dm_read *rd, char *err, size_t errlen)
{
	const struct cub_swap_member *sm = NULL;
	cub_map cm;
	uint32_t i;
	int rc;

	memset(rd, 0, sizeof(*rd));
	if (m->swap) {
		rc = cub_swap__read_members(cube, m->map->swap_set, &rd->sr);
		if (rc)
			return read_fail(err, errlen, m, rc, "swap read");
		for (i = 0; i < rd->sr->nmembers && !sm; i++)
			if (!strcmp(rd->sr->member[i].name, "m"))
				sm = &rd->sr->member[i];
		if (!sm || sm->map.key_size != m->map->key_size ||
		    sm->map.value_size != m->map->value_size) {
			read_fini(rd);
			return read_fail(err, errlen, m, -EPROTO,
			    "swap read: the set's member 'm' is not the map");
		}
		rd->keys = (uint8_t *)sm->keys;
		rd->vals = (uint8_t *)sm->values;
		rd->count = sm->count;
		rd->ks = sm->map.key_size;
		rd->vs = cub_map__value_bytes(&sm->map);
		rd->ncpus = sm->map.ncpus ?: 1;
		return 0;
	}
	if ((rc = cub_cube__map(cube, m->map->name, &cm)))
		return read_fail(
		    err, errlen, m, rc, "not in the loaded object");
	if (cm.type != m->map->type || cm.key_size != m->map->key_size ||
	    cm.value_size != m->map->value_size)
		return read_fail(err, errlen, m, -ESTALE,
		    "the loaded map is not the catalogue's");
	rc = read_batches(
	    cube, &cm, is_queue(cm.type) || (m->empty && is_hash(cm.type)), rd);
	if (rc) {
		read_fini(rd);
		return read_fail(err, errlen, m, rc,
		    is_queue(cm.type)              ? "pop"
		    : m->empty && is_hash(cm.type) ? "lookup-and-delete batch"
						   : "lookup batch");
	}
	/* An array cannot be read and zeroed at once: what arrives between
	 * the read and the zeroing is lost (documented). */
	if (m->empty && is_array(cm.type) && rd->count &&
	    (rc = cub_map__zero_batch(cube, &cm, rd->keys, rd->count))) {
		read_fini(rd);
		return read_fail(err, errlen, m, rc, "zeroing after the read");
	}
	return 0;
}

/* The read as decode takes it. */
static struct dm_entries
entries_of(const uint8_t *keys, const uint8_t *vals, uint32_t count,
    uint32_t ncpus, const struct dm_map *map)
{
	return (struct dm_entries){
	    .keys = map->key_size ? keys : NULL,
	    .values = vals,
	    .count = count,
	    .ncpus = map->percpu ? ncpus : 1,
	};
}

/* Fold rd into the totals through m's family. */
static int
totals_fold(struct dm_reader *r, const struct dm_rmetric *m,
    const struct dm_read *rd, char *err, size_t errlen)
{
	struct dm_entries e =
	    entries_of(rd->keys, rd->vals, rd->count, rd->ncpus, m->map);
	struct cub_val *fam = NULL;
	char ferr[512];
	int rc;

	rc = dm_families_from_metric(
	    r->cat, m->map, m->mc, &e, &fam, ferr, sizeof(ferr));
	if (!rc)
		rc =
		    dm_totals_add(r->totals, fam, m->delta, ferr, sizeof(ferr));
	cub_val__free(fam);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return dm_fail(err, errlen, "%s: metric '%s' (map '%s'): %s",
		    path_word(m->path), m->name, m->map_name, ferr);
	return 0;
}

/*
 * Read metric i and fold the read: a delta into the accumulation of every
 * delta metric on the same map (a read empties it for all of them) and
 * into their totals; a snapshot into m's totals.  *snap: the read, kept
 * for a show of a snapshot metric (else freed).
 */
static int
read_fold(struct cub_cube *cube, struct dm_reader *r, size_t i,
    struct dm_read *snap, char *err, size_t errlen)
{
	struct dm_rmetric *m = &r->m[i];
	struct dm_read rd;
	size_t j;
	int rc;

	if ((rc = read_metric(cube, m, &rd, err, errlen)))
		return rc;
	for (j = 0; j < r->n; j++) {
		struct dm_rmetric *o = &r->m[j];

		if (j != i && (!m->delta || !o->delta || o->path != m->path ||
				  strcmp(o->map_name, m->map_name)))
			continue;
		if (o->delta && (rc = acc_fold(o, &rd)))
			break;
		if (o->om && (rc = totals_fold(r, o, &rd, err, errlen)))
			break;
	}
	if (rc == -ENOMEM)
		dm_fail(err, errlen, "%s: metric '%s': out of memory",
		    path_word(m->path), m->name);
	if (!rc && snap && !m->delta) {
		*snap = rd;
		return 0;
	}
	read_fini(&rd);
	return rc;
}

/* ---- Show ---- */

/* Elements every entry of map's value shape takes at least. */
static uint64_t
entry_elems(const struct dm_map *map, uint32_t ncpus)
{
	if (is_queue(map->type) || map->type == BPF_MAP_TYPE_ARRAY)
		return 1;
	/* [{key, value}]: the item, two pairs; per-CPU: a list of CPUs. */
	return 5 + (map->percpu ? ncpus : 0);
}

static int
too_big(char *err, size_t errlen, const struct dm_rmetric *m, uint32_t count,
    uint64_t elems, uint64_t bytes)
{
	char size[64] = "";

	if (bytes)
		snprintf(size, sizeof(size), ", about %llu bytes",
		    (unsigned long long)bytes);
	dm_fail(err, errlen,
	    "%s: metric '%s' (map '%s'): %u entries (%s%llu elements%s) do "
	    "not fit one answer (at most %u elements and %u bytes for the "
	    "metrics of a show); show fewer metrics, or give the map fewer "
	    "entries",
	    path_word(m->path), m->name, m->map_name, count,
	    bytes ? "" : "at least ", (unsigned long long)elems, size,
	    DM_SHOW_ELEMS_MAX, DM_SHOW_BYTES_MAX);
	return -EMSGSIZE;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* The show entry {name, value, timestamp} of m from e; *elems, *bytes
 * grow by its size, refused past the show's budget. */
static int
show_entry(const struct dm_reader *r, const struct dm_rmetric *m,
    const struct dm_entries *e, uint64_t *elems, uint64_t *bytes,
    struct cub_val **out, char *err, size_t errlen)
{
	uint64_t el = (uint64_t)e->count * entry_elems(m->map, e->ncpus);
	uint64_t by = 0;
	struct cub_val *val = NULL, *item;
	char derr[512];
	int rc;

	*out = NULL;
	if (*elems + el > DM_SHOW_ELEMS_MAX)
		return too_big(err, errlen, m, e->count, *elems + el, 0);
	rc = dm_map_value(r->cat, m->map, e, &val, derr, sizeof(derr));
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return dm_fail(err, errlen, "%s: metric '%s' (map '%s'): %s",
		    path_word(m->path), m->name, m->map_name, derr);
	el = 0;
	cub_val__cost(val, &by, &el);
	el += 5; /* the entry map, its three keys, name and timestamp */
	by += 64;
	if (*elems + el > DM_SHOW_ELEMS_MAX ||
	    *bytes + by > DM_SHOW_BYTES_MAX) {
		cub_val__free(val);
		return too_big(
		    err, errlen, m, e->count, *elems + el, *bytes + by);
	}
	*elems += el;
	*bytes += by;
	if (!(item = cub_val__map())) {
		cub_val__free(val);
		return -ENOMEM;
	}
	if (cub_val__set(item, "name", cub_val__str(m->name)) ||
	    cub_val__set(item, "value", val) ||
	    cub_val__set(item, "timestamp", cub_val__uint(now_us()))) {
		cub_val__free(item);
		return -ENOMEM;
	}
	*out = item;
	return 0;
}

int
dm_reader_show(struct cub_cube *cube, struct dm_reader *r, char path,
    const char *name, struct cub_val **out, char *err, size_t errlen)
{
	struct cub_val *res = NULL, *lists[2] = {NULL, NULL}, *item;
	uint64_t elems = 0, bytes = 0;
	struct dm_read *snaps = NULL;
	bool *sel = NULL, any = false;
	size_t i;
	int rc = 0;

	if (!r || !out || (path && path != 'i' && path != 'e'))
		return -EINVAL;
	*out = NULL;
	sel = calloc(r->n + 1, sizeof(*sel));
	snaps = calloc(r->n + 1, sizeof(*snaps));
	if (!sel || !snaps) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		sel[i] = (!path || r->m[i].path == path) &&
			 (!name || !strcmp(r->m[i].name, name));
		any |= sel[i];
	}
	if (name && !any) {
		rc = -ENOENT;
		if (path)
			dm_fail(err, errlen, "%s has no metric '%s'",
			    path_word(path), name);
		else
			dm_fail(err, errlen, "neither path has a metric '%s'",
			    name);
		goto out;
	}
	/* 1. Read and fold every metric shown. */
	for (i = 0; i < r->n; i++)
		if (sel[i] &&
		    (rc = read_fold(cube, r, i, &snaps[i], err, errlen)))
			goto out;
	/* 2. The answer, from the accumulations and the snapshots. */
	res = cub_val__map();
	if (!res) {
		rc = -ENOMEM;
		goto out;
	}
	if (path != 'e' && !(lists[0] = cub_val__array()))
		rc = -ENOMEM;
	if (!rc && path != 'i' && !(lists[1] = cub_val__array()))
		rc = -ENOMEM;
	for (i = 0; !rc && i < r->n; i++) {
		const struct dm_rmetric *m = &r->m[i];
		struct dm_entries e;

		if (!sel[i])
			continue;
		e = m->delta ? entries_of(m->acc.keys, m->acc.vals, m->acc.n,
				   m->acc.ncpus ?: 1, m->map)
			     : entries_of(snaps[i].keys, snaps[i].vals,
				   snaps[i].count, snaps[i].ncpus, m->map);
		rc = show_entry(r, m, &e, &elems, &bytes, &item, err, errlen);
		if (!rc)
			rc = cub_val__push(lists[m->path == 'e'], item);
	}
	if (rc)
		goto out;
	for (i = 0; i < 2; i++) {
		if (!lists[i])
			continue;
		rc = cub_val__set(
		    res, i ? "egress-metrics" : "ingress-metrics", lists[i]);
		lists[i] = NULL; /* res's, or freed */
		if (rc)
			goto out;
	}
	/* 3. Shown: the deltas start again (only now, so that a refused
	 * answer loses nothing). */
	for (i = 0; i < r->n; i++)
		if (sel[i] && r->m[i].delta)
			acc_clear(&r->m[i].acc);
	*out = res;
	res = NULL;
out:
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "dynmon: out of memory reading metrics");
	for (i = 0; snaps && i < r->n; i++)
		read_fini(&snaps[i]);
	free(snaps);
	free(sel);
	cub_val__free(lists[0]);
	cub_val__free(lists[1]);
	cub_val__free(res);
	return rc;
}

/* ---- Families ---- */

/*
 * Series past the cap (DM_SERIES_MAX a metric) are counted in their
 * family's "dropped"; the cube's log says so the first time, and again
 * each time the count has doubled, so a growing map cannot flood it.
 */
static void
log_dropped(struct cub_cube *cube, struct dm_reader *r,
    const struct cub_val *families)
{
	uint64_t dropped;
	uint32_t i;
	size_t k;

	for (i = 0; families && i < families->arr.len; i++) {
		const struct cub_val *f = families->arr.items[i];
		const char *name = cub_val__get_str(f, "name");

		if (!name ||
		    cub_val__as_u64(cub_val__get(f, "dropped"), &dropped) ||
		    !dropped)
			continue;
		for (k = 0; k < r->n; k++) {
			struct dm_rmetric *m = &r->m[k];

			if (!m->family || strcmp(m->family, name) ||
			    dropped < 2 * m->dropped_logged + !m->dropped_logged)
				continue;
			m->dropped_logged = dropped;
			cub_cube__log(cube, CUB_LOG_WARN,
			    "dynmon: %s: metric '%s': %" PRIu64 " series over "
			    "the cap of %u a metric are not exported",
			    path_word(m->path), m->name, dropped, DM_SERIES_MAX);
			break;
		}
	}
}

int
dm_reader_families(struct cub_cube *cube, struct dm_reader *r,
    struct cub_val **families, char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (!r || !families)
		return -EINVAL;
	*families = NULL;
	for (i = 0; i < r->n; i++) {
		if (r->m[i].skip && !r->m[i].warned) {
			r->m[i].warned = true;
			cub_cube__log(cube, CUB_LOG_WARN,
			    "dynmon: %s: metric '%s' is not exported to "
			    "OpenMetrics: %s",
			    path_word(r->m[i].path), r->m[i].name,
			    r->m[i].skip);
		}
		if (r->m[i].om &&
		    (rc = read_fold(cube, r, i, NULL, err, errlen)))
			return rc;
	}
	rc = dm_totals_families(r->totals, families);
	if (rc)
		dm_fail(err, errlen, "dynmon: out of memory building families");
	else
		log_dropped(cube, r, *families);
	return rc;
}

int
dm_reader_openmetrics(struct cub_cube *cube, struct dm_reader *r,
    enum cub_om_format fmt, char **text, size_t *len, char *err, size_t errlen)
{
	struct cub_val *fams = NULL;
	int rc;

	if (!text)
		return -EINVAL;
	*text = NULL;
	if ((rc = dm_reader_families(cube, r, &fams, err, errlen)))
		return rc;
	rc = cub_om_render(fams, fmt, NULL, 0, text, len, err, errlen);
	cub_val__free(fams);
	return rc;
}
