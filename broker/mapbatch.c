// SPDX-License-Identifier: BSD-2-Clause
/*
 * Batches of map entries, for a worker's map.batch (wcall.c): the kernel's
 * batch operations (BPF_MAP_UPDATE_BATCH, _LOOKUP_BATCH,
 * _LOOKUP_AND_DELETE_BATCH, _DELETE_BATCH: one syscall for many entries)
 * where the map type has them, else one syscall per entry.  Measured on
 * these machines (Linux 6.18): the hash family has all four; ARRAY and
 * PERCPU_ARRAY update and lookup; LPM_TRIE update, lookup and delete;
 * DEVMAP, QUEUE, STACK none.  The table below says so, and a kernel that
 * answers EOPNOTSUPP anyway gets the per-entry loop.
 *
 * Every call reports in *count how many entries it processed, also when
 * it fails: the entries before that one are applied (libbpf's contract).
 * Links nothing but libbpf (mapbatch_test.c).
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "mapbatch.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's, not in user-space headers */
#endif

unsigned
mapbatch_kernel_ops(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return MB_UPDATE | MB_LOOKUP | MB_LOOKUP_DELETE | MB_DELETE;
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		return MB_UPDATE | MB_LOOKUP;
	case BPF_MAP_TYPE_LPM_TRIE:
		return MB_UPDATE | MB_LOOKUP | MB_DELETE;
	default:
		return 0;
	}
}

/* The hash family's cursor is a bucket number; the others' a key. */
size_t
mapbatch_cursor_size(const struct mb_map *m)
{
	if ((mapbatch_kernel_ops(m->type) & MB_LOOKUP_DELETE))
		return sizeof(uint32_t);
	return m->key_size;
}

static bool
unsupported(int r)
{
	return r == -EOPNOTSUPP || r == -ENOTSUPP;
}

/* The kernel's batch elem_flags take BPF_F_LOCK only. */
static bool
kernel_ok(const struct mb_map *m, unsigned op, uint64_t elem_flags)
{
	return (mapbatch_kernel_ops(m->type) & op) &&
	       !(elem_flags & ~BPF_F_LOCK);
}

static const void *
key_at(const struct mb_map *m, const void *keys, uint32_t i)
{
	return m->key_size ? (const uint8_t *)keys + (size_t)i * m->key_size
			   : NULL;
}

int
mapbatch_update(const struct mb_map *m, const void *keys, const void *values,
    uint32_t *count, uint64_t elem_flags, uint64_t flags, bool *kernel)
{
	uint32_t n = *count, i;
	int r;

	*kernel = false;
	if (kernel_ok(m, MB_UPDATE, elem_flags)) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = elem_flags,
		    .flags = flags);

		r = bpf_map_update_batch(m->fd, keys, values, count, &o)
			? -errno
			: 0;
		if (!unsupported(r)) {
			*kernel = true;
			return r;
		}
		*count = n;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(m->fd, key_at(m, keys, i),
			(const uint8_t *)values + (size_t)i * m->vsz,
			elem_flags)) {
			*count = i;
			return -errno;
		}
	*count = n;
	return 0;
}

int
mapbatch_delete(const struct mb_map *m, const void *keys, uint32_t *count,
    uint64_t elem_flags, uint64_t flags, bool *kernel)
{
	uint32_t n = *count, i;
	int r;

	*kernel = false;
	if (kernel_ok(m, MB_DELETE, elem_flags)) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = elem_flags,
		    .flags = flags);

		r = bpf_map_delete_batch(m->fd, keys, count, &o) ? -errno : 0;
		if (!unsupported(r)) {
			*kernel = true;
			return r;
		}
		*count = n;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(m->fd, key_at(m, keys, i))) {
			*count = i;
			return -errno;
		}
	*count = n;
	return 0;
}

/*
 * Per entry: from the key after *in (the first key when in is NULL), at
 * most *count entries; *out is the last key visited.  Keyless maps
 * (QUEUE, STACK) pop (delete) or peek.  -ENOENT at the end of the map.
 */
static int
lookup_each(const struct mb_map *m, bool del, const void *in, void *out,
    void *keys, void *values, uint32_t *count)
{
	uint32_t n = *count, got = 0;
	uint8_t *k = keys, *v = values;
	bool have = in != NULL;
	int r = 0;

	if (!m->key_size) {
		/* A queue or a stack: its next value, removed or not. */
		for (; got < n; got++) {
			if (del ? bpf_map_lookup_and_delete_elem(
				      m->fd, NULL, v + (size_t)got * m->vsz)
				: bpf_map_lookup_elem(
				      m->fd, NULL, v + (size_t)got * m->vsz)) {
				r = -errno;
				break;
			}
			if (!del) {
				got++;
				r = -ENOENT; /* a peek sees one value */
				break;
			}
		}
		*count = got;
		return r;
	}
	if (in)
		memmove(out, in, m->key_size);
	while (got < n) {
		uint8_t *key = k + (size_t)got * m->key_size;

		if (bpf_map_get_next_key(m->fd, have ? out : NULL, key)) {
			r = -errno;
			break;
		}
		memcpy(out, key, m->key_size);
		have = true;
		if (bpf_map_lookup_elem(m->fd, key, v + (size_t)got * m->vsz))
			continue; /* deleted meanwhile */
		if (del && bpf_map_delete_elem(m->fd, key)) {
			r = -errno;
			break;
		}
		got++;
	}
	*count = got;
	return r;
}

int
mapbatch_lookup(const struct mb_map *m, bool del, const void *in, void *out,
    void *keys, void *values, uint32_t *count, uint64_t elem_flags,
    uint64_t flags, bool *kernel)
{
	uint32_t n = *count;
	int r;

	*kernel = false;
	if (kernel_ok(m, del ? MB_LOOKUP_DELETE : MB_LOOKUP, elem_flags)) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = elem_flags,
		    .flags = flags);

		r = (del ? bpf_map_lookup_and_delete_batch(
			       m->fd, (void *)in, out, keys, values, count, &o)
			 : bpf_map_lookup_batch(
			       m->fd, (void *)in, out, keys, values, count, &o))
			? -errno
			: 0;
		if (!unsupported(r)) {
			*kernel = true;
			return r;
		}
		*count = n;
	}
	if (elem_flags & ~BPF_F_LOCK) {
		*count = 0;
		return -EINVAL;
	}
	return lookup_each(m, del, in, out, keys, values, count);
}
