// SPDX-License-Identifier: GPL-2.0
/*
 * A per-CPU map whose value (4 bytes) is not a multiple of 8: the kernel
 * copies each CPU's value at an 8-byte stride, so a broker that sized the
 * buffer as value_size x CPUs would overflow it on lookup and over-read
 * the worker's bytes on update.
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
} evpc4 SEC(".maps");

EVIL_PASS_PROGRAMS;
