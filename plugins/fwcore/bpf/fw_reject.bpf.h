/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fw_reject.bpf.h: the REJECT target's answer (docs/firewall-contract.md,
 * "engine: post-conditions, REJECT, LOG").  fw_reject() turns the packet
 * in place into the answer iptables' REJECT sends, TC or XDP; the caller
 * sends it back out of the port it came in on (cub_forward() to the
 * in port), and the original is gone.
 *
 * - icmp-*: an ICMP destination unreachable (type 3) with the code of
 *   --reject-with (net 0, host 1, proto 2, port 3, net-prohibited 9,
 *   host-prohibited 10, admin-prohibited 13), quoting the original's IP
 *   header (options included) and its first 8 bytes of payload, the
 *   minimum RFC 792 asks (Linux quotes up to 576 bytes; sockets match
 *   on the first 8).  IP: TOS the original's with precedence
 *   internetwork control (0xc0, as icmp_send()), TTL 64, id 0, no DF.
 * - tcp-reset: a RST as nf_reject_ipv4's nf_reject_ip_tcphdr_put(): to
 *   a segment with ACK, seq = its ack and RST alone; otherwise seq 0,
 *   ack = its seq + SYN + FIN + payload length, RST|ACK; window 0.  IP:
 *   TOS 0, TTL 64, id 0, DF.
 *
 * The answer's source is the original's destination address (the cube
 * is transparent and has no address of its own: it answers for the
 * destination), its MACs the original's swapped.  Checksums are
 * computed in full (bpf_csum_diff()).  No answer (the packet is only
 * dropped), as Linux: for a later fragment, a TCP segment with RST (or
 * one too short for its header), an ICMP error, a packet to or from a
 * multicast, broadcast or zero address, a packet shorter than the quote,
 * tcp-reset on anything but TCP.
 *
 * Include after fw_pkt.bpf.h.
 */
#ifndef CUBICLE_FW_REJECT_BPF_H
#define CUBICLE_FW_REJECT_BPF_H

#include <cubicle/frame.bpf.h>

#include "fw_pkt.bpf.h"

#define FW_REJ_QUOTE_MAX 68 /* a 60-byte IP header and 8 bytes */
#define FW_REJ_FRAME_MAX (ETH_HLEN + 20 + 8 + FW_REJ_QUOTE_MAX)

struct fw_rej_scratch {
	__u8 pad_[2]; /* frame's IP header 4-byte aligned */
	__u8 frame[FW_REJ_FRAME_MAX];
	__u8 pad2_[2];
	__u8 orig[ETH_HLEN + 20 + 2];
	__be32 ph[3]; /* TCP's pseudo header */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_rej_scratch);
	__uint(max_entries, 1);
} fw_rej_scratch SEC(".maps");

static __always_inline __u8
fw_rej_code(__u8 kind)
{
	switch (kind) {
	case FW_RJ_NET_UNREACH:
		return 0;
	case FW_RJ_HOST_UNREACH:
		return 1;
	case FW_RJ_PROTO_UNREACH:
		return 2;
	case FW_RJ_NET_PROHIB:
		return 9;
	case FW_RJ_HOST_PROHIB:
		return 10;
	case FW_RJ_ADMIN_PROHIB:
		return 13;
	default:
		return 3; /* port unreachable */
	}
}

static __always_inline int
fw_rej_addr_ok(__u32 a)
{
	/* Not 0, not multicast or class E, not the limited broadcast. */
	return a && (a >> 28) < 0xe;
}

/*
 * Rewrite the packet (parsed into pkt and ct by fw_parse()) into the
 * answer of REJECT kind (enum fw_reject_with).  0: the frame is the
 * answer, send it out of the port it came in on; -1: drop it.
 */
