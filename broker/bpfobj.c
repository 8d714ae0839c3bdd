// SPDX-License-Identifier: BSD-2-Clause
/*
 * The BPF object service: the only place that loads programs.  Every ELF a
 * worker hands over is hostile until proven otherwise:
 *   1. libbpf parses it from memory (bpf_object__open_mem);
 *   2. the policy check: only the program for the cube's hook is loaded,
 *      its type must be the hook's, every map type and the total map size
 *      must be within what the service declared, the framework maps must
 *      have their exact shape, and every helper call in the instructions
 *      must be in the networking set, which has no redirect helper: a
 *      cube's packets leave through the broker's egress program only;
 *   3. the load itself runs on a thread whose effective capabilities lack
 *      CAP_SYS_ADMIN and CAP_PERFMON, so the verifier applies its
 *      unprivileged rules too (no kernel reads, no pointer leaks, no
 *      tracing helpers) even if the instruction check missed something;
 *   4. the instruction checks again, on what the kernel got: each loaded
 *      program's final instructions (relocated, subprograms appended),
 *      before anything pins, attaches or maps it (check_final()).
 * Maps are pinned under <pin-root>/<cube>/<name> and reused on reload, so
 * a reload (worker or broker restart, new plugin version) keeps map
 * contents and the new program replaces the old one in place on every
 * netdev.  The broker sets every pin path itself, from a name it checked
 * (a plain identifier, unique in the object); pins the new object does not
 * use are removed once it runs, so a cube pins one object's maps.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "bpfpolicy.h"
#include "broker.h"
#include "counters.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "egress.h"
#include "exitcheck.h"
#include "log.h"
#include "loopcheck.h"
#include "mapswap.h"

/* The broker's map of host addresses (hostaddr.bpf.h, netmon.c). */
#define HOST_ADDRS "cub_host_addrs"
#define HOP_KEY "cub_hopkey"

/* What the broker logs of one refused verifier run. */
#define VLOG_LINES 8
#define VLOG_BYTES 1024

/* The networking set of helpers, the framework maps' shapes, the
 * broker-only map types and the bytes estimate: bpfpolicy.c, shared with
 * the fake broker. */
_Static_assert(CUB_MAX_MAPS == CUBI_MAX_MAPS, "the fake's map cap");

static const char *const hook_progs[] = {
    [HOOK_TC] = "cub_ingress_tc",
    [HOOK_XDP_SKB] = "cub_ingress_xdp",
    [HOOK_XDP_DRV] = "cub_ingress_xdp",
};

#define REFUSE(...) (*errv = cub_err_val(CUB_E_REFUSED, __VA_ARGS__), -EPERM)

static uint64_t
fnv1a(const void *p, size_t len)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (len--)
		h = (h ^ *s++) * 0x100000001b3ull;
	return h;
}

/*
 * The rules a program is checked under: the service's policy, cubicled's
 * caps on one cube's and one service's maps and its hardening options,
 * the exit check's version.  Never 0 (0: not recorded, an older store).  A program whose
 * rules are not these is not vetted (bpfobj_vetted()).
 */
static uint64_t
rules_of(const struct broker *b, const struct service *s)
{
	/* Before its first hello of this run, the policy it had. */
	const struct cub_bpf_policy *pol =
	    !s->schema_wire && s->stored_policy_known ? &s->stored_policy
						      : &s->policy;
	const uint64_t v[] = {
	    pol->prog_types,
	    pol->map_types,
	    pol->max_map_bytes,
	    b->o.max_cube_map_bytes,
	    b->o.max_service_map_bytes,
	    EXITCHECK_VERSION,
	    b->o.max_loop_cost,
	    (b->o.spectre_hardening ? 1u : 0u) |
		(bpfobj_unhardened(b, s) ? 2u : 0u),
	};

	return fnv1a(v, sizeof(v)) | 1;
}

bool
bpfobj_vetted(const struct broker *b, const struct cube *c)
{
	return c->obj && c->obj->checked >= EXITCHECK_VERSION &&
	       c->obj->rules == rules_of(b, c->svc);
}

int
pin_path(
    struct broker *b, char *buf, size_t len, const char *cube, const char *leaf)
{
	int n = snprintf(buf, len, "%s/%s%s%s", b->o.pin_root, cube,
	    leaf ? "/" : "", leaf ? leaf : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Every call of prog: helpers in the networking set, no redirect helper,
 * no kfunc (cubi_check_calls(), bpfpolicy.c).
 */
static int
check_insns(const char *cube, struct bpf_program *prog, struct cub_val **errv)
{
	char msg[512];

	if (cubi_check_calls(cube, bpf_program__name(prog),
		bpf_program__insns(prog), bpf_program__insn_cnt(prog), msg,
		sizeof(msg)))
		return REFUSE("%s", msg);
	return 0;
}

static bool log_allowed(void);

/* max_entries of the map whose fd a program's 64-bit load names. */
static uint64_t
map_entries(int fd, void *arg)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	(void)arg;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.max_entries;
}

/*
 * How long one run of prog may hold its CPU: the rounds of its callback
 * helpers times their callbacks' cost, at most --max-loop-cost
 * (loopcheck.h).  On the final instructions: the map fds are the
 * broker's, the round counts what CO-RE left.
 */
static int
check_loops(const struct broker *b, const char *cube, struct bpf_program *prog,
    struct cub_val **errv)
{
	struct loopcheck_bad bad;
	uint64_t cost;
	int r;

	r = loopcheck_prog(bpf_program__insns(prog),
	    bpf_program__insn_cnt(prog), b->o.max_loop_cost, map_entries, NULL,
	    &cost, &bad);
	if (r == -ENOMEM) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return r;
	}
	if (r == -E2BIG)
		return REFUSE("cube '%s': program '%s': more than %u "
			      "instructions",
		    cube, bpf_program__name(prog), EXITCHECK_MAX_INSNS);
	if (r == -EINVAL)
		return REFUSE("cube '%s': program '%s': malformed code at insn "
			      "%zu: %s",
		    cube, bpf_program__name(prog), bad.insn, bad.why);
	if (r)
		return REFUSE("cube '%s': program '%s': %s", cube,
		    bpf_program__name(prog), bad.why);
	if (cost && log_allowed())
		log_info("cube '%s': program '%s': loops cost %llu of %llu",
		    cube, bpf_program__name(prog), (unsigned long long)cost,
		    (unsigned long long)b->o.max_loop_cost);
	return 0;
}

/*
 * A transparent cube's program may end a packet's run only by dropping
 * it: passing is cub_pass_tc(), a tail call to the next slot of its stack.
 * A program returning TC_ACT_OK itself would end the tc run and skip every
 * cube after it (exitcheck.c; docs/architecture.md, "Transparent cubes").
 * Every program the object loads is checked: the tail-call targets of a
 * table of its own are among them.  obj is loaded: its programs'
 * instructions are the kernel's (relocated, subprograms appended), and
 * the exits checked are the main function's.  There is no pass before
 * load: what libbpf holds then is what CO-RE and externs rewrite.
 */
static int
check_exits(
    const struct cube *c, struct bpf_object *obj, struct cub_val **errv)
{
	const struct exitcheck_rule *rule;
	struct exitcheck_bad bad;
	struct bpf_program *prog;
	const char *name;
	int r;

	bpf_object__for_each_program(prog, obj)
	{
		if (!bpf_program__autoload(prog))
			continue; /* never loaded, so never run */
		name = bpf_program__name(prog);
		rule = exitcheck_rule(bpf_program__type(prog));
		if (!rule)
			return REFUSE("program '%s' of transparent cube '%s': "
				      "type %s has no exit rule for stacks",
			    name, c->name,
			    libbpf_bpf_prog_type_str(bpf_program__type(prog)));
		r = exitcheck_prog(bpf_program__insns(prog),
		    bpf_program__insn_cnt(prog), rule, &bad);
		if (r == -ENOMEM) {
			*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
			return r;
		}
		if (r == -E2BIG)
			return REFUSE("program '%s' of transparent cube '%s': "
				      "more than %u instructions",
			    name, c->name, EXITCHECK_MAX_INSNS);
		if (r == -EINVAL)
			return REFUSE("program '%s' of transparent cube '%s': "
				      "malformed code at insn %zu: %s",
			    name, c->name, bad.insn, bad.why);
		if (r && bad.implicit_exit)
			return REFUSE("program '%s' of transparent cube '%s': "
				      "the legacy packet load at insn %zu "
				      "ends the program returning 0 on a "
				      "short packet, a value other than %s; "
				      "read packets with bpf_skb_load_bytes()",
			    name, c->name, bad.insn, rule->what);
		if (r && bad.known)
			return REFUSE("program '%s' of transparent cube '%s': "
				      "exit at insn %zu returns %llu, a value "
				      "other than %s; pass packets with %s",
			    name, c->name, bad.insn,
			    (unsigned long long)bad.value, rule->what,
			    rule->hint);
		if (r)
			return REFUSE("program '%s' of transparent cube '%s': "
				      "exit at insn %zu may return a value "
				      "other than %s; pass packets with %s",
			    name, c->name, bad.insn, rule->what, rule->hint);
	}
	return 0;
}

