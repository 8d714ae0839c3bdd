// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fake broker (cubicle/fake.h): the broker's side of a worker's calls,
 * in the same process and in memory, and the client's side of requests,
 * through the broker's own tree engine.  The plugin and the SDK's runtime
 * (plugin.c) run unchanged: the runtime's calls come here instead of to a
 * socket (cubi_worker__init_local()), and requests reach the plugin through
 * cubi_worker__dispatch(), as in cubicle-worker.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gelf.h>

#include "bpfpolicy.h"
#include "cubicle/errors.h"
#include "cubicle/fake.h"
#include "cubicle/proto.h"
#include "tree.h"
#include "worker_rt.h"

#undef cub_map__update_batch
#undef cub_map__delete_batch

#define FAKE_MAPS_MAX 64
/* Swap sets (broker/mapswap.h's limits). */
#define FAKE_SWAPS_MAX 16
#define FAKE_SWAP_SET_MAX 8
#define FAKE_SWAP_COPIES_MAX 8
#define FAKE_SWAP_MEMBERS_MAX 8
#define FAKE_SWAP_PREFIX "cub_sw_"

/* One map: max_entries slots of key and value bytes (per-CPU: ncpus
 * values at an 8-byte stride, as user space sees them). */
struct fmap {
	char name[BPF_OBJ_NAME_LEN];
	uint32_t type, key_size, value_size, max_entries;
	size_t vsz; /* bytes of a slot's value */
	uint8_t *keys, *vals, *used;
	uint64_t *stamp; /* LRU: last use */
	uint32_t n;      /* used slots (QUEUE, STACK: values held) */
	/* ARRAY_OF_MAPS: the map index + 1 of each slot's inner map as the
	 * object initialises it (.values = {&a, &b}), 0 when empty. */
	uint32_t inner[FAKE_SWAP_COPIES_MAX];
};

/* A swap set as the broker sees it (mapswap.c): its index map cub_sw_S
 * (the active copy, slot 0), its members S__<name> and their copies. */
struct fswap {
	char name[FAKE_SWAP_SET_MAX + 1];
	uint32_t index; /* map index of cub_sw_S */
	uint32_t nmembers, ncopies;
	uint32_t member[FAKE_SWAP_MEMBERS_MAX];
	uint32_t copy[FAKE_SWAP_MEMBERS_MAX][FAKE_SWAP_COPIES_MAX];
	int filling; /* the copy an open transaction fills, or -1 */
	uint64_t txn;
};

struct fcube {
	char name[CUB_NAME_MAX + 1];
	struct cub_val *doc;
	bool loaded;
	void *elf; /* the object as loaded, for cub_fake__test_run() */
	size_t elf_len;
	struct fmap maps[FAKE_MAPS_MAX];
	uint32_t nmaps;
	struct fswap swaps[FAKE_SWAPS_MAX];
	uint32_t nswaps;
	struct fcube *next;
};

struct fhelper {
	char *name;
	cub_fake_helper_fn fn;
	void *ctx;
	struct fhelper *next;
};

struct cub_fake {
	const struct cub_plugin *pl;
	struct cubi_schema *schema;
	bool changes;       /* the plugin has change() */
	bool action_config; /* its actions get the document */
	uint32_t ncpus;
	uint64_t clock;
	struct fcube *cubes;
	struct fhelper *helpers;
	struct cub_val *err;
	char errbuf[512];
	struct cub_fake_log *logs;
	size_t nlogs;
	struct cub_fake_pkt *pkts;
	size_t npkts;
	struct cub_fake_run *runs;
	size_t nruns;
};

/* The runtime's transport has no context: the process's one fake. */
static struct cub_fake *fake;

/* ---- Maps ---- */

