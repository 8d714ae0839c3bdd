// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * transparenthelloworld (Polycube's pcn-transparent-helloworld): a
 * transparent cube with one action per direction (pass, drop, slow path)
 * and a packet counter per direction.  On TC the broker's stack program
 * says the direction (cub_tdir_tc()); on XDP (the broker's per-netdev
 * dispatcher) every packet is ingress: XDP has no egress hook, so the
 * egress action and counters are the TC cube's only.  cub_pass_*() lets
 * the packet go on to the next cube of the stack, or out of it.
 *
 * The test suite builds two hostile variants of it (plugins/testing):
 * TH_EVIL_TPASS passes with TC_ACT_OK instead of cub_pass_tc(), which
 * would skip the cubes after it and which the broker refuses to load
 * (review9-tstack-skip); TH_EVIL_BURN adds an action that spends the
 * tail-call budget on itself before passing (review9-tstack-budget).
 */
#include <cubicle/cube.bpf.h>

#include "transparenthelloworld_shared.h"
#ifdef TH_HOSTWIDE
#include <cubicle/hostaddr.bpf.h>
#endif

#define TH_REASON_ACTION 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, TH_DIRS);
} th_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct th_stats);
	__uint(max_entries, TH_DIRS);
} th_stats SEC(".maps");

#ifdef TH_EVIL_BURN
#ifndef EVIL_HOPS
#define EVIL_HOPS 31 /* evil_tjmp: 2 (review14-progarray-reuse) */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} evil_hops SEC(".maps");

SEC("tc")
int cub_ingress_tc(struct __sk_buff *skb);

/* Only the hook program is loaded (bpfobj.c check_object()): it
 * tail-calls itself. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, int(void *));
} evil_jmp SEC(".maps") = {
    .values = {[0] = (void *)&cub_ingress_tc},
};
#endif

#ifdef TH_EVIL_CORE
#include <bpf/bpf_core_read.h>
/*
 * Review 10 (review10-tstack-core): an enum of the kernel's BTF, declared
 * here with a different value.  bpf_core_enum_value() compiles to
 * "r0 = 2" (TC_ACT_SHOT, what the exit check reads before load) with a
 * CO-RE relocation that libbpf applies at load: the kernel's XDP_ABORTED
 * is 0, TC_ACT_OK.
 */
enum xdp_action___evil { XDP_ABORTED___evil = TC_ACT_SHOT };
#endif

#ifdef TH_EVIL_THROW
/*
 * Review 10 (review10-tstack-throw): bpf_throw(0) from a subprogram.  The
 * exit check and the helper check read the main function only; the
 * verifier's default exception callback returns the cookie, 0, TC_ACT_OK.
 */
extern void bpf_throw(__u64 cookie) __ksym;

static __attribute__((noinline)) int
evil_throw(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(TC_ACT_OK);
	return 0;
}
#endif

#ifdef TH_EVIL_THROWMAIN
/*
 * Review 10 (review10-kfunc-main): bpf_throw(0) in the main function.
 * Before load a kfunc call is "call -1" with src_reg BPF_PSEUDO_CALL, as
 * a call to a subprogram is (libbpf sets BPF_PSEUDO_KFUNC_CALL at load):
 * check_insns() takes it for one and never refuses it; the exit check
 * takes it for a call that returns.
 */
extern void bpf_throw(__u64 cookie) __ksym;
#endif

#ifdef TH_EVIL_WEAK
/*
 * Review 10 (review10-tstack-weak): the 64-bit load of a weak typeless
 * __ksym (resolved from kallsyms; a typed one makes libbpf walk module
 * BTFs, which fails without CAP_SYS_ADMIN) that the kernel does not have,
 * with an addend of 2: at open the check reads
 * "r0 = 2 ll" (TC_ACT_SHOT); at load libbpf writes the symbol's address,
 * 0 for an unresolved weak one, over the immediate (addend and all), and
 * the kernel runs "r0 = 0", TC_ACT_OK.
 */
extern const void cub_no_such_symbol __ksym __weak;
#endif

/*
 * Keys in cub_scratch(), not on the (fenced) stack: see cube.bpf.h.  The
 * direction: cub_tdir() (TC: the stack program's; XDP: ingress).
 */
static __always_inline int
th_run(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s = cub_scratch();
	struct th_stats *st;
	__u32 *action;

	if (!s)
		return cub_drop(hook);
	s->key[0] =
	    cub_tdir(ctx, hook) == CUB_TDIR_EGRESS ? TH_EGRESS : TH_INGRESS;
	st = bpf_map_lookup_elem(&th_stats, &s->key[0]);
	action = bpf_map_lookup_elem(&th_actions, &s->key[0]);
	if (!st || !action)
		return cub_drop(hook);
	st->packets++;
	st->bytes += cub_pkt_len(ctx, hook);
#ifdef TH_HOSTWIDE
	/* hostth: ingress packets to this host counted in slowpath (the
	 * host's addresses are the broker's map, hostaddr.bpf.h). */
	{
		struct iphdr *ip = cub_ipv4(ctx, hook);

		if (ip && s->key[0] == TH_INGRESS &&
		    cub_addr_type(ip->daddr) == CUB_ADDRT_LOCAL)
			st->slowpath++;
	}
#endif
	switch (*action) {
	case TH_DROP:
		st->drops++;
		return cub_drop(hook);
	case TH_SLOWPATH:
		st->slowpath++;
		return cub_slowpath(ctx, hook, s->key[0], TH_REASON_ACTION);
#ifdef TH_EVIL_BURN
	case TH_BURN: {
		/* Run k of the chain (after its tail call k) sees n = k - 1;
		 * the 32nd passes: cub_pass_tc() is tail call 33. */
		__u32 zero = 0, *n = bpf_map_lookup_elem(&evil_hops, &zero);

		if (!n)
			return cub_drop(hook);
		if (*n < EVIL_HOPS) {
			++*n;
			bpf_tail_call(ctx, &evil_jmp, 0);
			*n = 0;
			return cub_drop(hook);
		}
		*n = 0;
		return cub_pass_tc(ctx);
	}
#endif
	default:
#ifdef TH_EVIL_CORE
		return bpf_core_enum_value(
		    enum xdp_action___evil, XDP_ABORTED___evil);
#endif
#ifdef TH_EVIL_THROW
		evil_throw((struct __sk_buff *)ctx);
#endif
#ifdef TH_EVIL_WEAK
	{
		long v;

		asm volatile("%0 = cub_no_such_symbol + 2 ll"
			     : "=r"(v)
			     : "i"(&cub_no_such_symbol));
		return (int)v;
	}
#endif
#ifdef TH_EVIL_THROWMAIN
		if (((struct __sk_buff *)ctx)->len)
			bpf_throw(TC_ACT_OK);
#endif
#ifdef TH_EVIL_TPASS
		/* not cub_pass_*(): skip the cubes after */
		return hook == CUB_HOOK_XDP ? XDP_PASS : TC_ACT_OK;
#else
		return hook == CUB_HOOK_XDP ? cub_pass_xdp(ctx) : cub_pass_tc(ctx);
#endif
	}
}

CUB_ENTRY_POINTS(th_run)

char _license[] SEC("license") = "GPL";
