/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the fake broker (cubicle/fake.h): it refuses as the
 * kernel does (E2BIG, ENOENT, EEXIST, EINVAL, a bad key size as the
 * broker refuses it) and as the broker does (schema errors: the tree
 * engine's own words), records logs, packet-out and helper runs, and
 * runs the object for real as root.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "cubicle/fake.h"
#include "fake_bad_devmap.skel.h"
#include "fake_bad_fw.skel.h"
#include "fake_bad_many.skel.h"
#include "fake_bad_redirect.skel.h"
#include "fake_test.skel.h"
#include "tree.h"

/* ---- A plugin of the test's own ---- */

static const char *const modes[] = {"FAST", "SLOW", NULL};

static const struct cub_field port_fields[] = {{0}};

static const struct cub_field schema[] = {{.name = "mode",
					      .type = CUB_T_ENUM,
					      .enums = modes,
					      .dflt = "FAST",
					      .help = "a mode"},
    {.name = "limit",
	.type = CUB_T_U8,
	.min = 1,
	.max = 10,
	.dflt = "5",
	.help = "1 to 10"},
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = port_fields,
	.help = "ports"},
    {0}};

static const struct cub_action ft_actions[] = {
    {.name = "emit", .help = "log, packet-out, helper"}, {0}};

static struct cub_cube *the_cube;
static int apply_calls, destroy_calls;

static int
ft_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	size_t len;
	const void *elf = fake_test__elf_bytes(&len);
	uint64_t limit = 0;

	apply_calls++;
	the_cube = cube;
	cub_val__as_u64(cub_val__get(config, "limit"), &limit);
	if (limit == 9)
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "limit 9 is refused by the plugin");
	return create ? cub_cube__load(cube, elf, len) : 0;
}

static void
ft_destroy(struct cub_cube *cube)
{
	destroy_calls++;
}

static int
ft_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	static const uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	void *out = NULL;
	size_t outlen = 0;
	int r;

	cub_cube__log(cube, CUB_LOG_WARN, "emit %s", name);
	cub_cube__log(cube, CUB_LOG_DEBUG, "below the loglevel");
	if ((r = cub_cube__packet_out(
		 cube, 0, CUB_PKTOUT_EGRESS, frame, sizeof(frame))))
		return r;
	if ((r = cub_helper__run(cube, "rev", "abc", 3, &out, &outlen, NULL)))
		return r;
	*result = cub_val__bin(out, outlen);
	free(out);
	return 0;
}

static int tick_calls;
static uint32_t pkt_reason, pkt_port;

static void
ft_tick(struct cub_cube *cube)
{
	(void)cube;
	tick_calls++;
}

static void
ft_packet_in(struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	(void)data;
	(void)len;
	pkt_port = port;
	pkt_reason = cub_cube__packet_reason(cube);
}

static const struct cub_plugin_ops ft_ops = {.apply = ft_apply,
    .destroy = ft_destroy,
    .action = ft_action,
    .packet_in = ft_packet_in,
    .tick = ft_tick};

/* What the test object needs (the broker's policy check, as at load). */
#define FT_POLICY                                                              \
	{                                                                      \
		.prog_types =                                                  \
		    1u << BPF_PROG_TYPE_SCHED_CLS | 1u << BPF_PROG_TYPE_XDP,   \
		.map_types =                                                   \
		    1ull << BPF_MAP_TYPE_HASH | 1ull << BPF_MAP_TYPE_ARRAY |   \
		    1ull << BPF_MAP_TYPE_PERCPU_ARRAY |                        \
		    1ull << BPF_MAP_TYPE_LPM_TRIE |                            \
		    1ull << BPF_MAP_TYPE_QUEUE | 1ull << BPF_MAP_TYPE_STACK |  \
		    1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS,                        \
		.max_map_bytes = 4u << 20,                                     \
	}

static const struct cub_plugin ft_plugin = {
    .abi = CUB_PLUGIN_ABI,
    .name = "faketest",
    .schema = schema,
    .ops = &ft_ops,
    .actions = ft_actions,
    .policy = FT_POLICY,
    .tick_ms = 1000,
    CUB_PLUGIN_SIZES,
};

static struct cub_fake *
setup(uint32_t ncpus)
{
	struct cub_fake *f = cub_fake__new(&ft_plugin, ncpus);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cub_fake__create(f, "c1",
			     "{\"ports\": [{\"name\": "
			     "\"p1\"}]}"),
	    0);
	ck_assert_ptr_nonnull(the_cube);
	return f;
}

static cub_map
map_of(struct cub_fake *f, const char *name)
{
	cub_map m;

	ck_assert_int_eq(cub_cube__map(the_cube, name, &m), 0);
	ck_assert_int_eq(cub_fake__map(f, "c1", name, &(cub_map){0}), 0);
	return m;
}

/* ---- Ticks and a packet's reason ---- */

START_TEST(test_tick_reason)
{
	struct cub_fake *f = setup(2);
	static const uint8_t frame[60] = {0x01, 0x80, 0xc2};

	ck_assert_int_eq(cub_fake__create(f, "c2", "{}"), 0);
	tick_calls = 0;
	ck_assert_int_eq(cub_fake__tick(f), 2);
	ck_assert_int_eq(tick_calls, 2);
	ck_assert_int_eq(
	    cub_fake__packet_in_reason(f, "c1", 0, 0x53540007u, frame, 60), 0);
	ck_assert_uint_eq(pkt_reason, 0x53540007u);
	ck_assert_uint_eq(pkt_port, 0);
	/* Outside packet_in, and for a packet without one: 0. */
	ck_assert_uint_eq(cub_cube__packet_reason(the_cube), 0);
	ck_assert_int_eq(cub_fake__packet_in(f, "c1", 0, frame, 60), 0);
	ck_assert_uint_eq(pkt_reason, 0);
	cub_fake__free(f);
}
END_TEST

/* ---- As the kernel refuses ---- */