static bool
type_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool
type_array(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static bool
type_hash(uint32_t t)
{
	return t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_LPM_TRIE;
}

static bool
type_queue(uint32_t t)
{
	return t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK;
}

static bool
type_lru(uint32_t t)
{
	return t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static size_t
stride(const struct fmap *m)
{
	return ((size_t)m->value_size + 7) & ~(size_t)7;
}

static uint8_t *
slot_key(const struct fmap *m, uint32_t i)
{
	return m->keys + (size_t)i * m->key_size;
}

static uint8_t *
slot_val(const struct fmap *m, uint32_t i)
{
	return m->vals + (size_t)i * m->vsz;
}

/* Tables of more than this many bytes are refused (a test's memory). */
#define FAKE_MAP_BYTES_MAX (256u << 20)

static int
fmap_init(struct fmap *m, const struct bpf_map *bm, uint32_t ncpus)
{
	size_t bytes;

	snprintf(m->name, sizeof(m->name), "%s", bpf_map__name(bm));
	m->type = bpf_map__type(bm);
	m->key_size = bpf_map__key_size(bm);
	m->value_size = bpf_map__value_size(bm);
	m->max_entries = bpf_map__max_entries(bm);
	if (!type_array(m->type) && !type_hash(m->type) && !type_queue(m->type))
		return 0; /* loaded, not modelled: calls fail */
	m->vsz = type_percpu(m->type) ? stride(m) * ncpus : m->value_size;
	bytes = ((size_t)m->key_size + m->vsz + 9) * m->max_entries;
	if (bytes > FAKE_MAP_BYTES_MAX)
		return -E2BIG;
	m->keys = calloc(m->max_entries ?: 1, m->key_size ?: 1);
	m->vals = calloc(m->max_entries ?: 1, m->vsz ?: 1);
	m->used = calloc(m->max_entries ?: 1, 1);
	m->stamp = calloc(m->max_entries ?: 1, sizeof(uint64_t));
	if (!m->keys || !m->vals || !m->used || !m->stamp)
		return -ENOMEM;
	if (type_array(m->type)) {
		uint32_t i;

		for (i = 0; i < m->max_entries; i++) {
			memcpy(slot_key(m, i), &i, sizeof(i));
			m->used[i] = 1;
		}
		m->n = m->max_entries;
	}
	return 0;
}

static void
fmap_free(struct fmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	free(m->stamp);
}

static bool
modelled(const struct fmap *m)
{
	return m->used != NULL;
}

/* LPM_TRIE: does entry prefix e (u32 prefixlen, data) cover key k? */
static bool
lpm_covers(const uint8_t *e, const uint8_t *k)
{
	uint32_t elen, klen, full, rest;

	memcpy(&elen, e, 4);
	memcpy(&klen, k, 4);
	if (elen > klen)
		return false;
	full = elen / 8;
	rest = elen % 8;
	if (memcmp(e + 4, k + 4, full))
		return false;
	return !rest ||
	       !((e[4 + full] ^ k[4 + full]) & (uint8_t)(0xff << (8 - rest)));
}

/* An LPM_TRIE's entry for key: the same prefixlen and the same first
 * prefixlen bits (the kernel ignores the bits after them). */
static bool
lpm_same(const uint8_t *e, const uint8_t *k)
{
	return !memcmp(e, k, 4) && lpm_covers(e, k);
}

/* The slot holding key exactly (an LPM_TRIE: its prefix), or -1. */
static int64_t
fmap_find(const struct fmap *m, const void *key)
{
	uint32_t i, k;

	if (type_queue(m->type))
		return -1;
	if (type_array(m->type)) {
		memcpy(&k, key, sizeof(k));
		return k < m->max_entries ? (int64_t)k : -1;
	}
	if (m->type == BPF_MAP_TYPE_LPM_TRIE) {
		for (i = 0; i < m->max_entries; i++)
			if (m->used[i] && lpm_same(slot_key(m, i), key))
				return i;
		return -1;
	}
	for (i = 0; i < m->max_entries; i++)
		if (m->used[i] && !memcmp(slot_key(m, i), key, m->key_size))
			return i;
	return -1;
}

/* A lookup's slot: exact, or an LPM_TRIE's longest prefix; -1. */
static int64_t
fmap_match(const struct fmap *m, const void *key)
{
	int64_t best = -1;
	uint32_t i, len, blen = 0;

	if (m->type != BPF_MAP_TYPE_LPM_TRIE)
		return fmap_find(m, key);
	for (i = 0; i < m->max_entries; i++) {
		if (!m->used[i] || !lpm_covers(slot_key(m, i), key))
			continue;
		memcpy(&len, slot_key(m, i), 4);
		if (best < 0 || len > blen) {
			best = i;
			blen = len;
		}
	}
	return best;
}

/* The kernel's checks of a key before an update or delete. */
static int
key_check(const struct fmap *m, const void *key)
{
	uint32_t plen;

	if (!modelled(m))
		return -EOPNOTSUPP;
	if (m->type == BPF_MAP_TYPE_LPM_TRIE) {
		memcpy(&plen, key, 4);
		if (m->key_size < 5 || plen > (m->key_size - 4) * 8)
			return -EINVAL;
	}
	return 0;
}

/* A QUEUE's or STACK's push (queue_stack_map_push_elem()): full, -E2BIG,
 * or with BPF_EXIST the oldest value makes room. */
static int
fmap_push(struct fmap *m, const void *value, uint64_t how)
{
	if (how == BPF_NOEXIST)
		return -EINVAL;
	if (m->n == m->max_entries) {
		if (how != BPF_EXIST || !m->n)
			return -E2BIG;
		memmove(m->vals, m->vals + m->vsz, (size_t)(m->n - 1) * m->vsz);
		m->n--;
	}
	memcpy(slot_val(m, m->n++), value, m->vsz);
	return 0;
}

/* Pop (or peek) the next value into out: the oldest of a QUEUE, the
 * newest of a STACK; -ENOENT when empty. */
static int
fmap_pop(struct fmap *m, void *out, bool del)
{
	uint32_t i;

	if (!m->n)
		return -ENOENT;
	i = m->type == BPF_MAP_TYPE_QUEUE ? 0 : m->n - 1;
	memcpy(out, slot_val(m, i), m->vsz);
	if (!del)
		return 0;
	if (!i)
		memmove(m->vals, m->vals + m->vsz, (size_t)(m->n - 1) * m->vsz);
	m->n--;
	return 0;
}

/* bpf_map_update_elem() as the kernel answers it; value is vsz bytes, or
 * (cpu >= 0, per-CPU) one CPU's value_size bytes. */
static int
fmap_update_(struct fmap *m, const void *key, const void *value, uint64_t flags,
    int cpu, uint64_t now)
{
	uint64_t how = flags & ~(uint64_t)BPF_F_LOCK;
	int64_t s;
	uint32_t i, oldest = 0;
	int r;

	if ((r = key_check(m, key)))
		return r;
	if (how > BPF_EXIST)
		return -EINVAL;
	if (type_queue(m->type))
		return fmap_push(m, value, how);
	s = fmap_find(m, key);
	if (type_array(m->type)) {
		if (s < 0)
			return -E2BIG;
		if (how == BPF_NOEXIST)
			return -EEXIST;
	} else if (s >= 0 && how == BPF_NOEXIST) {
		return -EEXIST;
	} else if (s < 0 && how == BPF_EXIST) {
		return -ENOENT;
	} else if (s < 0) {
		for (i = 0; i < m->max_entries && m->used[i]; i++)
			if (m->stamp[i] < m->stamp[oldest])
				oldest = i;
		if (i == m->max_entries) {
			/* trie_update_elem() says -ENOSPC, a hash -E2BIG. */
			if (m->type == BPF_MAP_TYPE_LPM_TRIE)
				return -ENOSPC;
			if (!type_lru(m->type))
				return -E2BIG;
			i = oldest; /* evicted, as an LRU map does */
			m->n--;
		}
		s = i;
		m->used[s] = 1;
		m->n++;
		memcpy(slot_key(m, (uint32_t)s), key, m->key_size);
		memset(slot_val(m, (uint32_t)s), 0, m->vsz);
	} else if (m->type == BPF_MAP_TYPE_LPM_TRIE) {
		/* The kernel's replacing node holds the new key's bytes. */
		memcpy(slot_key(m, (uint32_t)s), key, m->key_size);
	}
	if (cpu >= 0 && type_percpu(m->type))
		memcpy(slot_val(m, (uint32_t)s) + stride(m) * (uint32_t)cpu,
		    value, m->value_size);
	else
		memcpy(slot_val(m, (uint32_t)s), value, m->vsz);
	m->stamp[s] = now;
	return 0;
}

static int
fmap_delete(struct fmap *m, const void *key)
{
	int64_t s;
	int r;

	if ((r = key_check(m, key)))
		return r;
	if (type_array(m->type) || type_queue(m->type))
		return -EINVAL;
	if ((s = fmap_find(m, key)) < 0)
		return -ENOENT;
	m->used[s] = 0;
	m->n--;
	return 0;
}

/*
 * The kernel's LPM_TRIE walks its trie in post-order: a prefix after
 * the longer ones it holds, a 0 bit before a 1.  <0 when prefix a comes
 * before b.
 */
static int
lpm_order(const uint8_t *a, const uint8_t *b)
{
	uint32_t la, lb, n, bit;
	int x, y;

	memcpy(&la, a, 4);
	memcpy(&lb, b, 4);
	n = la < lb ? la : lb;
	for (bit = 0; bit < n; bit++) {
		x = a[4 + bit / 8] >> (7 - bit % 8) & 1;
		y = b[4 + bit / 8] >> (7 - bit % 8) & 1;
		if (x != y)
			return x - y;
	}
	return la == lb ? 0 : la > lb ? -1 : 1;
}

/* The used slot after slot i (i < 0: the first), or -1: the order of
 * get_next_key and of a hash batch's buckets (an LPM_TRIE's: its walk). */
static int64_t
fmap_next(const struct fmap *m, int64_t i)
{
	int64_t best = -1;
	uint32_t j;

	if (m->type == BPF_MAP_TYPE_LPM_TRIE) {
		for (j = 0; j < m->max_entries; j++) {
			if (!m->used[j] || (int64_t)j == i ||
			    (i >= 0 &&
				lpm_order(slot_key(m, j),
				    slot_key(m, (uint32_t)i)) <= 0))
				continue;
			if (best < 0 || lpm_order(slot_key(m, j),
					    slot_key(m, (uint32_t)best)) < 0)
				best = j;
		}
		return best;
	}
	for (i = i < 0 ? 0 : i + 1; i < (int64_t)m->max_entries; i++)
		if (m->used[i])
			return i;
	return -1;
}

/* ---- Records and errors ---- */

static struct cub_val *ferr(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct cub_val *
ferr(int code, const char *fmt, ...)
{
	struct cub_val *e;
	va_list ap;

	va_start(ap, fmt);
	e = cub_err_valv(code, fmt, ap);
	va_end(ap);
	return e;
}

/* The broker's error for a kernel's refusal (wcall.c's kernel_err()). */
static int
kernel_err(
    int r, const struct fmap *m, const char *method, struct cub_val **errv)
{
	*errv = ferr(r == -ENOENT                  ? CUB_E_NOTFOUND
		     : r == -E2BIG || r == -ENOSPC ? CUB_E_LIMIT
						   : CUB_E_KERNEL,
	    "map '%s': %s failed: %s", m->name, method, strerror(-r));
	cub_val__set(*errv, "errno", cub_val__uint((uint64_t)-r));
	return -EREMOTEIO;
}

static void
set_err(struct cub_fake *f, struct cub_val *errv)
{
	const char *msg = "";

	cub_val__free(f->err);
	f->err = errv;
	if (errv)
		cub_err_parse(errv, &msg);
	snprintf(f->errbuf, sizeof(f->errbuf), "%s", msg ?: "");
}

const char *
cub_fake__error(const struct cub_fake *f)
{
	return f->errbuf;
}

int
cub_fake__error_code(const struct cub_fake *f)
{
	const char *msg;

	return f->err ? cub_err_parse(f->err, &msg) : 0;
}

static void *
grow(void *arr, size_t n, size_t size)
{
	return realloc(arr, (n + 1) * size);
}

static void *
memdup(const void *p, size_t len)
{
	void *d = malloc(len ?: 1);

	if (d && len)
		memcpy(d, p, len);
	return d;
}

/* ---- The broker's side of the worker's calls ---- */

static struct fcube *
cube_find(struct cub_fake *f, const char *name)
{
	struct fcube *c;

	for (c = f->cubes; name && c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static struct fcube *
own_cube(struct cub_fake *f, const struct cub_val *p, struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "cube");
	struct fcube *c = cube_find(f, name);

	if (!c)
		*errv = ferr(CUB_E_NOTFOUND, "service '%s' has no cube '%s'",
		    f->pl->name, name ?: "");
	return c;
}

static struct cub_val *
maps_val(const struct fcube *c)
{
	struct cub_val *arr = cub_val__array(), *m;
	uint32_t i;

	for (i = 0; i < c->nmaps; i++) {
		m = cub_val__map();
		cub_val__set(m, "name", cub_val__str(c->maps[i].name));
		cub_val__set(m, "id", cub_val__uint(i + 1));
		cub_val__set(m, "type", cub_val__uint(c->maps[i].type));
		cub_val__set(m, "key_size", cub_val__uint(c->maps[i].key_size));
		cub_val__set(
		    m, "value_size", cub_val__uint(c->maps[i].value_size));
		cub_val__set(
		    m, "max_entries", cub_val__uint(c->maps[i].max_entries));
		cub_val__push(arr, m);
	}
	return arr;
}

static void
cube_unload(struct fcube *c)
{
	uint32_t i;

	for (i = 0; i < c->nmaps; i++)
		fmap_free(&c->maps[i]);
	memset(c->maps, 0, sizeof(c->maps));
	c->nmaps = 0;
	c->nswaps = 0;
	free(c->elf);
	c->elf = NULL;
	c->loaded = false;
}

/* ---- Swap sets (broker/mapswap.c) ---- */

/* A swap read's or a clear's emptying: hashes emptied, arrays zeroed. */
static void
fmap_clear(struct fmap *m)
{
	if (!modelled(m))
		return;
	memset(m->vals, 0, (size_t)m->max_entries * m->vsz);
	if (type_array(m->type))
		return;
	memset(m->used, 0, m->max_entries);
	m->n = 0;
}

static int
map_index(const struct fcube *c, const char *name)
{
	char n[BPF_OBJ_NAME_LEN];
	uint32_t i;

	snprintf(n, sizeof(n), "%s", name);
	for (i = 0; i < c->nmaps; i++)
		if (!strcmp(c->maps[i].name, n))
			return (int)i;
	return -1;
}

/* Byte offset of the member "values" in map variable name's BTF, or -1. */
static long
values_offset(const struct btf *btf, const char *name)
{
	const struct btf_type *t;
	const struct btf_member *mb;
	int id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_VAR) : -1;
	uint16_t i;

	if (id < 0 || !(t = btf__type_by_id(btf, (uint32_t)id)))
		return -1;
	id = btf__resolve_type(btf, t->type);
	if (id < 0 || !(t = btf__type_by_id(btf, (uint32_t)id)) ||
	    !btf_is_struct(t))
		return -1;
	for (i = 0, mb = btf_members(t); i < btf_vlen(t); i++, mb++)
		if (!strcmp(
			btf__name_by_offset(btf, mb->name_off) ?: "", "values"))
			return (long)(btf_member_bit_offset(t, i) / 8);
	return -1;
}

/*
 * The inner map of every slot of the object's ARRAY_OF_MAPS as its
 * static initialisation (.values = {&a, &b}) fills it: the relocations
 * of section .maps against map symbols, as libbpf reads them (its
 * init_slots; the kernel fills the slots at load).  0 or -EINVAL.
 */
static int
fill_inner(struct fcube *c, struct bpf_object *obj, const void *img, size_t len)
{
	const struct btf *btf = bpf_object__btf(obj);
	Elf_Scn *scn = NULL, *symscn = NULL;
	Elf_Data *syms = NULL, *rels;
	size_t shstrndx, maps_idx = 0, nsyms, nrel, i, j;
	GElf_Shdr sh, symsh = {0};
	GElf_Sym sym, outer;
	GElf_Rel rel;
	const char *name;
	int r = 0, oi, ii;
	long voff;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE ||
	    !(e = elf_memory((char *)img, len)))
		return -EINVAL;
	if (elf_getshdrstrndx(e, &shstrndx)) {
		elf_end(e);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".maps"))
			maps_idx = elf_ndxscn(scn);
		if (sh.sh_type == SHT_SYMTAB) {
			symscn = scn;
			symsh = sh;
		}
	}
	if (!maps_idx || !symscn || !(syms = elf_getdata(symscn, NULL))) {
		elf_end(e);
		return 0; /* no map with BTF, or no symbols: nothing filled */
	}
	nsyms = symsh.sh_entsize ? symsh.sh_size / symsh.sh_entsize : 0;
	scn = NULL;
	while (!r && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_REL ||
		    sh.sh_info != maps_idx || !sh.sh_entsize ||
		    !(rels = elf_getdata(scn, NULL)))
			continue;
		nrel = sh.sh_size / sh.sh_entsize;
		for (i = 0; !r && i < nrel; i++) {
			if (!gelf_getrel(rels, (int)i, &rel) ||
			    !gelf_getsym(
				syms, (int)GELF_R_SYM(rel.r_info), &sym))
				continue;
			ii = map_index(
			    c, elf_strptr(e, symsh.sh_link, sym.st_name) ?: "");
			for (j = 0, oi = -1; oi < 0 && j < nsyms; j++)
				if (gelf_getsym(syms, (int)j, &outer) &&
				    outer.st_shndx == maps_idx &&
				    outer.st_value <= rel.r_offset &&
				    rel.r_offset <
					outer.st_value + outer.st_size)
					oi = map_index(
					    c, elf_strptr(e, symsh.sh_link,
						   outer.st_name)
						   ?: "");
			if (ii < 0 || oi < 0 ||
			    c->maps[oi].type != BPF_MAP_TYPE_ARRAY_OF_MAPS)
				continue;
			voff = values_offset(btf, c->maps[oi].name);
			if (voff < 0 ||
			    rel.r_offset < outer.st_value + (uint64_t)voff) {
				r = -EINVAL;
				break;
			}
			j = (rel.r_offset - outer.st_value - (uint64_t)voff) /
			    8;
			if (j < FAKE_SWAP_COPIES_MAX)
				c->maps[oi].inner[j] = (uint32_t)ii + 1;
		}
	}
	elf_end(e);
	return r;
}

static bool
set_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9')))
			return false;
	return n && n <= FAKE_SWAP_SET_MAX;
}

/*
 * c's swap sets, from its maps, refused as mapswap_check_object() refuses
 * them: an index map cub_sw_S as CUB_SWAP_SET() declares it, 1 to 8
 * members S__<name>, ARRAY_OF_MAPS of 2 to 8 copies alike, every slot
 * filled.  0, or -EINVAL with the broker's words in errv.
 */
