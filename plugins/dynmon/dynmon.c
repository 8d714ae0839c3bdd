// SPDX-License-Identifier: BSD-2-Clause
/*
 * dynmon, control plane: Polycube's dynamic monitor as a transparent cube
 * service (docs/architecture.md, "dynmon (issue 9)", "The plugin
 * (dynmon.c)"; docs/dynmon-contract.md).  Written as a third-party
 * service is, with the SDK only:
 *
 * - the schema is Polycube's dynmon (polycube-reference.md 2.2):
 *   dataplane-config {ingress-path, egress-path} {name, code,
 *   metric-configs[name]}, replaced whole by a set with a body;
 * - each configuration is compiled by the compile helper `dynmon-cc`
 *   (cub_helper__run(), contract section 1), the object loaded with
 *   cub_cube__load(): a compile error or a verifier refusal is the
 *   caller's error and the previous program keeps running;
 * - the default configuration (no code in either path) is the
 *   pass-through object compiled at build time (dm_default.c), so a cube
 *   works without a helper registered.
 *
 * apply() gets the whole document every time (no change() op: a new
 * dataplane-config is compiled whole anyway); an apply whose
 * dataplane-config and hook are those of the loaded object compiles
 * nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/bpf.h>

#include "cubicle/openmetrics.h"
#include "cubicle/plugin.h"
#include "cubicle/proto.h" /* CUB_HELPER_IO_MAX */
#include "dpconf.h"
#include "dm_policy.h"
#include "reader.h"

/* The pass-through objects (dm_default.c, generated at build time by
 * default-obj.py with cubicle-dynmon-cc). */
extern const unsigned char dm_default_tc[], dm_default_xdp[];
extern const size_t dm_default_tc_len, dm_default_xdp_len;

/* A path's code: Polycube's limit is none; ours is one string. */
/*
 * One path's code: both together and the rest of the configuration must
 * go to the worker in one part (1 MiB, broker/cube.c) and to the compile
 * helper in one input (CUB_HELPER_IO_MAX, 1 MiB): 480 KiB each leaves 64
 * KiB for the rest (review12-dynmon-bigcode).
 */
#define DM_CODE_MAX (480u << 10)

struct dm_cube {
	struct cub_val *dpconf; /* the loaded object's dataplane-config */
	struct dm_reader *reader; /* its maps' reader */
	bool xdp;               /* the loaded object's hook */
	bool loaded;
};

/* Polycube's open-metrics types; ENUM values are case-insensitive. */
static const char *const dm_om_types[] = {
    "counter", "gauge", "histogram", "summary", "untyped", NULL};
static const char *const dm_hist_kinds[] = {"exp2", "linear", NULL};

static const struct cub_field dm_label_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 128,
	.help = "label name"},
    {.name = "value", .type = CUB_T_STR, .max = 1024, .help = "label value"},
    {0},
};

static const struct cub_field dm_om_fields[] = {
    {.name = "help",
	.type = CUB_T_STR,
	.max = 4096,
	.help = "the metric's help text (# HELP)"},
    {.name = "type",
	.type = CUB_T_ENUM,
	.enums = dm_om_types,
	.help = "the metric's type (# TYPE), any case"},
    {.name = "labels",
	.type = CUB_T_LIST,
	.help = "static labels added to every sample",
	.children = dm_label_fields},
    {0},
};

static const struct cub_field dm_extract_fields[] = {
    {.name = "swap-on-read",
	.type = CUB_T_BOOL,
	.help = "read through a map swap: atomic with the data plane, each "
		"read gives what arrived since the previous one"},
    {.name = "empty-on-read",
	.type = CUB_T_BOOL,
	.help = "empty the map after each read (hashes: entries deleted, "
		"arrays zeroed)"},
    {0},
};

