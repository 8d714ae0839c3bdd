// SPDX-License-Identifier: BSD-2-Clause
/*
 * The longest chain of the cube graph (graph_walk.h), on documents alone.
 * A node is a port of a cube, where a packet enters it; from node i of
 * cube X a packet may leave by any other port j of X, and if j peers
 * with Y:k it enters node k of Y.  A depth-first walk, memoised per node
 * (each node's longest chain is computed once, O(ports) from its cube's
 * other ports), that stops at GRAPH_CUBES_MAX + 1 cubes: the recursion
 * is never deeper, whatever the graph.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubicle/schema.h"
#include "graph_walk.h"

enum { NODE_NEW = 0, NODE_ACTIVE, NODE_DONE };

/* One cube of the graph: its name and its ports (a document's list). */
struct gcube {
	const char *name;
	const struct cub_val *ports; /* array of port entries, or NULL */
	uint32_t first;              /* its first node */
	uint32_t n;                  /* its ports */
};

/* A node is a port of a cube: where a packet enters that cube. */
struct graph {
	struct gcube *cubes;
	uint32_t ncubes;
	uint32_t nnodes;
	uint32_t *cube_of; /* node -> cube */
	int32_t *to;       /* node -> the node its peer enters, -1: none */
	int32_t *best;     /* node -> the out node of its longest chain */
	uint16_t *len;     /* node -> cubes of its longest chain */
	uint8_t *state;
	/* The chain being walked: entered node and out node per depth. */
	uint32_t in[GRAPH_CUBES_MAX + 1], out[GRAPH_CUBES_MAX + 1];
	uint32_t depth;   /* of the failure */
	uint32_t loop_at; /* depth at which a loop re-enters */
	int32_t tail;     /* over budget: a done node the chain continues by */
};

const char *
graph_entry_peer(const struct cub_val *e)
{
	const char *peer = cub_val__get_str(e, "peer");

	return peer ? peer : "";
}

const struct cub_val *
graph_doc_ports(const struct cub_val *doc)
{
	const struct cub_val *ports = cub_val__get(doc, "ports");

	return ports && ports->kind == CUB_V_ARRAY ? ports : NULL;
}

static const char *
port_name(const struct gcube *gc, uint32_t i)
{
	const char *name = cub_val__get_str(gc->ports->arr.items[i], "name");

	return name ? name : "";
}

static int
gcube_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct gcube *)a)->name, ((const struct gcube *)b)->name);
}

/* "cube:port" split, as topo_peer_split() does. */
static bool
peer_split(const char *peer, char *cube, char *port)
{
	const char *colon = strchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : 0;

	if (!colon || !n || n > CUB_NAME_MAX || !colon[1] ||
	    strlen(colon + 1) > CUB_NAME_MAX)
		return false;
	memcpy(cube, peer, n);
	cube[n] = '\0';
	snprintf(port, CUB_NAME_MAX + 1, "%s", colon + 1);
	return true;
}

/* The node peer ("cube:port") enters, or -1. */
static int32_t
graph_resolve(const struct graph *g, const char *peer)
{
	char cname[CUB_NAME_MAX + 1], pname[CUB_NAME_MAX + 1];
	struct gcube key = {.name = cname}, *gc;
	uint32_t i;

	if (!peer_split(peer, cname, pname))
		return -1;
	gc = bsearch(&key, g->cubes, g->ncubes, sizeof(*gc), gcube_cmp);
	for (i = 0; gc && i < gc->n; i++)
		if (!strcmp(port_name(gc, i), pname))
			return (int32_t)(gc->first + i);
	return -1;
}

static struct graph *
graph_free(struct graph *g)
{
	if (!g)
		return NULL;
	free(g->cubes);
	free(g->cube_of);
	free(g->to);
	free(g->best);
	free(g->len);
	free(g->state);
	free(g);
	return NULL;
}

