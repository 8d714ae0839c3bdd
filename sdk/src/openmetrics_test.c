/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the OpenMetrics / Prometheus text renderer. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/openmetrics.h"
#include "cubicle/val.h"

static struct cub_val *
parse(const char *json)
{
	char err[256];
	struct cub_val *v =
	    cub_json_parse(json, strlen(json), err, sizeof(err));

	ck_assert_msg(v, "bad test JSON: %s", err);
	return v;
}

/* Renders json in fmt with cube="mon1" and compares with want. */
static void
expect(const char *json, enum cub_om_format fmt, const char *want)
{
	static const struct cub_om_label cube = {"cube", "mon1"};
	struct cub_val *v = parse(json);
	char err[256], *out = NULL;
	size_t len = 0;
	int r;

	r = cub_om_render(v, fmt, &cube, 1, &out, &len, err, sizeof(err));
	ck_assert_msg(r == 0, "render failed: %d %s", r, err);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(len, strlen(want));
	free(out);
	cub_val__free(v);
}

/* Expects a refusal whose message contains each of the words. */
static void
refuse(const char *json, const char *word1, const char *word2)
{
	struct cub_val *v = parse(json);
	char err[256], *out = (char *)"untouched";
	size_t len = 7;
	int r;

	r = cub_om_render(
	    v, CUB_OM_OPENMETRICS, NULL, 0, &out, &len, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_str_eq(out, "untouched");
	ck_assert_uint_eq(len, 7);
	ck_assert_msg(strstr(err, word1), "'%s' lacks '%s'", err, word1);
	if (word2)
		ck_assert_msg(
		    strstr(err, word2), "'%s' lacks '%s'", err, word2);
	/* The other format refuses the same families. */
	r = cub_om_render(
	    v, CUB_OM_PROMETHEUS, NULL, 0, &out, &len, err, sizeof(err));
	ck_assert_int_eq(r, -EINVAL);
	cub_val__free(v);
}

static const char counter_gauge[] =
    "[{\"name\":\"packets\",\"help\":\"Packets \\\"seen\\\"\\nby the "
    "\\\\cube\",\"type\":\"counter\",\"samples\":["
    "{\"labels\":{\"dir\":\"in\"},\"value\":5},"
    "{\"labels\":{\"dir\":\"a\\\"b\\\\c\\nd\"},\"value\":18446744073709551615}]"
    "},"
    "{\"name\":\"depth\",\"type\":\"gauge\",\"samples\":["
    "{\"value\":-3},{\"labels\":{\"q\":7},\"value\":0.25}]},"
    "{\"name\":\"bytes_total\",\"help\":\"Bytes.\",\"type\":\"counter\","
    "\"samples\":[{\"value\":1e300}]},"
    "{\"name\":\"misc\",\"samples\":[{\"value\":1}]}]";

START_TEST(test_counter_gauge_openmetrics)
{
	expect(counter_gauge, CUB_OM_OPENMETRICS,
	    "# HELP packets Packets \\\"seen\\\"\\nby the \\\\cube\n"
	    "# TYPE packets counter\n"
	    "packets_total{dir=\"in\",cube=\"mon1\"} 5\n"
	    "packets_total{dir=\"a\\\"b\\\\c\\nd\",cube=\"mon1\"} "
	    "18446744073709551615\n"
	    "# TYPE depth gauge\n"
	    "depth{cube=\"mon1\"} -3\n"
	    "depth{q=\"7\",cube=\"mon1\"} 0.25\n"
	    "# HELP bytes Bytes.\n"
	    "# TYPE bytes counter\n"
	    "bytes_total{cube=\"mon1\"} 1e+300\n"
	    "# TYPE misc unknown\n"
	    "misc{cube=\"mon1\"} 1\n"
	    "# EOF\n");
}
END_TEST

START_TEST(test_counter_gauge_prometheus)
{
	/* Prometheus help escapes \\ and \n but not ". */
	expect(counter_gauge, CUB_OM_PROMETHEUS,
	    "# HELP packets_total Packets \"seen\"\\nby the \\\\cube\n"
	    "# TYPE packets_total counter\n"
	    "packets_total{dir=\"in\",cube=\"mon1\"} 5\n"
	    "packets_total{dir=\"a\\\"b\\\\c\\nd\",cube=\"mon1\"} "
	    "18446744073709551615\n"
	    "# TYPE depth gauge\n"
	    "depth{cube=\"mon1\"} -3\n"
	    "depth{q=\"7\",cube=\"mon1\"} 0.25\n"
	    "# HELP bytes_total Bytes.\n"
	    "# TYPE bytes_total counter\n"
	    "bytes_total{cube=\"mon1\"} 1e+300\n"
	    "# TYPE misc untyped\n"
	    "misc{cube=\"mon1\"} 1\n");
}
END_TEST

static const char histogram[] =
    "[{\"name\":\"latency_seconds\",\"help\":\"Latency.\",\"type\":"
    "\"histogram\",\"unit\":\"seconds\",\"samples\":[{\"labels\":{\"path\":"
    "\"x\"},\"buckets\":[{\"le\":0.001,\"count\":1},{\"le\":1,\"count\":3},"
    "{\"le\":1048576,\"count\":3},{\"le\":\"+Inf\",\"count\":4}],"
    "\"count\":4,\"sum\":2.5}]}]";

START_TEST(test_histogram)
{
	/* le in the canonical form of OpenMetrics (1.0, 1.048576e+06). */
	expect(histogram, CUB_OM_OPENMETRICS,
	    "# HELP latency_seconds Latency.\n"
	    "# TYPE latency_seconds histogram\n"
	    "# UNIT latency_seconds seconds\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"0.001\"} 1\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"1.0\"} 3\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"1.048576e+"
	    "06\"} "
	    "3\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"+Inf\"} 4\n"
	    "latency_seconds_count{path=\"x\",cube=\"mon1\"} 4\n"
	    "latency_seconds_sum{path=\"x\",cube=\"mon1\"} 2.5\n"
	    "# EOF\n");
	expect(histogram, CUB_OM_PROMETHEUS,
	    "# HELP latency_seconds Latency.\n"
	    "# TYPE latency_seconds histogram\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"0.001\"} 1\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"1.0\"} 3\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"1.048576e+"
	    "06\"} "
	    "3\n"
	    "latency_seconds_bucket{path=\"x\",cube=\"mon1\",le=\"+Inf\"} 4\n"
	    "latency_seconds_count{path=\"x\",cube=\"mon1\"} 4\n"
	    "latency_seconds_sum{path=\"x\",cube=\"mon1\"} 2.5\n");
}
END_TEST

START_TEST(test_summary_and_empty)
{
	expect("[{\"name\":\"rtt\",\"type\":\"summary\",\"samples\":[{"
	       "\"quantiles\":[{\"quantile\":0.5,\"value\":3}],\"count\":2,"
	       "\"sum\":6}]}]",
	    CUB_OM_OPENMETRICS,
	    "# TYPE rtt summary\n"
	    "rtt{cube=\"mon1\",quantile=\"0.5\"} 3\n"
	    "rtt_count{cube=\"mon1\"} 2\n"
	    "rtt_sum{cube=\"mon1\"} 6\n"
	    "# EOF\n");
	expect("[]", CUB_OM_OPENMETRICS, "# EOF\n");
	expect("[]", CUB_OM_PROMETHEUS, "");
	/* A family without samples keeps its metadata. */
	expect("[{\"name\":\"idle\",\"type\":\"gauge\",\"samples\":[]}]",
	    CUB_OM_PROMETHEUS, "# TYPE idle gauge\n");
}
END_TEST

START_TEST(test_canonical_numbers)
{
	expect("[{\"name\":\"g\",\"type\":\"gauge\",\"samples\":["
	       "{\"labels\":{\"i\":1},\"value\":0.1},"
	       "{\"labels\":{\"i\":2},\"value\":3.0},"
	       "{\"labels\":{\"i\":3},\"value\":1.5e-7},"
	       "{\"labels\":{\"i\":4},\"value\":123456.5},"
	       "{\"labels\":{\"i\":5},\"value\":0.0012},"
	       "{\"labels\":{\"i\":6},\"value\":1e22}]}]",
	    CUB_OM_PROMETHEUS,
	    "# TYPE g gauge\n"
	    "g{i=\"1\",cube=\"mon1\"} 0.1\n"
	    "g{i=\"2\",cube=\"mon1\"} 3.0\n"
	    "g{i=\"3\",cube=\"mon1\"} 1.5e-07\n"
	    "g{i=\"4\",cube=\"mon1\"} 123456.5\n"
	    "g{i=\"5\",cube=\"mon1\"} 0.0012\n"
	    "g{i=\"6\",cube=\"mon1\"} 1e+22\n");
}
END_TEST

START_TEST(test_invalid)
{
	refuse("[{\"name\":\"9bad\",\"type\":\"gauge\"}]", "'9bad'", "name");
	refuse("[{\"name\":\"ok\",\"type\":\"gauge\"},{\"name\":\"bad-name\"}]",
	    "'bad-name'", NULL);
	refuse("[{\"name\":\"x\",\"type\":\"gauge\",\"samples\":[{\"labels\":"
	       "{\"a-b\":\"v\"},\"value\":1}]}]",
	    "'x'", "'a-b'");
	refuse("[{\"name\":\"x\",\"type\":\"gauge\",\"samples\":[{\"labels\":"
	       "{\"__r\":\"v\"},\"value\":1}]}]",
	    "'x'", "'__r'");
	refuse("[{\"name\":\"dup\",\"type\":\"gauge\"},{\"name\":\"dup\","
	       "\"type\":\"gauge\"}]",
	    "'dup'", "already taken");
	/* A counter "c" takes c_total; a gauge c_total clashes. */
	refuse("[{\"name\":\"c\",\"type\":\"counter\"},{\"name\":\"c_total\","
	       "\"type\":\"gauge\"}]",
	    "'c_total'", "already taken");
	refuse("[{\"name\":\"t\",\"type\":\"meter\"}]", "'t'", "'meter'");
	refuse("[{\"name\":\"h\",\"type\":\"histogram\",\"samples\":[{"
	       "\"buckets\":[{\"le\":1,\"count\":1}],\"count\":1,\"sum\":1}]}]",
	    "'h'", "+Inf");
	refuse("[{\"name\":\"h\",\"type\":\"histogram\",\"samples\":[{"
	       "\"buckets\":[{\"le\":1,\"count\":3},{\"le\":\"+Inf\",\"count\":"
	       "2}],\"count\":2,\"sum\":1}]}]",
	    "'h'", "cumulative");
	refuse("[{\"name\":\"h\",\"type\":\"histogram\",\"samples\":[{"
	       "\"buckets\":[{\"le\":2,\"count\":1},{\"le\":1,\"count\":1},"
	       "{\"le\":\"+Inf\",\"count\":1}],\"count\":1,\"sum\":1}]}]",
	    "'h'", "increase");
	refuse("[{\"name\":\"h\",\"type\":\"histogram\",\"samples\":[{"
	       "\"buckets\":[{\"le\":\"+Inf\",\"count\":2}],\"count\":3,"
	       "\"sum\":1}]}]",
	    "'h'", "differs");
	refuse("[{\"name\":\"h\",\"type\":\"histogram\",\"samples\":[{"
	       "\"labels\":{\"le\":\"1\"},\"buckets\":[{\"le\":\"+Inf\","
	       "\"count\":2}],\"count\":2,\"sum\":1}]}]",
	    "'h'", "reserved");
	refuse("[{\"name\":\"n\",\"type\":\"counter\",\"samples\":[{\"value\":"
	       "-1}]}]",
	    "'n'", "non-negative");
	refuse("[{\"name\":\"s\",\"type\":\"gauge\",\"samples\":[{\"labels\":"
	       "{\"a\":\"1\"},\"value\":1},{\"labels\":{\"a\":\"1\"},\"value\":"
	       "2}]}]",
	    "'s'", "same labels");
	refuse("[{\"name\":\"s\",\"type\":\"gauge\",\"samples\":[{\"value\":"
	       "\"many\"}]}]",
	    "'s'", "'value'");
	refuse("[{\"name\":\"u\",\"type\":\"gauge\",\"unit\":\"bytes\"}]",
	    "'u'", "_bytes");
	refuse("{\"name\":\"x\"}", "not a list", NULL);
}
END_TEST

START_TEST(test_added_label_clash)
{
	static const struct cub_om_label cube = {"cube", "mon1"};
	struct cub_val *v = parse("[{\"name\":\"s\",\"type\":\"gauge\","
				  "\"samples\":[{\"labels\":{\"cube\":\"1\"},"
				  "\"value\":1}]}]");
	static const struct cub_om_label bad = {"1x", "v"};
	char err[256], *out = NULL;

	ck_assert_int_eq(cub_om_render(v, CUB_OM_OPENMETRICS, &cube, 1, &out,
			     NULL, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "'cube'"));
	cub_val__free(v);
	v = parse("[]");
	ck_assert_int_eq(cub_om_render(v, CUB_OM_OPENMETRICS, &bad, 1, &out,
			     NULL, err, sizeof(err)),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "'1x'"));
	cub_val__free(v);
}
END_TEST

static Suite *
om_suite(void)
{
	Suite *s = suite_create("openmetrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_counter_gauge_openmetrics);
	tcase_add_test(tc, test_counter_gauge_prometheus);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_summary_and_empty);
	tcase_add_test(tc, test_canonical_numbers);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_added_label_clash);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(om_suite());
}
