// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon's BTF decoder.  One recursive walk, every read checked against
 * the bytes left before it happens; bit-level reads (bitfields, old-style
 * int bit offsets) go through bits_get() with the little-endian bit
 * numbering clang uses for BPF on a little-endian host.
 */
#include "btfval.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "text.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dynmon's BTF decoder reads bitfields in little-endian bit order"
#endif

struct dctx {
	const struct btf *btf;
	char *err;
	size_t errlen;
	uint32_t elems; /* containers' elements so far, capped */
};

static int __attribute__((format(printf, 2, 3)))
dfail(struct dctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *
kind_name(const struct btf_type *t)
{
	static const char *const names[] = {
	    [BTF_KIND_UNKN] = "void",
	    [BTF_KIND_INT] = "int",
	    [BTF_KIND_PTR] = "pointer",
	    [BTF_KIND_ARRAY] = "array",
	    [BTF_KIND_STRUCT] = "struct",
	    [BTF_KIND_UNION] = "union",
	    [BTF_KIND_ENUM] = "enum",
	    [BTF_KIND_FWD] = "forward declaration",
	    [BTF_KIND_TYPEDEF] = "typedef",
	    [BTF_KIND_VOLATILE] = "volatile",
	    [BTF_KIND_CONST] = "const",
	    [BTF_KIND_RESTRICT] = "restrict",
	    [BTF_KIND_FUNC] = "function",
	    [BTF_KIND_FUNC_PROTO] = "function prototype",
	    [BTF_KIND_VAR] = "variable",
	    [BTF_KIND_DATASEC] = "data section",
	    [BTF_KIND_FLOAT] = "float",
	    [BTF_KIND_DECL_TAG] = "declaration tag",
	    [BTF_KIND_TYPE_TAG] = "type tag",
	    [BTF_KIND_ENUM64] = "enum64",
	};
	unsigned k = btf_kind(t);

	return k < sizeof(names) / sizeof(names[0]) && names[k]
		   ? names[k]
		   : "unknown kind";
}

static const char *
type_name(const struct dctx *c, const struct btf_type *t)
{
	const char *n = btf__name_by_offset(c->btf, t->name_off);

	return n && *n ? n : "(anonymous)";
}

/* Past typedef/const/volatile/restrict/type tags; NULL if unknown. */
static const struct btf_type *
resolve(struct dctx *c, uint32_t id, uint32_t *res_id)
{
	const struct btf_type *t = btf__type_by_id(c->btf, id);
	int guard = 0;

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		if (++guard > 64)
			return NULL;
		id = t->type;
		t = btf__type_by_id(c->btf, id);
	}
	if (res_id)
		*res_id = id;
	return t;
}

/* nbits (1..64) bits at bit offset bitoff of p, bit 0 = LSB of p[0]. */
static uint64_t
bits_get(const uint8_t *p, uint64_t bitoff, uint32_t nbits)
{
	uint64_t v = 0;
	uint32_t i;

	for (i = 0; i < nbits; i++) {
		uint64_t b = bitoff + i;

		v |= (uint64_t)((p[b >> 3] >> (b & 7)) & 1) << i;
	}
	return v;
}

static struct cub_val *
num_val(uint64_t v, uint32_t nbits, bool is_signed)
{
	if (is_signed && nbits < 64 && (v >> (nbits - 1)) & 1)
		v |= ~(uint64_t)0 << nbits;
	if (is_signed)
		return cub_val__int((int64_t)v);
	return cub_val__uint(v);
}

