// SPDX-License-Identifier: BSD-2-Clause
/*
 * The store's cost at the sizes of issue 7 (bench/store runs it): a save
 * and a load of N simpleforwarder cubes of 128 ports, next to those of
 * one cube, and of 2M list entries across 200 cubes; and a one-entry
 * change recorded as the broker records it (persist.c: the edits of the
 * entry the request addressed, one journal record, fdatasync) on a cube
 * of 10 entries and of 100,000, interleaved, SAMPLES times, next to the
 * fdatasync of a write of the same size alone and to the full snapshot a
 * change wrote before the journal; again on a tmpfs (TMPFS_DIR) when
 * given, where fdatasync costs nothing.  Save and load figures are the
 * median of R runs.  Output: one "name value unit" line per metric.
 */
#include <fcntl.h>
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

/* One cube of n entries, its store and its journal, for one_entries(). */
struct one {
	unsigned n;
	struct cub_val *d, *conf;
	struct store_journal j;
	char path[4096];
	double *t, *df, *sn;
	unsigned long long bytes;
};

static void
one_open(struct one *o, const char *base, unsigned n, unsigned samples)
{
	char err[512];

	o->n = n;
	o->d = list_doc(n);
	o->conf = cub_val__get(
	    cub_val__get(o->d, "cubes")->arr.items[0], "config");
	snprintf(o->path, sizeof(o->path), "%s-%u", base, n);
	o->t = calloc(samples, sizeof(double));
	o->df = calloc(samples, sizeof(double));
	o->sn = calloc(samples, sizeof(double));
	if (!o->t || !o->df || !o->sn ||
	    store_save(o->path, o->d, err, sizeof(err)) ||
	    store_journal_open(&o->j, o->path, 0, err, sizeof(err))) {
		fprintf(stderr, "storebench: %s: %s\n", o->path, err);
		exit(1);
	}
	if (ftruncate(o->j.fd, 0))
		exit(1);
	o->j.bytes = 0;
}

