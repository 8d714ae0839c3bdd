// SPDX-License-Identifier: BSD-2-Clause
/*
 * simpleforwarder.bpf.c driven through BPF_PROG_TEST_RUN, both hooks.
 *
 * Loads the skeleton directly (no broker) for one hook at a time (a
 * program array serves programs of one type), fills the framework maps the
 * way the broker would (without CAP_SYS_ADMIN and CAP_PERFMON, as the
 * broker's loader thread), puts the broker's egress program in cub_egress,
 * runs one 64-byte Ethernet/IPv4/UDP frame and checks the verdict, the
 * per-CPU counters and the packet-in ring.  Needs root; exits
 * 77 (skip) otherwise.  "sf-bpf-test --bench [N]" instead prints the
 * average ns per run of each program over N repeats.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/pkt_cls.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>

#include <cubicle/cube_shared.h>

#include "egress.h"
#include "simpleforwarder.skel.h"
#include "simpleforwarder_shared.h"

/* The packet arrives on lo (ifindex 1, always present); it is port 3. */
#define IN_IFINDEX 1
#define IN_PORT 3
#define OUT_PORT 5
#define OUT_IFINDEX 4242
#define DOWN_PORT 6
#define PKT_LEN 64

enum hook { HOOK_TC, HOOK_XDP };

static struct simpleforwarder *skel;
static int egress_fd = -1;
static int ncpus;

/* clang-format off */
static const uint8_t pkt[PKT_LEN] = {
	/* Ethernet: dst, src, IPv4 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	/* IPv4: 50 bytes total, TTL 64, UDP, 198.18.0.1 -> 198.19.0.1 */
	0x45, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
	198, 18, 0, 1, 198, 19, 0, 1,
	/* UDP: 9 -> 9, 30 bytes, no checksum; 22 bytes of zero payload */
	0x00, 0x09, 0x00, 0x09, 0x00, 0x1e, 0x00, 0x00,
};
/* clang-format on */

static int
run_prog(
    enum hook hook, uint32_t ingress_ifindex, int repeat, uint32_t *duration)
{
	struct __sk_buff skb_ctx = {
	    .ifindex = ingress_ifindex,
	    .ingress_ifindex = ingress_ifindex,
	};
	struct xdp_md xdp_ctx = {
	    .data_end = PKT_LEN,
	    .ingress_ifindex = ingress_ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt,
	    .data_size_in = sizeof(pkt), .repeat = repeat);
	struct bpf_program *prog;
	int r;

	if (hook == HOOK_XDP) {
		prog = skel->progs.cub_ingress_xdp;
		opts.ctx_in = &xdp_ctx;
		opts.ctx_size_in = sizeof(xdp_ctx);
	} else {
		prog = skel->progs.cub_ingress_tc;
		opts.ctx_in = &skb_ctx;
		opts.ctx_size_in = sizeof(skb_ctx);
	}
	r = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	ck_assert_msg(r == 0, "test_run: %s", strerror(-r));
	if (duration)
		*duration = opts.duration;
	return (int)opts.retval;
}

static int
verdict_drop(enum hook hook)
{
	return hook == HOOK_XDP ? XDP_DROP : TC_ACT_SHOT;
}

static int
verdict_redirect(enum hook hook)
{
	return hook == HOOK_XDP ? XDP_REDIRECT : TC_ACT_REDIRECT;
}

static void
set_port(uint32_t port, uint32_t ifindex, uint32_t flags)
{
	struct cub_port val = {.ifindex = ifindex, .flags = flags};

	ck_assert_int_eq(bpf_map__update_elem(skel->maps.cub_ports, &port,
			     sizeof(port), &val, sizeof(val), BPF_ANY),
	    0);
	if (!ifindex)
		return;
	ck_assert_int_eq(bpf_map__update_elem(skel->maps.cub_if2port, &ifindex,
			     sizeof(ifindex), &port, sizeof(port), BPF_ANY),
	    0);
}

