// SPDX-License-Identifier: BSD-2-Clause
/* FDB upkeep shared by simplebridge and bridge (l2_fdb.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "l2_fdb.h"

uint64_t
l2_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Keys of the entries behind port (UINT32_MAX: any) seen before before
 * (UINT64_MAX: any time). */
struct l2_collect {
	struct l2_key *keys;
	uint32_t n, cap;
	uint32_t port;
	uint64_t before;
};

static int
l2_collect_fn(const void *key, const void *value, void *ctx)
{
	const struct l2_entry *e = value;
	struct l2_collect *c = ctx;
	struct l2_key *k;

	if ((c->port != UINT32_MAX && e->port != c->port) ||
	    e->seen_ns >= c->before)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		k = realloc(c->keys, c->cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		c->keys = k;
	}
	memcpy(&c->keys[c->n++], key, sizeof(*c->keys));
	return 0;
}

static int
l2_delete(struct cub_cube *cube, const cub_map *fdb, struct l2_collect *c)
{
	int r;

	r = cub_map__dump(cube, fdb, l2_collect_fn, c);
	if (!r && c->n)
		r = cub_map__delete_batch_n(cube, fdb, c->keys, c->n);
	free(c->keys);
	return r;
}

int
l2_forget(struct cub_cube *cube, const cub_map *fdb, uint32_t port)
{
	struct l2_collect c = {.port = port, .before = UINT64_MAX};
	int r = l2_delete(cube, fdb, &c);

	return r ? r : (int)c.n;
}

int
l2_sweep(struct cub_cube *cube, const cub_map *fdb, uint64_t aging_ns)
{
	uint64_t now = l2_mono_ns();
	struct l2_collect c = {
	    .port = UINT32_MAX, .before = now > aging_ns ? now - aging_ns : 0};
	int r = l2_delete(cube, fdb, &c);

	return r == -ENOENT ? 0 : r;
}

struct cub_val *
l2_mac_val(const uint8_t a[6])
{
	return cub_val__strf("%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2],
	    a[3], a[4], a[5]);
}
