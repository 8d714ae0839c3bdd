/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by hello.bpf.c and hello.c: hello_cfg[0], hello_stats[port]. */
#include <linux/types.h>

enum { HELLO_DROP, HELLO_SLOWPATH, HELLO_FORWARD };
struct hello_cfg {
	__u32 action, nports, port[2];
};
struct hello_stats {
	__u64 rx_packets, tx_packets, drops;
};
