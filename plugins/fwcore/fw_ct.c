/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fw_ct.c: the conntrack table read back for `session-table` (fw_ct.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw_ct.h"
#include "fw_rule.h"

_Static_assert(
    FW_CTB_NEW == FW_CT_NEW && FW_CTB_ESTABLISHED == FW_CT_ESTABLISHED &&
	FW_CTB_RELATED == FW_CT_RELATED && FW_CTB_INVALID == FW_CT_INVALID &&
	FW_CTB_UNTRACKED == FW_CT_UNTRACKED,
    "fw_ct_shared.h's labels and fw_rule.h's enum fw_ct_bit differ");
_Static_assert(sizeof(struct fw_ct_key) == 16, "fw_ct_key has holes");
_Static_assert(sizeof(struct fw_ct_val) == 16, "fw_ct_val has holes");

static const char *const state_names[FW_CTS_NSTATES] = {
    [FW_CTS_NONE] = "NONE",
    [FW_CTS_NEW] = "NEW",
    [FW_CTS_ESTABLISHED] = "ESTABLISHED",
    [FW_CTS_SYN_SENT] = "SYN_SENT",
    [FW_CTS_SYN_RECV] = "SYN_RECV",
    [FW_CTS_FIN_WAIT] = "FIN_WAIT",
    [FW_CTS_LAST_ACK] = "LAST_ACK",
    [FW_CTS_TIME_WAIT] = "TIME_WAIT",
};

const char *
fw_ct_state_name(uint8_t state)
{
	return state < FW_CTS_NSTATES ? state_names[state] : "UNKNOWN";
}

const char *
fw_ct_proto_name(uint8_t l4proto)
{
	switch (l4proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		return NULL;
	}
}

uint64_t
fw_ct_now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool
fw_ct_decode(const struct fw_ct_key *key, const struct fw_ct_val *val,
    uint64_t now_ns, struct fw_ct_session *row)
{
	bool b_opened = val->odir != 0;

	if (val->expires_ns <= now_ns || val->state == FW_CTS_NONE ||
	    val->state >= FW_CTS_NSTATES || !fw_ct_proto_name(key->l4proto))
		return false;
	row->src = ntohl(b_opened ? key->b_addr : key->a_addr);
	row->dst = ntohl(b_opened ? key->a_addr : key->b_addr);
	row->sport = ntohs(b_opened ? key->b_port : key->a_port);
	row->dport = ntohs(b_opened ? key->a_port : key->b_port);
	row->l4proto = key->l4proto;
	row->state = val->state;
	/* Rounded up: an entry with 0.2 s left shows 1. */
	row->eta = (val->expires_ns - now_ns + 999999999ull) / 1000000000ull;
	return true;
}

struct sess_ctx {
	struct fw_ct_session *rows;
	uint32_t max, n, total;
	uint64_t now_ns;
};

static int
sess_one(const void *key, const void *value, void *arg)
{
	struct sess_ctx *c = arg;
	struct fw_ct_session row;

	if (!fw_ct_decode(key, value, c->now_ns, &row))
		return 0;
	c->total++;
	if (c->n < c->max)
		c->rows[c->n++] = row;
	return 0;
}

static int
sess_cmp(const void *pa, const void *pb)
{
	const struct fw_ct_session *a = pa, *b = pb;

	if (a->l4proto != b->l4proto)
		return a->l4proto < b->l4proto ? -1 : 1;
	if (a->src != b->src)
		return a->src < b->src ? -1 : 1;
	if (a->sport != b->sport)
		return a->sport < b->sport ? -1 : 1;
	if (a->dst != b->dst)
		return a->dst < b->dst ? -1 : 1;
	if (a->dport != b->dport)
		return a->dport < b->dport ? -1 : 1;
	return 0;
}

int
fw_ct_sessions(struct cub_cube *cube, const cub_map *map,
    struct fw_ct_session *rows, uint32_t max, uint32_t *n, uint32_t *total)
{
	struct sess_ctx c = {.rows = rows, .max = max};
	int r;

	*n = *total = 0;
	if (map->key_size != sizeof(struct fw_ct_key) ||
	    map->value_size != sizeof(struct fw_ct_val))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': map fw_ct has keys of %u bytes and values of "
		    "%u, not %zu and %zu",
		    cub_cube__name(cube), map->key_size, map->value_size,
		    sizeof(struct fw_ct_key), sizeof(struct fw_ct_val));
	c.now_ns = fw_ct_now_ns();
	if ((r = cub_map__dump(cube, map, sess_one, &c)))
		return r;
	qsort(rows, c.n, sizeof(*rows), sess_cmp);
	*n = c.n;
	*total = c.total;
	return 0;
}

const struct cub_field fw_ct_session_fields[] = {
    {.name = "src",
	.type = CUB_T_IPV4,
	.flags = CUB_F_KEY,
	.help = "the address that opened the connection"},
    {.name = "dst", .type = CUB_T_IPV4, .flags = CUB_F_KEY, .help = "its peer"},
    {.name = "l4proto",
	.type = CUB_T_STR,
	.flags = CUB_F_KEY,
	.help = "tcp, udp or icmp"},
    {.name = "sport",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.help = "source port (icmp: the echo identifier)"},
    {.name = "dport",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.help = "destination port (icmp: the echo identifier)"},
    {.name = "state",
	.type = CUB_T_STR,
	.help = "NEW, ESTABLISHED (udp, icmp: replied), SYN_SENT, SYN_RECV, "
		"FIN_WAIT, LAST_ACK, TIME_WAIT"},
    {.name = "eta", .type = CUB_T_U64, .help = "seconds before it expires"},
    {0},
};

static struct cub_val *
session_row(const struct fw_ct_session *s)
{
	struct cub_val *e = cub_val__map();
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	struct in_addr in;

	if (!e)
		return NULL;
	in.s_addr = htonl(s->src);
	inet_ntop(AF_INET, &in, a, sizeof(a));
	in.s_addr = htonl(s->dst);
	inet_ntop(AF_INET, &in, b, sizeof(b));
	if (cub_val__set(e, "src", cub_val__str(a)) ||
	    cub_val__set(e, "dst", cub_val__str(b)) ||
	    cub_val__set(
		e, "l4proto", cub_val__str(fw_ct_proto_name(s->l4proto))) ||
	    cub_val__set(e, "sport", cub_val__uint(s->sport)) ||
	    cub_val__set(e, "dport", cub_val__uint(s->dport)) ||
	    cub_val__set(
		e, "state", cub_val__str(fw_ct_state_name(s->state))) ||
	    cub_val__set(e, "eta", cub_val__uint(s->eta)))
		return cub_val__free(e);
	return e;
}

int
fw_ct_session_list(struct cub_cube *cube, const cub_map *map, uint32_t max,
    struct cub_val **list, uint32_t *total)
{
	struct fw_ct_session *rows = calloc(max ? max : 1, sizeof(*rows));
	struct cub_val *l, *e;
	uint32_t i, n;
	int r;

	*list = NULL;
	if (!rows)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	if ((r = fw_ct_sessions(cube, map, rows, max, &n, total))) {
		free(rows);
		return r;
	}
	l = cub_val__array();
	for (i = 0; l && i < n; i++) {
		e = session_row(&rows[i]);
		if (!e || cub_val__push(l, e)) {
			cub_val__free(e);
			l = cub_val__free(l);
		}
	}
	free(rows);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}
