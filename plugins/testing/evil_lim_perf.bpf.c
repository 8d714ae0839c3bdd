// SPDX-License-Identifier: GPL-2.0
/* A PERF_EVENT_ARRAY: its values are perf event fds. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 4);
} evmaps SEC(".maps");
EVIL_PASS_PROGRAMS;
