/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Types and constants shared by every cube's BPF object and the user space
 * that fills its framework maps (the broker) or reads its packet-in ring
 * (broker -> worker).  Fixed-width types only (style rule 25).
 */
#ifndef CUBICLE_CUBE_SHARED_H
#define CUBICLE_CUBE_SHARED_H

#include <linux/types.h>

/* Maximum number of ports of one cube: size of cub_ports and cub_if2port. */
#define CUB_MAX_PORTS 128

/* cub_port.flags: the port is administratively and operationally up. */
#define CUB_PORT_UP 0x1
/*
 * cub_port.flags: the port peers with a port of another cube: ifindex
 * holds CUB_PEER_IFINDEX(that cube's port index), never a netdev's
 * ifindex (those are below 2^31) and never 0 (the port is connected), and
 * slot port of the egress program's cub_peers (egress.bpf.c) holds that
 * cube's program.
 */
#define CUB_PORT_PEER 0x2
#define CUB_PEER_IFINDEX(port) (0x80000000u | (port))
#define CUB_PEER_PORT(ifindex) ((ifindex) & 0x7fffffffu)

/* Value of cub_ports[port index]; ifindex 0 means "not connected". */
struct cub_port {
	__u32 ifindex;
	__u32 flags;
};

/*
 * One record of the cub_pktin ring buffer: this header, then cap_len bytes
 * of the packet from its first byte.  The record reserved is always
 * sizeof(struct cub_pktin_hdr) + CUB_PKTIN_MAX bytes; bytes past cap_len
 * are undefined.
 */
struct cub_pktin_hdr {
	__u32 port;     /* ingress port index of the cube */
	__u32 cap_len;  /* bytes of packet that follow */
	__u32 wire_len; /* length of the packet as received */
	__u32 reason;   /* cube-defined code, passed to the worker */
};

/* Largest packet prefix copied into a packet-in record. */
#define CUB_PKTIN_MAX 1536

/*
 * Per-CPU scratch of a cube (cub_scratch_map, cube.bpf.h).  Slot
 * (ifindex % CUB_IF2PORT_CACHE) of if2port caches cub_if2port; key[]
 * belongs to the cube.  out_port is what cub_forward() hands the broker's
 * egress program (bpf/egress.bpf.c) on XDP; it shares the map, so the
 * broker checks this layout (bpfobj.c).
 */
#define CUB_IF2PORT_CACHE 16

/* Map keys a cube may keep in struct cub_scratch. */
#define CUB_SCRATCH_KEYS 4

struct cub_if2port_slot {
	__u32 ifindex;
	__u32 port;
};

struct cub_scratch {
	__u32 key[CUB_SCRATCH_KEYS]; /* the cube's map keys */
	/* Private to the helpers in cube.bpf.h and the egress program. */
	__u32 fw_key;
	__u32 out_port;
	struct cub_if2port_slot if2port[CUB_IF2PORT_CACHE];
	__u64 log_lost; /* cub_log() records the full cub_log_ring refused */
};

/*
 * cub_egress, the cube's tail-call table (a PROG_ARRAY only the broker
 * fills): slot CUB_EGRESS_OUT holds the broker's egress program for the
 * cube, the only way out of a cube.  The programs of the cubes its ports
 * peer with are in cub_peers, a table of the egress program's own that
 * the cube's program cannot name: no cube can jump into another cube's
 * program but through the broker's egress program.
 */
#define CUB_EGRESS_OUT 0
#define CUB_EGRESS_SLOTS 1

/*
 * How the egress program tells the next cube its in-port: TC, cb[1] =
 * CUB_HOP_MAGIC and cb[2] = port; XDP, a struct cub_hop in front of the
 * frame (bpf_xdp_adjust_head(); metadata, bpf_xdp_adjust_meta(), lost
 * almost every frame xdpgen's BPF_PROG_RUN live frames put through
 * bench/forward, for a reason not established).  A cube trusts it only
 * for a packet whose ingress netdev is none of its ports (cube.bpf.h,
 * cub_in_port()).
 */
#define CUB_HOP_MAGIC 0xc0be4e71

