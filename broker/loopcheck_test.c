// SPDX-License-Identifier: BSD-2-Clause
/*
 * loopcheck.c on hand-written programs: bpf_loop() rounds times its
 * callback's costliest path, bounded counts (constants, AND, compares),
 * loops in callbacks and calls in loops refused, backward jumps that are
 * no loop taken, for_each_map_elem by its map's entries, may_goto and
 * nesting refused, the bound.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "insn_test.h"
#include "loopcheck.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define INSNS(...)                                                             \
	.insn = {__VA_ARGS__}, .n = N(((struct bpf_insn[]){__VA_ARGS__}))

/* A call's cost beside its callback's: the call itself. */
#define H LOOPCHECK_HELPER_COST

/* bpf_loop(r1, the callback at insn 8, 0, 0); return 2. */
#define LOOP_AT_8                                                              \
	LDFUNC(2, 6), MOV64(3, 0), MOV64(4, 0), CALL(BPF_FUNC_loop),           \
	    MOV64(0, 2), EXIT

struct lcase {
	const char *name;
	struct bpf_insn insn[24];
	size_t n;
	uint64_t bound; /* 0: 1 << 30 */
	int want;       /* 0 or -EPERM / -EINVAL */
	uint64_t cost;  /* when 0 is wanted */
	const char *why; /* a part of the refusal */
};

static uint64_t
entries(int fd, void *arg)
{
	(void)arg;
	return fd == 7 ? 1000 : 0;
}

