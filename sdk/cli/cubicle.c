// SPDX-License-Identifier: BSD-2-Clause
/*
 * cubicle: the command-line client, polycubectl grammar.
 *   cubicle [options] <words...> [key=value ...]
 * Exit codes: 0 ok, 1 usage, 2 refused or failed, 3 broker unreachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cub_config.h"
#include "cubicle/client.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cubicle [options] <path> [verb] [key=value ...]\n"
	    "  cubicle simpleforwarder add sf1 [type=TC|XDP_SKB|XDP_DRV]\n"
	    "  cubicle sf1 ports add p1 peer=veth1\n"
	    "  cubicle sf1 ports p1 set action=forward outport=p2\n"
	    "  cubicle connect sf1:p2 sf2:p1   (or sf1:p2 veth1: a netdev)\n"
	    "  cubicle disconnect sf1:p2 sf2:p1\n"
	    "  cubicle attach th1 veth1 [position=first|last | before=X |\n"
	    "                 after=X]    cubicle detach th1 veth1\n"
	    "  cubicle show topology [veth1]\n"
	    "  cubicle sf1 show            cubicle show cubes\n"
	    "  cubicle netdevs show        netdevs, MACs, addresses, users\n"
	    "  cubicle sf1 ?               help at any depth\n"
	    "  cubicle sf1 set loglevel=DEBUG   cubicle sf1 log show\n"
	    "  cubicle sf1 del\n"
	    "options:\n"
	    "  -o, --output text|json|yaml   (also -json, -yaml)\n"
	    "  -f, --file FILE   JSON or YAML body (add/set; *.yaml/*.yml\n"
	    "                    is YAML, *.json JSON, else '{' = JSON);\n"
	    "                    '-' = stdin; a piped stdin is read for\n"
	    "                    add/set too\n"
	    "  --socket-dir DIR  broker sockets (or $CUBICLE_SOCKET_DIR;\n"
	    "                    default /run/cubicle)\n"
	    "  --timeout MS      per call (default 10000); for events, how\n"
	    "                    long to listen\n"
	    "  --as USER[:ROLE]  gateways only: on behalf of USER, as role\n"
	    "                    reader (default) or admin\n"
	    "  --rid ID          request id (a resend with the same id is\n"
	    "                    applied once); default: a fresh one\n"
	    "  cubicle events [--count N] [--timeout MS]  stream events\n"
	    "exit codes: 0 ok, 1 usage, 2 refused or failed, 3 broker "
	    "unreachable\n");
}

/* "cubicle: <msg>" with msg escaped: it may quote what a client, a
 * worker or the kernel named. */
static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	char buf[8192], *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	e = cli_escape(buf);
	fprintf(stderr, "cubicle: %s\n", e ? e : "(out of memory)");
	free(e);
}

static char *
read_all(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap), *p;

	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			if (cap >= CUB_MSG_MAX) {
				free(buf);
				errno = EMSGSIZE;
				return NULL;
			}
			p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				return NULL;
			}
			buf = p;
			cap *= 2;
		}
	}
	*len = n;
	return buf;
}

/*
 * Which parser reads a body: a file named *.yaml or *.yml is YAML, *.json
 * is JSON; otherwise (stdin, other names) a body whose first character
 * after blanks is '{' is JSON and anything else YAML.
 */
static bool
body_is_yaml(const char *file, const char *text, size_t len)
{
	const char *dot = file ? strrchr(file, '.') : NULL;
	size_t i;

	if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
		return true;
	if (dot && !strcmp(dot, ".json"))
		return false;
	for (i = 0; i < len && text[i] && strchr(" \t\r\n", text[i]); i++)
		;
	return i == len || text[i] != '{';
}

/*
 * Whether body would break the wire caps (bytes, elements) that the broker
 * enforces: said here, before sending, rather than as a refused message.
 */
