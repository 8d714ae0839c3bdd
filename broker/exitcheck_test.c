// SPDX-License-Identifier: BSD-2-Clause
/*
 * exitcheck.c on hand-written instruction arrays: what a transparent
 * cube's program may return at each exit, through joins, moves, calls,
 * loops, long jumps and 64-bit loads, and malformed code refused.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdlib.h>

#include <linux/pkt_cls.h>

#include "exitcheck.h"

#define I(c, d, s, o, i)                                                       \
	((struct bpf_insn){.code = (c),                                        \
	    .dst_reg = (d),                                                    \
	    .src_reg = (s),                                                    \
	    .off = (o),                                                        \
	    .imm = (i)})
#define MOV64(d, imm) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, imm)
#define MOV32(d, imm) I(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, imm)
#define MOV64R(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV32R(d, s) I(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD64(d, imm) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, imm)
#define JEQ(d, imm, o) I(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, imm)
#define JLT(d, imm, o) I(BPF_JMP | BPF_JLT | BPF_K, d, 0, o, imm)
#define JA(o) I(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define GOTOL(imm) I(BPF_JMP32 | BPF_JA, 0, 0, 0, imm)
#define MAY_GOTO(o) I(BPF_JMP | 0xe0, 0, 0, o, 0)
#define CALL(imm) I(BPF_JMP | BPF_CALL, 0, 0, 0, imm)
#define EXIT I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LDIMM64(d, s, lo, hi)                                                  \
	I(BPF_LD | BPF_IMM | BPF_DW, d, s, 0, lo), I(0, 0, 0, 0, hi)
#define LDX(d, s) I(BPF_LDX | BPF_MEM | BPF_W, d, s, 0, 0)
#define LDABS(imm) I(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, imm)
#define ATOMIC(s, op) I(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, s, -8, op)

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct exitcheck_bad bad;

static int
tc(const struct bpf_insn *insn, size_t n)
{
	return exitcheck_insns(
	    insn, n, exitcheck_rule(BPF_PROG_TYPE_SCHED_CLS), &bad);
}

/* Refused for an exit at insn whose r0 is unknown. */
static void
refused_unknown(int r, size_t insn)
{
	ck_assert_int_eq(r, -EPERM);
	ck_assert_uint_eq(bad.insn, insn);
	ck_assert_int_eq(bad.known, 0);
	ck_assert_ptr_null(bad.why);
}

static void
malformed(int r, size_t insn)
{
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_uint_eq(bad.insn, insn);
	ck_assert_ptr_nonnull(bad.why);
}

START_TEST(constant_exit)
{
	struct bpf_insn shot[] = {MOV64(0, TC_ACT_SHOT), EXIT};
	struct bpf_insn ok[] = {MOV64(0, TC_ACT_OK), EXIT};
	struct bpf_insn w32[] = {MOV32(0, TC_ACT_SHOT), EXIT};
	struct bpf_insn none[] = {EXIT};

	ck_assert_int_eq(tc(shot, N(shot)), 0);
	ck_assert_int_eq(tc(w32, N(w32)), 0);
	ck_assert_int_eq(tc(ok, N(ok)), -EPERM);
	ck_assert_uint_eq(bad.insn, 1);
	ck_assert_int_eq(bad.known, 1);
	ck_assert_uint_eq(bad.value, TC_ACT_OK);
	refused_unknown(tc(none, N(none)), 0); /* r0 never set */
	ck_assert_ptr_nonnull(exitcheck_rule(BPF_PROG_TYPE_SCHED_CLS));
	ck_assert_ptr_null(exitcheck_rule(BPF_PROG_TYPE_SOCKET_FILTER));
}
END_TEST

START_TEST(joins)
{
	/* if r1 == 0 goto 4; r0 = 2; goto 5; (4) r0 = 2 or 0; (5) exit */
	struct bpf_insn same[] = {
	    LDX(1, 1), JEQ(1, 0, 2), MOV64(0, 2), JA(1), MOV64(0, 2), EXIT};
	struct bpf_insn differ[] = {
	    LDX(1, 1), JEQ(1, 0, 2), MOV64(0, 2), JA(1), MOV64(0, 0), EXIT};
	/* Both values allowed but different: still refused (unknown). */
	struct bpf_insn xdp[] = {LDX(1, 1), JEQ(1, 0, 2), MOV64(0, XDP_DROP),
	    JA(1), MOV64(0, XDP_ABORTED), EXIT};
	/* Each exit its own constant. */
	struct bpf_insn two[] = {
	    LDX(1, 1), JEQ(1, 0, 2), MOV64(0, 2), EXIT, MOV64(0, 0), EXIT};

	ck_assert_int_eq(tc(same, N(same)), 0);
	refused_unknown(tc(differ, N(differ)), 5);
	refused_unknown(exitcheck_insns(xdp, N(xdp),
			    exitcheck_rule(BPF_PROG_TYPE_XDP), &bad),
	    5);
	ck_assert_int_eq(tc(two, N(two)), -EPERM);
	ck_assert_uint_eq(bad.insn, 5);
	ck_assert_uint_eq(bad.value, 0);
}
END_TEST