static const struct cub_field dm_hist_fields[] = {
    {.name = "kind",
	.type = CUB_T_ENUM,
	.enums = dm_hist_kinds,
	.help = "bucket bounds: exp2 (2^i x multiplier) or linear (i x "
		"multiplier), as ebpf_exporter"},
    {.name = "bucket-multiplier",
	.type = CUB_T_U64,
	.min = 1,
	.max = UINT32_MAX,
	.help = "bounds' multiplier (default 1)"},
    {.name = "bucket-min",
	.type = CUB_T_U32,
	.help = "first bucket's index (default 0)"},
    {.name = "bucket-max",
	.type = CUB_T_U32,
	.help = "last bucket's index (default: the map's last)"},
    {0},
};

static const struct cub_field dm_mc_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 128,
	.help = "metric name"},
    {.name = "map-name",
	.type = CUB_T_STR,
	.max = 63,
	.help = "the map of the path's code the metric reads"},
    {.name = "extraction-options",
	.type = CUB_T_CONTAINER,
	.help = "how the map is read",
	.children = dm_extract_fields},
    {.name = "open-metrics-metadata",
	.type = CUB_T_CONTAINER,
	.help = "OpenMetrics export of the metric (none: JSON only)",
	.children = dm_om_fields},
    {.name = "histogram",
	.type = CUB_T_CONTAINER,
	.help = "Cubicle's extension: an array of buckets as a histogram",
	.children = dm_hist_fields},
    {0},
};

static const struct cub_field dm_path_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.max = 256,
	.help = "the path's probe name"},
    {.name = "code",
	.type = CUB_T_STR,
	.max = DM_CODE_MAX,
	.help = "the path's eBPF code (Polycube's BCC dialect or libbpf C)"},
    {.name = "metric-configs",
	.type = CUB_T_LIST,
	.help = "the metrics exported from the path's maps",
	.children = dm_mc_fields},
    {0},
};

static const struct cub_field dm_dpconf_fields[] = {
    {.name = "ingress-path",
	.type = CUB_T_CONTAINER,
	.help = "code run on packets coming in",
	.children = dm_path_fields},
    {.name = "egress-path",
	.type = CUB_T_CONTAINER,
	.help = "code run on packets going out (TC only)",
	.children = dm_path_fields},
    {0},
};

/* Polycube's metrics: {name, value, timestamp} per metric-config. */
static const struct cub_field dm_metric_fields[] = {
    {.name = "name",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.max = 128,
	.help = "metric name"},
    {.name = "value",
	.type = CUB_T_ANY,
	.flags = CUB_F_RO,
	.help = "the map's value, in Polycube's shape (swap- and "
		"empty-on-read: what arrived since the previous show)"},
    {.name = "timestamp",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "when it was read, in nanoseconds since the epoch"},
    {0},
};

static const struct cub_field dm_metrics_fields[] = {
    {.name = "ingress-metrics",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "the ingress-path's metrics",
	.children = dm_metric_fields},
    {.name = "egress-metrics",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.help = "the egress-path's metrics",
	.children = dm_metric_fields},
    {0},
};

static const struct cub_field dm_schema[] = {
    {.name = "dataplane-config",
	.type = CUB_T_CONTAINER,
	.flags = CUB_F_REPLACE,
	.help = "the monitor's code and metrics (a set with a body replaces "
		"it whole, as in Polycube)",
	.children = dm_dpconf_fields},
    {.name = "metrics",
	.type = CUB_T_CONTAINER,
	.flags = CUB_F_RO,
	.help = "the metrics, read at each show (Polycube's JSON)",
	.children = dm_metrics_fields},
    {.name = "open-metrics",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.max = CUB_STR_MAX,
	.help = "the metrics in the OpenMetrics text format (cumulative)"},
    CUB_OM_FAMILIES_FIELD,
    {0},
};

/* "ingress-path" / "egress-path" */
static const char *
path_name(char p)
{
	return p == 'i' ? "ingress-path" : "egress-path";
}

/* A path's code, or NULL when the path has none (the default). */
static const char *
path_code(const struct cub_val *dpconf, char p)
{
	const char *code = cub_val__get_str(dm_conf_path(dpconf, p), "code");

	return code && *code ? code : NULL;
}

