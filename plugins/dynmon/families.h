/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's metric families (contract section 3; docs/architecture.md,
 * "dynmon", "Map catalogue, decoding and families"): one family per
 * metric-config with open-metrics-metadata, from a read of its map, in the
 * cub_val shape that cub_om_render() (sdk/include/cubicle/openmetrics.h)
 * renders; and the cumulative totals the gateway is shown.
 */
#ifndef DYNMON_FAMILIES_H
#define DYNMON_FAMILIES_H

#include <stdbool.h>
#include <stddef.h>

#include <cubicle/val.h>

#include "btfval.h"
#include "catalog.h"

/* Series per metric; past it samples are counted in "dropped". */
#define DM_SERIES_MAX 4096u
/* Static labels per metric-config. */
#define DM_LABELS_MAX 32u

/*
 * @brief **dm_families_from_metric()** builds the family of metric-config
 * mc (its "name", "open-metrics-metadata" {help, type, labels[]} and the
 * extension "histogram") from a read e of its map:
 * - counter, gauge, unknown (Untyped): an ARRAY, PERCPU_ARRAY (summed over
 *   CPUs), QUEUE or STACK of numbers gives one sample per entry (label
 *   `index` when the map has more than one entry); a HASH family gives one
 *   sample per entry with the key's fields as labels;
 * - histogram: an ARRAY or PERCPU_ARRAY of bucket counts, read through
 *   mc's "histogram" {kind: exp2|linear, bucket-multiplier, bucket-min,
 *   bucket-max}, one sample with cumulative buckets, count and sum.
 * Static labels of the config are added to every sample.  At most
 * DM_SERIES_MAX samples; the rest are counted in the family's "dropped".
 * With e->count == 0 it checks mc against the map (types, label names and
 * clashes) and returns a family without samples.
 * @return 0, or -EINVAL with a sentence naming the metric and what was
 * wrong (bad name, help, type or label; a summary; a histogram without
 * its extension or on a map that is not an array; a value that is not a
 * number), or -ENOMEM.
 */
int dm_families_from_metric(const struct dm_catalog *cat,
    const struct dm_map *map, const struct cub_val *mc,
    const struct dm_entries *e, struct cub_val **family, char *err,
    size_t errlen);

/*
 * Cumulative totals per series for the gateway (contract section 5): a
 * swap- or empty-on-read read yields deltas; dm_totals_add() folds them
 * into running totals, so that neither the CLI's reads nor the gateway's
 * scrapes disturb the other.  Not thread-safe: the plugin calls it from
 * its one thread.
 */
struct dm_totals;

struct dm_totals *dm_totals_new(void);
/* Takes NULL; returns NULL. */
struct dm_totals *dm_totals_free(struct dm_totals *t);
/*
 * @brief **dm_totals_add()** folds family (a dm_families_from_metric()
 * result) into the totals.  delta: the read was swap- or empty-on-read,
 * so counters, histogram buckets, count and sum are added per series;
 * otherwise the read is already cumulative and replaces them.  Gauges
 * and unknowns always take the latest value.  A family keeps at most
 * DM_SERIES_MAX series; new series past it are counted in "dropped".
 * @return 0, or -EINVAL (the family is malformed, or changed its type or
 * histogram buckets: dm_totals_forget() it first), the totals unchanged;
 * or -ENOMEM, the series folded so far stay folded.
 */
int dm_totals_add(struct dm_totals *t, const struct cub_val *family, bool delta,
    char *err, size_t errlen);
/* Drops the totals of the family named name (a metric reconfigured). */
void dm_totals_forget(struct dm_totals *t, const char *name);
/* The totals as families, in the order first added: 0 or -ENOMEM. */
int dm_totals_families(const struct dm_totals *t, struct cub_val **out);

#endif
