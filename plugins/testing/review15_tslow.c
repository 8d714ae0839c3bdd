// SPDX-License-Identifier: BSD-2-Clause
/*
 * review15_tslow: the transparenthelloworld plugin (its schema, actions
 * and counters; service name "transparenthelloworld") with the object of
 * review15_tslow.bpf.c, whose PASS spins for milliseconds before
 * cub_pass_tc().  tests/integration/review15-tstack-detach.sh; never
 * installed next to the real transparenthelloworld.so.  Built as
 * review15_thold (-DR15_HOLD) and review15_tsub (-DR15_SUB, the object of
 * review15_tsub.bpf.c) too, and for review21-loop-bound as review21_tcount
 * (-DR21_COUNT: bpf_loop()'s count read from a map, which the code does
 * not bound).
 */
#if defined(R20_TCB) /* review20_tcb: copies skb->cb into frames */
#include "review20_tcb.skel.h"
#define transparenthelloworld__elf_bytes review20_tcb__elf_bytes
#elif defined(R15_SUB) /* review15_tsub: runs the stack's rest as a call */
#include "review15_tsub.skel.h"
#define transparenthelloworld__elf_bytes review15_tsub__elf_bytes
#elif defined(R21_COUNT) /* review21_tcount: rounds from a map value */
#include "review21_tcount.skel.h"
#define transparenthelloworld__elf_bytes review21_tcount__elf_bytes
#elif defined(R15_HOLD) /* review15_thold: holds for longer */
#include "review15_thold.skel.h"
#define transparenthelloworld__elf_bytes review15_thold__elf_bytes
#else
#include "review15_tslow.skel.h"
#define transparenthelloworld__elf_bytes review15_tslow__elf_bytes
#endif
/* transparenthelloworld.c's skeleton is this one. */
#define __TRANSPARENTHELLOWORLD_SKEL_H__
#include "transparenthelloworld.c"