static void
set_action(uint32_t port, uint32_t action, uint32_t outport)
{
	struct sf_action val = {.action = action, .outport = outport};

	ck_assert_int_eq(bpf_map__update_elem(skel->maps.sf_actions, &port,
			     sizeof(port), &val, sizeof(val), BPF_ANY),
	    0);
}

/* Sum of one port's counters over all CPUs. */
static struct sf_stats
get_stats(uint32_t port)
{
	struct sf_stats sum = {0}, *percpu;
	int i;

	percpu = calloc(ncpus, sizeof(*percpu));
	ck_assert_ptr_nonnull(percpu);
	ck_assert_int_eq(bpf_map__lookup_elem(skel->maps.sf_stats, &port,
			     sizeof(port), percpu, ncpus * sizeof(*percpu), 0),
	    0);
	for (i = 0; i < ncpus; i++) {
		sum.rx_packets += percpu[i].rx_packets;
		sum.rx_bytes += percpu[i].rx_bytes;
		sum.tx_packets += percpu[i].tx_packets;
		sum.tx_bytes += percpu[i].tx_bytes;
		sum.drops += percpu[i].drops;
		sum.slowpath += percpu[i].slowpath;
	}
	free(percpu);
	return sum;
}

/*
 * Clear CAP_SYS_ADMIN and CAP_PERFMON from the effective set, as the
 * broker does on its loader thread: the verifier then refuses pointer
 * arithmetic leaks and tracing helpers.  Check forks each test, so this
 * only affects the test's own process.
 */
static void
drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int caps[] = {CAP_SYS_ADMIN, CAP_PERFMON};
	size_t i;

	ck_assert_int_eq(syscall(SYS_capget, &hdr, data), 0);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		data[CAP_TO_INDEX(caps[i])].effective &= ~CAP_TO_MASK(caps[i]);
	ck_assert_int_eq(syscall(SYS_capset, &hdr, data), 0);
}

static void
setup(void)
{
	drop_caps();
}

/* The object for one hook, and (@egress) the egress program in its table. */
static void
load(enum hook hook, bool egress)
{
	const char *why = "";
	int r;

	skel = simpleforwarder__open();
	ck_assert_msg(skel, "open: %s", strerror(errno));
	bpf_program__set_autoload(skel->progs.cub_ingress_tc, hook == HOOK_TC);
	bpf_program__set_autoload(
	    skel->progs.cub_ingress_xdp, hook == HOOK_XDP);
	r = simpleforwarder__load(skel);
	ck_assert_msg(r == 0, "load: %s", strerror(-r));
	if (egress) {
		egress_fd = cubi_egress_load(hook == HOOK_XDP,
		    bpf_map__fd(skel->maps.cub_ports),
		    bpf_map__fd(skel->maps.cub_scratch_map),
		    bpf_map__fd(skel->maps.cub_egress), NULL, &why);
		ck_assert_msg(egress_fd >= 0, "egress: %s: %s", why,
		    strerror(-egress_fd));
	}
	set_port(IN_PORT, IN_IFINDEX, CUB_PORT_UP);
	set_port(OUT_PORT, OUT_IFINDEX, CUB_PORT_UP);
	set_port(DOWN_PORT, OUT_IFINDEX + 1, 0);
}

static void
teardown(void)
{
	simpleforwarder__destroy(skel);
	skel = NULL;
	if (egress_fd >= 0)
		close(egress_fd);
	egress_fd = -1;
}

START_TEST(test_default_drops)
{
	enum hook hook = _i;
	struct sf_stats st;

	load(hook, true);

	/* No sf_actions entry written: the zeroed entry means SF_DROP. */
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	set_action(IN_PORT, SF_DROP, 0);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	st = get_stats(IN_PORT);
	ck_assert_uint_eq(st.rx_packets, 2);
	ck_assert_uint_eq(st.rx_bytes, 2 * PKT_LEN);
	ck_assert_uint_eq(st.drops, 2);
	ck_assert_uint_eq(st.tx_packets, 0);
}
END_TEST

