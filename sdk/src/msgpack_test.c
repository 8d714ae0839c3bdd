/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for cub_mp_check(), cub_mp_decode() and cub_mp_encode(). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cubicle/val.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static struct cub_val *
sample(void)
{
	struct cub_val *m = cub_val__map(), *a = cub_val__array(), *in;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(cub_val__set(m, "nil", cub_val__nil()), 0);
	ck_assert_int_eq(cub_val__set(m, "t", cub_val__bool(true)), 0);
	ck_assert_int_eq(cub_val__set(m, "f", cub_val__bool(false)), 0);
	ck_assert_int_eq(cub_val__set(m, "neg", cub_val__int(-70000)), 0);
	ck_assert_int_eq(cub_val__set(m, "big", cub_val__uint(UINT64_MAX)), 0);
	ck_assert_int_eq(cub_val__set(m, "min", cub_val__int(INT64_MIN)), 0);
	ck_assert_int_eq(cub_val__set(m, "pi", cub_val__float(3.25)), 0);
	ck_assert_int_eq(cub_val__set(m, "s", cub_val__str("héllo")), 0);
	ck_assert_int_eq(cub_val__set(m, "e", cub_val__str("")), 0);
	ck_assert_int_eq(cub_val__set(m, "b", cub_val__bin("\0\1\2", 3)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__uint(1)), 0);
	in = cub_val__map();
	ck_assert_int_eq(cub_val__set(in, "deep", cub_val__array()), 0);
	ck_assert_int_eq(cub_val__push(a, in), 0);
	ck_assert_int_eq(cub_val__set(m, "arr", a), 0);
	ck_assert_int_eq(cub_val__set(m, "empty", cub_val__map()), 0);
	return m;
}

static void
round_trip(const struct cub_val *v)
{
	struct cub_val *back = NULL;
	char err[256];
	size_t len;
	void *buf;

	ck_assert_int_eq(cub_mp_encode(v, &buf, &len), 0);
	ck_assert_int_eq(cub_mp_check(buf, len, err, sizeof(err)), 0);
	ck_assert_msg(cub_mp_decode(buf, len, &back, err, sizeof(err)) == 0,
	    "decode: %s", err);
	ck_assert(cub_val__equal(v, back));
	cub_val__free(back);
	free(buf);
}

static int
dec(const void *buf, size_t len, char *err, size_t errlen)
{
	struct cub_val *v = NULL;
	int r;

	r = cub_mp_decode(buf, len, &v, err, errlen);
	if (r)
		ck_assert_ptr_null(v);
	cub_val__free(v);
	return r;
}

START_TEST(test_round_trip_scalars)
{
	struct cub_val *v[] = {
	    cub_val__nil(),
	    cub_val__bool(true),
	    cub_val__bool(false),
	    cub_val__uint(0),
	    cub_val__uint(127),
	    cub_val__uint(128),
	    cub_val__uint(65536),
	    cub_val__uint(UINT64_MAX),
	    cub_val__int(-1),
	    cub_val__int(-33),
	    cub_val__int(-129),
	    cub_val__int(INT64_MIN),
	    cub_val__float(0.0),
	    cub_val__float(-1.5e300),
	    cub_val__float(INFINITY),
	    cub_val__str(""),
	    cub_val__str("a string longer than thirty-one bytes, str8"),
	    cub_val__bin("", 0),
	    cub_val__bin("\xff\x00", 2),
	    cub_val__array(),
	    cub_val__map(),
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		round_trip(v[i]);
		cub_val__free(v[i]);
	}
}
END_TEST

START_TEST(test_round_trip_nested)
{
	struct cub_val *m = sample(), *big = cub_val__array();
	char *s = malloc(70000);
	int i;

	round_trip(m);
	memset(s, 'x', 69999);
	s[69999] = '\0';
	for (i = 0; i < 70000; i++)
		ck_assert_int_eq(cub_val__push(big, cub_val__uint(i)), 0);
	ck_assert_int_eq(cub_val__push(big, cub_val__str(s)), 0);
	ck_assert_int_eq(cub_val__set(m, "big", big), 0);
	round_trip(m);
	cub_val__free(m);
	free(s);
}
END_TEST

