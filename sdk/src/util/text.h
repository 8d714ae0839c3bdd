/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Text hygiene shared by the broker, the workers, the tree engine and the
 * CLI: what a name may hold, and how anything else is shown.
 */
#ifndef CUBI_TEXT_H
#define CUBI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length of the valid, shortest-form UTF-8 sequence (no surrogates, at
 * most U+10FFFF) at s, or 0 if s[0..n) does not start with one.  Inline,
 * so that the SDK's codecs, which do not link this library, use it too.
 */
static inline size_t
cubi_text_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t need, i;

	if (!n)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/*
 * Checks that s[0..n) is printable UTF-8: valid UTF-8 without C0
 * controls (tab and newline included), DEL or C1 controls.  Returns 0,
 * -EILSEQ (not UTF-8) or -EINVAL (a control character); *at is then the
 * byte offset of the first bad byte.
 */
int cubi_text_check(const char *s, size_t n, size_t *at);

/*
 * Writes s[0..n) to dst (NUL-terminated, at most dstlen bytes) with every
 * byte that is not printable UTF-8 escaped: \n \t \r and \xNN for
 * other C0 controls, DEL and bytes that are not UTF-8; C1 controls as
 * \u00NN.  A backslash stays as it is, so text escaped twice (a broker
 * message shown by the CLI) reads the same.  An escape is never cut; a
 * cut output ends at a whole escape.
 * Returns the length written.
 */
size_t cubi_text_escape(char *dst, size_t dstlen, const char *s, size_t n);

/* The same into a malloc'd string (NULL + errno on ENOMEM). */
char *cubi_text_escape_dup(const char *s);

/*
 * The next line of a configuration file's text [*p, end) (the tenants
 * file, the gateway's tokens): copied into buf (len bytes, NUL-ended,
 * its '\n' left out), *p moved past it, *line counted.  0, or -E2BIG (a
 * line of len bytes or more) or -EINVAL (a control character other than
 * tab and CR, or DEL), with err naming the line.
 */
int cubi_text_line(const char **p, const char *end, char *buf, size_t len,
    unsigned *line, char *err, size_t errlen);

/*
 * A MAC address "xx:xx:xx:xx:xx:xx" (either case) at s[0..len) into mac:
 * 0, or -1.  Inline, for the tree engine and the SDK's typed views.
 */
static inline int
cubi_text_mac_parse(const char *s, size_t len, uint8_t mac[6])
{
	int i, j, nib[2];

	if (len != 17)
		return -1;
	for (i = 0; i < 6; i++) {
		for (j = 0; j < 2; j++) {
			char c = s[i * 3 + j];

			nib[j] = c >= '0' && c <= '9'	? c - '0'
				 : c >= 'a' && c <= 'f' ? c - 'a' + 10
				 : c >= 'A' && c <= 'F' ? c - 'A' + 10
							: -1;
			if (nib[j] < 0)
				return -1;
		}
		if (i < 5 && s[i * 3 + 2] != ':')
			return -1;
		mac[i] = (uint8_t)(nib[0] << 4 | nib[1]);
	}
	return 0;
}

#endif
