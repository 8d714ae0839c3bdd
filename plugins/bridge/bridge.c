// SPDX-License-Identifier: BSD-2-Clause
/*
 * bridge, control plane: Polycube's 802.1Q bridge (pcn-bridge), TC.
 *
 * The dataplane learns and forwards alone (bridge.bpf.c).  The worker
 * turns the document into maps: br_port (each port's mode and access or
 * native VLAN), br_vlan (each VLAN's ports, untagged ones, forwarding
 * ones: port indices only), br_static (the document's `fdb entry` list,
 * keyed (vlan, address)) and br_config (the aging time).  The flood of a
 * VLAN is the framework's selective flood (flood_sel.bpf.h): the fast
 * path names the VLAN's ports by index, the broker's egress program
 * sends the copies to the netdevs it wired.  FDB upkeep (forget a port's
 * hosts, sweep aged ones) is l2common's, shared with simplebridge.
 * Spanning tree (stp-enabled): one 802.1D instance per VLAN that has
 * ports (bridge_stp.c), its BPDUs from the fast path (packet_in, reason
 * BR_REASON_BPDU | vid) and out by packet-out, its timers on the
 * worker's tick; the states it decides go to br_pstate (per (port,
 * VLAN)) and to br_vlan (fwd: the flood's ports; pstate: the VLAN's
 * states are looked up, its BPDUs sent up).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#include "bridge.skel.h"
#include "bridge_shared.h"
#include "bridge_stp.h"
#include "cube_shared.h"
#include "cubicle/plugin.h"
#include "l2_fdb.h"

#define BR_SHOW_MAX 4096
#define BR_AGING_MAX 1000000

_Static_assert(sizeof(struct br_entry) == sizeof(struct l2_entry) &&
		   sizeof(struct br_key) == sizeof(struct l2_key),
    "bridge FDB shapes are l2common's");
_Static_assert(BR_WORDS * 32 == CUB_MAX_PORTS, "a bit per port");

struct br_static_rec {
	struct br_key key;
	uint32_t port;
};

#define BR_STP_MAX 256 /* VLANs under STP */
#define BR_TICK_MS 100

/* The document's stp <vlan> entry (or the defaults). */
struct br_stp_vcfg {
	bool set;
	uint16_t prio;
	uint32_t fwd, hello, max_age; /* ms */
};

/* The document's ports <p> stp <vlan> entry. */
struct br_stp_pcfg {
	uint16_t port, vlan;
	uint32_t cost;
	uint8_t prio;
};

/* What a document asks of the maps. */
struct br_want {
	struct br_port pt[CUB_MAX_PORTS];
	struct br_vlan vl[BR_VLANS];
	struct br_static_rec *st;
	uint32_t nst;
	uint64_t aging_ns;
	bool stp_on;
	struct br_stp_vcfg sv[BR_VLANS];
	struct br_stp_pcfg *sp;
	uint32_t nsp;
};

/* One VLAN's instance and what of it the maps hold. */
struct br_inst {
	struct stp_inst s;
	uint8_t mstate[STP_PORTS]; /* in br_pstate; 0xff: no entry */
	uint32_t untag[BR_WORDS];
};

struct br_cube {
	cub_map config, fdb, stat, port, vlan, pstate;
	bool loaded;
	struct br_want *cur; /* as written (NULL: nothing yet) */
	char port_name[CUB_MAX_PORTS][CUB_NAME_MAX + 1]; /* by index */
	/* Spanning tree. */
	bool stp_on, in_apply;
	struct br_inst *inst[BR_VLANS];
	bool link_down[CUB_MAX_PORTS];
	uint8_t mac[6];
	uint64_t aging_now_ns; /* br_config's, shortened in a topology
				  change */
};

static const char *const br_modes[] = {"access", "trunk", NULL};

