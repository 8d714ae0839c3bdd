// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-cube logs: the cube's loglevel and a bounded ring of its recent
 * lines (`cubicle <cube> log show`).  Two writers:
 *   - the cube's worker, through cub_cube__log() (the cube.log call,
 *     served on the service's thread, wcall.c);
 *   - the cube's programs, through cub_log() (cube.bpf.h), which writes
 *     fixed records into the cube's cub_log_ring; the main loop drains
 *     the rings (cubelog_poll()) and formats the lines here, never with
 *     printf: a format is the program's, untrusted.
 * Both are filtered by the cube's loglevel (programs read it from
 * cub_config, which the broker rewrites when it changes: no reload; the
 * broker filters again, as a program may ignore it) and share the
 * service's token bucket: LOG_BURST, then LOG_PER_SEC a second.  A worker
 * line over the rate is counted as suppressed.  Every record the broker
 * reads from a ring takes a token too, kept or not (filtered, malformed):
 * a ring is polled only while its service has DRAIN_MIN tokens, at most
 * DRAIN_MAX records a pass, and the main loop sleeps until the bucket
 * refills.  Meanwhile a program that logs every packet of a flood finds
 * its ring (of a fixed size, bpfobj.c checks it) full, and counts what it
 * loses in cub_scratch: the broker's work is bounded by the rate, not by
 * the flood.  A cube keeps at most CUBELOG_LINES lines; older ones are
 * dropped and counted.
 *
 * Locking: cubelog_lock guards every cube's log, its loglevel and the
 * services' buckets; it is taken after b->lock (never the other way), and
 * held for no syscall but the cub_config write.  The main loop takes
 * b->lock only when it is free (cubelog_poll(), cubelog_fds()); `log show`
 * and level changes run on the service's request thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "broker.h"
#include "cleanup.h"
#include "cube_shared.h"
#include "cubicle/errors.h"
#include "log.h"
#include "text.h"

#define LOG_BURST 1000.0
#define LOG_PER_SEC 500.0
#define DRAIN_MAX 256
#define DRAIN_MIN 32.0

/* Who wrote a line. */
enum line_source {
	SRC_WORKER = 0,
	SRC_BPF,    /* a program, through its ring */
	SRC_BROKER, /* the broker: who changed the cube */
};

static const char *const source_names[] = {
    [SRC_WORKER] = "worker",
    [SRC_BPF] = "bpf",
    [SRC_BROKER] = "broker",
};

struct cubelog_line {
	int64_t time_ms; /* CLOCK_REALTIME */
	uint8_t level;
	uint8_t source; /* enum line_source */
	char *text;
};

struct cubelog {
	struct cubelog_line lines[CUBELOG_LINES];
	unsigned head; /* oldest */
	unsigned len;
	uint64_t dropped; /* lines pushed out by newer ones */
};

static pthread_mutex_t cubelog_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
    [CUB_LOG_TRACE] = "TRACE",
    [CUB_LOG_DEBUG] = "DEBUG",
    [CUB_LOG_INFO] = "INFO",
    [CUB_LOG_WARN] = "WARN",
    [CUB_LOG_ERR] = "ERR",
    [CUB_LOG_CRITICAL] = "CRITICAL",
    [CUB_LOG_OFF] = "OFF",
};

static int
cubelog_level_parse(const char *s)
{
	int i;

	for (i = 0; s && i <= CUB_LOG_OFF; i++)
		if (!strcasecmp(s, level_names[i]))
			return i;
	return -EINVAL;
}

int
cubelog_doc_level(const struct cub_val *doc)
{
	int l = cubelog_level_parse(cub_val__get_str(doc, "loglevel"));

	return l < 0 ? CUB_LOG_INFO : l;
}

static uint32_t
level_mask(int level)
{
	uint32_t m = 0;
	int i;

	for (i = level; i < CUB_LOG_OFF; i++)
		m |= 1u << i;
	return m;
}

