// SPDX-License-Identifier: BSD-2-Clause
/*
 * The loop bound (loopcheck.h): the program split into functions as the
 * kernel splits it, each callback's cost summed over the functions it may
 * reach (none may loop, so each instruction runs at most once a round),
 * and the main function's helper calls read through the exit check's
 * dataflow (exitcheck_calls()) for their round counts and callbacks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcheck.h"
#include "loopcheck.h"

#ifndef BPF_JCOND
#define BPF_JCOND 0xe0 /* may_goto (Linux 6.9), not in Debian 12's headers */
#endif

#define COST_BUSY UINT64_MAX       /* being counted: a recursive call */
#define COST_UNSET (UINT64_MAX - 1) /* not counted yet */

struct lc {
	const struct bpf_insn *insn;
	size_t n, main_len;
	size_t *start; /* function starts, ascending; start[0] = 0 */
	size_t nf;
	uint64_t *cost; /* per function: one run's cost, or COST_* */
	uint8_t *cyclic; /* per insn: on a cycle of its function's CFG */
	uint64_t bound, total;
	loopcheck_entries_fn entries;
	void *arg;
	struct loopcheck_bad *bad;
};

static bool
is_ld_imm64(const struct bpf_insn *in)
{
	return in->code == (BPF_LD | BPF_IMM | BPF_DW);
}

static bool
is_helper(const struct bpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_CALL) && in->src_reg == 0;
}

static bool
calls_back(int32_t id)
{
	return id == BPF_FUNC_loop || id == BPF_FUNC_for_each_map_elem;
}

