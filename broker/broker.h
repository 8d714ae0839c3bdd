/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cubicled internals.  One process: a main thread that receives clients'
 * requests, answers those that need no worker, and supervises workers;
 * per service, a request thread (supervisor.c sup_exec) that runs the
 * requests for that service's cubes in arrival order, one worker call in
 * flight at a time, and feeds its worker the slow-path packets; and per
 * service a thread that serves that service's worker calls (bpf.load,
 * map.*).  Locks, always taken in this order:
 *  - b->state_lock guards the desired state: the cube list, the cubes'
 *    documents and ports, the services' supervision fields, the rid cache
 *    and the store.  The main thread holds it except while it polls; a
 *    request thread holds it while it runs a request and drops it exactly
 *    while it waits for its worker (sup_call), so a slow worker delays
 *    only its own service.
 *  - b->lock guards the cube list and every cube's object table against
 *    the worker-call threads; nobody holds it while waiting for a worker
 *    (the worker may be calling back), nor across a verifier load
 *    (bpfobj_load(), docs/architecture.md).
 *  - the client connections' lock (clients.c) guards their tables, fds
 *    and queues, for non-blocking system calls; nothing is taken under
 *    it.
 */
#ifndef CUBICLED_BROKER_H
#define CUBICLED_BROKER_H

#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "cubicle/plugin.h"
#include "cubicle/proto.h"
#include "cubicle/val.h"
#include "store.h"
#include "tenants.h"
#include "tree.h"

#define CUB_MAX_MAPS 64
#define MAX_UNHARDENED 16 /* --unhardened-service names */
#define RID_CACHE 256

enum hook { HOOK_TC = 0, HOOK_XDP_SKB, HOOK_XDP_DRV };

struct broker_opts {
	const char *socket_dir;
	const char *state_dir;
	const char *pin_root;
	const char *plugin_dir;
	const char *worker_bin;
	uid_t uid_base;         /* service i runs as uid_base + i */
	int call_timeout_ms;    /* a worker that takes longer is restarted */
	int max_apply_timeout_ms; /* cap on what a service declares (apply) */
	int vet_timeout_ms; /* an unvetted program's grace (bpfobj.c) */
	bool spectre_hardening; /* keep the unprivileged verifier's barriers */
	int log_level;
	uint64_t max_loop_cost;         /* loopcheck.h: one program's loops */
	uint64_t max_cube_map_bytes;    /* maps of one cube's object */
	uint64_t max_service_map_bytes; /* maps of all cubes of a service */
	unsigned max_clients;           /* client connections held at once */
	unsigned max_clients_per_uid;   /* of them from one peer uid */
	/* Client roles (clients.c peer_role()); (gid_t)-1: none. */
	gid_t socket_gid;     /* may connect (sockets 0660), as reader */
	gid_t admin_gid;      /* admin, like root */
	gid_t gateway_gid;    /* gateway: reads, and "as" requests */
	unsigned gateway_may; /* roles a gateway may vouch: 1 << ROLE_* */
	const char *tenants_file; /* --tenants (tenants.c), or NULL */
	bool discard_strays; /* no store: detach and unpin what is pinned */
	unsigned netlink_rcvbuf; /* rtnetlink socket's bytes (netmon.c) */
	unsigned pktout_rate, pktout_burst; /* packet-out, per cube (pktout.c) */
	/* Services allowed every netdev's events, comma-separated. */
	const char *host_netdev_events;
	/* --unhardened-service: services whose objects are verified and
	 * loaded with CAP_PERFMON (bpfobj.c load_thread()). */
	const char *unhardened[MAX_UNHARDENED];
	unsigned nunhardened;
};

struct clients; /* clients.c */

/* A token bucket for what a service can make the broker log. */
struct log_limit {
	double tokens;
	int64_t last_ms;
	unsigned suppressed;
};

/*
 * One map of a cube's object: an fd the broker holds, pinned on disk as
 * <pin-root>/<cube>/<name>; name is checked (a plain identifier of at most
 * 15 characters, unique in the object).  framework: one of the cub_* maps
 * the broker fills (its name matched fw_maps and its shape was checked).
 */
struct bmap {
	char name[16];
	int fd;
	uint32_t type, key_size, value_size, max_entries;
	bool framework;
};

/* A cube's loaded (or adopted) BPF object. */
struct bpfobj {
	uint64_t hash; /* of the ELF bytes it came from */
	int prog_fd;   /* the program matching the cube's hook */
	uint32_t prog_id;
	int egress_fd; /* the broker's egress program in its cub_egress */
	int peers_fd;  /* the egress program's cub_peers (topology.c) */
	int flood_fd;  /* its flood set, <cube>/flood (topology.c) */
	int flooddev_fd; /* XDP: the flood devmap, <cube>/flooddev */
	int peerkey_fd;  /* its peers' hop keys by port, <cube>/peerkey */
	struct bmap maps[CUB_MAX_MAPS];
	int nmaps;
	uint64_t map_bytes; /* kernel memory of its maps, per-CPU x ncpus */
	struct ring_buffer *pktin; /* the cube's cub_pktin ring, if any */
	struct ring_buffer *logring; /* its cub_log_ring (cubelog.c) */
	struct swapsets *swaps;      /* its swap sets' state (mapswap.c) */
	uint32_t checked; /* EXITCHECK_VERSION of the checks it passed */
	uint64_t rules;   /* the rules it was checked under (bpfobj.c) */
	int64_t vet_by_ms; /* not vetted: retired at this time; 0 unarmed */
};

/* A port's peer: a netdev name, or "cube:port" (two names and a colon). */
#define CUB_PEER_MAX (2 * CUB_NAME_MAX + 1)

/* Runtime state of one port (the desired state is in cube->doc). */
struct bport {
	char name[CUB_NAME_MAX + 1];
	uint32_t index;
	/* Attached netdev, or "cube:port" of another cube; "" when none. */
	char peer[CUB_PEER_MAX + 1];
	int ifindex;       /* attached ifindex, 0 when none */
	bool cube_peer;    /* peer is another cube's port, wired in the maps */
	bool hook_created; /* we created the clsact qdisc */
	struct bport *next;
};

