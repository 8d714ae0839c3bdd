// SPDX-License-Identifier: BSD-2-Clause
/*
 * review16_crash: upgrade_v1 (the service "upgrade", the same schema and
 * policy) whose apply() aborts on create: a new version that says hello,
 * is accepted, then dies on the replay of the cubes stored by the version
 * it replaces (tests/integration/review16-reload-replaycrash.sh).  Never
 * installed.
 */
#include <stdlib.h>

#define cub_plugin_entry review16_v1_entry
#include "upgrade.c"
#undef cub_plugin_entry

static int
r16_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	if (create)
		abort();
	return sf_apply(cube, config, create);
}

static const struct cub_plugin_ops r16_ops = {.apply = r16_apply};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "upgrade",
    .description = "upgrade_v1 that dies on the replay (tests)",
    .cube_size = sizeof(struct sf_cube),
    .schema = upg_schema,
    .ops = &r16_ops,
    .policy = SF_POLICY,
    CUB_PLUGIN_SIZES,
};