/* Map types whose values user space sees once per possible CPU. */
bool
bpf_map_type_percpu(uint32_t type)
{
	return cubi_map_type_percpu(type);
}

/*
 * Map types a worker may write (update, delete, batch): an allow-list of
 * types whose keys and values are plain data.  Everything else (values
 * that are file descriptors resolved in the writer's fd table, the
 * broker's: programs, maps, cgroups, perf events, sockets; interfaces,
 * CPUs; ring buffers and struct_ops) only the broker or libbpf fills.
 */
bool
bpf_map_type_holds_fds(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return false;
	default:
		return true;
	}
}

/*
 * Of those, the ones the broker fills for no service: a policy may not
 * declare them.  PROG_ARRAY and the map-in-map types stay declarable:
 * only libbpf fills them, in the broker, from the object's own programs
 * and maps (static initialisation).
 */
bool
bpf_map_type_broker_only(uint32_t type)
{
	return cubi_map_type_broker_only(type);
}

/*
 * What a map costs, estimated before the kernel creates it, on the high
 * side: a value per possible CPU for per-CPU maps, the element header
 * and the buckets of hash tables, the data area of both ring buffer
 * kinds.  bpfobj_load() then checks what the kernel really charged.
 */
uint64_t
bpf_map_bytes(const struct broker *b, uint32_t type, uint32_t key_size,
    uint32_t value_size, uint32_t max_entries)
{
	return cubi_map_bytes(
	    (uint32_t)b->ncpus, type, key_size, value_size, max_entries);
}

/* With a map-in-map's inner template, which libbpf creates too. */
static uint64_t
map_bytes(const struct broker *b, const struct bpf_map *m)
{
	const struct bpf_map *in = bpf_map__inner_map((struct bpf_map *)m);
	uint64_t n = bpf_map_bytes(b, bpf_map__type(m), bpf_map__key_size(m),
	    bpf_map__value_size(m), bpf_map__max_entries(m));

	if (in)
		n += bpf_map_bytes(b, bpf_map__type(in), bpf_map__key_size(in),
		    bpf_map__value_size(in), bpf_map__max_entries(in));
	return n;
}

/* What the kernel charged for a map: fdinfo's memlock, 0 if unknown. */
uint64_t
bpf_map_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* A name for a message: at most 48 bytes, non-printables as '?'. */
static const char *
shown(char *buf, size_t len, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < len && i < 48; i++)
		buf[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
	buf[i] = '\0';
	return buf;
}

/*
 * The broker's own pins in a cube's directory (its programs, the egress
 * program's tables, the hop keys): never a cube's map.
 */
static bool
broker_pin(const char *name)
{
	static const char *const pins[] = {"prog", "egress", "peers", "flood",
	    "flooddev", "hopkey", "peerkey"};
	size_t i;

	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++)
		if (!strcmp(name, pins[i]))
			return true;
	return false;
}

/*
 * A map name picks a pin path (<pin-root>/<cube>/<name>): it must be a
 * plain identifier that fits the kernel's name (so that what the broker
 * reports is the whole name), not the program's pin, not a framework
 * name unless it is that framework map, and unique in the object.
 */
static int
check_map_name(struct cube *c, struct bpf_object *obj, struct bpf_map *m,
    struct cub_val **errv)
{
	const char *name = bpf_map__name(m);
	char show[64];
	struct bpf_map *o;
	size_t i, n = strlen(name);

	for (i = 0; i < n; i++)
		if (!(name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z') ||
			(name[i] >= 'A' && name[i] <= 'Z') ||
			(name[i] >= '0' && name[i] <= '9')))
			break;
	if (!n || i < n || n >= sizeof(((struct bmap *)0)->name))
		return REFUSE("cube '%s': map name '%s'%s is not a plain name "
			      "(letters, digits and '_', at most %zu "
			      "characters)",
		    c->name, shown(show, sizeof(show), name),
		    n > 48 ? "..." : "", sizeof(((struct bmap *)0)->name) - 1);
	if (broker_pin(name) || !strcmp(name, "prog_new") ||
	    !strcmp(name, "egress_new") || !strcmp(name, "peers_new"))
		return REFUSE("cube '%s': map name '%s' is reserved (the "
			      "pin of a program)",
		    c->name, name);
	if (!strncmp(name, "cub_", 4) && !cubi_fw_map_find(name) &&
	    strcmp(name, HOST_ADDRS) && strcmp(name, HOP_KEY) &&
	    strncmp(name, SWAP_PREFIX, strlen(SWAP_PREFIX)))
		return REFUSE("cube '%s': map name '%s': names starting with "
			      "cub_ are the framework's (cube.bpf.h)",
		    c->name, name);
	bpf_object__for_each_map(o, obj)
	{
		if (o == m)
			break;
		if (!bpf_map__is_internal(o) && !strcmp(bpf_map__name(o), name))
			return REFUSE(
			    "cube '%s': two maps named '%s'", c->name, name);
	}
	return 0;
}

/*
 * Bytes of maps the service's other cubes hold, and those its loads in
 * progress reserved (reserve_bytes()); lock held.
 */
static uint64_t
service_map_bytes(struct broker *b, struct cube *self)
{
	uint64_t sum = self->svc->map_bytes_loading;
	struct cube *x;

	for (x = b->cubes; x; x = x->next)
		if (x != self && x->svc == self->svc && x->obj)
			sum += x->obj->map_bytes;
	return sum;
}

/* The most a cube's maps may hold: the policy's, within cubicled's. */
static uint64_t
cube_cap(const struct broker *b, const struct cube *c)
{
	const struct cub_bpf_policy *pol = &c->svc->policy;

	return pol->max_map_bytes < b->o.max_cube_map_bytes
		   ? pol->max_map_bytes
		   : b->o.max_cube_map_bytes;
}

/*
 * Lock held: what c's load may create counts against the service's cap
 * from now until the load ends (bpfobj_load() gives it back), so loads
 * of one service that overlap cannot together pass the cap.
 */
static int
reserve_bytes(
    struct broker *b, struct cube *c, uint64_t total, struct cub_val **errv)
{
	uint64_t others = service_map_bytes(b, c);
	int r;

	/* Its owner's programs and map-bytes (quota.c). */
	if ((r = quota_load(b, c, total, errv)))
		return r;
	if (others + total > b->o.max_service_map_bytes)
		return REFUSE("cube '%s': service '%s' would hold %llu bytes "
			      "of maps over its cubes (%llu in other cubes), "
			      "over --max-service-map-bytes %llu",
		    c->name, c->svc->name, (unsigned long long)(others + total),
		    (unsigned long long)others,
		    (unsigned long long)b->o.max_service_map_bytes);
	c->svc->map_bytes_loading += total;
	c->loading_bytes = total;
	return 0;
}


/*
 * Are c's programs (to be) in a stack?  Its service is transparent, as
 * its hello said or (before the first hello of this broker) as the store
 * recorded: either way the exit check runs.
 */
static bool
stacked(const struct cube *c)
{
	return c->svc->transparent || c->svc->stored_transparent;
}

/*
 * A loaded object refused: the slots of its prog arrays that hold its own
 * programs are emptied, so that a reused (pinned) table an older program
 * tail-calls through does not keep a refused program once obj is closed.
 */
static void
scrub_prog_arrays(struct bpf_object *obj)
{
	struct bpf_prog_info info;
	struct bpf_program *prog;
	uint32_t ids[64], k, id, nids = 0, j;
	__u32 len;
	struct bpf_map *m;
	int fd;

	bpf_object__for_each_program(prog, obj)
	{
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (nids < 64 && (fd = bpf_program__fd(prog)) >= 0 &&
		    !bpf_obj_get_info_by_fd(fd, &info, &len))
			ids[nids++] = info.id;
	}
	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__type(m) != BPF_MAP_TYPE_PROG_ARRAY ||
		    (fd = bpf_map__fd(m)) < 0)
			continue;
		for (k = 0; k < bpf_map__max_entries(m); k++) {
			if (bpf_map_lookup_elem(fd, &k, &id))
				continue;
			for (j = 0; j < nids && ids[j] != id; j++)
				;
			if (j < nids)
				bpf_map_delete_elem(fd, &k);
		}
	}
}

/*
 * The checks on what the kernel got, after bpf_object__load() and before
 * anything attaches, pins or maps a program: libbpf's relocations (CO-RE,
 * externs, kfunc calls) rewrite instructions at load and append the
 * subprograms, so the checks before load saw neither.  Every loaded
 * program: its calls (check_insns(), every function); a stacked cube's:
 * its main function's exits too.  *main is the hook's program, the one
 * check_object() found (unique by name): the very one installed.  On
 * refusal the object's programs are taken out of its prog arrays.
 */
