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