struct cub_hop {
	__u32 magic;
	__u32 in_port;
	__u32 key[2]; /* the receiving cube's hop key (struct cub_hopkey) */
};

/*
 * A cube's hop key (cub_hopkey: one per cube, made by the broker, pinned
 * as <cube>/hopkey, random and never 0): a hop into the cube carries it
 * (TC: skb->cb[0] = key[0]; XDP: the whole key in struct cub_hop), so
 * that the cube trusts a hop before its ingress netdev.  A packet that
 * leaves a cube and comes back into it through a cube peer (a router's
 * answer to a bridge's flood) has that cube's port as its ingress
 * netdev: the hop says where it really came from.  Nothing from the wire
 * knows the key (XDP frames are the sender's bytes: 64 bits; TC's cb
 * words are what the kernel left there: 56), and the egress program
 * clears cb[1] on every redirect to a netdev.  A cube's programs read
 * their own key only; the egress program of a cube whose port peers with
 * it reads it from the broker's cub_peerkey (egress.bpf.c), so a cube
 * that leaks its key onto a wire lets that wire forge hops into itself
 * and no other cube.
 */
struct cub_hopkey {
	__u32 key[2];
};

/* TC: cb[2] is the port (below CUB_MAX_PORTS) and the key's second word
 * but its low byte: 56 bits of key in cb[0] and cb[2]. */
#define CUB_HOP_TC_PORT(k, port) (((k)->key[1] & 0xffffff00u) | ((port) & 0xffu))
#define CUB_HOP_TC_OK(k, cb2) \
	(((cb2) & 0xffffff00u) == ((k)->key[1] & 0xffffff00u))

/*
 * Log levels of a cube (Polycube's loglevel values, in order): a record
 * is kept when its level is at least the cube's.  CUB_LOG_OFF keeps none.
 */
enum cub_log_level {
	CUB_LOG_TRACE = 0,
	CUB_LOG_DEBUG = 1,
	CUB_LOG_INFO = 2,
	CUB_LOG_WARN = 3,
	CUB_LOG_ERR = 4,
	CUB_LOG_CRITICAL = 5,
	CUB_LOG_OFF = 6,
};

/*
 * Value of cub_config[0], the cube's settings the broker writes (read-only
 * to programs) whenever they change, so that no change reloads a program.
 * log_mask: bit (1 << level) set for every level the cube's loglevel
 * keeps; 0 (a map not yet written) keeps nothing.
 */
struct cub_config {
	__u32 log_mask;
	__u32 flags; /* none yet; 0 */
};

/*
 * One record of the cub_log_ring ring buffer (cube.bpf.h cub_log()): the
 * level, a printf-like format (a string literal of the program, at most
 * CUB_LOG_FMT_MAX bytes with its NUL; the broker formats it itself, never
 * with printf: the conversions below) and nargs of CUB_LOG_ARGS arguments.
 */
#define CUB_LOG_FMT_MAX 48
#define CUB_LOG_ARGS 3

struct cub_log_rec {
	__u32 level;
	__u32 nargs;
	__u64 args[CUB_LOG_ARGS];
	char fmt[CUB_LOG_FMT_MAX];
};

/*
 * The extended record (cube_log.bpf.h cub_logx(), dynmon's pcn_log()):
 * the same ring, told apart by its length, which the ring buffer's record
 * header carries (sizeof(struct cub_log_rec) = 88, sizeof(struct
 * cub_log_xrec) = 216; any other length is bad).  level and nargs are at
 * the offsets of struct cub_log_rec.  Up to CUB_LOGX_ARGS arguments, a
 * format of up to CUB_LOGX_FMT_MAX bytes with its NUL, and where the line
 * comes from: tag (a short name, e.g. "ingress"; "" for none) and line (a
 * source line; 0 for none), which the broker puts before the message as
 * "tag:line: ".  Conversions, for both kinds: %d %i %u %x %X with h, hh,
 * l, ll or z; %c; %%; %I (an IPv4 address in network order, the low 32
 * bits of the argument as the packet holds them, printed dotted), %P (a
 * port in network order, printed in host order) and %M (a MAC address:
 * the low 6 bytes of the argument in memory order of a little-endian
 * __u64, i.e. as a __be64 bitfield or a memcpy of the 6 bytes holds them).
 */
