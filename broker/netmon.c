// SPDX-License-Identifier: BSD-2-Clause
/*
 * Netdevs and their events (docs/architecture.md "Netdev events").  The
 * broker listens on rtnetlink (RTMGRP_LINK, RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR) and keeps a table of the namespace's netdevs:
 * ifindex, name, MAC, mtu, state and addresses.  The socket is
 * non-blocking and read by the main loop, at most NETMON_BUDGET datagrams
 * a pass; a receive buffer overrun (ENOBUFS) starts a full re-dump, links
 * then addresses, whose differences with the table become events as if
 * the kernel had sent them (what happened in between, say an address
 * added and removed again, is not seen).
 *
 * Each change of the table is an event (enum cub_netdev_kind).  Services
 * that asked for its kind (hello's netdev_events) get it: by default for
 * each of their cubes' ports attached to the netdev (by ifindex, or by
 * the port's peer name, for a netdev that appears under it); with
 * CUB_NETDEV_HOST once per cube, whatever the netdev.  The main thread
 * puts them in the service's bounded queue (NETQ_MAX, drops counted); the
 * service's request thread, when it has no request to run, sends them to
 * the worker in batches (netdev.event), which answers once it queued them
 * and says how many it had room for: nobody waits for the plugin.
 *
 * A port's status is UP while it is attached to a netdev that is up (IFF_UP
 * and IFF_RUNNING); a port whose netdev goes down or disappears stays, DOWN,
 * and port.up / port.down are published on events.sock as it changes.
 *
 * Everything here runs under b->state_lock: the main thread reads the
 * socket, request threads read the table (show) and drain their queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "cubicle/proto.h"
#include "log.h"
#include "text.h"

#define NETMON_BUDGET 64         /* datagrams a main-loop pass reads */
#define NETMON_RCVBUF (4u << 20) /* bytes; overruns start a re-dump */
#define NETMON_DEVS_MAX 16384    /* netdevs tracked */
#define NETMON_ADDRS_MAX 8192    /* addresses tracked per netdev */
#define NETMON_INIT_MS 5000      /* for the first dump, at start */
#define NETQ_MAX 256             /* events queued per service */
#define NETQ_BATCH 64            /* events in one netdev.event */

struct naddr {
	uint8_t family, prefixlen;
	uint8_t addr[16];
	unsigned gen; /* last dump that listed it */
};

struct netdev {
	int ifindex;
	char name[IF_NAMESIZE];
	uint8_t mac[6];
	uint32_t mtu;
	unsigned flags; /* IFF_* */
	unsigned gen;
	struct naddr *addrs;
	unsigned naddrs, addrs_cap;
	struct netdev *next;
};

enum nm_dump { NM_IDLE = 0, NM_LINKS, NM_ADDRS };

struct netmon {
	int fd;
	uint32_t portid; /* the socket's netlink port id */
	uint32_t seq, dump_seq;
	enum nm_dump dumping;
	bool resync; /* an overrun: dump again when this dump ends */
	/* The kernel flagged the current dump part inconsistent (changes
	 * while it ran, NLM_F_DUMP_INTR): it may have skipped entries that
	 * exist, so it removes nothing, and another dump follows. */
	bool dump_intr;
	/* So a dump part removes only after a quiet run: under constant
	 * churn, entries whose removal was lost stay until churn pauses. */
	bool synced; /* the first dump ended: changes are events */
	unsigned gen;
	struct netdev *devs;
	unsigned ndevs;
	uint64_t overruns, untracked;
	int addrs_fd; /* cub_host_addrs (hostaddr.bpf.h), -1 until made */
	bool addrs_adopted; /* addrs_fd is an adopted program's map */
};

/* An event waiting for a service's worker. */
struct netq_item {
	char cube[CUB_NAME_MAX + 1];
	struct cub_netdev_event ev;
};

struct netq {
	struct netq_item q[NETQ_MAX];
	unsigned head, len;
	uint64_t matched, sent, dropped;
};

static bool
dev_up(const struct netdev *d)
{
	return (d->flags & IFF_UP) && (d->flags & IFF_RUNNING);
}

static struct netdev *
dev_find(struct netmon *nm, int ifindex)
{
	struct netdev *d;

	for (d = nm->devs; d; d = d->next)
		if (d->ifindex == ifindex)
			return d;
	return NULL;
}

bool
netmon_up(struct broker *b, int ifindex)
{
	struct netdev *d;

	if (!b->nm || !b->nm->synced)
		return ifindex != 0; /* no table: attached counts */
	d = dev_find(b->nm, ifindex);
	return d && dev_up(d);
}

static void
fmt_mac(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	    m[3], m[4], m[5]);
}

static void
fmt_addr(const struct naddr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, a->prefixlen);
}

