// SPDX-License-Identifier: BSD-2-Clause
/*
 * Client and events connections: who may hold one, for how long, and the
 * bytes in and out (docs/architecture.md, Security: client connections).
 *
 * The broker serves its client (REP) and events (PUB) sockets itself,
 * with nng's SP-over-IPC wire protocol (spsrv.c) on plain AF_UNIX stream
 * sockets: clients dial them with nng REQ and SUB sockets as before.  A
 * connection the broker drops is close(2)d there and then, so its fd is
 * free at once: no library thread closes it later.
 *
 * One epoll set holds both listeners and every connection; the main loop
 * polls its fd and calls clients_poll(), which accepts (until EAGAIN),
 * reads (exactly what the next step needs, so a readable fd always means
 * unread input), hands complete requests to api_handle() and writes what
 * replies left queued.  Replies and events come from any thread: they are
 * queued on their connection and written at once as far as the socket
 * takes them, under c->lock; what is left is written when epoll says the
 * socket has room.  c->lock guards both tables, every connection's fd
 * and queues; it is held for non-blocking system calls only, never while
 * a request is served, and nothing is taken under it.  Every close(2) of
 * a connection happens under it, so no thread writes to an fd reused
 * since.
 *
 * Each socket has a table of at most --max-clients connections (peer pid
 * by SO_PEERCRED, last activity).  A connection past the table's size, or
 * past CONNS_PER_PROCESS from one process, does not lock anyone out: the
 * least recently active connection of the process holding the most is
 * closed to make room.  A client connection that sends more than
 * CLIENT_BURST requests within a second ahead of their replies (while
 * one is unanswered or its reply not yet written) cannot be reading its
 * replies in step; it is closed and its process refused new connections
 * for CLIENT_PENALTY_MS.  One that waits for each reply is never closed
 * for its rate.  One that leaves REPLY_QUEUE replies (or
 * REPLY_QUEUE_BYTES) unread beyond what its socket buffer took is closed;
 * a subscriber that leaves EVENT_QUEUE events (or EVENT_QUEUE_BYTES)
 * unread misses the next ones (a PUB drops, as nng's does).  A connection that
 * sends no SP header within HELLO_MS is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "cubicle/proto.h"
#include "cubicle/val.h"
#include "log.h"
#include "spsrv.h"

#define CONNS_PER_PROCESS 32
/* A uid at its cap gives up a connection idle this long, or is refused. */
#define UID_IDLE_MS 1000
#define CLIENT_BURST 1000
#define CLIENT_PENALTY_MS 1000
#define PENALTIES 16
#define REPLY_QUEUE 64 /* replies queued per client connection */
#define REPLY_QUEUE_BYTES (4 * (size_t)CUB_MSG_MAX) /* (one always fits) */
#define EVENT_QUEUE 256 /* events queued per subscriber */
#define EVENT_QUEUE_BYTES (1u << 20)
#define HELLO_MS 10000      /* to send the SP header */
#define BODY_MS 10000       /* to finish a message once its length came */
/* Unfinished messages over BIG_BODY bytes are held at most HELD_MAX bytes
 * in all (a client that sends all of an 8 MiB message but its last byte,
 * from every connection it may have, held gigabytes). */
#define BIG_BODY 65536
#define HELD_MAX (16 * (size_t)CUB_MSG_MAX)
#define SUB_INPUT_MAX 65536 /* bytes a subscriber may send (it sends none) */
#define BACKTRACE_MAX 8     /* 4-byte words before the request id (nng's TTL) */
#define ACCEPT_MAX 4096     /* accepts per call (the backlog is SOMAXCONN) */
#define ACCEPT_PAUSE_MS 100 /* out of fds: listen again after this */
#define CONN_BATCH 4        /* requests read from one connection per call */
#define EVENTS_BATCH 64     /* epoll events per call */
/* Up to twice the cap a message gets a clear error from the decoder;
 * past that, the connection is closed. */
#define CLIENT_MSG_MAX (2 * (size_t)CUB_MSG_MAX + 4 * BACKTRACE_MAX + 4)

/* epoll data: bit 63 the table, bit 62 a listener, else a connection id
 * (generation (30 bits) << 32 | slot + 1). */
#define EP_EVENTS (1ULL << 63)
#define EP_LISTENER (1ULL << 62)
#define GEN_MASK 0x3fffffffU

struct conn {
	bool used;
	bool want_out; /* EPOLLOUT armed: its queue waits for room */
	uint32_t gen;
	unsigned pos; /* index in live[] */
	int fd;
	uint64_t pid;
	uint32_t uid;
	enum client_role role;
	const struct tenant *tenant; /* ROLE_TENANT's */
	bool pick; /* scratch for victim() */
	int64_t start_ms; /* accepted */
	int64_t last_ms;  /* last request (or the connect) */
	int64_t win_ms;   /* start of the current one-second window */
	unsigned nwin;    /* requests in it */
	unsigned nahead;  /* of those, sent before the last reply was out */
	unsigned unanswered; /* requests read, their replies not queued */
	int64_t body_ms; /* its unfinished message's length came, or 0 */
	/* Not read until then (its tenant's rps refused it: quota.c), 0. */
	int64_t hold_ms;
	size_t held;     /* of it counted in clients.held (over BIG_BODY) */
	struct sp_rx rx;
	struct sp_txq tx;
};

