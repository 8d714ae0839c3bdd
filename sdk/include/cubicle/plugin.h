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
 * it. */
#define CUB_PLUGIN_ABI 3u
/* 3: struct cub_plugin ends in its own size and its ops' size (sz,
 * ops_sz), so ops and fields added at the end later are found by size,
 * not by a new ABI.  An ABI 2 plugin is still loaded: it has the ops up to
 * packet_in and no change().  Zero sizes (a plugin that did not set them)
 * mean the same. */
#define CUB_PLUGIN_ABI_MIN 2u

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
	 * may block on broker calls; bounded by --call-timeout.  changes
	 * and everything they point to are the runtime's, valid during the
	 * call only (copy what you keep).  A request that changes many
	 * entries (a set with a body of 20k) is one call with n = 20k, even
	 * when it reached the worker in several messages.
	 */
	int (*change)(struct cub_cube *cube, const struct cub_change *changes,
	    uint32_t n);
};

struct cub_plugin {
	uint32_t abi;
	const char *name;
	const char *description;
	size_t cube_size;               /* private bytes per cube, zeroed */
	const struct cub_field *schema; /* name == NULL terminated */
	const struct cub_plugin_ops *ops;
	struct cub_bpf_policy policy;
	/* ABI 3: sizeof(struct cub_plugin) and sizeof(*ops) as the plugin
	 * was built (CUB_PLUGIN_SIZES); 0 = as in ABI 2.  The worker reads
	 * no op past ops_sz, and refuses a plugin whose ops past its own
	 * struct cub_plugin_ops are not NULL (ops it does not know). */
	size_t sz;
	size_t ops_sz;
};

#define CUB_PLUGIN_SIZES                                                       \
	.sz = sizeof(struct cub_plugin), .ops_sz = sizeof(struct cub_plugin_ops)

/* Accessors; valid for the life of the cube. */
const char *cub_cube__name(const struct cub_cube *cube);
void *cub_cube__priv(struct cub_cube *cube);
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
 * Batches: count entries (at most CUB_BATCH_MAX), keys and values packed
 * back to back, in one call to the broker.  Not atomic: on failure,
 * entries before the failing one are applied.
 */
int cub_map__update_batch(struct cub_cube *cube, const cub_map *map,
    const void *keys, const void *values, uint32_t count, uint64_t flags);
int cub_map__delete_batch(struct cub_cube *cube, const cub_map *map,
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

#ifdef __cplusplus
}
#endif
#endif
