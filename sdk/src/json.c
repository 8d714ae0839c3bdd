/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * JSON (RFC 8259) parser and emitter, and a block-style YAML emitter, for
 * the documents people read and write.  The parser is strict (no trailing
 * commas, no comments, UTF-8 only) and enforces the same caps as the
 * MessagePack decoder.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "cubicle/val.h"
#include "util/text.h"

/* A growing NUL-terminated text buffer; oom sticks once set. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
sb_add(struct sbuf *sb, const char *s, size_t n)
{
	size_t ncap;
	char *p;

	if (sb->oom)
		return;
	if (sb->len + n + 1 > sb->cap) {
		ncap = sb->cap ? sb->cap : 64;
		while (ncap < sb->len + n + 1)
			ncap *= 2;
		p = realloc(sb->p, ncap);
		if (!p) {
			sb->oom = true;
			return;
		}
		sb->p = p;
		sb->cap = ncap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
sb_puts(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

static void sb_printf(struct sbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		sb->oom = true;
		return;
	}
	sb_add(sb, tmp, (size_t)n);
}

static void
sb_pad(struct sbuf *sb, unsigned n)
{
	while (n--)
		sb_add(sb, " ", 1);
}

static char *
sb_finish(struct sbuf *sb)
{
	if (sb->oom) {
		free(sb->p);
		errno = ENOMEM;
		return NULL;
	}
	if (!sb->p)
		sb_add(sb, "", 0);
	if (sb->oom) {
		errno = ENOMEM;
		return NULL;
	}
	return sb->p;
}

static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parser state: the text, the cursor and the line it is on. */
struct jp {
	const char *s;
	size_t len, pos;
	size_t line, line_start;
	char *err;
	size_t errlen;
	int errnum;
	char what[16]; /* jp_what()'s text */
};

static void jp_fail_at(struct jp *p, size_t pos, int errnum, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
jp_fail_at(struct jp *p, size_t pos, int errnum, const char *fmt, ...)
{
	size_t line = 1, start = 0, i, n;
	va_list ap;

	if (p->errnum)
		return;
	p->errnum = errnum;
	if (!p->err || !p->errlen)
		return;
	if (pos == p->pos) {
		line = p->line;
		start = p->line_start;
	} else {
		for (i = 0; i < pos && i < p->len; i++) {
			if (p->s[i] == '\n') {
				line++;
				start = i + 1;
			}
		}
	}
	n = (size_t)snprintf(
	    p->err, p->errlen, "line %zu, column %zu: ", line, pos - start + 1);
	if (n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
}

#define jp_fail(p, ...) jp_fail_at((p), (p)->pos, EINVAL, __VA_ARGS__)

static void
jp_ws(struct jp *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c == '\n') {
			p->line++;
			p->line_start = p->pos + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			break;
		}
		p->pos++;
	}
}

static const char *
jp_what(struct jp *p)
{
	unsigned char c;

	if (p->pos >= p->len)
		return "end of input";
	c = (unsigned char)p->s[p->pos];
	if (c >= 0x20 && c < 0x7f)
		snprintf(p->what, sizeof(p->what), "'%c'", c);
	else
		snprintf(p->what, sizeof(p->what), "byte 0x%02x", c);
	return p->what;
}