/* The graph of cubes (unique names). */
static struct graph *
graph_build(const struct graph_cube *cubes, uint32_t ncubes)
{
	struct graph *g = calloc(1, sizeof(*g));
	const struct cub_val *ports;
	uint32_t i, j, n;

	if (!g)
		return NULL;
	g->cubes = calloc(ncubes + 1, sizeof(*g->cubes));
	if (!g->cubes)
		return graph_free(g);
	for (i = 0; i < ncubes; i++) {
		g->cubes[i].name = cubes[i].name;
		g->cubes[i].ports = graph_doc_ports(cubes[i].doc);
	}
	g->ncubes = ncubes;
	qsort(g->cubes, g->ncubes, sizeof(*g->cubes), gcube_cmp);
	for (i = 0; i < g->ncubes; i++) {
		ports = g->cubes[i].ports;
		g->cubes[i].first = g->nnodes;
		g->cubes[i].n = ports ? ports->arr.len : 0;
		g->nnodes += g->cubes[i].n;
	}
	g->cube_of = calloc(g->nnodes + 1, sizeof(*g->cube_of));
	g->to = calloc(g->nnodes + 1, sizeof(*g->to));
	g->best = calloc(g->nnodes + 1, sizeof(*g->best));
	g->len = calloc(g->nnodes + 1, sizeof(*g->len));
	g->state = calloc(g->nnodes + 1, sizeof(*g->state));
	if (!g->cube_of || !g->to || !g->best || !g->len || !g->state)
		return graph_free(g);
	for (i = 0; i < g->ncubes; i++)
		for (j = 0; j < g->cubes[i].n; j++) {
			n = g->cubes[i].first + j;
			g->cube_of[n] = i;
			g->best[n] = -1;
			g->to[n] = graph_resolve(g,
			    graph_entry_peer(g->cubes[i].ports->arr.items[j]));
		}
	return g;
}

/*
 * The cubes of the longest chain a packet entering node n at the given
 * depth makes, with g->best filled; -ELOOP (a loop: g->loop_at) or -E2BIG
 * (over the budget: g->depth, g->tail) with the chain in g->in/g->out.
 * The recursion is at most GRAPH_CUBES_MAX + 1 deep.
 */
static int
graph_longest(struct graph *g, uint32_t n, uint32_t depth)
{
	const struct gcube *gc = &g->cubes[g->cube_of[n]];
	uint32_t j, best = 0;
	int r;

	g->in[depth] = n;
	if (g->state[n] == NODE_ACTIVE) {
		for (g->loop_at = 0; g->in[g->loop_at] != n; g->loop_at++)
			;
		g->depth = depth;
		g->tail = -1;
		return -ELOOP;
	}
	if (g->state[n] == NODE_DONE) {
		if (depth + g->len[n] <= GRAPH_CUBES_MAX)
			return g->len[n];
		g->depth = depth;
		g->tail = (int32_t)n;
		return -E2BIG;
	}
	if (depth >= GRAPH_CUBES_MAX) {
		g->depth = depth;
		g->tail = -1;
		return -E2BIG;
	}
	g->state[n] = NODE_ACTIVE;
	for (j = gc->first; j < gc->first + gc->n; j++) {
		if (j == n || g->to[j] < 0)
			continue;
		g->out[depth] = j;
		r = graph_longest(g, (uint32_t)g->to[j], depth + 1);
		if (r < 0)
			return r;
		if ((uint32_t)r > best) {
			best = (uint32_t)r;
			g->best[n] = (int32_t)j;
		}
	}
	g->state[n] = NODE_DONE;
	g->len[n] = (uint16_t)(best + 1);
	return (int)(best + 1);
}

/* Append "cube:port -> cube:port" for the link out of node o to buf. */
static void
link_text(const struct graph *g, uint32_t o, char *buf, size_t len)
{
	const struct gcube *a = &g->cubes[g->cube_of[o]];
	const struct gcube *z = &g->cubes[g->cube_of[g->to[o]]];
	size_t used = strlen(buf);

	if (used + 1 >= len)
		return;
	snprintf(buf + used, len - used, "%s%s:%s -> %s:%s", used ? ", " : "",
	    a->name, port_name(a, o - a->first), z->name,
	    port_name(z, (uint32_t)g->to[o] - z->first));
}

/* The links of the chain that failed, from depth `from`, in buf. */
static void
chain_text(const struct graph *g, uint32_t from, char *buf, size_t len)
{
	uint32_t d;
	int32_t n;

	buf[0] = '\0';
	for (d = from; d < g->depth; d++)
		link_text(g, g->out[d], buf, len);
	if (g->tail < 0)
		return;
	for (n = g->tail; g->best[n] >= 0; n = g->to[g->best[n]])
		link_text(g, (uint32_t)g->best[n], buf, len);
}

int
graph_walk(
    const struct graph_cube *cubes, uint32_t ncubes, struct graph_result *res)
{
	struct graph *g = graph_build(cubes, ncubes);
	uint32_t n;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (!g)
		return -ENOMEM;
	for (n = 0; n < g->nnodes && r >= 0; n++) {
		r = graph_longest(g, n, 0);
		if (r > (int)res->longest)
			res->longest = (uint32_t)r;
	}
	if (r == -ELOOP) {
		chain_text(g, g->loop_at, res->chain, sizeof(res->chain));
	} else if (r == -E2BIG) {
		chain_text(g, 0, res->chain, sizeof(res->chain));
		res->cubes =
		    g->depth + 1 + (g->tail >= 0 ? g->len[g->tail] - 1u : 0);
	}
	graph_free(g);
	return r < 0 ? r : 0;
}
