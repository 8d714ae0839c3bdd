// SPDX-License-Identifier: GPL-2.0
/*
 * An ARRAY_OF_MAPS whose inner maps are shaped like simpleforwarder's
 * sf_actions: a value written from user space is a file descriptor,
 * resolved in the broker's fd table, so a worker writing small integers
 * would insert the broker's fds of other cubes' maps.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#include "evil_bpfobj.h"
#include "simpleforwarder_shared.h"

struct evil_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sf_action));
	__uint(max_entries, CUB_MAX_PORTS);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 4);
	__array(values, struct evil_inner);
} evmaps SEC(".maps");

EVIL_PASS_PROGRAMS;
