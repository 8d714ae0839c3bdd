// SPDX-License-Identifier: BSD-2-Clause
/*
 * swapdrive: a continuous stream of packets through a pinned cube program
 * for tests/integration/mapswap.sh.  BPF_PROG_TEST_RUN (repeat) from one
 * thread per CPU but one, until STOPFILE exists; then prints the number
 * of runs ("runs=N"), every one of which ran the program once.  A run
 * yields its CPU only between two programs, so a CPU is left to the
 * broker and the worker: a writer that got a CPU only between packets
 * would never be seen mid-packet.
 *
 *   swapdrive PROG_PIN STOPFILE
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define REPEAT 16

static int prog_fd;
static const char *stop_file;
static int failed;

static void *
drive(void *arg)
{
	unsigned char pkt[64] = {0};
	unsigned long long *runs = arg;

	/* An Ethernet header with IPv4's type: any program parses it. */
	memset(pkt, 0xff, 6);
	pkt[12] = 0x08;
	while (access(stop_file, F_OK)) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = sizeof(pkt), .repeat = REPEAT);

		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			fprintf(stderr, "swapdrive: test run: %s\n",
			    strerror(errno));
			__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
			break;
		}
		*runs += REPEAT;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	unsigned long long runs[64] = {0}, total = 0;
	pthread_t th[64];
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	long i;

	if (argc != 3) {
		fprintf(stderr, "usage: swapdrive PROG_PIN STOPFILE\n");
		return 2;
	}
	stop_file = argv[2];
	prog_fd = bpf_obj_get(argv[1]);
	if (prog_fd < 0) {
		fprintf(
		    stderr, "swapdrive: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	n = n <= 2 ? 1 : n > 65 ? 64 : n - 1;
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, drive, &runs[i]))
			return 1;
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total += runs[i];
	}
	printf("runs=%llu\n", total);
	return failed;
}