START_TEST(test_hash_errnos)
{
	struct cub_fake *f = setup(2);
	cub_map m = map_of(f, "ft_hash");
	uint32_t k;
	uint64_t v = 7, got = 0;

	ck_assert_int_eq(m.max_entries, 4);
	for (k = 0; k < 4; k++)
		ck_assert_int_eq(cub_map__update(the_cube, &m, &k, &v, 0), 0);
	k = 4; /* the fifth: full */
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, &v, 0), -E2BIG);
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &k, &got), -ENOENT);
	ck_assert_int_eq(cub_map__delete(the_cube, &m, &k), -ENOENT);
	k = 1;
	ck_assert_int_eq(
	    cub_map__update(the_cube, &m, &k, &v, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, &v, 8), -EINVAL);
	ck_assert_int_eq(cub_map__delete(the_cube, &m, &k), 0);
	ck_assert_int_eq(
	    cub_map__update(the_cube, &m, &k, &v, BPF_EXIST), -ENOENT);
	v = 9;
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, &v, BPF_NOEXIST), 0);
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &k, &got), 0);
	ck_assert_uint_eq(got, 9);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_hash"), 4);
	/* What the data plane sees is what the control plane wrote. */
	ck_assert_uint_eq(
	    *(uint64_t *)cub_fake__elem(f, "c1", "ft_hash", &k, 0), 9);
	cub_fake__free(f);
}
END_TEST

START_TEST(test_bad_sizes)
{
	struct cub_fake *f = setup(2);
	cub_map m = map_of(f, "ft_hash"), bad = m;
	uint64_t k = 1, v = 1;

	bad.key_size = 8; /* the broker checks sizes against the object */
	ck_assert_int_eq(
	    cub_map__update(the_cube, &bad, &k, &v, 0), -EREMOTEIO);
	bad = m;
	bad.value_size = 4;
	ck_assert_int_eq(
	    cub_map__update(the_cube, &bad, &k, &v, 0), -EREMOTEIO);
	bad = m;
	bad.id = 99;
	ck_assert_int_eq(cub_map__lookup(the_cube, &bad, &k, &v), -EREMOTEIO);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_hash"), 0);
	cub_fake__free(f);
}
END_TEST

START_TEST(test_array_errnos)
{
	struct cub_fake *f = setup(2);
	cub_map m = map_of(f, "ft_array");
	uint32_t k = 4;
	uint64_t v = 3, got = 1;

	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, &v, 0), -E2BIG);
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &k, &got), -ENOENT);
	k = 3;
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &k, &got), 0);
	ck_assert_uint_eq(got, 0); /* arrays start zeroed */
	ck_assert_int_eq(
	    cub_map__update(the_cube, &m, &k, &v, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(cub_map__delete(the_cube, &m, &k), -EINVAL);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_array"), 4);
	cub_fake__free(f);
}
END_TEST

START_TEST(test_percpu)
{
	struct cub_fake *f = setup(3);
	cub_map m = map_of(f, "ft_pcpu");
	uint64_t vals[3] = {0}; /* 4-byte values at an 8-byte stride */
	uint32_t k = 1, cpu, *one;

	ck_assert_uint_eq(m.ncpus, 3);
	ck_assert_uint_eq(cub_map__value_bytes(&m), 24);
	for (cpu = 0; cpu < 3; cpu++)
		*(uint32_t *)cub_map__cpu_value(&m, vals, cpu) = 10 + cpu;
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, vals, 0), 0);
	for (cpu = 0; cpu < 3; cpu++) {
		one = cub_fake__elem(f, "c1", "ft_pcpu", &k, cpu);
		ck_assert_ptr_nonnull(one);
		ck_assert_uint_eq(*one, 10 + cpu);
		*one += 100;
	}
	ck_assert_ptr_null(cub_fake__elem(f, "c1", "ft_pcpu", &k, 3));
	memset(vals, 0, sizeof(vals));
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &k, vals), 0);
	ck_assert_uint_eq(*(uint32_t *)cub_map__cpu_value(&m, vals, 2), 112);
	ck_assert_int_eq(cub_map__zero_batch(the_cube, &m, &k, 1), 0);
	ck_assert_uint_eq(
	    *(uint32_t *)cub_fake__elem(f, "c1", "ft_pcpu", &k, 1), 0);
	cub_fake__free(f);
}
END_TEST

START_TEST(test_lpm)
{
	struct cub_fake *f = setup(2);
	cub_map m = map_of(f, "ft_lpm");
	struct {
		uint32_t plen;
		uint8_t a[4];
	} k8 = {8, {10, 0, 0, 0}}, k24 = {24, {10, 1, 2, 0}},
	  q = {32, {10, 1, 2, 3}}, q2 = {32, {10, 9, 9, 9}},
	  q3 = {32, {11, 0, 0, 1}}, bad = {33, {0}};
	uint32_t v = 8, got = 0;

	ck_assert_int_eq(cub_map__update(the_cube, &m, &k8, &v, 0), 0);
	v = 24;
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k24, &v, 0), 0);
	ck_assert_int_eq(cub_map__update(the_cube, &m, &bad, &v, 0), -EINVAL);
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &q, &got), 0);
	ck_assert_uint_eq(got, 24); /* the longest prefix */
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &q2, &got), 0);
	ck_assert_uint_eq(got, 8);
	ck_assert_int_eq(cub_map__lookup(the_cube, &m, &q3, &got), -ENOENT);
	cub_fake__free(f);
}
END_TEST

/* Batches and dumps: the SDK's own paging, against the fake's tables. */
static int
count_entry(const void *key, const void *value, void *ctx)
{
	(*(int *)ctx) += *(const uint64_t *)value;
	return 0;
}

