// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * fw_test.bpf.c: the classifier alone, for fw-engine-bpf: the frame
 * carries a struct fw_pkt after a 14-byte Ethernet header (pad_[0]: the
 * builtin chain to start at); the result goes to fw_test_out.  The post
 * condition is the test's hash (fw_engine_test.c, fake_post()).
 */
#include <cubicle/cube.bpf.h>
#include <cubicle/swap.bpf.h>

#define FW_CLASSIFY_TRACE
#define FW_POST(s, a)                                                          \
	(((((a)->slot * 2654435761u) ^ ((s)->pkt.saddr * 40503u) ^             \
	      (s)->pkt.dport) >>                                               \
	     7) &                                                              \
	    1)

#include "fw_maps.bpf.h"
/* after the maps */
#include "fw_classify.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fw_res);
	__uint(max_entries, 1);
} fw_test_out SEC(".maps");

SEC("tc")
int
fw_test(struct __sk_buff *skb)
{
	struct fw_res *r, *out;
	struct fw_pkt pkt;

	if (bpf_skb_load_bytes(skb, 14, &pkt, sizeof(pkt)))
		return 2;
	r = fw_classify(&pkt, pkt.pad_[0]);
	out = bpf_map_lookup_elem(&fw_test_out, &cub_zero_key);
	if (!out || !r)
		return 2;
	__builtin_memcpy(out, r, sizeof(*out));
	return 0;
}

char _license[] SEC("license") = "GPL";