struct service;

/* A packet a cube sent to the slow path, waiting for its worker. */
struct pktin {
	uint32_t port, reason, len;
	uint8_t data[1536];
};

/* Packets queued per cube, and sent to the worker in one notification. */
#define PKTIN_QUEUE 64
#define PKTIN_BATCH 32
/* packet.in batches queued towards a service's worker (its PUSH socket);
 * past them a batch is dropped, counted (slowpath.c). */
#define PKTIN_SENDBUF 8

struct cube {
	char name[CUB_NAME_MAX + 1];
	/* The tenant that made it (stored with it), "": an admin's. */
	char owner[TENANT_NAME_MAX + 1];
	struct service *svc;
	enum hook hook;
	struct cub_val *doc; /* desired config as last applied */
	/* While a change of this cube waits for its worker (b->state_lock
	 * released), what other requests' saves write for it: the document
	 * before the change, or nothing (being created or deleted). */
	struct cub_val *stored_doc;
	bool stored_absent;
	/*
	 * Its whole document is being sent to its worker (cube_sync(), in
	 * parts: the state lock is dropped between them, and the parts point
	 * into c->doc).  A change from another service's thread is refused
	 * meanwhile, as while stored_doc is set.
	 */
	bool syncing;
	/* While a change made in place on doc (cube_change()) waits for its
	 * worker: its undo record, from which a snapshot writes the document
	 * before it (cubi_tree__before()).  Set and cleared under b->lock. */
	const struct cubi_result *inflight;
	/*
	 * A replay its worker refused (supervisor.c, under b->state_lock):
	 * retried at replay_next_ms with the cube's document then, the wait
	 * doubling from 1 s to 30 s; replay_wait_ms 0: none pending.  Shown
	 * by 'cubicle show cubes' (replay_err: the worker's error).
	 */
	uint32_t replay_wait_ms, replay_refusals;
	int64_t replay_next_ms;
	char replay_err[160];
	/* Changes made off its service's thread (a peer set by a connect of
	 * another service's cube), sent ahead of its next cube.change;
	 * cleared by a whole apply (b->state_lock). */
	struct cub_val *unsent;
	struct bpfobj *obj;  /* NULL until the worker loads it */
	/* Its hop key (cube_shared.h), <cube>/hopkey (bpfobj.c): made with
	 * its first object, kept across reloads; <= 0: not made yet. */
	int hopkey_fd;
	struct bport *ports;
	/* Slow path (slowpath.c): a ring of PKTIN_QUEUE, allocated on the
	 * first packet.  pktin_dropped (atomic: the worker-call thread adds
	 * the worker's drops) is shown by 'cubicle services'. */
	struct pktin *pktq;
	unsigned pktq_head, pktq_len;
	uint64_t pktin_sent, pktin_dropped;
	/* Of pktin_dropped, those over its owner's pktin-pps (quota.c). */
	uint64_t pktin_quota_dropped;
	/* Packet-out (pktout.c, under b->lock): the token bucket, in
	 * thousandths of a frame, and what was sent or dropped (atomic:
	 * 'cubicle services' reads them without b->lock). */
	int64_t pktout_ms;
	uint64_t pktout_tokens, pktout_sent, pktout_dropped;
	/* cubelog.c, under its lock: enum cub_log_level, and the log. */
	int loglevel;
	struct cubelog *log;     /* NULL until the first line */
	uint64_t log_suppressed; /* over the service's rate */
	uint64_t log_bad;        /* malformed program records */
	uint64_t log_filtered;   /* program records below the loglevel */
	unsigned log_drained;    /* records of the current drain */
	struct cube *next;
	/*
	 * Locking across a verifier load (bpfobj.c): loading is set while a
	 * bpf.load of the cube's object runs without b->lock; removed when
	 * the cube left b->cubes for b->dying (deleted) meanwhile, so the
	 * load installs nothing; orphan when its deleter let go of it
	 * first, so the load's end frees it.  All three change under
	 * b->lock only.
	 */
	bool loading;
	/* The map bytes its load in progress reserved (b->lock): counted
	 * against its owner's map-bytes quota with its loaded cubes'. */
	uint64_t loading_bytes;
	/* Its program was retired, or a load of it refused while it had no
	 * program checked under today's rules: a stack it sits in drops at
	 * its slot (fail closed) until a load passes. */
	bool retired;
	bool removed;
	bool orphan;
	/* Refused by its service's schema at the last replay (a reload's
	 * or a start's): "refused by schema vN: <error>"; NULL: accepted.
	 * Kept as it was: store, document and program (b->state_lock). */
	char *refused;
	/* Transparent cubes (tcube.c): the attach point it is in (NULL:
	 * none) and its netdev; rank and qdisc as loaded from the store. */
	struct tpoint *tp;
	char attached[CUB_PEER_MAX + 1];
	unsigned attach_rank;
	bool attach_qdisc;
	/* The grace period (mapswap_grace_start()) since it left a stack
	 * whose packets may still be in it: its way out stays until then
	 * (tcube.c); 0: none. */
	uint64_t tp_left;
	/* Its attach point's parameters changed since its last apply: its
	 * service's request thread sends it a new one (b->state_lock). */
	bool attach_due;
};

/*
 * A client request's way back (clients.c): its connection and the
 * backtrace (routing header) its REQ put on it, kept from receipt to
 * reply so that any thread can answer it at any time.
 */
#define CLIENT_HDR_MAX 64
enum client_role {
	ROLE_ADMIN = 0, /* root, --admin-group: everything */
	ROLE_READER,    /* --socket-group: reads only */
	ROLE_GATEWAY,   /* --gateway-group: reads; requests "as" a user */
	ROLE_TENANT,    /* --tenants: its own cubes and granted netdevs */
};