START_TEST(test_encoding_bytes)
{
	struct cub_val *m = cub_val__map();
	size_t len;
	void *buf;

	ck_assert_int_eq(cub_val__set(m, "a", cub_val__int(-1)), 0);
	ck_assert_int_eq(cub_mp_encode(m, &buf, &len), 0);
	/* fixmap 1, fixstr "a", negative fixint -1. */
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(buf, "\x81\xa1\x61\xff", 4);
	free(buf);
	cub_val__free(m);
}
END_TEST

START_TEST(test_float32)
{
	static const uint8_t f32[] = {0xca, 0x3f, 0xc0, 0x00, 0x00};
	struct cub_val *v;

	ck_assert_int_eq(cub_mp_decode(f32, sizeof(f32), &v, NULL, 0), 0);
	ck_assert_int_eq(v->kind, CUB_V_FLOAT);
	ck_assert(v->f == 1.5);
	cub_val__free(v);
}
END_TEST

START_TEST(test_truncated_everywhere)
{
	struct cub_val *m = sample();
	char err[256];
	size_t len, cut;
	void *buf;
	int r;

	ck_assert_int_eq(cub_mp_encode(m, &buf, &len), 0);
	for (cut = 0; cut < len; cut++) {
		void *copy = malloc(cut ? cut : 1);

		/* An exact-size copy so ASan sees any read past the cut. */
		memcpy(copy, buf, cut);
		err[0] = '\0';
		r = dec(copy, cut, err, sizeof(err));
		ck_assert_msg(r == -EBADMSG, "cut %zu: %d", cut, r);
		ck_assert_msg(err[0], "cut %zu: no message", cut);
		ck_assert_int_eq(cub_mp_check(copy, cut, NULL, 0), -EBADMSG);
		free(copy);
	}
	free(buf);
	cub_val__free(m);
}
END_TEST

START_TEST(test_array32_bomb)
{
	static const uint8_t bomb[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
	struct rlimit rl = {256u << 20, 256u << 20};
	char err[256];

#ifndef UNDER_ASAN
	/* Forked by check: a 64 GiB allocation would fail this test. */
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
#else
	(void)rl;
#endif
	ck_assert_int_eq(dec(bomb, sizeof(bomb), err, sizeof(err)), -EBADMSG);
	/* 0xff000000 elements. */
	ck_assert_str_eq(err,
	    "array at offset 0 declares 4278190080 elements but only 0 bytes "
	    "follow");
}
END_TEST

START_TEST(test_array32_bomb_ffff)
{
	static const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0x00, 0x00};
	char err[256];

	ck_assert_int_eq(
	    cub_mp_check(bomb, sizeof(bomb), err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err,
	    "array at offset 0 declares 4294901760 elements but only 0 bytes "
	    "follow");
}
END_TEST

/* Many one-byte elements: refused before decoding allocates for them. */
/* cub_val__cost(): elements counted by hand, bytes at least the encoding's. */
START_TEST(test_cost)
{
	struct cub_val *m = sample(), *one = cub_val__map(), *arr;
	uint64_t bytes = 0, elems = 0;
	size_t len;
	void *buf;

	/* {a: "xyz", b: [1, 2]}: the map, 2 keys, "xyz", the array, 2. */
	arr = cub_val__array();
	ck_assert_int_eq(cub_val__push(arr, cub_val__uint(1)), 0);
	ck_assert_int_eq(cub_val__push(arr, cub_val__uint(2)), 0);
	ck_assert_int_eq(cub_val__set(one, "a", cub_val__str("xyz")), 0);
	ck_assert_int_eq(cub_val__set(one, "b", arr), 0);
	cub_val__cost(one, &bytes, &elems);
	ck_assert_uint_eq(elems, 7);
	ck_assert_int_eq(cub_mp_encode(one, &buf, &len), 0);
	ck_assert_uint_ge(bytes, len);
	free(buf);
	bytes = elems = 0;
	cub_val__cost(m, &bytes, &elems);
	ck_assert_int_eq(cub_mp_encode(m, &buf, &len), 0);
	ck_assert_uint_ge(bytes, len);
	ck_assert_uint_gt(elems, 1);
	free(buf);
	cub_val__free(one);
	cub_val__free(m);
}
END_TEST

START_TEST(test_element_cap)
{
	size_t n = CUB_ELEMS_MAX + 1, len = n + 5;
	uint8_t *buf = calloc(1, len);
	struct cub_val *v = NULL;
	char err[256];

	ck_assert_ptr_nonnull(buf);
	buf[0] = 0xdd;
	buf[1] = (uint8_t)(n >> 24);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 8);
	buf[4] = (uint8_t)n;
	memset(buf + 5, 0xc0, n);
	ck_assert_int_eq(cub_mp_decode(buf, len, &v, err, sizeof(err)),
	    -EMSGSIZE);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "elements"));
	/* At the cap exactly, it decodes. */
	n = CUB_ELEMS_MAX;
	buf[1] = (uint8_t)(n >> 24);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 8);
	buf[4] = (uint8_t)n;
	ck_assert_int_eq(cub_mp_decode(buf, n + 5, &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v->arr.len, n);
	cub_val__free(v);
	free(buf);
}
END_TEST