static struct cub_val *
u128_val(unsigned __int128 v, bool neg)
{
	char buf[48], *s = buf + sizeof(buf) - 1;

	if (!(v >> 64) && !neg)
		return cub_val__uint((uint64_t)v);
	*s = 0;
	do {
		*--s = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	if (neg)
		*--s = '-';
	return cub_val__str(s);
}

static int dec(struct dctx *c, uint32_t id, const uint8_t *p, size_t avail,
    uint32_t depth, struct cub_val **out);

/*
 * A container sized for n elements up front (cub_val grows by doubling:
 * a struct of 5 members took two allocations for its items, a read of
 * 1000 entries eleven).  Past n it grows as usual; NULL on ENOMEM.
 * Items past len are never read: not zeroed.  For small containers
 * only: a read's list is left to grow, since one large request before
 * the entries' many small ones makes glibc consolidate its fast bins
 * (measured: 10% more instructions in dm_map_value() than without).
 */
static struct cub_val *
sized(struct cub_val *v, uint32_t n)
{
	if (!v || !n)
		return v;
	if (v->kind == CUB_V_MAP) {
		v->map.items = reallocarray(NULL, n, sizeof(*v->map.items));
		if (!v->map.items)
			return cub_val__free(v);
		v->map.cap = n;
	} else {
		v->arr.items = reallocarray(NULL, n, sizeof(*v->arr.items));
		if (!v->arr.items)
			return cub_val__free(v);
		v->arr.cap = n;
	}
	return v;
}

static int
dec_int(struct dctx *c, uint32_t id, const struct btf_type *t, const uint8_t *p,
    size_t avail, struct cub_val **out)
{
	uint32_t info = *(const uint32_t *)(t + 1);
	uint32_t bits = BTF_INT_BITS(info), off = BTF_INT_OFFSET(info);
	uint32_t enc = BTF_INT_ENCODING(info);
	bool sgn = enc & BTF_INT_SIGNED;

	if (t->size > avail)
		return dfail(c,
		    "%u bytes left for int '%s' (BTF id %u) of %u bytes",
		    (unsigned)avail, type_name(c, t), id, t->size);
	if (!bits || off + bits > t->size * 8u || t->size > 16)
		return dfail(c, "int '%s' (BTF id %u) has a bad layout",
		    type_name(c, t), id);
	if (bits > 64) {
		unsigned __int128 v;
		bool neg;

		if (bits != 128 || off)
			return dfail(c,
			    "int '%s' (BTF id %u): %u-bit ints are not decoded",
			    type_name(c, t), id, bits);
		memcpy(&v, p, 16);
		neg = sgn && (v >> 127);
		if (neg)
			v = ~v + 1;
		*out = u128_val(v, neg);
	} else if (enc & BTF_INT_BOOL) {
		*out = cub_val__bool(bits_get(p, off, bits) != 0);
	} else {
		*out = num_val(bits_get(p, off, bits), bits, sgn);
	}
	return *out ? 0 : -ENOMEM;
}

static int
dec_enum(struct dctx *c, uint32_t id, const struct btf_type *t,
    const uint8_t *p, size_t avail, uint64_t bitoff, uint32_t nbits,
    struct cub_val **out)
{
	if (!nbits) {
		if (t->size != 1 && t->size != 2 && t->size != 4 &&
		    t->size != 8)
			return dfail(c, "enum '%s' (BTF id %u) has size %u",
			    type_name(c, t), id, t->size);
		if (t->size > avail)
			return dfail(c,
			    "%u bytes left for enum '%s' (BTF id %u) of %u "
			    "bytes",
			    (unsigned)avail, type_name(c, t), id, t->size);
		nbits = t->size * 8;
	}
	*out = num_val(bits_get(p, bitoff, nbits), nbits, btf_kflag(t));
	return *out ? 0 : -ENOMEM;
}

static bool
is_char(struct dctx *c, const struct btf_type *t)
{
	const char *n;

	if (!btf_is_int(t) || t->size != 1)
		return false;
	n = btf__name_by_offset(c->btf, t->name_off);
	return n && (!strcmp(n, "char") || !strcmp(n, "signed char"));
}

static int
dec_array(struct dctx *c, uint32_t id, const struct btf_type *t,
    const uint8_t *p, size_t avail, uint32_t depth, struct cub_val **out)
{
	const struct btf_array *a = btf_array(t);
	const struct btf_type *et = resolve(c, a->type, NULL);
	__s64 esz = btf__resolve_size(c->btf, a->type);
	struct cub_val *arr, *v;
	uint32_t i;
	size_t n, at;
	int r;

	if (!et || esz < 0)
		return dfail(c, "array (BTF id %u): element type %u is unknown",
		    id, a->type);
	if (esz && a->nelems > avail / (size_t)esz)
		return dfail(c,
		    "%u bytes left for array (BTF id %u) of %u elements of "
		    "%lld bytes",
		    (unsigned)avail, id, a->nelems, (long long)esz);
	if (is_char(c, et)) {
		n = strnlen((const char *)p, a->nelems);
		for (at = 0; at < n;) {
			size_t l = cubi_text_utf8_len(p + at, n - at);

			if (!l)
				break;
			at += l;
		}
		if (at == n) {
			*out = cub_val__strn((const char *)p, n);
			return *out ? 0 : -ENOMEM;
		}
	}
	if (a->nelems > CUB_ELEMS_MAX - c->elems)
		return dfail(c,
		    "array (BTF id %u): more than %u elements in one read", id,
		    CUB_ELEMS_MAX);
	c->elems += a->nelems;
	arr = sized(cub_val__array(), a->nelems);
	if (!arr)
		return -ENOMEM;
	for (i = 0; i < a->nelems; i++) {
		r = dec(c, a->type, p + (size_t)esz * i,
		    avail - (size_t)esz * i, depth + 1, &v);
		if (r) {
			cub_val__free(arr);
			return r;
		}
		if (cub_val__push(arr, v)) {
			cub_val__free(arr);
			return -ENOMEM;
		}
	}
	*out = arr;
	return 0;
}

static int dec_members(struct dctx *c, uint32_t id, const struct btf_type *t,
    const uint8_t *p, size_t avail, uint32_t depth, struct cub_val *map);

/* One member at bit offset off of p (the struct's start). */
static int
dec_member(struct dctx *c, uint32_t sid, const struct btf_type *st,
    uint32_t idx, const uint8_t *p, size_t avail, uint32_t depth,
    struct cub_val *map)
{
	const struct btf_member *m = btf_members(st) + idx;
	const char *name = btf__name_by_offset(c->btf, m->name_off);
	uint32_t off = btf_member_bit_offset(st, idx);
	uint32_t bsz = btf_member_bitfield_size(st, idx);
	const struct btf_type *mt;
	uint32_t mid;
	struct cub_val *v = NULL;
	int r;

	mt = resolve(c, m->type, &mid);
	if (!mt)
		return dfail(c,
		    "%s '%s' (BTF id %u): member %u has unknown type %u",
		    kind_name(st), type_name(c, st), sid, idx, m->type);
	if (!name || !*name) {
		/* Anonymous struct or union: its members are ours (C11). */
		if (!btf_is_composite(mt) || bsz)
			return 0;
		if (off % 8 || off / 8 > avail)
			return dfail(c,
			    "%s '%s' (BTF id %u): anonymous member %u is "
			    "misplaced",
			    kind_name(st), type_name(c, st), sid, idx);
		if (mt->size > avail - off / 8)
			return dfail(c,
			    "%u bytes left for %s (BTF id %u) of %u bytes",
			    (unsigned)(avail - off / 8), kind_name(mt), mid,
			    mt->size);
		return dec_members(
		    c, mid, mt, p + off / 8, avail - off / 8, depth + 1, map);
	}
	if (!strncmp(name, "__pad", 5))
		return 0;
	if (bsz) {
		if ((uint64_t)off + bsz > (uint64_t)avail * 8)
			return dfail(c,
			    "bitfield '%s' of %s '%s' (BTF id %u) lies past "
			    "the %u bytes left",
			    name, kind_name(st), type_name(c, st), sid,
			    (unsigned)avail);
		if (bsz > 64)
			return dfail(c,
			    "bitfield '%s' of %s '%s' (BTF id %u): %u bits, at "
			    "most 64 decoded",
			    name, kind_name(st), type_name(c, st), sid, bsz);
		if (btf_is_int(mt)) {
			uint32_t enc =
			    BTF_INT_ENCODING(*(const uint32_t *)(mt + 1));

			v = (enc & BTF_INT_BOOL)
				? cub_val__bool(bits_get(p, off, bsz) != 0)
				: num_val(bits_get(p, off, bsz), bsz,
				      enc & BTF_INT_SIGNED);
			r = v ? 0 : -ENOMEM;
		} else if (btf_is_any_enum(mt)) {
			r = dec_enum(c, mid, mt, p, avail, off, bsz, &v);
		} else {
			return dfail(c,
			    "bitfield '%s' of %s '%s' (BTF id %u) is a %s",
			    name, kind_name(st), type_name(c, st), sid,
			    kind_name(mt));
		}
	} else {
		if (off % 8)
			return dfail(c,
			    "member '%s' of %s '%s' (BTF id %u) is not byte "
			    "aligned",
			    name, kind_name(st), type_name(c, st), sid);
		if (off / 8 > avail)
			return dfail(c,
			    "member '%s' of %s '%s' (BTF id %u) lies past the "
			    "%u bytes left",
			    name, kind_name(st), type_name(c, st), sid,
			    (unsigned)avail);
		r = dec(
		    c, m->type, p + off / 8, avail - off / 8, depth + 1, &v);
		if (r == -EINVAL && c->err && c->errlen) {
			char inner[256];

			snprintf(inner, sizeof(inner), "%s", c->err);
			dfail(c, "member '%s': %s", name, inner);
		}
	}
	if (r)
		return r;
	return cub_val__set(map, name, v) ? -ENOMEM : 0;
}

static int
dec_members(struct dctx *c, uint32_t id, const struct btf_type *t,
    const uint8_t *p, size_t avail, uint32_t depth, struct cub_val *map)
{
	uint32_t i, n = btf_vlen(t);
	int r;

	if (depth > CUB_DEPTH_MAX)
		return dfail(c, "%s '%s' (BTF id %u) nests deeper than %u",
		    kind_name(t), type_name(c, t), id, CUB_DEPTH_MAX);
	if (n > CUB_ELEMS_MAX - c->elems)
		return dfail(c,
		    "%s '%s' (BTF id %u): more than %u elements in one read",
		    kind_name(t), type_name(c, t), id, CUB_ELEMS_MAX);
	c->elems += n;
	for (i = 0; i < n; i++) {
		r = dec_member(c, id, t, i, p, avail, depth, map);
		if (r)
			return r;
	}
	return 0;
}

static int
dec(struct dctx *c, uint32_t id, const uint8_t *p, size_t avail, uint32_t depth,
    struct cub_val **out)
{
	const struct btf_type *t;
	uint32_t rid;
	struct cub_val *map;
	int r;

	*out = NULL;
	if (depth > CUB_DEPTH_MAX)
		return dfail(
		    c, "BTF id %u nests deeper than %u", id, CUB_DEPTH_MAX);
	t = resolve(c, id, &rid);
	if (!t)
		return dfail(c, "BTF type id %u is unknown", id);
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		return dec_int(c, rid, t, p, avail, out);
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		return dec_enum(c, rid, t, p, avail, 0, 0, out);
	case BTF_KIND_FLOAT:
		if (t->size > avail)
			return dfail(c,
			    "%u bytes left for float (BTF id %u) of %u bytes",
			    (unsigned)avail, rid, t->size);
		if (t->size == 4) {
			float f;

			memcpy(&f, p, 4);
			*out = cub_val__float(f);
		} else if (t->size == 8) {
			double d;

			memcpy(&d, p, 8);
			*out = cub_val__float(d);
		} else {
			return dfail(c,
			    "float '%s' (BTF id %u) of %u bytes is not decoded",
			    type_name(c, t), rid, t->size);
		}
		return *out ? 0 : -ENOMEM;
	case BTF_KIND_ARRAY:
		return dec_array(c, rid, t, p, avail, depth, out);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		if (t->size > avail)
			return dfail(c,
			    "%u bytes left for %s '%s' (BTF id %u) of %u bytes",
			    (unsigned)avail, kind_name(t), type_name(c, t), rid,
			    t->size);
		map = sized(cub_val__map(), btf_vlen(t));
		if (!map)
			return -ENOMEM;
		r = dec_members(c, rid, t, p, t->size, depth, map);
		if (r) {
			cub_val__free(map);
			return r;
		}
		*out = map;
		return 0;
	default:
		return dfail(c,
		    "BTF type id %u is a %s ('%s'), which has no value to "
		    "decode",
		    rid, kind_name(t), type_name(c, t));
	}
}

