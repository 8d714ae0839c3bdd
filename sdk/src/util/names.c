// SPDX-License-Identifier: BSD-2-Clause
/* The reserved set (names.h). */
#include <string.h>

#include "names.h"

/* Verbs at any depth of a command: no field, key or action is named so. */
#define PATH_WORDS "?", "help", "show", "set", "add", "del"

static const char *const path_words[] = {
    PATH_WORDS,
    NULL,
};

/*
 * The path words, the top-level words of the broker and the CLI, and the
 * RPC methods a client may name: no cube is named so.
 */
const char *const cubi_reserved_words[] = {
    PATH_WORDS,
    CUBI_W_CUBE,
    CUBI_W_CUBES,
    CUBI_W_SERVICES,
    CUBI_W_EVENTS,
    CUBI_W_NETDEVS,
    "connect",
    "disconnect",
    "attach",
    "detach",
    "topology",
    "ping",
    "request",
    "version",
    NULL,
};

static bool
in(const char *const *words, const char *w)
{
	size_t i;

	for (i = 0; words[i]; i++)
		if (!strcmp(words[i], w))
			return true;
	return false;
}

bool
cubi_word_reserved(const char *w)
{
	return in(cubi_reserved_words, w);
}

bool
cubi_path_word(const char *w)
{
	return in(path_words, w);
}
