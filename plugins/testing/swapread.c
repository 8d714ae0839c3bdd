// SPDX-License-Identifier: BSD-2-Clause
/*
 * swapread: a test-only transparent service for the fast swap-on-read
 * (tests/integration/swapread.sh, bench/dynmon-swap).  Its object is
 * swapread.bpf.c: UDP packets arriving on the netdev it is attached to are
 * counted in set "pkt" (a per-CPU counter and a hash by destination port)
 * and outside it (sr_total), and dropped.  show: total (sr_total summed
 * over CPUs).  Debug actions:
 *   reads n=N [interval_ms=M] [list=1]  N reads of set pkt by
 *                   cub_swap__read_members(): the sums of member cnt and
 *                   of member port over the reads, the late entries
 *                   folded into them, and with list=1 every port seen
 *                   with its count ("ports": [[port, count]...])
 *   loops n=N       the program's slow path: N bpf_loop iterations
 *                   between taking its copy and writing it
 *   benchload n=1|2  load the bench's object of arrays (1) or hashes (2)
 *                   in place of the cube's (show no longer answers)
 *   bench which=S n=N [grace=1] [interval_ms=M]  N reads of bench set S
 *                   (a1 ak am: arrays of 1, 1k, 64k; h1 hk hm: hashes as
 *                   large) through cub_swap__read() (grace=1: the old
 *                   read), each after filling the active copy with every
 *                   entry = 1 and M ms (neither timed); the time from the call to the last value
 *                   summed in fn: mean, median, min (us); whether every
 *                   read summed exactly the entries
 * Never installed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "swapread.skel.h"
#include "swapread_ba.skel.h"
#include "swapread_bu.skel.h"
#include "swapread_bv.skel.h"
#include "swapread_bh.skel.h"
#include "swapread_shared.h"

static const struct cub_field sr_args[] = {
    {.name = "n", .type = CUB_T_U32, .help = "how many"},
    {.name = "interval_ms", .type = CUB_T_U32, .help = "pause between reads"},
    {.name = "list", .type = CUB_T_U32, .help = "1: list the ports seen"},
    {.name = "which", .type = CUB_T_STR, .help = "bench: set a1 ak am h1 hk hm"},
    {.name = "grace", .type = CUB_T_U32, .help = "bench: 1 for the old read"},
    {0},
};

static const struct cub_action sr_actions[] = {
    {.name = "reads", .help = "N swap-on-read passes of set pkt",
	.args = sr_args},
    {.name = "loops", .help = "the slow path's iterations", .args = sr_args},
    {.name = "bench", .help = "swap-on-read latency", .args = sr_args},
    {.name = "benchload",
	.help = "load the bench's arrays (n=1) or hashes (n=2)",
	.args = sr_args},
    {0},
};

static const struct cub_field sr_debug_fields[] = {
    {.name = "note", .type = CUB_T_STR, .help = "free text"},
    {0},
};

static const struct cub_field sr_schema[] = {
    {.name = "total",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "UDP packets the program counted outside the set"},
    {.name = "debug",
	.type = CUB_T_CONTAINER,
	.children = sr_debug_fields,
	.actions = sr_actions,
	.help = "test actions"},
    {0},
};

struct sr_cube {
	bool loaded;
	cub_map total, cfg;
	uint64_t ports[65536]; /* one reads action's per-port sums */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint32_t
arg_u32(const struct cub_val *args, const char *name, uint32_t dflt)
{
	uint64_t v;

	if (cub_val__as_u64(cub_val__get(args, name), &v) || v > UINT32_MAX)
		return dflt;
	return (uint32_t)v;
}

static int
sr_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct sr_cube *sc = cub_cube__priv(cube);
	const void *elf;
	size_t len;
	int r;

	(void)config;
	if (!create && sc->loaded)
		return 0;
	elf = swapread__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "sr_total", &sc->total) ||
	    cub_cube__map(cube, "sr_cfg", &sc->cfg))
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "swapread: object lacks a map");
	sc->loaded = true;
	return 0;
}

