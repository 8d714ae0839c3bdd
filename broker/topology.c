// SPDX-License-Identifier: BSD-2-Clause
/*
 * Topology: ports, their peer netdevs, and the attachment of each cube's
 * program to those netdevs (tc clsact ingress, or XDP).  A port's peer is
 * data (cub_ports, cub_if2port): connecting or moving a port never reloads
 * a program.  A new program replaces the old one in place (tc filter
 * replace, XDP_FLAGS_REPLACE), so there is no window without enforcement.
 * A port may also peer with a port of another cube ("cube:port"): no
 * netdev, but CUB_PORT_PEER in cub_ports and the other cube's program in
 * the port's slot of cub_peers, which the broker's egress program
 * tail-calls; connecting, disconnecting and re-peering are map updates.
 * Other software's programs are never replaced or removed: a netdev with
 * an XDP program, or a filter at Cubicle's tc handle, that is not the
 * cube's is refused, and a clsact qdisc Cubicle created stays while other
 * filters are on it.
 */
#include <errno.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "broker.h"
#include "graph_walk.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "log.h"

#define CUB_TC_HANDLE 0xc0be
#define CUB_TC_PRIO 1
/* A foreign tc filter that runs no BPF program (u32, a classic BPF...). */
#define NOT_BPF UINT32_MAX

