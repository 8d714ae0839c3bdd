// SPDX-License-Identifier: BSD-2-Clause
/*
 * evctr_*: test-only services whose one counter binding is hostile
 * (tests/integration/counters.sh).  Built once per EVCTR_<attack>; each
 * declares ports[].c bound as the attack says and loads, on add, either
 * simpleforwarder's object (EVCTR_SF_OBJECT) or evil_ctr.bpf.c's.
 *   off    sf_stats, offset 48: past its 48-byte value         (load)
 *   nomap  a map the object lacks                              (load)
 *   other  sf_stats while loading evil_ctr's object: the map of
 *          another cube (an sf cube has one), not of its own   (load)
 *   path   "../sf1/sf_stats": another cube's map by path       (hello)
 *   cub    cub_ports, the broker's map                         (hello)
 *   pcpu   evctr_pc4 (4-byte per-CPU values) read as 8 bytes   (load)
 *   keysz  evctr_h8 (8-byte keys) with the default key_size 4  (load)
 *   ok     evctr_h8 with key_size 8, key 7: accepted, reads 0
 * Never installed.
 */
#include <errno.h>
#include <stddef.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "evil_ctr.skel.h"
#include "simpleforwarder.skel.h"
#include "simpleforwarder_shared.h"

#if defined(EVCTR_off)
#define EVCTR_NAME "evctr_off"
#define EVCTR_SF_OBJECT 1
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "sf_stats", .key_field = "index", .offset = 48          \
	}
#elif defined(EVCTR_nomap)
#define EVCTR_NAME "evctr_nomap"
#define EVCTR_SF_OBJECT 1
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "sf_nosuch", .key_field = "index"                       \
	}
#elif defined(EVCTR_other)
#define EVCTR_NAME "evctr_other"
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "sf_stats", .key_field = "index"                        \
	}
#elif defined(EVCTR_path)
#define EVCTR_NAME "evctr_path"
#define EVCTR_SF_OBJECT 1
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "../sf1/sf_stats", .key_field = "index"                 \
	}
#elif defined(EVCTR_cub)
#define EVCTR_NAME "evctr_cub"
#define EVCTR_SF_OBJECT 1
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "cub_ports", .key_field = "index"                       \
	}
#elif defined(EVCTR_pcpu)
#define EVCTR_NAME "evctr_pcpu"
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "evctr_pc4", .key_field = "index", .width = 8           \
	}
#elif defined(EVCTR_keysz)
#define EVCTR_NAME "evctr_keysz"
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "evctr_h8", .key = 7                                    \
	}
#elif defined(EVCTR_ok)
#define EVCTR_NAME "evctr_ok"
#define EVCTR_BINDING                                                          \
	{                                                                      \
		.map = "evctr_h8", .key = 7, .key_size = 8                     \
	}
#else
#error "build with -DEVCTR_<attack>"
#endif

static const struct cub_counter evctr_binding = EVCTR_BINDING;

static const struct cub_field evctr_port_fields[] __attribute__((unused)) = {
    {.name = "c",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "a hostile counter binding",
	.counter = &evctr_binding},
    {0},
};

/* Fixed keys sit on a cube-level field, key fields in the ports. */
static const struct cub_field evctr_schema[] = {
#if defined(EVCTR_keysz) || defined(EVCTR_ok)
    {.name = "c",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "a hostile counter binding",
	.counter = &evctr_binding},
#else
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = evctr_port_fields,
	.help = "ports of the cube"},
#endif
    {0},
};

static int
evctr_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	const void *elf;
	size_t len;

	if (!create)
		return 0;
#ifdef EVCTR_SF_OBJECT
	elf = simpleforwarder__elf_bytes(&len);
#else
	elf = evil_ctr__elf_bytes(&len);
#endif
	return cub_cube__load(cube, elf, len);
}

static const struct cub_plugin_ops evctr_ops = {
    .apply = evctr_apply,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = EVCTR_NAME,
    .description = "a hostile counter binding (tests only)",
    .cube_size = 8,
    .schema = evctr_schema,
    .ops = &evctr_ops,
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
