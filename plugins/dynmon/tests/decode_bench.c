// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon-decode-bench [N...]: the in-process cost of turning one read
 * into Polycube's value (dm_map_value()) and into a metric family
 * (dm_families_from_metric()), for a hash of N packed 5-tuples -> int
 * (Polycube's SIMPLE_HASH, as i_FLOWS5) and an array of N u64 counters
 * (i_BIGARR), best and median of 21 rounds.
 * Baseline, measured in the same run: building the same number of
 * leaf values (numbers pushed on a list) with cub_val alone; the ratio
 * is the decoder's cost over the allocation floor.  bench/dynmon-decode
 * runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btfval.h"
#include "catalog.h"
#include "families.h"
#include "tests/dm_types.h"
/* The skeleton names the types of its globals: after dm_types.h. */
#include "dm_types.skel.h"

#define ROUNDS 21

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* t[0..ROUNDS) sorted; the best is t[0]. */
static double
median(double *t)
{
	qsort(t, ROUNDS, sizeof(*t), dcmp);
	return t[ROUNDS / 2];
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double
baseline(uint32_t nvals)
{
	double best = 1e18, t0;
	struct cub_val *l;
	uint32_t i;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		t0 = now_ms();
		l = cub_val__array();
		for (i = 0; i < nvals; i++)
			cub_val__push(l, cub_val__uint(i));
		cub_val__free(l);
		if (now_ms() - t0 < best)
			best = now_ms() - t0;
	}
	return best;
}

static void
bench(const struct dm_catalog *cat, const char *map, uint32_t n,
    const void *keys, const void *vals, uint32_t leaves_per_entry)
{
	const struct dm_map *m = dm_catalog_find(cat, 'i', map);
	static const char mcs[] =
	    "{\"name\":\"f_total\",\"open-metrics-metadata\":"
	    "{\"help\":\"h\",\"type\":\"counter\"}}";
	struct cub_val *mc = cub_json_parse(mcs, strlen(mcs), NULL, 0), *o;
	struct dm_entries e = {keys, vals, n, 1};
	double tv[ROUNDS], tf[ROUNDS], t0, base, mv, mf;
	char err[256];
	int r;

	for (r = 0; r < ROUNDS; r++) {
		t0 = now_ms();
		if (dm_map_value(cat, m, &e, &o, err, sizeof(err))) {
			/* A read over CUB_ELEMS_MAX elements is refused. */
			printf("%-12s %6u entries: refused: %s\n", map, n, err);
			cub_val__free(mc);
			return;
		}
		cub_val__free(o);
		tv[r] = now_ms() - t0;
		t0 = now_ms();
		if (dm_families_from_metric(
			cat, m, mc, &e, &o, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
		cub_val__free(o);
		tf[r] = now_ms() - t0;
	}
	mv = median(tv);
	mf = median(tf);
	base = baseline(n * leaves_per_entry);
	printf("%-12s %6u entries: dm_map_value %8.3f ms, family %8.3f ms%s; "
	       "baseline (%u numbers) %7.3f ms; ratios %.1fx, %.1fx; "
	       "medians %.4f ms, %.4f ms\n",
	    map, n, tv[0], tf[0], n > DM_SERIES_MAX ? " (capped)" : "",
	    n * leaves_per_entry, base, tv[0] / base, tf[0] / base, mv, mf);
	cub_val__free(mc);
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = {1, 1000, 65536};
	struct dm_catalog *cat;
	struct pkt_5tuple *k;
	uint32_t *idx, i, j, n;
	uint64_t *u;
	int *v;
	size_t len;
	char err[256];
	const void *elf = dm_types__elf_bytes(&len);

	if (dm_catalog_open(elf, len, &cat, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	k = calloc(65536, sizeof(*k));
	v = calloc(65536, sizeof(*v));
	u = calloc(65536, sizeof(*u));
	idx = calloc(65536, sizeof(*idx));
	for (i = 0; i < 65536; i++) {
		k[i].saddr = i;
		k[i].sport = (uint16_t)i;
		v[i] = (int)i;
		u[i] = i;
		idx[i] = i;
	}
	for (j = 0; j < (argc > 1 ? (uint32_t)argc - 1 : 3); j++) {
		n = argc > 1 ? (uint32_t)strtoul(argv[j + 1], NULL, 0)
			     : sizes[j];
		if (!n || n > 65536) {
			fprintf(stderr, "sizes are 1 to 65536\n");
			return 2;
		}
		/* 5 key fields + value + the entry's map and key map. */
		bench(cat, "FLOWS5", n, k, v, 8);
		bench(cat, "BIGARR", n, idx, u, 1);
	}
	free(k);
	free(v);
	free(u);
	free(idx);
	dm_catalog_free(cat);
	return 0;
}