START_TEST(moves_and_calls)
{
	/* r6 (callee-saved) survives the call; r1 does not; nor does r0. */
	struct bpf_insn r6[] = {
	    MOV64(6, 2), CALL(BPF_FUNC_tail_call), MOV64R(0, 6), EXIT};
	struct bpf_insn r1[] = {
	    MOV64(1, 2), CALL(BPF_FUNC_tail_call), MOV64R(0, 1), EXIT};
	struct bpf_insn r0[] = {MOV64(0, 2), CALL(BPF_FUNC_tail_call), EXIT};
	/* A subprogram's result (BPF_PSEUDO_CALL) is unknown too. */
	struct bpf_insn sub[] = {
	    I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 3), EXIT};
	/* cub_pass_tc(): the tail call, then r0 = TC_ACT_SHOT. */
	struct bpf_insn pass[] = {LDIMM64(2, BPF_PSEUDO_MAP_FD, 3, 0),
	    MOV64(3, 0), CALL(BPF_FUNC_tail_call), MOV64(0, 2), EXIT};
	/* Arithmetic makes a register unknown, even on a constant. */
	struct bpf_insn add[] = {MOV64(0, 1), ADD64(0, 1), EXIT};
	/* A 32-bit move keeps the low half of a known value. */
	struct bpf_insn w[] = {LDIMM64(1, 0, 2, 1), MOV32R(0, 1), EXIT};
	struct bpf_insn x[] = {LDIMM64(1, 0, 2, 1), MOV64R(0, 1), EXIT};

	ck_assert_int_eq(tc(r6, N(r6)), 0);
	refused_unknown(tc(r1, N(r1)), 3);
	refused_unknown(tc(r0, N(r0)), 2);
	refused_unknown(tc(sub, N(sub)), 1);
	ck_assert_int_eq(tc(pass, N(pass)), 0);
	refused_unknown(tc(add, N(add)), 2);
	ck_assert_int_eq(tc(w, N(w)), 0);
	ck_assert_int_eq(tc(x, N(x)), -EPERM);
	ck_assert_uint_eq(bad.value, 0x100000002ull);
}
END_TEST

START_TEST(loops)
{
	/* r6 counts to 10 in a loop; r0 = 2 after it. */
	struct bpf_insn count[] = {
	    MOV64(6, 0), ADD64(6, 1), JLT(6, 10, -2), MOV64(0, 2), EXIT};
	/*
	 * r0 = 2; (1) if r1 == 0 goto exit; r0 = 0; r0 = 2 or not;
	 * goto 1: the back edge brings r0 = 0 to the loop head, which only
	 * the second round sees.
	 */
	struct bpf_insn weak[] = {LDX(1, 1), MOV64(0, 2), JEQ(1, 0, 3),
	    MOV64(0, 0), ADD64(1, -1), JA(-4), EXIT};
	struct bpf_insn kept[] = {LDX(1, 1), MOV64(0, 2), JEQ(1, 0, 3),
	    MOV64(0, 2), ADD64(1, -1), JA(-4), EXIT};
	/* may_goto: both edges. */
	struct bpf_insn mg[] = {MOV64(0, 2), MAY_GOTO(1), MOV64(0, 0), EXIT};

	ck_assert_int_eq(tc(count, N(count)), 0);
	refused_unknown(tc(weak, N(weak)), 6);
	ck_assert_int_eq(tc(kept, N(kept)), 0);
	refused_unknown(tc(mg, N(mg)), 3);
}
END_TEST

START_TEST(gotol)
{
	/* gotol's offset is imm: off (0) would fall into r0 = 0. */
	struct bpf_insn over[] = {MOV64(0, 2), GOTOL(1), MOV64(0, 0), EXIT};
	struct bpf_insn into[] = {MOV64(0, 0), GOTOL(1), MOV64(0, 2), EXIT};
	struct bpf_insn out[] = {MOV64(0, 2), GOTOL(100), EXIT};

	ck_assert_int_eq(tc(over, N(over)), 0);
	ck_assert_int_eq(tc(into, N(into)), -EPERM);
	ck_assert_uint_eq(bad.insn, 3);
	malformed(tc(out, N(out)), 1);
}
END_TEST

