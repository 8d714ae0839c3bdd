/* SPDX-License-Identifier: BSD-2-Clause */
/* What swapread.bpf.c and swapread.c share. */
#ifndef SWAPREAD_SHARED_H
#define SWAPREAD_SHARED_H

#define SR_PORTS 4096      /* entries of set pkt's hash of UDP ports */
#define SR_LOOPS_MAX (1u << 23) /* bpf_loop's most iterations */
#define SR_BIG 65536       /* entries of the bench's largest sets */
#define SR_UNEVEN (4u << 20) /* review 11: the big copy of set ev */
#define SR_UNEVEN4 (5u << 20) /* review 11: the same, lockstall's */

#endif
