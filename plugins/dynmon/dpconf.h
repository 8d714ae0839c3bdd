/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's dataplane-config, as the cube document holds it (Polycube's
 * schema, polycube-reference.md 2.2), read by the plugin (dynmon.c) and by
 * the metrics reader (reader.c) alike, so that both agree on which maps
 * are swapped and in what order (contract section 1: the k-th name of a
 * path's swap list is the swap set <p><k>).
 *
 * The node: {"ingress-path": PATH, "egress-path": PATH}, either absent or
 * empty; PATH = {"name", "code", "metric-configs": [MC...]}; MC =
 * {"name", "map-name", "extraction-options": {"swap-on-read",
 * "empty-on-read"}, "open-metrics-metadata": {"help", "type", "labels":
 * [{"name", "value"}]}, "histogram": {...}} (the last is Cubicle's
 * extension, families.h).
 */
#ifndef DYNMON_DPCONF_H
#define DYNMON_DPCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <cubicle/val.h>

#include "catalog.h"

/* The path node of path 'i' (ingress-path) or 'e' (egress-path) of
 * dpconf; NULL when dpconf or the path is absent. */
const struct cub_val *dm_conf_path(const struct cub_val *dpconf, char path);

/* A path's metric-configs (an array), or NULL when it has none. */
const struct cub_val *dm_conf_metrics(const struct cub_val *dpconf, char path);

/* extraction-options of mc: false when absent. */
bool dm_conf_swap_on_read(const struct cub_val *mc);
bool dm_conf_empty_on_read(const struct cub_val *mc);

/*
 * @brief **dm_conf_swap_list()** lists the map-names of path's
 * metric-configs that have swap-on-read, in the order of the
 * metric-configs, duplicates removed: names[0..*n) point into dpconf.
 * @return 0, or -EINVAL (more than DM_SWAP_MAX such maps in one path, or
 * a swap-on-read metric-config without a map-name: a sentence naming the
 * path and the metric in err).
 */
int dm_conf_swap_list(const struct cub_val *dpconf, char path,
    const char *names[DM_SWAP_MAX], size_t *n, char *err, size_t errlen);

#endif
