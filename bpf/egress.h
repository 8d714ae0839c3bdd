/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading the broker's egress program (egress.bpf.c) for one cube: used by
 * the broker, and by the tests and benchmarks that load a cube's object
 * directly.
 */
#ifndef CUBI_EGRESS_H
#define CUBI_EGRESS_H

#include <stdbool.h>

/*
 * The broker's maps an egress program reuses; -1 for an empty one of its
 * own.  peers_fd: its cub_peers (a PROG_ARRAY of CUB_PEERS_SLOTS, the
 * programs of the cubes the ports peer with); flood_fd, flooddev_fd:
 * the cube's flood set (cube_shared.h, struct cub_flood; the XDP
 * devmap); pktin_fd: the cube's cub_pktin (flood copies for the broker);
 * hopkey_fd: the cube's own hop key (cube_shared.h, struct cub_hopkey);
 * peerkey_fd: the hop keys of the cubes its ports peer with, by port.
 */
struct cubi_egress_maps {
	int peers_fd, flood_fd, flooddev_fd, pktin_fd;
	int hopkey_fd;  /* the cube's cub_hopkey; <= 0: one of its own */
	int peerkey_fd; /* the cube's cub_peerkey; <= 0: one of its own */
	/* the cube's cub_flood_sel (flood_sel.bpf.h); <= 0: one of its
	 * own, empty */
	int flood_sel_fd;
};

/*
 * Load the egress program for hook @xdp (else TC) over the cube's
 * cub_ports (@ports_fd) and cub_scratch_map (@scratch_fd), with the
 * caller's privileges, and put it in slot CUB_EGRESS_OUT of the cube's
 * cub_egress (@table_fd).  @m: the other maps it reuses (NULL: none).
 * Returns the program's fd (O_CLOEXEC, the caller's to close) or
 * -errno; *@why, if not NULL, says which step failed.  May block (a
 * verifier run); no locks.
 */
int cubi_egress_load(bool xdp, int ports_fd, int scratch_fd, int table_fd,
    const struct cubi_egress_maps *m, const char **why);

/*
 * The TC egress program's second half for a port with transparent cubes
 * attached (broker/tcube.c): the same program over the same maps, but it
 * does not enter the port's egress stack (it runs at that stack's end;
 * a flood reaches a stack as one port's packet, so its flood set is an
 * empty one of its own).
 * Its fd, or -errno.  May block (a verifier run); no locks.
 */
int cubi_egress_load_after_stack(int ports_fd, int scratch_fd, int peers_fd,
    int peerkey_fd, const char **why);

#endif /* CUBI_EGRESS_H */