static int
swaps_build(struct fcube *c, struct cub_val **errv)
{
	const size_t pl = strlen(FAKE_SWAP_PREFIX);
	struct fswap *set;
	struct fmap *m, *o;
	uint32_t i, j, k;
	size_t n;

	c->nswaps = 0;
	for (i = 0; i < c->nmaps; i++) {
		m = &c->maps[i];
		if (strncmp(m->name, FAKE_SWAP_PREFIX, pl))
			continue;
		if (!set_name_ok(m->name + pl) ||
		    m->type != BPF_MAP_TYPE_ARRAY || m->key_size != 4 ||
		    m->value_size != 4 || m->max_entries != 1) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': map '%s' is not as CUB_SWAP_SET() "
			    "declares it (swap.bpf.h): a one-entry ARRAY of a "
			    "__u32 named %s<set>, the set 1 to %d lowercase "
			    "letters and digits",
			    c->name, m->name, FAKE_SWAP_PREFIX,
			    FAKE_SWAP_SET_MAX);
			return -EINVAL;
		}
		if (c->nswaps == FAKE_SWAPS_MAX) {
			*errv = ferr(CUB_E_LIMIT,
			    "cube '%s': the fake broker holds at most %d swap "
			    "sets",
			    c->name, FAKE_SWAPS_MAX);
			return -EINVAL;
		}
		set = &c->swaps[c->nswaps];
		memset(set, 0, sizeof(*set));
		memcpy(set->name, m->name + pl, strlen(m->name + pl) + 1);
		set->index = i;
		set->filling = -1;
		n = strlen(set->name);
		for (j = 0; j < c->nmaps; j++) {
			o = &c->maps[j];
			if (strncmp(o->name, set->name, n) ||
			    o->name[n] != '_' || o->name[n + 1] != '_' ||
			    !o->name[n + 2])
				continue;
			if (o->type != BPF_MAP_TYPE_ARRAY_OF_MAPS ||
			    o->max_entries < 2 ||
			    o->max_entries > FAKE_SWAP_COPIES_MAX ||
			    (set->ncopies && o->max_entries != set->ncopies) ||
			    set->nmembers == FAKE_SWAP_MEMBERS_MAX) {
				*errv = ferr(CUB_E_REFUSED,
				    "cube '%s': swap set '%s': member '%s' "
				    "must be an ARRAY_OF_MAPS of 2 to %d "
				    "copies, as many as the other members "
				    "(at most %d members)",
				    c->name, set->name, o->name,
				    FAKE_SWAP_COPIES_MAX,
				    FAKE_SWAP_MEMBERS_MAX);
				return -EINVAL;
			}
			set->ncopies = o->max_entries;
			for (k = 0; k < set->ncopies; k++) {
				if (!o->inner[k]) {
					*errv = ferr(CUB_E_REFUSED,
					    "cube '%s': swap set '%s': member "
					    "'%s' has no map in slot %u "
					    "(.values = { ... }, swap.bpf.h)",
					    c->name, set->name, o->name, k);
					return -EINVAL;
				}
				set->copy[set->nmembers][k] = o->inner[k] - 1;
			}
			set->member[set->nmembers++] = j;
		}
		if (!set->nmembers) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': swap set '%s' has no member "
			    "(ARRAY_OF_MAPS named %s__<name>)",
			    c->name, set->name, set->name);
			return -EINVAL;
		}
		c->nswaps++;
	}
	return 0;
}

/*
 * The broker's policy check at bpf.load (broker/bpfobj.c, check_object()
 * and check_insns()), on what libbpf opened, with its words: the hook's
 * program (present, once, of the hook's type, declared), its helper
 * calls (the networking set, bpfpolicy.c, the broker's own table), every
 * map's type against the policy's map_types and the broker-only types
 * (framework and swap maps have their shapes checked instead), at most
 * CUBI_MAX_MAPS maps, their bytes (cubi_map_bytes() with the fake's CPUs)
 * against max_map_bytes within cubicled's default --max-cube-map-bytes,
 * and the framework maps' exact shape.  Programs other than the hook's
 * are not loaded by the broker: cub_fake__test_run() runs only the
 * checked one too.
 */
#define FAKE_MAX_CUBE_MAP_BYTES (256ull << 20) /* cubicled's default */

static int
policy_check(struct cub_fake *f, const struct fcube *c, struct bpf_object *obj,
    struct cub_val **errv)
{
	const struct cub_bpf_policy *pol = &f->pl->policy;
	const char *hook = cub_val__get_str(c->doc, "type") ?: "TC";
	bool tc = !strcmp(hook, "TC");
	const char *want = tc ? "cub_ingress_tc" : "cub_ingress_xdp";
	enum bpf_prog_type want_type =
	    tc ? BPF_PROG_TYPE_SCHED_CLS : BPF_PROG_TYPE_XDP;
	const struct cubi_fw_map *fw;
	struct bpf_program *prog, *found = NULL;
	struct bpf_map *m, *in, *big = NULL;
	uint64_t total = 0, one, big_bytes = 0, cap;
	char msg[512];
	enum bpf_map_type t;
	int nmaps = 0;

	bpf_object__for_each_program(prog, obj)
	{
		if (strcmp(bpf_program__name(prog), want))
			continue;
		if (found) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': object has two programs named '%s' "
			    "(sections %s and %s)",
			    c->name, want, bpf_program__section_name(found),
			    bpf_program__section_name(prog));
			return -EPERM;
		}
		found = prog;
	}
	if (!found) {
		*errv = ferr(CUB_E_REFUSED,
		    "cube '%s': object has no program '%s' for hook %s",
		    c->name, want, hook);
		return -EPERM;
	}
	if (bpf_program__type(found) != want_type) {
		*errv = ferr(CUB_E_REFUSED,
		    "cube '%s': program '%s' has type %s, hook %s needs %s",
		    c->name, want,
		    libbpf_bpf_prog_type_str(bpf_program__type(found)), hook,
		    libbpf_bpf_prog_type_str(want_type));
		return -EPERM;
	}
	if (want_type >= 32 || !(pol->prog_types & (1u << want_type))) {
		*errv = ferr(CUB_E_REFUSED,
		    "cube '%s': service '%s' did not declare program type %s",
		    c->name, f->pl->name, libbpf_bpf_prog_type_str(want_type));
		return -EPERM;
	}
	if (cubi_check_calls(c->name, want, bpf_program__insns(found),
		bpf_program__insn_cnt(found), msg, sizeof(msg))) {
		*errv = ferr(CUB_E_REFUSED, "%s", msg);
		return -EPERM;
	}
	bpf_object__for_each_map(m, obj)
	{
		t = bpf_map__type(m);
		if (++nmaps > CUBI_MAX_MAPS) {
			*errv =
			    ferr(CUB_E_REFUSED, "cube '%s': more than %d maps",
				c->name, CUBI_MAX_MAPS);
			return -EPERM;
		}
		one = cubi_map_bytes(f->ncpus, t, bpf_map__key_size(m),
		    bpf_map__value_size(m), bpf_map__max_entries(m));
		if ((in = bpf_map__inner_map(m)))
			one += cubi_map_bytes(f->ncpus, bpf_map__type(in),
			    bpf_map__key_size(in), bpf_map__value_size(in),
			    bpf_map__max_entries(in));
		total += one;
		if (one > big_bytes) {
			big_bytes = one;
			big = m;
		}
		if (bpf_map__is_internal(m) ||
		    cubi_fw_map_find(bpf_map__name(m)) ||
		    !strncmp(bpf_map__name(m), FAKE_SWAP_PREFIX,
			strlen(FAKE_SWAP_PREFIX)))
			continue;
		if ((unsigned)t >= 64 || !(pol->map_types & (1ull << t)) ||
		    cubi_map_type_broker_only(t)) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': map '%s' has type %s, not declared by "
			    "service '%s'",
			    c->name, bpf_map__name(m),
			    libbpf_bpf_map_type_str(t), f->pl->name);
			return -EPERM;
		}
		t = in ? bpf_map__type(in) : t;
		if (in &&
		    ((unsigned)t >= 64 || !(pol->map_types & (1ull << t)) ||
			cubi_map_type_broker_only(t))) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': map '%s' has inner maps of type %s, "
			    "not declared by service '%s'",
			    c->name, bpf_map__name(m),
			    libbpf_bpf_map_type_str(t) ?: "?", f->pl->name);
			return -EPERM;
		}
	}
	cap = pol->max_map_bytes < FAKE_MAX_CUBE_MAP_BYTES
		  ? pol->max_map_bytes
		  : FAKE_MAX_CUBE_MAP_BYTES;
	if (total > cap) {
		*errv = ferr(CUB_E_REFUSED,
		    "cube '%s': maps need %llu bytes (per-CPU maps once per "
		    "possible CPU, %u; the largest, map '%s' (%s), %llu "
		    "bytes), over the limit of %llu",
		    c->name, (unsigned long long)total, f->ncpus,
		    bpf_map__name(big),
		    libbpf_bpf_map_type_str(bpf_map__type(big)) ?: "?",
		    (unsigned long long)big_bytes, (unsigned long long)cap);
		return -EPERM;
	}
	for (fw = cubi_fw_maps; fw->name; fw++) {
		m = bpf_object__find_map_by_name(obj, fw->name);
		if (!m && fw->optional)
			continue;
		if (!m || !cubi_fw_map_ok(fw, bpf_map__type(m),
			      bpf_map__key_size(m), bpf_map__value_size(m),
			      bpf_map__max_entries(m), bpf_map__map_flags(m))) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': framework map '%s' missing or not as "
			    "declared in cube.bpf.h",
			    c->name, fw->name);
			return -EPERM;
		}
	}
	return 0;
}

/* bpf.load: {cube, elf} -> {maps}.  libbpf opens the object: its maps as
 * the ELF declares them, nothing loaded.  A second load of a cube (a
 * replay) keeps the maps it has, as the broker's adoption does. */
static int
do_load(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *elf = cub_val__get(p, "elf");
	struct fcube *c = own_cube(f, p, errv);
	struct bpf_object *obj;
	struct bpf_map *bm;
	char name[CUB_NAME_MAX + 8];
	int r = 0;

	if (!c)
		return -EREMOTEIO;
	if (!elf || elf->kind != CUB_V_BIN || !elf->bin.len) {
		*errv = ferr(CUB_E_TYPE, "bpf.load: 'elf' must be bytes");
		return -EREMOTEIO;
	}
	if (!c->loaded) {
		snprintf(name, sizeof(name), "%s", c->name);
		obj = bpf_object__open_mem(elf->bin.ptr, elf->bin.len,
		    &(struct bpf_object_open_opts){
			.sz = sizeof(struct bpf_object_open_opts),
			.object_name = name});
		if (!obj) {
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': the object does not open: %s", c->name,
			    strerror(errno));
			return -EREMOTEIO;
		}
		if (policy_check(f, c, obj, errv)) {
			bpf_object__close(obj);
			return -EREMOTEIO;
		}
		bpf_object__for_each_map(bm, obj)
		{
			if (c->nmaps == FAKE_MAPS_MAX) {
				r = -E2BIG;
				break;
			}
			if ((r = fmap_init(&c->maps[c->nmaps++], bm, f->ncpus)))
				break;
		}
		if (!r && fill_inner(c, obj, elf->bin.ptr, elf->bin.len)) {
			bpf_object__close(obj);
			cube_unload(c);
			*errv = ferr(CUB_E_REFUSED,
			    "cube '%s': the object's map-in-map slots do not "
			    "parse",
			    c->name);
			return -EREMOTEIO;
		}
		bpf_object__close(obj);
		if (!r && swaps_build(c, errv)) {
			cube_unload(c);
			return -EREMOTEIO;
		}
		if (r) {
			cube_unload(c);
			*errv = ferr(CUB_E_LIMIT,
			    "cube '%s': the fake broker cannot hold its maps: "
			    "%s",
			    c->name, strerror(-r));
			return -EREMOTEIO;
		}
		c->elf = memdup(elf->bin.ptr, elf->bin.len);
		c->elf_len = elf->bin.len;
		c->loaded = true;
	}
	*res = cub_val__map();
	cub_val__set(*res, "maps", maps_val(c));
	return 0;
}