struct bport *
topo_port(struct cube *c, const char *name)
{
	struct bport *p;

	for (p = c->ports; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

bool
topo_attached(const struct bport *p)
{
	return p->ifindex || p->cube_peer;
}

/* "cube:port": graph_walk.c's parser, the one for the whole broker. */
bool
topo_peer_split(const char *peer, char *cube, char *port)
{
	return graph_peer_split(peer, cube, port);
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

/*
 * The program a packet entering c by port p runs first: the ingress
 * stack of transparent cubes attached to c:p (tcube.c), or c's own.
 */
static int
port_entry_fd(struct cube *c, const char *port)
{
	int fd = tcube_port_entry(c->svc->b, c, port);

	return fd >= 0 ? fd : c->obj->prog_fd;
}

static uint32_t
xdp_flags(const struct cube *c)
{
	return c->hook == HOOK_XDP_SKB ? XDP_FLAGS_SKB_MODE
				       : XDP_FLAGS_DRV_MODE;
}

/*
 * The cube's flood set (cube_shared.h, struct cub_flood) from what its
 * cub_ports says now: each up port whose peer is a netdev and that has
 * no egress stack gets a copy (dev[], and on XDP an entry of the flood
 * devmap); a port that peers with a cube, or has an egress stack, is a
 * tail-call port (tail[]).  Called after every change of cub_ports and
 * of a port's stack.  The egress program reads the set, not cub_ports,
 * for copies: one sent while a change is under way goes where cub_ports
 * said a moment before.
 */
void
topo_flood_sync(struct cube *c)
{
	struct bmap *ports = c->obj ? bpfobj_map(c->obj, "cub_ports") : NULL;
	struct cub_flood f = {0};
	struct cub_port cp;
	uint32_t key, next, n, zero = 0;
	bool want[CUB_MAX_PORTS] = {0}, stale[CUB_MAX_PORTS] = {0};
	bool stacked;
	struct bport *p;
	int dev;

	if (!ports || c->obj->flood_fd < 0)
		return;
	dev = c->hook == HOOK_TC ? -1 : c->obj->flooddev_fd;
	for (p = c->ports; p; p = p->next) {
		if (p->index >= CUB_MAX_PORTS ||
		    bpf_map_lookup_elem(ports->fd, &p->index, &cp) ||
		    !(cp.flags & CUB_PORT_UP) || !cp.ifindex)
			continue;
		stacked = tcube_port_entry(c->svc->b, c, p->name) >= 0;
		if (!(cp.flags & CUB_PORT_PEER) && !stacked) {
			f.dev[f.ndev].port = p->index;
			f.dev[f.ndev].ifindex = cp.ifindex;
			f.ndev++;
			want[p->index] = true;
			if (dev >= 0 && bpf_map_update_elem(dev, &p->index,
					    &cp.ifindex, BPF_ANY))
				log_errno(-errno,
				    "cube '%s' port '%s': its flood entry",
				    c->name, p->name);
			continue;
		}
		f.tail[f.ntail].port = p->index;
		f.tail[f.ntail].peer = !!(cp.flags & CUB_PORT_PEER);
		f.npeer += f.tail[f.ntail].peer;
		f.ntail++;
	}
	if (bpf_map_update_elem(c->obj->flood_fd, &zero, &f, BPF_ANY))
		log_errno(-errno, "cube '%s': its flood set", c->name);
	if (dev < 0)
		return;
	/* The devmap's entries of ports no longer in the set go. */
	for (n = 0, key = UINT32_MAX;
	     n < CUB_MAX_PORTS &&
	     !bpf_map_get_next_key(dev, key == UINT32_MAX ? NULL : &key, &next);
	     key = next, n++)
		if (next < CUB_MAX_PORTS && !want[next])
			stale[next] = true;
	for (key = 0; key < CUB_MAX_PORTS; key++)
		if (stale[key])
			bpf_map_delete_elem(dev, &key);
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
		topo_flood_sync(c);
		return 0;
	}
	if (bpf_map_update_elem(ports->fd, &p->index, &cp, BPF_ANY))
		return -errno;
	topo_flood_sync(c);
	bpf_map_delete_elem(if2->fd, &key);
	return 0;
}

/*
 * Slot p->index of c's cub_peers (egress.bpf.c): prog_fd, the entry of
 * cube to, or empty (to NULL).  to's hop key goes in c's cub_peerkey
 * first, so that no packet tail-calls into to with another key.
 */
static int
peer_slot(struct cube *c, struct bport *p, struct cube *to, int prog_fd)
{
	struct cub_hopkey key = {0};
	uint32_t slot = p->index, zero = 0;

	if (!c->obj || c->obj->peers_fd < 0 || p->index >= CUB_MAX_PORTS)
		return -ENOENT;
	if (!to || prog_fd < 0) {
		if (bpf_map_delete_elem(c->obj->peers_fd, &slot) &&
		    errno != ENOENT)
			return -errno;
		/* An array's entry: zeroed, never deleted. */
		if (c->obj->peerkey_fd >= 0)
			bpf_map_update_elem(
			    c->obj->peerkey_fd, &slot, &key, BPF_ANY);
		return 0;
	}
	if (c->obj->peerkey_fd >= 0 &&
	    (to->hopkey_fd <= 0 ||
		bpf_map_lookup_elem(to->hopkey_fd, &zero, &key) ||
		bpf_map_update_elem(c->obj->peerkey_fd, &slot, &key, BPF_ANY)))
		return to->hopkey_fd <= 0 ? -ENOKEY : -errno;
	if (bpf_map_update_elem(c->obj->peers_fd, &slot, &prog_fd, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Wire p (peer "cube:port") in c's maps: the port up with CUB_PORT_PEER
 * and the other cube's port index, and that cube's program in p's slot
 * (if it has one yet; it is put there when it loads).
 */
static int
peer_wire(struct broker *b, struct cube *c, struct bport *p)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct bmap *ports = bpfobj_map(c->obj, "cub_ports");
	struct cub_port cp = {.flags = CUB_PORT_UP | CUB_PORT_PEER};
	struct bport *p2;
	struct cube *c2;
	int r;

	if (!ports || !topo_peer_split(p->peer, cname, pname))
		return -ENOENT;
	c2 = cube_find(b, cname);
	p2 = c2 ? topo_port(c2, pname) : NULL;
	if (!p2)
		return -ENOENT;
	cp.ifindex = CUB_PEER_IFINDEX(p2->index);
	if (c2->obj && (r = peer_slot(c, p, c2, port_entry_fd(c2, pname))))
		return r;
	if (bpf_map_update_elem(ports->fd, &p->index, &cp, BPF_ANY))
		return -errno;
	topo_flood_sync(c);
	return 0;
}

/* Unwire p: the port down first (the egress program stops), then the slot. */
static void
peer_unwire(struct cube *c, struct bport *p)
{
	struct bmap *ports = bpfobj_map(c->obj, "cub_ports");
	struct cub_port cp = {0};

	if (ports)
		bpf_map_update_elem(ports->fd, &p->index, &cp, BPF_ANY);
	topo_flood_sync(c);
	peer_slot(c, p, NULL, -1);
}

/* Ports of other cubes that peer with c get c's (new) program. */
static void
peers_refresh(struct broker *b, struct cube *c)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct bport *q;
	struct cube *x;
	int r;

	for (x = b->cubes; x; x = x->next)
		for (q = x->ports; x->obj && q; q = q->next)
			if (q->cube_peer &&
			    topo_peer_split(q->peer, cname, pname) &&
			    !strcmp(cname, c->name) &&
			    (r = peer_slot(x, q, c, port_entry_fd(c, pname))))
				log_errno(r, "cube '%s' port '%s': peer '%s'",
				    x->name, q->name, q->peer);
}

/* Drop port's peer from doc (NULL: none) if it is still peer. */
static void
doc_unpeer(struct cub_val *doc, const char *port, const char *peer)
{
	struct cub_val *e = doc ? cubi_tree__find(doc, "ports", "name", port)
				: NULL;
	const char *cur = cub_val__get_str(e, "peer");

	if (cur && !strcmp(cur, peer))
		cub_val__del(e, "peer");
}

/*
 * Unpeer the ports of other cubes that peer with a port of gone (port:
 * that one, NULL: any): their slot emptied and their cub_ports entry
 * cleared, so that no packet enters gone by a port it no longer has,
 * and the peer removed from their document.  Returns how many.
 */
static int
unpeer_from(struct broker *b, struct cube *gone, const char *port)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	char peer[sizeof(((struct bport *)0)->peer)];
	struct bport *q;
	struct cube *x;
	int n = 0;

	for (x = b->cubes; x; x = x->next)
		for (q = x->ports; q; q = q->next) {
			if (!q->peer[0] ||
			    !topo_peer_split(q->peer, cname, pname) ||
			    strcmp(cname, gone->name) ||
			    (port && strcmp(pname, port)) ||
			    (!port && x == gone))
				continue;
			log_info("cube '%s' port '%s': unpeered from deleted "
				 "%s '%s'",
			    x->name, q->name, port ? "port" : "cube",
			    port ? q->peer : gone->name);
			memcpy(peer, q->peer, sizeof(peer));
			topo_detach(b, x, q);
			/*
			 * In the document and, when x has a change waiting
			 * for its worker, in the settled one that change
			 * restores if refused (cube_update()'s old).
			 */
			doc_unpeer(x->doc, q->name, peer);
			doc_unpeer(x->stored_doc, q->name, peer);
			n++;
		}
	return n;
}

/*
 * c is being deleted: ports of other cubes that peer with it are
 * disconnected, as in Polycube.  Returns how many; the caller saves the
 * store.  Lock held.
 */
int
topo_cube_gone(struct broker *b, struct cube *gone)
{
	return unpeer_from(b, gone, NULL);
}

/*
 * Port `port` of c was deleted: the ports that peer with it are
 * disconnected.  Returns how many; the caller saves the store.  Lock held.
 */
int
topo_port_gone(struct broker *b, struct cube *c, const char *port)
{
	return unpeer_from(b, c, port);
}

/* Does program id use the map map_id? */
static bool
prog_uses_map(uint32_t id, uint32_t map_id)
{
	struct bpf_prog_info pinfo = {0};
	__u32 plen = sizeof(pinfo);
	uint32_t map_ids[CUB_MAX_MAPS + 8];
	bool uses = false;
	uint32_t i;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	pinfo.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	pinfo.map_ids = (__u64)(uintptr_t)map_ids;
	if (!bpf_obj_get_info_by_fd(fd, &pinfo, &plen))
		for (i = 0; i < pinfo.nr_map_ids &&
			    i < sizeof(map_ids) / sizeof(map_ids[0]);
		     i++)
			uses |= map_ids[i] == map_id;
	close(fd);
	return uses;
}

/*
 * Is program id Cubicle's for this cube: its current program, or an older
 * one of the same cube (a reload the broker did not finish before it was
 * killed), recognised by its use of the cube's own cub_ports map.  Before
 * the cube has a program nothing on a netdev is its own.
 */
static bool
prog_is_ours(struct cube *c, uint32_t id)
{
	struct bmap *ports = c->obj ? bpfobj_map(c->obj, "cub_ports") : NULL;
	struct bpf_map_info minfo = {0};
	__u32 mlen = sizeof(minfo);

	if (!c->obj || !id)
		return false;
	if (id == c->obj->prog_id || tcube_prog_ours(c->svc->b, c, id))
		return true;
	if (!ports || bpf_obj_get_info_by_fd(ports->fd, &minfo, &mlen))
		return false;
	return prog_uses_map(id, minfo.id);
}

/*
 * The XDP program on ifindex in any mode that is not Cubicle's, in
 * *foreign (0 when none); *stale gets an older program of this cube in
 * the cube's own mode, which a new program may replace.
 */
static int
xdp_query(struct cube *c, int ifindex, uint32_t *foreign, uint32_t *stale)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	uint32_t ids[4], own_mode;
	unsigned i;
	int r;

	*foreign = *stale = 0;
	if ((r = bpf_xdp_query(ifindex, 0, &q)))
		return r;
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	ids[3] = q.prog_id;
	own_mode = c->hook == HOOK_XDP_SKB ? q.skb_prog_id : q.drv_prog_id;
	for (i = 0; i < 4; i++) {
		if (!ids[i] || (c->obj && ids[i] == c->obj->prog_id))
			continue;
		if (ids[i] == own_mode && prog_is_ours(c, ids[i]))
			*stale = ids[i];
		else if (!*foreign)
			*foreign = ids[i];
	}
	return 0;
}

/* What one direction of a clsact qdisc holds (tc_dump()). */
struct tc_seen {
	unsigned messages; /* filters (and their parts) dumped */
	bool slot;         /* a filter at Cubicle's handle and priority */
	uint32_t slot_id;  /* its BPF program id, 0 if it is not one */
};

/* The BPF program id in a filter's TCA_OPTIONS, 0 if none. */
static uint32_t
tc_bpf_id(struct rtattr *opts)
{
	struct rtattr *a;
	int len = (int)RTA_PAYLOAD(opts);

	for (a = RTA_DATA(opts); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == TCA_BPF_ID &&
		    RTA_PAYLOAD(a) >= sizeof(uint32_t))
			return *(uint32_t *)RTA_DATA(a);
	return 0;
}

/* Account one RTM_NEWTFILTER message of a dump. */
static void
tc_seen_add(struct tc_seen *seen, struct nlmsghdr *nh)
{
	struct tcmsg *tc = NLMSG_DATA(nh);
	struct rtattr *a, *opts = NULL;
	char kind[16] = "";
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)))
		return;
	seen->messages++;
	if (tc->tcm_handle != CUB_TC_HANDLE ||
	    TC_H_MAJ(tc->tcm_info) >> 16 != CUB_TC_PRIO)
		return;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tc)));
	for (a = (struct rtattr *)((char *)tc + NLMSG_ALIGN(sizeof(*tc)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == TCA_KIND)
			snprintf(kind, sizeof(kind), "%.*s",
			    (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
		else if (a->rta_type == TCA_OPTIONS)
			opts = a;
	seen->slot = true;
	seen->slot_id = !strcmp(kind, "bpf") && opts ? tc_bpf_id(opts) : 0;
}

/*
 * Dump the filters of ifindex's clsact ingress or egress (every chain)
 * with RTM_GETTFILTER.  No qdisc is an empty dump.
 */
static int
tc_dump(int ifindex, bool egress, struct tc_seen *seen)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = {
	    .nh = {.nlmsg_len = sizeof(req),
		.nlmsg_type = RTM_GETTFILTER,
		.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nlmsg_seq = 1},
	    .tc = {.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_parent = TC_H_MAKE(
		    TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS)},
	};
	char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nh;
	ssize_t n;
	int fd, r = 0;

	memset(seen, 0, sizeof(*seen));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		r = -errno;
		goto out;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0 || n > (ssize_t)sizeof(buf)) {
			r = n ? -EMSGSIZE : -EPROTO;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				/* No clsact qdisc: nothing on it. */
				if (e->error != -EINVAL && e->error != -ENOENT)
					r = e->error ? e->error : -EPROTO;
				goto out;
			}
			if (nh->nlmsg_type == RTM_NEWTFILTER)
				tc_seen_add(seen, nh);
		}
	}
