// SPDX-License-Identifier: BSD-2-Clause
/*
 * anycube: a test-only service for issue 7's opaque values (CUB_T_ANY,
 * tests/integration/schema-any.sh).  Its show fills a read-only list of
 * metrics whose `value` is an ANY field with Polycube dynmon's value
 * shapes: a hash's [{key: {struct}, value: [per-CPU]}] (flows= entries of
 * it), an array's [5], u64s above 2^53 that must stay exact, a string
 * with quotes and a newline, and every other kind; and a cube-level ANY
 * `summary` (a map whose keys are not in sorted order).  Built a second
 * time as anybad (-DANYCUBE_BAD), whose schema declares a writable ANY
 * field, for the broker to refuse.  It also shows metric-families (a
 * counter of flows), for cubicle-gateway to scrape a cube whose schema has
 * ANY fields.  The object is evil_ctr.bpf.c's
 * (programs that pass everything).  Never installed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/bpf.h>

#include "cubicle/openmetrics.h"
#include "cubicle/plugin.h"
#include "evil_ctr.skel.h"

#ifndef ANYCUBE_NAME
#define ANYCUBE_NAME "anycube"
#endif

#define FLOWS_MAX 4096 /* entries of the "flows" metric at most */
#define NCPUS 4        /* per-CPU values of each */

/* The "deep" metric's value nests this many containers: a show of the
 * metrics list is then as deep as a reply may be (2 + 26 = 28). */
#define DEEP_LEVELS 26

struct any_cube {
	uint32_t flows;
	bool deep;
};

static const struct cub_field metric_fields[] = {
    {.name = "name", .type = CUB_T_STR, .flags = CUB_F_KEY},
    {.name = "value", .type = CUB_T_ANY, .help = "the metric's value"},
    {.name = "timestamp",
	.type = CUB_T_U64,
	.help = "microseconds since the epoch"},
    {0},
};

static const struct cub_field any_schema[] = {
    {.name = "flows",
	.type = CUB_T_U32,
	.dflt = "2",
	.max = FLOWS_MAX,
	.help = "entries of the flows metric"},
    {.name = "deep",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "add a metric nested as deep as a reply may be"},
#ifdef ANYCUBE_BAD
    {.name = "blob", .type = CUB_T_ANY, .help = "writable: refused"},
#endif
    {.name = "summary",
	.type = CUB_T_ANY,
	.flags = CUB_F_RO,
	.help = "a map, keys in the service's order"},
    {.name = "metrics",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "dynmon-like metrics",
	.children = metric_fields},
    CUB_OM_FAMILIES_FIELD,
    {0},
};

static int
any_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct any_cube *ac = cub_cube__priv(cube);
	uint64_t flows = 2;
	const void *elf;
	size_t len;

	cub_val__as_u64(cub_val__get(config, "flows"), &flows);
	ac->flows = (uint32_t)flows;
	ac->deep = false;
	cub_val__as_bool(cub_val__get(config, "deep"), &ac->deep);
	if (!create)
		return 0;
	elf = evil_ctr__elf_bytes(&len);
	return cub_cube__load(cube, elf, len);
}

/* Sets key to v in m; frees v and fails when m is NULL. */
static struct cub_val *
put(struct cub_val *m, const char *key, struct cub_val *v)
{
	if (!m || cub_val__set(m, key, v)) {
		if (!m)
			cub_val__free(v);
		return cub_val__free(m);
	}
	return m;
}

/* Appends v to arr; frees both on failure. */
static struct cub_val *
push(struct cub_val *arr, struct cub_val *v)
{
	if (!arr || cub_val__push(arr, v)) {
		if (!arr)
			cub_val__free(v);
		return cub_val__free(arr);
	}
	return arr;
}

/* A hash keyed by a 5-tuple struct, per-CPU u64 values (flow i on CPU c
 * saw i * 10 + c packets; the last CPU's count is 2^64 - 1 - i). */
static struct cub_val *
flows_value(uint32_t n)
{
	struct cub_val *arr = cub_val__array(), *e, *k, *pcpu;
	uint32_t i, c;

	for (i = 0; arr && i < n; i++) {
		k = cub_val__map();
		k = put(k, "saddr",
		    cub_val__strf("198.18.%u.%u", i / 256, i % 256));
		k = put(k, "daddr", cub_val__str("198.19.0.1"));
		k = put(k, "sport", cub_val__uint(1024 + i % 60000));
		k = put(k, "dport", cub_val__uint(443));
		k = put(k, "proto", cub_val__uint(6));
		pcpu = cub_val__array();
		for (c = 0; c + 1 < NCPUS; c++)
			pcpu = push(pcpu, cub_val__uint((uint64_t)i * 10 + c));
		pcpu = push(pcpu, cub_val__uint(UINT64_MAX - i));
		e = put(cub_val__map(), "key", k);
		e = put(e, "value", pcpu);
		arr = push(arr, e);
	}
	return arr;
}

