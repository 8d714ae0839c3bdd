// SPDX-License-Identifier: BSD-2-Clause
/*
 * transparenthelloworld, control plane: Polycube's transparent sample.
 * ingress-action and egress-action (PASS, DROP or SLOWPATH, any case)
 * are written to th_actions; the per-direction counters are bound to
 * th_stats and read by the broker itself at show.  A transparent service
 * (CUB_PLUGIN_F_TRANSPARENT): its cubes have no ports and are attached
 * with `cubicle attach <cube> <netdev>`, on TC (both directions) or
 * XDP (type=XDP_DRV or XDP_SKB: ingress only).  Slow-path packets are logged
 * at DEBUG and dropped (there is no packet-out yet).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <linux/bpf.h>

#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "transparenthelloworld_shared.h"

/*
 * The test suite's evil_tpass and evil_tburn (plugins/testing) are this
 * plugin built with TH_EVIL_TPASS (its program passes with TC_ACT_OK,
 * which the broker refuses to load) or TH_EVIL_BURN (an action BURN that
 * spends the tail-call budget on itself, with a PROG_ARRAY of its own);
 * review 10's evil_tcore and evil_tthrow (TH_EVIL_CORE, TH_EVIL_THROW)
 * pass with TC_ACT_OK in ways the exit check does not see.
 */
#if defined(TH_EVIL_TPASS)
#include "evil_tpass.skel.h"
#define TH_NAME "evil_tpass"
#define th_elf_bytes evil_tpass__elf_bytes
#elif defined(TH_EVIL_BURN) && defined(TH_EVIL_JMP)
/*
 * review14-progarray-reuse: service evil_tjmp, BURN with 2 hops through
 * its statically filled evil_jmp; built a second time with TH_EVIL_JMP_BAD
 * from an object that also calls bpf_throw (refused after libbpf's load,
 * which fills the prog arrays).
 */
