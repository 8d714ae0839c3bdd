/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the cub_val document type. */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/val.h"

START_TEST(test_scalars)
{
	struct cub_val *v;
	uint64_t u;
	int64_t i;
	bool b;

	v = cub_val__int(5);
	ck_assert_int_eq(v->kind, CUB_V_UINT);
	ck_assert_int_eq(cub_val__as_u64(v, &u), 0);
	ck_assert_uint_eq(u, 5);
	ck_assert_int_eq(cub_val__as_i64(v, &i), 0);
	ck_assert_int_eq(i, 5);
	ck_assert_int_eq(cub_val__as_bool(v, &b), -EINVAL);
	ck_assert_ptr_null(cub_val__as_str(v));
	cub_val__free(v);

	v = cub_val__int(-5);
	ck_assert_int_eq(v->kind, CUB_V_INT);
	ck_assert_int_eq(cub_val__as_u64(v, &u), -EINVAL);
	ck_assert_int_eq(cub_val__as_i64(v, &i), 0);
	ck_assert_int_eq(i, -5);
	cub_val__free(v);

	v = cub_val__uint(UINT64_MAX);
	ck_assert_int_eq(cub_val__as_i64(v, &i), -EINVAL);
	cub_val__free(v);

	v = cub_val__bool(true);
	ck_assert_int_eq(cub_val__as_bool(v, &b), 0);
	ck_assert(b);
	cub_val__free(v);

	v = cub_val__strf("%s-%d", "p", 7);
	ck_assert_str_eq(cub_val__as_str(v), "p-7");
	ck_assert_uint_eq(v->str.len, 3);
	cub_val__free(v);

	v = cub_val__strn("abcdef", 3);
	ck_assert_str_eq(cub_val__as_str(v), "abc");
	cub_val__free(v);

	errno = 0;
	ck_assert_ptr_null(cub_val__strn("a\0b", 3));
	ck_assert_int_eq(errno, EINVAL);

	v = cub_val__bin(NULL, 0);
	ck_assert_int_eq(v->kind, CUB_V_BIN);
	ck_assert_uint_eq(v->bin.len, 0);
	cub_val__free(v);

	ck_assert_ptr_null(cub_val__free(NULL));
	ck_assert_str_eq(cub_val__kind_name(CUB_V_MAP), "map");
	ck_assert_str_eq(cub_val__kind_name(CUB_V_STR), "string");
	ck_assert_str_eq(cub_val__kind_name((enum cub_val_kind)99), "unknown");
}
END_TEST

START_TEST(test_map_ops)
{
	struct cub_val *m = cub_val__map(), *v;
	char key[16];
	int i;

	ck_assert_int_eq(cub_val__set(m, "a", cub_val__uint(1)), 0);
	ck_assert_int_eq(cub_val__set(m, "b", cub_val__str("x")), 0);
	ck_assert_int_eq(cub_val__set(m, "c", cub_val__nil()), 0);
	ck_assert_uint_eq(m->map.len, 3);
	ck_assert_str_eq(cub_val__get_str(m, "b"), "x");
	ck_assert_ptr_null(cub_val__get_str(m, "a"));
	ck_assert_ptr_null(cub_val__get(m, "zz"));

	/* Replace keeps the position. */
	ck_assert_int_eq(cub_val__set(m, "a", cub_val__str("y")), 0);
	ck_assert_uint_eq(m->map.len, 3);
	ck_assert_str_eq(m->map.items[0].key, "a");
	ck_assert_str_eq(cub_val__get_str(m, "a"), "y");

	/* Take detaches and keeps the order of the rest. */
	v = cub_val__take(m, "a");
	ck_assert_str_eq(cub_val__as_str(v), "y");
	cub_val__free(v);
	ck_assert_uint_eq(m->map.len, 2);
	ck_assert_str_eq(m->map.items[0].key, "b");
	ck_assert_str_eq(m->map.items[1].key, "c");
	ck_assert_ptr_null(cub_val__take(m, "a"));

	ck_assert_int_eq(cub_val__del(m, "c"), 0);
	ck_assert_int_eq(cub_val__del(m, "c"), -ENOENT);
	ck_assert_uint_eq(m->map.len, 1);

	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(cub_val__set(m, key, cub_val__int(i)), 0);
	}
	ck_assert_uint_eq(m->map.len, 101);
	ck_assert_uint_eq(cub_val__get(m, "k99")->u, 99);

	/* Wrong container or a failed constructor: value freed, error. */
	v = cub_val__array();
	ck_assert_int_eq(cub_val__set(v, "a", cub_val__uint(1)), -EINVAL);
	ck_assert_int_eq(cub_val__set(m, "a", NULL), -ENOMEM);
	ck_assert_int_eq(cub_val__set(m, NULL, cub_val__uint(1)), -EINVAL);
	ck_assert_ptr_null(cub_val__get(v, "a"));
	ck_assert_int_eq(cub_val__del(v, "a"), -ENOENT);
	cub_val__free(v);
	cub_val__free(m);
}
END_TEST

