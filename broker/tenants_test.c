// SPDX-License-Identifier: BSD-2-Clause
/*
 * tenants.c: a good file read back field by field; every refusal names
 * its line and what is wrong; peers matched by uid before groups, two
 * tenants' groups refused as ambiguous; netdev patterns exact and by
 * prefix ('*' and '+').
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_run.h"
#include "tenants.h"

static int
parse(const char *text, struct tenant **t, unsigned *n, char *err)
{
	return tenants_parse(text, strlen(text), t, n, err, 512);
}

START_TEST(good_file)
{
	const char *text = "# two tenants\n"
			   "\n"
			   "alice uid=60001,60003 netdevs=vetha*,eth1\n"
			   "  bob\tgid=60002 uid=60004 netdevs=vethb+\r\n"
			   "carol gid=60005\n"
			   "dave uid=60006 netdevs=*";
	struct tenant *t;
	unsigned n;
	char err[512];
	bool amb;
	uint32_t groups[] = {60002};

	ck_assert_int_eq(parse(text, &t, &n, err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(t[0].name, "alice");
	ck_assert_uint_eq(t[0].nuids, 2);
	ck_assert_uint_eq(t[0].uids[1], 60003);
	ck_assert_uint_eq(t[0].ngids, 0);
	ck_assert_uint_eq(t[0].nnetdevs, 2);
	ck_assert_str_eq(t[0].netdevs[0].text, "vetha");
	ck_assert(t[0].netdevs[0].wild);
	ck_assert_str_eq(t[0].netdevs[1].text, "eth1");
	ck_assert(!t[0].netdevs[1].wild);
	ck_assert_str_eq(t[1].name, "bob");
	ck_assert_uint_eq(t[1].gids[0], 60002);
	ck_assert_uint_eq(t[1].uids[0], 60004);
	ck_assert_uint_eq(t[2].nnetdevs, 0);
	/* Grants. */
	ck_assert(tenant_netdev_ok(&t[0], "vetha"));
	ck_assert(tenant_netdev_ok(&t[0], "vetha1"));
	ck_assert(tenant_netdev_ok(&t[0], "eth1"));
	ck_assert(!tenant_netdev_ok(&t[0], "eth10"));
	ck_assert(!tenant_netdev_ok(&t[0], "vethb1"));
	ck_assert(!tenant_netdev_ok(&t[0], "veth"));
	ck_assert(tenant_netdev_ok(&t[1], "vethb0"));
	ck_assert(!tenant_netdev_ok(&t[1], "vetha0"));
	ck_assert(!tenant_netdev_ok(&t[2], "lo"));
	ck_assert(tenant_netdev_ok(&t[3], "anything"));
	/* Peers: by uid, by primary gid, by a supplementary group. */
	ck_assert_ptr_eq(
	    tenants_of_peer(t, n, 60003, 100, NULL, 0, &amb), &t[0]);
	ck_assert_ptr_eq(tenants_of_peer(t, n, 7, 60002, NULL, 0, &amb), &t[1]);
	ck_assert_ptr_eq(tenants_of_peer(t, n, 7, 100, groups, 1, &amb), &t[1]);
	ck_assert_ptr_null(tenants_of_peer(t, n, 7, 100, NULL, 0, &amb));
	ck_assert(!amb);
	/* A uid decides before groups; two tenants' groups: ambiguous. */
	ck_assert_ptr_eq(
	    tenants_of_peer(t, n, 60001, 60005, groups, 1, &amb), &t[0]);
	ck_assert_ptr_null(tenants_of_peer(t, n, 7, 60005, groups, 1, &amb));
	ck_assert(amb);
	ck_assert_ptr_eq(tenants_find(t, n, "carol"), &t[2]);
	ck_assert_ptr_null(tenants_find(t, n, "eve"));
	free(t);
	/* Empty and comment-only files: no tenants. */
	ck_assert_int_eq(parse("", &t, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	free(t);
	ck_assert_int_eq(parse("# nobody\n\n", &t, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	free(t);
}
END_TEST

static const struct {
	const char *text, *want;
} bad[] = {
    {"1abc uid=5", "line 1: tenant name '1abc'"},
    {"a.b uid=5", "line 1: tenant name 'a.b'"},
    {"abcdefghijabcdefghijabcdefghijabc uid=5",
	"line 1: tenant name 'abcdefghijabcdefghijabcdefghijabc'"},
    {"admin uid=5", "line 1: tenant name 'admin' is reserved"},
    {"a uid=5\nb uid=6\na uid=7", "line 3: tenant 'a' twice"},
    {"a", "line 1: tenant 'a': no uid= or gid="},
    {"a netdevs=x", "line 1: tenant 'a': no uid= or gid="},
    {"a uid=0", "line 1: tenant 'a': uid '0' is not a number from 1 to "
		"4294967294 (0 is root's"},
    {"a uid=x", "line 1: tenant 'a': uid 'x' is not a number"},
    {"a uid=4294967295", "uid '4294967295' is not a number"},
    {"a uid=-1", "uid '-1' is not a number"},
    {"a uid=1,,2", "uid '' is not a number"},
    {"a gid=007", "gid '007' is not a number"},
    {"a uid=", "line 1: tenant 'a': uid= is empty"},
    {"a uid=5,5", "line 1: tenant 'a': uid 5 twice"},
    {"a uid=5\nb uid=6,5", "line 2: tenant 'b': uid 5 is tenant 'a''s "
			   "already"},
    {"a gid=5\nb gid=5", "line 2: tenant 'b': gid 5 is tenant 'a''s"},
    {"a uid=5 uid=6", "line 1: tenant 'a': uid= twice"},
    {"a uid=5 netdevs=x netdevs=y", "line 1: tenant 'a': netdevs= twice"},
    {"a uid=5 quota=3", "line 1: tenant 'a': unknown key 'quota'"},
    {"a uid=5 cubes=", "line 1: tenant 'a': cubes '' is not a number from 0"},
    {"a uid=5 cubes=x", "line 1: tenant 'a': cubes 'x' is not a number"},
    {"a uid=5 cubes=-1", "cubes '-1' is not a number"},
    {"a uid=5 cubes=03", "cubes '03' is not a number"},
    {"a uid=5 ports=3K", "ports '3K' is not a number"},
    {"a uid=5 programs=1125899906842625", "programs '1125899906842625'"},
    {"a uid=5 map-bytes=2X", "map-bytes '2X' is not a number from 0 to "
			     "1125899906842624 (bytes, or with a suffix"},
    {"a uid=5 map-bytes=M", "map-bytes 'M' is not a number"},
    {"a uid=5 map-bytes=1048577G", "map-bytes '1048577G'"},
    {"a uid=5 rps=0", "line 1: tenant 'a': rps '0' is not a number from 1"},
    {"a uid=5 pktin-pps=1.5", "pktin-pps '1.5' is not a number"},
    {"a uid=5 rps=5 rps=6", "line 1: tenant 'a': rps= twice"},
    {"a uid=5\nb uid=6 cubes=1 ports=x", "line 2: tenant 'b': ports 'x'"},
    {"a uid=5 netdevs", "line 1: tenant 'a': 'netdevs' is not key=value"},
    {"a uid=5 netdevs=", "line 1: tenant 'a': netdevs= is empty"},
    {"a uid=5 netdevs=ab*c", "netdev pattern 'ab*c' is neither"},
    {"a uid=5 netdevs=a:b", "netdev pattern 'a:b'"},
    {"a uid=5 netdevs=a/b", "netdev pattern 'a/b'"},
    {"a uid=5 netdevs=abcdefghijklmnop", "netdev pattern "
					 "'abcdefghijklmnop'"},
    {"a uid=5 netdevs=..", "netdev pattern '..'"},
    {"a uid=5 netdevs=x,,y", "netdev pattern ''"},
    {"a uid=5\n\x01", "line 2: a control character"},
};

START_TEST(quotas)
{
	const char *text =
	    "a uid=5 cubes=3 ports=0 programs=2 map-bytes=64K rps=10 "
	    "pktin-pps=0\n"
	    "b uid=6 map-bytes=3M\n"
	    "c uid=7 map-bytes=1G cubes=1125899906842624\n"
	    "d uid=8 map-bytes=12345\n";
	struct tenant *t;
	unsigned n, q;
	char err[512];

	ck_assert_int_eq(parse(text, &t, &n, err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(t[0].quota[TQ_CUBES], 3);
	ck_assert_uint_eq(t[0].quota[TQ_PORTS], 0);
	ck_assert(t[0].has_quota[TQ_PORTS]);
	ck_assert_uint_eq(t[0].quota[TQ_PROGRAMS], 2);
	ck_assert_uint_eq(t[0].quota[TQ_MAP_BYTES], 65536);
	ck_assert_uint_eq(t[0].quota[TQ_RPS], 10);
	ck_assert(t[0].has_quota[TQ_PKTIN_PPS]);
	ck_assert_uint_eq(t[0].quota[TQ_PKTIN_PPS], 0);
	ck_assert_uint_eq(t[1].quota[TQ_MAP_BYTES], 3u << 20);
	for (q = 0; q < TQ__MAX; q++)
		ck_assert(t[1].has_quota[q] == (q == TQ_MAP_BYTES));
	ck_assert_uint_eq(t[2].quota[TQ_MAP_BYTES], 1u << 30);
	ck_assert_uint_eq(t[2].quota[TQ_CUBES], TENANT_QUOTA_MAX);
	ck_assert_uint_eq(t[3].quota[TQ_MAP_BYTES], 12345);
	ck_assert_str_eq(tenant_quota_name(TQ_MAP_BYTES), "map-bytes");
	ck_assert_str_eq(tenant_quota_name(TQ_PKTIN_PPS), "pktin-pps");
	free(t);
}
END_TEST

/* A bucket of rate 10: a burst of 10, then one each 100 ms, never over
 * 10 however long it waited; a clock going back restarts it full. */
START_TEST(bucket)
{
	struct tenant_bucket k = {0};
	int i, got = 0;

	for (i = 0; i < 20; i++)
		got += tenant_bucket_take(&k, 10, 1000);
	ck_assert_int_eq(got, 10);
	ck_assert(!tenant_bucket_take(&k, 10, 1099));
	ck_assert(tenant_bucket_take(&k, 10, 1100));
	ck_assert(!tenant_bucket_take(&k, 10, 1100));
	for (got = 0, i = 0; i < 1000; i++)
		got += tenant_bucket_take(&k, 10, 1100 + i);
	/* 999 ms: 9 tokens (one each 100 ms) */
	ck_assert_int_eq(got, 9);
	for (got = 0, i = 0; i < 50; i++)
		got += tenant_bucket_take(&k, 10, 100000);
	ck_assert_int_eq(got, 10);
	for (got = 0, i = 0; i < 50; i++)
		got += tenant_bucket_take(&k, 10, 5);
	ck_assert_int_eq(got, 10);
	/* A rate of 1: one a second. */
	memset(&k, 0, sizeof(k));
	ck_assert(tenant_bucket_take(&k, 1, 0));
	ck_assert(!tenant_bucket_take(&k, 1, 999));
	ck_assert(tenant_bucket_take(&k, 1, 1000));
}
END_TEST

START_TEST(bad_files)
{
	struct tenant *t = (void *)1;
	unsigned n = 7;
	char err[512];

	err[0] = '\0';
	ck_assert_int_eq(parse(bad[_i].text, &t, &n, err), -EINVAL);
	ck_assert_msg(strstr(err, bad[_i].want), "'%s': got '%s', not '%s'",
	    bad[_i].text, err, bad[_i].want);
	ck_assert_ptr_null(t);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(caps)
{
	size_t cap = 300 * 40 + 1, len = 0;
	char *text = malloc(cap), err[512];
	struct tenant *t;
	unsigned n, i;

	for (i = 0; i <= TENANTS_MAX; i++)
		len += (size_t)snprintf(
		    text + len, cap - len, "t%u uid=%u\n", i, 1000 + i);
	ck_assert_int_eq(
	    tenants_parse(text, len, &t, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "line 257: over 256 tenants"), "%s", err);
	/* Exactly TENANTS_MAX: taken. */
	len = 0;
	for (i = 0; i < TENANTS_MAX; i++)
		len += (size_t)snprintf(
		    text + len, cap - len, "t%u uid=%u\n", i, 1000 + i);
	ck_assert_int_eq(tenants_parse(text, len, &t, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, TENANTS_MAX);
	free(t);
	free(text);
}
END_TEST

START_TEST(load_file)
{
	char path[] = "/tmp/tenants_test.XXXXXX", err[512];
	struct tenant *t;
	unsigned n;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "a uid=5\nb uid=x\n", 16), 16);
	close(fd);
	ck_assert_int_eq(tenants_load(path, &t, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(
	    strstr(err, path) && strstr(err, "line 2: tenant 'b'"), "%s", err);
	unlink(path);
	ck_assert_int_eq(tenants_load(path, &t, &n, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, path), "%s", err);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tenants");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, good_file);
	tcase_add_loop_test(
	    tc, bad_files, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, caps);
	tcase_add_test(tc, quotas);
	tcase_add_test(tc, bucket);
	tcase_add_test(tc, load_file);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
