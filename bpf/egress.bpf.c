// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The broker's egress program: the only way out of a cube to a netdev.
 *
 * The broker loads one copy per cube, with its own privileges, for the
 * cube's hook, with the cube's own cub_ports and cub_scratch_map (reused
 * by fd, so it sees that cube's ports and nothing else), and puts it in
 * slot CUB_EGRESS_OUT of the cube's cub_egress.  cub_forward()
 * (cube.bpf.h) records the out port (TC: skb->cb[0]; XDP: the per-CPU
 * scratch) and tail-calls it.  The port is the cube's choice; the netdev
 * is the broker's: cub_ports is read-only to programs, so the only
 * ifindexes reachable are those the broker wired to the cube's ports.  A
 * port that peers with another cube's port (CUB_PORT_PEER) is a tail call
 * into that cube's program, which the broker put in slot port of
 * cub_peers, with the in-port set (cube_shared.h, struct cub_hop).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <cubicle/cube_shared.h>

/* The cube's maps (bpf_map__reuse_fd() before load): same shapes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_port);
	__uint(max_entries, CUB_MAX_PORTS);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_scratch);
	__uint(max_entries, 1);
} cub_scratch_map SEC(".maps");

/*
 * Port -> the program of the cube that port peers with: the broker's, per
 * cube (pinned as <cube>/peers), never in the cube's object.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_PEERS_SLOTS);
} cub_peers SEC(".maps");

/*
 * Set before load: this copy is the second half of the cube's egress,
 * after the egress stack of the out port (broker/tcube.c), reached only
 * from that stack's table: it must not enter the stack again.
 */
const volatile __u32 egress_after_stack = 0;

/*
 * The cube's flood set (cube_shared.h), the broker's, pinned as
 * <cube>/flood and, on XDP, <cube>/flooddev (reused by fd; without
 * them, empty maps of this object's own: floods reach no port).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_flood);
	__uint(max_entries, 1);
} cub_flood SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_MAX_PORTS);
} cub_flood_dev SEC(".maps");

/* The cube's selective flood (cube_shared.h, struct cub_flood_sel),
 * reused by fd when the cube's object has one (flood_sel.bpf.h); else an
 * empty one of this object's own: such a flood reaches no port. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_flood_sel);
	__uint(max_entries, 1);
} cub_flood_sel SEC(".maps");

/* This cube's own hop key (cube_shared.h), reused by fd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_hopkey);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_hopkey SEC(".maps");

/*
 * Port -> the hop key of the cube that port peers with (cube_shared.h):
 * the broker's, per cube (pinned as <cube>/peerkey, written by
 * topology.c before the peer's program goes in cub_peers), never in a
 * cube's object: a cube reads its own key only.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_hopkey);
	__uint(max_entries, CUB_MAX_PORTS);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_peerkey SEC(".maps");

/* The cube's packet-in ring (reused by fd): flood copies for the broker. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cub_pktin SEC(".maps");

static const __u32 egress_zero = 0;

/* Port *@port if it is up and connected, else NULL. */
static __always_inline struct cub_port *
egress_port(const __u32 *port)
{
	struct cub_port *p = bpf_map_lookup_elem(&cub_ports, port);

	if (!p || !(p->flags & CUB_PORT_UP) || !p->ifindex)
		return NULL;
	return p;
}

/*
 * A flood's copy for the broker, which puts it into the cube peers the
 * packet itself does not reach (cube_shared.h): the whole frame or
 * nothing (a frame over CUB_PKTIN_MAX is not copied).
 */
static __always_inline void
egress_flood_copy(void *ctx, int xdp, __u32 in_port, __u32 took)
{
	struct cub_pktin_hdr *h;
	__u64 len;

	len = xdp ? bpf_xdp_get_buff_len(ctx)
		  : ((struct __sk_buff *)ctx)->len;
	if (len < 14 || len > CUB_PKTIN_MAX)
		return;
	h = bpf_ringbuf_reserve(
	    &cub_pktin, sizeof(*h) + CUB_PKTIN_MAX, 0);
	if (!h)
		return;
	h->port = in_port;
	h->wire_len = (__u32)len;
	h->cap_len = (__u32)len;
	h->reason = CUB_PKTIN_FLOOD | took;
	if ((xdp ? bpf_xdp_load_bytes(ctx, 0, h + 1, (__u32)len)
		 : bpf_skb_load_bytes(ctx, 0, h + 1, (__u32)len)) < 0) {
		bpf_ringbuf_discard(h, 0);
		return;
	}
	bpf_ringbuf_submit(h, 0);
}

/* Whether port is one of the selective flood's (sel NULL: every port). */
static __always_inline int
egress_sel_has(const struct cub_flood_sel *sel, __u32 port)
{
	if (!sel)
		return 1;
	return port < CUB_MAX_PORTS &&
	       ((sel->mask[(port / 32) & (CUB_FLOOD_SEL_WORDS - 1)] >>
		    (port % 32)) &
		   1);
}

/* The 802.1Q tag state port asks of a selective flood's copy. */
static __always_inline void
egress_sel_tag(
    struct __sk_buff *skb, const struct cub_flood_sel *sel, __u32 port)
{
	int untag;

	if (!sel || port >= CUB_MAX_PORTS)
		return;
	untag = (sel->untag[(port / 32) & (CUB_FLOOD_SEL_WORDS - 1)] >>
		    (port % 32)) &
		1;
	if (untag && skb->vlan_present)
		bpf_skb_vlan_pop(skb);
	else if (!untag && !skb->vlan_present)
		bpf_skb_vlan_push(
		    skb, bpf_htons(ETH_P_8021Q), (__u16)(sel->vid & 0xffff));
}

/*
 * A clone of the packet out of each netdev port of the flood set but
 * in_port (selective: of those in sel's mask, each with its tag);
 * returns the first tail-call port that is not in_port, which the
 * packet itself takes, or CUB_MAX_PORTS (none: the packet is dropped,
 * its copies are out).  Cube peers past that one: a copy for the broker
 * (not for a selective flood: its peers are not known to be in sel).
 */
static __always_inline __u32
egress_flood_tc(struct __sk_buff *skb, __u32 in_port, int selective)
{
	struct cub_flood *f = bpf_map_lookup_elem(&cub_flood, &egress_zero);
	__u32 i, n, port, took = CUB_MAX_PORTS, peers = 0;
	struct cub_flood_sel *sel = NULL;
	struct cub_port *p;

	if (!f)
		return CUB_MAX_PORTS;
	if (selective) {
		sel = bpf_map_lookup_elem(&cub_flood_sel, &egress_zero);
		if (!sel)
			return CUB_MAX_PORTS;
	}
	/* No hop on the clones, nor a word of a key (review 20). */
	skb->cb[1] = skb->cb[2] = 0;
	n = f->ndev;
	for (i = 0; i < CUB_MAX_PORTS && i < n; i++) {
		port = f->dev[i].port;
		if (port == in_port || !f->dev[i].ifindex ||
		    !egress_sel_has(sel, port))
			continue;
		egress_sel_tag(skb, sel, port);
		bpf_clone_redirect(skb, f->dev[i].ifindex, 0);
	}
	n = f->ntail;
	for (i = 0; i < CUB_MAX_PORTS && i < n; i++)
		if (f->tail[i].port != in_port &&
		    egress_sel_has(sel, f->tail[i].port)) {
			took = f->tail[i].port;
			peers = f->tail[i].peer;
			break;
		}
	if (sel) {
		egress_sel_tag(skb, sel, took);
		return took;
	}
	/* The cube peers left: all but the one taken and the in-port. */
	p = egress_port(&in_port);
	peers = f->npeer - peers - (p && (p->flags & CUB_PORT_PEER) ? 1 : 0);
	if (peers && peers <= CUB_MAX_PORTS)
		egress_flood_copy(skb, 0, in_port,
		    took < CUB_MAX_PORTS ? took : CUB_FLOOD_NONE);
	return took;
}

SEC("tc")
int
cub_egress_tc(struct __sk_buff *skb)
{
	/* A stack key: the broker loads this program privileged, so the
	 * verifier fences no stack store (cube.bpf.h, Spectre v4). */
	__u32 port = skb->cb[0];
	struct cub_hopkey *k;
	struct cub_port *p;

	if (port & CUB_FLOOD) {
		port = egress_flood_tc(
		    skb, CUB_FLOOD_PORT(port), !!(port & CUB_FLOOD_SEL));
		if (port >= CUB_MAX_PORTS)
			return TC_ACT_SHOT;
		skb->cb[0] = port;
	}
	p = egress_port(&port);
	if (!p)
		return TC_ACT_SHOT;
	/* The port's egress stack, if transparent cubes are attached to
	 * it (an empty slot: none; the tail call returns). */
	if (!egress_after_stack)
		bpf_tail_call(skb, &cub_peers, CUB_PEERS_TSTACK + port);
	if (!(p->flags & CUB_PORT_PEER)) {
		/* No hop, nor a word of one, follows it onto the wire
		 * (cb[2] held most of the next cube's key[1]: review 20;
		 * cb[0] is the out port, which the broker's packet-out
		 * reads back). */
		skb->cb[1] = skb->cb[2] = 0;
		return bpf_redirect(p->ifindex, 0);
	}
	k = bpf_map_lookup_elem(&cub_peerkey, &port);
	if (!k || !k->key[0])
		return TC_ACT_SHOT;
	skb->cb[0] = k->key[0];
	skb->cb[1] = CUB_HOP_MAGIC;
	skb->cb[2] = CUB_HOP_TC_PORT(k, CUB_PEER_PORT(p->ifindex));
	/* A hop was made: the broker's packet-out runs (broker/pktout.c)
	 * then follow no redirect, whose cb[0] is another cube's port. */
	skb->cb[4] = CUB_HOP_MAGIC;
	bpf_tail_call(skb, &cub_peers, port);
	return TC_ACT_SHOT;
}

/*
 * A frame to a netdev that starts with a hop and this cube's own key (the
 * cube read its key and wrote one): a host on that wire could hand it
 * back as a hop into this cube, so it goes nowhere.  No cube reads
 * another cube's key.
 */
static __always_inline int
egress_hop_forged(struct xdp_md *ctx)
{
	struct cub_hop *hop = (void *)(long)ctx->data;
	struct cub_hopkey *k;

	if ((void *)(hop + 1) > (void *)(long)ctx->data_end ||
	    hop->magic != CUB_HOP_MAGIC)
		return 0;
	k = bpf_map_lookup_elem(&cub_hopkey, &egress_zero);
	return !k || (hop->key[0] == k->key[0] && hop->key[1] == k->key[1]);
}

SEC("xdp")
int
cub_egress_xdp(struct xdp_md *ctx)
{
	struct cub_scratch *s;
	struct cub_hopkey *k;
	struct cub_hop *hop;
	struct cub_port *p;
	__u32 port, in_port;

	s = bpf_map_lookup_elem(&cub_scratch_map, &egress_zero);
	if (!s)
		return XDP_DROP;
	port = s->out_port;
	/* A copy out of each netdev port but the one it came in by: a
	 * packet from a cube peer came in by no netdev of this cube's. */
	/* A selective flood is TC's (no devmap per set of ports). */
	if ((port & (CUB_FLOOD | CUB_FLOOD_SEL)) == (CUB_FLOOD | CUB_FLOOD_SEL))
		return XDP_DROP;
	if (port & CUB_FLOOD) {
		struct cub_flood *f =
		    bpf_map_lookup_elem(&cub_flood, &egress_zero);

		/* The cube peers but the in-port: a copy for the broker. */
		in_port = CUB_FLOOD_PORT(port);
		p = egress_port(&in_port);
		if (f && f->npeer > (p && (p->flags & CUB_PORT_PEER) ? 1 : 0))
			egress_flood_copy(ctx, 1, in_port, CUB_FLOOD_NONE);
		if (egress_hop_forged(ctx))
			return XDP_DROP;
		return bpf_redirect_map(&cub_flood_dev, 0,
		    BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
	}
	p = egress_port(&port);
	if (!p)
		return XDP_DROP;
	if (!(p->flags & CUB_PORT_PEER))
		return egress_hop_forged(ctx) ? XDP_DROP
					      : bpf_redirect(p->ifindex, 0);
	in_port = CUB_PEER_PORT(p->ifindex);
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*hop)))
		return XDP_DROP;
	hop = (void *)(long)ctx->data;
	if ((void *)(hop + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	k = bpf_map_lookup_elem(&cub_peerkey, &port);
	if (!k || !(k->key[0] | k->key[1]))
		return XDP_DROP;
	hop->magic = CUB_HOP_MAGIC;
	hop->in_port = in_port;
	hop->key[0] = k->key[0];
	hop->key[1] = k->key[1];
	bpf_tail_call(ctx, &cub_peers, port);
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