static int
jp_hex4(struct jp *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	if (p->len - p->pos < 4) {
		jp_fail(p, "\\u escape needs four hex digits");
		return -1;
	}
	for (i = 0; i < 4; i++) {
		char c = p->s[p->pos + (size_t)i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else {
			jp_fail_at(p, p->pos + (size_t)i, EINVAL,
			    "\\u escape needs four hex digits");
			return -1;
		}
	}
	p->pos += 4;
	*out = v;
	return 0;
}

/* Parse a string at p->pos (on the opening quote) into a malloc'd buffer. */
static char *
jp_string(struct jp *p, size_t *outlen)
{
	struct sbuf sb = {0};
	size_t start = p->pos, n;
	uint32_t cp, lo;
	char u8[4];

	p->pos++;
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len) {
			jp_fail_at(p, start, EINVAL, "string is not closed");
			goto fail;
		}
		if (sb.len > CUB_STR_MAX) {
			jp_fail_at(p, start, EINVAL,
			    "string is over the cap of %u bytes", CUB_STR_MAX);
			goto fail;
		}
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c < 0x20) {
			jp_fail(p, "control character 0x%02x in a string", c);
			goto fail;
		}
		if (c != '\\') {
			n = cubi_text_utf8_len((const unsigned char *)p->s + p->pos,
			    p->len - p->pos);
			if (!n) {
				jp_fail(p, "invalid UTF-8 in a string");
				goto fail;
			}
			sb_add(&sb, p->s + p->pos, n);
			p->pos += n;
			continue;
		}
		p->pos++;
		if (p->pos >= p->len) {
			jp_fail_at(p, start, EINVAL, "string is not closed");
			goto fail;
		}
		c = (unsigned char)p->s[p->pos++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			u8[0] = (char)c;
			sb_add(&sb, u8, 1);
			continue;
		case 'b':
			sb_add(&sb, "\b", 1);
			continue;
		case 'f':
			sb_add(&sb, "\f", 1);
			continue;
		case 'n':
			sb_add(&sb, "\n", 1);
			continue;
		case 'r':
			sb_add(&sb, "\r", 1);
			continue;
		case 't':
			sb_add(&sb, "\t", 1);
			continue;
		case 'u':
			break;
		default:
			p->pos--;
			jp_fail(p, "unknown escape '\\%c'",
			    c >= 0x20 && c < 0x7f ? c : '?');
			goto fail;
		}
		if (jp_hex4(p, &cp))
			goto fail;
		if (cp == 0) {
			jp_fail_at(p, p->pos - 6, EINVAL,
			    "\\u0000 is not allowed: strings cannot hold NUL");
			goto fail;
		}
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			jp_fail_at(p, p->pos - 6, EINVAL,
			    "unpaired low surrogate \\u%04X", (unsigned)cp);
			goto fail;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
			    p->s[p->pos + 1] != 'u') {
				jp_fail_at(p, p->pos - 6, EINVAL,
				    "high surrogate \\u%04X is not followed "
				    "by a low surrogate",
				    (unsigned)cp);
				goto fail;
			}
			p->pos += 2;
			if (jp_hex4(p, &lo))
				goto fail;
			if (lo < 0xdc00 || lo > 0xdfff) {
				jp_fail_at(p, p->pos - 6, EINVAL,
				    "\\u%04X is not a low surrogate",
				    (unsigned)lo);
				goto fail;
			}
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		sb_add(&sb, u8, utf8_put(u8, cp));
	}
	if (sb.len > CUB_STR_MAX) {
		jp_fail_at(p, start, EINVAL,
		    "string is over the cap of %u bytes", CUB_STR_MAX);
		goto fail;
	}
	if (!sb.p)
		sb_add(&sb, "", 0);
	if (sb.oom) {
		jp_fail_at(p, start, ENOMEM, "out of memory");
		goto fail;
	}
	*outlen = sb.len;
	return sb.p;
fail:
	free(sb.p);
	return NULL;
}

