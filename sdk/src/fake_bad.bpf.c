// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Objects the broker's policy check refuses, one per -D (fake_test.c's
 * test_policy): FB_REDIRECT (cub_ingress_tc calls bpf_redirect and
 * cub_ingress_xdp a helper outside the networking set), FB_DEVMAP (a
 * broker-only map type), FB_MANY (more than 64 maps), FB_FW (no cube.bpf.h: a
 * cub_ports of another shape).
 */
#ifdef FB_FW
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} cub_ports SEC(".maps");

SEC("tc") int cub_ingress_tc(struct __sk_buff *skb)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&cub_ports, &k) ? 2 : 0;
}
#else
#include <cubicle/cube.bpf.h>

#ifdef FB_DEVMAP
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 4);
} fb_dev SEC(".maps");
#endif

#ifdef FB_MANY
#define FB_MAP(n)                                                              \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__type(key, __u32);                                            \
		__type(value, __u32);                                          \
		__uint(max_entries, 1);                                        \
	} fb_m##n SEC(".maps")
#define FB_MAP5(n)                                                             \
	FB_MAP(n##0);                                                          \
	FB_MAP(n##1);                                                          \
	FB_MAP(n##2);                                                          \
	FB_MAP(n##3);                                                          \
	FB_MAP(n##4)
/* 60 and the framework maps: more than 64. */
FB_MAP5(0);
FB_MAP5(1);
FB_MAP5(2);
FB_MAP5(3);
FB_MAP5(4);
FB_MAP5(5);
FB_MAP5(6);
FB_MAP5(7);
FB_MAP5(8);
FB_MAP5(9);
FB_MAP5(a);
FB_MAP5(b);
#endif

SEC("tc") int cub_ingress_tc(struct __sk_buff *skb)
{
#ifdef FB_REDIRECT
	return bpf_redirect(1, 0);
#else
	return TC_ACT_SHOT;
#endif
}

SEC("xdp") int cub_ingress_xdp(struct xdp_md *ctx)
{
#ifdef FB_REDIRECT
	return bpf_get_current_pid_tgid() ? XDP_DROP : XDP_PASS;
#else
	return XDP_DROP;
#endif
}
#endif

char _license[] SEC("license") = "GPL";
