// SPDX-License-Identifier: BSD-2-Clause
/*
 * cubicle-worker: the host of one service plugin.
 *   1. open the plugin file (as root: the path may not be the service
 *      uid's to traverse) and drop every capability from the bounding set
 *      (so no thread, nng's included, can regain one through exec);
 *   2. dial the broker's two sockets for this service, the only
 *      connections it ever makes: either one closing ends the worker;
 *   3. sandbox_enter(): a root of its own (a mount namespace holding
 *      only the plugin file and the system libraries, read-only), uid/gid,
 *      the parent-death signal (the broker),
 *      capabilities, no_new_privs, Landlock (read only the plugin and
 *      the system libraries), the seccomp filter, rlimits: the whole
 *      sandbox, since nothing added after plugin code ran could be
 *      trusted;
 *   4. load the plugin (dlopen of the file bound into the new root, so
 *      its constructors run inside the sandbox) and check its entry;
 *   5. hello, then serve the broker's requests until it goes away.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <linux/capability.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "call.h"
#include "cubicle/plugin.h"
#include "cubicle/proto.h"
#include "log.h"
#include "parse.h"
#include "sandbox.h"
#include "worker_rt.h"

struct worker_opts {
	const char *plugin;
	const char *service;
	const char *socket_dir;
	uid_t uid;
	gid_t gid;
};

static int
parse_opts(int argc, char **argv, struct worker_opts *o)
{
	static const struct option longopts[] = {
	    {"plugin", required_argument, NULL, 'p'},
	    {"service", required_argument, NULL, 's'},
	    {"socket-dir", required_argument, NULL, 'S'},
	    {"uid", required_argument, NULL, 'u'},
	    {"gid", required_argument, NULL, 'g'},
	    {"debug", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t id;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->plugin = optarg;
			break;
		case 's':
			o->service = optarg;
			break;
		case 'S':
			o->socket_dir = optarg;
			break;
		case 'u':
		case 'g':
			if (cubi_parse_uint(optarg, 1, 4000000000u, &id)) {
				log_err("--%s: '%s' is not a non-root id",
				    c == 'u' ? "uid" : "gid", optarg);
				return -EINVAL;
			}
			if (c == 'u')
				o->uid = (uid_t)id;
			else
				o->gid = (gid_t)id;
			break;
		case 'd':
			log_set_level(LOG_P_DEBUG);
			break;
		default:
			return -EINVAL;
		}
	}
	if (!o->plugin || !o->service || !o->socket_dir || !o->uid || !o->gid) {
		log_err("usage: cubicle-worker --plugin SO --service NAME "
			"--socket-dir DIR --uid UID --gid GID");
		return -EINVAL;
	}
	return 0;
}

/*
 * dlopen() the plugin file opened before the sandbox, where the sandbox
 * bound it in the worker's root: the sandbox's uid need not reach its
 * directory. @path, its name on the host, is for messages.
 */
static const struct cub_plugin *
load_plugin(int fd, const char *path, const char *service)
{
	const struct cub_plugin *pl;
	struct cub_plugin_ops ops;
	char err[160];
	void *h;

	h = dlopen(SANDBOX_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (!h) {
		log_err("plugin %s: %s", path, dlerror());
		return NULL;
	}
	pl = dlsym(h, "cub_plugin_entry");
	if (!pl) {
		log_err("plugin %s: no symbol cub_plugin_entry", path);
		return NULL;
	}
	if (cubi_plugin__check(pl, NULL, &ops, err, sizeof(err))) {
		log_err("plugin %s: %s", path, err);
		return NULL;
	}
	if (strcmp(pl->name, service)) {
		log_err("plugin %s: declares service '%s', started as '%s'",
		    path, pl->name, service);
		return NULL;
	}
	return pl;
}

static int
drop_bounding_set(void)
{
	int cap;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return -errno;
	return 0;
}

/*
 * A broker connection closed (the broker went away, or refused it): the
 * worker never redials, it ends and the next broker starts a new one.
 */
static void
pipe_closed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	log_err("broker connection %s closed; exiting", (const char *)arg);
	_exit(1);
}

static int
dial(nng_socket *s, int (*open)(nng_socket *), const struct worker_opts *o,
    const char *suffix)
{
	char url[PATH_MAX + 16];
	int r;

	snprintf(url, sizeof(url), "ipc://%s/worker-%s.%s", o->socket_dir,
	    o->service, suffix);
	if ((r = open(s)) ||
	    (r = nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, CUB_MSG_MAX)) ||
	    (r = nng_pipe_notify(
		 *s, NNG_PIPE_EV_REM_POST, pipe_closed, (void *)suffix)) ||
	    (r = nng_dial(*s, url, NULL, 0))) {
		log_err("dial %s: %s", url, nng_strerror(r));
		return -ECONNREFUSED;
	}
	return 0;
}

/*
 * One packet.in notification from the pkt socket, if one is there: its
 * packets queued (sdk/src/plugin.c), nothing sent back.  1 if one was.
 */
