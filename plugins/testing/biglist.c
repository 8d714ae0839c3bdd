/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * biglist: a test-only service whose keyed list "entries" (id -> value)
 * is kept in a BPF hash (bl_entries), for tests/integration/changes.sh:
 * a list of 100k entries loaded, changed one entry at a time through
 * change(), and replayed after a worker restart.
 *
 * apply() (create and replay) empties the map and writes every entry of
 * the document, so what the map holds after a replay is exactly what the
 * replay delivered.  change() writes only the entries a request changed.
 * Both refuse a value of 13 before they write anything.  show reports, as
 * ro fields, what the worker got (applies, apply_entries, change_calls,
 * last_changes, last_written) and what the map holds (map_entries,
 * map_sum, and an entry's in_map for a show of a few entries).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "biglist.skel.h"
#include "cubicle/plugin.h"
#include "cubicle/proto.h"

#define BL_MAX 131072u     /* bl_entries' max_entries */
#define BL_UNLUCKY 13u     /* the value both ops refuse */
#define BL_SHOW_IN_MAP 64u /* entries of a show given in_map */

static const struct cub_field entry_fields[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "key"},
    {.name = "value", .type = CUB_T_U32, .dflt = "0", .help = "value"},
    {.name = "in_map",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "the value in bl_entries (a show of a few entries)"},
    {0},
};

#define RO_U64(n, h)                                                           \
	{                                                                      \
		.name = n, .type = CUB_T_U64, .flags = CUB_F_RO, .help = h     \
	}

static const struct cub_field bl_schema[] = {
    {.name = "entries",
	.type = CUB_T_LIST,
	.children = entry_fields,
	.help = "the entries, kept in the map bl_entries"},
    RO_U64("applies", "apply calls since the worker started"),
    RO_U64("apply_entries", "entries in the last apply's document"),
    RO_U64("change_calls", "change calls since the worker started"),
    RO_U64("last_changes", "changes in the last change call"),
    RO_U64("last_written", "map entries the last change call wrote"),
    RO_U64("map_entries", "entries in bl_entries"),
    RO_U64("map_sum", "sum of the values in bl_entries"),
    {0},
};

struct bl_cube {
	cub_map map;
	bool loaded;
	uint64_t applies, apply_entries, change_calls, last_changes,
	    last_written;
};

struct kv {
	uint32_t key[CUB_BATCH_MAX];
	uint32_t val[CUB_BATCH_MAX];
	uint32_t n;
};

static int
kv_flush(struct cub_cube *cube, const cub_map *map, struct kv *b, bool del)
{
	int r = 0;

	if (b->n)
		r = del ? cub_map__delete_batch(cube, map, b->key, b->n)
			: cub_map__update_batch(
			      cube, map, b->key, b->val, b->n, 0);
	b->n = 0;
	return r;
}

static int
kv_put(struct cub_cube *cube, const cub_map *map, struct kv *b, uint32_t k,
    uint32_t v, bool del)
{
	b->key[b->n] = k;
	b->val[b->n++] = v;
	return b->n == CUB_BATCH_MAX ? kv_flush(cube, map, b, del) : 0;
}

static int
entry_kv(
    struct cub_cube *cube, const struct cub_val *e, uint32_t *k, uint32_t *v)
{
	uint64_t id, val = 0;

	if (cub_val__as_u64(cub_val__get(e, "id"), &id) || id > UINT32_MAX)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "an entry without an id");
	if (cub_val__get(e, "value") &&
	    (cub_val__as_u64(cub_val__get(e, "value"), &val) ||
		val > UINT32_MAX))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "entry %llu: bad value", (unsigned long long)id);
	if (val == BL_UNLUCKY)
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "entry %llu: value %u is refused by biglist",
		    (unsigned long long)id, BL_UNLUCKY);
	*k = (uint32_t)id;
	*v = (uint32_t)val;
	return 0;
}

struct dump_ctx {
	struct cub_cube *cube;
	const cub_map *map;
	struct kv *b;
	uint64_t n, sum;
	int r;
};

static int
dump_del(const void *key, const void *value, void *ctx)
{
	struct dump_ctx *d = ctx;

	(void)value;
	d->r = kv_put(d->cube, d->map, d->b, *(const uint32_t *)key, 0, true);
	return d->r;
}

static int
dump_count(const void *key, const void *value, void *ctx)
{
	struct dump_ctx *d = ctx;

	(void)key;
	d->n++;
	d->sum += *(const uint32_t *)value;
	return 0;
}

static int
bl_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct bl_cube *bl = cub_cube__priv(cube);
	const struct cub_val *entries = cub_val__get(config, "entries");
	uint32_t i,
	    n = entries && entries->kind == CUB_V_ARRAY ? entries->arr.len : 0;
	struct dump_ctx d = {.cube = cube};
	struct kv *b;
	uint32_t k, v;
	size_t len;
	const void *elf;
	int r;

	if (n > BL_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "%u entries, the map holds %u", n, BL_MAX);
	for (i = 0; i < n; i++)
		if ((r = entry_kv(cube, entries->arr.items[i], &k, &v)))
			return r;
	if (create || !bl->loaded) {
		elf = biglist__elf_bytes(&len);
		if ((r = cub_cube__load(cube, elf, len)))
			return r;
		if (cub_cube__map(cube, "bl_entries", &bl->map))
			return cub_cube__set_error(
			    cube, CUB_E_INTERNAL, "no map bl_entries");
		bl->loaded = true;
	}
	if (!(b = malloc(sizeof(*b))))
		return -ENOMEM;
	b->n = 0;
	/* Empty (an adopted map keeps what it held), then all of it. */
	d.map = &bl->map;
	d.b = b;
	r = cub_map__dump(cube, &bl->map, dump_del, &d);
	if (!r)
		r = kv_flush(cube, &bl->map, b, true);
	for (i = 0; !r && i < n; i++) {
		entry_kv(cube, entries->arr.items[i], &k, &v);
		r = kv_put(cube, &bl->map, b, k, v, false);
	}
	if (!r)
		r = kv_flush(cube, &bl->map, b, false);
	free(b);
	if (r)
		return r;
	bl->applies++;
	bl->apply_entries = n;
	cub_cube__log(cube, CUB_LOG_INFO, "apply: %u entries%s", n,
	    create ? " (new)" : "");
	return 0;
}

