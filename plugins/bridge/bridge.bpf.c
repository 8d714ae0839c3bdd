// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * bridge: an 802.1Q learning bridge (Polycube's pcn-bridge), TC only.
 *
 * A frame's VLAN is its tag's on a trunk port (one the port allows), the
 * port's access VLAN on an access port (a tagged frame there is
 * dropped), the native VLAN for an untagged frame on a trunk with native
 * VLAN on (else dropped).  On TC the stack has already moved a received
 * tag into skb->vlan_tci.  The FDB is keyed (VLAN, MAC): a host is
 * learned per VLAN.  A frame to a known host of its VLAN goes out of
 * that host's port, tagged for a trunk, untagged for an access port or
 * a trunk's native VLAN; broadcast, multicast and unknown unicast are
 * flooded to the VLAN's ports only, in the fast path, by the broker's
 * egress program (flood_sel.bpf.h: the cube names ports by index and the
 * tag each wants; the ifindexes stay the broker's).  br_pstate holds a
 * port state per (port, VLAN) for STP (the worker's): no entry,
 * forwarding; a VLAN under STP (br_vlan.pstate BR_VS_STP) sends its
 * BPDUs to the worker (cub_slowpath_tc(), reason BR_REASON_BPDU | vid),
 * on any port state.
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/flood_sel.bpf.h>

#include "bridge_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct br_config);
	__uint(max_entries, 1);
} br_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct br_key);
	__type(value, struct br_entry);
	__uint(max_entries, BR_FDB_MAX);
} br_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct br_key);
	__type(value, struct br_entry);
	__uint(max_entries, BR_STATIC_MAX);
} br_static SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct br_port);
	__uint(max_entries, CUB_MAX_PORTS);
} br_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct br_vlan);
	__uint(max_entries, BR_VLANS);
} br_vlan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct br_pkey);
	__type(value, struct br_pstate);
	__uint(max_entries, BR_PSTATE_MAX);
} br_pstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct br_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} br_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct br_scratch);
	__uint(max_entries, 1);
} br_scratch SEC(".maps");

#define BR_REFRESH_NS 1000000000ull

static __always_inline int
br_bit(const __u32 *w, __u32 port)
{
	__u32 i = port >> 5;

	/* A bound the verifier sees (clang folds a plain & 3 into the
	 * shift, whose range it cannot follow). */
	asm volatile("%0 &= 3" : "+r"(i));
	return port < CUB_MAX_PORTS && ((w[i] >> (port & 31)) & 1);
}

/* The state of port in VLAN sc->vid (no entry: forwarding). */
static __always_inline __u32
br_state(struct br_scratch *sc, __u32 port)
{
	struct br_pstate *ps;

	sc->pk.port = (__u16)port;
	sc->pk.vlan = (__u16)sc->vid;
	ps = bpf_map_lookup_elem(&br_pstate, &sc->pk);
	return ps ? ps->state : BR_PS_FORWARDING;
}

static __always_inline void
br_learn(struct br_scratch *sc, __u32 port, __u64 now)
{
	struct br_entry *e;

	e = bpf_map_lookup_elem(&br_fdb, &sc->src);
	if (e && e->port == port && now - e->seen_ns < BR_REFRESH_NS)
		return;
	if (bpf_map_lookup_elem(&br_static, &sc->src))
		return;
	if (e) {
		e->port = port;
		e->seen_ns = now;
		return;
	}
	sc->learn.port = port;
	sc->learn.pad = 0;
	sc->learn.seen_ns = now;
	bpf_map_update_elem(&br_fdb, &sc->src, &sc->learn, BPF_ANY);
}

static __always_inline void
br_key_set(struct br_key *k, __u32 vid, const __u8 *a)
{
	k->vlan = (__u16)vid;
	__builtin_memcpy(k->addr, a, 6);
}

