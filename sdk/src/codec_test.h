/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * parse() and parse_fails() for the unit tests of a text parser.  Define
 * CODEC_TEST_PARSE as the parser under test (cub_json_parse or
 * cub_yaml_parse), then include this after check.h and cubicle/val.h.
 */
#ifndef CUBI_CODEC_TEST_H
#define CUBI_CODEC_TEST_H

#include <check.h>
#include <errno.h>
#include <string.h>

#include "cubicle/val.h"

/* s parsed; the test fails with the parser's error if it does not. */
static struct cub_val *
parse(const char *s)
{
	char err[256];
	struct cub_val *v = CODEC_TEST_PARSE(s, strlen(s), err, sizeof(err));

	ck_assert_msg(v != NULL, "parse '%s': %s", s, err);
	return v;
}

/* s is refused with errno EINVAL and an error that contains msg. */
static void
parse_fails(const char *s, const char *msg)
{
	char err[256] = "";
	struct cub_val *v;

	errno = 0;
	v = CODEC_TEST_PARSE(s, strlen(s), err, sizeof(err));
	ck_assert_msg(v == NULL, "'%s' parsed", s);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(
	    strstr(err, msg), "'%s': got '%s', want '%s'", s, err, msg);
}

#endif
