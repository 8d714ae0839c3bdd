// SPDX-License-Identifier: GPL-2.0
/* An honest small object: a 64-entry array and a 64-entry hash. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} evsmall SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 64);
} evsmallh SEC(".maps");
EVIL_PASS_PROGRAMS;
