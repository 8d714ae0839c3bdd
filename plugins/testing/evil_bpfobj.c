// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil's attacks on the broker's object service (issue 6 points 1, 5, 10):
 *   cubicle e1 debug bpfobj object=path-act target=../v1/sf_actions
 *	a map whose ELF name is a path: another cube's sf_actions, or a pin
 *	outside the pin root; on success, zeroes it (the victim drops);
 *   object=path-port target=../v1/cub_ports: the same on a cub_ports shape;
 *   object=dup: two maps of the same name; object=clean: the same object
 *	with plain names (a control: it loads);
 *   object=big n=N: a 2.5 MiB map renamed evbig_N, a new name each load;
 *   object=pcpu: a per-CPU map within the policy only if counted once;
 *   object=fdmap: an ARRAY_OF_MAPS, then small integers written into it
 *	(fds in the broker's table) by update, batch update and delete;
 *   object=pcpu4: a per-CPU map of 4-byte values: each CPU's value written
 *	and read back at the kernel's 8-byte stride, and an update 4 bytes a
 *	CPU short, which the broker must refuse, not over-read.
 * The names are patched into a copy of the ELF, in its string tables.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cube_shared.h"
#include "cubicle/errors.h"
#include "cubicle/plugin.h"
#include "simpleforwarder_shared.h"

#include "evil_big.skel.h"
#include "evil_dump.skel.h"
#include "evil_bpfobj.h"
#include "evil_fdmap.skel.h"
#include "evil_path.skel.h"
#include "evil_pcpu.skel.h"
#include "evil_pcpu4.skel.h"

#define BPF_NAME_LEN 15 /* what the broker reports of a longer map name */

/*
 * Replace every occurrence of from (with its NUL) by to, padded to the
 * same length: with '/' before the last component of a path, else NULs.
 */
static int
patch(uint8_t *elf, size_t len, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), i;
	const char *slash = strrchr(to, '/');
	char repl[128] = {0};
	uint8_t *p = elf;

	if (tl > fl || fl >= sizeof(repl))
		return -ENAMETOOLONG;
	if (slash) {
		size_t head = (size_t)(slash - to);

		memcpy(repl, to, head);
		for (i = head; i < head + fl - tl; i++)
			repl[i] = '/';
		memcpy(repl + head + fl - tl, slash, tl - head);
	} else {
		memcpy(repl, to, tl);
	}
	while ((p = memmem(p, len - (size_t)(p - elf), from, fl + 1))) {
		memcpy(p, repl, fl);
		p += fl + 1;
	}
	return 0;
}

/* The broker's (truncated) name for a map patched to 'to'. */
static void
patched_name(char *buf, const char *from, const char *to)
{
	uint8_t tmp[128] = {0};

	memcpy(tmp, from, strlen(from) + 1);
	patch(tmp, sizeof(tmp), from, to);
	snprintf(buf, BPF_NAME_LEN + 1, "%s", (const char *)tmp);
}

/* Zero entries 0..7 of the map the broker calls name. */
static int
zero_map(struct cub_cube *cube, const char *name)
{
	uint8_t zero[64] = {0};
	cub_map m;
	uint32_t k;
	int r;

	if ((r = cub_cube__map(cube, name, &m)))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "loaded, but no map '%s' in the answer", name);
	for (k = 0; k < 8 && m.value_size <= sizeof(zero); k++)
		cub_map__update(cube, &m, &k, zero, 0);
	return 0;
}

