/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Framework maps and helpers every cube's BPF object includes (style rule 4).
 *
 * A cube object defines two entry points with the same body (style rule 26):
 *
 *	SEC("tc")  int cub_ingress_tc(struct __sk_buff *skb);
 *	SEC("xdp") int cub_ingress_xdp(struct xdp_md *ctx);
 *
 * The broker loads only the one matching the cube's hook and attaches it to
 * the peer netdev of every port (clsact ingress, or XDP).  It fills
 * cub_ports and cub_if2port; the cube reads them.  Packets a cube sends to
 * its worker go through the cub_pktin ring buffer.
 *
 * A cube never redirects by itself: the broker refuses the redirect
 * helpers (bpf_redirect, bpf_redirect_map, bpf_clone_redirect,
 * bpf_redirect_peer, bpf_redirect_neigh) and bpf_fib_lookup.  cub_forward()
 * records the out port and tail-calls the broker's egress program through
 * cub_egress, which redirects to the netdev the broker wired to that port
 * and nowhere else, or tail-calls the program of the cube that port peers
 * with: one tail call per cube on the path, one more per cube-to-cube
 * link (of the 33 a packet may make).
 *
 * The hook-generic helpers (cub_in_port(), cub_forward(), cub_slowpath(),
 * cub_drop(), cub_pkt_len()) take a compile-time constant enum cub_hook and
 * a void *ctx; after inlining, the branch for the other hook is dead code
 * and never reaches the verifier.
 *
 * Include this header once per object, after <linux/bpf.h> and
 * <bpf/bpf_helpers.h> (no vmlinux.h needed).
 */
#ifndef CUBICLE_CUBE_BPF_H
#define CUBICLE_CUBE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <cubicle/cube_shared.h>

/*
 * Port index -> struct cub_port; written by the broker only: read-only to
 * programs (BPF_F_RDONLY_PROG, which the broker enforces), since the
 * broker's egress program redirects to the ifindex it holds.
 */
#ifndef CUB_PORTS_MAP_FLAGS /* only tests of the broker's check set it */
#define CUB_PORTS_MAP_FLAGS BPF_F_RDONLY_PROG
#endif
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_port);
	__uint(max_entries, CUB_MAX_PORTS);
	__uint(map_flags, CUB_PORTS_MAP_FLAGS);
} cub_ports SEC(".maps");

/* Peer netdev ifindex -> port index; written by the broker. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_MAX_PORTS);
} cub_if2port SEC(".maps");

/*
 * The way out of the cube: slot CUB_EGRESS_OUT holds the broker's egress
 * program, loaded for this cube with its cub_ports and cub_scratch_map.
 * Only the broker fills it; cub_forward() tail-calls it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_EGRESS_SLOTS);
} cub_egress SEC(".maps");

/* This cube's hop key (cube_shared.h, struct cub_hopkey): the broker's
 * map, one per cube; read-only to programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_hopkey);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_hopkey SEC(".maps");

/* Packet-in records (struct cub_pktin_hdr + bytes); read by the broker. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cub_pktin SEC(".maps");

enum cub_hook {
	CUB_HOOK_TC = 0,
	CUB_HOOK_XDP = 1,
};

/* Size of one packet-in record as reserved in cub_pktin. */
#define CUB_PKTIN_REC (sizeof(struct cub_pktin_hdr) + CUB_PKTIN_MAX)

/*
 * Map keys and Spectre v4.  The broker loads cubes without CAP_PERFMON, so
 * the verifier mitigates speculative store bypass: after a store to a stack
 * slot that does not yet hold plain data (the first store to a slot, or one
 * over a spilled bounded scalar) it inserts a barrier (nospec, lfence on
 * x86).  The classic
 *
 *	__u32 key = port;
 *	v = bpf_map_lookup_elem(&map, &key);
 *
 * costs one such barrier per key, a few percent of forwarding rate each.
 * A key needs only be readable memory, and stores to map values are never
 * fenced, so keep keys out of the stack:
 *
 *	struct cub_scratch *s = cub_scratch();
 *
 *	if (!s)
 *		return cub_drop(hook);
 *	s->key[0] = port;
 *	v = bpf_map_lookup_elem(&map, &s->key[0]);
 *
 * or pass a pointer into a map value you already hold (&act->outport), if
 * the value cannot change between the lookups that use it.  cub_scratch()
 * is an inlined per-CPU array lookup; key[] belongs to the cube (the
 * helpers below use only the private fields), and is valid only for the
 * current packet.  For wider keys, declare a one-entry PERCPU_ARRAY of your
 * own and look it up with &cub_zero_key the same way.  To check an object:
 * load it as the broker does (bench/xdpgen --no-perfmon) and grep
 * `bpftool prog dump xlated` for nospec.  Pointers spilled to the stack are
 * fenced too, so keep an eye on register pressure across helper calls.
 */