out:
	close(fd);
	return r;
}

/*
 * Whether a filter sits at Cubicle's handle and priority on ifindex's
 * ingress, with its program id in *id (0 if it is not a BPF program).
 * A failed dump counts as occupied by an unknown filter.
 */
static bool
tc_slot(int ifindex, uint32_t *id)
{
	struct tc_seen seen;

	*id = 0;
	if (tc_dump(ifindex, false, &seen))
		return true;
	*id = seen.slot_id;
	return seen.slot;
}

/*
 * Whether ifindex's clsact qdisc holds any filter, in either direction.
 * A failed dump counts as "yes", so that the qdisc is kept.
 */
bool
topo_tc_has_filters(int ifindex)
{
	struct tc_seen in, out;

	return tc_dump(ifindex, false, &in) || tc_dump(ifindex, true, &out) ||
	       in.messages || out.messages;
}

/*
 * Attach prog_fd on ifindex, replacing old_fd or an older program of this
 * cube, never anything else: a netdev that carries another XDP program,
 * or another filter at Cubicle's tc handle and priority, is -EBUSY with
 * that program's id in *foreign.
 */
static int
hook_attach_(struct cube *c, struct bport *p, int ifindex, int prog_fd,
    int old_fd, uint32_t *foreign)
{
	uint32_t stale, cur;
	int r, fd;

	*foreign = 0;
	if (c->hook == HOOK_TC) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CUB_TC_HANDLE,
		    .priority = CUB_TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);

		if (tc_slot(ifindex, &cur) && !prog_is_ours(c, cur)) {
			*foreign = cur ? cur : NOT_BPF;
			return -EBUSY;
		}
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
	if ((r = xdp_query(c, ifindex, foreign, &stale)))
		return r;
	if (*foreign)
		return -EBUSY;
	if (stale) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts);

		fd = bpf_prog_get_fd_by_id(stale);
		if (fd < 0)
			return -errno;
		opts.old_prog_fd = fd;
		r = bpf_xdp_attach(
		    ifindex, prog_fd, xdp_flags(c) | XDP_FLAGS_REPLACE, &opts);
		close(fd);
		return r;
	}
	return bpf_xdp_attach(
	    ifindex, prog_fd, xdp_flags(c) | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
}

