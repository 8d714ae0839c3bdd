// SPDX-License-Identifier: BSD-2-Clause
/*
 * Transparent cubes: attach, detach, their stacks, and `show topology`
 * (docs/architecture.md, "Transparent cubes").
 *
 * A transparent service (CUB_PLUGIN_F_TRANSPARENT) has cubes without
 * ports, attached to a netdev: `attach <cube> <netdev> [position=first|
 * last | before=<cube> | after=<cube>]`.  Each netdev with cubes attached
 * is an attach point (struct tpoint) with one broker object
 * (bpf/tstack.bpf.c): tstack_ingress and tstack_egress on the netdev's
 * tc clsact ingress and egress, tstack_next, tstack_progs (a cell per
 * cube) and tstack_links (the run order: ingress as listed, egress in
 * reverse; tp_link()).  Each cube of the stack has tstack_next in slot
 * CUB_EGRESS_OUT of its cub_egress, so cub_pass() goes on to the next
 * cube and to nowhere else.  Attach and detach are updates of a cell,
 * links and cub_egress, a cube keeping its cell while it stays: no
 * cube's program is reloaded, and a packet in flight skips no cube.  Pinned under <pin-root>/_tstack/<netdev>/
 * (a name no cube can have), and stored in the cubes' records, so a
 * broker restart adopts them and a reboot rebuilds them.
 *
 * An XDP cube (XDP_DRV or XDP_SKB) attaches to a netdev's XDP ingress:
 * the point's object is then bpf/tstack_xdp.bpf.c, the broker's
 * per-netdev XDP dispatcher, whose entry is the netdev's XDP program.
 * Its end runs the program of the standard XDP cube whose port peers
 * with the netdev (slot CUB_TSTACK_END, written here and by topology.c's
 * calls of tcube_xdp_end()), or passes the packet to the kernel's stack.
 * The netdev's XDP program changes only with XDP_FLAGS_REPLACE: the
 * port's cube's program to the dispatcher at the first attach, back at
 * the last detach.
 *
 * Locks: the state lock is held by every caller; b->lock is taken here
 * around what touches the cubes' objects (a worker-call thread may
 * replace one), or held by the caller where the prototype says so.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "egress.h"
#include "log.h"
#include "mapswap.h"
#include "tstack.skel.h"
#include "tstack_xdp.skel.h"

/* tc handle of the stack programs: next to the cubes' 0xc0be, prio 1. */
#define TSTACK_TC_HANDLE 0xc0bf
#define TSTACK_TC_PRIO 1
#define TSTACK_DIR "_tstack"
#define TCUBE_TICK_MS 20 /* tcube_tick()'s look while cells wait */
/* How long an attach waits for a grace period a detach started. */
#define TCUBE_GRACE_WAIT_MS 200
/* The host-wide stack: one attach point on every netdev no port owns,
 * after the netdev's own stack (docs/architecture.md, "Host-wide
 * cubes"). */
#define TP_HOST ":host"
#define HOST_TC_HANDLE 0xc0c0
#define HOST_TC_PRIO 2

/* A netdev the host-wide stack is on. */
struct hostdev {
	int ifindex;
	bool qdisc; /* the broker created its clsact qdisc */
};

struct tpoint {
	char target[CUB_PEER_MAX + 1]; /* netdev, or "cube:port" */
	/* On a cube port: its cube and port, by name (looked up each time),
	 * the port's index while wired, and the second half of that cube's
	 * egress program (END_EG) and the program id it was loaded for. */
	bool on_port;
	bool dropping; /* tp_drop() is taking it out */
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	int64_t port_index; /* -1 when not wired */
	int final_fd;
	uint32_t final_for;
	int ifindex;
	struct cube *stack[CUB_TSTACK_MAX]; /* ingress order */
	uint8_t cell[CUB_TSTACK_MAX];       /* stack[i]'s cell */
	unsigned n;
	/* What tp_link() last wrote: each cell's cube (NULL: none, or not
	 * known) and each link (0: not written, or not known). */
	struct cube *incell[CUB_TSTACK_MAX];
	uint32_t link[CUB_TSTACK_LINKS];
	/* A cell whose cube left: the grace it waits for before it is
	 * emptied and given again (0: none). */
	uint64_t cell_seq[CUB_TSTACK_MAX];
	int in_fd, eg_fd, next_fd, progs_fd, links_fd; /* -1 when none */
	uint32_t in_id, eg_id;
	enum hook hook; /* HOOK_TC, or the XDP mode of a netdev's dispatcher */
	bool qdisc; /* the broker created the clsact qdisc */
	/* The grace its emptied stack waits for before it goes (a netdev's:
	 * tcube_tick()); 0: none. */
	uint64_t drop_seq;
	/* The host-wide point (TP_HOST): the netdevs it is on, by ifindex. */
	bool host;
	struct hostdev *hd;
	unsigned hn, hcap;
	int qd_fd; /* pinned "qdiscs": the qdiscs the broker made (host) */
	struct tpoint *next;
};

static uint32_t
prog_id(int fd)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static uint32_t
prog_type(int fd)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return BPF_PROG_TYPE_UNSPEC;
	return info.type;
}

static bool
tp_xdp(const struct tpoint *tp)
{
	return tp->hook != HOOK_TC;
}

static uint32_t
xdp_mode_flag(enum hook h)
{
	return h == HOOK_XDP_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

/* The XDP mode in which program id runs on ifindex (default DRV). */
static enum hook
xdp_mode_of(int ifindex, uint32_t id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (ifindex && id && !bpf_xdp_query(ifindex, 0, &q) &&
	    q.skb_prog_id == id)
		return HOOK_XDP_SKB;
	return HOOK_XDP_DRV;
}

/*
 * The standard cube whose port peers with netdev tp runs on and whose
 * program the dispatcher's end runs: an XDP cube in tp's mode with its
 * program loaded and the port attached; NULL when none.
 */
static struct cube *
xdp_owner(struct broker *b, const struct tpoint *tp)
{
	struct bport *p = NULL;
	struct cube *c;

	if (!tp_xdp(tp) || tp->on_port)
		return NULL;
	c = topo_netdev_owner(b, tp->target, &p);
	if (!c || c->hook != tp->hook || !c->obj || !p || !p->ifindex ||
	    p->cube_peer)
		return NULL;
	return c;
}

/* The dispatcher's end: the port's cube's program, or none (XDP_PASS). */
static void
tp_xdp_end(struct tpoint *tp, int prog_fd)
{
	uint32_t slot = CUB_TSTACK_END;

	if (prog_fd >= 0
		? bpf_map_update_elem(tp->progs_fd, &slot, &prog_fd, 0)
		: bpf_map_delete_elem(tp->progs_fd, &slot) && errno != ENOENT)
		log_errno(-errno, "netdev '%s': the XDP dispatcher's end",
		    tp->target);
}

static int
tp_path(struct broker *b, char *buf, size_t len, const char *target,
    const char *leaf)
{
	int n;

	if (leaf)
		n = snprintf(buf, len, "%s/%s/%s/%s", b->o.pin_root,
		    TSTACK_DIR, target, leaf);
	else if (target)
		n = snprintf(
		    buf, len, "%s/%s/%s", b->o.pin_root, TSTACK_DIR, target);
	else
		n = snprintf(buf, len, "%s/%s", b->o.pin_root, TSTACK_DIR);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The pins; "final" (a cube port's second half of the egress) last. */
static const char *const tp_leaves[] = {
    "ingress", "egress", "next", "progs", "links", "final"};
#define TP_FDS 5 /* the stack object's: all leaves but "final" */

static void
tp_unpin(struct broker *b, const char *target)
{
	char path[PATH_MAX];
	unsigned i;

	for (i = 0; i < TP_FDS + 1; i++)
		if (!tp_path(b, path, sizeof(path), target, tp_leaves[i]))
			unlink(path);
	/* An older broker's stack end (slots then, not links); the host
	 * stack's qdiscs. */
	if (!tp_path(b, path, sizeof(path), target, "end"))
		unlink(path);
	if (!tp_path(b, path, sizeof(path), target, "qdiscs"))
		unlink(path);
	if (!tp_path(b, path, sizeof(path), target, NULL))
		rmdir(path);
	/* The last stack: _tstack too (fails while others are there). */
	if (!tp_path(b, path, sizeof(path), NULL, NULL))
		rmdir(path);
}

/* The stack object's fds of tp, in tp_leaves order. */
static void
tp_fds(struct tpoint *tp, int *fds[TP_FDS])
{
	fds[0] = &tp->in_fd;
	fds[1] = &tp->eg_fd;
	fds[2] = &tp->next_fd;
	fds[3] = &tp->progs_fd;
	fds[4] = &tp->links_fd;
}

/* Close the stack object's fds of tp (-1 after). */
static void
tp_close(struct tpoint *tp)
{
	int *fds[TP_FDS];
	unsigned i;

	tp_fds(tp, fds);
	for (i = 0; i < TP_FDS; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static struct tpoint *
tp_free(struct tpoint *tp)
{
	if (!tp)
		return NULL;
	tp_close(tp);
	if (tp->final_fd >= 0)
		close(tp->final_fd);
	if (tp->qd_fd > 0)
		close(tp->qd_fd);
	free(tp->hd);
	free(tp);
	return NULL;
}

static struct tpoint *
tp_find(struct broker *b, const char *target)
{
	struct tpoint *tp;

	for (tp = b->tpoints; tp; tp = tp->next)
		if (!strcmp(tp->target, target))
			return tp;
	return NULL;
}

bool
tcube_on_netdev(struct broker *b, const char *netdev)
{
	struct tpoint *tp = tp_find(b, netdev);

	return tp && tp->n; /* an emptied one waiting to go passes all */
}

/* The program id at a tc slot of one direction, 0 if none. */
static uint32_t
tc_id_at(int ifindex, bool egress, uint32_t handle, uint32_t prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = handle, .priority = prio);

	if (bpf_tc_query(&hook, &q))
		return 0;
	return q.prog_id ? q.prog_id : UINT32_MAX;
}

/* The program id at the stack's tc slot of one direction, 0 if none. */
static uint32_t
tc_slot_id(int ifindex, bool egress)
{
	return tc_id_at(ifindex, egress, TSTACK_TC_HANDLE, TSTACK_TC_PRIO);
}

/* Is program id a tc stack entry (tstack_ingress, tstack_egress) a
 * broker left (its pins gone, or pinned by a broker before cells)? */
static bool
stale_tstack(uint32_t id)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool stale;

	if (fd < 0)
		return false;
	stale = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		info.type == BPF_PROG_TYPE_SCHED_CLS &&
		(!strncmp(info.name, "tstack_ingress", sizeof(info.name) - 1) ||
		    !strncmp(info.name, "tstack_egress", sizeof(info.name) - 1));
	close(fd);
	return stale;
}

/* Is program id a dispatcher (tstack_xdp_ingress) left by a broker? */
static bool
stale_dispatcher(uint32_t id)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool stale;

	if (fd < 0)
		return false;
	stale = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		info.type == BPF_PROG_TYPE_XDP &&
		!strncmp(info.name, "tstack_xdp_ingress", sizeof(info.name) - 1);
	close(fd);
	return stale;
}

/*
 * Make the dispatcher tp's netdev's XDP program, replacing (with
 * XDP_FLAGS_REPLACE: no window) the program of the port's cube or a
 * dispatcher a broker left (pins gone), never anything else.
 */
static int
tp_hook_xdp(struct broker *b, struct tpoint *tp, const char **step)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = -1);
	uint32_t flags = xdp_mode_flag(tp->hook), cur, other;
	struct cube *owner = xdp_owner(b, tp);
	int r, fd = -1;

	*step = "query the netdev's XDP programs";
	if ((r = bpf_xdp_query(tp->ifindex, 0, &q)))
		return r;
	cur = tp->hook == HOOK_XDP_SKB ? q.skb_prog_id : q.drv_prog_id;
	other = tp->hook == HOOK_XDP_SKB ? q.drv_prog_id : q.skb_prog_id;
	if (cur == tp->in_id)
		return 0;
	*step = "attach the dispatcher to XDP";
	if (other || q.hw_prog_id)
		return -EEXIST;
	if (!cur)
		return bpf_xdp_attach(tp->ifindex, tp->in_fd,
		    flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (owner && cur == owner->obj->prog_id)
		fd = fcntl(owner->obj->prog_fd, F_DUPFD_CLOEXEC, 3);
	else if (stale_dispatcher(cur))
		fd = bpf_prog_get_fd_by_id(cur);
	else
		return -EEXIST; /* someone else's: refused, not replaced */
	if (fd < 0)
		return -errno;
	opts.old_prog_fd = fd;
	r = bpf_xdp_attach(tp->ifindex, tp->in_fd, flags | XDP_FLAGS_REPLACE,
	    &opts);
	close(fd);
	return r;
}

/*
 * Take the dispatcher off tp's netdev (if it is still there): the port's
 * cube's own program goes back in its place, or the slot is emptied.
 */
static void
tp_unhook_xdp(struct broker *b, struct tpoint *tp)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = tp->in_fd);
	uint32_t flags = xdp_mode_flag(tp->hook) | XDP_FLAGS_REPLACE;
	struct cube *owner = xdp_owner(b, tp);
	int r;

	if (!tp->ifindex || tp->in_fd < 0)
		return;
	if (owner)
		r = bpf_xdp_attach(
		    tp->ifindex, owner->obj->prog_fd, flags, &opts);
	else
		r = bpf_xdp_detach(tp->ifindex, flags, &opts);
	if (r && r != -EEXIST)
		log_errno(r, "netdev '%s': taking the XDP dispatcher off",
		    tp->target);
	else if (owner)
		log_info("netdev '%s': XDP program of cube '%s' back in place",
		    tp->target, owner->name);
}

