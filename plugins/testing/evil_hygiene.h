/* SPDX-License-Identifier: BSD-2-Clause */
/* evil: output hygiene attacks (evil_hygiene.c). */
#ifndef EVIL_HYGIENE_H
#define EVIL_HYGIENE_H

#include "cubicle/plugin.h"

/* Writes a forged broker line ("forge") or 10 MiB ("flood") to stderr. */
int evil_hygiene_stderr(
    struct cub_cube *cube, const char *what, struct cub_val **result);

#endif