/*
 * dm_decode() on a budget: *elems containers' elements were decoded
 * before this value (by the same read), at most CUB_ELEMS_MAX in all,
 * which is what one message carries.  A value whose bytes are few may
 * still decode to many elements (arrays of zero-size elements): only the
 * count bounds the work and the memory of a read.
 */
static int decode_checked(const struct dm_catalog *cat, uint32_t type_id,
    const void *data, size_t len, uint32_t *elems, bool *checked,
    struct cub_val **out, char *err, size_t errlen);

static int
decode_budget(const struct dm_catalog *cat, uint32_t type_id, const void *data,
    size_t len, uint32_t *elems, struct cub_val **out, char *err, size_t errlen)
{
	return decode_checked(
	    cat, type_id, data, len, elems, NULL, out, err, errlen);
}

/*
 * decode_budget(); *checked (if not NULL) says that type_id was found to
 * be len bytes already (the same type and length for every entry of a
 * read: its check is done once) and is set when it is.
 */
static int
decode_checked(const struct dm_catalog *cat, uint32_t type_id, const void *data,
    size_t len, uint32_t *elems, bool *checked, struct cub_val **out, char *err,
    size_t errlen)
{
	struct dctx c = {
	    .btf = cat->btf, .err = err, .errlen = errlen, .elems = *elems};
	const struct btf_type *t;
	__s64 sz;
	int r;

	*out = NULL;
	if (checked && *checked && data)
		goto decode;
	t = cat->btf ? resolve(&c, type_id, NULL) : NULL;
	if (!t)
		return dfail(&c, "BTF type id %u is unknown", type_id);
	sz = btf__resolve_size(cat->btf, type_id);
	if (sz < 0)
		return dfail(&c,
		    "BTF type id %u is a %s ('%s'), which has no value to "
		    "decode",
		    type_id, kind_name(t), type_name(&c, t));
	if ((size_t)sz != len || !data)
		return dfail(&c,
		    "%zu bytes for %s '%s' (BTF id %u) of %lld bytes",
		    data ? len : 0, kind_name(t), type_name(&c, t), type_id,
		    (long long)sz);
	if (checked)
		*checked = true;
decode:
	r = dec(&c, type_id, data, len, 0, out);
	*elems = c.elems;
	return r;
}

