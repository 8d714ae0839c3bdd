// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil: a test-only service that forwards like simpleforwarder and, on
 * request, misbehaves as a compromised plugin would.  It proves the
 * sandbox and the broker's object checks in tests/integration/sandbox.sh:
 *   cubicle e1 debug syscall call=bpf|execve|socket-inet|fork|open
 *   cubicle e1 debug load object=probe-read|ptr-leak
 *   cubicle e1 debug egress object=redirect|... ifindex=N (evil_egress.c)
 *   cubicle e1 debug stderr what=forge|flood   (evil_hygiene.c)
 *   cubicle e1 debug constructor | escape ... | metadata path=P
 *     (evil_sandbox.c)
 *   cubicle e1 debug slow pktin_ms=|show_ms=|sleep_ms= (evil_slow.c)
 *   cubicle e1 debug filter | stdin           (evil_seal.c)
 *   cubicle e1 debug slowload n=N             (evil_slowload.c)
 *   cubicle e1 debug pktout port=N dir=egress|ingress n=N (evil_pktout.c)
 *   cubicle e1 debug helper name=H input=T    (evil_helper.c)
 * Never installed.
 */
#define SF_NO_ENTRY
#include "simpleforwarder.c"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evil_bpfobj.h"
#include "evil_egress.h"
#include "evil_helper.h"
#include "evil_hygiene.h"
#include "evil_leak.skel.h"
#include "evil_limits.h"
#include "evil_pktout.h"
#include "evil_probe.skel.h"
#include "evil_sandbox.h"
#include "evil_seal.h"
#include "evil_slow.h"
#include "evil_slowload.h"

static const char *const evil_calls[] = {
    "bpf", "execve", "socket-inet", "fork", "open", "hang", NULL};
static const char *const evil_objects[] = {"probe-read", "ptr-leak", NULL};
static const char *const evil_bpfobj_objects[] = {"path-act", "path-port",
    "dup", "clean", "big", "pcpu", "pcpu4", "fdmap", "dumpstall", EVIL_LIMITS_OBJECTS, NULL};
static const char *const evil_writes[] = {"forge", "flood", NULL};

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

static const struct cub_field evil_bpfobj_args[] = {
    {.name = "object",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = evil_bpfobj_objects,
	.help = "the hostile object (see evil_bpfobj.c)"},
    {.name = "target", .type = CUB_T_STR, .help = "a map name to patch in"},
    {.name = "n", .type = CUB_T_U32, .help = "a number for the map name"},
    {0},
};

static const struct cub_field evil_stderr_args[] = {
    {.name = "what",
	.type = CUB_T_ENUM,
	.flags = CUB_F_REQUIRED,
	.enums = evil_writes,
	.help = "what to write to stderr"},
    {0},
};

static const struct cub_action evil_actions[] = {
    {.name = "maps",
	.help = "exercise the map API, including what must be refused"},
    {.name = "syscall",
	.help = "attempt a forbidden system call",
	.args = evil_syscall_args},
    {.name = "load",
	.help = "ask the broker to load a hostile object",
	.args = evil_load_args},
    {.name = "bpfobj",
	.help = "attack the broker's object service",
	.args = evil_bpfobj_args},
    {.name = "egress",
	.help = "load a program that sends packets to a netdev of its own",
	.args = evil_egress_args},
    {.name = "stderr",
	.help = "write a forged log line or a flood to stderr",
	.args = evil_stderr_args},
    {.name = "constructor",
	.help = "report what the plugin's constructor could do"},
    {.name = "escape",
	.help = "try to reach outside the worker",
	.args = evil_sandbox_escape_args},
    {.name = "metadata",
	.help = "ask for a path's metadata past the seccomp filter",
	.args = evil_sandbox_metadata_args},
    {.name = "filter",
	.help = "report the constructor's attempt to stack a seccomp filter"},
    {.name = "stdin", .help = "read what the worker's stdin holds"},
    {.name = "slow",
	.help = "make this worker's packet_in, show or this action slow",
	.args = evil_slow_args},
    {.name = "slowload",
	.help = "load, from a thread of the worker, objects that take the "
		"verifier seconds",
	.args = evil_slowload_args},
    {.name = "pktout",
	.help = "send ICMP echo requests out of a port or into the cube",
	.args = evil_pktout_args},
    {.name = "helper",
	.help = "run a registered helper process (cub_helper__run)",
	.args = evil_helper_args},
    {0},
};

