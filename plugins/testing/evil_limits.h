/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The map memory, fd-valued map and log flood attacks of evil_limits.c
 * (issue 6 review findings F5, F6, F9).
 */
#ifndef EVIL_LIMITS_H
#define EVIL_LIMITS_H

#include <stdbool.h>

struct cub_cube;
struct cub_val;

/* The objects of the "bpfobj" action evil_limits() handles. */
#define EVIL_LIMITS_OBJECTS                                                    \
	"uring", "hash", "inner", "itype", "small", "cgarr", "perf", "hello",  \
	    "reload", "logring", "logfmt", "logx", "logworker"

bool evil_limits_handles(const char *what);
int evil_limits(struct cub_cube *cube, const char *what,
    const struct cub_val *args, struct cub_val **result);

#endif /* EVIL_LIMITS_H */