/* Write the cube's loglevel into its cub_config; b->lock held. */
static int
write_config(struct cube *c, int level)
{
	struct cub_config cfg = {.log_mask = level_mask(level)};
	struct bmap *m = c->obj ? bpfobj_map(c->obj, "cub_config") : NULL;
	uint32_t key = 0;

	if (!m || !m->framework)
		return 0;
	if (bpf_map_update_elem(m->fd, &key, &cfg, BPF_ANY))
		return log_errno(
		    -errno, "cube '%s': write cub_config", c->name);
	return 0;
}

static int on_record(void *ctx, void *data, size_t size);

/* After a load or an adoption: the log ring, and the loglevel written. */
int
cubelog_open(struct broker *b, struct cube *c)
{
	struct bmap *m = bpfobj_map(c->obj, "cub_log_ring");
	int level;

	(void)b;
	pthread_mutex_lock(&cubelog_lock);
	level = c->loglevel;
	pthread_mutex_unlock(&cubelog_lock);
	write_config(c, level);
	if (!m || !m->framework || c->obj->logring)
		return 0;
	c->obj->logring = ring_buffer__new(m->fd, on_record, c, NULL);
	if (!c->obj->logring)
		return log_errno(-errno, "cube '%s': open log ring", c->name);
	return 0;
}

/* The cube's document was changed (cube_update()): take its loglevel. */
void
cubelog_update(struct broker *b, struct cube *c)
{
	int level = cubelog_doc_level(c->doc);

	pthread_mutex_lock(&b->lock);
	pthread_mutex_lock(&cubelog_lock);
	c->loglevel = level;
	pthread_mutex_unlock(&cubelog_lock);
	write_config(c, level);
	pthread_mutex_unlock(&b->lock);
}

struct cubelog *
cubelog_free(struct cubelog *l)
{
	unsigned i;

	if (!l)
		return NULL;
	for (i = 0; i < CUBELOG_LINES; i++)
		free(l->lines[i].text);
	free(l);
	return NULL;
}

static int64_t
realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The service's bucket refilled to now; cubelog_lock held. */
static struct log_limit *
bucket(struct service *s)
{
	struct log_limit *l = &s->cube_log_limit;
	int64_t now = now_ms();

	l->tokens += (double)(now - l->last_ms) / 1000.0 * LOG_PER_SEC;
	if (l->tokens > LOG_BURST || !l->last_ms)
		l->tokens = LOG_BURST;
	l->last_ms = now;
	return l;
}

/* One token of the service's bucket; cubelog_lock held. */
static bool
take_token(struct service *s)
{
	struct log_limit *l = bucket(s);

	if (l->tokens < 1.0)
		return false;
	l->tokens -= 1.0;
	return true;
}

/* A line escaped: every byte may become a 6-byte escape (\u00NN). */
#define CUBELOG_SHOWN_MAX (CUBELOG_TEXT_MAX * 6 + 1)

/*
 * Append a line (escaped here, into shown) to the cube's log if its
 * loglevel keeps level; true if kept.  cubelog_lock held, the token
 * taken.
 */
static bool
append(struct cube *c, int level, enum line_source src, const char *text,
    size_t n, char shown[CUBELOG_SHOWN_MAX])
{
	struct cubelog_line *ln;
	struct cubelog *l;
	char *text_esc;

	if (level < c->loglevel || level >= CUB_LOG_OFF)
		return false;
	if (!c->log && !(c->log = calloc(1, sizeof(*c->log)))) {
		c->log_suppressed++;
		return false;
	}
	l = c->log;
	cubi_text_escape(shown, CUBELOG_SHOWN_MAX, text,
	    n > CUBELOG_TEXT_MAX ? CUBELOG_TEXT_MAX : n);
	if (!(text_esc = strdup(shown))) {
		c->log_suppressed++;
		return false;
	}
	if (l->len == CUBELOG_LINES) {
		ln = &l->lines[l->head];
		free(ln->text);
		l->head = (l->head + 1) % CUBELOG_LINES;
		l->len--;
		l->dropped++;
	}
	ln = &l->lines[(l->head + l->len) % CUBELOG_LINES];
	ln->time_ms = realtime_ms();
	ln->level = (uint8_t)level;
	ln->source = (uint8_t)src;
	ln->text = text_esc;
	l->len++;
	return true;
}