/* The tag port wants for the frame of VLAN vid: none (untag), or vid. */
static __always_inline void
br_tag(struct __sk_buff *skb, const struct br_vlan *v, __u32 port, __u32 vid)
{
	if (br_bit(v->untag, port)) {
		if (skb->vlan_present)
			bpf_skb_vlan_pop(skb);
		return;
	}
	if (skb->vlan_present && (skb->vlan_tci & 0xfff) == vid)
		return;
	if (skb->vlan_present)
		bpf_skb_vlan_pop(skb);
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), (__u16)vid);
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	const enum cub_hook hook = CUB_HOOK_TC;
	struct cub_flood_sel *fs;
	struct br_scratch *sc;
	struct br_config *cfg;
	struct cub_scratch *s;
	struct br_stats *st;
	struct br_entry *e;
	struct br_port *pc;
	struct br_vlan *v;
	struct ethhdr *eth;
	void *end;
	__u32 len, state, i;
	__u64 now;
	int port;

	port = cub_in_port(skb, hook);
	if (port < 0)
		return cub_drop(hook);
	eth = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	s = cub_scratch();
	sc = bpf_map_lookup_elem(&br_scratch, &cub_zero_key);
	cfg = bpf_map_lookup_elem(&br_config, &cub_zero_key);
	if (!s || !sc || !cfg)
		return cub_drop(hook);
	s->key[0] = port;
	st = bpf_map_lookup_elem(&br_stats, &s->key[0]);
	pc = bpf_map_lookup_elem(&br_port, &s->key[0]);
	if (!st || !pc)
		return cub_drop(hook);
	len = skb->len;
	st->rx_packets++;
	st->rx_bytes += len;
	if ((void *)(eth + 1) > end || !(pc->flags & BR_P_VALID))
		goto drop;
	/* The frame's VLAN (a VLAN 0 tag is a priority tag: untagged). */
	if (skb->vlan_present && (skb->vlan_tci & 0xfff)) {
		if (!(pc->flags & BR_P_TRUNK))
			goto vdrop;
		sc->vid = skb->vlan_tci & 0xfff;
	} else {
		if ((pc->flags & BR_P_TRUNK) && !(pc->flags & BR_P_NATIVE))
			goto vdrop;
		sc->vid = pc->pvid;
	}
	s->key[1] = sc->vid;
	v = bpf_map_lookup_elem(&br_vlan, &s->key[1]);
	if (!v || !br_bit(v->members, (__u32)port))
		goto vdrop;
	if (v->pstate & BR_VS_STP) {
		/* A BPDU (01:80:c2:00:00:00) of an STP VLAN: to the
		 * worker whatever the port's state, never flooded. */
		if (eth->h_dest[0] == 0x01 && eth->h_dest[1] == 0x80 &&
		    eth->h_dest[2] == 0xc2 && eth->h_dest[3] == 0 &&
		    eth->h_dest[4] == 0 && eth->h_dest[5] == 0) {
			st->bpdus++;
			return cub_slowpath_tc(
			    skb, (__u32)port, BR_REASON_BPDU | sc->vid);
		}
	}
	state = v->pstate ? br_state(sc, (__u32)port) : BR_PS_FORWARDING;
	if (state != BR_PS_FORWARDING && state != BR_PS_LEARNING)
		goto drop;
	now = bpf_ktime_get_ns();
	br_key_set(&sc->src, sc->vid, eth->h_source);
	br_key_set(&sc->dst, sc->vid, eth->h_dest);
	if (!(sc->src.addr[0] & 1))
		br_learn(sc, (__u32)port, now);
	if (state == BR_PS_LEARNING)
		goto drop;
	if (sc->dst.addr[0] & 1)
		goto flood;
	e = bpf_map_lookup_elem(&br_fdb, &sc->dst);
	if (e && (__s64)(now - e->seen_ns) > (__s64)cfg->aging_ns) {
		bpf_map_delete_elem(&br_fdb, &sc->dst);
		e = NULL;
	}
	if (!e)
		e = bpf_map_lookup_elem(&br_static, &sc->dst);
	if (!e)
		goto flood;
	s->key[2] = e->port;
	if (s->key[2] == s->key[0] || !br_bit(v->members, s->key[2]) ||
	    (v->pstate && br_state(sc, s->key[2]) != BR_PS_FORWARDING))
		goto drop;
	br_tag(skb, v, s->key[2], sc->vid);
	st = bpf_map_lookup_elem(&br_stats, &s->key[2]);
	if (st) {
		st->tx_packets++;
		st->tx_bytes += len;
	}
	return cub_forward(skb, hook, s->key[2]);
flood:
	fs = cub_flood_sel_get();
	if (!fs)
		goto drop;
	for (i = 0; i < BR_WORDS; i++) {
		fs->mask[i] = v->fwd[i];
		fs->untag[i] = v->untag[i];
	}
	fs->vid = sc->vid;
	/* The egress program pushes vid where the frame has no tag. */
	if (skb->vlan_present && (skb->vlan_tci & 0xfff) != sc->vid)
		bpf_skb_vlan_pop(skb);
	st->floods++;
	return cub_flood_some(skb, hook, (__u32)port);
vdrop:
	st->vlan_drops++;
drop:
	st->drops++;
	return cub_drop(hook);
}

char _license[] SEC("license") = "GPL";
