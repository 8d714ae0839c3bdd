// SPDX-License-Identifier: BSD-2-Clause
/*
 * The slow path: packets a cube hands to its worker.  The cube writes them
 * into its cub_pktin ring buffer (cube.bpf.h cub_slowpath()); the main
 * loop drains every cube's ring into the cube's bounded queue
 * (PKTIN_QUEUE) and never waits for a worker; the service's request
 * thread, when it has no client request to run, sends them to the worker
 * in batches of up to PKTIN_BATCH as one packet.in notification on the
 * service's own PUSH socket (worker-<svc>.pkt), never answered: nobody
 * waits for the worker or its plugin's packet_in.  (A one-way message
 * on the REQ cmd socket does not work: nng then stopped delivering the
 * next request to the worker; hence a socket of its own.)  When a cube's
 * queue is full, the worker is not ready, or PKTIN_SENDBUF batches wait
 * for a worker that is slow or stopped, packets are dropped and counted
 * per cube ('cubicle show cubes'), summed per service by 'cubicle
 * services': the slow path never slows the broker down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <nng/nng.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/proto.h"
#include "log.h"


/* A packet from the ring into the cube's queue; main thread, both locks. */
static int
on_sample(void *ctx, void *data, size_t size)
{
	struct cube *c = ctx;
	struct broker *b = c->svc->b;
	const struct cub_pktin_hdr *h = data;
	struct pktin *p;

	if (size < sizeof(*h) || h->cap_len > CUB_PKTIN_MAX ||
	    h->cap_len > size - sizeof(*h))
		return 0;
	/* A flood's copy for the cube peers (egress.bpf.c): the broker's. */
	if (CUB_PKTIN_IS_FLOOD(h->reason)) {
		if (h->cap_len == h->wire_len)
			pktout_flood(b, c, h->port,
			    CUB_FLOOD_PORT(h->reason), h + 1, h->cap_len);
		return 0;
	}
	if (!c->pktq && !(c->pktq = calloc(PKTIN_QUEUE, sizeof(*c->pktq)))) {
		__atomic_add_fetch(&c->pktin_dropped, 1, __ATOMIC_RELAXED);
		b->pktin_dropped++;
		return 0;
	}
	/* Its owner's pktin-pps (quota.c): over it, dropped and counted,
	 * as a full queue's, and in 'show tenants'. */
	if (c->pktq_len == PKTIN_QUEUE || !c->svc->ready ||
	    !quota_pktin(b, c)) {
		__atomic_add_fetch(&c->pktin_dropped, 1, __ATOMIC_RELAXED);
		b->pktin_dropped++;
		return 0;
	}
	p = &c->pktq[(c->pktq_head + c->pktq_len++) % PKTIN_QUEUE];
	p->port = h->port;
	p->reason = h->reason;
	p->len = h->cap_len;
	memcpy(p->data, h + 1, h->cap_len);
	return 0;
}

/* Open the cube's packet-in ring; lock held. */
int
slowpath_open(struct broker *b, struct cube *c)
{
	struct bmap *m = bpfobj_map(c->obj, "cub_pktin");

	if (!m || c->obj->pktin)
		return 0;
	c->obj->pktin = ring_buffer__new(m->fd, on_sample, c, NULL);
	if (!c->obj->pktin)
		return log_errno(
		    -errno, "cube '%s': open packet-in ring", c->name);
	return 0;
}

/*
 * The rings' epoll fds, for the main loop's poll(); b->lock taken if it
 * is free.  -1: it is not (a worker-call thread holds it, through a
 * verifier load perhaps): the main loop does not wait for it, it looks
 * again a moment later.
 */
int
slowpath_fds(struct broker *b, struct pollfd *pfd, int max)
{
	struct cube *c;
	int n = 0;

	if (pthread_mutex_trylock(&b->lock))
		return -1;
	for (c = b->cubes; c && n < max; c = c->next)
		if (c->obj && c->obj->pktin)
			pfd[n++] = (struct pollfd){
			    .fd = ring_buffer__epoll_fd(c->obj->pktin),
			    .events = POLLIN};
	pthread_mutex_unlock(&b->lock);
	return n;
}