/*
 * A line of a program or a worker the cube's log kept goes to the
 * broker's log too: the cube's loglevel is its filter, not the broker's
 * own (TRACE to INFO at the broker's INFO priority, the level named in
 * the line), and its rate is the service's bucket.  shown is escaped.
 */
static void
broker_log_line(const struct cube *c, int level, enum line_source src,
    const char *shown)
{
	int prio = level >= CUB_LOG_ERR    ? LOG_P_ERR
		   : level == CUB_LOG_WARN ? LOG_P_WARN
					   : LOG_P_INFO;

	log_msg(prio, "cube '%s' %s (%s): %s", c->name, level_names[level],
	    source_names[src], shown);
}

/* A line from the worker or the broker, paid from the service's bucket. */
static int
keep_line(struct cube *c, int level, enum line_source src, const char *text,
    size_t n)
{
	char shown[CUBELOG_SHOWN_MAX];
	bool kept = false;

	if (level < 0 || level >= CUB_LOG_OFF)
		return -EINVAL;
	pthread_mutex_lock(&cubelog_lock);
	if (level < c->loglevel)
		; /* not kept: no token either */
	else if (take_token(c->svc))
		kept = append(c, level, src, text, n, shown);
	else
		c->log_suppressed++;
	pthread_mutex_unlock(&cubelog_lock);
	/* Programs' and workers' lines, not the broker's notes about them. */
	if (kept && src != SRC_BROKER)
		broker_log_line(c, level, src, shown);
	return 0;
}

int
cubelog_worker_line(struct cube *c, int level, const char *text, size_t n)
{
	return keep_line(c, level, SRC_WORKER, text, n);
}

void
cubelog_broker_line(struct cube *c, int level, const char *fmt, ...)
{
	char text[CUBELOG_TEXT_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	keep_line(c, level, SRC_BROKER, text, strlen(text));
}

/* Append buf[0..n) to out[*o..len), as much as fits with a NUL after. */
static void
put_str(char *out, size_t len, size_t *o, const char *buf, int n)
{
	size_t k;

	if (n <= 0 || *o + 1 >= len)
		return;
	k = (size_t)n;
	if (k > len - 1 - *o)
		k = len - 1 - *o;
	memcpy(out + *o, buf, k);
	*o += k;
}

/* Append the decimal or hex form of v to out[*o..len). */
static void
put_num(char *out, size_t len, size_t *o, uint64_t v, char conv, int size)
{
	char buf[32];
	int64_t sv;
	int n;

	if (size == 1)
		v = (uint8_t)v;
	else if (size == 2)
		v = (uint16_t)v;
	else if (size == 4)
		v = (uint32_t)v;
	switch (conv) {
	case 'd':
	case 'i':
		sv = size == 1   ? (int8_t)v
		     : size == 2 ? (int16_t)v
		     : size == 4 ? (int32_t)v
				 : (int64_t)v;
		n = snprintf(buf, sizeof(buf), "%" PRId64, sv);
		break;
	case 'x':
		n = snprintf(buf, sizeof(buf), "%" PRIx64, v);
		break;
	case 'X':
		n = snprintf(buf, sizeof(buf), "%" PRIX64, v);
		break;
	default:
		n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
		break;
	}
	put_str(out, len, o, buf, n);
}

/*
 * Polycube's conversions (cube_shared.h, struct cub_log_xrec), on the
 * argument as a little-endian __u64 holds the packet's bytes: %I the low
 * 4 bytes, dotted; %P the low 2 bytes as a big-endian port; %M the low 6
 * bytes as a MAC; %c the low byte.
 */
static void
put_net(char *out, size_t len, size_t *o, uint64_t v, char conv)
{
	unsigned char b[8];
	char buf[32];
	int i, n;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	switch (conv) {
	case 'I':
		n = snprintf(buf, sizeof(buf), "%u.%u.%u.%u", b[0], b[1], b[2],
		    b[3]);
		break;
	case 'P':
		n = snprintf(buf, sizeof(buf), "%u", (unsigned)b[0] << 8 | b[1]);
		break;
	case 'M':
		n = snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
		    b[0], b[1], b[2], b[3], b[4], b[5]);
		break;
	default: /* 'c': any byte, escaped with the line */
		buf[0] = (char)b[0];
		n = 1;
		break;
	}
	put_str(out, len, o, buf, n);
}

