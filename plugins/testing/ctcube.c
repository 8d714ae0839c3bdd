/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctcube: a test-only service for issue 10's conntrack (ctcube_shared.h,
 * plugins/fwcore/bpf/fw_ct.bpf.h), for tests/integration/fw-ct.sh.  A
 * cube has two ports, p1 and p2, forwarding to each other under a
 * stateful policy: from p1 everything passes and is tracked, from p2
 * only ESTABLISHED and RELATED packets.  Each port shows its counters
 * by label; `session-table` is the conntrack table (fw_ct_sessions()),
 * `sessions` the number of live entries.  Never installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "ctcube.skel.h"
#include "ctcube_shared.h"
#include "cubicle/plugin.h"
#include "fw_ct.h"

/* Rows a show gives at most (a reply has a byte cap). */
#define CTC_SHOW_MAX 1024u

#define CTC_STAT(f, help)                                                      \
	CUB_PORT_COUNTER(#f, help, "ctc_stats", struct ctc_stats, f)

static const struct cub_field ctc_port_fields[] = {
    CTC_STAT(rx, "frames received on this port"),
    CTC_STAT(accepted, "frames received here and forwarded"),
    CTC_STAT(dropped, "frames received here and dropped"),
    CTC_STAT(ct_new, "IPv4 packets received here labelled NEW"),
    CTC_STAT(ct_established, "IPv4 packets received here labelled ESTABLISHED"),
    CTC_STAT(ct_related, "IPv4 packets received here labelled RELATED"),
    CTC_STAT(ct_invalid, "IPv4 packets received here labelled INVALID"),
    CTC_STAT(ct_untracked, "IPv4 packets received here labelled UNTRACKED"),
    {0},
};

static const struct cub_field ctc_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = ctc_port_fields,
	.help = "ports of the cube: p1 (trusted) and p2"},
    {.name = "session-table",
	.type = CUB_T_LIST,
	.flags = CUB_F_RO,
	.children = fw_ct_session_fields,
	.help = "the conntrack table's live entries (the first 1024)"},
    {.name = "sessions",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "live entries in the conntrack table"},
    {0},
};

struct ctc_cube {
	cub_map conf, ct;
	bool loaded;
};

static int
ctc_load(struct cub_cube *cube, struct ctc_cube *cc)
{
	size_t len;
	const void *elf = ctcube__elf_bytes(&len);
	int r;

	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "ctc_conf", &cc->conf) ||
	    cub_cube__map(cube, "fw_ct", &cc->ct))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': maps ctc_conf/fw_ct missing",
		    cub_cube__name(cube));
	cc->loaded = true;
	return 0;
}

static int
ctc_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct ctc_cube *cc = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	struct ctc_conf conf = {0};
	bool have1 = false, have2 = false;
	const char *pname;
	uint32_t i, key = 0;
	uint64_t idx;
	int r;

	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *e = ports->arr.items[i];

		pname = cub_val__get_str(e, "name");
		if (cub_val__as_u64(cub_val__get(e, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "port '%s' has no valid index", pname ?: "?");
		if (pname && !strcmp(pname, "p1")) {
			conf.p1 = (uint32_t)idx;
			have1 = true;
		} else if (pname && !strcmp(pname, "p2")) {
			conf.p2 = (uint32_t)idx;
			have2 = true;
		} else {
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "cube '%s': port '%s': a ctcube's ports are p1 "
			    "(trusted) and p2",
			    cub_cube__name(cube), pname ?: "?");
		}
	}
	conf.ready = have1 && have2;
	if ((create || !cc->loaded) && (r = ctc_load(cube, cc)))
		return r;
	return cub_map__update(cube, &cc->conf, &key, &conf, 0);
}

static int
ctc_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct ctc_cube *cc = cub_cube__priv(cube);
	struct cub_val *list;
	uint32_t total;
	int r;

	(void)config;
	if (!cc->loaded)
		return 0;
	if ((r = fw_ct_session_list(cube, &cc->ct, CTC_SHOW_MAX, &list, &total)))
		return r;
	if (cub_val__set(overlay, "session-table", list) ||
	    cub_val__set(overlay, "sessions", cub_val__uint(total)))
		return -ENOMEM;
	return 0;
}

static const struct cub_plugin_ops ctc_ops = {
    .apply = ctc_apply,
    .show = ctc_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "ctcube",
    .description = "conntrack under a stateful policy (tests only)",
    .cube_size = sizeof(struct ctc_cube),
    .schema = ctc_schema,
    .ops = &ctc_ops,
    .policy =
	{
	    .prog_types =
		(1u << BPF_PROG_TYPE_SCHED_CLS) | (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_LRU_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 8u << 20,
	},
    CUB_PLUGIN_SIZES,
};