struct penalty {
	uint64_t pid;
	int64_t until_ms;
};

struct pid_count {
	uint64_t pid;
	unsigned n;
};

struct conn_table {
	const char *what; /* "client", "events" */
	uint64_t tag;     /* 0 or EP_EVENTS */
	uint16_t self, peer;
	size_t max_msg;
	int lfd;
	char path[PATH_MAX];
	int64_t paused_until; /* listener out of epoll until then (no fds) */
	struct conn *pool;    /* cap + 1 slots */
	unsigned *live, n;    /* slots in use */
	unsigned *free, nfree;
	unsigned cap;
	unsigned per_uid; /* connections of one uid at most */
	struct pid_count *counts; /* hsize slots, scratch for victim() */
	unsigned hsize;
	uint64_t evicted, refused, bad, silent, nofd, norole, uid_full;
	struct penalty penalties[PENALTIES];
	unsigned penalty_next;
};

struct clients {
	pthread_mutex_t lock;
	int ep;
	int spare; /* an fd given up to accept-and-close when out of fds */
	int64_t sweep_ms; /* next look for silent connections, 0: none */
	size_t held;      /* bytes of unfinished big messages, all tables */
	/* Who may connect, and as what (peer_role()); -1: no such group. */
	gid_t socket_gid, admin_gid, gateway_gid;
	const struct tenant *tenants; /* --tenants (b->tenants) */
	unsigned ntenants;
	struct conn_table client, events;
	uint64_t dropped, unread, failed, ev_dropped;
};

/* True for the 1st, 2nd, 4th, 8th... event: logs that cannot flood. */
static bool
log_due(uint64_t n)
{
	return n && !(n & (n - 1));
}

static uint64_t
conn_id(const struct conn_table *t, const struct conn *k)
{
	return (uint64_t)(k->gen & GEN_MASK) << 32 |
	       (uint64_t)(k - t->pool + 1);
}

/* Under c->lock: the connection id names, or NULL if it is gone. */
static struct conn *
conn_get(struct conn_table *t, uint64_t id)
{
	uint32_t i = (uint32_t)id;
	struct conn *k;

	if (!i || i > t->cap + 1)
		return NULL;
	k = &t->pool[i - 1];
	return k->used && (k->gen & GEN_MASK) == (uint32_t)(id >> 32) ? k
								      : NULL;
}

/* Under c->lock: close k at once and free its slot. */
static void
conn_close(struct clients *c, struct conn_table *t, struct conn *k)
{
	unsigned last;

	epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	sp_rx_free(&k->rx);
	c->held -= k->held;
	k->held = 0;
	k->body_ms = 0;
	sp_txq_free(&k->tx);
	last = t->live[--t->n];
	t->live[k->pos] = last;
	t->pool[last].pos = k->pos;
	k->used = false;
	k->gen++;
	t->free[t->nfree++] = (unsigned)(k - t->pool);
}

static unsigned
pid_hash(uint64_t pid)
{
	return (unsigned)((pid * 0x9e3779b97f4a7c15ULL) >> 32);
}

/* Under c->lock: count, in t->counts, the connections per key (a pid, or
 * a uid when by_uid) of those that pass keep(); the most any key holds. */
static unsigned
count_by(struct conn_table *t, bool by_uid,
    bool (*keep)(struct conn_table *, const struct conn *, uint64_t),
    uint64_t arg)
{
	unsigned i, h, most = 0;
	struct conn *k;
	uint64_t key;

	memset(t->counts, 0, t->hsize * sizeof(*t->counts));
	for (i = 0; i < t->n; i++) {
		k = &t->pool[t->live[i]];
		if (!keep(t, k, arg))
			continue;
		key = by_uid ? k->uid : k->pid;
		h = pid_hash(key) & (t->hsize - 1);
		while (t->counts[h].n && t->counts[h].pid != key)
			h = (h + 1) & (t->hsize - 1);
		t->counts[h].pid = key;
		if (++t->counts[h].n > most)
			most = t->counts[h].n;
	}
	return most;
}

/* Under c->lock: what count_by() counted for key. */
static unsigned
count_of(const struct conn_table *t, uint64_t key)
{
	unsigned h = pid_hash(key) & (t->hsize - 1);

	while (t->counts[h].n && t->counts[h].pid != key)
		h = (h + 1) & (t->hsize - 1);
	return t->counts[h].n;
}

static bool
keep_all(struct conn_table *t, const struct conn *k, uint64_t arg)
{
	(void)t, (void)k, (void)arg;
	return true;
}

static bool
keep_uid(struct conn_table *t, const struct conn *k, uint64_t uid)
{
	(void)t;
	return k->uid == uid;
}

static bool
keep_pid(struct conn_table *t, const struct conn *k, uint64_t pid)
{
	(void)t;
	return k->pid == pid;
}

