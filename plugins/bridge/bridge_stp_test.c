// SPDX-License-Identifier: BSD-2-Clause
/*
 * bridge_stp.c alone: instances joined by simulated links (a BPDU sent
 * out of a port is delivered to the port at the link's other end at the
 * next step), a simulated clock in 100 ms steps.  A triangle elects the
 * bridge of the lowest id, blocks one port, and recovers from a link
 * going down (link events) or going silent (max age), with a topology
 * change at the root; a restart seeded with the previous states never
 * forwards on its blocked port; a lower priority moves the root; port
 * cost and priority choose the root port.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_stp.h"

#define NB 4
#define NP 4
#define QMAX 4096
#define STEP 100

struct frame {
	int b, p; /* to */
	size_t len;
	uint8_t d[64];
};

static struct {
	struct stp_inst br[NB];
	int peer_b[NB][NP], peer_p[NB][NP]; /* -1: none */
	bool cut[NB][NP];                   /* frames out of it are lost */
	struct frame q[QMAX];
	int nq;
	int64_t now;
} sim;

static void
sim_send(void *ctx, uint32_t port, uint16_t vid, const uint8_t *b, size_t len)
{
	int i = (int)(long)ctx, pb = sim.peer_b[i][port];
	struct frame *f;

	(void)vid;
	ck_assert_uint_le(len, sizeof(f->d));
	if (pb < 0 || sim.cut[i][port] || sim.nq == QMAX)
		return;
	f = &sim.q[sim.nq++];
	f->b = pb;
	f->p = sim.peer_p[i][port];
	f->len = len;
	memcpy(f->d, b, len);
}

static uint64_t
id_of(uint16_t prio, int i)
{
	return (uint64_t)(prio | 1) << 48 |
	       (uint64_t)(0x020000000000ull + i + 1);
}

static void
sim_bridge(int i, uint16_t prio, int nports, const uint8_t *seed)
{
	struct stp_inst *s = &sim.br[i];
	int p;

	s->ctx = (void *)(long)i;
	s->send = sim_send;
	stp_init(s, 1, id_of(prio, i), 6000, 1000, 4000);
	for (p = 0; p < nports; p++)
		stp_port_join(s, (uint32_t)p, true,
		    (uint16_t)(0x8000 | (p + 1)), 4,
		    seed ? seed[p] : BR_PS_BLOCKING, 0);
	if (seed)
		s->hold_until = sim.now + 6000;
	stp_start(s, sim.now);
}

static void
sim_link(int a, int pa, int b, int pb)
{
	sim.peer_b[a][pa] = b;
	sim.peer_p[a][pa] = pb;
	sim.peer_b[b][pb] = a;
	sim.peer_p[b][pb] = pa;
}

static void
sim_reset(void)
{
	memset(&sim, 0, sizeof(sim));
	memset(sim.peer_b, 0xff, sizeof(sim.peer_b));
	sim.now = 1000;
}

/* One step: deliver what was sent, then the timers. */
static void
sim_step(int nb)
{
	static struct frame q[QMAX];
	int n = sim.nq, i;

	memcpy(q, sim.q, sizeof(q[0]) * (size_t)n);
	sim.nq = 0;
	for (i = 0; i < n; i++)
		stp_rx(&sim.br[q[i].b], (uint32_t)q[i].p, q[i].d, q[i].len,
		    sim.now);
	sim.now += STEP;
	for (i = 0; i < nb; i++)
		stp_tick(&sim.br[i], sim.now);
}

static void
sim_run(int nb, int ms)
{
	int t;

	for (t = 0; t < ms; t += STEP)
		sim_step(nb);
}

static uint8_t
st(int b, int p)
{
	return sim.br[b].p[p].state;
}

/* Triangle: br0 p0-br1 p0, br0 p1-br2 p0, br1 p1-br2 p1; br0 lowest. */
static void
triangle(void)
{
	sim_reset();
	sim_link(0, 0, 1, 0);
	sim_link(0, 1, 2, 0);
	sim_link(1, 1, 2, 1);
	sim_bridge(0, 4096, 2, NULL);
	sim_bridge(1, 32768, 2, NULL);
	sim_bridge(2, 32768, 2, NULL);
	sim_run(3, 20000);
}

