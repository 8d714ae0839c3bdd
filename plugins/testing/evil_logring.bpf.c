// SPDX-License-Identifier: GPL-2.0
/* A cub_log_ring of 1 MiB instead of 64 KiB: the broker must refuse it. */
#define CUB_LOG_RING_MAP_BYTES (1 << 20)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <cubicle/cube.bpf.h>
#include "evil_bpfobj.h"
EVIL_PASS_PROGRAMS;