/*
 * One path of the helper's input: {"code", "swap"} or nil (contract
 * section 1).  0 or -errno with the cube's error set.
 */
static int
helper_path(struct cub_cube *cube, const struct cub_val *dpconf, char p,
    struct cub_val *in)
{
	const char *names[DM_SWAP_MAX], *code = path_code(dpconf, p);
	struct cub_val *pv, *swap;
	char err[256];
	size_t n, k;

	if (!code)
		return cub_val__set(in, p == 'i' ? "ingress" : "egress",
			   cub_val__nil())
			   ? -ENOMEM
			   : 0;
	if (dm_conf_swap_list(dpconf, p, names, &n, err, sizeof(err)))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "dataplane-config: %s", err);
	pv = cub_val__map();
	swap = cub_val__array();
	if (!pv || !swap || cub_val__set(pv, "code", cub_val__str(code))) {
		cub_val__free(pv);
		cub_val__free(swap);
		return -ENOMEM;
	}
	for (k = 0; k < n; k++)
		if (cub_val__push(swap, cub_val__str(names[k]))) {
			cub_val__free(pv);
			cub_val__free(swap);
			return -ENOMEM;
		}
	if (cub_val__set(pv, "swap", swap)) {
		cub_val__free(pv);
		return -ENOMEM;
	}
	return cub_val__set(in, p == 'i' ? "ingress" : "egress", pv) ? -ENOMEM
								      : 0;
}

/*
 * Compiles dpconf for the hook (XDP or TC) with the helper: *elf is
 * malloc'd.  A compile error is the cube's error, with the helper's
 * message (the path, then the user's line numbers).
 */
static int
compile(struct cub_cube *cube, const struct cub_val *dpconf, bool xdp,
    void **elf, size_t *len)
{
	struct cub_val *in = cub_val__map(), *errv = NULL;
	const char *msg;
	void *buf = NULL;
	size_t buflen = 0;
	int r;

	if (!in || cub_val__set(in, "type", cub_val__str(xdp ? "XDP" : "TC"))) {
		cub_val__free(in);
		return -ENOMEM;
	}
	if ((r = helper_path(cube, dpconf, 'i', in)) ||
	    (r = helper_path(cube, dpconf, 'e', in))) {
		cub_val__free(in);
		return r;
	}
	r = cub_mp_encode(in, &buf, &buflen);
	cub_val__free(in);
	if (r)
		return r;
	if (buflen > CUB_HELPER_IO_MAX) {
		free(buf);
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "dataplane-config: the paths' code is %zu bytes together, "
		    "over the compile helper's %u",
		    buflen, CUB_HELPER_IO_MAX);
	}
	r = cub_helper__run(cube, "dynmon-cc", buf, buflen, elf, len, &errv);
	free(buf);
	if (r) {
		msg = cub_val__get_str(errv, "message");
		cub_cube__set_error(cube,
		    r == -ENOENT ? CUB_E_NOTFOUND : CUB_E_INVAL,
		    "dataplane-config: compile failed: %s",
		    msg ? msg : strerror(-r));
		cub_val__free(errv);
		return r;
	}
	return 0;
}

/*
 * v without its empty containers and lists, recursively: the tree engine
 * fills every container of a new node (an empty "histogram": {}), and the
 * pieces read an absent field as "not given" (a copy; NULL on ENOMEM).
 */
