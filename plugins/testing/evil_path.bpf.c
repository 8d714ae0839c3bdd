// SPDX-License-Identifier: GPL-2.0
/*
 * Maps whose names the worker rewrites in the ELF before a load: into a
 * path (another cube's sf_actions or cub_ports, a pin outside the pin
 * root) or into a second map of the same name.  The broker must refuse
 * each, whatever libbpf would make of the name.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#include "evil_bpfobj.h"
#include "simpleforwarder_shared.h"

/* Shaped like simpleforwarder's sf_actions. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sf_action);
	__uint(max_entries, CUB_MAX_PORTS);
} evil_path_act_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa SEC(".maps");

/* Shaped like the framework's cub_ports. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_port);
	__uint(max_entries, CUB_MAX_PORTS);
} evil_path_port_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} evdup_a SEC(".maps"), evdup_b SEC(".maps");

EVIL_PASS_PROGRAMS;