struct client_req {
	uint64_t conn; /* generation and slot: a closed one is never reused */
	uint8_t hdr[CLIENT_HDR_MAX];
	size_t hdrlen;
	bool drop; /* no reply: close the connection (clients_reply()) */
	/* Who sent it (clients.c, SO_PEERCRED at accept): the client whose
	 * share of a service queue it takes, and what it may do. */
	uint32_t uid;
	enum client_role role;
	const struct tenant *tenant; /* ROLE_TENANT's (b->tenants) */
	/* Requests its process sent in the last second, over the
	 * connections it holds (its weight in a service queue). */
	unsigned recent;
};

/*
 * A tenant's use that no cube holds (quota.c): its buckets (the main
 * thread's: requests and packet-in both arrive there), what passed and
 * what each quota refused (atomic: any thread adds, 'show tenants'
 * reads).
 */
struct tenant_use {
	struct tenant_bucket rps, pktin;
	uint64_t requests;
	uint64_t refused[TQ__MAX];
};

/* A client request handed to a service's request thread. */
struct sjob {
	struct client_req req;
	struct cub_rpc rpc;
	struct sjob *next;
};

/*
 * A service's queue is shared out by client (docs/architecture.md,
 * Security: client connections): one FIFO per connection, grouped by
 * peer uid, served round-robin between uids and, within a uid, between
 * its connections.  A uid holds at most SVC_QUEUE_MAX waiting requests
 * and the service SVC_QUEUE_TOTAL.  Past its uid's share, a newcomer
 * takes the place of the newest request of the uid's heaviest sender
 * (most requests in the last second) if that one sent more than the
 * newcomer's connection, or is refused as busy; past the service's
 * total, that of the uid holding the most if it holds more than the
 * newcomer's uid would.
 */
#define SVC_QUEUE_MAX 32
#define SVC_QUEUE_TOTAL 256

struct sconn_q {
	uint64_t conn;
	struct sjob *head, **tail;
	unsigned n;
	struct sconn_q *next; /* round-robin order within its uid */
};

struct suid_q {
	uint32_t uid;
	struct sconn_q *conns; /* head is served next */
	unsigned n;            /* requests waiting in all of them */
	struct suid_q *next;   /* round-robin order between uids */
};

struct service {
	char name[CUB_NAME_MAX + 1];
	char plugin[4096];
	uid_t uid;
	gid_t gid;
	struct broker *b;
	/* Fixed at the first hello of this broker run (or loaded). */
	struct cubi_schema *schema;
	struct cub_val *schema_wire;
	struct ctr_table *counters; /* its broker-read counters (counters.c) */
	struct cub_bpf_policy policy;
	uint32_t apply_timeout_ms; /* declared in its hello, 0 = none */
	struct log_limit log_limit; /* what its loads make the broker log */
	struct log_limit cube_log_limit; /* lines of its cubes' logs */
	/* Map bytes of its loads in progress, reserved against
	 * --max-service-map-bytes until they end (b->lock). */
	uint64_t map_bytes_loading;
	/* Supervision. */
	pid_t pid;
	unsigned restarts;
	unsigned backoff_ms;
	int64_t next_start_ms;
	bool hello; /* current worker said hello (set by its thread) */
	bool transparent; /* its cubes attach; no ports (first hello) */
	bool hostwide; /* its cubes are on every netdev (first hello) */
	/* What the store recorded of it (its cubes' records, persist.c)
	 * before this broker's first hello: a first hello must agree. */
	bool stored_known, stored_transparent, stored_hostwide;
	bool ready; /* hello + replay done */
	bool changes; /* its plugin takes cube.change (from its hello) */
	bool action_config; /* its actions get the cube's document */
	/* Whole copies of its cubes' documents made for requests (a show
	 * inside a read-only list, a journal record of the whole cube), for
	 * 'cubicle services' (atomic: any thread). */
	uint64_t doc_copies;
	/* Requests the broker sent its workers on cmd (sup_call()), each
	 * waiting for a reply, for 'cubicle services' (atomic): packet-in,
	 * one way on pkt, adds none (pktin-oneway). */
	uint64_t worker_calls;
	/* Sockets. */
	nng_socket cmd;   /* broker -> worker (REQ, listening) */
	nng_socket calls; /* worker -> broker (REP, listening) */
	nng_aio *cmd_aio;
	/* nng pipe ids of the worker's one connection to each socket. */
	uint32_t cmd_pipe;
	uint32_t calls_pipe;
	/* broker -> worker packet.in notifications (PUSH, listening; one
	 * way, sent without waiting: slowpath.c) and its connection. */
	nng_socket pkt;
	uint32_t pkt_pipe;
	pthread_t thread;
	/* The request thread (sup_exec), its queue (per-uid, per-connection
	 * FIFOs, uq->next served next) and its wake-up; all under
	 * b->state_lock. */
	pthread_t exec;
	pthread_cond_t cond;
	struct suid_q *uq;
	unsigned jq_len; /* requests waiting in all */
	bool replay_due;    /* hello came: replay before any request */
	bool replay_queued; /* replay_due set or replay running */
	struct service *next;
	/* netmon.c: the kinds its hello asked for (atomic: set by its
	 * worker-call thread), and its event queue (b->state_lock). */
	uint32_t netdev_events;
	struct netq *netq;
	/* tcube.c: one of its cubes has attach_due set (b->state_lock). */
	bool attach_due;
	/*
	 * Upgrades (docs/architecture.md, "Plugin upgrades").  schema_version
	 * counts the schemas the service accepted, across broker runs (the
	 * store's, +1 at a first hello whose schema differs from the store's,
	 * +1 per reload that changes schema or policy; 1 with none stored).  Under b->lock: reload (a 'services reload' waits for the
	 * next hello, which may then change schema and policy), its waiting
	 * client, the next_* a reload's hello declared (taken by the replay,
	 * sup_replay()), hello_refusals (consecutive hellos refused: its
	 * last worker's hello differed from what the service declared first,
	 * or the store has; status "refused" while not 0) and last_error.  stopped (restarts given up, b->state_lock): its hello
	 * was refused SUP_HELLO_REFUSALS times in a row; only a reload
	 * starts it again.  last_exit: how its last worker ended.
	 */
	unsigned schema_version;
	/* What the store has of it (persist.c, its "services"): the version
	 * and schema last saved, 0 and NULL when none (b->lock). */
	unsigned stored_version;
	struct cub_val *stored_schema;
	/* And the policy saved with them; unknown in a store from before
	 * policies were stored (counted as the same). */
	bool stored_policy_known;
	struct cub_bpf_policy stored_policy;
	bool reload;
	bool reload_waiting;
	pid_t reload_pid; /* the worker the reload replaces, 0: none */
	struct client_req reload_req;
	uint32_t reload_msgid;
	bool next_due;
	struct cubi_schema *next_schema;
	struct cub_val *next_wire;
	struct ctr_table *next_counters;
	struct cub_bpf_policy next_policy;
	unsigned hello_refusals;
	/*
	 * A failed reload (docs/architecture.md, "Plugin upgrades"): the
	 * plugin file each worker was started from is opened at its spawn
	 * (spawn_fd); the one whose hello was accepted last is kept
	 * (good_fd).  After a reload whose hello was refused, fallback is
	 * set and workers start from a copy of good_fd (fallback_path) until
	 * the next reload; reload_err says why.  All under b->lock.
	 */
	int spawn_fd, good_fd;
	/* A reload's new file, its hello accepted: good_fd only once the
	 * reload's replay ends with its worker alive; -1 when none.  What
	 * reload_take() replaced, put back if that worker dies first. */
	int reload_fd;
	bool reload_took;
	struct cub_bpf_policy reload_prev_policy;
	unsigned reload_prev_version;
	bool fallback;
	char fallback_path[PATH_MAX];
	char reload_err[256];
	bool stopped;
	char last_exit[64];
	char last_error[256];
	/* The last error line a worker of it wrote, for 'services' (wlog.c
	 * writes it, under its lock: wlog_last_words()). */
	char last_words[256];
	/* What the worker that ended as last_exit says had said (main
	 * thread). */
	char exit_words[256];
	struct svc_retired *retired; /* schemas replaced, kept until exit */
};

