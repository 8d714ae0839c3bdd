/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ruleset: a test-only service with a big keyed list and no data plane,
 * for the tree engine through the broker at issue 7's sizes (a 10k-entry
 * --file load, one-entry sets, paged shows).  simpleforwarder's ports are
 * capped by CUB_MAX_PORTS, so it cannot hold such a list.  apply counts
 * the rules it was handed, and show reports that count as a ro field, so
 * a test sees what the worker got.  The broker wants a program per cube:
 * it loads simpleforwarder's object and never writes its maps, so every
 * packet is dropped (the cube has no ports anyway).
 *
 * It also declares every schema type of issue 7, for tests/integration/
 * schematypes.sh: u8/u16 fields, an ordered list "chain" whose entries
 * hold IPv6 and either-family addresses and prefixes, port ranges, a
 * leaf-list of ports and a reference to the keyed list "sets"; show
 * reports, as ro fields, how many chain entries the worker got, the ids
 * of the first CHAIN_SEEN of them in the order it got them, and how many
 * have a dst that cub_val__as_ip() reads as IPv6.
 */
#include <errno.h>
#include <stdint.h>

#include <linux/bpf.h>
#include <sys/socket.h>

#include "cubicle/plugin.h"
#include "simpleforwarder.skel.h"

static const char *const rule_actions[] = {"drop", "forward", "log", NULL};

static const struct cub_field rule_fields[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = rule_actions,
	.dflt = "drop",
	.help = "what to do"},
    {.name = "src", .type = CUB_T_IPV4_PREFIX, .help = "source prefix"},
    {.name = "hits", .type = CUB_T_U64, .flags = CUB_F_RO, .help = "hits"},
    {0},
};

#define CHAIN_SEEN 64

static const struct cub_field set_fields[] = {
    {.name = "name", .type = CUB_T_STR, .flags = CUB_F_KEY, .help = "set"},
    {.name = "nets",
	.type = CUB_T_IP_PREFIX,
	.flags = CUB_F_LEAFLIST,
	.max_items = 16,
	.help = "IPv4 or IPv6 prefixes"},
    {0},
};

static const struct cub_field chain_fields[] = {
    {.name = "id", .type = CUB_T_U32, .flags = CUB_F_KEY, .help = "rule id"},
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = rule_actions,
	.dflt = "drop",
	.help = "what to do"},
    {.name = "proto", .type = CUB_T_U8, .help = "IP protocol number"},
    {.name = "src6", .type = CUB_T_IPV6_PREFIX, .help = "IPv6 source"},
    {.name = "gw6", .type = CUB_T_IPV6, .help = "IPv6 next hop"},
    {.name = "dst", .type = CUB_T_IP, .help = "IPv4 or IPv6 destination"},
    {.name = "net", .type = CUB_T_IP_PREFIX, .help = "either family"},
    {.name = "sport", .type = CUB_T_PORT_RANGE, .help = "source ports"},
    {.name = "dports",
	.type = CUB_T_U16,
	.flags = CUB_F_LEAFLIST,
	.max_items = 8,
	.help = "destination ports"},
    {.name = "match", .type = CUB_T_STR, .ref = "sets", .help = "a set"},
    {0},
};

static const struct cub_field ruleset_schema[] = {
    {.name = "ttl", .type = CUB_T_U8, .help = "hop limit"},
    {.name = "mss", .type = CUB_T_U16, .min = 536, .help = "TCP MSS"},
    {.name = "sets",
	.type = CUB_T_LIST,
	.children = set_fields,
	.help = "named sets of prefixes"},
    {.name = "chain",
	.type = CUB_T_LIST,
	.flags = CUB_F_ORDERED,
	.children = chain_fields,
	.help = "rules in order: add <id> [index=N|position=first|last|"
		"before=ID|after=ID]"},
    {.name = "chain_len",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "chain entries in the last configuration applied"},
    {.name = "chain_v6",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "chain entries whose dst the worker read as IPv6"},
    {.name = "chain_seen",
	.type = CUB_T_U32,
	.flags = CUB_F_RO | CUB_F_LEAFLIST,
	.max_items = CHAIN_SEEN,
	.help = "ids of the first chain entries, in the order applied"},
    {.name = "rules",
	.type = CUB_T_LIST,
	.children = rule_fields,
	.help = "the rules, in order"},
    {.name = "applied",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "rules in the last configuration the worker applied"},
    {0},
};

struct rs_cube {
	uint32_t applied;
	uint32_t chain_len, nseen, chain_v6;
	uint64_t seen[CHAIN_SEEN];
};

/* Records the chain as the worker got it: its length and first ids. */
static void
rs_chain(struct rs_cube *rs, const struct cub_val *chain)
{
	const struct cub_val *e;
	struct cub_ip dst;
	uint32_t i;

	rs->chain_len =
	    chain && chain->kind == CUB_V_ARRAY ? chain->arr.len : 0;
	rs->nseen = rs->chain_v6 = 0;
	for (i = 0; i < rs->chain_len; i++) {
		e = chain->arr.items[i];
		if (rs->nseen < CHAIN_SEEN &&
		    !cub_val__as_u64(
			cub_val__get(e, "id"), &rs->seen[rs->nseen]))
			rs->nseen++;
		/* The typed view a real service would build a map key from. */
		if (!cub_val__as_ip(cub_val__get(e, "dst"), &dst) &&
		    dst.family == AF_INET6)
			rs->chain_v6++;
	}
}

static int
rs_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const struct cub_val *rules = cub_val__get(config, "rules");
	struct rs_cube *rs = cub_cube__priv(cube);

	size_t len;
	const void *elf = simpleforwarder__elf_bytes(&len);
	int r;

	if (create && (r = cub_cube__load(cube, elf, len)))
		return r;
	rs->applied = rules && rules->kind == CUB_V_ARRAY ? rules->arr.len : 0;
	rs_chain(rs, cub_val__get(config, "chain"));
	return 0;
}

static int
rs_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct rs_cube *rs = cub_cube__priv(cube);

	struct cub_val *seen;
	uint32_t i;

	(void)config;
	seen = cub_val__array();
	for (i = 0; seen && i < rs->nseen; i++)
		if (cub_val__push(seen, cub_val__uint(rs->seen[i])))
			seen = cub_val__free(seen);
	if (cub_val__set(overlay, "chain_seen", seen) ||
	    cub_val__set(overlay, "chain_v6", cub_val__uint(rs->chain_v6)) ||
	    cub_val__set(overlay, "chain_len", cub_val__uint(rs->chain_len)))
		return -ENOMEM;
	return cub_val__set(overlay, "applied", cub_val__uint(rs->applied));
}

static const struct cub_plugin_ops rs_ops = {
    .apply = rs_apply,
    .show = rs_show,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "ruleset",
    .description = "a big keyed list and no data plane (tests)",
    .cube_size = sizeof(struct rs_cube),
    .schema = ruleset_schema,
    .ops = &rs_ops,
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 4u << 20,
	},
};
