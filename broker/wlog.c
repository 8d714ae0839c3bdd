// SPDX-License-Identifier: BSD-2-Clause
/*
 * Worker logs.  A worker's stdout and stderr are a pipe the broker reads,
 * not the broker's log file: every line a worker writes is logged as
 *   <prio>cubicled[pid]: worker <svc>[<pid>]: <line, escaped>
 * so a worker cannot forge a broker line (a leading "<N>" of its own sets
 * the priority, never above error), lines are cut at WLOG_LINE_MAX bytes,
 * and each worker gets WLOG_BURST lines, refilled at WLOG_RATE a second;
 * what is over is counted and reported as "N lines suppressed".
 *
 * One thread per worker reads its pipe until every writer is gone, so a
 * worker that writes while the main thread waits for its reply never
 * blocks on a full pipe.  The threads take no broker lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "text.h"
#include "cubicle/schema.h"
#include "log.h"

#define WLOG_LINE_MAX 512 /* bytes of one worker line that are logged */
#define WLOG_BURST 200    /* lines a worker may log at once */
#define WLOG_RATE 20      /* lines a second after that */
#define WLOG_NOTE_MS 1000 /* report suppressed lines this often */

struct wlog {
	struct wlog *next;
	pthread_t thread;
	bool done; /* the thread has ended: join it */
	int fd;
	pid_t pid;
	char svc[CUB_NAME_MAX + 1];
	char *last; /* the service's last_words (under wlog_lock) */
	size_t lastlen;
	/* Read and written by the thread only. */
	char line[WLOG_LINE_MAX + 1];
	size_t len;
	bool cut;         /* the line is longer than WLOG_LINE_MAX */
	double tokens;    /* lines that may be logged now */
	int64_t refilled; /* ms of the last refill */
	uint64_t suppressed;
};

static pthread_mutex_t wlog_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wlog *wlogs;
static int wlog_stop[2] = {-1, -1}; /* written at shutdown */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
note_suppressed(struct wlog *w)
{
	if (!w->suppressed)
		return;
	log_warn("worker %s[%d]: %llu lines suppressed (over %d a second)",
	    w->svc, (int)w->pid, (unsigned long long)w->suppressed, WLOG_RATE);
	w->suppressed = 0;
}

static void
refill(struct wlog *w)
{
	int64_t now = mono_ms();

	w->tokens += (double)(now - w->refilled) * WLOG_RATE / 1000.0;
	if (w->tokens > WLOG_BURST)
		w->tokens = WLOG_BURST;
	w->refilled = now;
}

static void
emit(struct wlog *w)
{
	const char *text = w->line;
	int prio = LOG_P_INFO;

	w->line[w->len] = '\0';
	refill(w);
	if (w->tokens < 1) {
		w->suppressed++;
		goto out;
	}
	w->tokens -= 1;
	note_suppressed(w);
	/* The worker's own log lines carry a priority: keep it, but never
	 * above error. */
	if (w->len >= 3 && text[0] == '<' && text[1] >= '0' && text[1] <= '7' &&
	    text[2] == '>') {
		prio = text[1] - '0';
		if (prio < LOG_P_ERR)
			prio = LOG_P_ERR;
		text += 3;
	}
	log_msg(prio, "worker %s[%d]: %s%s", w->svc, (int)w->pid, text,
	    w->cut ? " [cut]" : "");
	if (prio <= LOG_P_ERR && w->last) {
		/* Why a worker that dies at its start died, for 'services'. */
		pthread_mutex_lock(&wlog_lock);
		cubi_text_escape(w->last, w->lastlen, text, strlen(text));
		pthread_mutex_unlock(&wlog_lock);
	}
out:
	w->len = 0;
	w->cut = false;
}

static void
feed(struct wlog *w, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			emit(w);
			continue;
		}
		if (w->len < WLOG_LINE_MAX)
			w->line[w->len++] = buf[i];
		else
			w->cut = true;
	}
}

static void *
wlog_thread(void *arg)
{
	struct wlog *w = arg;
	struct pollfd pfd[2] = {
	    {.fd = w->fd, .events = POLLIN},
	    {.fd = wlog_stop[0], .events = POLLIN},
	};
	char buf[16384];
	ssize_t n;
	int r;

	for (;;) {
		r = poll(pfd, 2, w->suppressed ? WLOG_NOTE_MS : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			note_suppressed(w);
			continue;
		}
		if (r < 0)
			break;
		if (pfd[0].revents) {
			n = read(w->fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break; /* every writer is gone */
			feed(w, buf, (size_t)n);
			continue;
		}
		if (pfd[1].revents)
			break; /* shutdown, and nothing left to read */
	}
	if (w->len || w->cut)
		emit(w);
	note_suppressed(w);
	close(w->fd);
	w->fd = -1;
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Joins the threads that have ended; lock held. */
static void
reap(bool all)
{
	struct wlog **pp = &wlogs, *w;

	while ((w = *pp)) {
		if (!all && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
			pp = &w->next;
			continue;
		}
		pthread_join(w->thread, NULL);
		*pp = w->next;
		free(w);
	}
}

int
wlog_pipe(int fds[2])
{
	if (wlog_stop[0] < 0 && pipe2(wlog_stop, O_CLOEXEC))
		return -errno;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	return 0;
}

void
wlog_last_words(char *last, char *out, size_t len)
{
	pthread_mutex_lock(&wlog_lock);
	if (out)
		snprintf(out, len, "%s", last);
	else
		last[0] = '\0';
	pthread_mutex_unlock(&wlog_lock);
}

bool
wlog_drain(pid_t pid, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	struct timespec ms = {.tv_nsec = 1000000};
	struct wlog *w;
	bool open;

	for (;;) {
		open = false;
		pthread_mutex_lock(&wlog_lock);
		for (w = wlogs; w; w = w->next)
			if (w->pid == pid &&
			    !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
				open = true;
		pthread_mutex_unlock(&wlog_lock);
		if (!open)
			return true;
		if (mono_ms() >= end)
			return false;
		nanosleep(&ms, NULL);
	}
}

void
wlog_start(const char *svc, pid_t pid, int fd, char *last, size_t lastlen)
{
	struct wlog *w = calloc(1, sizeof(*w));

	if (!w) {
		log_err("service '%s': no memory to read worker %d's log", svc,
		    (int)pid);
		close(fd); /* its writes fail with EPIPE: no stall */
		return;
	}
	w->fd = fd;
	w->pid = pid;
	w->last = last;
	w->lastlen = lastlen;
	w->tokens = WLOG_BURST;
	w->refilled = mono_ms();
	snprintf(w->svc, sizeof(w->svc), "%s", svc);
	pthread_mutex_lock(&wlog_lock);
	reap(false);
	if (pthread_create(&w->thread, NULL, wlog_thread, w)) {
		pthread_mutex_unlock(&wlog_lock);
		log_err("service '%s': cannot start a thread for worker %d's "
			"log",
		    svc, (int)pid);
		close(fd);
		free(w);
		return;
	}
	w->next = wlogs;
	wlogs = w;
	pthread_mutex_unlock(&wlog_lock);
}

void
wlog_shutdown(void)
{
	if (wlog_stop[1] >= 0 && write(wlog_stop[1], "", 1) < 0)
		log_errno(-errno, "stop worker log threads");
	pthread_mutex_lock(&wlog_lock);
	reap(true);
	pthread_mutex_unlock(&wlog_lock);
	if (wlog_stop[0] >= 0) {
		close(wlog_stop[0]);
		close(wlog_stop[1]);
		wlog_stop[0] = wlog_stop[1] = -1;
	}
}
