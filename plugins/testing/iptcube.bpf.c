// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * iptcube: the FORWARD chain of an iptables ruleset between ports p1 and
 * p2 (iptcube_shared.h), with the engine's post-conditions (-m set, -m
 * limit, -m hashlimit), REJECT answers and LOG lines.  Packets that are
 * not IPv4 (ARP) pass unfiltered.
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

/* Smaller than the engine's caps (fw_shared.h): a test's rulesets. */
#define FW_MAP_VEC_WORDS 262144
#define FW_MAP_ADDR 16384
#define FW_MAP_IVAL 16384
#define FW_MAP_SMALL 16384
#define FW_MAP_RULES 4096
#define FW_MAP_SET_IP 131072
#define FW_MAP_SET_NET 16384
#define FW_MAP_SET_IPPORT 16384
#define FW_MAP_HLIM 16384

/* In this order: the maps, FW_POST, then the classifier. */
#include "bpf/fw_maps.bpf.h"

#include "bpf/fw_post.bpf.h"

#include "bpf/fw_classify.bpf.h"
#include "bpf/fw_ct.bpf.h"
#include "bpf/fw_log.bpf.h"
#include "bpf/fw_pkt.bpf.h"
#include "bpf/fw_reject.bpf.h"

#include "iptcube_shared.h"

struct iptc_scratch {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
	__u32 in, out; /* port indices, as map keys */
	__u32 ifindex; /* the in netdev, as a map key */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct iptc_scratch);
	__uint(max_entries, 1);
} iptc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct iptc_conf);
	__uint(max_entries, 1);
} iptc_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct iptc_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} iptc_stats SEC(".maps");

/*
 * The heavy parts as global functions, each checked once by the
 * verifier: inlined, everything after fw_parse() was checked once per
 * state it leaves (cub_l4()'s eleven paths times the protocols'), and
 * the hardened verifier (no CAP_PERFMON: speculative paths too) ran out
 * of its 1M instructions.  State passes through the scratch value.
 * fw_classify() stays in the main function: the broker allows
 * bpf_loop() only there.
 */
__attribute__((noinline)) int
iptc_log(struct iptc_scratch *sc)
{
	struct fw_scan *s = bpf_map_lookup_elem(&fw_scan_map, &cub_zero_key);

	if (!sc || !s)
		return -1;
	fw_log(&s->res, s->copy, &sc->pkt, sc->in, sc->out);
	return 0;
}

__attribute__((noinline)) int
iptc_ct_update(struct iptc_scratch *sc)
{
	if (!sc)
		return -1;
	fw_ct_update(&sc->pkt, &sc->ct, 1);
	return 0;
}

/* Per hook: the in port (cub_in_port() without its per-CPU cache: with
 * it the verifier's states of the classifier multiplied past the
 * budget, for a reason not found), parse and label (0: IPv4, 1: not
 * IPv4, -1: error), and REJECT's answer (0: send it back, -1: drop). */
static __always_inline int
iptc_in_port(void *ctx, enum cub_hook hook, struct iptc_scratch *sc)
{
	struct cub_hop *hop;
	__u32 *port;

	sc->ifindex = hook == CUB_HOOK_XDP
			  ? ((struct xdp_md *)ctx)->ingress_ifindex
			  : ((struct __sk_buff *)ctx)->ingress_ifindex;
	port = bpf_map_lookup_elem(&cub_if2port, &sc->ifindex);
	if (port)
		return *port < CUB_MAX_PORTS ? (int)*port : -1;
	if (hook == CUB_HOOK_TC) {
		struct __sk_buff *skb = ctx;

		if (skb->cb[1] != CUB_HOP_MAGIC)
			return -1;
		return (int)(CUB_PEER_PORT(skb->cb[2]) & (CUB_MAX_PORTS - 1));
	}
	hop = cub_data(ctx, hook);
	if ((void *)(hop + 1) > cub_data_end(ctx, hook) ||
	    hop->magic != CUB_HOP_MAGIC)
		return -1;
	sc->ifindex = CUB_PEER_PORT(hop->in_port) & (CUB_MAX_PORTS - 1);
	if (bpf_xdp_adjust_head(ctx, (int)sizeof(*hop)))
		return -1;
	return (int)sc->ifindex;
}

