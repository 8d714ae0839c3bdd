// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * firewall: Polycube's transparent firewall (firewall_shared.h).  One
 * program, TC and XDP (CUB_ENTRY_POINTS): parse (fw_parse()), label
 * (fw_ct_label(), conntrack ON), accept ESTABLISHED at once
 * (accept-established ON), classify on chain INGRESS (0) for packets
 * coming in (CUB_TDIR_INGRESS: from the wire towards the stack or the
 * cube behind the port) and EGRESS (1) for packets going out, record
 * accepted packets (fw_ct_update(), conntrack ON).  Not IPv4: passed.
 * XDP has no egress hook: an XDP firewall runs INGRESS only.  The rules
 * are map data (swap set fw): a change never reloads the program.
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

#include "firewall_shared.h"

#include "bpf/fw_ct.bpf.h"
#include "bpf/fw_pkt.bpf.h"
/*
 * The engine's maps sized for two chains of FWF_MAX_RULES rules with one
 * prefix and one port per field (at most 2n + 1 intervals per field
 * and chain, 2n + 1 prefixes per direction and chain); the vectors at
 * the engine's cap.  Under the broker's 256 MiB per cube.
 */
#define FW_MAP_ADDR (2 * FWF_CHAINS * (FWF_MAX_RULES + 1))
#define FW_MAP_IVAL (2 * FWF_CHAINS * (2 * FWF_MAX_RULES + 1))
#define FW_MAP_SMALL 16384
#define FW_MAP_RULES (FWF_CHAINS * FWF_MAX_RULES)
#include "bpf/fw_maps.bpf.h"
/* after the maps */
#include "bpf/fw_classify.bpf.h"

struct fwf_scratch {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fwf_scratch);
	__uint(max_entries, 1);
} fwf_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fwf_conf);
	__uint(max_entries, 1);
} fwf_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fwf_rec);
	__uint(max_entries, FWF_STORE_ENTRIES);
} fwf_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fwf_head);
	__uint(max_entries, 1);
} fwf_head SEC(".maps");

static __always_inline int
fwf_pass(void *ctx, enum cub_hook hook)
{
	return hook == CUB_HOOK_XDP ? cub_pass_xdp(ctx) : cub_pass_tc(ctx);
}

static __always_inline int
fwf_run(void *ctx, enum cub_hook hook)
{
	struct fwf_scratch *sc;
	struct fwf_conf *conf;
	struct fw_res *res;
	__u32 chain;
	int accepted;

	sc = bpf_map_lookup_elem(&fwf_scratch, &cub_zero_key);
	conf = bpf_map_lookup_elem(&fwf_conf, &cub_zero_key);
	if (!sc || !conf)
		return cub_drop(hook);
	if (fw_parse(ctx, hook, &sc->pkt, &sc->ct))
		return fwf_pass(ctx, hook); /* not IPv4: not filtered */
	chain = cub_tdir(ctx, hook) == CUB_TDIR_EGRESS ? 1 : 0;
	if (conf->conntrack) {
		fw_ct_label(&sc->pkt, &sc->ct);
		if (conf->accept_established &&
		    sc->pkt.ct == FW_CTB_ESTABLISHED) {
			fw_ct_update(&sc->pkt, &sc->ct, 1);
			return fwf_pass(ctx, hook);
		}
	}
	res = fw_classify(&sc->pkt, chain);
	accepted = res && res->verdict == FW_TGT_ACCEPT;
	if (conf->conntrack)
		fw_ct_update(&sc->pkt, &sc->ct, accepted);
	if (!accepted)
		return cub_drop(hook);
	return fwf_pass(ctx, hook);
}

CUB_ENTRY_POINTS(fwf_run)

char _license[] SEC("license") = "GPL";
