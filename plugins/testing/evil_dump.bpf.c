// SPDX-License-Identifier: GPL-2.0
/*
 * A big CGROUP_ARRAY with no entry (review: map.dump under b->lock).  A
 * user-space lookup of an empty slot fails, so the broker's map.dump walks
 * every slot without counting it against its reply budget, holding
 * b->lock throughout.  12 bytes a slot in the broker's estimate: about
 * 38 MiB, within a policy of 40 MiB (the default --max-cube-map-bytes is
 * 256 MiB).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(key_size, 4);
	__uint(value_size, 4);
	__uint(max_entries, 3300000);
} evstall SEC(".maps");
EVIL_PASS_PROGRAMS;
