/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for cub_json_parse(), cub_json_emit() and cub_yaml_emit(). */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/val.h"

#define CODEC_TEST_PARSE cub_json_parse
#include "codec_test.h"

static void
emits(const struct cub_val *v, bool pretty, const char *want)
{
	char *s = cub_json_emit(v, pretty);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	free(s);
}

static void
yaml_is(const struct cub_val *v, const char *want)
{
	char *s = cub_yaml_emit(v);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	free(s);
}

START_TEST(test_scalars)
{
	struct cub_val *v;

	v = parse(" null ");
	ck_assert_int_eq(v->kind, CUB_V_NIL);
	cub_val__free(v);
	v = parse("true");
	ck_assert(v->kind == CUB_V_BOOL && v->b);
	cub_val__free(v);
	v = parse("false");
	ck_assert(v->kind == CUB_V_BOOL && !v->b);
	cub_val__free(v);
	v = parse("18446744073709551615");
	ck_assert(v->kind == CUB_V_UINT && v->u == UINT64_MAX);
	cub_val__free(v);
	v = parse("-9223372036854775808");
	ck_assert(v->kind == CUB_V_INT && v->i == INT64_MIN);
	cub_val__free(v);
	v = parse("-5");
	ck_assert(v->kind == CUB_V_INT && v->i == -5);
	cub_val__free(v);
	v = parse("-0");
	ck_assert(v->kind == CUB_V_UINT && v->u == 0);
	cub_val__free(v);
	v = parse("1.5");
	ck_assert(v->kind == CUB_V_FLOAT && v->f == 1.5);
	cub_val__free(v);
	v = parse("-2E+2");
	ck_assert(v->kind == CUB_V_FLOAT && v->f == -200.0);
	cub_val__free(v);
	v = parse("1e-400");
	ck_assert(v->kind == CUB_V_FLOAT);
	cub_val__free(v);
	v = parse("\"\"");
	ck_assert(v->kind == CUB_V_STR && v->str.len == 0);
	cub_val__free(v);
}
END_TEST

START_TEST(test_numbers_refused)
{
	parse_fails("18446744073709551616", "out of range");
	parse_fails("-9223372036854775809", "out of range");
	parse_fails("1e400", "out of range");
	parse_fails("01", "leading zeros");
	parse_fails("1.", "after '.'");
	parse_fails(".5", "line 1, column 1: expected a value, found '.'");
	parse_fails("+1", "expected a value");
	parse_fails("1e", "exponent");
	parse_fails("-", "expected a digit");
	parse_fails("NaN", "expected a value");
}
END_TEST

START_TEST(test_containers)
{
	struct cub_val *v = parse("{\"a\": [1, -2, 3.5, \"x\", {}, []],"
				  " \"b\": {\"c\": null}}");
	struct cub_val *a = cub_val__get(v, "a");

	ck_assert_int_eq(v->kind, CUB_V_MAP);
	ck_assert_int_eq(v->map.len, 2);
	ck_assert_str_eq(v->map.items[0].key, "a");
	ck_assert_int_eq(a->arr.len, 6);
	ck_assert_int_eq(a->arr.items[1]->kind, CUB_V_INT);
	ck_assert_int_eq(a->arr.items[2]->kind, CUB_V_FLOAT);
	ck_assert_int_eq(a->arr.items[4]->kind, CUB_V_MAP);
	ck_assert_int_eq(a->arr.items[5]->kind, CUB_V_ARRAY);
	ck_assert_int_eq(
	    cub_val__get(cub_val__get(v, "b"), "c")->kind, CUB_V_NIL);
	cub_val__free(v);
}
END_TEST

START_TEST(test_errors_located)
{
	parse_fails("{\n  \"a\": 1,\n}", "line 3, column 1: trailing comma");
	parse_fails("[1,\n 2,]", "line 2, column 4: trailing comma in array");
	parse_fails("[1 2]", "line 1, column 4: expected ',' or ']'");
	parse_fails("{\"a\" 1}", "line 1, column 6: expected ':'");
	parse_fails("{1: 2}", "line 1, column 2: expected a string key");
	parse_fails("", "line 1, column 1: expected a value, found end");
	parse_fails("  \n", "line 2, column 1: expected a value");
	parse_fails("1 2", "line 1, column 3: unexpected '2' after the value");
	parse_fails("[1", "line 1, column 3: expected ',' or ']'");
	parse_fails("\"abc", "line 1, column 1: string is not closed");
	parse_fails(
	    "{\"a\":1,\"a\":2}", "line 1, column 1: object has the key");
	parse_fails("// x\n1", "expected a value");
	parse_fails("[tru]", "line 1, column 2: expected a value");
	parse_fails("nul", "expected a value");
}
END_TEST