static int
check_final(struct cube *c, struct bpf_object *obj,
    struct bpf_program **main, struct cub_val **errv)
{
	struct bpf_program *prog;
	int r = 0;

	*main = NULL;
	bpf_object__for_each_program(prog, obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		if (!strcmp(bpf_program__name(prog), hook_progs[c->hook])) {
			if (*main) {
				r = REFUSE("cube '%s': object has two programs "
					   "named '%s'",
				    c->name, hook_progs[c->hook]);
				break;
			}
			*main = prog;
		}
		if (bpf_program__fd(prog) < 0) {
			r = REFUSE("cube '%s': program '%s' was not loaded",
			    c->name, bpf_program__name(prog));
			break;
		}
		if ((r = check_insns(c->name, prog, errv)) ||
		    (r = check_loops(c->svc->b, c->name, prog, errv)))
			break;
	}
	if (!r && !*main)
		r = REFUSE("cube '%s': object has no program '%s' for hook %s",
		    c->name, hook_progs[c->hook], hook_name(c->hook));
	if (!r && stacked(c))
		r = check_exits(c, obj, errv);
	if (r) {
		if (log_allowed())
			log_warn("%s (after relocation)",
			    cub_val__get_str(*errv, "message") ?: "?");
		scrub_prog_arrays(obj);
	}
	return r;
}

/*
 * Parse-time checks of a worker's object.  Runs without b->lock: it reads
 * only what does not change while c loads (its name, hook and service,
 * the service's policy, cubicled's options).
 */
static int
check_object(struct broker *b, struct cube *c, struct bpf_object *obj,
    uint64_t *bytes, struct cub_val **errv)
{
	const struct cub_bpf_policy *pol = &c->svc->policy;
	uint64_t cap;
	const char *want = hook_progs[c->hook];
	enum bpf_prog_type want_type =
	    c->hook == HOOK_TC ? BPF_PROG_TYPE_SCHED_CLS : BPF_PROG_TYPE_XDP;
	struct bpf_program *prog, *found = NULL;
	struct bpf_map *m, *in, *big = NULL;
	uint64_t total = 0, one, big_bytes = 0;
	char show[64];
	int nmaps = 0, r;
	const struct cubi_fw_map *f;

	bpf_object__for_each_program(prog, obj)
	{
		if (strcmp(bpf_program__name(prog), want)) {
			bpf_program__set_autoload(prog, false);
			continue;
		}
		if (found)
			return REFUSE("cube '%s': object has two programs "
				      "named '%s' (sections %s and %s)",
			    c->name, want, bpf_program__section_name(found),
			    bpf_program__section_name(prog));
		found = prog;
	}
	if (!found)
		return REFUSE("cube '%s': object has no program '%s' for hook "
			      "%s",
		    c->name, want, hook_name(c->hook));
	if (bpf_program__type(found) != want_type)
		return REFUSE("cube '%s': program '%s' has type %s, hook %s "
			      "needs %s",
		    c->name, want,
		    libbpf_bpf_prog_type_str(bpf_program__type(found)),
		    hook_name(c->hook), libbpf_bpf_prog_type_str(want_type));
	if (want_type >= 32 || !(pol->prog_types & (1u << want_type)))
		return REFUSE("cube '%s': service '%s' did not declare program "
			      "type %s",
		    c->name, c->svc->name, libbpf_bpf_prog_type_str(want_type));
	if ((r = check_insns(c->name, found, errv)))
		return r;

	bpf_object__for_each_map(m, obj)
	{
		enum bpf_map_type t = bpf_map__type(m);

		if (++nmaps > CUB_MAX_MAPS)
			return REFUSE("cube '%s': more than %d maps", c->name,
			    CUB_MAX_MAPS);
		one = map_bytes(b, m);
		total += one;
		if (one > big_bytes) {
			big_bytes = one;
			big = m;
		}
		if (bpf_map__is_internal(m))
			continue; /* never pinned, never in the map table */
		if ((r = check_map_name(c, obj, m, errv)))
			return r;
		if (!strcmp(bpf_map__name(m), HOST_ADDRS)) {
			/* Every netdev's addresses: not a tenant's to read
			 * (docs/architecture.md "Tenants"). */
			if (c->owner[0])
				return REFUSE("cube '%s': map '%s' (every "
					      "netdev's addresses) is for "
					      "admins' cubes; tenant '%s' "
					      "may not declare it",
				    c->name, HOST_ADDRS, c->owner);
			/* The broker's, shared: not the cube's bytes. */
			total -= one;
			if (t != BPF_MAP_TYPE_HASH || bpf_map__key_size(m) != 4 ||
			    bpf_map__value_size(m) !=
				sizeof(struct cub_host_addr) ||
			    bpf_map__max_entries(m) != CUB_HOST_ADDRS_MAX ||
			    bpf_map__map_flags(m) !=
				(BPF_F_RDONLY_PROG | BPF_F_NO_PREALLOC) ||
			    bpf_map__inner_map(m))
				return REFUSE("cube '%s': map '%s' is not as "
					      "declared in hostaddr.bpf.h",
				    c->name, HOST_ADDRS);
			continue;
		}
		if (!strcmp(bpf_map__name(m), HOP_KEY)) {
			/* The broker's, shared: not the cube's bytes. */
			total -= one;
			if (t != BPF_MAP_TYPE_ARRAY ||
			    bpf_map__key_size(m) != 4 ||
			    bpf_map__value_size(m) !=
				sizeof(struct cub_hopkey) ||
			    bpf_map__max_entries(m) != 1 ||
			    bpf_map__map_flags(m) != BPF_F_RDONLY_PROG ||
			    bpf_map__inner_map(m))
				return REFUSE("cube '%s': map '%s' is not as "
					      "declared in cube.bpf.h",
				    c->name, HOP_KEY);
			continue;
		}
		if (cubi_fw_map_find(bpf_map__name(m)) ||
		    !strncmp(
			bpf_map__name(m), SWAP_PREFIX, strlen(SWAP_PREFIX)))
			continue; /* its exact shape is checked below */
		if ((unsigned)t >= 64 || !(pol->map_types & (1ull << t)) ||
		    bpf_map_type_broker_only(t))
			return REFUSE("cube '%s': map '%s' has type %s, not "
				      "declared by service '%s'",
			    c->name, bpf_map__name(m),
			    libbpf_bpf_map_type_str(t), c->svc->name);
		/* A map-in-map's template is created too: declared types. */
		in = bpf_map__inner_map(m);
		t = in ? bpf_map__type(in) : t;
		if (in &&
		    ((unsigned)t >= 64 || !(pol->map_types & (1ull << t)) ||
			bpf_map_type_broker_only(t)))
			return REFUSE("cube '%s': map '%s' has inner maps of "
				      "type %s, not declared by service '%s'",
			    c->name, bpf_map__name(m),
			    libbpf_bpf_map_type_str(t) ?: "?", c->svc->name);
	}
	cap = cube_cap(b, c);
	if (total > cap)
		return REFUSE("cube '%s': maps need %llu bytes (per-CPU maps "
			      "once per possible CPU, %d; the largest, map "
			      "'%s' (%s), %llu bytes), over the limit of %llu",
		    c->name, (unsigned long long)total, b->ncpus,
		    shown(show, sizeof(show), bpf_map__name(big)),
		    libbpf_bpf_map_type_str(bpf_map__type(big)) ?: "?",
		    (unsigned long long)big_bytes, (unsigned long long)cap);
	*bytes = total; /* the service's cap: reserve_bytes(), locked */
	for (f = cubi_fw_maps; f->name; f++) {
		m = bpf_object__find_map_by_name(obj, f->name);
		if (!m && f->optional)
			continue;
		if (!m || !cubi_fw_map_ok(f, bpf_map__type(m),
			      bpf_map__key_size(m), bpf_map__value_size(m),
			      bpf_map__max_entries(m), bpf_map__map_flags(m)))
			return REFUSE("cube '%s': framework map '%s' missing "
				      "or not as declared in cube.bpf.h",
			    c->name, f->name);
	}
	return mapswap_check_object(c->name, obj, errv);
}

/*
 * What libbpf says while a service's object loads, kept per loading
 * thread: the service (whose token bucket limits the records logged) and
 * the verifier's reason for a refusal, the last line of its log before
 * the statistics ("processed N insns").
 */
static __thread struct service *log_svc;
static __thread char *verifier_reason;

/* One record more for the service loading on this thread (svclog.c). */
static bool
log_allowed(void)
{
	return svc_log_allowed(log_svc);
}

/*
 * A verifier log (one multi-line string): note the reason, log one
 * record with its last VLOG_LINES lines, at most VLOG_BYTES.
 */
