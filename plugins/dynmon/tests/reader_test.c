/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of dynmon's metrics reader (reader.c) against the fake broker
 * (cubicle/fake.h), on objects compiled by cubicle-dynmon-cc from JSON
 * dataplane-configs (meson.build): Polycube's JSON shapes for every map
 * type, queues drained, empty- and swap-on-read deltas, totals monotonic
 * and exact over interleaved CLI shows and gateway reads, prev carrying
 * totals across a reopen, errors, the size refusal at 64k entries.
 *
 * argv: TYPES.o TYPES.json POLYCUBE.o POLYCUBE.json QUEUE.o QUEUE.json;
 * with "--render OM PROM" first: write the totals after a few reads as
 * OpenMetrics and Prometheus text (reader_validate.sh checks them).
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/bpf.h>

#include "cubicle/fake.h"
#include "dm_policy.h"
#include "reader.h"

enum { OBJ_TYPES, OBJ_POLYCUBE, OBJ_QUEUE, NOBJ };

static char *obj_path[NOBJ], *conf_path[NOBJ];
static void *elf[NOBJ];
static size_t elf_len[NOBJ];
static struct cub_val *conf[NOBJ];
static int loading; /* the object the plugin's apply loads */

static void *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	if (buf)
		buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

/* ---- A plugin that loads the object, as dynmon.c does ---- */

static struct cub_cube *the_cube;

static int
rt_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	(void)config;
	the_cube = cube;
	return create ? cub_cube__load(cube, elf[loading], elf_len[loading])
		      : 0;
}

static void
rt_destroy(struct cub_cube *cube)
{
	(void)cube;
}

static const struct cub_field rt_schema[] = {
    {.name = "note", .type = CUB_T_STR, .help = "unused"}, {0}};
static const struct cub_plugin_ops rt_ops = {
    .apply = rt_apply, .destroy = rt_destroy};
/* dynmon's policy (dm_policy.h): the fake broker checks it at the load. */
static const struct cub_plugin rt_plugin = {
    .abi = CUB_PLUGIN_ABI,
    .name = "rdtest",
    .schema = rt_schema,
    .ops = &rt_ops,
    .policy = DM_BPF_POLICY,
    .flags = CUB_PLUGIN_F_TRANSPARENT,
    CUB_PLUGIN_SIZES,
};

struct fx {
	struct cub_fake *f;
	struct dm_reader *r;
	char err[1024];
};

static void
fx_open(struct fx *x, int obj)
{
	memset(x, 0, sizeof(*x));
	loading = obj;
	x->f = cub_fake__new(&rt_plugin, 2);
	ck_assert_ptr_nonnull(x->f);
	ck_assert_msg(cub_fake__create(x->f, "m1", NULL) == 0, "%s",
	    cub_fake__error(x->f));
	ck_assert_int_eq(dm_reader_open(elf[obj], elf_len[obj], conf[obj], NULL,
			     &x->r, x->err, sizeof(x->err)),
	    0);
}

static void
fx_close(struct fx *x)
{
	dm_reader_free(x->r);
	cub_fake__free(x->f);
}

/* The show's metric entry of name (path 'i'), as compact JSON of its
 * value; the caller frees. */
static char *
show_json(struct fx *x, char path, const char *name)
{
	struct cub_val *out = NULL, *list, *item;
	char *s;

	ck_assert_msg(!dm_reader_show(the_cube, x->r, path, name, &out, x->err,
			  sizeof(x->err)),
	    "show %s: %s", name, x->err);
	list = cub_val__get(
	    out, path == 'e' ? "egress-metrics" : "ingress-metrics");
	ck_assert_ptr_nonnull(list);
	ck_assert_uint_eq(list->arr.len, 1);
	item = list->arr.items[0];
	ck_assert_str_eq(cub_val__get_str(item, "name"), name);
	s = cub_json_emit(cub_val__get(item, "value"), false);
	cub_val__free(out);
	return s;
}

#define ck_show(x, name, want)                                                 \
	do {                                                                   \
		char *s_ = show_json((x), 'i', (name));                        \
		ck_assert_str_eq(s_, (want));                                  \
		free(s_);                                                      \
	} while (0)

/* A program's add on CPU cpu: the u64 at key of map, created if absent. */
static void
dp_add(struct fx *x, const char *map, const void *key, uint64_t v, uint32_t cpu)
{
	uint64_t *p = cub_fake__elem(x->f, "m1", map, key, cpu);

	if (p)
		*p += v;
	else
		ck_assert_int_eq(
		    cub_fake__update(x->f, "m1", map, key, &v, 0, cpu), 0);
}

/* The active copy's object map of swap set set ("i0"). */
static const char *
swap_copy(struct fx *x, const char *set)
{
	static char name[16];
	char index[16];
	uint32_t zero = 0, *a;

	snprintf(index, sizeof(index), "cub_sw_%s", set);
	a = cub_fake__elem(x->f, "m1", index, &zero, 0);
	ck_assert_ptr_nonnull(a);
	snprintf(name, sizeof(name), "%s_c%u", set, *a);
	return name;
}

