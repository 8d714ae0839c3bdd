// SPDX-License-Identifier: BSD-2-Clause
/*
 * swaptest: a test-only service for atomic map transactions
 * (tests/integration/mapswap.sh, bench/mapswap).  Its object is
 * swap.bpf.c.  show fills packets and mismatches (sw_stats, summed over
 * CPUs); the debug actions:
 *   swaps n=N [copies=2]  N transactions on set "ver" (3 copies; 2:
 *                   set "ver2"): copy k gets stamp s in both members,
 *                   then commits; reports begin and commit latency (us,
 *                   mean and max)
 *   reads n=N       N swap-on-read passes over set "ctr"; reports the sum
 *   loops n=N       the program's slow path: N bpf_loop iterations
 *   reset           zero sw_stats
 *   batch n=N [entry=1]  sw_big emptied, then N entries (key i, value 3i)
 *                   by one cub_map__update_batch (entry=1: BPF_NOEXIST,
 *                   which the broker applies one syscall per entry), read
 *                   back by cub_map__lookup_batch; reports times (us) and
 *                   whether every value came back
 *   partial         sw_big holds 0..9999 but 5000: a delete_batch of
 *                   0..9999 stops at 5000 and says so (count out)
 *   hostile         write the index map, begin a set that is not there
 *                   or badly named, commit a transaction a later begin
 *                   ended: the errors (-errno) by name
 *   badload n=1|2   load swap_bad1 (members with 3 and 2 copies) or
 *                   swap_bad2 (an index map without BPF_F_RDONLY_PROG)
 * Never installed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/bpf.h>

#include "cubicle/plugin.h"
#include "swap.skel.h"
#include "swap_bad1.skel.h"
#include "swap_bad2.skel.h"
#include "swap_shared.h"

static const struct cub_field swap_n_args[] = {
    {.name = "n", .type = CUB_T_U32, .help = "how many"},
    {.name = "entry",
	.type = CUB_T_U32,
	.help = "1: per entry in the broker (BPF_NOEXIST)"},
    {.name = "interval_ms", .type = CUB_T_U32, .help = "pause between reads"},
    {.name = "copies",
	.type = CUB_T_U32,
	.help = "swaps: 3 (set ver, the default) or 2 (set ver2)"},
    {0},
};

static const struct cub_action swap_actions[] = {
    {.name = "swaps", .help = "N transactions on set ver", .args = swap_n_args},
    {.name = "reads", .help = "N swap-on-read passes", .args = swap_n_args},
    {.name = "loops",
	.help = "the slow path's iterations",
	.args = swap_n_args},
    {.name = "reset", .help = "zero the program's counters"},
    {.name = "batch", .help = "N entries by batch calls", .args = swap_n_args},
    {.name = "partial", .help = "a batch that stops part way"},
    {.name = "hostile", .help = "what a worker may not do with a swap set"},
    {.name = "badload",
	.help = "load a bad swap set (n=1: copy counts differ, n=2: a "
		"writable index)",
	.args = swap_n_args},
    {0},
};

static const struct cub_field swap_debug_fields[] = {
    {.name = "note", .type = CUB_T_STR, .help = "free text"},
    {0},
};

static const struct cub_field swap_schema[] = {
    {.name = "packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets the program ran for"},
    {.name = "mismatches",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets that saw two copies of set ver"},
    {.name = "debug",
	.type = CUB_T_CONTAINER,
	.children = swap_debug_fields,
	.actions = swap_actions,
	.help = "test actions"},
    {0},
};

struct swap_cube {
	cub_map stats, cfg, big;
	uint64_t stamp;
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
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
swap_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	const void *elf;
	size_t len;
	int r;

	(void)config;
	if (!create)
		return 0;
	elf = swap__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if ((r = cub_cube__map(cube, "sw_stats", &sc->stats)) ||
	    (r = cub_cube__map(cube, "sw_cfg", &sc->cfg)) ||
	    (r = cub_cube__map(cube, "sw_big", &sc->big)))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "swaptest: object lacks a map (%d)", r);
	sc->stamp = (uint64_t)now_us() << 8; /* fresh across restarts */
	return 0;
}