/* A port of a netdev-peered cube port uses d (or, renamed, old). */
static bool
port_uses(const struct bport *p, const struct netdev *d, const char *old)
{
	if (p->cube_peer || !p->peer[0])
		return false;
	return (p->ifindex && p->ifindex == d->ifindex) ||
	       !strcmp(p->peer, d->name) || (old && !strcmp(p->peer, old));
}

static void
netq_put(struct service *s, const struct cube *c, const struct bport *p,
    const struct cub_netdev_event *ev)
{
	struct netq *q = s->netq;
	struct netq_item *it;

	if (!q && !(q = s->netq = calloc(1, sizeof(*q)))) {
		log_err(
		    "service '%s': netdev event queue: out of memory", s->name);
		return;
	}
	q->matched++;
	if (q->len == NETQ_MAX || !s->ready) {
		q->dropped++;
		return;
	}
	it = &q->q[(q->head + q->len++) % NETQ_MAX];
	snprintf(it->cube, sizeof(it->cube), "%s", c->name);
	it->ev = *ev;
	snprintf(it->ev.port, sizeof(it->ev.port), "%s", p ? p->name : "");
	sup_kick(s);
}

static void
port_status_event(struct broker *b, struct cube *c, struct bport *p, bool up)
{
	struct cub_val *ev = cub_val__map();

	cub_val__set(ev, "cube", cub_val__str(c->name));
	cub_val__set(ev, "port", cub_val__str(p->name));
	cub_val__set(ev, "peer", cub_val__str(p->peer));
	cub_val__set(ev, "reason", cub_val__str("netdev"));
	api_publish(b, up ? CUB_EV_PORT_UP : CUB_EV_PORT_DOWN, ev, c->owner);
}

/*
 * One change of the table: to the services that asked for it, and the
 * ports' status events.  a: the address of an address event.
 */
/*
 * The host's IPv4 addresses for host-wide cubes (cub_host_addrs,
 * hostaddr.bpf.h): one broker map, made at the first dump and given to
 * every cube object that declares it (bpfobj.c), never pinned: a start
 * takes the one its adopted programs read (netmon_host_addrs_adopt()),
 * so nothing is left in the pin root.  Kept as the table is: an address
 * added is written at once, one removed (or a re-dump) rewrites the
 * whole map from the table.
 */
static void
haddr_put(int fd, const struct netdev *d, const struct naddr *a)
{
	struct cub_host_addr v = {.ifindex = (uint32_t)d->ifindex,
	    .kind = CUB_HADDR_LOCAL};
	uint32_t k, mask;

	if (a->family != AF_INET)
		return;
	memcpy(&k, a->addr, 4);
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) && errno == E2BIG)
		log_warn("host addresses: more than %d", CUB_HOST_ADDRS_MAX);
	if (a->prefixlen > 30)
		return;
	mask = htonl(~0u << (32 - a->prefixlen));
	k = (k & mask) | ~mask;
	v.kind = CUB_HADDR_BROADCAST;
	bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST); /* a LOCAL stays */
}

/* The map as the table: what it lacks written, what the table lacks
 * deleted. */
static void
haddr_sync(struct netmon *nm)
{
	struct cub_host_addr v;
	uint32_t k, next, *gone = NULL;
	unsigned n = 0, cap = 0, i;
	struct netdev *d;
	bool have;

	if (nm->addrs_fd < 0)
		return;
	for (d = nm->devs; d; d = d->next)
		for (i = 0; i < d->naddrs; i++)
			haddr_put(nm->addrs_fd, d, &d->addrs[i]);
	for (int r = bpf_map_get_next_key(nm->addrs_fd, NULL, &next); !r;
	     r = bpf_map_get_next_key(nm->addrs_fd, &k, &next)) {
		k = next;
		have = false;
		if (!bpf_map_lookup_elem(nm->addrs_fd, &k, &v))
			for (d = nm->devs; d && !have; d = d->next)
				for (i = 0; i < d->naddrs && !have; i++) {
					struct naddr *a = &d->addrs[i];
					uint32_t x, m;

					if (a->family != AF_INET)
						continue;
					memcpy(&x, a->addr, 4);
					m = a->prefixlen > 30
						? ~0u
						: htonl(~0u << (32 - a->prefixlen));
					have = v.kind == CUB_HADDR_LOCAL
						   ? x == k
						   : a->prefixlen <= 30 &&
							 ((x & m) | ~m) == k;
				}
		if (have)
			continue;
		if (n == cap) {
			uint32_t *g = realloc(gone, (cap ? 2 * cap : 64) * 4);

			if (!g)
				break;
			gone = g;
			cap = cap ? 2 * cap : 64;
		}
		gone[n++] = k;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(nm->addrs_fd, &gone[i]);
	free(gone);
}

int
netmon_host_addrs(struct broker *b, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, o,
	    .map_flags = BPF_F_RDONLY_PROG | BPF_F_NO_PREALLOC);
	struct netmon *nm = b->nm;
	int fd;

	if (!nm)
		return -ENODEV;
	if (nm->addrs_fd >= 0 || !create)
		return nm->addrs_fd >= 0 ? nm->addrs_fd : -ENOENT;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cub_host_addrs", 4,
	    sizeof(struct cub_host_addr), CUB_HOST_ADDRS_MAX, &o);
	if (fd < 0)
		return log_errno(-errno, "host addresses: map");
	nm->addrs_fd = fd;
	haddr_sync(nm);
	return fd;
}

