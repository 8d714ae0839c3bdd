// SPDX-License-Identifier: BSD-2-Clause
/* Maglev table population: see maglev.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

/* SplitMix64's finaliser: two independent hashes of a key by seed. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static int
is_prime(uint32_t m)
{
	uint32_t d;

	if (m < 2)
		return 0;
	for (d = 2; (uint64_t)d * d <= m; d++)
		if (m % d == 0)
			return 0;
	return 1;
}

struct mg_ent {
	uint64_t key;
	uint32_t weight;
	uint32_t idx; /* in the caller's array */
	uint32_t offset, skip, next;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct mg_ent *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

int
maglev_fill(const struct maglev_be *be, uint32_t n, uint32_t m, uint32_t *table)
{
	struct mg_ent *e;
	uint32_t i, w, filled = 0, slot, live = 0;

	if (!is_prime(m) || n > m)
		return -EINVAL;
	for (i = 0; i < m; i++)
		table[i] = UINT32_MAX;
	e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		e[i].key = be[i].key;
		e[i].weight = be[i].weight;
		e[i].idx = i;
		e[i].offset =
		    (uint32_t)(mix64(be[i].key ^ 0x6d61676c65763031ull) % m);
		e[i].skip =
		    (uint32_t)(mix64(be[i].key ^ 0x6b617472616e3032ull) %
			       (m - 1)) +
		    1;
		live += be[i].weight > 0;
	}
	qsort(e, n, sizeof(*e), cmp_key);
	while (live && filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			for (w = 0; w < e[i].weight && filled < m; w++) {
				do {
					slot =
					    (uint32_t)(((uint64_t)e[i].offset +
							   (uint64_t)e[i].next *
							       e[i].skip) %
						       m);
					e[i].next++;
				} while (table[slot] != UINT32_MAX);
				table[slot] = e[i].idx;
				filled++;
			}
		}
	}
	free(e);
	return 0;
}
