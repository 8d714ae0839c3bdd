/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fw_pkt.bpf.h: the firewall engine's packet parser (issue 10;
 * docs/firewall-contract.md section 2).  fw_parse() reads an untagged
 * Ethernet frame into struct fw_pkt (fw_shared.h: what the classifier
 * matches, host byte order) and struct fw_ct_pkt (fw_ct_shared.h: what
 * conntrack needs, its key in network order).
 *
 * IPv4 only: anything else gets pkt->ipv4 = 0 and is not filtered.  The
 * L4 header behind IP options is reached with cub_l4(), one constant
 * offset per IP header length, so the hardened verifier takes it
 * (cube.bpf.h); an ICMP error's embedded header is copied with
 * cub_l4_copy() into ct->icmp.  A fragment after the first (offset not
 * 0) has pkt->frag set and no L4 field read: its bytes are not an L4
 * header.  A TCP, UDP or ICMP packet too short for its header is
 * FW_CTK_BAD (conntrack labels it INVALID), with no L4 field set.
 *
 * Both structs must be map values (a per-CPU array of the cube): the
 * conntrack key is a map key, and keys on the stack cost a Spectre v4
 * barrier each under the broker's load (cube.bpf.h, "Map keys").
 */
#ifndef CUBICLE_FW_PKT_BPF_H
#define CUBICLE_FW_PKT_BPF_H

#include <cubicle/cube.bpf.h>
#include <linux/in.h>

#include "fw_ct_shared.h"
#include "fw_shared.h"

/* <linux/icmp.h> and <linux/tcp.h> are not needed: the offsets. */
#define FW_ICMP_ECHOREPLY 0
#define FW_ICMP_DEST_UNREACH 3
#define FW_ICMP_ECHO 8
#define FW_ICMP_TIME_EXCEEDED 11
#define FW_ICMP_PARAMETERPROB 12

#define FW_TCPF_FIN 0x01
#define FW_TCPF_SYN 0x02
#define FW_TCPF_RST 0x04
#define FW_TCPF_ACK 0x10

#define FW_IP_OFFMASK 0x1fff /* fragment offset, in frag_off */

struct fw_tcp_head {
	__be16 sport, dport;
	__be32 seq, ack;
	__u8 doff_res; /* data offset << 4 */
	__u8 flags;
	__be16 window;
	__be16 check, urg;
};

struct fw_udp_head {
	__be16 sport, dport, len, check;
};

struct fw_icmp_head {
	__u8 type, code;
	__be16 check;
	__be16 id, seq; /* echo; the rest of the header for others */
};

/*
 * Sets ct->key from ct's endpoints (host order) and ct->dir: the lower
 * (address, port) is a.  Everything read from and written to the map
 * value, one branch per order: nothing held in registers across it,
 * which would be spilled to the (fenced) stack.
 */
static __always_inline void
fw_ct_key_set(struct fw_ct_pkt *ct, __u8 l4proto)
{
	ct->key.l4proto = l4proto;
	ct->key.pad[0] = ct->key.pad[1] = ct->key.pad[2] = 0;
	if (ct->saddr < ct->daddr ||
	    (ct->saddr == ct->daddr && ct->sport <= ct->dport)) {
		ct->key.a_addr = bpf_htonl(ct->saddr);
		ct->key.b_addr = bpf_htonl(ct->daddr);
		ct->key.a_port = bpf_htons(ct->sport);
		ct->key.b_port = bpf_htons(ct->dport);
		ct->dir = 0;
	} else {
		ct->key.a_addr = bpf_htonl(ct->daddr);
		ct->key.b_addr = bpf_htonl(ct->saddr);
		ct->key.a_port = bpf_htons(ct->dport);
		ct->key.b_port = bpf_htons(ct->sport);
		ct->dir = 1;
	}
}

/*
 * The embedded header of an ICMP error (copied into ct->icmp): the key
 * of the flow it answers.  The embedded packet went from the error's
 * receiver (its source is the error's destination) to someone: the
 * flow's key is built from it as from the packet itself.  Only an
 * embedded header without options is read.
 */
static __always_inline int
fw_parse_icmp_err(
    void *ctx, enum cub_hook hook, struct fw_pkt *pkt, struct fw_ct_pkt *ct)
{
	struct iphdr *in = (struct iphdr *)&ct->icmp[8];
	__u8 *l4 = &ct->icmp[8 + sizeof(struct iphdr)];

	if (cub_l4_copy(ctx, hook, ct->icmp, FW_CT_ICMP_ERR_LEN) < 0)
		return -1;
	if (in->version != 4 || in->ihl != 5 ||
	    (in->frag_off & bpf_htons(FW_IP_OFFMASK)) ||
	    in->saddr != bpf_htonl(pkt->daddr))
		return -1;
	switch (in->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		ct->sport = bpf_ntohs(((struct fw_udp_head *)l4)->sport);
		ct->dport = bpf_ntohs(((struct fw_udp_head *)l4)->dport);
		break;
	case IPPROTO_ICMP:
		/* Only an echo request opens an ICMP entry. */
		if (((struct fw_icmp_head *)l4)->type != FW_ICMP_ECHO)
			return -1;
		ct->sport = ct->dport =
		    bpf_ntohs(((struct fw_icmp_head *)l4)->id);
		break;
	default:
		return -1;
	}
	ct->saddr = bpf_ntohl(in->saddr);
	ct->daddr = bpf_ntohl(in->daddr);
	fw_ct_key_set(ct, in->protocol);
	return 0;
}