#define BR_STAT(f, help)                                                       \
	CUB_PORT_COUNTER(#f, help, "br_stats", struct br_stats, f)

static const struct cub_field br_access_fields[] = {
    {.name = "vlanid",
	.type = CUB_T_U16,
	.dflt = "1",
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the VLAN of an access port (1..4094)"},
    {0},
};

static const struct cub_field br_allowed_fields[] = {
    {.name = "vlanid",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "a VLAN the trunk carries, tagged (1..4094)"},
    {0},
};

static const struct cub_field br_trunk_fields[] = {
    {.name = "allowed",
	.type = CUB_T_LIST,
	.children = br_allowed_fields,
	.help = "the VLANs a trunk port carries tagged"},
    {.name = "native-vlan",
	.type = CUB_T_U16,
	.dflt = "1",
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the VLAN of the untagged frames of a trunk port"},
    {.name = "native-vlan-enabled",
	.type = CUB_T_BOOL,
	.dflt = "true",
	.help = "untagged frames on a trunk port are native-vlan's (false: "
		"dropped)"},
    {0},
};

static const struct cub_field br_pstp_fields[] = {
    {.name = "vlan",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the VLAN of the spanning tree instance"},
    {.name = "path-cost",
	.type = CUB_T_U32,
	.dflt = "4",
	.min = 1,
	.max = 200000000,
	.help = "the port's cost towards the root in this VLAN"},
    {.name = "port-priority",
	.type = CUB_T_U32,
	.dflt = "128",
	.min = 0,
	.max = 240,
	.help = "the port's priority in this VLAN (0..240, a multiple of "
		"16: the upper 4 bits of the port id)"},
    {.name = "state",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "disabled, blocking, listening, learning or forwarding"},
    {.name = "role",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "root, designated, alternate (blocked) or disabled"},
    {.name = "designated-bridge",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the bridge id of the designated bridge of the port's link"},
    {.name = "bpdus-in",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "BPDUs of this VLAN received on the port"},
    {.name = "bpdus-out",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "BPDUs of this VLAN sent out of the port"},
    {0},
};

static const struct cub_field br_port_fields[] = {
    {.name = "mode",
	.type = CUB_T_ENUM,
	.enums = br_modes,
	.dflt = "access",
	.help = "access (one VLAN, untagged) or trunk (tagged VLANs)"},
    {.name = "access",
	.type = CUB_T_CONTAINER,
	.children = br_access_fields,
	.help = "access mode: the port's VLAN"},
    {.name = "trunk",
	.type = CUB_T_CONTAINER,
	.children = br_trunk_fields,
	.help = "trunk mode: allowed VLANs and the native VLAN"},
    {.name = "stp",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = br_pstp_fields,
	.help = "the port in each VLAN's spanning tree: path-cost, "
		"port-priority; shown for every VLAN of the port with "
		"stp-enabled, with its state"},
    BR_STAT(rx_packets, "frames received on this port"),
    BR_STAT(rx_bytes, "bytes received on this port"),
    BR_STAT(tx_packets, "frames to a known host sent out of this port"),
    BR_STAT(tx_bytes, "bytes to a known host sent out of this port"),
    BR_STAT(drops, "frames received on this port and dropped"),
    BR_STAT(floods, "frames received on this port and flooded in their "
		    "VLAN"),
    BR_STAT(vlan_drops, "of drops: a VLAN this port does not carry, a tag "
			"on an access port, untagged with native VLAN off"),
    BR_STAT(bpdus, "BPDUs received on this port (stp-enabled: to the "
		   "worker)"),
    {0},
};

static const struct cub_field br_entry_fields[] = {
    {.name = "vlan",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the host's VLAN"},
    {.name = "address",
	.type = CUB_T_MAC,
	.flags = CUB_F_KEY,
	.help = "the host's MAC address"},
    {.name = "port",
	.type = CUB_T_STR,
	.flags = CUB_F_REQUIRED,
	.max = CUB_NAME_MAX,
	.ref = "ports",
	.help = "the port the host is behind"},
    {.name = "age",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "seconds since the host was last seen (0: static)"},
    {.name = "type",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "static (the document's) or dynamic (learned)"},
    {0},
};

static const struct cub_action br_fdb_actions[] = {
    {.name = "flush",
	.help = "forget every learned host (static entries "
		"stay)"},
    {0},
};

static const struct cub_field br_fdb_fields[] = {
    {.name = "aging-time",
	.type = CUB_T_U32,
	.dflt = "300",
	.min = 1,
	.max = BR_AGING_MAX,
	.help = "seconds after which a host not seen is forgotten"},
    {.name = "entry",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = br_entry_fields,
	.help = "hosts by (vlan, address): the static entries added here and "
		"the learned ones (shown, at most 4096)"},
    {0},
};

static const struct cub_field br_stp_fields[] = {
    {.name = "vlan",
	.type = CUB_T_U16,
	.flags = CUB_F_KEY,
	.min = 1,
	.max = BR_VLAN_MAX,
	.help = "the VLAN of the spanning tree instance"},
    {.name = "priority",
	.type = CUB_T_U32,
	.dflt = "32768",
	.min = 0,
	.max = 61440,
	.help = "the bridge's priority in this VLAN (0..61440, a multiple of "
		"4096; the bridge id adds the VLAN, as PVST+)"},
    {.name = "forward-delay",
	.type = CUB_T_U32,
	.dflt = "15",
	.min = 4,
	.max = 30,
	.help = "seconds in listening and in learning (4..30)"},
    {.name = "hello-time",
	.type = CUB_T_U32,
	.dflt = "2",
	.min = 1,
	.max = 10,
	.help = "seconds between the root's config BPDUs (1..10)"},
    {.name = "max-message-age",
	.type = CUB_T_U32,
	.dflt = "20",
	.min = 6,
	.max = 40,
	.help = "seconds after which a port's received information is "
		"dropped (6..40)"},
    {.name = "bridge-id",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "this bridge's id in the VLAN: priority+VLAN (hex) and MAC"},
    {.name = "root-id",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the root bridge's id"},
    {.name = "root-port",
	.type = CUB_T_STR,
	.flags = CUB_F_RO,
	.help = "the port towards the root (empty: this bridge is the root)"},
    {.name = "root-path-cost",
	.type = CUB_T_U32,
	.flags = CUB_F_RO,
	.help = "the cost from this bridge to the root"},
    {.name = "topology-change",
	.type = CUB_T_BOOL,
	.flags = CUB_F_RO,
	.help = "a topology change is being signalled (FDB aging is "
		"forward-delay meanwhile)"},
    {.name = "topology-changes",
	.type = CUB_T_U64,
	.flags = CUB_F_RO,
	.help = "topology changes this bridge started as root"},
    {0},
};

static const struct cub_field br_schema[] = {
    {.name = "mac",
	.type = CUB_T_MAC,
	.help = "the bridge's own MAC address (Polycube's; unset: one made "
		"from the cube's name, see own-mac)"},
    {.name = "own-mac",
	.type = CUB_T_MAC,
	.flags = CUB_F_RO,
	.help = "the bridge's own MAC address in use: mac, or the one made "
		"from the cube's name"},
    {.name = "ports",
	.type = CUB_T_LIST,
	.children = br_port_fields,
	.help = "ports of the bridge"},
    {.name = "fdb",
	.type = CUB_T_CONTAINER,
	.children = br_fdb_fields,
	.actions = br_fdb_actions,
	.help = "the filtering database, per VLAN"},
    {.name = "stp-enabled",
	.type = CUB_T_BOOL,
	.dflt = "false",
	.help = "spanning tree (802.1D), one instance per VLAN with ports"},
    {.name = "stp",
	.type = CUB_T_LIST,
	.flags = CUB_F_SHOWN,
	.children = br_stp_fields,
	.help = "the spanning tree of each VLAN: priority and timers; shown "
		"for every VLAN with ports with stp-enabled, with its root"},
    {0},
};

static void
br_set_bit(uint32_t *w, uint32_t port)
{
	w[port / 32] |= 1u << (port % 32);
}

static bool
br_has_bit(const uint32_t *w, uint32_t port)
{
	return port < CUB_MAX_PORTS && (w[port / 32] >> (port % 32)) & 1;
}

static int
br_u16(const struct cub_val *m, const char *name, uint64_t dflt, uint64_t *out)
{
	const struct cub_val *v = cub_val__get(m, name);

	*out = dflt;
	return v ? cub_val__as_u64(v, out) : 0;
}

static bool
br_vid_ok(uint64_t v)
{
	return v >= 1 && v <= BR_VLAN_MAX;
}

/* One port's entry of the document into w; 0 or refused. */
static int
br_want_port(struct cub_cube *cube, const struct cub_val *p, struct br_want *w)
{
	const char *name = cub_val__get_str(p, "name") ?: "?";
	const struct cub_val *acc = cub_val__get(p, "access");
	const struct cub_val *tr = cub_val__get(p, "trunk");
	const struct cub_val *al = cub_val__get(tr, "allowed");
	uint64_t idx, vid, nat;
	bool native = true;
	uint32_t i;
	int mode;

	if (cub_val__as_u64(cub_val__get(p, "index"), &idx) ||
	    idx >= CUB_MAX_PORTS)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "port '%s': no index", name);
	mode = cub_config__enum_index(p, "mode", br_modes, 0);
	if (br_u16(acc, "vlanid", 1, &vid) || !br_vid_ok(vid))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': access vlanid must be 1..4094", name);
	if (br_u16(tr, "native-vlan", 1, &nat) || !br_vid_ok(nat))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': trunk native-vlan must be 1..4094", name);
	if (cub_val__get(tr, "native-vlan-enabled") &&
	    cub_val__as_bool(cub_val__get(tr, "native-vlan-enabled"), &native))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': trunk native-vlan-enabled: not true or false",
		    name);
	w->pt[idx].flags = BR_P_VALID;
	if (mode == 0) {
		w->pt[idx].pvid = (uint16_t)vid;
		br_set_bit(w->vl[vid].members, (uint32_t)idx);
		br_set_bit(w->vl[vid].untag, (uint32_t)idx);
		return 0;
	}
	if (vid != 1)
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "port '%s': access vlanid %u on a trunk port (a trunk "
		    "carries trunk allowed VLANs; set access vlanid=1 first, "
		    "or mode=access)",
		    name, (unsigned)vid);
	w->pt[idx].flags |= BR_P_TRUNK | (native ? BR_P_NATIVE : 0);
	w->pt[idx].pvid = (uint16_t)nat;
	for (i = 0; al && al->kind == CUB_V_ARRAY && i < al->arr.len; i++) {
		if (cub_val__as_u64(
			cub_val__get(al->arr.items[i], "vlanid"), &vid) ||
		    !br_vid_ok(vid))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "port '%s': trunk allowed vlanid must be 1..4094",
			    name);
		br_set_bit(w->vl[vid].members, (uint32_t)idx);
	}
	if (native) {
		br_set_bit(w->vl[nat].members, (uint32_t)idx);
		br_set_bit(w->vl[nat].untag, (uint32_t)idx);
	}
	return 0;
}

/* The static entries of config, checked against w's VLANs. */
static int
br_want_statics(
    struct cub_cube *cube, const struct cub_val *config, struct br_want *w)
{
	const struct cub_val *list =
	    cub_val__get(cub_val__get(config, "fdb"), "entry");
	const char *addr, *port;
	uint64_t vid;
	uint32_t i, n;
	int idx;

	n = list && list->kind == CUB_V_ARRAY ? list->arr.len : 0;
	if (n > BR_STATIC_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "cube '%s': at most %d static fdb entries, not %u",
		    cub_cube__name(cube), BR_STATIC_MAX, n);
	w->st = calloc(n ? n : 1, sizeof(*w->st));
	if (!w->st)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	for (i = 0; i < n; i++) {
		const struct cub_val *e = list->arr.items[i];

		addr = cub_val__get_str(e, "address") ?: "?";
		port = cub_val__get_str(e, "port");
		if (cub_val__as_u64(cub_val__get(e, "vlan"), &vid) ||
		    !br_vid_ok(vid))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': vlan must be 1..4094", addr);
		w->st[i].key.vlan = (uint16_t)vid;
		if (cub_val__as_mac(
			cub_val__get(e, "address"), w->st[i].key.addr))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': not a MAC address", addr);
		if (w->st[i].key.addr[0] & 1)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry '%s': a multicast address is flooded, "
			    "never a host's",
			    addr);
		idx = port ? cub_config__port_index(config, port) : -ENOENT;
		if (idx < 0 || idx >= CUB_MAX_PORTS)
			return cub_cube__set_error(cube, CUB_E_NOTFOUND,
			    "fdb entry '%s': no port '%s'", addr, port ?: "");
		if (!br_has_bit(w->vl[vid].members, (uint32_t)idx))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "fdb entry %u %s: port '%s' does not carry VLAN %u",
			    (unsigned)vid, addr, port, (unsigned)vid);
		w->st[i].port = (uint32_t)idx;
	}
	w->nst = n;
	return 0;
}

static void
br_want_free(struct br_want *w)
{
	if (w) {
		free(w->st);
		free(w->sp);
		free(w);
	}
}

static int
br_u32f(const struct cub_val *m, const char *name, uint64_t dflt, uint64_t *out)
{
	const struct cub_val *v = cub_val__get(m, name);

	*out = dflt;
	return v ? cub_val__as_u64(v, out) : 0;
}

/* The spanning tree part of the document (stp-enabled, stp <vlan>,
 * ports <p> stp <vlan>), checked, into w. */
static int
br_want_stp(
    struct cub_cube *cube, const struct cub_val *config, struct br_want *w)
{
	const struct cub_val *list = cub_val__get(config, "stp");
	const struct cub_val *ports = cub_val__get(config, "ports");
	const struct cub_val *en = cub_val__get(config, "stp-enabled");
	uint64_t vid, prio, fwd, hello, age, cost, idx;
	uint32_t i, j, v, n = 0, members = 0, vlans = 0;

	if (en && cub_val__as_bool(en, &w->stp_on))
		return cub_cube__set_error(
		    cube, CUB_E_INVAL, "stp-enabled: not true or false");
	for (v = 0; v < BR_VLANS; v++)
		w->sv[v] = (struct br_stp_vcfg){.prio = STP_PRIO_DFLT,
		    .fwd = STP_FWD_DFLT * 1000,
		    .hello = STP_HELLO_DFLT * 1000,
		    .max_age = STP_MAXAGE_DFLT * 1000};
	for (i = 0; list && list->kind == CUB_V_ARRAY && i < list->arr.len;
	     i++) {
		const struct cub_val *e = list->arr.items[i];

		if (cub_val__as_u64(cub_val__get(e, "vlan"), &vid) ||
		    !br_vid_ok(vid))
			return cub_cube__set_error(
			    cube, CUB_E_INVAL, "stp: vlan must be 1..4094");
		if (br_u32f(e, "priority", STP_PRIO_DFLT, &prio) ||
		    prio > 61440 || prio % 4096)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "stp %u: priority must be a multiple of 4096 in "
			    "0..61440",
			    (unsigned)vid);
		if (br_u32f(e, "forward-delay", STP_FWD_DFLT, &fwd) ||
		    fwd < 4 || fwd > 30)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "stp %u: forward-delay must be 4..30",
			    (unsigned)vid);
		if (br_u32f(e, "hello-time", STP_HELLO_DFLT, &hello) ||
		    hello < 1 || hello > 10)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "stp %u: hello-time must be 1..10", (unsigned)vid);
		if (br_u32f(e, "max-message-age", STP_MAXAGE_DFLT, &age) ||
		    age < 6 || age > 40)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "stp %u: max-message-age must be 6..40",
			    (unsigned)vid);
		/* 802.1D 8.10.2: the three must fit each other. */
		if (2 * (fwd - 1) < age)
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "stp %u: max-message-age %u needs forward-delay of "
			    "at least %u (2 x (forward-delay - 1) >= "
			    "max-message-age)",
			    (unsigned)vid, (unsigned)age,
			    (unsigned)((age + 1) / 2 + 1));
		if (age < 2 * (hello + 1))
			return cub_cube__set_error(cube, CUB_E_INVAL,
			    "stp %u: max-message-age %u is under 2 x "
			    "(hello-time + 1) = %u",
			    (unsigned)vid, (unsigned)age,
			    (unsigned)(2 * (hello + 1)));
		w->sv[vid] = (struct br_stp_vcfg){.set = true,
		    .prio = (uint16_t)prio,
		    .fwd = (uint32_t)fwd * 1000,
		    .hello = (uint32_t)hello * 1000,
		    .max_age = (uint32_t)age * 1000};
	}
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *l =
		    cub_val__get(ports->arr.items[i], "stp");

		n += l && l->kind == CUB_V_ARRAY ? l->arr.len : 0;
	}
	w->sp = calloc(n ? n : 1, sizeof(*w->sp));
	if (!w->sp)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "out of memory");
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const struct cub_val *pt = ports->arr.items[i];
		const struct cub_val *l = cub_val__get(pt, "stp");
		const char *name = cub_val__get_str(pt, "name") ?: "?";

		if (cub_val__as_u64(cub_val__get(pt, "index"), &idx) ||
		    idx >= CUB_MAX_PORTS)
			continue;
		for (j = 0; l && l->kind == CUB_V_ARRAY && j < l->arr.len;
		     j++) {
			const struct cub_val *e = l->arr.items[j];

			if (cub_val__as_u64(cub_val__get(e, "vlan"), &vid) ||
			    !br_vid_ok(vid))
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "port '%s': stp: vlan must be 1..4094",
				    name);
			if (br_u32f(e, "path-cost", STP_PATHCOST_DFLT, &cost) ||
			    cost < 1 || cost > 200000000)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "port '%s': stp %u: path-cost must be "
				    "1..200000000",
				    name, (unsigned)vid);
			if (br_u32f(
				e, "port-priority", STP_PORTPRIO_DFLT, &prio) ||
			    prio > 240 || prio % 16)
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "port '%s': stp %u: port-priority must be "
				    "a multiple of 16 in 0..240",
				    name, (unsigned)vid);
			if (!br_has_bit(w->vl[vid].members, (uint32_t)idx))
				return cub_cube__set_error(cube, CUB_E_INVAL,
				    "port '%s': stp %u: the port does not "
				    "carry VLAN %u",
				    name, (unsigned)vid, (unsigned)vid);
			w->sp[w->nsp++] =
			    (struct br_stp_pcfg){.port = (uint16_t)idx,
				.vlan = (uint16_t)vid,
				.cost = (uint32_t)cost,
				.prio = (uint8_t)prio};
		}
	}
	if (!w->stp_on)
		return 0;
	for (v = 1; v <= BR_VLAN_MAX; v++) {
		uint32_t k, c = 0;

		for (k = 0; k < BR_WORDS; k++)
			c += (uint32_t)__builtin_popcount(w->vl[v].members[k]);
		members += c;
		vlans += c ? 1 : 0;
	}
	if (vlans > BR_STP_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "stp-enabled: at most %d VLANs with ports under spanning "
		    "tree, not %u",
		    BR_STP_MAX, vlans);
	if (members > BR_PSTATE_MAX)
		return cub_cube__set_error(cube, CUB_E_LIMIT,
		    "stp-enabled: at most %d (port, VLAN) pairs under "
		    "spanning tree, not %u",
		    BR_PSTATE_MAX, members);
	return 0;
}