static __always_inline int
fw_reject(void *ctx, enum cub_hook hook, const struct fw_pkt *pkt,
    const struct fw_ct_pkt *ct, __u8 kind)
{
	struct fw_rej_scratch *sc;
	struct ethhdr *oe, *e;
	struct iphdr *oip, *ip;
	__u32 len, q;

	if (!pkt->ipv4 || pkt->frag || !fw_rej_addr_ok(pkt->saddr) ||
	    !fw_rej_addr_ok(pkt->daddr))
		return -1;
	sc = bpf_map_lookup_elem(&fw_rej_scratch, &cub_zero_key);
	if (!sc)
		return -1;
	if (cub_load_bytes(ctx, hook, 0, sc->orig, ETH_HLEN + 20))
		return -1;
	oe = (void *)sc->orig;
	oip = (void *)(sc->orig + ETH_HLEN);
	/* No answer to a link-layer broadcast or multicast (Linux's
	 * __icmp_send(): "no replies to physical multicast/broadcast"), nor
	 * to an ICMP type past the kernel's (NR_ICMP_TYPES, 18). */
	if ((oe->h_dest[0] & 1) ||
	    (pkt->proto == IPPROTO_ICMP && pkt->icmp_type > 18))
		return -1;
	e = (void *)sc->frame;
	ip = (void *)(sc->frame + ETH_HLEN);
	__builtin_memcpy(e->h_dest, oe->h_source, ETH_ALEN);
	__builtin_memcpy(e->h_source, oe->h_dest, ETH_ALEN);
	e->h_proto = bpf_htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->id = 0;
	ip->check = 0;
	ip->ttl = 64;
	ip->saddr = oip->daddr;
	ip->daddr = oip->saddr;

	if (kind == FW_RJ_TCP_RESET) {
		struct fw_tcp_head *t = (void *)(sc->frame + ETH_HLEN + 20);

		if (pkt->proto != IPPROTO_TCP || ct->kind == FW_CTK_BAD ||
		    (pkt->tcp_flags & FW_TCPF_RST))
			return -1;
		ip->tos = 0;
		ip->tot_len = bpf_htons(40);
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->protocol = IPPROTO_TCP;
		t->sport = bpf_htons(pkt->dport);
		t->dport = bpf_htons(pkt->sport);
		if (pkt->tcp_flags & FW_TCPF_ACK) {
			t->seq = bpf_htonl(ct->ack);
			t->ack = 0;
			t->flags = FW_TCPF_RST;
		} else {
			t->seq = 0;
			t->ack = bpf_htonl(ct->seq_end);
			t->flags = FW_TCPF_RST | FW_TCPF_ACK;
		}
		t->doff_res = 5 << 4;
		t->window = 0;
		t->check = 0;
		t->urg = 0;
		sc->ph[0] = ip->saddr;
		sc->ph[1] = ip->daddr;
		sc->ph[2] = bpf_htonl(IPPROTO_TCP << 16 | 20);
		t->check = cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)t, 20,
		    (__u32)bpf_csum_diff(NULL, 0, sc->ph, 12, 0)));
		len = ETH_HLEN + 40;
	} else {
		struct fw_icmp_head *ic = (void *)(sc->frame + ETH_HLEN + 20);

		if (pkt->proto == IPPROTO_ICMP &&
		    (pkt->icmp_type == FW_ICMP_DEST_UNREACH ||
			pkt->icmp_type == 4 || pkt->icmp_type == 5 ||
			pkt->icmp_type == FW_ICMP_TIME_EXCEEDED ||
			pkt->icmp_type == FW_ICMP_PARAMETERPROB))
			return -1;
		q = (__u32)oip->ihl * 4 + 8;
		if (q < 28 || q > FW_REJ_QUOTE_MAX ||
		    bpf_ntohs(oip->tot_len) < q ||
		    cub_pkt_len(ctx, hook) < ETH_HLEN + q)
			return -1;
		q &= 0x7c;
		if (q > FW_REJ_QUOTE_MAX)
			return -1;
		if (cub_load_bytes(
			ctx, hook, ETH_HLEN, sc->frame + ETH_HLEN + 28, q))
			return -1;
		ip->tos = (oip->tos & 0x1e) | 0xc0;
		ip->tot_len = bpf_htons(28 + q);
		ip->frag_off = 0;
		ip->protocol = IPPROTO_ICMP;
		ic->type = FW_ICMP_DEST_UNREACH;
		ic->code = fw_rej_code(kind);
		ic->check = 0;
		ic->id = 0;
		ic->seq = 0;
		ic->check =
		    cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ic, 8 + q, 0));
		len = ETH_HLEN + 28 + q;
	}
	ip->check = cub_csum_fold(bpf_csum_diff(NULL, 0, (void *)ip, 20, 0));
	if (len > FW_REJ_FRAME_MAX)
		return -1;
	return cub_frame_replace(ctx, hook, sc->frame, len);
}

#endif /* CUBICLE_FW_REJECT_BPF_H */