void
netmon_host_addrs_adopt(struct broker *b, const char *cube, int fd)
{
	struct netmon *nm = b->nm;
	struct bpf_map_info a = {0}, m = {0};
	__u32 al = sizeof(a), ml = sizeof(m);
	int dup;

	if (!nm || fd < 0 || bpf_obj_get_info_by_fd(fd, &a, &al) ||
	    a.type != BPF_MAP_TYPE_HASH || a.key_size != 4 ||
	    a.value_size != sizeof(struct cub_host_addr) ||
	    a.max_entries != CUB_HOST_ADDRS_MAX)
		return;
	if (nm->addrs_fd >= 0 &&
	    !bpf_obj_get_info_by_fd(nm->addrs_fd, &m, &ml) && m.id == a.id)
		return;
	if (nm->addrs_adopted) {
		log_warn("cube '%s': its program reads another host address "
			 "map (id %u) than the broker keeps (id %u): it is not "
			 "kept current until the cube is loaded again",
		    cube, a.id, m.id);
		return;
	}
	if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return;
	if (nm->addrs_fd >= 0)
		close(nm->addrs_fd);
	nm->addrs_fd = dup;
	nm->addrs_adopted = true;
	haddr_sync(nm);
}

int
netmon_host_addrs_fd(const struct broker *b)
{
	return b->nm ? b->nm->addrs_fd : -1;
}

static void
emit(struct broker *b, uint32_t kind, const struct netdev *d, const char *old,
    const struct naddr *a)
{
	struct cub_netdev_event ev = {.kind = kind};
	uint32_t mask;
	struct service *s;
	struct cube *c;
	struct bport *p;
	bool host, any;

	if (!b->nm->synced)
		return;
	ev.ifindex = (uint32_t)d->ifindex;
	snprintf(ev.name, sizeof(ev.name), "%s", d->name);
	if (old)
		snprintf(ev.old_name, sizeof(ev.old_name), "%s", old);
	memcpy(ev.mac, d->mac, sizeof(ev.mac));
	ev.mtu = d->mtu;
	ev.up = kind != CUB_NETDEV_REMOVED && dev_up(d);
	if (a) {
		ev.family = a->family;
		ev.prefixlen = a->prefixlen;
		memcpy(ev.addr, a->addr, sizeof(ev.addr));
		fmt_addr(a, ev.addr_str, sizeof(ev.addr_str));
	}
	log_debug("netdev '%s' (%d): %s%s%s", d->name, d->ifindex,
	    cub_netdev_kind__str(kind), a ? " " : "", a ? ev.addr_str : "");
	tcube_netdev_changed(b, d->name, old);
	tcube_host_netdev(b, kind, d->ifindex, d->name);
	if (b->nm->addrs_fd >= 0 && a && kind == CUB_NETDEV_ADDR_ADDED)
		haddr_put(b->nm->addrs_fd, d, a);
	for (s = b->svcs; s; s = s->next) {
		mask = __atomic_load_n(&s->netdev_events, __ATOMIC_ACQUIRE);
		if (!(mask & CUB_NETDEV_EV(kind)))
			continue;
		host = mask & CUB_NETDEV_HOST;
		for (c = b->cubes; c; c = c->next) {
			if (c->svc != s)
				continue;
			any = false;
			for (p = c->ports; p; p = p->next)
				if (port_uses(p, d, old)) {
					netq_put(s, c, p, &ev);
					any = true;
				}
			if (host && !any)
				netq_put(s, c, NULL, &ev);
		}
	}
	/* A netdev removed while up goes down with it (d's flags are its
	 * last ones); one removed while down was reported down already. */
	if (kind != CUB_NETDEV_UP && kind != CUB_NETDEV_DOWN &&
	    !(kind == CUB_NETDEV_REMOVED && dev_up(d)))
		return;
	for (c = b->cubes; c; c = c->next)
		for (p = c->ports; p; p = p->next)
			if (!p->cube_peer && p->ifindex == d->ifindex)
				port_status_event(
				    b, c, p, kind == CUB_NETDEV_UP);
}

static void
dev_free(struct netdev *d)
{
	free(d->addrs);
	free(d);
}