/* Put tp's programs on its netdev where they are not (fresh or lost). */
static int
tp_hook(struct broker *b, struct tpoint *tp, const char **step)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tp->ifindex,
	    .attach_point = BPF_TC_INGRESS);
	uint32_t cur;
	int r, dir;

	if (tp_xdp(tp))
		return tp_hook_xdp(b, tp, step);

	*step = "create the clsact qdisc";
	r = bpf_tc_hook_create(&hook);
	if (r && r != -EEXIST)
		return r;
	if (!r)
		tp->qdisc = true;
	for (dir = 0; dir < 2; dir++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = TSTACK_TC_HANDLE,
		    .priority = TSTACK_TC_PRIO,
		    .prog_fd = dir ? tp->eg_fd : tp->in_fd);

		cur = tc_slot_id(tp->ifindex, dir);
		if (cur == (dir ? tp->eg_id : tp->in_id))
			continue;
		*step = dir ? "attach the stack to tc egress"
			    : "attach the stack to tc ingress";
		/* Anything else at our handle is someone else's: -EEXIST;
		 * but a stack an older broker left is replaced in place
		 * (no moment without one). */
		if (cur && stale_tstack(cur))
			o.flags = BPF_TC_F_REPLACE;
		hook.attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		if ((r = bpf_tc_attach(&hook, &o)))
			return r;
	}
	return 0;
}

static void host_unhook_all(struct broker *b, struct tpoint *tp);

/* Remove tp's programs from its netdev, and the qdisc if it was ours. */
static void
tp_unhook(struct broker *b, struct tpoint *tp)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tp->ifindex);
	int dir;

	if (tp->host) {
		host_unhook_all(b, tp);
		return;
	}
	if (!tp->ifindex)
		return;
	if (tp_xdp(tp)) {
		tp_unhook_xdp(b, tp);
		return;
	}
	for (dir = 0; dir < 2; dir++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = TSTACK_TC_HANDLE,
		    .priority = TSTACK_TC_PRIO);

		hook.attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		if (tc_slot_id(tp->ifindex, dir) == (dir ? tp->eg_id
							 : tp->in_id))
			bpf_tc_detach(&hook, &o);
	}
	if (tp->qdisc && !topo_tc_has_filters(tp->ifindex)) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	tp->qdisc = false;
}

/* Open the pinned object of target into tp; -ENOENT if not pinned. */
static int
tp_adopt(struct broker *b, struct tpoint *tp)
{
	char path[PATH_MAX];
	int *fds[TP_FDS];
	unsigned i;

	tp_fds(tp, fds);
	for (i = 0; i < TP_FDS; i++) {
		if (tp_path(b, path, sizeof(path), tp->target, tp_leaves[i]))
			return -ENAMETOOLONG;
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0 && !(i == 1 && errno == ENOENT && tp_xdp(tp)))
			return -errno;
		/* An XDP dispatcher has no egress program. */
		if (i == 0 && prog_type(tp->in_fd) == BPF_PROG_TYPE_XDP &&
		    !tp_xdp(tp))
			tp->hook = xdp_mode_of(tp->ifindex, prog_id(tp->in_fd));
	}
	tp->in_id = prog_id(tp->in_fd);
	tp->eg_id = prog_id(tp->eg_fd);
	if ((prog_type(tp->in_fd) == BPF_PROG_TYPE_XDP) != tp_xdp(tp))
		return -ENOENT; /* pinned for the other hook: rebuilt */
	/* The run order it holds: tcube_restore() keeps its cells. */
	for (i = 0; i < CUB_TSTACK_LINKS; i++)
		if (bpf_map_lookup_elem(tp->links_fd, &i, &tp->link[i]))
			return -ENOENT;
	return tp->in_id && (tp->eg_id || tp_xdp(tp)) ? 0 : -ENOENT;
}