/* Under c->lock: marks in k->pick the connections of the uids holding the
 * most (all of them: a tie must not fall on whichever comes first). */
static unsigned
mark_top_uids(struct conn_table *t)
{
	unsigned i, most = count_by(t, true, keep_all, 0), n = 0;
	struct conn *k;

	for (i = 0; i < t->n; i++) {
		k = &t->pool[t->live[i]];
		k->pick = count_of(t, k->uid) == most;
		n += k->pick;
	}
	return n;
}

static bool
keep_picked(struct conn_table *t, const struct conn *k, uint64_t arg)
{
	(void)t, (void)arg;
	return k->pick;
}

/*
 * Under c->lock: the least recently active connection, among those that
 * pass keep(), of the processes holding the most of them.
 */
static struct conn *
lru_of_top_pid(struct conn_table *t,
    bool (*keep)(struct conn_table *, const struct conn *, uint64_t),
    uint64_t arg)
{
	unsigned i, most = count_by(t, false, keep, arg);
	struct conn *k, *v = NULL;

	for (i = 0; i < t->n; i++) {
		k = &t->pool[t->live[i]];
		if (keep(t, k, arg) && count_of(t, k->pid) == most &&
		    (!v || k->last_ms < v->last_ms))
			v = k;
	}
	return v;
}

/*
 * Under c->lock: the connection to give up for a newcomer from pid of
 * uid, or NULL if there is room, and in *why which cap it is.  Past the
 * process's own cap, its least recently active connection; past its
 * uid's, that of the uid's process holding the most, unless the
 * newcomer's process holds some already and that one was active within
 * UID_IDLE_MS (then *refuse: the uid's connections are in use, and
 * closing one only makes its client dial again); past the table's
 * size, that of the process holding the most of the uid holding the
 * most.  A uid with few connections is never the one to give way while
 * another holds more.
 */
static struct conn *
victim(struct conn_table *t, uint64_t pid, uint32_t uid, int64_t now,
    const char **why, bool *refuse)
{
	unsigned i, same_pid = 0, same_uid = 0;
	struct conn *k, *v;

	*refuse = false;
	for (i = 0; i < t->n; i++) {
		k = &t->pool[t->live[i]];
		same_pid += k->pid == pid;
		same_uid += k->uid == uid;
	}
	if (same_pid >= CONNS_PER_PROCESS) {
		*why = "per process";
		return lru_of_top_pid(t, keep_pid, pid);
	}
	if (same_uid >= t->per_uid) {
		*why = "per uid";
		v = lru_of_top_pid(t, keep_uid, uid);
		/* A process of the uid that holds connections already asks
		 * for more; a new one (a CLI) always gets in. */
		if (v && same_pid && now - v->last_ms < UID_IDLE_MS) {
			*refuse = true;
			return NULL;
		}
		return v;
	}
	if (t->n < t->cap)
		return NULL;
	*why = "in all";
	mark_top_uids(t);
	return lru_of_top_pid(t, keep_picked, 0);
}

/* Under c->lock: arm EPOLLOUT on k or not, as its queue needs. */
static void
conn_want_out(struct clients *c, struct conn_table *t, struct conn *k, bool on)
{
	struct epoll_event ev = {
	    .events = (k->hold_ms ? 0 : EPOLLIN) | (on ? EPOLLOUT : 0),
	    .data.u64 = t->tag | conn_id(t, k)};

	if (k->want_out == on)
		return;
	if (!epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev))
		k->want_out = on;
}

/* Under c->lock: write what k's socket takes.  False: k was closed. */
static bool
conn_flush(struct clients *c, struct conn_table *t, struct conn *k)
{
	int r = sp_txq_flush(&k->tx, k->fd);

	if (r && r != -EAGAIN) {
		conn_close(c, t, k);
		return false;
	}
	conn_want_out(c, t, k, r == -EAGAIN);
	return true;
}

/* Under c->lock: out of fds on accept.  Shed the waiting connection with
 * the spare fd, and stop listening for ACCEPT_PAUSE_MS. */
