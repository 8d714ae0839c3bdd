// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * helloworld: Polycube's two-port sample.  One action for the cube: DROP
 * every packet, send it to the SLOWPATH, or FORWARD it out of the other
 * port.  One body for both hooks (style rule 26).
 */
#include <cubicle/cube.bpf.h>

#include "helloworld_shared.h"

/* Reason code in cub_pktin records sent by HW_SLOWPATH. */
#define HW_REASON_ACTION 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct hw_config);
	__uint(max_entries, 1);
} hw_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct hw_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} hw_stats SEC(".maps");

/* Written by the worker, read by the broker for show; never here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CUB_MAX_PORTS);
} hw_pktins SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} hw_nevents SEC(".maps");

/* Keys live in cub_scratch(), not on the (fenced) stack: as in
 * simpleforwarder.bpf.c. */
static __always_inline int
hw_ingress(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s;
	struct hw_config *cfg;
	struct hw_stats *st, *out_st;
	__u32 *in_port, *out_port;
	__u32 len;
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

	st = bpf_map_lookup_elem(&hw_stats, in_port);
	if (!st)
		return cub_drop(hook);
	st->rx_packets++;
	st->rx_bytes += len;

	cfg = bpf_map_lookup_elem(&hw_config, &cub_zero_key);
	if (!cfg)
		goto drop;

	switch (cfg->action) {
	case HW_FORWARD:
		if (cfg->nports != 2)
			goto drop;
		out_port = &s->key[1];
		*out_port =
		    cfg->port[0] == *in_port ? cfg->port[1] : cfg->port[0];
		if (!cub_port_ifindex_at(out_port))
			goto drop;
		out_st = bpf_map_lookup_elem(&hw_stats, out_port);
		if (out_st) {
			out_st->tx_packets++;
			out_st->tx_bytes += len;
		}
		s = cub_scratch();
		if (!s)
			return cub_drop(hook);
		cub_log(CUB_LOG_DEBUG, "forward: port %u to port %u", s->key[0],
		    s->key[1]);
		return cub_forward(ctx, hook, s->key[1]);
	case HW_SLOWPATH:
		st->slowpath++;
		return cub_slowpath(ctx, hook, *in_port, HW_REASON_ACTION);
	default:
		break;
	}
drop:
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(hw_ingress)

char _license[] SEC("license") = "GPL";
