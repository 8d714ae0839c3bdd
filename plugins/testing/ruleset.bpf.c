// SPDX-License-Identifier: GPL-2.0
/*
 * ruleset's object (ruleset.c): the compiled rule table, a hash from rule
 * id to what the rule does, which the worker keeps equal to the cube's
 * list "rules" (the stand-in for an iptables compiler's maps), and
 * programs that pass every packet (the cube has no ports).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

#include "ruleset_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct rs_rule);
	__uint(max_entries, RS_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} rs_rules SEC(".maps");

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