static struct cub_val *
pruned(const struct cub_val *v)
{
	struct cub_val *out, *kid;
	uint32_t i;

	if (v->kind == CUB_V_ARRAY) {
		if (!(out = cub_val__array()))
			return NULL;
		for (i = 0; i < v->arr.len; i++)
			if (!(kid = pruned(v->arr.items[i])) ||
			    cub_val__push(out, kid))
				return cub_val__free(out);
		return out;
	}
	if (v->kind != CUB_V_MAP)
		return cub_val__dup(v);
	if (!(out = cub_val__map()))
		return NULL;
	for (i = 0; i < v->map.len; i++) {
		const struct cub_val *c = v->map.items[i].val;

		if ((c->kind == CUB_V_MAP && !c->map.len) ||
		    (c->kind == CUB_V_ARRAY && !c->arr.len))
			continue;
		if (!(kid = pruned(c)))
			return cub_val__free(out);
		if ((kid->kind == CUB_V_MAP && !kid->map.len) ||
		    (kid->kind == CUB_V_ARRAY && !kid->arr.len)) {
			cub_val__free(kid);
			continue;
		}
		if (cub_val__set(out, v->map.items[i].key, kid))
			return cub_val__free(out);
	}
	return out;
}

static bool
type_is_xdp(const struct cub_val *config)
{
	const char *t = cub_val__get_str(config, "type");

	return t && !strncasecmp(t, "XDP", 3);
}

static int
dm_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct dm_cube *dm = cub_cube__priv(cube);
	const struct cub_val *given = cub_val__get(config, "dataplane-config");
	bool xdp = type_is_xdp(config), dflt;
	struct dm_reader *reader = NULL;
	struct cub_val *dpconf;
	char err[512] = "";
	const void *elf;
	void *built = NULL;
	size_t len = 0;
	int r;

	dpconf = given ? pruned(given) : cub_val__map();
	if (!dpconf)
		return -ENOMEM;
	if (!create && dm->loaded && dm->xdp == xdp &&
	    cub_val__equal(dm->dpconf, dpconf)) {
		cub_val__free(dpconf);
		return 0; /* a loglevel set: the broker writes the levels */
	}
	/* Metrics name maps the default object lacks: compiled, refused. */
	dflt = !path_code(dpconf, 'i') && !path_code(dpconf, 'e') &&
	       !dm_conf_metrics(dpconf, 'i') && !dm_conf_metrics(dpconf, 'e');
	if (dflt) {
		elf = xdp ? dm_default_xdp : dm_default_tc;
		len = xdp ? dm_default_xdp_len : dm_default_tc_len;
	} else {
		if ((r = compile(cube, dpconf, xdp, &built, &len)))
			goto out;
		elf = built;
	}
	/* Every metric-config against the object, before it is loaded. */
	if ((r = dm_reader_open(elf, len, dpconf, dm->reader, &reader, err,
		 sizeof(err)))) {
		if (r == -EINVAL)
			cub_cube__set_error(
			    cube, CUB_E_INVAL, "dataplane-config: %s", err);
		goto out;
	}
	if ((r = cub_cube__load(cube, elf, len)))
		goto out;
	dm_reader_free(dm->reader);
	dm->reader = reader;
	reader = NULL;
	cub_val__free(dm->dpconf);
	dm->dpconf = dpconf;
	dpconf = NULL;
	dm->xdp = xdp;
	dm->loaded = true;
	cub_cube__log(cube, CUB_LOG_INFO,
	    "%s %s object of %zu bytes (%s: %s, %s: %s)",
	    create ? "loaded" : "reloaded", xdp ? "XDP" : "TC", len,
	    path_name('i'),
	    path_code(dm->dpconf, 'i') ? "code" : "pass-through",
	    path_name('e'),
	    path_code(dm->dpconf, 'e') ? "code" : "pass-through");
out:
	dm_reader_free(reader);
	cub_val__free(dpconf);
	free(built);
	return r;
}

/*
 * What a show asks for, from its words (cub_cube__show_words(): config is
 * the whole document for a show of the cube, of a read-only list or inside
 * one): the metrics (of one path, or one metric), the open-metrics text or
 * the families.  Only what is asked is read, so the gateway's show of
 * metric-families never takes the CLI's deltas.
 */
struct dm_want {
	bool metrics, om, families;
	char path;        /* 'i', 'e', 0: both */
	const char *name; /* one metric, or NULL */
};