/* What a reload replaced: a thread that dropped b->state_lock around a
 * worker call may still hold pointers into it, so it is never freed. */
struct svc_retired {
	struct cubi_schema *schema;
	struct cub_val *wire;
	struct ctr_table *counters;
	struct svc_retired *next;
};
#define SUP_HELLO_REFUSALS 3

struct rid_entry {
	char rid[65];
	/* Whose: request ids are a namespace per tenant (NULL: admins'). */
	const struct tenant *tenant;
	uint64_t hash;         /* of the request: method, params but rid */
	struct cub_val *reply; /* {error, result} */
};

struct broker {
	struct broker_opts o;
	pthread_mutex_t state_lock;
	pthread_mutex_t lock;
	struct service *svcs;
	struct cube *cubes;
	struct cube *dying; /* deleted, not yet released (b->lock) */
	struct tpoint *tpoints; /* transparent attach points (tcube.c) */
	bool tp_pending; /* cells or cubes wait for a grace (tcube_tick()) */
	struct clients *cl; /* client and events connections (clients.c) */
	char store_path[4096];
	struct rid_entry rids[RID_CACHE];
	unsigned rid_next;
	uint64_t pktin_dropped; /* by cubes that are gone, and totals */
	volatile int stop;
	int wake[2]; /* pipe: service threads wake the main loop */
	int sigfd;
	int ncpus;
	struct netmon *nm; /* netmon.c: netdevs and their events */
	/* --tenants (tenants.c): read at start, never changed after. */
	struct tenant *tenants;
	unsigned ntenants;
	/* Their quotas' buckets and refusals (quota.c), by tenant index. */
	struct tenant_use *tenant_use;
};

/* helper.c: registered helper processes, run for a worker. */
int helper_register(struct broker *b, const char *spec, char *err,
    size_t errlen);
void helper_fini(void);
int helper_call(struct service *s, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv);

/* broker.c */
int64_t now_ms(void);
void broker_wake(struct broker *b);

/* pktout.c: packet.out {cube, port, flags, data} of a worker. */
void pktout_flood(struct broker *b, struct cube *c, uint32_t in_port,
    uint32_t took, const void *data, size_t len);
int pktout_call(struct service *s, const struct cub_val *p,
    struct cub_val **res, struct cub_val **errv);

/* clients.c */
int clients_init(struct broker *b);
void clients_fini(struct broker *b);
int clients_fd(const struct broker *b);
int clients_timeout(struct broker *b);
bool clients_poll(struct broker *b);
bool clients_alive(struct broker *b, const struct client_req *req);
/* A connection that is not an accept of the client socket (tls.c's
 * socketpair end, fd non-blocking or not): taken like one, with this
 * role, pid (the caps' "process") and uid (their "uid").  fd is the
 * table's from here on (closed on failure too).  0, or -1 when it was
 * refused (a cap). */
int clients_adopt(struct broker *b, int fd, uint64_t pid, uint32_t uid,
    enum client_role role, const struct tenant *tenant);

/* tls.c: --listen-tls URL,ca=,cert=,key=,role=.  tls_listener_add()
 * checks one (before any socket: files readable, PEM, role, tenant),
 * tls_start() listens on each, tls_stop() closes the listeners. */
#define CUB_TLS_LISTENERS_MAX 16
/* The uid a TLS listener's connections count as (caps, queue shares,
 * logs): TLS_UID_BASE + its index, no real user's (tenants' ids stop
 * below 4294967295, and a tenant's uid is matched on local peers only). */
#define CUB_TLS_UID_BASE 4294967040u
int tls_listener_add(
    struct broker *b, const char *spec, char *err, size_t errlen);
int tls_start(struct broker *b);
void tls_stop(void);
int clients_reply(struct broker *b, const struct client_req *req,
    const void *buf, size_t len);
