/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Atomic map transactions (mapswap.c): swap sets of a cube's object, the
 * flip of their index map and the grace period before a copy is reused.
 */
#ifndef CUBI_MAPSWAP_H
#define CUBI_MAPSWAP_H

#include <stdbool.h>

#include <bpf/libbpf.h>

#include "cubicle/val.h"

struct broker;
struct service;
struct swapsets;

#define SWAP_PREFIX "cub_sw_" /* + set name: the set's index map */
#define SWAP_SET_MAX 8        /* characters of a set name */
#define SWAP_COPIES_MAX 8
#define SWAP_MEMBERS_MAX 8

/* name is the index map of a swap set ("cub_sw_<set>", set well formed). */
bool mapswap_index_name(const char *name);
/* At load: the index maps' shape and their sets' member maps; 0 or -EPERM
 * with *errv. */
int mapswap_check_object(
    const char *cube, struct bpf_object *obj, struct cub_val **errv);
struct swapsets *mapswap_free(struct swapsets *sets);
/* RCU grace periods (the kernel's, through a map update), shared with
 * the swaps: start one (its sequence), has it ended, wait for it.  Once
 * it ended, no tc or XDP program that began before the start runs. */
uint64_t mapswap_grace_start(void);
bool mapswap_grace_over(uint64_t seq);
int mapswap_grace_wait(uint64_t seq);

/* Worker calls (wcall.c): swap.begin, swap.commit, swap.abort, swap.read. */
int mapswap_call(struct service *s, const char *method, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv);

#endif