static int
path_attack(struct cub_cube *cube, const char *what, const char *target)
{
	bool act = !strcmp(what, "path-act");
	const char *from = act ? EVIL_PATH_ACT : EVIL_PATH_PORT;
	const void *orig;
	char name[BPF_NAME_LEN + 1];
	uint8_t *elf;
	size_t len;
	int r;

	orig = evil_path__elf_bytes(&len);
	elf = malloc(len);
	if (!elf)
		return -ENOMEM;
	memcpy(elf, orig, len);
	if (!strcmp(what, "dup")) {
		r = patch(elf, len, EVIL_PATH_ACT, "evact");
		r = r ?: patch(elf, len, EVIL_PATH_PORT, "evport");
		r = r ?: patch(elf, len, EVIL_DUP_B, EVIL_DUP_A);
	} else if (!strcmp(what, "clean")) {
		r = patch(elf, len, EVIL_PATH_ACT, "evact");
		r = r ?: patch(elf, len, EVIL_PATH_PORT, "evport");
	} else {
		if (!target) {
			free(elf);
			return cub_cube__set_error(
			    cube, CUB_E_MISSING, "%s needs target=", what);
		}
		/* The other placeholder gets a plain name. */
		r = patch(elf, len, act ? EVIL_PATH_PORT : EVIL_PATH_ACT,
		    act ? "evport" : "evact");
		r = r ?: patch(elf, len, from, target);
	}
	if (r) {
		free(elf);
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "patch: %s", strerror(-r));
	}
	r = cub_cube__load(cube, elf, len);
	free(elf);
	if (r)
		return -EPERM; /* the broker's refusal is the error */
	if (!strcmp(what, "clean"))
		return 0;
	if (!strcmp(what, "dup"))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "the broker loaded two maps named '%s'", EVIL_DUP_A);
	patched_name(name, from, target);
	zero_map(cube, name);
	return cub_cube__set_error(cube, CUB_E_INTERNAL,
	    "the broker loaded a map named '%s' and let it be zeroed", target);
}

static int
big(struct cub_cube *cube, const struct cub_val *args)
{
	const void *orig;
	uint64_t n = 0;
	char name[16];
	uint8_t *elf;
	size_t len;
	int r;

	cub_val__as_u64(cub_val__get(args, "n"), &n);
	snprintf(name, sizeof(name), "evbig_%04u", (unsigned)(n % 10000));
	orig = evil_big__elf_bytes(&len);
	elf = malloc(len);
	if (!elf)
		return -ENOMEM;
	memcpy(elf, orig, len);
	patch(elf, len, EVIL_BIG, name);
	r = cub_cube__load(cube, elf, len);
	free(elf);
	return r ? -EPERM : 0;
}

static const char *
outcome(int r)
{
	return r ? "refused" : "done";
}

/* Small integers into an fd-valued map: every write must be refused. */
static int
fdmap(struct cub_cube *cube, struct cub_val **result)
{
	const void *elf;
	uint32_t keys[2] = {0, 1}, vals[2] = {3, 4}, k = 0, fd;
	int done = 0, r;
	size_t len;
	cub_map m;

	elf = evil_fdmap__elf_bytes(&len);
	if (cub_cube__load(cube, elf, len))
		return -EPERM;
	if (cub_cube__map(cube, "evmaps", &m))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "no map 'evmaps' after the load");
	*result = cub_val__map();
	for (fd = 0; fd < 64; fd++)
		done += !cub_map__update(cube, &m, &k, &fd, 0);
	cub_val__set(*result, "updates_done", cub_val__uint((uint64_t)done));
	r = cub_map__update_batch(cube, &m, keys, vals, 2, 0);
	done += !r;
	cub_val__set(*result, "batch_update", cub_val__str(outcome(r)));
	r = cub_map__delete(cube, &m, &k);
	done += !r;
	cub_val__set(*result, "delete", cub_val__str(outcome(r)));
	r = cub_map__delete_batch(cube, &m, keys, 2);
	done += !r;
	cub_val__set(*result, "batch_delete", cub_val__str(outcome(r)));
	if (done)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "the broker wrote %d fd-valued entries", done);
	return -EPERM; /* the broker's first refusal is the error */
}

/*
 * A per-CPU map of 4-byte values through the SDK's layout, then the same
 * update with the old, short layout (value_size x CPUs): the broker must
 * refuse it by its length rather than let the kernel read past it.
 */
