// SPDX-License-Identifier: BSD-2-Clause
/*
 * SP over IPC, the broker's side (spsrv.h): what nng's ipc transport puts
 * on an AF_UNIX stream, read and written without blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spsrv.h"

static int
sp_bind(int fd, const struct sockaddr_un *a)
{
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)))
		return -errno;
	return 0;
}

int
sp_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, probe, r;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((r = sp_bind(fd, &a)) == -EADDRINUSE) {
		/* A live listener answers (or its backlog is full): refuse.
		 * A socket nobody listens on is a dead broker's: replace. */
		probe = socket(
		    AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			r = -errno;
			goto fail;
		}
		r = connect(probe, (struct sockaddr *)&a, sizeof(a)) ? -errno
								     : 0;
		close(probe);
		if (r != -ECONNREFUSED) {
			r = -EADDRINUSE;
			goto fail;
		}
		if (lstat(path, &st) || !S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto fail;
		}
		if (unlink(path) && errno != ENOENT) {
			r = -errno;
			goto fail;
		}
		r = sp_bind(fd, &a);
	}
	if (r)
		goto fail;
	if (listen(fd, SOMAXCONN)) {
		r = -errno;
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int
sp_hello_send(int fd, uint16_t proto)
{
	const uint8_t h[SP_HELLO_LEN] = {
	    0, 'S', 'P', 0, (uint8_t)(proto >> 8), (uint8_t)proto, 0, 0};
	ssize_t n = send(fd, h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n == (ssize_t)sizeof(h))
		return 0;
	return n < 0 ? -errno : -EAGAIN;
}

/* Read up to want - *pos bytes into buf + *pos.  1: complete, 0: wait,
 * -1: closed. */
static int
fill(int fd, uint8_t *buf, size_t *pos, size_t want)
{
	ssize_t n;

	while (*pos < want) {
		n = recv(fd, buf + *pos, want - *pos, MSG_DONTWAIT);
		if (n > 0) {
			*pos += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1; /* EOF, ECONNRESET... */
	}
	return 1;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

enum sp_rx_result
sp_rx_read(struct sp_rx *rx, int fd, uint16_t peer, size_t max, uint8_t **body,
    size_t *len, char *why, size_t whylen)
{
	uint16_t proto;
	int r;

	if (!rx->hello) {
		if ((r = fill(fd, rx->head, &rx->pos, SP_HELLO_LEN)) <= 0)
			return r ? SP_RX_CLOSED : SP_RX_AGAIN;
		rx->pos = 0;
		if (rx->head[0] || rx->head[1] != 'S' || rx->head[2] != 'P' ||
		    rx->head[3] || rx->head[6] || rx->head[7]) {
			snprintf(why, whylen,
			    "not an SP header (%02x %02x %02x %02x %02x %02x "
			    "%02x %02x)",
			    rx->head[0], rx->head[1], rx->head[2], rx->head[3],
			    rx->head[4], rx->head[5], rx->head[6], rx->head[7]);
			return SP_RX_BAD;
		}
		proto = (uint16_t)(rx->head[4] << 8 | rx->head[5]);
		if (proto != peer) {
			snprintf(why, whylen,
			    "peer speaks SP protocol 0x%02x, expected 0x%02x",
			    proto, peer);
			return SP_RX_BAD;
		}
		rx->hello = true;
		return SP_RX_HELLO;
	}
	if (!rx->body) {
		if ((r = fill(fd, rx->head, &rx->pos, SP_HEAD_LEN)) <= 0)
			return r ? SP_RX_CLOSED : SP_RX_AGAIN;
		rx->pos = 0;
		if (rx->head[0] != 1) {
			snprintf(why, whylen,
			    "message type 0x%02x (expected 0x01)", rx->head[0]);
			return SP_RX_BAD;
		}
		rx->len = be64(rx->head + 1);
		if (rx->len > max) {
			snprintf(why, whylen,
			    "message of %zu bytes (at most %zu)", rx->len, max);
			return SP_RX_BAD;
		}
		if (!(rx->body = malloc(rx->len ? rx->len : 1))) {
			snprintf(why, whylen,
			    "no memory for a message of %zu "
			    "bytes",
			    rx->len);
			return SP_RX_BAD;
		}
		rx->got = 0;
	}
	if ((r = fill(fd, rx->body, &rx->got, rx->len)) <= 0)
		return r ? SP_RX_CLOSED : SP_RX_AGAIN;
	*body = rx->body;
	*len = rx->len;
	rx->body = NULL;
	return SP_RX_MSG;
}

void
sp_rx_free(struct sp_rx *rx)
{
	free(rx->body);
	rx->body = NULL;
}

void
sp_txq_init(struct sp_txq *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->n = 0;
	q->bytes = 0;
}

int
sp_txq_push(struct sp_txq *q, const void *hdr, size_t hdrlen, const void *body,
    size_t len)
{
	size_t n = hdrlen + len;
	struct sp_tx_msg *m = malloc(sizeof(*m) + SP_HEAD_LEN + n);
	int i;

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->off = 0;
	m->len = SP_HEAD_LEN + n;
	m->data[0] = 1;
	for (i = 0; i < 8; i++)
		m->data[1 + i] = (uint8_t)(n >> (56 - 8 * i));
	if (hdrlen)
		memcpy(m->data + SP_HEAD_LEN, hdr, hdrlen);
	if (len)
		memcpy(m->data + SP_HEAD_LEN + hdrlen, body, len);
	*q->tail = m;
	q->tail = &m->next;
	q->n++;
	q->bytes += m->len;
	return 0;
}

int
sp_txq_flush(struct sp_txq *q, int fd)
{
	struct sp_tx_msg *m;
	ssize_t n;

	while ((m = q->head)) {
		n = send(fd, m->data + m->off, m->len - m->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		m->off += (size_t)n;
		q->bytes -= (size_t)n;
		if (m->off < m->len)
			continue;
		if (!(q->head = m->next))
			q->tail = &q->head;
		q->n--;
		free(m);
	}
	return 0;
}

void
sp_txq_free(struct sp_txq *q)
{
	struct sp_tx_msg *m;

	while ((m = q->head)) {
		q->head = m->next;
		free(m);
	}
	sp_txq_init(q);
}
