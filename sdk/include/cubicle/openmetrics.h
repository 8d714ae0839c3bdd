/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Metric families (a cub_val) rendered as OpenMetrics 1.0 text or as the
 * Prometheus text exposition format 0.0.4.  The families structure is the
 * one of docs/architecture.md "dynmon", sub-section "Renderer":
 *
 *   [ { "name": "packets", "help": "...", "type": "counter" | "gauge" |
 *       "histogram" | "summary" | "unknown", "unit": "" (optional),
 *       "samples": [ { "labels": {"k": "v"}, "value": <number> } ... ]
 *       (histogram: [ { "labels": {...}, "buckets": [ {"le": <number or
 *        "+Inf">, "count": <cumulative u64>} ... ], "count": <u64>,
 *        "sum": <number> } ... ])
 *     } ... ]
 *
 * Pure functions: no allocation survives a failure, no logging, thread-safe.
 */
#ifndef CUBICLE_OPENMETRICS_H
#define CUBICLE_OPENMETRICS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cub_val;

enum cub_om_format {
	CUB_OM_OPENMETRICS = 0, /* application/openmetrics-text 1.0.0 */
	CUB_OM_PROMETHEUS = 1,  /* text/plain 0.0.4 */
};

/* A label added to every sample, e.g. {"cube", "mon1"}. */
struct cub_om_label {
	const char *name;
	const char *value;
};

/* The Content-Type header value of each format. */
#define CUB_OM_CTYPE_OPENMETRICS                                               \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CUB_OM_CTYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

/**
 * @brief **cub_om_render()** renders @families in @fmt.
 * @param families an array of family maps (above); an empty array renders
 *        just "# EOF\n" in OpenMetrics and nothing in Prometheus text.
 * @param extra labels added to every sample after the sample's own labels;
 *        a sample that already has one of these names is refused.
 * @param out receives malloc'd NUL-terminated text (owned by the caller).
 * @param outlen receives its length without the NUL (may be NULL).
 * @param err receives a sentence naming the family (and the sample, label
 *        or bucket) that is wrong (may be NULL).
 * @return 0; -EINVAL when a family is invalid (bad metric or label name,
 *         duplicate family or series, unknown type, a histogram without a
 *         "+Inf" bucket or with decreasing counts, a negative counter...),
 *         nothing rendered and *out untouched; -ENOMEM.
 *
 * Counters: a trailing "_total" of the name is dropped, then added to the
 * sample ("packets" and "packets_total" both render "packets_total").
 * The OpenMetrics text ends with "# EOF\n".
 */
int cub_om_render(const struct cub_val *families, enum cub_om_format fmt,
    const struct cub_om_label *extra, size_t nextra, char **out, size_t *outlen,
    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