/*
 * Format a program's record: conversions %d %i %u %x %X with an optional
 * h, hh, l, ll or z, %c, %I, %P, %M and %%; an argument the record does
 * not have (past nargs or maxargs, whichever is smaller) is shown as '?',
 * anything else as written (%s, %p, %n: nothing is followed).  The
 * format is read up to fmtlen bytes or its NUL.  Returns the length (out
 * is NUL-terminated, unescaped: it may hold any byte, NUL included).
 */
static size_t
cubelog_format(char *out, size_t len, const char *fmt, size_t fmtlen,
    const uint64_t *args, uint32_t nargs, uint32_t maxargs)
{
	size_t i = 0, o = 0, j;
	uint32_t arg = 0, have = nargs < maxargs ? nargs : maxargs;
	int size;

	if (!len)
		return 0;
	while (i < fmtlen && fmt[i] && o + 1 < len) {
		if (fmt[i] != '%') {
			out[o++] = fmt[i++];
			continue;
		}
		if (i + 1 < fmtlen && fmt[i + 1] == '%') {
			out[o++] = '%';
			i += 2;
			continue;
		}
		j = i + 1;
		if (j < fmtlen && fmt[j] && strchr("cIPM", fmt[j])) {
			if (arg < have)
				put_net(out, len, &o, args[arg], fmt[j]);
			else
				out[o++] = '?';
			arg++;
			i = j + 1;
			continue;
		}
		size = 4;
		if (j < fmtlen && fmt[j] == 'h') {
			size = 2;
			j++;
			if (j < fmtlen && fmt[j] == 'h') {
				size = 1;
				j++;
			}
		} else if (j < fmtlen && (fmt[j] == 'l' || fmt[j] == 'z')) {
			size = 8;
			j++;
			if (j < fmtlen && fmt[j - 1] == 'l' && fmt[j] == 'l')
				j++;
		}
		if (j < fmtlen && fmt[j] && strchr("diuxX", fmt[j])) {
			if (arg < have)
				put_num(out, len, &o, args[arg], fmt[j], size);
			else
				out[o++] = '?';
			arg++;
			i = j + 1;
			continue;
		}
		out[o++] = fmt[i++]; /* not a conversion: as written */
	}
	out[o] = '\0';
	return o;
}

/*
 * The line of an extended record: "tag:line: " (either part alone when
 * the other is empty or 0), then the message.
 */
static size_t
format_xrec(char *out, size_t len, const struct cub_log_xrec *x)
{
	uint64_t args[CUB_LOGX_ARGS];
	size_t tl = strnlen(x->tag, CUB_LOGX_TAG_MAX), o = 0;
	char buf[32];
	int n;

	put_str(out, len, &o, x->tag, (int)tl);
	if (x->line) {
		n = snprintf(buf, sizeof(buf), "%s%" PRIu32, tl ? ":" : "line ",
		    x->line);
		put_str(out, len, &o, buf, n);
	}
	if (tl || x->line)
		put_str(out, len, &o, ": ", 2);
	memcpy(args, x->args, sizeof(args));
	return o + cubelog_format(out + o, len - o, x->fmt,
		       strnlen(x->fmt, CUB_LOGX_FMT_MAX), args, x->nargs,
		       CUB_LOGX_ARGS);
}

_Static_assert(sizeof(struct cub_log_rec) != sizeof(struct cub_log_xrec),
    "the two record kinds are told apart by their length");
