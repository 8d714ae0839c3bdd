// SPDX-License-Identifier: BSD-2-Clause
/*
 * A worker that is slow, as a plugin with a heavy slow path or a stuck
 * backend would be (issue 7 defect 4):
 *   cubicle e1 debug slow pktin_ms=500   each packet_in sleeps 500 ms
 *   cubicle e1 debug slow show_ms=9000   each show sleeps 9 s
 *   cubicle e1 debug slow sleep_ms=9000  this action sleeps 9 s
 * The settings are the worker's (all its cubes), and last until it
 * restarts.
 */
#include <stdint.h>
#include <time.h>

#include "evil_slow.h"

static uint32_t pktin_ms, show_ms, apply_ms, apply_fail, apply_create;

const struct cub_field evil_slow_args[] = {
    {.name = "pktin_ms",
	.type = CUB_T_U32,
	.help = "from now on, sleep this long in each packet_in"},
    {.name = "show_ms",
	.type = CUB_T_U32,
	.help = "from now on, sleep this long in each show"},
    {.name = "apply_ms",
	.type = CUB_T_U32,
	.help = "from now on, sleep this long in each apply that is not a "
		"create (review: the peer race)"},
    {.name = "apply_fail",
	.type = CUB_T_U32,
	.help = "from now on, 1: refuse each such apply after its sleep"},
    {.name = "apply_create",
	.type = CUB_T_U32,
	.help = "from now on, 1: creates too (apply_ms, apply_fail)"},
    {.name = "sleep_ms",
	.type = CUB_T_U32,
	.help = "sleep this long in this action"},
    {0},
};

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000};

	while (ms && nanosleep(&ts, &ts))
		;
}

static bool
arg_u32(const struct cub_val *args, const char *name, uint32_t *v)
{
	uint64_t n;

	if (cub_val__as_u64(cub_val__get(args, name), &n) || n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

int
evil_slow_action(const struct cub_val *args, struct cub_val **result)
{
	uint32_t slept = 0;

	arg_u32(args, "pktin_ms", &pktin_ms);
	arg_u32(args, "show_ms", &show_ms);
	arg_u32(args, "apply_ms", &apply_ms);
	arg_u32(args, "apply_fail", &apply_fail);
	arg_u32(args, "apply_create", &apply_create);
	if (arg_u32(args, "sleep_ms", &slept))
		sleep_ms(slept);
	*result = cub_val__map();
	cub_val__set(*result, "pktin_ms", cub_val__uint(pktin_ms));
	cub_val__set(*result, "show_ms", cub_val__uint(show_ms));
	cub_val__set(*result, "slept_ms", cub_val__uint(slept));
	return 0;
}

void
evil_slow_packet_in(void)
{
	sleep_ms(pktin_ms);
}

void
evil_slow_show(void)
{
	sleep_ms(show_ms);
}

bool
evil_slow_apply(bool create)
{
	if (create && !apply_create)
		return false;
	sleep_ms(apply_ms);
	return apply_fail != 0;
}
