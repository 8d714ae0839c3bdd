/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The longest chain of the cube graph, for graph.c's tail-call budget:
 * on the cubes' documents alone (their ports' name and peer), so that it
 * is unit-tested without a broker (graph_test.c).
 */
#ifndef CUBICLED_GRAPH_WALK_H
#define CUBICLED_GRAPH_WALK_H

#include <stdint.h>

#include "cubicle/val.h"

#define GRAPH_TAIL_CALLS_MAX 33 /* the kernel's MAX_TAIL_CALL_CNT */
/* A chain of N cubes makes 2N - 1 tail calls. */
#define GRAPH_CUBES_MAX ((GRAPH_TAIL_CALLS_MAX + 1) / 2)

/* A cube: its name (unique) and its document ({ports: [{name, peer}]}). */
struct graph_cube {
	const char *name;
	const struct cub_val *doc;
};

struct graph_result {
	uint32_t longest; /* 0 returned: cubes of the longest chain */
	uint32_t cubes;   /* -E2BIG: cubes of the chain found over the limit */
	char chain[2048]; /* -ELOOP, -E2BIG: "a:p -> b:q, c:r -> d:s, ..." */
};

/*
 * The longest chain of cubes a packet can cross: 0 with res->longest;
 * -ELOOP (a loop, its links in res->chain), -E2BIG (a chain of more than
 * GRAPH_CUBES_MAX cubes: its links and res->cubes) or -ENOMEM.  A
 * packet sent back out of the port it came in by is not a hop.  Pure:
 * no locks, no logs; O(nodes x ports of a cube).
 */
int graph_walk(
    const struct graph_cube *cubes, uint32_t n, struct graph_result *res);

/* A port entry's peer ("" when none); a document's ports list or NULL. */
const char *graph_entry_peer(const struct cub_val *e);
const struct cub_val *graph_doc_ports(const struct cub_val *doc);

#endif
