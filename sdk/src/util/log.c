// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

static const char *log_ident = "cubicle";
static int log_level = LOG_P_INFO;

void
log_set_ident(const char *ident)
{
	log_ident = ident;
}

void
log_set_level(int max_priority)
{
	log_level = max_priority;
}

int
log_get_level(void)
{
	return log_level;
}

/*
 * The message is escaped (text.h): names, request ids and anything else a
 * client or a worker put in it can neither end the line nor start one
 * that looks like ours, nor reach a terminal that shows the log.
 */
static void
log_vmsg(int prio, const char *suffix, const char *fmt, va_list ap)
{
	char msg[1024], line[LOG_LINE_MAX];
	int n, m;

	if (prio > log_level)
		return;
	n = snprintf(
	    line, sizeof(line), "<%d>%s[%d]: ", prio, log_ident, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		return;
	if (suffix && (size_t)m < sizeof(msg))
		snprintf(msg + m, sizeof(msg) - (size_t)m, ": %s", suffix);
	cubi_text_escape(line + n, sizeof(line) - (size_t)n, msg, strlen(msg));
	/* One write per line, so lines from several processes do not mix. */
	fprintf(stderr, "%s\n", line);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, NULL, fmt, ap);
	va_end(ap);
}

int
log_errno(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_P_ERR, strerror(r < 0 ? -r : r), fmt, ap);
	va_end(ap);
	return r;
}
