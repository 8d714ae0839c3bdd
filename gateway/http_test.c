/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for gw_http_parse() (http.c). */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static int
parse(const char *s, struct gw_http_req *r)
{
	return gw_http_parse(s, strlen(s), r);
}

static void
refused(const char *s, unsigned status)
{
	struct gw_http_req r;

	ck_assert_msg(parse(s, &r) == -EPROTO, "not refused: %s", s);
	ck_assert_uint_eq(r.status, status);
	ck_assert_ptr_nonnull(r.why);
}

START_TEST(test_get)
{
	static const char s[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n"
				"Accept: application/openmetrics-text; "
				"version=1.0.0,text/plain;q=0.5\r\n\r\nGET";
	struct gw_http_req r;

	ck_assert_int_eq(gw_http_parse(s, sizeof(s) - 1, &r), 0);
	ck_assert_uint_eq(r.head_len, sizeof(s) - 4); /* "GET" left */
	ck_assert_int_eq(r.method, GW_HTTP_GET);
	ck_assert(r.metrics && r.openmetrics && r.keep_alive && r.http11);
	ck_assert(!r.has_body);

	ck_assert_int_eq(parse("HEAD /metrics?x=1 HTTP/1.0\n\n", &r), 0);
	ck_assert_int_eq(r.method, GW_HTTP_HEAD);
	ck_assert(r.metrics && !r.openmetrics && !r.keep_alive && !r.http11);

	ck_assert_int_eq(
	    parse("GET http://h:9/metrics HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(r.metrics);
	ck_assert_int_eq(
	    parse("GET http://h:9 HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(!r.metrics);
	ck_assert_int_eq(
	    parse("GET /metricsx HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(!r.metrics);
	ck_assert_int_eq(
	    parse("GET /metrics/ HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(!r.metrics);
	ck_assert_int_eq(
	    parse("DELETE /metrics HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.method, GW_HTTP_DELETE);
	ck_assert_int_eq(
	    parse("OPTIONS /metrics HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.method, GW_HTTP_OTHER);
}
END_TEST

START_TEST(test_connection)
{
	struct gw_http_req r;

	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n"
			       "Connection: Keep-Alive, CLOSE\r\n\r\n",
			     &r),
	    0);
	ck_assert(!r.keep_alive);
	ck_assert_int_eq(
	    parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r), 0);
	ck_assert(r.keep_alive);
	/* "closed" is not the token "close". */
	ck_assert_int_eq(
	    parse(
		"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", &r),
	    0);
	ck_assert(r.keep_alive);
	ck_assert_int_eq(parse("POST /metrics HTTP/1.1\r\nHost: h\r\n"
			       "Content-Length: 3\r\n\r\nabc",
			     &r),
	    0);
	ck_assert(r.has_body);
	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: h\r\n"
			       "Content-Length: 000\r\n\r\n",
			     &r),
	    0);
	ck_assert(!r.has_body);
	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: h\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n",
			     &r),
	    0);
	ck_assert(r.has_body);
}
END_TEST

START_TEST(test_incomplete)
{
	struct gw_http_req r;
	char *big;

	ck_assert_int_eq(parse("GET /metr", &r), -EAGAIN);
	ck_assert_int_eq(
	    parse("GET /metrics HTTP/1.1\r\nHost: h\r\n", &r), -EAGAIN);
	ck_assert_int_eq(
	    parse("GET /metrics HTTP/1.1\r\nHost: h\r\n\r", &r), -EAGAIN);
	/* 8192 bytes without an empty line: 431, never more reading. */
	big = malloc(GW_HTTP_HEAD_MAX + 16);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', GW_HTTP_HEAD_MAX + 16);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	ck_assert_int_eq(gw_http_parse(big, GW_HTTP_HEAD_MAX - 1, &r), -EAGAIN);
	ck_assert_int_eq(gw_http_parse(big, GW_HTTP_HEAD_MAX, &r), -EPROTO);
	ck_assert_uint_eq(r.status, 431);
	/* An end after the cap is not looked for. */
	memcpy(big + GW_HTTP_HEAD_MAX, "\r\n\r\n", 4);
	ck_assert_int_eq(gw_http_parse(big, GW_HTTP_HEAD_MAX + 4, &r), -EPROTO);
	ck_assert_uint_eq(r.status, 431);
	free(big);
}
END_TEST

START_TEST(test_refused)
{
	char fields[GW_HTTP_FIELDS_MAX * 8 + 64], *p = fields;
	struct gw_http_req r;
	int i;

	refused("\r\n\r\n", 400);
	refused("GET\r\n\r\n", 400);
	refused("GET /metrics\r\n\r\n", 400);
	refused("GET  /metrics HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	refused("GET metrics HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	refused("GET /metrics HTTP/2.0\r\nHost: h\r\n\r\n", 505);
	refused("GET /metrics HTTP/1.2\r\nHost: h\r\n\r\n", 505);
	refused("GET /metrics http/1.1\r\nHost: h\r\n\r\n", 400);
	refused("GET /metrics HTTP/1.1\r\n\r\n", 400); /* no Host */
	refused("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	refused("GET /metrics HTTP/1.1\r\nHost : h\r\n\r\n", 400);
	refused("GET /metrics HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
	refused("GET /metrics HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400);
	refused("GET /metrics HTTP/1.1\r\nHost: h\r\nX: a\x01"
		"b\r\n\r\n",
	    400);
	refused("GET /metrics HTTP/1.1\r\nHost: h\r\nnovalue\r\n\r\n", 400);
	refused(
	    "GET /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
	    400);
	refused("GET /me\x7ftrics HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	refused(
	    "GETTTTTTTTTTTTTTTTTTT /metrics HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	{
		static const char nul[] = "GET /metrics HTTP/1.1\r\nHost: h\0"
					  "x\r\n\r\n";

		ck_assert_int_eq(
		    gw_http_parse(nul, sizeof(nul) - 1, &r), -EPROTO);
		ck_assert_uint_eq(r.status, 400);
	}
	/* 64 fields pass, 65 do not. */
	p += sprintf(p, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < GW_HTTP_FIELDS_MAX; i++)
		p += sprintf(p, "X: %d\r\n", i);
	strcpy(p, "\r\n");
	ck_assert_int_eq(parse(fields, &r), 0);
	p += sprintf(p, "Y: z\r\n");
	strcpy(p, "\r\n");
	refused(fields, 431);
}
END_TEST

/* What the REST paths use: methods, target, body, content type. */
START_TEST(test_rest)
{
	struct gw_http_req r;

	ck_assert_int_eq(parse("PUT /polycube/v1/dynmon/dm1/dataplane-config "
			       "HTTP/1.1\r\nHost: h\r\nContent-Length: 1234"
			       "\r\nExpect: 100-continue\r\n\r\n",
			     &r),
	    0);
	ck_assert_int_eq(r.method, GW_HTTP_PUT);
	ck_assert(r.rest && !r.metrics && !r.openapi);
	ck_assert_str_eq(r.target, "/polycube/v1/dynmon/dm1/dataplane-config");
	ck_assert_uint_eq(r.target_len, strlen(r.target));
	ck_assert_uint_eq(r.content_length, 1234);
	ck_assert(r.has_body && r.expect_continue && !r.chunked);
	ck_assert(!r.ctype_json && !r.ctype_other && !r.auth);
	ck_assert_int_eq(parse("POST /polycube/v1 HTTP/1.1\r\nHost: h\r\n"
			       "Content-Type: application/json; charset=utf-8"
			       "\r\nAuthorization: Bearer t\r\n\r\n",
			     &r),
	    0);
	ck_assert_int_eq(r.method, GW_HTTP_POST);
	ck_assert(r.rest && r.ctype_json && !r.ctype_other && r.auth);
	ck_assert_str_eq(r.authz, "Bearer t");
	refused("GET /polycube/v1 HTTP/1.1\r\nHost: h\r\nAuthorization: a\r\n"
		"Authorization: b\r\n\r\n",
	    400);
	ck_assert_int_eq(parse("PATCH /polycube/v1/x HTTP/1.1\r\nHost: h\r\n"
			       "Content-Type: application/merge-patch+json"
			       "\r\n\r\n",
			     &r),
	    0);
	ck_assert_int_eq(r.method, GW_HTTP_PATCH);
	ck_assert(r.ctype_json);
	ck_assert_int_eq(parse("POST /polycube/v1/x HTTP/1.1\r\nHost: h\r\n"
			       "Content-Type: text/plain\r\n\r\n",
			     &r),
	    0);
	ck_assert(r.ctype_other && !r.ctype_json);
	/* Not REST: /, /metrics, /openapi.json (exactly). */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(!r.rest);
	ck_assert_int_eq(
	    parse("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(!r.rest);
	ck_assert_int_eq(
	    parse("GET /simpleforwarder/sf1 HTTP/1.1\r\nHost: h\r\n\r\n",
		&r),
	    0);
	ck_assert(r.rest);
	ck_assert_int_eq(
	    parse("GET /openapi.json?x HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	ck_assert(r.openapi && !r.rest);
	/* polycubed's /polycube/v1/metrics is /metrics. */
	ck_assert_int_eq(parse("GET /polycube/v1/metrics HTTP/1.1\r\nHost: h"
			       "\r\n\r\n",
			     &r),
	    0);
	ck_assert(r.metrics && !r.rest);
	ck_assert_int_eq(parse("GET /polycube/v1/metrics/x HTTP/1.1\r\nHost: h"
			       "\r\n\r\n",
			     &r),
	    0);
	ck_assert(!r.metrics && r.rest);
	refused("POST /polycube/v1/x HTTP/1.1\r\nHost: h\r\n"
		"Content-Length: 3\r\nContent-Length: 3\r\n\r\n",
	    400);
	refused("POST /polycube/v1/x HTTP/1.1\r\nHost: h\r\n"
		"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400);
	refused("POST /polycube/v1/x HTTP/1.1\r\nHost: h\r\n"
		"Content-Length: 9999999999999999\r\n\r\n",
	    413);
	{
		static char big[GW_HTTP_TARGET_MAX + 64];

		strcpy(big, "GET /");
		memset(big + 5, 'a', GW_HTTP_TARGET_MAX);
		strcpy(big + 5 + GW_HTTP_TARGET_MAX, " HTTP/1.0\r\n\r\n");
		refused(big, 414);
	}
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("gateway-http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_connection);
	tcase_add_test(tc, test_incomplete);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_rest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cubi_check_run(http_suite());
}
