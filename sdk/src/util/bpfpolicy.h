/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the broker's policy check of a cube's object (broker/bpfobj.c)
 * shares with the fake broker (sdk/src/fake.c), so the two refuse the
 * same objects with the same words: the networking set of helpers, the
 * broker-only map types, the framework maps' shapes and the estimate of
 * a map's bytes.  No libbpf: callers hand over instructions and shapes.
 */
#ifndef CUBI_BPFPOLICY_H
#define CUBI_BPFPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

/* At most this many maps in one cube's object. */
#define CUBI_MAX_MAPS 64

/* Helper id in the networking set (no redirect helper is). */
bool cubi_helper_allowed(int id);
/* Helper id sends a packet to a netdev of the program's choosing. */
bool cubi_helper_redirects(int id);
/* "bpf_redirect" for the helpers a hostile object is likely to try,
 * else "a helper". */
const char *cubi_helper_name(int id);

/*
 * Every call of program prog (n instructions) of cube: helpers in the
 * networking set, no redirect helper, no kfunc.  0, or -EPERM with the
 * broker's refusal in msg.
 */
int cubi_check_calls(const char *cube, const char *prog,
    const struct bpf_insn *insn, size_t n, char *msg, size_t len);

/* Map types the broker fills for no service: no policy may declare them. */
bool cubi_map_type_broker_only(uint32_t type);
/* Map types whose values user space sees once per possible CPU. */
bool cubi_map_type_percpu(uint32_t type);

/* A framework map's shape (cube.bpf.h); 0 in key_size or max_entries:
 * not checked. */
struct cubi_fw_map {
	const char *name;
	uint32_t type, key_size, value_size, max_entries, map_flags;
	bool optional; /* only the cubes that use it declare it */
};
/* Every framework map, terminated by a NULL name. */
extern const struct cubi_fw_map cubi_fw_maps[];
/* The framework map called name, or NULL. */
const struct cubi_fw_map *cubi_fw_map_find(const char *name);
/* Whether a map of this shape is framework map f as declared. */
bool cubi_fw_map_ok(const struct cubi_fw_map *f, uint32_t type,
    uint32_t key_size, uint32_t value_size, uint32_t max_entries,
    uint32_t map_flags);

/*
 * What a map costs, estimated on the high side before the kernel creates
 * it, with ncpus possible CPUs: a value per CPU for per-CPU maps, the
 * element header and buckets of hash tables, ring buffers' data area.
 */
uint64_t cubi_map_bytes(uint32_t ncpus, uint32_t type, uint32_t key_size,
    uint32_t value_size, uint32_t max_entries);

#endif