static struct cub_val *
jp_number(struct jp *p)
{
	size_t start = p->pos, digits;
	bool neg = false, isfloat = false;
	struct cub_val *v;
	uint64_t u = 0;
	char *tmp, *end;
	double d;

	if (p->s[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	digits = p->pos;
	if (p->pos < p->len && p->s[p->pos] == '0') {
		p->pos++;
	} else {
		while (p->pos < p->len && p->s[p->pos] >= '0' &&
		       p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos == digits) {
		jp_fail(p, "expected a digit, found %s", jp_what(p));
		return NULL;
	}
	if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		jp_fail_at(
		    p, digits, EINVAL, "numbers may not have leading zeros");
		return NULL;
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		isfloat = true;
		p->pos++;
		digits = p->pos;
		while (p->pos < p->len && p->s[p->pos] >= '0' &&
		       p->s[p->pos] <= '9')
			p->pos++;
		if (p->pos == digits) {
			jp_fail(p, "expected a digit after '.', found %s",
			    jp_what(p));
			return NULL;
		}
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		isfloat = true;
		p->pos++;
		if (p->pos < p->len &&
		    (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		digits = p->pos;
		while (p->pos < p->len && p->s[p->pos] >= '0' &&
		       p->s[p->pos] <= '9')
			p->pos++;
		if (p->pos == digits) {
			jp_fail(p, "expected a digit in the exponent, found %s",
			    jp_what(p));
			return NULL;
		}
	}
	if (!isfloat) {
		size_t i;

		for (i = start + (neg ? 1 : 0); i < p->pos; i++) {
			unsigned dig = (unsigned)(p->s[i] - '0');

			if (u > (UINT64_MAX - dig) / 10)
				goto range;
			u = u * 10 + dig;
		}
		if (!neg)
			v = cub_val__uint(u);
		else if (u <= (uint64_t)INT64_MAX)
			v = cub_val__int(-(int64_t)u);
		else if (u == (uint64_t)INT64_MAX + 1)
			v = cub_val__int(INT64_MIN);
		else
			goto range;
		if (!v)
			jp_fail_at(p, start, ENOMEM, "out of memory");
		return v;
	}
	tmp = strndup(p->s + start, p->pos - start);
	if (!tmp) {
		jp_fail_at(p, start, ENOMEM, "out of memory");
		return NULL;
	}
	/* The grammar above is what strtod() accepts in the C locale. */
	d = strtod(tmp, &end);
	free(tmp);
	if (isinf(d))
		goto range;
	v = cub_val__float(d);
	if (!v)
		jp_fail_at(p, start, ENOMEM, "out of memory");
	return v;
range:
	jp_fail_at(p, start, EINVAL, "number %.*s is out of range",
	    (int)(p->pos - start > 40 ? 40 : p->pos - start), p->s + start);
	return NULL;
}

static struct cub_val *jp_value(struct jp *p, unsigned depth);

/*
 * After an element of an array or object: ',' then more (1), the closing
 * character (0), or an error (-1, reported).
 */
static int
jp_next(struct jp *p, char close, const char *what)
{
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ',') {
		p->pos++;
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == close) {
			jp_fail(p, "trailing comma in %s", what);
			return -1;
		}
		return 1;
	}
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	jp_fail(p, "expected ',' or '%c' in %s, found %s", close, what,
	    jp_what(p));
	return -1;
}

static struct cub_val *
jp_array(struct jp *p, unsigned depth)
{
	struct cub_val *a = cub_val__array(), *item;

	if (!a) {
		jp_fail_at(p, p->pos, ENOMEM, "out of memory");
		return NULL;
	}
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		return a;
	}
	for (;;) {
		item = jp_value(p, depth);
		if (!item)
			return cub_val__free(a);
		if (cub_val__push(a, item)) {
			jp_fail_at(p, p->pos, ENOMEM, "out of memory");
			return cub_val__free(a);
		}
		switch (jp_next(p, ']', "array")) {
		case 1:
			continue;
		case 0:
			return a;
		default:
			return cub_val__free(a);
		}
	}
}

static struct cub_val *
jp_object(struct jp *p, unsigned depth)
{
	struct cub_val *m = cub_val__map(), *item;
	size_t start = p->pos, klen;
	const char *dup;
	char *key;
	int r;

	if (!m) {
		jp_fail_at(p, p->pos, ENOMEM, "out of memory");
		return NULL;
	}
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		return m;
	}
	for (;;) {
		if (p->pos >= p->len || p->s[p->pos] != '"') {
			jp_fail(
			    p, "expected a string key, found %s", jp_what(p));
			return cub_val__free(m);
		}
		key = jp_string(p, &klen);
		if (!key)
			return cub_val__free(m);
		jp_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':') {
			free(key);
			jp_fail(p, "expected ':' after a key, found %s",
			    jp_what(p));
			return cub_val__free(m);
		}
		p->pos++;
		item = jp_value(p, depth);
		if (!item) {
			free(key);
			return cub_val__free(m);
		}
		if (cubi_map_append(m, key, item)) {
			jp_fail_at(p, p->pos, ENOMEM, "out of memory");
			return cub_val__free(m);
		}
		r = jp_next(p, '}', "object");
		if (r < 0)
			return cub_val__free(m);
		if (!r)
			break;
	}
	if (cubi_map_dupkey(m, &dup)) {
		jp_fail_at(p, start, ENOMEM, "out of memory");
		return cub_val__free(m);
	}
	if (dup) {
		jp_fail_at(p, start, EINVAL,
		    "object has the key \"%.64s\" twice", dup);
		return cub_val__free(m);
	}
	return m;
}

static bool
jp_word(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n))
		return false;
	p->pos += n;
	return true;
}

