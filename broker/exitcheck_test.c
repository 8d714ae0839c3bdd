// SPDX-License-Identifier: BSD-2-Clause
/*
 * exitcheck.c on hand-written instruction arrays: what a transparent
 * cube's program may return at each exit, through joins, moves, calls,
 * loops, long jumps and 64-bit loads, and malformed code refused.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_cls.h>

#include "exitcheck.h"

#include "insn_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct exitcheck_bad bad;

static int
tc(const struct bpf_insn *insn, size_t n)
{
	return exitcheck_insns(
	    insn, n, exitcheck_rule(BPF_PROG_TYPE_SCHED_CLS), &bad);
}


/* What the check says of one case. */
enum want {
	PASSES,    /* 0 */
	UNKNOWN,   /* -EPERM: the exit at .at may return anything */
	VALUE,     /* -EPERM: the exit at .at returns .value */
	MALFORMED, /* -EINVAL at .at, with a reason */
	IMPLICIT,  /* -EPERM: the legacy packet load at .at */
};

/*
 * One instruction array and its verdict: exitcheck_insns() under the
 * rule of .type (TC when 0), or with .prog exitcheck_prog() on a whole
 * program (the main function, then the subprograms libbpf appended; only
 * the main function's exits are the verdict, and exitcheck_main_len() is
 * .main_len when set).
 */
struct xcase {
	const char *name;
	struct bpf_insn insn[16];
	size_t n;
	enum bpf_prog_type type;
	bool prog;
	enum want want;
	size_t at;
	uint64_t value;
	size_t main_len;
};

#define INSNS(...)                                                             \
	.insn = {__VA_ARGS__}, .n = N(((struct bpf_insn[]){__VA_ARGS__}))

/*
 * The cases, built at run time (the instruction macros are compound
 * literals, not constants): *@x = case @i of *@count.
 */
