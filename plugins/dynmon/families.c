// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon's metric families.  Labels from hash keys follow ebpf_exporter's
 * model (its decoders turn key fields into label values: integers, inet
 * addresses, ports, MACs), chosen here by field size and name because a
 * Polycube metric-config has no decoder list; histograms follow
 * ebpf_exporter's exp2 and linear bucket definitions.  The rules are in
 * docs/architecture.md ("Map catalogue, decoding and families").
 */
#include "families.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/bpf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bpf/btf.h>

static bool
metric_name_ok(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) > 200)
		return false;
	for (i = 0; s[i]; i++)
		if (!(isalpha((unsigned char)s[i]) || s[i] == '_' ||
			s[i] == ':' || (i && isdigit((unsigned char)s[i]))))
			return false;
	return true;
}

static bool
label_name_ok(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) > 200 || !strncmp(s, "__", 2))
		return false;
	for (i = 0; s[i]; i++)
		if (!(isalpha((unsigned char)s[i]) || s[i] == '_' ||
			(i && isdigit((unsigned char)s[i]))))
			return false;
	return true;
}

/* ---- numbers: a value type that is an int, enum or float ---- */

struct numtype {
	enum { NUM_U, NUM_S, NUM_F } kind;
	uint32_t size;
};

static int
num_type(const struct btf *btf, uint32_t id, struct numtype *nt)
{
	const struct btf_type *t = dm_btf_resolve(btf, id, NULL);

	if (!t)
		return -1;
	if (btf_is_int(t)) {
		uint32_t info = *(const uint32_t *)(t + 1);

		if (BTF_INT_OFFSET(info) || BTF_INT_BITS(info) != t->size * 8 ||
		    t->size > 8 || (BTF_INT_ENCODING(info) & BTF_INT_BOOL))
			return -1;
		nt->kind =
		    BTF_INT_ENCODING(info) & BTF_INT_SIGNED ? NUM_S : NUM_U;
		nt->size = t->size;
		return 0;
	}
	if (btf_is_any_enum(t) && t->size <= 8 && t->size &&
	    !(t->size & (t->size - 1))) {
		nt->kind = btf_kflag(t) ? NUM_S : NUM_U;
		nt->size = t->size;
		return 0;
	}
	if (btf_is_float(t) && (t->size == 4 || t->size == 8)) {
		nt->kind = NUM_F;
		nt->size = t->size;
		return 0;
	}
	return -1;
}

/* An accumulator: unsigned, signed or float sum of values. */
struct num {
	struct numtype t;
	uint64_t u;
	int64_t s;
	double f;
};

static void
num_add(struct num *n, const uint8_t *p)
{
	uint64_t u = 0;

	if (n->t.kind == NUM_F) {
		if (n->t.size == 4) {
			float f;

			memcpy(&f, p, 4);
			n->f += f;
		} else {
			double d;

			memcpy(&d, p, 8);
			n->f += d;
		}
		return;
	}
	memcpy(&u, p, n->t.size); /* little endian: low bytes first */
	if (n->t.kind == NUM_S) {
		unsigned sh = 64 - n->t.size * 8;

		int64_t v = sh ? (int64_t)(u << sh) >> sh : (int64_t)u;

		/* Summed modulo 2^64 as the counters wrap (a signed overflow
		 * is undefined: fuzz-dmdecode). */
		n->s = (int64_t)((uint64_t)n->s + (uint64_t)v);
	} else {
		n->u += u;
	}
}

static struct cub_val *
num_val(const struct num *n)
{
	if (n->t.kind == NUM_F)
		return cub_val__float(n->f);
	if (n->t.kind == NUM_S)
		return cub_val__int(n->s);
	return cub_val__uint(n->u);
}

/* One entry's value, summed over CPUs for a per-CPU map. */
static void
entry_num(const struct dm_map *map, const struct dm_entries *e, uint32_t i,
    struct num *n)
{
	const uint8_t *vp =
	    (const uint8_t *)e->values + dm_value_stride(map, e->ncpus) * i;
	size_t stride = ((size_t)map->value_size + 7) & ~(size_t)7;
	uint32_t cpu, ncpus = map->percpu ? e->ncpus : 1;

	n->u = 0;
	n->s = 0;
	n->f = 0;
	for (cpu = 0; cpu < ncpus; cpu++)
		num_add(n, vp + stride * cpu);
}

/* ---- labels from a key ---- */

/* One label source: a field of the key at a byte (or bit) offset. */
struct kfield {
	char name[64];
	uint32_t type_id;      /* resolved */
	uint32_t off;          /* bytes */
	uint32_t bitoff, bits; /* bitfield: bits > 0, bitoff from off */
	/* Found once per read by field_prepare(), not once per entry. */
	const struct btf_type *t;
	__s64 sz;
	bool ipish, portish;
};

struct kfields {
	struct kfield f[64];
	uint32_t n;
};

static bool
has_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s; s++)
		if (!strncasecmp(s, needle, n))
			return true;
	return false;
}

static void
label_from_field(char *dst, size_t len, const char *prefix, const char *name)
{
	size_t i;

	snprintf(dst, len, "%s%s%s", prefix, *prefix ? "_" : "", name);
	for (i = 0; dst[i]; i++)
		if (!isalnum((unsigned char)dst[i]) && dst[i] != '_')
			dst[i] = '_';
	while (dst[0] == '_' && dst[1] == '_')
		memmove(dst, dst + 1, strlen(dst));
	if (isdigit((unsigned char)dst[0]) && strlen(dst) + 1 < len) {
		memmove(dst + 1, dst, strlen(dst) + 1);
		dst[0] = '_';
	}
}