/* ---- Polycube's exact JSON ---- */

START_TEST(test_polycube_json)
{
	struct __attribute__((packed)) {
		uint32_t saddr, daddr;
		uint16_t sport, dport;
		uint8_t proto;
	} key = {1, 2, 11, 22, 0};
	struct __attribute__((packed)) {
		uint64_t ts;
		uint16_t len;
	} feat = {1010, 1010};
	struct cub_val *out = NULL, *fams = NULL, *list;
	uint32_t zero = 0, val = 0;
	struct timespec t0, t1;
	uint64_t ts, lo, hi;
	struct fx x;
	size_t n;

	fx_open(&x, OBJ_POLYCUBE);
	/* What its program writes on one packet. */
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_SIMPLE_HASH", &key, &val, 0, 0), 0);
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_SIMPLE_ARRAY", &zero, &feat, 0, 0),
	    0);
	ck_show(&x, "SIMPLE_HASH",
	    "[{\"key\":{\"saddr\":1,\"daddr\":2,\"sport\":11,\"dport\":22,"
	    "\"proto\":0},\"value\":0}]");
	ck_show(&x, "SIMPLE_ARRAY", "[{\"timestamp\":1010,\"length\":1010}]");
	/* The whole show: both lists, config order, a timestamp in µs. */
	clock_gettime(CLOCK_REALTIME, &t0);
	ck_assert_int_eq(
	    dm_reader_show(the_cube, x.r, 0, NULL, &out, x.err, sizeof(x.err)),
	    0);
	clock_gettime(CLOCK_REALTIME, &t1);
	list = cub_val__get(out, "ingress-metrics");
	ck_assert_uint_eq(list->arr.len, 2);
	ck_assert_str_eq(
	    cub_val__get_str(list->arr.items[0], "name"), "SIMPLE_ARRAY");
	ck_assert_str_eq(
	    cub_val__get_str(list->arr.items[1], "name"), "SIMPLE_HASH");
	ck_assert_int_eq(
	    cub_val__as_u64(cub_val__get(list->arr.items[0], "timestamp"), &ts),
	    0);
	lo = (uint64_t)t0.tv_sec * 1000000ull + (uint64_t)t0.tv_nsec / 1000;
	hi = (uint64_t)t1.tv_sec * 1000000ull + (uint64_t)t1.tv_nsec / 1000;
	ck_assert(ts >= lo && ts <= hi);
	ck_assert_uint_eq(cub_val__get(out, "egress-metrics")->arr.len, 0);
	cub_val__free(out);
	/* Only the ingress list when asked for it. */
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i', NULL, &out, x.err,
			     sizeof(x.err)),
	    0);
	ck_assert_ptr_null(cub_val__get(out, "egress-metrics"));
	cub_val__free(out);
	/* SIMPLE_ARRAY's struct value has open-metrics-metadata: Polycube
	 * skips it with a warning, so do we; SIMPLE_HASH is exported. */
	cub_fake__clear_records(x.f);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	ck_assert_uint_eq(fams->arr.len, 1);
	ck_assert_str_eq(
	    cub_val__get_str(fams->arr.items[0], "name"), "SIMPLE_HASH");
	cub_val__free(fams);
	ck_assert_ptr_nonnull(cub_fake__logs(x.f, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(strstr(cub_fake__logs(x.f, &n)[0].msg,
	    "metric 'SIMPLE_ARRAY' is not exported"));
	fx_close(&x);
}
END_TEST

/* ---- Every map type's shape ---- */

START_TEST(test_map_types)
{
	uint32_t k0 = 0, k1 = 1, k3 = 3, v32;
	uint64_t v;
	struct {
		uint64_t ts;
		uint32_t len;
	} rec;
	struct fx x;
	int i;

	fx_open(&x, OBJ_TYPES);
	v = 5;
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_h_cnt", &k3, &v, 0, 0), 0);
	ck_show(&x, "h_cnt", "[{\"key\":3,\"value\":5}]");
	ck_show(&x, "h_cnt", "[{\"key\":3,\"value\":5}]"); /* a plain read */
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_h_lru", &k1, &v, 0, 0), 0);
	ck_show(&x, "h_lru", "[{\"key\":1,\"value\":5}]");
	dp_add(&x, "i_a_cnt", &k1, 9, 0);
	ck_show(&x, "a_cnt", "[0,9,0,0]");
	/* Per-CPU: a list per CPU, Polycube's {key, value: [...]}. */
	dp_add(&x, "i_h_pc", &k0, 1, 0);
	dp_add(&x, "i_h_pc", &k0, 2, 1);
	ck_show(&x, "h_pc", "[{\"key\":0,\"value\":[1,2]}]");
	dp_add(&x, "i_a_pc", &k1, 4, 1);
	ck_show(&x, "a_pc",
	    "[{\"key\":0,\"value\":[0,0]},{\"key\":1,\"value\":[0,4]}]");
	dp_add(&x, "i_h_lpc", &k3, 6, 0);
	ck_show(&x, "h_lpc", "[{\"key\":3,\"value\":[6,0]}]");
	/* A queue: oldest first, drained by the read. */
	for (i = 1; i <= 3; i++) {
		rec.ts = (uint64_t)i;
		rec.len = (uint32_t)i * 10;
		ck_assert_int_eq(
		    cub_fake__update(x.f, "m1", "i_q_rec", NULL, &rec, 0, 0),
		    0);
		v32 = (uint32_t)i;
		ck_assert_int_eq(
		    cub_fake__update(x.f, "m1", "i_s_val", NULL, &v32, 0, 0),
		    0);
	}
	ck_show(&x, "q_rec",
	    "[{\"ts\":1,\"len\":10},{\"ts\":2,\"len\":20},{\"ts\":3,\"len\":"
	    "30}]");
	ck_assert_int_eq(cub_fake__count(x.f, "m1", "i_q_rec"), 0);
	ck_show(&x, "q_rec", "[]");
	ck_show(&x, "s_val", "[3,2,1]"); /* a stack: newest first */
	ck_assert_int_eq(cub_fake__count(x.f, "m1", "i_s_val"), 0);
	/* The egress path's list. */
	dp_add(&x, "e_eg_cnt", &k0, 2, 0);
	{
		char *s = show_json(&x, 'e', "eg_cnt");

		ck_assert_str_eq(s, "[2]");
		free(s);
	}
	fx_close(&x);
}
END_TEST

START_TEST(test_queue_drained)
{
	struct __attribute__((packed)) {
		uint64_t ts;
		uint16_t len;
	} feat = {1010, 1010};
	struct fx x;

	fx_open(&x, OBJ_QUEUE);
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_SIMPLE_QUEUE", NULL, &feat, 0, 0),
	    0);
	/* Size 1: a second push fails, as in Polycube's test. */
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_SIMPLE_QUEUE", NULL, &feat, 0, 0),
	    -E2BIG);
	ck_show(&x, "SIMPLE_QUEUE", "[{\"timestamp\":1010,\"length\":1010}]");
	ck_assert_int_eq(cub_fake__count(x.f, "m1", "i_SIMPLE_QUEUE"), 0);
	ck_show(&x, "SIMPLE_QUEUE", "[]");
	fx_close(&x);
}
END_TEST

