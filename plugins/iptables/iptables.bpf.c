// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * iptables service: a host-wide transparent cube (TC ingress and egress
 * of every netdev no cube port owns) running the filter table.  Chain
 * selection: ingress to an address of this host (cub_addr_type() LOCAL,
 * BROADCAST or MULTICAST) INPUT, other ingress FORWARD; egress of a
 * locally made packet (skb->ingress_ifindex 0) OUTPUT, other egress
 * passes (its FORWARD was decided at ingress).  IPv6 and non-IP pass.
 * Conntrack labels every IPv4 packet and records the accepted ones.
 * REJECT rewrites the packet into its answer (fw_reject()) and bounces it
 * back where it came from (cub_bounce(): INPUT and FORWARD out of the
 * netdev it came in by, OUTPUT into the host).  Structure as iptcube's (plugins/testing/iptcube.bpf.c):
 * the heavy parts are global functions, fw_classify() in the main one.
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/hostaddr.bpf.h>
#include <cubicle/swap.bpf.h>

/*
 * Sized for FW_MAX_RULES (8192) rules in a chain and FW_RULES_ALL
 * (32768) in all chains (IPT_CHAIN_RULES_MAX, IPT_RULES_MAX), each rule
 * with its own source and destination prefix (2n + 1 prefixes per
 * direction and chain at most); vectors and intervals at the engine's
 * caps (fw_shared.h); small fields, sets and hashlimit buckets as
 * iptcube's.
 */
#define FW_MAP_ADDR (2 * (FW_RULES_ALL + FW_CHAINS_ALL))
#define FW_MAP_SMALL 16384
#define FW_MAP_SET_IP 1024
#define FW_MAP_SET_NET 1024
#define FW_MAP_SET_IPPORT 1024
#define FW_MAP_HLIM 16384

/* In this order: the maps, FW_POST, then the classifier. */
#include "bpf/fw_maps.bpf.h"

#include "bpf/fw_post.bpf.h"

#include "bpf/fw_classify.bpf.h"
#include "bpf/fw_ct.bpf.h"
#include "bpf/fw_log.bpf.h"
#include "bpf/fw_pkt.bpf.h"
#include "bpf/fw_reject.bpf.h"

#include "iptables_shared.h"

struct ipt_scratch {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ipt_scratch);
	__uint(max_entries, 1);
} ipt_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct ipt_slot_key);
	__type(value, __u32);
	__uint(max_entries, IPT_RULES_MAX);
} ipt_slots SEC(".maps");

__attribute__((noinline)) int
ipt_log(struct ipt_scratch *sc)
{
	struct fw_scan *s = bpf_map_lookup_elem(&fw_scan_map, &cub_zero_key);

	if (!sc || !s)
		return -1;
	fw_log(&s->res, s->copy, &sc->pkt, sc->pkt.iif, sc->pkt.oif);
	return 0;
}

__attribute__((noinline)) int
ipt_ct_update(struct ipt_scratch *sc)
{
	if (!sc)
		return -1;
	fw_ct_update(&sc->pkt, &sc->ct, 1);
	return 0;
}

/* 0: the packet is REJECT's answer (fw_reject()); -1: drop it. */
__attribute__((noinline)) int
ipt_reject_tc(struct __sk_buff *ctx, struct ipt_scratch *sc, __u32 kind)
{
	if (!sc)
		return -1;
	return fw_reject(ctx, CUB_HOOK_TC, &sc->pkt, &sc->ct, (__u8)kind);
}

/* 0: IPv4, parsed and labelled; 1: not IPv4 (or not parsed). */
__attribute__((noinline)) int
ipt_parse_tc(struct __sk_buff *ctx, struct ipt_scratch *sc)
{
	if (!sc)
		return -1;
	/* A frame for another host's MAC: ip_rcv() drops it before any
	 * chain; it is not the filter's (no REJECT answers it). */
	if (ctx->pkt_type == 3 /* PACKET_OTHERHOST */)
		return 1;
	if (fw_parse(ctx, CUB_HOOK_TC, &sc->pkt, &sc->ct))
		return 1;
	fw_ct_label(&sc->pkt, &sc->ct);
	return 0;
}

static __always_inline int
ipt_run(void *ctx, enum cub_hook hook)
{
	struct __sk_buff *skb = ctx;
	struct ipt_scratch *sc;
	struct fw_scan *s;
	__u32 chain, t, dir;
	int r;

	/* TC only: the broker refuses an XDP host-wide cube. */
	if (hook == CUB_HOOK_XDP)
		return cub_pass(ctx, hook);
	sc = bpf_map_lookup_elem(&ipt_scratch, &cub_zero_key);
	if (!sc)
		return cub_drop(hook);
	/* The direction, read once. */
	dir = cub_tdir_tc(skb);
	if (dir == CUB_TDIR_EGRESS && skb->ingress_ifindex)
		return cub_pass(ctx, hook); /* forwarded: FORWARD at ingress */
	r = ipt_parse_tc(skb, sc);
	if (r < 0)
		return cub_drop(hook);
	if (r > 0)
		return cub_pass(ctx, hook); /* IPv6, ARP, ... */
	if (dir == CUB_TDIR_EGRESS) {
		chain = IPT_CHAIN_OUTPUT;
		/* -o: the netdev it leaves by; -i: none (iif 0). */
		sc->pkt.oif = skb->ifindex;
	} else {
		t = cub_addr_type(bpf_htonl(sc->pkt.daddr));
		chain = t & (CUB_ADDRT_LOCAL | CUB_ADDRT_BROADCAST |
				CUB_ADDRT_MULTICAST)
			    ? IPT_CHAIN_INPUT
			    : IPT_CHAIN_FORWARD;
	}
	s = bpf_map_lookup_elem(&fw_scan_map, &cub_zero_key);
	if (!fw_classify(&sc->pkt, chain) || !s)
		return cub_drop(hook); /* no ruleset yet, or the cap: closed */
	if (s->res.nlog)
		ipt_log(sc);
	if (s->res.verdict == FW_TGT_REJECT &&
	    !ipt_reject_tc(skb, sc, s->res.reject_with))
		return cub_bounce(ctx, hook);
	if (s->res.verdict != FW_TGT_ACCEPT)
		return cub_drop(hook);
	ipt_ct_update(sc);
	return cub_pass(ctx, hook);
}

CUB_ENTRY_POINTS(ipt_run)

char _license[] SEC("license") = "GPL";