START_TEST(test_huge_declared_lengths)
{
	static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0};
	static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
	static const uint8_t bin32[] = {0xc6, 0x80, 0x00, 0x00, 0x00};
	static const uint8_t arr16[] = {0xdc, 0x00, 0x03, 0x01, 0x02};
	static const uint8_t str8[] = {0xd9, 0x05, 'a', 'b'};
	char err[256];

	ck_assert_int_eq(dec(map32, sizeof(map32), err, sizeof(err)), -EBADMSG);
	ck_assert_str_eq(err,
	    "map at offset 0 declares 4294967295 pairs but only 1 bytes "
	    "follow");
	ck_assert_int_eq(dec(str32, sizeof(str32), err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "string at offset 0 declares"));
	ck_assert_int_eq(dec(bin32, sizeof(bin32), err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "binary at offset 0 declares"));
	ck_assert_int_eq(dec(arr16, sizeof(arr16), err, sizeof(err)), -EBADMSG);
	ck_assert_int_eq(dec(str8, sizeof(str8), err, sizeof(err)), -EBADMSG);
}
END_TEST

START_TEST(test_string_cap)
{
	size_t n = CUB_STR_MAX + 1, len = n + 5;
	uint8_t *buf = malloc(len);
	char err[256];

	buf[0] = 0xdb;
	buf[1] = (uint8_t)(n >> 24);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 8);
	buf[4] = (uint8_t)n;
	memset(buf + 5, 'x', n);
	ck_assert_int_eq(dec(buf, len, err, sizeof(err)), -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(err, "over the cap"));
	/* One byte less is fine. */
	n--;
	buf[4] = (uint8_t)n;
	ck_assert_int_eq(dec(buf, len - 1, err, sizeof(err)), 0);
	free(buf);
}
END_TEST

START_TEST(test_depth)
{
	uint8_t buf[101];
	char err[256];

	memset(buf, 0x91, 100);
	buf[100] = 0xc0;
	ck_assert_int_eq(dec(buf, sizeof(buf), err, sizeof(err)), -ELOOP);
	ck_assert_ptr_nonnull(strstr(err, "offset 32"));
	/* Exactly CUB_DEPTH_MAX levels decode; one more does not. */
	memset(buf, 0x91, CUB_DEPTH_MAX);
	buf[CUB_DEPTH_MAX] = 0xc0;
	ck_assert_int_eq(dec(buf, CUB_DEPTH_MAX + 1, err, sizeof(err)), 0);
	memset(buf, 0x91, CUB_DEPTH_MAX + 1);
	buf[CUB_DEPTH_MAX + 1] = 0xc0;
	ck_assert_int_eq(dec(buf, CUB_DEPTH_MAX + 2, err, sizeof(err)), -ELOOP);
}
END_TEST

