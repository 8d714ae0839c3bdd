// SPDX-License-Identifier: GPL-2.0
/* A 64 MiB USER_RINGBUF: the broker once counted it as 0 bytes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 << 20);
} evuring SEC(".maps");
EVIL_PASS_PROGRAMS;