static void
accept_nofd(struct clients *c, struct conn_table *t, int err)
{
	uint64_t n = ++t->nofd;
	int fd;

	if (c->spare >= 0) {
		close(c->spare);
		c->spare = -1;
		if ((fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			sp_hello_send(fd, t->self); /* see admit() */
			close(fd);
		}
		c->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	epoll_ctl(c->ep, EPOLL_CTL_DEL, t->lfd, NULL);
	t->paused_until = now_ms() + ACCEPT_PAUSE_MS;
	if (!c->sweep_ms || c->sweep_ms > t->paused_until)
		c->sweep_ms = t->paused_until;
	if (log_due(n))
		log_warn("%s socket: cannot accept a connection: %s; closed "
			 "it, listening again in %d ms (%" PRIu64 " so far)",
		    t->what, strerror(err), ACCEPT_PAUSE_MS, n);
}

/* Under c->lock: take one new connection fd from pid of uid, with its
 * role, into t. */
static bool
admit(struct clients *c, struct conn_table *t, int fd, uint64_t pid,
    uint32_t uid, enum client_role role, const struct tenant *tenant)
{
	const char *why = "";
	int64_t now = now_ms();
	struct epoll_event ev = {.events = EPOLLIN};
	struct conn *k, *v;
	uint64_t n, vpid;
	uint32_t vuid;
	bool refuse = false;
	unsigned i, nopen;

	for (i = 0; i < PENALTIES && !refuse; i++)
		refuse = t->penalties[i].pid == pid &&
			 now < t->penalties[i].until_ms;
	if (refuse) {
		/* Our header first: an nng dialer whose handshake the close
		 * cut short may never dial again (it takes that for its own
		 * close); one that saw a connection closed redials. */
		sp_hello_send(fd, t->self);
		close(fd);
		n = ++t->refused;
		if (log_due(n))
			log_warn("%s connection from pid %" PRIu64 " refused: "
				 "a recent drop for not reading (%" PRIu64
				 " refused so far)",
			    t->what, pid, n);
		return false;
	}
	if (!(v = victim(t, pid, uid, now, &why, &refuse)) && refuse) {
		sp_hello_send(fd, t->self); /* see above */
		close(fd);
		n = ++t->uid_full;
		if (log_due(n))
			log_warn("%s connection from pid %" PRIu64 " (uid %" PRIu32
				 ") refused: the uid holds %u connections, "
				 "all active within %d ms (%" PRIu64
				 " refused so far)",
			    t->what, pid, uid, t->per_uid, UID_IDLE_MS, n);
		return false;
	}
	if (v) {
		vpid = v->pid;
		vuid = v->uid;
		conn_close(c, t, v);
		n = ++t->evicted;
		nopen = t->n + 1;
		if (log_due(n))
			log_warn("too many %s connections %s (%u open, at "
				 "most %u, %u per uid, %d per process): "
				 "closed the least recently active one of "
				 "pid %" PRIu64 " (uid %" PRIu32
				 ") for pid %" PRIu64 " (uid %" PRIu32
				 ") (%" PRIu64 " closed so far)",
			    t->what, why, nopen, t->cap, t->per_uid,
			    CONNS_PER_PROCESS, vpid, vuid, pid, uid, n);
	}
	if (sp_hello_send(fd, t->self)) {
		close(fd);
		return false;
	}
	k = &t->pool[t->free[--t->nfree]];
	k->used = true;
	k->want_out = false;
	k->fd = fd;
	k->pid = pid;
	k->uid = uid;
	k->role = role;
	k->tenant = tenant;
	k->start_ms = k->last_ms = k->win_ms = now;
	k->nwin = k->nahead = k->unanswered = 0;
	k->hold_ms = 0;
	memset(&k->rx, 0, sizeof(k->rx));
	sp_txq_init(&k->tx);
	k->pos = t->n;
	t->live[t->n++] = (unsigned)(k - t->pool);
	ev.data.u64 = t->tag | conn_id(t, k);
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev)) {
		log_errno(-errno, "%s connection: epoll", t->what);
		conn_close(c, t, k);
		return false;
	}
	if (!c->sweep_ms || c->sweep_ms > now + HELLO_MS)
		c->sweep_ms = now + HELLO_MS;
	return true;
}

/* Is gid one of the peer's groups (its gid and supplementary ones)? */
static bool
in_group(const gid_t *groups, int ngroups, gid_t primary, gid_t gid)
{
	int i;

	if (primary == gid)
		return true;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * The role of the peer of fd, decided once at accept from SO_PEERCRED
 * and SO_PEERGROUPS (its groups when it connected, not when it sends):
 * uid 0 and --admin-group are admins, a uid or group of --tenants that
 * tenant, --gateway-group gateways, --socket-group readers.  -EACCES:
 * none of them; -ENOTUNIQ: its groups name two tenants.
 */
static int
peer_role(struct clients *c, int fd, const struct ucred *cred,
    enum client_role *role, const struct tenant **tenant)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	int ngroups, r = 0;
	bool ambiguous = false;

	*role = ROLE_ADMIN;
	*tenant = NULL;
	if (cred->uid == 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return -EACCES;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
			free(groups);
			return -EACCES;
		}
	}
	ngroups = (int)(len / sizeof(gid_t));
	if (c->admin_gid != (gid_t)-1 &&
	    in_group(groups, ngroups, cred->gid, c->admin_gid))
		*role = ROLE_ADMIN;
	else if ((*tenant = tenants_of_peer(c->tenants, c->ntenants, cred->uid,
		      cred->gid, (const uint32_t *)groups, (unsigned)ngroups,
		      &ambiguous)))
		*role = ROLE_TENANT;
	else if (ambiguous)
		r = -ENOTUNIQ;
	else if (c->gateway_gid != (gid_t)-1 &&
		 in_group(groups, ngroups, cred->gid, c->gateway_gid))
		*role = ROLE_GATEWAY;
	else if (c->socket_gid != (gid_t)-1 &&
		 in_group(groups, ngroups, cred->gid, c->socket_gid))
		*role = ROLE_READER;
	else
		r = -EACCES;
	if (groups != small)
		free(groups);
	return r;
}

