/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef CUBICLE_EVIL_SANDBOX_H
#define CUBICLE_EVIL_SANDBOX_H

#include "cubicle/plugin.h"

/* Arguments of the "escape" and "metadata" actions. */
extern const struct cub_field evil_sandbox_escape_args[];
extern const struct cub_field evil_sandbox_metadata_args[];

/*
 * @brief **evil_sandbox_action()** runs the sandbox attacks: "constructor"
 * reports what the plugin's constructor saw when dlopen() ran it;
 * "escape" tries to reach outside the worker (abstract and pathname
 * sockets, SCM_RIGHTS, stat); "metadata" asks for a path's metadata
 * every way a path gets past the seccomp filter.  Each outcome is a key
 * of *result.
 *
 * @return 0, or -ENOENT if @name is not one of these actions.
 */
int evil_sandbox_action(struct cub_cube *cube, const char *name,
    const struct cub_val *args, struct cub_val **result);

#endif
