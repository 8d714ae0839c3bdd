// SPDX-License-Identifier: BSD-2-Clause
/*
 * The exit check (exitcheck.h): a forward constant propagation over one
 * BPF function's control flow graph, by basic blocks.  A block starts at
 * instruction 0, at every jump target and after every jump or exit; the
 * state at a block's entry is, per register r0-r10, a known constant or
 * unknown.  Known bits only ever go (a join keeps a constant only where
 * both sides agree), so the worklist ends.  Once it has, each reached
 * block runs once more from its final entry state and every EXIT is
 * checked: the lowest offending instruction is reported.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_cls.h>

#include "exitcheck.h"

#define NREGS 11 /* r0-r10 */

#ifndef BPF_JCOND
#define BPF_JCOND 0xe0 /* may_goto (Linux 6.9), not in Debian 12's headers */
#endif

static const struct exitcheck_rule rules[] = {
    {BPF_PROG_TYPE_SCHED_CLS, "TC_ACT_SHOT", "cub_pass_tc()", {TC_ACT_SHOT}, 1},
    {BPF_PROG_TYPE_XDP, "XDP_ABORTED or XDP_DROP", "cub_pass_xdp()",
	{XDP_ABORTED, XDP_DROP}, 2},
};

const struct exitcheck_rule *
exitcheck_rule(enum bpf_prog_type type)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

struct regs {
	uint64_t val[NREGS];
	uint16_t known; /* bit r: val[r] holds r's value */
};

struct walk {
	const struct bpf_insn *insn;
	size_t n;
	uint32_t *block; /* per instruction: its block (leaders only) */
	uint8_t *leader; /* |1 leader, |2 second slot of a 64-bit load */
	size_t *start;   /* per block: its first instruction */
	struct regs *in; /* per block: the state at its entry */
	uint8_t *seen;   /* per block: in[] holds a state */
	uint8_t *queued; /* per block: on the worklist */
	uint32_t *work;  /* the worklist, a stack */
	size_t nwork, nblocks;
	const struct exitcheck_rule *rule;
	struct exitcheck_bad *bad;
};

static int
malformed(struct walk *w, size_t i, const char *why)
{
	w->bad->insn = i;
	w->bad->why = why;
	return -EINVAL;
}

static bool
is_ld_imm64(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_IMM | BPF_DW);
}

static void
set_unknown(struct regs *s, unsigned r)
{
	s->known &= (uint16_t) ~(1u << r);
}

static void
set_const(struct regs *s, unsigned r, uint64_t v)
{
	s->val[r] = v;
	s->known |= (uint16_t)(1u << r);
}

static bool
is_known(const struct regs *s, unsigned r)
{
	return s->known & (1u << r);
}

/*
 * Where a jump at i goes, or -1 if i is not a jump with a target (calls
 * and exits have none).  Conditional jumps also fall through.
 */
static long long
jump_target(const struct bpf_insn *in, size_t i)
{
	uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);

	if (cls != BPF_JMP && cls != BPF_JMP32)
		return -1;
	if (op == BPF_CALL || op == BPF_EXIT)
		return -1;
	if (cls == BPF_JMP32 && op == BPF_JA)
		return (long long)i + 1 + in->imm; /* gotol */
	return (long long)i + 1 + in->off;
}

/*
 * First pass: opcodes, registers and jump targets valid; blocks found and
 * the per-block arrays allocated.
 */