_Static_assert(offsetof(struct cub_log_rec, level) ==
			   offsetof(struct cub_log_xrec, level) &&
		   offsetof(struct cub_log_rec, nargs) ==
		       offsetof(struct cub_log_xrec, nargs),
    "level and nargs where both kinds have them");

/*
 * A record of a cube's cub_log_ring; b->lock held (cubelog_poll()).  Its
 * kind is its length: a struct cub_log_rec, a struct cub_log_xrec, or
 * bad.  A negative return stops ring_buffer__consume() after this
 * record.
 */
static int
on_record(void *ctx, void *data, size_t size)
{
	const struct cub_log_rec *rec = data;
	struct cube *c = ctx;
	char line[CUBELOG_TEXT_MAX + 1], shown[CUBELOG_SHOWN_MAX];
	uint64_t args[CUB_LOG_ARGS];
	bool ok, kept = false;
	size_t n;
	int level = -1;

	pthread_mutex_lock(&cubelog_lock);
	ok = take_token(c->svc);
	if (!ok) {
		c->log_suppressed++;
	} else if ((size != sizeof(struct cub_log_rec) &&
		       size != sizeof(struct cub_log_xrec)) ||
		   rec->level >= CUB_LOG_OFF) {
		c->log_bad++;
	} else if ((int)rec->level < c->loglevel) {
		c->log_filtered++; /* the program ignored cub_config */
	} else {
		level = (int)rec->level;
		if (size == sizeof(struct cub_log_xrec)) {
			n = format_xrec(line, sizeof(line), data);
		} else {
			memcpy(args, rec->args, sizeof(args));
			n = cubelog_format(line, sizeof(line), rec->fmt,
			    strnlen(rec->fmt, CUB_LOG_FMT_MAX), args,
			    rec->nargs, CUB_LOG_ARGS);
		}
		kept = append(c, level, SRC_BPF, line, n, shown);
	}
	pthread_mutex_unlock(&cubelog_lock);
	if (kept)
		broker_log_line(c, level, SRC_BPF, shown);
	if (!ok || ++c->log_drained >= DRAIN_MAX)
		return -EAGAIN;
	return 0;
}

/* May the cube's ring be read now?  cubelog_lock held. */
static bool
drainable(struct cube *c)
{
	return c->obj && c->obj->logring && bucket(c->svc)->tokens >= DRAIN_MIN;
}

/*
 * Drain the log rings of services with tokens, DRAIN_MAX records each;
 * main thread.  Skipped while b->lock is busy (the records wait).
 */
void
cubelog_poll(struct broker *b)
{
	struct cube *c;
	bool go;

	if (pthread_mutex_trylock(&b->lock))
		return;
	for (c = b->cubes; c; c = c->next) {
		pthread_mutex_lock(&cubelog_lock);
		go = drainable(c);
		pthread_mutex_unlock(&cubelog_lock);
		if (go) {
			c->log_drained = 0;
			ring_buffer__consume(c->obj->logring);
		}
	}
	pthread_mutex_unlock(&b->lock);
}

/*
 * The epoll fds of the rings that may be read now, for the main loop's
 * poll(); *timeout_ms (-1: none) is lowered to when a ring left out
 * becomes readable again.  b->lock taken if it is free; -1 if it is not
 * (as slowpath_fds()).
 */
int
cubelog_fds(struct broker *b, struct pollfd *pfd, int max, int *timeout_ms)
{
	struct cube *c;
	double tokens;
	int n = 0, wait;

	if (pthread_mutex_trylock(&b->lock))
		return -1;
	pthread_mutex_lock(&cubelog_lock);
	for (c = b->cubes; c && n < max; c = c->next) {
		if (!c->obj || !c->obj->logring)
			continue;
		tokens = bucket(c->svc)->tokens;
		if (tokens >= DRAIN_MIN) {
			pfd[n++] = (struct pollfd){
			    .fd = ring_buffer__epoll_fd(c->obj->logring),
			    .events = POLLIN};
			continue;
		}
		wait = (int)((DRAIN_MIN - tokens) * 1000.0 / LOG_PER_SEC) + 1;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
	}
	pthread_mutex_unlock(&cubelog_lock);
	pthread_mutex_unlock(&b->lock);
	return n;
}

