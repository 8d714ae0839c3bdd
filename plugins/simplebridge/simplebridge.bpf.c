// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * simplebridge: a learning L2 bridge (Polycube's pcn-simplebridge).
 *
 * Every frame teaches the bridge where its source lives (sb_fdb, an LRU
 * hash of learned hosts; an address of the static table sb_static is
 * never learned elsewhere).  A frame to a known host goes out of that
 * host's port (or is dropped if the host is on the port it came in by);
 * broadcast, multicast and unknown unicast are flooded by the framework
 * (cub_flood(): clone-redirect on TC, a devmap broadcast on XDP), in the
 * fast path, not through the worker as Polycube did.  A learned entry
 * older than the aging time is unknown (and is overwritten when its host
 * speaks again).  One body for both hooks (style rule 26).
 */
#include <cubicle/cube.bpf.h>

#include "simplebridge_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sb_config);
	__uint(max_entries, 1);
} sb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct sb_mac);
	__type(value, struct sb_entry);
	__uint(max_entries, SB_FDB_MAX);
} sb_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sb_mac);
	__type(value, struct sb_entry);
	__uint(max_entries, SB_STATIC_MAX);
} sb_static SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sb_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} sb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sb_scratch);
	__uint(max_entries, 1);
} sb_scratch SEC(".maps");

/* Refresh a learned entry at most this often (a map write per frame
 * otherwise). */
#define SB_REFRESH_NS 1000000000ull

static __always_inline void
sb_copy_mac(struct sb_mac *k, const __u8 *a)
{
	__builtin_memcpy(k->addr, a, 6);
	k->pad = 0;
}

static __always_inline void
sb_learn(struct sb_scratch *sc, __u32 port, __u64 now)
{
	struct sb_entry *e;

	e = bpf_map_lookup_elem(&sb_fdb, &sc->src);
	if (e && e->port == port && now - e->seen_ns < SB_REFRESH_NS)
		return;
	/* A static host is where the table says, whatever it sends. */
	if (bpf_map_lookup_elem(&sb_static, &sc->src))
		return;
	if (e) {
		e->port = port;
		e->seen_ns = now;
		return;
	}
	sc->learn.port = port;
	sc->learn.pad = 0;
	sc->learn.seen_ns = now;
	bpf_map_update_elem(&sb_fdb, &sc->src, &sc->learn, BPF_ANY);
}

static __always_inline int
sb_ingress(void *ctx, enum cub_hook hook)
{
	void *data = cub_data(ctx, hook), *end = cub_data_end(ctx, hook);
	struct ethhdr *eth = data;
	struct sb_scratch *sc;
	struct sb_config *cfg;
	struct sb_stats *st;
	struct sb_entry *e;
	struct cub_scratch *s;
	__u64 now;
	__u32 len;
	int port;

	port = cub_in_port(ctx, hook);
	if (port < 0)
		return cub_drop(hook);
	/* cub_in_port() may have moved the frame (XDP): read again. */
	data = cub_data(ctx, hook);
	end = cub_data_end(ctx, hook);
	eth = data;
	s = cub_scratch();
	sc = bpf_map_lookup_elem(&sb_scratch, &cub_zero_key);
	cfg = bpf_map_lookup_elem(&sb_config, &cub_zero_key);
	if (!s || !sc || !cfg)
		return cub_drop(hook);
	s->key[0] = port;
	st = bpf_map_lookup_elem(&sb_stats, &s->key[0]);
	if (!st)
		return cub_drop(hook);
	len = cub_pkt_len(ctx, hook);
	st->rx_packets++;
	st->rx_bytes += len;
	if ((void *)(eth + 1) > end) {
		st->drops++;
		return cub_drop(hook);
	}
	now = bpf_ktime_get_ns();
	sb_copy_mac(&sc->src, eth->h_source);
	sb_copy_mac(&sc->dst, eth->h_dest);
	if (!(sc->src.addr[0] & 1))
		sb_learn(sc, (__u32)port, now);
	if (sc->dst.addr[0] & 1)
		goto flood;
	e = bpf_map_lookup_elem(&sb_fdb, &sc->dst);
	if (e && (__s64)(now - e->seen_ns) > (__s64)cfg->aging_ns) {
		/* Forgotten: gone, not hidden (a longer aging-time later
		 * must not bring it back). */
		bpf_map_delete_elem(&sb_fdb, &sc->dst);
		e = NULL;
	}
	if (!e)
		e = bpf_map_lookup_elem(&sb_static, &sc->dst);
	if (!e)
		goto flood;
	s->key[1] = e->port;
	if (s->key[1] == s->key[0]) {
		st->drops++;
		return cub_drop(hook);
	}
	st = bpf_map_lookup_elem(&sb_stats, &s->key[1]);
	if (st) {
		st->tx_packets++;
		st->tx_bytes += len;
	}
	return cub_forward(ctx, hook, s->key[1]);
flood:
	st->floods++;
	return cub_flood(ctx, hook, (__u32)port);
}

CUB_ENTRY_POINTS(sb_ingress)

char _license[] SEC("license") = "GPL";
