// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil: a test-only service that forwards like simpleforwarder and, on
 * request, misbehaves as a compromised plugin would.  It proves the
 * sandbox and the broker's object checks in tests/integration/sandbox.sh:
 *   cubicle e1 debug syscall call=bpf|execve|socket-inet|fork|open
 *   cubicle e1 debug load object=probe-read|ptr-leak
 * Never installed.
 */
#define SF_NO_ENTRY
#include "simpleforwarder.c"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evil_leak.skel.h"
#include "evil_probe.skel.h"

static const char *const evil_calls[] = {
    "bpf", "execve", "socket-inet", "fork", "open", "hang", NULL};
static const char *const evil_objects[] = {"probe-read", "ptr-leak", NULL};

static const struct cub_field evil_syscall_args[] = {
    {.name = "call",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = evil_calls,
	.help = "the system call to attempt"},
    {0},
};

static const struct cub_field evil_load_args[] = {
    {.name = "object",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = evil_objects,
	.help = "the hostile object to load"},
    {0},
};

static const struct cub_action evil_actions[] = {
    {.name = "syscall",
	.help = "attempt a forbidden system call",
	.args = evil_syscall_args},
    {.name = "load",
	.help = "ask the broker to load a hostile object",
	.args = evil_load_args},
    {0},
};

static const struct cub_field evil_debug_fields[] = {
    {.name = "note", .type = CUB_T_STR, .help = "free text"},
    {0},
};

static const struct cub_field evil_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = sf_port_fields,
	.help = "ports of the cube"},
    {.name = "debug",
	.type = CUB_T_CONTAINER,
	.children = evil_debug_fields,
	.actions = evil_actions,
	.help = "misbehave on request (tests only)"},
    {0},
};

static int
evil_syscall(struct cub_cube *cube, const char *call)
{
	char *const argv[] = {"/bin/true", NULL};
	int fd;

	if (!strcmp(call, "bpf"))
		syscall(__NR_bpf, 0, NULL, 0);
	else if (!strcmp(call, "execve"))
		execve(argv[0], argv, NULL);
	else if (!strcmp(call, "socket-inet"))
		socket(AF_INET, SOCK_DGRAM, 0);
	else if (!strcmp(call, "fork"))
		fork();
	else if (!strcmp(call, "hang"))
		for (;;)
			sleep(1); /* clock_nanosleep is allowed: a plain hang */
	else if (!strcmp(call, "open")) {
		fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "open(/etc/passwd) succeeded inside the sandbox");
		}
		return cub_cube__set_error(
		    cube, CUB_E_PERM, "open(/etc/passwd): %s", strerror(errno));
	}
	return cub_cube__set_error(cube, CUB_E_INTERNAL,
	    "%s returned: the sandbox did not stop it", call);
}

static int
evil_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	const char *what;
	const void *elf;
	size_t len;

	if (!strcmp(name, "syscall"))
		return evil_syscall(cube, cub_val__get_str(args, "call"));
	what = cub_val__get_str(args, "object");
	if (!strcmp(what, "probe-read"))
		elf = evil_probe__elf_bytes(&len);
	else
		elf = evil_leak__elf_bytes(&len);
	if (cub_cube__load(cube, elf, len))
		return -EPERM; /* the broker's refusal is the error */
	return cub_cube__set_error(
	    cube, CUB_E_INTERNAL, "the broker loaded the '%s' object", what);
}

static const struct cub_plugin_ops evil_ops = {
    .apply = sf_apply,
    .show = sf_show,
    .action = evil_action,
    .packet_in = sf_packet_in,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "evil",
    .description = "simpleforwarder that misbehaves on request (tests)",
    .cube_size = sizeof(struct sf_cube),
    .schema = evil_schema,
    .ops = &evil_ops,
    .policy = SF_POLICY,
};
