// SPDX-License-Identifier: BSD-2-Clause
/* The one table of wire error codes and names (style rule 12). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/val.h"

static const char *const err_names[CUB_E__MAX] = {
    [CUB_E_OK] = "ok",
    [CUB_E_BADMSG] = "bad-message",
    [CUB_E_TOOBIG] = "too-big",
    [CUB_E_NOMETHOD] = "no-such-method",
    [CUB_E_NOTFOUND] = "not-found",
    [CUB_E_EXISTS] = "exists",
    [CUB_E_INVAL] = "invalid-value",
    [CUB_E_TYPE] = "wrong-type",
    [CUB_E_MISSING] = "missing",
    [CUB_E_NODEV] = "no-such-netdev",
    [CUB_E_PERM] = "permission-denied",
    [CUB_E_BUSY] = "busy",
    [CUB_E_UNAVAIL] = "service-unavailable",
    [CUB_E_KERNEL] = "kernel-error",
    [CUB_E_REFUSED] = "refused",
    [CUB_E_INTERNAL] = "internal-error",
    [CUB_E_LIMIT] = "limit-reached",
    [CUB_E_TIMEOUT] = "timeout",
    [CUB_E_VERB] = "unknown-command",
    [CUB_E_RO] = "read-only",
    [CUB_E_QUOTA] = "quota-exceeded",
};

const char *
cub_err_name(int code)
{
	if (code < 0 || code >= CUB_E__MAX || !err_names[code])
		return "unknown";
	return err_names[code];
}

int
cub_err_from_name(const char *name)
{
	int i;

	for (i = 0; name && i < CUB_E__MAX; i++)
		if (err_names[i] && !strcmp(err_names[i], name))
			return i;
	return -1;
}

int
cub_err_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return CUB_E_OK;
	case EBADMSG:
	case EPROTO:
		return CUB_E_BADMSG;
	case EMSGSIZE:
	case E2BIG:
	case ELOOP:
		return CUB_E_TOOBIG;
	case ENOENT:
	case ESRCH:
		return CUB_E_NOTFOUND;
	case EEXIST:
		return CUB_E_EXISTS;
	case EINVAL:
	case ERANGE:
		return CUB_E_INVAL;
	case ENODEV:
	case ENXIO:
		return CUB_E_NODEV;
	case EPERM:
	case EACCES:
		return CUB_E_PERM;
	case EBUSY:
		return CUB_E_BUSY;
	case ECONNREFUSED:
	case ENOTCONN:
	case EPIPE:
		return CUB_E_UNAVAIL;
	case ETIMEDOUT:
		return CUB_E_TIMEOUT;
	case ENOSPC:
	case EDQUOT:
		return CUB_E_LIMIT;
	case ENOSYS:
	case EOPNOTSUPP:
		return CUB_E_VERB;
	default:
		return CUB_E_INTERNAL;
	}
}

struct cub_val *
cub_err_valv(int code, const char *fmt, va_list ap)
{
	struct cub_val *e = cub_val__map();
	char *msg = NULL;

	if (!e)
		return NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (cub_val__set(e, "code", cub_val__uint((uint64_t)code)) ||
	    cub_val__set(e, "name", cub_val__str(cub_err_name(code))) ||
	    cub_val__set(e, "message", cub_val__str(msg ? msg : "")))
		e = cub_val__free(e);
	free(msg);
	return e;
}

struct cub_val *
cub_err_val(int code, const char *fmt, ...)
{
	struct cub_val *e;
	va_list ap;

	va_start(ap, fmt);
	e = cub_err_valv(code, fmt, ap);
	va_end(ap);
	return e;
}

int
cub_err_parse(const struct cub_val *err, const char **msg)
{
	uint64_t code;

	*msg = "malformed error from peer";
	if (!err || err->kind != CUB_V_MAP ||
	    cub_val__as_u64(cub_val__get(err, "code"), &code) ||
	    code >= CUB_E__MAX || !cub_val__get_str(err, "message"))
		return CUB_E_BADMSG;
	*msg = cub_val__get_str(err, "message");
	return (int)code;
}