START_TEST(test_batches)
{
	struct cub_fake *f = setup(2);
	cub_map m = map_of(f, "ft_hash");
	uint32_t keys[6] = {1, 2, 3, 4, 5, 6}, n = 6, cursor, outk[4];
	uint64_t vals[6] = {1, 1, 1, 1, 1, 1}, outv[4];
	int sum = 0;

	ck_assert_int_eq(
	    cub_map__update_batch(the_cube, &m, keys, vals, &n, NULL), -E2BIG);
	ck_assert_uint_eq(n, 4); /* those before the failing entry */
	ck_assert_int_eq(cub_map__dump(the_cube, &m, count_entry, &sum), 0);
	ck_assert_int_eq(sum, 4);
	n = 3;
	ck_assert_int_eq(cub_map__lookup_batch(
			     the_cube, &m, NULL, &cursor, outk, outv, &n, NULL),
	    0);
	ck_assert_uint_eq(n, 3);
	n = 3;
	ck_assert_int_eq(cub_map__lookup_batch(the_cube, &m, &cursor, &cursor,
			     outk, outv, &n, NULL),
	    -ENOENT);
	ck_assert_uint_eq(n, 1);
	n = 4;
	ck_assert_int_eq(
	    cub_map__delete_batch(the_cube, &m, keys, &n, NULL), 0);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_hash"), 0);
	n = 1;
	ck_assert_int_eq(
	    cub_map__delete_batch(the_cube, &m, keys, &n, NULL), -ENOENT);
	ck_assert_uint_eq(n, 0);
	cub_fake__free(f);
}
END_TEST

/* ---- QUEUE and STACK: pushed by the data plane, popped by batches ---- */

static uint32_t
pop_all(cub_map *m, uint32_t *vals, uint32_t want)
{
	uint32_t n = want;

	ck_assert_int_eq(cub_map__lookup_and_delete_batch(
			     the_cube, m, NULL, NULL, NULL, vals, &n, NULL),
	    -ENOENT);
	return n;
}

START_TEST(test_queue_stack)
{
	struct cub_fake *f = setup(2);
	cub_map q = map_of(f, "ft_queue"), st = map_of(f, "ft_stack");
	uint32_t v, got[8] = {0}, n;

	ck_assert_uint_eq(q.key_size, 0);
	for (v = 1; v <= 3; v++) {
		ck_assert_int_eq(
		    cub_fake__update(f, "c1", "ft_queue", NULL, &v, 0, 0), 0);
		ck_assert_int_eq(
		    cub_fake__update(f, "c1", "ft_stack", NULL, &v, 0, 1), 0);
	}
	v = 4; /* full: refused, or the oldest makes room with BPF_EXIST */
	ck_assert_int_eq(
	    cub_fake__update(f, "c1", "ft_queue", NULL, &v, 0, 0), -E2BIG);
	ck_assert_int_eq(
	    cub_fake__update(f, "c1", "ft_queue", NULL, &v, BPF_EXIST, 0), 0);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_queue"), 3);
	/* A peek sees one value and removes nothing. */
	n = 8;
	ck_assert_int_eq(cub_map__lookup_batch(
			     the_cube, &q, NULL, NULL, NULL, got, &n, NULL),
	    -ENOENT);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(got[0], 2);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_queue"), 3);
	/* Popped until empty: oldest first, newest first. */
	ck_assert_uint_eq(pop_all(&q, got, 8), 3);
	ck_assert_uint_eq(got[0], 2);
	ck_assert_uint_eq(got[1], 3);
	ck_assert_uint_eq(got[2], 4);
	ck_assert_uint_eq(pop_all(&st, got, 8), 3);
	ck_assert_uint_eq(got[0], 3);
	ck_assert_uint_eq(got[2], 1);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_queue"), 0);
	ck_assert_uint_eq(pop_all(&q, got, 8), 0);
	/* In pages smaller than the queue. */
	for (v = 10; v < 13; v++)
		ck_assert_int_eq(
		    cub_fake__update(f, "c1", "ft_queue", NULL, &v, 0, 0), 0);
	n = 2;
	ck_assert_int_eq(cub_map__lookup_and_delete_batch(
			     the_cube, &q, NULL, NULL, NULL, got, &n, NULL),
	    0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(got[1], 11);
	ck_assert_uint_eq(pop_all(&q, got, 8), 1);
	ck_assert_uint_eq(got[0], 12);
	cub_fake__free(f);
}
END_TEST

/* ---- Swap sets ---- */

static uint32_t
active_copy(struct cub_fake *f)
{
	uint32_t zero = 0, *a = cub_fake__elem(f, "c1", "cub_sw_fts", &zero, 0);

	ck_assert_ptr_nonnull(a);
	return *a;
}

START_TEST(test_swap_read)
{
	struct cub_fake *f = setup(2);
	struct cub_swap_result *res = NULL;
	const struct cub_swap_member *h, *a;
	uint32_t k = 1, round;
	uint64_t v, sum = 0;

	ck_assert_uint_eq(active_copy(f), 0);
	/* Copy 0 is ft_h0 for "hash" and, by its slot, ft_a1 for "arr". */
	v = 5;
	ck_assert_int_eq(cub_fake__update(f, "c1", "ft_h0", &k, &v, 0, 0), 0);
	v = 7;
	k = 0;
	ck_assert_int_eq(cub_fake__update(f, "c1", "ft_a1", &k, &v, 0, 1), 0);
	ck_assert_int_eq(cub_swap__read_members(the_cube, "fts", &res), 0);
	ck_assert_uint_eq(res->nmembers, 2);
	h = &res->member[0];
	a = &res->member[1];
	ck_assert_str_eq(h->name, "hash");
	ck_assert_str_eq(a->name, "arr");
	ck_assert_uint_eq(h->count, 1);
	ck_assert_uint_eq(*(const uint32_t *)h->keys, 1);
	ck_assert_uint_eq(*(const uint64_t *)h->values, 5);
	ck_assert_uint_eq(a->count, 2); /* an array: every index */
	ck_assert_uint_eq(a->map.ncpus, 2);
	ck_assert_uint_eq(a->map.type, BPF_MAP_TYPE_PERCPU_ARRAY);
	ck_assert_uint_eq(((const uint64_t *)a->values)[0], 0);
	ck_assert_uint_eq(((const uint64_t *)a->values)[1], 7);
	cub_swap__result_free(res);
	/* Flipped; the copy read was emptied. */
	ck_assert_uint_eq(active_copy(f), 1);
	ck_assert_int_eq(cub_fake__count(f, "c1", "ft_h0"), 0);
	ck_assert_uint_eq(
	    *(uint64_t *)cub_fake__elem(f, "c1", "ft_a1", &k, 1), 0);
	/* Successive reads sum to every update, whichever copy is active. */
	for (round = 0; round < 6; round++) {
		k = 3;
		v = round + 1;
		ck_assert_int_eq(
		    cub_fake__update(f, "c1",
			active_copy(f) ? "ft_h1" : "ft_h0", &k, &v, 0, 0),
		    0);
		ck_assert_int_eq(
		    cub_swap__read_members(the_cube, "fts", &res), 0);
		ck_assert_uint_eq(res->member[0].count, 1);
		sum += *(const uint64_t *)res->member[0].values;
		cub_swap__result_free(res);
	}
	ck_assert_uint_eq(sum, 21);
	/* The callback form reads alike. */
	ck_assert_int_eq(cub_swap__read(the_cube, "fts", NULL, NULL), -EINVAL);
	/* An unknown set: the broker's words. */
	ck_assert_int_lt(cub_swap__read_members(the_cube, "nope", &res), 0);
	ck_assert_ptr_null(res);
	cub_fake__free(f);
}
END_TEST

START_TEST(test_swap_txn)
{
	struct cub_fake *f = setup(2);
	struct cub_swap_txn *txn, *stale;
	struct cub_swap_opts o = {.sz = sizeof(o), .clear = true};
	uint32_t k = 2, zero = 0;
	uint64_t v = 9;
	cub_map m;

	ck_assert_int_eq(cub_swap__begin(the_cube, "fts", &txn), 0);
	ck_assert_uint_eq(cub_swap__copy(txn), 1);
	ck_assert_int_eq(cub_swap__map(txn, "hash", &m), 0);
	ck_assert_int_eq(cub_swap__map(txn, "nope", &m), -ENOENT);
	ck_assert_int_eq(cub_swap__map(txn, "hash", &m), 0);
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, &v, 0), 0);
	ck_assert_ptr_nonnull(cub_fake__elem(f, "c1", "ft_h1", &k, 0));
	ck_assert_int_eq(cub_swap__commit(txn), 0);
	ck_assert_uint_eq(active_copy(f), 1);
	/* A later begin ends an open transaction: its commit fails. */
	ck_assert_int_eq(cub_swap__begin(the_cube, "fts", &stale), 0);
	ck_assert_int_eq(cub_swap__begin_opts(the_cube, "fts", &o, &txn), 0);
	ck_assert_int_lt(cub_swap__commit(stale), 0);
	cub_swap__abort(txn);
	ck_assert_uint_eq(active_copy(f), 1);
	/* The index map is the broker's. */
	ck_assert_int_eq(cub_cube__map(the_cube, "cub_sw_fts", &m), 0);
	ck_assert_int_lt(cub_map__update(the_cube, &m, &zero, &zero, 0), 0);
	cub_fake__free(f);
}
END_TEST

