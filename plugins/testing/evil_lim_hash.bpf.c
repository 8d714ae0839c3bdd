// SPDX-License-Identifier: GPL-2.0
/* A preallocated hash of 400k entries: the broker once counted key and
 * value only (3.2 MB), the kernel charges about 34 MB. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 400000);
} evhash SEC(".maps");
EVIL_PASS_PROGRAMS;