static int
find_blocks(struct walk *w)
{
	const struct bpf_insn *in;
	long long t;
	size_t i, b;
	uint8_t cls, op;

	w->leader[0] = 1;
	for (i = 0; i < w->n; i++) {
		in = &w->insn[i];
		cls = BPF_CLASS(in->code);
		op = BPF_OP(in->code);
		if (in->dst_reg >= NREGS || in->src_reg >= NREGS)
			return malformed(w, i, "a register beyond r10");
		if (is_ld_imm64(in)) {
			if (i + 1 >= w->n || w->insn[i + 1].code ||
			    w->insn[i + 1].dst_reg || w->insn[i + 1].src_reg ||
			    w->insn[i + 1].off)
				return malformed(w, i,
				    "a 64-bit load without its second slot");
			w->leader[++i] |= 2;
			continue;
		}
		if (cls != BPF_JMP && cls != BPF_JMP32)
			continue;
		if (op == 0xf0 ||
		    (cls == BPF_JMP32 &&
			(op == BPF_CALL || op == BPF_EXIT || op == BPF_JCOND)))
			return malformed(w, i, "an unknown jump opcode");
		if (op == BPF_CALL)
			continue;
		if (i + 1 < w->n)
			w->leader[i + 1] |= 1;
		if (op == BPF_EXIT)
			continue;
		t = jump_target(in, i);
		if (t < 0 || (size_t)t >= w->n)
			return malformed(w, i, "a jump out of the function");
		w->leader[t] |= 1;
	}
	for (i = 0, b = 0; i < w->n; i++) {
		if (w->leader[i] == 3)
			return malformed(w, i,
			    "a jump into the second slot of a 64-bit load");
		if (w->leader[i] == 1)
			w->block[i] = (uint32_t)b++;
	}
	w->nblocks = b;
	w->start = calloc(b, sizeof(*w->start));
	w->in = calloc(b, sizeof(*w->in));
	w->seen = calloc(b, 1);
	w->queued = calloc(b, 1);
	w->work = calloc(b, sizeof(*w->work));
	if (!w->start || !w->in || !w->seen || !w->queued || !w->work)
		return -ENOMEM;
	for (i = 0; i < w->n; i++)
		if (w->leader[i] == 1)
			w->start[w->block[i]] = i;
	return 0;
}

/* Join s into block b's entry state; queue b if that changed it. */
static void
join(struct walk *w, size_t i, const struct regs *s)
{
	uint32_t b = w->block[i];
	struct regs *d = &w->in[b];
	uint16_t known = d->known;
	unsigned r;

	if (!w->seen[b]) {
		*d = *s;
		w->seen[b] = 1;
	} else {
		for (r = 0; r < NREGS; r++)
			if (is_known(d, r) &&
			    (!is_known(s, r) || d->val[r] != s->val[r]))
				set_unknown(d, r);
		if (d->known == known)
			return;
	}
	if (!w->queued[b]) {
		w->queued[b] = 1;
		w->work[w->nwork++] = b;
	}
}

static bool
allowed(const struct exitcheck_rule *rule, const struct regs *s)
{
	size_t k;

	if (!is_known(s, BPF_REG_0))
		return false;
	for (k = 0; k < rule->nallowed; k++)
		if (s->val[BPF_REG_0] == rule->allowed[k])
			return true;
	return false;
}

/* One instruction's effect on the registers (not jumps or exits). */
static void
step(const struct bpf_insn *in, struct regs *s)
{
	uint8_t cls = BPF_CLASS(in->code);
	unsigned r;

	switch (cls) {
	case BPF_LD:
		if (is_ld_imm64(in) && in->src_reg == 0)
			set_const(s, in->dst_reg,
			    (uint64_t)(uint32_t)in->imm |
				(uint64_t)(uint32_t)in[1].imm << 32);
		else if (is_ld_imm64(in))
			set_unknown(s, in->dst_reg); /* a map, a function */
		else
			for (r = BPF_REG_0; r <= BPF_REG_5; r++)
				set_unknown(s, r); /* LD_ABS/LD_IND */
		break;
	case BPF_LDX:
		set_unknown(s, in->dst_reg);
		break;
	case BPF_STX:
		if (BPF_MODE(in->code) == BPF_ATOMIC) {
			/* FETCH writes src, CMPXCHG r0, load-acquire dst. */
			set_unknown(s, in->src_reg);
			set_unknown(s, in->dst_reg);
			if (in->imm == BPF_CMPXCHG)
				set_unknown(s, BPF_REG_0);
		}
		break;
	case BPF_ALU:
	case BPF_ALU64:
		if (BPF_OP(in->code) != BPF_MOV || in->off != 0) {
			set_unknown(s, in->dst_reg); /* MOVSX, arithmetic */
		} else if (BPF_SRC(in->code) == BPF_K) {
			set_const(s, in->dst_reg,
			    cls == BPF_ALU64 ? (uint64_t)(int64_t)in->imm
					     : (uint64_t)(uint32_t)in->imm);
		} else if (!is_known(s, in->src_reg)) {
			set_unknown(s, in->dst_reg);
		} else {
			set_const(s, in->dst_reg,
			    cls == BPF_ALU64
				? s->val[in->src_reg]
				: (uint64_t)(uint32_t)s->val[in->src_reg]);
		}
		break;
	case BPF_JMP:
		if (BPF_OP(in->code) == BPF_CALL)
			for (r = BPF_REG_0; r <= BPF_REG_5; r++)
				set_unknown(s, r);
		break;
	default: /* BPF_ST, conditional jumps: no register written */
		break;
	}
}

/*
 * Run block b from its entry state.  check: the final pass, which
 * checks exits instead of propagating.
 */
