// SPDX-License-Identifier: BSD-2-Clause
/* Text hygiene: printable UTF-8 checks and escaping (text.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* A C1 control (U+0080..U+009F) as UTF-8: 0xc2 0x80..0x9f. */
static bool
is_c1(const unsigned char *s, size_t run)
{
	return run == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/*
 * A format character that reorders or hides text on a terminal: the
 * zero-width ones and marks U+200B..U+200F, the bidirectional embeddings
 * and overrides U+202A..U+202E and isolates U+2066..U+2069, U+FEFF.  Its
 * code point, or 0.
 */
static unsigned
format_char(const unsigned char *s, size_t run)
{
	unsigned cp;

	if (run != 3)
		return 0;
	cp = (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 |
	     (unsigned)(s[2] & 0x3f);
	if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff)
		return cp;
	return 0;
}

int
cubi_text_check(const char *s, size_t n, size_t *at)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run;

	while (i < n) {
		run = cubi_text_utf8_len(u + i, n - i);
		if (!run) {
			*at = i;
			return -EILSEQ;
		}
		if (u[i] < 0x20 || u[i] == 0x7f || is_c1(u + i, run)) {
			*at = i;
			return -EINVAL;
		}
		i += run;
	}
	return 0;
}

size_t
cubi_text_escape(char *dst, size_t dstlen, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, run, elen;
	char e[8];

	if (!dstlen)
		return 0;
	while (i < n) {
		run = cubi_text_utf8_len(u + i, n - i);
		if (run && is_c1(u + i, run)) {
			snprintf(e, sizeof(e), "\\u%04x", (unsigned)u[i + 1]);
		} else if (run && format_char(u + i, run)) {
			snprintf(e, sizeof(e), "\\u%04x", format_char(u + i, run));
		} else if (!run || u[i] < 0x20 || u[i] == 0x7f) {
			run = 1;
			if (u[i] == '\n')
				snprintf(e, sizeof(e), "\\n");
			else if (u[i] == '\t')
				snprintf(e, sizeof(e), "\\t");
			else if (u[i] == '\r')
				snprintf(e, sizeof(e), "\\r");
			else
				snprintf(
				    e, sizeof(e), "\\x%02x", (unsigned)u[i]);
		} else {
			if (o + run >= dstlen)
				break;
			memcpy(dst + o, s + i, run);
			o += run;
			i += run;
			continue;
		}
		elen = strlen(e);
		if (o + elen >= dstlen)
			break;
		memcpy(dst + o, e, elen);
		o += elen;
		i += run;
	}
	dst[o] = '\0';
	return o;
}

char *
cubi_text_escape_dup(const char *s)
{
	size_t n = strlen(s), len = n * 6 + 1;
	char *d = malloc(len);

	if (d)
		cubi_text_escape(d, len, s, n);
	return d;
}

int
cubi_text_line(const char **p, const char *end, char *buf, size_t len,
    unsigned *line, char *err, size_t errlen)
{
	const char *e = memchr(*p, '\n', (size_t)(end - *p));
	size_t l, i;

	if (!e)
		e = end;
	l = (size_t)(e - *p);
	++*line;
	if (l >= len) {
		snprintf(
		    err, errlen, "line %u: over %zu bytes", *line, len - 1);
		return -E2BIG;
	}
	memcpy(buf, *p, l);
	buf[l] = '\0';
	*p = e < end ? e + 1 : end;
	for (i = 0; i < l; i++)
		if (((unsigned char)buf[i] < ' ' && buf[i] != '\t' &&
			buf[i] != '\r') ||
		    (unsigned char)buf[i] == 0x7f) {
			snprintf(
			    err, errlen, "line %u: a control character", *line);
			return -EINVAL;
		}
	return 0;
}