/* ... and once the port has the netdev, the host-wide cubes are taken
 * off it: none sees what a port's netdev carries (a port refused the
 * netdev leaves it theirs). */
static int
hook_attach(struct cube *c, struct bport *p, int ifindex, int prog_fd,
    int old_fd, uint32_t *foreign)
{
	int r = hook_attach_(c, p, ifindex, prog_fd, old_fd, foreign);

	if (!r)
		tcube_host_release(c->svc->b, ifindex);
	return r;
}

/*
 * Remove Cubicle's program from p's netdev and nothing else: the XDP
 * program only if it is still ours (XDP_FLAGS_REPLACE with our fd), the
 * tc filter only if it runs our program, and the clsact qdisc only if the
 * broker created it and no other filter is on it.
 */
static void
hook_detach_(struct cube *c, struct bport *p)
{
	uint32_t cur;
	int r;

	if (c->hook == HOOK_TC) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = p->ifindex,
		    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CUB_TC_HANDLE,
		    .priority = CUB_TC_PRIO);

		if (!tc_slot(p->ifindex, &cur))
			; /* gone already */
		else if (prog_is_ours(c, cur))
			bpf_tc_detach(&hook, &opts);
		else
			log_warn("netdev '%s': the tc filter at handle %#x "
				 "priority %d is not Cubicle's (program id "
				 "%u): left in place",
			    p->peer, CUB_TC_HANDLE, CUB_TC_PRIO, cur);
		if (p->hook_created && topo_tc_has_filters(p->ifindex))
			log_info("netdev '%s': other filters on the clsact "
				 "qdisc Cubicle created: qdisc left in place",
			    p->peer);
		else if (p->hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		p->hook_created = false;
		return;
	}
	if (c->obj) {
		LIBBPF_OPTS(
		    bpf_xdp_attach_opts, opts, .old_prog_fd = c->obj->prog_fd);

		r = bpf_xdp_detach(
		    p->ifindex, xdp_flags(c) | XDP_FLAGS_REPLACE, &opts);
		if (r &&
		    !bpf_xdp_query_id(p->ifindex, (int)xdp_flags(c), &cur) &&
		    cur)
			log_warn("netdev '%s': XDP program id %u is not "
				 "Cubicle's: left in place",
			    p->peer, cur);
	}
}

