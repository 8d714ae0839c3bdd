// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil's attacks on the broker's limits (the "bpfobj" action):
 *   object=uring|hash|inner  load maps whose kernel memory the broker once
 *                            undercounted (tests/integration/bpfobj-memory.sh)
 *   object=itype             a map-in-map whose inner type is undeclared
 *   object=small             an honest small object, which must load
 *   object=cgarr|perf        write small integers into a CGROUP_ARRAY or a
 *                            PERF_EVENT_ARRAY: fds of the broker's table
 *                            (tests/integration/bpfobj-fdmaps.sh)
 *   object=hello n=N         say hello N more times
 *   object=reload n=N        load two objects alternately, N times
 *                            (tests/integration/bpfobj-logflood.sh)
 *   object=logring           a cub_log_ring larger than cube.bpf.h's
 *   object=logfmt            a program writing hostile log records
 *   object=logx              a program writing extended log records,
 *                            honest and hostile (cubelog-ext.sh)
 *   object=logworker n=N     N CRITICAL lines with control characters
 *                            and a byte that is not UTF-8 through
 *                            cub_cube__log(), as fast as it goes
 *                            (tests/integration/cubelog-hostile.sh)
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cubicle/errors.h"
#include "cubicle/plugin.h"

#include "evil_fdmap.skel.h"
#include "evil_lim_cgarr.skel.h"
#include "evil_lim_hash.skel.h"
#include "evil_lim_inner.skel.h"
#include "evil_lim_itype.skel.h"
#include "evil_lim_perf.skel.h"
#include "evil_lim_small.skel.h"
#include "evil_lim_uring.skel.h"
#include "evil_limits.h"
#include "evil_logfmt.skel.h"
#include "evil_logring.skel.h"
#include "evil_logx.skel.h"

/* The SDK's worker runtime (sdk/src/worker_rt.h), exported to plugins. */
extern int cubi_worker__hello(char *err, size_t errlen);

static const char *const objects[] = {EVIL_LIMITS_OBJECTS, NULL};

bool
evil_limits_handles(const char *what)
{
	size_t i;

	for (i = 0; what && objects[i]; i++)
		if (!strcmp(objects[i], what))
			return true;
	return false;
}

static uint64_t
arg_n(const struct cub_val *args)
{
	uint64_t n = 0;

	cub_val__as_u64(cub_val__get(args, "n"), &n);
	return n;
}

/* Small integers into an fd-valued map: every write must be refused. */
static int
fd_writes(
    struct cub_cube *cube, const void *elf, size_t len, struct cub_val **result)
{
	uint32_t keys[2] = {0, 1}, vals[2] = {3, 4}, k = 0, fd;
	int done = 0;
	cub_map m;

	if (cub_cube__load(cube, elf, len))
		return -EPERM;
	if (cub_cube__map(cube, "evmaps", &m))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "no map 'evmaps' after the load");
	for (fd = 0; fd < 40; fd++)
		done += !cub_map__update(cube, &m, &k, &fd, 0);
	done += !cub_map__update_batch(cube, &m, keys, vals, 2, 0);
	done += !cub_map__delete(cube, &m, &k);
	done += !cub_map__delete_batch(cube, &m, keys, 2);
	*result = cub_val__map();
	cub_val__set(*result, "writes_done", cub_val__uint((uint64_t)done));
	if (done)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "the broker made %d writes into an fd-valued map", done);
	return -EPERM; /* the broker's first refusal is the error */
}

/* Many hellos or reloads: the count the broker accepted is the result. */
static int
flood(struct cub_cube *cube, const char *what, uint64_t n,
    struct cub_val **result)
{
	const void *elf;
	uint64_t i, ok = 0;
	char err[256] = "";
	size_t len;

	for (i = 0; i < n; i++) {
		if (!strcmp(what, "hello")) {
			ok += !cubi_worker__hello(err, sizeof(err));
			continue;
		}
		elf = i & 1 ? evil_lim_small__elf_bytes(&len)
			    : evil_fdmap__elf_bytes(&len);
		ok += !cub_cube__load(cube, elf, len);
	}
	*result = cub_val__map();
	cub_val__set(*result, "accepted", cub_val__uint(ok));
	cub_val__set(*result, "last_error", cub_val__str(err));
	return 0;
}

int
evil_limits(struct cub_cube *cube, const char *what, const struct cub_val *args,
    struct cub_val **result)
{
	const void *elf;
	size_t len = 0;

	if (!strcmp(what, "cgarr")) {
		elf = evil_lim_cgarr__elf_bytes(&len);
		return fd_writes(cube, elf, len, result);
	}
	if (!strcmp(what, "perf")) {
		elf = evil_lim_perf__elf_bytes(&len);
		return fd_writes(cube, elf, len, result);
	}
	if (!strcmp(what, "hello") || !strcmp(what, "reload"))
		return flood(cube, what, arg_n(args), result);
	if (!strcmp(what, "logworker")) {
		uint64_t i, n = arg_n(args), failed = 0;

		for (i = 0; i < n; i++)
			failed += cub_cube__log(cube, CUB_LOG_CRITICAL,
				      "line %llu \x01\x1b[2J\xff end",
				      (unsigned long long)i) != 0;
		/* The runtime refuses a level out of range itself. */
		if (cub_cube__log(cube, 9, "level 9") != -EINVAL)
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cub_cube__log() took level 9");
		*result = cub_val__map();
		cub_val__set(*result, "sent", cub_val__uint(n));
		cub_val__set(*result, "failed", cub_val__uint(failed));
		return 0;
	}
	if (!strcmp(what, "logfmt") || !strcmp(what, "logx")) {
		elf = !strcmp(what, "logx") ? evil_logx__elf_bytes(&len)
					    : evil_logfmt__elf_bytes(&len);
		return cub_cube__load(cube, elf, len) ? -EPERM : 0;
	}
	if (!strcmp(what, "uring"))
		elf = evil_lim_uring__elf_bytes(&len);
	else if (!strcmp(what, "logring"))
		elf = evil_logring__elf_bytes(&len);
	else if (!strcmp(what, "hash"))
		elf = evil_lim_hash__elf_bytes(&len);
	else if (!strcmp(what, "inner"))
		elf = evil_lim_inner__elf_bytes(&len);
	else if (!strcmp(what, "itype"))
		elf = evil_lim_itype__elf_bytes(&len);
	else
		elf = evil_lim_small__elf_bytes(&len);
	if (cub_cube__load(cube, elf, len))
		return -EPERM; /* the broker's refusal is the error */
	if (strcmp(what, "small"))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "the broker loaded the '%s' object, over the policy", what);
	return 0;
}