/* ---- Deltas ---- */

START_TEST(test_empty_on_read)
{
	uint16_t port = 53, p2 = 80;
	uint32_t k0 = 0, k1 = 1;
	struct fx x;

	fx_open(&x, OBJ_TYPES);
	dp_add(&x, "i_e_port", &port, 3, 0);
	ck_show(&x, "e_port", "[{\"key\":53,\"value\":3}]");
	ck_assert_int_eq(cub_fake__count(x.f, "m1", "i_e_port"), 0);
	ck_show(&x, "e_port", "[]");
	dp_add(&x, "i_e_port", &port, 4, 0);
	dp_add(&x, "i_e_port", &p2, 1, 0);
	ck_show(&x, "e_port",
	    "[{\"key\":53,\"value\":4},{\"key\":80,\"value\":1}]");
	/* Arrays are zeroed, every index shown. */
	dp_add(&x, "i_e_arr", &k0, 5, 0);
	ck_show(&x, "e_arr", "[5,0]");
	ck_assert_uint_eq(
	    *(uint64_t *)cub_fake__elem(x.f, "m1", "i_e_arr", &k0, 0), 0);
	dp_add(&x, "i_e_arr", &k1, 2, 0);
	ck_show(&x, "e_arr", "[0,2]");
	fx_close(&x);
}
END_TEST

/* A gauge and a struct value are not summed: latest wins; the gateway's
 * reads in between do not take the CLI's delta. */
START_TEST(test_latest_wins)
{
	struct cub_val *fams = NULL;
	uint32_t k0 = 0;
	uint64_t v;
	struct {
		uint64_t ts;
		uint32_t len;
	} rec = {11, 1};
	struct fx x;

	fx_open(&x, OBJ_TYPES);
	v = 7;
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_g_lvl", &k0, &v, 0, 0), 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	cub_val__free(fams);
	v = 9;
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_g_lvl", &k0, &v, 0, 0), 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	cub_val__free(fams);
	ck_show(&x, "g_lvl", "[9]"); /* not 16 */
	/* e_rec and e_rec2 read one map: each read serves both. */
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_e_rec", &k0, &rec, 0, 0), 0);
	ck_show(&x, "e_rec", "[{\"key\":0,\"value\":{\"ts\":11,\"len\":1}}]");
	rec.ts = 12;
	ck_assert_int_eq(
	    cub_fake__update(x.f, "m1", "i_e_rec", &k0, &rec, 0, 0), 0);
	ck_show(&x, "e_rec", "[{\"key\":0,\"value\":{\"ts\":12,\"len\":1}}]");
	ck_show(&x, "e_rec2", "[{\"key\":0,\"value\":{\"ts\":12,\"len\":1}}]");
	ck_show(&x, "e_rec2", "[]");
	fx_close(&x);
}
END_TEST