/* ... and the netdev is the host-wide cubes' again, if no other port
 * owns it. */
static void
hook_detach(struct cube *c, struct bport *p)
{
	hook_detach_(c, p);
	tcube_host_claim(c->svc->b, p->ifindex, p->peer, p);
}

/* What a netdev carries that is not Cubicle's, for a message. */
static const char *
foreign_desc(const struct cube *c, uint32_t foreign, char *buf, size_t len)
{
	if (c->hook != HOOK_TC)
		snprintf(buf, len, "an XDP program (id %u)", foreign);
	else if (foreign == NOT_BPF)
		snprintf(buf, len,
		    "a tc ingress filter at handle %#x priority %d",
		    CUB_TC_HANDLE, CUB_TC_PRIO);
	else
		snprintf(buf, len,
		    "a tc ingress filter at handle %#x priority %d (program "
		    "id %u)",
		    CUB_TC_HANDLE, CUB_TC_PRIO, foreign);
	return buf;
}

/* The error for a netdev that carries someone else's program. */
static struct cub_val *
busy_err(struct cube *c, struct bport *p, const char *peer, uint32_t foreign)
{
	char what[128];

	return cub_err_val(CUB_E_BUSY,
	    "cube '%s' port '%s': netdev '%s' already has %s that Cubicle "
	    "did not attach; remove it first",
	    c->name, p->name, peer,
	    foreign_desc(c, foreign, what, sizeof(what)));
}

/*
 * Before the cube has a program: refuse a netdev that carries someone
 * else's program now, so that a create fails before anything loads (the
 * attach checks again when the program is there).
 */
static int
hook_check(struct cube *c, int ifindex, uint32_t *foreign)
{
	uint32_t stale, id;
	int r;

	*foreign = 0;
	if (c->hook == HOOK_TC) {
		if (tc_slot(ifindex, &id))
			*foreign = id ? id : NOT_BPF;
		return *foreign ? -EBUSY : 0;
	}
	if ((r = xdp_query(c, ifindex, foreign, &stale)))
		return r;
	return *foreign ? -EBUSY : 0;
}