static int
key_fields(const struct btf *btf, uint32_t id, uint32_t off, const char *prefix,
    uint32_t depth, struct kfields *kf, const char *metric, char *err,
    size_t errlen)
{
	const struct btf_type *t = dm_btf_resolve(btf, id, &id);
	const struct btf_member *m;
	uint32_t i, n;
	char name[64];

	if (!t)
		return dm_fail(err, errlen,
		    "metric '%s': key type %u is unknown", metric, id);
	if (depth > 8)
		return dm_fail(err, errlen,
		    "metric '%s': key nests deeper than 8", metric);
	if (!btf_is_composite(t)) {
		if (kf->n >= sizeof(kf->f) / sizeof(kf->f[0]))
			return dm_fail(err, errlen,
			    "metric '%s': key has more than 64 fields", metric);
		snprintf(kf->f[kf->n].name, sizeof(kf->f[kf->n].name), "%s",
		    *prefix ? prefix : "key");
		kf->f[kf->n].type_id = id;
		kf->f[kf->n].off = off;
		kf->f[kf->n].bits = 0;
		kf->n++;
		return 0;
	}
	m = btf_members(t);
	n = btf_vlen(t);
	for (i = 0; i < n; i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		uint32_t boff = btf_member_bit_offset(t, i);
		uint32_t bsz = btf_member_bitfield_size(t, i);
		uint32_t mid;
		const struct btf_type *mt = dm_btf_resolve(btf, m->type, &mid);
		int r;

		if (!mt)
			return dm_fail(err, errlen,
			    "metric '%s': key member %u has unknown type",
			    metric, i);
		if (mn && !strncmp(mn, "__pad", 5))
			continue;
		if (!mn || !*mn) {
			if (!btf_is_composite(mt) || bsz || boff % 8)
				continue;
			r = key_fields(btf, mid, off + boff / 8, prefix,
			    depth + 1, kf, metric, err, errlen);
			if (r)
				return r;
			continue;
		}
		label_from_field(name, sizeof(name), prefix, mn);
		if (bsz) {
			if (kf->n >= sizeof(kf->f) / sizeof(kf->f[0]))
				return dm_fail(err, errlen,
				    "metric '%s': key has more than 64 fields",
				    metric);
			if (bsz > 64)
				return dm_fail(err, errlen,
				    "metric '%s': key bitfield '%s' has %u "
				    "bits, at most 64",
				    metric, mn, bsz);
			snprintf(kf->f[kf->n].name, sizeof(kf->f[kf->n].name),
			    "%s", name);
			kf->f[kf->n].type_id = mid;
			kf->f[kf->n].off = off;
			kf->f[kf->n].bitoff = boff;
			kf->f[kf->n].bits = bsz;
			kf->n++;
			continue;
		}
		if (boff % 8)
			return dm_fail(err, errlen,
			    "metric '%s': key member '%s' is not byte aligned",
			    metric, mn);
		r = key_fields(btf, mid, off + boff / 8, name, depth + 1, kf,
		    metric, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* What field_label() needs of f's type and name, the same for every key. */
static void
field_prepare(const struct dm_catalog *cat, struct kfield *f)
{
	f->t = btf__type_by_id(cat->btf, f->type_id);
	f->sz = btf__resolve_size(cat->btf, f->type_id);
	f->ipish = has_ci(f->name, "addr") || has_ci(f->name, "ip");
	f->portish = has_ci(f->name, "port");
}

/*
 * A plain integer (1, 2, 4 or 8 bytes, all its bits, not a bool) as
 * dm_decode() gives it, printed into buf; false for any other type.
 */
static bool
plain_int(
    const struct btf_type *t, const uint8_t *p, __s64 sz, char *buf, size_t len)
{
	uint32_t info, enc;
	uint64_t u = 0;

	if (!t || !btf_is_int(t) ||
	    (sz != 1 && sz != 2 && sz != 4 && sz != 8) || (__s64)t->size != sz)
		return false;
	info = *(const uint32_t *)(t + 1);
	enc = BTF_INT_ENCODING(info);
	if (BTF_INT_OFFSET(info) || BTF_INT_BITS(info) != sz * 8 ||
	    (enc & BTF_INT_BOOL))
		return false;
	memcpy(&u, p, (size_t)sz); /* little-endian (btfval.c) */
	if ((enc & BTF_INT_SIGNED) && sz < 8 && (u >> (sz * 8 - 1)) & 1)
		u |= ~(uint64_t)0 << (sz * 8);
	if ((enc & BTF_INT_SIGNED) && (int64_t)u < 0)
		snprintf(buf, len, "%lld", (long long)(int64_t)u);
	else
		snprintf(buf, len, "%llu", (unsigned long long)u);
	return true;
}

/* The label value of field f of key (keylen bytes): malloc'd, or in buf
 * (*inbuf set), which has room for any address, port or integer. */
static char *
field_label(const struct dm_catalog *cat, const struct kfield *f,
    const uint8_t *key, size_t keylen, char *buf, size_t buflen, bool *inbuf)
{
	const struct btf_type *t = f->t;
	__s64 sz = f->sz;
	const uint8_t *p = key + f->off;
	struct cub_val *v = NULL;
	char *s;
	bool ipish = f->ipish;

	*inbuf = true;
	if (f->bits) {
		uint64_t u = 0;
		uint32_t i;
		bool sgn = btf_is_int(t)
			       ? BTF_INT_ENCODING(*(const uint32_t *)(t + 1)) &
				     BTF_INT_SIGNED
			       : btf_kflag(t);

		if (f->off + ((uint64_t)f->bitoff + f->bits + 7) / 8 > keylen) {
			*buf = 0;
			return buf;
		}
		for (i = 0; i < f->bits; i++) {
			uint32_t b = f->bitoff + i;

			u |= (uint64_t)((p[b >> 3] >> (b & 7)) & 1) << i;
		}
		if (sgn && f->bits < 64 && (u >> (f->bits - 1)) & 1)
			u |= ~(uint64_t)0 << f->bits;
		if (sgn)
			snprintf(buf, buflen, "%lld", (long long)u);
		else
			snprintf(buf, buflen, "%llu", (unsigned long long)u);
		return buf;
	}
	if (sz <= 0 || f->off + (uint64_t)sz > keylen) {
		*buf = 0;
		return buf;
	}
	if (sz == 4 && ipish && (btf_is_int(t) || btf_is_array(t))) {
		snprintf(buf, buflen, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
		return buf;
	}
	if (sz == 16 && ipish && btf_is_array(t)) {
		if (!inet_ntop(AF_INET6, p, buf, (socklen_t)buflen))
			*buf = 0;
		return buf;
	}
	if (sz == 2 && f->portish && btf_is_int(t)) {
		uint16_t port;

		memcpy(&port, p, 2);
		snprintf(buf, buflen, "%u", ntohs(port));
		return buf;
	}
	if (sz == 6 && btf_is_array(t)) {
		snprintf(buf, buflen, "%02x:%02x:%02x:%02x:%02x:%02x", p[0],
		    p[1], p[2], p[3], p[4], p[5]);
		return buf;
	}
	if (plain_int(t, p, sz, buf, buflen))
		return buf;
	*inbuf = false;
	if (dm_decode(cat, f->type_id, p, (size_t)sz, &v, NULL, 0))
		return strdup("");
	switch (v->kind) {
	case CUB_V_STR:
		s = strdup(v->str.ptr);
		break;
	case CUB_V_UINT:
		s = asprintf(&s, "%llu", (unsigned long long)v->u) < 0 ? NULL
								       : s;
		break;
	case CUB_V_INT:
		s = asprintf(&s, "%lld", (long long)v->i) < 0 ? NULL : s;
		break;
	case CUB_V_BOOL:
		s = strdup(v->b ? "true" : "false");
		break;
	default:
		s = cub_json_emit(v, false);
		break;
	}
	cub_val__free(v);
	return s;
}

/* ---- the metric-config ---- */

struct hist_cfg {
	bool exp2;
	double mult;
	uint32_t min, max;
};

struct mcfg {
	const char *name;
	char fname[256]; /* family name: name without _total for counters */
	const char *help;
	const char *type; /* the family's type */
	const struct cub_val *labels;
	bool hist;
	struct hist_cfg h;
};

static int
get_u32(const struct cub_val *v, uint32_t *out)
{
	uint64_t u;

	if (cub_val__as_u64(v, &u) || u > UINT32_MAX)
		return -1;
	*out = (uint32_t)u;
	return 0;
}

static int
parse_hist(const struct cub_val *h, const struct dm_map *map, struct mcfg *c,
    char *err, size_t errlen)
{
	const char *kind = cub_val__get_str(h, "kind");
	const struct cub_val *v;
	uint64_t u;
	int64_t i;
	size_t k;

	if (h->kind != CUB_V_MAP)
		return dm_fail(err, errlen,
		    "metric '%s': histogram is not a map", c->name);
	if (map->type != BPF_MAP_TYPE_ARRAY &&
	    map->type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return dm_fail(err, errlen,
		    "metric '%s': a histogram reads an ARRAY or PERCPU_ARRAY "
		    "of buckets; map '%s' is not one",
		    c->name, map->name);
	for (k = 0; k < h->map.len; k++) {
		const char *key = h->map.items[k].key;

		if (strcmp(key, "kind") && strcmp(key, "bucket-multiplier") &&
		    strcmp(key, "bucket-min") && strcmp(key, "bucket-max"))
			return dm_fail(err, errlen,
			    "metric '%s': histogram has unknown field '%s'",
			    c->name, key);
	}
	if (!kind || (strcasecmp(kind, "exp2") && strcasecmp(kind, "linear")))
		return dm_fail(err, errlen,
		    "metric '%s': histogram kind must be \"exp2\" or "
		    "\"linear\"",
		    c->name);
	c->h.exp2 = !strcasecmp(kind, "exp2");
	c->h.mult = 1;
	v = cub_val__get(h, "bucket-multiplier");
	if (v) {
		if (v->kind == CUB_V_FLOAT)
			c->h.mult = v->f;
		else if (!cub_val__as_u64(v, &u))
			c->h.mult = (double)u;
		else if (!cub_val__as_i64(v, &i))
			c->h.mult = (double)i;
		else
			c->h.mult = -1;
		if (!(c->h.mult > 0) || !isfinite(c->h.mult))
			return dm_fail(err, errlen,
			    "metric '%s': histogram bucket-multiplier must be "
			    "a number above 0",
			    c->name);
	}
	c->h.min = 0;
	c->h.max = map->max_entries ? map->max_entries - 1 : 0;
	v = cub_val__get(h, "bucket-min");
	if (v && get_u32(v, &c->h.min))
		return dm_fail(err, errlen,
		    "metric '%s': histogram bucket-min must be an integer >= 0",
		    c->name);
	v = cub_val__get(h, "bucket-max");
	if (v && get_u32(v, &c->h.max))
		return dm_fail(err, errlen,
		    "metric '%s': histogram bucket-max must be an integer >= 0",
		    c->name);
	if (c->h.min > c->h.max || c->h.max >= map->max_entries)
		return dm_fail(err, errlen,
		    "metric '%s': histogram buckets [%u .. %u] do not fit map "
		    "'%s' of %u entries",
		    c->name, c->h.min, c->h.max, map->name, map->max_entries);
	if (c->h.exp2 && c->h.max > 1000)
		return dm_fail(err, errlen,
		    "metric '%s': exp2 histogram bucket-max %u is above 1000",
		    c->name, c->h.max);
	return 0;
}

static int
parse_config(const struct cub_val *mc, const struct dm_map *map, struct mcfg *c,
    char *err, size_t errlen)
{
	static const char *const types[][2] = {{"counter", "counter"},
	    {"gauge", "gauge"}, {"histogram", "histogram"},
	    {"summary", "summary"}, {"untyped", "unknown"},
	    {"unknown", "unknown"}};
	const struct cub_val *om, *h;
	const char *type;
	size_t i, j, n;

	memset(c, 0, sizeof(*c));
	c->name = cub_val__get_str(mc, "name");
	if (!c->name || !metric_name_ok(c->name))
		return dm_fail(err, errlen,
		    "metric '%s': name must match [a-zA-Z_:][a-zA-Z0-9_:]*",
		    c->name ? c->name : "(none)");
	om = cub_val__get(mc, "open-metrics-metadata");
	if (!om || om->kind != CUB_V_MAP)
		return dm_fail(err, errlen,
		    "metric '%s': no open-metrics-metadata", c->name);
	c->help = cub_val__get_str(om, "help");
	if (!c->help)
		return dm_fail(err, errlen,
		    "metric '%s': open-metrics-metadata has no help string",
		    c->name);
	type = cub_val__get_str(om, "type");
	for (i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcasecmp(type, types[i][0]))
			c->type = types[i][1];
	if (!c->type)
		return dm_fail(err, errlen,
		    "metric '%s': type '%s' is not Counter, Gauge, Histogram, "
		    "Summary or Untyped",
		    c->name, type ? type : "(none)");
	if (!strcmp(c->type, "summary"))
		return dm_fail(err, errlen,
		    "metric '%s': type summary cannot be built from a map (no "
		    "quantiles); use a histogram",
		    c->name);
	snprintf(c->fname, sizeof(c->fname), "%s", c->name);
	n = strlen(c->fname);
	if (!strcmp(c->type, "counter") && n > 6 &&
	    !strcmp(c->fname + n - 6, "_total"))
		c->fname[n - 6] = 0;
	c->labels = cub_val__get(om, "labels");
	if (c->labels && c->labels->kind != CUB_V_ARRAY)
		return dm_fail(
		    err, errlen, "metric '%s': labels is not a list", c->name);
	n = c->labels ? c->labels->arr.len : 0;
	if (n > DM_LABELS_MAX)
		return dm_fail(err, errlen,
		    "metric '%s': %zu labels, at most %u", c->name, n,
		    DM_LABELS_MAX);
	for (i = 0; i < n; i++) {
		const struct cub_val *l = c->labels->arr.items[i];
		const char *ln = cub_val__get_str(l, "name");

		if (!label_name_ok(ln) || !cub_val__get_str(l, "value"))
			return dm_fail(err, errlen,
			    "metric '%s': label %zu needs a name matching "
			    "[a-zA-Z_][a-zA-Z0-9_]* (not __*) and a string "
			    "value",
			    c->name, i);
		for (j = 0; j < i; j++)
			if (!strcmp(ln, cub_val__get_str(
					    c->labels->arr.items[j], "name")))
				return dm_fail(err, errlen,
				    "metric '%s': label '%s' appears twice",
				    c->name, ln);
	}
	h = cub_val__get(mc, "histogram");
	c->hist = !strcmp(c->type, "histogram");
	if (c->hist && !h)
		return dm_fail(err, errlen,
		    "metric '%s': type histogram needs the \"histogram\" field "
		    "(kind exp2 or linear)",
		    c->name);
	if (!c->hist && h)
		return dm_fail(err, errlen,
		    "metric '%s': a \"histogram\" field with type %s", c->name,
		    c->type);
	return c->hist ? parse_hist(h, map, c, err, errlen) : 0;
}

/* Static labels (and "index"/key labels) of one sample. */
static struct cub_val *
static_labels(const struct mcfg *c)
{
	struct cub_val *m = cub_val__map();
	uint32_t i, n = c->labels ? c->labels->arr.len : 0;

	for (i = 0; m && i < n; i++) {
		const struct cub_val *l = c->labels->arr.items[i];

		if (cub_val__set(m, cub_val__get_str(l, "name"),
			cub_val__str(cub_val__get_str(l, "value"))))
			m = cub_val__free(m);
	}
	return m;
}

static bool
static_label(const struct mcfg *c, const char *name)
{
	uint32_t i, n = c->labels ? c->labels->arr.len : 0;

	for (i = 0; i < n; i++)
		if (!strcmp(cub_val__get_str(c->labels->arr.items[i], "name"),
			name))
			return true;
	return false;
}

static struct cub_val *
le_val(double le)
{
	if (le == floor(le) && le < 9007199254740992.0)
		return cub_val__uint((uint64_t)le);
	return cub_val__float(le);
}

static int
build_hist(const struct mcfg *c, const struct dm_map *map,
    const struct numtype *nt, const struct dm_entries *e,
    struct cub_val *samples)
{
	struct num n = {.t = *nt};
	struct cub_val *s, *buckets, *b;
	uint64_t *cnt, count = 0, idx;
	bool have_sum = false;
	uint64_t sum_raw = 0;
	uint32_t i;
	int r = -ENOMEM;

	cnt = calloc((size_t)c->h.max + 2, sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	for (i = 0; i < e->count; i++) {
		idx = i;
		if (e->keys) {
			/* The key's own bytes (of any size up to 8; a
			 * host-order integer), not a u32 array: fuzz-dmdecode
			 * read past keys of 1 or 2 bytes. */
			idx = 0;
			memcpy(&idx,
			    (const uint8_t *)e->keys +
				(size_t)i * map->key_size,
			    map->key_size < sizeof(idx) ? map->key_size
							: sizeof(idx));
		}
		/* Bucket counts: the value type was checked to be an int. */
		entry_num(map, e, i, &n);
		if (idx <= c->h.max)
			cnt[idx] += n.t.kind == NUM_S ? (uint64_t)n.s : n.u;
		else if (idx == (uint64_t)c->h.max + 1) {
			have_sum = true;
			sum_raw += n.t.kind == NUM_S ? (uint64_t)n.s : n.u;
		}
	}
	s = cub_val__map();
	buckets = cub_val__array();
	if (!s || !buckets)
		goto out;
	for (i = c->h.min; i <= c->h.max; i++) {
		double le =
		    c->h.exp2 ? ldexp(c->h.mult, (int)i) : c->h.mult * i;

		count += cnt[i];
		b = cub_val__map();
		if (!b || cub_val__set(b, "le", le_val(le)) ||
		    cub_val__set(b, "count", cub_val__uint(count)) ||
		    cub_val__push(buckets, b))
			goto out;
	}
	b = cub_val__map();
	if (!b || cub_val__set(b, "le", cub_val__str("+Inf")) ||
	    cub_val__set(b, "count", cub_val__uint(count)) ||
	    cub_val__push(buckets, b))
		goto out;
	/* ebpf_exporter: the optional sum is bucket bucket-max + 1, times
	 * the multiplier; 0 when the map has no such entry. */
	if (cub_val__set(s, "labels", static_labels(c)) ||
	    cub_val__set(s, "buckets", buckets) ||
	    cub_val__set(s, "count", cub_val__uint(count)) ||
	    cub_val__set(
		s, "sum", le_val(have_sum ? (double)sum_raw * c->h.mult : 0))) {
		buckets = NULL;
		goto out;
	}
	buckets = NULL;
	r = cub_val__push(samples, s) ? -ENOMEM : 0;
	s = NULL;
out:
	free(cnt);
	cub_val__free(buckets);
	cub_val__free(s);
	return r;
}

int
dm_families_from_metric(const struct dm_catalog *cat, const struct dm_map *map,
    const struct cub_val *mc, const struct dm_entries *e,
    struct cub_val **family, char *err, size_t errlen)
{
	struct mcfg c;
	struct numtype nt;
	struct kfields *kf = NULL;
	struct cub_val *fam = NULL, *samples, *s, *labels;
	const struct btf_type *vt;
	uint64_t dropped = 0;
	bool keyed, indexed;
	uint32_t i, j;
	int r;

	*family = NULL;
	r = parse_config(mc, map, &c, err, errlen);
	if (r)
		return r;
	switch (map->type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		keyed = false;
		break;
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		keyed = true;
		break;
	default:
		return dm_fail(err, errlen,
		    "metric '%s': map '%s' of type %u is not exported", c.name,
		    map->name, map->type);
	}
	if (num_type(cat->btf, map->value_type_id, &nt)) {
		vt = dm_btf_resolve(cat->btf, map->value_type_id, NULL);
		return dm_fail(err, errlen,
		    "metric '%s': the value of map '%s' is %s%s%s, not a "
		    "number",
		    c.name, map->name,
		    vt && btf_is_struct(vt)  ? "struct '"
		    : vt && btf_is_union(vt) ? "union '"
		    : vt && btf_is_array(vt) ? "an array '"
					     : "type '",
		    vt ? btf__name_by_offset(cat->btf, vt->name_off) : "?",
		    "'");
	}
	if (c.hist && nt.kind == NUM_F)
		return dm_fail(err, errlen,
		    "metric '%s': histogram buckets of map '%s' are floats, "
		    "not counts",
		    c.name, map->name);
	if (map->percpu && e->count && (!e->ncpus || e->ncpus > DM_NCPUS_MAX))
		return dm_fail(err, errlen,
		    "metric '%s': %u CPUs, expected 1 to %u", c.name, e->ncpus,
		    DM_NCPUS_MAX);
	if (e->count && (!e->values || (keyed && !e->keys)))
		return dm_fail(err, errlen,
		    "metric '%s': %u entries without %s", c.name, e->count,
		    e->values ? "keys" : "values");
	if (e->count > map->max_entries)
		return dm_fail(err, errlen,
		    "metric '%s': %u entries, map '%s' has %u", c.name,
		    e->count, map->name, map->max_entries);
	if (keyed) {
		kf = calloc(1, sizeof(*kf));
		if (!kf)
			return -ENOMEM;
		r = key_fields(cat->btf, map->key_type_id, 0, "", 0, kf, c.name,
		    err, errlen);
		for (i = 0; !r && i < kf->n; i++)
			field_prepare(cat, &kf->f[i]);
		for (i = 0; !r && i < kf->n; i++) {
			if (static_label(&c, kf->f[i].name))
				r = dm_fail(err, errlen,
				    "metric '%s': static label '%s' is also a "
				    "key field of map '%s'",
				    c.name, kf->f[i].name, map->name);
			for (j = 0; !r && j < i; j++)
				if (!strcmp(kf->f[i].name, kf->f[j].name))
					r = dm_fail(err, errlen,
					    "metric '%s': key fields of map "
					    "'%s' give label '%s' twice",
					    c.name, map->name, kf->f[i].name);
		}
		if (r)
			goto out;
	}
	indexed = !keyed && map->max_entries > 1 && !c.hist;
	if (indexed && static_label(&c, "index")) {
		r = dm_fail(err, errlen,
		    "metric '%s': static label 'index' clashes with the entry "
		    "index",
		    c.name);
		goto out;
	}
	if (c.hist && static_label(&c, "le")) {
		r = dm_fail(err, errlen,
		    "metric '%s': a histogram cannot have a static label 'le'",
		    c.name);
		goto out;
	}
	r = -ENOMEM;
	fam = cub_val__map();
	samples = cub_val__array();
	if (!fam || !samples ||
	    cub_val__set(fam, "name", cub_val__str(c.fname)) ||
	    cub_val__set(fam, "help", cub_val__str(c.help)) ||
	    cub_val__set(fam, "type", cub_val__str(c.type)) ||
	    cub_val__set(fam, "samples", samples)) {
		if (!fam)
			cub_val__free(samples);
		goto out;
	}
	if (c.hist) {
		if (e->count) {
			r = build_hist(&c, map, &nt, e, samples);
			if (r)
				goto out;
		}
		goto done;
	}
	for (i = 0; i < e->count; i++) {
		struct num n = {.t = nt};

		if (samples->arr.len >= DM_SERIES_MAX) {
			dropped = e->count - i;
			break;
		}
		entry_num(map, e, i, &n);
		labels = static_labels(&c);
		if (!labels)
			goto out;
		if (indexed) {
			uint32_t idx = i;

			if (e->keys && map->key_size == 4)
				idx = ((const uint32_t *)e->keys)[i];
			char ib[16];

			snprintf(ib, sizeof(ib), "%u", idx);
			if (cub_val__set(labels, "index", cub_val__str(ib))) {
				cub_val__free(labels);
				goto out;
			}
		}
		for (j = 0; keyed && j < kf->n; j++) {
			char buf[INET6_ADDRSTRLEN + 24];
			bool inbuf;
			char *lv = field_label(cat, &kf->f[j],
			    (const uint8_t *)e->keys +
				(size_t)map->key_size * i,
			    map->key_size, buf, sizeof(buf), &inbuf);

			if (!lv || cub_val__set(labels, kf->f[j].name,
				       cub_val__str(lv))) {
				if (!inbuf)
					free(lv);
				cub_val__free(labels);
				goto out;
			}
			if (!inbuf)
				free(lv);
		}
		s = cub_val__map();
		if (!s || cub_val__set(s, "labels", labels)) {
			if (!s)
				cub_val__free(labels);
			cub_val__free(s);
			goto out;
		}
		if (cub_val__set(s, "value", num_val(&n))) {
			cub_val__free(s);
			goto out;
		}
		if (cub_val__push(samples, s))
			goto out;
	}
done:
	if (dropped && cub_val__set(fam, "dropped", cub_val__uint(dropped)))
		goto out;
	*family = fam;
	fam = NULL;
	r = 0;
out:
	free(kf);
	cub_val__free(fam);
	return r;
}

/* ---- cumulative totals ---- */

struct tseries {
	char *key;           /* canonical label set */
	struct cub_val *smp; /* the sample, totals in it */
};

struct tfam {
	char *name;
	struct cub_val *meta; /* name, help, type (, unit) */
	struct tseries *s;
	uint32_t n, cap;
	uint32_t *ht; /* open addressing: index + 1, 0 = empty */
	uint32_t htcap;
	uint64_t dropped;
};

struct dm_totals {
	struct tfam *f;
	uint32_t n, cap;
};

struct dm_totals *
dm_totals_new(void)
{
	return calloc(1, sizeof(struct dm_totals));
}

static void
tfam_clear(struct tfam *f)
{
	uint32_t i;

	for (i = 0; i < f->n; i++) {
		free(f->s[i].key);
		cub_val__free(f->s[i].smp);
	}
	free(f->s);
	free(f->ht);
	free(f->name);
	cub_val__free(f->meta);
	memset(f, 0, sizeof(*f));
}

struct dm_totals *
dm_totals_free(struct dm_totals *t)
{
	uint32_t i;

	if (!t)
		return NULL;
	for (i = 0; i < t->n; i++)
		tfam_clear(&t->f[i]);
	free(t->f);
	free(t);
	return NULL;
}

void
dm_totals_forget(struct dm_totals *t, const char *name)
{
	uint32_t i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->f[i].name, name)) {
			tfam_clear(&t->f[i]);
			memmove(&t->f[i], &t->f[i + 1],
			    (t->n - i - 1) * sizeof(t->f[0]));
			t->n--;
			return;
		}
}

static int
cmp_kv(const void *a, const void *b)
{
	return strcmp(
	    ((const struct cub_kv *)a)->key, ((const struct cub_kv *)b)->key);
}

/* "len:name=len:value;" over the labels sorted by name; malloc'd. */
static char *
series_key(const struct cub_val *labels)
{
	struct cub_kv *kv;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	uint32_t i, n;

	if (labels && labels->kind != CUB_V_MAP)
		return NULL;
	n = labels ? labels->map.len : 0;
	kv = malloc(((size_t)n + 1) * sizeof(*kv));
	if (!kv)
		return NULL;
	if (n)
		memcpy(kv, labels->map.items, n * sizeof(*kv));
	qsort(kv, n, sizeof(*kv), cmp_kv);
	f = open_memstream(&out, &len);
	if (!f) {
		free(kv);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const char *v = cub_val__as_str(kv[i].val);

		if (!v) {
			fclose(f);
			free(out);
			free(kv);
			return NULL;
		}
		fprintf(f, "%zu:%s=%zu:%s;", strlen(kv[i].key), kv[i].key,
		    strlen(v), v);
	}
	free(kv);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

static uint32_t
hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int
ht_grow(struct tfam *f)
{
	uint32_t cap = f->htcap ? f->htcap * 2 : 64, i, h;
	uint32_t *ht = calloc(cap, sizeof(*ht));

	if (!ht)
		return -ENOMEM;
	for (i = 0; i < f->n; i++) {
		for (h = hash_str(f->s[i].key) & (cap - 1); ht[h];
		     h = (h + 1) & (cap - 1))
			;
		ht[h] = i + 1;
	}
	free(f->ht);
	f->ht = ht;
	f->htcap = cap;
	return 0;
}

static struct tseries *
ht_find(const struct tfam *f, const char *key)
{
	uint32_t h;

	if (!f->htcap)
		return NULL;
	for (h = hash_str(key) & (f->htcap - 1); f->ht[h];
	     h = (h + 1) & (f->htcap - 1))
		if (!strcmp(f->s[f->ht[h] - 1].key, key))
			return &f->s[f->ht[h] - 1];
	return NULL;
}

static bool
is_num(const struct cub_val *v)
{
	return v && (v->kind == CUB_V_UINT || v->kind == CUB_V_INT ||
			v->kind == CUB_V_FLOAT);
}

static double
as_f(const struct cub_val *v)
{
	return v->kind == CUB_V_UINT  ? (double)v->u
	       : v->kind == CUB_V_INT ? (double)v->i
				      : v->f;
}

/* a + b, exact for integers. */
static struct cub_val *
num_sum(const struct cub_val *a, const struct cub_val *b)
{
	if (a->kind == CUB_V_UINT && b->kind == CUB_V_UINT)
		return cub_val__uint(a->u + b->u);
	if (a->kind != CUB_V_FLOAT && b->kind != CUB_V_FLOAT)
		return cub_val__int(
		    (int64_t)((uint64_t)(a->kind == CUB_V_UINT
					     ? a->u
					     : (uint64_t)a->i) +
			      (uint64_t)(b->kind == CUB_V_UINT
					     ? b->u
					     : (uint64_t)b->i)));
	return cub_val__float(as_f(a) + as_f(b));
}

/* Checks that sample s fits a family of type type. */
static int
sample_ok(const struct cub_val *s, bool hist, const char *fname, char *err,
    size_t errlen)
{
	const struct cub_val *b;
	uint32_t i;

	if (!s || s->kind != CUB_V_MAP)
		return dm_fail(
		    err, errlen, "family '%s': a sample is not a map", fname);
	if (cub_val__get(s, "labels")) {
		char *key = series_key(cub_val__get(s, "labels"));

		if (!key)
			return dm_fail(err, errlen,
			    "family '%s': sample labels are not a map of "
			    "strings",
			    fname);
		free(key);
	}
	if (!hist)
		return is_num(cub_val__get(s, "value"))
			   ? 0
			   : dm_fail(err, errlen,
				 "family '%s': a sample has no numeric value",
				 fname);
	b = cub_val__get(s, "buckets");
	if (!b || b->kind != CUB_V_ARRAY || !is_num(cub_val__get(s, "sum")) ||
	    cub_val__get(s, "count") == NULL ||
	    cub_val__get(s, "count")->kind != CUB_V_UINT)
		return dm_fail(err, errlen,
		    "family '%s': a histogram sample needs buckets, count and "
		    "sum",
		    fname);
	for (i = 0; i < b->arr.len; i++) {
		const struct cub_val *c =
		    cub_val__get(b->arr.items[i], "count");

		if (!c || c->kind != CUB_V_UINT ||
		    !cub_val__get(b->arr.items[i], "le"))
			return dm_fail(err, errlen,
			    "family '%s': histogram bucket %u needs le and "
			    "count",
			    fname, i);
	}
	return 0;
}

/* Folds delta sample d into total sample t (same shape, checked). */
static int
fold(struct cub_val *t, const struct cub_val *d, bool hist)
{
	struct cub_val *tb, *v;
	const struct cub_val *db;
	uint32_t i;

	if (!hist) {
		v = num_sum(cub_val__get(t, "value"), cub_val__get(d, "value"));
		return cub_val__set(t, "value", v) ? -ENOMEM : 0;
	}
	tb = cub_val__get(t, "buckets");
	db = cub_val__get(d, "buckets");
	for (i = 0; i < tb->arr.len; i++) {
		struct cub_val *tc = cub_val__get(tb->arr.items[i], "count");

		tc->u += cub_val__get(db->arr.items[i], "count")->u;
	}
	cub_val__get(t, "count")->u += cub_val__get(d, "count")->u;
	v = num_sum(cub_val__get(t, "sum"), cub_val__get(d, "sum"));
	return cub_val__set(t, "sum", v) ? -ENOMEM : 0;
}

static bool
same_buckets(const struct cub_val *a, const struct cub_val *b)
{
	uint32_t i;

	a = cub_val__get(a, "buckets");
	b = cub_val__get(b, "buckets");
	if (a->arr.len != b->arr.len)
		return false;
	for (i = 0; i < a->arr.len; i++)
		if (!cub_val__equal(cub_val__get(a->arr.items[i], "le"),
			cub_val__get(b->arr.items[i], "le")))
			return false;
	return true;
}

int
dm_totals_add(struct dm_totals *t, const struct cub_val *family, bool delta,
    char *err, size_t errlen)
{
	const char *name = cub_val__get_str(family, "name");
	const char *type = cub_val__get_str(family, "type");
	const struct cub_val *samples = cub_val__get(family, "samples");
	const struct cub_val *fd = cub_val__get(family, "dropped");
	struct tfam *f = NULL;
	bool hist, sum;
	uint32_t i, fresh = 0, dropped = 0;
	int r;

	if (!name || !type || !samples || samples->kind != CUB_V_ARRAY)
		return dm_fail(err, errlen,
		    "totals: a family needs a name, a type and samples");
	hist = !strcmp(type, "histogram");
	sum = hist || !strcmp(type, "counter");
	for (i = 0; i < t->n; i++)
		if (!strcmp(t->f[i].name, name))
			f = &t->f[i];
	if (f && strcmp(cub_val__get_str(f->meta, "type"), type))
		return dm_fail(err, errlen,
		    "totals: family '%s' changed type from %s to %s", name,
		    cub_val__get_str(f->meta, "type"), type);
	/* Check everything first: on error nothing changes. */
	for (i = 0; i < samples->arr.len; i++) {
		const struct cub_val *s = samples->arr.items[i];
		struct tseries *ts;
		char *key;

		r = sample_ok(s, hist, name, err, errlen);
		if (r)
			return r;
		key = series_key(cub_val__get(s, "labels"));
		if (!key)
			return -ENOMEM;
		ts = f ? ht_find(f, key) : NULL;
		free(key);
		if (!ts)
			fresh++;
		else if (hist && !same_buckets(ts->smp, s))
			return dm_fail(err, errlen,
			    "totals: family '%s' changed its histogram buckets",
			    name);
	}
	if (!f) {
		struct tfam *nf;

		if (t->n == t->cap) {
			uint32_t cap = t->cap ? t->cap * 2 : 8;

			nf = realloc(t->f, cap * sizeof(*nf));
			if (!nf)
				return -ENOMEM;
			t->f = nf;
			t->cap = cap;
		}
		f = &t->f[t->n];
		memset(f, 0, sizeof(*f));
		f->name = strdup(name);
		f->meta = cub_val__map();
		if (!f->name || !f->meta ||
		    cub_val__set(f->meta, "name", cub_val__str(name)) ||
		    cub_val__set(f->meta, "help",
			cub_val__str(cub_val__get_str(family, "help")
					 ? cub_val__get_str(family, "help")
					 : "")) ||
		    cub_val__set(f->meta, "type", cub_val__str(type)) ||
		    (cub_val__get_str(family, "unit") &&
			cub_val__set(f->meta, "unit",
			    cub_val__str(cub_val__get_str(family, "unit"))))) {
			tfam_clear(f);
			return -ENOMEM;
		}
		t->n++;
	}
	if (fresh && f->n + fresh > f->cap) {
		uint32_t cap = f->n + fresh;
		struct tseries *ns;

		if (cap > DM_SERIES_MAX)
			cap = DM_SERIES_MAX;
		if (cap > f->cap) {
			ns = realloc(f->s, cap * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			f->s = ns;
			f->cap = cap;
		}
	}
	/* From here only allocation failures can stop us (series already
	 * folded stay folded: ENOMEM leaves the totals consistent). */
	for (i = 0; i < samples->arr.len; i++) {
		const struct cub_val *s = samples->arr.items[i];
		struct tseries *ts;
		char *key = series_key(cub_val__get(s, "labels"));

		if (!key)
			return -ENOMEM;
		ts = ht_find(f, key);
		if (ts) {
			free(key);
			if (sum && delta) {
				r = fold(ts->smp, s, hist);
				if (r)
					return r;
			} else {
				struct cub_val *c = cub_val__dup(s);

				if (!c)
					return -ENOMEM;
				cub_val__free(ts->smp);
				ts->smp = c;
			}
			continue;
		}
		if (f->n >= DM_SERIES_MAX) {
			free(key);
			dropped++;
			continue;
		}
		if ((f->n + 1) * 2 > f->htcap && ht_grow(f)) {
			free(key);
			return -ENOMEM;
		}
		f->s[f->n].key = key;
		f->s[f->n].smp = cub_val__dup(s);
		if (!f->s[f->n].smp) {
			free(key);
			return -ENOMEM;
		}
		f->n++;
		{
			uint32_t h;

			for (h = hash_str(key) & (f->htcap - 1); f->ht[h];
			     h = (h + 1) & (f->htcap - 1))
				;
			f->ht[h] = f->n;
		}
	}
	f->dropped = dropped;
	if (fd && fd->kind == CUB_V_UINT)
		f->dropped += fd->u;
	return 0;
}

int
dm_totals_families(const struct dm_totals *t, struct cub_val **out)
{
	struct cub_val *list = cub_val__array(), *fam, *samples;
	uint32_t i, j;

	*out = NULL;
	if (!list)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		fam = cub_val__dup(t->f[i].meta);
		samples = cub_val__array();
		if (!fam || !samples) {
			cub_val__free(fam);
			cub_val__free(samples);
			goto nomem;
		}
		for (j = 0; j < t->f[i].n; j++)
			if (cub_val__push(
				samples, cub_val__dup(t->f[i].s[j].smp))) {
				cub_val__free(fam);
				cub_val__free(samples);
				goto nomem;
			}
		if (cub_val__set(fam, "samples", samples) ||
		    (t->f[i].dropped && cub_val__set(fam, "dropped",
					    cub_val__uint(t->f[i].dropped)))) {
			cub_val__free(fam);
			goto nomem;
		}
		if (cub_val__push(list, fam))
			goto nomem;
	}
	*out = list;
	return 0;
nomem:
	cub_val__free(list);
	return -ENOMEM;
}
