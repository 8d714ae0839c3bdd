/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reserved set: the built-in words of the CLI and the broker, which
 * no cube may be named after (service names are reserved as well; the
 * broker checks those, it knows them).  One table for the CLI, the broker
 * and the tree engine; a word the CLI or the broker starts to interpret
 * goes here first.
 */
#ifndef CUBI_NAMES_H
#define CUBI_NAMES_H

#include <stdbool.h>

/* Top-level words the CLI or the broker interprets. */
#define CUBI_W_CUBE "cube" /* cube <name> ...: reach any cube by name */
#define CUBI_W_CUBES "cubes"
#define CUBI_W_EVENTS "events"
#define CUBI_W_SERVICES "services"
#define CUBI_W_NETDEVS "netdevs"

/* NULL-terminated: every reserved word. */
extern const char *const cubi_reserved_words[];

/* Whether w is a reserved word (exact, case-sensitive match). */
bool cubi_word_reserved(const char *w);
/* Whether w is a verb of the path grammar (show, set, add, del, help, ?):
 * reserved for fields, actions and list keys too. */
bool cubi_path_word(const char *w);

#endif