/* Keep a copy of the stack object's fds src (-1: none) in tp, pinned. */
static int
tp_pin(struct broker *b, struct tpoint *tp, const int src[TP_FDS],
    const char **step)
{
	char path[PATH_MAX];
	int *fds[TP_FDS];
	unsigned i;
	int r = 0;

	tp_fds(tp, fds);
	for (i = 0; i < TP_FDS; i++) {
		if (src[i] < 0)
			continue;
		*fds[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
		if (*fds[i] < 0) {
			r = -errno;
			goto out;
		}
	}
	*step = "pin the stack programs";
	if ((r = tp_path(b, path, sizeof(path), NULL, NULL)) ||
	    (mkdir(path, 0700) && errno != EEXIST) ||
	    (r = tp_path(b, path, sizeof(path), tp->target, NULL)) ||
	    (mkdir(path, 0700) && errno != EEXIST)) {
		r = r ? r : -errno;
		goto out;
	}
	if (!tp_path(b, path, sizeof(path), tp->target, "end"))
		unlink(path); /* an older broker's */
	for (i = 0; i < TP_FDS; i++) {
		tp_path(b, path, sizeof(path), tp->target, tp_leaves[i]);
		unlink(path);
		if (*fds[i] >= 0 && bpf_obj_pin(*fds[i], path)) {
			r = -errno;
			goto out;
		}
	}
	tp->in_id = prog_id(tp->in_fd);
	tp->eg_id = prog_id(tp->eg_fd);
out:
	return r;
}

/* The XDP dispatcher's object (tstack_xdp.bpf.c): no egress program. */
static int
tp_load_xdp(struct broker *b, struct tpoint *tp, const char **step)
{
	struct tstack_xdp *skel = tstack_xdp__open();
	int src[TP_FDS], r;

	if (!skel)
		return -errno;
	if (!(r = tstack_xdp__load(skel))) {
		src[0] = bpf_program__fd(skel->progs.tstack_xdp_ingress);
		src[1] = -1;
		src[2] = bpf_program__fd(skel->progs.tstack_xdp_next);
		src[3] = bpf_map__fd(skel->maps.tstack_progs);
		src[4] = bpf_map__fd(skel->maps.tstack_links);
		r = tp_pin(b, tp, src, step);
	}
	tstack_xdp__destroy(skel);
	return r;
}

/* Load a fresh stack object for tp and pin it. */
static int
tp_load(struct broker *b, struct tpoint *tp, const char **step)
{
	struct tstack *skel;
	int src[TP_FDS];
	int r = 0;

	*step = "load the stack programs";
	if (tp_xdp(tp))
		return tp_load_xdp(b, tp, step);
	skel = tstack__open();
	if (!skel)
		return -errno;
	skel->rodata->tstack_end_drop = tp->on_port;
	if ((r = tstack__load(skel)))
		goto out;
	src[0] = bpf_program__fd(skel->progs.tstack_ingress);
	src[1] = bpf_program__fd(skel->progs.tstack_egress);
	src[2] = bpf_program__fd(skel->progs.tstack_next);
	src[3] = bpf_map__fd(skel->maps.tstack_progs);
	src[4] = bpf_map__fd(skel->maps.tstack_links);
	r = tp_pin(b, tp, src, step);
out:
	tstack__destroy(skel);
	return r;
}

/* The program that runs for c in a stack: its own; not loaded yet (a
 * start, before its worker's load) tstack_next, which steps over it;
 * retired (bpfobj.c), none: the slot is empty and the packet dropped. */
static int
slot_prog(struct tpoint *tp, struct cube *c)
{
	if (c && c->obj)
		return c->obj->prog_fd;
	return c && c->retired ? -1 : tp->next_fd;
}

/* Cube at run position pos of direction dir of a stack of n. */
static struct cube *
at(struct cube *const *stack, unsigned n, int dir, unsigned pos)
{
	if (pos >= n)
		return NULL;
	return stack[dir ? n - 1 - pos : pos];
}

/* Cube at run position pos of direction dir of a stack of n. */
static unsigned
at_index(unsigned n, int dir, unsigned pos)
{
	return dir ? n - 1 - pos : pos;
}

/* Write link key k = v unless it holds v already (force: write). */
static int
link_put(struct tpoint *tp, uint32_t k, uint32_t v, bool force)
{
	if (!force && tp->link[k] == v)
		return 0;
	if (bpf_map_update_elem(tp->links_fd, &k, &v, 0))
		return -errno;
	tp->link[k] = v;
	return 0;
}

/*
 * Make tp's object run tp->stack: each cube's program in its cell, then
 * each direction's links from its end back to its head, so that every
 * link written leads to cells whose own links are written already.  A
 * cube keeps its cell while it stays, so an attach writes the new cube's
 * cell and link and then the one link before it; a detach, the one link
 * that stepped to it (stack_remove() empties its cell a grace period
 * later).  A packet in flight meets each cube that stays once, in order,
 * and one that comes or goes once or not at all.  A cell whose cube is
 * retired (bpfobj.c) is emptied: its tail call fails and the packet is
 * dropped (tstack.bpf.h).  force: rewrite every cell and link (a
 * rebuild); cells no cube holds are left to the caller.
 */
static int
tp_link(struct tpoint *tp, bool force)
{
	uint32_t k, v, cell;
	unsigned i, j, n = tp->n;
	struct cube *c;
	int dir, fd, r = 0, e;

	for (i = 0; i < n; i++) {
		c = tp->stack[i];
		cell = tp->cell[i];
		if (!force && tp->incell[cell] == c)
			continue;
		fd = slot_prog(tp, c);
		e = fd < 0 ? bpf_map_delete_elem(tp->progs_fd, &cell) &&
				     errno != ENOENT
			   : bpf_map_update_elem(tp->progs_fd, &cell, &fd, 0);
		if (e && !r)
			r = -errno;
		tp->incell[cell] = e ? NULL : c;
	}
	/* An XDP dispatcher has ingress only. */
	for (dir = 0; dir < (tp_xdp(tp) ? 1 : 2); dir++) {
		for (j = n; j-- > 0;) {
			cell = tp->cell[at_index(n, dir, j)];
			k = (uint32_t)dir * CUB_TSTACK_MAX + cell;
			v = j + 1 < n ? tp->cell[at_index(n, dir, j + 1)] + 1u
				      : CUB_TSTACK_LINK_END;
			if ((e = link_put(tp, k, v, force)) && !r)
				r = e;
		}
		v = n ? tp->cell[at_index(n, dir, 0)] + 1u : CUB_TSTACK_LINK_END;
		if ((e = link_put(tp, CUB_TSTACK_HEAD + (uint32_t)dir, v, force)) &&
		    !r)
			r = e;
	}
	return r;
}

/* Has grace seq ended, or does it within ms (polled)? */
static bool
grace_within(uint64_t seq, int ms)
{
	struct timespec ts = {0, 1000000};
	int i;

	for (i = 0; !mapswap_grace_over(seq); i++) {
		if (i >= ms)
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

/* Empty a cell its cube left once its grace has ended. */
static void
cell_reap(struct tpoint *tp, uint32_t cell)
{
	int dir;

	bpf_map_delete_elem(tp->progs_fd, &cell);
	tp->incell[cell] = NULL;
	for (dir = 0; dir < 2; dir++)
		link_put(tp, (uint32_t)dir * CUB_TSTACK_MAX + cell, 0, true);
	tp->cell_seq[cell] = 0;
}

/*
 * A cell for a cube joining tp (tp->n < CUB_TSTACK_MAX): one no cube
 * holds or left; else the one left longest ago, once its grace ended
 * (waited for here, TCUBE_GRACE_WAIT_MS at most: CUB_TSTACK_MAX after a
 * run of detaches); CUB_TSTACK_MAX if it did not.
 */
static uint8_t
cell_free(struct tpoint *tp)
{
	bool used[CUB_TSTACK_MAX] = {false};
	unsigned i, best = CUB_TSTACK_MAX;

	for (i = 0; i < tp->n; i++)
		used[tp->cell[i]] = true;
	for (i = 0; i < CUB_TSTACK_MAX; i++) {
		if (used[i])
			continue;
		if (tp->cell_seq[i] && mapswap_grace_over(tp->cell_seq[i]))
			cell_reap(tp, i);
		if (!tp->cell_seq[i])
			return (uint8_t)i;
		if (best == CUB_TSTACK_MAX ||
		    tp->cell_seq[i] < tp->cell_seq[best])
			best = i;
	}
	if (best < CUB_TSTACK_MAX) {
		if (!grace_within(tp->cell_seq[best], TCUBE_GRACE_WAIT_MS))
			return CUB_TSTACK_MAX; /* a held CPU: refused */
		cell_reap(tp, best);
	}
	return (uint8_t)best;
}

/*
 * After a restart, the cells of tp->stack: each cube takes the pinned
 * cell that runs its (adopted) program, so the rebuild rewrites no cell
 * a packet in flight may run and, for a stack the store changed (a cube
 * gone, or a detach that crashed before its stack changed), unlinks
 * what left as a detach does; the others take free cells.  A cell that
 * holds a program no cube of the stack runs is emptied after a grace
 * period (tcube_tick()); true if there is one.
 */
static bool
cells_restore(struct tpoint *tp)
{
	uint32_t ids[CUB_TSTACK_MAX] = {0}, cell, id;
	bool taken[CUB_TSTACK_MAX] = {false}, left = false;
	struct cube *c;
	unsigned i, pass;

	for (cell = 0; cell < CUB_TSTACK_MAX; cell++)
		if (bpf_map_lookup_elem(tp->progs_fd, &cell, &id))
			ids[cell] = 0;
		else
			ids[cell] = id;
	for (i = 0; i < tp->n; i++) {
		c = tp->stack[i];
		id = c->obj ? c->obj->prog_id : 0;
		tp->cell[i] = CUB_TSTACK_MAX;
		for (cell = 0; id && cell < CUB_TSTACK_MAX; cell++)
			if (!taken[cell] && ids[cell] == id) {
				tp->cell[i] = (uint8_t)cell;
				taken[cell] = true;
				break;
			}
	}
	/* The others: empty cells first, then any cell no cube took. */
	for (i = 0; i < tp->n; i++)
		for (pass = 0; tp->cell[i] == CUB_TSTACK_MAX && pass < 2; pass++)
			for (cell = 0; cell < CUB_TSTACK_MAX; cell++)
				if (!taken[cell] && (pass || !ids[cell])) {
					tp->cell[i] = (uint8_t)cell;
					taken[cell] = true;
					ids[cell] = 0;
					break;
				}
	for (cell = 0; cell < CUB_TSTACK_MAX; cell++)
		if (!taken[cell] && ids[cell]) {
			tp->cell_seq[cell] = mapswap_grace_start();
			left = true;
		}
	return left;
}

/* c's way out: tstack_next of its point, or (not attached) the egress
 * program the broker loaded with it. */
static void
cube_out(struct cube *c, struct tpoint *tp)
{
	struct bmap *table = c->obj ? bpfobj_map(c->obj, "cub_egress") : NULL;
	uint32_t slot = CUB_EGRESS_OUT;
	int fd = tp ? tp->next_fd : c->obj ? c->obj->egress_fd : -1;

	if (!table)
		return;
	if (fd < 0)
		bpf_map_delete_elem(table->fd, &slot);
	else if (bpf_map_update_elem(table->fd, &slot, &fd, BPF_ANY))
		log_errno(-errno, "cube '%s': its way out of the stack",
		    c->name);
}

/* Write c's program into its cell of tp again (a new one, or none). */
static int
cell_rewrite(struct tpoint *tp, struct cube *c)
{
	unsigned i;

	for (i = 0; i < tp->n && tp->stack[i] != c; i++)
		;
	if (i == tp->n)
		return -ENOENT;
	tp->incell[tp->cell[i]] = NULL;
	return tp_link(tp, false);
}

static void tp_wire_port(struct broker *b, struct tpoint *tp);

void
tcube_refresh(struct broker *b, struct cube *c)
{
	struct tpoint *tp = c->tp, *x;

	/* The stacks on its ports: their ends are its program. */
	for (x = b->tpoints; x; x = x->next) {
		if (x->on_port && !strcmp(x->cname, c->name) && x->n)
			tp_wire_port(b, x);
		else if (!x->dropping && xdp_owner(b, x) == c)
			tp_xdp_end(x, c->obj->prog_fd);
	}
	if (!c->svc->transparent && !tp)
		return;
	if (!tp) {
		/* Attached per the store but not restored yet (a start):
		 * tcube_restore() wires it; until then its pinned way out
		 * stays. */
		if (!c->attached[0] && !c->tp_left)
			cube_out(c, NULL);
		return;
	}
	cube_out(c, tp);
	if (cell_rewrite(tp, c))
		log_warn("attach point '%s': cube '%s' not in its stack",
		    tp->target, c->name);
}

void
tcube_retire(struct broker *b, struct cube *c)
{
	struct tpoint *x;
	uint32_t slot;

	/* (An XDP dispatcher's end is topo_retire()'s: a netdev port.) */
	for (x = b->tpoints; x; x = x->next) {
		if (!x->on_port || strcmp(x->cname, c->name))
			continue;
		slot = CUB_TSTACK_END;
		bpf_map_delete_elem(x->progs_fd, &slot);
		slot = CUB_TSTACK_END + 1;
		bpf_map_delete_elem(x->progs_fd, &slot);
		x->final_for = 0; /* rebuilt for its next program */
	}
}

void
tcube_refresh_slot(struct broker *b, struct cube *c)
{
	struct tpoint *tp = c->tp;

	(void)b;
	if (tp && cell_rewrite(tp, c))
		log_warn("attach point '%s': rewriting its stack for cube "
			 "'%s' failed",
		    tp->target, c->name);
}

/* Make a new attach point on netdev target (not listed yet). */
static struct tpoint *
tp_new(struct broker *b, const char *target, int ifindex, enum hook hook,
    bool adopt, struct cub_val **errv)
{
	struct tpoint *tp = calloc(1, sizeof(*tp));
	const char *step = "adopt";
	uint32_t cur;
	int r = 0, dir;

	if (!tp) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return NULL;
	}
	snprintf(tp->target, sizeof(tp->target), "%s", target);
	tp->host = !strcmp(target, TP_HOST);
	tp->on_port = !tp->host && topo_peer_split(target, tp->cname, tp->pname);
	tp->port_index = -1;
	tp->final_fd = -1;
	tp->ifindex = ifindex;
	tp->hook = tp->on_port || tp->host ? HOOK_TC : hook;
	tp->in_fd = tp->eg_fd = tp->next_fd = tp->progs_fd = tp->links_fd = -1;
	if (!adopt || tp_adopt(b, tp)) {
		tp_close(tp);
		memset(tp->link, 0, sizeof(tp->link));
		tp->hook = tp->on_port || tp->host ? HOOK_TC : hook;
		/* Someone else's filter at our handle is refused, not
		 * replaced. */
		for (dir = 0; ifindex && !tp_xdp(tp) && dir < 2; dir++)
			if ((cur = tc_slot_id(ifindex, dir)) &&
			    !stale_tstack(cur)) {
				*errv = cub_err_val(CUB_E_BUSY,
				    "netdev '%s' already has a tc %s filter at "
				    "handle %#x priority %d that Cubicle did "
				    "not attach; remove it first",
				    target, dir ? "egress" : "ingress",
				    TSTACK_TC_HANDLE, TSTACK_TC_PRIO);
				tp_free(tp);
				return NULL;
			}
		r = tp_load(b, tp, &step);
	}
	/* A fresh dispatcher goes on the netdev once its stack is written
	 * (stack_insert()): the port's cube's program until then. */
	if (!r && ifindex && (adopt || !tp_xdp(tp)))
		r = tp_hook(b, tp, &step);
	if (r) {
		*errv = cub_err_val(r == -EEXIST ? CUB_E_BUSY : CUB_E_KERNEL,
		    "attach point '%s': %s: %s", target, step, strerror(-r));
		tp_unhook(b, tp);
		tp_unpin(b, target);
		return tp_free(tp);
	}
	tp->next = b->tpoints;
	b->tpoints = tp;
	return tp;
}

/*
 * b->lock held.  A stack on a cube port: its ends are the cube's program
 * (ingress) and the second half of its egress program (egress), the
 * port's egress slot of the cube's cub_peers enters the egress stack,
 * and what enters the cube by the port enters the ingress stack first.
 */
/*
 * After a restart: the pinned second half of the egress, if it was
 * loaded over the cube's current cub_ports (ports_fd): kept, not loaded
 * again.
 */
static bool
final_adopt(struct broker *b, struct tpoint *tp, int ports_fd, int peerkey_fd)
{
	struct bpf_prog_info pinfo = {0};
	struct bpf_map_info minfo = {0}, kinfo = {0};
	__u32 plen = sizeof(pinfo), mlen = sizeof(minfo), klen = sizeof(kinfo);
	uint32_t ids[16];
	char path[PATH_MAX];
	bool uses = false, keys = false;
	uint32_t i;
	int fd;

	if (tp->final_fd >= 0 ||
	    tp_path(b, path, sizeof(path), tp->target, "final") ||
	    (fd = bpf_obj_get(path)) < 0)
		return false;
	pinfo.nr_map_ids = 16;
	pinfo.map_ids = (__u64)(uintptr_t)ids;
	/* An older broker's (before cub_peerkey: review 20) is not it. */
	if (!bpf_obj_get_info_by_fd(ports_fd, &minfo, &mlen) &&
	    peerkey_fd >= 0 &&
	    !bpf_obj_get_info_by_fd(peerkey_fd, &kinfo, &klen) &&
	    !bpf_obj_get_info_by_fd(fd, &pinfo, &plen))
		for (i = 0; i < pinfo.nr_map_ids && i < 16; i++) {
			uses |= ids[i] == minfo.id;
			keys |= ids[i] == kinfo.id;
		}
	if (!uses || !keys) {
		close(fd);
		return false;
	}
	tp->final_fd = fd;
	return true;
}

static void
tp_wire_port(struct broker *b, struct tpoint *tp)
{
	struct cube *c = cube_find(b, tp->cname);
	struct bport *p = c ? topo_port(c, tp->pname) : NULL;
	struct bmap *ports, *scratch;
	char path[PATH_MAX];
	const char *why = "";
	uint32_t slot;
	int fd;

	if (!p || !c->obj || c->obj->peers_fd < 0)
		return;
	ports = bpfobj_map(c->obj, "cub_ports");
	if (tp->final_for != c->obj->prog_id && ports &&
	    final_adopt(b, tp, ports->fd, c->obj->peerkey_fd))
		tp->final_for = c->obj->prog_id;
	if (tp->final_for != c->obj->prog_id) {
		scratch = bpfobj_map(c->obj, "cub_scratch_map");
		fd = ports && scratch ? cubi_egress_load_after_stack(ports->fd,
					    scratch->fd, c->obj->peers_fd,
					    c->obj->peerkey_fd, &why)
				      : -ENOENT;
		if (fd < 0) {
			log_errno(fd, "attach point '%s': %s", tp->target, why);
			return;
		}
		if (tp->final_fd >= 0)
			close(tp->final_fd);
		tp->final_fd = fd;
		tp->final_for = c->obj->prog_id;
		if (!tp_path(b, path, sizeof(path), tp->target, "final")) {
			unlink(path);
			if (bpf_obj_pin(fd, path))
				log_errno(-errno, "attach point '%s': pin %s",
				    tp->target, path);
		}
	}
	slot = CUB_TSTACK_END;
	if (bpf_map_update_elem(tp->progs_fd, &slot, &c->obj->prog_fd, 0))
		log_errno(-errno, "attach point '%s': its ingress end", tp->target);
	slot = CUB_TSTACK_END + 1;
	if (bpf_map_update_elem(tp->progs_fd, &slot, &tp->final_fd, 0))
		log_errno(-errno, "attach point '%s': its egress end", tp->target);
	if (tp->port_index >= 0 && tp->port_index != p->index) {
		slot = CUB_PEERS_TSTACK + (uint32_t)tp->port_index;
		bpf_map_delete_elem(c->obj->peers_fd, &slot);
	}
	tp->port_index = p->index;
	slot = CUB_PEERS_TSTACK + p->index;
	if (bpf_map_update_elem(c->obj->peers_fd, &slot, &tp->eg_fd, 0))
		log_errno(-errno, "attach point '%s': its egress entry",
		    tp->target);
	topo_port_rewire(b, c, tp->pname);
}

/* Take tp out of the list, off its netdev and out of the pins. */
static void
tp_drop(struct broker *b, struct tpoint *tp)
{
	struct tpoint **pp;
	struct cube *c;
	uint32_t slot;

	/*
	 * Out of the cube port's paths first, while its entry is still
	 * known as the broker's (tcube_prog_ours()): the egress slot, then
	 * the entries, which run the cube's own program again.
	 */
	tp->dropping = true;
	if (tp->on_port && (c = cube_find(b, tp->cname))) {
		if (tp->port_index >= 0 && c->obj && c->obj->peers_fd >= 0) {
			slot = CUB_PEERS_TSTACK + (uint32_t)tp->port_index;
			bpf_map_delete_elem(c->obj->peers_fd, &slot);
		}
		topo_port_rewire(b, c, tp->pname);
	}
	for (pp = &b->tpoints; *pp; pp = &(*pp)->next)
		if (*pp == tp) {
			*pp = tp->next;
			break;
		}
	tp_unhook(b, tp);
	tp_unpin(b, tp->target);
	log_info("attach point '%s': last cube detached, stack removed",
	    tp->target);
	tp_free(tp);
}

/* Remove c from its stack (b->lock held); the point goes with its last. */
static void
stack_remove(struct broker *b, struct cube *c)
{
	struct tpoint *tp = c->tp;
	uint32_t cell = CUB_TSTACK_MAX;
	unsigned i, j;

	if (!tp)
		return;
	for (i = j = 0; i < tp->n; i++) {
		if (tp->stack[i] == c) {
			cell = tp->cell[i];
			continue;
		}
		tp->stack[j] = tp->stack[i];
		tp->cell[j++] = tp->cell[i];
	}
	tp->n = j;
	c->tp = NULL;
	c->attached[0] = '\0';
	if (!tp->n && tp->on_port) {
		tp_drop(b, tp);
		tp = NULL;
	} else if (tp_link(tp, false)) {
		/* (The last cube of a netdev's: its heads lead to its end,
		 * and the stack passes everything until tcube_tick() takes
		 * it off, a grace period later.) */
		log_warn("attach point '%s': rewriting its stack failed",
		    tp->target);
	}
	/*
	 * No link leads to c's cell now, but a packet may still be in c or
	 * on its way there: it runs c and goes on by c's way out (this
	 * point's tstack_next) and the link after its cell, to the cubes
	 * after it.  Once a grace period has ended no such packet is left
	 * (tc and XDP programs run under rcu_read_lock, tail calls
	 * included): then tcube_tick() empties the cell and gives c its
	 * own way out again; an attach of c waits for it (stack_insert()).
	 * The detach itself never waits: a cube that holds a packet for
	 * long cannot hold the broker.
	 */
	c->tp_left = mapswap_grace_start();
	if (tp && cell < CUB_TSTACK_MAX) {
		tp->cell_seq[cell] = c->tp_left;
		tp->incell[cell] = NULL;
	}
	/*
	 * A netdev's stack left empty goes once no packet can be in it:
	 * taking a tc filter off waits for a grace period in the kernel
	 * (and an XDP program's change too), which a cube holding a packet
	 * would make the broker wait for (review17-last-detach-wait).  It
	 * waits TCUBE_GRACE_WAIT_MS at most here, then tcube_tick() does.
	 */
	if (tp && !tp->n) {
		tp->drop_seq = c->tp_left;
		/* Usually within some ms: then now, as a caller expects. */
		if (grace_within(tp->drop_seq, TCUBE_GRACE_WAIT_MS))
			tp_drop(b, tp);
	}
	b->tp_pending = true;
}

int
tcube_tick(struct broker *b)
{
	struct tpoint *tp, *next;
	struct cube *c;
	uint32_t cell;
	bool pending = false;

	if (!b->tp_pending)
		return -1;
	if (pthread_mutex_trylock(&b->lock))
		return TCUBE_TICK_MS; /* a load holds it: look again soon */
	for (tp = b->tpoints; tp; tp = next) {
		next = tp->next;
		if (!tp->n && tp->drop_seq) {
			if (mapswap_grace_over(tp->drop_seq))
				tp_drop(b, tp);
			else
				pending = true;
			continue;
		}
		for (cell = 0; cell < CUB_TSTACK_MAX; cell++) {
			if (!tp->cell_seq[cell])
				continue;
			if (mapswap_grace_over(tp->cell_seq[cell]))
				cell_reap(tp, cell);
			else
				pending = true;
		}
	}
	for (c = b->cubes; c; c = c->next) {
		if (!c->tp_left)
			continue;
		if (!mapswap_grace_over(c->tp_left)) {
			pending = true;
			continue;
		}
		c->tp_left = 0;
		if (!c->tp)
			cube_out(c, NULL);
	}
	pthread_mutex_unlock(&b->lock);
	b->tp_pending = pending;
	return pending ? TCUBE_TICK_MS : -1;
}

void
tcube_gone(struct broker *b, struct cube *c)
{
	if (c->tp)
		log_info("cube '%s': deleted, detached from '%s'", c->name,
		    c->tp->target);
	stack_remove(b, c);
	tcube_port_gone(b, c, NULL);
}

int
tcube_port_gone(struct broker *b, struct cube *c, const char *port)
{
	struct tpoint *tp, *next;
	struct cube *t;
	int n = 0;

	for (tp = b->tpoints; tp; tp = next) {
		next = tp->next;
		if (!tp->on_port || strcmp(tp->cname, c->name) ||
		    (port && strcmp(tp->pname, port)))
			continue;
		while (tp->n) {
			t = tp->stack[tp->n - 1];
			log_info("cube '%s': detached from '%s' (%s gone)",
			    t->name, tp->target, port ? "port" : "cube");
			n++;
			/* Its worker is told it is not attached. */
			t->attach_due = true;
			t->svc->attach_due = true;
			sup_kick(t->svc);
			if (tp->n == 1) {
				stack_remove(b, t); /* drops tp */
				break;
			}
			stack_remove(b, t);
		}
	}
	return n;
}

int
tcube_port_entry(struct broker *b, const struct cube *c, const char *port)
{
	char target[CUB_PEER_MAX + 1];
	struct tpoint *tp;

	snprintf(target, sizeof(target), "%s:%s", c->name, port);
	tp = tp_find(b, target);
	return tp && !tp->dropping ? tp->in_fd : -1;
}

bool
tcube_prog_ours(struct broker *b, const struct cube *c, uint32_t id)
{
	struct tpoint *tp;

	struct bport *p;

	for (tp = b->tpoints; tp; tp = tp->next) {
		if (tp->on_port && id && tp->in_id == id &&
		    !strcmp(tp->cname, c->name))
			return true;
		for (p = c->ports; tp_xdp(tp) && id && tp->in_id == id && p;
		     p = p->next)
			if (!p->cube_peer && !strcmp(p->peer, tp->target))
				return true;
	}
	return false;
}

int
tcube_xdp_entry(struct broker *b, const char *netdev)
{
	struct tpoint *tp = tp_find(b, netdev);

	return tp && tp_xdp(tp) && !tp->dropping ? tp->in_fd : -1;
}

void
tcube_xdp_end(struct broker *b, const char *netdev, int prog_fd)
{
	struct tpoint *tp = tp_find(b, netdev);

	if (tp && tp_xdp(tp) && !tp->dropping)
		tp_xdp_end(tp, prog_fd);
}

int
tcube_port_check(struct broker *b, const struct cube *c, const char *port,
    const char *netdev, struct cub_val **errv)
{
	struct tpoint *tp = tp_find(b, netdev);

	if (!tp)
		return 0;
	if (!tp_xdp(tp)) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s' port '%s': netdev '%s' has transparent cubes "
		    "attached (cubicle show topology); detach them first",
		    c->name, port, netdev);
		return -EBUSY;
	}
	if (c->hook == HOOK_TC) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' port '%s': cube '%s' is TC and the stack on "
		    "'%s' is XDP (%s): incompatible hooks; detach the "
		    "transparent cubes first",
		    c->name, port, c->name, netdev, hook_name(tp->hook));
		return -EINVAL;
	}
	if (c->hook != tp->hook) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' port '%s': cube '%s' is %s but the XDP stack on "
		    "'%s' runs in %s mode: one XDP mode per netdev",
		    c->name, port, c->name, hook_name(c->hook), netdev,
		    hook_name(tp->hook));
		return -EINVAL;
	}
	/* Its end will run c: the stack joins the chains through c. */
	if (tp->n && !topo_netdev_owner(b, netdev, NULL))
		return graph_budget_held(b, 2 * tp->n + 2, netdev, errv);
	return 0;
}