START_TEST(test_swap_on_read)
{
	uint32_t k0 = 0;
	uint16_t port = 7;
	struct fx x;

	fx_open(&x, OBJ_TYPES);
	/* sw_pc is the path's first swap-on-read map: set i0. */
	dp_add(&x, swap_copy(&x, "i0"), &k0, 3, 0);
	dp_add(&x, swap_copy(&x, "i0"), &k0, 4, 1);
	ck_show(&x, "sw_pc", "[{\"key\":0,\"value\":[3,4]}]");
	ck_assert_str_eq(swap_copy(&x, "i0"), "i0_c1"); /* flipped */
	dp_add(&x, swap_copy(&x, "i0"), &k0, 1, 0);
	ck_show(&x, "sw_pc", "[{\"key\":0,\"value\":[1,0]}]");
	ck_show(&x, "sw_pc", "[{\"key\":0,\"value\":[0,0]}]");
	/* sw_port: set i1, a hash: the keys written since the read. */
	dp_add(&x, swap_copy(&x, "i1"), &port, 2, 0);
	ck_show(&x, "sw_port", "[{\"key\":7,\"value\":2}]");
	ck_show(&x, "sw_port", "[]");
	fx_close(&x);
}
END_TEST

/* ---- Totals and deltas over interleaved readers ---- */

#define NPORTS 13

struct written {
	uint64_t pc, port[NPORTS], hist[8], eport[NPORTS];
};

static uint64_t
num_of(const struct cub_val *v)
{
	uint64_t u = 0;

	ck_assert_ptr_nonnull(v);
	if (v->kind == CUB_V_FLOAT)
		return (uint64_t)v->f;
	ck_assert_int_eq(cub_val__as_u64(v, &u), 0);
	return u;
}

static const struct cub_val *
family(const struct cub_val *fams, const char *name)
{
	uint32_t i;

	for (i = 0; i < fams->arr.len; i++)
		if (!strcmp(cub_val__get_str(fams->arr.items[i], "name"), name))
			return fams->arr.items[i];
	return NULL;
}

/* Sample of fam with label key = v (NULL: the only sample). */
static const struct cub_val *
sample(const struct cub_val *fam, const char *label, const char *v)
{
	const struct cub_val *s = cub_val__get(fam, "samples");
	uint32_t i;

	for (i = 0; s && i < s->arr.len; i++)
		if (!label ||
		    !strcmp(cub_val__get_str(
				cub_val__get(s->arr.items[i], "labels"), label)
				?: "",
			v))
			return s->arr.items[i];
	return NULL;
}

/* The families' totals must equal what was written. */
static void
check_totals(
    const struct cub_val *fams, const struct written *w, struct written *last)
{
	const struct cub_val *f, *s;
	char port[16];
	uint64_t n, sum = 0;
	int i;

	f = family(fams, "sw_pc");
	ck_assert_ptr_nonnull(f);
	n = num_of(cub_val__get(sample(f, NULL, NULL), "value"));
	ck_assert_uint_eq(n, w->pc);
	ck_assert_uint_ge(n, last->pc);
	last->pc = n;
	f = family(fams, "sw_port");
	for (i = 0; i < NPORTS; i++) {
		snprintf(port, sizeof(port), "%d", 1000 + i);
		s = sample(f, "key", port);
		n = s ? num_of(cub_val__get(s, "value")) : 0;
		ck_assert_uint_eq(n, w->port[i]);
		ck_assert_uint_ge(n, last->port[i]);
		last->port[i] = n;
	}
	f = family(fams, "e_port");
	for (i = 0; i < NPORTS; i++) {
		snprintf(port, sizeof(port), "%d", 1000 + i);
		s = sample(f, "key", port);
		n = s ? num_of(cub_val__get(s, "value")) : 0;
		ck_assert_uint_eq(n, w->eport[i]);
		last->eport[i] = n;
	}
	f = family(fams, "hist");
	s = sample(f, NULL, NULL);
	for (i = 0; i < 8; i++)
		sum += w->hist[i];
	n = num_of(cub_val__get(s, "count"));
	ck_assert_uint_eq(n, sum);
	ck_assert_uint_ge(n, last->hist[0]);
	last->hist[0] = n;
	/* Cumulative buckets: le = 2^i holds buckets 0..i. */
	s = cub_val__get(s, "buckets");
	ck_assert_ptr_nonnull(s);
	for (i = 0, sum = 0; i < 8; i++) {
		sum += w->hist[i];
		ck_assert_uint_eq(
		    num_of(cub_val__get(s->arr.items[i], "count")), sum);
	}
}