static void
show_want(const struct cub_val *words, struct dm_want *w)
{
	const char *w0, *w1;
	uint32_t n;

	memset(w, 0, sizeof(*w));
	if (!words) { /* not said (the fake broker): everything */
		w->metrics = w->om = w->families = true;
		return;
	}
	n = words->arr.len;
	if (n && !strcmp(cub_val__as_str(words->arr.items[n - 1]) ?: "", "show"))
		n--;
	if (!n) { /* the cube: Polycube shows its metrics */
		w->metrics = w->om = true;
		return;
	}
	w0 = cub_val__as_str(words->arr.items[0]) ?: "";
	if (!strcmp(w0, "open-metrics")) {
		w->om = true;
	} else if (!strcmp(w0, CUB_OM_FAMILIES_NAME)) {
		w->families = true;
	} else if (!strcmp(w0, "metrics")) {
		w->metrics = true;
		w1 = n > 1 ? cub_val__as_str(words->arr.items[1]) : NULL;
		if (w1 && !strcmp(w1, "ingress-metrics"))
			w->path = 'i';
		else if (w1 && !strcmp(w1, "egress-metrics"))
			w->path = 'e';
		if (w->path && n > 2)
			w->name = cub_val__as_str(words->arr.items[2]);
	}
}

static int
dm_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct dm_cube *dm = cub_cube__priv(cube);
	struct cub_val *v = NULL, *list = NULL;
	struct dm_want w;
	char err[512] = "", *text = NULL;
	size_t len = 0;
	int r;

	(void)config;
	show_want(cub_cube__show_words(cube), &w);
	if (!dm->reader)
		return 0; /* nothing loaded yet: no metrics */
	if (w.metrics) {
		r = dm_reader_show(
		    cube, dm->reader, w.path, w.name, &v, err, sizeof(err));
		if (r)
			return cub_cube__set_error(cube,
			    r == -ENOENT ? CUB_E_NOTFOUND : CUB_E_INTERNAL,
			    "cube '%s': metrics: %s", cub_cube__name(cube), err);
		if (cub_val__set(overlay, "metrics", v))
			return -ENOMEM;
	}
	if (w.om) {
		r = dm_reader_openmetrics(cube, dm->reader, CUB_OM_OPENMETRICS,
		    &text, &len, err, sizeof(err));
		if (r)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': open-metrics: %s", cub_cube__name(cube),
			    err);
		r = cub_val__set(overlay, "open-metrics", cub_val__str(text));
		free(text);
		if (r)
			return -ENOMEM;
	}
	if (w.families) {
		r = dm_reader_families(cube, dm->reader, &v, err, sizeof(err));
		if (r)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': metric-families: %s",
			    cub_cube__name(cube), err);
		r = cub_om_families_to_doc(v, &list, err, sizeof(err));
		cub_val__free(v);
		if (r)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': metric-families: %s",
			    cub_cube__name(cube), err);
		if (cub_val__set(overlay, CUB_OM_FAMILIES_NAME, list))
			return -ENOMEM;
	}
	return 0;
}

static void
dm_destroy(struct cub_cube *cube)
{
	struct dm_cube *dm = cub_cube__priv(cube);

	dm->reader = dm_reader_free(dm->reader);
	dm->dpconf = cub_val__free(dm->dpconf);
}

static const struct cub_plugin_ops dm_ops = {
    .apply = dm_apply,
    .destroy = dm_destroy,
    .show = dm_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "dynmon",
    .description = "dynamic monitor: run-time eBPF code whose maps are "
		   "exported as metrics (Polycube's dynmon)",
    .cube_size = sizeof(struct dm_cube),
    .schema = dm_schema,
    .ops = &dm_ops,
    .policy = DM_BPF_POLICY,
    /* A compile (the helper's timeout) then a verifier load. */
    .apply_timeout_ms = 60000,
    .flags = CUB_PLUGIN_F_TRANSPARENT,
    CUB_PLUGIN_SIZES,
};