/* Under c->lock: accept until EAGAIN.  True if more may be waiting. */
static bool
accept_all(struct clients *c, struct conn_table *t)
{
	const struct tenant *tenant;
	enum client_role role;
	struct ucred cred;
	socklen_t clen;
	uint64_t n;
	int fd, i, r;

	for (i = 0; i < ACCEPT_MAX; i++) {
		fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_nofd(c, t, errno);
			else if (errno != EAGAIN)
				log_errno(-errno, "%s socket: accept", t->what);
			return false;
		}
		clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
			/* Who it is decides what it may do: no guess. */
			log_errno(-errno, "%s socket: SO_PEERCRED", t->what);
			close(fd);
			continue;
		}
		if ((r = peer_role(c, fd, &cred, &role, &tenant))) {
			n = ++t->norole;
			if (log_due(n))
				log_warn("%s connection from pid %d (uid %u): "
					 "refused: %s (%" PRIu64 " so far)",
				    t->what, (int)cred.pid, (unsigned)cred.uid,
				    r == -ENOTUNIQ
					? "its groups name two tenants "
					  "(--tenants): which one is it?"
					: "not root and in none of the "
					  "socket, admin or gateway groups, "
					  "nor a tenant",
				    n);
			sp_hello_send(fd, t->self); /* see admit() */
			close(fd);
			continue;
		}
		admit(c, t, fd, (uint64_t)cred.pid, (uint32_t)cred.uid, role,
		    tenant);
	}
	return true;
}

int
clients_adopt(struct broker *b, int fd, uint64_t pid, uint32_t uid,
    enum client_role role, const struct tenant *tenant)
{
	struct clients *c = b->cl;
	int fl = fcntl(fd, F_GETFL);
	bool taken;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		close(fd);
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	taken = admit(c, &c->client, fd, pid, uid, role, tenant);
	pthread_mutex_unlock(&c->lock);
	return taken ? 0 : -1;
}

/* Under c->lock: close what sent no SP header in time; listen again
 * where a shortage of fds paused it. */
static void
sweep(struct clients *c, int64_t now)
{
	struct conn_table *ts[] = {&c->client, &c->events};
	struct epoll_event ev = {.events = EPOLLIN};
	int64_t next = 0, due;
	struct conn_table *t;
	struct conn *k;
	unsigned i, j;
	uint64_t n;

	for (j = 0; j < 2; j++) {
		t = ts[j];
		if (t->paused_until && now >= t->paused_until) {
			ev.data.u64 = t->tag | EP_LISTENER;
			epoll_ctl(c->ep, EPOLL_CTL_ADD, t->lfd, &ev);
			t->paused_until = 0;
		} else if (t->paused_until) {
			next = next && next < t->paused_until ? next
							      : t->paused_until;
		}
		for (i = 0; i < t->n;) {
			k = &t->pool[t->live[i]];
			/* A held connection is read again at its time. */
			if (k->hold_ms && now >= k->hold_ms) {
				struct epoll_event in = {
				    .events =
					EPOLLIN | (k->want_out ? EPOLLOUT : 0),
				    .data.u64 = t->tag | conn_id(t, k)};

				k->hold_ms = 0;
				epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &in);
			} else if (k->hold_ms) {
				next = next && next < k->hold_ms ? next
								 : k->hold_ms;
			}
			/* Each connection has one deadline: its SP header, or
			 * the message whose length came. */
			if (k->rx.hello && !k->body_ms) {
				i++;
				continue;
			}
			due = k->rx.hello ? k->body_ms + BODY_MS
					  : k->start_ms + HELLO_MS;
			if (now < due) {
				next = next && next < due ? next : due;
				i++;
				continue;
			}
			n = ++t->silent;
			if (log_due(n))
				log_warn("%s connection from pid %" PRIu64
					 " %s within %d s: closed (%" PRIu64
					 " so far)",
				    t->what, k->pid,
				    k->rx.hello ? "did not finish a message"
						: "sent no SP header",
				    (k->rx.hello ? BODY_MS : HELLO_MS) / 1000, n);
			conn_close(c, t, k); /* live[i] is another now */
		}
	}
	c->sweep_ms = next;
}

/*
 * Under c->lock: find in a request's body the backtrace nng's REQ put
 * first (4-byte words up to one with the high bit set) and keep it in
 * req, with the rate accounting of its connection.  False: there is
 * none, a protocol violation.
 */
