/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The fake broker (libcubicle-fake, pkg-config cubicle-fake): a plugin's
 * control plane in a plain unit test, no root, no kernel.  The plugin's
 * own code and the SDK's runtime (plugin.c: every cub_cube__* and
 * cub_map__* call, documents, change lists, the port counters) run as in
 * cubicle-worker; what the broker does is done here, in memory:
 *
 *   - hello: the plugin's schema is parsed by the broker's tree engine,
 *     so creating a cube, a set, an add or an action is refused with the
 *     broker's error for the same words;
 *   - bpf.load: the object is opened with libbpf (bpf_object__open_mem,
 *     no bpf() call) and its maps become in-memory tables of their real
 *     type and sizes: ARRAY, PERCPU_ARRAY, HASH, PERCPU_HASH, LRU_HASH,
 *     LRU_PERCPU_HASH and LPM_TRIE answer update, lookup, delete, dump and
 *     batches with the kernel's errno (E2BIG when full, ENOENT, EEXIST and
 *     ENOENT for BPF_NOEXIST and BPF_EXIST, EINVAL for an array's delete
 *     or a bad flag; a key or value of the wrong size is refused as the
 *     broker refuses it); QUEUE and STACK hold pushed values (the data
 *     plane pushes with cub_fake__update(), key NULL; BPF_EXIST makes
 *     room when full, else E2BIG), popped by lookup_and_delete batches
 *     (oldest first, newest first), peeked by a lookup; other types load,
 *     and their calls fail with EOPNOTSUPP;
 *   - swap sets (cubicle/swap.bpf.h) as the broker sees them: the index
 *     map cub_sw_S (its slot 0 is the active copy, which the data plane
 *     reads with cub_fake__elem()) and the members S__<name>,
 *     ARRAY_OF_MAPS whose copies are the maps the object's static
 *     initialisation puts in their slots (.values = {&a, &b}, read from
 *     the ELF's relocations); a set declared otherwise is refused at load
 *     with the broker's words.  cub_swap__begin(), commit, abort,
 *     cub_swap__read() and cub_swap__read_members() answer as
 *     broker/mapswap.c does, with no program running at the same time:
 *     a read empties the copy after the active one, flips to it, hands
 *     back the copy it left whole (hashes: their entries; arrays: every
 *     index) and empties it, so successive reads sum to every update
 *     (late is always 0); a read over the answer's cap is refused as the
 *     broker refuses it;
 *   - the broker's policy check at bpf.load, with its words: the hook's
 *     program (cub_ingress_tc for a TC cube, cub_ingress_xdp for XDP)
 *     present, of a type prog_types declares, calling only helpers of
 *     the networking set (the broker's own table); every map type in
 *     map_types and not broker-only; at most 32 maps; their bytes, as
 *     the broker estimates them with the fake's CPUs, within
 *     max_map_bytes; the framework maps as cube.bpf.h declares them.
 *     A refused object creates nothing (CUB_E_REFUSED);
 *   - cube.log lines, packet-out frames and helper runs are recorded.
 *
 * One fake per process (the SDK's runtime is one per process, as in a
 * worker).  Not modelled: grace periods and late updates of swap sets,
 * map names, the exit check and the verifier (load the object for real
 * with cub_fake__test_run() for those), peers and netdevs.
 */
#ifndef CUBICLE_FAKE_H
#define CUBICLE_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "cubicle/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cub_fake;

/*
 * A fake broker running pl (its cub_plugin_entry), with ncpus possible
 * CPUs for per-CPU maps (0: 2).  NULL, with a message on stderr, when the
 * plugin is refused as cubicle-worker would refuse it, or its schema as
 * the broker would.
 */
struct cub_fake *cub_fake__new(const struct cub_plugin *pl, uint32_t ncpus);
/* Destroys every cube (the plugin's destroy op) and frees the fake. */
void cub_fake__free(struct cub_fake *f);

/*
 * The last refusal of a call below: the broker's or the plugin's message
 * ("" when the call succeeded), and its CUB_E_* code (0 when none).
 */
const char *cub_fake__error(const struct cub_fake *f);
int cub_fake__error_code(const struct cub_fake *f);

/*
 * Create cube name from doc, a JSON or YAML document of the cube (NULL or
 * "": all defaults), as `cubicle <service> add <name> --file doc`: the
 * tree engine checks it against the schema, the ports get their indices,
 * and the plugin's apply(create) runs.  0, or -errno with the error.
 */
int cub_fake__create(struct cub_fake *f, const char *name, const char *doc);
/*
 * One CLI request, as `cubicle <line>`: the cube's name, then words;
 * a word with '=' is an argument ("h1 set action=FORWARD", "h1 ports add
 * p1", "h1 ports p1 show rx_packets", "h1 reset", "h1 del").  The plugin
 * gets what the broker would send it: a change list (change()) or the
 * new document (apply()), a show, an action.  *result (if result is
 * not NULL) is the answer, the caller's to free; NULL when there is none.
 * 0, or -errno with the error.
 */
int cub_fake__cmd(
    struct cub_fake *f, const char *line, struct cub_val **result);
/* The answer of `cubicle <line>` as text: a scalar as the CLI prints it
 * (no quotes), anything else as JSON.  malloc'd; NULL on refusal. */
char *cub_fake__cmd_str(struct cub_fake *f, const char *line);
/* The cube's document as the broker keeps it (no ro fields); NULL. */
const struct cub_val *cub_fake__doc(const struct cub_fake *f, const char *cube);

/*
 * The data plane's view of map name of a cube: what a program on CPU cpu
 * gets from bpf_map_lookup_elem() (that CPU's value of a per-CPU map),
 * writable in place; NULL when the key is absent, cpu is not below the
 * fake's CPU count, or the map does not exist.
 */
void *cub_fake__elem(struct cub_fake *f, const char *cube, const char *map,
    const void *key, uint32_t cpu);
/* A program's bpf_map_update_elem() on CPU cpu (per-CPU maps: that CPU's
 * value; a new entry's other CPUs are zero).  0 or the kernel's -errno. */
int cub_fake__update(struct cub_fake *f, const char *cube, const char *map,
    const void *key, const void *value, uint64_t flags, uint32_t cpu);
/* Entries present in the map (an array: max_entries); -ENOENT. */
int cub_fake__count(struct cub_fake *f, const char *cube, const char *map);
/* The map as the plugin sees it (cub_cube__map()); 0 or -ENOENT. */
int cub_fake__map(
    struct cub_fake *f, const char *cube, const char *map, cub_map *out);

/* A packet to the plugin's packet_in, as the data plane's slow path. */
int cub_fake__packet_in(struct cub_fake *f, const char *cube, uint32_t port,
    const void *data, size_t len);
/* The same with the reason the program gave (cub_cube__packet_reason()). */
int cub_fake__packet_in_reason(struct cub_fake *f, const char *cube,
    uint32_t port, uint32_t reason, const void *data, size_t len);
/* One tick (ops->tick) for every cube now, whatever tick_ms says; the
 * number of cubes ticked, or -EOPNOTSUPP when the plugin has no tick. */
int cub_fake__tick(struct cub_fake *f);

/* What the plugin did: log lines (cub_cube__log), packet-out frames
 * (cub_cube__packet_out), helper runs (cub_helper__run), oldest first.
 * The pointers are valid until cub_fake__clear_records() or free. */
struct cub_fake_log {
	char cube[CUB_NAME_MAX + 1];
	int level;
	char *msg;
};
struct cub_fake_pkt {
	char cube[CUB_NAME_MAX + 1];
	uint32_t port, flags;
	void *data;
	size_t len;
};
struct cub_fake_run {
	char cube[CUB_NAME_MAX + 1];
	char *helper;
	void *input;
	size_t len;
};
const struct cub_fake_log *cub_fake__logs(const struct cub_fake *f, size_t *n);
const struct cub_fake_pkt *cub_fake__pkts(const struct cub_fake *f, size_t *n);
const struct cub_fake_run *cub_fake__runs(const struct cub_fake *f, size_t *n);
void cub_fake__clear_records(struct cub_fake *f);
/*
 * What helper name answers (cubicled --helper NAME=...): fn gets the input
 * and sets *out (malloc'd) and *outlen, or returns a negative errno (the
 * run fails as a helper's non-zero exit does).  A run of a helper not
 * registered fails as the broker's unknown name.
 */
typedef int (*cub_fake_helper_fn)(
    const void *in, size_t len, void **out, size_t *outlen, void *ctx);
int cub_fake__helper(
    struct cub_fake *f, const char *name, cub_fake_helper_fn fn, void *ctx);

/*
 * Run the cube's program prog ("cub_ingress_tc"...) for real on a packet
 * with BPF_PROG_TEST_RUN: its object, as the plugin loaded it, is loaded
 * into the kernel, the fake's map contents copied into its maps first and
 * back after the run.  Needs root: -EPERM without it (a test exits 77,
 * skipped).  *retval is the program's return code.  0 or -errno.
 */
int cub_fake__test_run(struct cub_fake *f, const char *cube, const char *prog,
    const void *pkt, size_t len, uint32_t *retval);
/*
 * The same, the packet arriving on the cube's port named port: for the
 * run (not copied back), cub_ports holds every port of the cube's
 * document, up, with ifindex CUB_FAKE_IFINDEX(its index), and cub_if2port
 * maps the run's ingress ifindex to port's index (TC: the skb's
 * ingress_ifindex is CUB_FAKE_IFINDEX(index); XDP: the kernel runs the
 * program on lo, whose ifindex is mapped), so cub_in_port() finds the
 * port.  A cub_forward() then ends the run as the broker's egress
 * program is not there: TC_ACT_SHOT, XDP_DROP.  -ENOENT: no such port.
 */
#define CUB_FAKE_IFINDEX(index) (100000u + (index))
int cub_fake__test_run_port(struct cub_fake *f, const char *cube,
    const char *prog, const char *port, const void *pkt, size_t len,
    uint32_t *retval);

#ifdef __cplusplus
}
#endif
#endif
