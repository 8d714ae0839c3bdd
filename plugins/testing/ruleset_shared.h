/* SPDX-License-Identifier: BSD-2-Clause */
/* ruleset's map values, shared by ruleset.c and ruleset.bpf.c. */
#ifndef RULESET_SHARED_H
#define RULESET_SHARED_H

#include <linux/types.h>

/* rs_rules' max_entries: a cube's rules at most. */
#define RS_MAX_RULES 65536

struct rs_rule {
	__u32 action; /* index in rule_actions: drop, forward, log */
	__u32 src;    /* network order; 0 with src_len 0: any */
	__u32 src_len;
};

#endif
