// SPDX-License-Identifier: BSD-2-Clause
/*
 * What a service can make the broker log: every record a worker can
 * trigger (its loads and libbpf's messages about them, unpins, hellos,
 * bad messages, refused calls) takes a token of the service's bucket: a
 * burst, then one a second.  The first record let through after some
 * were dropped is preceded by a note of how many.
 */
#include <pthread.h>

#include "broker.h"
#include "log.h"

#define LOG_BURST 10.0
#define LOG_PER_SEC 1.0

/* The buckets are touched by the service threads and the main loop. */
static pthread_mutex_t svclog_lock = PTHREAD_MUTEX_INITIALIZER;

bool
svc_log_allowed(struct service *s)
{
	struct log_limit *l;
	unsigned dropped = 0;
	bool ok = true;
	int64_t now;

	if (!s)
		return true;
	pthread_mutex_lock(&svclog_lock);
	l = &s->log_limit;
	now = now_ms();
	l->tokens += (double)(now - l->last_ms) / 1000.0 * LOG_PER_SEC;
	if (l->tokens > LOG_BURST || !l->last_ms)
		l->tokens = LOG_BURST;
	l->last_ms = now;
	if (l->tokens < 1.0) {
		l->suppressed++;
		ok = false;
	} else {
		l->tokens -= 1.0;
		dropped = l->suppressed;
		l->suppressed = 0;
	}
	pthread_mutex_unlock(&svclog_lock);
	if (dropped)
		log_warn("service '%s': %u log messages suppressed (over %g a "
			 "second)",
		    s->name, dropped, LOG_PER_SEC);
	return ok;
}
