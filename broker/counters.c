// SPDX-License-Identifier: BSD-2-Clause
/*
 * Counters the broker reads itself (issue 7, "a broker that never
 * stalls"): ro schema fields a plugin binds to a map of its cube's object,
 * a key and an offset (struct cub_counter in cubicle/schema.h).  A `show`
 * reads them from the broker's own map fds, one lookup per (map, key),
 * sums per-CPU values, and merges them into the shown document as an
 * overlay: no call reaches the worker unless the service also has ro
 * fields of its own to fill.
 *
 * Three steps, each refusing what it cannot trust:
 *  - counters_parse(), at hello: the binding's shape (map name, widths,
 *    alignment, the key field) against the schema the worker sent;
 *  - counters_check_object(), at every load, before the kernel sees the
 *    object: the bound map is in the cube's own object, is plain data, and
 *    key size and offset + width fit it;
 *  - counters_overlay(), at show: reads under b->lock, bounds-checked
 *    again against the map the broker holds (an adopted object included).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "broker.h"
#include "counters.h"
#include "cubicle/errors.h"

/* The bound fields of one cube-level list, container, or the cube. */
struct ctr_group {
	char name[CUB_NAME_MAX + 1]; /* "" for cube-level fields */
	bool list;
	char keys[CTR_KEYS_MAX][CUB_NAME_MAX + 1]; /* list key fields */
	uint32_t nkeys;
	struct ctr *ctrs;
	uint32_t nctrs;
};

struct ctr_table {
	struct ctr_group *groups;
	uint32_t ngroups;
	uint32_t nctrs;
	bool worker_show;
};

static int __attribute__((format(printf, 3, 4)))
cerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A map name the broker pins and finds in the object: a plain C
 * identifier, never a path, never one of the broker's cub_* maps. */