#ifdef TH_EVIL_JMP_BAD
#include "evil_tjmpbad.skel.h"
#define th_elf_bytes evil_tjmpbad__elf_bytes
#else
#include "evil_tjmp.skel.h"
#define th_elf_bytes evil_tjmp__elf_bytes
#endif
#define TH_NAME "evil_tjmp"
#elif defined(TH_EVIL_BURN)
#include "evil_tburn.skel.h"
#define TH_NAME "evil_tburn"
#define th_elf_bytes evil_tburn__elf_bytes
#elif defined(TH_EVIL_CORE)
#include "evil_tcore.skel.h"
#define TH_NAME "evil_tcore"
#define th_elf_bytes evil_tcore__elf_bytes
#elif defined(TH_EVIL_THROW)
#include "evil_tthrow.skel.h"
#define TH_NAME "evil_tthrow"
#define th_elf_bytes evil_tthrow__elf_bytes
#elif defined(TH_EVIL_THROWMAIN)
#include "evil_tthrowm.skel.h"
#define TH_NAME "evil_tthrowm"
#define th_elf_bytes evil_tthrowm__elf_bytes
#elif defined(TH_EVIL_WEAK)
#include "evil_tweak.skel.h"
#define TH_NAME "evil_tweak"
#define th_elf_bytes evil_tweak__elf_bytes
#elif defined(TH_HOSTWIDE)
/* hostth (tests/integration/hostwide.sh): a host-wide twin. */
#include "hostth.skel.h"
#define TH_NAME "hostth"
#define th_elf_bytes hostth__elf_bytes
#elif defined(TH_EVIL_FLIP)
/*
 * Review 10 (review10-tstack-flip): transparent at its first hello after
 * a broker start, with the clean object; not transparent at a later one
 * (here: when EVIL_TFLIP is in its environment; a real one would pick any
 * signal it sees, the date, a coin at every broker start), with an
 * object whose PASS returns TC_ACT_OK (evil_tflip.bpf.o, TH_EVIL_TPASS).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "evil_tflip.skel.h"
#include "transparenthelloworld.skel.h"
#define TH_NAME "evil_tflip"
#define TH_CONST
static bool th_flipped;
static const void *
th_elf_bytes(size_t *len)
{
	return th_flipped ? evil_tflip__elf_bytes(len)
			  : transparenthelloworld__elf_bytes(len);
}
#else
#include "transparenthelloworld.skel.h"
#define TH_NAME "transparenthelloworld"
#define th_elf_bytes transparenthelloworld__elf_bytes
#endif

struct th_cube {
	cub_map actions;
	bool loaded;
};

static const char *const th_action_names[] = {
    "PASS", "DROP", "SLOWPATH",
#ifdef TH_EVIL_BURN
    "BURN",
#endif
    NULL};

#define TH_STAT(dir, f)                                                        \
	(&(const struct cub_counter){.map = "th_stats",                        \
	    .key = (dir),                                                      \
	    .offset = offsetof(struct th_stats, f),                            \
	    .width = sizeof(((struct th_stats *)0)->f)})

static const struct cub_field th_schema[] = {
    {.name = "ingress-action",
	.type = CUB_T_ENUM,
	.enums = th_action_names,
	.dflt = "PASS",
	.help = "what to do with packets coming in (from the wire towards "
		"the stack)"},
    {.name = "egress-action",
	.type = CUB_T_ENUM,
	.enums = th_action_names,
	.dflt = "PASS",
	.help = "what to do with packets going out (towards the wire; TC "
		"only: XDP has no egress hook)"},
    {.name = "ingress-packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets seen coming in",
	.counter = TH_STAT(TH_INGRESS, packets)},
    {.name = "egress-packets",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets seen going out",
	.counter = TH_STAT(TH_EGRESS, packets)},
    {.name = "ingress-drops",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets coming in that ingress-action dropped",
	.counter = TH_STAT(TH_INGRESS, drops)},
    {.name = "egress-drops",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "packets going out that egress-action dropped",
	.counter = TH_STAT(TH_EGRESS, drops)},
    {0},
};

static uint32_t
action_code(const char *name)
{
	if (name && !strcasecmp(name, "DROP"))
		return TH_DROP;
	if (name && !strcasecmp(name, "SLOWPATH"))
		return TH_SLOWPATH;
#ifdef TH_EVIL_BURN
	if (name && !strcasecmp(name, "BURN"))
		return TH_BURN;
#endif
	return TH_PASS;
}

/* ", mtu M, peer P, N addresses: a/l b/l ..." of attached ("" if none),
 * cut with "..." to fit a log line. */
static void
attached_text(const struct cub_val *att, char *buf, size_t size)
{
	const struct cub_val *addrs = cub_val__get(att, "addresses");
	const char *peer = cub_val__get_str(att, "peer"), *a;
	uint32_t i,
	    n = addrs && addrs->kind == CUB_V_ARRAY ? addrs->arr.len : 0;
	uint64_t mtu = 0;
	size_t len = 0;
	int w;

	buf[0] = '\0';
	if (!att)
		return;
	if (!cub_val__as_u64(cub_val__get(att, "mtu"), &mtu)) {
		w = snprintf(buf, size, ", mtu %" PRIu64, mtu);
		len = w > 0 && (size_t)w < size ? (size_t)w : 0;
	}
	if (peer) {
		w = snprintf(buf + len, size - len, ", peer %s",
		    peer[0] ? peer : "(none)");
		len = w > 0 && (size_t)w < size - len ? len + (size_t)w : len;
	}
	w = snprintf(buf + len, size - len, ", %" PRIu32 " addresses:", n);
	len = w > 0 && (size_t)w < size - len ? len + (size_t)w : len;
	for (i = 0; i < n; i++) {
		a = cub_val__as_str(addrs->arr.items[i]);
		w = snprintf(buf + len, size - len, " %s", a ? a : "?");
		if (w < 0 || (size_t)w + 5 > size - len) {
			snprintf(buf + len, size - len, " ...");
			return;
		}
		len += (size_t)w;
	}
}

