/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * fw_ct.bpf.h: connection tracking (issue 10; docs/firewall-contract.md
 * section 3), after Polycube's ConntrackLabel and ConntrackTableUpdate.
 *
 * fw_ct_label(pkt, ct) gives the packet parsed by fw_parse() its label
 * (pkt->ct, one FW_CTB_* bit) from the LRU hash fw_ct; after the
 * verdict, fw_ct_update(pkt, ct, accepted) records an accepted packet.
 * Only packets labelled NEW or ESTABLISHED change the table: an INVALID
 * packet a policy lets through opens nothing and closes nothing.
 *
 * One entry per connection, its key the two endpoints ordered (the
 * lower first, fw_ct_key_set()), so a packet and its reply find it with
 * one lookup; the value's odir says which endpoint opened it, the
 * packet's ct->dir which one sent the packet.  An entry past its
 * expires_ns (CLOCK_BOOTTIME, bpf_ktime_get_boot_ns()) is as good as
 * absent; the LRU evicts the oldest when the table is full.
 *
 * Labels:
 *   TCP, no entry: a SYN alone is NEW, anything else INVALID (a bare ACK
 *     opens nothing: no mid-stream pick-up).
 *   TCP SYN_SENT: the SYN again from the opener NEW; a SYN-ACK from the
 *     other side acknowledging the SYN (ack = its seq + 1) ESTABLISHED;
 *     anything else INVALID.
 *   TCP SYN_RECV: the opener's ACK of the SYN-ACK, or the SYN-ACK again,
 *     ESTABLISHED; the SYN again NEW; anything else INVALID.
 *   TCP ESTABLISHED, FIN_WAIT, LAST_ACK: ESTABLISHED, but a SYN alone
 *     INVALID.  TIME_WAIT: a SYN alone NEW (the pair reopens), anything
 *     else ESTABLISHED (late retransmissions).
 *   TCP RST with an entry: ESTABLISHED (it deletes the entry).
 *   UDP, ICMP echo: no entry NEW (an echo reply: INVALID); an entry that
 *     saw no reply yet, from its opener, NEW; otherwise ESTABLISHED (an
 *     echo reply from the opener's side: INVALID).
 *   ICMP destination unreachable, time exceeded, parameter problem whose
 *     embedded header (no IP options) matches a live entry, sent to the
 *     embedded packet's source: RELATED; otherwise INVALID.  Other ICMP
 *     types: INVALID.
 *   Other protocols and fragments after the first: UNTRACKED.
 *
 * Transitions (fw_ct_update(), accepted NEW or ESTABLISHED packets):
 *   TCP none -SYN-> SYN_SENT -SYN-ACK acking it-> SYN_RECV -ACK acking
 *   the SYN-ACK-> ESTABLISHED -FIN-> FIN_WAIT -FIN from the other side->
 *   LAST_ACK -ACK of that FIN from the first FIN's side-> TIME_WAIT
 *   -SYN-> SYN_SENT; a RST deletes the entry; other packets refresh the
 *   state's timeout.  UDP, ICMP echo: none -> NEW -reply-> ESTABLISHED.
 *
 * Timeouts (fw_ct_shared.h, Polycube's): TCP SYN_SENT 120 s, SYN_RECV
 * 60 s, ESTABLISHED 432000 s (5 days), FIN_WAIT 120 s, LAST_ACK 30 s,
 * TIME_WAIT 120 s; UDP NEW 30 s, ESTABLISHED 180 s; ICMP 30 s.  Polycube
 * reads a clock its control plane writes every second; here the
 * verifier-allowed bpf_ktime_get_boot_ns().
 *
 * Include after fw_pkt.bpf.h, once per object: it defines the map fw_ct.
 */
#ifndef CUBICLE_FW_CT_BPF_H
#define CUBICLE_FW_CT_BPF_H

#include "fw_pkt.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct fw_ct_key);
	__type(value, struct fw_ct_val);
	__uint(max_entries, FW_CT_MAX);
} fw_ct SEC(".maps");

#define FW_CT_SEC 1000000000ull

static __always_inline __u64
fw_ct_timeout_ns(__u8 l4proto, __u8 state)
{
	if (l4proto == IPPROTO_UDP)
		return (state == FW_CTS_ESTABLISHED ? FW_CT_TO_UDP_ESTABLISHED
						    : FW_CT_TO_UDP_NEW) *
		       FW_CT_SEC;
	if (l4proto == IPPROTO_ICMP)
		return FW_CT_TO_ICMP * FW_CT_SEC;
	switch (state) {
	case FW_CTS_SYN_SENT:
		return FW_CT_TO_TCP_SYN_SENT * FW_CT_SEC;
	case FW_CTS_SYN_RECV:
		return FW_CT_TO_TCP_SYN_RECV * FW_CT_SEC;
	case FW_CTS_FIN_WAIT:
		return FW_CT_TO_TCP_FIN_WAIT * FW_CT_SEC;
	case FW_CTS_LAST_ACK:
		return FW_CT_TO_TCP_LAST_ACK * FW_CT_SEC;
	case FW_CTS_TIME_WAIT:
		return FW_CT_TO_TCP_TIME_WAIT * FW_CT_SEC;
	default:
		return FW_CT_TO_TCP_ESTABLISHED * FW_CT_SEC;
	}
}

/* The live entry of ct->key, or NULL (none, or expired). */
static __always_inline struct fw_ct_val *
fw_ct_find(struct fw_ct_pkt *ct)
{
	struct fw_ct_val *v = bpf_map_lookup_elem(&fw_ct, &ct->key);

	if (v && v->expires_ns <= ct->now_ns)
		return NULL;
	return v;
}

/* TCP flags as the state machine sees them. */
#define FW_CT_F(f)                                                             \
	((f) & (FW_TCPF_SYN | FW_TCPF_ACK | FW_TCPF_RST | FW_TCPF_FIN))
#define FW_CT_SYN_ONLY(f) (FW_CT_F(f) == FW_TCPF_SYN)
#define FW_CT_SYN_ACK(f)                                                       \
	(((f) & (FW_TCPF_SYN | FW_TCPF_ACK | FW_TCPF_RST)) ==                  \
	    (FW_TCPF_SYN | FW_TCPF_ACK))

static __always_inline __u8
fw_ct_tcp_label(const struct fw_ct_pkt *ct, const struct fw_ct_val *v, __u8 f)
{
	int origin;

	if (!v)
		return FW_CT_SYN_ONLY(f) ? FW_CTB_NEW : FW_CTB_INVALID;
	if (f & FW_TCPF_RST)
		return FW_CTB_ESTABLISHED;
	origin = ct->dir == v->odir;
	switch (v->state) {
	case FW_CTS_SYN_SENT:
		if (origin && FW_CT_SYN_ONLY(f))
			return FW_CTB_NEW;
		if (!origin && FW_CT_SYN_ACK(f) && ct->ack == v->seq)
			return FW_CTB_ESTABLISHED;
		return FW_CTB_INVALID;
	case FW_CTS_SYN_RECV:
		if (origin && FW_CT_SYN_ONLY(f))
			return FW_CTB_NEW;
		if (!origin && FW_CT_SYN_ACK(f))
			return FW_CTB_ESTABLISHED;
		if (origin &&
		    (f & (FW_TCPF_SYN | FW_TCPF_ACK)) == FW_TCPF_ACK &&
		    ct->ack == v->seq)
			return FW_CTB_ESTABLISHED;
		return FW_CTB_INVALID;
	case FW_CTS_TIME_WAIT:
		return FW_CT_SYN_ONLY(f) ? FW_CTB_NEW : FW_CTB_ESTABLISHED;
	default:
		return FW_CT_SYN_ONLY(f) ? FW_CTB_INVALID : FW_CTB_ESTABLISHED;
	}
}

/*
 * Label the packet: pkt->ct = one FW_CTB_* bit.  Keeps the clock's
 * reading in ct->now_ns for fw_ct_update().
 */
static __always_inline void
fw_ct_label(struct fw_pkt *pkt, struct fw_ct_pkt *ct)
{
	struct fw_ct_val *v;

	if (ct->kind == FW_CTK_NONE) {
		pkt->ct = FW_CTB_UNTRACKED;
		return;
	}
	if (ct->kind == FW_CTK_BAD) {
		pkt->ct = FW_CTB_INVALID;
		return;
	}
	ct->now_ns = bpf_ktime_get_boot_ns();
	v = fw_ct_find(ct);
	if (ct->kind == FW_CTK_ICMP_ERR) {
		pkt->ct = v ? FW_CTB_RELATED : FW_CTB_INVALID;
		return;
	}
	if (pkt->proto == IPPROTO_TCP) {
		pkt->ct = fw_ct_tcp_label(ct, v, pkt->tcp_flags);
		return;
	}
	if (!v)
		pkt->ct = ct->icmp_reply ? FW_CTB_INVALID : FW_CTB_NEW;
	else if (ct->icmp_reply)
		pkt->ct =
		    ct->dir != v->odir ? FW_CTB_ESTABLISHED : FW_CTB_INVALID;
	else if (v->state == FW_CTS_NEW && ct->dir == v->odir)
		pkt->ct = FW_CTB_NEW;
	else
		pkt->ct = FW_CTB_ESTABLISHED;
}

/* A new entry for ct->key, opened by the packet's sender. */
static __always_inline void
fw_ct_insert(struct fw_ct_pkt *ct, __u8 state, __u32 seq)
{
	ct->nv.expires_ns =
	    ct->now_ns + fw_ct_timeout_ns(ct->key.l4proto, state);
	ct->nv.seq = seq;
	ct->nv.state = state;
	ct->nv.odir = ct->dir;
	ct->nv.fin_dir = 0;
	ct->nv.pad = 0;
	bpf_map_update_elem(&fw_ct, &ct->key, &ct->nv, BPF_ANY);
}

static __always_inline void
fw_ct_set(const struct fw_ct_pkt *ct, struct fw_ct_val *v, __u8 state)
{
	v->state = state;
	v->expires_ns = ct->now_ns + fw_ct_timeout_ns(ct->key.l4proto, state);
}

static __always_inline void
fw_ct_tcp_update(struct fw_ct_pkt *ct, struct fw_ct_val *v, __u8 f)
{
	int origin;

	if (!v) {
		if (FW_CT_SYN_ONLY(f))
			fw_ct_insert(ct, FW_CTS_SYN_SENT, ct->seq_end);
		return;
	}
	if (f & FW_TCPF_RST) {
		bpf_map_delete_elem(&fw_ct, &ct->key);
		return;
	}
	origin = ct->dir == v->odir;
	switch (v->state) {
	case FW_CTS_SYN_SENT:
		if (!origin && FW_CT_SYN_ACK(f) && ct->ack == v->seq) {
			v->seq = ct->seq_end;
			fw_ct_set(ct, v, FW_CTS_SYN_RECV);
		} else if (origin && FW_CT_SYN_ONLY(f)) {
			v->seq = ct->seq_end;
			fw_ct_set(ct, v, FW_CTS_SYN_SENT);
		}
		break;
	case FW_CTS_SYN_RECV:
		if (origin &&
		    (f & (FW_TCPF_SYN | FW_TCPF_ACK)) == FW_TCPF_ACK &&
		    ct->ack == v->seq) {
			if (f & FW_TCPF_FIN) {
				v->fin_dir = ct->dir;
				fw_ct_set(ct, v, FW_CTS_FIN_WAIT);
			} else {
				fw_ct_set(ct, v, FW_CTS_ESTABLISHED);
			}
		} else if (!origin && FW_CT_SYN_ACK(f)) {
			fw_ct_set(ct, v, FW_CTS_SYN_RECV);
		}
		break;
	case FW_CTS_ESTABLISHED:
		if (f & FW_TCPF_FIN) {
			v->fin_dir = ct->dir;
			fw_ct_set(ct, v, FW_CTS_FIN_WAIT);
		} else {
			fw_ct_set(ct, v, FW_CTS_ESTABLISHED);
		}
		break;
	case FW_CTS_FIN_WAIT:
		if ((f & FW_TCPF_FIN) && ct->dir != v->fin_dir) {
			v->seq = ct->seq_end;
			fw_ct_set(ct, v, FW_CTS_LAST_ACK);
		} else {
			fw_ct_set(ct, v, FW_CTS_FIN_WAIT);
		}
		break;
	case FW_CTS_LAST_ACK:
		if ((f & FW_TCPF_ACK) && ct->dir == v->fin_dir &&
		    ct->ack == v->seq)
			fw_ct_set(ct, v, FW_CTS_TIME_WAIT);
		break;
	case FW_CTS_TIME_WAIT:
		if (FW_CT_SYN_ONLY(f))
			fw_ct_insert(ct, FW_CTS_SYN_SENT, ct->seq_end);
		break;
	default:
		break;
	}
}

/*
 * Record the packet fw_ct_label() labelled, if accepted: a NEW or
 * ESTABLISHED packet of a tracked flow opens or moves its entry.
 */
static __always_inline void
fw_ct_update(struct fw_pkt *pkt, struct fw_ct_pkt *ct, int accepted)
{
	struct fw_ct_val *v;

	if (!accepted || ct->kind != FW_CTK_FLOW ||
	    !(pkt->ct & (FW_CTB_NEW | FW_CTB_ESTABLISHED)))
		return;
	v = fw_ct_find(ct);
	if (pkt->proto == IPPROTO_TCP) {
		fw_ct_tcp_update(ct, v, pkt->tcp_flags);
		return;
	}
	if (!v) {
		if (!ct->icmp_reply)
			fw_ct_insert(ct, FW_CTS_NEW, 0);
		return;
	}
	if (ct->dir != v->odir || v->state == FW_CTS_ESTABLISHED)
		fw_ct_set(ct, v, FW_CTS_ESTABLISHED);
	else
		fw_ct_set(ct, v, FW_CTS_NEW);
}

#endif /* CUBICLE_FW_CT_BPF_H */