/* One one-entry set on o, as the broker records it: *edits, *total. */
static void
one_set(struct one *o, unsigned i, double *edits, double *total)
{
	unsigned k = (i * 7919u) % o->n;
	struct cub_val *old, *e, *rec, *ed, *at;
	char err[512];
	double t0;

	e = cub_val__get(o->conf, "rules")->arr.items[k];
	old = cub_val__dup(e);
	cub_val__set(e, "action", cub_val__strf("a%u", i));
	t0 = now_ms();
	/* As the broker does with the node the request addressed
	 * (cubi_tree__locate(): the keyed list's index): that entry's
	 * edits, appended. */
	ed = cub_val__array();
	rec = cub_val__map();
	at = cub_val__array();
	cub_val__push(at, cub_val__str("config"));
	cub_val__push(at, cub_val__str("rules"));
	cub_val__push(at, cub_val__uint(k));
	if (store_diff_at(old, e, at, ed, 64)) {
		fprintf(stderr, "storebench: diff\n");
		exit(1);
	}
	cub_val__set(rec, "cube", cub_val__str("c0"));
	cub_val__set(rec, "edits", ed);
	*edits = now_ms() - t0;
	if (store_journal_append(&o->j, rec, err, sizeof(err))) {
		fprintf(stderr, "storebench: append: %s\n", err);
		exit(1);
	}
	*total = now_ms() - t0;
	cub_val__free(at);
	cub_val__free(rec);
	cub_val__free(old);
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * A one-entry set journalled on a cube of 10 entries and one of 100,000,
 * interleaved (10, 100k, then 100k, 10, ...) so that both see the same
 * disk: samples medians of the whole record (diff, record, append,
 * fdatasync), of finding the edits, and next to them the fdatasync of a
 * write of the same size to a file of its own in the same directory, the
 * disk's share.  Then the snapshot each set wrote before the journal
 * (runs saves).  Lines start with prefix.
 */
static void
one_entries(const char *dir, const char *prefix, unsigned samples,
    unsigned runs)
{
	struct one o[2] = {0};
	char base[4096], fpath[4200], err[512], buf[256];
	double *fs = calloc(samples, sizeof(double)), t0, j[2], f;
	unsigned i, k, x;
	int fd;

	snprintf(base, sizeof(base), "%s/storebench-%d-one", dir, (int)getpid());
	one_open(&o[0], base, 10, samples);
	one_open(&o[1], base, 100000, samples);
	snprintf(fpath, sizeof(fpath), "%s-fsync", base);
	fd = open(fpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !fs) {
		fprintf(stderr, "storebench: %s\n", fpath);
		exit(1);
	}
	memset(buf, 'x', sizeof(buf));
	/* The snapshots on disk before the appends are timed. */
	sync();
	for (i = 0; i < samples; i++) {
		for (x = 0; x < 2; x++) {
			k = (i & 1) ? 1 - x : x;
			one_set(&o[k], i, &o[k].df[i], &o[k].t[i]);
		}
		/* The disk alone: a record's worth of bytes, fdatasync. */
		t0 = now_ms();
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd)) {
			fprintf(stderr, "storebench: %s: write\n", fpath);
			exit(1);
		}
		fs[i] = now_ms() - t0;
	}
	close(fd);
	unlink(fpath);
	/*
	 * The snapshots after all the appends: on ext4 (ordered data) a
	 * journal fdatasync right after a big snapshot waits for the
	 * snapshot's data too, which is the snapshot's cost, not the
	 * journal's.
	 */
	for (k = 0; k < 2; k++)
		for (i = 0; i < runs; i++) {
			t0 = now_ms();
			if (store_save(o[k].path, o[k].d, err, sizeof(err))) {
				fprintf(stderr, "storebench: save: %s\n", err);
				exit(1);
			}
			o[k].sn[i] = now_ms() - t0;
		}
	f = median(fs, samples);
	for (k = 0; k < 2; k++) {
		o[k].bytes = o[k].j.bytes / samples;
		store_journal_close(&o[k].j);
		unlink(o[k].j.path);
		unlink(o[k].path);
		j[k] = median(o[k].t, samples);
		printf("%sset_one_of_%u_journal_p50 %.1f us (median of %u)\n",
		    prefix, o[k].n, j[k] * 1e3, samples);
		printf("%sset_one_of_%u_journal_bytes %llu B\n", prefix,
		    o[k].n, o[k].bytes);
		printf("%sset_one_of_%u_edits_p50 %.2f us (finding the edits, "
		       "before the append)\n",
		    prefix, o[k].n, median(o[k].df, samples) * 1e3);
		printf("%sset_one_of_%u_snapshot_p50 %.3f ms\n", prefix,
		    o[k].n, median(o[k].sn, runs));
	}
	printf("%sfdatasync_p50 %.1f us (a %zu-byte write and fdatasync, "
	       "interleaved)\n",
	    prefix, f * 1e3, sizeof(buf));
	printf("%sset_one_journal_ratio_100k_vs_10 %.2f x (goal: within 2)\n",
	    prefix, j[1] / j[0]);
	printf("%sset_one_journal_less_fdatasync_us %.1f us at 10, %.1f us at "
	       "100k\n",
	    prefix, (j[0] - f) * 1e3, (j[1] - f) * 1e3);
	printf("%sset_one_snapshot_ratio_100k_vs_10 %.1f x (before the "
	       "journal)\n",
	    prefix, median(o[1].sn, runs) / median(o[0].sn, runs));
	for (k = 0; k < 2; k++) {
		free(o[k].t);
		free(o[k].df);
		free(o[k].sn);
		cub_val__free(o[k].d);
	}
	free(fs);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 200;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 9;
	char path[4096];
	struct cub_val *d;
	unsigned samples = argc > 4 ? (unsigned)atoi(argv[4]) : 301;
	const char *tmpfs = argc > 5 && argv[5][0] ? argv[5] : NULL;
	double one, many, big;

	if (runs < 1 || runs > 32 || n < 1 || samples < 1) {
		fprintf(stderr, "usage: storebench [DIR [CUBES [RUNS<=32 "
				"[SAMPLES [TMPFS_DIR]]]]]\n");
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
	one_entries(dir, "", samples, runs);
	/* The same on a tmpfs, where fdatasync writes nothing: the
	 * record's own cost. */
	if (tmpfs)
		one_entries(tmpfs, "tmpfs_", samples, runs);
	d = entries_doc(200, 10000);
	measure("entries2M", path, d, runs < 3 ? runs : 3, &big);
	cub_val__free(d);
	unlink(path);
	return 0;
}
