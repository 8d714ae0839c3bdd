// SPDX-License-Identifier: BSD-2-Clause
/*
 * sd-syscall-filter ALLOWFILE PROG ARGS...: run PROG under what a unit's
 * SystemCallFilter= (the names in ALLOWFILE, one a line, every group
 * expanded) with SystemCallErrorNumber=EPERM does, and with
 * MemoryDenyWriteExecute=yes when $CUB_MDWE is set: no mapping both
 * writable and executable, no mprotect() to executable.  For
 * systemd-sandbox.sh, where PID 1 is not systemd.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int
add(scmp_filter_ctx ctx, int nr, unsigned mask, unsigned val)
{
	return seccomp_rule_add(
	    ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, mask, val));
}

int
main(int argc, char **argv)
{
	const unsigned wx = PROT_WRITE | PROT_EXEC;
	bool mdwe = getenv("CUB_MDWE") != NULL;
	scmp_filter_ctx ctx;
	char line[128];
	int nr, n = 0;
	FILE *f;

	if (argc < 3 || !(f = fopen(argv[1], "r"))) {
		fprintf(stderr,
		    "usage: sd-syscall-filter ALLOWFILE PROG ARGS...\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR)
			continue; /* a name this architecture lacks */
		if (mdwe && (nr == SCMP_SYS(mmap) || nr == SCMP_SYS(mprotect) ||
				nr == SCMP_SYS(pkey_mprotect)))
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
			n++;
	}
	fclose(f);
	if (mdwe && (add(ctx, SCMP_SYS(mmap), wx, 0) ||
			add(ctx, SCMP_SYS(mmap), wx, PROT_WRITE) ||
			add(ctx, SCMP_SYS(mmap), wx, PROT_EXEC) ||
			add(ctx, SCMP_SYS(mprotect), PROT_EXEC, 0) ||
			add(ctx, SCMP_SYS(pkey_mprotect), PROT_EXEC, 0)))
		return 1;
	if (n < 100) {
		fprintf(stderr, "sd-syscall-filter: only %d system calls\n", n);
		return 1;
	}
	/* Root with CAP_SYS_ADMIN: no no_new_privs, as systemd for root. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) ||
	    seccomp_load(ctx)) {
		perror("sd-syscall-filter: seccomp_load");
		return 1;
	}
	execv(argv[2], argv + 2);
	perror("sd-syscall-filter: execv");
	return 127;
}
