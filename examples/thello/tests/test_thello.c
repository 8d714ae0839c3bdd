// SPDX-License-Identifier: BSD-2-Clause
/*
 * thello's own unit test, against the fake broker (cubicle/fake.h): no
 * root, no kernel.  A cube, a set, what the data plane sees in
 * thello_actions, counters counted on two CPUs, the reset action;
 * then, as root, the program itself on a frame (BPF_PROG_TEST_RUN).
 * Exit 77 (skipped) for that part when not root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cubicle/fake.h>

#include "../thello.h"

extern const struct cub_plugin cub_plugin_entry;

static struct cub_fake *f;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s (last error: '%s')\n",      \
			    __FILE__, __LINE__, #cond, cub_fake__error(f));    \
			exit(1);                                               \
		}                                                              \
	} while (0)

static void
shows(const char *line, const char *want)
{
	char *s = cub_fake__cmd_str(f, line);

	if (!s || strcmp(s, want)) {
		fprintf(stderr, "'%s' shows '%s', not '%s' (%s)\n", line,
		    s ? s : "(refused)", want, cub_fake__error(f));
		exit(1);
	}
	free(s);
}

static uint32_t
action(uint32_t dir)
{
	uint32_t *a = cub_fake__elem(f, "t0", "thello_actions", &dir, 0);

	CHECK(a);
	return *a;
}

int
main(void)
{
	struct thello_stats *st;
	uint32_t cpu, dir;

	CHECK((f = cub_fake__new(&cub_plugin_entry, 2)));
	CHECK(!cub_fake__create(f, "t0", "{\"egress-action\": \"DROP\"}"));
	CHECK(action(THELLO_INGRESS) == THELLO_PASS);
	CHECK(action(THELLO_EGRESS) == THELLO_DROP);
	CHECK(!cub_fake__cmd(
	    f, "t0 set ingress-action=DROP egress-action=PASS", NULL));
	CHECK(action(THELLO_INGRESS) == THELLO_DROP);
	CHECK(action(THELLO_EGRESS) == THELLO_PASS);
	/* Refused by the schema: nothing changes. */
	CHECK(cub_fake__cmd(f, "t0 set ingress-action=MAYBE", NULL) < 0);
	CHECK(strstr(cub_fake__error(f), "ingress-action"));
	CHECK(action(THELLO_INGRESS) == THELLO_DROP);
	/* A field the schema does not have: refused, nothing created. */
	CHECK(cub_fake__create(f, "t1", "{\"nosuch\": 1}") < 0 &&
	      !cub_fake__doc(f, "t1"));

	for (cpu = 0; cpu < 2; cpu++)
		for (dir = 0; dir < THELLO_DIRS; dir++) {
			CHECK((st = cub_fake__elem(
				   f, "t0", "thello_stats", &dir, cpu)));
			st->packets += 10 + dir;
			st->drops += 1 + cpu;
		}
	shows("t0 show ingress-packets", "20");
	shows("t0 show egress-packets", "22");
	shows("t0 show ingress-drops", "3");

	CHECK(!cub_fake__cmd(f, "t0 reset", NULL));
	for (cpu = 0; cpu < 2; cpu++)
		for (dir = 0; dir < THELLO_DIRS; dir++) {
			st = cub_fake__elem(f, "t0", "thello_stats", &dir, cpu);
			CHECK(st && !st->packets && !st->drops);
		}
	shows("t0 show egress-packets", "0");
	/* The BPF half, for real: a frame in the ingress direction (TC: a
	 * test run's cb[3] is 0, not egress; XDP sees ingress only), dropped
	 * and counted,
	 * then passed (the run ends there: no stack to pass to). */
	if (geteuid()) {
		cub_fake__free(f);
		printf("thello: control plane passed; BPF half skipped (not "
		       "root)\n");
		return 77;
	}
	{
		static const uint8_t frame[64] = {
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		uint32_t ret = 99;

		CHECK(!cub_fake__test_run(
		    f, "t0", "cub_ingress_tc", frame, sizeof(frame), &ret));
		CHECK(ret == TC_ACT_SHOT);
		shows("t0 show ingress-packets", "1");
		shows("t0 show ingress-drops", "1");
		shows("t0 show egress-packets", "0");
		CHECK(!cub_fake__cmd(f, "t0 set ingress-action=PASS", NULL));
		CHECK(!cub_fake__test_run(
		    f, "t0", "cub_ingress_xdp", frame, sizeof(frame), &ret));
		CHECK(ret == XDP_DROP);
		shows("t0 show ingress-packets", "2");
		shows("t0 show ingress-drops", "1");
	}
	cub_fake__free(f);
	printf("thello: all checks passed\n");
	return 0;
}
