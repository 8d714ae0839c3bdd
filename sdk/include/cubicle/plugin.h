/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The plugin API.  A service is a shared object loaded by cubicle-worker,
 * which runs it unprivileged and sandboxed.  It exports one symbol:
 *
 *   const struct cub_plugin cub_plugin_entry = {
 *           .abi = CUB_PLUGIN_ABI, .name = "simpleforwarder",
 *           .cube_size = sizeof(struct sf_cube), .schema = sf_schema,
 *           .ops = &sf_ops, .policy = { ... }, CUB_PLUGIN_SIZES,
 *   };
 *
 * The worker calls the ops from one thread, one at a time; ops may block
 * on calls to the broker (cub_cube__load(), cub_map__*()), which are
 * synchronous.  The broker keeps each cube's configuration.  A service
 * sees it whole only when a cube is created and when its worker restarts
 * (apply() with create = true, "the replay"), so apply() must be
 * idempotent and reconcile map contents with the configuration it is
 * given.  Between those, a service that implements change() is handed
 * what each request changed (struct cub_change); one that does not gets
 * the whole new document through apply() with create = false, as before
 * change() existed.  See docs/architecture.md, "The plugin API: changes
 * and replay".
 */
#ifndef CUBICLE_PLUGIN_H
#define CUBICLE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cubicle/cube_shared.h> /* enum cub_log_level */

#include "cubicle/errors.h"
#include "cubicle/schema.h"
#include "cubicle/val.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: struct cub_field grew max_items, ref (issue 7's schema types) and
 * counter, so a table built against 1 is read wrongly: the worker refuses
 * it.  3: struct cub_plugin grew netdev_events, apply_timeout_ms, flags
 * and, last, its own size and its ops' size (sz, ops_sz; CUB_PLUGIN_SIZES),
 * and cub_plugin_ops grew change and netdev_event: ops and fields added at
 * the end later are found by size, not by a new ABI.  An ABI 2 plugin is
 * still loaded: its descriptor ends at policy (what follows reads as 0)
 * and its ops at packet_in.  An ABI 3 plugin's zero sizes mean ABI 3's
 * sizes as first released. */
#define CUB_PLUGIN_ABI 3u
#define CUB_PLUGIN_ABI_MIN 2u

/*
 * cub_plugin.flags.  CUB_PLUGIN_F_TRANSPARENT: the service's
 * cubes are transparent (Polycube's transparent cubes): no ports; each is
 * attached to a netdev (`cubicle attach`) and sees both directions of it.
 * Its program calls cub_pass_tc() to let a packet go on and
 * cub_tdir_tc() for its direction (cube.bpf.h).
 */
#define CUB_PLUGIN_F_TRANSPARENT 0x1u
/*
 * CUB_PLUGIN_F_HOSTWIDE (with CUB_PLUGIN_F_TRANSPARENT): each cube of
 * the service is on every netdev of the broker's network namespace that
 * no cube port owns, tc ingress and egress, from its creation, following
 * netdevs as they appear, disappear or are taken by a port (a host
 * firewall: the iptables service).  Its cubes are not attached by hand.
 * Their stack runs after the netdev's own transparent cubes, in both
 * directions.
 */
#define CUB_PLUGIN_F_HOSTWIDE 0x2u


/*
 * One entry-level change of a cube's configuration (cube.change): what a
 * request added, set or deleted.  path is an array of strings, the words
 * from the cube's root to the node: containers and lists by name, a list
 * entry by its key (the keys of a multi-key list as one word, joined by
 * single spaces), e.g. ["ports", "p1"], ["rules", "12"], [] for the cube
 * itself.  before and after are maps: a set has the leaf fields (scalars
 * and leaf-lists) of one container or entry, before and after the change,
 * never its nested lists (their entries are changes of their own); an add
 * has after, the whole new entry; a del has before, the whole entry gone.
 * index is an add's position in an ordered list (-1 otherwise).
 * Framework fields change too (a port's peer, the cube's loglevel): a
 * service ignores what it does not use.
 */
enum cub_change_op {
	CUB_CHANGE_ADD = 1,
	CUB_CHANGE_SET = 2,
	CUB_CHANGE_DEL = 3,
};

struct cub_change {
	enum cub_change_op op;
	const struct cub_val *path;   /* array of str */
	const struct cub_val *before; /* map; NULL for an add */
	const struct cub_val *after;  /* map; NULL for a del */
	int64_t index;                /* ordered list add, else -1 */
};

