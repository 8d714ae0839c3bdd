/* SPDX-License-Identifier: BSD-2-Clause */
/* What swap.bpf.c and swap.c share. */
#ifndef SWAP_SHARED_H
#define SWAP_SHARED_H

enum {
	SW_PACKETS = 0,  /* packets the program ran for */
	SW_MISMATCH = 1, /* packets that saw two copies of set "ver" */
	SW_NSTATS = 2,
};

#define SW_LOOPS_MAX (1u << 23) /* bpf_loop's most iterations, a power of 2 */
#define SW_BIG_MAX 131072       /* entries of sw_big */

#endif