static int
stat_sum(struct cub_cube *cube, uint32_t which, uint64_t *sum)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint64_t vals[512];
	uint32_t c;
	int r;

	*sum = 0;
	if (cub_map__value_bytes(&sc->stats) > sizeof(vals))
		return -E2BIG;
	if ((r = cub_map__lookup(cube, &sc->stats, &which, vals)))
		return r;
	for (c = 0; c < sc->stats.ncpus; c++)
		*sum += vals[c];
	return 0;
}

static int
swap_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	uint64_t p, m;
	int r;

	(void)config;
	if ((r = stat_sum(cube, SW_PACKETS, &p)) ||
	    (r = stat_sum(cube, SW_MISMATCH, &m)))
		return r;
	cub_val__set(overlay, "packets", cub_val__uint(p));
	cub_val__set(overlay, "mismatches", cub_val__uint(m));
	return 0;
}

/* One transaction: stamp s in copy k's a, then (separately) its b. */
static int
one_swap(struct cub_cube *cube, const char *set, uint64_t stamp,
    uint64_t *begin_us, uint64_t *commit_us)
{
	struct cub_swap_txn *txn;
	uint64_t t0 = now_us(), t1;
	uint32_t key = 0;
	cub_map a, b;
	int r;

	if ((r = cub_swap__begin(cube, set, &txn)))
		return r;
	t1 = now_us();
	*begin_us = t1 - t0;
	if ((r = cub_swap__map(txn, "a", &a)) ||
	    (r = cub_swap__map(txn, "b", &b)) ||
	    (r = cub_map__update(cube, &a, &key, &stamp, BPF_ANY)) ||
	    (r = cub_map__update(cube, &b, &key, &stamp, BPF_ANY))) {
		cub_swap__abort(txn);
		return r;
	}
	t0 = now_us();
	r = cub_swap__commit(txn);
	*commit_us = now_us() - t0;
	return r;
}

static int
act_swaps(
    struct cub_cube *cube, uint32_t n, uint32_t copies, struct cub_val **result)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint64_t b, c, bsum = 0, csum = 0, bmax = 0, cmax = 0;
	uint64_t t0 = now_us();
	uint32_t i;
	int r = 0;

	for (i = 0; i < n && !r; i++) {
		r = one_swap(
		    cube, copies == 2 ? "ver2" : "ver", ++sc->stamp, &b, &c);
		bsum += b;
		csum += c;
		bmax = b > bmax ? b : bmax;
		cmax = c > cmax ? c : cmax;
	}
	if (r)
		return r;
	*result = cub_val__map();
	cub_val__set(*result, "swaps", cub_val__uint(n));
	cub_val__set(*result, "total_us", cub_val__uint(now_us() - t0));
	cub_val__set(*result, "begin_us_mean", cub_val__uint(n ? bsum / n : 0));
	cub_val__set(*result, "begin_us_max", cub_val__uint(bmax));
	cub_val__set(
	    *result, "commit_us_mean", cub_val__uint(n ? csum / n : 0));
	cub_val__set(*result, "commit_us_max", cub_val__uint(cmax));
	return 0;
}

static int
add_counts(const char *member, const cub_map *map, const void *key,
    const void *value, void *ctx)
{
	uint64_t *sum = ctx;
	uint32_t c;

	(void)key;
	if (strcmp(member, "pkts"))
		return -EINVAL;
	for (c = 0; c < map->ncpus; c++)
		*sum += *(const uint64_t *)cub_map__cpu_value(
		    map, (void *)value, c);
	return 0;
}

static int
act_reads(struct cub_cube *cube, uint32_t n, uint32_t interval_ms,
    struct cub_val **result)
{
	struct timespec ts = {.tv_sec = interval_ms / 1000,
	    .tv_nsec = (long)(interval_ms % 1000) * 1000000};
	uint64_t sum = 0, t0, t, tmax = 0, tsum = 0;
	uint32_t i;
	int r = 0;

	for (i = 0; i < n && !r; i++) {
		if (i && interval_ms)
			nanosleep(&ts, NULL);
		t0 = now_us();
		r = cub_swap__read(cube, "ctr", add_counts, &sum);
		t = now_us() - t0;
		tsum += t;
		tmax = t > tmax ? t : tmax;
	}
	if (r)
		return r;
	*result = cub_val__map();
	cub_val__set(*result, "reads", cub_val__uint(n));
	cub_val__set(*result, "sum", cub_val__uint(sum));
	cub_val__set(*result, "read_us_mean", cub_val__uint(n ? tsum / n : 0));
	cub_val__set(*result, "read_us_max", cub_val__uint(tmax));
	return 0;
}

