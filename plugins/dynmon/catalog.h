/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's map catalogue (docs/architecture.md, "dynmon", "Map catalogue,
 * decoding and families"): the maps of one BPF ELF object that
 * cubicle-dynmon-cc produced (contract section 2), read from the bytes in
 * memory with libelf and libbpf's BTF parser only.  No bpf() call, no file
 * access: it runs in the sandboxed worker.
 */
#ifndef DYNMON_CATALOG_H
#define DYNMON_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btf;

/* Maps in one object (the rewriter emits far fewer). */
#define DM_MAPS_MAX 256u
/* Swap sets per path (contract section 2: i0..i7, e0..e7). */
#define DM_SWAP_MAX 8u
/* User map names: C identifiers of at most 13 characters. */
#define DM_USER_NAME_MAX 13u
/* The rewriter's longest user name (rewrite.h's DM_USER_NAME_MAX). */
#define DM_FULL_NAME_MAX 63u
/*
 * The BTF declaration tag on a user map's variable: "dm_map:" + the
 * user's whole name (rewrite.c emit_name_tag(), same string).  A metric's
 * map-name is found by it, never by the object's (hashed) name.
 */
#define DM_MAP_TAG "dm_map:"

struct dm_map {
	char name[16];     /* the object's map name: "i_PKT_COUNTER" */
	char user[16];     /* the user's name, "" for dm_ and cub_ maps */
	char full[DM_FULL_NAME_MAX + 1]; /* its DM_MAP_TAG's, "" if none */
	char path;         /* 'i', 'e', or 0 (prelude and framework maps) */
	uint32_t type;     /* enum bpf_map_type */
	uint32_t key_size; /* 0 for QUEUE and STACK */
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t key_type_id; /* BTF ids in the catalogue's BTF, 0 if none */
	uint32_t value_type_id;
	bool percpu; /* PERCPU_ARRAY, PERCPU_HASH, LRU_PERCPU_HASH */
	/* The swap set ("i0") when this is a copy of a swapped user map,
	 * else "" (copy: which of the set's copies, 0 or 1). */
	char swap_set[4];
	uint32_t copy;
};

struct dm_catalog {
	struct btf *btf;
	struct dm_map *maps;
	size_t nmaps;
	/* Bound by dm_catalog_bind_swap(): swap[p][k] is the user name of
	 * set <p><k> (p = 0 for 'i', 1 for 'e'), "" when unbound. */
	char swap[2][DM_SWAP_MAX][DM_FULL_NAME_MAX + 1];
};

/*
 * @brief **dm_catalog_open()** parses the ELF object elf[0..len) (copied;
 * the caller keeps its buffer) and lists its maps from the BTF of the
 * ".maps" section.  Every map of the object must have BTF for its key and
 * value (contract section 2) except ARRAY_OF_MAPS members of swap sets.
 * @return 0, or -EINVAL (not an ELF, no .BTF, a map without BTF types,
 * more than DM_MAPS_MAX maps: a sentence naming it in err) or -ENOMEM.
 */
int dm_catalog_open(const void *elf, size_t len, struct dm_catalog **out,
    char *err, size_t errlen);
/* Takes NULL; returns NULL. */
struct dm_catalog *dm_catalog_free(struct dm_catalog *cat);

/*
 * @brief **dm_catalog_bind_swap()** tells the catalogue which user maps of
 * path ('i' or 'e') are swapped: names[k] is the k-th name of the path's
 * `swap` list (contract section 1), so set <path><k>.  The object alone
 * cannot say it: the copies are named after the set, not the user map.
 * @return 0, or -EINVAL naming the first name whose set <path><k> is not
 * in the object, a bad name, or more than DM_SWAP_MAX names.
 */
int dm_catalog_bind_swap(struct dm_catalog *cat, char path,
    const char *const *names, size_t n, char *err, size_t errlen);

/*
 * @brief **dm_catalog_find()** resolves a metric-config's map-name on
 * path: the object's map <path>_<user_name>, or, when user_name is bound
 * to swap set <path><k>, that set's copy 0 (its type, key and value are
 * the user's; dm_catalog_copy() gives copy 1).
 * @return the map, or NULL (errno = ENOENT) when there is none.
 */
const struct dm_map *dm_catalog_find(
    const struct dm_catalog *cat, char path, const char *user_name);
/* Copy copy of the swap set of m (m itself when copy == m->copy). */
const struct dm_map *dm_catalog_copy(
    const struct dm_catalog *cat, const struct dm_map *m, uint32_t copy);
/* By object map name, or NULL. */
const struct dm_map *dm_catalog_by_name(
    const struct dm_catalog *cat, const char *name);

/* Shared by the pieces: err formatted, -EINVAL returned; a BTF id past
 * typedefs and modifiers (NULL when it does not resolve). */
struct btf;
struct btf_type;
int dm_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const struct btf_type *dm_btf_resolve(
    const struct btf *btf, uint32_t id, uint32_t *res_id);

#endif