static const char *
helper_str(int32_t id)
{
	return id == BPF_FUNC_loop ? "bpf_loop" : "bpf_for_each_map_elem";
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
sat_mul(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static int
refuse(struct lc *l, size_t i, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(struct lc *l, size_t i, int r, const char *fmt, ...)
{
	va_list ap;

	l->bad->insn = i;
	va_start(ap, fmt);
	vsnprintf(l->bad->why, sizeof(l->bad->why), fmt, ap);
	va_end(ap);
	return r;
}

/* The function insn i belongs to. */
static size_t
func_of(const struct lc *l, size_t i)
{
	size_t lo = 0, hi = l->nf;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->start[mid] <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static size_t
func_end(const struct lc *l, size_t f)
{
	return f + 1 < l->nf ? l->start[f + 1] : l->n;
}

/* Function starts: 0 and every subprogram call's and callback's target. */
static int
find_functions(struct lc *l)
{
	uint8_t *is_start = calloc(l->n, 1);
	long long t;
	size_t i;

	if (!is_start)
		return -ENOMEM;
	is_start[0] = 1;
	for (i = 0; i < l->n; i++) {
		const struct bpf_insn *in = &l->insn[i];
		bool call = in->code == (BPF_JMP | BPF_CALL) &&
			    in->src_reg == BPF_PSEUDO_CALL;
		bool func = is_ld_imm64(in) && in->src_reg == BPF_PSEUDO_FUNC;

		if (call || func) {
			t = (long long)i + 1 + in->imm;
			if (t < 0 || (size_t)t >= l->n) {
				free(is_start);
				return refuse(l, i, -EINVAL,
				    "a call to no instruction of the program");
			}
			is_start[t] = 1;
		}
		if (is_ld_imm64(in))
			i++;
	}
	for (i = 0; i < l->n; i++)
		l->nf += is_start[i];
	l->start = calloc(l->nf, sizeof(*l->start));
	l->cost = calloc(l->nf, sizeof(*l->cost));
	if (!l->start || !l->cost) {
		free(is_start);
		return -ENOMEM;
	}
	l->nf = 0;
	for (i = 0; i < l->n; i++)
		if (is_start[i]) {
			l->cost[l->nf] = COST_UNSET;
			l->start[l->nf++] = i;
		}
	free(is_start);
	l->main_len = func_end(l, 0);
	return 0;
}

/*
 * Every jump stays in its function; no may_goto anywhere, no callback
 * helper outside the main function.
 */
static int
scan_jumps(struct lc *l)
{
	size_t i, f = 0;
	long long t;

	for (i = 0; i < l->n; i++) {
		const struct bpf_insn *in = &l->insn[i];
		uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);

		while (f + 1 < l->nf && l->start[f + 1] <= i)
			f++;
		if (is_ld_imm64(in)) {
			i++;
			continue;
		}
		if (cls != BPF_JMP && cls != BPF_JMP32)
			continue;
		if (op == BPF_JCOND)
			return refuse(l, i, -EPERM,
			    "may_goto at insn %zu: its loop runs up to 8 Mi "
			    "rounds, which the broker cannot bound; use a "
			    "bounded loop or bpf_loop() with a bounded count",
			    i);
		if (op == BPF_CALL) {
			if (f && is_helper(in) && calls_back(in->imm))
				return refuse(l, i, -EPERM,
				    "%s at insn %zu, in a subprogram: a helper "
				    "that calls back is allowed only in the "
				    "main function (loops may not nest)",
				    helper_str(in->imm), i);
			continue;
		}
		if (op == BPF_EXIT)
			continue;
		t = (long long)i + 1 +
		    (cls == BPF_JMP32 && op == BPF_JA ? in->imm : in->off);
		if (t < (long long)l->start[f] || (size_t)t >= func_end(l, f))
			return refuse(l, i, -EINVAL, "a jump out of the function");
	}
	return 0;
}

/* The successors of insn i in its function [.., end): *n of them in s[]. */
static void
succs(const struct lc *l, size_t i, size_t end, size_t s[2], unsigned *n)
{
	const struct bpf_insn *in = &l->insn[i];
	uint8_t cls = BPF_CLASS(in->code), op = BPF_OP(in->code);
	bool jmp = (cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_CALL;
	size_t next = i + (is_ld_imm64(in) ? 2 : 1);

	*n = 0;
	if (jmp && op == BPF_EXIT)
		return;
	if (jmp)
		s[(*n)++] = (size_t)((long long)i + 1 +
				     (cls == BPF_JMP32 && op == BPF_JA ? in->imm
								       : in->off));
	if ((!jmp || op != BPF_JA) && next < end)
		s[(*n)++] = next;
}

/*
 * Which instructions of function f lie on a cycle of its control flow
 * graph (Tarjan's strongly connected components, iteratively, from its
 * first instruction), in l->cyclic: an instruction there may run more
 * than once a run of f, one elsewhere at most once.  A backward jump is
 * not a loop by itself (clang places shared blocks before their users).
 */
static int
find_cycles(struct lc *l, size_t f)
{
	size_t base = l->start[f], n = func_end(l, f) - base;
	size_t top = 0, sp = 0, next = 1, i, v, w, k;
	size_t *idx = calloc(n, sizeof(*idx)), *low = calloc(n, sizeof(*low));
	size_t *stk = calloc(n, sizeof(*stk)), *call = calloc(n, sizeof(*call));
	uint8_t *on = calloc(n, 1), *edge = calloc(n, 1);
	size_t sv[2];
	unsigned ns;
	int r = -ENOMEM;

	if (!idx || !low || !stk || !call || !on || !edge)
		goto out;
	/* From insn 0 only: the verifier refuses unreachable code. */
	{
		i = 0;
		/* call[] is the DFS path, edge[] the next successor to try. */
		call[top++] = i;
		idx[i] = low[i] = next++;
		stk[sp++] = i;
		on[i] = 1;
		while (top) {
			v = call[top - 1];
			succs(l, base + v, base + n, sv, &ns);
			if (edge[v] < ns) {
				w = sv[edge[v]++] - base;
				if (!idx[w]) {
					idx[w] = low[w] = next++;
					stk[sp++] = w;
					on[w] = 1;
					call[top++] = w;
				} else if (on[w] && idx[w] < low[v]) {
					low[v] = idx[w];
				}
				if (w == v)
					l->cyclic[base + v] = 1; /* to itself */
				continue;
			}
			top--;
			if (top && low[v] < low[call[top - 1]])
				low[call[top - 1]] = low[v];
			if (low[v] != idx[v])
				continue;
			/* v roots a component: a cycle if it has two. */
			k = sp;
			do
				w = stk[--k];
			while (w != v);
			for (size_t j = k; j < sp; j++) {
				on[stk[j]] = 0;
				if (sp - k > 1)
					l->cyclic[base + stk[j]] = 1;
			}
			sp = k;
		}
	}
	r = 0;
out:
	free(idx);
	free(low);
	free(stk);
	free(call);
	free(on);
	free(edge);
	return r;
}

/* What insn i costs by itself (a subprogram call: without the callee). */
static uint64_t
insn_cost(const struct bpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_CALL) && in->src_reg == 0
		   ? 1 + LOOPCHECK_HELPER_COST
		   : 1;
}

/*
 * One run of function f: the costliest path through its (loop-free)
 * control flow graph, a helper call counting LOOPCHECK_HELPER_COST more
 * and a subprogram call its callee's run.  A depth-first walk from f's
 * first instruction; an instruction's path cost is known once all its
 * successors' are (post-order: none is on a cycle).  -EPERM if f, or one
 * it calls, loops: its cost is not bounded.
 */
static int
func_cost(struct lc *l, size_t f, uint64_t *out)
{
	size_t base = l->start[f], end = func_end(l, f), n = end - base;
	size_t *stk = NULL, top = 0, sv[2], i, v, g;
	uint64_t *path = NULL, sub, best;
	uint8_t *state = NULL; /* 0 new, 1 on the walk, 2 done */
	unsigned ns, k;
	int r;

	if (l->cost[f] == COST_BUSY)
		return refuse(l, base, -EINVAL, "a recursive call");
	if (l->cost[f] != COST_UNSET) {
		*out = l->cost[f];
		return 0;
	}
	for (i = base; i < end; i++)
		if (l->cyclic[i])
			return refuse(l, i, -EPERM,
			    "a loop at insn %zu, in code a callback runs: the "
			    "callback's cost is not bounded; unroll it or move "
			    "the loop out",
			    i);
	l->cost[f] = COST_BUSY;
	r = -ENOMEM;
	stk = calloc(n, sizeof(*stk));
	path = calloc(n, sizeof(*path));
	state = calloc(n, 1);
	if (!stk || !path || !state)
		goto out;
	stk[top++] = 0;
	state[0] = 1;
	while (top) {
		v = stk[top - 1];
		succs(l, base + v, end, sv, &ns);
		for (k = 0; k < ns; k++)
			if (!state[sv[k] - base])
				break;
		if (k < ns) {
			state[sv[k] - base] = 1;
			stk[top++] = sv[k] - base;
			continue;
		}
		top--;
		state[v] = 2;
		best = 0;
		for (k = 0; k < ns; k++)
			if (path[sv[k] - base] > best)
				best = path[sv[k] - base];
		sub = insn_cost(&l->insn[base + v]);
		if (l->insn[base + v].code == (BPF_JMP | BPF_CALL) &&
		    l->insn[base + v].src_reg == BPF_PSEUDO_CALL) {
			g = func_of(l, (size_t)((long long)base + v + 1 +
						l->insn[base + v].imm));
			if ((r = func_cost(l, g, &sub)))
				goto out;
			sub = sat_add(sub, 1);
		}
		path[v] = sat_add(best, sub);
	}
	l->cost[f] = path[0];
	*out = path[0];
	r = 0;
out:
	if (r && l->cost[f] == COST_BUSY)
		l->cost[f] = COST_UNSET;
	free(stk);
	free(path);
	free(state);
	return r;
}

/* A callback helper's call in the main function. */
static int
visit(const struct exitcheck_call *call, void *arg)
{
	struct lc *l = arg;
	const char *what = helper_str(call->helper);
	uint64_t rounds, cb, site;
	size_t f;
	int r;

	if (!calls_back(call->helper))
		return 0;
	if (l->cyclic[call->insn])
		return refuse(l, call->insn, -EPERM,
		    "%s at insn %zu is inside a loop: its rounds would "
		    "multiply; call it once, outside loops",
		    what, call->insn);
	if (call->helper == BPF_FUNC_loop) {
		if (call->r1.kind != EXITCHECK_CONST &&
		    call->r1.kind != EXITCHECK_MAX)
			return refuse(l, call->insn, -EPERM,
			    "bpf_loop at insn %zu: its count (r1) is not "
			    "bounded by the code; pass a constant, or bound "
			    "it (n & (N - 1), or n < N checked before)",
			    call->insn);
		rounds = call->r1.val < LOOPCHECK_MAX_ROUNDS
			     ? call->r1.val
			     : LOOPCHECK_MAX_ROUNDS;
	} else {
		rounds = call->r1.kind == EXITCHECK_MAP && l->entries
			     ? l->entries((int)call->r1.val, l->arg)
			     : 0;
		if (!rounds)
			return refuse(l, call->insn, -EPERM,
			    "bpf_for_each_map_elem at insn %zu: its map "
			    "(r1) is not known from the code",
			    call->insn);
	}
	if (call->r2.kind != EXITCHECK_FUNC || call->r2.val >= l->n ||
	    l->start[f = func_of(l, (size_t)call->r2.val)] != call->r2.val)
		return refuse(l, call->insn, -EPERM,
		    "%s at insn %zu: its callback (r2) is not known from "
		    "the code",
		    what, call->insn);
	if ((r = func_cost(l, f, &cb)))
		return r;
	site = sat_mul(rounds, sat_add(cb, LOOPCHECK_HELPER_COST));
	l->total = sat_add(l->total, site);
	l->bad->cost = l->total;
	if (l->total > l->bound)
		return refuse(l, call->insn, -EPERM,
		    "%s at insn %zu runs its callback (insn %zu, cost %llu) "
		    "up to %llu times: the program's loops cost %llu, over "
		    "the broker's bound of %llu (cubicled --max-loop-cost)",
		    what, call->insn, (size_t)call->r2.val,
		    (unsigned long long)cb, (unsigned long long)rounds,
		    (unsigned long long)l->total,
		    (unsigned long long)l->bound);
	return 0;
}

int
loopcheck_prog(const struct bpf_insn *insn, size_t n, uint64_t bound,
    loopcheck_entries_fn entries, void *arg, uint64_t *cost,
    struct loopcheck_bad *bad)
{
	struct lc l = {.insn = insn,
	    .n = n,
	    .bound = bound,
	    .entries = entries,
	    .arg = arg,
	    .bad = bad};
	struct exitcheck_bad xbad;
	size_t f;
	int r;

	memset(bad, 0, sizeof(*bad));
	*cost = 0;
	if (!n)
		return refuse(&l, 0, -EINVAL, "no instructions");
	if (n > EXITCHECK_MAX_INSNS)
		return -E2BIG;
	if ((r = find_functions(&l)) || (r = scan_jumps(&l)))
		goto out;
	r = -ENOMEM;
	if (!(l.cyclic = calloc(n, 1)))
		goto out;
	for (f = 0; f < l.nf; f++)
		if ((r = find_cycles(&l, f)))
			goto out;
	r = exitcheck_calls(insn, l.main_len, visit, &l, &xbad);
	if (r == -EINVAL)
		refuse(&l, xbad.insn, r, "%s", xbad.why);
	else if (r == -EPERM && !bad->why[0])
		refuse(&l, xbad.insn, r, "refused");
	*cost = l.total;
out:
	free(l.start);
	free(l.cost);
	free(l.cyclic);
	return r;
}