/* The sum over CPUs of a per-CPU __u64 value. */
static uint64_t
cpu_sum(const cub_map *map, const void *value)
{
	uint64_t s = 0, v;
	uint32_t c;

	for (c = 0; c < map->ncpus; c++) {
		memcpy(&v, cub_map__cpu_value(map, (void *)value, c), 8);
		s += v;
	}
	return s;
}

static int
sr_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct sr_cube *sc = cub_cube__priv(cube);
	uint64_t vals[512];
	uint32_t key = 0;
	int r;

	(void)config;
	if (cub_map__value_bytes(&sc->total) > sizeof(vals))
		return -E2BIG;
	if ((r = cub_map__lookup(cube, &sc->total, &key, vals)))
		return r;
	cub_val__set(overlay, "total", cub_val__uint(cpu_sum(&sc->total, vals)));
	return 0;
}

static int
act_reads(struct cub_cube *cube, const struct cub_val *args,
    struct cub_val **result)
{
	struct sr_cube *sc = cub_cube__priv(cube);
	uint32_t n = arg_u32(args, "n", 1), ms = arg_u32(args, "interval_ms", 0);
	struct timespec ts = {.tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000};
	uint64_t cnt = 0, port = 0, late_cnt = 0, late_port = 0, v;
	struct cub_swap_result *res;
	struct cub_val *list;
	uint32_t i, m, e, key;
	int r = 0;

	memset(sc->ports, 0, sizeof(sc->ports));
	for (i = 0; i < n && !r; i++) {
		if (i && ms)
			nanosleep(&ts, NULL);
		if ((r = cub_swap__read_members(cube, "pkt", &res)))
			break;
		for (m = 0; m < res->nmembers; m++) {
			const struct cub_swap_member *mb = &res->member[m];
			size_t vsz = cub_map__value_bytes(&mb->map);
			bool is_cnt = !strcmp(mb->name, "cnt");

			if (is_cnt)
				late_cnt += mb->late;
			else
				late_port += mb->late;
			for (e = 0; e < mb->count; e++) {
				const uint8_t *val =
				    (const uint8_t *)mb->values + e * vsz;

				if (is_cnt) {
					cnt += cpu_sum(&mb->map, val);
					continue;
				}
				memcpy(&key,
				    (const uint8_t *)mb->keys +
					(size_t)e * mb->map.key_size,
				    4);
				memcpy(&v, val, 8);
				port += v;
				sc->ports[key & 0xffff] += v;
			}
		}
		cub_swap__result_free(res);
	}
	if (r)
		return r;
	*result = cub_val__map();
	cub_val__set(*result, "reads", cub_val__uint(n));
	cub_val__set(*result, "cnt", cub_val__uint(cnt));
	cub_val__set(*result, "port", cub_val__uint(port));
	cub_val__set(*result, "late_cnt", cub_val__uint(late_cnt));
	cub_val__set(*result, "late_port", cub_val__uint(late_port));
	if (arg_u32(args, "list", 0)) {
		list = cub_val__array();
		for (key = 0; key < 65536; key++) {
			struct cub_val *pair;

			if (!sc->ports[key])
				continue;
			pair = cub_val__array();
			cub_val__push(pair, cub_val__uint(key));
			cub_val__push(pair, cub_val__uint(sc->ports[key]));
			cub_val__push(list, pair);
		}
		cub_val__set(*result, "ports", list);
	}
	return 0;
}

/* Bench: fill the active copy of set with every entry = 1. */
static int
bench_fill(struct cub_cube *cube, const char *set, uint32_t *keys,
    uint64_t *ones, uint32_t *entries)
{
	char name[32];
	uint32_t zero = 0, copy, n;
	cub_map idx, m;
	int r;

	snprintf(name, sizeof(name), "cub_sw_%s", set);
	if ((r = cub_cube__map(cube, name, &idx)) ||
	    (r = cub_map__lookup(cube, &idx, &zero, &copy)))
		return r;
	snprintf(name, sizeof(name), "%s_c%u", set, copy);
	if ((r = cub_cube__map(cube, name, &m)))
		return r;
	/* keys and ones hold SR_BIG (review 11's sets are larger) */
	n = *entries = m.max_entries < SR_BIG ? m.max_entries : SR_BIG;
	return cub_map__update_batch(cube, &m, keys, ones, &n, NULL);
}

