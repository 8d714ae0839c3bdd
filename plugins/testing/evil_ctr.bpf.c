// SPDX-License-Identifier: GPL-2.0
/*
 * Maps for hostile counter bindings (evil_ctr.c): a per-CPU array of
 * 4-byte values, which user space reads as 8 bytes a CPU (the rounding is
 * padding, not value), and a hash with 8-byte keys.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#include "evil_bpfobj.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} evctr_pc4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u64);
	__uint(max_entries, 4);
} evctr_h8 SEC(".maps");

EVIL_PASS_PROGRAMS;
