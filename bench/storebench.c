// SPDX-License-Identifier: BSD-2-Clause
/*
 * The store's cost at the sizes of issue 7 (bench/store runs it): a save
 * and a load of N simpleforwarder cubes of 128 ports, next to those of
 * one cube, and of 2M list entries across 200 cubes; and a one-entry
 * change recorded as the broker records it (persist.c: the edits of the
 * entry the request addressed, one journal record, fdatasync) on a cube
 * of 10 entries and of 100,000, next to the full
 * snapshot a change wrote before the journal.  Each figure is the median
 * of R runs.  Output: one "name value unit" line per metric.
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

/* A cube record "c0" whose config has a list of n rules. */
static struct cub_val *
list_doc(unsigned n)
{
	struct cub_val *cubes = cub_val__array(), *r = cub_val__map();
	struct cub_val *conf = cub_val__map(), *list = cub_val__array(), *e;
	unsigned j;

	for (j = 0; j < n; j++) {
		e = cub_val__map();
		cub_val__set(e, "id", cub_val__uint(j));
		cub_val__set(e, "src",
		    cub_val__strf("10.%u.%u.0/24", (j >> 8) & 255, j & 255));
		cub_val__set(e, "action", cub_val__str("drop"));
		cub_val__push(list, e);
	}
	cub_val__set(conf, "rules", list);
	cub_val__set(r, "name", cub_val__str("c0"));
	cub_val__set(r, "service", cub_val__str("ruleset"));
	cub_val__set(r, "config", conf);
	cub_val__push(cubes, r);
	return doc_of(cubes);
}

/*
 * Median time of a one-entry set on a cube of n entries, journaled
 * (diff, record, append, fdatasync) and, for comparison, saved as a
 * snapshot; the journal's growth per change.
 */
static double
one_entry(const char *path, unsigned n, unsigned runs, double *snap_ms)
{
	struct cub_val *d = list_doc(n), *conf, *old, *edits, *rec, *e, *at;
	struct store_journal j;
	double t[32], sn[32], df[32], t0;
	char err[512], name[32];
	long long grew = 0;
	unsigned i;

	conf = cub_val__get(cub_val__get(d, "cubes")->arr.items[0], "config");
	if (store_save(path, d, err, sizeof(err)) ||
	    store_journal_open(&j, path, 0, err, sizeof(err))) {
		fprintf(stderr, "storebench: %s\n", err);
		exit(1);
	}
	if (ftruncate(j.fd, 0))
		exit(1);
	j.bytes = 0;
	/* The first snapshot on disk before the appends are timed. */
	sync();
	for (i = 0; i < runs; i++) {
		old = cub_val__dup(conf);
		e = cub_val__get(conf, "rules")->arr.items[(i * 7919u) % n];
		cub_val__set(e, "action", cub_val__strf("a%u", i));
		t0 = now_ms();
		edits = cub_val__array();
		rec = cub_val__map();
		/* As the broker does with the node the request addressed
		 * (cubi_tree__locate(): the keyed list's index): that
		 * entry's edits, appended. */
		at = cub_val__array();
		cub_val__push(at, cub_val__str("config"));
		cub_val__push(at, cub_val__str("rules"));
		cub_val__push(at, cub_val__uint((i * 7919u) % n));
		if (store_diff_at(
			cub_val__get(old, "rules")->arr.items[(i * 7919u) % n],
			e, at, edits, 64)) {
			fprintf(stderr, "storebench: diff\n");
			exit(1);
		}
		cub_val__set(rec, "cube", cub_val__str("c0"));
		cub_val__set(rec, "edits", edits);
		df[i] = now_ms() - t0;
		if (store_journal_append(&j, rec, err, sizeof(err))) {
			fprintf(stderr, "storebench: append: %s\n", err);
			exit(1);
		}
		t[i] = now_ms() - t0;
		cub_val__free(at);
		cub_val__free(rec);
		cub_val__free(old);
	}
	/*
	 * The snapshots after all the appends: on ext4 (ordered data) a
	 * journal fdatasync right after a big snapshot waits for the
	 * snapshot's data too, which is the snapshot's cost, not the
	 * journal's.
	 */
	for (i = 0; i < runs; i++) {
		t0 = now_ms();
		if (store_save(path, d, err, sizeof(err))) {
			fprintf(stderr, "storebench: save: %s\n", err);
			exit(1);
		}
		sn[i] = now_ms() - t0;
	}
	grew = (long long)j.bytes / runs;
	store_journal_close(&j);
	unlink(j.path);
	qsort(t, runs, sizeof(t[0]), cmp_d);
	qsort(sn, runs, sizeof(sn[0]), cmp_d);
	qsort(df, runs, sizeof(df[0]), cmp_d);
	snprintf(name, sizeof(name), "set_one_of_%u", n);
	printf("%s_journal_p50 %.3f ms\n", name, t[runs / 2]);
	printf("%s_journal_bytes %lld B\n", name, grew);
	printf("%s_edits_p50 %.4f ms (finding the edits, before the append)\n",
	    name, df[runs / 2]);
	printf("%s_snapshot_p50 %.3f ms\n", name, sn[runs / 2]);
	*snap_ms = sn[runs / 2];
	cub_val__free(d);
	return t[runs / 2];
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 200;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 9;
	char path[4096];
	struct cub_val *d;
	double one, many, big, j10, j100k, s10, s100k;

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
	j10 = one_entry(path, 10, runs, &s10);
	j100k = one_entry(path, 100000, runs, &s100k);
	printf("set_one_journal_ratio_100k_vs_10 %.2f x (goal: within 2)\n",
	    j100k / j10);
	printf("set_one_snapshot_ratio_100k_vs_10 %.1f x (before the journal)\n",
	    s100k / s10);
	d = entries_doc(200, 10000);
	measure("entries2M", path, d, runs < 3 ? runs : 3, &big);
	cub_val__free(d);
	unlink(path);
	return 0;
}
