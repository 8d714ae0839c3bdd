/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict number parsing for command-line options. */
#ifndef CUBI_PARSE_H
#define CUBI_PARSE_H

#include <stdint.h>

/*
 * s must be decimal digits only (no sign, space or suffix) with a value in
 * [min, max].  0 with *out set, or -EINVAL.
 */
int cubi_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