START_TEST(triangle_blocks_one)
{
	triangle();
	ck_assert(stp_is_root(&sim.br[0]));
	ck_assert_uint_eq(sim.br[1].d_root, sim.br[0].bridge_id);
	ck_assert_uint_eq(sim.br[2].d_root, sim.br[0].bridge_id);
	ck_assert_int_eq(sim.br[1].root_port, 0);
	ck_assert_int_eq(sim.br[2].root_port, 0);
	ck_assert_uint_eq(sim.br[1].root_cost, 4);
	/* br2 has the higher id: its port on the br1-br2 link blocks. */
	ck_assert_uint_eq(st(2, 1), BR_PS_BLOCKING);
	ck_assert_int_eq(stp_role(&sim.br[2], 1), STP_R_BLOCKED);
	ck_assert_uint_eq(st(1, 1), BR_PS_FORWARDING);
	ck_assert_int_eq(stp_role(&sim.br[1], 1), STP_R_DESIGNATED);
	ck_assert_uint_eq(st(0, 0), BR_PS_FORWARDING);
	ck_assert_uint_eq(st(0, 1), BR_PS_FORWARDING);
	ck_assert_uint_eq(st(1, 0), BR_PS_FORWARDING);
	ck_assert_uint_eq(st(2, 0), BR_PS_FORWARDING);
	ck_assert_uint_gt(sim.br[2].p[1].rx_bpdus, 0);
}
END_TEST

START_TEST(link_down_recovers)
{
	int t;

	triangle();
	stp_port_disable(&sim.br[0], 0, sim.now);
	stp_port_disable(&sim.br[1], 0, sim.now);
	for (t = 0; t < 30000 && st(2, 1) != BR_PS_FORWARDING; t += STEP)
		sim_step(3);
	ck_assert_uint_eq(st(2, 1), BR_PS_FORWARDING);
	ck_assert_uint_eq(st(0, 0), BR_PS_DISABLED);
	ck_assert_int_eq(sim.br[1].root_port, 1);
	ck_assert_uint_eq(sim.br[1].root_cost, 8);
	ck_assert_uint_eq(sim.br[1].d_root, sim.br[0].bridge_id);
	/* The TCN reached the root, which flags the change. */
	ck_assert_uint_gt(sim.br[0].tc_count, 0);
	sim_run(3, 2000);
	ck_assert(sim.br[1].tc && sim.br[2].tc);
	/* Back up: the triangle blocks one port again. */
	stp_port_enable(&sim.br[0], 0, sim.now);
	stp_port_enable(&sim.br[1], 0, sim.now);
	sim_run(3, 20000);
	ck_assert_uint_eq(st(2, 1), BR_PS_BLOCKING);
	ck_assert_uint_eq(st(0, 0), BR_PS_FORWARDING);
	ck_assert_int_eq(sim.br[1].root_port, 0);
}
END_TEST

START_TEST(silent_link_ages_out)
{
	int t;

	triangle();
	/* br0-br1 carries nothing any more, with no link event. */
	sim.cut[0][0] = sim.cut[1][0] = true;
	for (t = 0; t < 30000 && st(2, 1) != BR_PS_FORWARDING; t += STEP)
		sim_step(3);
	ck_assert_uint_eq(st(2, 1), BR_PS_FORWARDING);
	ck_assert_int_eq(sim.br[1].root_port, 1);
	ck_assert_uint_eq(sim.br[1].d_root, sim.br[0].bridge_id);
	/* Max age, then listening and learning: 6 + 8 s at most, plus a
	 * hello and the steps. */
	ck_assert_int_le(t, 16000);
}
END_TEST

START_TEST(restart_keeps_blocked)
{
	uint8_t seed[2];
	int t;

	triangle();
	seed[0] = st(2, 0);
	seed[1] = st(2, 1);
	ck_assert_uint_eq(seed[1], BR_PS_BLOCKING);
	/* br2's worker restarts: a new instance from the maps' states. */
	sim_bridge(2, 32768, 2, seed);
	ck_assert_uint_eq(st(2, 0), BR_PS_FORWARDING);
	for (t = 0; t < 30000; t += STEP) {
		sim_step(3);
		ck_assert_msg(
		    st(2, 1) != BR_PS_FORWARDING && st(2, 1) != BR_PS_LEARNING,
		    "br2 p1 opened %d ms after the restart", t);
		ck_assert_uint_eq(st(2, 0), BR_PS_FORWARDING);
	}
	ck_assert_int_eq(sim.br[2].root_port, 0);
	ck_assert_uint_eq(sim.br[2].d_root, sim.br[0].bridge_id);
	/* Unseeded, the same start would have walked p1 to forwarding
	 * only if no BPDU came: they do, so it blocks, as seeded. */
	ck_assert_uint_eq(st(2, 1), BR_PS_BLOCKING);
}
END_TEST