static bool
clients_request(struct conn_table *t, struct conn *k, const uint8_t *body,
    size_t len, struct client_req *req)
{
	int64_t now = now_ms();
	size_t i;

	req->conn = conn_id(t, k);
	req->drop = false;
	req->uid = k->uid;
	req->role = k->role;
	req->tenant = k->tenant;
	for (i = 0; i + 4 <= len && i < 4 * BACKTRACE_MAX; i += 4)
		if (body[i] & 0x80)
			break;
	if (i + 4 > len || i >= 4 * BACKTRACE_MAX)
		return false;
	req->hdrlen = i + 4;
	memcpy(req->hdr, body, req->hdrlen);
	k->last_ms = now;
	if (now - k->win_ms >= 1000) {
		k->win_ms = now;
		k->nwin = 0;
		k->nahead = 0;
	}
	k->nwin++;
	/* Only a request sent ahead of a reply (one unanswered, or one
	 * queued and not yet written) counts towards the burst: a client
	 * that waits for each answer reads its replies in step however
	 * fast it goes. */
	if (k->unanswered || k->tx.n)
		k->nahead++;
	k->unanswered++;
	/* The process's rate: one that dials a connection per request
	 * or many at once weighs what it sends, not what one sends. */
	req->recent = 0;
	for (i = 0; i < t->n; i++)
		if (t->pool[t->live[i]].pid == k->pid &&
		    now - t->pool[t->live[i]].win_ms < 1000)
			req->recent += t->pool[t->live[i]].nwin;
	if (k->nahead > CLIENT_BURST) {
		req->drop = true;
		t->penalties[t->penalty_next++ % PENALTIES] =
		    (struct penalty){k->pid, now + CLIENT_PENALTY_MS};
	}
	return true;
}

/* Under c->lock: read nothing more of k until until_ms (sweep()). */
static void
conn_hold(
    struct clients *c, struct conn_table *t, struct conn *k, int64_t until_ms)
{
	struct epoll_event ev = {.events = k->want_out ? EPOLLOUT : 0,
	    .data.u64 = t->tag | conn_id(t, k)};

	k->hold_ms = until_ms;
	epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev);
	if (!c->sweep_ms || c->sweep_ms > until_ms)
		c->sweep_ms = until_ms;
}

/*
 * Under c->lock, main thread: read what k sent, and serve up to
 * CONN_BATCH requests (c->lock released while each is served).  Each
 * costs *budget one.
 */
static void
conn_input(struct broker *b, struct conn_table *t, uint64_t id, int *budget)
{
	struct clients *c = b->cl;
	struct client_req req;
	enum sp_rx_result r;
	struct conn *k;
	uint8_t *body;
	char why[128];
	size_t len;
	uint64_t n;
	int i, hold;

	for (i = 0; i<CONN_BATCH && * budget> 0; i++) {
		if (!(k = conn_get(t, id)))
			return;
		r = sp_rx_read(&k->rx, k->fd, t->peer, t->max_msg, &body, &len,
		    why, sizeof(why));
		switch (r) {
		case SP_RX_AGAIN:
			if (!k->rx.body || k->body_ms)
				return;
			/* A message's length came: it has BODY_MS to arrive,
			 * and a big one must fit in what all may hold. */
			k->body_ms = now_ms();
			if (!c->sweep_ms || c->sweep_ms > k->body_ms + BODY_MS)
				c->sweep_ms = k->body_ms + BODY_MS;
			if (k->rx.len <= BIG_BODY)
				return;
			if (c->held + k->rx.len > HELD_MAX) {
				snprintf(why, sizeof(why),
				    "a message of %zu bytes while clients "
				    "hold %zu bytes of unfinished messages "
				    "(at most %zu)",
				    k->rx.len, c->held, HELD_MAX);
				break;
			}
			k->held = k->rx.len;
			c->held += k->held;
			return;
		case SP_RX_HELLO:
			continue;
		case SP_RX_CLOSED:
			conn_close(c, t, k);
			return;
		case SP_RX_BAD:
			break;
		case SP_RX_MSG:
			c->held -= k->held;
			k->held = 0;
			k->body_ms = 0;
			if (t == &c->events) {
				/* A SUB sends nothing; what it does send is
				 * read and dropped, up to max_msg at a time. */
				free(body);
				continue;
			}
			if (!clients_request(t, k, body, len, &req)) {
				free(body);
				snprintf(why, sizeof(why),
				    "a request of %zu bytes without a "
				    "backtrace (no 4-byte word with the high "
				    "bit set in its first %d)",
				    len, BACKTRACE_MAX);
				break;
			}
			(*budget)--;
			pthread_mutex_unlock(&c->lock);
			api_handle(
			    b, &req, body + req.hdrlen, len - req.hdrlen);
			free(body);
			pthread_mutex_lock(&c->lock);
			/* Refused over its tenant's rps: answered, and its
			 * next request is left unread (in its socket, in
			 * no queue of ours) until a token is due. */
			if ((hold = quota_hold_take()) && (k = conn_get(t, id)))
				conn_hold(c, t, k, now_ms() + hold);
			if (hold)
				return;
			continue;
		}
		/* The first 16, then 32, 64...: each kind is seen. */
		n = ++t->bad;
		if (n <= 16 || log_due(n))
			log_warn("%s connection from pid %" PRIu64 ": %s: "
				 "closed (%" PRIu64 " so far)",
			    t->what, k->pid, why, n);
		conn_close(c, t, k);
		return;
	}
}

