// SPDX-License-Identifier: BSD-2-Clause
/*
 * graph_walk.c: the longest chain of the cube graph, its loops, and the
 * limit of 17 cubes (33 tail calls), on hand-built documents.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cubicle/val.h"
#include "graph_walk.h"

#define MAXC 1100

static char names[MAXC][16];
static struct cub_val *docs[MAXC];
static struct graph_cube cubes[MAXC];
static uint32_t ncubes;

static void
setup(void)
{
	ncubes = 0;
}

static void
teardown(void)
{
	uint32_t i;

	for (i = 0; i < ncubes; i++)
		docs[i] = cub_val__free(docs[i]);
}

/* A cube named name with nports ports p1..pN, no peers; its index. */
static uint32_t
cube(const char *name, unsigned nports)
{
	struct cub_val *ports = cub_val__array(), *e;
	char pname[16];
	unsigned i;

	ck_assert_uint_lt(ncubes, MAXC);
	snprintf(names[ncubes], sizeof(names[ncubes]), "%s", name);
	docs[ncubes] = cub_val__map();
	for (i = 1; i <= nports; i++) {
		e = cub_val__map();
		snprintf(pname, sizeof(pname), "p%u", i);
		cub_val__set(e, "name", cub_val__str(pname));
		cub_val__push(ports, e);
	}
	cub_val__set(docs[ncubes], "ports", ports);
	cubes[ncubes].name = names[ncubes];
	cubes[ncubes].doc = docs[ncubes];
	return ncubes++;
}

/* Port p of cube c peers with peer ("x:pN" or a netdev). */
static void
peer(uint32_t c, unsigned p, const char *to)
{
	struct cub_val *ports = cub_val__get(docs[c], "ports");

	ck_assert_uint_le(p, ports->arr.len);
	cub_val__set(ports->arr.items[p - 1], "peer", cub_val__str(to));
}

/* Both ways: a:pa <-> b:pb. */
static void
link2(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
	char s[48];

	snprintf(s, sizeof(s), "%s:p%u", names[b], pb);
	peer(a, pa, s);
	snprintf(s, sizeof(s), "%s:p%u", names[a], pa);
	peer(b, pb, s);
}

/* c1 - c2 - ... - cN, both ways, p2 of each to p1 of the next. */
static void
line(const char *prefix, unsigned n)
{
	uint32_t first = ncubes, i;
	char name[16];

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%u", prefix, i + 1);
		cube(name, 2);
	}
	for (i = 0; i + 1 < n; i++)
		link2(first + i, 2, first + i + 1, 1);
}

static int
walk(struct graph_result *res)
{
	return graph_walk(cubes, ncubes, res);
}

START_TEST(empty_and_netdevs)
{
	struct graph_result res;
	uint32_t a;

	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 0);
	a = cube("a", 3);
	peer(a, 1, "veth0");
	peer(a, 2, "nosuch:p1"); /* no such cube: no hop */
	peer(a, 3, "a:p9");      /* no such port: no hop */
	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 1);
}
END_TEST

/* A two-way link is no loop: a packet does not go back by its in-port. */
START_TEST(two_way_link_is_no_loop)
{
	struct graph_result res;

	line("c", 2);
	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 2);
}
END_TEST

START_TEST(seventeen_pass_eighteen_refused)
{
	struct graph_result res;

	line("c", 17);
	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 17);
	ck_assert_uint_eq(2 * res.longest - 1, GRAPH_TAIL_CALLS_MAX);
	teardown();
	setup();
	line("c", 18);
	ck_assert_int_eq(walk(&res), -E2BIG);
	ck_assert_uint_eq(res.cubes, 18);
	ck_assert_ptr_nonnull(strstr(res.chain, "c17:p2 -> c18:p1")
				  ?: strstr(res.chain, "c2:p1 -> c1:p2"));
}
END_TEST

/* One-way peers count one way only. */
START_TEST(one_way)
{
	struct graph_result res;
	char s[16];
	uint32_t i;

	for (i = 0; i < 17; i++) {
		snprintf(s, sizeof(s), "c%02u", i);
		cube(s, 2);
	}
	for (i = 0; i + 1 < 17; i++) {
		snprintf(s, sizeof(s), "c%02u:p1", i + 1);
		peer(i, 2, s);
	}
	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 17);
	/* The 18th, in front, one way: over. */
	cube("b", 2);
	peer(17, 2, "c00:p1");
	ck_assert_int_eq(walk(&res), -E2BIG);
	ck_assert_uint_eq(res.cubes, 18);
	ck_assert_ptr_nonnull(strstr(res.chain, "b:p2 -> c00:p1"));
}
END_TEST