/* Add what a show returned of sw_pc, sw_port, e_port and hist to seen. */
static void
add_shown(const struct cub_val *out, struct written *seen)
{
	const struct cub_val *list = cub_val__get(out, "ingress-metrics");
	uint32_t i, j, c;

	for (i = 0; list && i < list->arr.len; i++) {
		const struct cub_val *it = list->arr.items[i];
		const char *name = cub_val__get_str(it, "name");
		const struct cub_val *v = cub_val__get(it, "value");

		for (j = 0; j < v->arr.len; j++) {
			const struct cub_val *e = v->arr.items[j];

			if (!strcmp(name, "sw_pc")) {
				const struct cub_val *cpus =
				    cub_val__get(e, "value");

				for (c = 0; c < cpus->arr.len; c++)
					seen->pc += num_of(cpus->arr.items[c]);
			} else if (!strcmp(name, "sw_port"))
				seen->port[num_of(cub_val__get(e, "key")) -
					   1000] +=
				    num_of(cub_val__get(e, "value"));
			else if (!strcmp(name, "e_port"))
				seen->eport[num_of(cub_val__get(e, "key")) -
					    1000] +=
				    num_of(cub_val__get(e, "value"));
			else if (!strcmp(name, "hist"))
				seen->hist[j] += num_of(e);
		}
	}
}

/* One round of traffic: ports come and go, a bucket per round. */
static void
traffic(struct fx *x, uint32_t round, struct written *w)
{
	uint32_t k0 = 0, b = round % 8;
	uint16_t p = (uint16_t)(1000 + (round * 7) % NPORTS);
	uint16_t q = (uint16_t)(1000 + (round * 3 + 1) % NPORTS);

	dp_add(x, swap_copy(x, "i0"), &k0, round % 5 + 1, round % 2);
	w->pc += round % 5 + 1;
	dp_add(x, swap_copy(x, "i1"), &p, 2, 0);
	w->port[p - 1000] += 2;
	if (round % 3 == 0) {
		dp_add(x, swap_copy(x, "i1"), &q, 1, 0);
		w->port[q - 1000] += 1;
	}
	dp_add(x, "i_e_port", &q, 3, 0);
	w->eport[q - 1000] += 3;
	dp_add(x, "i_hist", &b, 1, 0);
	w->hist[b]++;
}

START_TEST(test_totals_interleaved)
{
	static const char *const one[] = {"sw_pc", "sw_port", "e_port", "hist"};
	struct written w = {0}, seen = {0}, last = {0};
	struct cub_val *out, *fams;
	uint32_t round, lcg = 12345, i;
	struct fx x;

	fx_open(&x, OBJ_TYPES);
	for (round = 0; round < 120; round++) {
		traffic(&x, round, &w);
		lcg = lcg * 1103515245u + 12345u;
		switch ((lcg >> 16) % 4) {
		case 0: /* the CLI: every metric */
			ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i',
					     NULL, &out, x.err, sizeof(x.err)),
			    0);
			add_shown(out, &seen);
			cub_val__free(out);
			break;
		case 1: /* the CLI: one metric */
			ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i',
					     one[(lcg >> 8) % 4], &out, x.err,
					     sizeof(x.err)),
			    0);
			add_shown(out, &seen);
			cub_val__free(out);
			break;
		default: /* the gateway, once or twice */
			for (i = 0; i <= (lcg >> 4) % 2; i++) {
				ck_assert_int_eq(
				    dm_reader_families(the_cube, x.r, &fams,
					x.err, sizeof(x.err)),
				    0);
				check_totals(fams, &w, &last);
				cub_val__free(fams);
			}
		}
	}
	/* A last show: the CLI has seen every update exactly once. */
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i', NULL, &out, x.err,
			     sizeof(x.err)),
	    0);
	add_shown(out, &seen);
	cub_val__free(out);
	ck_assert_uint_eq(seen.pc, w.pc);
	for (i = 0; i < NPORTS; i++) {
		ck_assert_uint_eq(seen.port[i], w.port[i]);
		ck_assert_uint_eq(seen.eport[i], w.eport[i]);
	}
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(seen.hist[i], w.hist[i]);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	check_totals(fams, &w, &last);
	cub_val__free(fams);
	fx_close(&x);
}
END_TEST

