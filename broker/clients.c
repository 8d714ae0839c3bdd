// SPDX-License-Identifier: BSD-2-Clause
/*
 * Client and events connections: who may hold one, and for how long.
 *
 * The client socket is a raw REP socket.  nng 1.5.2's cooked REP (rep0)
 * never reaps a connection whose peer sent two requests back to back and
 * closed: its reaper thread waits for good in the pipe's stop, every
 * later connection of every socket then keeps its fd, and nng_close()
 * hangs.  The raw REP (xrep0) re-arms each connection's receive at once
 * and queues replies per connection, dropping those a full queue cannot
 * take, so a close is always seen and the broker never waits.  The
 * request's backtrace header is kept here and put back on its reply.
 * The raw REP has its own trap: a connection's next receive waits until
 * its last request entered the socket's receive queue, and a connection
 * closed while it waits there is never reaped either.  Each connection
 * has at most one request in that queue, so broker.c sizes it (8192,
 * nng's maximum) above the connections the table holds.  A close racing
 * with a request on its way into the queue can still hit it (see
 * docs/architecture.md, Security): the slots below never depend on
 * nng reporting a close, so clients keep being admitted.
 *
 * Each socket has a table of its connections (nng pipe id, peer pid,
 * last activity).  A connection past the table's size, or past
 * CONNS_PER_PROCESS from one process, does not lock anyone out: the
 * least recently active connection of the process holding the most is
 * closed to make room.  Slots are ours: freed when we close a pipe, or
 * when nng reports its close, whichever comes first.  A client
 * connection that sends more than CLIENT_BURST requests within a second
 * cannot be reading its replies in step; it is closed and its process
 * refused new connections for CLIENT_PENALTY_MS.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/transport/ipc/ipc.h>

#include "broker.h"
#include "log.h"

#define CONNS_PER_PROCESS 32
#define CLIENT_BURST 1000
#define CLIENT_PENALTY_MS 1000
#define PENALTIES 16
#define CLIENT_RECVQ 8192 /* NNG_OPT_RECVBUF of the client socket */

struct conn {
	uint32_t id;
	uint64_t pid;
	int64_t last_ms; /* last request (or the connect) */
	int64_t win_ms;  /* start of the current one-second window */
	unsigned nwin;   /* requests in it */
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
	const char *what;         /* "client", "events" */
	struct pid_count *counts; /* hsize slots, scratch for victim() */
	unsigned hsize;
	pthread_mutex_t lock;
	struct conn *conns;
	unsigned n, cap;
	uint64_t evicted, refused;
	struct penalty penalties[PENALTIES];
	unsigned penalty_next;
};

struct clients {
	struct conn_table client, events;
	uint64_t dropped, failed; /* replies not sent (atomic) */
};

/* True for the 1st, 2nd, 4th, 8th... event: logs that cannot flood. */
static bool
log_due(uint64_t n)
{
	return n && !(n & (n - 1));
}

/* Under t->lock: the slot of pipe id, or -1. */
static int
slot_of(struct conn_table *t, uint32_t id)
{
	unsigned i;

	for (i = 0; i < t->n; i++)
		if (t->conns[i].id == id)
			return (int)i;
	return -1;
}

static void
slot_free(struct conn_table *t, uint32_t id)
{
	int i;

	pthread_mutex_lock(&t->lock);
	if ((i = slot_of(t, id)) >= 0)
		t->conns[i] = t->conns[--t->n];
	pthread_mutex_unlock(&t->lock);
}

static unsigned
pid_hash(uint64_t pid)
{
	return (unsigned)((pid * 0x9e3779b97f4a7c15ULL) >> 32);
}

/*
 * Under t->lock: the slot to give up for a newcomer from pid, or -1 if
 * there is room.  Past the process's own cap, its least recently active
 * connection; past the table's size, that of the process holding most.
 */
