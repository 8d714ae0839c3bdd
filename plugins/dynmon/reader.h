/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's metrics reader: the contract between the plugin (dynmon.c,
 * which owns the schema, the compile and the load) and the reader
 * (reader.c, which reads a loaded object's maps through the SDK and turns
 * them into Polycube's JSON, metric families and OpenMetrics text).
 * docs/architecture.md, "dynmon".  Worker thread only, not thread-safe.
 *
 * One reader per loaded object: the plugin opens it after a successful
 * load of a new object, with the dataplane-config that object was
 * compiled from, and frees the previous one (passing it as prev carries
 * the gateway's cumulative totals and the CLI's read baselines of
 * metrics whose name, path, map and type are unchanged; the rest start
 * from zero).
 *
 * Reading semantics (issue 9): a swap-on-read metric is read with one
 * cub_swap__read_members() call (atomic with respect to the data plane,
 * late updates folded by the broker into the next read); an
 * empty-on-read one is read and emptied (hashes: lookup-and-delete;
 * arrays: read then zeroed, documented as not atomic); QUEUE and STACK are
 * popped until empty; others are read as they are.  Every read of a swap-
 * or empty-on-read metric, by whichever consumer, is folded into the
 * reader's cumulative totals; dm_reader_show() returns, per metric, what
 * arrived since the previous dm_reader_show() of that metric (Polycube's
 * delta), and dm_reader_families() the cumulative totals, so the CLI and
 * any number of gateway scrapes never disturb each other.
 */
#ifndef DYNMON_READER_H
#define DYNMON_READER_H

#include <stddef.h>

#include <cubicle/openmetrics.h>
#include <cubicle/plugin.h>
#include <cubicle/val.h>

struct dm_reader;

/*
 * @brief **dm_reader_open()** catalogues the object elf[0..len) (as
 * loaded with cub_cube__load()), binds each path's swap list
 * (dm_conf_swap_list()) and checks every metric-config of dpconf: its
 * map-name names a map of its path, its open-metrics-metadata and
 * histogram fit the map (dm_families_from_metric() with no entries).
 * prev: the cube's previous reader or NULL (not freed: the caller frees
 * it after).
 * @return 0, or -EINVAL with a sentence naming the path, the metric and
 * what was wrong in err (nothing opened), or -ENOMEM.
 */
int dm_reader_open(const void *elf, size_t len, const struct cub_val *dpconf,
    const struct dm_reader *prev, struct dm_reader **out, char *err,
    size_t errlen);
/* Takes NULL; returns NULL. */
struct dm_reader *dm_reader_free(struct dm_reader *r);

/*
 * @brief **dm_reader_show()** reads metrics and builds Polycube's shape:
 * {"ingress-metrics": [{"name", "value", "timestamp"}...],
 *  "egress-metrics": [...]} (polycube-reference.md 2.4; timestamp in
 * microseconds since the epoch, as Polycube), one entry per metric-config
 * in config order.  path: 'i', 'e' or 0 for both (only that path's list
 * is in the result); name: one metric-config's name, or NULL for all.
 * @return 0, -ENOENT (no metric of that name in that path: err names
 * it), or another -errno from the SDK's map calls with err saying which
 * metric and map failed.
 */
int dm_reader_show(struct cub_cube *cube, struct dm_reader *r, char path,
    const char *name, struct cub_val **out, char *err, size_t errlen);

/*
 * @brief **dm_reader_families()** reads every metric-config that has
 * open-metrics-metadata and returns the cumulative totals as metric
 * families (families.h), for the gateway (`metric-families`,
 * cub_om_families_to_doc()) and for dm_reader_openmetrics().
 * @return 0 or -errno with err.
 */
int dm_reader_families(struct cub_cube *cube, struct dm_reader *r,
    struct cub_val **families, char *err, size_t errlen);

/* dm_reader_families() rendered with cub_om_render() (`open-metrics
 * show`): *text is malloc'd, NUL-terminated. */
int dm_reader_openmetrics(struct cub_cube *cube, struct dm_reader *r,
    enum cub_om_format fmt, char **text, size_t *len, char *err,
    size_t errlen);

#endif