/* The map of p {cube, map: id}; framework maps (cub_*) are the broker's. */
static struct fmap *
map_get(struct cub_fake *f, const char *method, const struct cub_val *p,
    bool write, struct cub_val **errv)
{
	struct fcube *c = own_cube(f, p, errv);
	uint64_t id;

	if (!c)
		return NULL;
	if (cub_val__as_u64(cub_val__get(p, "map"), &id)) {
		*errv = ferr(CUB_E_TYPE, "%s: 'map' must be a map id", method);
		return NULL;
	}
	if (id < 1 || id > c->nmaps) {
		*errv = ferr(CUB_E_NOTFOUND, "cube '%s': no map with id %llu",
		    c->name, (unsigned long long)id);
		return NULL;
	}
	if (write && !strncmp(c->maps[id - 1].name, "cub_", 4)) {
		*errv = ferr(CUB_E_PERM, "map '%s' belongs to the broker",
		    c->maps[id - 1].name);
		return NULL;
	}
	if (!modelled(&c->maps[id - 1])) {
		*errv = ferr(CUB_E_KERNEL,
		    "map '%s': the fake broker does not model maps of type "
		    "%s",
		    c->maps[id - 1].name,
		    libbpf_bpf_map_type_str(c->maps[id - 1].type) ?: "?");
		cub_val__set(*errv, "errno", cub_val__uint(EOPNOTSUPP));
		return NULL;
	}
	return &c->maps[id - 1];
}

static bool
bin_of(const struct cub_val *v, size_t len)
{
	return v && v->kind == CUB_V_BIN && v->bin.len == len;
}

/* map.update / map.lookup / map.delete (wcall.c's wc_map()). */
static int
do_map(struct cub_fake *f, const char *method, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv)
{
	const struct cub_val *key = cub_val__get(p, "key");
	const struct cub_val *val = cub_val__get(p, "value");
	bool lookup = !strcmp(method, CUB_M_MAP_LOOKUP);
	struct fmap *m = map_get(f, method, p, !lookup, errv);
	uint64_t flags = 0;
	int64_t s;
	int r;

	if (!m)
		return -EREMOTEIO;
	if (cub_val__get(p, "flags") &&
	    cub_val__as_u64(cub_val__get(p, "flags"), &flags)) {
		*errv =
		    ferr(CUB_E_TYPE, "%s: 'flags' must be an integer", method);
		return -EREMOTEIO;
	}
	if (type_queue(m->type) && !lookup &&
	    strcmp(method, CUB_M_MAP_UPDATE)) {
		r = -EINVAL; /* a queue's entries are popped, not deleted */
		return kernel_err(r, m, method, errv);
	}
	if (type_queue(m->type) && lookup) {
		uint8_t *v = malloc(m->vsz + 1);

		r = v ? fmap_pop(m, v, false) : -ENOMEM;
		if (!r) {
			*res = cub_val__map();
			cub_val__set(*res, "value", cub_val__bin(v, m->vsz));
		}
		free(v);
		return r ? kernel_err(r, m, method, errv) : 0;
	}
	if (!type_queue(m->type) && !bin_of(key, m->key_size)) {
		*errv = ferr(CUB_E_INVAL, "map '%s': key must be %u bytes",
		    m->name, m->key_size);
		return -EREMOTEIO;
	}
	if (!strcmp(method, CUB_M_MAP_UPDATE)) {
		if (!bin_of(val, m->vsz)) {
			*errv = ferr(CUB_E_INVAL,
			    "map '%s': value must be %zu bytes", m->name,
			    m->vsz);
			return -EREMOTEIO;
		}
		r = fmap_update_(m, key ? key->bin.ptr : NULL, val->bin.ptr,
		    flags, -1, ++f->clock);
	} else if (!lookup) {
		r = fmap_delete(m, key->bin.ptr);
	} else {
		s = fmap_match(m, key->bin.ptr);
		r = s < 0 ? -ENOENT : 0;
		if (!r) {
			m->stamp[s] = ++f->clock;
			*res = cub_val__map();
			cub_val__set(*res, "value",
			    cub_val__bin(slot_val(m, (uint32_t)s), m->vsz));
		}
	}
	return r ? kernel_err(r, m, method, errv) : 0;
}

/* map.batch on a QUEUE or STACK (mapbatch.c's lookup_each()): updates
 * push, lookup_and_delete pops up to n, lookup peeks one value. */
static int
queue_batch(struct fmap *m, const char *op, uint32_t n,
    const struct cub_val *vals, struct cub_val **res, struct cub_val **errv)
{
	bool del = !strcmp(op, "lookup_and_delete");
	uint32_t done = 0;
	uint8_t *vb = NULL;
	int r = 0;

	if (!strcmp(op, "delete")) {
		r = kernel_err(-EINVAL, m, "map.batch", errv);
		cub_val__set(*errv, "count", cub_val__uint(0));
		return r;
	}
	if (!strcmp(op, "update")) {
		if (!n || !bin_of(vals, (size_t)n * m->vsz)) {
			*errv = ferr(CUB_E_INVAL,
			    "map '%s': map.batch update: values must be %zu "
			    "bytes each, as many as 'count'",
			    m->name, m->vsz);
			return -EREMOTEIO;
		}
		for (; done < n && !r; done += !r)
			r = fmap_push(
			    m, vals->bin.ptr + (size_t)done * m->vsz, BPF_ANY);
		if (r) {
			kernel_err(r, m, "map.batch", errv);
			cub_val__set(*errv, "count", cub_val__uint(done));
			return -EREMOTEIO;
		}
		*res = cub_val__map();
		cub_val__set(*res, "count", cub_val__uint(done));
		cub_val__set(*res, "kernel", cub_val__bool(false));
		return 0;
	}
	if (!(vb = malloc((size_t)n * m->vsz + 1)))
		return -ENOMEM;
	for (; done < n; done++) {
		if ((r = fmap_pop(m, vb + (size_t)done * m->vsz, del)))
			break;
		if (!del) { /* a peek sees one value */
			done++;
			r = -ENOENT;
			break;
		}
	}
	*res = cub_val__map();
	cub_val__set(*res, "count", cub_val__uint(done));
	cub_val__set(*res, "kernel", cub_val__bool(false));
	cub_val__set(*res, "keys", cub_val__bin(NULL, 0));
	cub_val__set(*res, "values", cub_val__bin(vb, (size_t)done * m->vsz));
	cub_val__set(*res, "out_batch", cub_val__bin(NULL, 0));
	cub_val__set(*res, "more", cub_val__bool(r != -ENOENT));
	free(vb);
	return 0;
}

/* map.batch (wcall.c's wc_batch()): update and delete entry by entry,
 * all checked first; lookups from a cursor, a slot number for the hash
 * family (the kernel's bucket) and the last key for the others. */
static int
do_batch(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const char *op = cub_val__get_str(p, "op");
	const struct cub_val *keys = cub_val__get(p, "keys");
	const struct cub_val *vals = cub_val__get(p, "values");
	const struct cub_val *in = cub_val__get(p, "in_batch");
	bool update = op && !strcmp(op, "update");
	bool del = op && !strcmp(op, "delete");
	bool lookup = op && !strcmp(op, "lookup");
	bool lookdel = op && !strcmp(op, "lookup_and_delete");
	uint64_t count = 0, elem_flags = 0;
	struct cub_val *ko, *vo;
	uint32_t n, done = 0, csz, cur32;
	uint8_t *kb = NULL, *vb = NULL;
	int64_t s;
	struct fmap *m;
	bool hash;
	int r = 0;

	if (!update && !del && !lookup && !lookdel) {
		*errv = ferr(CUB_E_INVAL, "map.batch: 'op' must be update, "
					  "delete, lookup or "
					  "lookup_and_delete");
		return -EREMOTEIO;
	}
	cub_val__as_u64(cub_val__get(p, "count"), &count);
	cub_val__as_u64(cub_val__get(p, "elem_flags"), &elem_flags);
	if (count > CUB_BATCH_MAX || ((lookup || lookdel) && !count)) {
		*errv = ferr(CUB_E_LIMIT,
		    "map.batch: 'count' must be a number up to %d",
		    CUB_BATCH_MAX);
		return -EREMOTEIO;
	}
	if (!(m = map_get(f, CUB_M_MAP_BATCH, p, !lookup, errv)))
		return -EREMOTEIO;
	n = (uint32_t)count;
	if (type_queue(m->type))
		return queue_batch(m, op, n, vals, res, errv);
	if (update || del) {
		if (!bin_of(keys, (size_t)n * m->key_size) || !n ||
		    (update && !bin_of(vals, (size_t)n * m->vsz))) {
			*errv = ferr(CUB_E_INVAL,
			    "map '%s': map.batch %s: keys must be %u bytes and "
			    "values %zu bytes each, as many as 'count' (at "
			    "most %d)",
			    m->name, op, m->key_size, m->vsz, CUB_BATCH_MAX);
			return -EREMOTEIO;
		}
		for (; done < n && !r; done += !r)
			r = update ? fmap_update_(m,
					 keys->bin.ptr +
					     (size_t)done * m->key_size,
					 vals->bin.ptr + (size_t)done * m->vsz,
					 elem_flags, -1, ++f->clock)
				   : fmap_delete(
					 m, keys->bin.ptr +
						(size_t)done * m->key_size);
		if (r) {
			kernel_err(r, m, "map.batch", errv);
			cub_val__set(*errv, "count", cub_val__uint(done));
			return -EREMOTEIO;
		}
		*res = cub_val__map();
		cub_val__set(*res, "count", cub_val__uint(done));
		cub_val__set(*res, "kernel", cub_val__bool(false));
		return 0;
	}
	hash = m->type == BPF_MAP_TYPE_HASH ||
	       m->type == BPF_MAP_TYPE_PERCPU_HASH || type_lru(m->type);
	if (m->type == BPF_MAP_TYPE_LPM_TRIE && lookdel) {
		*errv = ferr(CUB_E_KERNEL, "map '%s': map.batch failed: %s",
		    m->name, strerror(EOPNOTSUPP));
		cub_val__set(*errv, "errno", cub_val__uint(EOPNOTSUPP));
		cub_val__set(*errv, "count", cub_val__uint(0));
		return -EREMOTEIO;
	}
	csz = hash ? 4 : m->key_size;
	if (in && !bin_of(in, csz)) {
		*errv = ferr(CUB_E_INVAL,
		    "map '%s': map.batch: 'in_batch' must be the %u bytes "
		    "of the last call's 'out_batch'",
		    m->name, csz);
		return -EREMOTEIO;
	}
	if (!in)
		s = fmap_next(m, -1);
	else if (hash) {
		memcpy(&cur32, in->bin.ptr, 4);
		s = cur32 < m->max_entries ? fmap_next(m, (int64_t)cur32 - 1)
					   : -1;
	} else {
		s = fmap_find(m, in->bin.ptr);
		s = fmap_next(m, s < 0 ? -1 : s);
	}
	kb = malloc((size_t)n * m->key_size + 1);
	vb = malloc((size_t)n * m->vsz + 1);
	for (; kb && vb && s >= 0 && done < n; done++) {
		memcpy(kb + (size_t)done * m->key_size,
		    slot_key(m, (uint32_t)s), m->key_size);
		memcpy(vb + (size_t)done * m->vsz, slot_val(m, (uint32_t)s),
		    m->vsz);
		if (lookdel && !type_array(m->type)) {
			m->used[s] = 0;
			m->n--;
		}
		s = fmap_next(m, s);
	}
	*res = cub_val__map();
	ko = cub_val__bin(kb, (size_t)done * m->key_size);
	vo = cub_val__bin(vb, (size_t)done * m->vsz);
	cub_val__set(*res, "count", cub_val__uint(done));
	cub_val__set(*res, "kernel", cub_val__bool(false));
	cub_val__set(*res, "keys", ko);
	cub_val__set(*res, "values", vo);
	cur32 = s < 0 ? m->max_entries : (uint32_t)s;
	if (hash)
		cub_val__set(*res, "out_batch", cub_val__bin(&cur32, 4));
	else if (done)
		cub_val__set(*res, "out_batch",
		    cub_val__bin(
			kb + (size_t)(done - 1) * m->key_size, m->key_size));
	else if (in)
		cub_val__set(*res, "out_batch", cub_val__dup(in));
	else
		cub_val__set(*res, "out_batch",
		    cub_val__bin(slot_key(m, 0), m->key_size));
	cub_val__set(*res, "more", cub_val__bool(s >= 0));
	free(kb);
	free(vb);
	return 0;
}