/* Main thread, b->state_lock held: accept, read, serve, write. */
bool
clients_poll(struct broker *b)
{
	struct epoll_event evs[EVENTS_BATCH];
	struct clients *c = b->cl;
	struct conn_table *t;
	int budget = EVENTS_BATCH, n, i;
	bool more = false;
	struct conn *k;
	uint64_t d;

	pthread_mutex_lock(&c->lock);
	if (c->sweep_ms && now_ms() >= c->sweep_ms)
		sweep(c, now_ms());
	n = epoll_wait(c->ep, evs, EVENTS_BATCH, 0);
	for (i = 0; i < n; i++) {
		d = evs[i].data.u64;
		t = d & EP_EVENTS ? &c->events : &c->client;
		d &= ~EP_EVENTS;
		if (d & EP_LISTENER) {
			more |= accept_all(c, t);
			continue;
		}
		if ((evs[i].events & EPOLLOUT) && (k = conn_get(t, d)) &&
		    !conn_flush(c, t, k))
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			conn_input(b, t, d, &budget);
			more |= budget <= 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return more || n == EVENTS_BATCH;
}

int
clients_fd(const struct broker *b)
{
	return b->cl->ep;
}

/* Main thread: ms until clients_poll() has something to do by the clock
 * (a silent connection's deadline, a paused listener), or -1. */
int
clients_timeout(struct broker *b)
{
	struct clients *c = b->cl;
	int64_t due, t;

	pthread_mutex_lock(&c->lock);
	due = c->sweep_ms;
	pthread_mutex_unlock(&c->lock);
	if (!due)
		return -1;
	t = due - now_ms();
	return t < 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

static int
table_init(struct clients *c, struct conn_table *t, const char *what,
    const struct broker *b, const char *name, uint16_t self, uint16_t peer,
    uint64_t tag, size_t max_msg)
{
	struct epoll_event ev = {
	    .events = EPOLLIN, .data.u64 = tag | EP_LISTENER};
	unsigned i;

	t->what = what;
	t->tag = tag;
	t->self = self;
	t->peer = peer;
	t->max_msg = max_msg;
	t->cap = b->o.max_clients;
	t->per_uid = b->o.max_clients_per_uid;
	t->lfd = -1;
	for (t->hsize = 1; t->hsize < 2 * (t->cap + 1); t->hsize *= 2)
		;
	t->pool = calloc(t->cap + 1, sizeof(*t->pool));
	t->live = calloc(t->cap + 1, sizeof(*t->live));
	t->free = calloc(t->cap + 1, sizeof(*t->free));
	t->counts = calloc(t->hsize, sizeof(*t->counts));
	if (!t->pool || !t->live || !t->free || !t->counts)
		return log_errno(-ENOMEM, "%s connection table", what);
	for (i = 0; i <= t->cap; i++)
		t->free[t->nfree++] = t->cap - i;
	snprintf(t->path, sizeof(t->path), "%s/%s", b->o.socket_dir, name);
	if ((t->lfd = sp_listen(t->path)) < 0) {
		log_errno(t->lfd, "listen on ipc://%s", t->path);
		t->path[0] = '\0'; /* not ours to remove */
		return -EADDRINUSE;
	}
	/* Root only, or root and the socket group (the kernel checks write
	 * permission on connect). */
	if (b->o.socket_gid != (gid_t)-1 &&
	    chown(t->path, 0, b->o.socket_gid))
		return log_errno(-errno, "chown %s to group %u", t->path,
		    (unsigned)b->o.socket_gid);
	if (chmod(t->path, b->o.socket_gid != (gid_t)-1 ? 0660 : 0600))
		return log_errno(-errno, "chmod %s", t->path);
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, t->lfd, &ev))
		return log_errno(-errno, "%s socket: epoll", what);
	return 0;
}