#define CUB_LOGX_FMT_MAX 128
#define CUB_LOGX_ARGS 8
#define CUB_LOGX_TAG_MAX 12

struct cub_log_xrec {
	__u32 level;
	__u32 nargs;
	__u64 args[CUB_LOGX_ARGS];
	__u32 line;
	char tag[CUB_LOGX_TAG_MAX];
	char fmt[CUB_LOGX_FMT_MAX];
};

/* Data bytes of cub_log_ring: about 700 records of 88 bytes, or 290 of
 * 216. */
#define CUB_LOG_RING_BYTES (64 * 1024)

/*
 * Transparent cubes (docs/architecture.md, "Transparent cubes").  Each
 * attach point has a broker-owned stack: a PROG_ARRAY whose first
 * CUB_TSTACK_MAX slots are cells, one per stacked cube (a cube keeps its
 * cell while it stays in the stack), a links array giving each
 * direction's run order (the head, and after each cell the next), and
 * broker programs that enter the stack from the hook and go from one
 * cube to the next (bpf/tstack.bpf.c).  An attach or detach rewrites
 * links, never moves a cube to another cell: a packet in flight never
 * skips a cube that stays nor meets one twice.  A transparent cube's
 * cub_egress slot CUB_EGRESS_OUT holds its attach point's "next"
 * program: cub_pass() (cube.bpf.h) tail-calls it.  Two tail calls per
 * transparent cube: CUB_TSTACK_MAX cubes per direction fit in the
 * kernel's 33.
 */
#define CUB_TSTACK_MAX 16

/* skb->cb[3] while a transparent cube runs: the direction it sees. */
#define CUB_TDIR_INGRESS 1
#define CUB_TDIR_EGRESS 2

/*
 * A transparent cube's "send this frame back where it came from"
 * (cub_bounce(), cube.bpf.h): TC, skb->cb[3] set to it before
 * cub_pass(); XDP, a 4-byte metadata word of it in front of the frame.
 * The broker's next program (bpf/tstack.bpf.h) then ends the packet's
 * run there: on a netdev, TC ingress out of that netdev, TC egress into
 * the host as received on it, XDP out of the netdev (XDP_TX); on a cube
 * port, dropped.  The cubes after it in the stack do not see the frame.
 */
#define CUB_TBOUNCE 0xb0c4ce11u

/* tstack_progs: the cells, then the way on after each direction. */
#define CUB_TSTACK_END (2 * CUB_TSTACK_MAX)
#define CUB_TSTACK_SLOTS (2 * CUB_TSTACK_MAX + 2)

/*
 * tstack_links: at dir * CUB_TSTACK_MAX + cell the link after that
 * cell in direction dir, at CUB_TSTACK_HEAD + dir the direction's first.
 * A link is a cell + 1, or CUB_TSTACK_LINK_END (the stack's end); 0 (not
 * written) drops the packet.
 */
#define CUB_TSTACK_HEAD (2 * CUB_TSTACK_MAX)
#define CUB_TSTACK_LINKS (2 * CUB_TSTACK_MAX + 2)
#define CUB_TSTACK_LINK_END 0xffu

/* Per-CPU position in the stack, the broker programs' only (tstack_ctx),
 * and the framework's cb words as the packet entered it. */
struct cub_tstack_ctx {
	__u32 dir; /* 0 ingress, 1 egress */
	__u32 pos; /* the cell of the cube that runs */
	__u32 cb[3];
};

/*
 * The egress program's cub_peers has 2 * CUB_MAX_PORTS slots: port i's
 * peer cube at i, port i's egress stack (its attach point's
 * tstack_egress) at CUB_PEERS_TSTACK + i.
 */
#define CUB_PEERS_TSTACK CUB_MAX_PORTS
#define CUB_PEERS_SLOTS (2 * CUB_MAX_PORTS)

