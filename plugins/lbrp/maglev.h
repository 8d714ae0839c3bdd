/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted as
 * Katran does: each backend has a preference list, a permutation of the
 * table's m slots derived from two hashes of its key (offset, skip); the
 * table is filled by turns, each backend taking the next free slot of
 * its list, a backend of weight w taking w turns per round.  Backends
 * are given in any order: they are sorted by key first, so the table
 * depends on the set alone.
 */
#ifndef LBRP_MAGLEV_H
#define LBRP_MAGLEV_H

#include <stdint.h>

struct maglev_be {
	uint64_t key;    /* identity: ip << 16 | port */
	uint32_t weight; /* 0: in no slot */
};

/*
 * Fill table[0 .. m-1] (m a prime) with indices into be[] (n entries, in
 * the caller's order); slots get UINT32_MAX when no backend has a weight.
 * 0, or -ENOMEM / -EINVAL (m not a prime > 1, or n too big).
 */
int maglev_fill(
    const struct maglev_be *be, uint32_t n, uint32_t m, uint32_t *table);

#endif