/* The whole document, checked, as maps; NULL after set_error. */
static struct br_want *
br_want(struct cub_cube *cube, const struct cub_val *config)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	const struct cub_val *fdb = cub_val__get(config, "fdb");
	struct br_want *w = calloc(1, sizeof(*w));
	uint64_t aging = 300;
	uint32_t i, v;

	if (!w) {
		cub_cube__set_error(cube, CUB_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (cub_val__get(fdb, "aging-time") &&
	    cub_val__as_u64(cub_val__get(fdb, "aging-time"), &aging)) {
		cub_cube__set_error(
		    cube, CUB_E_INVAL, "fdb aging-time: not a number");
		goto fail;
	}
	w->aging_ns = aging * 1000000000ull;
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++)
		if (br_want_port(cube, ports->arr.items[i], w))
			goto fail;
	/* Every member forwards unless STP says not (br_stp_apply()). */
	for (v = 0; v < BR_VLANS; v++)
		memcpy(w->vl[v].fwd, w->vl[v].members, sizeof(w->vl[v].fwd));
	if (br_want_statics(cube, config, w) || br_want_stp(cube, config, w))
		goto fail;
	return w;
fail:
	br_want_free(w);
	return NULL;
}

static int
br_load(struct cub_cube *cube, struct br_cube *br)
{
	const void *elf;
	size_t len;
	int r;

	elf = bridge__elf_bytes(&len);
	if ((r = cub_cube__load(cube, elf, len)))
		return r;
	if (cub_cube__map(cube, "br_config", &br->config) ||
	    cub_cube__map(cube, "br_fdb", &br->fdb) ||
	    cub_cube__map(cube, "br_static", &br->stat) ||
	    cub_cube__map(cube, "br_port", &br->port) ||
	    cub_cube__map(cube, "br_vlan", &br->vlan) ||
	    cub_cube__map(cube, "br_pstate", &br->pstate))
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': bridge maps missing", cub_cube__name(cube));
	br_want_free(br->cur);
	br->cur = NULL;
	br->loaded = true;
	return 0;
}

