/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The resource-tree engine (private to Cubicle, linked by the broker and
 * tests).  It parses a schema from wire form, merges it with the base cube
 * schema, and resolves polycubectl-style commands on one cube document.
 * It never touches the kernel: the broker diffs the old and new documents
 * and does the side effects.
 *
 * Wire form of a schema (cub_schema__to_val): an array of field maps
 *   {name: str, type: "string"|"u8"|"u16"|"u32"|"u64"|"bool"|"enum"|
 *    "ipv4"|"ipv4-prefix"|"ipv6"|"ipv6-prefix"|"ip"|"ip-prefix"|
 *    "port-range"|"mac"|"any"|"list"|"container", flags: uint (CUB_F_*),
 *    help: str, default: str (opt), enum: [str] (opt), min: uint, max: uint,
 *    max-items: uint (opt, leaf-lists), ref: str (opt, a list's path),
 *    children: [field] (opt), actions: [{name, help, args: [field]}] (opt),
 *    counter: {map, key, key_field, key_size, offset, width} (opt; the
 *    engine accepts it, broker/counters.c checks it)}
 */
#ifndef CUBI_TREE_H
#define CUBI_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "cubicle/schema.h"
#include "cubicle/val.h"

struct cubi_schema; /* opaque parsed schema: base + service fields */
struct cubi_undo;   /* opaque: what cubi_tree__change() replaced */

/*
 * Entries in one keyed list of a document (rule 19): an add past it fails
 * with CUB_E_LIMIT "more than N entries".  Keyed lists are indexed by their
 * keys (a hash index kept on the list), so finding, adding and setting an
 * entry cost the same at any size up to this cap.
 */
#define CUBI_LIST_ENTRIES_MAX (1u << 20)

/*
 * Entries whose keys this thread's engine calls have compared so far (for
 * the tests and benches that show finding a key costs no scan).
 */
uint64_t cubi_tree__key_compares(void);

/*
 * Parse and check a service schema in wire form (NULL = no service fields)
 * and merge it with the base cube schema.  Refuses: unknown types, bad or
 * duplicate names, a redefinition of a base field (except extending
 * "ports"), lists without a key, depth > CUB_SCHEMA_DEPTH_MAX, more than
 * CUB_SCHEMA_FIELDS_MAX fields, defaults that do not parse.
 * NULL + errno (EINVAL/ENOMEM) and a message in err on failure.
 */
/* The fields array of a schema's wire form (an array, or the map
 * {fields, actions} of a schema with actions on the cube), or NULL. */
const struct cub_val *cubi_schema__fields(const struct cub_val *wire);
struct cubi_schema *cubi_schema__parse(const struct cub_val *wire, char *err,
    size_t errlen);
struct cubi_schema *cubi_schema__free(struct cubi_schema *s);
/* The base cube fields (name, service, type, loglevel, ports) in wire
 * form, as every cube has them (the broker's `<service> schema`). */
struct cub_val *cubi_tree__base_wire(void);

enum cubi_verb {
	CUBI_SHOW,
	CUBI_ADD,
	CUBI_SET,
	CUBI_DEL,
	CUBI_ACTION,
	CUBI_HELP,
};

/* What cubi_tree__apply did; filled on success. */
struct cubi_result {
	enum cubi_verb verb;
	bool changed;           /* doc was modified (ADD/SET/DEL) */
	bool del_cube;          /* words were just ["del"]: delete the cube */
	struct cub_val *reply;  /* SHOW: copy of the addressed subtree;
				 * HELP: help map (see below); else NULL */
	/* ACTION: the node path as words (e.g. ["fdb"]), the action name and
	 * its checked, typed args.  The broker forwards these to the worker. */
	struct cub_val *action_path;
	char *action;
	struct cub_val *action_args;
	/* cubi_tree__read() SHOW without overlays: the addressed part has
	 * ro fields; fetch the overlays and read again (reply is NULL).
	 * scope is that part in the document's shape (the path from the
	 * root with entries reduced to their keys, then the node itself:
	 * one page of a list, a field's container or entry without nested
	 * lists), what the service's show needs to fill it. */
	bool want_overlay;
	struct cub_val *scope;
	/* cubi_tree__change(): how to put the document back (owned). */
	struct cubi_undo *undo;
	/* A set copied the node it changed whole, its lists included (it
	 * named a list or container); a set of leaf fields copies those
	 * only, whatever the lists under the node hold. */
	bool copied;
};
void cubi_result__clear(struct cubi_result *r);

/*
 * Create a new cube document: name, service, and the cube-level args
 * (strings as typed by the CLI, or typed JSON values) plus an optional
 * body (a full document, e.g. with "ports") merged under them (args win).
 * Applies defaults, checks types, ranges, enums, required fields, list
 * keys unique, unknown fields.  Refuses ro fields.  Returns 0 or a
 * negative errno with *errv = cub_err_val(...) naming what was wrong
 * (CUB_E_INVAL, CUB_E_TYPE, CUB_E_MISSING, CUB_E_NOTFOUND for an unknown
 * field, CUB_E_RO, CUB_E_EXISTS for a duplicate key).
 */
int cubi_tree__new_doc(const struct cubi_schema *s, const char *name,
    const char *service, const struct cub_val *args,
    const struct cub_val *body, struct cub_val **doc, struct cub_val **errv);

/*
 * Resolve words (the command words after the cube name, strings) with
 * args (map of field -> value) and an optional body on doc.  Grammar, as
 * polycubectl:
 *   []                       show the whole cube
 *   [.., "show"]             show the node the words address
 *   [.., "?"] / [.., "help"] help for that node
 *   [.., "set"]              set args on a container or list entry
 *   [.., <list>, "add", k1 [, k2..]]  add an entry with positional keys
 *   [.., <list>, "del", k1..] / [.., <list>, k1.., "del"]  delete entry
 *   ["del"]                  delete the cube (result.del_cube)
 *   [.., <action>]           an action declared on that node
 *   a path ends at a container, a list, or a list entry (list name then
 *   its key values).  Words left after the verb other than list keys are
 *   an error.
 * On success doc is modified in place (only for ADD/SET/DEL) and *res
 * describes what happened.  On error doc is untouched, returns -errno and
 * *errv names the word or field that was wrong (CUB_E_VERB for an unknown
 * verb/child, CUB_E_NOTFOUND for a missing entry, CUB_E_EXISTS, CUB_E_TYPE,
 * CUB_E_INVAL, CUB_E_MISSING, CUB_E_RO for ro/init-only fields).
 *
 * HELP reply: {path: str, keywords: [{name, kind: "verb"|"action"|"list"|
 * "container"|"field", type, help}], params: [{name, type, help, flags}],
 * example: str}.
 */
int cubi_tree__apply(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res,
    struct cub_val **errv);

/*
 * Paging a show (rule 19: one reply fits one message).  `show` of a list
 * takes limit=N (1..CUBI_SHOW_LIMIT_MAX) and after=KEY; the reply is then
 * {entries: [...], next: KEY} with next present only when entries follow
 * (pass it back as after=).  KEY is the entry's key as typed in a path;
 * the keys of a multi-key list joined by single spaces.  after= alone
 * pages by CUBI_SHOW_LIMIT_MAX.  Any show whose reply would not fit a
 * message (CUB_MSG_MAX and CUB_ELEMS_MAX, less CUBI_REPLY_HEADROOM for the
 * frame) fails with CUB_E_TOOBIG naming limit=.
 */
#define CUBI_SHOW_LIMIT_MAX 10000u
#define CUBI_REPLY_HEADROOM 65536u
/* Containers a reply may nest, less the frames around it (an ANY field's
 * value nests within the document's). */
#define CUBI_REPLY_DEPTH_HEADROOM 4u

/* cubi_tree__read(): the request must run on a copy of the document. */
#define CUBI_NEEDS_COPY 1

/*
 * Resolve words on doc without changing it or copying it (the broker's
 * path for reads): SHOW and HELP are answered as cubi_tree__apply()
 * would, copying only the addressed node (one page of a list) and, with
 * overlays, the path to it, into which the overlays (noverlays of them,
 * shaped as for cubi_tree__merge_overlay) are merged.  ACTION and a
 * cube's del are resolved as by apply (they change no document).
 * Returns CUBI_NEEDS_COPY, with res->verb set, when the request must run
 * on a copy through cubi_tree__apply(): an add, set or del, or a path
 * into a read-only list (its entries come from the overlay).  A SHOW of
 * a part with ro fields without overlays sets res->want_overlay and no
 * reply.  0, CUBI_NEEDS_COPY, or -errno with *errv.
 */
int cubi_tree__read(const struct cubi_schema *s, const struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *const *overlays, uint32_t noverlays,
    struct cubi_result *res, struct cub_val **errv);

/*
 * cubi_tree__apply() in place, keeping what it replaced: a set keeps the
 * old fields of the one map it changed, a del the entry it removed, an add
 * only where it inserted.  cubi_tree__undo() then puts doc back exactly as
 * it was (for the broker: apply on the live document, undo when the worker
 * or the kernel refuses, instead of copying the document per change);
 * cubi_result__clear() commits (frees what was kept).  No other change may
 * touch doc in between.  cubi_tree__undo() returns 0, or -ENOMEM when a
 * removed entry could not be put back (doc then lacks that entry).
 * doc is a stored document, which never holds a read-only list's entries
 * (the service's show makes them): words through an entry of one resolve
 * without it, so that a SHOW there succeeds with res->verb CUBI_SHOW and
 * an empty reply, for the caller to answer on a copy with the overlays
 * merged (cubi_tree__apply(), which says when there is no such entry); a
 * set, add or del there is refused as read-only, an action as not found.
 */
int cubi_tree__change(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *words, const struct cub_val *args,
    const struct cub_val *body, struct cubi_result *res,
    struct cub_val **errv);
int cubi_tree__undo(struct cubi_result *res);
/*
 * A copy of doc as it was before the change res (of cubi_tree__change(),
 * not yet undone or cleared) made on it: what the broker's store snapshot
 * writes for a cube whose change waits for its worker, without keeping
 * a copy per change.  The cost is a copy of doc and a walk to the node
 * changed.  NULL on ENOMEM.
 */
struct cub_val *cubi_tree__before(const struct cubi_result *res,
    const struct cub_val *doc);

/*
 * What a change did, for the worker (cube.change): an array of entry-level
 * changes, each a map
 *   {op: "add"|"set"|"del", path: [str], old: map, new: map, index: uint}
 * path: the words to the node from the cube root (containers and lists by
 * name, an entry by its keys as one word, a multi-key entry's keys joined
 * by single spaces, as after= takes them); old: the node before (set, del);
 * new: after (add, set); index: an add to an ordered list, where the entry
 * is now.  A set carries the leaf fields (scalars, leaf-lists) of one
 * container or entry only; its nested lists and containers are changes of
 * their own, so a set with a body (a --file of many entries) is one change
 * per entry it adds or changes.  An add or del carries the whole entry.
 * Deletions come before additions.  Lists of ro fields are not compared.
 *
 * cubi_tree__changes(): from the result of cubi_tree__change() (res->undo),
 * before that undo is used or cleared and while the document is as the
 * change left it; the cost is that of the node changed, not of the
 * document.  An empty array when nothing changed.  cubi_tree__diff(): the
 * same between two documents of one cube (old may be NULL), at the cost of
 * walking both.  0, or -ENOMEM.  *changes is the caller's.
 */
int cubi_tree__changes(const struct cubi_result *res, struct cub_val **changes);
int cubi_tree__diff(const struct cubi_schema *s, const struct cub_val *old,
    const struct cub_val *new, struct cub_val **changes);
/*
 * The change list that undoes changes: reversed, add and del swapped, old
 * and new swapped.  NULL on ENOMEM.
 */
struct cub_val *cubi_changes__invert(const struct cub_val *changes);

/*
 * Help for the service level (`cubicle simpleforwarder ?`): verbs add/show
 * and the cube-level params accepted by add.
 */
struct cub_val *cubi_tree__service_help(const struct cubi_schema *s,
    const char *service);

/*
 * Merge a worker's read-only overlay (same shape as the document: lists
 * matched by their key fields) into a copy of doc for show.  Fields in the
 * overlay that the schema does not declare ro are ignored; an ANY field's
 * value is copied as it is (every level, map key order kept).
 */
int cubi_tree__merge_overlay(const struct cubi_schema *s, struct cub_val *doc,
    const struct cub_val *overlay);

/*
 * Give every entry of doc's ports[] without an "index" the lowest index
 * below max that no entry holds (what the broker stores with a port).
 * 0, or -ENOSPC when none is free (doc then has the indices given so far).
 */
int cubi_doc__port_indices(struct cub_val *doc, uint32_t max);

/* Find a list entry of doc[list] whose single key field equals key. */
struct cub_val *cubi_tree__find(const struct cub_val *doc, const char *list,
    const char *key_field, const char *key);

/*
 * A client request's params {words, args, body, rid}, checked for shape
 * and size before anything is resolved: words an array of at most 64
 * strings of 1 to 256 bytes; args a map of at most 256 fields, or absent;
 * body a map, or absent; rid a string of 1 to 64 bytes, or absent.  The
 * members point into params.  0, or -errno with *errv.
 */
#define CUBI_REQ_WORDS_MAX 64
#define CUBI_REQ_WORD_LEN_MAX 256
#define CUBI_REQ_ARGS_MAX 256
#define CUBI_REQ_RID_MAX 64

struct cubi_request {
	const struct cub_val *words;
	const struct cub_val *args; /* NULL when absent */
	const struct cub_val *body; /* NULL when absent */
	const char *rid;            /* NULL when absent */
	bool mutating;              /* set by the broker as it resolves */
};

int cubi_request__check(const struct cub_val *params, struct cubi_request *q,
    struct cub_val **errv);

/*
 * Where words lead in doc: words are a path (containers, lists, entries
 * by their keys, no verb) ending at a container or an entry; *path is
 * the array of steps from the document's root to it, map keys (strings)
 * and array indices (uints).  For the broker's store journal: the part of
 * the document a change addressed.  doc is not changed.  0, or -errno
 * with *errv (an entry not there, a path that ends at a list or a field).
 */
int cubi_tree__locate(const struct cubi_schema *s, const struct cub_val *doc,
    const struct cub_val *words, struct cub_val **path, struct cub_val **errv);

#endif