static void
get_case(int i, struct xcase *x, size_t *count)
{
	const struct xcase cases[] = {
	    /* Constant exits. */
	    {"shot", INSNS(MOV64(0, TC_ACT_SHOT), EXIT)},
	    {"shot, 32-bit move", INSNS(MOV32(0, TC_ACT_SHOT), EXIT)},
	    {"ok", INSNS(MOV64(0, TC_ACT_OK), EXIT), .want = VALUE, .at = 1,
		.value = TC_ACT_OK},
	    {"r0 never set", INSNS(EXIT), .want = UNKNOWN, .at = 0},
	    /* Joins: if r1 == 0 goto 4; r0 = 2; goto 5; (4) r0 = 2 or 0; exit.
	     */
	    {"join, same constant", INSNS(LDX(1, 1), JEQ(1, 0, 2), MOV64(0, 2),
					JA(1), MOV64(0, 2), EXIT)},
	    {"join, constants differ",
		INSNS(LDX(1, 1), JEQ(1, 0, 2), MOV64(0, 2), JA(1), MOV64(0, 0),
		    EXIT),
		.want = UNKNOWN, .at = 5},
	    /* Both values allowed but different: still refused (unknown). */
	    {"join, two allowed XDP values",
		INSNS(LDX(1, 1), JEQ(1, 0, 2), MOV64(0, XDP_DROP), JA(1),
		    MOV64(0, XDP_ABORTED), EXIT),
		.type = BPF_PROG_TYPE_XDP, .want = UNKNOWN, .at = 5},
	    /* Each exit its own constant. */
	    {"two exits",
		INSNS(LDX(1, 1), JEQ(1, 0, 2), MOV64(0, 2), EXIT, MOV64(0, 0),
		    EXIT),
		.want = VALUE, .at = 5, .value = 0},
	    /* Moves and calls: r6 (callee-saved) survives a call; r1 and r0 do
	     * not. */
	    {"r6 across a call", INSNS(MOV64(6, 2), CALL(BPF_FUNC_tail_call),
				     MOV64R(0, 6), EXIT)},
	    {"r1 across a call",
		INSNS(
		    MOV64(1, 2), CALL(BPF_FUNC_tail_call), MOV64R(0, 1), EXIT),
		.want = UNKNOWN, .at = 3},
	    {"r0 across a call",
		INSNS(MOV64(0, 2), CALL(BPF_FUNC_tail_call), EXIT),
		.want = UNKNOWN, .at = 2},
	    /* A subprogram's result (BPF_PSEUDO_CALL) is unknown too. */
	    {"subprogram result", INSNS(PCALL(3), EXIT), .want = UNKNOWN,
		.at = 1},
	    /* cub_pass_tc(): the tail call, then r0 = TC_ACT_SHOT. */
	    {"cub_pass_tc()",
		INSNS(LDIMM64(2, BPF_PSEUDO_MAP_FD, 3, 0), MOV64(3, 0),
		    CALL(BPF_FUNC_tail_call), MOV64(0, 2), EXIT)},
	    /* Arithmetic makes a register unknown, even on a constant. */
	    {"arithmetic", INSNS(MOV64(0, 1), ADD64(0, 1), EXIT),
		.want = UNKNOWN, .at = 2},
	    /* A 32-bit move keeps the low half of a known value. */
	    {"32-bit move of a 64-bit constant",
		INSNS(LDIMM64(1, 0, 2, 1), MOV32R(0, 1), EXIT)},
	    {"64-bit move of a 64-bit constant",
		INSNS(LDIMM64(1, 0, 2, 1), MOV64R(0, 1), EXIT), .want = VALUE,
		.at = 3, .value = 0x100000002ull},
	    /* Loops: r6 counts to 10; r0 = 2 after it. */
	    {"counted loop", INSNS(MOV64(6, 0), ADD64(6, 1), JLT(6, 10, -2),
				 MOV64(0, 2), EXIT)},
	    /* r0 = 2; (1) if r1 == 0 goto exit; r0 = 0; r0 = 2 or not; goto 1:
	     * the back edge brings r0 = 0 to the loop head, which only the
	     * second round sees. */
	    {"back edge weakens",
		INSNS(LDX(1, 1), MOV64(0, 2), JEQ(1, 0, 3), MOV64(0, 0),
		    ADD64(1, -1), JA(-4), EXIT),
		.want = UNKNOWN, .at = 6},
	    {"back edge keeps", INSNS(LDX(1, 1), MOV64(0, 2), JEQ(1, 0, 3),
				    MOV64(0, 2), ADD64(1, -1), JA(-4), EXIT)},
	    /* may_goto: both edges. */
	    {"may_goto", INSNS(MOV64(0, 2), MAY_GOTO(1), MOV64(0, 0), EXIT),
		.want = UNKNOWN, .at = 3},
	    /* gotol's offset is imm: off (0) would fall into r0 = 0. */
	    {"gotol over", INSNS(MOV64(0, 2), GOTOL(1), MOV64(0, 0), EXIT)},
	    {"gotol into", INSNS(MOV64(0, 0), GOTOL(1), MOV64(0, 2), EXIT),
		.want = VALUE, .at = 3, .value = 0},
	    {"gotol out", INSNS(MOV64(0, 2), GOTOL(100), EXIT),
		.want = MALFORMED, .at = 1},
	    /* 64-bit loads: two slots, the second (code 0) not an instruction.
	     */
	    {"ld_imm64", INSNS(LDIMM64(0, 0, 2, 0), EXIT)},
	    {"ld_imm64 wide", INSNS(LDIMM64(0, 0, 2, 1), EXIT), .want = VALUE,
		.at = 2, .value = (1ull << 32) | 2},
	    {"ld_imm64 map", INSNS(LDIMM64(0, BPF_PSEUDO_MAP_FD, 2, 0), EXIT),
		.want = UNKNOWN, .at = 2},
	    {"ld_imm64 cut",
		INSNS(MOV64(0, 2), I(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 2)),
		.want = MALFORMED, .at = 1},
	    /* A jump into the second slot. */
	    {"jump into ld_imm64",
		INSNS(LDX(1, 1), JEQ(1, 0, 1), LDIMM64(0, 0, 2, 0), EXIT),
		.want = MALFORMED, .at = 3},
	    /* A jump over both slots lands on the exit. */
	    {"jump over ld_imm64", INSNS(LDX(1, 1), MOV64(0, 2), JEQ(1, 0, 2),
				       LDIMM64(0, 0, 2, 0), EXIT)},
	    /* Malformed code. */
	    {"jump past the end", INSNS(MOV64(0, 2), JA(5), EXIT),
		.want = MALFORMED, .at = 1},
	    {"jump before the start", INSNS(MOV64(0, 2), JA(-3), EXIT),
		.want = MALFORMED, .at = 1},
	    {"falls off the end", INSNS(MOV64(0, 2)), .want = MALFORMED,
		.at = 0},
	    {"conditional falls off", INSNS(MOV64(0, 2), JEQ(1, 0, -2)),
		.want = MALFORMED, .at = 1},
	    {"register 11", INSNS(MOV64(11, 2), MOV64(0, 2), EXIT),
		.want = MALFORMED, .at = 0},
	    {"unknown jump op",
		INSNS(MOV64(0, 2), I(BPF_JMP | 0xf0, 0, 0, 0, 0), EXIT),
		.want = MALFORMED, .at = 1},
	    {"32-bit call",
		INSNS(MOV64(0, 2), I(BPF_JMP32 | BPF_CALL, 0, 0, 0, 1), EXIT),
		.want = MALFORMED, .at = 1},
	    /* LD_ABS ends the program with 0 (TC_ACT_OK) on a short packet. */
	    {"LD_ABS", INSNS(MOV64(6, 1), LDABS(12), MOV64(0, 2), EXIT),
		.want = IMPLICIT, .at = 1},
	    /* Atomics: a fetch writes its source register (cmpxchg: r0). */
	    {"atomic fetch into r0",
		INSNS(MOV64(0, 2), ATOMIC(0, BPF_ADD | BPF_FETCH), EXIT),
		.want = UNKNOWN, .at = 2},
	    {"atomic add",
		INSNS(MOV64(0, 2), MOV64(1, 1), ATOMIC(1, BPF_ADD), EXIT)},
	    {"atomic cmpxchg",
		INSNS(MOV64(0, 2), MOV64(1, 1), ATOMIC(1, BPF_CMPXCHG), EXIT),
		.want = UNKNOWN, .at = 3},
	    /* XDP's rule: XDP_PASS is TC_ACT_SHOT's value, the rule is the
	     * type's. */
	    {"XDP_DROP", INSNS(MOV64(0, XDP_DROP), EXIT),
		.type = BPF_PROG_TYPE_XDP},
	    {"XDP_ABORTED", INSNS(MOV64(0, XDP_ABORTED), EXIT),
		.type = BPF_PROG_TYPE_XDP},
	    {"XDP_PASS", INSNS(MOV64(0, XDP_PASS), EXIT),
		.type = BPF_PROG_TYPE_XDP, .want = VALUE, .at = 1,
		.value = XDP_PASS},
	    {"XDP_TX", INSNS(MOV64(0, XDP_TX), EXIT), .type = BPF_PROG_TYPE_XDP,
		.want = VALUE, .at = 1, .value = XDP_TX},
	    /* Whole programs.  main: call sub; r0 = 2; exit.  sub (3): r0 = 0.
	     */
	    {"subprogram returns 0",
		INSNS(PCALL(2), MOV64(0, TC_ACT_SHOT), EXIT,
		    MOV64(0, TC_ACT_OK), EXIT),
		.prog = true, .main_len = 3},
	    /* main: call sub; exit (r0 is the subprogram's). */
	    {"subprogram's verdict",
		INSNS(PCALL(1), EXIT, MOV64(0, TC_ACT_SHOT), EXIT),
		.prog = true, .want = UNKNOWN, .at = 1},
	    /* main's own exit passes; the subprogram drops: refused at 2. */
	    {"main passes",
		INSNS(PCALL(2), MOV64(0, TC_ACT_OK), EXIT,
		    MOV64(0, TC_ACT_SHOT), EXIT),
		.prog = true, .want = VALUE, .at = 2, .value = TC_ACT_OK},
	    /* A callback (ld_imm64 BPF_PSEUDO_FUNC) starts a function too. */
	    {"callback",
		INSNS(LDIMM64(2, BPF_PSEUDO_FUNC, 4, 0), CALL(BPF_FUNC_loop),
		    MOV64(0, TC_ACT_SHOT), EXIT, MOV64(0, 0), EXIT),
		.prog = true, .main_len = 5},
	    /* Two subprograms: main ends at the lower one. */
	    {"two subprograms",
		INSNS(PCALL(5), PCALL(2), MOV64(0, TC_ACT_SHOT), EXIT,
		    MOV64(0, 1), EXIT, MOV64(0, 0), EXIT),
		.prog = true, .main_len = 4},
	    /* A call to no instruction of the program. */
	    {"call out of the program",
		INSNS(PCALL(5), MOV64(0, TC_ACT_SHOT), EXIT), .prog = true,
		.want = MALFORMED, .at = 0},
	};

	*count = N(cases);
	if (x && i >= 0 && (size_t)i < N(cases))
		*x = cases[i];
}