/* The changes of "entries"; others (the cube's own fields) are none of
 * the map's business. */
static bool
is_entry(const struct cub_change *ch)
{
	return ch->path->arr.len == 2 &&
	       !strcmp(
		   cub_val__as_str(ch->path->arr.items[0]) ?: "", "entries");
}

static int
bl_change(struct cub_cube *cube, const struct cub_change *changes, uint32_t n)
{
	struct bl_cube *bl = cub_cube__priv(cube);
	struct kv *up, *del;
	uint32_t i, k, v, written = 0;
	int r = 0;

	/* Everything checked before anything is written. */
	for (i = 0; i < n; i++) {
		if (!is_entry(&changes[i]))
			continue;
		r = entry_kv(cube,
		    changes[i].op == CUB_CHANGE_DEL ? changes[i].before
						    : changes[i].after,
		    &k, &v);
		if (r)
			return r;
	}
	up = malloc(sizeof(*up));
	del = malloc(sizeof(*del));
	if (!up || !del) {
		free(up);
		free(del);
		return -ENOMEM;
	}
	up->n = del->n = 0;
	for (i = 0; !r && i < n; i++) {
		if (!is_entry(&changes[i]))
			continue;
		if (changes[i].op == CUB_CHANGE_DEL) {
			entry_kv(cube, changes[i].before, &k, &v);
			/* Deletions first: flush pending updates. */
			if (!(r = kv_flush(cube, &bl->map, up, false)))
				r = kv_put(cube, &bl->map, del, k, 0, true);
		} else {
			entry_kv(cube, changes[i].after, &k, &v);
			if (!(r = kv_flush(cube, &bl->map, del, true)))
				r = kv_put(cube, &bl->map, up, k, v, false);
		}
		written++;
	}
	if (!r)
		r = kv_flush(cube, &bl->map, del, true);
	if (!r)
		r = kv_flush(cube, &bl->map, up, false);
	free(up);
	free(del);
	/* A map call failed half way: the test plugin does not undo (a real
	 * service would write the before values back). */
	if (r)
		return r;
	bl->change_calls++;
	bl->last_changes = n;
	bl->last_written = written;
	cub_cube__log(
	    cube, CUB_LOG_INFO, "change: changes=%u written=%u", n, written);
	return 0;
}

static int
bl_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct bl_cube *bl = cub_cube__priv(cube);
	const struct cub_val *entries = cub_val__get(config, "entries");
	struct dump_ctx d = {.cube = cube};
	struct cub_val *ov, *e;
	uint32_t i, k, v;
	int r;

	if (entries && entries->kind == CUB_V_ARRAY &&
	    entries->arr.len <= BL_SHOW_IN_MAP) {
		ov = cub_val__array();
		for (i = 0; ov && i < entries->arr.len; i++) {
			uint64_t id;

			if (cub_val__as_u64(
				cub_val__get(entries->arr.items[i], "id"), &id))
				continue;
			k = (uint32_t)id;
			if (cub_map__lookup(cube, &bl->map, &k, &v))
				continue;
			e = cub_val__map();
			cub_val__set(e, "id", cub_val__uint(k));
			cub_val__set(e, "in_map", cub_val__uint(v));
			if (cub_val__push(ov, e))
				ov = cub_val__free(ov);
		}
		if (!ov || cub_val__set(overlay, "entries", ov))
			return -ENOMEM;
	}
	if ((r = cub_map__dump(cube, &bl->map, dump_count, &d)))
		return r;
	if (cub_val__set(overlay, "applies", cub_val__uint(bl->applies)) ||
	    cub_val__set(
		overlay, "apply_entries", cub_val__uint(bl->apply_entries)) ||
	    cub_val__set(
		overlay, "change_calls", cub_val__uint(bl->change_calls)) ||
	    cub_val__set(
		overlay, "last_changes", cub_val__uint(bl->last_changes)) ||
	    cub_val__set(
		overlay, "last_written", cub_val__uint(bl->last_written)) ||
	    cub_val__set(overlay, "map_entries", cub_val__uint(d.n)) ||
	    cub_val__set(overlay, "map_sum", cub_val__uint(d.sum)))
		return -ENOMEM;
	return 0;
}

static const struct cub_plugin_ops bl_ops = {
    .apply = bl_apply,
    .show = bl_show,
    .change = bl_change,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "biglist",
    .description = "a 100k-entry list kept in a BPF hash (tests)",
    .cube_size = sizeof(struct bl_cube),
    .schema = bl_schema,
    .ops = &bl_ops,
    .policy =
	{
	    .prog_types =
		(1u << BPF_PROG_TYPE_SCHED_CLS) | (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 32u << 20,
	},
    CUB_PLUGIN_SIZES,
};