static int
victim(struct conn_table *t, uint64_t pid)
{
	unsigned i, h, same = 0, most = 0;
	uint64_t vpid = pid;
	int v = -1;

	for (i = 0; i < t->n; i++)
		same += t->conns[i].pid == pid;
	if (same < CONNS_PER_PROCESS && t->n < t->cap)
		return -1;
	if (same < CONNS_PER_PROCESS) {
		/* Connections per process, in an open-addressed table. */
		memset(t->counts, 0, t->hsize * sizeof(*t->counts));
		for (i = 0; i < t->n; i++) {
			h = pid_hash(t->conns[i].pid) & (t->hsize - 1);
			while (t->counts[h].n &&
			       t->counts[h].pid != t->conns[i].pid)
				h = (h + 1) & (t->hsize - 1);
			t->counts[h].pid = t->conns[i].pid;
			if (++t->counts[h].n > most) {
				most = t->counts[h].n;
				vpid = t->conns[i].pid;
			}
		}
	}
	for (i = 0; i < t->n; i++)
		if (t->conns[i].pid == vpid &&
		    (v < 0 || t->conns[i].last_ms < t->conns[v].last_ms))
			v = (int)i;
	return v;
}

/* nng's threads call this as connections come and go. */
static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct conn_table *t = arg;
	uint32_t id = (uint32_t)nng_pipe_id(p), vid = 0;
	uint64_t pid = 0, vpid = 0, n = 0;
	bool refuse = false;
	unsigned i, nopen;
	int64_t now = now_ms();
	int v;

	if (ev == NNG_PIPE_EV_REM_POST) {
		slot_free(t, id);
		return;
	}
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid))
		pid = 0;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < PENALTIES && !refuse; i++)
		refuse = t->penalties[i].pid == pid &&
			 now < t->penalties[i].until_ms;
	if (refuse) {
		n = ++t->refused;
	} else {
		if ((v = victim(t, pid)) >= 0) {
			vid = t->conns[v].id;
			vpid = t->conns[v].pid;
			t->conns[v] = t->conns[--t->n];
			n = ++t->evicted;
		}
		t->conns[t->n++] = (struct conn){id, pid, now, now, 0};
	}
	nopen = t->n;
	pthread_mutex_unlock(&t->lock);
	if (refuse) {
		nng_pipe_close(p);
		if (log_due(n))
			log_warn("%s connection from pid %" PRIu64 " refused: "
				 "a recent drop for not reading (%" PRIu64
				 " refused so far)",
			    t->what, pid, n);
		return;
	}
	if (!vid)
		return;
	{
		nng_pipe vp = NNG_PIPE_INITIALIZER;

		vp.id = vid;
		nng_pipe_close(vp);
	}
	if (log_due(n))
		log_warn("too many %s connections (%u open, at most %u, %d per "
			 "process): closed the least recently active one of "
			 "pid %" PRIu64 " for pid %" PRIu64 " (%" PRIu64
			 " closed so far)",
		    t->what, nopen, t->cap, CONNS_PER_PROCESS, vpid, pid, n);
}

static int
table_init(struct conn_table *t, const char *what, unsigned cap, nng_socket s)
{
	int r;

	t->what = what;
	t->cap = cap;
	pthread_mutex_init(&t->lock, NULL);
	for (t->hsize = 1; t->hsize < 2 * (cap + 1); t->hsize *= 2)
		;
	t->conns = calloc(cap + 1, sizeof(*t->conns));
	t->counts = calloc(t->hsize, sizeof(*t->counts));
	if (!t->conns || !t->counts)
		return log_errno(-ENOMEM, "%s connection table", what);
	if ((r = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, pipe_cb, t)) ||
	    (r = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, pipe_cb, t)))
		return log_err("%s socket: %s", what, nng_strerror(r)), -EIO;
	return 0;
}

