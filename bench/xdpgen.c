// SPDX-License-Identifier: BSD-2-Clause
/*
 * xdpgen: traffic source, sink counter and baseline loader for bench/forward.
 *
 *   xdpgen run --gen-netns PATH --gen-dev DEV --sink-netns PATH
 *              --sink-dev DEV [--sink-dev DEV]... [--dst-mac MAC]
 *              [--dst-ip-range BASE COUNT] [--seconds N] [--warmup S]
 *	Attaches a counting XDP program (driver mode) to the sink netdev
 *	(to each, when --sink-dev repeats: the counter is their sum),
 *	then runs one long BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES in a
 *	thread inside the generator namespace: every run rewrites a 64-byte
 *	Ethernet/IPv4/UDP frame and sends it out of the generator netdev
 *	(XDP_TX).  After the warm-up it samples the sink counter over N
 *	seconds and prints "mpps=<sink delta / time> packets=<delta>
 *	seconds=<time> sinks=<n>" on stdout; the generator thread only
 *	reports how long its call lasted (stderr).  The frame goes to the
 *	first sink's MAC, or to --dst-mac (ff:ff:ff:ff:ff:ff: a broadcast),
 *	198.18.0.1 -> 198.18.1.2; --dst-ip-range BASE COUNT sends each frame
 *	to an address drawn at random from BASE .. BASE + COUNT - 1 instead
 *	(the generator rewrites the IPv4 destination and checksum per frame).
 *
 *   xdpgen redirect IN_DEV OUT_DEV
 *	Attaches the minimal XDP forwarder (bpf_redirect to OUT_DEV) to
 *	IN_DEV in driver mode, in the current namespace, and exits; the
 *	netlink attachment stays.
 *
 *   xdpgen sf xdp|tc IN_DEV OUT_DEV --pin=BPFFS_DIR [--no-perfmon]
 *	Loads simpleforwarder the way the broker does (only the program of
 *	the hook, framework maps filled: port 0 = IN_DEV, port 1 = OUT_DEV,
 *	port 0 forwards to port 1), attaches it to both netdevs (XDP driver
 *	mode or clsact ingress) and exits.  A stand-in for cubicled when
 *	measuring the data path alone.  --no-perfmon loads it without
 *	CAP_PERFMON and CAP_SYS_ADMIN, as the broker's loader thread does,
 *	so the verifier adds the same Spectre mitigations.
 *
 * Namespace paths are files such as /run/netns/NAME or /proc/PID/ns/net.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cubicle/cube_shared.h>

#include "redirect.skel.h"
#include "egress.h"
#include "simpleforwarder.skel.h"
#include "simpleforwarder_shared.h"
#include "xdpgen.skel.h"

#define FRAME_LEN 64
#define MAX_SINKS 16

struct gen_run {
	int prog_fd;
	int ifindex;
	int err;
	double seconds;
	volatile int done;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
enter_netns(const char *path)
{
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int
get_mac(const char *dev, uint8_t mac[ETH_ALEN])
{
	struct ifreq ifr = { 0 };
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	close(fd);
	return r;
}

/* "aa:bb:cc:dd:ee:ff" into mac; -EINVAL if it is not one. */
static int
parse_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	char end;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		&b[4], &b[5], &end) != ETH_ALEN)
		return -EINVAL;
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static uint16_t
ip_csum(const void *hdr, size_t len)
{
	const uint16_t *p = hdr;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* 64-byte frame, 198.18.0.1:9 -> daddr:9 (host order), zero payload. */
static void
build_frame(uint8_t *frame, const uint8_t *src_mac, const uint8_t *dst_mac,
    uint32_t daddr)
{
	struct ethhdr *eth = (struct ethhdr *)frame;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);

	memset(frame, 0, FRAME_LEN);
	memcpy(eth->h_dest, dst_mac, ETH_ALEN);
	memcpy(eth->h_source, src_mac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(FRAME_LEN - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = htonl(0xc6120001); /* 198.18.0.1 */
	ip->daddr = htonl(daddr);
	ip->check = ip_csum(ip, sizeof(*ip));
	udp->source = htons(9);
	udp->dest = htons(9);
	udp->len = htons(FRAME_LEN - sizeof(*eth) - sizeof(*ip));
}

static void
on_sigusr1(int sig)
{
}

static void *
gen_thread(void *arg)
{
	struct gen_run *run = arg;
	uint8_t data[FRAME_LEN] = { 0 };
	struct xdp_md ctx_in = {
		.data_end = FRAME_LEN,
		.ingress_ifindex = run->ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data,
	    .data_size_in = sizeof(data), .ctx_in = &ctx_in,
	    .ctx_size_in = sizeof(ctx_in), .repeat = UINT32_MAX,
	    .batch_size = 64, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	double t0 = now();

	run->err = bpf_prog_test_run_opts(run->prog_fd, &opts);
	run->seconds = now() - t0;
	run->done = 1;
	return NULL;
}

static uint64_t
read_counter(int map_fd, int ncpus)
{
	uint64_t vals[ncpus], sum = 0;
	uint32_t key = 0;
	int i;

	if (bpf_map_lookup_elem(map_fd, &key, vals) < 0)
		return 0;
	for (i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gen-netns", required_argument, NULL, 'g' },
		{ "gen-dev", required_argument, NULL, 'G' },
		{ "sink-netns", required_argument, NULL, 's' },
		{ "sink-dev", required_argument, NULL, 'S' },
		{ "seconds", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "dst-mac", required_argument, NULL, 'd' },
		{ "dst-ip-range", required_argument, NULL, 'r' },
		{ 0 },
	};
	const char *gen_ns = NULL, *gen_dev = NULL, *sink_ns = NULL;
	const char *sink_dev[MAX_SINKS], *dst_arg = NULL, *count_arg;
	uint32_t dst_base = 0xc6120102, dst_count = 0; /* 198.18.1.2 */
	struct in_addr base_addr;
	unsigned long count;
	char *end;
	double seconds = 5, warmup = 1, t0, t1;
	uint8_t gen_mac[ETH_ALEN], sink_mac[ETH_ALEN];
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct gen_run run = { 0 };
	struct xdpgen *skel;
	uint64_t c0, c1;
	pthread_t thread;
	int sink_ifindex[MAX_SINKS], nsinks = 0, attached = 0;
	int i, ncpus, opt, r;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': gen_ns = optarg; break;
		case 'G': gen_dev = optarg; break;
		case 's': sink_ns = optarg; break;
		case 'S':
			if (nsinks == MAX_SINKS) {
				fprintf(stderr, "xdpgen run: at most %d "
						"--sink-dev\n", MAX_SINKS);
				return 2;
			}
			sink_dev[nsinks++] = optarg;
			break;
		case 't': seconds = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'd': dst_arg = optarg; break;
		case 'r':
			count_arg = optind < argc ? argv[optind++] : "";
			if (inet_pton(AF_INET, optarg, &base_addr) != 1) {
				fprintf(stderr, "xdpgen run: --dst-ip-range "
						"base '%s': not an IPv4 "
						"address\n", optarg);
				return 2;
			}
			errno = 0;
			count = strtoul(count_arg, &end, 10);
			dst_base = ntohl(base_addr.s_addr);
			if (errno || end == count_arg || *end || count == 0 ||
			    count > UINT32_MAX - dst_base + 1ULL ||
			    count_arg[0] == '-') {
				fprintf(stderr, "xdpgen run: --dst-ip-range "
						"count '%s': not a number of "
						"addresses from 1 to the end of "
						"the address space after %s\n",
				    count_arg, optarg);
				return 2;
			}
			dst_count = (uint32_t)count;
			break;
		default: return 2;
		}
	}
	if (!gen_ns || !gen_dev || !sink_ns || !nsinks || seconds <= 0) {
		fprintf(stderr, "xdpgen run: missing or bad arguments\n");
		return 2;
	}
	if (dst_arg && parse_mac(dst_arg, sink_mac) < 0) {
		fprintf(stderr, "xdpgen run: --dst-mac '%s': not a MAC address "
				"(aa:bb:cc:dd:ee:ff)\n", dst_arg);
		return 2;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return 1;

	skel = xdpgen__open();
	if (!skel) {
		fprintf(stderr, "xdpgen: open: %s\n", strerror(errno));
		return 1;
	}

	/* Sink side: its MAC for the frame, then the counter. */
	r = enter_netns(sink_ns);
	if (r < 0) {
		fprintf(stderr, "xdpgen: netns %s: %s\n", sink_ns, strerror(-r));
		goto err_destroy;
	}
	for (i = 0; i < nsinks; i++) {
		uint8_t mac[ETH_ALEN];

		sink_ifindex[i] = if_nametoindex(sink_dev[i]);
		r = sink_ifindex[i] ? get_mac(sink_dev[i], mac) : -ENODEV;
		if (r < 0) {
			fprintf(stderr, "xdpgen: sink device %s not found\n",
			    sink_dev[i]);
			r = -ENODEV;
			goto err_destroy;
		}
		if (i == 0 && !dst_arg)
			memcpy(sink_mac, mac, ETH_ALEN);
	}
	r = enter_netns(gen_ns);
	if (r < 0) {
		fprintf(stderr, "xdpgen: netns %s: %s\n", gen_ns, strerror(-r));
		goto err_destroy;
	}
	run.ifindex = if_nametoindex(gen_dev);
	r = get_mac(gen_dev, gen_mac);
	if (!run.ifindex || r < 0) {
		fprintf(stderr, "xdpgen: gen device %s not found\n", gen_dev);
		goto err_destroy;
	}
	build_frame(skel->data->xg_frame, gen_mac, sink_mac, dst_base);
	skel->data->xg_dst_base = dst_base;
	skel->data->xg_dst_count = dst_count;

	r = xdpgen__load(skel);
	if (r < 0) {
		fprintf(stderr, "xdpgen: load: %s\n", strerror(-r));
		goto err_destroy;
	}
	r = enter_netns(sink_ns);
	if (r < 0) {
		fprintf(stderr, "xdpgen: netns %s: %s\n", sink_ns, strerror(-r));
		goto err_destroy;
	}
	for (i = 0; i < nsinks; i++) {
		r = bpf_xdp_attach(sink_ifindex[i],
		    bpf_program__fd(skel->progs.xg_count), XDP_FLAGS_DRV_MODE,
		    NULL);
		if (r < 0) {
			fprintf(stderr, "xdpgen: attach to %s: %s\n",
			    sink_dev[i], strerror(-r));
			goto err_detach;
		}
		attached++;
	}

	/* The generator thread inherits the generator namespace. */
	r = enter_netns(gen_ns);
	if (r < 0)
		goto err_detach;
	sigaction(SIGUSR1, &sa, NULL);
	run.prog_fd = bpf_program__fd(skel->progs.xg_gen);
	r = -pthread_create(&thread, NULL, gen_thread, &run);
	if (r < 0)
		goto err_detach;

	usleep((useconds_t)(warmup * 1e6));
	c0 = read_counter(bpf_map__fd(skel->maps.xg_counter), ncpus);
	t0 = now();
	usleep((useconds_t)(seconds * 1e6));
	c1 = read_counter(bpf_map__fd(skel->maps.xg_counter), ncpus);
	t1 = now();

	while (!run.done) {
		pthread_kill(thread, SIGUSR1);
		usleep(10000);
	}
	pthread_join(thread, NULL);
	fprintf(stderr, "xdpgen: generator call lasted %.3f s (%s)\n",
	    run.seconds, run.err == -EINTR ? "stopped" : strerror(-run.err));
	if (run.err != -EINTR) {
		r = run.err ? run.err : -EIO;
		goto err_detach;
	}
	printf("mpps=%.3f packets=%llu seconds=%.3f sinks=%d\n",
	    (double)(c1 - c0) / (t1 - t0) / 1e6, (unsigned long long)(c1 - c0),
	    t1 - t0, nsinks);
	r = 0;

err_detach:
	if (enter_netns(sink_ns) == 0)
		for (i = 0; i < attached; i++)
			bpf_xdp_detach(sink_ifindex[i], XDP_FLAGS_DRV_MODE,
			    NULL);
err_destroy:
	xdpgen__destroy(skel);
	return r < 0 ? 1 : 0;
}

static int
cmd_redirect(int argc, char **argv)
{
	struct redirect *skel;
	int in_ifindex, out_ifindex, r;

	if (argc != 3) {
		fprintf(stderr, "usage: xdpgen redirect IN_DEV OUT_DEV\n");
		return 2;
	}
	in_ifindex = if_nametoindex(argv[1]);
	out_ifindex = if_nametoindex(argv[2]);
	if (!in_ifindex || !out_ifindex) {
		fprintf(stderr, "xdpgen: no device %s or %s\n", argv[1],
		    argv[2]);
		return 1;
	}
	skel = redirect__open();
	if (!skel)
		return 1;
	skel->rodata->rd_out_ifindex = out_ifindex;
	r = redirect__load(skel);
	if (r == 0)
		r = bpf_xdp_attach(in_ifindex,
		    bpf_program__fd(skel->progs.rd_redirect),
		    XDP_FLAGS_DRV_MODE, NULL);
	if (r < 0)
		fprintf(stderr, "xdpgen: redirect on %s: %s\n", argv[1],
		    strerror(-r));
	redirect__destroy(skel);
	return r < 0 ? 1 : 0;
}

static int
sf_attach(struct simpleforwarder *skel, int is_xdp, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts,
	    .prog_fd = bpf_program__fd(skel->progs.cub_ingress_tc));
	int r;

	if (is_xdp)
		return bpf_xdp_attach(ifindex,
		    bpf_program__fd(skel->progs.cub_ingress_xdp),
		    XDP_FLAGS_DRV_MODE, NULL);
	r = bpf_tc_hook_create(&hook);
	if (r < 0 && r != -EEXIST)
		return r;
	return bpf_tc_attach(&hook, &opts);
}

/*
 * Drop CAP_SYS_ADMIN and CAP_PERFMON from the effective set, as the
 * broker's loader thread does: the verifier then adds the Spectre
 * mitigations (nospec barriers, index masking) an unprivileged load gets.
 */
static int
drop_perfmon(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	const int caps[] = { CAP_SYS_ADMIN, CAP_PERFMON };
	size_t i;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		data[CAP_TO_INDEX(caps[i])].effective &= ~CAP_TO_MASK(caps[i]);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

static int
cmd_sf(int argc, char **argv)
{
	struct sf_action act = { .action = SF_FORWARD, .outport = 1 };
	struct simpleforwarder *skel;
	uint32_t ifindex[2], port;
	const char *pin_dir = NULL, *why = "";
	char pin[4096];
	int is_xdp, r, no_perfmon = 0, bad = argc < 4, i, egress_fd = -1;

	for (i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--no-perfmon") == 0)
			no_perfmon = 1;
		else if (strncmp(argv[i], "--pin=", 6) == 0)
			pin_dir = argv[i] + 6;
		else
			bad = 1;
	}
	if (bad || !pin_dir ||
	    (strcmp(argv[1], "xdp") && strcmp(argv[1], "tc"))) {
		fprintf(stderr, "usage: xdpgen sf xdp|tc IN_DEV OUT_DEV "
				"--pin=BPFFS_DIR [--no-perfmon]\n");
		return 2;
	}
	is_xdp = strcmp(argv[1], "xdp") == 0;
	ifindex[0] = if_nametoindex(argv[2]);
	ifindex[1] = if_nametoindex(argv[3]);
	if (!ifindex[0] || !ifindex[1]) {
		fprintf(stderr, "xdpgen: no device %s or %s\n", argv[2],
		    argv[3]);
		return 1;
	}
	skel = simpleforwarder__open();
	if (!skel)
		return 1;
	bpf_program__set_autoload(skel->progs.cub_ingress_tc, !is_xdp);
	bpf_program__set_autoload(skel->progs.cub_ingress_xdp, is_xdp);
	r = no_perfmon ? drop_perfmon() : 0;
	if (r == 0)
		r = simpleforwarder__load(skel);
	/* The broker's egress program, and a pin that keeps it in the table
	 * once this process exits. */
	if (r == 0) {
		r = egress_fd = cubi_egress_load(is_xdp,
		    bpf_map__fd(skel->maps.cub_ports),
		    bpf_map__fd(skel->maps.cub_scratch_map),
		    bpf_map__fd(skel->maps.cub_egress), NULL, &why);
		if (r < 0)
			fprintf(stderr, "xdpgen: egress: %s\n", why);
		else
			r = 0;
	}
	if (r == 0) {
		snprintf(pin, sizeof(pin), "%s/cub_egress_%s", pin_dir,
		    argv[1]);
		unlink(pin);
		r = bpf_map__pin(skel->maps.cub_egress, pin);
	}
	for (port = 0; r == 0 && port < 2; port++) {
		struct cub_port val = { .ifindex = ifindex[port],
			.flags = CUB_PORT_UP };

		r = bpf_map__update_elem(skel->maps.cub_ports, &port,
		    sizeof(port), &val, sizeof(val), BPF_ANY);
		if (r == 0)
			r = bpf_map__update_elem(skel->maps.cub_if2port,
			    &ifindex[port], sizeof(ifindex[port]), &port,
			    sizeof(port), BPF_ANY);
	}
	port = 0;
	if (r == 0)
		r = bpf_map__update_elem(skel->maps.sf_actions, &port,
		    sizeof(port), &act, sizeof(act), BPF_ANY);
	if (r == 0)
		r = sf_attach(skel, is_xdp, ifindex[0]);
	if (r == 0)
		r = sf_attach(skel, is_xdp, ifindex[1]);
	if (r < 0)
		fprintf(stderr, "xdpgen: simpleforwarder on %s: %s\n", argv[2],
		    strerror(-r));
	simpleforwarder__destroy(skel);
	if (egress_fd >= 0)
		close(egress_fd);
	return r < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "redirect") == 0)
		return cmd_redirect(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "sf") == 0)
		return cmd_sf(argc - 1, argv + 1);
	fprintf(stderr, "usage: xdpgen run ... | redirect IN OUT | "
			"sf xdp|tc IN OUT\n");
	return 2;
}