int
topo_attach(struct broker *b, struct cube *c, struct bport *p, const char *peer,
    struct cub_val **errv)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	uint32_t foreign = 0;
	struct cube *c2;
	bool xdp_stack;
	int ifindex, r;

	if (topo_peer_split(peer, cname, pname)) {
		c2 = cube_find(b, cname);
		if (!c2 || !topo_port(c2, pname)) {
			*errv = cub_err_val(CUB_E_NOTFOUND,
			    "cube '%s' port '%s': peer '%s': no cube '%s' "
			    "with a port '%s'",
			    c->name, p->name, peer, cname, pname);
			return -ENOENT;
		}
		if ((c->hook == HOOK_TC) != (c2->hook == HOOK_TC)) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "cube '%s' port '%s': peer '%s': cube '%s' is %s "
			    "and '%s' is %s; peered cubes must both be TC or "
			    "both XDP",
			    c->name, p->name, peer, c->name, hook_name(c->hook),
			    c2->name, hook_name(c2->hook));
			return -EINVAL;
		}
		snprintf(p->peer, sizeof(p->peer), "%s", peer);
		p->cube_peer = true;
		p->ifindex = 0;
		if (c->obj && (r = peer_wire(b, c, p))) {
			*errv = cub_err_val(CUB_E_KERNEL,
			    "cube '%s' port '%s': peer '%s': %s", c->name,
			    p->name, peer, strerror(-r));
			peer_unwire(c, p);
			p->cube_peer = false;
			p->peer[0] = '\0';
			return r;
		}
		log_info("cube '%s' port '%s': peered with %s", c->name,
		    p->name, peer);
		tcube_port_changed(b, c, p->name);
		return 0;
	}
	if ((r = tcube_port_check(b, c, p->name, peer, errv)))
		return r;
	/* A netdev with XDP transparent cubes keeps the broker's XDP
	 * dispatcher, whose end runs the cube's program (tcube.c). */
	xdp_stack = tcube_xdp_entry(b, peer) >= 0;
	ifindex = (int)if_nametoindex(peer);
	if (!ifindex) {
		*errv = cub_err_val(CUB_E_NODEV,
		    "cube '%s' port '%s': netdev '%s' does not exist", c->name,
		    p->name, peer);
		return -ENODEV;
	}
	if (!c->obj)
		r = xdp_stack ? 0 : hook_check(c, ifindex, &foreign);
	else if (!(r = port_maps(c, p, ifindex, true)) && !xdp_stack)
		r = hook_attach(
		    c, p, ifindex, port_entry_fd(c, p->name), -1, &foreign);
	if (r) {
		if (c->obj)
			port_maps(c, p, ifindex, false);
		if (foreign)
			*errv = busy_err(c, p, peer, foreign);
		else
			*errv = cub_err_val(r == -EBUSY || r == -EEXIST
						? CUB_E_BUSY
						: CUB_E_KERNEL,
			    "cube '%s' port '%s': attach to '%s' failed: %s",
			    c->name, p->name, peer, strerror(-r));
		return r;
	}
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	p->ifindex = ifindex;
	if (xdp_stack && c->obj)
		tcube_xdp_end(b, peer, c->obj->prog_fd);
	tcube_port_changed(b, c, p->name);
	if (!c->obj)
		return 0; /* attached when the worker loads the program */
	log_info("cube '%s' port '%s': attached to %s (ifindex %d, %s)",
	    c->name, p->name, peer, ifindex, hook_name(c->hook));
	return 0;
}

void
topo_detach(struct broker *b, struct cube *c, struct bport *p)
{
	if (p->cube_peer) {
		if (c->obj)
			peer_unwire(c, p);
		log_info("cube '%s' port '%s': unpeered from %s", c->name,
		    p->name, p->peer);
		p->cube_peer = false;
		p->peer[0] = '\0';
		tcube_port_changed(b, c, p->name);
		return;
	}
	if (!p->ifindex)
		return;
	if (c->obj) {
		/* The XDP dispatcher stays, its end passes to the stack. */
		if (c->hook != HOOK_TC && tcube_xdp_entry(b, p->peer) >= 0)
			tcube_xdp_end(b, p->peer, -1);
		else
			hook_detach(c, p);
		port_maps(c, p, p->ifindex, false);
	}
	log_info(
	    "cube '%s' port '%s': detached from %s", c->name, p->name, p->peer);
	p->peer[0] = '\0';
	p->ifindex = 0;
	tcube_port_changed(b, c, p->name);
}

