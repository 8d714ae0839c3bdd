/* SPDX-License-Identifier: BSD-2-Clause */
/* evil's helper runs (evil_helper.c): tests/integration/helper.sh. */
#ifndef EVIL_HELPER_H
#define EVIL_HELPER_H

#include "cubicle/plugin.h"

extern const struct cub_field evil_helper_args[];

/* debug helper name=NAME input=TEXT -> {output} (cub_helper__run) */
int evil_helper_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result);

#endif