START_TEST(test_framework_maps)
{
	struct cub_fake *f = setup(2);
	cub_map m;
	uint32_t k = 0;
	uint8_t v[64] = {0};

	ck_assert_int_eq(cub_cube__map(the_cube, "cub_config", &m), 0);
	ck_assert_int_eq(cub_map__update(the_cube, &m, &k, v, 0), -EREMOTEIO);
	ck_assert_int_eq(cub_cube__map(the_cube, "nosuch", &m), -ENOENT);
	cub_fake__free(f);
}
END_TEST

/* ---- As the broker refuses: the tree engine's words ---- */

/* What the broker's engine says of a create with body text. */
static char *
engine_says(struct cub_fake *f, const char *json)
{
	struct cubi_schema *s;
	struct cub_val *wire, *body, *doc = NULL, *errv = NULL;
	const char *msg = NULL;
	char err[256], *out;

	wire = cub_schema__wire(schema, ft_actions);
	s = cubi_schema__parse(wire, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	body = cub_json_parse(json, strlen(json), err, sizeof(err));
	ck_assert_int_ne(
	    cubi_tree__new_doc(s, "c2", "faketest", NULL, body, &doc, &errv),
	    0);
	cub_err_parse(errv, &msg);
	out = strdup(msg);
	cub_val__free(errv);
	cub_val__free(body);
	cub_val__free(wire);
	cubi_schema__free(s);
	(void)f;
	return out;
}

START_TEST(test_schema_errors)
{
	static const char *const bad[] = {"{\"mode\": \"MEDIUM\"}",
	    "{\"limit\": 11}", "{\"limit\": \"x\"}", "{\"nosuch\": 1}",
	    "{\"ports\": [{\"name\": \"p1\"}, {\"name\": \"p1\"}]}", NULL};
	struct cub_fake *f = setup(2);
	int calls, i;
	char *want;

	for (i = 0; bad[i]; i++) {
		calls = apply_calls;
		want = engine_says(f, bad[i]);
		ck_assert_int_lt(cub_fake__create(f, "c2", bad[i]), 0);
		ck_assert_str_eq(cub_fake__error(f), want);
		ck_assert_int_eq(apply_calls, calls); /* never reached it */
		ck_assert_ptr_null(cub_fake__doc(f, "c2"));
		free(want);
	}
	ck_assert_int_lt(cub_fake__create(f, "c2", "{not json"), 0);
	ck_assert_ptr_nonnull(strstr(cub_fake__error(f), "line 1"));
	/* Sets: refused by the engine naming the field, the document and the
	 * plugin untouched. */
	calls = apply_calls;
	ck_assert_int_lt(cub_fake__cmd(f, "c1 set limit=11", NULL), 0);
	ck_assert_ptr_nonnull(strstr(cub_fake__error(f), "limit"));
	ck_assert_int_lt(cub_fake__cmd(f, "c1 set nosuch=1", NULL), 0);
	ck_assert_int_lt(cub_fake__cmd(f, "c1 frobnicate", NULL), 0);
	ck_assert_int_eq(cub_fake__error_code(f), CUB_E_VERB);
	ck_assert_int_eq(apply_calls, calls);
	/* Refused by the plugin: the broker keeps the document it had. */
	ck_assert_int_lt(cub_fake__cmd(f, "c1 set limit=9", NULL), 0);
	ck_assert_str_eq(
	    cub_fake__error(f), "limit 9 is refused by the plugin");
	ck_assert_int_eq(apply_calls, calls + 1);
	want = cub_fake__cmd_str(f, "c1 show limit");
	ck_assert_str_eq(want, "5");
	free(want);
	ck_assert_int_eq(cub_fake__cmd(f, "c1 set limit=7", NULL), 0);
	want = cub_fake__cmd_str(f, "c1 show limit");
	ck_assert_str_eq(want, "7");
	free(want);
	/* A refused creation creates nothing; a duplicate name is refused. */
	ck_assert_int_lt(cub_fake__create(f, "c3", "{\"limit\": 9}"), 0);
	ck_assert_ptr_null(cub_fake__doc(f, "c3"));
	ck_assert_int_eq(cub_fake__create(f, "c1", NULL), -EEXIST);
	/* Ports get their indices as the broker gives them. */
	ck_assert_int_eq(cub_fake__cmd(f, "c1 ports add p2", NULL), 0);
	want = cub_fake__cmd_str(f, "c1 ports p2 show index");
	ck_assert_str_eq(want, "1");
	free(want);
	calls = destroy_calls;
	ck_assert_int_eq(cub_fake__cmd(f, "c1 del", NULL), 0);
	ck_assert_int_eq(destroy_calls, calls + 1);
	ck_assert_ptr_null(cub_fake__doc(f, "c1"));
	cub_fake__free(f);
}
END_TEST

/* ---- Records ---- */

static int
rev(const void *in, size_t len, void **out, size_t *outlen, void *ctx)
{
	uint8_t *o = malloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		o[i] = ((const uint8_t *)in)[len - 1 - i];
	*out = o;
	*outlen = len;
	return 0;
}

START_TEST(test_records)
{
	struct cub_fake *f = setup(2);
	const struct cub_fake_log *logs;
	const struct cub_fake_pkt *pkts;
	const struct cub_fake_run *runs;
	struct cub_val *res = NULL;
	size_t n;

	/* A helper not registered fails as the broker's unknown name. */
	ck_assert_int_lt(cub_fake__cmd(f, "c1 emit", NULL), 0);
	ck_assert_ptr_nonnull(strstr(cub_fake__error(f), "no helper 'rev'"));
	cub_fake__clear_records(f);
	ck_assert_int_eq(cub_fake__helper(f, "rev", rev, NULL), 0);
	ck_assert_int_eq(cub_fake__cmd(f, "c1 emit", &res), 0);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->kind, CUB_V_BIN);
	ck_assert_int_eq(memcmp(res->bin.ptr, "cba", 3), 0);
	cub_val__free(res);
	logs = cub_fake__logs(f, &n);
	ck_assert_uint_eq(n, 1); /* DEBUG is below the default INFO */
	ck_assert_str_eq(logs[0].msg, "emit emit");
	ck_assert_int_eq(logs[0].level, CUB_LOG_WARN);
	ck_assert_str_eq(logs[0].cube, "c1");
	pkts = cub_fake__pkts(f, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(pkts[0].len, 60);
	ck_assert_uint_eq(pkts[0].flags, CUB_PKTOUT_EGRESS);
	runs = cub_fake__runs(f, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(runs[0].helper, "rev");
	ck_assert_uint_eq(runs[0].len, 3);
	/* loglevel is the framework's field: DEBUG lines then go through. */
	ck_assert_int_eq(cub_fake__cmd(f, "c1 set loglevel=DEBUG", NULL), 0);
	ck_assert_int_eq(cub_fake__cmd(f, "c1 emit", NULL), 0);
	cub_fake__logs(f, &n);
	ck_assert_uint_eq(n, 3);
	cub_fake__free(f);
}
END_TEST

/* ---- The broker's policy check at bpf.load ---- */

static const void *pol_elf;
static size_t pol_len;

static int
pol_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	return create ? cub_cube__load(cube, pol_elf, pol_len) : 0;
}

static const struct cub_plugin_ops pol_ops = {.apply = pol_apply};

static struct cub_plugin pol_plugin = {
    .abi = CUB_PLUGIN_ABI,
    .name = "faketest",
    .schema = schema,
    .ops = &pol_ops,
    .policy = FT_POLICY,
    CUB_PLUGIN_SIZES,
};

/*
 * Cube p1 of doc, its object elf under policy pol: 0 when created, else
 * the refusal's message in msg (the cube then does not exist).
 */
static int
pol_try(const void *elf, size_t len, struct cub_bpf_policy pol, const char *doc,
    char *msg, size_t msglen)
{
	struct cub_fake *f;
	int r;

	pol_elf = elf;
	pol_len = len;
	pol_plugin.policy = pol;
	f = cub_fake__new(&pol_plugin, 2);
	ck_assert_ptr_nonnull(f);
	r = cub_fake__create(f, "p1", doc);
	snprintf(msg, msglen, "%s", cub_fake__error(f));
	if (r) {
		ck_assert_int_eq(cub_fake__error_code(f), CUB_E_REFUSED);
		ck_assert_ptr_null(cub_fake__doc(f, "p1"));
		ck_assert_int_eq(cub_fake__count(f, "p1", "ft_array"), -ENOENT);
	}
	cub_fake__free(f);
	return r;
}

#define POL_REFUSED(elf, len, pol, doc, want)                                  \
	do {                                                                   \
		char m_[512];                                                  \
		ck_assert_int_lt(                                              \
		    pol_try(elf, len, pol, doc, m_, sizeof(m_)), 0);           \
		ck_assert_msg(strstr(m_, want), "'%s' lacks '%s'", m_, want);  \
	} while (0)

START_TEST(test_policy)
{
	const struct cub_bpf_policy ok = FT_POLICY;
	struct cub_bpf_policy pol;
	unsigned long long need = 0;
	const void *elf;
	char msg[512];
	size_t len;

	/* The test object passes as it is declared. */
	elf = fake_test__elf_bytes(&len);
	ck_assert_int_eq(pol_try(elf, len, ok, NULL, msg, sizeof(msg)), 0);

	/* A map type the policy does not declare. */
	pol = ok;
	pol.map_types &= ~(1ull << BPF_MAP_TYPE_HASH);
	POL_REFUSED(elf, len, pol, NULL, "cube 'p1': map 'ft_");
	POL_REFUSED(elf, len, pol, NULL,
	    "' has type hash, not declared by service 'faketest'");
	/* A swap member's inner maps (hash, percpu_array) are checked. */
	pol = ok;
	pol.map_types &= ~(1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS);
	POL_REFUSED(
	    elf, len, pol, NULL, "has type array_of_maps, not declared");

	/* The sum of map bytes against max_map_bytes, exactly. */
	pol = ok;
	pol.max_map_bytes = 1000;
	POL_REFUSED(elf, len, pol, NULL, "cube 'p1': maps need ");
	pol_try(elf, len, pol, NULL, msg, sizeof(msg));
	ck_assert_ptr_nonnull(strstr(msg, "(per-CPU maps once per possible "
					  "CPU, 2; the largest, map '"));
	ck_assert_ptr_nonnull(strstr(msg, "over the limit of 1000"));
	ck_assert_int_eq(sscanf(msg, "cube 'p1': maps need %llu", &need), 1);
	ck_assert_uint_gt(need, 1000);
	pol.max_map_bytes = need;
	ck_assert_int_eq(pol_try(elf, len, pol, NULL, msg, sizeof(msg)), 0);
	pol.max_map_bytes = need - 1;
	POL_REFUSED(elf, len, pol, NULL, "over the limit of");

	/* The hook's program type, declared. */
	pol = ok;
	pol.prog_types = 1u << BPF_PROG_TYPE_XDP;
	POL_REFUSED(elf, len, pol, NULL,
	    "cube 'p1': service 'faketest' did not declare program type "
	    "sched_cls");
	ck_assert_int_eq(
	    pol_try(elf, len, pol, "{\"type\": \"XDP_SKB\"}", msg, sizeof(msg)),
	    0);

	/* The helper allow-list, on the hook's program only. */
	elf = fake_bad_redirect__elf_bytes(&len);
	POL_REFUSED(elf, len, ok, NULL,
	    "cube 'p1': program 'cub_ingress_tc' calls bpf_redirect (#23) at "
	    "instruction ");
	POL_REFUSED(elf, len, ok, NULL,
	    ": cube programs may not redirect; send packets out of a port "
	    "with cub_forward() (cube.bpf.h)");
	POL_REFUSED(elf, len, ok, "{\"type\": \"XDP_DRV\"}",
	    "cube 'p1': program 'cub_ingress_xdp' calls "
	    "bpf_get_current_pid_tgid (#14) at instruction ");
	POL_REFUSED(elf, len, ok, "{\"type\": \"XDP_DRV\"}",
	    ", which is outside the networking set");

	/* A broker-only type: refused at load, and no policy declares it. */
	elf = fake_bad_devmap__elf_bytes(&len);
	POL_REFUSED(elf, len, ok, NULL,
	    "cube 'p1': map 'fb_dev' has type devmap, not declared by "
	    "service 'faketest'");
	pol_plugin.policy = ok;
	pol_plugin.policy.map_types |= 1ull << BPF_MAP_TYPE_DEVMAP;
	ck_assert_ptr_null(cub_fake__new(&pol_plugin, 2));
	pol_plugin.policy = ok;
	pol_plugin.policy.max_map_bytes = (256ull << 20) + 1;
	ck_assert_ptr_null(cub_fake__new(&pol_plugin, 2));

	/* At most 64 maps. */
	elf = fake_bad_many__elf_bytes(&len);
	POL_REFUSED(elf, len, ok, NULL, "cube 'p1': more than 64 maps");
	/* Framework maps of their exact shape; the hook's program present. */
	elf = fake_bad_fw__elf_bytes(&len);
	POL_REFUSED(elf, len, ok, NULL,
	    "cube 'p1': framework map 'cub_ports' missing or not as declared "
	    "in cube.bpf.h");
	POL_REFUSED(elf, len, ok, "{\"type\": \"XDP_SKB\"}",
	    "cube 'p1': object has no program 'cub_ingress_xdp' for hook "
	    "XDP_SKB");
}
END_TEST

/* ---- The BPF half, for real (root) ---- */

START_TEST(test_prog_run)
{
	struct cub_fake *f = setup(2);
	uint8_t pkt[64] = {0};
	uint32_t k = 0, ret = 99;
	uint64_t *cnt;

	if (geteuid()) {
		ck_assert_int_eq(cub_fake__test_run(f, "c1", "cub_ingress_tc",
				     pkt, sizeof(pkt), &ret),
		    -EPERM);
		cub_fake__free(f);
		return;
	}
	cnt = cub_fake__elem(f, "c1", "ft_array", &k, 0);
	*cnt = 41;
	ck_assert_int_eq(cub_fake__test_run(
			     f, "c1", "cub_ingress_tc", pkt, sizeof(pkt), &ret),
	    0);
	ck_assert_uint_eq(ret, 2); /* TC_ACT_SHOT */
	cnt = cub_fake__elem(f, "c1", "ft_array", &k, 0);
	ck_assert_uint_eq(*cnt, 42); /* counted in the kernel, copied back */
	ck_assert_int_eq(
	    cub_fake__test_run(f, "c1", "nosuch", pkt, sizeof(pkt), &ret),
	    -ENOENT);
	/* No port: cub_in_port() finds none. */
	k = 1;
	ck_assert_uint_eq(
	    *(uint64_t *)cub_fake__elem(f, "c1", "ft_array", &k, 0), 0);
	/* On port p1 (index 0), TC and XDP: the program finds its index. */
	ck_assert_int_eq(cub_fake__test_run_port(f, "c1", "cub_ingress_tc",
			     "p1", pkt, sizeof(pkt), &ret),
	    0);
	ck_assert_uint_eq(ret, 2);
	ck_assert_int_eq(cub_fake__test_run_port(f, "c1", "cub_ingress_xdp",
			     "p1", pkt, sizeof(pkt), &ret),
	    0);
	ck_assert_uint_eq(ret, 1); /* XDP_DROP */
	ck_assert_uint_eq(
	    *(uint64_t *)cub_fake__elem(f, "c1", "ft_array", &k, 0), 2);
	k = 0;
	ck_assert_uint_eq(
	    *(uint64_t *)cub_fake__elem(f, "c1", "ft_array", &k, 0), 44);
	/* The run's ports are not the fake's: not copied back. */
	ck_assert_int_eq(cub_fake__count(f, "c1", "cub_if2port"), 0);
	ck_assert_int_eq(cub_fake__test_run_port(f, "c1", "cub_ingress_tc",
			     "nosuch", pkt, sizeof(pkt), &ret),
	    -ENOENT);
	cub_fake__free(f);
}
END_TEST

/* ---- Opaque read-only values (CUB_T_ANY), as the broker shows them ---- */

static const struct cub_field fa_metric[] = {
    {.name = "name", .type = CUB_T_STR, .flags = CUB_F_KEY},
    {.name = "value", .type = CUB_T_ANY},
    {0},
};

static const struct cub_field fa_schema[] = {
    {.name = "summary", .type = CUB_T_ANY, .flags = CUB_F_RO},
    {.name = "metrics",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.children = fa_metric},
    {0},
};

static int
fa_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	size_t len;
	const void *elf = fake_test__elf_bytes(&len);

	return create ? cub_cube__load(cube, elf, len) : 0;
}

