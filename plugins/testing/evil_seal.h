/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CUBICLE_EVIL_SEAL_H
#define CUBICLE_EVIL_SEAL_H

#include "cubicle/plugin.h"

/*
 * @brief **evil_seal_action()** runs the "filter" action: it reports
 * whether the plugin's constructor could stack a seccomp filter of its own
 * (one that makes every later seccomp() return 0 without doing anything,
 * so that no filter stacked after it is ever installed), and what the
 * plugin can do now: stat() a path, add a filter, open a system library
 * and /etc/passwd; "stdin" reads the worker's fd 0 ("eof" from
 * /dev/null). Each outcome is a key of *result.
 *
 * @return 0, or -ENOENT if @name is not "filter" or "stdin".
 */
int evil_seal_action(struct cub_cube *cube, const char *name,
    const struct cub_val *args, struct cub_val **result);

#endif
