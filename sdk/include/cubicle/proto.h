/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MessagePack-RPC framing and the method table shared by broker, workers,
 * CLI and tests.
 *
 *   request       [0, msgid, method, params]
 *   response      [1, msgid, error, result]   (error nil on success)
 *   notification  [2, method, params]
 *
 * params is always a map.  Sockets (under the broker's --socket-dir):
 *   cubicled.sock          REP, clients (CLI, automation, tests)
 *   events.sock            PUB, events (topic = event name)
 *   worker-<svc>.sock      REP, calls from the <svc> worker (0600, its uid)
 *   worker-<svc>.cmd       REQ (listening), calls to the <svc> worker
 */
#ifndef CUBICLE_PROTO_H
#define CUBICLE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cub_val;

enum cub_rpc_type {
	CUB_RPC_REQUEST = 0,
	CUB_RPC_RESPONSE = 1,
	CUB_RPC_NOTIFY = 2,
};

/* A decoded frame; the fields that do not apply to its type are NULL/0. */
struct cub_rpc {
	enum cub_rpc_type type;
	uint32_t msgid;
	char *method;           /* request, notification */
	struct cub_val *params; /* request, notification: always a map */
	struct cub_val *error;  /* response: NULL on success */
	struct cub_val *result; /* response: NULL on error */
};

/*
 * Decode one frame strictly: shape, types, params a map, method at most
 * CUB_METHOD_MAX bytes.  Returns 0 or -EBADMSG/-EMSGSIZE/-ELOOP/-ENOMEM
 * with a message in err.  On success the caller owns rpc's members and
 * frees them with cub_rpc__clear().  On failure rpc holds nothing to free;
 * when the bytes start like a request, [0, msgid, ...], rpc->type is
 * CUB_RPC_REQUEST and rpc->msgid is that msgid (else 0), so that the error
 * reply reaches the request it answers.
 */
#define CUB_METHOD_MAX 64
int cub_rpc__decode(
    const void *buf, size_t len, struct cub_rpc *rpc, char *err, size_t errlen);
void cub_rpc__clear(struct cub_rpc *rpc);
/* Encoders take ownership of params/error/result (NULL allowed). */
int cub_rpc__encode_request(uint32_t msgid, const char *method,
    struct cub_val *params, void **buf, size_t *len);
int cub_rpc__encode_response(uint32_t msgid, struct cub_val *error,
    struct cub_val *result, void **buf, size_t *len);
int cub_rpc__encode_notify(
    const char *method, struct cub_val *params, void **buf, size_t *len);

/*
 * Methods.  "C" = from clients, "W" = from a worker to the broker,
 * "B" = from the broker to a worker.
 */
/* C: liveness and version; params {} -> {version, pid}. */
#define CUB_M_PING "ping"
/*
 * C: one request on the resource tree, polycubectl style.
 * params {words: [str], args: map, body: any, rid: str}
 *   words: the command words without key=value pairs, e.g.
 *          ["sf1", "ports", "p1", "set"]; args: {"action": "drop"};
 *   body:  optional document (JSON from stdin) merged under args;
 *   rid:   request id, required for mutating verbs; a resend with the
 *          same rid is answered from a cache, never applied twice.
 * -> the result document (show), or {} for mutations.
 */
#define CUB_M_REQUEST "request"

/* W: first call of a worker: {service, abi, schema, policy} -> {}. */
#define CUB_M_HELLO "hello"
/* W: load the cube's BPF ELF: {cube, elf: bin} -> {maps: [...]} */
#define CUB_M_LOAD "bpf.load"
/* W: map operations on a map of one of the worker's cubes. */
#define CUB_M_MAP_UPDATE "map.update" /* {cube, map, key, value, flags} */
#define CUB_M_MAP_LOOKUP "map.lookup" /* {cube, map, key} -> {value} */
#define CUB_M_MAP_DELETE "map.delete" /* {cube, map, key} */
/* {cube, map, after: bin (opt)} -> {keys: [bin], values: [bin], more} */
#define CUB_M_MAP_DUMP "map.dump"
/* W: packets of a packet.in the worker had no room for: {cube, count}. */
#define CUB_M_PKTIN_DROPPED "packet.dropped"
/* {cube, map, op: update|delete|lookup|lookup_and_delete, count, keys,
 * values, in_batch, elem_flags, batch_flags} -> {count, kernel, ...}:
 * see broker/wcall.c's wc_batch(). */
#define CUB_M_MAP_BATCH "map.batch"
#define CUB_BATCH_MAX 4096
/*
 * W: a line for the cube's log: {cube, level: 0 (TRACE) .. 5 (CRITICAL),
 * message: str or bin of at most CUB_LOG_MSG_MAX bytes} -> {}.  Kept if the
 * cube's loglevel keeps level, within the service's rate.
 */
#define CUB_M_CUBE_LOG "cube.log"
/*
 * W: a frame out of a port of the worker's cube or into its ingress
 * (broker/pktout.c): {cube, port: index, flags: CUB_PKTOUT_*, data: bin of
 * 14 to MTU + 14 bytes} -> {sent: false when over the cube's bucket,
 * delivered, verdict}.
 */
#define CUB_M_PKTOUT "packet.out"
#ifndef CUB_PKTOUT_EGRESS
#define CUB_PKTOUT_EGRESS 1u  /* out of the port to its peer or netdev */
#define CUB_PKTOUT_INGRESS 2u /* into the cube as if received on port */
#endif
#define CUB_LOG_MSG_MAX 1024
/*
 * W: run a helper the administrator registered for this service
 * (broker/helper.c): {name, input: bin} -> {output: bin}; input and
 * output of at most CUB_HELPER_IO_MAX bytes each.
 */
#define CUB_M_HELPER_RUN "helper.run"
#define CUB_HELPER_IO_MAX (1u << 20) /* CUB_STR_MAX: one bin */
/*
 * W: the namespace's netdevs, for a service that has every netdev's
 * events (CUB_NETDEV_HOST, kept at hello only if cubicled's
 * --host-netdev-events names it; others get permission-denied): {} ->
 * {netdevs: [{ifindex, name: bin (the raw name), up}]} (broker/netmon.c).
 */
#define CUB_M_NETDEV_LIST "netdev.list"
/*
 * W: atomic map transactions on a swap set of a cube (broker/mapswap.c):
 * begin {cube, set, clear} -> {txn, copy, copies, maps: [{name, id, ...}]}
 * (a copy no program reads); commit {cube, set, txn} -> {copy, retired}
 * (the flip); abort {cube, set, txn}; read {cube, set} -> {copy, maps}
 * (flip, grace period, the old copy to read and zero).
 */
#define CUB_M_SWAP_BEGIN "swap.begin"
#define CUB_M_SWAP_COMMIT "swap.commit"
#define CUB_M_SWAP_ABORT "swap.abort"
#define CUB_M_SWAP_READ "swap.read"

/* B: reconcile (or create) cube state: {cube, config, create: bool}. */
#define CUB_M_CUBE_APPLY "cube.apply"
/* B: the rest of a cube.apply that said more: true, the entries of one
 * list of the document (path: the words to it), in order, in as many
 * messages as the caps need: {cube, path: [str], entries: [map], last};
 * the worker applies the whole document on last (docs/architecture.md,
 * "The plugin API: changes and replay"). */
#define CUB_M_CUBE_ENTRIES "cube.entries"
/* B: what one request changed, to a service with change():
 * {cube, changes: [{op, path, old, new, index}], last}; a long list in
 * several messages, handed over on last (true when absent). */
#define CUB_M_CUBE_CHANGE "cube.change"
/* B: the cube is being deleted: {cube}. */
#define CUB_M_CUBE_DESTROY "cube.destroy"
/* B: read-only overlay for show: {cube, config} -> overlay map. */
#define CUB_M_CUBE_SHOW "cube.show"
/* B: a service action: {cube, action, path: [str], args} -> result. */
#define CUB_M_CUBE_ACTION "cube.action"
/* B: packets a cube sent to the slow path, a notification (never
 * answered) on the worker's own pkt socket (PUSH -> PULL):
 * {cube, packets: [{port, port_name, reason, data: bin}]}. */
#define CUB_M_PACKET_IN "packet.in"
/* B: netdev events for the service's cubes, answered once queued, before
 * the plugin sees them: {events: [{cube, port, kind, ifindex, name,
 * old_name, mac: bin 6, mtu, up, family, prefixlen, addr: bin}],
 * dropped: the service's events dropped so far} -> {queued: n} (the
 * first n were queued; the rest are dropped). */
#define CUB_M_NETDEV_EVENT "netdev.event"

/* Events on events.sock: topic string, then a notification frame. */
#define CUB_EV_CUBE_CREATED "cube.created"
#define CUB_EV_CUBE_DELETED "cube.deleted"
#define CUB_EV_PORT_UP "port.up"
#define CUB_EV_PORT_DOWN "port.down"
#define CUB_EV_WORKER_RESTARTED "worker.restarted"

#define CUB_SOCK_CLIENT "cubicled.sock"
#define CUB_SOCK_EVENTS "events.sock"

#ifdef __cplusplus
}
#endif
#endif
