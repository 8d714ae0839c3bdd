// SPDX-License-Identifier: GPL-2.0
/* A swap set whose members have different copy counts: refused at load. */
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
struct stamp_map bva0 SEC(".maps"), bva1 SEC(".maps"), bva2 SEC(".maps");
struct stamp_map bvb0 SEC(".maps"), bvb1 SEC(".maps");

CUB_SWAP_SET(ver);
CUB_SWAP_MEMBER(ver, a, struct stamp_map, 3) = {
    .values = {&bva0, &bva1, &bva2}};
CUB_SWAP_MEMBER(ver, b, struct stamp_map, 2) = {.values = {&bvb0, &bvb1}};

EVIL_PASS_PROGRAMS;
