/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_ref.c: the reference evaluation (fw_ref.h), written for clarity,
 * not speed: every match of every rule in order, as iptables does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_ref.h"

static bool
addr_match(const struct fw_addr_match *m, uint32_t a)
{
	bool in = false;

	for (uint32_t i = 0; i < m->n && !in; i++) {
		uint8_t len = m->p[i].len > 32 ? 32 : m->p[i].len;
		uint32_t mask = len ? ~0u << (32 - len) : 0;

		in = ((a ^ m->p[i].addr) & mask) == 0;
	}
	return in != m->neg;
}

static bool
port_in(const struct fw_port_match *m, uint16_t port)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (port >= m->r[i].lo && port <= m->r[i].hi)
			return true;
	return false;
}

static bool
if_match(
    const struct fw_if_match *m, const struct fw_env *env, uint32_t ifindex)
{
	static uint32_t idx[FW_IFLIST_MAX];
	bool in = false;
	int n;

	if (!m->name[0])
		return !m->neg;
	n = env && env->ifmatch
		? env->ifmatch(env->arg, m->name, idx, FW_IFLIST_MAX)
		: 0;
	if (n > FW_IFLIST_MAX)
		n = FW_IFLIST_MAX;
	for (int i = 0; i < n && !in; i++)
		in = idx[i] == ifindex;
	return in != m->neg;
}

bool
fw_ref_match(
    const struct fw_rule *r, const struct fw_env *env, const struct fw_pkt *pkt)
{
	bool l4 = !pkt->frag;

	if (r->src.set && !addr_match(&r->src, pkt->saddr))
		return false;
	if (r->dst.set && !addr_match(&r->dst, pkt->daddr))
		return false;
	if (r->proto.set && (r->proto.proto == 0 ||
				r->proto.proto == pkt->proto) == r->proto.neg)
		return false;
	if (r->sport.set &&
	    (!l4 || port_in(&r->sport, pkt->sport) == r->sport.neg))
		return false;
	if (r->dport.set && !r->ports_either &&
	    (!l4 || port_in(&r->dport, pkt->dport) == r->dport.neg))
		return false;
	if (r->dport.set && r->ports_either &&
	    (!l4 || (port_in(&r->dport, pkt->sport) ||
			port_in(&r->dport, pkt->dport)) == r->dport.neg))
		return false;
	if (r->tcpflags.set && (!l4 || ((pkt->tcp_flags & r->tcpflags.mask) ==
					   r->tcpflags.cmp) == r->tcpflags.neg))
		return false;
	if (r->icmp.set &&
	    (!l4 ||
		(r->icmp.type == 255 ||
		    (r->icmp.type == pkt->icmp_type &&
			(r->icmp.code < 0 ||
			    r->icmp.code == pkt->icmp_code))) == r->icmp.neg))
		return false;
	if (r->iif.set && !if_match(&r->iif, env, pkt->iif))
		return false;
	if (r->oif.set && !if_match(&r->oif, env, pkt->oif))
		return false;
	if (r->ctstate.set &&
	    ((pkt->ct & r->ctstate.mask) != 0) == r->ctstate.neg)
		return false;
	if (r->srctype.set &&
	    ((pkt->src_type & r->srctype.mask) != 0) == r->srctype.neg)
		return false;
	if (r->dsttype.set &&
	    ((pkt->dst_type & r->dsttype.mask) != 0) == r->dsttype.neg)
		return false;
	return true;
}

static void
count(struct fw_result *res, uint32_t slot)
{
	if (res->ncounted < FW_RES_COUNTED_MAX)
		res->counted[res->ncounted] = slot;
	res->ncounted++;
}

static int
find_chain(const struct fw_chain *chains, uint32_t nchains, const char *name)
{
	for (uint32_t i = 0; i < nchains; i++)
		if (!strcmp(chains[i].name, name))
			return (int)i;
	return -ENOENT;
}

int
fw_ref_classify(const struct fw_chain *chains, uint32_t nchains, uint32_t start,
    const struct fw_env *env, const struct fw_pkt *pkt, fw_post_fn post,
    void *arg, struct fw_result *res)
{
	struct {
		uint32_t chain, pos;
	} stack[FW_MAX_JUMP_DEPTH];
	uint32_t depth = 0, c = start, pos = 0;
	uint64_t steps = 0;

	memset(res, 0, sizeof(*res));
	if (start >= nchains || !chains[start].builtin)
		return -EINVAL;
	res->verdict = FW_T_ACCEPT;
	if (!pkt->ipv4)
		return 0;
	for (;;) {
		const struct fw_rule *r;
		int t = -1;

		if (++steps > (1u << 26))
			return -ELOOP;
		if (pos >= chains[c].nrules) {
			if (depth == 0)
				goto policy;
			depth--;
			c = stack[depth].chain;
			pos = stack[depth].pos;
			continue;
		}
		r = &chains[c].rules[pos++];
		if (!fw_ref_match(r, env, pkt))
			continue;
		if ((r->mset.set || r->limit.set) && post &&
		    !post(arg, r->slot, pkt))
			continue;
		count(res, r->slot);
		switch (r->target) {
		case FW_T_NONE:
			break;
		case FW_T_LOG:
			if (res->nlog < FW_RES_LOG_MAX)
				res->log[res->nlog] = r->slot;
			res->nlog++;
			break;
		case FW_T_ACCEPT:
		case FW_T_DROP:
		case FW_T_REJECT:
			res->verdict = (uint8_t)r->target;
			res->reject_with = r->target == FW_T_REJECT
					       ? (uint8_t)r->reject_with
					       : 0;
			res->slot = r->slot;
			return 0;
		case FW_T_JUMP:
		case FW_T_GOTO:
			t = find_chain(chains, nchains, r->jump);
			if (t < 0)
				return t;
			if (r->target == FW_T_JUMP) {
				if (depth == FW_MAX_JUMP_DEPTH)
					return -ELOOP;
				stack[depth].chain = c;
				stack[depth].pos = pos;
				depth++;
			}
			c = (uint32_t)t;
			pos = 0;
			break;
		case FW_T_RETURN:
			if (depth == 0)
				goto policy;
			depth--;
			c = stack[depth].chain;
			pos = stack[depth].pos;
			break;
		default:
			return -EINVAL;
		}
	}
policy:
	res->verdict = (uint8_t)chains[start].policy;
	res->slot = chains[start].policy_slot;
	count(res, res->slot);
	return 0;
}
