// SPDX-License-Identifier: GPL-2.0
/* Review 10: the second cub_ingress_tc of evil_dup.bpf.o (evil_dupa.bpf.c). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

SEC("tc")
int
cub_ingress_tB(struct __sk_buff *skb)
{
	return TC_ACT_SHOT;
}
