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

#endif /* CUBICLE_CUBE_SHARED_H */