#define IPTC_HOOK_FNS(sfx, ctx_t, hook)                                        \
	__attribute__((noinline)) int iptc_parse_##sfx(                        \
	    ctx_t *ctx, struct iptc_scratch *sc)                               \
	{                                                                      \
		if (!sc)                                                       \
			return -1;                                             \
		if (fw_parse(ctx, hook, &sc->pkt, &sc->ct))                    \
			return 1;                                              \
		fw_ct_label(&sc->pkt, &sc->ct);                                \
		return 0;                                                      \
	}                                                                      \
	__attribute__((noinline)) int iptc_reject_##sfx(                       \
	    ctx_t *ctx, struct iptc_scratch *sc, __u32 kind)                   \
	{                                                                      \
		if (!sc)                                                       \
			return -1;                                             \
		return fw_reject(ctx, hook, &sc->pkt, &sc->ct, (__u8)kind);    \
	}

IPTC_HOOK_FNS(tc, struct __sk_buff, CUB_HOOK_TC)
IPTC_HOOK_FNS(xdp, struct xdp_md, CUB_HOOK_XDP)

static __always_inline int
iptc_ingress(void *ctx, enum cub_hook hook)
{
	struct iptc_scratch *sc;
	struct iptc_conf *conf;
	struct iptc_stats *st;
	struct fw_scan *s;
	int port, r;

	sc = bpf_map_lookup_elem(&iptc_scratch, &cub_zero_key);
	conf = bpf_map_lookup_elem(&iptc_conf, &cub_zero_key);
	if (!sc || !conf || !conf->ready)
		return cub_drop(hook);
	port = iptc_in_port(ctx, hook, sc);
	if (port < 0)
		return cub_drop(hook);
	sc->in = port;
	if (sc->in == conf->p1)
		sc->out = conf->p2;
	else if (sc->in == conf->p2)
		sc->out = conf->p1;
	else
		return cub_drop(hook);
	st = bpf_map_lookup_elem(&iptc_stats, &sc->in);
	if (!st)
		return cub_drop(hook);
	st->rx++;
	r = hook == CUB_HOOK_XDP ? iptc_parse_xdp(ctx, sc)
				 : iptc_parse_tc(ctx, sc);
	if (r < 0) {
		st->dropped++;
		return cub_drop(hook);
	}
	if (r == 0) {
		s = bpf_map_lookup_elem(&fw_scan_map, &cub_zero_key);
		if (!fw_classify(&sc->pkt, IPTC_CHAIN_FORWARD) || !s) {
			st->dropped++;
			return cub_drop(hook);
		}
		if (s->res.nlog)
			iptc_log(sc);
		if (s->res.verdict == FW_TGT_REJECT) {
			r = hook == CUB_HOOK_XDP
				? iptc_reject_xdp(ctx, sc, s->res.reject_with)
				: iptc_reject_tc(ctx, sc, s->res.reject_with);
			if (r || !cub_port_ifindex_at(&sc->in)) {
				st->dropped++;
				return cub_drop(hook);
			}
			st->rejected++;
			return cub_forward(ctx, hook, sc->in);
		}
		if (s->res.verdict != FW_TGT_ACCEPT) {
			st->dropped++;
			return cub_drop(hook);
		}
		iptc_ct_update(sc);
	}
	if (!cub_port_ifindex_at(&sc->out)) {
		st->dropped++;
		return cub_drop(hook);
	}
	st->accepted++;
	return cub_forward(ctx, hook, sc->out);
}

CUB_ENTRY_POINTS(iptc_ingress)

char _license[] SEC("license") = "GPL";
