/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by hello.bpf.c and hello.c: the one hello_cfg entry, and the
 * per-port counters in hello_stats (PERCPU_ARRAY, port index). */
#include <linux/types.h>

enum { HELLO_DROP, HELLO_SLOWPATH, HELLO_FORWARD };

struct hello_cfg {
	__u32 action;
	__u32 nports;
	__u32 port[2];
};

struct hello_stats { __u64 rx_packets, tx_packets, drops; };