/* owner: the tenant whose cube the event is of ("": an admin's cube or
 * the framework's): a tenant's subscription gets its own only. */
void clients_publish(
    struct broker *b, const void *msg, size_t len, const char *owner);

/* api.c */
void api_handle(struct broker *b, const struct client_req *req,
    const void *body, size_t len);
void api_answer(struct broker *b, const struct client_req *req, uint32_t msgid,
    struct cub_val *result);
void api_refuse(struct broker *b, const struct client_req *req,
    uint32_t msgid, struct cub_val *errv);
void api_serve(
    struct broker *b, const struct client_req *req, struct cub_rpc *rpc);
struct service *api_route(struct broker *b, const struct cub_rpc *rpc);
/* An event of owner's cube (the cube's c->owner; "": an admin's or no
 * cube's): only admins, readers and owner's connections get it. */
void api_publish(struct broker *b, const char *event, struct cub_val *params,
    const char *owner);
/*
 * Tenants (docs "Tenants"), for the request being served on this thread:
 * its tenant (NULL: not a tenant's request, or none being served); does
 * it see cube c (a tenant sees its own only; a cube it does not see is
 * reported as missing, with the words of a missing one); may it use the
 * netdev ifname (0, or -EPERM with errv naming the netdev and tenant).
 */
const struct tenant *api_tenant(void);
bool api_sees(const struct cube *c);
int api_netdev_granted(const char *ifname, struct cub_val **errv);

/*
 * quota.c: tenants' quotas (docs "Tenants"); each refusal CUB_E_QUOTA in
 * *errv, -EDQUOT.  quota_count(): what owner's cubes hold (but except),
 * ports only with docs (b->state_lock held).  quota_cube_add(): the
 * request's tenant may make one more cube; quota_ports(): c's ports in
 * doc within its owner's quota, or no more than in old (its document
 * before; NULL: none), state lock held; quota_load(): c's load of
 * bytes of maps within its owner's programs and map-bytes (b->lock);
 * quota_request(): the request's tenant's rps bucket (main thread);
 * quota_pktin(): false: drop the packet of c (its owner's pktin-pps).
 */
int quota_init(struct broker *b);
void quota_count(const struct broker *b, const char *owner,
    uint64_t use[TQ__MAX], const struct cube *except, bool docs);
int quota_cube_add(struct broker *b, struct cub_val **errv);
int quota_ports(struct broker *b, const struct cube *c,
    const struct cub_val *doc, const struct cub_val *old,
    struct cub_val **errv);
int quota_load(struct broker *b, const struct cube *c, uint64_t bytes,
    struct cub_val **errv);
int quota_request(struct broker *b, const struct client_req *req,
    const struct cub_val *params, struct cub_val **errv);
bool quota_pktin(struct broker *b, struct cube *c);
/* After api_handle() (main thread): ms its connection is not read,
 * refused over its tenant's rps; 0: not refused. */
int quota_hold_take(void);
/* 'show tenants': each tenant's use and quotas (a tenant: its own). */
struct cub_val *quota_show(struct broker *b);

/* cube.c: the cube graph and the request side effects */
struct cube *cube_find(struct broker *b, const char *name);
struct service *svc_find(struct broker *b, const char *name);
int cube_create(struct broker *b, struct service *svc, const char *name,
    const struct cub_val *args, const struct cub_val *body,
    struct cub_val **errv);
int cube_update(struct broker *b, struct cube *c, struct cub_val *newdoc,
    struct cub_val **errv);
/*
 * A request's change, already made in place on c->doc by
 * cubi_tree__change() (no copy of the document): res is its result, whose
 * undo record puts c->doc back on any refusal (ports, graph, worker,
 * store); res->verb (CUBI_SET, _ADD, _DEL) with words (after the cube's
 * name) say what it changed, and where (NULL unless a del: the entry's
 * place before it, broker_journal_where()) where it was; the store
 * journals that node from the change list (persist.c).  oldports (owned)
 * is a copy of the document's "ports" before the change, or NULL.  Committed or
 * undone on return; the caller clears res.
 */
int cube_change(struct broker *b, struct cube *c, struct cubi_result *res,
    const struct cub_val *words, const struct cub_val *where,
    struct cub_val *oldports, struct cub_val **errv);

/* A whole copy of c's document was made for a request. */
static inline void
cube_copied(struct cube *c)
{
	__atomic_add_fetch(&c->svc->doc_copies, 1, __ATOMIC_RELAXED);
}
int cube_delete(struct broker *b, struct cube *c, struct cub_val **errv);
/*
 * Lock held: take c out of b->cubes into b->dying (deleted): its name
 * stays taken until cube_release() or, while a load of its object runs,
 * that load's end (cube_reap()) unpins and frees it.  0 or the unpin's
 * -errno.
 */
void cube_remove(struct broker *b, struct cube *c);
int cube_release(struct broker *b, struct cube *c);
/* Lock held: take c out of b->dying, unpin and free it (a load's end). */
void cube_reap(struct broker *b, struct cube *c);
int cube_apply_timeout(const struct broker *b, const struct service *s);
char *cube_revalidate(struct broker *b, struct cube *c, bool *filled);
int cube_sync(
    struct broker *b, struct cube *c, bool create, struct cub_val **errv);
struct cube *cube_free(struct cube *c);
const char *hook_name(enum hook h);
int hook_parse(const char *s, enum hook *h);

/* graph.c: connect, disconnect and the tail-call budget */
/* A cube's document as a change would leave it (c need not be listed). */
struct graph_change {
	struct cube *c;
	struct cub_val *doc;
	/* The ports before, when doc is c->doc changed in place
	 * (cube_change()): {ports: [...]}; NULL: c->doc is the before. */
	const struct cub_val *old;
};
/*
 * Refuse (-EINVAL, *errv naming the chain or loop and the limit) a change
 * that gives a port a cube peer and leaves the graph with a chain of more
 * than GRAPH_CUBES_MAX cubes or a loop.  Takes b->lock; main thread.
 */
