// SPDX-License-Identifier: BSD-2-Clause
/* MessagePack-RPC exchanges over nng sockets (see call.h). */
#include <errno.h>
#include <stdlib.h>

#include "call.h"
#include "cubicle/errors.h"

int
cubi_send(nng_socket s, const void *buf, size_t len, int flags)
{
	nng_msg *msg;
	int r;

	if ((r = nng_msg_alloc(&msg, 0)))
		return r;
	if ((r = nng_msg_append(msg, buf, len)) ||
	    (r = nng_sendmsg(s, msg, flags)))
		nng_msg_free(msg);
	return r;
}

int
cubi_nng_errno(int r)
{
	switch (r) {
	case NNG_ECONNREFUSED:
	case NNG_ENOENT:
		return -ECONNREFUSED;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EPIPE;
	}
}

int
cubi_call(nng_socket s, uint32_t msgid, const char *method,
    struct cub_val *params, struct cub_val **result, struct cub_val **errv,
    int *nngr)
{
	struct cub_rpc rpc = {0};
	char err[256];
	nng_msg *msg;
	void *buf;
	size_t len;
	int r;

	*result = NULL;
	*errv = NULL;
	*nngr = 0;
	if ((r = cub_rpc__encode_request(msgid, method, params, &buf, &len)))
		return r;
	r = cubi_send(s, buf, len, 0);
	free(buf);
	if (r || (r = nng_recvmsg(s, &msg, 0))) {
		*nngr = r;
		return cubi_nng_errno(r);
	}
	r = cub_rpc__decode(
	    nng_msg_body(msg), nng_msg_len(msg), &rpc, err, sizeof(err));
	nng_msg_free(msg);
	if (r || rpc.type != CUB_RPC_RESPONSE || rpc.msgid != msgid) {
		cub_rpc__clear(&rpc);
		*errv =
		    cub_err_val(CUB_E_BADMSG, "malformed answer to '%s': %s",
			method, r ? err : "not the response to this request");
		return -EREMOTEIO;
	}
	if (rpc.error) {
		*errv = rpc.error;
		rpc.error = NULL;
		r = -EREMOTEIO;
	} else {
		*result = rpc.result;
		rpc.result = NULL;
	}
	cub_rpc__clear(&rpc);
	return r;
}

int
cubi_reply_encode(uint32_t msgid, struct cub_val *errv, struct cub_val *result,
    void **buf, size_t *len)
{
	if (errv)
		result = cub_val__free(result);
	else if (!result)
		result = cub_val__map();
	return cub_rpc__encode_response(msgid, errv, result, buf, len);
}

int
cubi_reply(
    nng_socket s, uint32_t msgid, struct cub_val *errv, struct cub_val *result)
{
	void *buf;
	size_t len;
	int r;

	if ((r = cubi_reply_encode(msgid, errv, result, &buf, &len)))
		return r;
	r = cubi_send(s, buf, len, 0);
	free(buf);
	return r ? -EPIPE : 0;
}