unsigned
tcube_budget(struct broker *b)
{
	struct tpoint *tp;
	unsigned n = 0;

	struct bport *p;
	struct cube *c;

	/*
	 * An XDP dispatcher that ends in the cube whose port peers with
	 * its netdev: the same cost.  One with no such port ends in
	 * XDP_PASS, on no chain (2n tail calls: 16 fit), so a cube on
	 * every interface costs the chains nothing; peering a port with
	 * its netdev is checked then (tcube_port_check()).
	 */
	for (tp = b->tpoints; tp; tp = tp->next)
		if (tp->n && (tp->on_port ||
				 (tp_xdp(tp) &&
				     (c = topo_netdev_owner(b, tp->target, &p)) &&
				     c->hook != HOOK_TC)))
			n += 2 * tp->n + 2;
	return n;
}

/* The word at i, or NULL. */
static const char *
wd(const struct cub_val *words, uint32_t i)
{
	return words && i < words->arr.len ? cub_val__as_str(words->arr.items[i])
					   : NULL;
}

/* position=..., before=..., after=...: the insert index in the stack. */
static int
position(struct tpoint *tp, const char *target, const struct cub_val *args,
    unsigned *at_pos, struct cub_val **errv)
{
	const char *key = NULL, *val = NULL;
	unsigned i, n = tp ? tp->n : 0;

	for (i = 0; args && args->kind == CUB_V_MAP && i < args->map.len;
	     i++) {
		const char *k = args->map.items[i].key;

		if (strcmp(k, "position") && strcmp(k, "before") &&
		    strcmp(k, "after")) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "attach: unknown argument '%s' (use position=first|"
			    "last, before=<cube> or after=<cube>)",
			    k);
			return -EINVAL;
		}
		if (key) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "attach: '%s' and '%s' both given; give one of "
			    "position, before or after",
			    key, k);
			return -EINVAL;
		}
		key = k;
		val = cub_val__as_str(args->map.items[i].val);
		if (!val || !*val) {
			*errv = cub_err_val(CUB_E_TYPE,
			    "attach: '%s' needs a value", k);
			return -EINVAL;
		}
	}
	*at_pos = n;
	if (!key || (!strcmp(key, "position") && !strcasecmp(val, "last")))
		return 0;
	if (!strcmp(key, "position")) {
		if (!strcasecmp(val, "first")) {
			*at_pos = 0;
			return 0;
		}
		*errv = cub_err_val(CUB_E_INVAL,
		    "attach: position '%s' is not supported: use first or "
		    "last, or before=<cube> or after=<cube>%s",
		    val,
		    !strcasecmp(val, "auto") ? " (Cubicle has no automatic "
					       "ordering)"
					     : "");
		return -EINVAL;
	}
	for (i = 0; i < n && strcmp(tp->stack[i]->name, val); i++)
		;
	if (i == n) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "attach: %s=%s: no cube '%s' is attached to '%s'", key, val,
		    val, target);
		return -ENOENT;
	}
	*at_pos = key[0] == 'a' ? i + 1 : i;
	return 0;
}

