/* SPDX-License-Identifier: BSD-2-Clause */
/* evil's packet-out action (evil_pktout.c): tests/integration/pktout.sh. */
#ifndef EVIL_PKTOUT_H
#define EVIL_PKTOUT_H

#include "cubicle/plugin.h"

extern const struct cub_field evil_pktout_args[];

/* debug pktout port=N [dir=egress|ingress] [n=N] [len=N] [dst=] [dmac=] */
int evil_pktout_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result);

#endif
