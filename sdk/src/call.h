/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MessagePack-RPC over one nng socket (private): the request/response
 * exchange every REQ user makes, and the reply every REP user sends.
 */
#ifndef CUBI_CALL_H
#define CUBI_CALL_H

#include <nng/nng.h>

#include "cubicle/proto.h"
#include "cubicle/val.h"

/*
 * Send [0, msgid, method, params] on a REQ socket and wait for its answer
 * (the socket's NNG_OPT_RECVTIMEO applies).  Takes params.  Returns 0 with
 * *result; -EREMOTEIO with *errv (the peer's error, or a bad-message error
 * for a malformed answer); or a transport error: a negative errno, with
 * the nng code in *nngr.
 */
int cubi_call(nng_socket s, uint32_t msgid, const char *method,
    struct cub_val *params, struct cub_val **result, struct cub_val **errv,
    int *nngr);
/* The errno for an nng error code (negative). */
int cubi_nng_errno(int nngr);
/* Send bytes as one message; 0 or the nng error. */
int cubi_send(nng_socket s, const void *buf, size_t len, int flags);
/* Encode [1, msgid, errv, result] into *buf (malloc'd); takes errv and
 * result, sends result nil when errv is set and {} when both are NULL. */
int cubi_reply_encode(uint32_t msgid, struct cub_val *errv,
    struct cub_val *result, void **buf, size_t *len);
/* Send [1, msgid, errv, result] (taken; result nil when errv is set). */
int cubi_reply(
    nng_socket s, uint32_t msgid, struct cub_val *errv, struct cub_val *result);

#endif
