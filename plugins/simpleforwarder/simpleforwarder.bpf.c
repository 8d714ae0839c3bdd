// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * simpleforwarder: per in-port action (drop, forward to a port, slow path).
 *
 * One body, sf_ingress(), serves both hooks (style rule 26); the broker
 * loads cub_ingress_tc or cub_ingress_xdp depending on the cube's hook.
 */
#include <cubicle/cube.bpf.h>

#include "simpleforwarder_shared.h"

/* Reason code in cub_pktin records sent by SF_SLOWPATH. */
#define SF_REASON_ACTION 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sf_action);
	__uint(max_entries, CUB_MAX_PORTS);
} sf_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sf_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} sf_stats SEC(".maps");

/* Slow-path packets the worker received, per port: the worker writes it,
 * the broker reads it for show (packet_ins); this program never does. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CUB_MAX_PORTS);
} sf_pktins SEC(".maps");

/*
 * Written not to touch the stack, where the broker's unprivileged load
 * fences stores (see "Map keys and Spectre v4" in cube.bpf.h): map keys
 * live in cub_scratch().  Check with bench/xdpgen --no-perfmon and bpftool
 * (no nospec in the dump) after changing this function.
 */
static __always_inline int
sf_ingress(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s;
	struct sf_action *act;
	struct sf_stats *st, *out_st;
	__u32 *in_port, *out_port;
	__u32 out_ifindex, len;
	int port;

	port = cub_in_port(ctx, hook);
	if (port < 0)
		return cub_drop(hook);
	s = cub_scratch();
	if (!s)
		return cub_drop(hook);
	in_port = &s->key[0];
	*in_port = port;
	len = cub_pkt_len(ctx, hook);

	st = bpf_map_lookup_elem(&sf_stats, in_port);
	if (!st)
		return cub_drop(hook);
	st->rx_packets++;
	st->rx_bytes += len;

	act = bpf_map_lookup_elem(&sf_actions, in_port);
	if (!act)
		goto drop;

	switch (act->action) {
	case SF_FORWARD:
		/* A copy: the control plane may rewrite act meanwhile. */
		out_port = &s->key[1];
		*out_port = act->outport;
		out_ifindex = cub_port_ifindex_at(out_port);
		if (!out_ifindex)
			goto drop;
		out_st = bpf_map_lookup_elem(&sf_stats, out_port);
		if (out_st) {
			out_st->tx_packets++;
			out_st->tx_bytes += len;
		}
		/* s again rather than kept: one pointer more alive across
		 * the lookups above would be spilled to the (fenced) stack. */
		s = cub_scratch();
		if (!s)
			return cub_drop(hook);
		cub_log(CUB_LOG_DEBUG, "forward: port %u to port %u", s->key[0],
		    s->key[1]);
		/* The broker's egress program sends it out of the port. */
		return cub_forward(ctx, hook, s->key[1]);
	case SF_SLOWPATH:
		st->slowpath++;
		return cub_slowpath(ctx, hook, *in_port, SF_REASON_ACTION);
	default:
		break;
	}
drop:
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(sf_ingress)

char _license[] SEC("license") = "GPL";