START_TEST(test_strings)
{
	struct cub_val *v;

	v = parse("\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\b\\f\\r\\t\"");
	ck_assert_str_eq(v->str.ptr, "\xc3\xa9\xf0\x9f\x98\x80\n\"\\/\b\f\r\t");
	cub_val__free(v);
	v = parse("\"caf\xc3\xa9 \xe2\x82\xac\"");
	ck_assert_str_eq(v->str.ptr, "caf\xc3\xa9 \xe2\x82\xac");
	cub_val__free(v);
	parse_fails(
	    "\"a\\u0000b\"", "line 1, column 3: \\u0000 is not allowed");
	parse_fails("\"\\ud83d\"", "not followed by a low surrogate");
	parse_fails("\"\\ud83d\\u0041\"", "is not a low surrogate");
	parse_fails("\"\\ude00\"", "unpaired low surrogate");
	parse_fails("\"\\u12g4\"", "four hex digits");
	parse_fails("\"\\x\"", "unknown escape");
	parse_fails("\"a\tb\"", "line 1, column 3: control character 0x09");
	parse_fails("\"\xc0\x80\"", "invalid UTF-8");
	parse_fails("\"\xed\xa0\x80\"", "invalid UTF-8");
	parse_fails("\"\xff\"", "invalid UTF-8");
}
END_TEST

START_TEST(test_caps)
{
	char buf[2 * CUB_DEPTH_MAX + 3];
	size_t n = CUB_STR_MAX + 3;
	char *big = malloc(n + 1), err[128];
	struct cub_val *v;

	memset(buf, '[', CUB_DEPTH_MAX);
	memset(buf + CUB_DEPTH_MAX, ']', CUB_DEPTH_MAX);
	buf[2 * CUB_DEPTH_MAX] = '\0';
	cub_val__free(parse(buf));
	memset(buf, '[', CUB_DEPTH_MAX + 1);
	memset(buf + CUB_DEPTH_MAX + 1, ']', CUB_DEPTH_MAX + 1);
	buf[2 * CUB_DEPTH_MAX + 2] = '\0';
	parse_fails(buf, "line 1, column 33: nesting deeper than 32");

	big[0] = '"';
	memset(big + 1, 'x', n - 2);
	big[n - 1] = '"';
	big[n] = '\0';
	parse_fails(big, "over the cap");
	v = cub_json_parse(big, CUB_MSG_MAX + 1, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "over the cap"));
	free(big);
}
END_TEST

START_TEST(test_emit)
{
	struct cub_val *v = cub_val__map(), *a = cub_val__array();

	ck_assert_int_eq(
	    cub_val__set(v, "s", cub_val__str("q\"\\\n\x01\x7f")), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__int(-3)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__uint(UINT64_MAX)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__float(1.0)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__float(0.5)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__float(NAN)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__float(-INFINITY)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__float(1e300)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__bool(true)), 0);
	ck_assert_int_eq(cub_val__push(a, cub_val__nil()), 0);
	ck_assert_int_eq(cub_val__set(v, "a", a), 0);
	ck_assert_int_eq(cub_val__set(v, "b", cub_val__bin("\0\1\2a", 4)), 0);
	ck_assert_int_eq(cub_val__set(v, "e", cub_val__map()), 0);
	ck_assert_int_eq(cub_val__set(v, "ea", cub_val__array()), 0);
	emits(v, false,
	    "{\"s\":\"q\\\"\\\\\\n\\u0001\\u007f\",\"a\":[-3,"
	    "18446744073709551615,1.0,0.5,null,null,1.0000000000000001e+300,"
	    "true,null],\"b\":\"AAECYQ==\",\"e\":{},\"ea\":[]}");
	emits(v, true,
	    "{\n"
	    "  \"s\": \"q\\\"\\\\\\n\\u0001\\u007f\",\n"
	    "  \"a\": [\n"
	    "    -3,\n"
	    "    18446744073709551615,\n"
	    "    1.0,\n"
	    "    0.5,\n"
	    "    null,\n"
	    "    null,\n"
	    "    1.0000000000000001e+300,\n"
	    "    true,\n"
	    "    null\n"
	    "  ],\n"
	    "  \"b\": \"AAECYQ==\",\n"
	    "  \"e\": {},\n"
	    "  \"ea\": []\n"
	    "}\n");
	cub_val__free(v);

	v = cub_val__bin("ab", 2);
	emits(v, false, "\"YWI=\"");
	cub_val__free(v);
	v = cub_val__bin("abc", 3);
	emits(v, false, "\"YWJj\"");
	cub_val__free(v);
	v = cub_val__str("\xff"
			 "a");
	emits(v, false, "\"\\ufffda\"");
	cub_val__free(v);
	v = cub_val__float(-2.0);
	emits(v, true, "-2.0\n");
	cub_val__free(v);
	v = cub_val__float(1e20);
	emits(v, false, "1.0e+20");
	yaml_is(v, "1.0e+20\n");
	cub_val__free(v);
	v = cub_val__float(-1.5e-7);
	emits(v, false, "-1.4999999999999999e-07");
	cub_val__free(v);
	v = cub_val__str("...");
	yaml_is(v, "\"...\"\n");
	cub_val__free(v);
}
END_TEST