static int
act_reset(struct cub_cube *cube)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint32_t keys[SW_NSTATS] = {SW_PACKETS, SW_MISMATCH}, n = SW_NSTATS;
	void *zero = calloc(SW_NSTATS, cub_map__value_bytes(&sc->stats));
	int r;

	if (!zero)
		return -ENOMEM;
	r = cub_map__update_batch(cube, &sc->stats, keys, zero, &n, NULL);
	free(zero);
	return r;
}

/* sw_big emptied, by lookup_and_delete in pages. */
static int
big_clear(struct cub_cube *cube, uint32_t *keys, uint64_t *vals)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint32_t n, cursor;
	int r;

	do {
		n = SW_BIG_MAX;
		r = cub_map__lookup_and_delete_batch(
		    cube, &sc->big, NULL, &cursor, keys, vals, &n, NULL);
	} while (!r && n);
	return r == -ENOENT ? 0 : r;
}

static int
act_batch(
    struct cub_cube *cube, uint32_t n, bool entry, struct cub_val **result)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint32_t *keys = calloc(SW_BIG_MAX, sizeof(*keys)), i, got = 0, cnt;
	uint64_t *vals = calloc(SW_BIG_MAX, sizeof(*vals)), t0, tu, tl;
	CUB_BATCH_OPTS(o, .elem_flags = entry ? BPF_NOEXIST : 0);
	uint32_t cursor;
	bool ok = true;
	int r;

	if (!keys || !vals || n > SW_BIG_MAX) {
		r = keys && vals ? -E2BIG : -ENOMEM;
		goto out;
	}
	if ((r = big_clear(cube, keys, vals)))
		goto out;
	for (i = 0; i < n; i++) {
		keys[i] = i;
		vals[i] = 3ull * i;
	}
	t0 = now_us();
	cnt = n;
	r = cub_map__update_batch(cube, &sc->big, keys, vals, &cnt, &o);
	tu = now_us() - t0;
	if (r)
		goto out;
	memset(keys, 0xff, (size_t)n * sizeof(*keys));
	t0 = now_us();
	cnt = SW_BIG_MAX;
	r = cub_map__lookup_batch(
	    cube, &sc->big, NULL, &cursor, keys, vals, &cnt, NULL);
	tl = now_us() - t0;
	if (r && r != -ENOENT)
		goto out;
	got = cnt;
	for (i = 0; i < got; i++)
		ok = ok && keys[i] < n && vals[i] == 3ull * keys[i];
	*result = cub_val__map();
	cub_val__set(*result, "updated", cub_val__uint(n));
	cub_val__set(*result, "update_us", cub_val__uint(tu));
	cub_val__set(*result, "looked_up", cub_val__uint(got));
	cub_val__set(*result, "lookup_us", cub_val__uint(tl));
	cub_val__set(*result, "values_ok", cub_val__bool(ok && got == n));
	r = 0;
out:
	free(keys);
	free(vals);
	return r;
}

static int
act_partial(struct cub_cube *cube, struct cub_val **result)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint32_t keys[10000], cnt, i, del, key = 5000;
	uint64_t *vals = calloc(SW_BIG_MAX, sizeof(*vals));
	uint32_t *scratch = calloc(SW_BIG_MAX, sizeof(*scratch));
	int r, rd;

	if (!vals || !scratch) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = big_clear(cube, scratch, vals)))
		goto out;
	for (i = 0; i < 10000; i++) {
		keys[i] = i;
		vals[i] = i;
	}
	cnt = 10000;
	if ((r = cub_map__update_batch(
		 cube, &sc->big, keys, vals, &cnt, NULL)) ||
	    (r = cub_map__delete(cube, &sc->big, &key)))
		goto out;
	del = 10000;
	rd = cub_map__delete_batch(cube, &sc->big, keys, &del, NULL);
	*result = cub_val__map();
	cub_val__set(*result, "delete_r", cub_val__int(rd));
	cub_val__set(*result, "deleted", cub_val__uint(del));
	r = 0;
out:
	free(vals);
	free(scratch);
	return r;
}