int graph_check(struct broker *b, const struct graph_change *ch, unsigned nch,
    struct cub_val **errv);
/*
 * The tail-call budget with the transparent stacks on cube ports and
 * extra more (an attach to target being checked): the longest chain's
 * 2N - 1 plus tcube_budget() plus extra must fit in 33; -EINVAL and *errv
 * otherwise.  Takes b->lock; not held.
 */
int graph_budget(struct broker *b, unsigned extra, const char *target,
    struct cub_val **errv);
/* The same with b->lock held (topo_attach(): a port peered with a netdev
 * whose XDP dispatcher will end in its cube). */
int graph_budget_held(struct broker *b, unsigned extra, const char *target,
    struct cub_val **errv);
/*
 * connect|disconnect <cube:port> <cube:port | netdev> (words[0] is the
 * verb): both sides' peers set or cleared through cube_update(); a refusal
 * changes nothing.  Main thread, lock not held.
 */
int graph_connect(struct broker *b, const struct cub_val *words,
    const struct cub_val *args, bool connect, struct cub_val **errv);

/* bpfobj.c */
/*
 * Load (or keep, same bytes) the cube's object.  Called and returns with
 * b->lock held, but drops it around the verifier: the caller may touch c
 * afterwards only on success (a cube deleted meanwhile is gone).
 */
int bpfobj_load(struct broker *b, struct cube *c, const void *elf, size_t len,
    struct cub_val **errv);
int bpfobj_adopt(struct broker *b, struct cube *c, uint64_t hash,
    uint32_t checked, uint64_t rules);
/* Was c's program checked under the rules the broker has now (its
 * service's policy, cubicled's options, the exit check's version)? */
bool bpfobj_vetted(const struct broker *b, const struct cube *c);
/* Lock held: take c's unvetted program off every path and unpin it. */
void bpfobj_retire(struct broker *b, struct cube *c, const char *why);
/*
 * Main thread, b->state_lock held: each unvetted program gets
 * --vet-timeout to be replaced by a load that passes today's rules, or is
 * retired.  Returns the ms until the next deadline, or -1.
 */
int bpfobj_vet_tick(struct broker *b);
/* Whether s was named by --unhardened-service (its objects are verified
 * with CAP_PERFMON). */
bool bpfobj_unhardened(const struct broker *b, const struct service *s);
int bpfobj_hopkey_fd(struct broker *b, struct cube *c);
struct bpfobj *bpfobj_free(struct bpfobj *o);
int bpfobj_unpin(struct broker *b, const char *cube);
struct bmap *bpfobj_map(struct bpfobj *o, const char *name);
int pin_path(struct broker *b, char *buf, size_t len, const char *cube,
    const char *leaf);
int bpffs_ensure(const char *pin_root);
void bpfobj_libbpf_log(int prio, const char *fmt, va_list ap);
bool bpf_map_type_holds_fds(uint32_t type);
bool bpf_map_type_percpu(uint32_t type);
bool bpf_map_type_broker_only(uint32_t type);
uint64_t bpf_map_bytes(const struct broker *b, uint32_t type, uint32_t key_size,
    uint32_t value_size, uint32_t max_entries);
uint64_t bpf_map_memlock(int fd);

/* cubelog.c: per-cube loglevel and log */
#define CUBELOG_LINES 1000   /* lines a cube's log holds */
#define CUBELOG_TEXT_MAX 256 /* bytes of one line before escaping */
struct cubelog;
int cubelog_doc_level(const struct cub_val *doc);
int cubelog_open(struct broker *b, struct cube *c);
void cubelog_update(struct broker *b, struct cube *c);
struct cubelog *cubelog_free(struct cubelog *l);
int cubelog_worker_line(struct cube *c, int level, const char *text, size_t n);
/* A line of the broker's own (who changed the cube), kept as a worker's
 * line is: at the cube's loglevel, paid from the service's bucket. */