/* A plain counter: shows are snapshots, totals replaced. */
START_TEST(test_plain_counter)
{
	struct cub_val *fams;
	uint32_t k2 = 2;
	struct fx x;

	fx_open(&x, OBJ_TYPES);
	dp_add(&x, "i_a_cnt", &k2, 4, 0);
	ck_show(&x, "a_cnt", "[0,0,4,0]");
	ck_show(&x, "a_cnt", "[0,0,4,0]");
	dp_add(&x, "i_a_cnt", &k2, 1, 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	ck_assert_uint_eq(
	    num_of(cub_val__get(
		sample(family(fams, "a_cnt"), "index", "2"), "value")),
	    5);
	/* Its static label rides on every sample. */
	ck_assert_str_eq(
	    cub_val__get_str(
		cub_val__get(
		    sample(family(fams, "a_cnt"), "index", "2"), "labels"),
		"site"),
	    "a\"b");
	cub_val__free(fams);
	fx_close(&x);
}
END_TEST

/* ---- A reopen carries what is the same ---- */

START_TEST(test_prev_carries)
{
	struct cub_val *fams, *c2;
	struct dm_reader *r2;
	uint16_t port = 1003;
	uint32_t k0 = 0;
	struct fx x;
	size_t i;

	fx_open(&x, OBJ_TYPES);
	dp_add(&x, "i_e_port", &port, 5, 0);
	dp_add(&x, swap_copy(&x, "i0"), &k0, 8, 1);
	dp_add(&x, "i_hist", &k0, 3, 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	cub_val__free(fams);
	/* The same config: totals and the CLI's deltas go on. */
	ck_assert_int_eq(dm_reader_open(elf[OBJ_TYPES], elf_len[OBJ_TYPES],
			     conf[OBJ_TYPES], x.r, &r2, x.err, sizeof(x.err)),
	    0);
	dm_reader_free(x.r);
	x.r = r2;
	dp_add(&x, "i_e_port", &port, 1, 0);
	dp_add(&x, swap_copy(&x, "i0"), &k0, 2, 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	ck_assert_uint_eq(
	    num_of(cub_val__get(
		sample(family(fams, "e_port"), "key", "1003"), "value")),
	    6);
	ck_assert_uint_eq(
	    num_of(cub_val__get(
		sample(family(fams, "sw_pc"), NULL, NULL), "value")),
	    10);
	/* A histogram's buckets, count and sum carry too. */
	ck_assert_uint_eq(
	    num_of(cub_val__get(
		sample(family(fams, "hist"), NULL, NULL), "count")),
	    3);
	cub_val__free(fams);
	ck_show(&x, "e_port", "[{\"key\":1003,\"value\":6}]");
	ck_show(&x, "sw_pc", "[{\"key\":0,\"value\":[2,8]}]");
	/* e_port turned into a gauge: it starts from zero. */
	dp_add(&x, "i_e_port", &port, 1, 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	cub_val__free(fams);
	c2 = cub_val__dup(conf[OBJ_TYPES]);
	{
		struct cub_val *mcs = cub_val__get(
		    cub_val__get(c2, "ingress-path"), "metric-configs");

		for (i = 0; i < mcs->arr.len; i++)
			if (!strcmp(cub_val__get_str(mcs->arr.items[i], "name"),
				"e_port"))
				cub_val__set(cub_val__get(mcs->arr.items[i],
						 "open-metrics-metadata"),
				    "type", cub_val__str("gauge"));
	}
	ck_assert_int_eq(dm_reader_open(elf[OBJ_TYPES], elf_len[OBJ_TYPES], c2,
			     x.r, &r2, x.err, sizeof(x.err)),
	    0);
	cub_val__free(c2);
	dm_reader_free(x.r);
	x.r = r2;
	ck_show(&x, "e_port", "[]"); /* the old delta is not carried */
	ck_show(&x, "sw_pc", "[{\"key\":0,\"value\":[0,0]}]");
	dp_add(&x, "i_e_port", &port, 2, 0);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	ck_assert_uint_eq(
	    num_of(cub_val__get(
		sample(family(fams, "e_port"), "key", "1003"), "value")),
	    2);
	ck_assert_uint_eq(
	    num_of(cub_val__get(
		sample(family(fams, "sw_pc"), NULL, NULL), "value")),
	    10);
	cub_val__free(fams);
	fx_close(&x);
}
END_TEST

/* ---- Errors ---- */

/* The types config with metric name's field key set to v (NULL: removed). */
static struct cub_val *
conf_with(const char *name, const char *key, struct cub_val *v)
{
	struct cub_val *c = cub_val__dup(conf[OBJ_TYPES]), *mcs;
	uint32_t i;

	mcs = cub_val__get(cub_val__get(c, "ingress-path"), "metric-configs");
	for (i = 0; i < mcs->arr.len; i++) {
		if (strcmp(cub_val__get_str(mcs->arr.items[i], "name"), name))
			continue;
		if (v)
			cub_val__set(mcs->arr.items[i], key, v);
		else
			cub_val__del(mcs->arr.items[i], key);
	}
	return c;
}

static void
open_refused(struct cub_val *c, const char *const *words)
{
	struct dm_reader *r = (void *)1;
	char err[1024] = "";

	ck_assert_int_eq(dm_reader_open(elf[OBJ_TYPES], elf_len[OBJ_TYPES], c,
			     NULL, &r, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_null(r);
	for (; *words; words++)
		ck_assert_msg(
		    strstr(err, *words), "'%s' not in: %s", *words, err);
	cub_val__free(c);
}

START_TEST(test_errors)
{
	struct cub_val *out = (void *)1, *c, *om;
	struct dm_reader *r = NULL;
	struct fx x;

	open_refused(conf_with("h_cnt", "map-name", cub_val__str("nosuch")),
	    (const char *const[]){"ingress-path", "'h_cnt'", "'nosuch'", NULL});
	open_refused(conf_with("h_lru", "map-name", NULL),
	    (const char *const[]){"ingress-path", "'h_lru'", "map-name", NULL});
	c = cub_val__map();
	cub_val__set(c, "swap-on-read", cub_val__bool(true));
	open_refused(conf_with("q_rec", "extraction-options", c),
	    (const char *const[]){"'q_rec'", "QUEUE", "swap-on-read", NULL});
	open_refused(conf_with("h_pc", "name", cub_val__str("h_cnt")),
	    (const char *const[]){"two metric-configs", "'h_cnt'", NULL});
	om = cub_val__map();
	cub_val__set(om, "help", cub_val__str("x"));
	cub_val__set(om, "type", cub_val__str("summary"));
	open_refused(conf_with("h_lru", "open-metrics-metadata", om),
	    (const char *const[]){"'h_lru'", "summar", NULL});
	ck_assert_int_eq(
	    dm_reader_open(NULL, 0, conf[OBJ_TYPES], NULL, &r, NULL, 0),
	    -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_ptr_null(dm_reader_free(NULL));
	/* Show: an unknown metric, a bad path. */
	fx_open(&x, OBJ_TYPES);
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i', "nosuch", &out,
			     x.err, sizeof(x.err)),
	    -ENOENT);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(x.err, "ingress-path has no metric "
					    "'nosuch'"));
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'e', "h_cnt", &out,
			     x.err, sizeof(x.err)),
	    -ENOENT);
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'x', NULL, &out, x.err,
			     sizeof(x.err)),
	    -EINVAL);
	/* A reader of another object than the one loaded: the read fails
	 * naming the path, the metric and the map. */
	ck_assert_int_eq(
	    dm_reader_open(elf[OBJ_POLYCUBE], elf_len[OBJ_POLYCUBE],
		conf[OBJ_POLYCUBE], NULL, &r, x.err, sizeof(x.err)),
	    0);
	ck_assert_int_eq(dm_reader_show(the_cube, r, 'i', "SIMPLE_HASH", &out,
			     x.err, sizeof(x.err)),
	    -ENOENT);
	ck_assert_ptr_nonnull(strstr(x.err, "ingress-path: metric "
					    "'SIMPLE_HASH' (map "
					    "'SIMPLE_HASH', object map "
					    "'i_SIMPLE_HASH')"));
	dm_reader_free(r);
	fx_close(&x);
}
END_TEST

