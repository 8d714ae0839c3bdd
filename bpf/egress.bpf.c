// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The broker's egress program: the only way out of a cube to a netdev.
 *
 * The broker loads one copy per cube, with its own privileges, for the
 * cube's hook, with the cube's own cub_ports and cub_scratch_map (reused
 * by fd, so it sees that cube's ports and nothing else), and puts it in
 * slot CUB_EGRESS_OUT of the cube's cub_egress.  cub_forward()
 * (cube.bpf.h) records the out port (TC: skb->cb[0]; XDP: the per-CPU
 * scratch) and tail-calls it.  The port is the cube's choice; the netdev
 * is the broker's: cub_ports is read-only to programs, so the only
 * ifindexes reachable are those the broker wired to the cube's ports.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include <cubicle/cube_shared.h>

/* The cube's maps (bpf_map__reuse_fd() before load): same shapes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_port);
	__uint(max_entries, CUB_MAX_PORTS);
	__uint(map_flags, BPF_F_RDONLY_PROG);
} cub_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct cub_scratch);
	__uint(max_entries, 1);
} cub_scratch_map SEC(".maps");

static const __u32 egress_zero = 0;

/* The netdev wired to port *@port if it is up, else 0. */
static __always_inline __u32
egress_ifindex(const __u32 *port)
{
	struct cub_port *p = bpf_map_lookup_elem(&cub_ports, port);

	if (!p || !(p->flags & CUB_PORT_UP))
		return 0;
	return p->ifindex;
}

SEC("tc")
int
cub_egress_tc(struct __sk_buff *skb)
{
	/* A stack key: the broker loads this program privileged, so the
	 * verifier fences no stack store (cube.bpf.h, Spectre v4). */
	__u32 port = skb->cb[0];
	__u32 ifindex = egress_ifindex(&port);

	if (!ifindex)
		return TC_ACT_SHOT;
	return bpf_redirect(ifindex, 0);
}

SEC("xdp")
int
cub_egress_xdp(struct xdp_md *ctx)
{
	struct cub_scratch *s;
	__u32 ifindex;

	s = bpf_map_lookup_elem(&cub_scratch_map, &egress_zero);
	if (!s)
		return XDP_DROP;
	ifindex = egress_ifindex(&s->out_port);
	if (!ifindex)
		return XDP_DROP;
	return bpf_redirect(ifindex, 0);
}

char _license[] SEC("license") = "GPL";