static void
dev_remove(struct broker *b, struct netdev *d)
{
	struct netmon *nm = b->nm;
	struct netdev **pp;

	for (pp = &nm->devs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	nm->ndevs--;
	emit(b, CUB_NETDEV_REMOVED, d, NULL, NULL);
	dev_free(d);
}

/* attrs of a message after its fixed header of hdrlen bytes */
static void
parse_attrs(
    const struct nlmsghdr *h, size_t hdrlen, struct rtattr **tb, int max)
{
	const struct rtattr *rta;
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(hdrlen);

	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	if (len < 0)
		return;
	for (rta = (const struct rtattr *)((const char *)NLMSG_DATA(h) +
					   NLMSG_ALIGN(hdrlen));
	     RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type <= max && !tb[rta->rta_type])
			tb[rta->rta_type] = (struct rtattr *)rta;
}

static void
on_link(struct broker *b, const struct nlmsghdr *h)
{
	struct netmon *nm = b->nm;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *tb[IFLA_MAX + 1];
	char old[IF_NAMESIZE];
	uint8_t mac[6];
	uint32_t mtu;
	struct netdev *d;
	bool was_up, is_new = false;
	size_t n;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index <= 0)
		return;
	/* AF_BRIDGE messages are about a bridge port, not the netdev: a
	 * DELLINK of that family means it left its bridge. */
	if (ifi->ifi_family != AF_UNSPEC)
		return;
	d = dev_find(nm, ifi->ifi_index);
	if (h->nlmsg_type == RTM_DELLINK) {
		if (d)
			dev_remove(b, d);
		return;
	}
	parse_attrs(h, sizeof(*ifi), tb, IFLA_MAX);
	if (!tb[IFLA_IFNAME])
		return;
	if (!d) {
		if (nm->ndevs >= NETMON_DEVS_MAX) {
			if (!nm->untracked++)
				log_warn("netdevs: more than %d; the others "
					 "are not tracked",
				    NETMON_DEVS_MAX);
			return;
		}
		if (!(d = calloc(1, sizeof(*d))))
			return;
		d->ifindex = ifi->ifi_index;
		d->next = nm->devs;
		nm->devs = d;
		nm->ndevs++;
		is_new = true;
	}
	d->gen = nm->gen;
	snprintf(old, sizeof(old), "%s", d->name);
	n = RTA_PAYLOAD(tb[IFLA_IFNAME]);
	n = n < IF_NAMESIZE ? n : IF_NAMESIZE - 1;
	memcpy(d->name, RTA_DATA(tb[IFLA_IFNAME]), n);
	d->name[n] = '\0';
	d->name[strnlen(d->name, IF_NAMESIZE - 1)] = '\0';
	memcpy(mac, d->mac, sizeof(mac));
	mtu = d->mtu;
	if (tb[IFLA_ADDRESS] && RTA_PAYLOAD(tb[IFLA_ADDRESS]) == 6)
		memcpy(d->mac, RTA_DATA(tb[IFLA_ADDRESS]), 6);
	if (tb[IFLA_MTU] && RTA_PAYLOAD(tb[IFLA_MTU]) == 4)
		memcpy(&d->mtu, RTA_DATA(tb[IFLA_MTU]), 4);
	/* MAC and mtu make no event, but transparent cubes are told. */
	if (!is_new && nm->synced &&
	    (memcmp(mac, d->mac, sizeof(mac)) || mtu != d->mtu))
		tcube_netdev_changed(b, d->name, NULL);
	was_up = !is_new && dev_up(d);
	d->flags = ifi->ifi_flags;
	if (is_new) {
		emit(b, CUB_NETDEV_ADDED, d, NULL, NULL);
		if (dev_up(d))
			emit(b, CUB_NETDEV_UP, d, NULL, NULL);
		return;
	}
	if (strcmp(old, d->name))
		emit(b, CUB_NETDEV_RENAMED, d, old, NULL);
	if (was_up != dev_up(d))
		emit(b, dev_up(d) ? CUB_NETDEV_UP : CUB_NETDEV_DOWN, d, NULL,
		    NULL);
}

static struct naddr *
addr_find(struct netdev *d, const struct naddr *a)
{
	unsigned i;

	for (i = 0; i < d->naddrs; i++)
		if (d->addrs[i].family == a->family &&
		    d->addrs[i].prefixlen == a->prefixlen &&
		    !memcmp(d->addrs[i].addr, a->addr, sizeof(a->addr)))
			return &d->addrs[i];
	return NULL;
}

static void
addr_drop(struct broker *b, struct netdev *d, struct naddr *a)
{
	struct naddr gone = *a;

	*a = d->addrs[--d->naddrs];
	emit(b, CUB_NETDEV_ADDR_REMOVED, d, NULL, &gone);
	if (gone.family == AF_INET && b->nm->synced)
		haddr_sync(b->nm);
}