static bool
body_over_caps(const struct cub_val *body, char *err, size_t errlen)
{
	size_t len;
	void *buf;
	int r;

	if (cub_mp_encode(body, &buf, &len)) {
		snprintf(err, errlen, "it cannot be encoded");
		return true;
	}
	/* The request frame around it takes a little more. */
	if (len > CUB_MSG_MAX - 4096) {
		snprintf(err, errlen, "%zu bytes, over the cap of %u", len,
		    CUB_MSG_MAX - 4096);
		free(buf);
		return true;
	}
	r = cub_mp_check(buf, len, err, errlen);
	free(buf);
	return r != 0;
}

/* The body: --file, or a piped/redirected stdin for add and set. */
static int
load_body(const struct cli_cmd *cmd, struct cub_val **body)
{
	const char *src = cmd->file;
	struct stat st;
	char err[256];
	size_t len;
	char *text;
	bool yaml;
	FILE *f;

	*body = NULL;
	if (!src) {
		if (!cli_wants_body(cmd) || isatty(0) || fstat(0, &st) ||
		    !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode)))
			return 0;
		src = "-";
	}
	f = strcmp(src, "-") ? fopen(src, "re") : stdin;
	if (!f) {
		say("%s: %s", src, strerror(errno));
		return -errno;
	}
	text = read_all(f, &len);
	if (f != stdin)
		fclose(f);
	if (!text) {
		if (errno == EMSGSIZE)
			say("%s: the body is larger than the %u MiB "
			    "message cap",
			    src, CUB_MSG_MAX >> 20);
		else
			say("%s: %s", src, strerror(errno));
		return -EIO;
	}
	if (len == 0 && !cmd->file) {
		free(text);
		return 0; /* an empty pipe is no body */
	}
	yaml = body_is_yaml(cmd->file, text, len);
	*body = yaml ? cub_yaml_parse(text, len, err, sizeof(err))
		     : cub_json_parse(text, len, err, sizeof(err));
	free(text);
	if (!*body) {
		say("%s: %s: %s", strcmp(src, "-") ? src : "stdin",
		    yaml ? "YAML" : "JSON", err);
		return -EINVAL;
	}
	if ((*body)->kind == CUB_V_MAP &&
	    body_over_caps(*body, err, sizeof(err))) {
		say("%s: the body does not fit one message: %s",
		    strcmp(src, "-") ? src : "stdin", err);
		*body = cub_val__free(*body);
		return -EMSGSIZE;
	}
	if ((*body)->kind != CUB_V_MAP) {
		say("%s: the body must be a %s", strcmp(src, "-") ? src : "stdin",
		    yaml ? "YAML mapping (field: value lines)" : "JSON object");
		*body = cub_val__free(*body);
		return -EINVAL;
	}
	return 0;
}

/* cubicle events: one line per event until --count or --timeout. */
static int
stream_events(const struct cli_cmd *cmd)
{
	struct cub_val *params, *line;
	struct cub_events *e;
	char *name, *s;
	int n = 0, r;

	CUB_OPTS(cub_client_opts, o, .socket_dir = cmd->socket_dir);
	e = cub_events__open(&o);
	if (!e) {
		say("cannot reach cubicled events: %s", strerror(errno));
		return CLI_UNREACHABLE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!cmd->count || n < cmd->count) {
		r = cub_events__recv(
		    e, cmd->timeout_ms ? cmd->timeout_ms : -1, &name, &params);
		if (r == -ETIMEDOUT)
			break;
		if (r)
			continue;
		line = cub_val__map();
		cub_val__set(line, "event", cub_val__str(name));
		for (uint32_t i = 0; params && i < params->map.len; i++)
			cub_val__set(line, params->map.items[i].key,
			    cub_val__dup(params->map.items[i].val));
		if (cmd->out == CLI_TEXT) {
			s = cub_json_emit(params, false);
			char *en = cli_escape(name);

			printf("%s %s\n", en ? en : "", s ? s : "");
			free(en);
		} else {
			s = cub_json_emit(line, false);
			printf("%s\n", s ? s : "");
		}
		free(s);
		free(name);
		cub_val__free(params);
		cub_val__free(line);
		n++;
	}
	cub_events__close(e);
	return CLI_OK;
}