struct cub_cube; /* worker-side view of one cube; opaque */

/*
 * Netdev and address events (docs/architecture.md "Netdev events").  A
 * plugin asks for the kinds it wants in cub_plugin.netdev_events, a mask
 * of CUB_NETDEV_EV(kind); by default it gets the events of the netdevs its
 * cubes' ports are attached to (matched by ifindex, or by the port's peer
 * name for a netdev that appears), once per such port; with
 * CUB_NETDEV_HOST, if cubicled's --host-netdev-events names the service,
 * it gets every netdev's, once per cube.
 */
enum cub_netdev_kind {
	CUB_NETDEV_ADDED = 0,
	CUB_NETDEV_REMOVED = 1,
	CUB_NETDEV_UP = 2,   /* IFF_UP and IFF_RUNNING became both set */
	CUB_NETDEV_DOWN = 3, /* one of them was cleared */
	CUB_NETDEV_ADDR_ADDED = 4,
	CUB_NETDEV_ADDR_REMOVED = 5,
	CUB_NETDEV_RENAMED = 6,
	CUB_NETDEV_KINDS = 7,
};
#define CUB_NETDEV_EV(kind) (1u << (kind))
#define CUB_NETDEV_ALL ((1u << CUB_NETDEV_KINDS) - 1)
#define CUB_NETDEV_HOST (1u << 31) /* every netdev of the namespace */

struct cub_netdev_event {
	uint32_t kind; /* enum cub_netdev_kind */
	uint32_t ifindex;
	char name[16];     /* the netdev's name (after a rename: the new) */
	char old_name[16]; /* CUB_NETDEV_RENAMED: the name it had */
	/* The cube's port attached to it, "" when none (CUB_NETDEV_HOST). */
	char port[CUB_NAME_MAX + 1];
	uint8_t mac[6];
	uint32_t mtu;
	bool up; /* the netdev's state after the event */
	/* Address events: AF_INET or AF_INET6, else 0; addr in network
	 * order (4 or 16 bytes), addr_str "198.18.0.1/24". */
	uint8_t family;
	uint8_t prefixlen;
	uint8_t addr[16];
	char addr_str[56];
	/* Events of the same cube the worker has queued behind this one (0:
	 * the last for now): a plugin whose work an event starts can do it
	 * once for a burst (the iptables service compiles -i/-o again). */
	uint32_t pending;
	/* Events of the service were dropped (the broker's queue or the
	 * worker's was full, 'cubicle services' netdev_dropped) since the
	 * last batch: what they said is unknown, a table the plugin keeps
	 * may be stale (cub_host__netdevs() reads it again). */
	bool lost;
};

/* The name of an enum cub_netdev_kind ("added", "addr_added", ...). */
const char *cub_netdev_kind__str(uint32_t kind);

/* A map of one of the cube's loaded objects, by value (rule 8). */
typedef struct cub_map {
	uint32_t id;   /* broker handle, 0 = invalid */
	uint32_t type; /* enum bpf_map_type */
	uint32_t key_size, value_size, max_entries;
	uint32_t ncpus; /* per-CPU maps: possible CPUs, else 1 */
} cub_map;

/*
 * Bytes of one value as cub_map__lookup() fills it and cub_map__update()
 * reads it: value_size, or for a per-CPU map ncpus values, each at a
 * stride of value_size rounded up to 8 bytes (the kernel's and libbpf's
 * layout).  cub_map__cpu_value() is CPU cpu's value in such a buffer.
 */
size_t cub_map__value_bytes(const cub_map *map);
void *cub_map__cpu_value(const cub_map *map, void *values, uint32_t cpu);

/*
 * What the broker accepts from this service (checked on every load; a
 * worker cannot widen it after its first hello).
 */
struct cub_bpf_policy {
	uint32_t prog_types;    /* bit (1 << BPF_PROG_TYPE_x) */
	uint64_t map_types;     /* bit (1 << BPF_MAP_TYPE_x) */
	uint64_t max_map_bytes; /* sum of key+value x entries over one cube */
};

/*
 * @brief **CUB_POLICY_TC_XDP()** the policy of a cube on both hooks (TC
 * and XDP programs, as CUB_ENTRY_POINTS() declares them) with the map
 * types of its own maps, CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(LRU_HASH),
 * and a budget of bytes.  The framework's maps (cub_ports, cub_scratch,
 * cub_pktin, ...) need no type in map_types; their bytes count in the
 * budget.
 */
