// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * ctcube: conntrack under a stateful policy (ctcube_shared.h).  The
 * parser and the tracker are the engine's (plugins/fwcore/bpf/); keys
 * and packet summaries live in ctc_scratch, never on the stack.
 */
#include <cubicle/cube.bpf.h>

#include "bpf/fw_ct.bpf.h"
#include "bpf/fw_pkt.bpf.h"

#include "ctcube_shared.h"

struct ctc_scratch {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
	__u32 in, out; /* port indices, as map keys */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ctc_scratch);
	__uint(max_entries, 1);
} ctc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ctc_conf);
	__uint(max_entries, 1);
} ctc_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct ctc_stats);
	__uint(max_entries, CUB_MAX_PORTS);
} ctc_stats SEC(".maps");

/*
 * One counter per label.  Each increment is its own path, with an asm
 * barrier on its pointer: a switch would let clang fold the five into
 * st + offset[label], a variable offset the hardened verifier refuses
 * ("pointer arithmetic ... prohibited for !root").
 */
#define CTC_BUMP(p)                                                            \
	do {                                                                   \
		__u64 *c_ = (p);                                               \
		asm volatile("" : "+r"(c_));                                   \
		(*c_)++;                                                       \
	} while (0)

static __always_inline void
ctc_count_label(struct ctc_stats *st, __u8 label)
{
	if (label == FW_CTB_NEW)
		CTC_BUMP(&st->ct_new);
	else if (label == FW_CTB_ESTABLISHED)
		CTC_BUMP(&st->ct_established);
	else if (label == FW_CTB_RELATED)
		CTC_BUMP(&st->ct_related);
	else if (label == FW_CTB_INVALID)
		CTC_BUMP(&st->ct_invalid);
	else
		CTC_BUMP(&st->ct_untracked);
}

static __always_inline int
ctc_ingress(void *ctx, enum cub_hook hook)
{
	struct ctc_scratch *sc;
	struct ctc_conf *conf;
	struct ctc_stats *st;
	int port, accept;

	port = cub_in_port(ctx, hook);
	if (port < 0)
		return cub_drop(hook);
	sc = bpf_map_lookup_elem(&ctc_scratch, &cub_zero_key);
	conf = bpf_map_lookup_elem(&ctc_conf, &cub_zero_key);
	if (!sc || !conf || !conf->ready)
		return cub_drop(hook);
	sc->in = port;
	if (sc->in == conf->p1)
		sc->out = conf->p2;
	else if (sc->in == conf->p2)
		sc->out = conf->p1;
	else
		return cub_drop(hook);
	st = bpf_map_lookup_elem(&ctc_stats, &sc->in);
	if (!st)
		return cub_drop(hook);
	st->rx++;
	if (fw_parse(ctx, hook, &sc->pkt, &sc->ct) == 0) {
		fw_ct_label(&sc->pkt, &sc->ct);
		ctc_count_label(st, sc->pkt.ct);
		accept = sc->in == conf->p1 ||
			 (sc->pkt.ct & (FW_CTB_ESTABLISHED | FW_CTB_RELATED));
		if (!accept) {
			st->dropped++;
			return cub_drop(hook);
		}
		fw_ct_update(&sc->pkt, &sc->ct, 1);
	}
	if (!cub_port_ifindex_at(&sc->out)) {
		st->dropped++;
		return cub_drop(hook);
	}
	st->accepted++;
	return cub_forward(ctx, hook, sc->out);
}

CUB_ENTRY_POINTS(ctc_ingress)

char _license[] SEC("license") = "GPL";