static int
count_entry(const void *key, const void *value, void *ctx)
{
	(void)key;
	(void)value;
	(*(uint64_t *)ctx)++;
	return 0;
}

/*
 * A big empty CGROUP_ARRAY, then one map.dump of it: every slot's lookup
 * fails, so the broker walks all 3.3 million under b->lock in one call.
 */
static int
dumpstall(struct cub_cube *cube, struct cub_val **result)
{
	uint64_t n = 0;
	const void *elf;
	size_t len;
	cub_map m;
	int r;

	elf = evil_dump__elf_bytes(&len);
	if (cub_cube__load(cube, elf, len))
		return -EPERM;
	if (cub_cube__map(cube, "evstall", &m))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "no map 'evstall' after the load");
	r = cub_map__dump(cube, &m, count_entry, &n);
	*result = cub_val__map();
	cub_val__set(*result, "dump", cub_val__str(outcome(r)));
	cub_val__set(*result, "entries", cub_val__uint(n));
	return 0;
}

static int
pcpu4(struct cub_cube *cube, struct cub_val **result)
{
	uint32_t k = 1, cpu, bad = 0, *v;
	const void *elf;
	uint8_t *vals;
	cub_map m, shortm;
	size_t len;
	int r;

	elf = evil_pcpu4__elf_bytes(&len);
	if (cub_cube__load(cube, elf, len))
		return -EPERM;
	if (cub_cube__map(cube, "evpc4", &m))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "no map 'evpc4' after the load");
	vals = calloc(1, cub_map__value_bytes(&m));
	if (!vals)
		return -ENOMEM;
	for (cpu = 0; cpu < m.ncpus; cpu++) {
		v = cub_map__cpu_value(&m, vals, cpu);
		*v = 0x1000 + cpu;
	}
	if ((r = cub_map__update(cube, &m, &k, vals, 0))) {
		free(vals);
		return r;
	}
	memset(vals, 0, cub_map__value_bytes(&m));
	if ((r = cub_map__lookup(cube, &m, &k, vals))) {
		free(vals);
		return r;
	}
	for (cpu = 0; cpu < m.ncpus; cpu++) {
		v = cub_map__cpu_value(&m, vals, cpu);
		bad += *v != 0x1000 + cpu;
	}
	*result = cub_val__map();
	cub_val__set(*result, "ncpus", cub_val__uint(m.ncpus));
	cub_val__set(*result, "value_bytes",
	    cub_val__uint((uint64_t)cub_map__value_bytes(&m)));
	cub_val__set(*result, "cpus_wrong", cub_val__uint(bad));
	/* The short layout: the same map id, posing as a plain array. */
	shortm = m;
	shortm.type = 2; /* BPF_MAP_TYPE_ARRAY */
	shortm.value_size = m.value_size * m.ncpus;
	shortm.ncpus = 1;
	r = cub_map__update(cube, &shortm, &k, vals, 0);
	cub_val__set(*result, "short_update", cub_val__str(outcome(r)));
	free(vals);
	return 0;
}

int
evil_bpfobj(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result)
{
	const char *what = cub_val__get_str(args, "object");
	const void *elf;
	size_t len;

	if (!what)
		return cub_cube__set_error(cube, CUB_E_MISSING, "object=");
	if (!strncmp(what, "path-", 5) || !strcmp(what, "dup") ||
	    !strcmp(what, "clean"))
		return path_attack(
		    cube, what, cub_val__get_str(args, "target"));
	if (!strcmp(what, "big"))
		return big(cube, args);
	if (!strcmp(what, "fdmap"))
		return fdmap(cube, result);
	if (!strcmp(what, "pcpu4"))
		return pcpu4(cube, result);
	if (!strcmp(what, "dumpstall"))
		return dumpstall(cube, result);
	elf = evil_pcpu__elf_bytes(&len);
	if (cub_cube__load(cube, elf, len))
		return -EPERM;
	return cub_cube__set_error(cube, CUB_E_INTERNAL,
	    "the broker loaded a per-CPU map over the policy's bytes");
}