int
clients_init(struct broker *b)
{
	struct clients *c;

	if (!(b->cl = c = calloc(1, sizeof(*c))))
		return log_errno(-ENOMEM, "client table");
	/* Subscribers get as many slots as clients, apart. */
	if (b->o.max_clients > CLIENT_RECVQ)
		log_warn("--max-clients %u is above the %d requests the client "
			 "socket queues: with that many connections at once, "
			 "nng may keep closed ones",
		    b->o.max_clients, CLIENT_RECVQ);
	if (table_init(&c->client, "client", b->o.max_clients, b->client) ||
	    table_init(&c->events, "events", b->o.max_clients, b->events))
		return -EIO;
	return 0;
}

void
clients_fini(struct broker *b)
{
	if (!b->cl)
		return;
	free(b->cl->client.conns);
	free(b->cl->client.counts);
	free(b->cl->events.conns);
	free(b->cl->events.counts);
	free(b->cl);
	b->cl = NULL;
}

/* Close client pipe id: ours to close, so its slot is free at once. */
static void
client_close(struct clients *c, nng_pipe p)
{
	slot_free(&c->client, (uint32_t)nng_pipe_id(p));
	nng_pipe_close(p);
}

/*
 * Note a request's receipt, and keep in req what its reply needs: its
 * connection and nng's routing header.  Main thread.
 */
void
clients_request(struct broker *b, nng_msg *msg, struct client_req *req)
{
	struct clients *c = b->cl;
	struct conn_table *t = &c->client;
	int64_t now = now_ms();
	struct conn *k;
	int i;

	req->pipe = nng_msg_get_pipe(msg);
	req->hdrlen = nng_msg_header_len(msg);
	req->drop = req->hdrlen > sizeof(req->hdr);
	if (!req->drop)
		memcpy(req->hdr, nng_msg_header(msg), req->hdrlen);
	pthread_mutex_lock(&t->lock);
	if ((i = slot_of(t, (uint32_t)nng_pipe_id(req->pipe))) >= 0) {
		k = &t->conns[i];
		k->last_ms = now;
		if (now - k->win_ms >= 1000) {
			k->win_ms = now;
			k->nwin = 0;
		}
		if (++k->nwin > CLIENT_BURST) {
			req->drop = true;
			t->penalties[t->penalty_next++ % PENALTIES] =
			    (struct penalty){k->pid, now + CLIENT_PENALTY_MS};
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/*
 * Send the reply to the request req describes, without blocking: the
 * raw REP queues it on its connection, or drops it when that queue is
 * full.  Any thread, at any time after the request (the connection may
 * be gone by then: nng then drops the reply).
 */
int
clients_reply(
    struct broker *b, const struct client_req *req, const void *buf, size_t len)
{
	struct clients *c = b->cl;
	uint32_t id = (uint32_t)nng_pipe_id(req->pipe);
	nng_msg *m = NULL;
	uint64_t n;
	int r;

	if (req->drop) {
		n = __atomic_add_fetch(&c->dropped, 1, __ATOMIC_RELAXED);
		client_close(c, req->pipe);
		if (log_due(n))
			log_warn("client connection %" PRIu32 " does not read "
				 "its replies (over %d requests within a "
				 "second): reply dropped, connection closed "
				 "(%" PRIu64 " dropped so far)",
			    id, CLIENT_BURST, n);
		return -ECONNRESET;
	}
	if ((r = nng_msg_alloc(&m, 0)) ||
	    (r = nng_msg_header_append(m, req->hdr, req->hdrlen)) ||
	    (r = nng_msg_append(m, buf, len)) ||
	    (r = nng_sendmsg(b->client, m, NNG_FLAG_NONBLOCK))) {
		if (m)
			nng_msg_free(m);
		client_close(c, req->pipe);
		n = __atomic_add_fetch(&c->failed, 1, __ATOMIC_RELAXED);
		if (log_due(n))
			log_warn("reply to client connection %" PRIu32 ": %s; "
				 "connection closed (%" PRIu64 " so far)",
			    id, nng_strerror(r), n);
		return -EIO;
	}
	return 0;
}