static int
fa_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	static const char json[] =
	    "{\"summary\": {\"z\": 1, \"a\": 2},"
	    " \"metrics\": [{\"name\": \"flows\", \"value\": [{\"key\": "
	    "{\"saddr\": 1, \"daddr\": 2}, \"value\": [18446744073709551615, "
	    "9007199254740993]}]}, {\"name\": \"note\", \"value\": "
	    "\"a \\\"b\\\"\\nc\"}]}";
	struct cub_val *v = cub_json_parse(json, strlen(json), NULL, 0);
	int r = 0;

	/* cub_val__set() takes the value, even when it fails. */
	if (!v ||
	    cub_val__set(overlay, "summary", cub_val__take(v, "summary")) ||
	    cub_val__set(overlay, "metrics", cub_val__take(v, "metrics")))
		r = -ENOMEM;
	cub_val__free(v);
	return r;
}

static const struct cub_plugin_ops fa_ops = {
    .apply = fa_apply, .show = fa_show};

static const struct cub_plugin fa_plugin = {
    .abi = CUB_PLUGIN_ABI,
    .name = "fakeany",
    .schema = fa_schema,
    .ops = &fa_ops,
    .policy = FT_POLICY,
    CUB_PLUGIN_SIZES,
};

START_TEST(test_any)
{
	struct cub_fake *f = cub_fake__new(&fa_plugin, 2);
	struct cub_val *v = NULL, *e;
	char *s;

	ck_assert_ptr_nonnull(f);
	ck_assert_msg(
	    cub_fake__create(f, "a1", NULL) == 0, "%s", cub_fake__error(f));
	/* An entry of the ro list and its value, as the service gave them. */
	ck_assert_int_eq(cub_fake__cmd(f, "a1 metrics flows show", &v), 0);
	ck_assert_str_eq(cub_val__get_str(v, "name"), "flows");
	e = cub_val__get(v, "value")->arr.items[0];
	ck_assert_str_eq(cub_val__get(e, "key")->map.items[0].key, "saddr");
	ck_assert(cub_val__get(e, "value")->arr.items[0]->u == UINT64_MAX);
	ck_assert(
	    cub_val__get(e, "value")->arr.items[1]->u == (1ull << 53) + 1);
	v = cub_val__free(v);
	s = cub_fake__cmd_str(f, "a1 metrics flows value");
	ck_assert_str_eq(s, "[{\"key\":{\"saddr\":1,\"daddr\":2},\"value\":"
			    "[18446744073709551615,9007199254740993]}]");
	free(s);
	s = cub_fake__cmd_str(f, "a1 metrics note value");
	ck_assert_str_eq(s, "a \"b\"\nc");
	free(s);
	s = cub_fake__cmd_str(f, "a1 summary");
	ck_assert_str_eq(s, "{\"z\":1,\"a\":2}");
	free(s);
	/* No such entry; a set refused as for any ro field. */
	ck_assert_int_lt(cub_fake__cmd(f, "a1 metrics nosuch show", NULL), 0);
	ck_assert_int_eq(cub_fake__error_code(f), CUB_E_NOTFOUND);
	ck_assert_int_lt(cub_fake__cmd(f, "a1 set summary=x", NULL), 0);
	ck_assert_int_eq(cub_fake__error_code(f), CUB_E_RO);
	ck_assert_str_eq(cub_fake__error(f), "summary: is read-only");
	ck_assert_ptr_null(cub_val__get(cub_fake__doc(f, "a1"), "summary"));
	cub_fake__free(f);
}
END_TEST

