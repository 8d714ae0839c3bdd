// SPDX-License-Identifier: GPL-2.0
/* An ARRAY_OF_MAPS (declared) whose inner template is an LRU_HASH (not). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
struct evil_inner {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 16);
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct evil_inner);
} evitype SEC(".maps");
EVIL_PASS_PROGRAMS;