static void
log_verifier(int prio, char *text)
{
	char *lines[VLOG_LINES], *line, *save;
	char out[VLOG_BYTES];
	bool done = false;
	int n = 0, total = 0, i;
	size_t len = 0;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "BEGIN PROG LOAD LOG") ||
		    strstr(line, "END PROG LOAD LOG"))
			continue;
		if (!strncmp(line, "processed ", 10))
			done = true;
		if (!done && line[0] != ';' && verifier_reason)
			snprintf(verifier_reason, 256, "%s", line);
		lines[n++ % VLOG_LINES] = line;
		total++;
	}
	out[0] = '\0';
	for (i = n > VLOG_LINES ? n - VLOG_LINES : 0; i < n; i++) {
		int w = snprintf(out + len, sizeof(out) - len, "%s%s",
		    len ? " | " : "", lines[i % VLOG_LINES]);

		if (w < 0 || (size_t)w >= sizeof(out) - len)
			break;
		len += (size_t)w;
	}
	if (log_allowed())
		log_msg(prio, "verifier log (last %d of %d lines): %s",
		    total < VLOG_LINES ? total : VLOG_LINES, total, out);
}

/* libbpf's print callback (broker.c): one record a line, rate-limited. */
void
bpfobj_libbpf_log(int prio, const char *fmt, va_list ap)
{
	char *buf = NULL, *line, *save;

	if (vasprintf(&buf, fmt, ap) < 0)
		return;
	if (strstr(buf, "BEGIN PROG LOAD LOG")) {
		log_verifier(prio, buf);
		free(buf);
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (log_allowed())
			log_msg(prio, "%.*s", VLOG_BYTES, line);
	free(buf);
}

struct load_job {
	struct bpf_object *obj;
	struct service *svc;
	bool perfmon; /* --unhardened-service: keep CAP_PERFMON */
	int r;
	char reason[256];
};

bool
bpfobj_unhardened(const struct broker *b, const struct service *s)
{
	unsigned i;

	for (i = 0; s && i < b->o.nunhardened; i++)
		if (!strcmp(b->o.unhardened[i], s->name))
			return true;
	return false;
}

/*
 * Load with CAP_SYS_ADMIN and CAP_PERFMON cleared from this thread's
 * effective set (capabilities are per thread); CAP_BPF and CAP_NET_ADMIN
 * stay, so maps and networking programs load, under the verifier's
 * unprivileged rules.  A service named by --unhardened-service keeps
 * CAP_PERFMON, which is what the verifier asks for pointer arithmetic
 * it cannot sanitize (a variable offset on a packet pointer), pointer
 * leaks and leaving out the Spectre v1/v4 barriers (allow_ptr_leaks,
 * bypass_spec_v1/v4); CAP_SYS_ADMIN stays cleared.
 */
static void *
load_thread(void *arg)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	struct load_job *job = arg;

	verifier_reason = job->reason;
	log_svc = job->svc;
	if (syscall(SYS_capget, &hdr, data)) {
		job->r = -errno;
		return NULL;
	}
	data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (!job->perfmon)
		data[CAP_PERFMON / 32].effective &= ~(1u << (CAP_PERFMON % 32));
	if (syscall(SYS_capset, &hdr, data)) {
		job->r = -errno;
		return NULL;
	}
	job->r = bpf_object__load(job->obj);
	return NULL;
}

static int
load_unprivileged(struct service *svc, bool perfmon, struct bpf_object *obj,
    char *reason, size_t len)
{
	struct load_job job = {.obj = obj, .svc = svc, .perfmon = perfmon};
	pthread_t t;

	if (pthread_create(&t, NULL, load_thread, &job))
		return -EAGAIN;
	pthread_join(t, NULL);
	snprintf(reason, len, "%s", job.reason);
	return job.r;
}

static int
dupfd(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return r < 0 ? -errno : r;
}

struct bpfobj *
bpfobj_free(struct bpfobj *o)
{
	int i;

	if (!o)
		return NULL;
	ring_buffer__free(o->pktin);
	ring_buffer__free(o->logring);
	mapswap_free(o->swaps);
	if (o->prog_fd >= 0)
		close(o->prog_fd);
	if (o->egress_fd >= 0)
		close(o->egress_fd);
	if (o->peers_fd >= 0)
		close(o->peers_fd);
	if (o->flood_fd >= 0)
		close(o->flood_fd);
	if (o->flooddev_fd >= 0)
		close(o->flooddev_fd);
	if (o->peerkey_fd >= 0)
		close(o->peerkey_fd);
	for (i = 0; i < o->nmaps; i++)
		if (o->maps[i].fd >= 0)
			close(o->maps[i].fd);
	free(o);
	return NULL;
}

struct bmap *
bpfobj_map(struct bpfobj *o, const char *name)
{
	int i;

	for (i = 0; o && i < o->nmaps; i++)
		if (!strcmp(o->maps[i].name, name))
			return &o->maps[i];
	return NULL;
}

/* Pin to a temporary name, then rename over the old pin: never unpinned. */
static int
pin_replace(int fd, const char *path)
{
	char tmp[PATH_MAX];

	/* bpffs refuses names with a dot. */
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return -errno;
	if (rename(tmp, path)) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

static int
fill_map(struct bmap *bm, const char *name, int fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	snprintf(bm->name, sizeof(bm->name), "%s", name);
	bm->fd = fd;
	bm->type = info.type;
	bm->key_size = info.key_size;
	bm->value_size = info.value_size;
	bm->max_entries = info.max_entries;
	bm->framework = false;
	return 0;
}

/* The framework maps, by what the broker checked or pinned itself. */
static void
mark_framework(struct bpfobj *o)
{
	const struct cubi_fw_map *f;
	int i;

	for (i = 0; i < o->nmaps; i++) {
		f = cubi_fw_map_find(o->maps[i].name);
		o->maps[i].framework =
		    (f && f->type == o->maps[i].type) ||
		    !strcmp(o->maps[i].name, HOST_ADDRS) ||
		    !strcmp(o->maps[i].name, HOP_KEY) ||
		    (mapswap_index_name(o->maps[i].name) &&
			o->maps[i].type == BPF_MAP_TYPE_ARRAY);
	}
}

/*
 * Remove the pins of the cube's directory that o does not use (maps of an
 * older object, renamed since): a cube pins one object's maps.
 */
static void
unpin_stale(struct broker *b, struct cube *c, const struct bpfobj *o)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	pin_path(b, dir, sizeof(dir), c->name, NULL);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    broker_pin(de->d_name) ||
		    bpfobj_map((struct bpfobj *)o, de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
			(int)sizeof(path) &&
		    !unlink(path) && log_allowed())
			log_info("cube '%s': unpinned map '%s' of an older "
				 "object",
			    c->name, de->d_name);
	}
	closedir(d);
}

/* Out of file descriptors is not a refusal: say what it is. */
static struct cub_val *
too_many_files(struct cube *c, int r)
{
	return cub_err_val(CUB_E_LIMIT,
	    "cube '%s': too many open files (%s); nothing was loaded: close "
	    "idle clients or raise cubicled's open file limit",
	    c->name,
	    r == -ENFILE ? "the system's file table is full"
			 : "the broker is at its limit");
}

/*
 * Maps of obj whose pinned namesake has another shape (a new object
 * reusing an old map name with another type, key, value, size or flags:
 * dynmon's user code changes so): pointed at no pin, so that libbpf
 * creates them fresh instead of refusing the load ("couldn't reuse pinned
 * map").  The old pin stays for the program still running on it until
 * install() pins the new map in its place (pin_fresh()).
 *
 * Prog arrays are never reused either: libbpf fills their static
 * initialisation at load, before the checks on the final instructions,
 * so a reused one would hand the running program's tail calls to the
 * new, unchecked programs until the checks end (and a refusal, emptying
 * those slots, would leave the running program's tail calls failing).
 * Their only contents are that initialisation (a worker cannot write a
 * map of fds), so a fresh one loses nothing.
 */
static void
unpin_mismatched(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
	{
		const char *p = bpf_map__pin_path(m);
		struct bpf_map_info info = {0};
		__u32 ilen = sizeof(info);
		int fd;

		if (bpf_map__is_internal(m) || !p)
			continue;
		if (bpf_map__type(m) == BPF_MAP_TYPE_PROG_ARRAY) {
			bpf_map__set_pin_path(m, NULL);
			continue;
		}
		fd = bpf_obj_get(p); /* bpf fds are close-on-exec */
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) &&
		    (info.type != (__u32)bpf_map__type(m) ||
			info.key_size != bpf_map__key_size(m) ||
			info.value_size != bpf_map__value_size(m) ||
			info.max_entries != bpf_map__max_entries(m) ||
			info.map_flags != bpf_map__map_flags(m)))
			bpf_map__set_pin_path(m, NULL);
		close(fd);
	}
}

/* Lock held, the new program installed: pin the maps unpin_mismatched()
 * left without a pin, each in place of its namesake of another shape. */
