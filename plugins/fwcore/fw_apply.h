/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_apply.h: a compiled image (fw_compile.h) into a cube whose object
 * includes bpf/fw_maps.bpf.h, and its counters.  Synchronous calls to the
 * broker: from a plugin's op only.
 */
#ifndef CUBICLE_FW_APPLY_H
#define CUBICLE_FW_APPLY_H

#include "fw_compile.h"

struct cub_cube;

/**
 * @brief **fw_image_apply()** writes img into the free copy of the cube's
 * swap set fw (emptied first) and flips to it (cub_swap__begin, the
 * seven members in batches, cub_swap__commit); before the flip, zeroes
 * the counters of the slots the active image did not have.
 * @return 0, or -errno with err set; on error the active ruleset is
 *         unchanged (counters of new slots may be zeroed)
 */
int fw_image_apply(struct cub_cube *cube, const struct fw_image *img, char *err,
    size_t errlen);

/** @brief Per-slot packets and bytes, summed over CPUs; 0 or -errno. */
int fw_counters_read(struct cub_cube *cube, const uint32_t *slots, uint32_t n,
    uint64_t *pkts, uint64_t *bytes);

/** @brief Zeroes the slots' counters on every CPU; 0 or -errno. */
int fw_counters_zero(struct cub_cube *cube, const uint32_t *slots, uint32_t n);

/* The policy of a service built on the engine (the firewall, iptables,
 * test cubes): TC and XDP programs, the engine's and conntrack's map
 * types, at most bytes of maps per cube. */
#define FW_PLUGIN_POLICY(bytes)                                                \
	{                                                                      \
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |                    \
			  (1u << BPF_PROG_TYPE_XDP),                           \
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |                        \
			 (1ull << BPF_MAP_TYPE_HASH) |                         \
			 (1ull << BPF_MAP_TYPE_LRU_HASH) |                     \
			 (1ull << BPF_MAP_TYPE_LPM_TRIE) |                     \
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |                 \
			 (1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS) |                \
			 (1ull << BPF_MAP_TYPE_RINGBUF),                       \
	    .max_map_bytes = (bytes),                                          \
	}

#endif /* CUBICLE_FW_APPLY_H */
