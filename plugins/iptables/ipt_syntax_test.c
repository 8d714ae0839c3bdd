/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ipt-syntax: the corpus (tests/corpus.txt, whose "=" lines come from
 * iptables-legacy itself) applied in order to one table: valid lines
 * give the -S lines Linux printed, invalid ones the named error and no
 * change; then the table's iptables-save text round-trips through
 * ipt_restore(); then the restore tokenizer and restore's refusals.
 */
#include <stdlib.h>
#include <string.h>

#include "ipt.h"

static int failures;

#define FAIL(...)                                                        \
	do {                                                             \
		fprintf(stderr, __VA_ARGS__);                            \
		fputc('\n', stderr);                                     \
		failures++;                                              \
	} while (0)

static char *
print_to_string(const struct ipt_table *t, int what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char err[256];

	if (what == 0)
		ipt_save(f, t, true);
	else
		ipt_print_S(f, t, NULL, 0, 0, err, sizeof(err));
	fclose(f);
	return buf;
}

static void
check_line(struct ipt_table *t, char kind, const char *cmdline,
	   char **expect, int nexpect, const char *errwant, unsigned lineno)
{
	char err[512] = "", **argv = NULL;
	struct ipt_cmd cmd;
	char *before = print_to_string(t, 0), *after;
	int argc, rc;

	rc = ipt_split(cmdline, &argc, &argv, err, sizeof(err));
	if (rc < 0) {
		FAIL("line %u: split: %s", lineno, err);
		free(before);
		return;
	}
	rc = ipt_parse(argc, argv, &cmd, err, sizeof(err));
	if (rc == 0) {
		FILE *null = fopen("/dev/null", "we");

		rc = ipt_table_exec(t, &cmd, null, err, sizeof(err));
		fclose(null);
	}
	if (kind == 'A') {
		if (rc < 0)
			FAIL("line %u: `%s' refused: %s", lineno, cmdline, err);
		else if (nexpect && (uint32_t)nexpect != cmd.nrules)
			FAIL("line %u: %u rules, Linux made %d", lineno,
			     cmd.nrules, nexpect);
		else
			for (int i = 0; i < nexpect; i++) {
				char *buf = NULL;
				size_t len = 0;
				FILE *f = open_memstream(&buf, &len);

				ipt_print_rule(f, cmd.chain, &cmd.rules[i],
					       IPT_CNT_NONE, 0, 0);
				fclose(f);
				buf[strcspn(buf, "\n")] = '\0';
				if (strcmp(buf, expect[i]))
					FAIL("line %u: `%s'\n  ours:  %s\n  "
					     "linux: %s", lineno, cmdline, buf,
					     expect[i]);
				free(buf);
			}
	} else {
		if (rc == 0)
			FAIL("line %u: `%s' accepted, should be refused",
			     lineno, cmdline);
		else if (!*err)
			FAIL("line %u: `%s' refused without a message", lineno,
			     cmdline);
		else if (errwant && !strstr(err, errwant))
			FAIL("line %u: `%s': error `%s' does not say `%s'",
			     lineno, cmdline, err, errwant);
		after = print_to_string(t, 0);
		if (strcmp(before, after))
			FAIL("line %u: `%s' refused but changed the table",
			     lineno, cmdline);
		free(after);
	}
	if (rc == 0 || kind != 'A')
		ipt_cmd_free(&cmd);
	free(before);
	free(argv);
}

static void
split_case(const char *line, int n, const char *const *words)
{
	char err[128], **argv;
	int argc;

	if (ipt_split(line, &argc, &argv, err, sizeof(err)) < 0) {
		if (n >= 0)
			FAIL("split `%s': %s", line, err);
		return;
	}
	if (n < 0) {
		FAIL("split `%s' accepted", line);
	} else if (argc != n) {
		FAIL("split `%s': %d words, want %d", line, argc, n);
	} else {
		for (int i = 0; i < n; i++)
			if (strcmp(argv[i], words[i]))
				FAIL("split `%s': word %d `%s', want `%s'", line,
				     i, argv[i], words[i]);
	}
	free(argv);
}

static void
restore_refuses(struct ipt_table *t, const char *text, const char *want)
{
	char err[512] = "";
	char *before = print_to_string(t, 0), *after;

	if (ipt_restore(t, text, false, NULL, err, sizeof(err)) == 0)
		FAIL("restore accepted:\n%s", text);
	else if (!strstr(err, want))
		FAIL("restore error `%s' does not say `%s'", err, want);
	after = print_to_string(t, 0);
	if (strcmp(before, after))
		FAIL("a refused restore changed the table");
	free(before);
	free(after);
}

