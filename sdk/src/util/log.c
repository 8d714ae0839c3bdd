// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

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

static void
log_vmsg(int prio, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (prio > log_level)
		return;
	n = snprintf(
	    line, sizeof(line), "<%d>%s[%d]: ", prio, log_ident, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line, so lines from several processes do not mix. */
	fprintf(
	    stderr, "%s%s%s\n", line, suffix ? ": " : "", suffix ? suffix : "");
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
