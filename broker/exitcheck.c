// SPDX-License-Identifier: BSD-2-Clause
/*
 * The exit check (exitcheck.h): a forward constant propagation over one
 * BPF function's control flow graph, by basic blocks.  A block starts at
 * instruction 0, at every jump target and after every jump or exit; the
 * state at a block's entry is, per register r0-r10, a known constant, an
 * upper bound (from AND, RSH and MOD by a constant, and unsigned compares
 * with one), a callback or map of a 64-bit load, or unknown.  What is
 * known only ever weakens at a join (equal values stay, two bounds keep
 * the larger, anything else is unknown), and bounds come only from the
 * code's constants, so the worklist ends.  Once it has, each reached
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

/*
 * What is known of each register: EXITCHECK_CONST (val is its value),
 * EXITCHECK_MAX (its value is at most val, unsigned), EXITCHECK_FUNC (a
 * callback: val is the instruction it starts at), EXITCHECK_MAP (a map:
 * val is the 64-bit load's imm, the map's fd), or EXITCHECK_UNKNOWN.
 */
struct regs {
	uint64_t val[NREGS];
	uint8_t kind[NREGS];
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
	const struct exitcheck_rule *rule; /* NULL: exits not checked */
	exitcheck_call_fn call;             /* each helper call, final pass */
	void *arg;
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
	s->kind[r] = EXITCHECK_UNKNOWN;
}

static void
set_kind(struct regs *s, unsigned r, uint8_t kind, uint64_t v)
{
	s->val[r] = v;
	s->kind[r] = kind;
}

static void
set_const(struct regs *s, unsigned r, uint64_t v)
{
	set_kind(s, r, EXITCHECK_CONST, v);
}

static bool
is_known(const struct regs *s, unsigned r)
{
	return s->kind[r] == EXITCHECK_CONST;
}

/* An upper bound of r's value, if one is known. */
static bool
bound_of(const struct regs *s, unsigned r, uint64_t *max)
{
	if (s->kind[r] != EXITCHECK_CONST && s->kind[r] != EXITCHECK_MAX)
		return false;
	*max = s->val[r];
	return true;
}

