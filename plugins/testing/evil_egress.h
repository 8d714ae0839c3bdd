/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The hostile objects of evil_egress.c (issue 7 defect 3): programs that
 * try to send packets to a netdev of their own choosing, whose ifindex
 * the worker patches into .rodata in place of EVIL_IFINDEX_MAGIC.
 */
#ifndef EVIL_EGRESS_H
#define EVIL_EGRESS_H

#define EVIL_IFINDEX_MAGIC 0x7e57ab1e

#ifndef __BPF__
struct cub_cube;
struct cub_val;
struct cub_field;

/* Arguments of the "egress" action of evil.c. */
extern const struct cub_field evil_egress_args[];

/* The "egress" action: load the object named by args' object=. */
int evil_egress(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result);
#else
/* The netdev to inject into (patched by the worker before the load). */
volatile const __u32 evil_ifindex = EVIL_IFINDEX_MAGIC;

char _license[] SEC("license") = "GPL";
#endif

#endif /* EVIL_EGRESS_H */
