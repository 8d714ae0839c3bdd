/* SPDX-License-Identifier: BSD-2-Clause */
/* evil's slow worker (evil_slow.c): tests/integration/stall.sh. */
#ifndef EVIL_SLOW_H
#define EVIL_SLOW_H

#include "cubicle/plugin.h"

extern const struct cub_field evil_slow_args[];

/* debug slow [pktin_ms=N] [show_ms=N] [sleep_ms=N] */
int evil_slow_action(const struct cub_val *args, struct cub_val **result);
/* Sleep as long as the last 'debug slow' asked, before a packet or show. */
void evil_slow_packet_in(void);
void evil_slow_show(void);
/* Sleep as set; true: refuse this apply. */
bool evil_slow_apply(bool create);

#endif