static int
th_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct th_cube *th = cub_cube__priv(cube);
	uint32_t keys[TH_DIRS] = {TH_INGRESS, TH_EGRESS}, acts[TH_DIRS];
	const struct cub_val *att;
	char more[640];
	size_t len;
	const void *elf;
	int r;

	if (create || !th->loaded) {
		elf = th_elf_bytes(&len);
		if ((r = cub_cube__load(cube, elf, len)))
			return r;
		if (cub_cube__map(cube, "th_actions", &th->actions))
			return cub_cube__set_error(cube, CUB_E_INTERNAL,
			    "cube '%s': map th_actions missing",
			    cub_cube__name(cube));
		th->loaded = true;
	}
	acts[TH_INGRESS] =
	    action_code(cub_val__get_str(config, "ingress-action"));
	acts[TH_EGRESS] = action_code(cub_val__get_str(config, "egress-action"));
	if ((r = cub_map__update_batch(
		 cube, &th->actions, keys, acts, TH_DIRS, 0)))
		return r;
	/* The attach point's parameters, as the broker says them. */
	att = cub_val__get(config, "attached");
	attached_text(att, more, sizeof(more));
	cub_cube__log(cube, CUB_LOG_INFO,
	    "configuration %s: ingress-action %s, egress-action %s; "
	    "%s%s%s%s%s",
	    create ? "applied (new)" : "changed",
	    th_action_names[acts[TH_INGRESS]],
	    th_action_names[acts[TH_EGRESS]],
	    att ? "attached to " : "not attached",
	    att ? cub_val__get_str(att, "target") ?: "?" : "",
	    att && cub_val__get_str(att, "mac") ? ", mac " : "",
	    att ? cub_val__get_str(att, "mac") ?: "" : "", more);
	return 0;
}

static void
th_packet_in(struct cub_cube *cube, uint32_t dir, const void *data, size_t len)
{
	(void)data;
	cub_cube__log(cube, CUB_LOG_DEBUG, "slow path: %zu bytes, %s", len,
	    dir == TH_EGRESS ? "egress" : "ingress");
}

static const struct cub_plugin_ops th_ops = {
    .apply = th_apply,
    .packet_in = th_packet_in,
};

#ifndef TH_CONST
#define TH_CONST const
#endif
TH_CONST struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = TH_NAME,
    .description = "transparent sample: per-direction pass / drop / slow "
		   "path, with counters",
    .cube_size = sizeof(struct th_cube),
    .schema = th_schema,
    .ops = &th_ops,
    .policy =
	{
	    .prog_types = (1u << BPF_PROG_TYPE_SCHED_CLS) |
			  (1u << BPF_PROG_TYPE_XDP),
	    .map_types = (1ull << BPF_MAP_TYPE_ARRAY) |
			 (1ull << BPF_MAP_TYPE_PERCPU_ARRAY) |
#ifdef TH_EVIL_BURN
			 (1ull << BPF_MAP_TYPE_PROG_ARRAY) | /* evil_jmp */
#endif
			 (1ull << BPF_MAP_TYPE_RINGBUF),
	    .max_map_bytes = 1u << 20,
	},
#ifdef TH_HOSTWIDE /* plugins/testing: hostth, a host-wide twin */
    .flags = CUB_PLUGIN_F_TRANSPARENT | CUB_PLUGIN_F_HOSTWIDE,
#else
    .flags = CUB_PLUGIN_F_TRANSPARENT,
#endif
};

#ifdef TH_EVIL_FLIP
__attribute__((constructor)) static void
th_flip(void)
{
	if (getenv("EVIL_TFLIP")) {
		th_flipped = true;
		cub_plugin_entry.flags &= ~CUB_PLUGIN_F_TRANSPARENT;
	}
}
#endif