static bool
br_has_static(const struct br_want *w, const struct br_key *k, uint32_t port)
{
	uint32_t i;

	for (i = 0; w && i < w->nst; i++)
		if (!memcmp(&w->st[i].key, k, sizeof(*k)) &&
		    (port == UINT32_MAX || w->st[i].port == port))
			return true;
	return false;
}

/* Keys of a map whose entry the document w does not have: a learned host
 * on a (port, VLAN) no longer carried, a static entry gone. */
struct br_stale {
	const struct br_want *w;
	bool statics;
	struct br_key *keys;
	uint32_t n, cap;
};

static int
br_stale_fn(const void *key, const void *value, void *ctx)
{
	const struct br_entry *e = value;
	const struct br_key *k = key;
	struct br_stale *x = ctx;
	struct br_key *nk;
	bool keep;

	keep = x->statics ? br_has_static(x->w, k, UINT32_MAX)
			  : k->vlan < BR_VLANS &&
				br_has_bit(x->w->vl[k->vlan].members, e->port);
	if (keep)
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 256;
		nk = realloc(x->keys, x->cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		x->keys = nk;
	}
	x->keys[x->n++] = *k;
	return 0;
}

static int
br_drop_stale(struct cub_cube *cube, const cub_map *map,
    const struct br_want *w, bool statics)
{
	struct br_stale x = {.w = w, .statics = statics};
	int r;

	r = cub_map__dump(cube, map, br_stale_fn, &x);
	if (!r && x.n)
		r = cub_map__delete_batch_n(cube, map, x.keys, x.n);
	free(x.keys);
	return r == -ENOENT ? 0 : r;
}

/* br_vlan and br_port as w says: every entry on a replay, else those
 * that changed. */
static int
br_write_vlans(
    struct cub_cube *cube, struct br_cube *br, const struct br_want *w)
{
	static uint32_t keys[BR_VLANS];
	static struct br_vlan vals[BR_VLANS];
	uint32_t pkeys[CUB_MAX_PORTS], v, n = 0;
	int r;

	for (v = 0; v < BR_VLANS; v++)
		if (!br->cur ||
		    memcmp(&br->cur->vl[v], &w->vl[v], sizeof(w->vl[v]))) {
			keys[n] = v;
			vals[n++] = w->vl[v];
		}
	if (n &&
	    (r = cub_map__update_batch_n(cube, &br->vlan, keys, vals, n, 0)))
		return r;
	for (v = 0; v < CUB_MAX_PORTS; v++)
		pkeys[v] = v;
	if (!br->cur || memcmp(br->cur->pt, w->pt, sizeof(w->pt)))
		return cub_map__update_batch_n(
		    cube, &br->port, pkeys, w->pt, CUB_MAX_PORTS, 0);
	return 0;
}

static int
br_write_statics(struct cub_cube *cube, struct br_cube *br,
    const struct br_want *w, bool create)
{
	struct br_entry v = {0};
	uint32_t i;
	int r;

	if (create && (r = br_drop_stale(cube, &br->stat, w, true)))
		return r;
	for (i = 0; br->cur && i < br->cur->nst; i++)
		if (!br_has_static(w, &br->cur->st[i].key, UINT32_MAX) &&
		    (r = cub_map__delete(
			 cube, &br->stat, &br->cur->st[i].key)) &&
		    r != -ENOENT)
			return r;
	for (i = 0; i < w->nst; i++) {
		if (br_has_static(br->cur, &w->st[i].key, w->st[i].port))
			continue;
		v.port = w->st[i].port;
		if ((r = cub_map__update(
			 cube, &br->stat, &w->st[i].key, &v, 0)))
			return r;
		r = cub_map__delete(cube, &br->fdb, &w->st[i].key);
		if (r && r != -ENOENT)
			return r;
	}
	return 0;
}

/* ---- spanning tree glue: the instances, the maps, the wire ---------- */

static void br_own_mac(
    struct cub_cube *cube, const struct cub_val *config, uint8_t a[6]);

static int64_t
br_now_ms(void)
{
	return (int64_t)(l2_mono_ns() / 1000000);
}

/* 802.1D bridge id: priority (the upper 4 bits) + VLAN (PVST+'s system
 * id extension), then the bridge's MAC. */
static uint64_t
br_bridge_id(const struct br_cube *br, uint16_t prio, uint32_t vid)
{
	uint64_t id = (uint64_t)((prio & 0xf000u) | (vid & 0xfffu)) << 48;
	int i;

	for (i = 0; i < 6; i++)
		id |= (uint64_t)br->mac[i] << (40 - 8 * i);
	return id;
}

static uint16_t
br_port_id(uint8_t prio, uint32_t idx)
{
	return (uint16_t)((prio & 0xf0u) << 8 | ((idx + 1) & 0xfffu));
}

static void
br_stp_pcfg(const struct br_want *w, uint32_t port, uint32_t vid,
    uint32_t *cost, uint8_t *prio)
{
	uint32_t i;

	*cost = STP_PATHCOST_DFLT;
	*prio = STP_PORTPRIO_DFLT;
	for (i = 0; i < w->nsp; i++)
		if (w->sp[i].port == port && w->sp[i].vlan == vid) {
			*cost = w->sp[i].cost;
			*prio = w->sp[i].prio;
		}
}

/* A BPDU out of port: tagged with the VLAN unless the port sends the
 * VLAN's frames untagged (an access port, a trunk's native VLAN). */