void cubelog_broker_line(struct cube *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cubelog_poll(struct broker *b);
int cubelog_fds(struct broker *b, struct pollfd *pfd, int max, int *timeout_ms);
int cubelog_show(struct broker *b, struct cube *c, const struct cub_val *words,
    struct cub_val **result, struct cub_val **errv);

/* svclog.c: a record a service's worker caused may be logged. */
bool svc_log_allowed(struct service *s);

/* topology.c */
bool topo_attached(const struct bport *p);
bool topo_tc_has_filters(int ifindex);
/*
 * b->lock held: make what enters c by port run port_entry first again
 * (its netdev's hook, the cub_peers slots of the cubes peering with it):
 * after an ingress stack on c:port came or went.
 */
void topo_port_rewire(struct broker *b, struct cube *c, const char *port);
void topo_flood_sync(struct cube *c);
int topo_cube_gone(struct broker *b, struct cube *gone);
int topo_port_gone(struct broker *b, struct cube *c, const char *port);
bool topo_peer_split(const char *peer, char *cube, char *port);
int topo_attach(struct broker *b, struct cube *c, struct bport *p,
    const char *peer, struct cub_val **errv);
void topo_detach(struct broker *b, struct cube *c, struct bport *p);
/* c's program is retired: off its netdevs and out of its peers' slots,
 * its ports' peers kept for its next load.  Lock held, c->obj set. */
void topo_retire(struct broker *b, struct cube *c);
int topo_reattach_all(struct broker *b, struct cube *c, int old_prog_fd);
struct bport *topo_port(struct cube *c, const char *name);
struct cube *topo_netdev_owner(
    struct broker *b, const char *peer, struct bport **port);
/*
 * Remove from every netdev of the namespace (XDP in any mode, Cubicle's
 * tc ingress slot) the programs of a stray cube: prog_id, or any program
 * using the map ports_map_id (its cub_ports: older programs of it too).
 * Nothing else is touched.  The number of hooks detached, or -errno.
 */
int topo_detach_stray(uint32_t prog_id, uint32_t ports_map_id);

/* tcube.c: transparent cubes, their stacks, show topology */
struct tpoint;
/* attach|detach <cube> <target> [position=...]; main thread. */
int tcube_attach_cmd(struct broker *b, const struct cub_val *words,
    const struct cub_val *args, bool attach, struct cub_val **errv);
/* {cubes, netdevs} or (only) one attach point's chains; main thread. */
int tcube_topology(struct broker *b, const char *only, struct cub_val **result,
    struct cub_val **errv);
bool tcube_on_netdev(struct broker *b, const char *netdev);
/* b->lock held: c is being deleted; out of its stack. */
void tcube_gone(struct broker *b, struct cube *c);
/* b->lock held: c has a new (or adopted) object: its slot and way out. */
void tcube_refresh(struct broker *b, struct cube *c);
/* b->lock held, c->obj still set: c's program is retired; the stacks on
 * its ports end in nothing (they drop). */
void tcube_retire(struct broker *b, struct cube *c);
/* b->lock held, after tcube_retire() and c->obj gone: c's stack slot
 * steps over it, as before a first load. */
void tcube_refresh_slot(struct broker *b, struct cube *c);
/* State lock held, at start after the cubes are loaded: the stacks. */
void tcube_restore(struct broker *b);
/* The broker's cub_host_addrs map (hostaddr.bpf.h; borrowed fd), made
 * and pinned if create (main thread, at the first dump); -errno.  _fd:
 * the one made (any thread), -1 before. */
int netmon_host_addrs(struct broker *b, bool create);
int netmon_host_addrs_fd(const struct broker *b);
/* At a start, cube's adopted program reads host address map fd: the
 * broker keeps that one current from now on (the first one met). */
void netmon_host_addrs_adopt(struct broker *b, const char *cube, int fd);
/* While on, libbpf's warnings on this thread are logged as debug lines
 * (the kernel's expected refusals of tc queries on many netdevs); the
 * previous setting. */
bool broker_libbpf_hush(bool on);
/* Host-wide cubes (CUB_PLUGIN_F_HOSTWIDE): c joins the host stack at
 * its creation (0 or -errno with *errv); netmon.c's netdev events; a
 * port takes netdev ifindex (release) or leaves it (claim: p, its port,
 * no longer counts). */
int tcube_host_join(struct broker *b, struct cube *c, struct cub_val **errv);
void tcube_host_netdev(
    struct broker *b, uint32_t kind, int ifindex, const char *name);
void tcube_host_release(struct broker *b, int ifindex);
void tcube_host_claim(
    struct broker *b, int ifindex, const char *name, const struct bport *p);
/* Main loop: empty the cells of detached cubes once no packet can be in
 * them; ms until it wants to look again, -1 when nothing waits. */
int tcube_tick(struct broker *b);
/* The ingress entry (borrowed fd) of the stack on c:port, -1 if none. */
int tcube_port_entry(struct broker *b, const struct cube *c, const char *port);
/* Is id the ingress entry of a stack on one of c's ports, or the XDP
 * dispatcher of a netdev one of its ports peers with? */
bool tcube_prog_ours(struct broker *b, const struct cube *c, uint32_t id);
/* The XDP dispatcher (borrowed fd) on netdev, -1 if it has none. */
int tcube_xdp_entry(struct broker *b, const char *netdev);
/* Make the end of netdev's XDP dispatcher run prog_fd (-1: XDP_PASS). */
void tcube_xdp_end(struct broker *b, const char *netdev, int prog_fd);
/* May c's port peer with netdev, given the stack there?  0, or -errno
 * and *errv (a TC stack, a TC cube on an XDP stack, another XDP mode). */
int tcube_port_check(struct broker *b, const struct cube *c, const char *port,
    const char *netdev, struct cub_val **errv);
/* b->lock held: c's port (NULL: every port) is going; its stacks are
 * detached.  How many cubes were. */
int tcube_port_gone(struct broker *b, struct cube *c, const char *port);
/* Tail calls the stacks on cube ports (and the XDP dispatchers that end
 * in a port's cube) add to a chain, at most (graph.c's budget): 2n + 2
 * for a stack of n. */
unsigned tcube_budget(struct broker *b);
/* State lock, at start: adopt the pinned stacks the records name. */
void tcube_prepare(struct broker *b, const struct cub_val *records);
struct cub_val *tcube_record(const struct cube *c, const struct cube *gone);
/*
 * The document the worker is handed: c's, with {attached: {target, kind,
 * ...}} for an attached transparent cube (the parent's parameters, read
 * only).  State lock held.
 */
struct cub_val *tcube_config(struct broker *b, struct cube *c);
void tcube_load_record(struct cube *c, const struct cub_val *rec);
/*
 * State lock held, any thread: the parameters of netdev name (old: its
 * name before a rename, or NULL) or of c's port changed; every cube
 * attached there is due a new apply from its service's request thread.
 */
void tcube_netdev_changed(struct broker *b, const char *name, const char *old);
void tcube_port_changed(struct broker *b, const struct cube *c,
    const char *port);
/* State lock held: c's document changed from old (a change is being
 * recorded; old NULL: unknown): the cubes attached to a port whose entry
 * changed are due a new apply, whose `attached` carries the port's
 * fields (tcube_config()). */
void tcube_cube_changed(
    struct broker *b, const struct cube *c, const struct cub_val *old);
/* The request thread, state lock held: a cube's due apply, one a call. */
bool tcube_pending(struct broker *b, struct service *s);
void tcube_deliver(struct broker *b, struct service *s);
/* "tcube th1 (ingress/egress stack position N)" for each cube attached
 * to netdev name, appended at *n of buf, comma-separated. */
void tcube_used_by(struct broker *b, const char *name, char *buf, size_t len,
    size_t *n);

/* store.c (store.h) */
/* persist.c */
/*
 * Write every cube but skip (NULL: none) to the store as a new snapshot,
 * and empty the journal (a full save: deletions, unpeerings, compaction,
 * and the first change of a store).  On failure the
 * store keeps its previous content and *errv (when errv is not NULL) names
 * the store, the failed step and the errno.
 */
int broker_save(
    struct broker *b, const struct cube *skip, struct cub_val **errv);
/*
 * Record the change of one cube c: old is the configuration the store has
 * for it (NULL: c is new, its whole record is written); verb and words
 * (NULL: not known) the request's, so that only the node it addressed is
 * compared (cubi_tree__locate()), else the whole configuration is.  One journal
 * record of what changed (store.h), fsync'd; c->stored_doc is cleared
 * once it is recorded.  The journal is compacted into a new snapshot when
 * it has grown past its bound.  On failure, as broker_save().
 */
int broker_save_cube(struct broker *b, struct cube *c,
    const struct cub_val *old, enum cubi_verb verb,
    const struct cub_val *words, const struct cub_val *where,
    const struct cub_val *changes, struct cub_val **errv);
/*
 * A request that changes several cubes (connect, disconnect): between
 * broker_journal_begin() and broker_journal_commit() the
 * broker_save_cube() calls of this thread are held and then written as
 * one journal record (or one snapshot), all or nothing at a replay.
 * Until the commit each cube's stored_doc is the document the store has
 * (broker_journal_holds()).  The commit clears them; on failure, as
 * broker_save(), and the caller undoes the changes in memory.
 */
void broker_journal_begin(void);
bool broker_journal_holds(const struct cube *c);
int broker_journal_commit(struct broker *b, struct cub_val **errv);
/*
 * For a change made in place (old NULL, changes its change list): the
 * node it addressed is journalled from the list, where being a del's
 * entry's place before it.  broker_journal_where(): the place (steps
 * from the document's root) of the node a request's words address in
 * c->doc now, or NULL.
 */
struct cub_val *broker_journal_where(struct cube *c, enum cubi_verb verb,
    const struct cub_val *words);
int broker_load(struct broker *b);
/*
 * The schema version a service accepted, kept in the store: is what the
 * store has (stored_version, stored_schema) behind what the service has
 * now (svc_version_due()), and, once a snapshot holds it, the store's
 * (svc_version_saved()).  Neither with b->lock held.
 */
bool svc_version_due(struct broker *b, struct service *s);
void svc_version_saved(struct broker *b, struct service *s);
/* Whether s's accepted policy is the one stored with its version (true
 * when the store has none: a store from before policies were kept);
 * b->lock held. */
bool svc_policy_stored(const struct service *s);
/*
 * A clean stop: the journal, when it holds records, is compacted into a
 * snapshot (the store is then one file), and closed.
 */
void broker_store_close(struct broker *b);
/*
 * The service of the kept record (a cube of a service not installed, or a
 * record a load refused) that holds name, NULL when none.  State lock held.
 */
const char *broker_kept_service(const char *name);

/* slowpath.c */
int slowpath_open(struct broker *b, struct cube *c);
void slowpath_poll(struct broker *b);
int slowpath_fds(struct broker *b, struct pollfd *pfd, int max);
bool slowpath_pending(struct broker *b, struct service *s);
void slowpath_deliver(struct broker *b, struct service *s);

/* netmon.c: netdevs of the namespace and their events (rtnetlink) */
struct netmon;
struct netq;
int netmon_init(struct broker *b);
void netmon_fini(struct broker *b);
int netmon_fd(const struct broker *b);
bool netmon_poll(struct broker *b);
/* Whether the netdev of an attached port is up (IFF_UP, IFF_RUNNING). */
bool netmon_up(struct broker *b, int ifindex);
/* What of the kinds a hello asked for the service gets (CUB_NETDEV_HOST
 * only if --host-netdev-events names it). */
uint32_t netmon_hello_mask(struct service *s, uint32_t asked);
bool netmon_pending(struct broker *b, struct service *s);
/* netdev.list for a worker (worker-call thread; takes b->state_lock). */
int netmon_list_call(struct service *s, const struct cub_val *params,
    struct cub_val **res, struct cub_val **errv);
void netmon_deliver(struct broker *b, struct service *s);
void netmon_service_stats(const struct service *s, uint64_t *sent,
    uint64_t *dropped, uint64_t *queued);
int netmon_show(struct broker *b, const struct cub_val *words,
    struct cub_val **result, struct cub_val **errv);
struct cub_val *netmon_stats(struct broker *b);

/* supervisor.c */
/* c was applied whole by its worker: a refused replay's retry ends. */
void sup_replay_done(struct cube *c);
int sup_init(struct broker *b);
void sup_tick(struct broker *b);
int sup_next_timeout(const struct broker *b);
/* Whether the calling thread is s's request thread (the one that may
 * call its worker). */
bool sup_on_thread(const struct service *s);
int sup_call(struct service *s, const char *method, struct cub_val *params,
    struct cub_val **result, struct cub_val **errv, int timeout_ms);
int sup_enqueue(struct service *s, const struct client_req *req,
    struct cub_rpc *rpc, struct cub_val **errv);
void sup_kick(struct service *s);
int sup_reload(struct broker *b, struct service *s,
    const struct client_req *req, uint32_t msgid, struct cub_val **errv);
void sup_reload_failed(struct service *s, const char *why);
void sup_shutdown(struct broker *b);

/* wlog.c: workers' stdout and stderr, marked, escaped and rate-limited */
int wlog_pipe(int fds[2]);
/* Read worker pid's log from fd; its error lines go to last[0..len). */
void wlog_start(const char *svc, pid_t pid, int fd, char *last, size_t len);
/* A copy of (or, out NULL, an end to) what wlog_start()'s last holds. */
void wlog_last_words(char *last, char *out, size_t len);
/* Waits up to timeout_ms for the end of dead worker pid's log (every
 * line of it read): false if a writer of its pipe lives on. */
bool wlog_drain(pid_t pid, int timeout_ms);
void wlog_shutdown(void);

/* worker_calls.c: the per-service thread serving worker requests */
void *wcall_thread(void *arg);

#endif