/* map.dump: {cube, map, after} -> {keys, values, more, cursor}, paged
 * under half the message cap as the broker pages it. */
static int
do_dump(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *after = cub_val__get(p, "after");
	struct fmap *m = map_get(f, CUB_M_MAP_DUMP, p, false, errv);
	struct cub_val *keys, *vals;
	size_t used = 0;
	int64_t s, last = -1;

	if (!m)
		return -EREMOTEIO;
	if (after && !bin_of(after, m->key_size)) {
		*errv = ferr(CUB_E_INVAL, "map.dump: 'after' must be a key");
		return -EREMOTEIO;
	}
	s = after ? fmap_find(m, after->bin.ptr) : -1;
	s = fmap_next(m, s);
	keys = cub_val__array();
	vals = cub_val__array();
	for (; s >= 0; s = fmap_next(m, s)) {
		if (used + m->key_size + m->vsz + 16 > CUB_MSG_MAX / 2)
			break;
		cub_val__push(
		    keys, cub_val__bin(slot_key(m, (uint32_t)s), m->key_size));
		cub_val__push(
		    vals, cub_val__bin(slot_val(m, (uint32_t)s), m->vsz));
		used += m->key_size + m->vsz + 16;
		last = s;
	}
	*res = cub_val__map();
	cub_val__set(*res, "keys", keys);
	cub_val__set(*res, "values", vals);
	cub_val__set(*res, "more", cub_val__bool(s >= 0));
	if (s >= 0 && last >= 0)
		cub_val__set(*res, "cursor",
		    cub_val__bin(slot_key(m, (uint32_t)last), m->key_size));
	return 0;
}

static int
do_log(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *msg = cub_val__get(p, "message");
	struct fcube *c = own_cube(f, p, errv);
	struct cub_fake_log *l;
	uint64_t level;

	if (!c)
		return -EREMOTEIO;
	if (cub_val__as_u64(cub_val__get(p, "level"), &level) ||
	    level >= CUB_LOG_OFF || !msg || msg->kind != CUB_V_BIN ||
	    msg->bin.len > CUB_LOG_MSG_MAX) {
		*errv = ferr(CUB_E_INVAL, "cube.log: a bad level or message");
		return -EREMOTEIO;
	}
	if (!(l = grow(f->logs, f->nlogs, sizeof(*l))))
		return -ENOMEM;
	f->logs = l;
	l += f->nlogs++;
	snprintf(l->cube, sizeof(l->cube), "%s", c->name);
	l->level = (int)level;
	l->msg = calloc(1, msg->bin.len + 1);
	if (l->msg)
		memcpy(l->msg, msg->bin.ptr, msg->bin.len);
	*res = cub_val__map();
	return 0;
}

/* Is idx the index of one of the cube's ports? */
static bool
port_of(const struct fcube *c, uint64_t idx)
{
	const struct cub_val *ports = cub_val__get(c->doc, "ports");
	uint64_t v;
	uint32_t i;

	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++)
		if (!cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &v) &&
		    v == idx)
			return true;
	return false;
}

static int
do_pktout(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *data = cub_val__get(p, "data");
	struct fcube *c = own_cube(f, p, errv);
	struct cub_fake_pkt *k;
	uint64_t port = 0, flags = 0;

	if (!c)
		return -EREMOTEIO;
	cub_val__as_u64(cub_val__get(p, "port"), &port);
	cub_val__as_u64(cub_val__get(p, "flags"), &flags);
	if (!port_of(c, port)) {
		*errv = ferr(CUB_E_NOTFOUND,
		    "cube '%s': packet.out: no port of index %llu", c->name,
		    (unsigned long long)port);
		return -EREMOTEIO;
	}
	if (flags != CUB_PKTOUT_EGRESS && flags != CUB_PKTOUT_INGRESS) {
		*errv = ferr(CUB_E_INVAL,
		    "cube '%s': packet.out: 'flags' must be egress (1) or "
		    "ingress (2)",
		    c->name);
		return -EREMOTEIO;
	}
	if (!data || data->kind != CUB_V_BIN || data->bin.len < 14) {
		*errv = ferr(CUB_E_INVAL,
		    "cube '%s': packet.out: a frame of at least 14 bytes",
		    c->name);
		return -EREMOTEIO;
	}
	if (!(k = grow(f->pkts, f->npkts, sizeof(*k))))
		return -ENOMEM;
	f->pkts = k;
	k += f->npkts++;
	snprintf(k->cube, sizeof(k->cube), "%s", c->name);
	k->port = (uint32_t)port;
	k->flags = (uint32_t)flags;
	k->data = memdup(data->bin.ptr, data->bin.len);
	k->len = data->bin.len;
	*res = cub_val__map();
	cub_val__set(*res, "sent", cub_val__bool(true));
	return 0;
}

static int
do_helper(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "name");
	const struct cub_val *in = cub_val__get(p, "input");
	struct cub_fake_run *run;
	struct fhelper *h;
	void *out = NULL;
	size_t outlen = 0;
	int r;

	for (h = f->helpers; h && name; h = h->next)
		if (!strcmp(h->name, name))
			break;
	if (!h || !in || in->kind != CUB_V_BIN) {
		*errv = ferr(CUB_E_NOTFOUND,
		    "helper.run: no helper '%s' for service '%s'", name ?: "",
		    f->pl->name);
		return -EREMOTEIO;
	}
	if (!(run = grow(f->runs, f->nruns, sizeof(*run))))
		return -ENOMEM;
	f->runs = run;
	run += f->nruns++;
	run->cube[0] = 0;
	run->helper = strdup(name);
	run->input = memdup(in->bin.ptr, in->bin.len);
	run->len = in->bin.len;
	r = h->fn(in->bin.ptr, in->bin.len, &out, &outlen, h->ctx);
	if (r || outlen > CUB_HELPER_IO_MAX) {
		free(out);
		*errv = ferr(CUB_E_KERNEL, "helper '%s' failed: %s", name,
		    r ? strerror(-r) : "output over the cap");
		return -EREMOTEIO;
	}
	*res = cub_val__map();
	cub_val__set(*res, "output", cub_val__bin(out ? out : "", outlen));
	free(out);
	return 0;
}

static int
do_hello(struct cub_fake *f, const struct cub_val *p, struct cub_val **res,
    struct cub_val **errv)
{
	const struct cub_val *wire = cub_val__get(p, "schema");
	char err[256];
	bool b = false;
	uint32_t t;

	/* What cubicled allows, as its hello checks it (wcall.c), at its
	 * default --max-cube-map-bytes. */
	if (f->pl->policy.max_map_bytes > FAKE_MAX_CUBE_MAP_BYTES) {
		*errv = ferr(CUB_E_LIMIT,
		    "hello: policy.max_map_bytes %llu is over cubicled's "
		    "--max-cube-map-bytes %llu",
		    (unsigned long long)f->pl->policy.max_map_bytes,
		    FAKE_MAX_CUBE_MAP_BYTES);
		return -EREMOTEIO;
	}
	for (t = 0; t < 64; t++)
		if ((f->pl->policy.map_types & (1ull << t)) &&
		    cubi_map_type_broker_only(t)) {
			*errv = ferr(CUB_E_PERM,
			    "hello: policy.map_types declares %s, whose values "
			    "are interfaces, CPUs or sockets; the broker fills "
			    "no such map for a service",
			    libbpf_bpf_map_type_str((enum bpf_map_type)t)
				?: "an unknown type");
			return -EREMOTEIO;
		}
	f->schema = cubi_schema__free(f->schema);
	f->schema = cubi_schema__parse(
	    wire && wire->kind != CUB_V_NIL ? wire : NULL, err, sizeof(err));
	if (!f->schema) {
		*errv = ferr(CUB_E_INVAL, "service '%s': schema refused: %s",
		    f->pl->name, err);
		return -EREMOTEIO;
	}
	cub_val__as_bool(cub_val__get(p, "change"), &b);
	f->changes = b;
	b = false;
	cub_val__as_bool(cub_val__get(p, "action_config"), &b);
	f->action_config = b;
	*res = cub_val__map();
	cub_val__set(*res, "ncpus", cub_val__uint(f->ncpus));
	return 0;
}

/* The set of p {cube, set}, or NULL with the broker's error. */
static struct fswap *
own_set(struct cub_fake *f, const struct cub_val *p, struct fcube **cp,
    struct cub_val **errv)
{
	const char *name = cub_val__get_str(p, "set");
	struct fcube *c = own_cube(f, p, errv);
	uint32_t i;

	*cp = c;
	if (!c)
		return NULL;
	if (!c->loaded) {
		*errv = ferr(
		    CUB_E_NOTFOUND, "cube '%s' has no object loaded", c->name);
		return NULL;
	}
	if (!name || !set_name_ok(name)) {
		*errv = ferr(CUB_E_INVAL,
		    "swap set '%s': a set's name is 1 to %d lowercase letters "
		    "and digits",
		    name ?: "", FAKE_SWAP_SET_MAX);
		return NULL;
	}
	for (i = 0; i < c->nswaps; i++)
		if (!strcmp(c->swaps[i].name, name))
			return &c->swaps[i];
	*errv =
	    ferr(CUB_E_NOTFOUND, "cube '%s' has no swap set '%s' (no map %s%s)",
		c->name, name, FAKE_SWAP_PREFIX, name);
	return NULL;
}

static uint32_t
set_active(const struct fcube *c, const struct fswap *set)
{
	uint32_t a;

	memcpy(&a, slot_val(&c->maps[set->index], 0), sizeof(a));
	return a < set->ncopies ? a : 0;
}

static void
set_flip(struct fcube *c, const struct fswap *set, uint32_t k)
{
	memcpy(slot_val(&c->maps[set->index], 0), &k, sizeof(k));
}

/* The members' maps in copy k (mapswap.c's copy_maps()); with entries,
 * each one's whole contents (count, late: 0, keys, values). */
static struct cub_val *
set_maps(
    const struct fcube *c, const struct fswap *set, uint32_t k, bool entries)
{
	struct cub_val *maps = cub_val__array(), *item;
	const struct fmap *m;
	uint8_t *kb, *vb;
	uint32_t i, n;
	int64_t s;

	for (i = 0; i < set->nmembers; i++) {
		m = &c->maps[set->copy[i][k]];
		item = cub_val__map();
		cub_val__set(item, "name",
		    cub_val__str(
			c->maps[set->member[i]].name + strlen(set->name) + 2));
		cub_val__set(item, "id", cub_val__uint(set->copy[i][k] + 1));
		cub_val__set(item, "type", cub_val__uint(m->type));
		cub_val__set(item, "key_size", cub_val__uint(m->key_size));
		cub_val__set(item, "value_size", cub_val__uint(m->value_size));
		cub_val__set(
		    item, "max_entries", cub_val__uint(m->max_entries));
		if (entries && modelled(m) && !type_queue(m->type)) {
			kb = malloc((size_t)m->n * m->key_size + 1);
			vb = malloc((size_t)m->n * m->vsz + 1);
			for (n = 0, s = fmap_next(m, -1); kb && vb && s >= 0;
			     s = fmap_next(m, s), n++) {
				memcpy(kb + (size_t)n * m->key_size,
				    slot_key(m, (uint32_t)s), m->key_size);
				memcpy(vb + (size_t)n * m->vsz,
				    slot_val(m, (uint32_t)s), m->vsz);
			}
			cub_val__set(item, "count", cub_val__uint(n));
			cub_val__set(item, "late", cub_val__uint(0));
			cub_val__set(item, "keys",
			    cub_val__bin(kb, (size_t)n * m->key_size));
			cub_val__set(item, "values",
			    cub_val__bin(vb, (size_t)n * m->vsz));
			free(kb);
			free(vb);
		}
		cub_val__push(maps, item);
	}
	return maps;
}