/* A fresh dispatcher, its stack written: the netdev's XDP program now. */
static int
tp_xdp_start(struct broker *b, struct tpoint *tp, struct cub_val **errv)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct cube *owner = xdp_owner(b, tp);
	const char *step = "";
	uint32_t id;
	int r;

	tp_xdp_end(tp, owner ? owner->obj->prog_fd : -1);
	if (!(r = tp_hook(b, tp, &step)))
		return 0;
	if (r == -EEXIST && !bpf_xdp_query(tp->ifindex, 0, &q)) {
		id = q.drv_prog_id ? q.drv_prog_id
		     : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
		*errv = cub_err_val(CUB_E_BUSY,
		    "netdev '%s' already has an XDP program (id %u%s) that "
		    "Cubicle did not attach; remove it first",
		    tp->target, id,
		    q.drv_prog_id && tp->hook == HOOK_XDP_SKB ? ", XDP_DRV"
		    : q.skb_prog_id && tp->hook == HOOK_XDP_DRV ? ", XDP_SKB"
								: "");
	} else {
		*errv = cub_err_val(CUB_E_KERNEL, "attach point '%s': %s: %s",
		    tp->target, step, strerror(-r));
	}
	tp->ifindex = 0; /* never hooked: nothing to take off */
	return r;
}

static void host_sync(struct broker *b, struct tpoint *tp);

/* Insert c at pos of the stack of target (created if need be). */
static int
stack_insert(struct broker *b, struct cube *c, const char *target,
    int ifindex, unsigned pos, struct cub_val **errv)
{
	struct tpoint *tp = tp_find(b, target);
	bool fresh = !tp;
	uint8_t cell = 0;
	unsigned n;
	int r;

	/* Its way out changes below: not while packets of a stack it left
	 * may still be inside it (bounded: a held CPU holds every grace
	 * period of the host, and the broker must not wait for it). */
	/* An emptied stack waiting to go: taken again as it is, or, for
	 * another hook, now. */
	if (tp && !tp->n && tp->hook != (tp->on_port || tp->host ? HOOK_TC
								 : c->hook)) {
		tp_drop(b, tp);
		tp = NULL;
		fresh = true;
	}
	if (tp)
		tp->drop_seq = 0;
	if (c->tp_left && !grace_within(c->tp_left, TCUBE_GRACE_WAIT_MS)) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s' left a stack and packets may still be inside "
		    "it (no RCU grace period ended within %d ms: a CPU is "
		    "held); try again",
		    c->name, TCUBE_GRACE_WAIT_MS);
		return -EBUSY;
	}
	c->tp_left = 0;
	if (tp && (cell = cell_free(tp)) >= CUB_TSTACK_MAX) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "attach: every free cell of '%s' still waits for the "
		    "packets of a cube that left it (no RCU grace period "
		    "ended within %d ms: a CPU is held); try again",
		    target, TCUBE_GRACE_WAIT_MS);
		return -EBUSY;
	}
	if (!tp && !(tp = tp_new(b, target, ifindex, c->hook, false, errv)))
		return -EIO;
	if (fresh)
		cell = 0;
	n = tp->n;
	memmove(&tp->stack[pos + 1], &tp->stack[pos],
	    (n - pos) * sizeof(tp->stack[0]));
	memmove(&tp->cell[pos + 1], &tp->cell[pos],
	    (n - pos) * sizeof(tp->cell[0]));
	tp->stack[pos] = c;
	tp->cell[pos] = cell;
	tp->incell[cell] = NULL;
	tp->n = n + 1;
	c->tp = tp;
	snprintf(c->attached, sizeof(c->attached), "%s", target);
	/* Its way out first: once in the stack, it must lead on. */
	cube_out(c, tp);
	if ((r = tp_link(tp, fresh))) {
		*errv = cub_err_val(CUB_E_KERNEL,
		    "cube '%s': attach to '%s': writing the stack failed: %s",
		    c->name, target, strerror(-r));
		stack_remove(b, c);
		return r;
	}
	if (fresh && tp->on_port)
		tp_wire_port(b, tp);
	if (fresh && tp->host)
		host_sync(b, tp);
	if (fresh && tp_xdp(tp) && (r = tp_xdp_start(b, tp, errv))) {
		stack_remove(b, c);
		return r;
	}
	return 0;
}

/*
 * Host-wide cubes (CUB_PLUGIN_F_HOSTWIDE).  Their stack is one attach
 * point, TP_HOST (a spelling no netdev or cube port has), one object
 * pinned at _tstack/:host/, whose two entry programs are attached to
 * every netdev of the namespace that no cube port owns, at their own tc
 * handle and priority (after a netdev's own stack, whose end lets the
 * packet go on to the next filter: TC_ACT_UNSPEC).  Each netdev is two
 * filters of the same programs: nothing is loaded per netdev.  The
 * netdevs follow netmon.c's events (tcube_host_netdev()) and the ports'
 * (tcube_host_release(), tcube_host_claim()); host_sync() walks them
 * all (the first cube, a start).
 */
static int
hd_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = ((const struct hostdev *)b)->ifindex;

	return x < y ? -1 : x > y;
}

static struct hostdev *
hd_find(struct tpoint *tp, int ifindex)
{
	return tp->hn ? bsearch(&ifindex, tp->hd, tp->hn, sizeof(*tp->hd),
			    hd_cmp)
		      : NULL;
}

static struct hostdev *
hd_add(struct tpoint *tp, int ifindex)
{
	struct hostdev *n;
	unsigned i;

	if ((n = hd_find(tp, ifindex)))
		return n;
	if (tp->hn == tp->hcap) {
		n = realloc(tp->hd, (tp->hcap ? 2 * tp->hcap : 64) * sizeof(*n));
		if (!n)
			return NULL;
		tp->hd = n;
		tp->hcap = tp->hcap ? 2 * tp->hcap : 64;
	}
	for (i = tp->hn; i > 0 && tp->hd[i - 1].ifindex > ifindex; i--)
		;
	memmove(&tp->hd[i + 1], &tp->hd[i], (tp->hn - i) * sizeof(*tp->hd));
	tp->hd[i] = (struct hostdev){.ifindex = ifindex};
	tp->hn++;
	return &tp->hd[i];
}

static void
hd_del(struct tpoint *tp, int ifindex)
{
	struct hostdev *d = hd_find(tp, ifindex);
	size_t i;

	if (!d)
		return;
	i = (size_t)(d - tp->hd);
	memmove(d, d + 1, (tp->hn - i - 1) * sizeof(*d));
	tp->hn--;
}

/*
 * Does a cube port (other than skip) own netdev ifindex: is it attached
 * to it?  By ifindex, as ports follow their netdev (a rename keeps it a
 * port's; a netdev made again under a port's peer name is not the
 * port's until the port takes it).
 */
static bool
host_owned(struct broker *b, int ifindex, const struct bport *skip)
{
	struct bport *p;
	struct cube *c;

	for (c = b->cubes; c; c = c->next)
		for (p = c->ports; p; p = p->next)
			if (p != skip && !p->cube_peer && p->ifindex == ifindex)
				return true;
	return false;
}

static struct tpoint *
host_tp(struct broker *b)
{
	struct tpoint *tp = tp_find(b, TP_HOST);

	return tp && !tp->dropping && tp->in_fd >= 0 ? tp : NULL;
}

/*
 * The clsact qdiscs the broker made for the host stack, by ifindex: a
 * map pinned next to it ("qdiscs"), so that a broker after a restart
 * removes them as the one that made them would (a netdev's own stack
 * keeps its flag in its cubes' records).  0 when there is none.
 */
static int
host_qdiscs(struct broker *b, struct tpoint *tp)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	char path[PATH_MAX];
	int fd;

	if (tp->qd_fd > 0)
		return tp->qd_fd;
	if (tp_path(b, path, sizeof(path), tp->target, "qdiscs"))
		return 0;
	if ((fd = bpf_obj_get(path)) < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cub_host_qdiscs", 4, 1,
		    65536, &o);
		if (fd < 0 || bpf_obj_pin(fd, path)) {
			log_errno(-errno, "host-wide cubes: pin %s", path);
			if (fd >= 0)
				close(fd);
			return 0;
		}
	}
	return tp->qd_fd = fd;
}

/* Put the host stack's programs on netdev ifindex (0, or -errno). */
static int
host_hook_(struct broker *b, struct tpoint *tp, int ifindex, const char *name)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	    .attach_point = BPF_TC_INGRESS);
	struct hostdev *d;
	uint32_t cur;
	bool made;
	int r, dir;

	(void)b;
	r = bpf_tc_hook_create(&hook);
	if (r && r != -EEXIST)
		goto fail;
	made = !r;
	for (dir = 0; dir < 2; dir++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = HOST_TC_HANDLE,
		    .priority = HOST_TC_PRIO,
		    .prog_fd = dir ? tp->eg_fd : tp->in_fd);

		cur = tc_id_at(ifindex, dir, HOST_TC_HANDLE, HOST_TC_PRIO);
		if (cur == (dir ? tp->eg_id : tp->in_id))
			continue;
		if (cur && stale_tstack(cur)) {
			o.flags = BPF_TC_F_REPLACE; /* a lost broker's */
		} else if (cur) {
			log_warn("netdev '%s': a tc %s filter at handle %#x "
				 "priority %d that Cubicle did not attach "
				 "(program id %u): the host-wide cubes are not "
				 "on it",
			    name, dir ? "egress" : "ingress", HOST_TC_HANDLE,
			    HOST_TC_PRIO, cur);
			r = -EEXIST;
			goto undo;
		}
		hook.attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		if ((r = bpf_tc_attach(&hook, &o)))
			goto undo;
	}
	if (!(d = hd_add(tp, ifindex))) {
		r = -ENOMEM;
		goto undo;
	}
	d->qdisc |= made;
	if (made && host_qdiscs(b, tp) > 0)
		bpf_map_update_elem(tp->qd_fd, &ifindex, &made, BPF_ANY);
	return 0;
undo:
	for (dir = 0; dir < 2; dir++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = HOST_TC_HANDLE,
		    .priority = HOST_TC_PRIO);

		hook.attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		if (tc_id_at(ifindex, dir, HOST_TC_HANDLE, HOST_TC_PRIO) ==
		    (dir ? tp->eg_id : tp->in_id))
			bpf_tc_detach(&hook, &o);
	}
	if (made && !topo_tc_has_filters(ifindex)) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
fail:
	if (r != -EEXIST && r != -ENODEV)
		log_errno(r, "netdev '%s': putting the host-wide cubes on it",
		    name);
	return r;
}

/* Take the host stack's programs off ifindex (only ours), and the qdisc
 * if the broker made it and nothing else is on it. */