/*
 * The flood (cube.bpf.h cub_flood(), egress.bpf.c): out_port (TC
 * skb->cb[0], XDP the scratch) CUB_FLOOD | in-port sends the packet out
 * of every connected port but in-port.  The broker keeps each cube's
 * flood set from its ports (broker/topology.c topo_flood_sync()): a
 * struct cub_flood (an ARRAY of one, pinned as <cube>/flood) and, for
 * an XDP cube, a DEVMAP_HASH of the same netdev ports (port index ->
 * ifindex, <cube>/flooddev, broadcast with BPF_F_EXCLUDE_INGRESS).
 *   dev[]: ports whose peer is a netdev with no egress stack: a copy
 *     each, in the fast path (TC bpf_clone_redirect(); XDP the devmap).
 *   tail[]: ports left only by a tail call: a cube peer (peer = 1) or
 *     a port with an egress stack of transparent cubes.  On TC the
 *     packet itself takes the first of them that is not the in-port.
 *   The cube peers the packet itself did not take get a copy through
 *     the broker: the egress program copies the frame into the cube's
 *     cub_pktin ring with reason CUB_PKTIN_FLOOD | the tail port the
 *     packet took (CUB_FLOOD_NONE: none) and port = in-port, and the
 *     broker puts it into each of those peers' ingress as a packet-out
 *     does (broker/pktout.c pktout_flood(), under the cube's bucket).
 *   A port with an egress stack that the packet did not take (a second
 *     one on TC, any on XDP, where stacks have no egress) gets nothing.
 */
#define CUB_FLOOD 0x40000000u
#define CUB_FLOOD_PORT(v) ((v) & 0xffffu)
#define CUB_FLOOD_NONE 0xffffu
#define CUB_PKTIN_FLOOD 0xc0f10000u
#define CUB_PKTIN_IS_FLOOD(r) (((r) & 0xffff0000u) == CUB_PKTIN_FLOOD)

/*
 * A selective flood (cubicle/flood_sel.bpf.h cub_flood_some(), issue 11:
 * the bridge's VLANs): out_port CUB_FLOOD | CUB_FLOOD_SEL | in-port
 * floods only to the ports whose bit is set in mask[] of the cube's
 * cub_flood_sel (a per-CPU ARRAY of one in the cube's own object, which
 * the cube's program writes just before the flood and the egress program
 * reads by fd).  It names port indices only: the ifindexes stay the
 * broker's (the flood set).  On TC each copy first gets the 802.1Q tag
 * state its port asks: no tag for a port whose bit is set in untag[],
 * else the tag vid (TCI, host order) if the frame has none.  No copy
 * through the broker to cube peers: only the first tail port of mask[]
 * gets the packet.  XDP: refused (dropped).
 */
#define CUB_FLOOD_SEL 0x20000000u
#define CUB_FLOOD_SEL_WORDS (CUB_MAX_PORTS / 32)

struct cub_flood_sel {
	__u32 mask[CUB_FLOOD_SEL_WORDS];  /* ports to flood to */
	__u32 untag[CUB_FLOOD_SEL_WORDS]; /* of those, the untagged ones */
	__u32 vid;                        /* TCI for the tagged ones */
	__u32 pad;
};

struct cub_flood_dev {
	__u32 port;
	__u32 ifindex;
};

struct cub_flood_tail {
	__u32 port;
	__u32 peer; /* 1: the port peers with a cube */
};

struct cub_flood {
	__u32 ndev;
	__u32 ntail;
	__u32 npeer; /* tail ports that peer with a cube */
	__u32 pad;
	struct cub_flood_dev dev[CUB_MAX_PORTS];
	struct cub_flood_tail tail[CUB_MAX_PORTS];
};

/*
 * cub_host_addrs (hostaddr.bpf.h): the IPv4 addresses of the broker's
 * network namespace, kept by the broker from address events, one map
 * for every cube that declares it (read-only to programs).  Key: the
 * address, network order.
 */
#define CUB_HOST_ADDRS_MAX 65536
#define CUB_HADDR_LOCAL 1     /* an address of a netdev */
#define CUB_HADDR_BROADCAST 2 /* a netdev's subnet broadcast address */
struct cub_host_addr {
	__u32 ifindex; /* the netdev that has it */
	__u32 kind;    /* CUB_HADDR_* */
};

#endif /* CUBICLE_CUBE_SHARED_H */
