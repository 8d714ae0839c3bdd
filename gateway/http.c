/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The request-head parser of cubicle-gateway (http.h).  RFC 9112's
 * message syntax, read strictly: a request line "METHOD SP target SP
 * HTTP/1.x", header fields "name: value" (name a token, no space before
 * the colon, no folding, no control characters), an empty line; lines end
 * in CRLF or a bare LF (section 2.2 lets a recipient take LF).  Only what
 * the gateway uses is kept: the method, the target and whether its path
 * is /metrics, /openapi.json or under /polycube/v1, Accept, Connection,
 * Content-Length, Content-Type, Expect, Authorization's presence.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* RFC 9110 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int
refuse(struct gw_http_req *r, unsigned status, const char *why)
{
	r->status = status;
	r->why = why;
	return -EPROTO;
}

/* Whether the comma-separated list v (n bytes) holds token tok, in any
 * case. */
static bool
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return true;
	}
	return false;
}

/* Whether needle occurs in v (n bytes, not NUL-terminated). */
static bool
has_sub(const char *v, size_t n, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = 0; i + nl <= n; i++)
		if (!strncasecmp(v + i, needle, nl))
			return true;
	return false;
}

/* The request line, [p, e): method, target, version. */
static int
request_line(const char *p, const char *e, struct gw_http_req *r)
{
	const char *m = p, *t, *te, *v, *path;
	size_t ml, pl;

	while (p < e && is_tchar((unsigned char)*p))
		p++;
	ml = (size_t)(p - m);
	if (!ml || p == e || *p != ' ')
		return refuse(r, 400, "bad request line (method)");
	if (ml > GW_HTTP_METHOD_MAX)
		return refuse(r, 400, "method too long");
	if (ml == 3 && !memcmp(m, "GET", 3))
		r->method = GW_HTTP_GET;
	else if (ml == 4 && !memcmp(m, "HEAD", 4))
		r->method = GW_HTTP_HEAD;
	else if (ml == 4 && !memcmp(m, "POST", 4))
		r->method = GW_HTTP_POST;
	else if (ml == 3 && !memcmp(m, "PUT", 3))
		r->method = GW_HTTP_PUT;
	else if (ml == 5 && !memcmp(m, "PATCH", 5))
		r->method = GW_HTTP_PATCH;
	else if (ml == 6 && !memcmp(m, "DELETE", 6))
		r->method = GW_HTTP_DELETE;
	else
		r->method = GW_HTTP_OTHER;
	t = ++p;
	while (p < e && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
		p++;
	te = p;
	if (t == te || p == e || *p != ' ')
		return refuse(r, 400, "bad request line (target)");
	v = ++p;
	if (e - v != 8 || memcmp(v, "HTTP/1.", 7))
		return (e - v >= 5 && !memcmp(v, "HTTP/", 5))
			   ? refuse(r, 505, "HTTP/1.0 or HTTP/1.1 only")
			   : refuse(r, 400, "bad request line (version)");
	if (v[7] == '1')
		r->http11 = r->keep_alive = true;
	else if (v[7] != '0')
		return refuse(r, 505, "HTTP/1.0 or HTTP/1.1 only");
	/* origin-form, or absolute-form (RFC 9112 3.2.2: a server must
	 * take it): its path. */
	path = t;
	if (te - t >= 7 && !strncasecmp(t, "http://", 7)) {
		path = memchr(t + 7, '/', (size_t)(te - t - 7));
		if (!path)
			path = te; /* no path: "/" */
	} else if (*t != '/') {
		return refuse(r, 400, "bad request target");
	}
	for (pl = 0; path + pl < te && path[pl] != '?' && path[pl] != '#'; pl++)
		;
	/* polycubed serves its metrics at /polycube/v1/metrics too. */
	r->metrics = (pl == 8 && !memcmp(path, "/metrics", 8)) ||
		     (pl == 20 && !memcmp(path, "/polycube/v1/metrics", 20));
	r->openapi = pl == 13 && !memcmp(path, "/openapi.json", 13);
	r->rest = !r->metrics && !r->openapi && pl > 1;
	if ((size_t)(te - t) >= GW_HTTP_TARGET_MAX)
		return refuse(r, 414, "request target over 4095 bytes");
	memcpy(r->target, t, (size_t)(te - t));
	r->target[te - t] = '\0';
	r->target_len = (size_t)(te - t);
	return 0;
}

/* One header field, [p, e). */
static int
field(const char *p, const char *e, struct gw_http_req *r, bool *host,
    bool *cl_seen)
{
	const char *n = p, *v;
	size_t nl, vl;

	while (p < e && is_tchar((unsigned char)*p))
		p++;
	nl = (size_t)(p - n);
	if (!nl || p == e || *p != ':')
		return refuse(r, 400,
		    nl && p < e && (*p == ' ' || *p == '\t')
			? "space before a header field's colon"
			: "bad header field");
	for (v = ++p; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return refuse(r, 400, "control character in a header");
	}
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	vl = (size_t)(e - v);
	if (nl == 4 && !strncasecmp(n, "Host", 4)) {
		if (*host)
			return refuse(r, 400, "two Host fields");
		*host = true;
	} else if (nl == 6 && !strncasecmp(n, "Accept", 6)) {
		if (has_sub(v, vl, "application/openmetrics-text"))
			r->openmetrics = true;
	} else if (nl == 10 && !strncasecmp(n, "Connection", 10)) {
		if (has_token(v, vl, "close"))
			r->conn_close = true;
		if (has_token(v, vl, "keep-alive"))
			r->keep_alive = true;
	} else if (nl == 14 && !strncasecmp(n, "Content-Length", 14)) {
		size_t i;

		for (i = 0; i < vl; i++)
			if (v[i] < '0' || v[i] > '9')
				return refuse(r, 400, "bad Content-Length");
		if (!vl)
			return refuse(r, 400, "bad Content-Length");
		for (i = 0; i < vl && v[i] == '0'; i++)
			;
		if (vl - i > 15)
			return refuse(r, 413, "Content-Length too large");
		if (cl_seen && *cl_seen)
			return refuse(r, 400, "two Content-Length fields");
		*cl_seen = true;
		r->content_length = 0;
		for (; i < vl; i++) {
			r->content_length = r->content_length * 10 +
					    (unsigned)(v[i] - '0');
			r->has_body = true;
		}
	} else if (nl == 17 && !strncasecmp(n, "Transfer-Encoding", 17)) {
		r->has_body = r->chunked = true;
	} else if (nl == 12 && !strncasecmp(n, "Content-Type", 12)) {
		size_t e2;

		for (e2 = 0; e2 < vl && v[e2] != ';'; e2++)
			;
		while (e2 && (v[e2 - 1] == ' ' || v[e2 - 1] == '\t'))
			e2--;
		if ((e2 == 16 && !strncasecmp(v, "application/json", 16)) ||
		    (e2 > 17 && !strncasecmp(v, "application/", 12) &&
			!strncasecmp(v + e2 - 5, "+json", 5)))
			r->ctype_json = true;
		else
			r->ctype_other = true;
	} else if (nl == 6 && !strncasecmp(n, "Expect", 6)) {
		if (has_token(v, vl, "100-continue"))
			r->expect_continue = true;
	} else if (nl == 13 && !strncasecmp(n, "Authorization", 13)) {
		if (r->auth)
			return refuse(r, 400, "two Authorization fields");
		if (vl >= GW_HTTP_AUTH_MAX)
			return refuse(r, 431, "Authorization over 511 bytes");
		r->auth = true;
		memcpy(r->authz, v, vl);
		r->authz[vl] = '\0';
	}
	return 0;
}

int
gw_http_parse(const char *buf, size_t len, struct gw_http_req *r)
{
	const char *p = buf, *end = NULL, *e;
	size_t i, lim = len < GW_HTTP_HEAD_MAX ? len : GW_HTTP_HEAD_MAX;
	unsigned nfields = 0;
	bool host = false, cl_seen = false;
	int ret;

	memset(r, 0, sizeof(*r));
	/* The head ends at an empty line: "\n\n" or "\n\r\n". */
	for (i = 0; i + 1 < lim && !end; i++)
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			end = buf + i + 2;
		else if (buf[i] == '\n' && buf[i + 1] == '\r' && i + 2 < lim &&
			 buf[i + 2] == '\n')
			end = buf + i + 3;
	if (!end)
		return len >= GW_HTTP_HEAD_MAX
			   ? refuse(r, 431, "request head over 8192 bytes")
			   : -EAGAIN;
	r->head_len = (size_t)(end - buf);
	for (;;) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			break;
		if (e == p || (e == p + 1 && *p == '\r'))
			break; /* the empty line */
		/* A CR only before the LF. */
		if (memchr(p, '\r', (size_t)(e - p)) &&
		    memchr(p, '\r', (size_t)(e - p)) != e - 1)
			return refuse(r, 400, "bare CR in the request head");
		if (p == buf) {
			ret = request_line(p, e[-1] == '\r' ? e - 1 : e, r);
		} else {
			if (*p == ' ' || *p == '\t')
				return refuse(r, 400, "folded header field");
			if (++nfields > GW_HTTP_FIELDS_MAX)
				return refuse(r, 431, "over 64 header fields");
			ret = field(p, e[-1] == '\r' ? e - 1 : e, r, &host,
			    &cl_seen);
		}
		if (ret < 0)
			return ret;
		p = e + 1;
	}
	if (p == buf)
		return refuse(r, 400, "no request line");
	if (r->http11 && !host)
		return refuse(r, 400, "HTTP/1.1 without Host");
	if (r->chunked && cl_seen)
		return refuse(r, 400, "both Content-Length and Transfer-Encoding");
	if (r->conn_close)
		r->keep_alive = false;
	return 0;
}
