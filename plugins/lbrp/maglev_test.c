// SPDX-License-Identifier: BSD-2-Clause
/*
 * Maglev tables at the service's real size (LB_RING = 16381 slots):
 * removing one of ten backends moves at most 1/10 + 1% of the slots
 * (those of the removed backend, and few others); a backend added moves
 * as few; weights 20/30/50 get their shares of the slots within 1%;
 * weight 0 gets none; the table depends on the set, not the order.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbrp_shared.h"
#include "maglev.h"

#define M LB_RING

static struct maglev_be
be_of(uint32_t i, uint32_t weight)
{
	/* 198.18.2.(11 + i), port 80 */
	uint64_t ip = (198u << 24) | (18u << 16) | (2u << 8) | (11u + i);

	return (struct maglev_be){.key = ip << 16 | 80, .weight = weight};
}

/* Slots whose backend (by key) differs between a and b. */
static uint32_t
moved(const uint32_t *ta, const struct maglev_be *a, const uint32_t *tb,
    const struct maglev_be *b)
{
	uint32_t i, n = 0;

	for (i = 0; i < M; i++)
		n += a[ta[i]].key != b[tb[i]].key;
	return n;
}

START_TEST(test_remove_one_of_ten)
{
	static uint32_t t10[M], t9[M];
	struct maglev_be all[10], nine[9];
	uint32_t i, gone, n, own, k;

	for (gone = 0; gone < 10; gone++) {
		for (i = 0; i < 10; i++)
			all[i] = be_of(i, 1);
		for (i = 0, k = 0; i < 10; i++)
			if (i != gone)
				nine[k++] = all[i];
		ck_assert_int_eq(maglev_fill(all, 10, M, t10), 0);
		ck_assert_int_eq(maglev_fill(nine, 9, M, t9), 0);
		n = moved(t10, all, t9, nine);
		for (i = 0, own = 0; i < M; i++)
			own += t10[i] == gone;
		printf(
		    "remove backend %u of 10: %u of %u slots moved (%.2f%%), "
		    "%u were its own\n",
		    gone, n, M, 100.0 * n / M, own);
		/* At most 1/N + 1% of the slots. */
		ck_assert_uint_le(n * 100, M * 10 + M * 1);
		ck_assert_uint_ge(n, own);
		/* Adding it back moves as few. */
		ck_assert_uint_le(moved(t9, nine, t10, all) * 100, M * 11);
	}
}
END_TEST

START_TEST(test_weights)
{
	static uint32_t t[M];
	struct maglev_be b[4] = {
	    be_of(0, 20), be_of(1, 30), be_of(2, 50), be_of(3, 0)};
	uint32_t cnt[4] = {0}, i;
	const double share[3] = {0.2, 0.3, 0.5};

	ck_assert_int_eq(maglev_fill(b, 4, M, t), 0);
	for (i = 0; i < M; i++) {
		ck_assert_uint_lt(t[i], 4);
		cnt[t[i]]++;
	}
	printf("weights 20/30/50/0: %u %u %u %u slots of %u\n", cnt[0], cnt[1],
	    cnt[2], cnt[3], M);
	for (i = 0; i < 3; i++) {
		double got = (double)cnt[i] / M;

		ck_assert_msg(got > share[i] - 0.01 && got < share[i] + 0.01,
		    "backend %u: %.4f of the slots, share %.2f", i, got,
		    share[i]);
	}
	ck_assert_uint_eq(cnt[3], 0);
}
END_TEST

START_TEST(test_drain_moves_only_its_slots)
{
	static uint32_t ta[M], tb[M];
	struct maglev_be a[3] = {be_of(0, 20), be_of(1, 30), be_of(2, 50)};
	struct maglev_be b[3] = {be_of(0, 20), be_of(1, 0), be_of(2, 50)};
	uint32_t i, others = 0;

	ck_assert_int_eq(maglev_fill(a, 3, M, ta), 0);
	ck_assert_int_eq(maglev_fill(b, 3, M, tb), 0);
	for (i = 0; i < M; i++) {
		ck_assert_uint_ne(tb[i], 1);
		others += ta[i] != 1 && ta[i] != tb[i];
	}
	printf("drain backend 1 of 20/30/50: %u slots of the others moved\n",
	    others);
	ck_assert_uint_le(others * 100, M * 5);
}
END_TEST

START_TEST(test_order_and_empty)
{
	static uint32_t ta[M], tb[M];
	struct maglev_be a[5], b[5];
	uint32_t i;

	for (i = 0; i < 5; i++) {
		a[i] = be_of(i, i + 1);
		b[4 - i] = a[i];
	}
	ck_assert_int_eq(maglev_fill(a, 5, M, ta), 0);
	ck_assert_int_eq(maglev_fill(b, 5, M, tb), 0);
	ck_assert_uint_eq(moved(ta, a, tb, b), 0);
	for (i = 0; i < 5; i++)
		a[i].weight = 0;
	ck_assert_int_eq(maglev_fill(a, 5, M, ta), 0);
	for (i = 0; i < M; i++)
		ck_assert_uint_eq(ta[i], UINT32_MAX);
	ck_assert_int_eq(maglev_fill(a, 5, 4098, ta), -EINVAL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("maglev");
	TCase *tc = tcase_create("maglev");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_remove_one_of_ten);
	tcase_add_test(tc, test_weights);
	tcase_add_test(tc, test_drain_moves_only_its_slots);
	tcase_add_test(tc, test_order_and_empty);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? 1 : 0;
}