static void
br_stp_send(
    void *ctx, uint32_t port, uint16_t vid, const uint8_t *b, size_t len)
{
	struct cub_cube *cube = ctx;
	struct br_cube *br = cub_cube__priv(cube);
	struct br_inst *bi = br->inst[vid];
	uint8_t f[96] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x00};
	size_t o = 12, n;

	/* No packet-out while the broker waits for this apply: the next
	 * hello sends. */
	if (br->in_apply || !bi || len > 48)
		return;
	memcpy(f + 6, br->mac, 6);
	if (!br_has_bit(bi->untag, port)) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = (uint8_t)(vid >> 8);
		f[15] = (uint8_t)vid;
		o = 16;
	}
	f[o] = (uint8_t)((3 + len) >> 8);
	f[o + 1] = (uint8_t)(3 + len);
	f[o + 2] = 0x42;
	f[o + 3] = 0x42;
	f[o + 4] = 0x03;
	memcpy(f + o + 5, b, len);
	n = o + 5 + len;
	cub_cube__packet_out(cube, port, CUB_PKTOUT_EGRESS, f, n < 60 ? 60 : n);
}

struct br_pk_list {
	struct br_pkey *k;
	uint32_t n, cap;
};

static int
br_pk_push(struct br_pk_list *l, uint32_t port, uint32_t vid)
{
	struct br_pkey *nk;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		nk = realloc(l->k, l->cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		l->k = nk;
	}
	l->k[l->n++] =
	    (struct br_pkey){.port = (uint16_t)port, .vlan = (uint16_t)vid};
	return 0;
}

struct br_seed {
	uint8_t *st; /* [vid * STP_PORTS + port]: state + 1, 0: none */
	uint32_t n;
};

static int
br_seed_fn(const void *key, const void *value, void *ctx)
{
	const struct br_pkey *k = key;
	const struct br_pstate *v = value;
	struct br_seed *sd = ctx;

	if (k->port < STP_PORTS && k->vlan < BR_VLANS &&
	    v->state <= BR_PS_DISABLED) {
		sd->st[k->vlan * STP_PORTS + k->port] = (uint8_t)(v->state + 1);
		sd->n++;
	}
	return 0;
}

static void
br_inst_free(struct br_cube *br, uint32_t v)
{
	free(br->inst[v]);
	br->inst[v] = NULL;
}

static void
br_inst_fwd(const struct br_inst *bi, const uint32_t *members, uint32_t *fwd)
{
	uint32_t i;

	memset(fwd, 0, BR_WORDS * sizeof(*fwd));
	for (i = 0; i < STP_PORTS; i++)
		if (br_has_bit(members, i) &&
		    bi->s.p[i].state == BR_PS_FORWARDING)
			br_set_bit(fwd, i);
}

/*
 * The instances as w says (stp-enabled, each VLAN's ports and
 * parameters); w's br_vlan fwd and pstate from their states.  On a
 * replay (create) the states br_pstate still holds are where the
 * instances start (a forwarding port stays so, the others block, and
 * none leaves listening for max-message-age: no loop opens while the
 * protocol converges again).  dels: br_pstate entries to delete once
 * br_vlan is written.
 */
static int
br_stp_apply(struct cub_cube *cube, struct br_cube *br, struct br_want *w,
    bool create, struct br_pk_list *dels)
{
	struct br_seed sd = {0};
	int64_t now = br_now_ms();
	struct br_inst *bi;
	uint32_t v, i, cost;
	uint8_t prio, st;
	int r = 0;

	if (create && w->stp_on) {
		if (!(sd.st = calloc(BR_VLANS * STP_PORTS, 1)))
			return -ENOMEM;
		r = cub_map__dump(cube, &br->pstate, br_seed_fn, &sd);
		if (r && r != -ENOENT)
			goto out;
		r = 0;
	}
	for (v = 1; v <= BR_VLAN_MAX; v++) {
		const struct br_stp_vcfg *vc = &w->sv[v];
		bool want = false, seeded = false;
		uint64_t id = br_bridge_id(br, vc->prio, v);

		for (i = 0; i < BR_WORDS; i++)
			want |= w->stp_on && w->vl[v].members[i];
		bi = br->inst[v];
		if (!want) {
			for (i = 0; bi && i < STP_PORTS; i++)
				if (bi->mstate[i] != 0xff &&
				    (r = br_pk_push(dels, i, v)))
					goto out;
			if (bi)
				br_inst_free(br, v);
			continue;
		}
		if (!bi) {
			if (!(bi = calloc(1, sizeof(*bi)))) {
				r = -ENOMEM;
				goto out;
			}
			memset(bi->mstate, 0xff, sizeof(bi->mstate));
			bi->s.ctx = cube;
			bi->s.send = br_stp_send;
			stp_init(&bi->s, (uint16_t)v, id, vc->max_age,
			    vc->hello, vc->fwd);
			for (i = 0; i < STP_PORTS; i++) {
				if (!br_has_bit(w->vl[v].members, i))
					continue;
				st = sd.st ? sd.st[v * STP_PORTS + i] : 0;
				if (st) {
					bi->mstate[i] = (uint8_t)(st - 1);
					seeded = true;
				}
				br_stp_pcfg(w, i, v, &cost, &prio);
				stp_port_join(&bi->s, i, !br->link_down[i],
				    br_port_id(prio, i), cost,
				    st ? (uint8_t)(st - 1) : BR_PS_BLOCKING, 0);
			}
			if (seeded)
				bi->s.hold_until = now + vc->max_age;
			br->inst[v] = bi;
			stp_start(&bi->s, now);
		} else {
			stp_set_times(&bi->s, vc->max_age, vc->hello, vc->fwd);
			stp_set_bridge_id(&bi->s, id, now);
			for (i = 0; i < STP_PORTS; i++) {
				bool mem = br_has_bit(w->vl[v].members, i);

				br_stp_pcfg(w, i, v, &cost, &prio);
				if (mem && !bi->s.p[i].member)
					stp_port_join(&bi->s, i,
					    !br->link_down[i],
					    br_port_id(prio, i), cost,
					    BR_PS_BLOCKING, now);
				else if (mem)
					stp_set_port(&bi->s, i,
					    br_port_id(prio, i), cost, now);
				else if (bi->s.p[i].member)
					stp_port_leave(&bi->s, i, now);
				if (!mem && bi->mstate[i] != 0xff) {
					if ((r = br_pk_push(dels, i, v)))
						goto out;
					bi->mstate[i] = 0xff;
				}
			}
		}
		memcpy(bi->untag, w->vl[v].untag, sizeof(bi->untag));
		br_inst_fwd(bi, w->vl[v].members, w->vl[v].fwd);
		w->vl[v].pstate = BR_VS_STATES | BR_VS_STP;
	}
	/* Entries of the previous worker no instance took. */
	for (v = 0; sd.st && v < BR_VLANS; v++)
		for (i = 0; i < STP_PORTS; i++)
			if (sd.st[v * STP_PORTS + i] &&
			    !(br->inst[v] && br->inst[v]->s.p[i].member) &&
			    (r = br_pk_push(dels, i, v)))
				goto out;
	/* STP turned off: what it wrote goes (the loop above freed the
	 * instances and listed their entries). */
	br->stp_on = w->stp_on;
out:
	free(sd.st);
	return r;
}

