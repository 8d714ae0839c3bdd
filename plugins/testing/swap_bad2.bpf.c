// SPDX-License-Identifier: GPL-2.0
/* A swap set's index map that programs could write: refused at load. */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

#include "evil_bpfobj.h"

struct stamp_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
};
struct stamp_map bwa0 SEC(".maps"), bwa1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cub_sw_ver SEC(".maps");
CUB_SWAP_MEMBER(ver, a, struct stamp_map, 2) = {.values = {&bwa0, &bwa1}};

EVIL_PASS_PROGRAMS;