static const struct cub_field evil_debug_fields[] = {
    {.name = "note", .type = CUB_T_STR, .help = "free text"},
    {0},
};

/*
 * simpleforwarder's port fields without its counter bindings: the debug
 * actions load objects without sf_stats, which a binding would refuse.
 * packet_ins is filled by this worker's show, so a show of an evil cube
 * is still a call to its worker.
 */
static const struct cub_field evil_port_fields[] = {
    {.name = "action",
	.type = CUB_T_ENUM,
	.enums = sf_action_names,
	.dflt = "drop",
	.help = "what to do with packets received on this port"},
    {.name = "outport",
	.type = CUB_T_STR,
	.max = CUB_NAME_MAX,
	.help = "port to send packets to when action is forward"},
    {.name = "packet_ins",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "slow-path packets this worker received from the port"},
    {0},
};

static const struct cub_field evil_schema[] = {
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = evil_port_fields,
	.help = "ports of the cube"},
    {.name = "debug",
	.type = CUB_T_CONTAINER,
	.children = evil_debug_fields,
	.actions = evil_actions,
	.help = "misbehave on request (tests only)"},
    {0},
};

static int
evil_count(const void *key, const void *value, void *ctx)
{
	(*(uint32_t *)ctx)++;
	return 0;
}

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

static const char *
outcome(int r)
{
	return r ? "refused" : "done";
}

/*
 * The whole map API on the cube's own maps, and the calls the broker must
 * refuse: writing a framework map, a handle that does not exist, a key of
 * the wrong size, deleting from an array.  The result says what happened.
 */
static int
evil_maps(struct cub_cube *cube, struct cub_val **result)
{
	struct sf_cube *sf = cub_cube__priv(cube);
	uint32_t keys[3] = {120, 121, 122}, n = 0, i;
	struct sf_action acts[3], back, zero[3] = {{0}};
	struct cub_port port = {0};
	cub_map fw, bad;
	bool same = true;
	int r;

	for (i = 0; i < 3; i++)
		acts[i] =
		    (struct sf_action){.action = SF_FORWARD, .outport = i};
	*result = cub_val__map();
	r = cub_map__update_batch(cube, &sf->actions, keys, acts, 3, 0);
	cub_val__set(*result, "batch_update", cub_val__str(outcome(r)));
	for (i = 0; i < 3 && !r; i++)
		same &= !cub_map__lookup(cube, &sf->actions, &keys[i], &back) &&
			!memcmp(&back, &acts[i], sizeof(back));
	cub_val__set(*result, "lookup_matches", cub_val__bool(same && !r));
	r = cub_map__dump(cube, &sf->actions, evil_count, &n);
	cub_val__set(*result, "dump_entries", cub_val__uint(r ? 0 : n));
	r = cub_map__delete(cube, &sf->actions, &keys[0]);
	cub_val__set(*result, "array_delete", cub_val__str(outcome(r)));
	/* The kernel's errno comes back, not the transport's EREMOTEIO. */
	cub_val__set(*result, "array_delete_errno", cub_val__uint((uint64_t)-r));
	r = cub_map__update(cube, &sf->actions, &keys[0], &acts[0], BPF_NOEXIST);
	cub_val__set(*result, "noexist_errno", cub_val__uint((uint64_t)-r));
	i = 100000; /* past the array's end */
	r = cub_map__lookup(cube, &sf->actions, &i, &back);
	cub_val__set(*result, "missing_errno", cub_val__uint((uint64_t)-r));
	r = cub_map__update_batch(cube, &sf->actions, keys, zero, 3, 0);
	cub_val__set(*result, "restore", cub_val__str(outcome(r)));
	r = cub_cube__map(cube, "cub_ports", &fw);
	if (!r)
		r = cub_map__update(cube, &fw, &keys[0], &port, 0);
	cub_val__set(*result, "framework_write", cub_val__str(outcome(r)));
	bad = sf->actions;
	bad.id = 999;
	r = cub_map__lookup(cube, &bad, &keys[0], &back);
	cub_val__set(*result, "bad_handle", cub_val__str(outcome(r)));
	bad = sf->actions;
	bad.key_size = 2;
	r = cub_map__lookup(cube, &bad, &keys[0], &back);
	cub_val__set(*result, "bad_key", cub_val__str(outcome(r)));
	return 0;
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
	if (!strcmp(name, "maps"))
		return evil_maps(cube, result);
	if (!strcmp(name, "bpfobj") &&
	    evil_limits_handles(cub_val__get_str(args, "object")))
		return evil_limits(
		    cube, cub_val__get_str(args, "object"), args, result);
	if (!strcmp(name, "bpfobj"))
		return evil_bpfobj(cube, args, result);
	if (!strcmp(name, "egress"))
		return evil_egress(cube, args, result);
	if (!strcmp(name, "stderr"))
		return evil_hygiene_stderr(
		    cube, cub_val__get_str(args, "what"), result);
	if (!strcmp(name, "slow"))
		return evil_slow_action(args, result);
	if (!strcmp(name, "constructor") || !strcmp(name, "escape") ||
	    !strcmp(name, "metadata"))
		return evil_sandbox_action(cube, name, args, result);
	if (!strcmp(name, "filter") || !strcmp(name, "stdin"))
		return evil_seal_action(cube, name, args, result);
	if (!strcmp(name, "slowload"))
		return evil_slowload_action(cube, args, result);
	if (!strcmp(name, "pktout"))
		return evil_pktout_action(cube, args, result);
	if (!strcmp(name, "helper"))
		return evil_helper_action(cube, args, result);
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

/* packet_ins of every port, from this worker's memory. */
static int
evil_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct sf_cube *sf = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	struct cub_val *oports, *e;
	uint64_t idx;
	uint32_t i;

	evil_slow_show();
	oports = cub_val__array();
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		if (cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			continue;
		e = cub_val__map();
		cub_val__set(e, "name",
		    cub_val__str(
			cub_val__get_str(ports->arr.items[i], "name")));
		cub_val__set(
		    e, "packet_ins", cub_val__uint(sf->packet_ins[idx]));
		cub_val__push(oports, e);
	}
	return cub_val__set(overlay, "ports", oports);
}