/* br_pstate entries of the ports whose state the map does not have. */
static int
br_stp_write_states(struct cub_cube *cube, struct br_cube *br)
{
	struct br_pstate val = {0};
	struct br_pkey k;
	struct br_inst *bi;
	uint32_t v, i;
	int r;

	for (v = 1; v <= BR_VLAN_MAX; v++) {
		if (!(bi = br->inst[v]))
			continue;
		for (i = 0; i < STP_PORTS; i++) {
			if (!bi->s.p[i].member ||
			    bi->mstate[i] == bi->s.p[i].state)
				continue;
			k = (struct br_pkey){
			    .port = (uint16_t)i, .vlan = (uint16_t)v};
			val.state = bi->s.p[i].state;
			if ((r = cub_map__update(
				 cube, &br->pstate, &k, &val, 0)))
				return r;
			bi->mstate[i] = bi->s.p[i].state;
		}
	}
	return 0;
}

struct br_flush {
	struct br_cube *br;
	struct br_key *keys;
	uint32_t n, cap;
};

static int
br_flush_fn(const void *key, const void *value, void *ctx)
{
	const struct br_entry *e = value;
	const struct br_key *k = key;
	struct br_flush *x = ctx;
	struct br_inst *bi;
	struct br_key *nk;

	if (k->vlan >= BR_VLANS || !(bi = x->br->inst[k->vlan]) ||
	    !br_has_bit(bi->s.flushed, e->port))
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 256;
		nk = realloc(x->keys, x->cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		x->keys = nk;
	}
	x->keys[x->n++] = *k;
	return 0;
}

/* Forget the hosts learned on the (port, VLAN)s that left forwarding. */
static int
br_stp_flush(struct cub_cube *cube, struct br_cube *br)
{
	struct br_flush x = {.br = br};
	bool any = false;
	uint32_t v, i;
	int r = 0;

	for (v = 1; v <= BR_VLAN_MAX; v++)
		for (i = 0; br->inst[v] && i < BR_WORDS; i++)
			any |= br->inst[v]->s.flushed[i] != 0;
	if (!any)
		return 0;
	r = cub_map__dump(cube, &br->fdb, br_flush_fn, &x);
	if (!r && x.n)
		r = cub_map__delete_batch_n(cube, &br->fdb, x.keys, x.n);
	free(x.keys);
	for (v = 1; v <= BR_VLAN_MAX; v++)
		if (br->inst[v])
			memset(br->inst[v]->s.flushed, 0,
			    sizeof(br->inst[v]->s.flushed));
	return r == -ENOENT ? 0 : r;
}

/* The FDB aging in use: forward-delay while a topology change is
 * signalled in some VLAN (802.1D 8.3.5), else aging-time. */
static uint64_t
br_aging_eff(const struct br_cube *br, uint64_t aging_ns)
{
	uint64_t eff = aging_ns, f;
	uint32_t v;

	for (v = 1; br->stp_on && v <= BR_VLAN_MAX; v++)
		if (br->inst[v] && br->inst[v]->s.tc) {
			f = (uint64_t)br->inst[v]->s.fwd * 1000000ull;
			if (f < eff)
				eff = f;
		}
	return eff;
}

/* After an event (a BPDU, a tick, a link): the maps as the instances
 * say.  A failed write is tried again at the next tick. */
static void
br_stp_sync(struct cub_cube *cube, struct br_cube *br)
{
	struct br_config cfg;
	struct br_inst *bi;
	uint32_t v, fwd[BR_WORDS], key = 0;
	int r;

	if (!br->cur)
		return;
	for (v = 1; v <= BR_VLAN_MAX; v++) {
		if (!(bi = br->inst[v]) || !bi->s.dirty)
			continue;
		if ((r = br_stp_write_states(cube, br))) {
			cub_cube__log(cube, CUB_LOG_ERR,
			    "stp: br_pstate write failed: %s", strerror(-r));
			return;
		}
		br_inst_fwd(bi, br->cur->vl[v].members, fwd);
		if (memcmp(fwd, br->cur->vl[v].fwd, sizeof(fwd))) {
			memcpy(br->cur->vl[v].fwd, fwd, sizeof(fwd));
			if ((r = cub_map__update(
				 cube, &br->vlan, &v, &br->cur->vl[v], 0))) {
				cub_cube__log(cube, CUB_LOG_ERR,
				    "stp: br_vlan[%u] write failed: %s", v,
				    strerror(-r));
				return;
			}
		}
		bi->s.dirty = false;
	}
	if ((r = br_stp_flush(cube, br)))
		cub_cube__log(cube, CUB_LOG_ERR, "stp: fdb flush failed: %s",
		    strerror(-r));
	cfg.aging_ns = br_aging_eff(br, br->cur->aging_ns);
	if (cfg.aging_ns != br->aging_now_ns &&
	    !cub_map__update(cube, &br->config, &key, &cfg, 0))
		br->aging_now_ns = cfg.aging_ns;
}

static void
br_tick(struct cub_cube *cube)
{
	struct br_cube *br = cub_cube__priv(cube);
	int64_t now = br_now_ms();
	uint32_t v;

	if (!br->loaded || !br->stp_on)
		return;
	for (v = 1; v <= BR_VLAN_MAX; v++)
		if (br->inst[v])
			stp_tick(&br->inst[v]->s, now);
	br_stp_sync(cube, br);
}

static void
br_packet_in(struct cub_cube *cube, uint32_t port, const void *data, size_t len)
{
	struct br_cube *br = cub_cube__priv(cube);
	uint32_t reason = cub_cube__packet_reason(cube), vid, l;
	const uint8_t *f = data;
	struct br_inst *bi;
	size_t o = 12;

	if (!br->loaded || !BR_REASON_IS_BPDU(reason) || port >= STP_PORTS)
		return;
	vid = reason & 0xfff;
	if (!(bi = br->inst[vid]))
		return;
	if (len >= 16 && f[12] == 0x81 && f[13] == 0x00)
		o = 16;
	if (len < o + 5 + STP_BPDU_TCN_LEN)
		return;
	l = (uint32_t)f[o] << 8 | f[o + 1];
	if (l < 3 + STP_BPDU_TCN_LEN || l > 1500 || f[o + 2] != 0x42 ||
	    f[o + 3] != 0x42 || f[o + 4] != 0x03)
		return;
	l -= 3;
	if (l > len - (o + 5))
		l = (uint32_t)(len - (o + 5));
	stp_rx(&bi->s, port, f + o + 5, l, br_now_ms());
	br_stp_sync(cube, br);
}

static void
br_netdev_event(struct cub_cube *cube, const struct cub_netdev_event *ev)
{
	struct br_cube *br = cub_cube__priv(cube);
	int64_t now = br_now_ms();
	uint32_t i, v;
	bool down;

	if (ev->kind == CUB_NETDEV_UP)
		down = false;
	else if (ev->kind == CUB_NETDEV_DOWN || ev->kind == CUB_NETDEV_REMOVED)
		down = true;
	else
		return;
	for (i = 0; i < CUB_MAX_PORTS; i++)
		if (ev->port[0] && !strcmp(br->port_name[i], ev->port))
			break;
	if (i == CUB_MAX_PORTS || br->link_down[i] == down)
		return;
	br->link_down[i] = down;
	cub_cube__log(cube, CUB_LOG_INFO, "port '%s': link %s", ev->port,
	    down ? "down" : "up");
	if (!br->loaded || !br->stp_on)
		return;
	for (v = 1; v <= BR_VLAN_MAX; v++) {
		if (!br->inst[v])
			continue;
		if (down)
			stp_port_disable(&br->inst[v]->s, i, now);
		else
			stp_port_enable(&br->inst[v]->s, i, now);
	}
	br_stp_sync(cube, br);
}