/*
 * swap.begin, swap.commit, swap.abort and swap.read as mapswap.c answers
 * them, with no program running concurrently: no grace period to wait
 * for, no late update to fold (late is 0).  begin hands out the copy after
 * the active one (emptied with clear); a read abandons an open
 * transaction, empties the copy after the active one, flips to it, and
 * answers the copy it left whole (hashes: their entries; arrays: every
 * index), which it then empties: successive reads sum to every update.
 * With wait (the read before issue 9) the copy left is answered without
 * entries, for the SDK to read and zero.
 */
static int
do_swap(struct cub_fake *f, const char *method, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv)
{
	struct fcube *c;
	struct fswap *set = own_set(f, p, &c, errv);
	uint64_t txn = 0, bytes = 0;
	uint32_t a, t, i;
	bool flag = false;

	if (!set)
		return -EREMOTEIO;
	a = set_active(c, set);
	t = (a + 1) % set->ncopies;
	if (!strcmp(method, CUB_M_SWAP_BEGIN)) {
		cub_val__as_bool(cub_val__get(p, "clear"), &flag);
		set->filling = (int)t;
		set->txn = ++f->clock;
		for (i = 0; flag && i < set->nmembers; i++)
			fmap_clear(&c->maps[set->copy[i][t]]);
		*res = cub_val__map();
		cub_val__set(*res, "txn", cub_val__uint(set->txn));
		cub_val__set(*res, "copy", cub_val__uint(t));
		cub_val__set(*res, "copies", cub_val__uint(set->ncopies));
		cub_val__set(*res, "maps", set_maps(c, set, t, false));
		return 0;
	}
	if (!strcmp(method, CUB_M_SWAP_COMMIT) ||
	    !strcmp(method, CUB_M_SWAP_ABORT)) {
		if (cub_val__as_u64(cub_val__get(p, "txn"), &txn) ||
		    set->filling < 0 || txn != set->txn) {
			*errv = ferr(CUB_E_BUSY,
			    "swap set '%s': transaction %llu is not open (a "
			    "later swap.begin or swap.read ended it)",
			    set->name, (unsigned long long)txn);
			return -EREMOTEIO;
		}
		t = (uint32_t)set->filling;
		set->filling = -1;
		set->txn = 0;
		*res = cub_val__map();
		if (!strcmp(method, CUB_M_SWAP_COMMIT)) {
			set_flip(c, set, t);
			cub_val__set(*res, "copy", cub_val__uint(t));
			cub_val__set(*res, "retired", cub_val__uint(a));
		}
		return 0;
	}
	if (strcmp(method, CUB_M_SWAP_READ)) {
		*errv = ferr(CUB_E_NOMETHOD,
		    "the fake broker has no method '%s'", method);
		return -EREMOTEIO;
	}
	for (i = 0; i < set->nmembers; i++) {
		const struct fmap *m = &c->maps[set->copy[i][a]];

		bytes += 2 * (uint64_t)m->max_entries * (m->key_size + m->vsz);
	}
	if (bytes > CUB_MSG_MAX / 2) {
		*errv = ferr(CUB_E_LIMIT,
		    "cube '%s': swap set '%s': a read of its maps may take "
		    "%llu bytes, over the %u of one answer (fewer entries)",
		    c->name, set->name, (unsigned long long)bytes,
		    CUB_MSG_MAX / 2);
		return -EREMOTEIO;
	}
	set->filling = -1;
	set->txn = 0;
	cub_val__as_bool(cub_val__get(p, "wait"), &flag);
	for (i = 0; i < set->nmembers; i++)
		fmap_clear(&c->maps[set->copy[i][t]]);
	set_flip(c, set, t);
	*res = cub_val__map();
	cub_val__set(*res, "copy", cub_val__uint(a));
	cub_val__set(*res, "active", cub_val__uint(t));
	cub_val__set(*res, "maps", set_maps(c, set, a, !flag));
	for (i = 0; !flag && i < set->nmembers; i++)
		fmap_clear(&c->maps[set->copy[i][a]]);
	return 0;
}

/* The runtime's calls (cubi_transport_fn).  Takes params. */
static int
transport(const char *method, struct cub_val *params, struct cub_val **res,
    struct cub_val **errv)
{
	struct cub_fake *f = fake;
	int r;

	*res = *errv = NULL;
	if (!strcmp(method, CUB_M_HELLO))
		r = do_hello(f, params, res, errv);
	else if (!strcmp(method, CUB_M_LOAD))
		r = do_load(f, params, res, errv);
	else if (!strcmp(method, CUB_M_MAP_UPDATE) ||
		 !strcmp(method, CUB_M_MAP_LOOKUP) ||
		 !strcmp(method, CUB_M_MAP_DELETE))
		r = do_map(f, method, params, res, errv);
	else if (!strcmp(method, CUB_M_MAP_BATCH))
		r = do_batch(f, params, res, errv);
	else if (!strcmp(method, CUB_M_MAP_DUMP))
		r = do_dump(f, params, res, errv);
	else if (!strncmp(method, "swap.", 5))
		r = do_swap(f, method, params, res, errv);
	else if (!strcmp(method, CUB_M_CUBE_LOG))
		r = do_log(f, params, res, errv);
	else if (!strcmp(method, CUB_M_PKTOUT))
		r = do_pktout(f, params, res, errv);
	else if (!strcmp(method, CUB_M_HELPER_RUN))
		r = do_helper(f, params, res, errv);
	else if (!strcmp(method, CUB_M_PKTIN_DROPPED))
		r = (*res = cub_val__map()) ? 0 : -ENOMEM;
	else if (!strcmp(method, CUB_M_NETDEV_LIST)) {
		/* The fake has no host netdevs: an empty table. */
		*res = cub_val__map();
		r = *res && !cub_val__set(*res, "netdevs", cub_val__array())
			? 0
			: -ENOMEM;
	}
	else {
		*errv = ferr(CUB_E_NOMETHOD,
		    "the fake broker has no method '%s'", method);
		r = -EREMOTEIO;
	}
	cub_val__free(params);
	if (r && !*errv)
		*errv = ferr(CUB_E_INTERNAL, "fake broker: %s", strerror(-r));
	if (r)
		*res = cub_val__free(*res);
	return r ? -EREMOTEIO : 0;
}

/* ---- The client's side: requests to the plugin ---- */

/* A request to the plugin, as cubicle-worker hands it one.  Takes p. */
static int
worker_call(struct cub_fake *f, const char *method, struct cub_val *p,
    struct cub_val **result)
{
	struct cub_rpc rpc = {
	    .type = CUB_RPC_REQUEST, .method = (char *)method, .params = p};
	struct cub_val *res = NULL, *errv = NULL;

	cubi_worker__dispatch(&rpc, &res, &errv);
	cub_val__free(p);
	if (errv) {
		cub_val__free(res);
		set_err(f, errv);
		return -EREMOTEIO;
	}
	if (result)
		*result = res;
	else
		cub_val__free(res);
	return 0;
}

static struct cub_val *
cube_params(const struct fcube *c)
{
	struct cub_val *p = cub_val__map();

	cub_val__set(p, "cube", cub_val__str(c->name));
	return p;
}

/* The errno of a refusal: a CUB_E_* code's nearest. */
static int
refusal(struct cub_fake *f, struct cub_val *errv)
{
	int code;

	set_err(f, errv);
	code = cub_fake__error_code(f);
	return code == CUB_E_NOTFOUND  ? -ENOENT
	       : code == CUB_E_EXISTS  ? -EEXIST
	       : code == CUB_E_LIMIT   ? -ENOSPC
	       : code == CUB_E_PERM    ? -EPERM
	       : code == CUB_E_TOOBIG  ? -EMSGSIZE
	       : code == CUB_E_REFUSED ? -EPERM
				       : -EINVAL;
}