/* ---- The SDK's helpers (plugin.h) against the fake ---- */

struct hp_val {
	uint64_t v;
};
static const struct cub_field hp_ports[] = {
    CUB_PORT_COUNTER("rx", "per port", "ft_hash", struct hp_val, v), {0}};
#define HP_CTR(n, m, k, w)                                                     \
	{                                                                      \
		.name = n, .type = CUB_T_U64, .flags = CUB_F_RO, .help = n,    \
		.counter = &(const struct cub_counter)                         \
		{                                                              \
			.map = m, .key = k, .width = w                         \
		}                                                              \
	}
/* ft_array: u64 values; ft_pcpu: per-CPU u32 values. */
static const struct cub_field hp_inner[] = {
    HP_CTR("more", "ft_pcpu", 1, 4), {0}};
static const struct cub_field hp_schema[] = {{.name = "mode",
						 .type = CUB_T_ENUM,
						 .enums = modes,
						 .dflt = "FAST",
						 .help = "a mode"},
    {.name = "map", .type = CUB_T_STR, .dflt = "ft_array", .help = "a map"},
    HP_CTR("hits", "ft_array", 2, 8),
    {.name = "stats",
	.type = CUB_T_CONTAINER,
	.children = hp_inner,
	.help = "a container"},
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = hp_ports,
	.help = "ports"},
    {0}};
