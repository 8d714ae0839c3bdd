/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The CLI's own verbs over the broker's (cubicle(8), "DYNMON TOOLS"):
 * Polycube's dynmon_injector.py and dynmon_extractor.py as
 *
 *	cubicle dynmon inject CUBE TARGET FILE [type=TC|XDP_SKB|XDP_DRV]
 *	cubicle dynmon extract CUBE [ingress|egress|all] [NAME] [--save FILE]
 *
 * and Polycube's docs' spelling of a container's set (`cubicle mon1 set
 * dataplane-config --file f`).  Parsing and planning here, pure (unit
 * tests: tools_test.c); the broker calls in cubicle.c.
 */
#ifndef CUBI_CLI_TOOLS_H
#define CUBI_CLI_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "cubicle/val.h"

/* The service whose cubes the tools drive. */
#define CLI_DYNMON_SERVICE "dynmon"

enum cli_tool { CLI_TOOL_NONE = 0, CLI_TOOL_INJECT, CLI_TOOL_EXTRACT };

struct cli_tool_args {
	enum cli_tool tool;
	const char *cube;
	/* inject */
	const char *target; /* a netdev, or CUBE:PORT */
	const char *file;   /* the dataplane-config ("-": stdin) */
	const char *type;   /* TC, XDP_SKB, XDP_DRV (upper case), or NULL */
	/* extract */
	const char *path;   /* "ingress", "egress", or NULL for all */
	const char *metric; /* one metric of path, or NULL */
	const char *save;   /* write there instead of stdout, or NULL */
};

/*
 * Whether cmd is a tool (words "dynmon inject" or "dynmon extract"), and
 * its arguments: 0 and t->tool set (CLI_TOOL_NONE: not a tool, the
 * broker's words), or -EINVAL with a message naming what is wrong.
 * t's strings point into cmd (and static strings).
 */
int cli_tool_parse(const struct cli_cmd *cmd, struct cli_tool_args *t,
    char *err, size_t errlen);

/*
 * Polycube's spelling "<path> set <container> [key=value]": moves "set"
 * after the words that follow it when it is the only verb of the words
 * and not the last, so the broker reads "<path> <container> set".
 */
void cli_words_set_first(struct cub_val *words);

/* A dataplane-config body: a map of ingress-path / egress-path maps. */
int cli_dataplane_check(const struct cub_val *body, char *err, size_t errlen);

/* What the injector does, from `show topology` and `netdevs show`. */
struct cli_inject_plan {
	bool create;        /* no such cube: add it with its dataplane */
	const char *detach; /* attached elsewhere: detach from there first */
	bool attach;        /* attach to the target */
};

/*
 * Plan t (an inject) against topology (`show topology` result) and
 * netdevs (`netdevs show` result): 0, or -EINVAL (a cube of another
 * service, another type, a target that does not exist) with a message;
 * nothing is to be done then.  plan's strings point into topology.
 */
int cli_inject_plan(const struct cub_val *topology,
    const struct cub_val *netdevs, const struct cli_tool_args *t,
    struct cli_inject_plan *plan, char *err, size_t errlen);

/* The broker's words of an extract (CUBE metrics ... show): a new array. */
struct cub_val *cli_extract_words(const struct cli_tool_args *t);

#endif
