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
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <cubicle/cube_shared.h>

/* Port index -> struct cub_port; written by the broker. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_port);
	__uint(max_entries, CUB_MAX_PORTS);
} cub_ports SEC(".maps");

/* Peer netdev ifindex -> port index; written by the broker. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CUB_MAX_PORTS);
} cub_if2port SEC(".maps");

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
 * Per-CPU direct-mapped cache in front of cub_if2port: a hash lookup costs
 * about 25 ns here, an array lookup is inlined by the verifier.  Slot
 * (ifindex % CUB_IF2PORT_CACHE) remembers the last answer for that ifindex;
 * a hit is trusted only while cub_ports[port] is up with that same ifindex,
 * so user space need only keep this invariant: cub_ports[p] == { ifindex,
 * UP } implies cub_if2port[ifindex] == p (take a port down or clear its
 * ifindex before deleting or re-pointing its cub_if2port entry).  Private
 * to the object; the broker never touches it.
 */
#define CUB_IF2PORT_CACHE 16

struct cub_if2port_slot {
	__u32 ifindex;
	__u32 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_if2port_slot);
	__uint(max_entries, CUB_IF2PORT_CACHE);
} cub_if2port_cache SEC(".maps");

static __always_inline int
cub_if2port_lookup(__u32 ifindex)
{
	__u32 slot = ifindex & (CUB_IF2PORT_CACHE - 1);
	struct cub_if2port_slot *hint;
	struct cub_port *p;
	__u32 *port;

	hint = bpf_map_lookup_elem(&cub_if2port_cache, &slot);
	if (hint && hint->ifindex == ifindex && ifindex) {
		p = bpf_map_lookup_elem(&cub_ports, &hint->port);
		if (p && p->ifindex == ifindex && (p->flags & CUB_PORT_UP))
			return (int)hint->port;
	}
	port = bpf_map_lookup_elem(&cub_if2port, &ifindex);
	if (!port)
		return -1;
	if (hint) {
		hint->ifindex = ifindex;
		hint->port = *port;
	}
	return (int)*port;
}

/* Port index the packet arrived on, or -1 if the netdev is not a port. */
static __always_inline int
cub_in_port_tc(struct __sk_buff *skb)
{
	return cub_if2port_lookup(skb->ingress_ifindex);
}

static __always_inline int
cub_in_port_xdp(struct xdp_md *ctx)
{
	return cub_if2port_lookup(ctx->ingress_ifindex);
}

/*
 * Ifindex of the netdev behind @port if the port is up and connected,
 * else 0.
 */
static __always_inline __u32
cub_port_ifindex(__u32 port)
{
	struct cub_port *p = bpf_map_lookup_elem(&cub_ports, &port);

	if (!p || !(p->flags & CUB_PORT_UP))
		return 0;
	return p->ifindex;
}

/* Send the packet out of @port; drop it if the port is down. */
static __always_inline int
cub_forward_tc(struct __sk_buff *skb, __u32 port)
{
	__u32 ifindex = cub_port_ifindex(port);

	if (!ifindex)
		return TC_ACT_SHOT;
	return bpf_redirect(ifindex, 0);
}

static __always_inline int
cub_forward_xdp(struct xdp_md *ctx, __u32 port)
{
	__u32 ifindex = cub_port_ifindex(port);

	if (!ifindex)
		return XDP_DROP;
	return bpf_redirect(ifindex, 0);
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

/*
 * Redirect to a netdev already checked with cub_port_ifindex() (saves the
 * second cub_ports lookup cub_forward() would do).
 */
static __always_inline int
cub_redirect(enum cub_hook hook, __u32 ifindex)
{
	return bpf_redirect(ifindex, 0);
}

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

static __always_inline int
cub_drop(enum cub_hook hook)
{
	return hook == CUB_HOOK_XDP ? XDP_DROP : TC_ACT_SHOT;
}

static __always_inline int
cub_forward(void *ctx, enum cub_hook hook, __u32 port)
{
	if (hook == CUB_HOOK_XDP)
		return cub_forward_xdp(ctx, port);
	return cub_forward_tc(ctx, port);
}

static __always_inline int
cub_slowpath(void *ctx, enum cub_hook hook, __u32 port, __u32 reason)
{
	if (hook == CUB_HOOK_XDP)
		return cub_slowpath_xdp(ctx, port, reason);
	return cub_slowpath_tc(ctx, port, reason);
}

#endif /* CUBICLE_CUBE_BPF_H */