static void
host_unhook_(struct tpoint *tp, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex);
	struct hostdev *d = hd_find(tp, ifindex);
	uint8_t made = 0;
	int dir;

	/* Made by this broker, or by the one before it (the map). */
	if (tp->qd_fd > 0 &&
	    !bpf_map_lookup_elem(tp->qd_fd, &ifindex, &made) && made && d)
		d->qdisc = true;

	for (dir = 0; dir < 2; dir++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = HOST_TC_HANDLE,
		    .priority = HOST_TC_PRIO);

		hook.attach_point = dir ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		if (tc_id_at(ifindex, dir, HOST_TC_HANDLE, HOST_TC_PRIO) ==
		    (dir ? tp->eg_id : tp->in_id))
			bpf_tc_detach(&hook, &o);
	}
	if ((d ? d->qdisc : made) && !topo_tc_has_filters(ifindex)) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	if (tp->qd_fd > 0)
		bpf_map_delete_elem(tp->qd_fd, &ifindex);
	hd_del(tp, ifindex);
}

/* The two above, with libbpf's messages on the kernel's expected
 * refusals (no filter, a qdisc there already) as debug lines. */
static int
host_hook(struct broker *b, struct tpoint *tp, int ifindex, const char *name)
{
	bool was = broker_libbpf_hush(true);
	int r = host_hook_(b, tp, ifindex, name);

	broker_libbpf_hush(was);
	return r;
}

static void
host_unhook(struct tpoint *tp, int ifindex)
{
	bool was = broker_libbpf_hush(true);

	host_unhook_(tp, ifindex);
	broker_libbpf_hush(was);
}

static void
host_unhook_all(struct broker *b, struct tpoint *tp)
{
	struct if_nameindex *ni, *x;

	(void)b;
	while (tp->hn)
		host_unhook(tp, tp->hd[tp->hn - 1].ifindex);
	/* Adopted from the pins and not synced (a stray): any netdev
	 * whose filters run its programs. */
	if ((ni = if_nameindex())) {
		for (x = ni; x->if_index; x++)
			host_unhook(tp, (int)x->if_index);
		if_freenameindex(ni);
	}
}

static int
int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* Make the host stack be on exactly the netdevs no port owns. */
static void
host_sync(struct broker *b, struct tpoint *tp)
{
	struct if_nameindex *ni = if_nameindex(), *x;
	unsigned n = 0, i, on = 0;
	int *want;

	if (!ni) {
		log_errno(-errno, "host-wide cubes: listing the netdevs");
		return;
	}
	host_qdiscs(b, tp);
	for (x = ni; x->if_index; x++)
		n++;
	if (!(want = calloc(n + 1, sizeof(*want)))) {
		if_freenameindex(ni);
		return;
	}
	for (n = 0, x = ni; x->if_index; x++) {
		if (host_owned(b, (int)x->if_index, NULL)) {
			/* A port's now (a rename while the broker was down):
			 * the adopted programs come off it. */
			host_unhook(tp, (int)x->if_index);
			continue;
		}
		want[n++] = (int)x->if_index;
		if (hd_find(tp, (int)x->if_index) ||
		    !host_hook(b, tp, (int)x->if_index, x->if_name))
			on++;
	}
	qsort(want, n, sizeof(*want), int_cmp);
	for (i = tp->hn; i-- > 0;)
		if (!bsearch(&tp->hd[i].ifindex, want, n, sizeof(*want),
			int_cmp))
			host_unhook(tp, tp->hd[i].ifindex);
	log_info("host-wide cubes: on %u of %u netdevs (%u owned by cube "
		 "ports)",
	    on, (unsigned)(x - ni), (unsigned)(x - ni) - n);
	free(want);
	if_freenameindex(ni);
}

void
tcube_host_netdev(struct broker *b, uint32_t kind, int ifindex,
    const char *name)
{
	struct tpoint *tp = host_tp(b);

	if (!tp)
		return;
	if (kind == CUB_NETDEV_REMOVED) {
		hd_del(tp, ifindex); /* its filters went with it */
		return;
	}
	if (kind != CUB_NETDEV_ADDED && kind != CUB_NETDEV_RENAMED)
		return;
	if (host_owned(b, ifindex, NULL)) {
		if (hd_find(tp, ifindex))
			host_unhook(tp, ifindex);
	} else if (!hd_find(tp, ifindex)) {
		host_hook(b, tp, ifindex, name);
	}
}

void
tcube_host_release(struct broker *b, int ifindex)
{
	struct tpoint *tp = host_tp(b);

	if (tp && ifindex > 0 && hd_find(tp, ifindex))
		host_unhook(tp, ifindex);
}

void
tcube_host_claim(
    struct broker *b, int ifindex, const char *name, const struct bport *p)
{
	struct tpoint *tp = host_tp(b);

	if (tp && ifindex > 0 && !hd_find(tp, ifindex) &&
	    !host_owned(b, ifindex, p))
		host_hook(b, tp, ifindex, name);
}

int
tcube_host_join(struct broker *b, struct cube *c, struct cub_val **errv)
{
	struct tpoint *tp = tp_find(b, TP_HOST);
	int r;

	if (c->hook != HOOK_TC) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' is %s: host-wide cubes are TC for now "
		    "(create it with type=TC)",
		    c->name, hook_name(c->hook));
		return -EOPNOTSUPP;
	}
	if (tp && tp->n >= CUB_TSTACK_MAX) {
		*errv = cub_err_val(CUB_E_LIMIT,
		    "the host-wide stack has %d cubes, the most that fit the "
		    "kernel's %d tail calls (two per cube)",
		    CUB_TSTACK_MAX, 33);
		return -ENOSPC;
	}
	pthread_mutex_lock(&b->lock);
	r = stack_insert(b, c, TP_HOST, 0, tp ? tp->n : 0, errv);
	pthread_mutex_unlock(&b->lock);
	if (!r)
		log_info("cube '%s': on every netdev no cube port owns "
			 "(host-wide, position %u of %u)",
		    c->name, c->tp->n, c->tp->n);
	return r;
}

/* Hook words for a message: "TC", or "XDP (XDP_DRV)". */
static const char *
hook_kind(enum hook h)
{
	return h == HOOK_TC ? "TC" : "XDP";
}

/*
 * May transparent cube c attach to netdev target?  A TC cube: not if a
 * cube port peers with it (one tc program per direction: attach to the
 * port) or an XDP stack is there.  An XDP cube: the netdev's XDP
 * dispatcher runs in one mode, the one of the cubes already in its stack
 * and of the standard cube whose port peers with the netdev.
 */
static int
netdev_hooks_ok(struct broker *b, struct cube *c, const char *target,
    struct cub_val **errv)
{
	struct tpoint *tp = tp_find(b, target);
	struct bport *p = NULL;
	struct cube *c2 = topo_netdev_owner(b, target, &p);

	if (tp && !tp->n)
		tp = NULL; /* emptied, waiting to go: stack_insert() decides */
	if (tp && (tp->hook == HOOK_TC) != (c->hook == HOOK_TC)) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' (%s) and the %s stack on '%s' (%s) have "
		    "incompatible hooks: a TC and an XDP cube cannot share "
		    "an attach point",
		    c->name, hook_name(c->hook), hook_kind(tp->hook), target,
		    tp->n ? tp->stack[0]->name : "?");
		return -EINVAL;
	}
	if (tp && tp->hook != c->hook) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' is %s but the XDP stack on '%s' runs in %s "
		    "mode: one XDP mode per netdev (create it with type=%s)",
		    c->name, hook_name(c->hook), target, hook_name(tp->hook),
		    hook_name(tp->hook));
		return -EINVAL;
	}
	if (c2 && c->hook == HOOK_TC) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "attach: netdev '%s' is the peer of cube '%s' port '%s'; "
		    "attach to the port (%s:%s) instead",
		    target, c2->name, p->name, c2->name, p->name);
		return -EBUSY;
	}
	if (c2 && c2->hook == HOOK_TC) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' (%s) and cube '%s' (%s), whose port '%s' peers "
		    "with '%s', have incompatible hooks: a TC and an XDP cube "
		    "cannot share an attach point",
		    c->name, hook_name(c->hook), c2->name, hook_name(c2->hook),
		    p->name, target);
		return -EINVAL;
	}
	if (c2 && c2->hook != c->hook) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' is %s but cube '%s', whose port '%s' peers with "
		    "'%s', is %s: the XDP dispatcher runs in one mode (create "
		    "it with type=%s)",
		    c->name, hook_name(c->hook), c2->name, p->name, target,
		    hook_name(c2->hook), hook_name(c2->hook));
		return -EINVAL;
	}
	return 0;
}

static int
do_attach(struct broker *b, struct cube *c, const char *target,
    const struct cub_val *args, struct cub_val **errv)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct cube *c2;
	unsigned pos;
	int ifindex, r;

	if (!c->svc->transparent) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' is a %s cube, not a transparent one: only "
		    "transparent cubes can be attached (connect its ports "
		    "instead)",
		    c->name, c->svc->name);
		return -EINVAL;
	}
	if (c->svc->hostwide) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' of host-wide service '%s' is on every netdev "
		    "no cube port owns: it is not attached by hand",
		    c->name, c->svc->name);
		return -EINVAL;
	}
	if (c->tp) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s' is already attached to '%s': a transparent "
		    "cube attaches to one point only; detach it first",
		    c->name, c->tp->target);
		return -EBUSY;
	}
	if (topo_peer_split(target, cname, pname)) {
		c2 = cube_find(b, cname);
		if (!c2 || !api_sees(c2) || !topo_port(c2, pname)) {
			*errv = cub_err_val(CUB_E_NOTFOUND,
			    "attach: no cube '%s' with a port '%s'", cname,
			    pname);
			return -ENOENT;
		}
		if ((c->hook == HOOK_TC) != (c2->hook == HOOK_TC)) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "cube '%s' (%s) and cube '%s' (%s) have "
			    "incompatible hooks: a TC and an XDP cube cannot "
			    "share an attach point",
			    c->name, hook_name(c->hook), c2->name,
			    hook_name(c2->hook));
			return -EINVAL;
		}
		if (c->hook != HOOK_TC) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "cube '%s' is %s: an XDP transparent cube "
			    "attaches to a netdev, not to a cube port, for "
			    "now (attach it to the port's netdev)",
			    c->name, hook_name(c->hook));
			return -EOPNOTSUPP;
		}
		if (c2->svc->transparent) {
			*errv = cub_err_val(CUB_E_INVAL,
			    "attach: '%s' is a transparent cube: it has no "
			    "ports",
			    cname);
			return -EINVAL;
		}
		ifindex = 0;
		goto place;
	}
	if ((r = api_netdev_granted(target, errv)))
		return r;
	if (strlen(target) >= IFNAMSIZ ||
	    !(ifindex = (int)if_nametoindex(target))) {
		*errv = cub_err_val(CUB_E_NODEV,
		    "attach: netdev '%s' does not exist", target);
		return -ENODEV;
	}
	if ((r = netdev_hooks_ok(b, c, target, errv)))
		return r;
	/* The XDP dispatcher's end runs the port's cube: the stack adds
	 * to the chains through that port as on a cube port. */
	if (c->hook != HOOK_TC && topo_netdev_owner(b, target, NULL) &&
	    (r = graph_budget(b, tp_find(b, target) ? 2 : 4, target, errv)))
		return r;
place:
	if ((r = position(tp_find(b, target), target, args, &pos, errv)))
		return r;
	if (tp_find(b, target) && tp_find(b, target)->n >= CUB_TSTACK_MAX) {
		*errv = cub_err_val(CUB_E_LIMIT,
		    "attach: '%s' has %d transparent cubes in its stack, the "
		    "most that fit the kernel's %d tail calls (two per "
		    "cube)",
		    target, CUB_TSTACK_MAX, 33);
		return -ENOSPC;
	}
	/* On a cube port the stack adds to the chains through the port:
	 * one more cube costs 2 tail calls, a new stack 4. */
	if (ifindex == 0 &&
	    (r = graph_budget(b, tp_find(b, target) ? 2 : 4, target, errv)))
		return r;
	pthread_mutex_lock(&b->lock);
	r = stack_insert(b, c, target, ifindex, pos, errv);
	pthread_mutex_unlock(&b->lock);
	if (r)
		return r;
	if ((r = broker_save(b, NULL, errv))) {
		pthread_mutex_lock(&b->lock);
		stack_remove(b, c);
		pthread_mutex_unlock(&b->lock);
		return r;
	}
	log_info("cube '%s': attached to '%s' at position %u of %u", c->name,
	    target, pos + 1, c->tp->n);
	return 0;
}

