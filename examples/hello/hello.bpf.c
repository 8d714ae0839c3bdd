// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* hello: Polycube's helloworld, two ports; DROP, SLOWPATH or FORWARD. */
#include <cubicle/cube.bpf.h>

#include "hello.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct hello_cfg);
	__uint(max_entries, 1);
} hello_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct hello_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} hello_stats SEC(".maps");

/* Keys in cub_scratch(), not on the stack (see cube.bpf.h). */
static __always_inline int
hello(void *ctx, enum cub_hook hook)
{
	struct cub_scratch *s = cub_scratch();
	struct hello_stats *st, *out;
	struct hello_cfg *cfg;
	int port = cub_in_port(ctx, hook);

	if (port < 0 || !s)
		return cub_drop(hook);
	s->key[0] = port;
	st = bpf_map_lookup_elem(&hello_stats, &s->key[0]);
	cfg = bpf_map_lookup_elem(&hello_cfg, &cub_zero_key);
	if (!st || !cfg)
		return cub_drop(hook);
	st->rx_packets++;
	if (cfg->action == HELLO_SLOWPATH)
		return cub_slowpath(ctx, hook, s->key[0], 0);
	if (cfg->action == HELLO_FORWARD && cfg->nports == 2) {
		s->key[1] =
		    cfg->port[0] == s->key[0] ? cfg->port[1] : cfg->port[0];
		out = bpf_map_lookup_elem(&hello_stats, &s->key[1]);
		if (out && cub_port_ifindex_at(&s->key[1])) {
			out->tx_packets++;
			return cub_forward(ctx, hook, s->key[1]);
		}
	}
	st->drops++;
	return cub_drop(hook);
}

CUB_ENTRY_POINTS(hello)

char _license[] SEC("license") = "GPL";