static void
pin_fresh(struct broker *b, struct cube *c, struct bpf_object *obj)
{
	char path[PATH_MAX];
	struct bpf_map *m;
	int r;

	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__is_internal(m) || bpf_map__pin_path(m) ||
		    !strcmp(bpf_map__name(m), HOST_ADDRS) ||
		    !strcmp(bpf_map__name(m), HOP_KEY) ||
		    pin_path(b, path, sizeof(path), c->name, bpf_map__name(m)))
			continue;
		unlink(path);
		r = bpf_map__pin(m, path);
		if (!log_allowed())
			continue;
		if (r)
			log_warn("cube '%s': map '%s': pin: %s", c->name,
			    bpf_map__name(m), strerror(-r));
		else if (bpf_map__type(m) != BPF_MAP_TYPE_PROG_ARRAY)
			log_info("cube '%s': map '%s' replaced by a new one of "
				 "another type, key, value or size",
			    c->name, bpf_map__name(m));
	}
}

/* Parse and check an object, with its maps pointed at the cube's pins. */
static struct bpf_object *
open_checked(struct broker *b, struct cube *c, const void *elf, size_t len,
    uint64_t *bytes, struct cub_val **errv)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_map *m;

	/* Maps an ELF asks to pin by name (LIBBPF_PIN_BY_NAME) land in the
	 * cube's directory at worst; every pin path is set below anyway. */
	pin_path(b, dir, sizeof(dir), c->name, NULL);
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = c->name,
	    .pin_root_path = dir);
	obj = bpf_object__open_mem(elf, len, &oo);
	if (!obj) {
		*errv = errno == EMFILE || errno == ENFILE
			    ? too_many_files(c, -errno)
			    : cub_err_val(CUB_E_REFUSED,
				  "cube '%s': not a valid BPF ELF object (%s)",
				  c->name, strerror(errno));
		return NULL;
	}
	if (check_object(b, c, obj, bytes, errv))
		goto fail;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		*errv = cub_err_val(CUB_E_KERNEL, "cube '%s': mkdir %s: %s",
		    c->name, dir, strerror(errno));
		goto fail;
	}
	/* Names checked by check_object(): plain, unique, not "prog". */
	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__is_internal(m))
			continue;
		if (!strcmp(bpf_map__name(m), HOP_KEY)) {
			/* The broker's hop key of this cube. */
			if (bpf_map__set_pin_path(m, NULL) ||
			    bpfobj_hopkey_fd(b, c) <= 0 ||
			    bpf_map__reuse_fd(m, bpfobj_hopkey_fd(b, c))) {
				*errv = cub_err_val(CUB_E_KERNEL,
				    "cube '%s': its hop key is not ready",
				    c->name);
				goto fail;
			}
			continue;
		}
		if (!strcmp(bpf_map__name(m), HOST_ADDRS)) {
			/* The broker's map (netmon.c), never the cube's. */
			if (bpf_map__set_pin_path(m, NULL) ||
			    netmon_host_addrs_fd(b) < 0 ||
			    bpf_map__reuse_fd(m, netmon_host_addrs_fd(b))) {
				*errv = cub_err_val(CUB_E_KERNEL,
				    "cube '%s': the host's address map is not "
				    "ready",
				    c->name);
				goto fail;
			}
			continue;
		}
		if (pin_path(
			b, path, sizeof(path), c->name, bpf_map__name(m)) ||
		    bpf_map__set_pin_path(m, path)) {
			*errv = cub_err_val(CUB_E_KERNEL,
			    "cube '%s': map '%s': cannot set its pin path",
			    c->name, bpf_map__name(m));
			goto fail;
		}
	}
	unpin_mismatched(obj);
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

/*
 * Without --spectre-hardening: the object passed the unprivileged
 * verifier; load the same bytes again with all capabilities, so that the
 * verifier does not add its Spectre v1/v4 barriers (lfence after stack
 * writes, index masking: about 15% of simpleforwarder's XDP rate here).
 * Falls back to the hardened object on any failure.
 */
static struct bpf_object *
reload_unhardened(struct broker *b, struct cube *c, struct bpf_object *obj,
    const void *elf, size_t len)
{
	struct cub_val *errv = NULL;
	struct bpf_object *fast;
	uint64_t bytes;
	int r;

	fast = open_checked(b, c, elf, len, &bytes, &errv);
	if (!fast || (r = bpf_object__load(fast))) {
		if (log_allowed())
			log_warn(
			    "cube '%s': privileged reload failed; keeping the "
			    "hardened program",
			    c->name);
		cub_val__free(errv);
		bpf_object__close(fast);
		return obj;
	}
	bpf_object__close(obj);
	return fast;
}

/* A pinned hop key that is one: its fd, else -1. */
static int
hopkey_get(const char *path)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	struct cub_hopkey k = {0};
	uint32_t zero = 0;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return -1;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.type == BPF_MAP_TYPE_ARRAY && info.value_size == sizeof(k) &&
	    info.max_entries == 1 && !bpf_map_lookup_elem(fd, &zero, &k) &&
	    k.key[0] && k.key[1])
		return fd;
	close(fd);
	return -1;
}

/*
 * c's hop key (cube_shared.h, struct cub_hopkey): the one its pins hold
 * as "hopkey" (a restart finds the key its adopted programs carry; the
 * pin goes with the cube's directory), or a new one of random bytes
 * (never 0), pinned there.  Its fd (c's, closed with it), or -errno.
 */
int
bpfobj_hopkey_fd(struct broker *b, struct cube *c)
{
	struct cub_hopkey k = {0};
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, r;
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_RDONLY_PROG);

	if (c->hopkey_fd > 0)
		return c->hopkey_fd;
	pin_path(b, path, sizeof(path), c->name, "hopkey");
	if ((fd = hopkey_get(path)) > 0)
		return c->hopkey_fd = fd;
	while (!k.key[0] || !k.key[1])
		if (getrandom(&k, sizeof(k), 0) != (ssize_t)sizeof(k))
			return -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, HOP_KEY, 4, sizeof(k), 1, &o);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, &k, BPF_ANY) ||
	    bpf_map_freeze(fd)) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = pin_replace(fd, path))) {
		close(fd);
		return r;
	}
	return c->hopkey_fd = fd;
}

/*
 * One of the broker's maps of the cube's egress program (its flood set,
 * its peers' hop keys; topology.c fills them): the pin <cube>/name,
 * kept across reloads while it has this shape, else made again, empty
 * (topo_flood_sync(), peer_slot() fill it), named cub_<name>.
 */
static int
egress_map(struct broker *b, struct cube *c, const char *name,
    enum bpf_map_type type, uint32_t vsize, uint32_t n, uint32_t flags)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	char path[PATH_MAX], kname[BPF_OBJ_NAME_LEN];
	int fd, r;
	LIBBPF_OPTS(bpf_map_create_opts, o);

	pin_path(b, path, sizeof(path), c->name, name);
	fd = bpf_obj_get(path);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.type == type && info.value_size == vsize &&
	    info.max_entries == n && info.map_flags == flags)
		return fd;
	if (fd >= 0)
		close(fd);
	o.map_flags = flags;
	snprintf(kname, sizeof(kname), "cub_%s", name);
	fd = bpf_map_create(type, kname, 4, vsize, n, &o);
	if (fd < 0)
		return -errno;
	if ((r = pin_replace(fd, path))) {
		close(fd);
		return r;
	}
	return fd;
}

static int
flood_open(struct broker *b, struct cube *c, struct bpfobj *o,
    const char **step)
{
	*step = "open or make the cube's flood set";
	o->flood_fd = egress_map(b, c, "flood", BPF_MAP_TYPE_ARRAY,
	    sizeof(struct cub_flood), 1, 0);
	if (o->flood_fd < 0)
		return o->flood_fd;
	*step = "open or make the cube's peers' hop keys";
	o->peerkey_fd = egress_map(b, c, "peerkey", BPF_MAP_TYPE_ARRAY,
	    sizeof(struct cub_hopkey), CUB_MAX_PORTS, BPF_F_RDONLY_PROG);
	if (o->peerkey_fd < 0)
		return o->peerkey_fd;
	if (c->hook == HOOK_TC)
		return 0;
	o->flooddev_fd = egress_map(
	    b, c, "flooddev", BPF_MAP_TYPE_DEVMAP_HASH, 4, CUB_MAX_PORTS, 0);
	return o->flooddev_fd < 0 ? o->flooddev_fd : 0;
}

/*
 * The broker's egress program for o (egress.bpf.c), loaded with the
 * broker's own privileges over the cube's cub_ports and cub_scratch_map,
 * in slot CUB_EGRESS_OUT of its cub_egress, pinned as <cube>/egress.  The
 * slot (whatever the object's static initialisation put there) is
 * overwritten before the cube's program is attached anywhere.  Its
 * cub_peers (the programs of the cubes the ports peer with, filled by
 * topology.c) is the broker's, pinned as <cube>/peers and kept across
 * reloads; the cube's object has no handle on it.
 */