#define CUB_MAP_TYPE(t) (1ull << BPF_MAP_TYPE_##t)
#define CUB_POLICY_TC_XDP(maps, bytes)                                         \
	{                                                                      \
		.prog_types =                                                  \
		    1u << BPF_PROG_TYPE_SCHED_CLS | 1u << BPF_PROG_TYPE_XDP,   \
		.map_types = (maps), .max_map_bytes = (bytes)                  \
	}

struct cub_plugin_ops {
	/*
	 * Make the dataplane match config (the whole cube document).  When
	 * create is true the cube is new to this worker (created, or
	 * replayed after a worker restart): load its object with
	 * cub_cube__load().  Return 0, or a negative errno after
	 * cub_cube__set_error() to refuse the configuration: the broker
	 * then keeps the previous one (a refused creation creates nothing).
	 * A change the worker took but the broker could not complete (a
	 * port's attach, the store) is rolled back by an apply of the
	 * previous document.  Worker thread; may block on broker calls; bounded
	 * by cubicled's --call-timeout (the worker is restarted past it).
	 * config is the runtime's, valid during the call only.  A big
	 * document reaches the worker in several messages (cube.apply then
	 * cube.entries); the runtime puts it together and calls apply()
	 * once, with all of it.  With change() implemented, apply() is
	 * called only with create = true.
	 */
	int (*apply)(
	    struct cub_cube *cube, const struct cub_val *config, bool create);
	/* The cube is gone; free private state. May not fail. */
	void (*destroy)(struct cub_cube *cube);
	/*
	 * Fill ro fields into overlay (a map, same shape as config).  config
	 * is the part of the cube document the show addresses, in the
	 * document's shape: the path from the root (containers empty, list
	 * entries with their keys only), then the addressed node whole (one
	 * page of a paged list; for a single field, the fields of its
	 * container or entry without nested lists).  A show of the whole
	 * cube, or of a read-only list, gets the whole document.
	 */
	int (*show)(struct cub_cube *cube, const struct cub_val *config,
	    struct cub_val *overlay);
	/* A declared action; *result may be left NULL. */
	int (*action)(struct cub_cube *cube, const struct cub_val *path,
	    const char *name, const struct cub_val *args,
	    struct cub_val **result);
	/* A packet the dataplane sent to the slow path.  Worker thread,
	 * between the broker's requests; may block, but each call delays
	 * the cube's next request by as long; packets that arrive faster
	 * than it returns are dropped (the worker's log counts them). */
	void (*packet_in)(
	    struct cub_cube *cube, uint32_t port, const void *data, size_t len);
	/*
	 * ABI 3 (optional): what one request changed, n changes in the
	 * order the tree engine made them (deletions first).  All or
	 * nothing: return 0 with the dataplane matching the new
	 * configuration, or refuse (a negative errno after
	 * cub_cube__set_error()) with the dataplane as it was.  The broker
	 * then undoes the change in its tree and sends nothing more: the
	 * contract is that change() checks everything it needs before it
	 * writes a map, and undoes what it wrote when a map call fails.  A
	 * change taken but not completed by the broker (a port's attach,
	 * the store) is rolled back by a second call with the inverse
	 * changes (reversed; add and del, before and after swapped).
	 * Worker thread, one call at a time, after the cube's apply(create);
	 * may block on broker calls; bounded by --call-timeout (or the
	 * service's apply_timeout_ms).  changes
	 * and everything they point to are the runtime's, valid during the
	 * call only (copy what you keep).  A request that changes many
	 * entries (a set with a body of 20k) is one call with n = 20k, even
	 * when it reached the worker in several messages.
	 */
	int (*change)(struct cub_cube *cube, const struct cub_change *changes,
	    uint32_t n);
	/*
	 * A netdev event the plugin asked for (cub_plugin.netdev_events).
	 * Worker thread, between the broker's requests, like packet_in; ev
	 * is valid during the call only.  One-way: events that arrive
	 * faster than it returns are dropped and counted ('cubicle
	 * services' netdev_dropped).
	 */
	void (*netdev_event)(
	    struct cub_cube *cube, const struct cub_netdev_event *ev);
	/*
	 * A declared action (on the cube itself, struct cub_plugin's
	 * actions, or on a node of the schema: path says which) with the
	 * cube's document at hand: config is the broker's document of the
	 * cube at the time of the request, read-only and valid for the call
	 * (the plugin keeps no copy of its own).  When set, it is called
	 * instead of action.  Worker thread; may block the cube's requests.
	 */
	int (*action_config)(struct cub_cube *cube, const struct cub_val *path,
	    const char *name, const struct cub_val *args,
	    const struct cub_val *config, struct cub_val **result);
	/*
	 * Port hooks: a port left index (deleted, or gone from a document),
	 * or a port took an index the cube did not use (added).  The SDK
	 * has zeroed the port's declared counters (CUB_PORT_COUNTER) first;
	 * these clean the plugin's own state of that index.  Called just
	 * before the change or apply that makes it so, removals first; not
	 * at a replay (create).  Worker thread.
	 */
	void (*port_removed)(struct cub_cube *cube, uint32_t index);
	void (*port_added)(struct cub_cube *cube, uint32_t index);
	/*
	 * Optional (found by ops_sz): called for every cube of the worker
	 * each cub_plugin.tick_ms milliseconds (its protocol timers: the
	 * bridge's spanning tree), between the broker's requests, like
	 * packet_in; a tick that comes late is not made up for (the next
	 * is tick_ms after the one that ran).  Worker thread; may block on
	 * broker calls (map writes, packet-out), delaying the cube's
	 * requests by as long.  Not called while tick_ms is 0.
	 */
	void (*tick)(struct cub_cube *cube);
};