/*
 * A hub with a short branch and a long one: the longest wins whichever
 * is walked first, and a chain that reaches an already-walked node deep
 * enough is over the limit with its true length (the memo's tail).
 */
START_TEST(branches_and_memo)
{
	struct graph_result res;
	uint32_t hub, i, first;

	/* "a*" sorts first: the long branch is walked before the hub. */
	first = ncubes;
	line("a", 10);
	hub = cube("h", 3);
	cube("s", 2);
	link2(hub, 1, first, 1);   /* h:p1 - a1 ... a10 */
	link2(hub, 2, hub + 1, 1); /* h:p2 - s */
	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 12); /* s h a1..a10 */
	/* Six more in front of s: 6 + s + h + 10 = 18. */
	first = ncubes;
	line("z", 6);
	link2(first + 5, 2, hub + 1, 2);
	ck_assert_int_eq(walk(&res), -E2BIG);
	ck_assert_uint_eq(res.cubes, 18);
	/* Five: 17, fine. */
	teardown();
	setup();
	first = ncubes;
	line("a", 10);
	hub = cube("h", 3);
	cube("s", 2);
	link2(hub, 1, first, 1);
	link2(hub, 2, hub + 1, 1);
	first = ncubes;
	line("z", 5);
	link2(first + 4, 2, hub + 1, 2);
	ck_assert_int_eq(walk(&res), 0);
	ck_assert_uint_eq(res.longest, 17);
	for (i = 0; i < ncubes; i++)
		ck_assert_ptr_nonnull(cubes[i].name);
}
END_TEST

START_TEST(loops)
{
	struct graph_result res;
	uint32_t a, b;

	/* sf1:p2 -> sf2:p1, sf2:p2 -> sf1:p1 */
	a = cube("sf1", 2);
	b = cube("sf2", 2);
	peer(a, 2, "sf2:p1");
	peer(b, 2, "sf1:p1");
	ck_assert_int_eq(walk(&res), -ELOOP);
	ck_assert_ptr_nonnull(strstr(res.chain, "sf1:p2 -> sf2:p1"));
	ck_assert_ptr_nonnull(strstr(res.chain, "sf2:p2 -> sf1:p1"));
	teardown();
	setup();
	/* Two ports of one cube peered with each other. */
	a = cube("x", 2);
	link2(a, 1, a, 2);
	ck_assert_int_eq(walk(&res), -ELOOP);
	teardown();
	setup();
	/* A triangle of two-way links. */
	a = cube("r1", 2);
	b = cube("r2", 2);
	cube("r3", 2);
	link2(a, 2, b, 1);
	link2(b, 2, b + 1, 1);
	link2(b + 1, 2, a, 1);
	ck_assert_int_eq(walk(&res), -ELOOP);
}
END_TEST

/*
 * The largest graph the broker holds: 1024 cubes of 128 ports, each
 * cube's ports 65..128 peered with ports 1..64 of the next, in runs of
 * 17 cubes (the longest legal chain).  Every node is walked once, each
 * from its cube's 127 other ports.  The time is printed, not asserted.
 */
START_TEST(largest_graph)
{
	struct graph_result res;
	struct timespec t0, t1;
	char name[16], s[32];
	uint32_t i, j;

	for (i = 0; i < 1024; i++) {
		snprintf(name, sizeof(name), "c%04u", i);
		cube(name, 128);
	}
	for (i = 0; i + 1 < 1024; i++) {
		if (i % 17 == 16)
			continue;
		for (j = 65; j <= 128; j++) {
			snprintf(s, sizeof(s), "c%04u:p%u", i + 1, j - 64);
			peer(i, j, s);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(walk(&res), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(res.longest, 17);
	printf("graph: 1024 cubes x 128 ports, longest chain %u, walked in "
	       "%.1f ms\n",
	    res.longest,
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	/* One more link joins two runs: 34 cubes, refused. */
	peer(16, 128, "c0017:p1");
	ck_assert_int_eq(walk(&res), -E2BIG);
	ck_assert_uint_eq(res.cubes, 18);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("graph");
	TCase *tc = tcase_create("graph");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, empty_and_netdevs);
	tcase_add_test(tc, two_way_link_is_no_loop);
	tcase_add_test(tc, seventeen_pass_eighteen_refused);
	tcase_add_test(tc, one_way);
	tcase_add_test(tc, branches_and_memo);
	tcase_add_test(tc, loops);
	tcase_add_test(tc, largest_graph);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