static int
run_block(struct walk *w, uint32_t b, bool check)
{
	struct regs s = w->in[b];
	const struct bpf_insn *in;
	uint8_t cls, op;
	long long t;
	size_t i = w->start[b];

	for (;;) {
		in = &w->insn[i];
		cls = BPF_CLASS(in->code);
		op = BPF_OP(in->code);
		if (cls == BPF_LD && (BPF_MODE(in->code) == BPF_ABS ||
					 BPF_MODE(in->code) == BPF_IND)) {
			/* A short packet ends the program returning 0. */
			struct regs zero = {.known = 1u << BPF_REG_0};

			if (check && !allowed(w->rule, &zero)) {
				w->bad->insn = i;
				w->bad->implicit_exit = 1;
				w->bad->known = 1;
				w->bad->value = 0;
				return -EPERM;
			}
		}
		step(in, &s);
		if ((cls == BPF_JMP || cls == BPF_JMP32) && op == BPF_EXIT) {
			if (check && !allowed(w->rule, &s)) {
				w->bad->insn = i;
				w->bad->known = is_known(&s, BPF_REG_0);
				w->bad->value = s.val[BPF_REG_0];
				return -EPERM;
			}
			return 0;
		}
		if ((cls == BPF_JMP || cls == BPF_JMP32) &&
		    (t = jump_target(in, i)) >= 0) {
			if (!check)
				join(w, (size_t)t, &s);
			if (op == BPF_JA)
				return 0; /* no fallthrough */
		}
		i += is_ld_imm64(in) ? 2 : 1;
		if (i >= w->n)
			return malformed(w, i - 1,
			    "code that runs past the end of the function");
		if (w->leader[i] == 1) {
			if (!check)
				join(w, i, &s);
			return 0;
		}
	}
}

int
exitcheck_insns(const struct bpf_insn *insn, size_t n,
    const struct exitcheck_rule *rule, struct exitcheck_bad *bad)
{
	struct walk w = {.insn = insn, .n = n, .rule = rule, .bad = bad};
	struct regs entry = {.known = 0};
	uint32_t b;
	int r = -ENOMEM;

	memset(bad, 0, sizeof(*bad));
	if (!n)
		return malformed(&w, 0, "no instructions");
	if (n > EXITCHECK_MAX_INSNS)
		return -E2BIG;
	w.leader = calloc(n, 1);
	w.block = calloc(n, sizeof(*w.block));
	if (!w.leader || !w.block)
		goto out;
	if ((r = find_blocks(&w)))
		goto out;
	join(&w, 0, &entry);
	while (w.nwork) {
		b = w.work[--w.nwork];
		w.queued[b] = 0;
		if ((r = run_block(&w, b, false)))
			goto out;
	}
	for (b = 0; b < w.nblocks; b++)
		if (w.seen[b] && (r = run_block(&w, b, true)))
			goto out;
	r = 0;
out:
	free(w.leader);
	free(w.block);
	free(w.start);
	free(w.in);
	free(w.seen);
	free(w.queued);
	free(w.work);
	return r;
}

int
exitcheck_main_len(const struct bpf_insn *insn, size_t n, size_t *len,
    struct exitcheck_bad *bad)
{
	long long t;
	size_t i;

	memset(bad, 0, sizeof(*bad));
	*len = n;
	for (i = 0; i < n; i++) {
		if (insn[i].code == (BPF_JMP | BPF_CALL) &&
		    insn[i].src_reg == BPF_PSEUDO_CALL)
			t = (long long)i + 1 + insn[i].imm;
		else if (is_ld_imm64(&insn[i]) &&
			 insn[i].src_reg == BPF_PSEUDO_FUNC)
			t = (long long)i + 1 + insn[i].imm;
		else
			continue;
		if (t < 0 || (size_t)t >= n) {
			bad->insn = i;
			bad->why = "a call to no instruction of the program";
			return -EINVAL;
		}
		if (t > 0 && (size_t)t < *len)
			*len = (size_t)t;
		if (is_ld_imm64(&insn[i]))
			i++;
	}
	return 0;
}

int
exitcheck_prog(const struct bpf_insn *insn, size_t n,
    const struct exitcheck_rule *rule, struct exitcheck_bad *bad)
{
	size_t len;
	int r;

	if (n > EXITCHECK_MAX_INSNS)
		return -E2BIG;
	if ((r = exitcheck_main_len(insn, n, &len, bad)))
		return r;
	return exitcheck_insns(insn, len, rule, bad);
}