static int
do_detach(struct broker *b, struct cube *c, const char *target,
    struct cub_val **errv)
{
	char keep[sizeof(c->attached)];
	int r;

	if (c->svc->hostwide) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "cube '%s' of host-wide service '%s' is on every netdev "
		    "no cube port owns: it is not detached by hand (delete "
		    "it)",
		    c->name, c->svc->name);
		return -EINVAL;
	}
	if (!c->tp) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "cube '%s' is not attached to anything", c->name);
		return -ENOENT;
	}
	if (strcmp(c->tp->target, target)) {
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "cube '%s' is attached to '%s', not to '%s'", c->name,
		    c->tp->target, target);
		return -ENOENT;
	}
	/*
	 * The store first, as for a deletion: once it says detached, a
	 * crash leaves a stack the next start rebuilds without the cube.
	 * cube_record() reads c->attached.
	 */
	memcpy(keep, c->attached, sizeof(keep));
	c->attached[0] = '\0';
	r = broker_save(b, NULL, errv);
	if (r)
		memcpy(c->attached, keep, sizeof(keep));
	if (r)
		return r;
	pthread_mutex_lock(&b->lock);
	stack_remove(b, c);
	pthread_mutex_unlock(&b->lock);
	log_info("cube '%s': detached from '%s'", c->name, target);
	return 0;
}

/* A netdev's MAC ("" if none), MTU and IPv4 addresses ("a.b.c.d/len"). */
static void
netdev_params(const char *name, struct cub_val *v)
{
	struct ifaddrs *ifa, *i;
	struct ifreq ifr = {0};
	struct cub_val *addrs = cub_val__array();
	char buf[INET_ADDRSTRLEN + 16], ip[INET_ADDRSTRLEN];
	unsigned char *m;
	uint32_t mask;
	int fd, len;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
		    m[0], m[1], m[2], m[3], m[4], m[5]);
		cub_val__set(v, "mac", cub_val__str(buf));
	}
	if (fd >= 0 && !ioctl(fd, SIOCGIFMTU, &ifr))
		cub_val__set(v, "mtu", cub_val__uint((uint64_t)ifr.ifr_mtu));
	if (fd >= 0)
		close(fd);
	if (!getifaddrs(&ifa)) {
		for (i = ifa; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    strcmp(i->ifa_name, name))
				continue;
			inet_ntop(AF_INET,
			    &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip,
			    sizeof(ip));
			mask = i->ifa_netmask ? ntohl(((struct sockaddr_in *)
							      i->ifa_netmask)
							  ->sin_addr.s_addr)
					      : 0;
			for (len = 0; mask & 0x80000000u; mask <<= 1)
				len++;
			snprintf(buf, sizeof(buf), "%s/%d", ip, len);
			cub_val__push(addrs, cub_val__str(buf));
		}
		freeifaddrs(ifa);
	}
	cub_val__set(v, "addresses", addrs);
}

struct cub_val *
tcube_config(struct broker *b, struct cube *c)
{
	struct cub_val *doc = cub_val__dup(c->doc), *a;
	const struct cub_val *pe;
	struct tpoint *tp = c->tp;
	struct bport *p;
	struct cube *o;

	if (!doc || !tp)
		return doc;
	a = cub_val__map();
	cub_val__set(a, "target", cub_val__str(tp->target));
	cub_val__set(a, "kind", cub_val__str(tp->on_port ? "port"
					     : tp->host ? "host"
							: "netdev"));
	if (tp->host) {
		cub_val__set(a, "netdevs", cub_val__uint(tp->hn));
	} else if (!tp->on_port) {
		netdev_params(tp->target, a);
	} else if ((o = cube_find(b, tp->cname)) &&
		   (p = topo_port(o, tp->pname))) {
		cub_val__set(a, "cube", cub_val__str(o->name));
		cub_val__set(a, "port", cub_val__str(p->name));
		cub_val__set(a, "peer", cub_val__str(p->peer));
		/* The parent port's own fields (a router port's ip, mac),
		 * as its cube's document has them (state lock held: the
		 * document stays while it is held). */
		if ((pe = cubi_tree__find(o->doc, "ports", "name", p->name)))
			cub_val__set(a, "fields", cub_val__dup(pe));
		if (p->ifindex && !p->cube_peer)
			netdev_params(p->peer, a);
	}
	cub_val__set(doc, "attached", a);
	return doc;
}

/* Hand the worker its new parameters (its thread only; not fatal). */
static void
tell_worker(struct broker *b, struct cube *c)
{
	struct cub_val *e = NULL;
	const char *msg;

	if (!sup_on_thread(c->svc) || cube_sync(b, c, false, &e) == 0)
		return;
	cub_err_parse(e, &msg);
	log_warn("cube '%s': its worker was not told of its attachment: %s "
		 "(it is on its next apply or restart)",
	    c->name, e ? msg : "?");
	cub_val__free(e);
}

int
tcube_attach_cmd(struct broker *b, const struct cub_val *words,
    const struct cub_val *args, bool attach, struct cub_val **errv)
{
	const char *verb = attach ? "attach" : "detach";
	const char *name = wd(words, 1), *target = wd(words, 2);
	struct cube *c;
	int r;

	if (!name || !target || words->arr.len != 3) {
		*errv = cub_err_val(CUB_E_MISSING,
		    "usage: %s <cube> <netdev | cube:port>%s", verb,
		    attach ? " [position=first|last | before=<cube> | "
			     "after=<cube>]"
			   : "");
		return -EINVAL;
	}
	if (!attach && args && args->kind == CUB_V_MAP && args->map.len) {
		*errv = cub_err_val(CUB_E_INVAL,
		    "detach takes no key=value arguments");
		return -EINVAL;
	}
	if (!(c = cube_find(b, name)) || !api_sees(c)) {
		*errv = cub_err_val(
		    CUB_E_NOTFOUND, "%s: no cube named '%s'", verb, name);
		return -ENOENT;
	}
	/* A tenant places its cube by its own cubes only. */
	for (unsigned i = 0; attach && api_tenant() && args &&
			     args->kind == CUB_V_MAP && i < args->map.len;
	     i++) {
		const struct cub_val *v = args->map.items[i].val;
		struct cube *o;

		if ((strcmp(args->map.items[i].key, "before") &&
			strcmp(args->map.items[i].key, "after")) ||
		    v->kind != CUB_V_STR)
			continue;
		if (!(o = cube_find(b, v->str.ptr)) || !api_sees(o)) {
			*errv = cub_err_val(CUB_E_NOTFOUND,
			    "attach: %s=%s: no cube named '%s'",
			    args->map.items[i].key, v->str.ptr, v->str.ptr);
			return -ENOENT;
		}
	}
	r = attach ? do_attach(b, c, target, args, errv)
		   : do_detach(b, c, target, errv);
	if (!r)
		tell_worker(b, c);
	return r;
}

/* "th1 ---> th2 ---> stack" for one direction of a stack. */
/* A stack member's name as the request's sender may see it: a tenant
 * sees its own cubes' names, and where the others sit. */
static const char *
shown_name(const struct cube *c)
{
	return api_sees(c) ? c->name : "(not yours)";
}

/* Does the request's sender see the stack tp: a tenant, one on a netdev
 * granted to it or on a port of its own cube. */
static bool
tp_seen(struct broker *b, const struct tpoint *tp)
{
	const struct tenant *t = api_tenant();
	struct cube *o;

	if (!t)
		return true;
	if (tp->on_port)
		return (o = cube_find(b, tp->cname)) && api_sees(o);
	return tenant_netdev_ok(t, tp->target);
}

static struct cub_val *
chain_text(const struct tpoint *tp, int dir)
{
	char buf[CUB_TSTACK_MAX * (CUB_NAME_MAX + 6) + 8];
	size_t off = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; tp && i < tp->n && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "%s ---> ", shown_name(at(tp->stack, tp->n, dir, i)));
	if (off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, "stack");
	return cub_val__str(buf);
}

static struct cub_val *
tp_val(const struct tpoint *tp)
{
	struct cub_val *v = cub_val__map(), *in, *eg;
	unsigned i;

	in = cub_val__array();
	eg = cub_val__array();
	for (i = 0; i < tp->n; i++) {
		cub_val__push(
		    in, cub_val__str(shown_name(at(tp->stack, tp->n, 0, i))));
		cub_val__push(
		    eg, cub_val__str(shown_name(at(tp->stack, tp->n, 1, i))));
	}
	cub_val__set(v, "name", cub_val__str(tp->target));
	if (tp_xdp(tp)) {
		/* The XDP dispatcher: ingress only (XDP has no egress). */
		cub_val__free(eg);
		cub_val__set(v, "hook", cub_val__str(hook_name(tp->hook)));
		cub_val__set(v, "ingress", in);
		cub_val__set(
		    v, "ingress service chain", chain_text(tp, 0));
		cub_val__set(v, "ingress_prog_id", cub_val__uint(tp->in_id));
		return v;
	}
	cub_val__set(v, "ingress", in);
	cub_val__set(v, "egress", eg);
	cub_val__set(v, "ingress service chain", chain_text(tp, 0));
	cub_val__set(v, "egress service chain", chain_text(tp, 1));
	cub_val__set(v, "ingress_prog_id", cub_val__uint(tp->in_id));
	cub_val__set(v, "egress_prog_id", cub_val__uint(tp->eg_id));
	if (tp->on_port)
		cub_val__set(v, "egress_end_prog_id",
		    cub_val__uint(prog_id(tp->final_fd)));
	return v;
}

static int
tp_cmp(const void *a, const void *b)
{
	return strcmp((*(struct tpoint *const *)a)->target,
	    (*(struct tpoint *const *)b)->target);
}

int
tcube_topology(struct broker *b, const char *only, struct cub_val **result,
    struct cub_val **errv)
{
	struct cub_val *cubes, *nds, *e, *ports, *pe;
	struct tpoint *tp, **sorted;
	size_t n, i;
	struct bport *p;
	struct cube *c;

	if (only) {
		if (!(tp = tp_find(b, only)) || !tp->n || !tp_seen(b, tp)) {
			*errv = cub_err_val(CUB_E_NOTFOUND,
			    "topology: nothing is attached to '%s'", only);
			return -ENOENT;
		}
		*result = tp_val(tp);
		return 0;
	}
	cubes = cub_val__array();
	pthread_mutex_lock(&b->lock);
	for (c = b->cubes; c; c = c->next) {
		if (!api_sees(c))
			continue;
		e = cub_val__map();
		cub_val__set(e, "name", cub_val__str(c->name));
		cub_val__set(e, "service", cub_val__str(c->svc->name));
		cub_val__set(e, "type", cub_val__str(hook_name(c->hook)));
		cub_val__set(e, "transparent", cub_val__bool(c->svc->transparent));
		cub_val__set(e, "prog_id",
		    cub_val__uint(c->obj ? c->obj->prog_id : 0));
		if (c->tp)
			cub_val__set(e, "attached", cub_val__str(c->tp->target));
		ports = cub_val__array();
		for (p = c->ports; p; p = p->next) {
			pe = cub_val__map();
			cub_val__set(pe, "name", cub_val__str(p->name));
			cub_val__set(pe, "peer", cub_val__str(p->peer));
			cub_val__push(ports, pe);
		}
		cub_val__set(e, "ports", ports);
		cub_val__push(cubes, e);
	}
	pthread_mutex_unlock(&b->lock);
	/* By name: the same after a restart, whatever the list's order. */
	nds = cub_val__array();
	/* (An emptied stack waiting to go is not shown.) */
	for (n = 0, tp = b->tpoints; tp; tp = tp->next)
		n += tp->n > 0 && tp_seen(b, tp);
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	for (i = 0, tp = b->tpoints; sorted && tp; tp = tp->next)
		if (tp->n && tp_seen(b, tp))
			sorted[i++] = tp;
	if (sorted)
		qsort(sorted, n, sizeof(*sorted), tp_cmp);
	for (i = 0; sorted && i < n; i++)
		cub_val__push(nds, tp_val(sorted[i]));
	free(sorted);
	*result = cub_val__map();
	cub_val__set(*result, "cubes", cubes);
	cub_val__set(*result, "netdevs", nds);
	return 0;
}