static void
get_case(int i, struct lcase *x, size_t *count)
{
	const struct lcase cases[] = {
	    /* 0: r1 = 16; 1-2: r2 = cb; ...; 8: r0 = 0; 9: exit */
	    {"constant rounds",
		INSNS(MOV64(1, 16), LOOP_AT_8, MOV64(0, 0), EXIT),
		.cost = 16 * (2 + H)},
	    {"over the bound",
		INSNS(MOV64(1, 16), LOOP_AT_8, MOV64(0, 0), EXIT),
		.bound = 16 * (2 + H) - 1, .want = -EPERM,
		.why = "up to 16 times: the program's loops cost 288, over "
		       "the broker's bound of 287"},
	    {"count from memory",
		INSNS(LDX(1, 1), LOOP_AT_8, MOV64(0, 0), EXIT), .want = -EPERM,
		.why = "its count (r1) is not bounded by the code"},
	    {"count over the kernel's cap",
		INSNS(MOV64(1, 1 << 30), LOOP_AT_8, MOV64(0, 0), EXIT),
		.cost = (uint64_t)LOOPCHECK_MAX_ROUNDS * (2 + H)},
	    {"count compared first",
		/* 0: r1 = *; 1: if r1 > 100 goto 9 (exit 2); ... */
		INSNS(LDX(1, 1), JGT(1, 100, 7), LDFUNC(2, 8), MOV64(3, 0),
		    MOV64(4, 0), CALL(BPF_FUNC_loop), MOV64(0, 2), EXIT,
		    MOV64(0, 2), EXIT, MOV64(0, 0), EXIT),
		.cost = 100 * (2 + H)},
	    {"callback loops",
		/* 8: r0 = 0; 9: r0 += 1; 10: if r0 < 10 goto 9; 11: exit */
		INSNS(MOV64(1, 4), LOOP_AT_8, MOV64(0, 0), ADD64(0, 1),
		    JLT(0, 10, -2), EXIT),
		.want = -EPERM, .why = "a loop at insn 9, in code a callback runs"},
	    {"a backward jump is no loop",
		/* 8: goto 11; 9: r0 = 0; 10: exit; 11: r0 = 1; 12: goto 9 */
		INSNS(MOV64(1, 4), LOOP_AT_8, JA(2), MOV64(0, 0), EXIT,
		    MOV64(0, 1), JA(-4)),
		.cost = 4 * (5 + H)},
	    {"costliest path, not the sum",
		/* 8: if r1 == 0 goto 12; 9-11: three moves; 12: exit */
		INSNS(MOV64(1, 1), LOOP_AT_8, JEQ(1, 0, 3), MOV64(0, 0),
		    MOV64(0, 0), MOV64(0, 0), EXIT),
		.cost = 1 * (5 + H)},
	    {"a helper in the callback counts",
		INSNS(MOV64(1, 2), LOOP_AT_8, CALL(BPF_FUNC_ktime_get_ns),
		    MOV64(0, 0), EXIT),
		.cost = 2 * (3 + H + H)},
	    {"bpf_loop inside a loop",
		/* 0: r6 = 0; 1: r1 = 4; 2-3: r2 = cb (12); 4, 5; 6: call;
		 * 7: r6 += 1; 8: if r6 < 3 goto 1; 9: r0 = 2; 10: exit;
		 * 11: padding; 12: r0 = 0; 13: exit */
		INSNS(MOV64(6, 0), MOV64(1, 4), LDFUNC(2, 9), MOV64(3, 0),
		    MOV64(4, 0), CALL(BPF_FUNC_loop), ADD64(6, 1),
		    JLT(6, 3, -9), MOV64(0, 2), EXIT, MOV64(0, 0), EXIT),
		.want = -EPERM, .why = "is inside a loop"},
	    {"may_goto",
		INSNS(MAY_GOTO(0), MOV64(0, 2), EXIT), .want = -EPERM,
		.why = "may_goto at insn 0"},
	    {"callback helper in a subprogram",
		/* 0: call 3; 1: r0 = 2; 2: exit; 3: r1 = 1; 4-5: r2 = cb;
		 * 6,7; 8: call loop; 9: exit; 10: r0 = 0; 11: exit */
		INSNS(PCALL(2), MOV64(0, 2), EXIT, MOV64(1, 1), LDFUNC(2, 5),
		    MOV64(3, 0), MOV64(4, 0), CALL(BPF_FUNC_loop), EXIT,
		    MOV64(0, 0), EXIT),
		.want = -EPERM, .why = "bpf_loop at insn 8, in a subprogram"},
	    {"callback not known",
		INSNS(MOV64(1, 1), MOV64(2, 0), CALL(BPF_FUNC_loop), MOV64(0, 2),
		    EXIT),
		.want = -EPERM, .why = "its callback (r2) is not known"},
	    {"for_each_map_elem: the map's entries",
		/* 0-1: r1 = map 7; 2-3: r2 = cb (8); 4, 5; 6: call;
		 * 7: exit; 8: r0 = 0; 9: exit */
		INSNS(LDMAP(1, 7), LDFUNC(2, 5), MOV64(3, 0), MOV64(4, 0),
		    CALL(BPF_FUNC_for_each_map_elem), EXIT, MOV64(0, 0), EXIT),
		.cost = 1000 * (2 + H)},
	    {"for_each_map_elem: an unknown map",
		INSNS(LDMAP(1, 8), LDFUNC(2, 5), MOV64(3, 0), MOV64(4, 0),
		    CALL(BPF_FUNC_for_each_map_elem), EXIT, MOV64(0, 0), EXIT),
		.want = -EPERM, .why = "its map (r1) is not known"},
	    {"the callback's subprogram counts",
		/* 8: call 11; 9: r0 = 0; 10: exit; 11: three moves; 14 */
		INSNS(MOV64(1, 3), LOOP_AT_8, PCALL(2), MOV64(0, 0), EXIT,
		    MOV64(0, 0), MOV64(0, 0), MOV64(0, 0), EXIT),
		.cost = 3 * ((3 + 4) + H)},
	    {"two calls add up",
		/* 0: r1 = 2; 1-2; 3, 4; 5: call; 6: r1 = 3; 7-8: r2 = cb;
		 * 9, 10; 11: call; 12: r0 = 2; 13: exit; 14: r0 = 0; 15 */
		INSNS(MOV64(1, 2), LDFUNC(2, 12), MOV64(3, 0), MOV64(4, 0),
		    CALL(BPF_FUNC_loop), MOV64(1, 3), LDFUNC(2, 6), MOV64(3, 0),
		    MOV64(4, 0), CALL(BPF_FUNC_loop), MOV64(0, 2), EXIT,
		    MOV64(0, 0), EXIT),
		.cost = 5 * (2 + H)},
	    {"no loop at all", INSNS(MOV64(0, 2), EXIT), .cost = 0},
	};

	*count = N(cases);
	if (i >= 0 && (size_t)i < N(cases))
		*x = cases[i];
}

