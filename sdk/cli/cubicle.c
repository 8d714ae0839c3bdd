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
#include "tools.h"
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
	    "  cubicle mon1 set dataplane-config --file config.json\n"
	    "  cubicle dynmon inject mon1 veth1 config.json [type=TC|XDP_SKB|\n"
	    "                 XDP_DRV]   create or update, attach, inject\n"
	    "  cubicle dynmon extract mon1 [ingress|egress|all] [NAME]\n"
	    "                 [--save FILE]   the metrics, as JSON\n"
	    "options:\n"
	    "  -o, --output text|json|yaml   (also -json, -yaml)\n"
	    "  -f, --file FILE   JSON or YAML body (add/set; *.yaml/*.yml\n"
	    "                    is YAML, *.json JSON, else '{' = JSON);\n"
	    "                    '-' = stdin; a piped stdin is read for\n"
	    "                    add/set too\n"
	    "  --socket-dir DIR  broker sockets (or $CUBICLE_SOCKET_DIR;\n"
	    "                    default /run/cubicle)\n"
	    "  --connect URL     a remote broker, tls+tcp://HOST:PORT (or\n"
	    "                    $CUBICLE_CONNECT), with --tls-ca FILE (its\n"
	    "                    CA), --tls-cert FILE, --tls-key FILE (ours;\n"
	    "                    or $CUBICLE_TLS_CA, _CERT, _KEY)\n"
	    "  --timeout MS      per call (default 10000); for events, how\n"
	    "                    long to listen\n"
	    "  --as USER[:ROLE]  gateways only: on behalf of USER, as role\n"
	    "                    reader (default), tenant or admin\n"
	    "  --save FILE       dynmon extract: write the metrics to FILE\n"
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
	/* A read error (a directory: EISDIR) is no shorter body. */
	if (buf && ferror(f)) {
		int e = errno ? errno : EIO;

		free(buf);
		errno = e;
		return NULL;
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
	int rerr;

	*body = NULL;
	if (!src) {
		if (!cli_wants_body(cmd) || isatty(0) || fstat(0, &st) ||
		    !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode)))
			return 0;
		src = "-";
	}
	f = strcmp(src, "-") ? fopen(src, "re") : stdin;
	if (!f) {
		int e = errno;

		say("%s: %s", src, strerror(e));
		return -e;
	}
	text = read_all(f, &len);
	rerr = errno;
	if (f != stdin)
		fclose(f);
	if (!text) {
		if (rerr == EMSGSIZE)
			say("%s: the body is larger than the %u MiB "
			    "message cap",
			    src, CUB_MSG_MAX >> 20);
		else
			say("%s: %s", src, strerror(rerr));
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

/* The open failed: say where and why. */
static void
cannot_reach(const struct cli_cmd *cmd)
{
	const char *why = cub_client__last_error();
	int e = errno;

	if (*why)
		say("cannot reach cubicled: %s", why);
	else
		say("cannot reach cubicled at %s: %s",
		    cmd->connect	  ? cmd->connect
		    : cmd->socket_dir ? cmd->socket_dir
				      : getenv("CUBICLE_SOCKET_DIR")
					  ?: CUB_DEFAULT_SOCKET_DIR,
		    strerror(e));
}

/* cubicle events: one line per event until --count or --timeout. */
static int
stream_events(const struct cli_cmd *cmd)
{
	struct cub_val *params, *line;
	struct cub_events *e;
	char *name, *s;
	int n = 0, r;

	CUB_OPTS(cub_client_opts, o, .socket_dir = cmd->socket_dir,
	    .url = cmd->connect, .tls_ca = cmd->tls_ca,
	    .tls_cert = cmd->tls_cert, .tls_key = cmd->tls_key);
	e = cub_events__open(&o);
	if (!e) {
		say("cannot reach cubicled events: %s",
		    *cub_client__last_error() ? cub_client__last_error()
					      : strerror(errno));
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

/*
 * The dynmon tools (tools.h): several broker calls in one command.  One
 * call: 0 and *result, or the exit code with the broker's error said
 * (prefixed by what).  words and args are taken.
 */
static int
tool_call(struct cub_client *c, const char *what, struct cub_val *words,
    struct cub_val *args, struct cub_val *body, struct cub_val **result)
{
	struct cub_val *params = cub_val__map(), *errv = NULL;
	const char *msg;
	char rid[80];
	int r, code;

	*result = NULL;
	cub_client__new_rid(rid, sizeof(rid));
	if (!params || cub_val__set(params, "words", words) ||
	    cub_val__set(params, "args", args ? args : cub_val__map()) ||
	    (body && cub_val__set(params, "body", body)) ||
	    cub_val__set(params, "rid", cub_val__str(rid))) {
		cub_val__free(params);
		say("%s: out of memory", what);
		return CLI_FAILED;
	}
	r = cub_client__call(c, CUB_M_REQUEST, params, result, &errv);
	if (r == -EREMOTEIO) {
		code = cub_err_parse(errv, &msg);
		say("%s: %s (%s)", what, msg, cub_err_name(code));
		r = CLI_FAILED;
	} else if (r) {
		say("%s: broker did not answer: %s", what, strerror(-r));
		r = CLI_UNREACHABLE;
	}
	cub_val__free(errv);
	if (r)
		*result = cub_val__free(*result);
	return r;
}

/* An array of the strings given, NULL-terminated. */
static struct cub_val *
tool_words(const char *w, ...)
{
	struct cub_val *a = cub_val__array();
	va_list ap;

	va_start(ap, w);
	for (; a && w; w = va_arg(ap, const char *))
		if (cub_val__push(a, cub_val__str(w)))
			a = cub_val__free(a);
	va_end(ap);
	return a;
}

/* Call and drop the result: 0 or the exit code. */
static int
tool_do(struct cub_client *c, const char *what, struct cub_val *words,
    struct cub_val *args, struct cub_val *body)
{
	struct cub_val *res;
	int r = tool_call(c, what, words, args, body, &res);

	cub_val__free(res);
	return r;
}

/*
 * cubicle dynmon inject CUBE TARGET FILE [type=...]: Polycube's
 * dynmon_injector.py.  The file is read and checked, the topology read
 * and the plan made before anything changes; a new cube is added with
 * its dataplane-config in the add itself (refused whole: no cube), then
 * attached (refused: the new cube is deleted again).  An existing cube
 * gets the dataplane-config (refused: the old program keeps running) and
 * is re-attached if it is attached elsewhere (refused: attached back).
 */
static int
run_inject(struct cli_cmd *cmd, const struct cli_tool_args *t,
    struct cub_client *c)
{
	struct cub_val *body = NULL, *topo = NULL, *nd = NULL, *args, *doc;
	struct cli_inject_plan plan;
	struct cli_cmd fc = *cmd;
	char err[512], *detach = NULL;
	int r;

	fc.file = t->file;
	if (load_body(&fc, &body) || !body) {
		if (!body)
			say("dynmon inject: %s: no dataplane-config", t->file);
		return CLI_USAGE;
	}
	if (cli_dataplane_check(body, err, sizeof(err))) {
		say("dynmon inject: %s: %s", t->file, err);
		cub_val__free(body);
		return CLI_USAGE;
	}
	r = tool_call(c, "dynmon inject: show topology",
	    tool_words("show", "topology", NULL), NULL, NULL, &topo);
	if (!r)
		r = tool_call(c, "dynmon inject: netdevs show",
		    tool_words("netdevs", "show", NULL), NULL, NULL, &nd);
	if (!r && cli_inject_plan(topo, nd, t, &plan, err, sizeof(err))) {
		say("dynmon inject: %s", err);
		r = CLI_FAILED;
	}
	if (!r && plan.detach && !(detach = strdup(plan.detach)))
		r = CLI_FAILED;
	cub_val__free(topo);
	cub_val__free(nd);
	if (r) {
		cub_val__free(body);
		return r;
	}
	if (plan.create) {
		args = cub_val__map();
		if (t->type)
			cub_val__set(args, "type", cub_val__str(t->type));
		doc = cub_val__map();
		cub_val__set(doc, "dataplane-config", body);
		body = NULL;
		r = tool_do(c, "dynmon inject: add",
		    tool_words(CLI_DYNMON_SERVICE, "add", t->cube, NULL), args,
		    doc);
		if (r)
			return r;
		printf("%s: created, dataplane-config set\n", t->cube);
	} else {
		r = tool_do(c, "dynmon inject: dataplane-config set",
		    tool_words(t->cube, "dataplane-config", "set", NULL), NULL,
		    body);
		body = NULL;
		if (r) {
			free(detach);
			return r;
		}
		printf("%s: dataplane-config set\n", t->cube);
	}
	if (detach) {
		r = tool_do(c, "dynmon inject: detach",
		    tool_words("detach", t->cube, detach, NULL), NULL, NULL);
		if (r) {
			free(detach);
			return r;
		}
		printf("%s: detached from %s\n", t->cube, detach);
	}
	if (plan.attach) {
		r = tool_do(c, "dynmon inject: attach",
		    tool_words("attach", t->cube, t->target, NULL), NULL, NULL);
		if (r && plan.create) {
			if (!tool_do(c, "dynmon inject: undo the add",
				tool_words(t->cube, "del", NULL), NULL, NULL))
				say("dynmon inject: cube '%s' deleted again",
				    t->cube);
		} else if (r && detach) {
			if (!tool_do(c, "dynmon inject: attach back",
				tool_words("attach", t->cube, detach, NULL),
				NULL, NULL))
				say("dynmon inject: '%s' attached back to '%s' "
				    "(with the new dataplane-config)",
				    t->cube, detach);
		}
		if (!r)
			printf("%s: attached to %s\n", t->cube, t->target);
	} else {
		printf("%s: already attached to %s\n", t->cube, t->target);
	}
	free(detach);
	return r;
}

/* Write text to path through a temporary file and a rename: a failed
 * write leaves what was there. */
static int
save_file(const char *path, const char *text)
{
	char *tmp = NULL;
	size_t len = strlen(text);
	mode_t um;
	FILE *f;
	int fd, r = 0;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	um = umask(0);
	umask(um);
	f = fdopen(fd, "w");
	if (!f || fchmod(fd, 0666 & ~um) || fwrite(text, 1, len, f) != len ||
	    fflush(f) || fsync(fd))
		r = -errno ?: -EIO;
	if (f ? fclose(f) : close(fd))
		r = r ?: -errno;
	if (!r && rename(tmp, path))
		r = -errno;
	if (r)
		unlink(tmp);
	free(tmp);
	return r;
}

/*
 * cubicle dynmon extract CUBE [ingress|egress|all] [NAME] [--save FILE]:
 * Polycube's dynmon_extractor.py.  A read like `metrics show` (swap- and
 * empty-on-read metrics give their deltas); JSON unless -o yaml.
 */
static int
run_extract(struct cli_cmd *cmd, const struct cli_tool_args *t,
    struct cub_client *c)
{
	struct cub_val *res;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	r = tool_call(c, "dynmon extract", cli_extract_words(t), NULL, NULL,
	    &res);
	if (r)
		return r;
	if (!t->save) {
		cli_render(stdout, res, cmd->out == CLI_YAML ? CLI_YAML : CLI_JSON);
		cub_val__free(res);
		return CLI_OK;
	}
	f = open_memstream(&text, &len);
	if (f) {
		cli_render(f, res, cmd->out == CLI_YAML ? CLI_YAML : CLI_JSON);
		fclose(f);
	}
	cub_val__free(res);
	r = text ? save_file(t->save, text) : -ENOMEM;
	free(text);
	if (r) {
		say("dynmon extract: --save %s: %s (nothing written)", t->save,
		    strerror(-r));
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int
run_tool(struct cli_cmd *cmd, const struct cli_tool_args *t)
{
	struct cub_client *c;
	int r;

	CUB_OPTS(cub_client_opts, o, .socket_dir = cmd->socket_dir,
	    .timeout_ms = cmd->timeout_ms, .url = cmd->connect,
	    .tls_ca = cmd->tls_ca, .tls_cert = cmd->tls_cert,
	    .tls_key = cmd->tls_key);
	c = cub_client__open(&o);
	if (!c) {
		cannot_reach(cmd);
		return CLI_UNREACHABLE;
	}
	r = t->tool == CLI_TOOL_INJECT ? run_inject(cmd, t, c)
				       : run_extract(cmd, t, c);
	cub_client__close(c);
	return r;
}

int
main(int argc, char **argv)
{
	struct cub_val *params, *result = NULL, *errv = NULL, *body;
	struct cub_client *c;
	struct cli_tool_args tool;
	struct cli_cmd cmd;
	char err[512], rid[80];
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
	if (cli_tool_parse(&cmd, &tool, err, sizeof(err))) {
		say("%s", err);
		cli_cmd_clear(&cmd);
		return CLI_USAGE;
	}
	if (tool.tool != CLI_TOOL_NONE) {
		r = run_tool(&cmd, &tool);
		cli_cmd_clear(&cmd);
		return r;
	}
	cli_words_set_first(cmd.words);
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
	    .timeout_ms = cmd.timeout_ms, .url = cmd.connect,
	    .tls_ca = cmd.tls_ca, .tls_cert = cmd.tls_cert,
	    .tls_key = cmd.tls_key);
	c = cub_client__open(&o);
	if (!c) {
		cannot_reach(&cmd);
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