static uint32_t hp_idx[3];
static int hp_n, hp_mode;
static cub_map hp_map;

static int
hp_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	size_t len;
	const void *elf = fake_test__elf_bytes(&len);
	int n = cub_cube__port_indexes(cube, config, hp_idx, 2);

	the_cube = cube;
	if (n < 0)
		return n;
	hp_n = n;
	hp_mode = cub_config__enum_index(config, "mode", modes, -1);
	return create ? cub_cube__load_map(cube, elf, len,
			    cub_val__get_str(config, "map"), &hp_map)
		      : 0;
}

static const struct cub_plugin_ops hp_ops = {
    .apply = hp_apply, .action_config = cub_action__reset_counters};
static const struct cub_action hp_actions[] = {CUB_ACTION_RESET, {0}};
static const struct cub_plugin hp_plugin = {
    .abi = CUB_PLUGIN_ABI,
    .name = "helpers",
    .schema = hp_schema,
    .ops = &hp_ops,
    .actions = hp_actions,
    .policy = CUB_POLICY_TC_XDP(
	CUB_MAP_TYPE(HASH) | CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(PERCPU_ARRAY) |
	    CUB_MAP_TYPE(LPM_TRIE) | CUB_MAP_TYPE(QUEUE) | CUB_MAP_TYPE(STACK) |
	    CUB_MAP_TYPE(ARRAY_OF_MAPS),
	4u << 20),
    CUB_PLUGIN_SIZES,
};