void
topo_retire(struct broker *b, struct cube *c)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct bport *p, *q;
	struct cube *x;

	/* Ports of other cubes that enter c: their slot emptied, so their
	 * tail call fails and the packet is dropped. */
	for (x = b->cubes; x; x = x->next)
		for (q = x->ports; x != c && x->obj && q; q = q->next)
			if (q->cube_peer &&
			    topo_peer_split(q->peer, cname, pname) &&
			    !strcmp(cname, c->name))
				peer_slot(x, q, NULL, -1);
	for (p = c->ports; p; p = p->next) {
		if (p->cube_peer) {
			peer_unwire(c, p);
		} else if (p->ifindex) {
			if (c->hook != HOOK_TC &&
			    tcube_xdp_entry(b, p->peer) >= 0)
				tcube_xdp_end(b, p->peer, -1);
			else
				hook_detach(c, p);
			port_maps(c, p, p->ifindex, false);
			p->ifindex = 0;
		}
		tcube_port_changed(b, c, p->name);
	}
}

/* What topo_reattach_all() did to a port, by position in c->ports. */
enum reattach {
	RA_NONE,     /* nothing: no peer, netdev gone, in place, or failed */
	RA_REPLACED, /* an older program of the cube was replaced */
	RA_FRESH,    /* attached where none of the cube's programs was */
};

/*
 * Undo what topo_reattach_all() did: put old_prog_fd back where it was
 * replaced, or (a first load) detach the new program where it was
 * attached fresh.  An attachment that was already in place stays.
 */
static void
reattach_undo(struct cube *c, int old_prog_fd, const uint8_t *did)
{
	uint32_t foreign;
	struct bport *p;
	unsigned i;

	for (p = c->ports, i = 0; p && i < CUB_MAX_PORTS; p = p->next, i++) {
		if (did[i] == RA_NONE)
			continue;
		if (old_prog_fd < 0) {
			if (did[i] == RA_FRESH)
				hook_detach(c, p);
			continue;
		}
		if (c->hook == HOOK_TC) {
			/* A port with an ingress stack keeps the stack. */
			hook_attach(c, p, p->ifindex,
			    tcube_port_entry(c->svc->b, c, p->name) >= 0
				? tcube_port_entry(c->svc->b, c, p->name)
				: old_prog_fd,
			    -1, &foreign);
		} else {
			LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
			    .old_prog_fd = c->obj->prog_fd);

			bpf_xdp_attach(p->ifindex, old_prog_fd,
			    xdp_flags(c) | XDP_FLAGS_REPLACE, &opts);
		}
	}
}

/* Make p (which has a netdev) run c->obj's program; what it did in *did. */
static int
reattach_one(struct cube *c, struct bport *p, int old_prog_fd, uint8_t *did,
    uint32_t *foreign)
{
	__u32 cur = 0;
	int r;

	*foreign = 0;
	if ((r = port_maps(c, p, p->ifindex, true)))
		return r;
	/* The netdev's XDP dispatcher runs c: tcube_refresh() rewires it. */
	if (c->hook != HOOK_TC && tcube_xdp_entry(c->svc->b, p->peer) >= 0)
		return 0;
	if (old_prog_fd < 0) {
		if (c->hook == HOOK_TC)
			tc_slot(p->ifindex, &cur);
		else if (bpf_xdp_query_id(p->ifindex, (int)xdp_flags(c), &cur))
			cur = 0;
		if (cur == c->obj->prog_id ||
		    (cur && c->hook == HOOK_TC &&
			tcube_prog_ours(c->svc->b, c, cur)))
			return 0; /* adopted and still in place */
	}
	r = hook_attach(c, p, p->ifindex,
	    c->hook == HOOK_TC ? port_entry_fd(c, p->name) : c->obj->prog_fd,
	    old_prog_fd, foreign);
	if (r)
		return r;
	*did = old_prog_fd < 0 && (!cur || !prog_is_ours(c, cur)) ? RA_FRESH
								  : RA_REPLACED;
	return 0;
}

/*
 * Make every port that has a peer run c->obj's program: after a load
 * (replacing old_prog_fd in place) or an adoption.  A netdev that carries
 * a program that is not Cubicle's is refused, never replaced.  Goes
 * through every port (so that each one's ifindex is known, and a later
 * detach finds it); if any failed, undoes what it did and returns the
 * first failure.
 */