struct cub_plugin {
	uint32_t abi;
	const char *name;
	const char *description;
	size_t cube_size;               /* private bytes per cube, zeroed */
	const struct cub_field *schema; /* name == NULL terminated */
	const struct cub_plugin_ops *ops;
	struct cub_bpf_policy policy;
	/* CUB_NETDEV_EV() kinds wanted, | CUB_NETDEV_HOST; 0: none. */
	uint32_t netdev_events;
	/*
	 * How long apply() may take, in ms, when that is longer than
	 * cubicled's --call-timeout (a big ruleset, a slow backend); 0: the
	 * call timeout.  For apply calls only (a change and a replay after a
	 * restart); capped by cubicled's --max-apply-timeout (default 120 s).
	 * An apply past it gets the worker killed and restarted, as any call
	 * past its timeout.
	 */
	uint32_t apply_timeout_ms;
	/* CUB_PLUGIN_F_*. */
	uint32_t flags;
	/* ABI 3: sizeof(struct cub_plugin) and sizeof(*ops) as the plugin
	 * was built (CUB_PLUGIN_SIZES); 0 = as ABI 3 first was.  The worker reads
	 * no op past ops_sz, and refuses a plugin whose ops past its own
	 * struct cub_plugin_ops are not NULL (ops it does not know). */
	size_t sz;
	size_t ops_sz;
	/* Actions on the cube itself, name == NULL terminated:
	 * `cubicle sf1 reset-counters` (served by action_config or action
	 * with an empty path).  NULL: none. */
	const struct cub_action *actions;
	/* The period of ops->tick in ms (0: no ticks); at least 10. */
	uint32_t tick_ms;
};

#define CUB_PLUGIN_SIZES                                                       \
	.sz = sizeof(struct cub_plugin), .ops_sz = sizeof(struct cub_plugin_ops)

/* Accessors; valid for the life of the cube. */
const char *cub_cube__name(const struct cub_cube *cube);
void *cub_cube__priv(struct cub_cube *cube);
/*
 * @brief **cub_cube__show_words()** during show(): the words of the
 * request after the cube's name, an array of strings (["metrics",
 * "ingress-metrics", "show"]), for a service that must know what is
 * shown when config is the whole document (a show of the cube, of a
 * read-only list or inside one): dynmon reads its maps only for what is
 * asked.  NULL outside show(), or when the broker did not say (the fake
 * broker).
 */
