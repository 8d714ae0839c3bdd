// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fw_ct.bpf.h alone, for fwct_test.c's BPF_PROG_TEST_RUN sequences: one
 * TC program that parses the frame, labels it, records it in fw_ct when
 * fwct_ctl says the policy accepted it, and leaves what it saw in
 * fwct_sc (a plain array: the test reads it back).
 */
#include <cubicle/cube.bpf.h>

#include "bpf/fw_ct.bpf.h"
#include "bpf/fw_pkt.bpf.h"

struct fwct_sc {
	struct fw_pkt pkt;
	struct fw_ct_pkt ct;
	__s32 parsed; /* fw_parse()'s return */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fwct_sc);
	__uint(max_entries, 1);
} fwct_sc SEC(".maps");

/* [0]: 1 if the policy accepts the packet (fw_ct_update()'s accepted). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} fwct_ctl SEC(".maps");

SEC("tc")
int
fwct_run(struct __sk_buff *skb)
{
	struct fwct_sc *sc = bpf_map_lookup_elem(&fwct_sc, &cub_zero_key);
	__u32 *accept = bpf_map_lookup_elem(&fwct_ctl, &cub_zero_key);

	if (!sc || !accept)
		return TC_ACT_SHOT;
	sc->parsed = fw_parse(skb, CUB_HOOK_TC, &sc->pkt, &sc->ct);
	fw_ct_label(&sc->pkt, &sc->ct);
	fw_ct_update(&sc->pkt, &sc->ct, *accept);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
