// SPDX-License-Identifier: BSD-2-Clause
/*
 * famcube: a test-only service whose cubes answer a show of
 * metric-families (cubicle/openmetrics.h) the way dynmon will: a counter
 * and a gauge that grow with time (so between two scrapes, without a
 * scrape changing anything), a histogram, and label values that need
 * escaping (a quote, a backslash, a newline).  A cube with fail=true
 * refuses the show, as a broken monitor would
 * (tests/integration/gateway-metrics.sh).  The object is evil_ctr.bpf.c's
 * (programs that pass everything).  Never installed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/bpf.h>

#include "cubicle/openmetrics.h"
#include "cubicle/plugin.h"
#include "evil_ctr.skel.h"

struct fam_cube {
	struct timespec born;
};

static const struct cub_field fam_schema[] = {
    {.name = "fail",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "refuse every show of metric-families"},
    {.name = "squat",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "review 11: show only a gauge famcube_packets_total"},
    {.name = "squat_type",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "show only a gauge famcube_packets (another type)"},
    {.name = "squat_help",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "show only a counter famcube_packets with another help"},
    CUB_OM_FAMILIES_FIELD,
    {0},
};

static int
fam_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct fam_cube *fc = cub_cube__priv(cube);
	const void *elf;
	size_t len;

	if (!create)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &fc->born);
	elf = evil_ctr__elf_bytes(&len);
	return cub_cube__load(cube, elf, len);
}

/* Microseconds since the cube was made: grows between any two reads. */
static uint64_t
fam_age_us(const struct fam_cube *fc)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - fc->born.tv_sec) * 1000000u +
	       (uint64_t)((now.tv_nsec - fc->born.tv_nsec) / 1000);
}

static struct cub_val *
fam_families(const struct fam_cube *fc)
{
	char json[2048];
	uint64_t us = fam_age_us(fc);

	snprintf(json, sizeof(json),
	    "[{\"name\":\"famcube_packets\",\"type\":\"counter\","
	    "\"help\":\"Packets \\\"seen\\\" by \\\\famcube\\nper path.\","
	    "\"samples\":["
	    "{\"labels\":{\"path\":\"in\"},\"value\":%llu},"
	    "{\"labels\":{\"path\":\"a\\\"b\\\\c\\nd\"},\"value\":%llu}]},"
	    "{\"name\":\"famcube_age_seconds\",\"type\":\"gauge\","
	    "\"unit\":\"seconds\",\"help\":\"Age of the cube.\","
	    "\"samples\":[{\"value\":%.6f}]},"
	    "{\"name\":\"famcube_size_bytes\",\"type\":\"histogram\","
	    "\"help\":\"Packet sizes.\",\"samples\":[{\"labels\":{\"dir\":"
	    "\"ingress\"},\"buckets\":[{\"le\":64,\"count\":%llu},"
	    "{\"le\":1500,\"count\":%llu},{\"le\":\"+Inf\",\"count\":%llu}],"
	    "\"count\":%llu,\"sum\":%llu}]}]",
	    (unsigned long long)us, (unsigned long long)(us / 2),
	    (double)us / 1e6, (unsigned long long)(us / 4),
	    (unsigned long long)(us / 2), (unsigned long long)us,
	    (unsigned long long)us, (unsigned long long)(us * 100));
	return cub_json_parse(json, strlen(json), NULL, 0);
}

static struct cub_val *
json_of(const char *json)
{
	return cub_json_parse(json, strlen(json), NULL, 0);
}

static int
fam_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct fam_cube *fc = cub_cube__priv(cube);
	struct cub_val *fams, *list = NULL;
	bool fail = false, squat = false, squat_type = false;
	bool squat_help = false;
	char err[256];
	int r;

	cub_val__as_bool(cub_val__get(config, "fail"), &fail);
	if (fail)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "famcube '%s': metrics refused (fail=true)",
		    cub_cube__name(cube));
	cub_val__as_bool(cub_val__get(config, "squat"), &squat);
	cub_val__as_bool(cub_val__get(config, "squat_type"), &squat_type);
	cub_val__as_bool(cub_val__get(config, "squat_help"), &squat_help);
	if (squat) /* valid alone; its sample name is another family's */
		fams = json_of("[{\"name\":\"famcube_packets_total\","
			       "\"type\":\"gauge\",\"help\":\"x\","
			       "\"samples\":[{\"value\":1}]}]");
	else if (squat_type) /* the others' name, another type */
		fams = json_of("[{\"name\":\"famcube_packets\","
			       "\"type\":\"gauge\",\"help\":\"x\","
			       "\"samples\":[{\"value\":2}]}]");
	else if (squat_help) /* the others' name and type, its own help */
		fams = json_of("[{\"name\":\"famcube_packets\","
			       "\"type\":\"counter\",\"help\":\"squatted\","
			       "\"samples\":[{\"labels\":{\"path\":\"in\"},"
			       "\"value\":3}]}]");
	else
		fams = fam_families(fc);
	if (!fams)
		return -ENOMEM;
	r = cub_om_families_to_doc(fams, &list, err, sizeof(err));
	cub_val__free(fams);
	if (r < 0)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "famcube: %s", err);
	return cub_val__set(overlay, CUB_OM_FAMILIES_NAME, list);
}

static const struct cub_plugin_ops fam_ops = {
    .apply = fam_apply,
    .show = fam_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "famcube",
    .description = "metric families for the gateway (tests only)",
    .cube_size = sizeof(struct fam_cube),
    .schema = fam_schema,
    .ops = &fam_ops,
    .policy =
	{
	    .prog_types =
		(1u << BPF_PROG_TYPE_SCHED_CLS) | (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 4u << 20,
	},
};
