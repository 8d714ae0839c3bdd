/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The loop bound of a cube's program: how long one run may hold its CPU.
 *
 * The verifier follows every path of a program without loops, and every
 * round of a bounded loop, up to its 1M-instruction budget: such code
 * runs at most about that many instructions.  What it does not follow
 * round by round is a helper that calls back (bpf_loop(): up to 8 Mi
 * calls of its callback; bpf_for_each_map_elem(): one a map entry) and
 * may_goto.  A callback of a few clock reads run 8 Mi times holds a CPU
 * for seconds, and with it every RCU grace period of the host (map swaps,
 * tc changes, detaches).  So on a program's final instructions the
 * broker bounds, per program, the sum over its callback calls of rounds
 * times the callback's cost, and refuses a program over the bound
 * (cubicled --max-loop-cost):
 *   - rounds: bpf_loop's r1, a constant or bounded by the code (an AND
 *     with a constant, an unsigned compare); at most 8 Mi, the kernel's
 *     cap; for_each_map_elem: the map's max_entries;
 *   - a callback's cost: its instructions and those of every subprogram
 *     it calls (each at most once: none may loop), a helper call
 *     counting LOOPCHECK_HELPER_COST;
 *   - a callback helper only in the main function (bpfpolicy.c) and not
 *     inside one of its loops; may_goto refused.
 * Tail calls chain up to 33 programs, each within the bound.
 */
#ifndef CUBI_LOOPCHECK_H
#define CUBI_LOOPCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

/* A helper call, counted as this many instructions. */
#define LOOPCHECK_HELPER_COST 16u

/* bpf_loop()'s most rounds (the kernel's BPF_MAX_LOOPS). */
#define LOOPCHECK_MAX_ROUNDS (1u << 23)

/* The default bound (cubicled --max-loop-cost): about a second here. */
#define LOOPCHECK_DEFAULT_BOUND (1ull << 30)

/* Why a program was refused, or what it costs. */
struct loopcheck_bad {
	size_t insn;      /* the offending instruction */
	char why[256];    /* what is wrong, for the refusal */
	uint64_t cost;    /* the program's cost, as far as it was counted */
};

/* A map's max_entries from the fd of its 64-bit load; 0 if unknown. */
typedef uint64_t (*loopcheck_entries_fn)(int fd, void *arg);

/*
 * @brief **loopcheck_prog()** bound the callback rounds of the whole
 * program @insn[0..@n) (final instructions: the main function, then
 * subprograms) against @bound.
 * @return 0 and *@cost; -EPERM over the bound or unboundable (@bad->why
 * says which callback and why), -EINVAL malformed code, -E2BIG,
 * -ENOMEM.
 */
int loopcheck_prog(const struct bpf_insn *insn, size_t n, uint64_t bound,
    loopcheck_entries_fn entries, void *arg, uint64_t *cost,
    struct loopcheck_bad *bad);

#endif /* CUBI_LOOPCHECK_H */
