/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The gateway's HTTP/1.x request-head parser (http.c): strict, bounded,
 * no allocation.  It reads what cubicle-gateway serves (GET or HEAD of
 * /metrics, the REST verbs under /polycube/v1/, GET /openapi.json) and
 * refuses the rest with a status; a body is read by gateway.c for the
 * REST paths only, by its Content-Length (a /metrics request that
 * announces one is answered, then its connection closed).
 * docs/architecture.md, "cubicle-gateway", "Its own HTTP server".
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define GW_HTTP_HEAD_MAX 8192 /* request line + header fields, bytes */
#define GW_HTTP_FIELDS_MAX 64 /* header fields */
#define GW_HTTP_METHOD_MAX 16
#define GW_HTTP_TARGET_MAX 4096 /* request target, bytes */
#define GW_HTTP_AUTH_MAX 512    /* an Authorization value, bytes */

enum gw_http_method {
	GW_HTTP_GET,
	GW_HTTP_HEAD,
	GW_HTTP_POST,
	GW_HTTP_PUT,
	GW_HTTP_PATCH,
	GW_HTTP_DELETE,
	GW_HTTP_OTHER,
};

struct gw_http_req {
	size_t head_len; /* bytes of buf the head took (with its empty line) */
	enum gw_http_method method;
	bool metrics;     /* the path (query left out) is /metrics */
	bool openmetrics; /* an Accept names application/openmetrics-text */
	bool http11;      /* HTTP/1.1 (else 1.0) */
	bool keep_alive;  /* 1.1 without Connection: close, or 1.0 with
			     Connection: keep-alive */
	bool conn_close;  /* a Connection field says close */
	bool has_body;    /* Content-Length not 0, or Transfer-Encoding */
	bool chunked;     /* Transfer-Encoding (the REST paths refuse it) */
	bool openapi;     /* the path is /openapi.json */
	bool rest;        /* the path is /polycube/v1 or under it, or any
			     other but /, /metrics and /openapi.json (the
			     same tree without the prefix) */
	bool expect_continue; /* Expect: 100-continue */
	bool auth;        /* an Authorization field (its value in authz) */
	bool ctype_json;  /* Content-Type application/json (or +json) */
	bool ctype_other; /* another Content-Type */
	unsigned long long content_length;
	size_t target_len;
	char target[GW_HTTP_TARGET_MAX]; /* the request target, as sent */
	char authz[GW_HTTP_AUTH_MAX];    /* the Authorization value */
	unsigned status;  /* a refusal's status (400, 431, 505), else 0 */
	const char *why;  /* a refusal's reason, a static string */
};

/**
 * @brief **gw_http_parse()** parses the request head at the start of buf.
 * @return 0 with r filled (r->head_len bytes used); -EAGAIN when buf holds
 * no complete head yet and may grow (len < GW_HTTP_HEAD_MAX); -EPROTO when
 * the request is refused, r->status and r->why saying why (the connection
 * is then answered and closed).  Never blocks, never allocates.
 */
int gw_http_parse(const char *buf, size_t len, struct gw_http_req *r);

#endif