START_TEST(table)
{
	struct xcase c, *x = &c;
	size_t count;
	const struct exitcheck_rule *rule;
	size_t len;
	int r;

	get_case(_i, x, &count);
	ck_assert_int_lt(_i, (int)count);
	rule = exitcheck_rule(x->type ?: BPF_PROG_TYPE_SCHED_CLS);
	ck_assert_ptr_nonnull(rule);
	ck_assert_uint_le(x->n, N(x->insn));
	memset(&bad, 0xa5, sizeof(bad));
	r = (x->prog ? exitcheck_prog : exitcheck_insns)(
	    x->insn, x->n, rule, &bad);
	switch (x->want) {
	case PASSES:
		ck_assert_msg(r == 0, "%s: %d", x->name, r);
		break;
	case UNKNOWN:
	case VALUE:
	case IMPLICIT:
		ck_assert_msg(r == -EPERM, "%s: %d", x->name, r);
		ck_assert_msg(
		    bad.insn == x->at, "%s: at %zu", x->name, bad.insn);
		ck_assert_ptr_null(bad.why);
		ck_assert_int_eq(bad.implicit_exit, x->want == IMPLICIT);
		if (x->want != IMPLICIT)
			ck_assert_int_eq(bad.known, x->want == VALUE);
		if (x->want == VALUE)
			ck_assert_msg(bad.value == x->value, "%s: value %llu",
			    x->name, (unsigned long long)bad.value);
		break;
	case MALFORMED:
		ck_assert_msg(r == -EINVAL, "%s: %d", x->name, r);
		ck_assert_msg(
		    bad.insn == x->at, "%s: at %zu", x->name, bad.insn);
		ck_assert_ptr_nonnull(bad.why);
		break;
	}
	if (x->main_len) {
		ck_assert_int_eq(
		    exitcheck_main_len(x->insn, x->n, &len, &bad), 0);
		ck_assert_uint_eq(len, x->main_len);
	}
}
END_TEST