const struct cub_val *cub_cube__show_words(const struct cub_cube *cube);
/* Set the message returned with a refusal; returns -errno for err. */
int cub_cube__set_error(struct cub_cube *cube, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Ask the broker to load (or, after a restart, adopt) the cube's BPF
 * object.  The broker refuses objects outside the policy and programs that
 * call helpers outside the networking set.  0 or -errno.
 */
int cub_cube__load(struct cub_cube *cube, const void *elf, size_t len);
/* A map of the loaded object by name; 0 or -ENOENT. */
int cub_cube__map(struct cub_cube *cube, const char *name, cub_map *out);

int cub_map__update(struct cub_cube *cube, const cub_map *map, const void *key,
    const void *value, uint64_t flags);
int cub_map__lookup(
    struct cub_cube *cube, const cub_map *map, const void *key, void *value);
int cub_map__delete(struct cub_cube *cube, const cub_map *map, const void *key);

/*
 * The batch calls of before the kernel's batches (count by value, flags
 * per element): the names cub_map__update_batch() and
 * cub_map__delete_batch() pick these when count is not a pointer (see
 * the end of this file), so plugins written against them still build.
 */
int cub_map__update_batch_n(struct cub_cube *cube, const cub_map *map,
    const void *keys, const void *values, uint32_t count, uint64_t flags);
int cub_map__delete_batch_n(struct cub_cube *cube, const cub_map *map,
    const void *keys, uint32_t count);
/*
 * Every entry of the map, in as few calls as the message cap allows;
 * fn returns non-zero to stop (that value is returned).
 */
int cub_map__dump(struct cub_cube *cube, const cub_map *map,
    int (*fn)(const void *key, const void *value, void *ctx), void *ctx);

/*
 * @brief **cub_cube__log()** writes a line to the cube's log (`cubicle
 * <cube> log show`), the log its programs write with cub_log().
 * @param level enum cub_log_level, CUB_LOG_TRACE to CUB_LOG_CRITICAL; a
 * level below the cube's loglevel (the framework's field of every cube,
 * in config as "loglevel") is not sent at all
 * @param fmt printf format; the line is cut at CUB_LOG_MSG_MAX bytes, and
 * the broker escapes what is not printable
 * @return 0 (also when the level is filtered out, or the broker dropped
 * the line over the service's rate), or -errno (a bad level: -EINVAL)
 *
 * A synchronous call to the broker, like the map calls: from an op only.
 */
int cub_cube__log(struct cub_cube *cube, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Port index of the port named name in config, or -ENOENT. */
int cub_config__port_index(const struct cub_val *config, const char *name);

/*
 * @brief **cub_config__enum_index()** the index in enums (the field's own
 * table, NULL terminated, as in its struct cub_field) of the value of
 * config's field, compared without case as the CLI compares enums
 * ("forward" is "FORWARD").
 * @return the index, or dflt when config has no such field, or a value
 * not in the table (the broker checked it: a default it filled in).
 */
int cub_config__enum_index(const struct cub_val *config, const char *field,
    const char *const enums[], int dflt);

/*
 * @brief **cub_cube__port_indexes()** the "index" the broker gave each
 * port of config (the cube's document), in the document's order, into
 * idx[0] to idx[max - 1].
 * @return the number of ports, or -EINVAL after cub_cube__set_error()
 * (CUB_E_LIMIT, "cube 'h0': at most 2 ports, not 3") when config has
 * more than max: an apply() returns it to refuse the document.
 */
int cub_cube__port_indexes(struct cub_cube *cube, const struct cub_val *config,
    uint32_t *idx, uint32_t max);

/*
 * @brief **cub_cube__load_map()** cub_cube__load() then cub_cube__map():
 * what an apply() with create does first, in one call.
 * @param name the map of the object to look up into *out; NULL: none
 * @return 0, -errno of the load, or -ENOENT after cub_cube__set_error()
 * (CUB_E_INTERNAL, "cube 'h0': its object has no map 'hello_cfg'").
 */
int cub_cube__load_map(struct cub_cube *cube, const void *elf, size_t len,
    const char *name, cub_map *out);

/*
 * Batches, shaped as libbpf's bpf_map_*_batch(): keys and values packed
 * back to back (per-CPU values as cub_map__value_bytes() says), *count in
 * = entries given (or wanted), out = entries processed, also on failure:
 * those before the failing entry are applied, the rest are not.  Any
 * count: the SDK splits it into calls under the message cap, and the
 * broker uses the kernel's batch operation where the map type has it
 * (hash family: all four; ARRAY and PERCPU_ARRAY: update and lookup;
 * LPM_TRIE: all but lookup_and_delete), one syscall per entry elsewhere.
 * Not atomic: a program may see part of a batch (for that, swap sets
 * below).  Synchronous calls to the broker, from an op only; 0 or -errno
 * (the broker's message in the op's error).
 */
struct cub_batch_opts {
	size_t sz;           /* sizeof(struct cub_batch_opts) */
	uint64_t elem_flags; /* BPF_F_LOCK; BPF_[NO]EXIST go per entry */
	uint64_t flags;      /* the kernel's batch flags (0 today) */
	size_t : 0;
};
#define CUB_BATCH_OPTS(name, ...)                                              \
	struct cub_batch_opts name = {                                         \
	    .sz = sizeof(struct cub_batch_opts), __VA_ARGS__}

int cub_map__update_batch(struct cub_cube *cube, const cub_map *map,
    const void *keys, const void *values, uint32_t *count,
    const struct cub_batch_opts *opts);
/*
 * @brief **cub_map__zero_batch()** writes a zero value at each of the n
 * keys (key_size bytes each, back to back) of map, in batches; a per-CPU
 * map's value is zeroed on every CPU.  For state that must start clean.
 * The SDK calls it itself for the counters declared on ports[] (struct
 * cub_counter keyed by "index") when a port takes an index no port of
 * the cube held: a port never inherits counts from an earlier one.
 * @return 0 or -errno (the broker's message in the op's error).
 */
int cub_map__zero_batch(
    struct cub_cube *cube, const cub_map *map, const void *keys, uint32_t n);
/*
 * @brief **cub_cube__reset_port_counters()** zeroes, on every CPU, the
 * entries of every map a counter declared on ports[] reads by "index"
 * (struct cub_counter), for each port of config (the cube's document, as
 * an action_config gets it): what a `reset-counters` action does.
 * @return the number of ports reset, or -errno.
 */
int cub_cube__reset_port_counters(
    struct cub_cube *cube, const struct cub_val *config);
/*
 * @brief **cub_cube__reset_counters()** zeroes every counter the schema
 * declares: the ports' (cub_cube__reset_port_counters()) and those with
 * a fixed key (struct cub_counter without key_field) on the cube's own
 * fields and in its containers, whose entries are zeroed on every CPU,
 * whole.  Counters keyed by a field of another list are not touched.
 * @return 0 or -errno (a declared map the object lacks: -ENOENT, with an
 * error naming it).
 *
 * @brief **cub_action__reset_counters()** the same as an action_config op
 * (`.action_config = cub_action__reset_counters`) for a service whose
 * actions are all resets, e.g. a cube-level `reset` (CUB_ACTION_RESET).
 */
int cub_cube__reset_counters(
    struct cub_cube *cube, const struct cub_val *config);
int cub_action__reset_counters(struct cub_cube *cube,
    const struct cub_val *path, const char *name, const struct cub_val *args,
    const struct cub_val *config, struct cub_val **result);
#define CUB_ACTION_RESET                                                       \
	{                                                                      \
		.name = "reset", .help = "zero the cube's counters"            \
	}
int cub_map__delete_batch(struct cub_cube *cube, const cub_map *map,
    const void *keys, uint32_t *count, const struct cub_batch_opts *opts);
/*
 * Up to *count entries after the cursor in_batch (NULL: from the start);
 * out_batch receives the cursor for the next call, of
 * cub_map__batch_cursor_size() bytes (in_batch may be out_batch).
 * -ENOENT when the map has no more entries; *count says how many this
 * call returned, also then.  lookup_and_delete removes what it returns.
 */
int cub_map__lookup_batch(struct cub_cube *cube, const cub_map *map,
    const void *in_batch, void *out_batch, void *keys, void *values,
    uint32_t *count, const struct cub_batch_opts *opts);
int cub_map__lookup_and_delete_batch(struct cub_cube *cube, const cub_map *map,
    const void *in_batch, void *out_batch, void *keys, void *values,
    uint32_t *count, const struct cub_batch_opts *opts);
size_t cub_map__batch_cursor_size(const cub_map *map);

/* clang-format off */
#ifndef __cplusplus
/* Old callers pass count by value: they get the _n forms above. */
#define cub_map__update_batch(cube, map, keys, values, count, opts)            \
	_Generic((count), uint32_t *: cub_map__update_batch,                   \
	    default: cub_map__update_batch_n)(                                 \
	    cube, map, keys, values, count, opts)
#define cubi_pick3_(a, b, f, ...) f
#define cub_map__delete_batch(cube, map, keys, ...)                            \
	cubi_pick3_(__VA_ARGS__, cub_map__delete_batch,                        \
	    cub_map__delete_batch_n, _)(cube, map, keys, __VA_ARGS__)
#endif
/* clang-format on */

/*
 * Swap sets: atomic map transactions (docs/architecture.md, "Atomic map
 * transactions"; the BPF side is cubicle/swap.bpf.h).  A set S is N
 * copies of each of its member maps; programs read one copy per packet,
 * the active one.
 *
 * @brief **cub_swap__begin()** opens a transaction on set: *txn names a
 * copy that no program reads and none can still be reading (the broker
 * waited for a grace period since it was last active, if it had to).
 * Fill it with the ordinary map calls on the maps cub_swap__map() gives,
 * then cub_swap__commit().  The copy holds what it held when it was last
 * active, unless opts->clear: then the broker empties it first.
 * @return 0, or -errno; a later begin on the same set ends an open
 * transaction (its commit then fails with -EINVAL, CUB_E_BUSY).
 *
 * @brief **cub_swap__commit()** flips: from the next packet on, programs
 * read txn's copy, and the copy that was active retires (reused after a
 * grace period).  One 4-byte store in the kernel; it does not wait.
 * Frees txn, also on failure (then nothing changed).
 * @brief **cub_swap__abort()** frees txn and hands its copy back.
 *
 * All are synchronous calls to the broker, from an op only.
 */
struct cub_swap_txn;
struct cub_swap_opts {
	size_t sz;  /* sizeof(struct cub_swap_opts) */
	bool clear; /* empty the copy (hashes deleted, arrays zeroed) */
	size_t : 0;
};
int cub_swap__begin(
    struct cub_cube *cube, const char *set, struct cub_swap_txn **txn);
int cub_swap__begin_opts(struct cub_cube *cube, const char *set,
    const struct cub_swap_opts *opts, struct cub_swap_txn **txn);
/* Member name's map in txn's copy (the name after "<set>__"); -ENOENT. */
int cub_swap__map(struct cub_swap_txn *txn, const char *member, cub_map *out);
/* The copy txn fills (0 to N-1). */
uint32_t cub_swap__copy(const struct cub_swap_txn *txn);
int cub_swap__commit(struct cub_swap_txn *txn);
void cub_swap__abort(struct cub_swap_txn *txn);

/*
 * @brief **cub_swap__read()** reads a set of counters without losing or
 * repeating a count (dynmon's swap-on-read), in one call to the broker:
 * it flips the set to its other copy (emptied by the broker after the
 * previous read, once that copy's grace period ended; a read closer than
 * that waits for it), reads the copy it left at once, and adds what
 * programs still running on a copy wrote after the read that retired it
 * (late updates) to the next read.  Every entry of every member goes to
 * fn: key and value bytes (per-CPU values back to back, as
 * cub_map__value_bytes() says), member being the name after "<set>__".
 * Values are the updates since the previous read: successive reads sum
 * to every update exactly (values added and subtracted in 8-byte
 * unsigned lanes, then 4, 2, 1 for a tail: counters).  Hashes: the keys
 * written since the previous read, or late, in no set order (the
 * kernel's, then keys only late writers made); arrays: every index, in
 * order.  fn
 * returns non-zero to stop (returned; the entries not seen are lost).
 * @return 0 or -errno.  A synchronous call, from an op only.  A set whose
 * maps could not fit one answer (2 x entries x (key + value) over 2 MiB)
 * is refused before anything changes (-EINVAL, CUB_E_LIMIT).  Reads and
 * transactions (cub_swap__begin()) on one set do not mix: a begin drops
 * the late updates pending in the copy it hands out.
 *
 * @brief **cub_swap__read_opts()** the same; opts->grace: the read before
 * issue 9 (the broker waits for a whole grace period, then this process
 * reads and zeroes the copy by batch calls), kept for bench/dynmon-swap.
 *
 * @brief **cub_swap__read_members()** the same read, the entries handed
 * back whole per member (free with cub_swap__result_free()).
 */
int cub_swap__read(struct cub_cube *cube, const char *set,
    int (*fn)(const char *member, const cub_map *map, const void *key,
	const void *value, void *ctx),
    void *ctx);
struct cub_swap_read_opts {
	size_t sz;  /* sizeof(struct cub_swap_read_opts) */
	bool grace; /* the old read: a whole grace period each */
	size_t : 0;
};
int cub_swap__read_opts(struct cub_cube *cube, const char *set,
    const struct cub_swap_read_opts *opts,
    int (*fn)(const char *member, const cub_map *map, const void *key,
	const void *value, void *ctx),
    void *ctx);
#define CUB_SWAP_MEMBERS_MAX 8
struct cub_swap_member {
	const char *name;   /* after "<set>__" */
	cub_map map;        /* the copy read (type, sizes, ncpus) */
	uint32_t count;     /* entries */
	uint32_t late;      /* of which late updates were folded into */
	const void *keys;   /* count keys of map.key_size bytes */
	const void *values; /* count values of cub_map__value_bytes() */
};
struct cub_swap_result {
	uint32_t nmembers;
	struct cub_swap_member member[CUB_SWAP_MEMBERS_MAX];
	struct cub_val *priv_; /* the answer the bytes live in */
};
int cub_swap__read_members(struct cub_cube *cube, const char *set,
    struct cub_swap_result **out);
void cub_swap__result_free(struct cub_swap_result *res);

/*
 * @brief **cub_cube__packet_out()** sends the Ethernet frame data (14 to
 * the port's MTU + 14 bytes) with flags CUB_PKTOUT_EGRESS out of port (an
 * index of this cube's ports) to its peer: a netdev, or another cube's
 * ingress; with CUB_PKTOUT_INGRESS into this cube's own ingress as if
 * received on port.  Bounded per cube by the broker (a token bucket,
 * cubicled --pktout-rate and --pktout-burst): over it the frame is
 * dropped and counted (pktout_dropped of 'cubicle services').
 * @return 0 sent; -ENOBUFS dropped by the bound; another -errno refused
 * (the broker's error, naming what was wrong, becomes the op's error
 * unless the plugin set one).  A synchronous call, from an op.
 */
/*
 * @brief **cub_cube__packet_reason()** during packet_in: the reason the
 * program gave the packet (the reason of cub_slowpath_tc() /
 * cub_slowpath_xdp(), a cube-defined code: the bridge's VLAN of a BPDU);
 * 0 outside packet_in.
 */
uint32_t cub_cube__packet_reason(const struct cub_cube *cube);

#ifndef CUB_PKTOUT_EGRESS
#define CUB_PKTOUT_EGRESS 1u  /* out of the port to its peer or netdev */
#define CUB_PKTOUT_INGRESS 2u /* into the cube as if received on port */
#endif
int cub_cube__packet_out(struct cub_cube *cube, uint32_t port,
    uint32_t flags, const void *data, size_t len);

/*
 * @brief **cub_helper__run()** runs a helper process the administrator
 * registered for this service (cubicled --helper NAME=PATH,service=SVC):
 * the broker starts it confined (a uid of its own, no capabilities, no
 * network, a read-only root), writes in to its stdin and returns what it
 * wrote to stdout in *out (malloc'd, the caller frees it; *outlen bytes).
 * Input and output are of at most CUB_HELPER_IO_MAX bytes.  Synchronous,
 * from an op only; it takes up to the helper's timeout.
 * @return 0, or -errno with *err the broker's error (if err is NULL, it
 * becomes the op's error, as other calls' do): an unknown
 * name, a helper of another service, a non-zero exit (with the start of
 * its stderr), a timeout, output past the cap.
 */
int cub_helper__run(struct cub_cube *cube, const char *name, const void *in,
    size_t inlen, void **out, size_t *outlen, struct cub_val **err);

/* One netdev of the broker's namespace (cub_host__netdevs()). */
struct cub_host_netdev {
	uint32_t ifindex;
	char name[16]; /* NUL-terminated */
	bool up;       /* IFF_UP and IFF_RUNNING */
};

/*
 * @brief **cub_host__netdevs()** lists the netdevs of the broker's
 * namespace, as its rtnetlink table has them now, for a service that has
 * every netdev's events (its cub_plugin.netdev_events has
 * CUB_NETDEV_HOST and cubicled --host-netdev-events names it): a host
 * firewall resolves interface names with it, then follows the events.
 * *out is malloc'd (the caller frees it), *n entries, in no order.
 * Synchronous, from an op or a netdev_event.
 * @return 0, or -errno: -EPERM (the service may not; the broker's error
 * names the opt-ins), -EAGAIN (the broker has no rtnetlink socket)
 */
int cub_host__netdevs(
    struct cub_cube *cube, struct cub_host_netdev **out, uint32_t *n);

#ifdef __cplusplus
}
#endif
#endif
