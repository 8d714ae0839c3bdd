// SPDX-License-Identifier: BSD-2-Clause
/* The client API: one REQ socket to cubicled, synchronous calls. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "call.h"
#include "cubicle/client.h"
#include "cubicle/errors.h"

struct cub_client {
	nng_socket sock;
	uint32_t msgid;
	int timeout_ms;
	unsigned closed; /* connections that ended (nng's threads count) */
};

/* A connection to the broker ended: closed by it, or by us. */
static void
client_pipe_closed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct cub_client *c = arg;

	(void)p;
	(void)ev;
	__atomic_add_fetch(&c->closed, 1, __ATOMIC_RELAXED);
}

/* ipc://<socket dir>/<sock>, the dir from opts, the environment or the
 * default. */
static int
sock_url(
    const struct cub_client_opts *opts, const char *sock, char *url, size_t len)
{
	const char *dir = NULL;

	if (opts && opts->sz < sizeof(size_t))
		return -EINVAL;
	if (opts)
		dir = opts->socket_dir;
	if (!dir)
		dir = getenv("CUBICLE_SOCKET_DIR");
	if (!dir || !*dir)
		dir = CUB_DEFAULT_SOCKET_DIR;
	if (snprintf(url, len, "ipc://%s/%s", dir, sock) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

struct cub_client *
cub_client__open(const struct cub_client_opts *opts)
{
	char url[PATH_MAX + 32];
	struct cub_client *c;
	int r;

	if ((r = sock_url(opts, CUB_SOCK_CLIENT, url, sizeof(url)))) {
		errno = -r;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	if ((r = nng_req0_open(&c->sock))) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, c->timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, c->timeout_ms);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, client_pipe_closed, c);
	if ((r = nng_dial(c->sock, url, NULL, 0))) {
		nng_close(c->sock);
		free(c);
		errno = -cubi_nng_errno(r);
		return NULL;
	}
	return c;
}

struct cub_client *
cub_client__close(struct cub_client *c)
{
	if (!c)
		return NULL;
	nng_close(c->sock);
	free(c);
	return NULL;
}

int
cub_client__set_timeout(struct cub_client *c, int timeout_ms)
{
	if (!c || timeout_ms < 1)
		return -EINVAL;
	c->timeout_ms = timeout_ms;
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	return 0;
}

int
cub_client__call(struct cub_client *c, const char *method,
    struct cub_val *params, struct cub_val **result, struct cub_val **errv)
{
	unsigned before = __atomic_load_n(&c->closed, __ATOMIC_RELAXED), n;
	int nngr, r;

	r = cubi_call(c->sock, ++c->msgid, method, params, result, errv, &nngr);
	if (r == -ETIMEDOUT || r == -EPIPE) {
		/* No answer, and the broker closed our connections: it is
		 * at its cap of client connections (or going away). */
		n = __atomic_load_n(&c->closed, __ATOMIC_RELAXED) - before;
		if (n) {
			*errv = cub_err_val(CUB_E_LIMIT,
			    "the broker closed the connection %u time%s "
			    "without answering: too many client connections "
			    "(cubicled --max-clients), or it is stopping",
			    n, n == 1 ? "" : "s");
			r = -EREMOTEIO;
		}
	}
	return r;
}

struct cub_events {
	nng_socket sock;
};

struct cub_events *
cub_events__open(const struct cub_client_opts *opts)
{
	char url[PATH_MAX + 32];
	struct cub_events *e;
	int r;

	if ((r = sock_url(opts, CUB_SOCK_EVENTS, url, sizeof(url)))) {
		errno = -r;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if ((r = nng_sub0_open(&e->sock)) ||
	    (r = nng_socket_set(e->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) ||
	    (r = nng_socket_set_size(
		 e->sock, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX)) ||
	    (r = nng_dial(e->sock, url, NULL, 0))) {
		nng_close(e->sock);
		free(e);
		errno = -cubi_nng_errno(r);
		return NULL;
	}
	return e;
}

struct cub_events *
cub_events__close(struct cub_events *e)
{
	if (e) {
		nng_close(e->sock);
		free(e);
	}
	return NULL;
}

int
cub_events__recv(
    struct cub_events *e, int timeout_ms, char **name, struct cub_val **params)
{
	struct cub_rpc rpc = {0};
	char err[256];
	nng_msg *msg;
	const char *body;
	size_t len, tlen;
	int r;

	*name = NULL;
	*params = NULL;
	nng_socket_set_ms(e->sock, NNG_OPT_RECVTIMEO,
	    timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	if ((r = nng_recvmsg(e->sock, &msg, 0)))
		return cubi_nng_errno(r);
	body = nng_msg_body(msg);
	len = nng_msg_len(msg);
	/* Topic (event name) and a NUL, then a notification frame. */
	tlen = strnlen(body, len);
	r = -EBADMSG;
	if (tlen < len &&
	    !cub_rpc__decode(
		body + tlen + 1, len - tlen - 1, &rpc, err, sizeof(err)) &&
	    rpc.type == CUB_RPC_NOTIFY && !strcmp(rpc.method, body)) {
		*name = rpc.method;
		*params = rpc.params;
		rpc.method = NULL;
		rpc.params = NULL;
		r = 0;
	}
	cub_rpc__clear(&rpc);
	nng_msg_free(msg);
	return r;
}

void
cub_client__new_rid(char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[16];
	size_t i;

	if (len < 35) {
		if (len)
			buf[0] = '\0';
		return;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)random();
	buf[0] = 'r';
	buf[1] = '-';
	for (i = 0; i < sizeof(rnd); i++) {
		buf[2 + 2 * i] = hex[rnd[i] >> 4];
		buf[3 + 2 * i] = hex[rnd[i] & 15];
	}
	buf[34] = '\0';
}
