/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for cub_yaml_parse(): typing, round trips, refusals. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/val.h"

#define CODEC_TEST_PARSE cub_yaml_parse
#include "codec_test.h"

START_TEST(test_document)
{
	struct cub_val *v = parse("# a cube\n"
				  "type: XDP_DRV\n"
				  "mtu: 9000\n"
				  "debug: true\n"
				  "note: \"80\"\n"
				  "neg: -3\n"
				  "ratio: 0.5\n"
				  "none: ~\n"
				  "ports:\n"
				  "  - name: p1\n"
				  "    action: FORWARD\n"
				  "  - {name: p2, peer: veth1}\n"
				  "tags: [a, 'b c']\n");
	const struct cub_val *ports = cub_val__get(v, "ports");
	uint64_t u;
	int64_t i;

	ck_assert_int_eq(v->kind, CUB_V_MAP);
	ck_assert_str_eq(cub_val__get_str(v, "type"), "XDP_DRV");
	ck_assert_int_eq(cub_val__as_u64(cub_val__get(v, "mtu"), &u), 0);
	ck_assert_uint_eq(u, 9000);
	ck_assert(cub_val__get(v, "debug")->b);
	ck_assert_str_eq(cub_val__get_str(v, "note"), "80");
	ck_assert_int_eq(cub_val__as_i64(cub_val__get(v, "neg"), &i), 0);
	ck_assert_int_eq(i, -3);
	ck_assert_int_eq(cub_val__get(v, "ratio")->kind, CUB_V_FLOAT);
	ck_assert_int_eq(cub_val__get(v, "none")->kind, CUB_V_NIL);
	ck_assert_uint_eq(ports->arr.len, 2);
	ck_assert_str_eq(
	    cub_val__get_str(ports->arr.items[0], "action"), "FORWARD");
	ck_assert_str_eq(cub_val__get_str(ports->arr.items[1], "peer"), "veth1");
	ck_assert_str_eq(cub_val__as_str(
			     cub_val__get(v, "tags")->arr.items[1]),
	    "b c");
	cub_val__free(v);
}
END_TEST

/* text, what cub_yaml_emit() wrote for v, parses back to v; frees both. */
static void
reparses(struct cub_val *v, char *text)
{
	struct cub_val *back;
	char err[256];

	ck_assert_ptr_nonnull(text);
	back = cub_yaml_parse(text, strlen(text), err, sizeof(err));
	ck_assert_msg(back, "re-parse of\n%s: %s", text, err);
	ck_assert(cub_val__equal(v, back));
	free(text);
	cub_val__free(v);
	cub_val__free(back);
}

/* What cub_yaml_emit() writes, cub_yaml_parse() reads back. */
START_TEST(test_round_trip)
{
	struct cub_val *v = parse("a: 1\nb: [x, 'true', \"\"]\nc: {d: no}\n");
	char *text = cub_yaml_emit(v);

	reparses(v, text);

	/* The BOM, U+FFFE/U+FFFF and the line separators U+2028/U+2029
	 * go out escaped: YAML refuses or breaks on them raw (found by
	 * fuzz_decode). */
	v = parse("k: \"a\\uFFFFb\\uFEFF\\uFFFE\"\nIn\\P: \"\\L\"\n");
	text = cub_yaml_emit(v);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "\\uffff"));
	reparses(v, text);

	/* A key over YAML's 1024-character implicit-key cap. */
	{
		char big[1600];

		memset(big, 'k', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		v = cub_val__map();
		cub_val__set(v, big, cub_val__uint(1));
		cub_val__set(v, "short", cub_val__array());
		reparses(v, cub_yaml_emit(v));
	}
}
END_TEST

START_TEST(test_refused)
{
	parse_fails("a: [1, 2\n", "line 2, column 1");
	parse_fails("a: 1\n  b: 2\n", "line 2, column 4");
	parse_fails("a: 1\na: 2\n", "line 2, column 1: duplicate key 'a'");
	parse_fails("a: &x 1\nb: *x\n", "line 1, column 4: anchors");
	parse_fails("a: !!str 1\n", "tags");
	parse_fails("? [1]\n: 2\n", "a key must be a plain string");
	parse_fails("a: 1\n---\nb: 2\n", "line 2, column 1: a second document");
	parse_fails("", "no document");
	parse_fails("a: \"\\x\"\n", "line 1");
}
END_TEST

START_TEST(test_caps)
{
	size_t n = 40, i;
	char *s = malloc(n * 2 + 8), err[256];
	struct cub_val *v;

	/* Deeper than CUB_DEPTH_MAX. */
	for (i = 0; i < n; i++)
		s[i] = '[';
	for (i = 0; i < n; i++)
		s[n + i] = ']';
	s[2 * n] = '\0';
	v = cub_yaml_parse(s, strlen(s), err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "deeper than 32"));
	free(s);

	/* More than CUB_ELEMS_MAX elements. */
	n = CUB_ELEMS_MAX + 1;
	s = malloc(n * 2 + 8);
	s[0] = '[';
	for (i = 0; i < n; i++)
		memcpy(s + 1 + 2 * i, i + 1 < n ? "1," : "1]", 2);
	s[1 + 2 * n] = '\0';
	v = cub_yaml_parse(s, strlen(s), err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "more than 262144 elements"));
	free(s);

	ck_assert_ptr_null(cub_yaml_parse("a: 1", CUB_MSG_MAX + 1, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "over the cap"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("yaml");
	TCase *tc = tcase_create("all");

	tcase_add_test(tc, test_document);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_caps);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