/* r is at most max (and at most what it was known to be). */
static void
set_max(struct regs *s, unsigned r, uint64_t max)
{
	uint64_t old;

	if (bound_of(s, r, &old) && old <= max) {
		if (s->kind[r] == EXITCHECK_CONST)
			return;
		max = old;
	}
	set_kind(s, r, EXITCHECK_MAX, max);
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

/* The join of one register: what holds on both sides. */
static void
join_reg(struct regs *d, const struct regs *s, unsigned r)
{
	uint64_t a, b;

	if (d->kind[r] == s->kind[r] && d->val[r] == s->val[r])
		return;
	if (bound_of(d, r, &a) && bound_of(s, r, &b))
		set_kind(d, r, EXITCHECK_MAX, a > b ? a : b);
	else
		set_unknown(d, r);
}

/* Join s into block b's entry state; queue b if that changed it. */
static void
join(struct walk *w, size_t i, const struct regs *s)
{
	uint32_t b = w->block[i];
	struct regs *d = &w->in[b];
	bool changed = false;
	uint8_t kind;
	uint64_t val;
	unsigned r;

	if (!w->seen[b]) {
		*d = *s;
		w->seen[b] = 1;
	} else {
		for (r = 0; r < NREGS; r++) {
			kind = d->kind[r];
			val = d->val[r];
			join_reg(d, s, r);
			changed |= d->kind[r] != kind ||
				   (kind != EXITCHECK_UNKNOWN && d->val[r] != val);
		}
		if (!changed)
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

/*
 * An ALU instruction's effect: moves keep what is known, AND, RSH and MOD
 * by a constant bound the result, the rest makes it unknown.  A 32-bit
 * result is at most U32_MAX.
 */
static void
step_alu(const struct bpf_insn *in, struct regs *s)
{
	bool is64 = BPF_CLASS(in->code) == BPF_ALU64;
	uint64_t k, dmax = 0, smax, lim = is64 ? UINT64_MAX : UINT32_MAX;
	unsigned d = in->dst_reg;
	bool dk = bound_of(s, d, &dmax), konst = BPF_SRC(in->code) == BPF_K;

	if (konst)
		k = is64 ? (uint64_t)(int64_t)in->imm : (uint64_t)(uint32_t)in->imm;
	else if (!bound_of(s, in->src_reg, &k))
		k = UINT64_MAX;
	smax = k;
	if (in->off != 0 && BPF_OP(in->code) != BPF_MOD) {
		set_unknown(s, d); /* MOVSX, signed division */
		return;
	}
	switch (BPF_OP(in->code)) {
	case BPF_MOV:
		if (konst) {
			set_const(s, d, k);
		} else if (s->kind[in->src_reg] == EXITCHECK_UNKNOWN ||
			   (!is64 && s->kind[in->src_reg] != EXITCHECK_CONST &&
			       s->kind[in->src_reg] != EXITCHECK_MAX)) {
			set_unknown(s, d);
		} else {
			set_kind(s, d, s->kind[in->src_reg],
			    is64 ? s->val[in->src_reg]
				 : (s->kind[in->src_reg] == EXITCHECK_CONST
					   ? (uint64_t)(uint32_t)s->val[in->src_reg]
					   : (s->val[in->src_reg] < lim
						     ? s->val[in->src_reg]
						     : lim)));
		}
		return;
	case BPF_AND:
		if (dk && is_known(s, d) && konst) {
			set_const(s, d, s->val[d] & k & lim);
			return;
		}
		smax = dk && dmax < smax ? dmax : smax;
		break;
	case BPF_RSH:
		if (!konst || k >= (is64 ? 64u : 32u)) {
			smax = lim; /* the kernel masks the shift count */
			break;
		}
		if (dk && is_known(s, d)) {
			set_const(s, d, (s->val[d] & lim) >> k);
			return;
		}
		smax = (dk && dmax < lim ? dmax : lim) >> k;
		break;
	case BPF_MOD:
		if (in->off != 0 || !konst || !k) {
			smax = lim; /* signed, by a register, or by 0: x */
			if (!in->off && !konst && dk)
				smax = dmax;
			break;
		}
		smax = k - 1;
		if (dk && dmax < smax)
			smax = dmax;
		break;
	case BPF_END: /* a byte swap: up to 64 bits in either class */
		smax = UINT64_MAX;
		break;
	default:
		smax = lim;
		break;
	}
	if (smax >= UINT64_MAX)
		set_unknown(s, d);
	else
		set_kind(s, d, EXITCHECK_MAX, smax < lim ? smax : lim);
}

/* One instruction's effect on the registers (not jumps or exits). */
static void
step(const struct bpf_insn *in, size_t i, struct regs *s)
{
	uint8_t cls = BPF_CLASS(in->code);
	unsigned r;

	switch (cls) {
	case BPF_LD:
		if (is_ld_imm64(in) && in->src_reg == 0)
			set_const(s, in->dst_reg,
			    (uint64_t)(uint32_t)in->imm |
				(uint64_t)(uint32_t)in[1].imm << 32);
		else if (is_ld_imm64(in) && in->src_reg == BPF_PSEUDO_FUNC)
			set_kind(s, in->dst_reg, EXITCHECK_FUNC,
			    (uint64_t)((int64_t)i + 1 + in->imm));
		else if (is_ld_imm64(in) && in->src_reg == BPF_PSEUDO_MAP_FD)
			set_kind(s, in->dst_reg, EXITCHECK_MAP,
			    (uint64_t)(uint32_t)in->imm);
		else if (is_ld_imm64(in))
			set_unknown(s, in->dst_reg); /* a map value, ... */
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
		step_alu(in, s);
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
 * What an unsigned 64-bit compare with a constant says of its register on
 * each edge: *taken and *fall are s narrowed.
 */
static void
narrow(const struct bpf_insn *in, const struct regs *s, struct regs *taken,
    struct regs *fall)
{
	uint64_t k = (uint64_t)(int64_t)in->imm;
	unsigned d = in->dst_reg;

	*taken = *fall = *s;
	if (BPF_CLASS(in->code) != BPF_JMP || BPF_SRC(in->code) != BPF_K ||
	    s->kind[d] == EXITCHECK_FUNC || s->kind[d] == EXITCHECK_MAP)
		return;
	switch (BPF_OP(in->code)) {
	case BPF_JLT: /* taken: d < k */
		if (k)
			set_max(taken, d, k - 1);
		break;
	case BPF_JLE:
		set_max(taken, d, k);
		break;
	case BPF_JGT: /* fall through: d <= k */
		set_max(fall, d, k);
		break;
	case BPF_JGE:
		if (k)
			set_max(fall, d, k - 1);
		break;
	default:
		break;
	}
}

/* What a helper call's visitor is told of argument register r. */
static struct exitcheck_arg
arg_of(const struct regs *s, unsigned r)
{
	return (struct exitcheck_arg){.kind = s->kind[r], .val = s->val[r]};
}

/*
 * Run block b from its entry state.  check: the final pass, which
 * checks exits (and tells the visitor of helper calls) instead of
 * propagating.
 */
static int
run_block(struct walk *w, uint32_t b, bool check)
{
	struct regs s = w->in[b], taken, fall;
	const struct bpf_insn *in;
	uint8_t cls, op;
	long long t;
	size_t i = w->start[b];
	int r;

	for (;;) {
		in = &w->insn[i];
		cls = BPF_CLASS(in->code);
		op = BPF_OP(in->code);
		if (cls == BPF_LD && (BPF_MODE(in->code) == BPF_ABS ||
					 BPF_MODE(in->code) == BPF_IND)) {
			/* A short packet ends the program returning 0. */
			struct regs zero = {.kind[BPF_REG_0] = EXITCHECK_CONST};

			if (check && w->rule && !allowed(w->rule, &zero)) {
				w->bad->insn = i;
				w->bad->implicit_exit = 1;
				w->bad->known = 1;
				w->bad->value = 0;
				return -EPERM;
			}
		}
		if (check && w->call && cls == BPF_JMP && op == BPF_CALL &&
		    in->src_reg == 0) {
			struct exitcheck_call call = {.insn = i,
			    .helper = in->imm,
			    .r1 = arg_of(&s, BPF_REG_1),
			    .r2 = arg_of(&s, BPF_REG_2)};

			if ((r = w->call(&call, w->arg))) {
				w->bad->insn = i;
				return r;
			}
		}
		step(in, i, &s);
		if ((cls == BPF_JMP || cls == BPF_JMP32) && op == BPF_EXIT) {
			if (check && w->rule && !allowed(w->rule, &s)) {
				w->bad->insn = i;
				w->bad->known = is_known(&s, BPF_REG_0);
				w->bad->value = s.val[BPF_REG_0];
				return -EPERM;
			}
			return 0;
		}
		if ((cls == BPF_JMP || cls == BPF_JMP32) &&
		    (t = jump_target(in, i)) >= 0) {
			narrow(in, &s, &taken, &fall);
			if (!check)
				join(w, (size_t)t, &taken);
			if (op == BPF_JA)
				return 0; /* no fallthrough */
			s = fall;
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

/* The dataflow over insn[0..n), then the final pass over reached blocks. */
static int
walk_function(struct walk *w)
{
	struct regs entry = {.kind = {EXITCHECK_UNKNOWN}};
	uint32_t b;
	int r = -ENOMEM;

	memset(w->bad, 0, sizeof(*w->bad));
	if (!w->n)
		return malformed(w, 0, "no instructions");
	if (w->n > EXITCHECK_MAX_INSNS)
		return -E2BIG;
	w->leader = calloc(w->n, 1);
	w->block = calloc(w->n, sizeof(*w->block));
	if (!w->leader || !w->block)
		goto out;
	if ((r = find_blocks(w)))
		goto out;
	join(w, 0, &entry);
	while (w->nwork) {
		b = w->work[--w->nwork];
		w->queued[b] = 0;
		if ((r = run_block(w, b, false)))
			goto out;
	}
	for (b = 0; b < w->nblocks; b++)
		if (w->seen[b] && (r = run_block(w, b, true)))
			goto out;
	r = 0;
out:
	free(w->leader);
	free(w->block);
	free(w->start);
	free(w->in);
	free(w->seen);
	free(w->queued);
	free(w->work);
	return r;
}

int
exitcheck_insns(const struct bpf_insn *insn, size_t n,
    const struct exitcheck_rule *rule, struct exitcheck_bad *bad)
{
	struct walk w = {.insn = insn, .n = n, .rule = rule, .bad = bad};

	return walk_function(&w);
}

int
exitcheck_calls(const struct bpf_insn *insn, size_t n, exitcheck_call_fn fn,
    void *arg, struct exitcheck_bad *bad)
{
	struct walk w = {
	    .insn = insn, .n = n, .call = fn, .arg = arg, .bad = bad};

	return walk_function(&w);
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
