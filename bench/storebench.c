// SPDX-License-Identifier: BSD-2-Clause
/*
 * The store's cost at the sizes of issue 7 (bench/store runs it): a save
 * and a load of N simpleforwarder cubes of 128 ports, next to those of
 * one cube, and of 2M list entries across 200 cubes.  Each figure is the
 * median of R runs.  Output: one "name value unit" line per metric.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cubicle/val.h"
#include "store.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* As persist.c's cube_record() writes a simpleforwarder cube. */
static struct cub_val *
sf_record(unsigned cube, unsigned nports)
{
	struct cub_val *r = cub_val__map(), *conf = cub_val__map();
	struct cub_val *cports = cub_val__array(), *rports = cub_val__array();
	struct cub_val *e;
	unsigned i;

	for (i = 0; i < nports; i++) {
		e = cub_val__map();
		cub_val__set(e, "name", cub_val__strf("p%u", i));
		cub_val__set(e, "action", cub_val__str("forward"));
		cub_val__set(
		    e, "outport", cub_val__strf("p%u", (i + 1) % nports));
		cub_val__set(e, "index", cub_val__uint(i));
		cub_val__set(e, "peer", cub_val__strf("veth%u-%u", cube, i));
		cub_val__push(cports, e);
		e = cub_val__map();
		cub_val__set(e, "name", cub_val__strf("p%u", i));
		cub_val__set(e, "peer", cub_val__strf("veth%u-%u", cube, i));
		cub_val__set(e, "qdisc", cub_val__bool(true));
		cub_val__push(rports, e);
	}
	cub_val__set(conf, "name", cub_val__strf("sf%u", cube));
	cub_val__set(conf, "type", cub_val__str("TC"));
	cub_val__set(conf, "ports", cports);
	cub_val__set(r, "name", cub_val__strf("sf%u", cube));
	cub_val__set(r, "service", cub_val__str("simpleforwarder"));
	cub_val__set(r, "hash", cub_val__uint(0x48b9770eaebca1efull));
	cub_val__set(r, "config", conf);
	cub_val__set(r, "ports", rports);
	return r;
}

static struct cub_val *
doc_of(struct cub_val *cubes)
{
	struct cub_val *d = cub_val__map();

	cub_val__set(d, "version", cub_val__uint(1));
	cub_val__set(d, "cubes", cubes);
	return d;
}

static struct cub_val *
sf_doc(unsigned n)
{
	struct cub_val *cubes = cub_val__array();
	unsigned i;

	for (i = 0; i < n; i++)
		cub_val__push(cubes, sf_record(i, 128));
	return doc_of(cubes);
}

static struct cub_val *
entries_doc(unsigned ncubes, unsigned per)
{
	struct cub_val *cubes = cub_val__array(), *r, *conf, *list, *e;
	unsigned i, j;

	for (i = 0; i < ncubes; i++) {
		r = cub_val__map();
		conf = cub_val__map();
		list = cub_val__array();
		for (j = 0; j < per; j++) {
			e = cub_val__map();
			cub_val__set(e, "ip",
			    cub_val__strf("10.%u.%u.%u", i, j >> 8, j & 255));
			cub_val__set(e, "action", cub_val__str("drop"));
			cub_val__push(list, e);
		}
		cub_val__set(conf, "blacklist", list);
		cub_val__set(r, "name", cub_val__strf("ddos%u", i));
		cub_val__set(r, "service", cub_val__str("ddosmitigator"));
		cub_val__set(r, "config", conf);
		cub_val__push(cubes, r);
	}
	return doc_of(cubes);
}

/* Median save and load times of doc at path, over runs. */
static void
measure(const char *name, const char *path, struct cub_val *doc, unsigned runs,
    double *save_ms)
{
	double s[32], l[32], t;
	struct cub_val *back;
	char err[512];
	struct stat st;
	unsigned i;

	for (i = 0; i < runs; i++) {
		t = now_ms();
		if (store_save(path, doc, err, sizeof(err))) {
			fprintf(stderr, "storebench: save: %s\n", err);
			exit(1);
		}
		s[i] = now_ms() - t;
		t = now_ms();
		if (store_load(path, &back, err, sizeof(err))) {
			fprintf(stderr, "storebench: load: %s\n", err);
			exit(1);
		}
		l[i] = now_ms() - t;
		cub_val__free(back);
	}
	qsort(s, runs, sizeof(s[0]), cmp_d);
	qsort(l, runs, sizeof(l[0]), cmp_d);
	stat(path, &st);
	printf("%s_bytes %lld B\n", name, (long long)st.st_size);
	printf("%s_save_p50 %.2f ms\n", name, s[runs / 2]);
	printf("%s_load_p50 %.2f ms\n", name, l[runs / 2]);
	*save_ms = s[runs / 2];
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 200;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 9;
	char path[4096];
	struct cub_val *d;
	double one, many, big;

	if (runs < 1 || runs > 32 || n < 1) {
		fprintf(stderr, "usage: storebench [DIR [CUBES [RUNS<=32]]]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/storebench-%d.db", dir, (int)getpid());
	d = sf_doc(1);
	measure("sf1cube", path, d, runs, &one);
	cub_val__free(d);
	d = sf_doc(n);
	measure("sf_cubes", path, d, runs, &many);
	cub_val__free(d);
	printf("sf_cubes_count %u cubes\n", n);
	printf("save_ratio_cubes_vs_one %.1f x\n", many / one);
	d = entries_doc(200, 10000);
	measure("entries2M", path, d, runs < 3 ? runs : 3, &big);
	cub_val__free(d);
	unlink(path);
	return 0;
}