/*
 * Parse the frame into pkt and ct (map values).  Returns 0 for IPv4
 * (whatever its L4), -1 for anything else (pkt->ipv4 = 0, ct->kind
 * FW_CTK_NONE): not filtered.
 */
static __always_inline int
fw_parse(
    void *ctx, enum cub_hook hook, struct fw_pkt *pkt, struct fw_ct_pkt *ct)
{
	struct iphdr *ip;
	void *l4;

	__builtin_memset(pkt, 0, sizeof(*pkt));
	ct->kind = FW_CTK_NONE;
	ct->icmp_reply = 0;
	ct->seq = ct->ack = ct->seq_end = 0;
	pkt->len = cub_pkt_len(ctx, hook);
	pkt->iif = hook == CUB_HOOK_XDP
		       ? ((struct xdp_md *)ctx)->ingress_ifindex
		       : ((struct __sk_buff *)ctx)->ingress_ifindex;
	ip = cub_ipv4(ctx, hook);
	if (!ip)
		return -1;
	pkt->ipv4 = 1;
	pkt->saddr = bpf_ntohl(ip->saddr);
	pkt->daddr = bpf_ntohl(ip->daddr);
	pkt->proto = ip->protocol;
	pkt->l4_off = ETH_HLEN + 4 * ip->ihl;
	/* The L4 length, for TCP's seq_end below. */
	ct->seq_end = bpf_ntohs(ip->tot_len) - 4 * ip->ihl;
	if (ip->frag_off & bpf_htons(FW_IP_OFFMASK)) {
		pkt->frag = 1;
		return 0;
	}
	switch (pkt->proto) {
	case IPPROTO_TCP: {
		struct fw_tcp_head *t;
		__u32 plen;

		if (cub_l4(ctx, hook, sizeof(*t), &l4))
			goto bad;
		t = l4;
		pkt->sport = bpf_ntohs(t->sport);
		pkt->dport = bpf_ntohs(t->dport);
		pkt->tcp_flags = t->flags;
		ct->seq = bpf_ntohl(t->seq);
		ct->ack = bpf_ntohl(t->ack);
		plen = ct->seq_end - 4 * (t->doff_res >> 4);
		if (plen > 0xffff) /* a lying tot_len or doff */
			plen = 0;
		ct->seq_end = ct->seq + plen + !!(t->flags & FW_TCPF_SYN) +
			      !!(t->flags & FW_TCPF_FIN);
		ct->sport = pkt->sport;
		ct->dport = pkt->dport;
		break;
	}
	case IPPROTO_UDP: {
		struct fw_udp_head *u;

		if (cub_l4(ctx, hook, sizeof(*u), &l4))
			goto bad;
		u = l4;
		pkt->sport = bpf_ntohs(u->sport);
		pkt->dport = bpf_ntohs(u->dport);
		ct->sport = pkt->sport;
		ct->dport = pkt->dport;
		break;
	}
	case IPPROTO_ICMP: {
		struct fw_icmp_head *i;

		if (cub_l4(ctx, hook, sizeof(*i), &l4))
			goto bad;
		i = l4;
		pkt->icmp_type = i->type;
		pkt->icmp_code = i->code;
		if (i->type == FW_ICMP_ECHO || i->type == FW_ICMP_ECHOREPLY) {
			ct->icmp_reply = i->type == FW_ICMP_ECHOREPLY;
			ct->sport = ct->dport = bpf_ntohs(i->id);
			break;
		}
		if (pkt->icmp_type != FW_ICMP_DEST_UNREACH &&
		    pkt->icmp_type != FW_ICMP_TIME_EXCEEDED &&
		    pkt->icmp_type != FW_ICMP_PARAMETERPROB)
			goto bad;
		if (fw_parse_icmp_err(ctx, hook, pkt, ct))
			goto bad;
		ct->kind = FW_CTK_ICMP_ERR;
		return 0;
	}
	default:
		return 0;
	}
	/* TCP, UDP, ICMP echo. */
	ct->saddr = pkt->saddr;
	ct->daddr = pkt->daddr;
	fw_ct_key_set(ct, pkt->proto);
	ct->kind = FW_CTK_FLOW;
	return 0;
bad:
	ct->kind = FW_CTK_BAD;
	return 0;
}

#endif /* CUBICLE_FW_PKT_BPF_H */