static struct cub_val *
jp_value(struct jp *p, unsigned depth)
{
	struct cub_val *v = NULL;
	size_t len;
	char c, *s;

	jp_ws(p);
	if (p->pos >= p->len) {
		jp_fail(p, "expected a value, found end of input");
		return NULL;
	}
	c = p->s[p->pos];
	if (c == '{' || c == '[') {
		if (depth + 1 > CUB_DEPTH_MAX) {
			jp_fail(
			    p, "nesting deeper than %u levels", CUB_DEPTH_MAX);
			return NULL;
		}
		return c == '{' ? jp_object(p, depth + 1)
				: jp_array(p, depth + 1);
	}
	if (c == '"') {
		s = jp_string(p, &len);
		if (!s)
			return NULL;
		v = cub_val__strn(s, len);
		free(s);
		if (!v)
			jp_fail(p, "out of memory");
		return v;
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return jp_number(p);
	if (jp_word(p, "true"))
		v = cub_val__bool(true);
	else if (jp_word(p, "false"))
		v = cub_val__bool(false);
	else if (jp_word(p, "null"))
		v = cub_val__nil();
	else {
		jp_fail(p, "expected a value, found %s", jp_what(p));
		return NULL;
	}
	if (!v)
		jp_fail_at(p, p->pos, ENOMEM, "out of memory");
	return v;
}

struct cub_val *
cub_json_parse(const char *s, size_t len, char *err, size_t errlen)
{
	struct jp p = {
	    .s = s,
	    .len = len,
	    .line = 1,
	    .err = err,
	    .errlen = errlen,
	};
	struct cub_val *v;

	if (err && errlen)
		err[0] = '\0';
	if (len > CUB_MSG_MAX) {
		cubi_errf(0, err, errlen,
		    "input is %zu bytes, over the cap of %u", len, CUB_MSG_MAX);
		errno = EINVAL;
		return NULL;
	}
	if (!s && len) {
		errno = EINVAL;
		return NULL;
	}
	v = jp_value(&p, 0);
	if (v) {
		jp_ws(&p);
		if (p.pos < p.len) {
			jp_fail(
			    &p, "unexpected %s after the value", jp_what(&p));
			v = cub_val__free(v);
		}
	}
	if (!v)
		errno = p.errnum ? p.errnum : EINVAL;
	return v;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
emit_base64(struct sbuf *sb, const uint8_t *p, uint32_t n)
{
	char out[4];
	uint32_t i, v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[0] = b64[v >> 18];
		out[1] = b64[v >> 12 & 63];
		out[2] = b64[v >> 6 & 63];
		out[3] = b64[v & 63];
		sb_add(sb, out, 4);
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[0] = b64[v >> 18];
		out[1] = b64[v >> 12 & 63];
		out[2] = out[3] = '=';
		sb_add(sb, out, 4);
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[0] = b64[v >> 18];
		out[1] = b64[v >> 12 & 63];
		out[2] = b64[v >> 6 & 63];
		out[3] = '=';
		sb_add(sb, out, 4);
	}
}

#define YAML_KEY_MAX 1000 /* bytes of an implicit key (YAML: 1024 chars) */

/*
 * What YAML does not allow raw in a scalar: the BOM and the two
 * non-characters (libyaml: "control characters"), and U+2028/U+2029,
 * which YAML reads as line breaks.
 */
static bool
yaml_unprintable(const unsigned char *u, size_t run)
{
	if (run != 3)
		return false;
	if (u[0] == 0xe2)
		return u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9);
	return u[0] == 0xef &&
	       ((u[1] == 0xbb && u[2] == 0xbf) ||
		   (u[1] == 0xbf && (u[2] == 0xbe || u[2] == 0xbf)));
}

/* A double-quoted string; the escapes are valid in JSON and in YAML. */
static void
emit_quoted(struct sbuf *sb, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run;

	sb_add(sb, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];

		if (c == '"')
			sb_add(sb, "\\\"", 2);
		else if (c == '\\')
			sb_add(sb, "\\\\", 2);
		else if (c == '\n')
			sb_add(sb, "\\n", 2);
		else if (c == '\r')
			sb_add(sb, "\\r", 2);
		else if (c == '\t')
			sb_add(sb, "\\t", 2);
		else if (c == '\b')
			sb_add(sb, "\\b", 2);
		else if (c == '\f')
			sb_add(sb, "\\f", 2);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(sb, "\\u%04x", c);
		else if (c < 0x80)
			sb_add(sb, s + i, 1);
		else if (c == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 &&
			 u[i + 1] < 0xa0) {
			/* A C1 control (U+0080..U+009F): a terminal may
			 * act on it, so it is escaped like C0. */
			sb_printf(sb, "\\u%04x", u[i + 1]);
			i += 2;
			continue;
		} else if ((run = cubi_text_utf8_len(u + i, n - i)) &&
			   yaml_unprintable(u + i, run)) {
			/* U+FEFF, U+FFFE, U+FFFF, U+2028, U+2029. */
			sb_printf(sb, "\\u%02x%02x",
			    (unsigned)((u[i] & 0x0f) << 4 | (u[i + 1] & 0x3c) >> 2),
			    (unsigned)((u[i + 1] & 0x03) << 6 | (u[i + 2] & 0x3f)));
			i += run;
			continue;
		} else if (run) {
			sb_add(sb, s + i, run);
			i += run;
			continue;
		} else {
			/* Not UTF-8: U+FFFD keeps the output valid. */
			sb_add(sb, "\\ufffd", 6);
		}
		i++;
	}
	sb_add(sb, "\"", 1);
}

