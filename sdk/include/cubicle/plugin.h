/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The plugin API.  A service is a shared object loaded by cubicle-worker,
 * which runs it unprivileged and sandboxed.  It exports one symbol:
 *
 *   const struct cub_plugin cub_plugin_entry = {
 *           .abi = CUB_PLUGIN_ABI, .name = "simpleforwarder",
 *           .cube_size = sizeof(struct sf_cube), .schema = sf_schema,
 *           .ops = &sf_ops, .policy = { ... },
 *   };
 *
 * The worker calls the ops from one thread, one at a time; ops may block
 * on calls to the broker (cub_cube__load(), cub_map__*()), which are
 * synchronous.  The broker keeps each cube's configuration: after a
 * worker restart, apply() is called again with create = true for every
 * cube, so apply() must be idempotent and reconcile map contents with the
 * configuration it is given.
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
#define CUB_PLUGIN_ABI 2u
/* 3: struct cub_plugin grew flags at its end.  A plugin built against 2
 * is still loaded (its descriptor ends before flags: read as 0). */
#define CUB_PLUGIN_ABI_FLAGS 3u
/* The oldest descriptor the worker loads. */
#define CUB_PLUGIN_ABI_MIN 2u

/*
 * cub_plugin.flags (ABI 3).  CUB_PLUGIN_F_TRANSPARENT: the service's
 * cubes are transparent (Polycube's transparent cubes): no ports; each is
 * attached to a netdev (`cubicle attach`) and sees both directions of it.
 * Its program calls cub_pass_tc() to let a packet go on and
 * cub_tdir_tc() for its direction (cube.bpf.h).
 */
#define CUB_PLUGIN_F_TRANSPARENT 0x1u

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
	 * create is true the cube is new to this worker: load its object
	 * with cub_cube__load().  Return 0, or a negative errno after
	 * cub_cube__set_error() to refuse the configuration: the broker
	 * then keeps the previous one.
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
};

struct cub_plugin {
	uint32_t abi;
	const char *name;
	const char *description;
	size_t cube_size;               /* private bytes per cube, zeroed */
	const struct cub_field *schema; /* name == NULL terminated */
	const struct cub_plugin_ops *ops;
	struct cub_bpf_policy policy;
	/* ABI 3 (set .abi = CUB_PLUGIN_ABI_FLAGS): CUB_PLUGIN_F_*. */
	uint32_t flags;
};

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