START_TEST(test_forward_up)
{
	enum hook hook = _i;
	struct sf_stats in, out;
	int i;

	load(hook, true);

	set_action(IN_PORT, SF_FORWARD, OUT_PORT);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(run_prog(hook, IN_IFINDEX, 1, NULL),
		    verdict_redirect(hook));
	in = get_stats(IN_PORT);
	out = get_stats(OUT_PORT);
	ck_assert_uint_eq(in.rx_packets, 3);
	ck_assert_uint_eq(in.rx_bytes, 3 * PKT_LEN);
	ck_assert_uint_eq(in.drops, 0);
	ck_assert_uint_eq(in.tx_packets, 0);
	ck_assert_uint_eq(out.tx_packets, 3);
	ck_assert_uint_eq(out.tx_bytes, 3 * PKT_LEN);
	ck_assert_uint_eq(out.rx_packets, 0);
}
END_TEST

START_TEST(test_forward_down)
{
	enum hook hook = _i;
	struct sf_stats in, out;

	load(hook, true);

	set_action(IN_PORT, SF_FORWARD, DOWN_PORT);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	/* A port index past the end of cub_ports is down too. */
	set_action(IN_PORT, SF_FORWARD, CUB_MAX_PORTS + 7);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	/* Up but not connected (ifindex 0). */
	set_port(OUT_PORT, 0, CUB_PORT_UP);
	set_action(IN_PORT, SF_FORWARD, OUT_PORT);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	in = get_stats(IN_PORT);
	out = get_stats(DOWN_PORT);
	ck_assert_uint_eq(in.rx_packets, 3);
	ck_assert_uint_eq(in.drops, 3);
	ck_assert_uint_eq(out.tx_packets, 0);
}
END_TEST

/*
 * The way out is the broker's: cub_ports is read-only to programs, and
 * without the egress program in cub_egress a forward is a drop (the cube
 * itself cannot redirect).
 */
START_TEST(test_forward_needs_egress)
{
	enum hook hook = _i;
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	load(hook, false);
	ck_assert_int_eq(bpf_obj_get_info_by_fd(
			     bpf_map__fd(skel->maps.cub_ports), &info, &len),
	    0);
	ck_assert(info.map_flags & BPF_F_RDONLY_PROG);
	set_action(IN_PORT, SF_FORWARD, OUT_PORT);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
}
END_TEST

START_TEST(test_unknown_ifindex)
{
	enum hook hook = _i;
	uint32_t ifindex = IN_IFINDEX;

	load(hook, true);

	/* One packet through, so the in-port cache holds lo -> IN_PORT. */
	set_action(IN_PORT, SF_FORWARD, OUT_PORT);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_redirect(hook));

	/* Port removed the way the broker must: cub_ports first. */
	set_port(IN_PORT, 0, 0);
	ck_assert_int_eq(bpf_map__delete_elem(skel->maps.cub_if2port, &ifindex,
			     sizeof(ifindex), 0),
	    0);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	ck_assert_uint_eq(get_stats(IN_PORT).rx_packets, 1);
	ck_assert_uint_eq(get_stats(OUT_PORT).tx_packets, 1);

	/* The ifindex comes back as another port: counted there. */
	set_port(DOWN_PORT + 1, IN_IFINDEX, CUB_PORT_UP);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	ck_assert_uint_eq(get_stats(IN_PORT).rx_packets, 1);
	ck_assert_uint_eq(get_stats(DOWN_PORT + 1).rx_packets, 1);
	ck_assert_uint_eq(get_stats(DOWN_PORT + 1).drops, 1);
}
END_TEST

struct pktin_seen {
	int records;
	struct cub_pktin_hdr hdr;
	uint8_t data[PKT_LEN];
};

static int
on_pktin(void *ctx, void *data, size_t size)
{
	struct pktin_seen *seen = ctx;

	ck_assert_uint_ge(size, sizeof(struct cub_pktin_hdr) + CUB_PKTIN_MAX);
	memcpy(&seen->hdr, data, sizeof(seen->hdr));
	memcpy(seen->data, (uint8_t *)data + sizeof(seen->hdr),
	    sizeof(seen->data));
	seen->records++;
	return 0;
}

