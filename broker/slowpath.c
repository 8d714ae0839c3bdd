// SPDX-License-Identifier: BSD-2-Clause
/*
 * The slow path: packets a cube hands to its worker.  The cube writes them
 * into its cub_pktin ring buffer (cube.bpf.h cub_slowpath()); the main
 * loop drains every cube's ring into a bounded queue and delivers each
 * packet to the cube's worker as a packet.in call.  When the queue or a
 * worker cannot keep up, packets are dropped and counted: the slow path
 * never slows the broker down.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "broker.h"
#include "cube_shared.h"
#include "cubicle/proto.h"
#include "log.h"

#define PKTIN_TIMEOUT_MS 1000

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
	if (b->pktq_len == PKTIN_QUEUE) {
		b->pktin_dropped++;
		return 0;
	}
	p = &b->pktq[b->pktq_len++];
	p->cube = c;
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

/* The rings' epoll fds, for the main loop's poll(); lock taken. */
int
slowpath_fds(struct broker *b, struct pollfd *pfd, int max)
{
	struct cube *c;
	int n = 0;

	pthread_mutex_lock(&b->lock);
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

void
slowpath_poll(struct broker *b)
{
	struct cub_val *params, *res, *errv;
	struct pktin *p;
	const char *port;
	struct cube *c;
	unsigned i, n;

	pthread_mutex_lock(&b->lock);
	for (c = b->cubes; c; c = c->next)
		if (c->obj && c->obj->pktin)
			ring_buffer__consume(c->obj->pktin);
	pthread_mutex_unlock(&b->lock);
	n = b->pktq_len;
	for (i = 0; i < n; i++) {
		p = &b->pktq[i];
		c = p->cube;
		port = port_name(c, p->port);
		if (!port || !c->svc->ready) {
			b->pktin_dropped++;
			continue;
		}
		params = cub_val__map();
		cub_val__set(params, "cube", cub_val__str(c->name));
		cub_val__set(params, "port", cub_val__uint(p->port));
		cub_val__set(params, "port_name", cub_val__str(port));
		cub_val__set(params, "reason", cub_val__uint(p->reason));
		cub_val__set(params, "data", cub_val__bin(p->data, p->len));
		if (sup_call(c->svc, CUB_M_PACKET_IN, params, &res, &errv,
			PKTIN_TIMEOUT_MS))
			b->pktin_dropped++;
		cub_val__free(res);
		cub_val__free(errv);
	}
	b->pktq_len = 0;
}