int
main(int argc, char **argv)
{
	FILE *f;
	char *line = NULL, *cmdline = NULL, *errwant = NULL;
	char *expect[IPT_MAX_EXPAND];
	int nexpect = 0, ncases = 0;
	size_t cap = 0;
	char kind = 0;
	unsigned lineno = 0, cmdline_no = 0;
	struct ipt_table t, t2;
	char err[512];
	char *s1, *s2;

	if (argc != 2 || !(f = fopen(argv[1], "re"))) {
		fprintf(stderr, "usage: ipt_syntax_test corpus.txt\n");
		return 2;
	}
	ipt_table_init(&t);
	for (;;) {
		ssize_t n = getline(&line, &cap, f);

		if (n >= 0)
			lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n >= 0 && line[0] == '=') {
			expect[nexpect++] = strdup(line + 2);
			continue;
		}
		if (n >= 0 && line[0] == '!') {
			errwant = strdup(line + 2);
			continue;
		}
		if (kind) {
			check_line(&t, kind, cmdline, expect, nexpect, errwant,
				   cmdline_no);
			ncases++;
			for (int i = 0; i < nexpect; i++)
				free(expect[i]);
			nexpect = 0;
			free(errwant);
			errwant = NULL;
			free(cmdline);
			kind = 0;
		}
		if (n < 0)
			break;
		if (line[0] == 'A' || line[0] == 'E' || line[0] == 'U') {
			kind = line[0];
			cmdline = strdup(line + 2);
			cmdline_no = lineno;
		}
	}
	free(line);
	fclose(f);
	if (ncases < 150)
		FAIL("only %d cases in the corpus", ncases);

	/* Round trip: save -c, restore, save -c again. */
	s1 = print_to_string(&t, 0);
	ipt_table_init(&t2);
	if (ipt_restore(&t2, s1, false, NULL, err, sizeof(err)) < 0) {
		FAIL("restore of our own save: %s", err);
	} else {
		s2 = print_to_string(&t2, 0);
		if (strcmp(s1, s2))
			FAIL("save/restore/save differs:\n%s\n----\n%s", s1, s2);
		free(s2);
	}
	free(s1);

	/* The tokenizer (iptables-restore's). */
	split_case("-A INPUT  -j ACCEPT", 4,
		   (const char *const[]){ "-A", "INPUT", "-j", "ACCEPT" });
	split_case("--comment \"a b\"", 2,
		   (const char *const[]){ "--comment", "a b" });
	split_case("--comment \"a \\\"q\\\" \\\\\"", 2,
		   (const char *const[]){ "--comment", "a \"q\" \\" });
	split_case("--comment \"\"", 2,
		   (const char *const[]){ "--comment", "" });
	split_case("a\\b \"c\"d", 3, (const char *const[]){ "a\\b", "c", "d" });
	split_case("--comment \"open", -1, NULL);
	split_case("\t x \t", 1, (const char *const[]){ "x" });

	/* Restore: tables, counters and refusals. */
	ipt_table_free(&t2);
	ipt_table_init(&t2);
	if (ipt_restore(&t2, "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"
			"*filter\n:INPUT DROP [5:300]\n:X - [0:0]\n"
			"[7:420] -A INPUT -j X\n-A X -p tcp --dport 22 -j ACCEPT\n"
			"COMMIT\n", false, NULL, err, sizeof(err)) < 0)
		FAIL("restore: %s", err);
	s1 = print_to_string(&t2, 0);
	if (!strstr(s1, ":INPUT DROP [5:300]\n") ||
	    !strstr(s1, "[7:420] -A INPUT -j X\n") ||
	    !strstr(s1, "[0:0] -A X -p tcp -m tcp --dport 22 -j ACCEPT\n"))
		FAIL("restore lost something:\n%s", s1);
	free(s1);
	restore_refuses(&t2, "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING "
			"-j MASQUERADE\nCOMMIT\n", "table `nat' is not supported");
	restore_refuses(&t2, "*filter\n-A INPUT -j ACCEPT\n", "COMMIT expected");
	restore_refuses(&t2, "*filter\n-A INPUT -s 1.2.3.4/40 -j ACCEPT\nCOMMIT\n",
			"line 2: invalid mask");
	restore_refuses(&t2, "-A INPUT -j ACCEPT\n", "outside a table");
	restore_refuses(&t2, "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n",
			"bad policy");
	restore_refuses(&t2, "*filter\n[1:x] -A INPUT\nCOMMIT\n", "bad counters");
	restore_refuses(&t2, "*bogus\nCOMMIT\n", "unknown table");
	restore_refuses(&t2, "*filter\n-A INPUT -t nat -j ACCEPT\nCOMMIT\n",
			"-t in a restore line");
	ipt_table_free(&t2);
	ipt_table_free(&t);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ipt-syntax: %d corpus cases, round trip and restore: ok\n",
	       ncases);
	return 0;
}
