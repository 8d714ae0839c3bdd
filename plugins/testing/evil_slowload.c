// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil's slow loads:
 *   cubicle e1 debug slowload n=N [on-destroy=wait|exit]
 * starts a thread of the worker that asks the broker N times in a row to
 * load evil_slowload.bpf.c, which the verifier takes a second or more over
 * (its map renamed each time: evslow_0001, ...), and returns at once: a
 * worker that loops slow loads on its own, outside any call of the
 * broker's.  Each load is marked on stderr (the broker's log, as the
 * worker's): "evil-slowload: cube e1: load 2/3 start", then "... end:
 * loaded" (or "refused").  One loop at a time in a worker.
 *
 * The worker runtime is single-threaded: this thread is the only one that
 * calls the broker while it runs (the tests send the worker nothing else
 * meanwhile but the cube's destroy, which calls nothing).  The runtime
 * frees a cube after its destroy op, so the cube's destroy stops the loop
 * and waits for the load in flight, or, with on-destroy=exit, the worker
 * exits there and then (the broker's deleter is done with the cube before
 * the load ends).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cubicle/errors.h"
#include "cubicle/plugin.h"

#include "evil_slowload.h"
#include "evil_slowload.skel.h"

#define EVIL_SLOWLOAD_MAX 20

static const char *const evil_slowload_ends[] = {"wait", "exit", NULL};

const struct cub_field evil_slowload_args[] = {
    {.name = "n",
	.type = CUB_T_U32,
	.help = "how many slow loads in a row (1 to 20, default 1)"},
    {.name = "on-destroy",
	.type = CUB_T_ENUM,
	.enums = evil_slowload_ends,
	.help = "what the cube's destroy does during a load: wait for it "
		"(default) or exit the worker"},
    {0},
};

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	struct cub_cube *cube; /* the cube of the running loop, or NULL */
	bool stop;
	bool done; /* the thread has ended: join it */
	bool exit_on_destroy;
	unsigned n;
} slow = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *
slow_loop(void *arg)
{
	struct cub_cube *cube = arg;
	static unsigned serial;
	const uint8_t *orig;
	uint8_t *elf, *p;
	char name[12];
	size_t len;
	unsigned i;
	bool stop;
	int r;

	orig = evil_slowload__elf_bytes(&len);
	elf = malloc(len);
	if (!elf)
		return NULL;
	for (i = 1; i <= slow.n; i++) {
		/* A new name (same length) everywhere the ELF has the old. */
		memcpy(elf, orig, len);
		snprintf(name, sizeof(name), "evslow_%04u", ++serial % 10000);
		for (p = elf; (p = memmem(p, len - (size_t)(p - elf),
				   "evslow_0000", 12));
		     p += 12)
			memcpy(p, name, 11);
		pthread_mutex_lock(&slow.lock);
		stop = slow.stop;
		pthread_mutex_unlock(&slow.lock);
		if (stop)
			break;
		fprintf(stderr, "evil-slowload: cube %s: load %u/%u start\n",
		    cub_cube__name(cube), i, slow.n);
		r = cub_cube__load(cube, elf, len);
		fprintf(stderr, "evil-slowload: cube %s: load %u/%u end: %s\n",
		    cub_cube__name(cube), i, slow.n, r ? "refused" : "loaded");
	}
	free(elf);
	pthread_mutex_lock(&slow.lock);
	slow.done = true;
	pthread_mutex_unlock(&slow.lock);
	return NULL;
}

int
evil_slowload_action(
    struct cub_cube *cube, const struct cub_val *args, struct cub_val **result)
{
	const struct cub_val *nv = cub_val__get(args, "n");
	const char *end = cub_val__get_str(args, "on-destroy");
	uint64_t n = 1;
	int r;

	if (nv && (cub_val__as_u64(nv, &n) || n < 1 || n > EVIL_SLOWLOAD_MAX))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "slowload: n must be 1 to %d", EVIL_SLOWLOAD_MAX);
	pthread_mutex_lock(&slow.lock);
	if (slow.cube && slow.done) {
		pthread_join(slow.thread, NULL);
		slow.cube = NULL;
	}
	if (slow.cube) {
		pthread_mutex_unlock(&slow.lock);
		return cub_cube__set_error(cube, CUB_E_BUSY,
		    "slowload: a loop runs for cube '%s'",
		    cub_cube__name(slow.cube));
	}
	slow.n = (unsigned)n;
	slow.stop = false;
	slow.done = false;
	slow.exit_on_destroy = end && !strcmp(end, "exit");
	slow.cube = cube;
	r = pthread_create(&slow.thread, NULL, slow_loop, cube);
	if (r)
		slow.cube = NULL;
	pthread_mutex_unlock(&slow.lock);
	if (r)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "slowload: pthread_create failed");
	*result = cub_val__map();
	cub_val__set(*result, "started", cub_val__uint(n));
	return 0;
}

void
evil_slowload_destroy(struct cub_cube *cube)
{
	pthread_mutex_lock(&slow.lock);
	if (slow.cube != cube) {
		pthread_mutex_unlock(&slow.lock);
		return;
	}
	if (slow.exit_on_destroy && !slow.done) {
		fprintf(stderr, "evil-slowload: cube %s: exiting in destroy\n",
		    cub_cube__name(cube));
		_exit(0);
	}
	slow.stop = true;
	pthread_mutex_unlock(&slow.lock);
	pthread_join(slow.thread, NULL);
	pthread_mutex_lock(&slow.lock);
	slow.cube = NULL;
	pthread_mutex_unlock(&slow.lock);
}
