// SPDX-License-Identifier: BSD-2-Clause
/*
 * review14 (tests/integration/review14-*.sh): the service "upgrade"
 * (upgrade.c) in variants its own list does not build:
 *   review14_dropnarrow.so  ports only (color dropped, so a stored cube
 *                           with a color is refused by the schema) and
 *                           the narrow policy (max_map_bytes 4096)
 *   review14_refuse.so      upgrade_v1's schema and policy, whose apply
 *                           refuses every replay (create) of a cube
 *                           whose color is "red" before it loads
 *                           anything: a new version's stricter check
 *                           (-DR14_REFUSE)
 * Never installed.
 */
#ifdef R14_REFUSE
#define cub_plugin_entry review14_upgrade_entry
#endif
#include "upgrade.c"
#ifdef R14_REFUSE
#undef cub_plugin_entry

static int
r14_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const char *color = cub_val__get_str(config, "color");

	if (create && color && !strcmp(color, "red"))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "cube '%s': review14_refuse takes no red cube",
		    cub_cube__name(cube));
	return sf_apply(cube, config, create);
}

static const struct cub_plugin_ops r14_ops = {
    .apply = r14_apply,
};

extern const struct cub_plugin cub_plugin_entry;
const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "upgrade",
    .description = "upgrade whose apply refuses red cubes' replays (tests)",
    .cube_size = sizeof(struct sf_cube),
    .schema = upg_schema,
    .ops = &r14_ops,
    .policy = SF_POLICY,
    CUB_PLUGIN_SIZES,
};
#endif