int
main(int argc, char **argv)
{
	struct cub_val *params, *result = NULL, *errv = NULL, *body;
	struct cub_client *c;
	struct cli_cmd cmd;
	char err[256], rid[80];
	const char *msg;
	bool topology;
	int r, code;

	if (cli_parse(argc - 1, argv + 1, &cmd, err, sizeof(err))) {
		say("%s", err);
		usage(stderr);
		return CLI_USAGE;
	}
	if (cmd.help || (argc == 1)) {
		usage(stdout);
		cli_cmd_clear(&cmd);
		return CLI_OK;
	}
	if (cmd.version) {
		printf("cubicle %s\n", CUB_VERSION);
		cli_cmd_clear(&cmd);
		return CLI_OK;
	}
	if (cli_wants_events(&cmd)) {
		r = stream_events(&cmd);
		cli_cmd_clear(&cmd);
		return r;
	}
	if (load_body(&cmd, &body)) {
		cli_cmd_clear(&cmd);
		return CLI_USAGE;
	}
	CUB_OPTS(cub_client_opts, o, .socket_dir = cmd.socket_dir,
	    .timeout_ms = cmd.timeout_ms);
	c = cub_client__open(&o);
	if (!c) {
		say("cannot reach cubicled at %s: %s",
		    cmd.socket_dir ? cmd.socket_dir :
		    getenv("CUBICLE_SOCKET_DIR") ?: CUB_DEFAULT_SOCKET_DIR,
		    strerror(errno));
		cub_val__free(body);
		cli_cmd_clear(&cmd);
		return CLI_UNREACHABLE;
	}
	if (cmd.rid)
		snprintf(rid, sizeof(rid), "%s", cmd.rid);
	else
		cub_client__new_rid(rid, sizeof(rid));
	topology = cmd.words && cmd.words->arr.len &&
		   (!strcmp(cub_val__as_str(cmd.words->arr.items[0]) ?: "",
			"topology") ||
		       (cmd.words->arr.len > 1 &&
			   !strcmp(cub_val__as_str(cmd.words->arr.items[0])
				       ?: "",
			       "show") &&
			   !strcmp(cub_val__as_str(cmd.words->arr.items[1])
				       ?: "",
			       "topology")));
	params = cub_val__map();
	cub_val__set(params, "words", cmd.words);
	cub_val__set(params, "args", cmd.args);
	cmd.words = cmd.args = NULL;
	if (body)
		cub_val__set(params, "body", body);
	cub_val__set(params, "rid", cub_val__str(rid));
	if (cmd.as) {
		/* A gateway's request on behalf of a user (role reader unless
		 * USER:ROLE says otherwise): the broker decides. */
		const char *colon = strchr(cmd.as, ':');
		struct cub_val *as = cub_val__map();

		cub_val__set(as, "user",
		    colon ? cub_val__strn(cmd.as, (size_t)(colon - cmd.as))
			  : cub_val__str(cmd.as));
		if (colon)
			cub_val__set(as, "role", cub_val__str(colon + 1));
		cub_val__set(params, "as", as);
	}
	r = cub_client__call(c, CUB_M_REQUEST, params, &result, &errv);
	cub_client__close(c);
	if (r == -EREMOTEIO) {
		code = cub_err_parse(errv, &msg);
		say("%s (%s)", msg, cub_err_name(code));
		r = CLI_FAILED;
	} else if (r == -EMSGSIZE || r == -EINVAL) {
		say("the request is larger than the %u MiB message "
		    "cap",
		    CUB_MSG_MAX >> 20);
		r = CLI_USAGE;
	} else if (r) {
		say("broker did not answer: %s", strerror(-r));
		r = CLI_UNREACHABLE;
	} else if (topology && cmd.out == CLI_TEXT && result &&
		   result->kind == CUB_V_MAP) {
		cli_render_topology(stdout, result);
		r = CLI_OK;
	} else {
		cli_render(stdout, result, cmd.out);
		r = CLI_OK;
	}
	cub_val__free(result);
	cub_val__free(errv);
	cli_cmd_clear(&cmd);
	return r;
}
