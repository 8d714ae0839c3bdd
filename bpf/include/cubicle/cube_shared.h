/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Types and constants shared by every cube's BPF object and the user space
 * that fills its framework maps (the broker) or reads its packet-in ring
 * (broker -> worker).  Fixed-width types only (style rule 25).
 */
#ifndef CUBICLE_CUBE_SHARED_H
#define CUBICLE_CUBE_SHARED_H

#include <linux/types.h>

/* Maximum number of ports of one cube: size of cub_ports and cub_if2port. */
#define CUB_MAX_PORTS 128

/* cub_port.flags: the port is administratively and operationally up. */
#define CUB_PORT_UP 0x1
/*
 * cub_port.flags: the port peers with a port of another cube: ifindex
 * holds CUB_PEER_IFINDEX(that cube's port index), never a netdev's
 * ifindex (those are below 2^31) and never 0 (the port is connected), and
 * slot port of the egress program's cub_peers (egress.bpf.c) holds that
 * cube's program.
 */
#define CUB_PORT_PEER 0x2
#define CUB_PEER_IFINDEX(port) (0x80000000u | (port))
#define CUB_PEER_PORT(ifindex) ((ifindex) & 0x7fffffffu)

/* Value of cub_ports[port index]; ifindex 0 means "not connected". */
struct cub_port {
	__u32 ifindex;
	__u32 flags;
};

/*
 * One record of the cub_pktin ring buffer: this header, then cap_len bytes
 * of the packet from its first byte.  The record reserved is always
 * sizeof(struct cub_pktin_hdr) + CUB_PKTIN_MAX bytes; bytes past cap_len
 * are undefined.
 */
struct cub_pktin_hdr {
	__u32 port;     /* ingress port index of the cube */
	__u32 cap_len;  /* bytes of packet that follow */
	__u32 wire_len; /* length of the packet as received */
	__u32 reason;   /* cube-defined code, passed to the worker */
};

/* Largest packet prefix copied into a packet-in record. */
#define CUB_PKTIN_MAX 1536

/*
 * Per-CPU scratch of a cube (cub_scratch_map, cube.bpf.h).  Slot
 * (ifindex % CUB_IF2PORT_CACHE) of if2port caches cub_if2port; key[]
 * belongs to the cube.  out_port is what cub_forward() hands the broker's
 * egress program (bpf/egress.bpf.c) on XDP; it shares the map, so the
 * broker checks this layout (bpfobj.c).
 */
#define CUB_IF2PORT_CACHE 16

/* Map keys a cube may keep in struct cub_scratch. */
#define CUB_SCRATCH_KEYS 4

struct cub_if2port_slot {
	__u32 ifindex;
	__u32 port;
};

struct cub_scratch {
	__u32 key[CUB_SCRATCH_KEYS]; /* the cube's map keys */
	/* Private to the helpers in cube.bpf.h and the egress program. */
	__u32 fw_key;
	__u32 out_port;
	struct cub_if2port_slot if2port[CUB_IF2PORT_CACHE];
};

/*
 * cub_egress, the cube's tail-call table (a PROG_ARRAY only the broker
 * fills): slot CUB_EGRESS_OUT holds the broker's egress program for the
 * cube, the only way out of a cube.  The programs of the cubes its ports
 * peer with are in cub_peers, a table of the egress program's own that
 * the cube's program cannot name: no cube can jump into another cube's
 * program but through the broker's egress program.
 */
#define CUB_EGRESS_OUT 0
#define CUB_EGRESS_SLOTS 1

/*
 * How the egress program tells the next cube its in-port: TC, cb[1] =
 * CUB_HOP_MAGIC and cb[2] = port; XDP, a struct cub_hop in front of the
 * frame (bpf_xdp_adjust_head(); metadata, bpf_xdp_adjust_meta(), lost
 * almost every frame xdpgen's BPF_PROG_RUN live frames put through
 * bench/forward, for a reason not established).  A cube trusts it only
 * for a packet whose ingress netdev is none of its ports (cube.bpf.h,
 * cub_in_port()).
 */
#define CUB_HOP_MAGIC 0xc0be4e71

struct cub_hop {
	__u32 magic;
	__u32 in_port;
};

#endif /* CUBICLE_CUBE_SHARED_H */
