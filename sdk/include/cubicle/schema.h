/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Service schemas: what a service's subtree looks like.  A plugin declares
 * its schema as static C tables (struct cub_field); the worker sends it to
 * the broker in wire form (cub_schema__to_val()), and the broker uses the
 * parsed form to resolve, validate and apply requests, to answer `?`, and
 * (later) to map REST paths.
 *
 * Documents.  A cube's configuration is a cub_val map.  A CONTAINER is a
 * map; a LIST is an array of maps, each holding its KEY fields (one or
 * more, in schema order).  Values are stored typed: STR/ENUM/IPV4/
 * IPV4_PREFIX/MAC as strings in canonical form (ENUM as spelled in the
 * schema, MAC lower-case), U32/U64 as UINT, BOOL as BOOL.  Issue 7 adds
 * U8/U16 (UINT), IPV6 and IPV6_PREFIX (strings in RFC 5952 form: lower
 * case, longest zero run as "::"), IP/IP_PREFIX (either family, each in
 * its form) and PORT_RANGE (a string "lo:hi", or "p" when lo == hi);
 * a LEAFLIST field is an array of such values.  An ANY field (ro only)
 * holds whatever value the service's show gives it, kept as it is.
 *
 * Every cube document has the base fields the broker owns:
 *   name     STR  key        cube name
 *   service  STR  ro         service name
 *   type     ENUM init-only  TC | XDP_SKB | XDP_DRV (default TC)
 *   ports    LIST            keyed by name: name (key), peer (STR, netdev),
 *                            status (ro, UP|DOWN), index (ro, U32)
 * A service schema lists its own cube-level fields; a LIST field named
 * "ports" in it adds fields to the base port entries.
 */
#ifndef CUBICLE_SCHEMA_H
#define CUBICLE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cub_val;

enum cub_ftype {
	CUB_T_STR = 1,
	CUB_T_U32,
	CUB_T_U64,
	CUB_T_BOOL,
	CUB_T_ENUM,
	CUB_T_IPV4,        /* "198.18.0.1" */
	CUB_T_IPV4_PREFIX, /* "198.18.0.0/15" */
	CUB_T_MAC,         /* "02:00:00:00:00:01" */
	CUB_T_LIST,
	CUB_T_CONTAINER,
	/* Added by issue 7; values above are never renumbered. */
	CUB_T_U8,
	CUB_T_U16,
	CUB_T_IPV6,        /* "2001:db8::1", stored as RFC 5952 text */
	CUB_T_IPV6_PREFIX, /* "2001:db8::/32" */
	CUB_T_IP,          /* an IPV4 or an IPV6, each in its own form */
	CUB_T_IP_PREFIX,   /* an IPV4_PREFIX or an IPV6_PREFIX */
	CUB_T_PORT_RANGE,  /* "8000:8100" or one port "80" */
	/* An opaque read-only value (issue 7's "opaque cub_val"): any
	 * cub_val the service's show puts there (nil, bool, numbers, a
	 * string, bin, arrays and maps nested within the codec's caps),
	 * shown as given.  Ro (CUB_F_RO, or inside a ro list or
	 * container) and no other flag: no key, leaf-list, default, enum,
	 * min/max, ref, counter or children. */
	CUB_T_ANY,
};

#define CUB_F_KEY 0x1u      /* list key, positional after `add` */
#define CUB_F_RO 0x2u       /* read-only: only the service's show fills it */
#define CUB_F_INIT 0x4u     /* may be given at add time only */
#define CUB_F_REQUIRED 0x8u /* must be given at add time */
/* A leaf-list: the field holds an array of values of its type, at most
 * max_items of them, no two equal (`ports=80,443` on the CLI, a JSON or
 * YAML array in a body). */
#define CUB_F_LEAFLIST 0x10u
/* An ordered list: entries stay in the order they were put in, and `add`
 * takes an insert position (index=N, position=first|last, before=KEY or
 * after=KEY; append by default). */
#define CUB_F_ORDERED 0x20u
/* A container replaced whole by a set with a body: the fields and lists
 * the body leaves out go back to their defaults (empty), as Polycube's
 * dynmon takes its dataplane-config.  A set of single fields (args only)
 * still changes just those. */
#define CUB_F_REPLACE 0x40u
/* A list the service's show also adds entries to, beside the document's
 * (a bridge's learned hosts beside its static ones): those are shown
 * with the others and are no part of the document (a del of one is
 * "no such entry").  Lists only; not with ro or ordered. */
#define CUB_F_SHOWN 0x80u

struct cub_field;

