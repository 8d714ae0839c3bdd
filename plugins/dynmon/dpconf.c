// SPDX-License-Identifier: BSD-2-Clause
/* dynmon's dataplane-config accessors (dpconf.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dpconf.h"

const struct cub_val *
dm_conf_path(const struct cub_val *dpconf, char path)
{
	const struct cub_val *p;

	if (!dpconf || dpconf->kind != CUB_V_MAP)
		return NULL;
	p = cub_val__get(dpconf, path == 'i' ? "ingress-path" : "egress-path");
	return p && p->kind == CUB_V_MAP ? p : NULL;
}

const struct cub_val *
dm_conf_metrics(const struct cub_val *dpconf, char path)
{
	const struct cub_val *mcs =
	    cub_val__get(dm_conf_path(dpconf, path), "metric-configs");

	return mcs && mcs->kind == CUB_V_ARRAY ? mcs : NULL;
}

static bool
extraction_flag(const struct cub_val *mc, const char *name)
{
	bool b = false;

	if (cub_val__as_bool(
		cub_val__get(cub_val__get(mc, "extraction-options"), name), &b))
		return false;
	return b;
}

bool
dm_conf_swap_on_read(const struct cub_val *mc)
{
	return extraction_flag(mc, "swap-on-read");
}

bool
dm_conf_empty_on_read(const struct cub_val *mc)
{
	return extraction_flag(mc, "empty-on-read");
}

int
dm_conf_swap_list(const struct cub_val *dpconf, char path,
    const char *names[DM_SWAP_MAX], size_t *n, char *err, size_t errlen)
{
	const struct cub_val *mcs = dm_conf_metrics(dpconf, path);
	const char *pname = path == 'i' ? "ingress-path" : "egress-path";
	uint32_t i;
	size_t k;

	*n = 0;
	for (i = 0; mcs && i < mcs->arr.len; i++) {
		const struct cub_val *mc = mcs->arr.items[i];
		const char *map = cub_val__get_str(mc, "map-name");
		const char *mname = cub_val__get_str(mc, "name");

		if (!dm_conf_swap_on_read(mc))
			continue;
		if (!map || !*map) {
			snprintf(err, errlen,
			    "%s: metric '%s' has swap-on-read but no map-name",
			    pname, mname ? mname : "?");
			return -EINVAL;
		}
		for (k = 0; k < *n && strcmp(names[k], map); k++)
			;
		if (k < *n)
			continue;
		if (*n == DM_SWAP_MAX) {
			snprintf(err, errlen,
			    "%s: metric '%s': more than %u maps with "
			    "swap-on-read in one path",
			    pname, mname ? mname : "?", DM_SWAP_MAX);
			return -EINVAL;
		}
		names[(*n)++] = map;
	}
	return 0;
}
