// SPDX-License-Identifier: BSD-2-Clause
/*
 * dmcc-load: the dynmon-cc tests' loader (tests/integration/dynmon-cc.sh).
 * Loads an object cubicle-dynmon-cc wrote, as root, or hardened as the
 * broker loads (CAP_SYS_ADMIN and CAP_PERFMON out of the effective set:
 * the verifier adds its Spectre barriers), runs one program with
 * BPF_PROG_TEST_RUN on a crafted Ethernet/IPv4/UDP packet and prints what
 * happened:
 *
 *	dmcc-load OBJ [--xdp] [--egress] [--hardened] [--runs N]
 *	    [--repeat N] [--dport P] [--sport P] [--payload HEX] [--log]
 *	    [--dump MAP]... [--xlated]
 *
 *	verdict pass|drop|other RETVAL	(pass: the program tail-called the
 *					 stand-in for the broker's "next")
 *	duration NS			(--repeat N: each run is N runs in
 *					 the kernel; the mean ns of one, of
 *					 the last run; bench/dynmon)
 *	map NAME KEYHEX VALUEHEX	one line per entry (per CPU: one
 *					 VALUEHEX per CPU, space separated)
 *	log LEVEL TAG LINE FMT|ARG,ARG...	a record of cub_log_ring
 *					 (struct cub_log_xrec; TAG
 *					 ingress or egress)
 *	xlated ...			bpftool prog dump xlated of the program
 *
 * --log turns every level on in cub_config (as the broker writes it).  Exit 0 if it loaded and ran.
 *
 *	dmcc-load --objname i|e NAME    (rewrite.h's dm_map_objname())
 *	dmcc-load --input TC|XDP CONFIG.json
 *
 * writes cubicle-dynmon-cc's input (the contract, section 1) for a
 * Polycube dataplane-config file: each path's code, and its swap list
 * from the metric-configs with swap-on-read (a path without code: nil).
 */
#include <arpa/inet.h>
#include <cap-ng.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cubicle/cube_shared.h"
#include "cubicle/val.h"
#include "dynmon_log.h"
#include "rewrite.h"

#define PASS_MARK 7 /* what the stand-in "next" program returns */

static char errbuf[8192];

static int
print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(errbuf);

	if (level == LIBBPF_DEBUG || n >= sizeof(errbuf) - 1)
		return 0;
	return vsnprintf(errbuf + n, sizeof(errbuf) - n, fmt, ap);
}

static void
hex(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		printf("%02x", *b++);
}

/* A record of cub_log_ring: it must be a whole struct cub_log_xrec. */
static int
on_log(void *ctx, void *data, size_t size)
{
	const struct cub_log_xrec *r = data;
	unsigned i;

	(void)ctx;
	if (size != sizeof(*r)) {
		printf("log bad size %zu\n", size);
		return 0;
	}
	printf("log %u %.*s %u %.*s|", r->level, CUB_LOGX_TAG_MAX, r->tag,
	    r->line, CUB_LOGX_FMT_MAX, r->fmt);
	for (i = 0; i < r->nargs && i < CUB_LOGX_ARGS; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)r->args[i]);
	printf("\n");
	return 0;
}

static void
dump_map(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	int fd, ncpu = libbpf_num_possible_cpus(), c;
	unsigned char key[512], next[512], val[65536];
	size_t ks, vs;
	bool percpu, first = true;

	if (!m) {
		printf("map %s missing\n", name);
		return;
	}
	fd = bpf_map__fd(m);
	ks = bpf_map__key_size(m);
	vs = bpf_map__value_size(m);
	percpu = bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_ARRAY ||
	    bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_HASH ||
	    bpf_map__type(m) == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	if (bpf_map__type(m) == BPF_MAP_TYPE_QUEUE ||
	    bpf_map__type(m) == BPF_MAP_TYPE_STACK) {
		while (!bpf_map_lookup_and_delete_elem(fd, NULL, val)) {
			printf("map %s - ", name);
			hex(val, vs);
			printf("\n");
		}
		return;
	}
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, ks);
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		printf("map %s ", name);
		hex(key, ks);
		if (!percpu) {
			printf(" ");
			hex(val, vs);
		}
		for (c = 0; percpu && c < ncpu; c++) {
			printf(" ");
			hex(val + c * ((vs + 7) / 8 * 8), vs);
		}
		printf("\n");
	}
}