/* ---- Big maps: refused whole, with the metric and the count ---- */

START_TEST(test_big_map)
{
	struct cub_val *out = NULL, *fams;
	uint32_t *keys, k, n;
	uint64_t *vals;
	void *buf;
	size_t len;
	struct fx x;
	cub_map m;

	fx_open(&x, OBJ_TYPES);
	ck_assert_int_eq(cub_cube__map(the_cube, "i_big", &m), 0);
	ck_assert_uint_eq(m.max_entries, 65536);
	keys = malloc(65536 * sizeof(*keys));
	vals = malloc(65536 * sizeof(*vals));
	for (k = 0; k < 65536; k++) {
		keys[k] = k;
		vals[k] = k + 1;
	}
	/* 20000 entries fit, and the answer passes the wire's checks. */
	n = 20000;
	ck_assert_int_eq(
	    cub_map__update_batch(the_cube, &m, keys, vals, &n, NULL), 0);
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i', "big", &out, x.err,
			     sizeof(x.err)),
	    0);
	ck_assert_uint_eq(cub_val__get(out, "ingress-metrics")
			      ->arr.items[0]
			      ->map.items[1]
			      .val->arr.len,
	    20000);
	ck_assert_int_eq(cub_mp_encode(out, &buf, &len), 0);
	ck_assert_int_eq(cub_mp_check(buf, len, x.err, sizeof(x.err)), 0);
	free(buf);
	cub_val__free(out);
	/* 64k: refused naming the metric and its entries; nothing else
	 * changes (other metrics still show). */
	n = 65536 - 20000;
	ck_assert_int_eq(cub_map__update_batch(the_cube, &m, keys + 20000,
			     vals + 20000, &n, NULL),
	    0);
	out = (void *)1;
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i', "big", &out, x.err,
			     sizeof(x.err)),
	    -EMSGSIZE);
	ck_assert_ptr_null(out);
	ck_assert_msg(
	    strstr(x.err, "metric 'big'") && strstr(x.err, "65536 entries"),
	    "%s", x.err);
	ck_assert_int_eq(dm_reader_show(the_cube, x.r, 'i', NULL, &out, x.err,
			     sizeof(x.err)),
	    -EMSGSIZE);
	ck_show(&x, "h_cnt", "[]");
	/* The gateway's families are capped per metric: no refusal; the
	 * series past the cap are counted in "dropped" and logged once,
	 * not again at the next read of as many. */
	cub_fake__clear_records(x.f);
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	for (k = 0; k < fams->arr.len; k++)
		if (!strcmp(cub_val__get_str(fams->arr.items[k], "name"),
			"big_series"))
			break;
	ck_assert_uint_lt(k, fams->arr.len);
	ck_assert_uint_eq(
	    cub_val__get(fams->arr.items[k], "dropped")->u, 65536 - 4096);
	cub_val__free(fams);
	{
		const struct cub_fake_log *lg = cub_fake__logs(x.f, &len);

		ck_assert_uint_eq(len, 1);
		ck_assert_msg(strstr(lg[0].msg, "metric 'big_series': 61440 "
						"series over the cap of 4096"),
		    "%s", lg[0].msg);
	}
	ck_assert_int_eq(
	    dm_reader_families(the_cube, x.r, &fams, x.err, sizeof(x.err)), 0);
	cub_val__free(fams);
	cub_fake__logs(x.f, &len);
	ck_assert_uint_eq(len, 1);
	free(keys);
	free(vals);
	fx_close(&x);
}
END_TEST