static void
cube_free(struct cub_fake *f, struct fcube *c)
{
	struct fcube **pp;

	for (pp = &f->cubes; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	cube_unload(c);
	cub_val__free(c->doc);
	free(c);
}

int
cub_fake__create(struct cub_fake *f, const char *name, const char *text)
{
	struct cub_val *body = NULL, *doc = NULL, *errv = NULL, *p;
	struct fcube *c;
	char err[256];
	int r;

	set_err(f, NULL);
	if (!name || !name[0] || strlen(name) > CUB_NAME_MAX)
		return refusal(
		    f, ferr(CUB_E_INVAL, "a cube's name is 1 to %d bytes",
			   CUB_NAME_MAX));
	if (cube_find(f, name))
		return refusal(
		    f, ferr(CUB_E_EXISTS, "cube '%s' already exists", name));
	if (text && text[0]) {
		body =
		    text[strspn(text, " \t\n")] == '{'
			? cub_json_parse(text, strlen(text), err, sizeof(err))
			: cub_yaml_parse(text, strlen(text), err, sizeof(err));
		if (!body || body->kind != CUB_V_MAP) {
			cub_val__free(body);
			return refusal(
			    f, ferr(CUB_E_INVAL, "cube '%s': its document: %s",
				   name, body ? "not a map" : err));
		}
	}
	r = cubi_tree__new_doc(
	    f->schema, name, f->pl->name, NULL, body, &doc, &errv);
	cub_val__free(body);
	if (r)
		return refusal(
		    f, errv ?: ferr(CUB_E_INTERNAL, "out of memory"));
	if (cubi_doc__port_indices(doc, CUB_MAX_PORTS)) {
		cub_val__free(doc);
		return refusal(
		    f, ferr(CUB_E_LIMIT, "cube '%s': at most %d ports", name,
			   CUB_MAX_PORTS));
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		cub_val__free(doc);
		return -ENOMEM;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->doc = doc;
	c->next = f->cubes;
	f->cubes = c;
	p = cube_params(c);
	cub_val__set(p, "create", cub_val__bool(true));
	cub_val__set(p, "config", cub_val__dup(doc));
	r = worker_call(f, CUB_M_CUBE_APPLY, p, NULL);
	if (!r && !c->loaded) {
		set_err(f, ferr(CUB_E_REFUSED,
			       "service '%s' did not load a program for cube "
			       "'%s'",
			       f->pl->name, c->name));
		r = -ENOENT;
	}
	if (r) {
		/* A refused creation creates nothing: the worker forgets
		 * the cube too. */
		struct cub_val *keep = f->err ? cub_val__dup(f->err) : NULL;

		worker_call(f, CUB_M_CUBE_DESTROY, cube_params(c), NULL);
		cube_free(f, c);
		set_err(f, keep);
		return r == -EREMOTEIO ? -EINVAL : r;
	}
	return 0;
}

static int
split_line(const char *line, struct cub_val **words, struct cub_val **args)
{
	char *dup = strdup(line ?: ""), *save = NULL, *w, *eq;

	*words = cub_val__array();
	*args = cub_val__map();
	if (!dup || !*words || !*args) {
		free(dup);
		return -ENOMEM;
	}
	for (w = strtok_r(dup, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		eq = strchr(w, '=');
		if (eq && eq != w) {
			*eq = 0;
			cub_val__set(*args, w, cub_val__str(eq + 1));
		} else {
			cub_val__push(*words, cub_val__str(w));
		}
	}
	free(dup);
	return 0;
}

/* A counter of the schema (struct cub_counter) at key, summed over CPUs
 * as the broker's counters.c reads it; false when its map has no such
 * entry. */
static bool
counter_read(struct cub_fake *f, struct fcube *c, const struct cub_counter *k,
    uint64_t key, uint64_t *sum)
{
	uint32_t n, cpu, key32 = (uint32_t)key, v32;
	struct fmap *m = NULL;
	uint64_t v;
	int64_t s;

	for (n = 0; n < c->nmaps; n++)
		if (!strcmp(c->maps[n].name, k->map))
			m = &c->maps[n];
	if (!m || !modelled(m) || m->key_size != (k->key_size ?: 4u) ||
	    (s = fmap_find(m, m->key_size == 4 ? (void *)&key32 : &key)) < 0)
		return false;
	*sum = 0;
	for (cpu = 0; cpu < (type_percpu(m->type) ? f->ncpus : 1); cpu++) {
		const uint8_t *val =
		    slot_val(m, (uint32_t)s) + stride(m) * cpu + k->offset;

		if (k->width == 4) {
			memcpy(&v32, val, 4);
			v = v32;
		} else {
			memcpy(&v, val, 8);
		}
		*sum += v;
	}
	return true;
}

/* The ro fields of a show the broker fills: the counters of the cube's
 * fields (a fixed key) and of ports[] (the port's index). */
static struct cub_val *
counters_overlay(struct cub_fake *f, struct fcube *c)
{
	const struct cub_field *fl, *pf = NULL;
	const struct cub_val *ports = cub_val__get(c->doc, "ports");
	struct cub_val *ov = cub_val__map(), *arr = cub_val__array(), *e;
	uint64_t idx, sum;
	uint32_t i, j;

	for (fl = f->pl->schema; fl && fl->name; fl++) {
		if (!strcmp(fl->name, "ports"))
			pf = fl->children;
		if (fl->counter && !fl->counter->key_field &&
		    counter_read(f, c, fl->counter, fl->counter->key, &sum))
			cub_val__set(ov, fl->name, cub_val__uint(sum));
	}
	for (i = 0;
	     pf && ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		e = cub_val__map();
		cub_val__set(e, "name",
		    cub_val__str(
			cub_val__get_str(ports->arr.items[i], "name") ?: ""));
		idx = 0;
		cub_val__as_u64(
		    cub_val__get(ports->arr.items[i], "index"), &idx);
		for (j = 0; pf[j].name; j++)
			if (pf[j].counter && pf[j].counter->key_field &&
			    !strcmp(pf[j].counter->key_field, "index") &&
			    counter_read(f, c, pf[j].counter, idx, &sum))
				cub_val__set(e, pf[j].name, cub_val__uint(sum));
		cub_val__push(arr, e);
	}
	cub_val__set(ov, "ports", arr);
	return ov;
}

static int
cmd_show(struct cub_fake *f, struct fcube *c, const struct cub_val *rest,
    const struct cub_val *args, struct cubi_result *res, bool in_place,
    struct cub_val **result)
{
	struct cub_val *ovs[2] = {NULL, NULL}, *p, *errv = NULL, *work;
	int r;

	if (!in_place && !res->want_overlay) {
		*result = res->reply;
		res->reply = NULL;
		return 0;
	}
	ovs[0] = counters_overlay(f, c);
	p = cube_params(c);
	cub_val__set(p, "config", in_place ? cub_val__dup(c->doc) : res->scope);
	if (!in_place)
		res->scope = NULL;
	if ((r = worker_call(f, CUB_M_CUBE_SHOW, p, &ovs[1]))) {
		cub_val__free(ovs[0]);
		return -EAGAIN;
	}
	cubi_result__clear(res);
	if (!in_place) {
		r = cubi_tree__read(f->schema, c->doc, rest, args,
		    (const struct cub_val *const *)ovs, 2, res, &errv);
	} else {
		work = cub_val__dup(c->doc);
		cubi_tree__merge_overlay(f->schema, work, ovs[0]);
		if (ovs[1])
			cubi_tree__merge_overlay(f->schema, work, ovs[1]);
		r = cubi_tree__apply(
		    f->schema, work, rest, args, NULL, res, &errv);
		cub_val__free(work);
	}
	cub_val__free(ovs[0]);
	cub_val__free(ovs[1]);
	if (r)
		return refusal(f, errv);
	*result = res->reply;
	res->reply = NULL;
	return 0;
}

/* A change the tree engine made on c->doc, to the plugin (cube.c's
 * cube_change(): indices, then a change list or the document). */
static int
cmd_change(struct cub_fake *f, struct fcube *c, struct cubi_result *res)
{
	struct cub_val *p, *changes = NULL;
	int r;

	if (!res->changed)
		return 0;
	if (cubi_doc__port_indices(c->doc, CUB_MAX_PORTS)) {
		cubi_tree__undo(res);
		return refusal(
		    f, ferr(CUB_E_LIMIT, "cube '%s': at most %d ports", c->name,
			   CUB_MAX_PORTS));
	}
	p = cube_params(c);
	if (f->changes) {
		if (cubi_tree__changes(res, &changes)) {
			cub_val__free(p);
			cubi_tree__undo(res);
			return -ENOMEM;
		}
		cub_val__set(p, "changes", changes);
		cub_val__set(p, "last", cub_val__bool(true));
		r = worker_call(f, CUB_M_CUBE_CHANGE, p, NULL);
	} else {
		cub_val__set(p, "create", cub_val__bool(false));
		cub_val__set(p, "config", cub_val__dup(c->doc));
		r = worker_call(f, CUB_M_CUBE_APPLY, p, NULL);
	}
	if (r) {
		cubi_tree__undo(res);
		return -EINVAL;
	}
	return 0;
}

int
cub_fake__cmd(struct cub_fake *f, const char *line, struct cub_val **result)
{
	struct cub_val *words = NULL, *args = NULL, *rest = NULL, *errv = NULL;
	struct cub_val *out = NULL, *p;
	struct cubi_result res = {0};
	bool in_place = false;
	struct fcube *c;
	uint32_t i;
	int r;

	set_err(f, NULL);
	if (result)
		*result = NULL;
	if ((r = split_line(line, &words, &args)))
		goto out;
	if (!words->arr.len) {
		r = refusal(f, ferr(CUB_E_MISSING, "no cube named"));
		goto out;
	}
	if (!(c = cube_find(f, words->arr.items[0]->str.ptr))) {
		r = refusal(f, ferr(CUB_E_NOTFOUND, "no cube '%s'",
				   words->arr.items[0]->str.ptr));
		goto out;
	}
	rest = cub_val__array();
	for (i = 1; i < words->arr.len; i++)
		cub_val__push(rest, cub_val__dup(words->arr.items[i]));
	r = cubi_tree__read(
	    f->schema, c->doc, rest, args, NULL, 0, &res, &errv);
	if (r == CUBI_NEEDS_COPY) {
		cubi_result__clear(&res);
		in_place = true;
		r = cubi_tree__change(
		    f->schema, c->doc, rest, args, NULL, &res, &errv);
	}
	if (r) {
		r = refusal(f, errv);
		goto out;
	}
	if (res.del_cube) {
		r = worker_call(f, CUB_M_CUBE_DESTROY, cube_params(c), NULL);
		cube_free(f, c);
		goto out;
	}
	switch (res.verb) {
	case CUBI_SHOW:
		r = cmd_show(f, c, rest, args, &res, in_place, &out);
		break;
	case CUBI_HELP:
		out = res.reply;
		res.reply = NULL;
		break;
	case CUBI_ACTION:
		p = cube_params(c);
		cub_val__set(p, "path", res.action_path);
		res.action_path = NULL;
		cub_val__set(p, "action", cub_val__str(res.action));
		cub_val__set(p, "args",
		    res.action_args ? res.action_args : cub_val__map());
		res.action_args = NULL;
		if (f->action_config)
			cub_val__set(p, "config", cub_val__dup(c->doc));
		r = worker_call(f, CUB_M_CUBE_ACTION, p, &out);
		break;
	default:
		r = cmd_change(f, c, &res);
		break;
	}
	if (r == -EREMOTEIO)
		r = -EINVAL;
out:
	cubi_result__clear(&res);
	cub_val__free(words);
	cub_val__free(args);
	cub_val__free(rest);
	if (result && !r)
		*result = out;
	else
		cub_val__free(out);
	return r;
}

char *
cub_fake__cmd_str(struct cub_fake *f, const char *line)
{
	struct cub_val *v = NULL;
	char *s = NULL;

	if (cub_fake__cmd(f, line, &v))
		return NULL;
	if (!v)
		return strdup("");
	switch (v->kind) {
	case CUB_V_STR:
		s = strdup(v->str.ptr);
		break;
	case CUB_V_UINT:
		if (asprintf(&s, "%llu", (unsigned long long)v->u) < 0)
			s = NULL;
		break;
	case CUB_V_INT:
		if (asprintf(&s, "%lld", (long long)v->i) < 0)
			s = NULL;
		break;
	case CUB_V_BOOL:
		s = strdup(v->b ? "true" : "false");
		break;
	default:
		s = cub_json_emit(v, false);
	}
	cub_val__free(v);
	return s;
}

const struct cub_val *
cub_fake__doc(const struct cub_fake *f, const char *cube)
{
	struct fcube *c = cube_find((struct cub_fake *)f, cube);

	return c ? c->doc : NULL;
}

/* ---- The data plane's view ---- */

static struct fmap *
dp_map(struct cub_fake *f, const char *cube, const char *map)
{
	struct fcube *c = cube_find(f, cube);
	uint32_t i;

	for (i = 0; c && map && i < c->nmaps; i++)
		if (!strcmp(c->maps[i].name, map) && modelled(&c->maps[i]))
			return &c->maps[i];
	return NULL;
}

void *
cub_fake__elem(struct cub_fake *f, const char *cube, const char *map,
    const void *key, uint32_t cpu)
{
	struct fmap *m = dp_map(f, cube, map);
	int64_t s;

	if (!m || !key || cpu >= f->ncpus || (s = fmap_match(m, key)) < 0)
		return NULL;
	return slot_val(m, (uint32_t)s) +
	       (type_percpu(m->type) ? stride(m) * cpu : 0);
}

int
cub_fake__update(struct cub_fake *f, const char *cube, const char *map,
    const void *key, const void *value, uint64_t flags, uint32_t cpu)
{
	struct fmap *m = dp_map(f, cube, map);

	if (!m)
		return -ENOENT;
	if (cpu >= f->ncpus)
		return -EINVAL;
	return fmap_update_(m, key, value, flags, (int)cpu, ++f->clock);
}

int
cub_fake__count(struct cub_fake *f, const char *cube, const char *map)
{
	struct fmap *m = dp_map(f, cube, map);

	return m ? (int)m->n : -ENOENT;
}

int
cub_fake__map(
    struct cub_fake *f, const char *cube, const char *map, cub_map *out)
{
	struct fcube *c = cube_find(f, cube);
	uint32_t i;

	for (i = 0; c && map && i < c->nmaps; i++)
		if (!strcmp(c->maps[i].name, map)) {
			*out = (cub_map){.id = i + 1,
			    .type = c->maps[i].type,
			    .key_size = c->maps[i].key_size,
			    .value_size = c->maps[i].value_size,
			    .max_entries = c->maps[i].max_entries,
			    .ncpus =
				type_percpu(c->maps[i].type) ? f->ncpus : 1};
			return 0;
		}
	return -ENOENT;
}

int
cub_fake__packet_in(struct cub_fake *f, const char *cube, uint32_t port,
    const void *data, size_t len)
{
	return cub_fake__packet_in_reason(f, cube, port, 0, data, len);
}

int
cub_fake__tick(struct cub_fake *f)
{
	(void)f;
	return cubi_worker__tick_all();
}

int
cub_fake__packet_in_reason(struct cub_fake *f, const char *cube, uint32_t port,
    uint32_t reason, const void *data, size_t len)
{
	struct cub_val *p, *pkt, *pkts;
	struct cub_rpc rpc = {
	    .type = CUB_RPC_NOTIFY, .method = (char *)CUB_M_PACKET_IN};

	if (!cube_find(f, cube))
		return -ENOENT;
	p = cub_val__map();
	pkt = cub_val__map();
	pkts = cub_val__array();
	cub_val__set(pkt, "port", cub_val__uint(port));
	cub_val__set(pkt, "reason", cub_val__uint(reason));
	cub_val__set(pkt, "data", cub_val__bin(data, len));
	cub_val__push(pkts, pkt);
	cub_val__set(p, "cube", cub_val__str(cube));
	cub_val__set(p, "packets", pkts);
	rpc.params = p;
	cubi_worker__notify(&rpc);
	cub_val__free(p);
	if (!cubi_worker__packet_pending())
		return -EINVAL;
	while (cubi_worker__packet_pending())
		cubi_worker__packet_next();
	return 0;
}

/* ---- Records ---- */

const struct cub_fake_log *
cub_fake__logs(const struct cub_fake *f, size_t *n)
{
	*n = f->nlogs;
	return f->logs;
}

const struct cub_fake_pkt *
cub_fake__pkts(const struct cub_fake *f, size_t *n)
{
	*n = f->npkts;
	return f->pkts;
}

const struct cub_fake_run *
cub_fake__runs(const struct cub_fake *f, size_t *n)
{
	*n = f->nruns;
	return f->runs;
}

void
cub_fake__clear_records(struct cub_fake *f)
{
	size_t i;

	for (i = 0; i < f->nlogs; i++)
		free(f->logs[i].msg);
	for (i = 0; i < f->npkts; i++)
		free(f->pkts[i].data);
	for (i = 0; i < f->nruns; i++) {
		free(f->runs[i].helper);
		free(f->runs[i].input);
	}
	free(f->logs);
	free(f->pkts);
	free(f->runs);
	f->logs = NULL;
	f->pkts = NULL;
	f->runs = NULL;
	f->nlogs = f->npkts = f->nruns = 0;
}

int
cub_fake__helper(
    struct cub_fake *f, const char *name, cub_fake_helper_fn fn, void *ctx)
{
	struct fhelper *h;

	if (!name || !fn)
		return -EINVAL;
	if (!(h = calloc(1, sizeof(*h))) || !(h->name = strdup(name))) {
		free(h);
		return -ENOMEM;
	}
	h->fn = fn;
	h->ctx = ctx;
	h->next = f->helpers;
	f->helpers = h;
	return 0;
}

/* ---- The BPF half, for real ---- */

/* The fake's entries of m into the kernel's map fd (per-CPU values
 * re-strided to the kernel's CPU count), or back (to_kernel false). */
static int
sync_map(struct cub_fake *f, struct fmap *m, int fd, bool to_kernel)
{
	int kcpus = type_percpu(m->type) ? libbpf_num_possible_cpus() : 1;
	size_t kvsz =
	    type_percpu(m->type) ? stride(m) * (size_t)kcpus : m->value_size;
	uint32_t i, cpus = type_percpu(m->type) ? f->ncpus : 1, cpu;
	uint8_t *buf, *key, *next;
	int64_t s;
	int r = 0;

	if (kcpus < 1 || !(buf = calloc(1, kvsz + m->key_size * 2 + 1)))
		return -ENOMEM;
	key = buf + kvsz;
	next = key + m->key_size;
	if (to_kernel) {
		for (i = 0; i < m->max_entries && !r; i++) {
			if (!m->used[i])
				continue;
			memset(buf, 0, kvsz);
			for (cpu = 0; cpu < cpus && cpu < (uint32_t)kcpus;
			     cpu++)
				memcpy(buf + stride(m) * cpu,
				    slot_val(m, i) + stride(m) * cpu,
				    type_percpu(m->type) ? m->value_size
							 : m->vsz);
			if (bpf_map_update_elem(fd, slot_key(m, i), buf, 0))
				r = -errno;
		}
	} else {
		bool have = false;

		while (
		    !r && !bpf_map_get_next_key(fd, have ? key : NULL, next)) {
			memcpy(key, next, m->key_size);
			have = true;
			if (bpf_map_lookup_elem(fd, key, buf))
				continue;
			s = fmap_find(m, key);
			if (s < 0 && (r = fmap_update_(m, key, slot_val(m, 0),
					  0, -1, ++f->clock)))
				break;
			s = fmap_find(m, key);
			for (cpu = 0;
			     s >= 0 && cpu < cpus && cpu < (uint32_t)kcpus;
			     cpu++)
				memcpy(
				    slot_val(m, (uint32_t)s) + stride(m) * cpu,
				    buf + stride(m) * cpu,
				    type_percpu(m->type) ? m->value_size
							 : m->vsz);
		}
	}
	free(buf);
	return r;
}

/*
 * For a run on port in (its index; -1: none): every port of the cube's
 * document in the kernel's cub_ports (CUB_FAKE_IFINDEX(index), up) and
 * the run's ingress ifindex in cub_if2port, as the broker fills them.
 */
static int
ports_fill(struct fcube *c, struct bpf_object *obj, int64_t in, uint32_t iif)
{
	struct bpf_map *ports = bpf_object__find_map_by_name(obj, "cub_ports");
	struct bpf_map *if2 = bpf_object__find_map_by_name(obj, "cub_if2port");
	const struct cub_val *list = cub_val__get(c->doc, "ports"), *e;
	struct cub_port cp = {.flags = CUB_PORT_UP};
	uint32_t k = (uint32_t)in, i;
	uint64_t idx;

	if (in < 0)
		return 0;
	if (!ports || !if2)
		return -ENOENT;
	for (i = 0; list && list->kind == CUB_V_ARRAY && i < list->arr.len;
	     i++) {
		e = list->arr.items[i];
		if (cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			continue;
		k = (uint32_t)idx;
		cp.ifindex = CUB_FAKE_IFINDEX(k);
		if (bpf_map_update_elem(bpf_map__fd(ports), &k, &cp, 0))
			return -errno;
	}
	k = (uint32_t)in;
	return bpf_map_update_elem(bpf_map__fd(if2), &iif, &k, 0) ? -errno : 0;
}

/* Framework maps the run filled for a port (ports_fill()): not copied
 * back, the fake's stay the broker's. */
static bool
run_filled(const char *name, int64_t in)
{
	return in >= 0 &&
	       (!strcmp(name, "cub_ports") || !strcmp(name, "cub_if2port"));
}

static int
test_run(struct cub_fake *f, struct fcube *c, const char *prog, int64_t in,
    const void *pkt, size_t len, uint32_t *retval)
{
	struct __sk_buff skb = {0};
	struct bpf_program *bp;
	struct bpf_object *obj;
	struct bpf_map *bm;
	uint32_t i, iif;
	bool tc;
	int r = 0;

	if (geteuid())
		return -EPERM;
	obj = bpf_object__open_mem(c->elf, c->elf_len, NULL);
	if (!obj)
		return -errno;
	if (!(bp = bpf_object__find_program_by_name(obj, prog))) {
		bpf_object__close(obj);
		return -ENOENT;
	}
	tc = bpf_program__type(bp) == BPF_PROG_TYPE_SCHED_CLS;
	bpf_object__for_each_program(bp, obj)
	    bpf_program__set_autoload(bp, !strcmp(bpf_program__name(bp), prog));
	if (bpf_object__load(obj)) {
		r = -errno ?: -EINVAL;
		bpf_object__close(obj);
		return r;
	}
	bpf_object__for_each_map(bm, obj)
	{
		for (i = 0; i < c->nmaps && !r; i++)
			if (modelled(&c->maps[i]) &&
			    !type_queue(c->maps[i].type) &&
			    !strcmp(c->maps[i].name, bpf_map__name(bm)))
				r = sync_map(
				    f, &c->maps[i], bpf_map__fd(bm), true);
	}
	/* TC: the skb's ingress_ifindex; XDP runs on lo's first queue. */
	iif = tc ? CUB_FAKE_IFINDEX((uint32_t)in) : if_nametoindex("lo");
	skb.ingress_ifindex = iif;
	if (!r)
		r = ports_fill(c, obj, in, iif);
	if (!r) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = (uint32_t)len, .repeat = 1);

		if (in >= 0 && tc) {
			o.ctx_in = &skb;
			o.ctx_size_in = sizeof(skb);
		}
		bp = bpf_object__find_program_by_name(obj, prog);
		r = bpf_prog_test_run_opts(bpf_program__fd(bp), &o) ? -errno
								    : 0;
		if (!r)
			*retval = o.retval;
	}
	bpf_object__for_each_map(bm, obj)
	{
		for (i = 0; i < c->nmaps && !r; i++)
			if (modelled(&c->maps[i]) &&
			    !type_queue(c->maps[i].type) &&
			    !run_filled(c->maps[i].name, in) &&
			    !strcmp(c->maps[i].name, bpf_map__name(bm)))
				r = sync_map(
				    f, &c->maps[i], bpf_map__fd(bm), false);
	}
	bpf_object__close(obj);
	return r;
}

int
cub_fake__test_run(struct cub_fake *f, const char *cube, const char *prog,
    const void *pkt, size_t len, uint32_t *retval)
{
	struct fcube *c = cube_find(f, cube);

	if (!c || !c->loaded)
		return -ENOENT;
	return test_run(f, c, prog, -1, pkt, len, retval);
}

int
cub_fake__test_run_port(struct cub_fake *f, const char *cube, const char *prog,
    const char *port, const void *pkt, size_t len, uint32_t *retval)
{
	struct fcube *c = cube_find(f, cube);
	const struct cub_val *e;
	uint64_t idx;

	if (!c || !c->loaded || !port)
		return -ENOENT;
	e = cubi_tree__find(c->doc, "ports", "name", port);
	if (!e || cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
	    idx >= CUB_MAX_PORTS)
		return -ENOENT;
	return test_run(f, c, prog, (int64_t)idx, pkt, len, retval);
}

/* ---- Life ---- */

struct cub_fake *
cub_fake__new(const struct cub_plugin *pl, uint32_t ncpus)
{
	struct cub_fake *f;
	char err[256];

	if (fake) {
		fprintf(stderr, "cub_fake__new: one fake per process\n");
		return NULL;
	}
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	f->pl = pl;
	f->ncpus = ncpus ?: 2;
	fake = f;
	if (cubi_worker__init_local(pl, transport)) {
		fprintf(stderr, "cub_fake__new: the plugin is refused\n");
		goto fail;
	}
	if (cubi_worker__hello(err, sizeof(err))) {
		fprintf(stderr, "cub_fake__new: hello refused: %s\n", err);
		goto fail;
	}
	return f;
fail:
	cubi_schema__free(f->schema);
	set_err(f, NULL);
	free(f);
	fake = NULL;
	return NULL;
}

void
cub_fake__free(struct cub_fake *f)
{
	struct fhelper *h;

	if (!f)
		return;
	while (f->cubes) {
		worker_call(f, CUB_M_CUBE_DESTROY, cube_params(f->cubes), NULL);
		cube_free(f, f->cubes);
	}
	while ((h = f->helpers)) {
		f->helpers = h->next;
		free(h->name);
		free(h);
	}
	cub_fake__clear_records(f);
	cubi_schema__free(f->schema);
	set_err(f, NULL);
	free(f);
	fake = NULL;
}