int
clients_init(struct broker *b)
{
	struct clients *c;

	if (!(b->cl = c = calloc(1, sizeof(*c))))
		return log_errno(-ENOMEM, "client table");
	pthread_mutex_init(&c->lock, NULL);
	c->client.lfd = c->events.lfd = -1;
	c->socket_gid = b->o.socket_gid;
	c->admin_gid = b->o.admin_gid;
	c->gateway_gid = b->o.gateway_gid;
	c->tenants = b->tenants;
	c->ntenants = b->ntenants;
	c->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((c->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return log_errno(-errno, "epoll");
	/* Subscribers get as many slots as clients, apart. */
	if (table_init(c, &c->client, "client", b, CUB_SOCK_CLIENT,
		SP_PROTO_REP, SP_PROTO_REQ, 0, CLIENT_MSG_MAX) ||
	    table_init(c, &c->events, "events", b, CUB_SOCK_EVENTS,
		SP_PROTO_PUB, SP_PROTO_SUB, EP_EVENTS, SUB_INPUT_MAX)) {
		/* Leave no socket file of ours behind a refused start. */
		clients_fini(b);
		return -EADDRINUSE;
	}
	return 0;
}

static void
table_fini(struct clients *c, struct conn_table *t)
{
	while (t->n)
		conn_close(c, t, &t->pool[t->live[0]]);
	if (t->lfd >= 0) {
		close(t->lfd);
		if (t->path[0])
			unlink(t->path);
	}
	free(t->pool);
	free(t->live);
	free(t->free);
	free(t->counts);
}

/* After every thread that may reply is gone. */
void
clients_fini(struct broker *b)
{
	struct clients *c = b->cl;

	if (!c)
		return;
	if (c->ep >= 0) {
		table_fini(c, &c->client);
		table_fini(c, &c->events);
		close(c->ep);
	}
	if (c->spare >= 0)
		close(c->spare);
	free(c);
	b->cl = NULL;
}

/*
 * Send the reply to the request req describes, without blocking: queued
 * on its connection and written as far as the socket takes it.  Any
 * thread, at any time after the request (the connection may be gone by
 * then: the reply is dropped).
 */
int
clients_reply(
    struct broker *b, const struct client_req *req, const void *buf, size_t len)
{
	struct clients *c = b->cl;
	struct conn_table *t = &c->client;
	size_t unread_bytes;
	uint64_t n, pid;
	unsigned unread;
	struct conn *k;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (!(k = conn_get(t, req->conn))) {
		pthread_mutex_unlock(&c->lock);
		return -ECONNRESET;
	}
	pid = k->pid;
	unread = k->tx.n;
	unread_bytes = k->tx.bytes;
	if (k->unanswered)
		k->unanswered--;
	if (req->drop) {
		conn_close(c, t, k);
		pthread_mutex_unlock(&c->lock);
		n = __atomic_add_fetch(&c->dropped, 1, __ATOMIC_RELAXED);
		if (log_due(n))
			log_warn("client connection from pid %" PRIu64 " does "
				 "not read its replies (over %d requests "
				 "within a second): reply dropped, connection "
				 "closed (%" PRIu64 " dropped so far)",
			    pid, CLIENT_BURST, n);
		return -ECONNRESET;
	}
	if (k->tx.n >= REPLY_QUEUE ||
	    (k->tx.n && k->tx.bytes + len > REPLY_QUEUE_BYTES)) {
		conn_close(c, t, k);
		pthread_mutex_unlock(&c->lock);
		n = __atomic_add_fetch(&c->unread, 1, __ATOMIC_RELAXED);
		if (log_due(n))
			log_warn("client connection from pid %" PRIu64 " does "
				 "not read its replies (%u unread, %zu "
				 "bytes): connection closed (%" PRIu64
				 " so far)",
			    pid, unread, unread_bytes, n);
		return -ECONNRESET;
	}
	if ((r = sp_txq_push(&k->tx, req->hdr, req->hdrlen, buf, len)))
		conn_close(c, t, k);
	else if (!conn_flush(c, t, k))
		r = -ECONNRESET;
	pthread_mutex_unlock(&c->lock);
	if (r == -ENOMEM) {
		n = __atomic_add_fetch(&c->failed, 1, __ATOMIC_RELAXED);
		if (log_due(n))
			log_warn("reply to client connection from pid %" PRIu64
				 ": %s; connection closed (%" PRIu64 " so far)",
			    pid, strerror(-r), n);
	}
	return r;
}

/* Is the connection req came on still open?  Any thread. */
bool
clients_alive(struct broker *b, const struct client_req *req)
{
	struct clients *c = b->cl;
	bool alive;

	pthread_mutex_lock(&c->lock);
	alive = conn_get(&c->client, req->conn) != NULL;
	pthread_mutex_unlock(&c->lock);
	return alive;
}

/* Send an event (topic and frame in msg) to every subscriber whose queue
 * has room.  Any thread. */
void
clients_publish(
    struct broker *b, const void *msg, size_t len, const char *owner)
{
	struct clients *c = b->cl;
	struct conn_table *t = &c->events;
	unsigned i, missed = 0;
	struct conn *k;
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < t->n;) {
		k = &t->pool[t->live[i]];
		/* A tenant's subscription: its own cubes' events only. */
		if (!k->rx.hello ||
		    (k->tenant && strcmp(k->tenant->name, owner))) {
			i++;
			continue;
		}
		if (k->tx.n >= EVENT_QUEUE ||
		    (k->tx.n && k->tx.bytes + len > EVENT_QUEUE_BYTES)) {
			missed++;
			i++;
			continue;
		}
		if (sp_txq_push(&k->tx, NULL, 0, msg, len) ||
		    !conn_flush(c, t, k)) {
			if (k->used)
				conn_close(c, t, k);
			continue; /* live[i] is another now */
		}
		i++;
	}
	pthread_mutex_unlock(&c->lock);
	if (missed) {
		n = __atomic_add_fetch(
		    &c->ev_dropped, missed, __ATOMIC_RELAXED);
		/* Logged when the count passes a power of two. */
		if (64 - __builtin_clzll(n) !=
		    (n - missed ? 64 - __builtin_clzll(n - missed) : 0))
			log_warn("%u events subscribers do not read: event "
				 "dropped for them (%" PRIu64 " so far)",
			    missed, n);
	}
}