/* Key 0, in .rodata: a map-value pointer the verifier accepts as a key. */
static const __u32 cub_zero_key = 0;

/*
 * Per-CPU direct-mapped cache in front of cub_if2port: a hash lookup costs
 * about 25 ns here, an array access is inlined.  Slot
 * (ifindex % CUB_IF2PORT_CACHE) remembers the last answer for that ifindex;
 * a hit is trusted only while cub_ports[port] is up with that same ifindex,
 * so user space need only keep this invariant: cub_ports[p] == { ifindex,
 * UP } implies cub_if2port[ifindex] == p (take a port down or clear its
 * ifindex before deleting or re-pointing its cub_if2port entry).  Private
 * to the object (it lives in cub_scratch, struct cub_scratch in
 * cube_shared.h); the broker never touches it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_scratch);
	__uint(max_entries, 1);
} cub_scratch_map SEC(".maps");

/* This CPU's scratch area; never NULL in practice, but check it. */
static __always_inline struct cub_scratch *
cub_scratch(void)
{
	return bpf_map_lookup_elem(&cub_scratch_map, &cub_zero_key);
}

/*
 * A miss stores the ifindex in its slot first and looks it up from there
 * (no stack key); if cub_if2port has no answer the slot keeps a stale
 * port, which the cub_ports check above rejects.  The empty asm stops clang
 * from recomputing the slot address (each recomputation is a masked,
 * Spectre v1 sanitized pointer addition).
 */
static __always_inline int
cub_if2port_lookup(__u32 ifindex)
{
	struct cub_scratch *s = cub_scratch();
	struct cub_if2port_slot *hint;
	struct cub_port *p;
	__u32 *port;

	if (!s)
		return -1;
	hint = &s->if2port[ifindex & (CUB_IF2PORT_CACHE - 1)];
	asm volatile("" : "+r"(hint));
	if (hint->ifindex == ifindex && ifindex) {
		p = bpf_map_lookup_elem(&cub_ports, &hint->port);
		if (p && p->ifindex == ifindex && (p->flags & CUB_PORT_UP))
			return (int)hint->port;
	}
	hint->ifindex = ifindex;
	port = bpf_map_lookup_elem(&cub_if2port, &hint->ifindex);
	if (!port)
		return -1;
	hint->port = *port;
	return (int)hint->port;
}

/*
 * Port index the packet arrived on, or -1 if it is not one of the cube's.
 * A packet the broker's egress program of a cube whose port peers with
 * one of this cube's handed over says its port in skb->cb (TC) or a
 * struct cub_hop in front of the frame (XDP; stripped here, before the
 * cube parses the packet), with this cube's hop key, which nothing from
 * a wire has (cube_shared.h, struct cub_hopkey): that comes first, since
 * a packet that left by a port and came back through a cube peer still
 * has the first port's netdev as its ingress.  Any other packet came in
 * by the netdev of one of the cube's ports.
 */
/* Is port (a value in a register) one that peers with a cube? */
static __always_inline int
cub_port_is_peer(__u32 port)
{
	struct cub_scratch *s = cub_scratch();
	struct cub_port *p;

	if (!s)
		return 0;
	s->fw_key = port;
	p = bpf_map_lookup_elem(&cub_ports, &s->fw_key);
	return p && (p->flags & CUB_PORT_UP) && (p->flags & CUB_PORT_PEER);
}