/* Every other kind, nested. */
static struct cub_val *
mixed_value(void)
{
	static const uint8_t raw[] = {0xde, 0xad, 0xbe, 0xef};
	struct cub_val *arr = cub_val__array(), *m;

	arr = push(arr, cub_val__nil());
	arr = push(arr, cub_val__bool(true));
	arr = push(arr, cub_val__int(-5));
	arr = push(arr, cub_val__float(0.5));
	arr = push(arr, cub_val__bin(raw, sizeof(raw)));
	arr = push(arr, cub_val__map());
	arr = push(arr, cub_val__array());
	m = put(cub_val__map(), "deep",
	    push(cub_val__array(), put(cub_val__map(), "x", cub_val__uint(1))));
	return push(arr, m);
}

/* [[...[{"d": 26}]...]]: DEEP_LEVELS containers. */
static struct cub_val *
deep_value(void)
{
	struct cub_val *v =
	    put(cub_val__map(), "d", cub_val__uint(DEEP_LEVELS));
	unsigned i;

	for (i = 1; v && i < DEEP_LEVELS; i++)
		v = push(cub_val__array(), v);
	return v;
}

static struct cub_val *
metric(const char *name, struct cub_val *value, uint64_t ts)
{
	struct cub_val *m = put(cub_val__map(), "name", cub_val__str(name));

	m = put(m, "value", value);
	return put(m, "timestamp", cub_val__uint(ts));
}

static int
any_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct any_cube *ac = cub_cube__priv(cube);
	struct cub_val *list = cub_val__array(), *sum, *fams, *doc = NULL;
	char json[256], err[256];
	int r;

	(void)config;
	snprintf(json, sizeof(json),
	    "[{\"name\":\"anycube_flows\",\"type\":\"counter\","
	    "\"help\":\"Flows shown.\",\"samples\":[{\"value\":%u}]}]",
	    ac->flows);
	fams = cub_json_parse(json, strlen(json), NULL, 0);
	r = fams ? cub_om_families_to_doc(fams, &doc, err, sizeof(err))
		 : -ENOMEM;
	cub_val__free(fams);
	if (r < 0) {
		cub_val__free(list);
		return cub_cube__set_error(cube, CUB_E_INTERNAL, "anycube: %s",
		    r == -ENOMEM ? "out of memory" : err);
	}
	if (cub_val__set(overlay, CUB_OM_FAMILIES_NAME, doc)) {
		cub_val__free(list);
		return -ENOMEM;
	}
	list = push(list, metric("flows", flows_value(ac->flows), 1));
	list = push(list,
	    metric("packets", push(cub_val__array(), cub_val__uint(5)), 2));
	list = push(
	    list, metric("big",
		      push(push(cub_val__array(), cub_val__uint(UINT64_MAX)),
			  cub_val__uint((1ull << 53) + 1)),
		      3));
	list = push(
	    list, metric("note", cub_val__str("say \"hi\"\nline 2\\end"), 4));
	list = push(list, metric("mixed", mixed_value(), 5));
	if (ac->deep)
		list = push(list, metric("deep", deep_value(), 6));
	sum = put(cub_val__map(), "zeta", cub_val__uint(ac->flows));
	sum = put(sum, "alpha", cub_val__str("first after zeta"));
	sum = put(sum, "mid", cub_val__bool(false));
	if (!list || !sum) {
		cub_val__free(list);
		cub_val__free(sum);
		return -ENOMEM;
	}
	/* cub_val__set() takes the value, even when it fails. */
	if (cub_val__set(overlay, "metrics", list)) {
		cub_val__free(sum);
		return -ENOMEM;
	}
	return cub_val__set(overlay, "summary", sum) ? -ENOMEM : 0;
}

static const struct cub_plugin_ops any_ops = {
    .apply = any_apply,
    .show = any_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = ANYCUBE_NAME,
    .description = "opaque read-only values (tests only)",
    .cube_size = sizeof(struct any_cube),
    .schema = any_schema,
    .ops = &any_ops,
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