START_TEST(rules_and_sizes)
{
	static struct bpf_insn one;

	ck_assert_ptr_nonnull(exitcheck_rule(BPF_PROG_TYPE_SCHED_CLS));
	ck_assert_ptr_null(exitcheck_rule(BPF_PROG_TYPE_SOCKET_FILTER));
	ck_assert_int_eq(tc(&one, 0), -EINVAL);
	ck_assert_uint_eq(bad.insn, 0);
	ck_assert_ptr_nonnull(bad.why);
	ck_assert_int_eq(tc(&one, EXITCHECK_MAX_INSNS + 1), -E2BIG);
}
END_TEST

/* Refused for an exit at insn whose r0 is unknown. */
static void
refused_unknown(int r, size_t insn)
{
	ck_assert_int_eq(r, -EPERM);
	ck_assert_uint_eq(bad.insn, insn);
	ck_assert_int_eq(bad.known, 0);
	ck_assert_ptr_null(bad.why);
}

/*
 * 300k instructions: a chain of branches over r0 = 2, each joining; one
 * r0 = 0 in the middle makes every join after it unknown, up to the exit.
 */
START_TEST(large)
{
	size_t n = 300000, i;
	struct bpf_insn *p = calloc(n, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	p[0] = LDX(1, 1);
	p[1] = MOV64(0, 2);
	for (i = 2; i + 1 < n - 1; i += 2) {
		p[i] = JEQ(1, (int)i, 1);
		p[i + 1] = MOV64(0, 2);
	}
	for (; i < n - 1; i++)
		p[i] = MOV64(6, 0);
	p[n - 1] = EXIT;
	ck_assert_int_eq(tc(p, n), 0);
	p[1001] = MOV64(0, 0);
	refused_unknown(tc(p, n), n - 1);
	free(p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("exitcheck");
	TCase *t = tcase_create("exitcheck");
	size_t ncases;

	tcase_set_timeout(t, 60);
	get_case(-1, NULL, &ncases);
	tcase_add_loop_test(t, table, 0, (int)ncases);
	tcase_add_test(t, rules_and_sizes);
	tcase_add_test(t, large);
	suite_add_tcase(s, t);
	return cubi_check_run(s);
}
