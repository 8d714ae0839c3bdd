/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cubicle-ipt-parse: the iptables syntax library's test driver (not
 * installed).  Loads an iptables-save file, applies a file of command
 * lines (one iptables command line each, without the program name, split
 * as iptables-restore does), then prints what was asked:
 *
 *   cubicle-ipt-parse [--restore FILE] [--noflush] [--commands FILE]
 *                     [--save | --save-counters] [-- IPTABLES-ARGS...]
 *
 * Exit 0, or 1 with the error (and the line) on stderr.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipt.h"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = (len + 4096 + 1) * 2);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static int
run_line(struct ipt_table *t, int argc, char **argv, char *err, size_t errlen)
{
	struct ipt_cmd cmd;
	int rc;

	if ((rc = ipt_parse(argc, argv, &cmd, err, errlen)) < 0)
		return rc;
	rc = ipt_table_exec(t, &cmd, stdout, err, errlen);
	ipt_cmd_free(&cmd);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *restore = NULL, *commands = NULL;
	bool noflush = false, save = false, counters = false;
	struct ipt_table t;
	char err[512];
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--restore") && i + 1 < argc)
			restore = argv[++i];
		else if (!strcmp(argv[i], "--commands") && i + 1 < argc)
			commands = argv[++i];
		else if (!strcmp(argv[i], "--noflush"))
			noflush = true;
		else if (!strcmp(argv[i], "--save"))
			save = true;
		else if (!strcmp(argv[i], "--save-counters"))
			save = counters = true;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			fprintf(stderr, "cubicle-ipt-parse: unknown argument "
				"`%s'\n", argv[i]);
			return 2;
		}
	}
	if (ipt_table_init(&t) < 0)
		return 1;
	if (restore) {
		char *text = slurp(restore);

		if (!text) {
			fprintf(stderr, "cubicle-ipt-parse: %s: %s\n", restore,
				strerror(errno));
			rc = 1;
			goto out;
		}
		rc = ipt_restore(&t, text, noflush, stderr, err, sizeof(err));
		free(text);
		if (rc < 0) {
			fprintf(stderr, "cubicle-ipt-parse: %s: %s\n", restore,
				err);
			rc = 1;
			goto out;
		}
	}
	if (commands) {
		char *text = slurp(commands), *l, *next;
		unsigned line = 0;

		if (!text) {
			fprintf(stderr, "cubicle-ipt-parse: %s: %s\n", commands,
				strerror(errno));
			rc = 1;
			goto out;
		}
		for (l = text; l && !rc; l = next) {
			char **av = NULL;
			int ac = 0;

			next = strchr(l, '\n');
			if (next)
				*next++ = '\0';
			line++;
			if (!*l || *l == '#')
				continue;
			if (ipt_split(l, &ac, &av, err, sizeof(err)) < 0 ||
			    (rc = run_line(&t, ac, av, err, sizeof(err))) < 0) {
				fprintf(stderr, "cubicle-ipt-parse: %s:%u: %s\n",
					commands, line, err);
				rc = 1;
			}
			free(av);
		}
		free(text);
		if (rc)
			goto out;
	}
	if (save)
		ipt_save(stdout, &t, counters);
	if (i < argc && run_line(&t, argc - i, argv + i, err, sizeof(err)) < 0) {
		fprintf(stderr, "cubicle-ipt-parse: %s\n", err);
		rc = 1;
	}
out:
	ipt_table_free(&t);
	return rc;
}