int
topo_reattach_all(struct broker *b, struct cube *c, int old_prog_fd)
{
	uint8_t did[CUB_MAX_PORTS] = {RA_NONE}, dummy;
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	uint32_t foreign;
	char what[128];
	struct bport *p;
	unsigned i;
	int r, first = 0;

	for (p = c->ports, i = 0; p; p = p->next, i++) {
		if (!p->peer[0])
			continue;
		if (topo_peer_split(p->peer, cname, pname)) {
			/* A peer cube not known yet (a broker start adopts
			 * one cube at a time) wires it when it loads or is
			 * adopted (peers_refresh()). */
			p->cube_peer = true;
			p->ifindex = 0;
			if ((r = peer_wire(b, c, p)) && r != -ENOENT)
				log_errno(r, "cube '%s' port '%s': peer '%s'",
				    c->name, p->name, p->peer);
			continue;
		}
		p->ifindex = (int)if_nametoindex(p->peer);
		if (!p->ifindex) {
			log_warn("cube '%s' port '%s': netdev '%s' is gone",
			    c->name, p->name, p->peer);
			continue;
		}
		r = reattach_one(c, p, old_prog_fd,
		    i < CUB_MAX_PORTS ? &did[i] : &dummy, &foreign);
		if (!r)
			continue;
		if (foreign)
			log_err("cube '%s' port '%s': netdev '%s' has %s that "
				"Cubicle did not attach: not replaced",
			    c->name, p->name, p->peer,
			    foreign_desc(c, foreign, what, sizeof(what)));
		else
			log_errno(r, "cube '%s' port '%s': attach to '%s'",
			    c->name, p->name, p->peer);
		if (!first)
			first = r;
	}
	if (first) {
		reattach_undo(c, old_prog_fd, did);
	} else {
		peers_refresh(b, c);
		tcube_refresh(b, c);
	}
	return first;
}

/* Is id stray_id, or a program that uses the map ports_map_id? */
static bool
prog_is_stray(uint32_t id, uint32_t stray_id, uint32_t ports_map_id)
{
	if (!id)
		return false;
	if (id == stray_id)
		return true;
	if (!ports_map_id)
		return false;
	return prog_uses_map(id, ports_map_id);
}

int
topo_detach_stray(uint32_t prog_id, uint32_t ports_map_id)
{
	static const uint32_t modes[] = {
	    XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE};
	struct if_nameindex *ifs, *i;
	uint32_t ids[3];
	unsigned m;
	int n = 0, fd;

	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		int ifindex = (int)i->if_index;
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tq, .handle = CUB_TC_HANDLE,
		    .priority = CUB_TC_PRIO);

		if (!bpf_xdp_query(ifindex, 0, &q)) {
			ids[0] = q.drv_prog_id;
			ids[1] = q.skb_prog_id;
			ids[2] = q.hw_prog_id;
			for (m = 0; m < 3; m++) {
				LIBBPF_OPTS(bpf_xdp_attach_opts, xo);

				if (!prog_is_stray(
					ids[m], prog_id, ports_map_id))
					continue;
				fd = bpf_prog_get_fd_by_id(ids[m]);
				if (fd < 0)
					continue;
				xo.old_prog_fd = fd;
				if (!bpf_xdp_detach(ifindex,
					modes[m] | XDP_FLAGS_REPLACE, &xo)) {
					log_info(
					    "netdev '%s': stray XDP program "
					    "id %u detached",
					    i->if_name, ids[m]);
					n++;
				}
				close(fd);
			}
		}
		if (!bpf_tc_query(&hook, &tq) &&
		    prog_is_stray(tq.prog_id, prog_id, ports_map_id)) {
			LIBBPF_OPTS(bpf_tc_opts, td, .handle = CUB_TC_HANDLE,
			    .priority = CUB_TC_PRIO);
			uint32_t id = tq.prog_id;

			if (!bpf_tc_detach(&hook, &td)) {
				log_info("netdev '%s': stray tc program id %u "
					 "detached",
				    i->if_name, id);
				n++;
			}
		}
	}
	if_freenameindex(ifs);
	return n;
}

void
topo_port_rewire(struct broker *b, struct cube *c, const char *port)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct bport *p = topo_port(c, port), *q;
	uint32_t foreign;
	struct cube *x;
	int r;

	if (!c->obj || !p)
		return;
	topo_flood_sync(c);
	if (p->ifindex && !p->cube_peer && c->hook == HOOK_TC &&
	    (r = hook_attach(c, p, p->ifindex, port_entry_fd(c, port), -1,
		 &foreign)))
		log_errno(r, "cube '%s' port '%s': its entry on '%s'", c->name,
		    port, p->peer);
	for (x = b->cubes; x; x = x->next)
		for (q = x->ports; x->obj && q; q = q->next)
			if (q->cube_peer &&
			    topo_peer_split(q->peer, cname, pname) &&
			    !strcmp(cname, c->name) && !strcmp(pname, port) &&
			    (r = peer_slot(x, q, c, port_entry_fd(c, port))))
				log_errno(r, "cube '%s' port '%s': peer '%s'",
				    x->name, q->name, q->peer);
}