static __always_inline int
cub_in_port_tc(struct __sk_buff *skb)
{
	struct cub_hopkey *k;

	if (skb->cb[1] == CUB_HOP_MAGIC) {
		k = bpf_map_lookup_elem(&cub_hopkey, &cub_zero_key);
		if (k && k->key[0] && skb->cb[0] == k->key[0] &&
		    CUB_HOP_TC_OK(k, skb->cb[2]) &&
		    cub_port_is_peer(skb->cb[2] & 0xffu))
			return (int)(skb->cb[2] & 0xffu);
	}
	return cub_if2port_lookup(skb->ingress_ifindex);
}

static __always_inline int
cub_in_port_xdp(struct xdp_md *ctx)
{
	struct cub_hop *hop = (void *)(long)ctx->data;
	struct cub_hopkey *k;
	int port;

	if ((void *)(hop + 1) <= (void *)(long)ctx->data_end &&
	    hop->magic == CUB_HOP_MAGIC) {
		k = bpf_map_lookup_elem(&cub_hopkey, &cub_zero_key);
		if (k && (k->key[0] | k->key[1]) && hop->key[0] == k->key[0] &&
		    hop->key[1] == k->key[1] &&
		    cub_port_is_peer(CUB_PEER_PORT(hop->in_port))) {
			port = (int)CUB_PEER_PORT(hop->in_port);
			/* The egress program put it in front: strip it. */
			if (bpf_xdp_adjust_head(ctx, (int)sizeof(*hop)))
				return -1;
			return port;
		}
	}
	return cub_if2port_lookup(ctx->ingress_ifindex);
}

/*
 * Ifindex of the netdev behind port *@port if the port is up and
 * connected, else 0 (for a port that peers with another cube's port, a
 * non-zero CUB_PEER_IFINDEX() that is no netdev's: test it for "can
 * forward", never use it as an ifindex).  @port is a map key: point it
 * into a map value
 * (cub_scratch()->key[], or a field of a value you hold), not the stack.
 */
static __always_inline __u32
cub_port_ifindex_at(const __u32 *port)
{
	struct cub_port *p = bpf_map_lookup_elem(&cub_ports, port);

	if (!p || !(p->flags & CUB_PORT_UP))
		return 0;
	return p->ifindex;
}

/* The same for a port number held in a register. */
static __always_inline __u32
cub_port_ifindex(__u32 port)
{
	struct cub_scratch *s = cub_scratch();

	if (!s)
		return 0;
	s->fw_key = port;
	return cub_port_ifindex_at(&s->fw_key);
}

/*
 * Send the packet out of @port: record the port and tail-call the broker's
 * egress program, which drops the packet if the port is down or not
 * connected.  Returns only if the tail call failed (no egress program):
 * the packet is dropped.  TC keeps the port in skb->cb[0], which survives
 * the tail call; XDP in the per-CPU scratch (no preemption between here
 * and the egress program).
 */
static __always_inline int
cub_forward_tc(struct __sk_buff *skb, __u32 port)
{
	skb->cb[0] = port;
	bpf_tail_call(skb, &cub_egress, CUB_EGRESS_OUT);
	return TC_ACT_SHOT;
}

static __always_inline int
cub_forward_xdp(struct xdp_md *ctx, __u32 port)
{
	struct cub_scratch *s = cub_scratch();

	if (!s)
		return XDP_DROP;
	s->out_port = port;
	bpf_tail_call(ctx, &cub_egress, CUB_EGRESS_OUT);
	return XDP_DROP;
}

/*
 * Clamp a packet length to [1, CUB_PKTIN_MAX] in a way the verifier can
 * follow: 64-bit arithmetic (no zero-extension copies) and an empty asm that
 * keeps clang from folding the tests into the min() above them.
 */
static __always_inline __u64
cub_pktin_caplen(__u64 wire_len)
{
	__u64 cap = wire_len;

	asm volatile("" : "+r"(cap));
	if (cap > CUB_PKTIN_MAX)
		cap = CUB_PKTIN_MAX;
	asm volatile("" : "+r"(cap));
	if (cap < 1)
		cap = 1;
	return cap;
}

/*
 * Copy the packet (up to CUB_PKTIN_MAX bytes) into a cub_pktin record for
 * the worker, then drop it.  If the ring is full the packet is just dropped.
 */
