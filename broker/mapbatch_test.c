// SPDX-License-Identifier: BSD-2-Clause
/*
 * mapbatch.c against real maps, one class of map type each: the kernel's
 * batch call where the type has it, the per-entry loop where not, and
 * where a partial failure stopped (count out).  Needs CAP_BPF (root):
 * skipped (77) without it.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mapbatch.h"

static int ncpus;

static struct mb_map
mk(enum bpf_map_type type, uint32_t ksz, uint32_t vsz, uint32_t max)
{
	LIBBPF_OPTS(bpf_map_create_opts, o,
	    .map_flags = type == BPF_MAP_TYPE_LPM_TRIE ? BPF_F_NO_PREALLOC : 0);
	struct mb_map m = {.type = type, .key_size = ksz, .vsz = vsz};
	bool pc = type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		  type == BPF_MAP_TYPE_PERCPU_HASH;

	m.fd = bpf_map_create(type, "mbtest", ksz, vsz, max, &o);
	ck_assert_msg(m.fd >= 0, "map type %d: %s", type, strerror(errno));
	if (pc)
		m.vsz = ((vsz + 7) & ~7u) * (size_t)ncpus;
	return m;
}

START_TEST(hash_partial_and_cursor)
{
	struct mb_map m = mk(BPF_MAP_TYPE_HASH, 4, 8, 8);
	uint32_t keys[10], cur[1], k2[16], n, i, total;
	uint64_t vals[10], v2[16], sum = 0;
	bool kernel;
	int r;

	for (i = 0; i < 10; i++) {
		keys[i] = i + 1;
		vals[i] = 100 + i;
	}
	n = 10;
	r = mapbatch_update(&m, keys, vals, &n, 0, 0, &kernel);
	/* Full at 8: the kernel says where it stopped. */
	ck_assert_int_eq(r, -E2BIG);
	ck_assert_uint_eq(n, 8);
	ck_assert(kernel);
	/* Lookup in pages of 3 with the cursor, to the end.  The kernel
	 * never splits a bucket: one of more than 3 keys needs a bigger
	 * page (-ENOSPC, nothing returned, the cursor unchanged). */
	total = 0;
	r = 0;
	for (i = 0; r != -ENOENT && i < 20; i++) {
		n = r == -ENOSPC ? 8 : 3;
		r = mapbatch_lookup(&m, false, total ? cur : NULL, cur,
		    k2 + total, v2 + total, &n, 0, 0, &kernel);
		ck_assert_msg(r == 0 || r == -ENOENT || r == -ENOSPC,
		    "lookup: %s", strerror(-r));
		ck_assert(r != -ENOSPC || n == 0);
		ck_assert(kernel);
		total += n;
	}
	ck_assert_uint_eq(total, 8);
	for (i = 0; i < total; i++) {
		ck_assert_uint_eq(v2[i], 100 + k2[i] - 1);
		sum += k2[i];
	}
	ck_assert_uint_eq(sum, 36); /* keys 1..8 */
	/* Delete stops at the missing key 99. */
	keys[0] = 1;
	keys[1] = 2;
	keys[2] = 99;
	keys[3] = 3;
	n = 4;
	r = mapbatch_delete(&m, keys, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_uint_eq(n, 2);
	ck_assert(kernel);
	/* Lookup and delete takes the remaining 6 in one call. */
	n = 16;
	r = mapbatch_lookup(&m, true, NULL, cur, k2, v2, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_uint_eq(n, 6);
	ck_assert(kernel);
	ck_assert_int_ne(bpf_map_get_next_key(m.fd, NULL, k2), 0);
	/* Per-element flags go per entry: NOEXIST on a present key. */
	n = 2;
	keys[0] = 5;
	keys[1] = 5;
	r = mapbatch_update(&m, keys, vals, &n, BPF_NOEXIST, 0, &kernel);
	ck_assert_int_eq(r, -EEXIST);
	ck_assert_uint_eq(n, 1);
	ck_assert(!kernel);
	close(m.fd);
}
END_TEST

START_TEST(array_update_lookup_no_delete)
{
	struct mb_map m = mk(BPF_MAP_TYPE_ARRAY, 4, 4, 4);
	uint32_t keys[4] = {0, 1, 2, 7}, vals[4] = {10, 11, 12, 17}, cur;
	uint32_t k2[8], v2[8], n = 4;
	bool kernel;
	int r;

	r = mapbatch_update(&m, keys, vals, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -E2BIG); /* index 7 of 4 */
	ck_assert_uint_eq(n, 3);
	ck_assert(kernel);
	n = 8;
	r = mapbatch_lookup(&m, false, NULL, &cur, k2, v2, &n, 0, 0, &kernel);
	ck_assert(r == 0 || r == -ENOENT);
	ck_assert_uint_eq(n, 4);
	ck_assert(kernel);
	ck_assert_uint_eq(v2[2], 12);
	ck_assert_uint_eq(v2[3], 0);
	/* No delete for arrays: per entry, refused at the first. */
	n = 2;
	r = mapbatch_delete(&m, keys, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_uint_eq(n, 0);
	ck_assert(!kernel);
	close(m.fd);
}
END_TEST

START_TEST(percpu_array_values)
{
	struct mb_map m = mk(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2);
	uint32_t keys[2] = {0, 1}, k2[2], cur, n = 2;
	uint64_t *vals = calloc(2 * (size_t)ncpus, 8);
	uint64_t *v2 = calloc(2 * (size_t)ncpus, 8);
	bool kernel;
	int c, r;

	for (c = 0; c < 2 * ncpus; c++)
		vals[c] = 1000 + (uint64_t)c;
	r = mapbatch_update(&m, keys, vals, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(kernel);
	n = 2;
	r = mapbatch_lookup(&m, false, NULL, &cur, k2, v2, &n, 0, 0, &kernel);
	ck_assert(r == 0 || r == -ENOENT);
	ck_assert_uint_eq(n, 2);
	for (c = 0; c < 2 * ncpus; c++)
		ck_assert_uint_eq(v2[c], 1000 + (uint64_t)c);
	free(vals);
	free(v2);
	close(m.fd);
}
END_TEST

struct lpm4 {
	uint32_t prefixlen;
	uint8_t addr[4];
};

START_TEST(lpm_no_lookup_and_delete)
{
	struct mb_map m = mk(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 16);
	struct lpm4 keys[3] = {
	    {24, {10, 0, 0, 0}}, {16, {10, 1, 0, 0}}, {32, {10, 2, 3, 4}}};
	struct lpm4 k2[4], cur;
	uint32_t vals[3] = {1, 2, 3}, v2[4], n = 3;
	bool kernel;
	int r;

	r = mapbatch_update(&m, keys, vals, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, 0);
	ck_assert(kernel);
	/* Lookup and delete: per entry, every one removed. */
	n = 4;
	r = mapbatch_lookup(&m, true, NULL, &cur, k2, v2, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_uint_eq(n, 3);
	ck_assert(!kernel);
	ck_assert_uint_eq(v2[0] + v2[1] + v2[2], 6);
	ck_assert_int_ne(bpf_map_get_next_key(m.fd, NULL, &cur), 0);
	close(m.fd);
}
END_TEST

START_TEST(queue_per_entry)
{
	struct mb_map m = mk(BPF_MAP_TYPE_QUEUE, 0, 4, 4);
	uint32_t vals[5] = {1, 2, 3, 4, 5}, v2[8], n = 5;
	bool kernel;
	int r;

	r = mapbatch_update(&m, NULL, vals, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -E2BIG); /* full at 4 */
	ck_assert_uint_eq(n, 4);
	ck_assert(!kernel);
	n = 8;
	r = mapbatch_lookup(&m, true, NULL, NULL, NULL, v2, &n, 0, 0, &kernel);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_uint_eq(n, 4);
	ck_assert(!kernel);
	ck_assert_uint_eq(v2[0], 1);
	ck_assert_uint_eq(v2[3], 4);
	close(m.fd);
}
END_TEST

START_TEST(kernel_table)
{
	ck_assert_uint_eq(mapbatch_kernel_ops(BPF_MAP_TYPE_DEVMAP), 0);
	ck_assert_uint_eq(mapbatch_kernel_ops(BPF_MAP_TYPE_STACK), 0);
	ck_assert(mapbatch_kernel_ops(BPF_MAP_TYPE_LRU_PERCPU_HASH) &
		  MB_LOOKUP_DELETE);
	ck_assert(
	    !(mapbatch_kernel_ops(BPF_MAP_TYPE_PERCPU_ARRAY) & MB_DELETE));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mapbatch");
	TCase *tc = tcase_create("maps");
	SRunner *sr;
	int fd, failed;

	ncpus = libbpf_num_possible_cpus();
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
	if (fd < 0)
		return 77; /* no CAP_BPF: skipped */
	close(fd);
	tcase_add_test(tc, kernel_table);
	tcase_add_test(tc, hash_partial_and_cursor);
	tcase_add_test(tc, array_update_lookup_no_delete);
	tcase_add_test(tc, percpu_array_values);
	tcase_add_test(tc, lpm_no_lookup_and_delete);
	tcase_add_test(tc, queue_per_entry);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