static void
evil_packet_in(
    struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	struct sf_cube *sf = cub_cube__priv(cube);

	evil_slow_packet_in();
	if (port < CUB_MAX_PORTS)
		sf->packet_ins[port]++;
}

/* sf_apply, slowed down or refused on request (evil_slow.c). */
static int
evil_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	if (evil_slow_apply(create))
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "evil: apply refused on request");
	return sf_apply(cube, config, create);
}

static const struct cub_plugin_ops evil_ops = {
    .apply = evil_apply,
    .destroy = evil_slowload_destroy,
    .show = evil_show,
    .action = evil_action,
    .packet_in = evil_packet_in,
};

/*
 * Also fd-valued map types (issue 6 point 5): the broker accepts the
 * declaration and must refuse every write.  Built as evildev, the policy
 * declares a DEVMAP, which the broker must refuse at hello.  The
 * USER_RINGBUF, CGROUP_ARRAY and PERF_EVENT_ARRAY are evil_limits.c's.
 */
#ifdef EVIL_DEVMAP_POLICY
#define EVIL_NAME "evildev"
#define EVIL_EXTRA_MAPS (1ull << BPF_MAP_TYPE_DEVMAP)
#elif defined(EVIL_STALL_POLICY)
#define EVIL_NAME "evilstall"
#define EVIL_EXTRA_MAPS 0
#else
#define EVIL_NAME "evil"
#define EVIL_EXTRA_MAPS 0
#endif

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = EVIL_NAME,
    .description = "simpleforwarder that misbehaves on request (tests)",
    .cube_size = sizeof(struct sf_cube),
    .schema = evil_schema,
    .ops = &evil_ops,
    .policy =
	{
	    .prog_types =
		(1u << BPF_PROG_TYPE_SCHED_CLS) | (1u << BPF_PROG_TYPE_XDP),
	    .map_types =
		(1ull << BPF_MAP_TYPE_ARRAY) | (1ull << BPF_MAP_TYPE_HASH) |
		(1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
		(1ull << BPF_MAP_TYPE_RINGBUF) |
		(1ull << BPF_MAP_TYPE_ARRAY_OF_MAPS) |
		(1ull << BPF_MAP_TYPE_USER_RINGBUF) |
		(1ull << BPF_MAP_TYPE_CGROUP_ARRAY) |
		(1ull << BPF_MAP_TYPE_PERF_EVENT_ARRAY) | EVIL_EXTRA_MAPS,
#ifdef EVIL_STALL_POLICY
	    .max_map_bytes = 40u << 20,
#else
	    .max_map_bytes = 4u << 20,
#endif
	},
};
