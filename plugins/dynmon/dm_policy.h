/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dynmon's BPF policy (struct cub_bpf_policy), one definition for the
 * plugin (dynmon.c) and the tests that load its objects through the fake
 * broker (tests/reader_test.c), which checks it as the broker does.
 */
#ifndef DYNMON_DM_POLICY_H
#define DYNMON_DM_POLICY_H

#include <linux/bpf.h>

#define DM_BPF_POLICY                                                          \
	{                                                                      \
		.prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |                \
			      (1u << BPF_PROG_TYPE_XDP),                       \
		.map_types = (1ull << BPF_MAP_TYPE_ARRAY) |                    \
			     (1ull << BPF_MAP_TYPE_HASH) |                     \
			     (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |             \
			     (1ull << BPF_MAP_TYPE_PERCPU_HASH) |              \
			     (1ull << BPF_MAP_TYPE_LRU_HASH) |                 \
			     (1ull << BPF_MAP_TYPE_LRU_PERCPU_HASH) |          \
			     (1ull << BPF_MAP_TYPE_QUEUE) |                    \
			     (1ull << BPF_MAP_TYPE_STACK) |                    \
			     (1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS) |            \
			     (1ull << BPF_MAP_TYPE_RINGBUF),                   \
		.max_map_bytes = 64u << 20,                                    \
	}

#endif