static bool
valid_map_name(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) >= BPF_OBJ_NAME_LEN)
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' ||
			(i && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static const char *
field_type(const struct cub_val *f)
{
	return cub_val__get_str(f, "type") ?: "";
}

static uint64_t
field_flags(const struct cub_val *f)
{
	uint64_t v = 0;

	cub_val__as_u64(cub_val__get(f, "flags"), &v);
	return v;
}

/* Bytes of an integer field, 0 for any other type. */
static uint32_t
int_width(const char *type)
{
	if (!strcmp(type, "u32"))
		return 4;
	if (!strcmp(type, "u64"))
		return 8;
	return 0;
}

/*
 * The type of field name among the entry's fields: the service's (fields)
 * or, for "ports", the base port fields the broker owns (index is the one
 * integer).  NULL when there is no such field.
 */
static const char *
entry_field_type(
    const char *list, const struct cub_val *fields, const char *name)
{
	uint32_t i;

	for (i = 0; fields && i < fields->arr.len; i++)
		if (!strcmp(
			cub_val__get_str(fields->arr.items[i], "name") ?: "",
			name))
			return field_type(fields->arr.items[i]);
	if (!strcmp(list, "ports") && !strcmp(name, "index"))
		return "u32";
	if (!strcmp(list, "ports") &&
	    (!strcmp(name, "name") || !strcmp(name, "peer") ||
		!strcmp(name, "status")))
		return "string";
	return NULL;
}

static int
binding_parse(const char *group, bool in_list, const struct cub_val *siblings,
    const struct cub_val *f, struct ctr *c, char *err, size_t errlen)
{
	static const char *const members[] = {
	    "map", "key", "key_field", "key_size", "offset", "width", NULL};
	const struct cub_val *b = cub_val__get(f, "counter");
	const char *name = cub_val__get_str(f, "name") ?: "";
	const char *map, *kf, *kt;
	uint64_t key = 0, ks = 0, off = 0, w = 0;
	uint32_t i, fw;
	size_t j;

	memset(c, 0, sizeof(*c));
	snprintf(c->field, sizeof(c->field), "%s", name);
	snprintf(
	    c->path, sizeof(c->path), "%s%s%s", group, *group ? "." : "", name);
	if (b->kind != CUB_V_MAP)
		return cerr(err, errlen,
		    "counter '%s': the binding is a %s, "
		    "not a map",
		    c->path, cub_val__kind_name(b->kind));
	for (i = 0; i < b->map.len; i++) {
		for (j = 0; members[j]; j++)
			if (!strcmp(members[j], b->map.items[i].key))
				break;
		if (!members[j])
			return cerr(err, errlen,
			    "counter '%s': unknown member '%.32s'", c->path,
			    b->map.items[i].key);
	}
	fw = int_width(field_type(f));
	if (!fw || !(field_flags(f) & CUB_F_RO))
		return cerr(err, errlen,
		    "counter '%s': a counter must be a ro u32 or u64 field, "
		    "not a%s %s field",
		    c->path, field_flags(f) & CUB_F_RO ? " ro" : " writable",
		    field_type(f));
	map = cub_val__get_str(b, "map");
	if (!valid_map_name(map))
		return cerr(err, errlen,
		    "counter '%s': map '%.64s' is not a map name (a plain "
		    "identifier of at most %d characters naming a map of the "
		    "cube's own object)",
		    c->path, map ?: "", BPF_OBJ_NAME_LEN - 1);
	if (!strncmp(map, "cub_", 4))
		return cerr(err, errlen,
		    "counter '%s': map '%s' belongs to the broker", c->path,
		    map);
	if (cub_val__get(b, "key") &&
	    cub_val__as_u64(cub_val__get(b, "key"), &key))
		return cerr(err, errlen,
		    "counter '%s': key is not an unsigned "
		    "integer",
		    c->path);
	if ((cub_val__get(b, "key_size") &&
		cub_val__as_u64(cub_val__get(b, "key_size"), &ks)) ||
	    (cub_val__get(b, "offset") &&
		cub_val__as_u64(cub_val__get(b, "offset"), &off)) ||
	    (cub_val__get(b, "width") &&
		cub_val__as_u64(cub_val__get(b, "width"), &w)))
		return cerr(err, errlen,
		    "counter '%s': key_size, offset and "
		    "width must be unsigned integers",
		    c->path);
	ks = ks ? ks : 4;
	w = w ? w : 8;
	if (ks != 4 && ks != 8)
		return cerr(err, errlen,
		    "counter '%s': key_size %llu (4 or 8 bytes)", c->path,
		    (unsigned long long)ks);
	if (w != 4 && w != 8)
		return cerr(err, errlen,
		    "counter '%s': width %llu (4 or 8 bytes)", c->path,
		    (unsigned long long)w);
	if (w > fw)
		return cerr(err, errlen,
		    "counter '%s': width %llu is wider than the field's %s",
		    c->path, (unsigned long long)w, field_type(f));
	if (off % w || off > CTR_OFFSET_MAX)
		return cerr(err, errlen,
		    "counter '%s': offset %llu is not a multiple of the width "
		    "%llu below %u",
		    c->path, (unsigned long long)off, (unsigned long long)w,
		    CTR_OFFSET_MAX);
	kf = cub_val__get(b, "key_field") ? cub_val__get_str(b, "key_field")
					  : NULL;
	if (cub_val__get(b, "key_field") && !kf)
		return cerr(err, errlen,
		    "counter '%s': key_field is not a string", c->path);
	if (kf) {
		if (!in_list)
			return cerr(err, errlen,
			    "counter '%s': key_field '%.32s' outside an entry "
			    "of a cube-level list",
			    c->path, kf);
		if (cub_val__get(b, "key") && key)
			return cerr(err, errlen,
			    "counter '%s': both key and key_field", c->path);
		kt = entry_field_type(group, siblings, kf);
		if (!kt)
			return cerr(err, errlen,
			    "counter '%s': key_field '%.32s' is not a field of "
			    "the %s entry",
			    c->path, kf, group);
		if (!int_width(kt) || int_width(kt) > ks)
			return cerr(err, errlen,
			    "counter '%s': key_field '%s' is a %s field, not "
			    "an integer of at most key_size %llu bytes",
			    c->path, kf, kt, (unsigned long long)ks);
		snprintf(c->key_field, sizeof(c->key_field), "%s", kf);
	} else if (ks == 4 && key > UINT32_MAX) {
		return cerr(err, errlen,
		    "counter '%s': key %llu does not fit key_size 4", c->path,
		    (unsigned long long)key);
	}
	snprintf(c->map, sizeof(c->map), "%s", map);
	c->key = key;
	c->key_size = (uint32_t)ks;
	c->offset = (uint32_t)off;
	c->width = (uint32_t)w;
	return 0;
}

static struct ctr_group *
group_get(struct ctr_table *t, const char *name, bool list,
    const struct cub_val *fields)
{
	struct ctr_group *g, *ng;
	uint32_t i;

	for (i = 0; i < t->ngroups; i++)
		if (!strcmp(t->groups[i].name, name))
			return &t->groups[i];
	ng = reallocarray(t->groups, t->ngroups + 1, sizeof(*ng));
	if (!ng)
		return NULL;
	t->groups = ng;
	g = &ng[t->ngroups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->list = list;
	if (list && !strcmp(name, "ports")) {
		snprintf(g->keys[0], sizeof(g->keys[0]), "name");
		g->nkeys = 1;
	}
	for (i = 0; list && fields && i < fields->arr.len; i++)
		if ((field_flags(fields->arr.items[i]) & CUB_F_KEY) &&
		    g->nkeys < CTR_KEYS_MAX)
			snprintf(g->keys[g->nkeys++], sizeof(g->keys[0]), "%s",
			    cub_val__get_str(fields->arr.items[i], "name"));
	return g;
}

static int
add_ctr(struct ctr_table *t, struct ctr_group *g, const struct ctr *c,
    char *err, size_t errlen)
{
	struct ctr *n;

	if (t->nctrs >= CTR_MAX)
		return cerr(err, errlen, "counter '%s': more than %d counters",
		    c->path, CTR_MAX);
	n = reallocarray(g->ctrs, g->nctrs + 1, sizeof(*n));
	if (!n)
		return cerr(err, errlen, "counters: out of memory");
	g->ctrs = n;
	n[g->nctrs++] = *c;
	t->nctrs++;
	return 0;
}

/*
 * Walk fields at depth (1 = cube level).  Bindings may sit on cube-level
 * fields and on the fields of a cube-level list's entries or container;
 * deeper ones are refused.  Any ro field without a binding is one the
 * worker fills.
 */
static int
walk(struct ctr_table *t, const struct cub_val *fields, int depth,
    const char *group, bool in_list, bool in_ro, const char *path, char *err,
    size_t errlen)
{
	const struct cub_val *f, *kids;
	char sub[CTR_PATH_MAX];
	const char *name, *type;
	struct ctr_group *g;
	struct ctr c;
	uint32_t i;
	bool ro;
	int r;

	for (i = 0;
	     fields && fields->kind == CUB_V_ARRAY && i < fields->arr.len;
	     i++) {
		f = fields->arr.items[i];
		name = cub_val__get_str(f, "name") ?: "";
		type = field_type(f);
		snprintf(
		    sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", name);
		kids = cub_val__get(f, "children");
		if (cub_val__get(f, "counter")) {
			if (in_ro)
				return cerr(err, errlen,
				    "counter '%s': inside a ro list or "
				    "container, whose entries the worker fills",
				    sub);
			if (depth > 2)
				return cerr(err, errlen,
				    "counter '%s': counters sit on cube-level "
				    "fields or in entries of cube-level lists "
				    "and containers, not deeper",
				    sub);
			if ((r = binding_parse(
				 group, in_list, fields, f, &c, err, errlen)))
				return r;
			g = group_get(
			    t, group, in_list, depth == 2 ? fields : NULL);
			if (!g)
				return cerr(
				    err, errlen, "counters: out of memory");
			if ((r = add_ctr(t, g, &c, err, errlen)))
				return r;
			continue;
		}
		if (field_flags(f) & CUB_F_RO)
			t->worker_show = true;
		ro = in_ro || (field_flags(f) & CUB_F_RO);
		if (kids && depth < 2 &&
		    (r = walk(t, kids, depth + 1, name, !strcmp(type, "list"),
			 ro, sub, err, errlen)))
			return r;
		if (kids && depth >= 2 &&
		    (r = walk(t, kids, depth + 1, group, false, ro, sub, err,
			 errlen)))
			return r;
	}
	return 0;
}

struct ctr_table *
counters_free(struct ctr_table *t)
{
	uint32_t i;

	if (!t)
		return NULL;
	for (i = 0; i < t->ngroups; i++)
		free(t->groups[i].ctrs);
	free(t->groups);
	free(t);
	return NULL;
}

int
counters_parse(const struct cub_val *wire, struct ctr_table **out, char *err,
    size_t errlen)
{
	struct ctr_table *t = calloc(1, sizeof(*t));
	int r;

	*out = NULL;
	if (!t)
		return cerr(err, errlen, "counters: out of memory");
	r = walk(
	    t, cubi_schema__fields(wire), 1, "", false, false, "", err, errlen);
	if (r) {
		counters_free(t);
		return r;
	}
	*out = t;
	return 0;
}

bool
counters_worker_show(const struct ctr_table *t)
{
	/* No table (no hello yet): as before, the worker fills ro fields. */
	return !t || t->worker_show;
}

uint32_t
counters_count(const struct ctr_table *t)
{
	return t ? t->nctrs : 0;
}

static bool
plain_data(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return true;
	default:
		return false;
	}
}

/* A binding against a map's shape: NULL when it fits, else why not. */
static const char *
binding_misfit(const struct ctr *c, uint32_t type, uint32_t key_size,
    uint32_t value_size, char *buf, size_t len)
{
	const char *tn = libbpf_bpf_map_type_str((enum bpf_map_type)type);

	if (!plain_data(type))
		snprintf(buf, len,
		    "map '%s' is a %s, not an array or hash of plain values",
		    c->map, tn ?: "map of an unknown type");
	else if (key_size != c->key_size)
		snprintf(buf, len,
		    "key_size %u does not match map '%s''s %u-byte keys",
		    c->key_size, c->map, key_size);
	else if ((uint64_t)c->offset + c->width > value_size)
		snprintf(buf, len,
		    "offset %u + width %u is past the %u-byte value of map "
		    "'%s'%s",
		    c->offset, c->width, value_size, c->map,
		    bpf_map_type_percpu(type)
			? " (one CPU's value: the rounding to 8 bytes "
			  "between CPUs is padding)"
			: "");
	else
		return NULL;
	return buf;
}

int
counters_check_object(const struct ctr_table *t, const char *cube,
    struct bpf_object *obj, int ncpus, struct cub_val **errv)
{
	uint64_t need;
	const struct ctr *c;
	struct bpf_map *m;
	char why[256];
	uint32_t i, j;

	for (i = 0; t && i < t->ngroups; i++)
		for (j = 0; j < t->groups[i].nctrs; j++) {
			c = &t->groups[i].ctrs[j];
			m = bpf_object__find_map_by_name(obj, c->map);
			if (!m || bpf_map__is_internal(m)) {
				*errv = cub_err_val(CUB_E_REFUSED,
				    "cube '%s': counter '%s' is bound to map "
				    "'%s', which is not in the cube's object",
				    cube, c->path, c->map);
				return -ENOENT;
			}
			if (binding_misfit(c, bpf_map__type(m),
				bpf_map__key_size(m), bpf_map__value_size(m),
				why, sizeof(why))) {
				*errv = cub_err_val(CUB_E_REFUSED,
				    "cube '%s': counter '%s': %s", cube,
				    c->path, why);
				return -EINVAL;
			}
			need = bpf_map_type_percpu(bpf_map__type(m))
				   ? ((uint64_t)bpf_map__value_size(m) + 7) /
					 8 * 8 * (uint64_t)ncpus
				   : bpf_map__value_size(m);
			if (need > CTR_VALUE_MAX) {
				*errv = cub_err_val(CUB_E_REFUSED,
				    "cube '%s': counter '%s': a value of map "
				    "'%s' is %llu bytes over every CPU, more "
				    "than the %u a counter reads",
				    cube, c->path, c->map,
				    (unsigned long long)need, CTR_VALUE_MAX);
				return -E2BIG;
			}
		}
	return 0;
}

uint64_t
counters_sum(const void *values, uint32_t value_size, uint32_t ncpus,
    uint32_t offset, uint32_t width)
{
	/* Per-CPU values are each rounded up to 8 bytes (the kernel's
	 * bpf_map_value_size()); ncpus is 1 for other maps. */
	size_t stride =
	    ncpus > 1 ? ((size_t)value_size + 7) / 8 * 8 : value_size;
	const uint8_t *p = values;
	uint64_t sum = 0, v64;
	uint32_t cpu, v32;

	for (cpu = 0; cpu < ncpus; cpu++, p += stride) {
		if (width == 4) {
			memcpy(&v32, p + offset, 4);
			sum += v32;
		} else {
			memcpy(&v64, p + offset, 8);
			sum += v64;
		}
	}
	return sum;
}

/*
 * Read one (map, key) of the cube, into buf (CTR_VALUE_MAX bytes).  0, or
 * -ENOENT for a key with no entry (the counter is then 0), or -errno.
 */
static int
read_value(struct broker *b, struct bpfobj *o, const struct ctr *c,
    uint64_t key, void *buf, struct bmap **bmp, uint32_t *ncpus)
{
	uint32_t k32 = (uint32_t)key;
	struct bmap *bm = bpfobj_map(o, c->map);
	char why[256];
	size_t need;

	if (!bm || bm->framework ||
	    binding_misfit(
		c, bm->type, bm->key_size, bm->value_size, why, sizeof(why)))
		return -EINVAL;
	*ncpus = bpf_map_type_percpu(bm->type) ? (uint32_t)b->ncpus : 1;
	need = *ncpus > 1 ? ((size_t)bm->value_size + 7) / 8 * 8 * *ncpus
			  : bm->value_size;
	if (need > CTR_VALUE_MAX)
		return -E2BIG;
	*bmp = bm;
	if (bpf_map_lookup_elem(
		bm->fd, c->key_size == 4 ? (void *)&k32 : (void *)&key, buf))
		return -errno;
	return 0;
}

/* Entry key of c in e: fixed, or e's key_field.  false when absent. */
static bool
entry_key(const struct ctr *c, const struct cub_val *e, uint64_t *key)
{
	if (!c->key_field[0]) {
		*key = c->key;
		return true;
	}
	return !cub_val__as_u64(cub_val__get(e, c->key_field), key) &&
	       (c->key_size == 8 || *key <= UINT32_MAX);
}

/*
 * Fill every counter of group g for the entry (or container) e into out.
 * Counters sharing (map, key) cost one lookup.
 */
static void
fill(struct broker *b, struct bpfobj *o, const struct ctr_group *g,
    const struct cub_val *e, struct cub_val *out, void *buf)
{
	const struct ctr *c, *prev = NULL;
	uint64_t key, prev_key = 0, v;
	struct bmap *bm = NULL;
	uint32_t i, ncpus = 1;
	int r = -EINVAL;

	for (i = 0; i < g->nctrs; i++) {
		c = &g->ctrs[i];
		if (!entry_key(c, e, &key))
			continue;
		if (!prev || strcmp(prev->map, c->map) || prev_key != key ||
		    prev->key_size != c->key_size)
			r = read_value(b, o, c, key, buf, &bm, &ncpus);
		prev = c;
		prev_key = key;
		if (r == -ENOENT)
			v = 0;
		else if (r || (uint64_t)c->offset + c->width > bm->value_size)
			continue;
		else
			v = counters_sum(
			    buf, bm->value_size, ncpus, c->offset, c->width);
		cub_val__set(out, c->field, cub_val__uint(v));
	}
}

struct cub_val *
counters_overlay(struct broker *b, struct cube *c, const struct cub_val *scope)
{
	const struct cub_val *node, *e;
	struct cub_val *ov, *arr, *oe;
	const struct ctr_table *t;
	const struct ctr_group *g;
	uint32_t i, j, k;
	void *buf;

	pthread_mutex_lock(&b->lock);
	t = c->svc->counters; /* set once, at the first hello, locked */
	if (!t || !t->nctrs || !c->obj) {
		pthread_mutex_unlock(&b->lock);
		return NULL;
	}
	buf = malloc(CTR_VALUE_MAX);
	ov = cub_val__map();
	if (!buf || !ov) {
		pthread_mutex_unlock(&b->lock);
		free(buf);
		return cub_val__free(ov);
	}
	for (i = 0; i < t->ngroups; i++) {
		g = &t->groups[i];
		if (!g->name[0]) {
			fill(b, c->obj, g, scope, ov, buf);
			continue;
		}
		node = cub_val__get(scope, g->name);
		if (!node)
			continue;
		if (!g->list) {
			if (node->kind != CUB_V_MAP)
				continue;
			oe = cub_val__map();
			fill(b, c->obj, g, node, oe, buf);
			cub_val__set(ov, g->name, oe);
			continue;
		}
		if (node->kind != CUB_V_ARRAY)
			continue;
		arr = cub_val__array();
		for (j = 0; arr && j < node->arr.len; j++) {
			e = node->arr.items[j];
			oe = cub_val__map();
			for (k = 0; oe && k < g->nkeys; k++)
				if (cub_val__get(e, g->keys[k]))
					cub_val__set(oe, g->keys[k],
					    cub_val__dup(
						cub_val__get(e, g->keys[k])));
			fill(b, c->obj, g, e, oe, buf);
			if (cub_val__push(arr, oe))
				break;
		}
		cub_val__set(ov, g->name, arr);
	}
	pthread_mutex_unlock(&b->lock);
	free(buf);
	return ov;
}
