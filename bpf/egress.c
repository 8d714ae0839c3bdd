// SPDX-License-Identifier: BSD-2-Clause
/* Loading the broker's egress program for one cube (egress.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cube_shared.h"
#include "egress.h"
#include "egress.skel.h"

int
cubi_egress_load(bool xdp, int ports_fd, int scratch_fd, int table_fd,
    const struct cubi_egress_maps *m, const char **why)
{
	const char *dummy;
	struct egress *skel;
	uint32_t slot = CUB_EGRESS_OUT;
	int r, fd = -1;

	why = why ? why : &dummy;
	*why = "open the egress object";
	skel = egress__open();
	if (!skel)
		return -errno;
	bpf_program__set_autoload(skel->progs.cub_egress_tc, !xdp);
	bpf_program__set_autoload(skel->progs.cub_egress_xdp, xdp);
	if (!m || m->pktin_fd < 0)
		bpf_map__set_max_entries(skel->maps.cub_pktin, 4096);
	*why = "reuse the cube's maps";
	if ((r = bpf_map__reuse_fd(skel->maps.cub_ports, ports_fd)) ||
	    (r = bpf_map__reuse_fd(skel->maps.cub_scratch_map, scratch_fd)) ||
	    (m && m->peers_fd >= 0 &&
		(r = bpf_map__reuse_fd(skel->maps.cub_peers, m->peers_fd))) ||
	    (m && m->flood_fd >= 0 &&
		(r = bpf_map__reuse_fd(skel->maps.cub_flood, m->flood_fd))) ||
	    (m && m->flooddev_fd >= 0 &&
		(r = bpf_map__reuse_fd(
		     skel->maps.cub_flood_dev, m->flooddev_fd))) ||
	    (m && m->pktin_fd >= 0 &&
		(r = bpf_map__reuse_fd(skel->maps.cub_pktin, m->pktin_fd))) ||
	    (m && m->hopkey_fd > 0 &&
		(r = bpf_map__reuse_fd(skel->maps.cub_hopkey, m->hopkey_fd))) ||
	    (m && m->peerkey_fd > 0 &&
		(r = bpf_map__reuse_fd(
		     skel->maps.cub_peerkey, m->peerkey_fd))) ||
	    (m && m->flood_sel_fd > 0 &&
		(r = bpf_map__reuse_fd(
		     skel->maps.cub_flood_sel, m->flood_sel_fd))))
		goto out;
	*why = "load the egress program";
	if ((r = egress__load(skel)))
		goto out;
	*why = "dup the egress program's fd";
	fd = fcntl(bpf_program__fd(xdp ? skel->progs.cub_egress_xdp
				       : skel->progs.cub_egress_tc),
	    F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	*why = "fill the cube's cub_egress";
	if (bpf_map_update_elem(table_fd, &slot, &fd, BPF_ANY)) {
		r = -errno;
		close(fd);
		fd = -1;
		goto out;
	}
	r = fd;
out:
	egress__destroy(skel);
	return r;
}

int
cubi_egress_load_after_stack(int ports_fd, int scratch_fd, int peers_fd,
    int peerkey_fd, const char **why)
{
	const char *dummy;
	struct egress *skel;
	int r, fd;

	why = why ? why : &dummy;
	*why = "open the egress object";
	skel = egress__open();
	if (!skel)
		return -errno;
	bpf_program__set_autoload(skel->progs.cub_egress_xdp, false);
	skel->rodata->egress_after_stack = 1;
	/* A flood reaches a stack as one port's packet: this half floods
	 * nothing, its flood maps are empty and small. */
	bpf_map__set_max_entries(skel->maps.cub_pktin, 4096);
	*why = "reuse the cube's maps";
	if ((r = bpf_map__reuse_fd(skel->maps.cub_ports, ports_fd)) ||
	    (r = bpf_map__reuse_fd(skel->maps.cub_scratch_map, scratch_fd)) ||
	    (r = bpf_map__reuse_fd(skel->maps.cub_peers, peers_fd)) ||
	    (peerkey_fd > 0 &&
		(r = bpf_map__reuse_fd(skel->maps.cub_peerkey, peerkey_fd))))
		goto out;
	*why = "load the egress program";
	if ((r = egress__load(skel)))
		goto out;
	fd = fcntl(bpf_program__fd(skel->progs.cub_egress_tc),
	    F_DUPFD_CLOEXEC, 3);
	r = fd < 0 ? -errno : fd;
out:
	egress__destroy(skel);
	return r;
}
