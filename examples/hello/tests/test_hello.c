// SPDX-License-Identifier: BSD-2-Clause
/*
 * hello's own unit test, against the fake broker (cubicle/fake.h): no
 * root, no kernel.  A cube with two ports, a set, what the data plane
 * sees in hello_cfg, counters counted on two CPUs, the reset action;
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

#include "../hello.h"

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

/* `cubicle <line>` prints want. */
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

static struct hello_stats *
stats(uint32_t index, uint32_t cpu)
{
	return cub_fake__elem(f, "h0", "hello_stats", &index, cpu);
}

int
main(void)
{
	const uint32_t zero = 0;
	struct hello_cfg *cfg;
	uint32_t cpu, port;

	CHECK((f = cub_fake__new(&cub_plugin_entry, 2)));
	CHECK(
	    !cub_fake__create(f, "h0", "ports:\n  - name: p1\n  - name: p2\n"));
	/* What the program reads: DROP, two ports, their indices. */
	CHECK((cfg = cub_fake__elem(f, "h0", "hello_cfg", &zero, 0)));
	CHECK(cfg->action == HELLO_DROP && cfg->nports == 2);
	CHECK(cfg->port[0] == 0 && cfg->port[1] == 1);
	CHECK(!cub_fake__cmd(f, "h0 set action=forward", NULL));
	CHECK(cfg->action == HELLO_FORWARD);
	shows("h0 show action", "FORWARD");
	/* Refused by the schema (the broker's tree engine) and by hello:
	 * nothing changes. */
	CHECK(cub_fake__cmd(f, "h0 set action=bounce", NULL) < 0);
	CHECK(strstr(cub_fake__error(f), "action"));
	CHECK(cub_fake__cmd(f, "h0 ports add p3", NULL) < 0);
	CHECK(strstr(cub_fake__error(f), "at most 2 ports"));
	CHECK(cfg->action == HELLO_FORWARD && cfg->nports == 2);
	shows("h0 show action", "FORWARD");

	/* The data plane counts on both CPUs; the broker sums them. */
	for (cpu = 0; cpu < 2; cpu++)
		for (port = 0; port < 2; port++) {
			CHECK(stats(port, cpu));
			stats(port, cpu)->rx_packets += 3 + cpu + port;
			stats(port, cpu)->drops += 1;
		}
	shows("h0 ports p1 show rx_packets", "7");
	shows("h0 ports p2 show rx_packets", "9");
	shows("h0 ports p2 show drops", "2");

	/* reset: every port's counters, on every CPU, back to zero. */
	CHECK(!cub_fake__cmd(f, "h0 reset", NULL));
	for (cpu = 0; cpu < 2; cpu++)
		for (port = 0; port < 2; port++)
			CHECK(!stats(port, cpu)->rx_packets &&
			      !stats(port, cpu)->drops);
	shows("h0 ports p1 show rx_packets", "0");
	shows("h0 ports p2 show drops", "0");
	CHECK(cub_fake__cmd(f, "h0 reset now=1", NULL) < 0);

	/* A port deleted and another added: the new one starts clean. */
	stats(1, 0)->rx_packets = 5;
	CHECK(!cub_fake__cmd(f, "h0 ports del p2", NULL));
	CHECK(cfg->nports == 1);
	CHECK(!cub_fake__cmd(f, "h0 ports add p9", NULL));
	shows("h0 ports p9 show rx_packets", "0");
	/* SLOWPATH: the packet reaches packet_in, which logs it. */
	{
		static const uint8_t pkt[60];
		const struct cub_fake_log *logs;
		size_t n;

		CHECK(!cub_fake__packet_in(f, "h0", 0, pkt, sizeof(pkt)));
		logs = cub_fake__logs(f, &n);
		CHECK(n == 1 && !strcmp(logs[0].msg,
				    "slow path: 60 bytes from port index 0"));
	}
	/* The BPF half, for real: a frame in on p1 is counted, and forwarded
	 * to p9 (the run ends there: no egress program), then dropped. */
	if (geteuid()) {
		cub_fake__free(f);
		printf("hello: control plane passed; BPF half skipped (not "
		       "root)\n");
		return 77;
	}
	{
		static const uint8_t frame[64] = {
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		uint32_t ret = 99;

		CHECK(!cub_fake__cmd(f, "h0 reset", NULL));
		CHECK(!cub_fake__test_run_port(f, "h0", "cub_ingress_tc", "p1",
		    frame, sizeof(frame), &ret));
		CHECK(ret == TC_ACT_SHOT);
		shows("h0 ports p1 show rx_packets", "1");
		shows("h0 ports p9 show tx_packets", "1");
		shows("h0 ports p1 show drops", "0");
		CHECK(!cub_fake__cmd(f, "h0 set action=drop", NULL));
		CHECK(!cub_fake__test_run_port(f, "h0", "cub_ingress_xdp", "p9",
		    frame, sizeof(frame), &ret));
		CHECK(ret == XDP_DROP);
		shows("h0 ports p9 show rx_packets", "1");
		shows("h0 ports p9 show drops", "1");
		shows("h0 ports p9 show tx_packets", "1");
	}
	cub_fake__free(f);
	printf("hello: all checks passed\n");
	return 0;
}