static void
on_addr(struct broker *b, const struct nlmsghdr *h)
{
	struct netmon *nm = b->nm;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1], *at;
	struct naddr a = {0}, *have, *grown;
	struct netdev *d;
	size_t alen;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return;
	if (!(d = dev_find(nm, (int)ifa->ifa_index)))
		return;
	parse_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!at || RTA_PAYLOAD(at) != alen)
		return;
	a.family = ifa->ifa_family;
	a.prefixlen = ifa->ifa_prefixlen;
	memcpy(a.addr, RTA_DATA(at), alen);
	a.gen = nm->gen;
	have = addr_find(d, &a);
	if (h->nlmsg_type == RTM_DELADDR) {
		if (have)
			addr_drop(b, d, have);
		return;
	}
	if (have) {
		have->gen = nm->gen;
		return;
	}
	if (d->naddrs == d->addrs_cap) {
		if (d->addrs_cap >= NETMON_ADDRS_MAX) {
			if (!nm->untracked++)
				log_warn("netdev '%s': more than %d addresses; "
					 "the others are not tracked",
				    d->name, NETMON_ADDRS_MAX);
			return;
		}
		grown = realloc(d->addrs,
		    sizeof(*grown) * (d->addrs_cap ? d->addrs_cap * 2 : 8));
		if (!grown)
			return;
		d->addrs = grown;
		d->addrs_cap = d->addrs_cap ? d->addrs_cap * 2 : 8;
	}
	d->addrs[d->naddrs++] = a;
	emit(b, CUB_NETDEV_ADDR_ADDED, d, NULL, &a);
}