static int
egress_load(
    struct broker *b, struct cube *c, struct bpfobj *o, const char **step)
{
	struct bmap *ports = bpfobj_map(o, "cub_ports");
	struct bmap *scratch = bpfobj_map(o, "cub_scratch_map");
	struct bmap *table = bpfobj_map(o, "cub_egress");
	struct bmap *pktin = bpfobj_map(o, "cub_pktin");
	struct bmap *sel = bpfobj_map(o, "cub_flood_sel");
	struct cubi_egress_maps maps;
	char path[PATH_MAX];
	int fd;

	*step = "egress program: the object lacks a framework map";
	if (!ports || !scratch || !table)
		return -ENOENT;
	pin_path(b, path, sizeof(path), c->name, "peers");
	*step = "open or make the cube's peer table";
	o->peers_fd = bpf_obj_get(path);
	if (o->peers_fd < 0) {
		o->peers_fd = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY,
		    "cub_peers", 4, 4, CUB_PEERS_SLOTS, NULL);
		if (o->peers_fd < 0)
			return -errno;
		if ((fd = pin_replace(o->peers_fd, path)))
			return fd;
	}
	if ((fd = flood_open(b, c, o, step)))
		return fd;
	maps.peers_fd = o->peers_fd;
	maps.flood_fd = o->flood_fd;
	maps.flooddev_fd = o->flooddev_fd;
	maps.pktin_fd = pktin ? pktin->fd : -1;
	maps.peerkey_fd = o->peerkey_fd;
	maps.flood_sel_fd = sel ? sel->fd : -1;
	*step = "make the cube's hop key";
	if ((maps.hopkey_fd = bpfobj_hopkey_fd(b, c)) < 0)
		return maps.hopkey_fd;
	fd = cubi_egress_load(c->hook != HOOK_TC, ports->fd, scratch->fd,
	    table->fd, &maps, step);
	if (fd < 0)
		return fd;
	o->egress_fd = fd;
	*step = "pin the egress program";
	pin_path(b, path, sizeof(path), c->name, "egress");
	return pin_replace(fd, path);
}

/*
 * An adopted egress program pinned by a broker before the cubes had keys
 * of their own (no <cube>/peerkey): that broker gave every cube the one
 * key, so the key of each port's peer is this cube's own until
 * topology.c writes the peers' (the same bytes).  Today's egress program
 * replaces it in the cube's cub_egress; the old one runs until then.
 */
static void
egress_upgrade(struct broker *b, struct cube *c, struct bpfobj *o)
{
	const char *step = "open the peers' hop keys";
	struct cub_hopkey k;
	uint32_t i, zero = 0;
	int fd, r;

	if (o->peerkey_fd >= 0 || o->egress_fd < 0 || c->hopkey_fd <= 0 ||
	    bpf_map_lookup_elem(c->hopkey_fd, &zero, &k))
		return;
	fd = egress_map(b, c, "peerkey", BPF_MAP_TYPE_ARRAY, sizeof(k),
	    CUB_MAX_PORTS, BPF_F_RDONLY_PROG);
	for (i = 0; fd >= 0 && i < CUB_MAX_PORTS; i++)
		if (bpf_map_update_elem(fd, &i, &k, BPF_ANY)) {
			r = -errno;
			close(fd);
			fd = r;
		}
	if (fd < 0) {
		log_errno(fd, "cube '%s': older egress program kept: %s",
		    c->name, step);
		return;
	}
	close(fd);
	/* egress_load() opens them again from the pins. */
	close(o->egress_fd);
	close(o->peers_fd);
	if (o->flood_fd >= 0)
		close(o->flood_fd);
	if (o->flooddev_fd >= 0)
		close(o->flooddev_fd);
	o->egress_fd = o->peers_fd = o->flood_fd = o->flooddev_fd = -1;
	if ((r = egress_load(b, c, o, &step)))
		log_errno(r, "cube '%s': today's egress program: %s", c->name,
		    step);
	else
		log_info("cube '%s': the egress program of an older broker "
			 "replaced",
		    c->name);
}

/* A new object failed to attach: the old one's egress program back. */
static void
egress_restore(struct broker *b, struct cube *c, struct bpfobj *old)
{
	struct bmap *table = bpfobj_map(old, "cub_egress");
	uint32_t slot = CUB_EGRESS_OUT;
	char path[PATH_MAX];

	if (old->egress_fd < 0 || !table)
		return;
	bpf_map_update_elem(table->fd, &slot, &old->egress_fd, BPF_ANY);
	pin_path(b, path, sizeof(path), c->name, "egress");
	pin_replace(old->egress_fd, path);
}

/* The object's maps whose pin exists before its load (reused ones). */
static uint64_t
pins_before(struct bpf_object *obj)
{
	struct bpf_map *m;
	uint64_t mask = 0;
	int i = 0;

	bpf_object__for_each_map(m, obj)
	{
		const char *p = bpf_map__pin_path(m);

		if (i < 64 && p && !access(p, F_OK))
			mask |= 1ull << i;
		i++;
	}
	return mask;
}

/* Undo the pins a refused load made; the older object's stay. */
static void
unpin_new(struct bpf_object *obj, uint64_t before)
{
	struct bpf_map *m;
	int i = 0;

	bpf_object__for_each_map(m, obj)
	{
		const char *p = bpf_map__pin_path(m);

		if (p && (i >= 64 || !(before & (1ull << i))))
			unlink(p);
		i++;
	}
}

/*
 * After the kernel created the maps: what it charged for them (fdinfo's
 * memlock), against the same limits as the estimate.  Raises *bytes to
 * it when the estimate was lower.
 */
static int
check_memlock(struct broker *b, struct cube *c, struct bpf_object *obj,
    uint64_t *bytes, struct cub_val **errv)
{
	uint64_t real = 0, one, big_bytes = 0, cap = cube_cap(b, c), others;
	const char *big = "?";
	struct bpf_map *m;
	int fd, r;

	bpf_object__for_each_map(m, obj)
	{
		/* The host's address map is the broker's, shared. */
		if ((fd = bpf_map__fd(m)) < 0 ||
		    !strcmp(bpf_map__name(m), HOST_ADDRS) ||
		    !strcmp(bpf_map__name(m), HOP_KEY))
			continue;
		one = bpf_map_memlock(fd);
		real += one;
		if (one > big_bytes) {
			big_bytes = one;
			big = bpf_map__name(m);
		}
	}
	if (real > cap)
		return REFUSE(
		    "cube '%s': the kernel charged %llu bytes for the "
		    "maps (map '%s' %llu), over the limit of %llu; "
		    "nothing was loaded",
		    c->name, (unsigned long long)real, big,
		    (unsigned long long)big_bytes, (unsigned long long)cap);
	/* Its owner's map-bytes, as the kernel charged them. */
	if ((r = quota_load(b, c, real, errv)))
		return r;
	others = service_map_bytes(b, c);
	if (others + real > b->o.max_service_map_bytes)
		return REFUSE("cube '%s': service '%s' would hold %llu bytes "
			      "of maps over its cubes (%llu in other cubes, "
			      "as the kernel charged them), over "
			      "--max-service-map-bytes %llu; nothing was "
			      "loaded",
		    c->name, c->svc->name, (unsigned long long)(others + real),
		    (unsigned long long)others,
		    (unsigned long long)b->o.max_service_map_bytes);
	if (real > *bytes)
		*bytes = real;
	return 0;
}

/*
 * Unlocked: verify obj (the slow part: seconds for a large program) and
 * take the broker's fds of its program and maps into *out.  before: the
 * object's pins that existed already, for unpin_new().
 */
static int
verify(struct broker *b, struct cube *c, struct bpf_object **obj,
    const void *elf, size_t len, uint64_t bytes, struct bpfobj **out,
    struct cub_val **errv)
{
	struct bpf_prog_info pinfo = {0};
	__u32 plen = sizeof(pinfo);
	struct bpf_program *prog;
	const char *step = "dup program fd";
	bool unhardened = bpfobj_unhardened(b, c->svc);
	char reason[256] = "";
	struct bpf_map *m;
	struct bpfobj *o;
	int r, fd;

