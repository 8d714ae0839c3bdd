/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * exitcheck.c: can a program end a packet's run only by dropping it?  A
 * static check of a program's main function that every EXIT returns a
 * known constant from a per-program-type set.  The broker runs it on every
 * program of a transparent cube's object (bpfobj.c) as the kernel gets it:
 * after libbpf's relocations, with the subprograms appended
 * (exitcheck_prog()), because a stacked cube that ends the tc (or XDP) run
 * itself skips every cube after it in its stack.
 */
#ifndef CUBI_EXITCHECK_H
#define CUBI_EXITCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

/*
 * The checker's version, stored with each cube's object record (persist.c):
 * a pinned program checked by an older one is not adopted blindly.
 *   1: the main function as libbpf holds it before load;
 *   2: the final instructions (after relocation, subprograms appended),
 *      the main function's exits, helpers in every function, kfuncs refused.
 */
#define EXITCHECK_VERSION 2u

/* More instructions than the kernel loads in one program: refused. */
#define EXITCHECK_MAX_INSNS 1000000u

/* What a program of one type may return at an EXIT. */
struct exitcheck_rule {
	enum bpf_prog_type type;
	const char *what; /* "TC_ACT_SHOT": the allowed set, for messages */
	const char *hint; /* "cub_pass_tc()": how to pass a packet instead */
	uint64_t allowed[2];
	size_t nallowed;
};

/* Why a program was refused (exitcheck_insns() returned non-zero). */
struct exitcheck_bad {
	size_t insn;       /* index of the offending instruction */
	const char *why;   /* malformed code: what is wrong (else NULL) */
	int known;         /* the exit returns a known constant ... */
	uint64_t value;    /* ... this one, outside the allowed set */
	int implicit_exit; /* a legacy packet load (LD_ABS/LD_IND) */
};

/* What the dataflow knows of a register at a helper call. */
enum {
	EXITCHECK_UNKNOWN,
	EXITCHECK_CONST, /* val: its value */
	EXITCHECK_MAX,   /* val: an upper bound of its value (unsigned) */
	EXITCHECK_FUNC,  /* val: the instruction a callback starts at */
	EXITCHECK_MAP,   /* val: a map's fd (a BPF_PSEUDO_MAP_FD load) */
};

struct exitcheck_arg {
	uint8_t kind;
	uint64_t val;
};

/* One helper call (src_reg 0) and what is known of its first arguments. */
struct exitcheck_call {
	size_t insn;
	int32_t helper;
	struct exitcheck_arg r1, r2;
};

/* A visitor of helper calls: non-zero stops the walk with that value. */
typedef int (*exitcheck_call_fn)(const struct exitcheck_call *call, void *arg);

/*
 * @brief **exitcheck_rule()** the rule for programs of @type.
 * @return the rule, or NULL if no rule is known for @type (the caller
 * refuses such a program in a transparent cube).
 */
const struct exitcheck_rule *exitcheck_rule(enum bpf_prog_type type);

/*
 * @brief **exitcheck_insns()** check that every EXIT of the function in
 * @insn[0..@n) returns a constant of @rule's set.  Forward dataflow over the
 * function's control flow graph: each register is a known constant or
 * unknown; a call clobbers r0-r5; both edges of a conditional jump (and
 * may_goto) are taken; joins keep equal constants only; iterated to a
 * fixpoint.  Calls to subprograms are not followed: their result in r0
 * is unknown.  Pure: no allocation survives, no logging; may block only
 * on memory allocation.
 * @return 0 if every reachable exit is allowed; -EPERM if an exit (or a
 * legacy packet load, which exits returning 0 on a short packet) may
 * return another value; -EINVAL for malformed code (a jump out of the
 * function, into the second slot of a 64-bit load, code falling off the
 * end, an unknown opcode or register); -E2BIG past EXITCHECK_MAX_INSNS;
 * -ENOMEM.  @bad says where and why for -EPERM and -EINVAL.
 */
int exitcheck_insns(const struct bpf_insn *insn, size_t n,
    const struct exitcheck_rule *rule, struct exitcheck_bad *bad);

/*
 * @brief **exitcheck_calls()** the same dataflow over the function in
 * @insn[0..@n) (no exit rule), calling @fn for every reachable helper call
 * with the final state at that call.  Indexes are @insn's; a callback's
 * start is relative to @insn[0] too.
 * @return 0; what @fn returned (and @bad->insn the call); -EINVAL for
 * malformed code (@bad says where), -E2BIG, -ENOMEM.
 */
int exitcheck_calls(const struct bpf_insn *insn, size_t n, exitcheck_call_fn fn,
    void *arg, struct exitcheck_bad *bad);

/*
 * @brief **exitcheck_main_len()** where the main function of the whole
 * program @insn[0..@n) ends: at the first subprogram, the lowest target of
 * a BPF_PSEUDO_CALL call or a BPF_PSEUDO_FUNC 64-bit load (a callback),
 * as the kernel splits a program into functions.
 * @return 0 and *@len (@n without subprograms); -EINVAL (@bad says
 * where) if a call or callback targets no instruction of the program.
 */
int exitcheck_main_len(const struct bpf_insn *insn, size_t n, size_t *len,
    struct exitcheck_bad *bad);

/*
 * @brief **exitcheck_prog()** exitcheck_insns() on the main function of
 * the whole program @insn[0..@n): only its exits are the program's
 * verdict, a subprogram's return to its caller.
 * @return as exitcheck_insns(), and exitcheck_main_len()'s -EINVAL.
 */
int exitcheck_prog(const struct bpf_insn *insn, size_t n,
    const struct exitcheck_rule *rule, struct exitcheck_bad *bad);

#endif /* CUBI_EXITCHECK_H */