static void
emit_float(struct sbuf *sb, double f, bool yaml)
{
	char tmp[40], *exp;

	if (isnan(f)) {
		sb_puts(sb, yaml ? ".nan" : "null");
		return;
	}
	if (isinf(f)) {
		sb_puts(sb, !yaml ? "null" : f < 0 ? "-.inf" : ".inf");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.17g", f);
	if (strchr(tmp, '.')) {
		sb_puts(sb, tmp);
		return;
	}
	/* Keep it a float for readers: "1.0", "1.0e+20" (YAML 1.1 too). */
	exp = strchr(tmp, 'e');
	sb_add(sb, tmp, exp ? (size_t)(exp - tmp) : strlen(tmp));
	sb_add(sb, ".0", 2);
	if (exp)
		sb_puts(sb, exp);
}

static void
emit_json(
    struct sbuf *sb, const struct cub_val *v, bool pretty, unsigned indent)
{
	uint32_t i;

	if (!v) {
		sb_puts(sb, "null");
		return;
	}
	switch (v->kind) {
	case CUB_V_NIL:
		sb_puts(sb, "null");
		break;
	case CUB_V_BOOL:
		sb_puts(sb, v->b ? "true" : "false");
		break;
	case CUB_V_INT:
		sb_printf(sb, "%" PRId64, v->i);
		break;
	case CUB_V_UINT:
		sb_printf(sb, "%" PRIu64, v->u);
		break;
	case CUB_V_FLOAT:
		emit_float(sb, v->f, false);
		break;
	case CUB_V_STR:
		emit_quoted(sb, v->str.ptr, v->str.len);
		break;
	case CUB_V_BIN:
		sb_add(sb, "\"", 1);
		emit_base64(sb, v->bin.ptr, v->bin.len);
		sb_add(sb, "\"", 1);
		break;
	case CUB_V_ARRAY:
		if (!v->arr.len) {
			sb_puts(sb, "[]");
			break;
		}
		sb_add(sb, "[", 1);
		for (i = 0; i < v->arr.len; i++) {
			if (i)
				sb_add(sb, ",", 1);
			if (pretty) {
				sb_add(sb, "\n", 1);
				sb_pad(sb, indent + 2);
			}
			emit_json(sb, v->arr.items[i], pretty, indent + 2);
		}
		if (pretty) {
			sb_add(sb, "\n", 1);
			sb_pad(sb, indent);
		}
		sb_add(sb, "]", 1);
		break;
	case CUB_V_MAP:
		if (!v->map.len) {
			sb_puts(sb, "{}");
			break;
		}
		sb_add(sb, "{", 1);
		for (i = 0; i < v->map.len; i++) {
			const char *k = v->map.items[i].key;

			if (i)
				sb_add(sb, ",", 1);
			if (pretty) {
				sb_add(sb, "\n", 1);
				sb_pad(sb, indent + 2);
			}
			emit_quoted(sb, k ? k : "", k ? strlen(k) : 0);
			sb_puts(sb, pretty ? ": " : ":");
			emit_json(sb, v->map.items[i].val, pretty, indent + 2);
		}
		if (pretty) {
			sb_add(sb, "\n", 1);
			sb_pad(sb, indent);
		}
		sb_add(sb, "}", 1);
		break;
	}
}

char *
cub_json_emit(const struct cub_val *v, bool pretty)
{
	struct sbuf sb = {0};

	emit_json(&sb, v, pretty, 0);
	if (pretty)
		sb_add(&sb, "\n", 1);
	return sb_finish(&sb);
}

static bool
yaml_word(const char *s)
{
	static const char *const words[] = {
	    "true",
	    "false",
	    "yes",
	    "no",
	    "on",
	    "off",
	    "null",
	    "~",
	    ".inf",
	    "-.inf",
	    "+.inf",
	    ".nan",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

static bool
yaml_numberish(const char *s)
{
	const char *p = s;

	if (*p == '+' || *p == '-')
		p++;
	if (*p == '.')
		p++;
	/* Anything starting with a digit could be read as a number. */
	return *p >= '0' && *p <= '9';
}

/* Whether s must be quoted so that a YAML reader gets the string back. */
static bool
yaml_needs_quotes(const char *s, size_t n)
{
	size_t i;

	if (!n || yaml_word(s) || yaml_numberish(s))
		return true;
	if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':')
		return true;
	if (strchr("-?:,[]{}#&*!|>'\"%@`<=", s[0]) || !strncmp(s, "...", 3))
		return true;
	if (strstr(s, ": ") || strchr(s, '#'))
		return true;
	for (i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t run = cubi_text_utf8_len((const unsigned char *)s + i, n - i);

		if (c < 0x20 || c == 0x7f || !run ||
		    (c == 0xc2 && run == 2 && (unsigned char)s[i + 1] < 0xa0) ||
		    yaml_unprintable((const unsigned char *)s + i, run))
			return true;
		i += run;
	}
	return false;
}

static void
yaml_str(struct sbuf *sb, const char *s, size_t n)
{
	if (yaml_needs_quotes(s, n))
		emit_quoted(sb, s, n);
	else
		sb_add(sb, s, n);
}

static bool
yaml_is_block(const struct cub_val *v)
{
	return v && ((v->kind == CUB_V_ARRAY && v->arr.len) ||
			(v->kind == CUB_V_MAP && v->map.len));
}

static void
yaml_scalar(struct sbuf *sb, const struct cub_val *v)
{
	struct sbuf tmp = {0};

	if (!v) {
		sb_puts(sb, "null");
		return;
	}
	switch (v->kind) {
	case CUB_V_FLOAT:
		emit_float(sb, v->f, true);
		break;
	case CUB_V_STR:
		yaml_str(sb, v->str.ptr, v->str.len);
		break;
	case CUB_V_BIN:
		emit_base64(&tmp, v->bin.ptr, v->bin.len);
		if (tmp.oom)
			sb->oom = true;
		else
			yaml_str(sb, tmp.p ? tmp.p : "", tmp.len);
		free(tmp.p);
		break;
	case CUB_V_ARRAY:
		sb_puts(sb, "[]");
		break;
	case CUB_V_MAP:
		sb_puts(sb, "{}");
		break;
	default:
		emit_json(sb, v, false, 0);
		break;
	}
}

/*
 * A block collection at indent.  inline_first: the first line already
 * holds "- " of the enclosing list item, so it gets no indentation.
 */
static void
emit_yaml(struct sbuf *sb, const struct cub_val *v, unsigned indent,
    bool inline_first)
{
	struct sbuf key = {0};
	const struct cub_val *item;
	const char *k;
	uint32_t i, n;

	n = v->kind == CUB_V_MAP ? v->map.len : v->arr.len;
	for (i = 0; i < n; i++) {
		if (i || !inline_first)
			sb_pad(sb, indent);
		if (v->kind == CUB_V_MAP) {
			k = v->map.items[i].key ? v->map.items[i].key : "";
			item = v->map.items[i].val;
			key.len = 0;
			yaml_str(&key, k, strlen(k));
			if (key.oom) {
				sb->oom = true;
				break;
			}
			/* YAML caps an implicit key at 1024 characters: a
			 * longer one takes the explicit form "? key\n: v". */
			if (key.len > YAML_KEY_MAX) {
				sb_add(sb, "? ", 2);
				sb_add(sb, key.p, key.len);
				sb_add(sb, "\n", 1);
				sb_pad(sb, indent);
			} else {
				sb_add(sb, key.p, key.len);
			}
			sb_add(sb, ":", 1);
			if (yaml_is_block(item)) {
				sb_add(sb, "\n", 1);
				emit_yaml(sb, item, indent + 2, false);
				continue;
			}
		} else {
			item = v->arr.items[i];
			sb_add(sb, "-", 1);
			if (yaml_is_block(item)) {
				sb_add(sb, " ", 1);
				emit_yaml(sb, item, indent + 2, true);
				continue;
			}
		}
		sb_add(sb, " ", 1);
		yaml_scalar(sb, item);
		sb_add(sb, "\n", 1);
	}
	free(key.p);
}

char *
cub_yaml_emit(const struct cub_val *v)
{
	struct sbuf sb = {0};

	if (yaml_is_block(v)) {
		emit_yaml(&sb, v, 0, false);
	} else {
		yaml_scalar(&sb, v);
		sb_add(&sb, "\n", 1);
	}
	return sb_finish(&sb);
}
