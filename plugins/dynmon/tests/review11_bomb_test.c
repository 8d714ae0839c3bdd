// SPDX-License-Identifier: BSD-2-Clause
/*
 * Review 11 (dynmon-decode-bomb): dm_map_value() of a hostile object's
 * map, in the worker's address-space limit (workers/sandbox.c,
 * SANDBOX_DEFAULT_AS: 1 GiB).  tests/review11_bomb.bpf.c's i_BOMB: an
 * ARRAY whose 8-byte value holds an array of 250000 zero-size structs.
 * 64 of its entries (512 bytes of map data) decode to 16 million values:
 * the call either runs out of the worker's memory or builds a list no
 * message can carry (CUB_ELEMS_MAX in all).  A whole map (10240 entries)
 * is 2.5 billion.  Wanted: refused (the zero-size elements, or a budget
 * over the whole read), quickly, without the memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "btfval.h"
#include "catalog.h"
#include "review11_bomb.skel.h"

static uint64_t
count(const struct cub_val *v)
{
	uint64_t n = 1;
	uint32_t i;

	if (!v)
		return 0;
	if (v->kind == CUB_V_ARRAY)
		for (i = 0; i < v->arr.len; i++)
			n += count(v->arr.items[i]);
	if (v->kind == CUB_V_MAP)
		for (i = 0; i < v->map.len; i++)
			n += count(v->map.items[i].val);
	return n;
}

int
main(void)
{
	struct rlimit rl = {1ull << 30, 1ull << 30};
	enum { N = 64 };
	static uint64_t values[N]; /* struct bomb is 8 bytes */
	struct dm_entries e = {.values = values, .count = N};
	struct dm_catalog *cat;
	const struct dm_map *m;
	struct cub_val *v = NULL;
	struct timespec t0, t1;
	char err[512] = "";
	const void *elf;
	size_t len;
	uint64_t n;
	double s;
	int r;

	elf = review11_bomb__elf_bytes(&len);
	if (dm_catalog_open(elf, len, &cat, err, sizeof(err))) {
		printf("catalogue refused the object: %s\n", err);
		return 0; /* refused up front: what is wanted */
	}
	m = dm_catalog_find(cat, 'i', "BOMB");
	if (!m) {
		printf("no map i_BOMB\n");
		return 2;
	}
	printf("value_size %u\n", m->value_size);
	/* Not under AddressSanitizer: its shadow memory needs more address
	 * space than the cap (it fails with "Failed to mmap"). */
#if !defined(__SANITIZE_ADDRESS__)
	if (setrlimit(RLIMIT_AS, &rl))
		perror("setrlimit");
#else
	(void)rl;
#endif
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = dm_map_value(cat, m, &e, &v, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	n = count(v);
	printf("dm_map_value of %d entries (%d bytes): %d (%s), %llu values, "
	       "%.2f s\n",
	    N, N * 8, r, r ? err : "ok", (unsigned long long)n, s);
	cub_val__free(v);
	dm_catalog_free(cat);
	if (r == -ENOMEM) {
		printf("FAIL: out of the worker's 1 GiB decoding 512 bytes\n");
		return 1;
	}
	if (!r && n > CUB_ELEMS_MAX) {
		printf("FAIL: %llu values from 512 bytes, over CUB_ELEMS_MAX "
		       "(%u) of one message\n",
		    (unsigned long long)n, CUB_ELEMS_MAX);
		return 1;
	}
	return 0;
}
