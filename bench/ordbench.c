// SPDX-License-Identifier: BSD-2-Clause
/*
 * ordbench: the tree engine's ordered lists in process (bench/list-set
 * runs it first).  For each size S of --sizes (default 1024,8192) an
 * ordered list is filled by S one-entry adds that insert, in turn, at the
 * front (position=first), the middle (index=len/2), the back (append),
 * before and after a key three quarters in; and, for comparison, the same
 * S entries are loaded in one body.  Output, per size: time per insert
 * (us), key comparisons per insert (the index finds keys; a scan would
 * compare len/2), time per entry of the body load; then the ratios of the
 * largest size to the smallest.  A per-insert cost that grew with S would
 * make the fill quadratic: the ratio says how much it grows.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cubicle/errors.h"
#include "tree.h"

static const struct cub_field entry[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY},
    {.name = "dport", .type = CUB_T_PORT_RANGE},
    {.name = "dst", .type = CUB_T_IPV6_PREFIX},
    {0},
};

static const struct cub_field fields[] = {
    {.name = "chain",
	.type = CUB_T_LIST,
	.flags = CUB_F_ORDERED,
	.children = entry},
    {0},
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *what, struct cub_val *errv)
{
	const char *msg = "";

	if (errv)
		cub_err_parse(errv, &msg);
	fprintf(stderr, "ordbench: %s: %s\n", what, msg);
	exit(1);
}

/* One add: chain add <id> [name=value], run as the broker runs it. */
static void
add(const struct cubi_schema *s, struct cub_val *doc, uint32_t id,
    const char *name, const char *value)
{
	struct cub_val *w = cub_val__array(), *a = cub_val__map(), *errv = NULL;
	struct cubi_result res;

	cub_val__push(w, cub_val__str("chain"));
	cub_val__push(w, cub_val__str("add"));
	cub_val__push(w, cub_val__strf("%u", id));
	cub_val__set(a, "dport", cub_val__str("8000:8100"));
	cub_val__set(a, "dst", cub_val__strf("2001:db8:%x::/48", id & 0xffff));
	if (name)
		cub_val__set(a, name, cub_val__str(value));
	if (cubi_tree__change(s, doc, w, a, NULL, &res, &errv))
		die("add", errv);
	cubi_result__clear(&res);
	cub_val__free(w);
	cub_val__free(a);
}

struct result {
	double insert_us, compares, load_us;
};

static struct result
run(const struct cubi_schema *s, uint32_t n)
{
	struct cub_val *doc = NULL, *errv = NULL, *body, *arr, *e;
	uint32_t i, len, *ids = calloc(n, sizeof(*ids));
	struct result r = {0};
	uint64_t c0;
	char v[24];
	double t0;

	if (!ids ||
	    cubi_tree__new_doc(s, "b", "bench", NULL, NULL, &doc, &errv))
		die("new_doc", errv);
	c0 = cubi_tree__key_compares();
	t0 = now_us();
	for (i = 0, len = 0; i < n; i++, len++) {
		switch (i % 5) {
		case 0:
			add(s, doc, i, "position", "first");
			break;
		case 1:
			snprintf(v, sizeof(v), "%u", len / 2);
			add(s, doc, i, "index", v);
			break;
		case 2:
			add(s, doc, i, NULL, NULL);
			break;
		default:
			/* the key three quarters in, found by the index */
			e = cub_val__get(doc, "chain")->arr.items[len * 3 / 4];
			snprintf(
			    v, sizeof(v), "%" PRIu64, cub_val__get(e, "id")->u);
			add(s, doc, i, i % 5 == 3 ? "before" : "after", v);
			break;
		}
	}
	r.insert_us = (now_us() - t0) / n;
	r.compares = (double)(cubi_tree__key_compares() - c0) / n;
	cub_val__free(doc);
	free(ids);

	body = cub_val__map();
	arr = cub_val__array();
	for (i = 0; i < n; i++) {
		e = cub_val__map();
		cub_val__set(e, "id", cub_val__uint(i));
		cub_val__set(e, "dport", cub_val__str("8000:8100"));
		cub_val__set(e, "dst", cub_val__strf("2001:db8:%x::/48", i));
		cub_val__push(arr, e);
	}
	cub_val__set(body, "chain", arr);
	t0 = now_us();
	if (cubi_tree__new_doc(s, "b", "bench", NULL, body, &doc, &errv))
		die("load", errv);
	r.load_us = (now_us() - t0) / n;
	cub_val__free(doc);
	cub_val__free(body);
	return r;
}

int
main(int argc, char **argv)
{
	const char *sizes = "1024,8192";
	struct result first = {0}, last = {0};
	struct cubi_schema *s;
	struct cub_val *w;
	uint32_t n, nmin = 0, nmax = 0;
	char err[256], *p, *end;
	int c;

	while ((c = getopt(argc, argv, "s:")) != -1)
		if (c == 's')
			sizes = optarg;
	w = cub_schema__to_val(fields);
	s = cubi_schema__parse(w, err, sizeof(err));
	cub_val__free(w);
	if (!s) {
		fprintf(stderr, "ordbench: %s\n", err);
		return 1;
	}
	for (p = (char *)sizes; *p; p = *end ? end + 1 : end) {
		n = (uint32_t)strtoul(p, &end, 10);
		if (!n || (*end && *end != ',')) {
			fprintf(stderr, "ordbench: bad --sizes '%s'\n", sizes);
			return 1;
		}
		last = run(s, n);
		if (!nmin)
			first = last, nmin = n;
		nmax = n;
		printf("ordered_insert_%u %.2f us\n", n, last.insert_us);
		printf(
		    "ordered_insert_compares_%u %.2f keys\n", n, last.compares);
		printf("ordered_load_per_entry_%u %.2f us\n", n, last.load_us);
	}
	if (nmax != nmin) {
		printf("ordered_insert_ratio_%u_%u %.2f x\n", nmax, nmin,
		    last.insert_us / first.insert_us);
		printf("ordered_load_per_entry_ratio_%u_%u %.2f x\n", nmax,
		    nmin, last.load_us / first.load_us);
	}
	cubi_schema__free(s);
	return 0;
}