START_TEST(test_array_ops)
{
	struct cub_val *a = cub_val__array(), *m = cub_val__map();
	int i;

	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(cub_val__push(a, cub_val__int(-i)), 0);
	ck_assert_uint_eq(a->arr.len, 1000);
	ck_assert_int_eq(a->arr.items[999]->i, -999);
	ck_assert_int_eq(cub_val__push(a, NULL), -ENOMEM);
	ck_assert_int_eq(cub_val__push(m, cub_val__nil()), -EINVAL);
	cub_val__free(a);
	cub_val__free(m);
}
END_TEST

static struct cub_val *
doc(void)
{
	struct cub_val *m = cub_val__map(), *a = cub_val__array();

	ck_assert_int_eq(cub_val__set(m, "s", cub_val__str("v")), 0);
	ck_assert_int_eq(cub_val__set(m, "f", cub_val__float(0.25)), 0);
	ck_assert_int_eq(cub_val__set(m, "b", cub_val__bin("\0\1", 2)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__bool(false)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__map()), 0);
	ck_assert_int_eq(cub_val__set(m, "a", a), 0);
	ck_assert_int_eq(cub_val__set(m, "n", cub_val__nil()), 0);
	return m;
}

/* The typed views of the engine's canonical text. */
START_TEST(test_typed_views)
{
	static const uint8_t db8_1[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	struct cub_val *v;
	struct cub_ip ip;
	uint16_t lo, hi;
	uint8_t mac[6];
	size_t i;
	static const char *const bad_ip[] = {
	    "", "1.2.3", "1.2.3.4/8", "2001:db8::g", "01.2.3.4", "host", NULL};
	static const char *const bad_prefix[] = {"1.2.3.4", "1.2.3.4/33",
	    "1.2.3.4/", "1.2.3.4/08", "::/129", "::/-1", "x/8", NULL};
	static const char *const bad_range[] = {"", "80:", ":80", "9:8",
	    "65536", "1:2:3", "-1", "80-90", "000000", NULL};

	v = cub_val__str("198.18.0.1");
	ck_assert_int_eq(cub_val__as_ip(v, &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET);
	ck_assert_int_eq(ip.plen, 32);
	ck_assert_mem_eq(ip.addr, "\xc6\x12\x00\x01", 4);
	cub_val__free(v);
	v = cub_val__str("2001:db8::1");
	ck_assert_int_eq(cub_val__as_ip(v, &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET6);
	ck_assert_mem_eq(ip.addr, db8_1, 16);
	ck_assert_int_eq(cub_val__as_ip_prefix(v, &ip), -EINVAL);
	cub_val__free(v);
	v = cub_val__str("2001:db8::1/64");
	ck_assert_int_eq(cub_val__as_ip_prefix(v, &ip), 0);
	ck_assert_int_eq(ip.plen, 64);
	ck_assert_mem_eq(ip.addr, db8_1, 16);
	cub_val__free(v);
	v = cub_val__str("10.0.0.0/8");
	ck_assert_int_eq(cub_val__as_ip_prefix(v, &ip), 0);
	ck_assert_int_eq(ip.family, AF_INET);
	ck_assert_int_eq(ip.plen, 8);
	cub_val__free(v);
	for (i = 0; bad_ip[i]; i++) {
		v = cub_val__str(bad_ip[i]);
		ck_assert_msg(
		    cub_val__as_ip(v, &ip) == -EINVAL, "%s", bad_ip[i]);
		cub_val__free(v);
	}
	for (i = 0; bad_prefix[i]; i++) {
		v = cub_val__str(bad_prefix[i]);
		ck_assert_msg(cub_val__as_ip_prefix(v, &ip) == -EINVAL, "%s",
		    bad_prefix[i]);
		cub_val__free(v);
	}

	v = cub_val__str("8000:8100");
	ck_assert_int_eq(cub_val__as_port_range(v, &lo, &hi), 0);
	ck_assert_uint_eq(lo, 8000);
	ck_assert_uint_eq(hi, 8100);
	cub_val__free(v);
	v = cub_val__str("80");
	ck_assert_int_eq(cub_val__as_port_range(v, &lo, &hi), 0);
	ck_assert_uint_eq(lo, 80);
	ck_assert_uint_eq(hi, 80);
	cub_val__free(v);
	for (i = 0; bad_range[i]; i++) {
		v = cub_val__str(bad_range[i]);
		ck_assert_msg(cub_val__as_port_range(v, &lo, &hi) == -EINVAL,
		    "%s", bad_range[i]);
		cub_val__free(v);
	}

	v = cub_val__str("02:00:0A:0b:FF:01");
	ck_assert_int_eq(cub_val__as_mac(v, mac), 0);
	ck_assert_mem_eq(mac, "\x02\x00\x0a\x0b\xff\x01", 6);
	cub_val__free(v);
	v = cub_val__uint(80);
	ck_assert_int_eq(cub_val__as_port_range(v, &lo, &hi), -EINVAL);
	ck_assert_int_eq(cub_val__as_mac(v, mac), -EINVAL);
	ck_assert_int_eq(cub_val__as_ip(v, &ip), -EINVAL);
	cub_val__free(v);
	ck_assert_int_eq(cub_val__as_ip(NULL, &ip), -EINVAL);
}
END_TEST

START_TEST(test_dup_equal)
{
	struct cub_val *a = doc(), *b = cub_val__dup(a), *c, *x, *y;

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert(cub_val__equal(a, b));
	ck_assert_ptr_ne(cub_val__get_str(a, "s"), cub_val__get_str(b, "s"));

	/* Maps compare as sets: order does not matter. */
	c = cub_val__map();
	ck_assert_int_eq(cub_val__set(c, "n", cub_val__nil()), 0);
	ck_assert_int_eq(
	    cub_val__set(c, "a", cub_val__dup(cub_val__get(a, "a"))), 0);
	ck_assert_int_eq(cub_val__set(c, "b", cub_val__bin("\0\1", 2)), 0);
	ck_assert_int_eq(cub_val__set(c, "f", cub_val__float(0.25)), 0);
	ck_assert_int_eq(cub_val__set(c, "s", cub_val__str("v")), 0);
	ck_assert(cub_val__equal(a, c));

	ck_assert_int_eq(cub_val__set(b, "f", cub_val__float(0.5)), 0);
	ck_assert(!cub_val__equal(a, b));
	ck_assert_int_eq(cub_val__del(c, "n"), 0);
	ck_assert(!cub_val__equal(a, c));
	ck_assert_int_eq(cub_val__set(c, "m", cub_val__nil()), 0);
	ck_assert(!cub_val__equal(a, c));

	/* INT vs UINT, BIN vs STR, array order. */
	x = cub_val__uint(1);
	y = cub_val__float(1.0);
	ck_assert(!cub_val__equal(x, y));
	cub_val__free(x);
	cub_val__free(y);
	x = cub_val__str("ab");
	y = cub_val__bin("ab", 2);
	ck_assert(!cub_val__equal(x, y));
	cub_val__free(x);
	cub_val__free(y);
	x = cub_val__array();
	y = cub_val__array();
	ck_assert_int_eq(cub_val__push(x, cub_val__uint(1)), 0);
	ck_assert_int_eq(cub_val__push(x, cub_val__uint(2)), 0);
	ck_assert_int_eq(cub_val__push(y, cub_val__uint(2)), 0);
	ck_assert_int_eq(cub_val__push(y, cub_val__uint(1)), 0);
	ck_assert(!cub_val__equal(x, y));
	ck_assert(cub_val__equal(NULL, NULL));
	ck_assert(!cub_val__equal(x, NULL));
	cub_val__free(x);
	cub_val__free(y);

	errno = 0;
	ck_assert_ptr_null(cub_val__dup(NULL));
	ck_assert_int_eq(errno, EINVAL);
	cub_val__free(a);
	cub_val__free(b);
	cub_val__free(c);
}
END_TEST

static Suite *
val_suite(void)
{
	Suite *s = suite_create("val");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_scalars);
	tcase_add_test(tc, test_map_ops);
	tcase_add_test(tc, test_array_ops);
	tcase_add_test(tc, test_dup_equal);
	tcase_add_test(tc, test_typed_views);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(val_suite());
}
