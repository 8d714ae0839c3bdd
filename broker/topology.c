// SPDX-License-Identifier: BSD-2-Clause
/*
 * Topology: ports, their peer netdevs, and the attachment of each cube's
 * program to those netdevs (tc clsact ingress, or XDP).  A port's peer is
 * data (cub_ports, cub_if2port): connecting or moving a port never reloads
 * a program.  A new program replaces the old one in place (tc filter
 * replace, XDP_FLAGS_REPLACE), so there is no window without enforcement.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "log.h"

#define CUB_TC_HANDLE 0xc0be
#define CUB_TC_PRIO 1

struct bport *
topo_port(struct cube *c, const char *name)
{
	struct bport *p;

	for (p = c->ports; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

struct cube *
topo_netdev_owner(struct broker *b, const char *peer, struct bport **port)
{
	struct bport *p;
	struct cube *c;

	for (c = b->cubes; c; c = c->next)
		for (p = c->ports; p; p = p->next)
			if (p->peer[0] && !strcmp(p->peer, peer)) {
				if (port)
					*port = p;
				return c;
			}
	return NULL;
}

static uint32_t
xdp_flags(const struct cube *c)
{
	return c->hook == HOOK_XDP_SKB ? XDP_FLAGS_SKB_MODE
				       : XDP_FLAGS_DRV_MODE;
}

/* Point the framework maps at (or away from) a netdev. */
static int
port_maps(struct cube *c, struct bport *p, int ifindex, bool up)
{
	struct bmap *ports = bpfobj_map(c->obj, "cub_ports");
	struct bmap *if2 = bpfobj_map(c->obj, "cub_if2port");
	struct cub_port cp = {
	    .ifindex = (uint32_t)ifindex, .flags = up ? CUB_PORT_UP : 0};
	uint32_t key = (uint32_t)ifindex;

	if (!ports || !if2)
		return -ENOENT;
	/*
	 * Keep the invariant cube.bpf.h's lookup cache relies on: while
	 * cub_ports[p] is {ifindex, UP}, cub_if2port[ifindex] == p.  So up:
	 * map the ifindex first; down: take the port down first.
	 */
	if (up) {
		if (bpf_map_update_elem(if2->fd, &key, &p->index, BPF_ANY) ||
		    bpf_map_update_elem(ports->fd, &p->index, &cp, BPF_ANY))
			return -errno;
		return 0;
	}
	if (bpf_map_update_elem(ports->fd, &p->index, &cp, BPF_ANY))
		return -errno;
	bpf_map_delete_elem(if2->fd, &key);
	return 0;
}

/* Attach prog_fd on ifindex, replacing old_fd (or whatever is ours). */
static int
hook_attach(
    struct cube *c, struct bport *p, int ifindex, int prog_fd, int old_fd)
{
	int r;

	if (c->hook == HOOK_TC) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CUB_TC_HANDLE,
		    .priority = CUB_TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);

		r = bpf_tc_hook_create(&hook);
		if (r && r != -EEXIST)
			return r;
		if (!r)
			p->hook_created = true;
		return bpf_tc_attach(&hook, &opts);
	}
	if (old_fd >= 0) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);

		return bpf_xdp_attach(
		    ifindex, prog_fd, xdp_flags(c) | XDP_FLAGS_REPLACE, &opts);
	}
	return bpf_xdp_attach(
	    ifindex, prog_fd, xdp_flags(c) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
}

static void
hook_detach(struct cube *c, struct bport *p)
{
	if (c->hook == HOOK_TC) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = p->ifindex,
		    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CUB_TC_HANDLE,
		    .priority = CUB_TC_PRIO);

		bpf_tc_detach(&hook, &opts);
		if (p->hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
			p->hook_created = false;
		}
		return;
	}
	if (c->obj) {
		LIBBPF_OPTS(
		    bpf_xdp_attach_opts, opts, .old_prog_fd = c->obj->prog_fd);

		bpf_xdp_detach(
		    p->ifindex, xdp_flags(c) | XDP_FLAGS_REPLACE, &opts);
	}
}

int
topo_attach(struct broker *b, struct cube *c, struct bport *p, const char *peer,
    struct cub_val **errv)
{
	int ifindex, r;

	ifindex = (int)if_nametoindex(peer);
	if (!ifindex) {
		*errv = cub_err_val(CUB_E_NODEV,
		    "cube '%s' port '%s': netdev '%s' does not exist", c->name,
		    p->name, peer);
		return -ENODEV;
	}
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	p->ifindex = ifindex;
	if (!c->obj)
		return 0; /* attached when the worker loads the program */
	if ((r = port_maps(c, p, ifindex, true)) ||
	    (r = hook_attach(c, p, ifindex, c->obj->prog_fd, -1))) {
		port_maps(c, p, ifindex, false);
		p->peer[0] = '\0';
		p->ifindex = 0;
		*errv = cub_err_val(
		    r == -EBUSY || r == -EEXIST ? CUB_E_BUSY : CUB_E_KERNEL,
		    "cube '%s' port '%s': attach to '%s' failed: %s%s", c->name,
		    p->name, peer, strerror(-r),
		    r == -EBUSY || r == -EEXIST
			? " (another XDP program is attached there)"
			: "");
		return r;
	}
	log_info("cube '%s' port '%s': attached to %s (ifindex %d, %s)",
	    c->name, p->name, peer, ifindex, hook_name(c->hook));
	return 0;
}

void
topo_detach(struct broker *b, struct cube *c, struct bport *p)
{
	if (!p->ifindex)
		return;
	if (c->obj) {
		hook_detach(c, p);
		port_maps(c, p, p->ifindex, false);
	}
	log_info(
	    "cube '%s' port '%s': detached from %s", c->name, p->name, p->peer);
	p->peer[0] = '\0';
	p->ifindex = 0;
}

/*
 * Make every port that has a peer run c->obj's program: after a load
 * (replacing old_prog_fd in place) or an adoption.  Stops at the first
 * failure and returns it.
 */
int
topo_reattach_all(struct broker *b, struct cube *c, int old_prog_fd)
{
	struct bport *p;
	__u32 cur = 0;
	int r;

	for (p = c->ports; p; p = p->next) {
		if (!p->peer[0])
			continue;
		p->ifindex = (int)if_nametoindex(p->peer);
		if (!p->ifindex) {
			log_warn("cube '%s' port '%s': netdev '%s' is gone",
			    c->name, p->name, p->peer);
			continue;
		}
		if ((r = port_maps(c, p, p->ifindex, true)))
			return r;
		if (c->hook != HOOK_TC && old_prog_fd < 0 &&
		    !bpf_xdp_query_id(p->ifindex, (int)xdp_flags(c), &cur) &&
		    cur == c->obj->prog_id)
			continue; /* adopted and still in place */
		if (c->hook != HOOK_TC && old_prog_fd < 0 && cur)
			r = bpf_xdp_attach(
			    p->ifindex, c->obj->prog_fd, xdp_flags(c), NULL);
		else
			r = hook_attach(
			    c, p, p->ifindex, c->obj->prog_fd, old_prog_fd);
		if (r)
			return r;
	}
	return 0;
}