int
dm_decode(const struct dm_catalog *cat, uint32_t type_id, const void *data,
    size_t len, struct cub_val **out, char *err, size_t errlen)
{
	uint32_t elems = 0;

	return decode_budget(cat, type_id, data, len, &elems, out, err, errlen);
}

size_t
dm_value_stride(const struct dm_map *map, uint32_t ncpus)
{
	if (!map->percpu)
		return map->value_size;
	return (((size_t)map->value_size + 7) & ~(size_t)7) * ncpus;
}

/* Prefixes err with "map 'X', entry N: ". */
static int
entry_fail(const struct dm_map *map, uint32_t i, const char *what, int r,
    char *err, size_t errlen)
{
	char inner[256];

	if (r != -EINVAL || !err || !errlen)
		return r;
	snprintf(inner, sizeof(inner), "%s", err);
	return dm_fail(err, errlen, "map '%s', entry %u, %s: %s", map->name, i,
	    what, inner);
}

static int
percpu_list(const struct dm_catalog *cat, const struct dm_map *map,
    const uint8_t *vp, uint32_t ncpus, uint32_t *elems, bool *checked,
    struct cub_val **out, char *err, size_t errlen)
{
	size_t stride = ((size_t)map->value_size + 7) & ~(size_t)7;
	struct cub_val *l = sized(cub_val__array(), ncpus), *v;
	uint32_t cpu;
	int r;