START_TEST(ld_imm64)
{
	/* Two slots: the second (code 0) is not an instruction. */
	struct bpf_insn two[] = {LDIMM64(0, 0, 2, 0), EXIT};
	struct bpf_insn wide[] = {LDIMM64(0, 0, 2, 1), EXIT};
	struct bpf_insn map[] = {LDIMM64(0, BPF_PSEUDO_MAP_FD, 2, 0), EXIT};
	struct bpf_insn cut[] = {
	    MOV64(0, 2), I(BPF_LD | BPF_IMM | BPF_DW, 0, 0, 0, 2)};
	/* A jump into the second slot. */
	struct bpf_insn mid[] = {
	    LDX(1, 1), JEQ(1, 0, 1), LDIMM64(0, 0, 2, 0), EXIT};
	/* A jump over both slots lands on the exit. */
	struct bpf_insn skip[] = {
	    LDX(1, 1), MOV64(0, 2), JEQ(1, 0, 2), LDIMM64(0, 0, 2, 0), EXIT};

	ck_assert_int_eq(tc(two, N(two)), 0);
	ck_assert_int_eq(tc(wide, N(wide)), -EPERM);
	ck_assert_uint_eq(bad.insn, 2);
	ck_assert_uint_eq(bad.value, (1ull << 32) | 2);
	refused_unknown(tc(map, N(map)), 2);
	malformed(tc(cut, N(cut)), 1);
	malformed(tc(mid, N(mid)), 3);
	ck_assert_int_eq(tc(skip, N(skip)), 0);
}
END_TEST

START_TEST(malformed_code)
{
	struct bpf_insn past[] = {MOV64(0, 2), JA(5), EXIT};
	struct bpf_insn before[] = {MOV64(0, 2), JA(-3), EXIT};
	struct bpf_insn falls[] = {MOV64(0, 2)};
	struct bpf_insn cond_falls[] = {MOV64(0, 2), JEQ(1, 0, -2)};
	struct bpf_insn reg[] = {MOV64(11, 2), MOV64(0, 2), EXIT};
	struct bpf_insn op[] = {
	    MOV64(0, 2), I(BPF_JMP | 0xf0, 0, 0, 0, 0), EXIT};
	struct bpf_insn call32[] = {
	    MOV64(0, 2), I(BPF_JMP32 | BPF_CALL, 0, 0, 0, 1), EXIT};
	static struct bpf_insn one;

	malformed(tc(past, N(past)), 1);
	malformed(tc(before, N(before)), 1);
	malformed(tc(falls, N(falls)), 0);
	malformed(tc(cond_falls, N(cond_falls)), 1);
	malformed(tc(reg, N(reg)), 0);
	malformed(tc(op, N(op)), 1);
	malformed(tc(call32, N(call32)), 1);
	malformed(tc(&one, 0), 0);
	ck_assert_int_eq(tc(&one, EXITCHECK_MAX_INSNS + 1), -E2BIG);
}
END_TEST

START_TEST(implicit_exits_and_atomics)
{
	/* LD_ABS ends the program with 0 (TC_ACT_OK) on a short packet. */
	struct bpf_insn abs[] = {MOV64(6, 1), LDABS(12), MOV64(0, 2), EXIT};
	struct bpf_insn fetch[] = {
	    MOV64(0, 2), ATOMIC(0, BPF_ADD | BPF_FETCH), EXIT};
	struct bpf_insn add[] = {
	    MOV64(0, 2), MOV64(1, 1), ATOMIC(1, BPF_ADD), EXIT};
	struct bpf_insn cmpxchg[] = {
	    MOV64(0, 2), MOV64(1, 1), ATOMIC(1, BPF_CMPXCHG), EXIT};

	ck_assert_int_eq(tc(abs, N(abs)), -EPERM);
	ck_assert_uint_eq(bad.insn, 1);
	ck_assert_int_eq(bad.implicit_exit, 1);
	refused_unknown(tc(fetch, N(fetch)), 2);
	ck_assert_int_eq(tc(add, N(add)), 0);
	refused_unknown(tc(cmpxchg, N(cmpxchg)), 3);
}
END_TEST