static int
br_apply(struct cub_cube *cube, const struct cub_val *config, bool create)
{
	struct br_cube *br = cub_cube__priv(cube);
	const struct cub_val *ports = cub_val__get(config, "ports");
	const char *type = cub_val__get_str(config, "type"), *name;
	struct br_pk_list dels = {0};
	struct br_config cfg;
	struct br_want *w;
	uint32_t i, key = 0;
	uint64_t idx;
	int r;

	if (type && strcmp(type, "TC"))
		return cub_cube__set_error(cube, CUB_E_INVAL,
		    "cube '%s': bridge runs on TC only, not %s (a VLAN's flood "
		    "is a selective flood, which XDP's devmap broadcast cannot "
		    "do yet)",
		    cub_cube__name(cube), type);
	if (!(w = br_want(cube, config)))
		return -EINVAL;
	if ((create || !br->loaded) && (r = br_load(cube, br))) {
		br_want_free(w);
		return r;
	}
	br_own_mac(cube, config, br->mac);
	br->in_apply = true;
	if ((r = br_stp_apply(cube, br, w, create, &dels)))
		goto fail;
	cfg.aging_ns = br_aging_eff(br, w->aging_ns);
	br->aging_now_ns = cfg.aging_ns;
	/* A longer aging-time: what the shorter one forgot goes first. */
	if (!create && br->cur && cfg.aging_ns > br->cur->aging_ns &&
	    (r = l2_sweep(cube, &br->fdb, br->cur->aging_ns)))
		goto fail;
	/* States first, then the VLANs that look them up, then the states
	 * no VLAN looks up any more. */
	if ((r = cub_map__update(cube, &br->config, &key, &cfg, 0)) ||
	    (r = br_stp_write_states(cube, br)) ||
	    (r = br_write_vlans(cube, br, w)) ||
	    (dels.n &&
		(r = cub_map__delete_batch_n(
		     cube, &br->pstate, dels.k, dels.n)) &&
		r != -ENOENT) ||
	    (r = br_write_statics(cube, br, w, create)))
		goto fail;
	/* Hosts learned on a (port, VLAN) the port no longer carries. */
	if ((r = br_drop_stale(cube, &br->fdb, w, false)) ||
	    (r = br_stp_flush(cube, br)))
		goto fail;
	for (i = 1; i <= BR_VLAN_MAX; i++)
		if (br->inst[i])
			br->inst[i]->s.dirty = false;
	br->in_apply = false;
	free(dels.k);
	br_want_free(br->cur);
	br->cur = w;
	memset(br->port_name, 0, sizeof(br->port_name));
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		name = cub_val__get_str(ports->arr.items[i], "name");
		if (name &&
		    !cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) &&
		    idx < CUB_MAX_PORTS)
			snprintf(br->port_name[idx], sizeof(br->port_name[idx]),
			    "%s", name);
	}
	return 0;
fail:
	br->in_apply = false;
	free(dels.k);
	br_want_free(w);
	/* Half written: the apply of the previous document rewrites it all. */
	br_want_free(br->cur);
	br->cur = NULL;
	return cub_cube__set_error(cube, CUB_E_KERNEL,
	    "cube '%s': map write failed: %s", cub_cube__name(cube),
	    strerror(-r));
}

/* The bridge's own MAC: the document's, else one made from its name
 * (locally administered, unicast, the same on every replay). */
static void
br_own_mac(struct cub_cube *cube, const struct cub_val *config, uint8_t a[6])
{
	const char *n = cub_cube__name(cube);
	uint64_t h = 1469598103934665603ull;
	int i;

	if (!cub_val__as_mac(cub_val__get(config, "mac"), a))
		return;
	for (; *n; n++)
		h = (h ^ (uint8_t)*n) * 1099511628211ull;
	a[0] = 0x02;
	for (i = 1; i < 6; i++)
		a[i] = (uint8_t)(h >> (8 * i));
}

struct br_show {
	struct br_cube *br;
	struct cub_val *list;
	uint64_t now;
	uint32_t n;
	int err;
};

static struct cub_val *
br_row(struct br_cube *br, const struct br_key *k, uint32_t port, uint32_t age,
    const char *type)
{
	struct cub_val *e = cub_val__map();

	if (!e || cub_val__set(e, "vlan", cub_val__uint(k->vlan)) ||
	    cub_val__set(e, "address", l2_mac_val(k->addr)) ||
	    cub_val__set(e, "port",
		cub_val__str(port < CUB_MAX_PORTS && br->port_name[port][0]
				 ? br->port_name[port]
				 : "?")) ||
	    cub_val__set(e, "age", cub_val__uint(age)) ||
	    cub_val__set(e, "type", cub_val__str(type)))
		return cub_val__free(e);
	return e;
}

static int
br_show_fn(const void *key, const void *value, void *ctx)
{
	const struct br_entry *e = value;
	struct br_show *s = ctx;
	struct cub_val *row;
	uint64_t age_ns;

	age_ns = s->now > e->seen_ns ? s->now - e->seen_ns : 0;
	if (!s->br->cur || age_ns > s->br->cur->aging_ns ||
	    br_has_static(s->br->cur, key, UINT32_MAX))
		return 0;
	if (s->n >= BR_SHOW_MAX)
		return 1;
	row = br_row(
	    s->br, key, e->port, (uint32_t)(age_ns / 1000000000ull), "dynamic");
	if (!row || cub_val__push(s->list, row))
		return s->err = -ENOMEM;
	s->n++;
	return 0;
}

/* A show of one entry (words fdb entry <vlan> <mac> ...); true when the
 * show is not of one entry. */
static bool
br_show_one(
    struct cub_cube *cube, struct br_cube *br, struct br_show *s, int *r)
{
	const struct cub_val *w = cub_cube__show_words(cube);
	struct br_key k = {0};
	struct br_entry e;
	uint64_t vid;
	const char *a, *b;

	if (!w || w->kind != CUB_V_ARRAY || w->arr.len < 4)
		return true;
	a = cub_val__as_str(w->arr.items[0]);
	b = cub_val__as_str(w->arr.items[1]);
	if (!a || !b || strcmp(a, "fdb") || strcmp(b, "entry"))
		return true;
	if (cub_val__as_u64(w->arr.items[2], &vid)) {
		const char *t = cub_val__as_str(w->arr.items[2]);
		char *end;

		if (!t)
			return true;
		vid = strtoull(t, &end, 10);
		if (*end)
			return true;
	}
	if (!br_vid_ok(vid) || cub_val__as_mac(w->arr.items[3], k.addr))
		return true;
	k.vlan = (uint16_t)vid;
	*r = cub_map__lookup(cube, &br->fdb, &k, &e);
	if (*r == -ENOENT)
		*r = 0;
	else if (!*r)
		*r = br_show_fn(&k, &e, s) > 0 ? 0 : s->err;
	return false;
}

/* The spanning tree rows: stp <vlan> of each instance, and ports <p>
 * stp <vlan> of each of their ports. */
static int
br_show_stp(
    struct br_cube *br, const struct cub_val *config, struct cub_val *overlay)
{
	const struct cub_val *ports = cub_val__get(config, "ports");
	struct cub_val *list, *e, *pl, *prow, *plist;
	const struct stp_inst *s;
	const struct stp_port *p;
	char id[32];
	uint32_t v, i;
	uint64_t idx;