static void
hp_shows(struct cub_fake *f, const char *line, const char *want)
{
	char *s = cub_fake__cmd_str(f, line);

	ck_assert_msg(s && !strcmp(s, want), "'%s' shows '%s', not '%s' (%s)",
	    line, s ? s : "(refused)", want, cub_fake__error(f));
	free(s);
}

static uint64_t
hp_get(struct cub_fake *f, const char *map, uint32_t k, uint32_t cpu)
{
	void *v = cub_fake__elem(f, "c1", map, &k, cpu);

	ck_assert_ptr_nonnull(v);
	return strcmp(map, "ft_pcpu") ? *(uint64_t *)v : *(uint32_t *)v;
}

START_TEST(test_helpers)
{
	struct cub_fake *f = cub_fake__new(&hp_plugin, 2);
	uint64_t v;
	uint32_t k, cpu;

	/* CUB_POLICY_TC_XDP: the object loads; port indexes in order;
	 * the enum's index (the broker's default, then a set in lower
	 * case); load_map looked up the map the document names. */
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(
	    cub_fake__create(f, "c1", "ports:\n  - name: p1\n  - name: p2\n"),
	    0);
	ck_assert_int_eq(hp_n, 2);
	ck_assert_uint_eq(hp_idx[0], 0);
	ck_assert_uint_eq(hp_idx[1], 1);
	ck_assert_int_eq(hp_mode, 0);
	ck_assert_uint_eq(hp_map.max_entries, 4);
	ck_assert_uint_eq(hp_map.value_size, 8);
	ck_assert_int_eq(cub_fake__cmd(f, "c1 set mode=slow", NULL), 0);
	ck_assert_int_eq(hp_mode, 1);
	/* More ports than the maximum: refused, naming cube and count. */
	ck_assert_int_lt(cub_fake__cmd(f, "c1 ports add p3", NULL), 0);
	ck_assert_str_eq(
	    cub_fake__error(f), "cube 'c1': at most 2 ports, not 3");
	ck_assert_int_eq(hp_n, 2);
	/* A map the object lacks: the create is refused, naming it. */
	ck_assert_int_lt(cub_fake__create(f, "c2", "map: nosuch\n"), 0);
	ck_assert_str_eq(
	    cub_fake__error(f), "cube 'c2': its object has no map 'nosuch'");

	/* reset: the ports' counters, the fixed-key ones of the cube and
	 * of its container, on every CPU; ft_array[1], no counter's, stays. */
	for (k = 1; k < 4; k++)
		*(uint64_t *)cub_fake__elem(f, "c1", "ft_array", &k, 0) =
		    10 + k;
	for (cpu = 0; cpu < 2; cpu++)
		*(uint32_t *)cub_fake__elem(
		    f, "c1", "ft_pcpu", &(uint32_t){1}, cpu) = 5 + cpu;
	for (k = 0; k < 2; k++) {
		v = 20 + k;
		ck_assert_int_eq(
		    cub_fake__update(f, "c1", "ft_hash", &k, &v, 0, 0), 0);
	}
	hp_shows(f, "c1 show hits", "12");
	hp_shows(f, "c1 ports p2 show rx", "21");
	ck_assert_int_eq(cub_fake__cmd(f, "c1 reset", NULL), 0);
	hp_shows(f, "c1 show hits", "0");
	hp_shows(f, "c1 ports p1 show rx", "0");
	hp_shows(f, "c1 ports p2 show rx", "0");
	for (cpu = 0; cpu < 2; cpu++)
		ck_assert_uint_eq(hp_get(f, "ft_pcpu", 1, cpu), 0);
	for (k = 0; k < 2; k++)
		ck_assert_uint_eq(hp_get(f, "ft_hash", k, 0), 0);
	ck_assert_uint_eq(hp_get(f, "ft_array", 2, 0), 0);
	ck_assert_uint_eq(hp_get(f, "ft_array", 1, 0), 11);
	cub_fake__free(f);
}
END_TEST

static Suite *
fake_suite(void)
{
	Suite *s = suite_create("fake");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tick_reason);
	tcase_add_test(tc, test_hash_errnos);
	tcase_add_test(tc, test_bad_sizes);
	tcase_add_test(tc, test_array_errnos);
	tcase_add_test(tc, test_percpu);
	tcase_add_test(tc, test_lpm);
	tcase_add_test(tc, test_batches);
	tcase_add_test(tc, test_queue_stack);
	tcase_add_test(tc, test_swap_read);
	tcase_add_test(tc, test_swap_txn);
	tcase_add_test(tc, test_framework_maps);
	tcase_add_test(tc, test_schema_errors);
	tcase_add_test(tc, test_records);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_prog_run);
	tcase_add_test(tc, test_any);
	tcase_add_test(tc, test_helpers);
	suite_add_tcase(s, tc);
	return s;
}

/* 77 (skipped) when every check passed but the root-only part
 * (test_prog_run: the kernel) could not run. */
int
main(void)
{
	int r = cubi_check_run(fake_suite());

	if (r == EXIT_SUCCESS && geteuid()) {
		printf("fake: passed; the BPF half skipped (not root)\n");
		return 77;
	}
	return r;
}