	if (!l)
		return -ENOMEM;
	for (cpu = 0; cpu < ncpus; cpu++) {
		r = decode_checked(cat, map->value_type_id, vp + stride * cpu,
		    map->value_size, elems, checked, &v, err, errlen);
		if (!r && cub_val__push(l, v))
			r = -ENOMEM;
		if (r) {
			cub_val__free(l);
			return r;
		}
	}
	*out = l;
	return 0;
}

int
dm_map_value(const struct dm_catalog *cat, const struct dm_map *map,
    const struct dm_entries *e, struct cub_val **out, char *err, size_t errlen)
{
	const uint8_t *kp = e->keys, *vp = e->values;
	struct cub_val *list, *k, *v, *kv;
	size_t vstride;
	bool keyed = true, vok = false, kok = false;
	uint32_t i, elems = 0; /* the whole read's, not each value's */
	int r = 0;

	*out = NULL;
	switch (map->type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		keyed = false;
		break;
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		break;
	default:
		return dm_fail(err, errlen,
		    "map '%s': map type %u is not one dynmon extracts (HASH, "
		    "LRU_HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, "
		    "LRU_PERCPU_HASH, QUEUE, STACK)",
		    map->name, map->type);
	}
	if (map->percpu && (!e->ncpus || e->ncpus > DM_NCPUS_MAX))
		return dm_fail(err, errlen,
		    "map '%s': %u CPUs, expected 1 to %u", map->name, e->ncpus,
		    DM_NCPUS_MAX);
	if (e->count && (!vp || (keyed && !kp)))
		return dm_fail(err, errlen, "map '%s': %u entries without %s",
		    map->name, e->count, vp ? "keys" : "values");
	if (e->count > map->max_entries)
		return dm_fail(err, errlen,
		    "map '%s': %u entries, more than its %u", map->name,
		    e->count, map->max_entries);
	vstride = dm_value_stride(map, e->ncpus);
	list = cub_val__array();
	if (!list)
		return -ENOMEM;
	for (i = 0; i < e->count; i++) {
		const uint8_t *ve = vp + vstride * i;

		if (map->percpu)
			r = percpu_list(cat, map, ve, e->ncpus, &elems, &vok,
			    &v, err, errlen);
		else
			r = decode_checked(cat, map->value_type_id, ve,
			    map->value_size, &elems, &vok, &v, err, errlen);
		if (r) {
			r = entry_fail(map, i, "value", r, err, errlen);
			break;
		}
		if (!keyed) {
			if (cub_val__push(list, v)) {
				r = -ENOMEM;
				break;
			}
			continue;
		}
		r = decode_checked(cat, map->key_type_id,
		    kp + (size_t)map->key_size * i, map->key_size, &elems, &kok,
		    &k, err, errlen);
		if (r) {
			cub_val__free(v);
			r = entry_fail(map, i, "key", r, err, errlen);
			break;
		}
		kv = sized(cub_val__map(), 2);
		if (!kv) {
			cub_val__free(k);
			cub_val__free(v);
			r = -ENOMEM;
			break;
		}
		/* set and push free what they fail to store. */
		if (cub_val__set(kv, "key", k)) {
			cub_val__free(v);
			cub_val__free(kv);
			r = -ENOMEM;
			break;
		}
		if (cub_val__set(kv, "value", v)) {
			cub_val__free(kv);
			r = -ENOMEM;
			break;
		}
		if (cub_val__push(list, kv)) {
			r = -ENOMEM;
			break;
		}
	}
	if (r) {
		cub_val__free(list);
		return r;
	}
	*out = list;
	return 0;
}