static __always_inline int
cub_slowpath_tc(struct __sk_buff *skb, __u32 port, __u32 reason)
{
	struct cub_pktin_hdr *hdr;
	__u64 cap;

	hdr = bpf_ringbuf_reserve(&cub_pktin, CUB_PKTIN_REC, 0);
	if (!hdr)
		return TC_ACT_SHOT;
	cap = cub_pktin_caplen(skb->len);
	hdr->port = port;
	hdr->wire_len = skb->len;
	hdr->reason = reason;
	if (bpf_skb_load_bytes(skb, 0, hdr + 1, cap) < 0)
		cap = 0;
	hdr->cap_len = cap;
	bpf_ringbuf_submit(hdr, 0);
	return TC_ACT_SHOT;
}

static __always_inline int
cub_slowpath_xdp(struct xdp_md *ctx, __u32 port, __u32 reason)
{
	struct cub_pktin_hdr *hdr;
	__u64 wire_len;
	__u64 cap;

	hdr = bpf_ringbuf_reserve(&cub_pktin, CUB_PKTIN_REC, 0);
	if (!hdr)
		return XDP_DROP;
	wire_len = bpf_xdp_get_buff_len(ctx);
	cap = cub_pktin_caplen(wire_len);
	hdr->port = port;
	hdr->wire_len = (__u32)wire_len;
	hdr->reason = reason;
	if (bpf_xdp_load_bytes(ctx, 0, hdr + 1, cap) < 0)
		cap = 0;
	hdr->cap_len = cap;
	bpf_ringbuf_submit(hdr, 0);
	return XDP_DROP;
}

/* Hook-generic forms; @hook must be a compile-time constant. */

static __always_inline int
cub_in_port(void *ctx, enum cub_hook hook)
{
	if (hook == CUB_HOOK_XDP)
		return cub_in_port_xdp(ctx);
	return cub_in_port_tc(ctx);
}

/*
 * Packet length.  XDP uses bpf_xdp_get_buff_len() (frags included): the
 * cheaper data_end - data is a pointer subtraction, which the verifier
 * refuses without CAP_PERFMON, and the broker loads without it.
 */
static __always_inline __u32
cub_pkt_len(void *ctx, enum cub_hook hook)
{
	if (hook == CUB_HOOK_XDP)
		return bpf_xdp_get_buff_len(ctx);
	return ((struct __sk_buff *)ctx)->len;
}

/*
 * Headers behind a variable-length one, under the hardened verifier.
 * The broker verifies without CAP_PERFMON, and the verifier then refuses
 * any variable scalar added to a packet pointer (its Spectre v1
 * sanitation has no limit for packet pointers: "pointer arithmetic with
 * it prohibited for !root"), so Polycube's
 *	data + sizeof(*eth) + 4 * ip->ihl
 * does not load.  Two forms do (tests/integration/hardened-forms.sh):
 *
 * cub_l4(ctx, hook, len, &l4): sets l4 to the L4 header of an IPv4
 * packet in an untagged Ethernet frame, a pointer into the packet valid
 * for len bytes (a compile-time constant), and returns 0; or returns -1
 * (not IPv4, ihl < 5, shorter than the headers plus len) and leaves l4
 * alone.  Not a NULL return: comparing a packet pointer with 0 is itself
 * refused unprivileged.  The IP header length picks one of eleven constant
 * offsets (ihl 5..15), each its own path with its own asm barrier, so
 * clang cannot fold them back into data + 4 * ihl; the verifier tracks a
 * constant offset exactly and needs no sanitation.  Cost: it verifies
 * the code after the call once per path (up to 11 times).
 *
 * cub_l4_copy(ctx, hook, buf, len): copies len bytes (1..CUB_L4_COPY_MAX,
 * a constant or a bounded value) of the L4 header into buf (point it into
 * a map value, e.g. a per-CPU array of the cube, not the stack), and
 * returns the L4 header's offset in the packet, or -1 as cub_l4().
 * The offset is a scalar given to bpf_skb_load_bytes() or
 * bpf_xdp_load_bytes(), never added to a pointer; one path, at the cost
 * of a copy.  cub_l4_off() is that offset alone.
 */
#define CUB_L4_COPY_MAX 64

static __always_inline void *
cub_data(void *ctx, enum cub_hook hook)
{
	if (hook == CUB_HOOK_XDP)
		return (void *)(long)((struct xdp_md *)ctx)->data;
	return (void *)(long)((struct __sk_buff *)ctx)->data;
}