START_TEST(test_slowpath)
{
	enum hook hook = _i;
	struct pktin_seen seen = {0};
	struct ring_buffer *rb;
	struct sf_stats in;

	load(hook, true);

	set_action(IN_PORT, SF_SLOWPATH, 0);
	rb = ring_buffer__new(
	    bpf_map__fd(skel->maps.cub_pktin), on_pktin, &seen, NULL);
	ck_assert_ptr_nonnull(rb);
	ck_assert_int_eq(
	    run_prog(hook, IN_IFINDEX, 1, NULL), verdict_drop(hook));
	ck_assert_int_eq(ring_buffer__consume(rb), 1);
	ring_buffer__free(rb);

	ck_assert_int_eq(seen.records, 1);
	ck_assert_uint_eq(seen.hdr.port, IN_PORT);
	ck_assert_uint_eq(seen.hdr.cap_len, PKT_LEN);
	ck_assert_uint_eq(seen.hdr.wire_len, PKT_LEN);
	ck_assert_uint_eq(seen.hdr.reason, 1);
	ck_assert_mem_eq(seen.data, pkt, PKT_LEN);
	in = get_stats(IN_PORT);
	ck_assert_uint_eq(in.rx_packets, 1);
	ck_assert_uint_eq(in.slowpath, 1);
	ck_assert_uint_eq(in.drops, 0);
}
END_TEST

static Suite *
sf_suite(void)
{
	Suite *s = suite_create("simpleforwarder-bpf");
	TCase *tc = tcase_create("prog_test_run");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* _i selects the hook: HOOK_TC, then HOOK_XDP. */
	tcase_add_loop_test(tc, test_default_drops, HOOK_TC, HOOK_XDP + 1);
	tcase_add_loop_test(tc, test_forward_up, HOOK_TC, HOOK_XDP + 1);
	tcase_add_loop_test(tc, test_forward_down, HOOK_TC, HOOK_XDP + 1);
	tcase_add_loop_test(
	    tc, test_forward_needs_egress, HOOK_TC, HOOK_XDP + 1);
	tcase_add_loop_test(tc, test_unknown_ifindex, HOOK_TC, HOOK_XDP + 1);
	tcase_add_loop_test(tc, test_slowpath, HOOK_TC, HOOK_XDP + 1);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * Not part of the unit suite: average ns per run of each program while
 * forwarding, over bench_repeat repeats.  Runs as a check test so that the
 * ck_assert helpers above work.
 */
static int bench_repeat = 1000000;

START_TEST(test_bench)
{
	static const char *const names[] = {"tc", "xdp"};
	uint32_t duration;
	int hook;

	for (hook = HOOK_TC; hook <= HOOK_XDP; hook++) {
		load(hook, true);
		set_action(IN_PORT, SF_FORWARD, OUT_PORT);
		ck_assert_int_eq(
		    run_prog(hook, IN_IFINDEX, bench_repeat, &duration),
		    verdict_redirect(hook));
		printf("simpleforwarder %s prog_test_run: %u ns/packet "
		       "(%d repeats)\n",
		    names[hook], duration, bench_repeat);
		fflush(stdout);
		teardown();
	}
}
END_TEST

static Suite *
bench_suite(void)
{
	Suite *s = suite_create("simpleforwarder-bpf-bench");
	TCase *tc = tcase_create("bench");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bench);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "sf-bpf-test: needs root, skipping\n");
		return 77;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		fprintf(stderr, "sf-bpf-test: cannot count CPUs\n");
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
		if (argc > 2)
			bench_repeat = atoi(argv[2]);
		sr = srunner_create(bench_suite());
		srunner_run_all(sr, CK_SILENT);
	} else {
		sr = srunner_create(sf_suite());
		srunner_run_all(sr, CK_NORMAL);
	}
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