static int
stand_in(enum bpf_prog_type type)
{
	struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0,
		.imm = PASS_MARK},
	    {.code = BPF_JMP | BPF_EXIT},
	};

	/* a tail call's target matches its caller, attach type included */
	LIBBPF_OPTS(bpf_prog_load_opts, o,
	    .expected_attach_type = type == BPF_PROG_TYPE_XDP ? BPF_XDP : 0);

	return bpf_prog_load(type, "dmcc_next", "GPL", insns, 2, &o);
}

static int
make_input(const char *type, const char *file)
{
	static const char *const paths[] = {"ingress-path", "egress-path"};
	static const char *const keys[] = {"ingress", "egress"};
	struct cub_val *cfg, *in = cub_val__map();
	char err[256], *text;
	size_t len, i, k;
	void *buf;
	FILE *f = fopen(file, "r");

	if (!f || !(text = malloc(1 << 20))) {
		perror(file);
		return 1;
	}
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	cfg = cub_json_parse(text, len, err, sizeof(err));
	free(text);
	if (!cfg) {
		fprintf(stderr, "%s: %s\n", file, err);
		return 1;
	}
	cub_val__set(in, "type", cub_val__str(type));
	for (k = 0; k < 2; k++) {
		const struct cub_val *p = cub_val__get(cfg, paths[k]);
		const struct cub_val *mc = p ? cub_val__get(p, "metric-configs")
					     : NULL;
		struct cub_val *out, *swap;

		if (!p || !cub_val__get_str(p, "code")) {
			cub_val__set(in, keys[k], cub_val__nil());
			continue;
		}
		out = cub_val__map();
		swap = cub_val__array();
		cub_val__set(out, "code",
		    cub_val__str(cub_val__get_str(p, "code")));
		for (i = 0; mc && mc->kind == CUB_V_ARRAY && i < mc->arr.len;
		     i++) {
			const struct cub_val *eo = cub_val__get(
			    mc->arr.items[i], "extraction-options");
			bool on = false;

			if (eo && cub_val__get(eo, "swap-on-read"))
				cub_val__as_bool(
				    cub_val__get(eo, "swap-on-read"), &on);
			if (on)
				cub_val__push(swap,
				    cub_val__str(cub_val__get_str(
					mc->arr.items[i], "map-name")));
		}
		cub_val__set(out, "swap", swap);
		cub_val__set(in, keys[k], out);
	}
	cub_val__free(cfg);
	if (cub_mp_encode(in, &buf, &len))
		return 1;
	cub_val__free(in);
	fwrite(buf, 1, len, stdout);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int xdp = 0, egress = 0, hardened = 0, logall = 0, xlated = 0;
	unsigned runs = 1, sport = 40000, dport = 9, i;
	int repeat = 1;
	const char *dumps[16], *payload = "";
	size_t ndumps = 0, plen = 0;
	/* 2 bytes in, so that the IPv4 header is 4-aligned */
	static unsigned char frame[258] __attribute__((aligned(4)));
	unsigned char *pkt = frame + 2;
	struct bpf_object *obj;
	struct bpf_program *prog, *p;
	struct ethhdr *eth = (void *)pkt;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	unsigned char *pl = (void *)(udp + 1);
	struct __sk_buff skb = {0};
	struct ring_buffer *rb = NULL;
	struct bpf_map *m;
	int r, fd, key = 0, nfd;

	if (argc == 4 && !strcmp(argv[1], "--input"))
		return make_input(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "--objname")) {
		char on[DM_OBJ_NAME_MAX + 1];

		dm_map_objname(argv[2][0], argv[3], on);
		printf("%s\n", on);
		return 0;
	}
	for (i = 2; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "--xdp"))
			xdp = 1;
		else if (!strcmp(argv[i], "--egress"))
			egress = 1;
		else if (!strcmp(argv[i], "--hardened"))
			hardened = 1;
		else if (!strcmp(argv[i], "--log"))
			logall = 1;
		else if (!strcmp(argv[i], "--xlated"))
			xlated = 1;
		else if (!strcmp(argv[i], "--runs") && i + 1 < (unsigned)argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < (unsigned)argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dport") && i + 1 < (unsigned)argc)
			dport = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sport") && i + 1 < (unsigned)argc)
			sport = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--payload") &&
		    i + 1 < (unsigned)argc)
			payload = argv[++i];
		else if (!strcmp(argv[i], "--dump") && i + 1 < (unsigned)argc &&
		    ndumps < 16)
			dumps[ndumps++] = argv[++i];
		else {
			fprintf(stderr, "dmcc-load: bad argument '%s'\n",
			    argv[i]);
			return 2;
		}
	}
	if (repeat < 1) {
		fprintf(
		    stderr, "dmcc-load: --repeat wants a count of 1 or more\n");
		return 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: dmcc-load OBJ [options]\n");
		return 2;
	}
	libbpf_set_print(print_fn);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n%s", argv[1], strerror(errno),
		    errbuf);
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj,
	    xdp ? "cub_ingress_xdp" : "cub_ingress_tc");
	if (!prog) {
		fprintf(stderr, "no program %s\n",
		    xdp ? "cub_ingress_xdp" : "cub_ingress_tc");
		return 1;
	}
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, p == prog);
	if (hardened) {
		capng_get_caps_process();
		capng_update(CAPNG_DROP, CAPNG_EFFECTIVE, CAP_SYS_ADMIN);
		capng_update(CAPNG_DROP, CAPNG_EFFECTIVE, CAP_PERFMON);
		if (capng_apply(CAPNG_SELECT_CAPS)) {
			fprintf(stderr, "dropping capabilities failed\n");
			return 1;
		}
	}
	if ((r = bpf_object__load(obj))) {
		fprintf(stderr, "load: %s\n%s", strerror(-r), errbuf);
		return 1;
	}
	/* The broker's "next" program, a stand-in that says "passed". */
	nfd = stand_in(xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS);
	if (nfd < 0) {
		fprintf(stderr, "stand-in next program: load: %s\n%s",
		    strerror(errno), errbuf);
		return 1;
	}
	m = bpf_object__find_map_by_name(obj, "cub_egress");
	if (!m || bpf_map_update_elem(bpf_map__fd(m), &key, &nfd, BPF_ANY)) {
		fprintf(stderr, "stand-in next program: cub_egress: %s\n",
		    strerror(errno));
		return 1;
	}
	if (logall) {
		struct cub_config cfg = {.log_mask = 0x3f};

		m = bpf_object__find_map_by_name(obj, "cub_config");
		if (!m || bpf_map_update_elem(bpf_map__fd(m), &key, &cfg, 0)) {
			fprintf(stderr, "cub_config: %s\n", strerror(errno));
			return 1;
		}
	}
	m = bpf_object__find_map_by_name(obj, "cub_log_ring");
	if (m)
		rb = ring_buffer__new(bpf_map__fd(m), on_log, NULL, NULL);

	/* Ethernet, IPv4, UDP sport -> dport, the payload. */
	memset(eth->h_dest, 0x02, 6);
	memset(eth->h_source, 0x04, 6);
	eth->h_proto = htons(ETH_P_IP);
	for (plen = 0; payload[2 * plen] && payload[2 * plen + 1] && plen < 64;
	     plen++)
		sscanf(payload + 2 * plen, "%2hhx", &pl[plen]);
	if (plen < 48)
		plen = 48;
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*udp) + plen);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons(sizeof(*udp) + plen);

	fd = bpf_program__fd(prog);
	for (i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = sizeof(*eth) + sizeof(*ip) + sizeof(*udp) +
			plen,
		    .repeat = repeat);

		if (!xdp) {
			skb.cb[3] = egress ? CUB_TDIR_EGRESS : CUB_TDIR_INGRESS;
			o.ctx_in = &skb;
			o.ctx_size_in = sizeof(skb);
		}
		if ((r = bpf_prog_test_run_opts(fd, &o))) {
			fprintf(stderr, "test run: %s\n", strerror(errno));
			return 1;
		}
		if (i == runs - 1 && repeat > 1)
			printf("duration %u\n", o.duration);
		if (i == runs - 1)
			printf("verdict %s %u\n",
			    o.retval == PASS_MARK		      ? "pass"
			    : o.retval == (xdp ? XDP_DROP : TC_ACT_SHOT) ? "drop"
									 : "other",
			    o.retval);
	}
	for (i = 0; i < ndumps; i++)
		dump_map(obj, dumps[i]);
	if (rb) {
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
	}
	fflush(stdout);
	if (xlated) {
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);
		char id[16];
		pid_t pid;

		bpf_obj_get_info_by_fd(fd, &info, &len);
		snprintf(id, sizeof(id), "%u", info.id);
		pid = fork();
		if (!pid) {
			execlp("bpftool", "bpftool", "prog", "dump", "xlated",
			    "id", id, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &r, 0);
	}
	bpf_object__close(obj);
	return 0;
}