START_TEST(xdp_rule)
{
	const struct exitcheck_rule *x = exitcheck_rule(BPF_PROG_TYPE_XDP);
	struct bpf_insn drop[] = {MOV64(0, XDP_DROP), EXIT};
	struct bpf_insn aborted[] = {MOV64(0, XDP_ABORTED), EXIT};
	struct bpf_insn pass[] = {MOV64(0, XDP_PASS), EXIT};
	struct bpf_insn tx[] = {MOV64(0, XDP_TX), EXIT};

	ck_assert_int_eq(exitcheck_insns(drop, N(drop), x, &bad), 0);
	ck_assert_int_eq(exitcheck_insns(aborted, N(aborted), x, &bad), 0);
	/* XDP_PASS is TC_ACT_SHOT's value: the rule is the type's. */
	ck_assert_int_eq(exitcheck_insns(pass, N(pass), x, &bad), -EPERM);
	ck_assert_uint_eq(bad.insn, 1);
	ck_assert_int_eq(exitcheck_insns(tx, N(tx), x, &bad), -EPERM);
}
END_TEST

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

#define PCALL(off) I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, off)

static int
prog(const struct bpf_insn *insn, size_t n)
{
	return exitcheck_prog(
	    insn, n, exitcheck_rule(BPF_PROG_TYPE_SCHED_CLS), &bad);
}

/*
 * Whole programs as the kernel gets them: the main function, then the
 * subprograms libbpf appended.  Only the main function's exits are the
 * verdict; a subprogram's return to its caller, whose r0 is then unknown.
 */
START_TEST(per_function)
{
	/* main: call sub; r0 = 2; exit.  sub (3): r0 = 0; exit. */
	struct bpf_insn sub_ok[] = {
	    PCALL(2), MOV64(0, TC_ACT_SHOT), EXIT, MOV64(0, TC_ACT_OK), EXIT};
	/* main: call sub; exit (r0 is the subprogram's).  */
	struct bpf_insn sub_verdict[] = {
	    PCALL(1), EXIT, MOV64(0, TC_ACT_SHOT), EXIT};
	/* main's own exit passes; the subprogram drops: refused at 2. */
	struct bpf_insn main_ok[] = {PCALL(2), MOV64(0, TC_ACT_OK), EXIT,
	    MOV64(0, TC_ACT_SHOT), EXIT};
	/* A callback (ld_imm64 BPF_PSEUDO_FUNC) starts a function too. */
	struct bpf_insn cb[] = {LDIMM64(2, BPF_PSEUDO_FUNC, 4, 0),
	    CALL(BPF_FUNC_loop), MOV64(0, TC_ACT_SHOT), EXIT,
	    MOV64(0, 0), EXIT};
	/* Two subprograms: main ends at the lower one. */
	struct bpf_insn two[] = {PCALL(5), PCALL(2), MOV64(0, TC_ACT_SHOT),
	    EXIT, MOV64(0, 1), EXIT, MOV64(0, 0), EXIT};
	/* A call to no instruction of the program. */
	struct bpf_insn out[] = {PCALL(5), MOV64(0, TC_ACT_SHOT), EXIT};
	size_t len;

	ck_assert_int_eq(prog(sub_ok, N(sub_ok)), 0);
	ck_assert_int_eq(exitcheck_main_len(sub_ok, N(sub_ok), &len, &bad), 0);
	ck_assert_uint_eq(len, 3);
	refused_unknown(prog(sub_verdict, N(sub_verdict)), 1);
	ck_assert_int_eq(prog(main_ok, N(main_ok)), -EPERM);
	ck_assert_uint_eq(bad.insn, 2);
	ck_assert_uint_eq(bad.value, TC_ACT_OK);
	ck_assert_int_eq(prog(cb, N(cb)), 0);
	ck_assert_int_eq(exitcheck_main_len(cb, N(cb), &len, &bad), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(prog(two, N(two)), 0);
	ck_assert_int_eq(exitcheck_main_len(two, N(two), &len, &bad), 0);
	ck_assert_uint_eq(len, 4);
	malformed(prog(out, N(out)), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("exitcheck");
	TCase *t = tcase_create("exitcheck");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, constant_exit);
	tcase_add_test(t, joins);
	tcase_add_test(t, moves_and_calls);
	tcase_add_test(t, loops);
	tcase_add_test(t, gotol);
	tcase_add_test(t, ld_imm64);
	tcase_add_test(t, malformed_code);
	tcase_add_test(t, implicit_exits_and_atomics);
	tcase_add_test(t, xdp_rule);
	tcase_add_test(t, large);
	tcase_add_test(t, per_function);
	suite_add_tcase(s, t);
	return cubi_check_run(s);
}
