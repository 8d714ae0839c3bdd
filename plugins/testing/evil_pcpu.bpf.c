// SPDX-License-Identifier: GPL-2.0
/*
 * A per-CPU map of 3.1 MiB a CPU: within a 4 MiB policy when counted once,
 * over it on a machine with two or more possible CPUs.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#include "evil_bpfobj.h"

struct evil_slab {
	__u8 b[32768];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct evil_slab);
	__uint(max_entries, 100);
} evpcpu SEC(".maps");

EVIL_PASS_PROGRAMS;
