/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The slow-load loop of evil_slowload.c (issue 6's last stall, issue 7's "no
 * lock held across a verifier load").
 */
#ifndef EVIL_SLOWLOAD_H
#define EVIL_SLOWLOAD_H

struct cub_cube;
struct cub_val;

extern const struct cub_field evil_slowload_args[];

/* The "slowload" action of evil.c. */
int evil_slowload_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result);
/* The cube is going away: stop its loop and wait for the load in flight. */
void evil_slowload_destroy(struct cub_cube *cube);

#endif /* EVIL_SLOWLOAD_H */
