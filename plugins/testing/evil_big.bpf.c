// SPDX-License-Identifier: GPL-2.0
/*
 * A big map (2.5 MiB) the worker renames before every load, so that no
 * pin is ever reused: the broker must not keep the old ones.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#include "evil_bpfobj.h"

struct evil_page {
	__u8 b[4096];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct evil_page);
	__uint(max_entries, 640);
} evbig_0000 SEC(".maps");

EVIL_PASS_PROGRAMS;