START_TEST(test_round_trip)
{
	static const char *const docs[] = {
	    "{\"name\":\"fw1\",\"ports\":[{\"name\":\"p1\",\"mtu\":1500}],"
	    "\"neg\":-7,\"f\":0.10000000000000001,\"big\":1e+100,"
	    "\"u\":\"\xc3\xa9\\ud83d\\ude00\\t\",\"z\":null,\"t\":true}",
	    "[[],{},[[]],\"\",0,-1,2.5]",
	    "\"plain\"",
	};
	struct cub_val *v, *back;
	size_t i;
	char *s;
	int pretty;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		for (pretty = 0; pretty < 2; pretty++) {
			v = parse(docs[i]);
			s = cub_json_emit(v, pretty);
			ck_assert_ptr_nonnull(s);
			back = parse(s);
			ck_assert_msg(cub_val__equal(v, back), "%s", s);
			cub_val__free(back);
			cub_val__free(v);
			free(s);
		}
	}
}
END_TEST

START_TEST(test_yaml)
{
	struct cub_val *v = parse(
	    "{\"name\":\"fw1\",\"ports\":[{\"name\":\"p1\",\"peer\":\"veth0\"},"
	    "{\"name\":\"p2\"}],\"rules\":[[1,2],[]],\"empty\":{},"
	    "\"list\":[],\"n\":5,\"neg\":-1,\"f\":2.0,\"t\":true,\"z\":null,"
	    "\"nested\":{\"a\":{\"b\":[\"x\"]}},"
	    "\"q\":[\"\",\"123\",\"1.5\",\"true\",\"No\",\"null\",\"~\","
	    "\" lead\",\"trail \",\"a: b\",\"x#y\",\"-x\",\"[a]\",\"*r\","
	    "\"line\\nbreak\",\"key:\",\"ok-value\",\"a b\",\"caf\xc3\xa9\"],"
	    "\"odd key\":1,\"1\":2,\"\":3}");
	struct cub_val *s;

	yaml_is(v, "name: fw1\n"
		   "ports:\n"
		   "  - name: p1\n"
		   "    peer: veth0\n"
		   "  - name: p2\n"
		   "rules:\n"
		   "  - - 1\n"
		   "    - 2\n"
		   "  - []\n"
		   "empty: {}\n"
		   "list: []\n"
		   "n: 5\n"
		   "neg: -1\n"
		   "f: 2.0\n"
		   "t: true\n"
		   "z: null\n"
		   "nested:\n"
		   "  a:\n"
		   "    b:\n"
		   "      - x\n"
		   "q:\n"
		   "  - \"\"\n"
		   "  - \"123\"\n"
		   "  - \"1.5\"\n"
		   "  - \"true\"\n"
		   "  - \"No\"\n"
		   "  - \"null\"\n"
		   "  - \"~\"\n"
		   "  - \" lead\"\n"
		   "  - \"trail \"\n"
		   "  - \"a: b\"\n"
		   "  - \"x#y\"\n"
		   "  - \"-x\"\n"
		   "  - \"[a]\"\n"
		   "  - \"*r\"\n"
		   "  - \"line\\nbreak\"\n"
		   "  - \"key:\"\n"
		   "  - ok-value\n"
		   "  - a b\n"
		   "  - caf\xc3\xa9\n"
		   "odd key: 1\n"
		   "\"1\": 2\n"
		   "\"\": 3\n");
	cub_val__free(v);

	v = cub_val__map();
	yaml_is(v, "{}\n");
	cub_val__free(v);
	v = cub_val__array();
	yaml_is(v, "[]\n");
	ck_assert_int_eq(cub_val__push(v, cub_val__float(NAN)), 0);
	ck_assert_int_eq(cub_val__push(v, cub_val__float(-INFINITY)), 0);
	ck_assert_int_eq(cub_val__push(v, cub_val__bin("\xfb\xff", 2)), 0);
	s = cub_val__map();
	ck_assert_int_eq(cub_val__set(s, "k", cub_val__array()), 0);
	ck_assert_int_eq(
	    cub_val__push(cub_val__get(s, "k"), cub_val__str("v")), 0);
	ck_assert_int_eq(cub_val__set(s, "j", cub_val__uint(1)), 0);
	ck_assert_int_eq(cub_val__push(v, s), 0);
	yaml_is(v, "- .nan\n"
		   "- -.inf\n"
		   "- +/8=\n"
		   "- k:\n"
		   "    - v\n"
		   "  j: 1\n");
	cub_val__free(v);
	v = cub_val__str("hello");
	yaml_is(v, "hello\n");
	cub_val__free(v);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_scalars);
	tcase_add_test(tc, test_numbers_refused);
	tcase_add_test(tc, test_containers);
	tcase_add_test(tc, test_errors_located);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_emit);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_yaml);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(json_suite());
}