/* Records the cube's programs lost to a full ring: cub_scratch's count. */
static uint64_t
bpf_lost(struct broker *b, struct cube *c)
{
	struct bmap *m = c->obj ? bpfobj_map(c->obj, "cub_scratch_map") : NULL;
	struct cub_scratch *v;
	uint32_t key = 0;
	uint64_t sum = 0;
	int i;

	if (!m || !m->framework || m->value_size != sizeof(*v))
		return 0;
	v = calloc((size_t)b->ncpus, sizeof(*v));
	if (v && !bpf_map_lookup_elem(m->fd, &key, v))
		for (i = 0; i < b->ncpus; i++)
			sum += v[i].log_lost;
	free(v);
	return sum;
}

static struct cub_val *
time_val(int64_t ms)
{
	char buf[64];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(ms % 1000));
	return cub_val__str(buf);
}

/*
 * cubicle <cube> log [show]: {loglevel, held, dropped, suppressed, lost,
 * bad, filtered, lines: [{time, level, source, message}] oldest first}.
 */
int
cubelog_show(struct broker *b, struct cube *c, const struct cub_val *words,
    struct cub_val **result, struct cub_val **errv)
{
	struct cub_val *r, *lines, *e;
	const struct cubelog_line *ln;
	const char *verb =
	    words->arr.len > 2 ? words->arr.items[2]->str.ptr : "show";
	uint64_t lost;
	unsigned i;
	int fail = 0;

	if (words->arr.len > 3 || strcmp(verb, "show")) {
		*errv = cub_err_val(CUB_E_VERB,
		    "cube '%s': usage: %s log [show] (the cube's recent log "
		    "lines; its loglevel is set with '%s set loglevel=...')",
		    c->name, c->name, c->name);
		return -EINVAL;
	}
	pthread_mutex_lock(&b->lock);
	lost = bpf_lost(b, c);
	pthread_mutex_unlock(&b->lock);
	r = cub_val__map();
	lines = cub_val__array();
	fail = !r || !lines;
	/* The lines last, so that the text form shows the counts first. */
	pthread_mutex_lock(&cubelog_lock);
	for (i = 0; !fail && c->log && i < c->log->len; i++) {
		ln = &c->log->lines[(c->log->head + i) % CUBELOG_LINES];
		e = cub_val__map();
		fail |= !e || cub_val__set(e, "time", time_val(ln->time_ms)) ||
			cub_val__set(
			    e, "level", cub_val__str(level_names[ln->level])) ||
			cub_val__set(e, "source",
			    cub_val__str(source_names[ln->source])) ||
			cub_val__set(e, "message", cub_val__str(ln->text)) ||
			cub_val__push(lines, e);
	}
	if (!fail)
		fail = cub_val__set(r, "loglevel",
			   cub_val__str(level_names[c->loglevel])) ||
		       cub_val__set(r, "held",
			   cub_val__uint(c->log ? c->log->len : 0)) ||
		       cub_val__set(r, "dropped",
			   cub_val__uint(c->log ? c->log->dropped : 0)) ||
		       cub_val__set(
			   r, "suppressed", cub_val__uint(c->log_suppressed)) ||
		       cub_val__set(r, "lost", cub_val__uint(lost)) ||
		       cub_val__set(r, "bad", cub_val__uint(c->log_bad)) ||
		       cub_val__set(
			   r, "filtered", cub_val__uint(c->log_filtered)) ||
		       cub_val__set(r, "lines", TAKE_PTR(lines));
	pthread_mutex_unlock(&cubelog_lock);
	if (fail) {
		cub_val__free(lines);
		cub_val__free(r);
		*errv = cub_err_val(CUB_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	*result = r;
	return 0;
}