static int
dump_request(struct netmon *nm, uint16_t type)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = {
	    .h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
		.nlmsg_type = type,
		.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nlmsg_seq = ++nm->seq},
	    .g = {.rtgen_family = AF_UNSPEC},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	nm->dump_seq = req.h.nlmsg_seq;
	nm->dump_intr = false;
	if (sendto(nm->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel,
		sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/* Start a full dump (links, then addresses): what it does not list goes. */
static void
dump_start(struct netmon *nm)
{
	int r;

	nm->gen++;
	nm->resync = false;
	if ((r = dump_request(nm, RTM_GETLINK))) {
		log_errno(r, "netdevs: rtnetlink dump request");
		nm->resync = true; /* the next pass tries again */
		nm->dumping = NM_IDLE;
		return;
	}
	nm->dumping = NM_LINKS;
}

/* The end of a dump part: sweep what it did not list. */
static void
dump_done(struct broker *b)
{
	struct netmon *nm = b->nm;
	struct netdev *d, *next;
	unsigned i;
	int r;

	if (nm->dumping == NM_LINKS) {
		for (d = nm->devs; d && !nm->dump_intr; d = next) {
			next = d->next;
			if (d->gen != nm->gen)
				dev_remove(b, d);
		}
		if ((r = dump_request(nm, RTM_GETADDR))) {
			log_errno(r, "netdevs: rtnetlink dump request");
			nm->dumping = NM_IDLE;
			nm->resync = true;
			return;
		}
		nm->dumping = NM_ADDRS;
		return;
	}
	for (d = nm->devs; d && !nm->dump_intr; d = d->next)
		for (i = 0; i < d->naddrs;)
			if (d->addrs[i].gen != nm->gen)
				addr_drop(b, d, &d->addrs[i]);
			else
				i++;
	nm->dumping = NM_IDLE;
	if (nm->dump_intr && !nm->synced)
		return; /* the first dump again: the table is not complete */
	if (!nm->synced)
		log_info("netdevs: %u tracked", nm->ndevs);
	nm->synced = true;
	/* Made at the first dump (adopted programs' map taken later, at
	 * their adoption); a re-dump: as the table. */
	if (nm->addrs_fd < 0)
		netmon_host_addrs(b, true);
	else
		haddr_sync(nm);
}

static void
on_message(struct broker *b, const struct nlmsghdr *h)
{
	struct netmon *nm = b->nm;
	bool ours = h->nlmsg_pid == nm->portid && nm->portid;

	if (ours && h->nlmsg_seq != nm->dump_seq)
		return; /* an abandoned dump's */
	if (ours && (h->nlmsg_flags & NLM_F_DUMP_INTR))
		nm->resync = nm->dump_intr = true;
	/* A change while a dump part runs: the part may have skipped an
	 * entry that exists (the kernel's address dump resumes by
	 * position, and does not always flag it). */
	if (!ours && nm->dumping != NM_IDLE && h->nlmsg_type >= RTM_NEWLINK &&
	    h->nlmsg_type <= RTM_DELADDR)
		nm->resync = nm->dump_intr = true;
	switch (h->nlmsg_type) {
	case NLMSG_DONE:
		if (ours && nm->dumping != NM_IDLE)
			dump_done(b);
		break;
	case NLMSG_ERROR:
		if (ours && nm->dumping != NM_IDLE) {
			log_warn("netdevs: rtnetlink refused a dump; again");
			nm->dumping = NM_IDLE;
			nm->resync = true;
		}
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(b, h);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(b, h);
		break;
	default:
		break;
	}
}

/*
 * Read at most NETMON_BUDGET datagrams; main thread, b->state_lock held.
 * true: there may be more (the loop comes back without sleeping).
 */
bool
netmon_poll(struct broker *b)
{
	static char buf[64 << 10] __attribute__((aligned(4)));
	struct netmon *nm = b->nm;
	const struct nlmsghdr *h;
	unsigned i;
	ssize_t n;
	int len;

	if (!nm)
		return false;
	for (i = 0; i < NETMON_BUDGET; i++) {
		n = recv(nm->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			/* Events were lost: dump everything again. */
			nm->overruns++;
			if (nm->dumping != NM_IDLE)
				nm->dump_intr = true;
			if (nm->overruns == 1 || !(nm->overruns % 100))
				log_warn("netdevs: rtnetlink overrun (%llu so "
					 "far); re-reading every netdev",
				    (unsigned long long)nm->overruns);
			nm->resync = true;
			continue;
		}
		if (n <= 0)
			break;
		len = (int)n;
		for (h = (const struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len))
			on_message(b, h);
	}
	if (nm->resync && nm->dumping == NM_IDLE)
		dump_start(nm);
	return i == NETMON_BUDGET;
}

int
netmon_fd(const struct broker *b)
{
	return b->nm ? b->nm->fd : -1;
}

int
netmon_init(struct broker *b)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
	    .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
	socklen_t salen = sizeof(sa);
	int64_t deadline = now_ms() + NETMON_INIT_MS;
	struct netmon *nm;
	int rcvbuf = (int)(b->o.netlink_rcvbuf ?: NETMON_RCVBUF), r;
	struct pollfd pfd;

	if (!(nm = calloc(1, sizeof(*nm))))
		return -ENOMEM;
	nm->addrs_fd = -1;
	nm->fd = socket(
	    AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (nm->fd < 0) {
		r = -errno;
		free(nm);
		return log_errno(r, "netdevs: rtnetlink socket");
	}
	/* As root, past rmem_max; an overrun only costs a re-dump. */
	if (setsockopt(
		nm->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(
		    nm->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(nm->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(nm->fd, (struct sockaddr *)&sa, &salen)) {
		r = -errno;
		close(nm->fd);
		free(nm);
		return log_errno(r, "netdevs: bind rtnetlink socket");
	}
	nm->portid = sa.nl_pid;
	b->nm = nm;
	/* The first dump, before any client: ports' status needs it. */
	dump_start(nm);
	while (!nm->synced && now_ms() < deadline) {
		pfd = (struct pollfd){.fd = nm->fd, .events = POLLIN};
		poll(&pfd, 1, 100);
		netmon_poll(b);
	}
	if (!nm->synced)
		log_warn("netdevs: no full rtnetlink dump within %d ms; "
			 "the table fills as the dump goes on",
		    NETMON_INIT_MS);
	return 0;
}

void
netmon_fini(struct broker *b)
{
	struct netmon *nm = b->nm;
	struct netdev *d;
	struct service *s;

	for (s = b->svcs; s; s = s->next) {
		free(s->netq);
		s->netq = NULL;
	}
	if (!nm)
		return;
	while ((d = nm->devs)) {
		nm->devs = d->next;
		dev_free(d);
	}
	close(nm->fd);
	if (nm->addrs_fd >= 0)
		close(nm->addrs_fd);
	free(nm);
	b->nm = NULL;
}

/*
 * A tenant's plugin should not see every netdev of the host because it
 * asked: CUB_NETDEV_HOST holds only for the services the administrator
 * named (--host-netdev-events); the others get their ports' events, and
 * the broker says so once per hello.  Worker-call thread.
 */
uint32_t
netmon_hello_mask(struct service *s, uint32_t asked)
{
	const char *l = s->b->o.host_netdev_events, *e;
	size_t n = strlen(s->name);

	if (!(asked & CUB_NETDEV_HOST))
		return asked;
	for (; l && *l; l = *e ? e + 1 : e) {
		e = strchrnul(l, ',');
		if ((size_t)(e - l) == n && !strncmp(l, s->name, n))
			return asked;
	}
	if (svc_log_allowed(s))
		log_warn("service '%s': asks for every netdev's events, which "
			 "--host-netdev-events does not allow it; it gets "
			 "those of its cubes' ports",
		    s->name);
	return asked & ~CUB_NETDEV_HOST;
}

/*
 * netdev.list: the table's netdevs (ifindex, raw name, up) for a worker
 * whose service has every netdev's events (a host firewall resolving -i
 * names at compile time, then following the events): the same opt-ins
 * as CUB_NETDEV_HOST, for the same reason.  Worker-call thread: takes
 * b->state_lock (held by nobody who waits for this thread: request
 * threads drop it while they wait for their worker, sup_call()).
 */
int
netmon_list_call(struct service *s, const struct cub_val *params,
    struct cub_val **res, struct cub_val **errv)
{
	struct broker *b = s->b;
	struct cub_val *arr, *e, *m;
	struct netdev *d;

	(void)params;
	if (!(__atomic_load_n(&s->netdev_events, __ATOMIC_ACQUIRE) &
		CUB_NETDEV_HOST)) {
		*errv = cub_err_val(CUB_E_PERM,
		    "netdev.list: service '%s' may not list the host's "
		    "netdevs (it must ask for CUB_NETDEV_HOST and be named "
		    "in cubicled --host-netdev-events)",
		    s->name);
		return -EPERM;
	}
	pthread_mutex_lock(&b->state_lock);
	if (!b->nm) {
		pthread_mutex_unlock(&b->state_lock);
		*errv = cub_err_val(CUB_E_UNAVAIL,
		    "netdev.list: the broker has no rtnetlink socket");
		return -EAGAIN;
	}
	arr = cub_val__array();
	for (d = b->nm->devs; arr && d; d = d->next) {
		e = cub_val__map();
		if (!e ||
		    cub_val__set(
			e, "ifindex", cub_val__uint((uint64_t)d->ifindex)) ||
		    cub_val__set(e, "name",
			cub_val__bin(d->name, strnlen(d->name, IF_NAMESIZE))) ||
		    cub_val__set(e, "up", cub_val__bool(dev_up(d)))) {
			cub_val__free(e);
			arr = cub_val__free(arr);
		} else if (cub_val__push(arr, e)) { /* e freed */
			arr = cub_val__free(arr);
		}
	}
	pthread_mutex_unlock(&b->state_lock);
	m = arr ? cub_val__map() : NULL;
	if (!m)
		cub_val__free(arr);
	if (!m || cub_val__set(m, "netdevs", arr)) { /* arr freed */
		cub_val__free(m);
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	*res = m;
	return 0;
}

/* Netdev events queued for the service; b->state_lock held. */
bool
netmon_pending(struct broker *b, struct service *s)
{
	(void)b;
	return s->netq && s->netq->len;
}

/*
 * A netdev name as a string of at most max bytes: the kernel takes any
 * byte but '/', ':' and white space in one, and what is not printable
 * UTF-8 would make the whole message refused (netdevs show for every
 * client, a batch of events for a worker): such bytes go escaped, cut at
 * a whole escape.  The name kept here stays raw; ifindex is the identity.
 */
static struct cub_val *
name_val(const char *name, size_t max)
{
	char buf[4 * IF_NAMESIZE + 1];

	if (max >= sizeof(buf))
		max = sizeof(buf) - 1;
	cubi_text_escape(buf, max + 1, name, strlen(name));
	return cub_val__str(buf);
}

static struct cub_val *
event_val(const struct netq_item *it)
{
	const struct cub_netdev_event *ev = &it->ev;
	struct cub_val *e = cub_val__map();

	cub_val__set(e, "cube", cub_val__str(it->cube));
	cub_val__set(e, "port", cub_val__str(ev->port));
	cub_val__set(e, "kind", cub_val__str(cub_netdev_kind__str(ev->kind)));
	cub_val__set(e, "ifindex", cub_val__uint(ev->ifindex));
	cub_val__set(e, "name", name_val(ev->name, sizeof(ev->name) - 1));
	if (ev->old_name[0])
		cub_val__set(e, "old_name",
		    name_val(ev->old_name, sizeof(ev->old_name) - 1));
	cub_val__set(e, "mac", cub_val__bin(ev->mac, sizeof(ev->mac)));
	cub_val__set(e, "mtu", cub_val__uint(ev->mtu));
	cub_val__set(e, "up", cub_val__bool(ev->up));
	if (ev->family) {
		cub_val__set(e, "family", cub_val__uint(ev->family));
		cub_val__set(e, "prefixlen", cub_val__uint(ev->prefixlen));
		cub_val__set(e, "addr",
		    cub_val__bin(ev->addr, ev->family == AF_INET ? 4 : 16));
	}
	return e;
}

/*
 * Up to NETQ_BATCH queued events in one netdev.event.  The service's
 * request thread, b->state_lock held (dropped while the worker queues
 * them).
 */
void
netmon_deliver(struct broker *b, struct service *s)
{
	struct netq *q = s->netq;
	struct cub_val *params, *arr, *res = NULL, *errv = NULL;
	uint64_t queued = 0;
	unsigned i, n;

	if (!q || !q->len)
		return;
	n = q->len < NETQ_BATCH ? q->len : NETQ_BATCH;
	arr = cub_val__array();
	for (i = 0; i < n; i++)
		cub_val__push(arr, event_val(&q->q[(q->head + i) % NETQ_MAX]));
	q->head = (q->head + n) % NETQ_MAX;
	q->len -= n;
	if (!s->ready) {
		cub_val__free(arr);
		q->dropped += n;
		return;
	}
	params = cub_val__map();
	cub_val__set(params, "events", arr);
	/* So the worker knows events were lost (cub_netdev_event.lost). */
	cub_val__set(params, "dropped", cub_val__uint(q->dropped));
	if (!sup_call(s, CUB_M_NETDEV_EVENT, params, &res, &errv,
		b->o.call_timeout_ms) &&
	    !cub_val__as_u64(cub_val__get(res, "queued"), &queued) &&
	    queued > n)
		queued = n;
	cub_val__free(res);
	cub_val__free(errv);
	/* s->netq stays: only netmon_fini() frees it. */
	q->sent += queued;
	q->dropped += n - queued;
}

/* The service's counts, for 'cubicle services'; b->state_lock held. */
void
netmon_service_stats(const struct service *s, uint64_t *sent, uint64_t *dropped,
    uint64_t *queued)
{
	*sent = s->netq ? s->netq->sent : 0;
	*dropped = s->netq ? s->netq->dropped : 0;
	*queued = s->netq ? s->netq->len : 0;
}

/* What uses d: "cube:port" of each port attached to it, comma-separated. */
static void
used_by(struct broker *b, const struct netdev *d, char *buf, size_t len)
{
	struct cube *c;
	struct bport *p;
	size_t n = 0;
	int w;

	buf[0] = '\0';
	for (c = b->cubes; c; c = c->next)
		for (p = c->ports; p; p = p->next) {
			/* A tenant sees its own cubes only. */
			if (p->cube_peer || !p->peer[0] || !api_sees(c) ||
			    (p->ifindex != d->ifindex &&
				(p->ifindex || strcmp(p->peer, d->name))))
				continue;
			w = snprintf(buf + n, len - n, "%s%s:%s", n ? "," : "",
			    c->name, p->name);
			if (w < 0 || (size_t)w >= len - n)
				return;
			n += (size_t)w;
		}
	/* A transparent stack: another's cube in it is "(not yours)". */
	tcube_used_by(b, d->name, buf, len, &n);
}

static int
dev_cmp(const void *a, const void *b)
{
	const struct netdev *x = *(struct netdev *const *)a;
	const struct netdev *y = *(struct netdev *const *)b;

	return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

/*
 * netdevs [show] | show netdevs: every netdev of the namespace by
 * ifindex: {name, ifindex, mac, mtu, state, addresses, used_by}, and the
 * table's own counts.  b->state_lock held.
 */
int
netmon_show(struct broker *b, const struct cub_val *words,
    struct cub_val **result, struct cub_val **errv)
{
	struct netmon *nm = b->nm;
	struct cub_val *arr, *e, *addrs;
	struct netdev **v, *d;
	char buf[1024];
	unsigned i, j, n = 0;

	(void)words;
	if (!nm) {
		*errv = cub_err_val(CUB_E_UNAVAIL,
		    "netdevs: the broker has no rtnetlink socket");
		return -EAGAIN;
	}
	if (!(v = calloc(nm->ndevs + 1, sizeof(*v)))) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	for (d = nm->devs; d; d = d->next)
		v[n++] = d;
	qsort(v, n, sizeof(*v), dev_cmp);
	arr = cub_val__array();
	for (i = 0; i < n; i++) {
		d = v[i];
		/* A tenant's show: the netdevs granted to it. */
		if (api_tenant() && !tenant_netdev_ok(api_tenant(), d->name))
			continue;
		e = cub_val__map();
		cub_val__set(e, "name", name_val(d->name, 4 * IF_NAMESIZE));
		cub_val__set(e, "ifindex", cub_val__uint((uint64_t)d->ifindex));
		fmt_mac(d->mac, buf, sizeof(buf));
		cub_val__set(e, "mac", cub_val__str(buf));
		cub_val__set(e, "mtu", cub_val__uint(d->mtu));
		cub_val__set(
		    e, "state", cub_val__str(dev_up(d) ? "UP" : "DOWN"));
		addrs = cub_val__array();
		for (j = 0; j < d->naddrs; j++) {
			fmt_addr(&d->addrs[j], buf, sizeof(buf));
			cub_val__push(addrs, cub_val__str(buf));
		}
		cub_val__set(e, "addresses", addrs);
		used_by(b, d, buf, sizeof(buf));
		cub_val__set(e, "used_by", cub_val__str(buf));
		cub_val__push(arr, e);
	}
	free(v);
	*result = arr;
	return 0;
}

/* netdevs stats: the table's counts (tests and operators). */
struct cub_val *
netmon_stats(struct broker *b)
{
	struct netmon *nm = b->nm;
	struct cub_val *m = cub_val__map();

	cub_val__set(m, "netdevs", cub_val__uint(nm ? nm->ndevs : 0));
	cub_val__set(m, "overruns", cub_val__uint(nm ? nm->overruns : 0));
	cub_val__set(m, "untracked", cub_val__uint(nm ? nm->untracked : 0));
	cub_val__set(m, "synced", cub_val__bool(nm && nm->synced));
	cub_val__set(m, "dumping", cub_val__bool(nm && nm->dumping));
	return m;
}
