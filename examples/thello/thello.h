/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by thello.bpf.c and thello.c: thello_actions (ARRAY) and
 * thello_stats (PERCPU_ARRAY), both keyed by direction. */
#include <linux/types.h>

enum { THELLO_INGRESS, THELLO_EGRESS, THELLO_DIRS };
enum { THELLO_PASS, THELLO_DROP };

struct thello_stats {
	__u64 packets, drops;
};