	r = load_unprivileged(c->svc, unhardened, *obj, reason, sizeof(reason));
	if (r == -EMFILE || r == -ENFILE) {
		*errv = too_many_files(c, r);
		return r;
	}
	if (r && !unhardened && strstr(reason, "for !root")) {
		/* What only a privileged load may do: say the ways out. */
		*errv = cub_err_val(CUB_E_REFUSED,
		    "cube '%s': the kernel refused the object: %s: %s (the "
		    "hardened verifier, without CAP_SYS_ADMIN and "
		    "CAP_PERFMON, refuses this to unprivileged code: a "
		    "variable offset on a packet pointer has hardened forms "
		    "in cube.bpf.h, cub_l4() and cub_l4_copy(); for code "
		    "you cannot change, cubicled --unhardened-service %s "
		    "verifies this service's objects with CAP_PERFMON)",
		    c->name, strerror(-r), reason, c->svc->name);
		if (log_allowed())
			log_warn("cube '%s': the kernel refused the object: "
				 "%s: %s (service '%s' is hardened; see "
				 "--unhardened-service)",
			    c->name, strerror(-r), reason, c->svc->name);
		return r;
	}
	if (r) {
		*errv = cub_err_val(CUB_E_REFUSED,
		    "cube '%s': the kernel refused the object: %s%s%s (the "
		    "verifier checks cubes without CAP_SYS_ADMIN%s; the "
		    "broker log has the end of its log)",
		    c->name, strerror(-r), reason[0] ? ": " : "", reason,
		    unhardened ? ", with CAP_PERFMON (--unhardened-service)"
			       : " and CAP_PERFMON");
		if (log_allowed())
			log_warn("cube '%s': the kernel refused the object: "
				 "%s%s%s",
			    c->name, strerror(-r), reason[0] ? ": " : "",
			    reason);
		return r;
	}
	if ((r = check_final(c, *obj, &prog, errv)))
		return r;
	if (unhardened && log_allowed())
		log_warn("cube '%s': verified and loaded with CAP_PERFMON "
			 "(--unhardened-service %s): no Spectre v1/v4 "
			 "sanitation",
		    c->name, c->svc->name);
	if (!b->o.spectre_hardening) {
		*obj = reload_unhardened(b, c, *obj, elf, len);
		if ((r = check_final(c, *obj, &prog, errv)))
			return r;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	o->prog_fd = -1;
	o->egress_fd = -1;
	o->peers_fd = -1;
	o->flood_fd = -1;
	o->flooddev_fd = -1;
	o->peerkey_fd = -1;
	o->map_bytes = bytes;
	o->checked = EXITCHECK_VERSION;
	if ((r = o->prog_fd = dupfd(bpf_program__fd(prog))) < 0)
		goto err_kernel;
	if (bpf_obj_get_info_by_fd(o->prog_fd, &pinfo, &plen)) {
		r = -errno;
		goto err_kernel;
	}
	o->prog_id = pinfo.id;
	step = "dup map fd";
	bpf_object__for_each_map(m, *obj)
	{
		if (bpf_map__is_internal(m))
			continue;
		if ((r = fd = dupfd(bpf_map__fd(m))) < 0)
			goto err_kernel;
		if ((r = fill_map(&o->maps[o->nmaps], bpf_map__name(m), fd))) {
			close(fd);
			goto err_kernel;
		}
		o->nmaps++;
	}
	mark_framework(o);
	*out = o;
	return 0;
err_kernel:
	*errv = cub_err_val(
	    CUB_E_KERNEL, "cube '%s': %s: %s", c->name, step, strerror(-r));
	bpfobj_free(o);
	return r;
}

/*
 * Lock held: make o the cube's object: the kernel's charge within the
 * caps, the broker's egress program, the pin, every port on the new
 * program.  Takes o (freed on failure).
 */
static int
install(struct broker *b, struct cube *c, struct bpf_object *obj,
    struct bpfobj *o, uint64_t before, struct cub_val **errv)
{
	struct bpfobj *old = c->obj;
	const char *step = "egress program";
	char path[PATH_MAX];
	int r;

	if ((r = check_memlock(b, c, obj, &o->map_bytes, errv))) {
		if (log_allowed())
			log_warn(
			    "%s", cub_val__get_str(*errv, "message") ?: "");
		unpin_new(obj, before);
		bpfobj_free(o);
		return r;
	}
	if ((r = egress_load(b, c, o, &step)))
		goto err_kernel;
	pin_path(b, path, sizeof(path), c->name, "prog");
	step = "pin program";
	if ((r = pin_replace(o->prog_fd, path)))
		goto err_kernel;
	c->obj = o;
	r = topo_reattach_all(b, c, old ? old->prog_fd : -1);
	if (r) {
		/* The old program (if any) is still attached: keep it. */
		c->obj = old;
		if (old) {
			pin_replace(old->prog_fd, path);
			egress_restore(b, c, old);
		}
		*errv = cub_err_val(CUB_E_KERNEL,
		    "cube '%s': attaching the new program failed: %s", c->name,
		    strerror(-r));
		bpfobj_free(o);
		return r;
	}
	bpfobj_free(old);
	pin_fresh(b, c, obj);
	unpin_stale(b, c, o);
	slowpath_open(b, c);
	cubelog_open(b, c);
	if (log_allowed())
		log_info(
		    "cube '%s': program %s loaded (id %u, %d maps, %llu bytes)",
		    c->name, hook_progs[c->hook], o->prog_id, o->nmaps,
		    (unsigned long long)o->map_bytes);
	return 0;
err_kernel:
	*errv = cub_err_val(
	    CUB_E_KERNEL, "cube '%s': %s: %s", c->name, step, strerror(-r));
	bpfobj_free(o);
	return r;
}

/*
 * The lock is held on entry and on return, and dropped twice: to parse
 * and check the ELF, and to verify it.  Meanwhile c->loading keeps a
 * second load of the cube out and its deleter from freeing it, and the
 * service's map bytes stay reserved; the cube may be deleted, and the
 * load then installs nothing (the cube's deleter, or this load's end if
 * the deleter let go first, unpins what it pinned).
 */
int
bpfobj_load(struct broker *b, struct cube *c, const void *elf, size_t len,
    struct cub_val **errv)
{
	/* The hash names what runs: the bytes and how they were loaded, so
	 * a broker restarted with another --spectre-hardening or
	 * --unhardened-service reloads. */
	uint64_t hash = fnv1a(elf, len) ^ (b->o.spectre_hardening ? 0 : 1) ^
			(bpfobj_unhardened(b, c->svc) ? 2 : 0);
	struct bpf_object *obj;
	struct bpfobj *o = NULL;
	uint64_t bytes = 0, before = 0;
	bool reserved = false, vetted;
	int r;

	if (c->loading) {
		*errv = cub_err_val(CUB_E_BUSY,
		    "cube '%s': a load of its object is in progress; try "
		    "again when it has ended",
		    c->name);
		return -EBUSY;
	}
	/* Loaded (or adopted) from these very bytes, under these rules. */
	vetted = bpfobj_vetted(b, c);
	if (c->obj && c->obj->hash == hash && vetted)
		return 0;
	c->loading = true;
	log_svc = c->svc; /* libbpf's messages count against the service */
	pthread_mutex_unlock(&b->lock);
	obj = open_checked(b, c, elf, len, &bytes, errv);
	pthread_mutex_lock(&b->lock);
	r = obj ? 0 : -EPERM;
	/* The service's counter bindings name maps of this object. */
	if (!r && !c->removed)
		r = counters_check_object(
		    c->svc->counters, c->name, obj, b->ncpus, errv);
	if (!r && !c->removed && !(r = reserve_bytes(b, c, bytes, errv))) {
		reserved = true;
		pthread_mutex_unlock(&b->lock);
		before = pins_before(obj);
		r = verify(b, c, &obj, elf, len, bytes, &o, errv);
		pthread_mutex_lock(&b->lock);
		c->svc->map_bytes_loading -= bytes;
		c->loading_bytes = 0;
	}
	c->loading = false;
	if (c->removed) {
		/* Deleted meanwhile: nothing of this load may stay. */
		log_info("cube '%s': deleted while its object loaded; nothing "
			 "was installed",
		    c->name);
		cub_val__free(*errv);
		*errv = cub_err_val(CUB_E_NOTFOUND,
		    "cube '%s' was deleted while its object loaded; nothing "
		    "was installed",
		    c->name);
		bpfobj_free(o);
		bpf_object__close(obj);
		if (c->orphan)
			cube_reap(b, c);
		log_svc = NULL;
		return -ENOENT;
	}
	if (!r && reserved) {
		o->hash = hash;
		o->rules = rules_of(b, c->svc);
		r = install(b, c, obj, o, before, errv);
	} else if (reserved && obj) {
		unpin_new(obj, before);
	}
	bpf_object__close(obj);
	/* What runs was checked under other rules, and these refuse the
	 * cube's object: it may not go on running. */
	if (r && c->obj && !vetted) {
		char why[600];

		snprintf(why, sizeof(why), "its reload was refused: %s",
		    cub_val__get_str(*errv, "message") ?: "no reason given");
		bpfobj_retire(b, c, why);
	} else if (r && !c->obj && !c->retired) {
		/* Refused with nothing running (a start whose pins were
		 * gone, a retired cube's next try): its stack slot drops. */
		c->retired = true;
		tcube_refresh_slot(b, c);
	} else if (!r) {
		c->retired = false;
	}
	log_svc = NULL;
	return r;
}

/* The host address map an adopted program reads (not pinned with the
 * cube: the broker's), handed to netmon.c to keep current. */
static void
adopt_host_addrs(struct broker *b, struct cube *c, int prog_fd)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info), i, ids[CUB_MAX_MAPS + 8];
	struct bpf_map_info m;
	__u32 mlen;
	int fd;

	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return;
	for (i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]);
	     i++) {
		if ((fd = bpf_map_get_fd_by_id(ids[i])) < 0)
			continue;
		memset(&m, 0, sizeof(m));
		mlen = sizeof(m);
		if (!bpf_obj_get_info_by_fd(fd, &m, &mlen) &&
		    !strcmp(m.name, HOST_ADDRS))
			netmon_host_addrs_adopt(b, c->name, fd);
		close(fd);
	}
}

