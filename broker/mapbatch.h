/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Batches of map entries: the kernel's batch operations where the map type
 * has them, one syscall per entry elsewhere (mapbatch.c).
 */
#ifndef CUBI_MAPBATCH_H
#define CUBI_MAPBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A map as the calls see it: vsz is a value's bytes in user space. */
struct mb_map {
	int fd;
	uint32_t type, key_size;
	size_t vsz;
};

enum {
	MB_UPDATE = 1,
	MB_LOOKUP = 2,
	MB_LOOKUP_DELETE = 4,
	MB_DELETE = 8,
};

/* Which batch operations the kernel has for a map type (MB_*). */
unsigned mapbatch_kernel_ops(uint32_t type);
/* Bytes of a lookup cursor (in_batch, out_batch) for m. */
size_t mapbatch_cursor_size(const struct mb_map *m);

/*
 * *count entries in, entries processed out (also on failure: the ones
 * before the failing entry are applied).  keys and values are packed
 * back to back.  *kernel says whether the kernel's batch call did it.
 * 0 or -errno.  elem_flags with bits other than BPF_F_LOCK (BPF_NOEXIST,
 * BPF_EXIST) are applied per entry.
 */
int mapbatch_update(const struct mb_map *m, const void *keys,
    const void *values, uint32_t *count, uint64_t elem_flags, uint64_t flags,
    bool *kernel);
int mapbatch_delete(const struct mb_map *m, const void *keys, uint32_t *count,
    uint64_t elem_flags, uint64_t flags, bool *kernel);
/*
 * Up to *count entries after the cursor in (NULL: from the start) into
 * keys and values, removing them when del; out receives the cursor for
 * the next call (mapbatch_cursor_size() bytes; in and out may be the same
 * buffer).  -ENOENT when the map has no more entries (*count may still be
 * non-zero), as the kernel says.
 */
int mapbatch_lookup(const struct mb_map *m, bool del, const void *in, void *out,
    void *keys, void *values, uint32_t *count, uint64_t elem_flags,
    uint64_t flags, bool *kernel);

#endif