START_TEST(test_case)
{
	struct loopcheck_bad bad;
	struct lcase x;
	uint64_t cost;
	size_t count;
	int r;

	get_case(_i, &x, &count);
	r = loopcheck_prog(x.insn, x.n, x.bound ?: 1ull << 30, entries, NULL,
	    &cost, &bad);
	ck_assert_msg(r == x.want, "%s: %d (%s), want %d", x.name, r, bad.why,
	    x.want);
	if (!r)
		ck_assert_msg(cost == x.cost, "%s: cost %llu, want %llu", x.name,
		    (unsigned long long)cost, (unsigned long long)x.cost);
	if (x.why)
		ck_assert_msg(strstr(bad.why, x.why), "%s: '%s' lacks '%s'",
		    x.name, bad.why, x.why);
}
END_TEST

/* A masked count's rounds: r1 & 255 runs the callback 255 times at most. */
START_TEST(test_masked)
{
	struct bpf_insn p[] = {LDX(1, 1), AND64(1, 255), LDFUNC(2, 6),
	    MOV64(3, 0), MOV64(4, 0), CALL(BPF_FUNC_loop), MOV64(0, 2), EXIT,
	    MOV64(0, 0), EXIT};
	struct loopcheck_bad bad;
	uint64_t cost;

	ck_assert_int_eq(
	    loopcheck_prog(p, N(p), 1ull << 30, NULL, NULL, &cost, &bad), 0);
	ck_assert_uint_eq(cost, 255 * (2 + H));
	/* r1 >> 24 of a 32-bit value: at most 255 too. */
	p[0] = LDX(1, 1);
	p[1] = I(BPF_ALU | BPF_RSH | BPF_K, 1, 0, 0, 24);
	ck_assert_int_eq(
	    loopcheck_prog(p, N(p), 1ull << 30, NULL, NULL, &cost, &bad), 0);
	ck_assert_uint_eq(cost, 255 * (2 + H));
	/* r1 += 1 after the mask: no bound. */
	p[1] = ADD64(1, 1);
	ck_assert_int_eq(
	    loopcheck_prog(p, N(p), 1ull << 30, NULL, NULL, &cost, &bad),
	    -EPERM);
}
END_TEST

START_TEST(test_malformed)
{
	struct bpf_insn out[] = {PCALL(5), EXIT};
	struct bpf_insn jump[] = {MOV64(0, 2), JA(4), EXIT};
	struct loopcheck_bad bad;
	uint64_t cost;

	ck_assert_int_eq(
	    loopcheck_prog(out, N(out), 1, NULL, NULL, &cost, &bad), -EINVAL);
	ck_assert_int_eq(
	    loopcheck_prog(jump, N(jump), 1, NULL, NULL, &cost, &bad), -EINVAL);
	ck_assert_int_eq(loopcheck_prog(out, 0, 1, NULL, NULL, &cost, &bad),
	    -EINVAL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("loopcheck");
	TCase *t = tcase_create("loopcheck");
	struct lcase x;
	size_t count;

	get_case(-1, &x, &count);
	tcase_add_loop_test(t, test_case, 0, (int)count);
	tcase_add_test(t, test_masked);
	tcase_add_test(t, test_malformed);
	suite_add_tcase(s, t);
	return cubi_check_run(s);
}
