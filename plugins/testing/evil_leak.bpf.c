// SPDX-License-Identifier: GPL-2.0
/*
 * A cube object that calls only allowed helpers but stores a kernel
 * pointer into a map, where user space could read it.  The instruction
 * check passes it; the verifier refuses it because the broker loads
 * without CAP_PERFMON ("leaks addr into map").  As full root it loads.
 */
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} leak SEC(".maps");

static __always_inline void
leak_pointer(void)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&leak, &key);

	if (v)
		*v = (__u64)v;
}

SEC("tc")
int
cub_ingress_tc(struct __sk_buff *skb)
{
	leak_pointer();
	return TC_ACT_OK;
}

SEC("xdp")
int
cub_ingress_xdp(struct xdp_md *ctx)
{
	leak_pointer();
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