/*
 * After a broker restart: take the pinned program and maps of a cube back
 * without reloading anything.  hash and checked (the EXITCHECK_VERSION its
 * object passed, 0 if not recorded) are what the store recorded.  A
 * program checked by an older checker is not taken back blindly: a
 * stacked cube's is not adopted (-ESTALE: its stack slot steps over it
 * until the worker's load has been through every check); another cube's is
 * adopted with no hash, so that the worker's load of the same bytes is
 * not skipped and runs through the checks.
 */
int
bpfobj_adopt(struct broker *b, struct cube *c, uint64_t hash, uint32_t checked,
    uint64_t rules)
{
	struct bpf_prog_info pinfo = {0};
	__u32 plen = sizeof(pinfo);
	char dir[PATH_MAX], path[PATH_MAX];
	struct bpfobj *o;
	struct dirent *de;
	uint64_t est, real;
	DIR *d;
	int fd, r = 0;

	if (checked < EXITCHECK_VERSION && (stacked(c) || c->attached[0])) {
		log_warn("cube '%s': its pinned program passed the checks of "
			 "version %u, older than this broker's %u: not "
			 "adopted; its stack steps over it until its worker's "
			 "load has been through the checks",
		    c->name, checked, EXITCHECK_VERSION);
		return -ESTALE;
	}
	pin_path(b, dir, sizeof(dir), c->name, NULL);
	pin_path(b, path, sizeof(path), c->name, "prog");
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->hash = checked < EXITCHECK_VERSION ? 0 : hash;
	o->checked = checked;
	o->rules = rules;
	o->egress_fd = -1;
	o->peers_fd = -1;
	o->flood_fd = -1;
	o->flooddev_fd = -1;
	o->peerkey_fd = -1;
	o->prog_fd = bpf_obj_get(path);
	if (o->prog_fd < 0 ||
	    bpf_obj_get_info_by_fd(o->prog_fd, &pinfo, &plen)) {
		r = -errno;
		bpfobj_free(o);
		return r;
	}
	o->prog_id = pinfo.id;
	d = opendir(dir);
	if (!d) {
		r = -errno;
		bpfobj_free(o);
		return r;
	}
	while ((de = readdir(d)) && o->nmaps < CUB_MAX_MAPS) {
		if (de->d_name[0] == '.' || broker_pin(de->d_name) ||
		    strlen(de->d_name) >= sizeof(o->maps[0].name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (fill_map(&o->maps[o->nmaps], de->d_name, fd)) {
			close(fd);
			continue;
		}
		est = bpf_map_bytes(b, o->maps[o->nmaps].type,
		    o->maps[o->nmaps].key_size, o->maps[o->nmaps].value_size,
		    o->maps[o->nmaps].max_entries);
		real = bpf_map_memlock(fd);
		o->map_bytes += real > est ? real : est;
		o->nmaps++;
	}
	closedir(d);
	mark_framework(o);
	adopt_host_addrs(b, c, o->prog_fd);
	/* The egress program stays in the pinned cub_egress; keep its fd. */
	pin_path(b, path, sizeof(path), c->name, "egress");
	o->egress_fd = bpf_obj_get(path);
	pin_path(b, path, sizeof(path), c->name, "peers");
	o->peers_fd = bpf_obj_get(path);
	pin_path(b, path, sizeof(path), c->name, "flood");
	o->flood_fd = bpf_obj_get(path);
	pin_path(b, path, sizeof(path), c->name, "flooddev");
	o->flooddev_fd = bpf_obj_get(path);
	pin_path(b, path, sizeof(path), c->name, "peerkey");
	o->peerkey_fd = bpf_obj_get(path);
	pin_path(b, path, sizeof(path), c->name, "hopkey");
	if (c->hopkey_fd <= 0 && (c->hopkey_fd = hopkey_get(path)) < 0) {
		c->hopkey_fd = 0;
		log_info("cube '%s': no hop key pinned: hops into it are "
			 "refused until its next load",
		    c->name);
	}
	if (!bpfobj_map(o, "cub_ports") || !bpfobj_map(o, "cub_if2port")) {
		bpfobj_free(o);
		return -ENOENT;
	}
	egress_upgrade(b, c, o);
	c->obj = o;
	slowpath_open(b, c);
	cubelog_open(b, c);
	return 0;
}

/*
 * c's program was checked under other rules than today's (a policy
 * narrowed by a reload or while the broker was down, --unhardened-service
 * removed, a broker with an older check) and its reload was refused: it
 * may not run on.  Taken off every path into it (topo_retire(),
 * tcube_retire()) and unpinned, so that no restart adopts it; the cube,
 * its document and its ports' peers stay, and its next load that passes
 * attaches it again.  Lock held.
 */
void
bpfobj_retire(struct broker *b, struct cube *c, const char *why)
{
	uint32_t id = c->obj->prog_id;
	int r;

	topo_retire(b, c);
	tcube_retire(b, c);
	c->obj = bpfobj_free(c->obj);
	c->retired = true;
	tcube_refresh_slot(b, c);
	if ((r = bpfobj_unpin(b, c->name)))
		log_errno(r, "cube '%s': unpin its retired program", c->name);
	log_warn("cube '%s': program id %u retired: it was checked under "
		 "rules this broker no longer has (%s); the cube and its "
		 "configuration stay, and it runs again when a load of it "
		 "passes",
	    c->name, id, why ? why : "no reason given");
}

/* How often the vetting deadlines are looked at, at most. */
#define VET_TICK_MS 250

int
bpfobj_vet_tick(struct broker *b)
{
	static int64_t next_look;
	int64_t now = now_ms(), next = -1;
	char why[128];
	struct cube *c;

	if (now < next_look)
		return (int)(next_look - now);
	if (pthread_mutex_trylock(&b->lock))
		return VET_TICK_MS; /* a load holds it: look again soon */
	next_look = now + VET_TICK_MS;
	for (c = b->cubes; c; c = c->next) {
		if (!c->obj || c->loading)
			continue;
		if (bpfobj_vetted(b, c)) {
			c->obj->vet_by_ms = 0;
			continue;
		}
		if (!c->obj->vet_by_ms) {
			c->obj->vet_by_ms = now + b->o.vet_timeout_ms;
			log_warn("cube '%s': its program (id %u) was checked "
				 "under other rules than this broker's; it is "
				 "retired in %d ms unless a load of the cube "
				 "passes them (--vet-timeout)",
			    c->name, c->obj->prog_id, b->o.vet_timeout_ms);
		}
		if (now >= c->obj->vet_by_ms) {
			snprintf(why, sizeof(why),
			    "no load passed them within --vet-timeout %d ms",
			    b->o.vet_timeout_ms);
			bpfobj_retire(b, c, why);
			continue;
		}
		if (next < 0 || c->obj->vet_by_ms - now < next)
			next = c->obj->vet_by_ms - now;
	}
	pthread_mutex_unlock(&b->lock);
	if (next >= 0 && next < VET_TICK_MS)
		next = VET_TICK_MS;
	return (int)next;
}

int
bpfobj_unpin(struct broker *b, const char *cube)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	pin_path(b, dir, sizeof(dir), cube, NULL);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
		    (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	return rmdir(dir) ? -errno : 0;
}

static bool
is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int
mount_bpffs(const char *path)
{
	if (mount("bpf", path, "bpf", 0, "mode=0700"))
		return log_errno(-errno, "mount bpffs on %s", path);
	log_info("mounted bpffs on %s", path);
	return 0;
}

/* Make pin_root a directory on a bpffs (these machines boot without one). */
int
bpffs_ensure(const char *pin_root)
{
	char parent[PATH_MAX];
	char *slash;
	int r;

	if (is_bpffs(pin_root))
		return 0;
	snprintf(parent, sizeof(parent), "%s", pin_root);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return log_errno(-EINVAL, "pin root %s", pin_root);
	*slash = '\0';
	if (is_bpffs(parent)) {
		if (mkdir(pin_root, 0700) && errno != EEXIST)
			return log_errno(-errno, "mkdir %s", pin_root);
		return 0;
	}
	if (!mkdir(pin_root, 0700) || errno == EEXIST)
		return mount_bpffs(pin_root);
	/* e.g. /sys/fs/bpf exists in sysfs but nothing is mounted there. */
	if ((r = mount_bpffs(parent)))
		return r;
	if (mkdir(pin_root, 0700) && errno != EEXIST)
		return log_errno(-errno, "mkdir %s", pin_root);
	return 0;
}