static __always_inline void *
cub_data_end(void *ctx, enum cub_hook hook)
{
	if (hook == CUB_HOOK_XDP)
		return (void *)(long)((struct xdp_md *)ctx)->data_end;
	return (void *)(long)((struct __sk_buff *)ctx)->data_end;
}

/* The IPv4 header, or NULL: untagged Ethernet, IPv4, 20 bytes there. */
static __always_inline struct iphdr *
cub_ipv4(void *ctx, enum cub_hook hook)
{
	void *data = cub_data(ctx, hook), *end = cub_data_end(ctx, hook);
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl < 5)
		return NULL;
	return ip;
}

#define ___cub_l4_at(n)                                                        \
	case n:                                                                \
		l4 = data + ETH_HLEN + 4 * (n);                                \
		asm volatile("" : "+r"(l4));                                   \
		break

static __always_inline int
cub_l4(void *ctx, enum cub_hook hook, __u32 len, void **l4p)
{
	void *data = cub_data(ctx, hook), *end = cub_data_end(ctx, hook);
	struct iphdr *ip = cub_ipv4(ctx, hook);
	void *l4;

	if (!ip)
		return -1;
	switch (ip->ihl) {
		___cub_l4_at(5);
		___cub_l4_at(6);
		___cub_l4_at(7);
		___cub_l4_at(8);
		___cub_l4_at(9);
		___cub_l4_at(10);
		___cub_l4_at(11);
		___cub_l4_at(12);
		___cub_l4_at(13);
		___cub_l4_at(14);
		___cub_l4_at(15);
	default:
		return -1;
	}
	if (l4 + len > end)
		return -1;
	*l4p = l4;
	return 0;
}

static __always_inline int
cub_l4_off(void *ctx, enum cub_hook hook)
{
	struct iphdr *ip = cub_ipv4(ctx, hook);

	return ip ? ETH_HLEN + 4 * ip->ihl : -1;
}

static __always_inline int
cub_l4_copy(void *ctx, enum cub_hook hook, void *buf, __u32 len)
{
	int off = cub_l4_off(ctx, hook);

	if (off < 0 || len < 1 || len > CUB_L4_COPY_MAX)
		return -1;
	if (hook == CUB_HOOK_XDP) {
		if (bpf_xdp_load_bytes(ctx, (__u32)off, buf, len))
			return -1;
	} else if (bpf_skb_load_bytes(ctx, (__u32)off, buf, len)) {
		return -1;
	}
	return off;
}

/*
 * The drop verdict.  The empty asm makes each call site's constant its own
 * value: otherwise clang merges them into one register set at the first
 * drop, which then lives across every later helper call and, registers
 * being short, gets parked in a (fenced) stack slot.
 */
static __always_inline int
cub_drop(enum cub_hook hook)
{
	int verdict = hook == CUB_HOOK_XDP ? XDP_DROP : TC_ACT_SHOT;

	asm volatile("" : "+r"(verdict));
	return verdict;
}

static __always_inline int
cub_forward(void *ctx, enum cub_hook hook, __u32 port)
{
	if (hook == CUB_HOOK_XDP)
		return cub_forward_xdp(ctx, port);
	return cub_forward_tc(ctx, port);
}

/*
 * Flood the packet out of every connected port of the cube but @in_port
 * (broadcast, unknown unicast): the broker's egress program sends a
 * copy to each netdev port (TC: bpf_clone_redirect(); XDP: a devmap
 * broadcast, the broker's flood devmap of the cube) and, on TC, the
 * packet itself to the first port that peers with a cube or has an
 * egress stack (cube_shared.h, struct cub_flood).  One tail call, as
 * cub_forward(); returns only if it failed: the packet is dropped.
 */
static __always_inline int
cub_flood(void *ctx, enum cub_hook hook, __u32 in_port)
{
	return cub_forward(ctx, hook, CUB_FLOOD | (in_port & 0xffffu));
}

static __always_inline int
cub_slowpath(void *ctx, enum cub_hook hook, __u32 port, __u32 reason)
{
	if (hook == CUB_HOOK_XDP)
		return cub_slowpath_xdp(ctx, port, reason);
	return cub_slowpath_tc(ctx, port, reason);
}