static int
bench_sum(const char *member, const cub_map *map, const void *key,
    const void *value, void *ctx)
{
	uint64_t v;

	(void)member;
	(void)map;
	(void)key;
	memcpy(&v, value, 8);
	*(uint64_t *)ctx += v;
	return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
act_bench(struct cub_cube *cube, const struct cub_val *args,
    struct cub_val **result)
{
	const char *set = cub_val__get_str(args, "which");
	uint32_t n = arg_u32(args, "n", 20), i, entries = 0;
	uint32_t ms = arg_u32(args, "interval_ms", 0);
	struct timespec ts = {.tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000};
	struct cub_swap_read_opts o = {
	    .sz = sizeof(o), .grace = arg_u32(args, "grace", 0) != 0};
	uint32_t *keys = calloc(SR_BIG, sizeof(*keys));
	uint64_t *ones = calloc(SR_BIG, sizeof(*ones));
	uint64_t *t = calloc(n ? n : 1, sizeof(*t)), sum, tsum = 0, t0;
	bool exact = true;
	int r = 0;

	if (!set || !keys || !ones || !t || !n) {
		r = set ? -ENOMEM : -EINVAL;
		goto out;
	}
	for (i = 0; i < SR_BIG; i++) {
		keys[i] = i;
		ones[i] = 1;
	}
	/* One read first: what any traffic or earlier bench left. */
	sum = 0;
	if ((r = cub_swap__read_opts(cube, set, &o, bench_sum, &sum)))
		goto out;
	for (i = 0; i < n && !r; i++) {
		if ((r = bench_fill(cube, set, keys, ones, &entries)))
			break;
		if (ms)
			nanosleep(&ts, NULL);
		sum = 0;
		t0 = now_ns();
		r = cub_swap__read_opts(cube, set, &o, bench_sum, &sum);
		t[i] = now_ns() - t0;
		tsum += t[i];
		exact = exact && sum == entries;
	}
	if (r)
		goto out;
	qsort(t, n, sizeof(*t), u64_cmp);
	*result = cub_val__map();
	cub_val__set(*result, "entries", cub_val__uint(entries));
	cub_val__set(*result, "reads", cub_val__uint(n));
	cub_val__set(*result, "mean_us", cub_val__uint(tsum / n / 1000));
	cub_val__set(*result, "median_ns", cub_val__uint(t[n / 2]));
	cub_val__set(*result, "min_ns", cub_val__uint(t[0]));
	cub_val__set(*result, "exact", cub_val__bool(exact));
out:
	free(keys);
	free(ones);
	free(t);
	return r;
}

static int
sr_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct sr_cube *sc = cub_cube__priv(cube);
	uint32_t n = arg_u32(args, "n", 0), key = 0;

	(void)path;
	if (!strcmp(name, "reads"))
		return act_reads(cube, args, result);
	if (!strcmp(name, "loops")) {
		if (n >= SR_LOOPS_MAX)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "loops: at most %u", SR_LOOPS_MAX - 1);
		return cub_map__update(cube, &sc->cfg, &key, &n, BPF_ANY);
	}
	if (!strcmp(name, "bench"))
		return act_bench(cube, args, result);
	if (!strcmp(name, "benchload")) {
		const void *elf;
		size_t len;

		elf = n == 1   ? swapread_ba__elf_bytes(&len)
		      : n == 3 ? swapread_bu__elf_bytes(&len)
		      : n == 4 ? swapread_bv__elf_bytes(&len)
			       : swapread_bh__elf_bytes(&len);
		return cub_cube__load(cube, elf, len);
	}
	return cub_cube__set_error(cube, CUB_E_VERB, "no action '%s'", name);
}

static const struct cub_plugin_ops sr_ops = {
    .apply = sr_apply,
    .show = sr_show,
    .action = sr_action,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "swapread",
    .description = "fast swap-on-read (tests only)",
    .cube_size = sizeof(struct sr_cube),
    .schema = sr_schema,
    .ops = &sr_ops,
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 256u << 20, /* review11-swapread-lockstall: two 5 Mi copies */
	},
    .flags = CUB_PLUGIN_F_TRANSPARENT,
};