/*
 * A counter the broker reads itself (issue 7): a ro U32/U64 field bound to
 * a plain-data map (ARRAY, HASH, their per-CPU and LRU kinds) of the
 * cube's own object.  `show` reads one value of map at the key, takes
 * width bytes at offset (one CPU's value; per-CPU maps are summed over
 * every possible CPU) and shows it; no call reaches the worker.  The key
 * is key, or, in an entry of a cube-level list, the integer field
 * key_field of that entry (ports: "index", the port's index).  key_size
 * (0 = 4) must equal the map's, offset + width (width 0 = 8, or 4) must
 * lie within its value.  The broker refuses a bad binding when the schema
 * arrives (names, sizes, the field) and a load whose object does not
 * match it (map missing, sizes), naming the field.  A `set` of the field
 * is refused as for any ro field.
 */
struct cub_counter {
	const char *map;       /* map name in the cube's object */
	const char *key_field; /* NULL: the fixed key below */
	uint64_t key;
	uint32_t key_size; /* bytes: 4 (0) or 8 */
	uint32_t offset;   /* bytes into the value (one CPU's) */
	uint32_t width;    /* bytes: 8 (0) or 4 */
};

/*
 * A per-port counter declared once, as a field of ports[]: the broker
 * reads member of struct stype in map mapname at the port's index
 * (summed over CPUs for a per-CPU map) and shows it; the SDK zeroes it
 * when a port takes the index (a port starts clean) and in
 * cub_cube__reset_port_counters().  Needs <stddef.h>.
 *   CUB_PORT_COUNTER("rx_packets", "packets received", "sf_stats",
 *       struct sf_stats, rx_packets),
 */
#define CUB_PORT_COUNTER(fname, fhelp, mapname, stype, member)                 \
	{                                                                      \
		.name = (fname), .type = CUB_T_U64, .flags = CUB_F_RO,         \
		.help = (fhelp), .counter = &(const struct cub_counter)        \
		{                                                              \
			.map = (mapname), .key_field = "index",                \
			.offset = offsetof(stype, member),                     \
			.width = sizeof(((stype *)0)->member)                  \
		}                                                              \
	}

/* An action callable on a node: `cubicle br1 fdb flush`. */
struct cub_action {
	const char *name;
	const char *help;
	const struct cub_field *args; /* NULL or name==NULL terminated */
};

struct cub_field {
	const char *name; /* [a-z][a-z0-9_-]*, at most 32 bytes */
	enum cub_ftype type;
	uint32_t flags; /* CUB_F_* */
	const char *help;
	const char *dflt;         /* default, as text, NULL for none */
	const char *const *enums; /* ENUM: NULL-terminated */
	uint64_t min, max; /* U8..U64 range, STR max length; 0,0 = type max */
	/* LEAFLIST: at most this many values (0 = CUB_LEAFLIST_DFLT). */
	uint32_t max_items;
	/* A reference: the value (each value of a leaf-list) must be the key
	 * of an entry of this list, named by its path from the cube root
	 * through containers ("pools" or "nat/pools"); that list has one key,
	 * of this field's type.  Deleting an entry still referred to fails. */
	const char *ref;
	const struct cub_field *children; /* LIST/CONTAINER, name==NULL ends */
	const struct cub_action
	    *actions; /* LIST entry/CONTAINER, name==NULL ends */
	const struct cub_counter *counter; /* ro U32/U64: broker-read */
};

/* Caps on any schema a worker can send (rule 19). */
#define CUB_SCHEMA_DEPTH_MAX 8
#define CUB_SCHEMA_FIELDS_MAX 512
#define CUB_NAME_MAX 32
#define CUB_LEAFLIST_DFLT 64  /* values in a leaf-list by default */
#define CUB_LEAFLIST_MAX 4096 /* largest max_items a schema may declare */

/* Wire name of a type ("ipv4-prefix"), or NULL for an unknown type. */
const char *cub_ftype__name(enum cub_ftype t);
/* The type for a wire name, or -EINVAL. */
int cub_ftype__parse(const char *name);

/* Plugin side: encode C tables (name==NULL terminated) to wire form. */
struct cub_val *cub_schema__to_val(const struct cub_field *fields);
/*
 * The wire form of a schema with actions on the cube itself
 * (`cubicle sf1 reset-counters`): {fields: [...], actions: [...]}, or
 * the array of cub_schema__to_val() when actions is NULL or empty.
 */
struct cub_val *cub_schema__wire(
    const struct cub_field *fields, const struct cub_action *actions);

#ifdef __cplusplus
}
#endif
#endif