/* ---- OpenMetrics text for reader_validate.sh ---- */

static int
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");
	int ok = fp && fwrite(text, 1, len, fp) == len;

	if (fp)
		ok &= !fclose(fp);
	return ok ? 0 : -EIO;
}

static const char *render_om, *render_prom;

/* Two rounds of traffic read by the CLI in between, then the text. */
START_TEST(test_render)
{
	const char *om = render_om, *prom = render_prom;
	struct written w = {0};
	struct cub_val *out;
	char *text;
	size_t len;
	struct fx x;
	int r;

	fx_open(&x, OBJ_TYPES);
	traffic(&x, 0, &w);
	r = dm_reader_show(
	    the_cube, x.r, 'i', NULL, &out, x.err, sizeof(x.err));
	cub_val__free(out);
	traffic(&x, 3, &w);
	if (!r)
		r = dm_reader_openmetrics(the_cube, x.r, CUB_OM_OPENMETRICS,
		    &text, &len, x.err, sizeof(x.err));
	if (!r) {
		r = write_file(om, text, len);
		free(text);
	}
	if (!r)
		r = dm_reader_openmetrics(the_cube, x.r, CUB_OM_PROMETHEUS,
		    &text, &len, x.err, sizeof(x.err));
	if (!r) {
		r = write_file(prom, text, len);
		free(text);
	}
	ck_assert_msg(!r, "render: %s (%s)", x.err, strerror(-r));
	fx_close(&x);
}
END_TEST

int
main(int argc, char **argv)
{
	Suite *s = suite_create("dynmon-reader");
	TCase *tc = tcase_create("reader");
	int i, off = 0;

	if (argc > 3 && !strcmp(argv[1], "--render"))
		off = 3;
	if (argc != 1 + off + 2 * NOBJ) {
		fprintf(stderr,
		    "usage: %s [--render OM PROM] TYPES.o TYPES.json "
		    "POLYCUBE.o POLYCUBE.json QUEUE.o QUEUE.json\n",
		    argv[0]);
		return 2;
	}
	for (i = 0; i < NOBJ; i++) {
		char err[256];
		size_t n;
		char *text;

		obj_path[i] = argv[1 + off + 2 * i];
		conf_path[i] = argv[2 + off + 2 * i];
		elf[i] = slurp(obj_path[i], &elf_len[i]);
		text = slurp(conf_path[i], &n);
		conf[i] =
		    text ? cub_json_parse(text, n, err, sizeof(err)) : NULL;
		free(text);
		if (!elf[i] || !conf[i]) {
			fprintf(stderr, "%s or %s: cannot read\n", obj_path[i],
			    conf_path[i]);
			return 2;
		}
	}
	tcase_set_timeout(tc, 240);
	if (off) {
		render_om = argv[2];
		render_prom = argv[3];
		tcase_add_test(tc, test_render);
		suite_add_tcase(s, tc);
		return cubi_check_run(s);
	}
	tcase_add_test(tc, test_polycube_json);
	tcase_add_test(tc, test_map_types);
	tcase_add_test(tc, test_queue_drained);
	tcase_add_test(tc, test_empty_on_read);
	tcase_add_test(tc, test_latest_wins);
	tcase_add_test(tc, test_swap_on_read);
	tcase_add_test(tc, test_totals_interleaved);
	tcase_add_test(tc, test_plain_counter);
	tcase_add_test(tc, test_prev_carries);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_big_map);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