/* What a worker may not do with a swap set; the errors, by code. */
static int
act_hostile(struct cub_cube *cube, struct cub_val **result)
{
	struct cub_swap_txn *t1, *t2;
	uint32_t key = 0, one = 1;
	cub_map idx;
	int r;

	*result = cub_val__map();
	/* The index map is the broker's. */
	r = cub_cube__map(cube, "cub_sw_ver", &idx);
	cub_val__set(*result, "index_found", cub_val__int(r));
	if (!r)
		r = cub_map__update(cube, &idx, &key, &one, BPF_ANY);
	cub_val__set(*result, "index_write", cub_val__int(r));
	r = cub_swap__begin(cube, "nosuch", &t1);
	cub_val__set(*result, "no_set", cub_val__int(r));
	r = cub_swap__begin(cube, "Bad_Name", &t1);
	cub_val__set(*result, "bad_name", cub_val__int(r));
	/* A second begin ends the first: its commit fails. */
	if ((r = cub_swap__begin(cube, "ver", &t1)))
		return r;
	if ((r = cub_swap__begin(cube, "ver", &t2))) {
		cub_swap__abort(t1);
		return r;
	}
	r = cub_swap__commit(t1);
	cub_val__set(*result, "stale_commit", cub_val__int(r));
	cub_swap__abort(t2);
	/* A cleared copy: the stamps of an earlier round are gone. */
	{
		struct cub_swap_opts o = {.sz = sizeof(o), .clear = true};
		uint64_t before = 0, after = 1;
		cub_map a;

		if ((r = cub_swap__begin(cube, "ver", &t1)))
			return r;
		if (!cub_swap__map(t1, "a", &a))
			cub_map__lookup(cube, &a, &key, &before);
		cub_swap__abort(t1);
		if ((r = cub_swap__begin_opts(cube, "ver", &o, &t1)))
			return r;
		if (!cub_swap__map(t1, "a", &a))
			cub_map__lookup(cube, &a, &key, &after);
		cub_swap__abort(t1);
		cub_val__set(
		    *result, "stamp_before_clear", cub_val__uint(before));
		cub_val__set(
		    *result, "stamp_after_clear", cub_val__uint(after));
	}
	return 0;
}

/* A hostile object: refused, and the cube keeps the one it had. */
static int
act_badload(struct cub_cube *cube, uint32_t which)
{
	const void *elf;
	size_t len;

	elf = which == 1 ? swap_bad1__elf_bytes(&len)
			 : swap_bad2__elf_bytes(&len);
	return cub_cube__load(cube, elf, len);
}

static int
swap_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct swap_cube *sc = cub_cube__priv(cube);
	uint32_t n = arg_u32(args, "n", 1), key = 0;

	(void)path;
	if (!strcmp(name, "swaps"))
		return act_swaps(cube, n, arg_u32(args, "copies", 3), result);
	if (!strcmp(name, "reads"))
		return act_reads(
		    cube, n, arg_u32(args, "interval_ms", 0), result);
	if (!strcmp(name, "loops")) {
		if (n >= SW_LOOPS_MAX)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "loops: at most %u", SW_LOOPS_MAX - 1);
		return cub_map__update(cube, &sc->cfg, &key, &n, BPF_ANY);
	}
	if (!strcmp(name, "reset"))
		return act_reset(cube);
	if (!strcmp(name, "batch"))
		return act_batch(
		    cube, n, arg_u32(args, "entry", 0) != 0, result);
	if (!strcmp(name, "partial"))
		return act_partial(cube, result);
	if (!strcmp(name, "hostile"))
		return act_hostile(cube, result);
	if (!strcmp(name, "badload"))
		return act_badload(cube, n);
	return cub_cube__set_error(cube, CUB_E_VERB, "no action '%s'", name);
}

static const struct cub_plugin_ops swap_ops = {
    .apply = swap_apply,
    .show = swap_show,
    .action = swap_action,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "swaptest",
    .description = "atomic map transactions (tests only)",
    .cube_size = sizeof(struct swap_cube),
    .schema = swap_schema,
    .ops = &swap_ops,
    .policy =
	{
	    .prog_types =
		(1u << BPF_PROG_TYPE_SCHED_CLS) | (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_HASH) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
			 (1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS) |
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 64u << 20,
	},
};