	if (!(list = cub_val__array()) || cub_val__set(overlay, "stp", list))
		return -ENOMEM;
	if (!(pl = cub_val__array()) || cub_val__set(overlay, "ports", pl))
		return -ENOMEM;
	for (v = 1; v <= BR_VLAN_MAX; v++) {
		if (!br->inst[v])
			continue;
		s = &br->inst[v]->s;
		if (!(e = cub_val__map()) || cub_val__push(list, e))
			return -ENOMEM;
		cub_val__set(e, "vlan", cub_val__uint(v));
		cub_val__set(e, "priority",
		    cub_val__uint((s->bridge_id >> 48) & 0xf000));
		cub_val__set(
		    e, "forward-delay", cub_val__uint(s->b_fwd / 1000));
		cub_val__set(e, "hello-time", cub_val__uint(s->b_hello / 1000));
		cub_val__set(
		    e, "max-message-age", cub_val__uint(s->b_max_age / 1000));
		stp_id_str(s->bridge_id, id, sizeof(id));
		cub_val__set(e, "bridge-id", cub_val__str(id));
		stp_id_str(s->d_root, id, sizeof(id));
		cub_val__set(e, "root-id", cub_val__str(id));
		cub_val__set(e, "root-port",
		    cub_val__str(
			s->root_port >= 0 ? br->port_name[s->root_port] : ""));
		cub_val__set(e, "root-path-cost", cub_val__uint(s->root_cost));
		cub_val__set(e, "topology-change", cub_val__bool(s->tc));
		cub_val__set(e, "topology-changes", cub_val__uint(s->tc_count));
	}
	for (i = 0; ports && ports->kind == CUB_V_ARRAY && i < ports->arr.len;
	     i++) {
		const char *name =
		    cub_val__get_str(ports->arr.items[i], "name");

		if (!name ||
		    cub_val__as_u64(
			cub_val__get(ports->arr.items[i], "index"), &idx) ||
		    idx >= STP_PORTS)
			continue;
		if (!(prow = cub_val__map()) || cub_val__push(pl, prow) ||
		    cub_val__set(prow, "name", cub_val__str(name)) ||
		    !(plist = cub_val__array()) ||
		    cub_val__set(prow, "stp", plist))
			return -ENOMEM;
		for (v = 1; v <= BR_VLAN_MAX; v++) {
			if (!br->inst[v] || !br->inst[v]->s.p[idx].member)
				continue;
			s = &br->inst[v]->s;
			p = &s->p[idx];
			if (!(e = cub_val__map()) || cub_val__push(plist, e))
				return -ENOMEM;
			cub_val__set(e, "vlan", cub_val__uint(v));
			cub_val__set(
			    e, "path-cost", cub_val__uint(p->path_cost));
			cub_val__set(e, "port-priority",
			    cub_val__uint((p->port_id >> 8) & 0xf0));
			cub_val__set(
			    e, "state", cub_val__str(stp_state_str(p->state)));
			cub_val__set(e, "role",
			    cub_val__str(
				stp_role_str(stp_role(s, (uint32_t)idx))));
			stp_id_str(p->d_bridge, id, sizeof(id));
			cub_val__set(e, "designated-bridge", cub_val__str(id));
			cub_val__set(e, "bpdus-in", cub_val__uint(p->rx_bpdus));
			cub_val__set(
			    e, "bpdus-out", cub_val__uint(p->tx_bpdus));
		}
	}
	return 0;
}

static int
br_show(struct cub_cube *cube, const struct cub_val *config,
    struct cub_val *overlay)
{
	struct br_cube *br = cub_cube__priv(cube);
	struct br_show s = {.br = br, .now = l2_mono_ns()};
	struct cub_val *fdb, *row;
	uint8_t mac[6];
	uint32_t i;
	int r = 0;

	br_own_mac(cube, config, mac);
	if (cub_val__set(overlay, "own-mac", l2_mac_val(mac)))
		return -ENOMEM;
	if (!br->loaded || !br->cur)
		return 0;
	if (br->stp_on && (r = br_show_stp(br, config, overlay)))
		return r;
	s.list = cub_val__array();
	fdb = cub_val__map();
	if (!s.list || !fdb)
		goto nomem;
	for (i = 0; i < br->cur->nst; i++) {
		row = br_row(
		    br, &br->cur->st[i].key, br->cur->st[i].port, 0, "static");
		if (!row || cub_val__push(s.list, row))
			goto nomem;
	}
	if (br_show_one(cube, br, &s, &r))
		r = cub_map__dump(cube, &br->fdb, br_show_fn, &s);
	if (s.err)
		goto nomem;
	if (r < 0) {
		cub_val__free(s.list);
		cub_val__free(fdb);
		return r;
	}
	if (cub_val__set(fdb, "entry", s.list)) {
		s.list = NULL;
		goto nomem;
	}
	return cub_val__set(overlay, "fdb", fdb) ? -ENOMEM : 0;
nomem:
	cub_val__free(s.list);
	cub_val__free(fdb);
	return -ENOMEM;
}

static int
br_action(struct cub_cube *cube, const struct cub_val *path, const char *name,
    const struct cub_val *args, struct cub_val **result)
{
	struct br_cube *br = cub_cube__priv(cube);
	int n;

	(void)path;
	(void)args;
	if (strcmp(name, "flush"))
		return cub_cube__set_error(
		    cube, CUB_E_VERB, "no action '%s'", name);
	if (!br->loaded)
		return cub_cube__set_error(cube, CUB_E_INTERNAL,
		    "cube '%s': not loaded", cub_cube__name(cube));
	n = l2_forget(cube, &br->fdb, UINT32_MAX);
	if (n < 0)
		return cub_cube__set_error(
		    cube, CUB_E_KERNEL, "fdb flush: %s", strerror(-n));
	cub_cube__log(cube, CUB_LOG_INFO, "fdb flushed: %d learned hosts", n);
	*result = cub_val__strf("flushed %d learned hosts", n);
	return 0;
}

static void
br_port_removed(struct cub_cube *cube, uint32_t index)
{
	struct br_cube *br = cub_cube__priv(cube);
	int n;

	if (!br->loaded)
		return;
	n = l2_forget(cube, &br->fdb, index);
	if (n > 0)
		cub_cube__log(cube, CUB_LOG_INFO,
		    "port index %u went: %d learned hosts forgotten", index, n);
}

static void
br_port_added(struct cub_cube *cube, uint32_t index)
{
	struct br_cube *br = cub_cube__priv(cube);

	br->link_down[index % CUB_MAX_PORTS] = false;
	if (br->loaded)
		l2_forget(cube, &br->fdb, index);
}

static void
br_destroy(struct cub_cube *cube)
{
	struct br_cube *br = cub_cube__priv(cube);
	uint32_t v;

	br_want_free(br->cur);
	br->cur = NULL;
	for (v = 0; v < BR_VLANS; v++)
		br_inst_free(br, v);
}

static const struct cub_plugin_ops br_ops = {
    .apply = br_apply,
    .destroy = br_destroy,
    .show = br_show,
    .action = br_action,
    .port_removed = br_port_removed,
    .port_added = br_port_added,
    .packet_in = br_packet_in,
    .netdev_event = br_netdev_event,
    .tick = br_tick,
};

const struct cub_plugin cub_plugin_entry = {
    .abi = CUB_PLUGIN_ABI,
    .name = "bridge",
    .description = "Polycube's 802.1Q bridge: access and trunk ports, FDB "
		   "per VLAN, floods per VLAN in the fast path, spanning "
		   "tree per VLAN (TC)",
    .cube_size = sizeof(struct br_cube),
    .schema = br_schema,
    .ops = &br_ops,
    .policy =
	{
	    .prog_types = 1u << BPF_PROG_TYPE_SCHED_CLS,
	    .map_types = CUB_MAP_TYPE(ARRAY) | CUB_MAP_TYPE(HASH) |
			 CUB_MAP_TYPE(LRU_HASH) | CUB_MAP_TYPE(PERCPU_ARRAY) |
			 CUB_MAP_TYPE(RINGBUF),
	    .max_map_bytes = 32u << 20,
	},
    .netdev_events = CUB_NETDEV_EV(CUB_NETDEV_UP) |
		     CUB_NETDEV_EV(CUB_NETDEV_DOWN) |
		     CUB_NETDEV_EV(CUB_NETDEV_REMOVED),
    .tick_ms = BR_TICK_MS,
    CUB_PLUGIN_SIZES,
};