START_TEST(priority_moves_root)
{
	triangle();
	stp_set_bridge_id(&sim.br[2], id_of(0, 2), sim.now);
	sim_run(3, 20000);
	ck_assert(stp_is_root(&sim.br[2]));
	ck_assert_uint_eq(sim.br[0].d_root, sim.br[2].bridge_id);
	ck_assert_uint_eq(sim.br[1].d_root, sim.br[2].bridge_id);
	/* br1 is now the farthest, highest: it blocks towards br0. */
	ck_assert_uint_eq(st(1, 0), BR_PS_BLOCKING);
	ck_assert_uint_eq(st(0, 0), BR_PS_FORWARDING);
	ck_assert_uint_eq(st(2, 0), BR_PS_FORWARDING);
	ck_assert_uint_eq(st(2, 1), BR_PS_FORWARDING);
}
END_TEST

START_TEST(cost_and_port_priority)
{
	int t;

	/* Two parallel links br0-br1: the lower port id of the designated
	 * side wins; a path cost moves the root port. */
	sim_reset();
	sim_link(0, 0, 1, 0);
	sim_link(0, 1, 1, 1);
	sim_bridge(0, 4096, 2, NULL);
	sim_bridge(1, 32768, 2, NULL);
	sim_run(2, 20000);
	ck_assert_int_eq(sim.br[1].root_port, 0);
	ck_assert_uint_eq(st(1, 1), BR_PS_BLOCKING);
	/* br0's port 1 at port-priority 64: br1's root port follows. */
	stp_set_port(&sim.br[0], 1, (uint16_t)(0x4000 | 2), 4, sim.now);
	sim_run(2, 20000);
	ck_assert_int_eq(sim.br[1].root_port, 1);
	ck_assert_uint_eq(st(1, 0), BR_PS_BLOCKING);
	/* br1's port 1 at cost 100: back to port 0. */
	stp_set_port(&sim.br[1], 1, (uint16_t)(0x8000 | 2), 100, sim.now);
	for (t = 0; t < 20000; t += STEP)
		sim_step(2);
	ck_assert_int_eq(sim.br[1].root_port, 0);
	ck_assert_uint_eq(sim.br[1].root_cost, 4);
	ck_assert_uint_eq(st(1, 1), BR_PS_BLOCKING);
	ck_assert_uint_eq(st(1, 0), BR_PS_FORWARDING);
}
END_TEST

START_TEST(bad_bpdus_ignored)
{
	static const uint8_t junk[][8] = {
	    {0x01, 0x00, 0x00, 0x00}, /* protocol id */
	    {0x00, 0x00, 0x00, 0x00}, /* config, too short */
	    {0x00, 0x00, 0x00, 0x02}, /* RST (not done) */
	};
	uint32_t i;

	triangle();
	for (i = 0; i < 3; i++)
		stp_rx(&sim.br[2], 1, junk[i], 8, sim.now);
	stp_rx(&sim.br[2], 1, junk[0], 2, sim.now);
	stp_rx(&sim.br[2], 99, junk[1], 8, sim.now);
	stp_rx(&sim.br[2], 1000, junk[1], 8, sim.now);
	ck_assert_uint_eq(sim.br[2].root_port, 0);
	ck_assert_uint_eq(st(2, 1), BR_PS_BLOCKING);
	sim_run(3, 10000);
	ck_assert_uint_eq(st(2, 1), BR_PS_BLOCKING);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("bridge-stp");
	TCase *tc = tcase_create("stp");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, triangle_blocks_one);
	tcase_add_test(tc, link_down_recovers);
	tcase_add_test(tc, silent_link_ages_out);
	tcase_add_test(tc, restart_keeps_blocked);
	tcase_add_test(tc, priority_moves_root);
	tcase_add_test(tc, cost_and_port_priority);
	tcase_add_test(tc, bad_bpdus_ignored);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