/*
 * Logging (cube_log.bpf.h): the maps cub_config and cub_log_ring,
 * cub_log(level, "fmt", up to 3 args) and cub_logx(level, "fmt", up to 8
 * args), formatted by the broker with %d %i %u %x %X (h hh l ll z), %c,
 * %% and Polycube's %I (IPv4), %P (port) and %M (MAC), all three in
 * network order as the packet holds them.
 */
#include <cubicle/cube_log.bpf.h>

/*
 * Transparent cubes (cube_shared.h): the direction of the packet, as the
 * broker's stack program said it (CUB_TDIR_INGRESS: towards the stack or
 * the cube behind the port; CUB_TDIR_EGRESS: towards the wire or out of
 * the port), and the verdict that lets it go on: cub_pass() tail-calls
 * the broker's "next" program, which runs the next cube of the stack or
 * ends it (the stack, the wire).  Returns only if that failed: drop.
 * cub_pass_xdp() is the same for an XDP cube, which the broker's XDP
 * dispatcher (bpf/tstack_xdp.bpf.c) runs on a netdev's XDP ingress only:
 * XDP has no egress hook, so an XDP cube sees every packet as
 * CUB_TDIR_INGRESS and has no cub_tdir_*() to read.
 */
static __always_inline __u32
cub_tdir_tc(struct __sk_buff *skb)
{
	return skb->cb[3];
}

static __always_inline int
cub_pass_tc(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &cub_egress, CUB_EGRESS_OUT);
	return TC_ACT_SHOT;
}

static __always_inline int
cub_pass_xdp(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &cub_egress, CUB_EGRESS_OUT);
	return XDP_DROP;
}

/*
 * A transparent cube sends the frame, which it has rewritten into an
 * answer (a REJECT's ICMP error or TCP reset), back where it came from
 * (cube_shared.h, CUB_TBOUNCE): from the wire, out to the wire; from the
 * host, into the host.  On a cube port the frame is dropped.  Returns
 * only if that failed: drop.
 */
static __always_inline int
cub_bounce_tc(struct __sk_buff *skb)
{
	skb->cb[3] = CUB_TBOUNCE;
	return cub_pass_tc(skb);
}

static __always_inline int
cub_bounce_xdp(struct xdp_md *ctx)
{
	__u32 *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return XDP_DROP;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return XDP_DROP;
	*m = CUB_TBOUNCE;
	return cub_pass_xdp(ctx);
}

/* Hook-generic forms of the above: XDP sees CUB_TDIR_INGRESS only. */
static __always_inline __u32
cub_tdir(void *ctx, enum cub_hook hook)
{
	return hook == CUB_HOOK_XDP ? CUB_TDIR_INGRESS : cub_tdir_tc(ctx);
}

static __always_inline int
cub_pass(void *ctx, enum cub_hook hook)
{
	return hook == CUB_HOOK_XDP ? cub_pass_xdp(ctx) : cub_pass_tc(ctx);
}

static __always_inline int
cub_bounce(void *ctx, enum cub_hook hook)
{
	return hook == CUB_HOOK_XDP ? cub_bounce_xdp(ctx) : cub_bounce_tc(ctx);
}

/*
 * The entry points the broker loads, declared once: cub_ingress_tc() and
 * cub_ingress_xdp(), each calling fn(ctx, hook, ...) with its hook (a
 * compile-time constant: the hook-generic helpers above fold away) and
 * the arguments after fn, if any.  fn is the cube's one program:
 *
 *   static __always_inline int hello(void *ctx, enum cub_hook hook) {...}
 *   CUB_ENTRY_POINTS(hello)
 */
#define CUB_ENTRY_POINTS(fn, ...)                                              	SEC("tc") int cub_ingress_tc(struct __sk_buff *skb)                    	{                                                                      		return fn(skb, CUB_HOOK_TC, ##__VA_ARGS__);                    	}                                                                      	SEC("xdp") int cub_ingress_xdp(struct xdp_md *ctx)                     	{                                                                      		return fn(ctx, CUB_HOOK_XDP, ##__VA_ARGS__);                   	}

#endif /* CUBICLE_CUBE_BPF_H */
