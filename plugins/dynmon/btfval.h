/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's BTF decoder: the bytes of a map's keys and values to cub_val in
 * Polycube's shapes (polycube-reference.md 2.4; docs/architecture.md,
 * "dynmon", "Map catalogue, decoding and families").  Pure: no I/O.
 */
#ifndef DYNMON_BTFVAL_H
#define DYNMON_BTFVAL_H

#include <stddef.h>
#include <stdint.h>

#include <cubicle/val.h>

#include "catalog.h"

/* Possible CPUs a per-CPU read may carry. */
#define DM_NCPUS_MAX 4096u

/*
 * @brief **dm_decode()** decodes data[0..len) as BTF type type_id of the
 * catalogue: integers as numbers (u64 exact, 128-bit integers beyond 64
 * bits as decimal strings), bool as bool, char arrays as strings (up to
 * the first NUL; as a list of numbers when not UTF-8), other arrays as
 * lists, structs and unions as maps of their named members (anonymous
 * members flattened, `__pad*` skipped), enums and bitfields as numbers,
 * floats as floats; typedef, const, volatile and restrict see through.
 * len must be the type's size.
 * @return 0, or -EINVAL with a sentence in err naming the type (wrong
 * length, unknown type id, a pointer, function or other kind that has no
 * value) or -ENOMEM; *out is NULL on error.
 */
int dm_decode(const struct dm_catalog *cat, uint32_t type_id, const void *data,
    size_t len, struct cub_val **out, char *err, size_t errlen);

/*
 * A read of one map as the SDK's batch calls return it: count keys of
 * map->key_size bytes back to back (NULL for QUEUE and STACK: values
 * popped) and count values back to back, each of dm_value_stride()
 * bytes: value_size, or for a per-CPU map ncpus values each at a stride
 * of value_size rounded up to 8 (cub_map__value_bytes()).
 */
struct dm_entries {
	const void *keys;
	const void *values;
	uint32_t count;
	uint32_t ncpus; /* per-CPU maps: possible CPUs (cub_map.ncpus) */
};

/* Bytes of one entry's value in dm_entries.values. */
size_t dm_value_stride(const struct dm_map *map, uint32_t ncpus);

/*
 * @brief **dm_map_value()** is a whole read in the metric `value` shape
 * of Polycube: ARRAY -> list of values in entry order (the index order of
 * a batch read); HASH, LRU_HASH -> list of {key, value}; PERCPU_ARRAY,
 * PERCPU_HASH, LRU_PERCPU_HASH -> list of {key, value: [cpu0, cpu1, ...]};
 * QUEUE, STACK -> list of the popped values.
 * @return 0, or -EINVAL naming the map and what was wrong (map type not
 * extracted, ncpus out of range, a decoding error with its entry index)
 * or -ENOMEM.
 */
int dm_map_value(const struct dm_catalog *cat, const struct dm_map *map,
    const struct dm_entries *e, struct cub_val **out, char *err, size_t errlen);

#endif
