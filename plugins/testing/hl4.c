// SPDX-License-Identifier: BSD-2-Clause
/*
 * hl4_<form>: test-only services, one per form of reaching the L4 header
 * (hl4.bpf.h, hl4_shared.h): tests/integration/hardened-forms.sh and
 * hardened-service.sh.  Built once per -DHL4_<form>; hl4_arith2 loads
 * hl4_arith's very object under another service name.  The cube loads
 * its object on add and shows its probe counters: ihl5 .. ihl15 (probes
 * by IP header length) and ports[].probes.  Never installed.
 */
#include <errno.h>
#include <stddef.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"

#if defined(HL4_arith) || defined(HL4_arith2)
#include "hl4_arith.skel.h"
#define HL4_ELF hl4_arith__elf_bytes
#elif defined(HL4_table)
#include "hl4_table.skel.h"
#define HL4_ELF hl4_table__elf_bytes
#elif defined(HL4_copy)
#include "hl4_copy.skel.h"
#define HL4_ELF hl4_copy__elf_bytes
#elif defined(HL4_mapidx)
#include "hl4_mapidx.skel.h"
#define HL4_ELF hl4_mapidx__elf_bytes
#else
#error "build with -DHL4_<form> and -DHL4_NAME"
#endif

#define HL4_IHL(n)                                                             \
	{                                                                      \
		.name = "ihl" #n, .type = CUB_T_U64, .flags = CUB_F_RO,        \
		.help = "probes seen with an IP header of " #n " words",       \
		.counter = &(const struct cub_counter)                         \
		{                                                              \
			.map = "hl4_ihl", .key = (n)                           \
		}                                                              \
	}

static const struct cub_field hl4_port_fields[] = {
    {.name = "probes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "probes received on this port",
	.counter = &(const struct cub_counter){.map = "hl4_port",
	    .key_field = "index"}},
    {0},
};

static const struct cub_field hl4_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = hl4_port_fields,
	.help = "ports of the cube: packets in one go out of the other"},
    HL4_IHL(5),
    HL4_IHL(6),
    HL4_IHL(7),
    HL4_IHL(8),
    HL4_IHL(9),
    HL4_IHL(10),
    HL4_IHL(11),
    HL4_IHL(12),
    HL4_IHL(13),
    HL4_IHL(14),
    HL4_IHL(15),
    {0},
};

static int
hl4_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const void *elf;
	size_t len;

	(void)config;
	if (!create)
		return 0;
	elf = HL4_ELF(&len);
	return cub_cube__load(cube, elf, len);
}

static const struct cub_plugin_ops hl4_ops = {
    .apply = hl4_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = HL4_NAME,
    .description = "an L4 parser behind IP options (tests only)",
    .cube_size = 8,
    .schema = hl4_schema,
    .ops = &hl4_ops,
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
    CUB_PLUGIN_SIZES,
};
