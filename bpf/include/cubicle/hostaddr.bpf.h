/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The host's IPv4 addresses, for host-wide cubes (a host firewall's
 * INPUT/FORWARD choice, iptables' -m addrtype): include after
 * <cubicle/cube.bpf.h>.  The map is the broker's: declared here, it is
 * not the cube's own (the broker gives every cube that declares it the
 * same one, kept current from the namespace's address events, pinned at
 * <pin-root>/_host/addrs), and programs only read it.
 */
#ifndef CUBICLE_HOSTADDR_BPF_H
#define CUBICLE_HOSTADDR_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct cub_host_addr);
	__uint(max_entries, CUB_HOST_ADDRS_MAX);
	__uint(map_flags, BPF_F_RDONLY_PROG | BPF_F_NO_PREALLOC);
} cub_host_addrs SEC(".maps");

/* iptables' address types (-m addrtype), as a mask of one bit. */
#define CUB_ADDRT_UNICAST 0x1u
#define CUB_ADDRT_LOCAL 0x2u
#define CUB_ADDRT_BROADCAST 0x4u
#define CUB_ADDRT_MULTICAST 0x8u

/*
 * The type of IPv4 address a (network order) on this host: LOCAL for an
 * address of a netdev or 127.0.0.0/8, BROADCAST for 255.255.255.255 and
 * a netdev's subnet broadcast, MULTICAST for 224.0.0.0/4, else UNICAST.
 */
static __always_inline __u32
cub_addr_type(__u32 a)
{
	struct cub_host_addr *h;
	__u32 host = bpf_ntohl(a);

	if ((host >> 24) == 127)
		return CUB_ADDRT_LOCAL;
	if (host == 0xffffffffu)
		return CUB_ADDRT_BROADCAST;
	if ((host >> 28) == 0xe)
		return CUB_ADDRT_MULTICAST;
	h = bpf_map_lookup_elem(&cub_host_addrs, &a);
	if (!h)
		return CUB_ADDRT_UNICAST;
	return h->kind == CUB_HADDR_BROADCAST ? CUB_ADDRT_BROADCAST
					       : CUB_ADDRT_LOCAL;
}

#endif /* CUBICLE_HOSTADDR_BPF_H */
