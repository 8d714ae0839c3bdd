// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fw_cube_test.bpf.c: a cube object with the engine's maps, for
 * fw-apply (fw_apply_test.c, the fake broker): the frame carries a struct
 * fw_pkt after a 14-byte Ethernet header, classified from chain 0;
 * accepted: TC_ACT_OK, anything else TC_ACT_SHOT.
 */
#include <linux/pkt_cls.h>

#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

/* Small maps: the test's images are a few rules (a run copies every
 * map into the kernel and back). */
#define FW_MAP_VEC_WORDS 4096
#define FW_MAP_ADDR      1024
#define FW_MAP_IVAL      1024
#define FW_MAP_SMALL     1024
#define FW_MAP_RULES     1024
#include "fw_maps.bpf.h"
/* after the maps */
#include "fw_classify.bpf.h"

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	struct fw_res *r;
	struct fw_pkt pkt;

	if (bpf_skb_load_bytes(skb, 14, &pkt, sizeof(pkt)))
		return TC_ACT_SHOT;
	r = fw_classify(&pkt, 0);
	return r && r->verdict == FW_TGT_ACCEPT ? TC_ACT_OK : TC_ACT_SHOT;
}

char _license[] SEC("license") = "GPL";