/* Persistence (persist.c): {target, rank, qdisc} in the cube's record. */
struct cub_val *
tcube_record(const struct cube *c, const struct cube *gone)
{
	struct cub_val *v;
	unsigned i;

	if (!c->tp || !c->attached[0] ||
	    (gone && c->tp->on_port && !strcmp(c->tp->cname, gone->name)))
		return NULL;
	for (i = 0; i < c->tp->n && c->tp->stack[i] != c; i++)
		;
	v = cub_val__map();
	cub_val__set(v, "target", cub_val__str(c->tp->target));
	cub_val__set(v, "rank", cub_val__uint(i));
	cub_val__set(v, "qdisc", cub_val__bool(c->tp->qdisc));
	return v;
}

void
tcube_load_record(struct cube *c, const struct cub_val *rec)
{
	const struct cub_val *a = cub_val__get(rec, "attach");
	const char *t = cub_val__get_str(a, "target");
	uint64_t rank = 0;
	bool q = false;

	if (!t || strlen(t) > CUB_PEER_MAX)
		return;
	cub_val__as_u64(cub_val__get(a, "rank"), &rank);
	cub_val__as_bool(cub_val__get(a, "qdisc"), &q);
	snprintf(c->attached, sizeof(c->attached), "%s", t);
	c->attach_rank = rank > CUB_TSTACK_MAX ? CUB_TSTACK_MAX : (unsigned)rank;
	c->attach_qdisc = q;
}

/* A stack pinned under the pin root that no stored cube names: off its
 * netdev (only the filters that run its programs) and unpinned. */
static void
tp_stray(struct broker *b, const char *target)
{
	struct tpoint tmp = {.in_fd = -1, .eg_fd = -1, .next_fd = -1,
	    .progs_fd = -1, .links_fd = -1, .final_fd = -1};

	snprintf(tmp.target, sizeof(tmp.target), "%s", target);
	tmp.host = !strcmp(target, TP_HOST);
	tmp.ifindex = tmp.host ? 0 : (int)if_nametoindex(target);
	if (!tp_adopt(b, &tmp))
		tp_unhook(b, &tmp);
	tp_unpin(b, target);
	log_warn("attach point '%s': pinned but no stored cube is attached "
		 "to it: detached and unpinned",
	    target);
	tp_close(&tmp);
}

/* The attach point of target, adopted from its pins (or made afresh). */
static struct tpoint *
tp_restore(struct broker *b, const char *target, enum hook hook)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct cub_val *errv = NULL;
	struct tpoint *tp;
	int ifindex = 0;

	if ((tp = tp_find(b, target)))
		return tp;
	if (strcmp(target, TP_HOST) && !topo_peer_split(target, cname, pname) &&
	    !(ifindex = (int)if_nametoindex(target)))
		log_warn("attach point '%s': the netdev is gone; its cubes "
			 "are kept, inactive",
		    target);
	if (!(tp = tp_new(b, target, ifindex, hook, true, &errv))) {
		log_err("attach point '%s': %s", target,
		    cub_val__get_str(errv, "message") ?: "?");
		cub_val__free(errv);
	}
	return tp;
}

void
tcube_prepare(struct broker *b, const struct cub_val *records)
{
	const struct cub_val *a, *rec;
	enum hook hook;
	const char *t;
	uint32_t i;

	/* Before any cube is adopted: a cube port's entry is known when
	 * its cube's ports are attached again (topology.c). */
	for (i = 0; records && records->kind == CUB_V_ARRAY &&
		    i < records->arr.len;
	     i++) {
		rec = records->arr.items[i];
		a = cub_val__get(rec, "attach");
		t = cub_val__get_str(a, "target");
		hook = HOOK_TC;
		hook_parse(cub_val__get_str(cub_val__get(rec, "config"), "type"),
		    &hook);
		if (t && *t && strlen(t) <= CUB_PEER_MAX)
			tp_restore(b, t, hook);
	}
}

void
tcube_restore(struct broker *b)
{
	struct cube *c, *owner;
	char path[PATH_MAX];
	struct dirent *de;
	struct tpoint *tp, *next;
	unsigned i, j;
	DIR *d;

	pthread_mutex_lock(&b->lock);
	for (c = b->cubes; c; c = c->next) {
		/* A host-wide service's cube is on the host stack, and no
		 * other cube is (a store edited, or a crash between a
		 * creation's steps). */
		if (c->svc->stored_hostwide && !c->tp &&
		    strcmp(c->attached, TP_HOST)) {
			if (c->attached[0])
				log_err("cube '%s': its service '%s' is host-wide "
					"but the store attaches it to '%s': on "
					"every netdev instead",
				    c->name, c->svc->name, c->attached);
			snprintf(c->attached, sizeof(c->attached), "%s",
			    TP_HOST);
		}
		if (!c->attached[0] || c->tp)
			continue;
		if (!strcmp(c->attached, TP_HOST) && !c->svc->stored_hostwide) {
			log_err("cube '%s': not attached again to every netdev: "
				"its service '%s' is not host-wide in the store",
			    c->name, c->svc->name);
			c->attached[0] = '\0';
			continue;
		}
		if (!c->svc->stored_transparent) {
			/* Only a transparent service's cubes were checked
			 * for a stack (bpfobj.c, stacked()). */
			log_err("cube '%s': not attached again to '%s': its "
				"service '%s' is not transparent in the store",
			    c->name, c->attached, c->svc->name);
			c->attached[0] = '\0';
			continue;
		}
		tp = tp_restore(b, c->attached, c->hook);
		owner = tp && tp->on_port ? cube_find(b, tp->cname) : NULL;
		if (tp && tp->on_port && (!owner || !topo_port(owner, tp->pname)))
			tp = NULL;
		if (tp && tp->hook != (tp->on_port ? HOOK_TC : c->hook))
			tp = NULL; /* another hook's stack: not this cube's */
		if (!tp || tp->n >= CUB_TSTACK_MAX) {
			log_err("cube '%s': not attached again to '%s'",
			    c->name, c->attached);
			c->attached[0] = '\0';
			continue;
		}
		if (tp->on_port)
			tp->qdisc = false;
		else
			tp->qdisc |= c->attach_qdisc;
		/* By rank; equal ranks keep the store's order. */
		for (i = 0; i < tp->n && tp->stack[i]->attach_rank <= c->attach_rank;
		     i++)
			;
		for (j = tp->n; j > i; j--)
			tp->stack[j] = tp->stack[j - 1];
		tp->stack[i] = c;
		tp->n++;
		c->tp = tp;
	}
	for (tp = b->tpoints; tp; tp = next) {
		next = tp->next;
		if (!tp->n) {
			tp_drop(b, tp);
			continue;
		}
		for (i = 0; i < tp->n; i++)
			cube_out(tp->stack[i], tp);
		if (cells_restore(tp))
			b->tp_pending = true;
		if (tp_link(tp, true))
			log_warn("attach point '%s': rebuilding its stack "
				 "failed",
			    tp->target);
		if (tp->host)
			host_sync(b, tp);
		if (tp->on_port)
			tp_wire_port(b, tp);
		log_info("attach point '%s': %u transparent cube(s), programs "
			 "%u/%u",
		    tp->target, tp->n, tp->in_id, tp->eg_id);
	}
	pthread_mutex_unlock(&b->lock);
	if (tp_path(b, path, sizeof(path), NULL, NULL) || !(d = opendir(path)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strlen(de->d_name) <= CUB_PEER_MAX &&
		    !tp_find(b, de->d_name))
			tp_stray(b, de->d_name);
	closedir(d);
}

/* Every cube of tp's stack is due a new apply (state lock held). */
static void
tp_due(struct tpoint *tp)
{
	struct cube *c;
	unsigned i;

	for (i = 0; i < tp->n; i++) {
		c = tp->stack[i];
		c->attach_due = true;
		c->svc->attach_due = true;
		sup_kick(c->svc);
	}
}

/* Does tp on a cube port reach netdev name through that port's peer? */
static bool
tp_port_on(struct broker *b, const struct tpoint *tp, const char *name)
{
	struct cube *o = cube_find(b, tp->cname);
	struct bport *p = o ? topo_port(o, tp->pname) : NULL;

	return p && !p->cube_peer && p->peer[0] && !strcmp(p->peer, name);
}

void
tcube_netdev_changed(struct broker *b, const char *name, const char *old)
{
	struct tpoint *tp;

	for (tp = b->tpoints; tp; tp = tp->next) {
		if (tp->dropping)
			continue;
		if (tp->on_port ? tp_port_on(b, tp, name) ||
				      (old && tp_port_on(b, tp, old))
				: !strcmp(tp->target, name) ||
				      (old && !strcmp(tp->target, old)))
			tp_due(tp);
	}
}

void
tcube_port_changed(struct broker *b, const struct cube *c, const char *port)
{
	char target[CUB_PEER_MAX + 1];
	struct tpoint *tp;

	snprintf(target, sizeof(target), "%s:%s", c->name, port);
	if ((tp = tp_find(b, target)) && !tp->dropping)
		tp_due(tp);
}

void
tcube_cube_changed(
    struct broker *b, const struct cube *c, const struct cub_val *old)
{
	const struct cub_val *was, *is;
	struct tpoint *tp;

	for (tp = b->tpoints; tp; tp = tp->next) {
		if (!tp->on_port || tp->dropping || strcmp(tp->cname, c->name))
			continue;
		/* Only when the port's own entry changed. */
		was = old ? cubi_tree__find(old, "ports", "name", tp->pname)
			  : NULL;
		is = cubi_tree__find(c->doc, "ports", "name", tp->pname);
		if (!was || !is || !cub_val__equal(was, is))
			tp_due(tp);
	}
}

bool
tcube_pending(struct broker *b, struct service *s)
{
	(void)b;
	return s->attach_due;
}

/*
 * The first of s's cubes due an apply gets one: its document with the
 * attach point's parameters as they are now, so a burst of changes costs
 * one apply per pass of this thread, the last with the final state.  A
 * worker not ready gets them with its replay; a refusal is logged.
 */
void
tcube_deliver(struct broker *b, struct service *s)
{
	struct cub_val *e = NULL;
	const char *msg;
	struct cube *c;

	for (c = b->cubes; c; c = c->next)
		if (c->svc == s && c->attach_due)
			break;
	if (!c) {
		s->attach_due = false;
		return;
	}
	c->attach_due = false;
	if (!s->ready)
		return;
	log_debug("cube '%s': its attach point's parameters changed; "
		  "re-applying",
	    c->name);
	if (!cube_sync(b, c, false, &e))
		return;
	cub_err_parse(e, &msg);
	log_warn("cube '%s': its worker did not take the new parameters of its "
		 "attach point: %s",
	    c->name, e ? msg : "?");
	cub_val__free(e);
}

void
tcube_used_by(
    struct broker *b, const char *name, char *buf, size_t len, size_t *n)
{
	struct tpoint *tp = tp_find(b, name);
	unsigned i;
	int w;

	if (!tp || tp->on_port)
		return;
	for (i = 0; i < tp->n && *n < len; i++) {
		w = snprintf(buf + *n, len - *n,
		    "%stcube %s (%s stack position %u)", *n ? "," : "",
		    shown_name(tp->stack[i]),
		    tp_xdp(tp) ? "XDP ingress" : "ingress/egress", i + 1);
		if (w < 0 || (size_t)w >= len - *n) {
			buf[*n] = '\0';
			return;
		}
		*n += (size_t)w;
	}
}