static const char *
port_name(struct cube *c, uint32_t index)
{
	struct bport *p;

	for (p = c->ports; p; p = p->next)
		if (p->index == index)
			return p->name;
	return NULL;
}

/* Drain every cube's ring; main thread, b->state_lock held.  Skipped
 * while b->lock is busy (the records wait in the rings). */
void
slowpath_poll(struct broker *b)
{
	struct cube *c;

	if (pthread_mutex_trylock(&b->lock))
		return;
	for (c = b->cubes; c; c = c->next)
		if (c->obj && c->obj->pktin)
			ring_buffer__consume(c->obj->pktin);
	pthread_mutex_unlock(&b->lock);
	for (c = b->cubes; c; c = c->next)
		if (c->pktq_len)
			sup_kick(c->svc);
}

/* Packets queued for the service's cubes; b->state_lock held. */
bool
slowpath_pending(struct broker *b, struct service *s)
{
	struct cube *c;

	for (c = b->cubes; c; c = c->next)
		if (c->svc == s && c->pktq_len)
			return true;
	return false;
}

/*
 * One packet.in per cube with packets queued, of up to PKTIN_BATCH
 * packets: {cube, packets: [{port, port_name, reason, data}]}, a
 * notification on the service's PUSH socket: one way, nothing comes back
 * per packet.  Sent without waiting: with PKTIN_SENDBUF batches queued
 * towards a worker that is slow or stopped, the batch is dropped and
 * counted.  The service's request thread, b->state_lock held.
 */
/* Send params (taken) as a packet.in notification, without waiting. */
static int
pktin_send(struct service *s, struct cub_val *params)
{
	nng_msg *msg = NULL;
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (cub_rpc__encode_notify(CUB_M_PACKET_IN, params, &buf, &len))
		return -ENOMEM;
	r = nng_msg_alloc(&msg, 0) || nng_msg_append(msg, buf, len);
	free(buf);
	if (r) {
		nng_msg_free(msg);
		return -ENOMEM;
	}
	if ((r = nng_sendmsg(s->pkt, msg, NNG_FLAG_NONBLOCK))) {
		nng_msg_free(msg);
		return r == NNG_EAGAIN ? -ENOBUFS : -EIO;
	}
	return 0;
}

void
slowpath_deliver(struct broker *b, struct service *s)
{
	struct cub_val *params, *arr, *e;
	unsigned i, n;
	struct pktin *p;
	const char *port;
	struct cube *c;
	int r;

	for (c = b->cubes; c; c = c->next) {
		if (c->svc != s || !c->pktq_len)
			continue;
		params = cub_val__map();
		arr = cub_val__array();
		n = c->pktq_len < PKTIN_BATCH ? c->pktq_len : PKTIN_BATCH;
		for (i = 0; i < n; i++) {
			p = &c->pktq[(c->pktq_head + i) % PKTIN_QUEUE];
			port = port_name(c, p->port);
			if (!port)
				continue;
			e = cub_val__map();
			cub_val__set(e, "port", cub_val__uint(p->port));
			cub_val__set(e, "port_name", cub_val__str(port));
			cub_val__set(e, "reason", cub_val__uint(p->reason));
			cub_val__set(e, "data", cub_val__bin(p->data, p->len));
			cub_val__push(arr, e);
		}
		c->pktq_head = (c->pktq_head + n) % PKTIN_QUEUE;
		c->pktq_len -= n;
		i = arr ? arr->arr.len : 0;
		__atomic_add_fetch(&c->pktin_dropped, n - i, __ATOMIC_RELAXED);
		b->pktin_dropped += n - i;
		cub_val__set(params, "cube", cub_val__str(c->name));
		cub_val__set(params, "packets", arr);
		if (!i || !s->ready) {
			cub_val__free(params);
			r = -EAGAIN;
		} else {
			r = pktin_send(s, params); /* takes params */
		}
		if (r) {
			__atomic_add_fetch(&c->pktin_dropped, i, __ATOMIC_RELAXED);
			b->pktin_dropped += i;
		} else {
			__atomic_add_fetch(&c->pktin_sent, i, __ATOMIC_RELAXED);
		}
	}
}