static int
packets_take(nng_socket pkt)
{
	struct cub_rpc rpc;
	char err[256];
	nng_msg *msg;
	int r;

	if ((r = nng_recvmsg(pkt, &msg, NNG_FLAG_NONBLOCK)))
		return r == NNG_EAGAIN ? 0 : -1;
	memset(&rpc, 0, sizeof(rpc));
	r = cub_rpc__decode(nng_msg_body(msg), nng_msg_len(msg), &rpc, err,
	    sizeof(err));
	nng_msg_free(msg);
	if (r || rpc.type != CUB_RPC_NOTIFY)
		log_err("packet socket: %s", r ? err : "expected a notification");
	else
		cubi_worker__notify(&rpc);
	cub_rpc__clear(&rpc);
	return 1;
}

/*
 * Requests on cmd first; between them, one packet.in notification from
 * pkt at a time, and the queued packets to the plugin one at a time
 * while no request waits (sdk/src/plugin.c); the plugin's ticks when
 * due; poll() on both sockets' receive descriptors when there is nothing
 * to do, until the next tick.
 */
static void
serve(nng_socket cmd, nng_socket pkt)
{
	struct cub_val *result, *errv;
	struct pollfd pfd[2] = {{.events = POLLIN}, {.events = POLLIN}};
	struct cub_rpc rpc;
	char err[256];
	nng_msg *msg;
	int r;

	if ((r = nng_socket_get_int(cmd, NNG_OPT_RECVFD, &pfd[0].fd)) ||
	    (r = nng_socket_get_int(pkt, NNG_OPT_RECVFD, &pfd[1].fd))) {
		log_err("broker socket: %s", nng_strerror(r));
		return;
	}
	for (;;) {
		/* Ticks first: a stream of requests does not starve them. */
		cubi_worker__tick_run();
		r = nng_recvmsg(cmd, &msg, NNG_FLAG_NONBLOCK);
		if (r == NNG_EAGAIN) {
			if ((r = packets_take(pkt)) < 0) {
				log_err("packet socket closed");
				return;
			}
			if (r)
				continue;
			if (cubi_worker__packet_pending()) {
				cubi_worker__packet_next();
				continue;
			}
			if (poll(pfd, 2, cubi_worker__tick_wait()) < 0 &&
			    errno != EINTR) {
				log_errno(-errno, "poll");
				return;
			}
			continue;
		}
		if (r) {
			log_err("broker socket: %s", nng_strerror(r));
			return;
		}
		memset(&rpc, 0, sizeof(rpc));
		r = cub_rpc__decode(nng_msg_body(msg), nng_msg_len(msg), &rpc,
		    err, sizeof(err));
		nng_msg_free(msg);
		result = errv = NULL;
		if (r || rpc.type != CUB_RPC_REQUEST)
			errv = cub_err_val(
			    CUB_E_BADMSG, "%s", r ? err : "expected a request");
		else
			cubi_worker__dispatch(&rpc, &result, &errv);
		cubi_reply(cmd, rpc.msgid, errv, result);
		cub_rpc__clear(&rpc);
	}
}

int
main(int argc, char **argv)
{
	struct worker_opts o = {0};
	const struct cub_plugin *pl;
	nng_socket calls, cmd, pkt;
	pid_t parent = getppid();
	char err[256];
	int fd, r;

	log_set_ident("cubicle-worker");
	if (parse_opts(argc, argv, &o))
		return 1;
	{
		static char ident[64];

		snprintf(ident, sizeof(ident), "cubicle-worker/%s", o.service);
		log_set_ident(ident);
	}
	fd = open(o.plugin, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_errno(-errno, "plugin %s", o.plugin), 1;
	/* Fewer malloc arenas keep the worker well under its AS limit. */
	mallopt(M_ARENA_MAX, 2);
	if ((r = drop_bounding_set()))
		return log_errno(r, "drop capability bounding set"), 1;
	if (dial(&calls, nng_req0_open, &o, "sock") ||
	    dial(&cmd, nng_rep0_open, &o, "cmd") ||
	    dial(&pkt, nng_pull0_open, &o, "pkt"))
		return 1;
	/*
	 * The broker answers every call; the slow one is bpf.load, a
	 * verifier run that a loaded machine stretches past 10 s (loadlock
	 * failed so, the broker having loaded what the worker had given up
	 * on).  The broker's own --call-timeout still bounds the op.
	 */
	nng_socket_set_ms(calls, NNG_OPT_RECVTIMEO, 120000);
	nng_socket_set_ms(calls, NNG_OPT_SENDTIMEO, 120000);
	/* The supervisor made sure the broker was our parent at exec time. */
	r = sandbox_enter(&(struct sandbox_opts){
	    .uid = o.uid, .gid = o.gid, .parent = parent, .read_fd = fd});
	if (r == -ESRCH)
		return log_err("broker %d is gone; exiting", (int)parent), 1;
	if (r == -ESTALE) {
		log_err(
		    "plugin %s: replaced while the worker started", o.plugin);
		return 1;
	}
	if (r)
		return log_errno(r, "enter sandbox"), 1;
	pl = load_plugin(fd, o.plugin, o.service);
	if (!pl)
		return 1;
	if (cubi_worker__init(pl, calls))
		return log_err("plugin '%s': bad entry", pl->name), 1;
	if ((r = cubi_worker__hello(err, sizeof(err))))
		return log_err("hello refused by broker: %s", err), 1;
	log_info("sandboxed as uid %u; serving service '%s'", (unsigned)o.uid,
	    pl->name);
	serve(cmd, pkt);
	return 1;
}
