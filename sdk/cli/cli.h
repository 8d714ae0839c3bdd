/* SPDX-License-Identifier: BSD-2-Clause */
/* The cubicle CLI: argument parsing and output rendering (unit-tested). */
#ifndef CUBI_CLI_H
#define CUBI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "cubicle/val.h"

enum cli_out { CLI_TEXT, CLI_JSON, CLI_YAML };

/* Exit codes. */
enum { CLI_OK = 0, CLI_USAGE = 1, CLI_FAILED = 2, CLI_UNREACHABLE = 3 };

struct cli_cmd {
	const char *socket_dir;
	const char *connect; /* a remote broker's URL (tls+tcp://), or NULL */
	const char *tls_ca, *tls_cert, *tls_key; /* its PEM files */
	const char *file; /* body from this file ("-" = stdin) */
	const char *save; /* dynmon extract: write to this file (tools.h) */
	enum cli_out out;
	int timeout_ms;
	const char *rid; /* request id to send (default: a fresh one) */
	const char *as;  /* gateways: USER[:ROLE] vouched for, or NULL */
	int count;       /* events: stop after this many (0 = no limit) */
	bool help;
	bool version;
	struct cub_val *words; /* array of strings */
	struct cub_val *args;  /* map of field -> string */
};

/*
 * Split argv (without argv[0]) into options, command words and
 * key=value arguments.  Options may appear anywhere; "--" ends them.  An
 * argument that is not valid UTF-8 is refused, by its position.
 * Returns 0, or -EINVAL with a message in err (exit code CLI_USAGE); the
 * message quotes arguments as they are: print it with cli_escape().
 */
int cli_parse(
    int argc, char **argv, struct cli_cmd *cmd, char *err, size_t errlen);
void cli_cmd_clear(struct cli_cmd *cmd);
/* True for "cubicle events" (the CLI's own word, a reserved name). */
bool cli_wants_events(const struct cli_cmd *cmd);
/* True when the words carry a verb that accepts a body (add, set). */
bool cli_wants_body(const struct cli_cmd *cmd);
/*
 * s with control characters, DEL, C1 controls and bytes that are not
 * UTF-8 escaped (\n, \x1b, \u009b, \xff): safe for a terminal.
 * malloc'd; NULL on ENOMEM.
 */
char *cli_escape(const char *s);
/* Render a result for people (tables), or as JSON / YAML; text output
 * is escaped as cli_escape() does. */
/* `topology show` in text: cubes, ports, and Polycube's chain lines. */
void cli_render_topology(FILE *f, const struct cub_val *v);
void cli_render(FILE *f, const struct cub_val *v, enum cli_out out);

#endif