START_TEST(test_encode_depth)
{
	struct cub_val *top = cub_val__array(), *cur = top, *next;
	size_t len;
	void *buf;
	unsigned i;

	for (i = 1; i < CUB_DEPTH_MAX; i++) {
		next = cub_val__array();
		ck_assert_int_eq(cub_val__push(cur, next), 0);
		cur = next;
	}
	round_trip(top);
	ck_assert_int_eq(cub_val__push(cur, cub_val__map()), 0);
	ck_assert_int_eq(cub_mp_encode(top, &buf, &len), -EINVAL);
	ck_assert_ptr_null(buf);
	cub_val__free(top);
}
END_TEST

START_TEST(test_msg_max)
{
	size_t len = CUB_MSG_MAX + 1;
	uint8_t *buf = calloc(1, len);
	char err[256];

	ck_assert_int_eq(dec(buf, len, err, sizeof(err)), -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(err, "over the cap"));
	free(buf);
}
END_TEST

START_TEST(test_refused)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *msg;
	} bad[] = {
	    {"\xc0\xc0", 2, "1 trailing bytes at offset 1"},
	    {"\x91\x01\x02", 3, "trailing"},
	    {"\x81\x01\x02", 3, "map key at offset 1 is of type integer"},
	    {"\x81\x90\x02", 3, "map key at offset 1 is of type array"},
	    {"\xd4\x01\x00", 3, "extension type"},
	    {"\xc7\x01\x05\x00", 4, "extension type"},
	    {"\x92\x01\xd8\x01", 4, "at offset 2"},
	    {"\xc1", 1, "0xc1"},
	    {"\xa3"
	     "a\0b",
		4, "NUL"},
	    {"\x92\xc0\xa2"
	     "a\xff",
		5,
		"string at offset 2 has invalid "
		"UTF-8 at offset 4"},
	    {"\x81\xa2\xc3\xa9\xa2\xed\xa0", 7, "invalid UTF-8"},
	    {"\x82\xa1x\x01\xa1x\x02", 7, "twice"},
	    {"\xcb\x00\x00", 3, "float at offset 0 needs 8"},
	    {"", 0, "empty"},
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(
		    dec(bad[i].bytes, bad[i].len, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(
		    strstr(err, bad[i].msg), "case %zu: '%s'", i, err);
	}
}
END_TEST

START_TEST(test_null_err)
{
	struct cub_val *v;

	ck_assert_int_eq(cub_mp_decode("\xc1", 1, &v, NULL, 0), -EBADMSG);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(cub_mp_check("\xc0", 1, NULL, 0), 0);
}
END_TEST

static Suite *
msgpack_suite(void)
{
	Suite *s = suite_create("msgpack");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_round_trip_scalars);
	tcase_add_test(tc, test_element_cap);
	tcase_add_test(tc, test_cost);
	tcase_add_test(tc, test_round_trip_nested);
	tcase_add_test(tc, test_encoding_bytes);
	tcase_add_test(tc, test_float32);
	tcase_add_test(tc, test_truncated_everywhere);
	tcase_add_test(tc, test_array32_bomb);
	tcase_add_test(tc, test_array32_bomb_ffff);
	tcase_add_test(tc, test_huge_declared_lengths);
	tcase_add_test(tc, test_string_cap);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_encode_depth);
	tcase_add_test(tc, test_msg_max);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_null_err);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(msgpack_suite());
	int failed;

	/* The bomb test relies on running in its own process. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
