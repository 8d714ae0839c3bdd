/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging for programs (broker, worker, CLI): one line per event on stderr,
 * prefixed with the journald/syslog priority ("<3>" error ... "<7>" debug)
 * so systemd-journald files them at the right level.  Library code never
 * calls these directly (style rule 13).  Messages are cut at 1 KiB and
 * escaped (util/text.h): a log line is always one line.
 */
#ifndef CUBI_LOG_H
#define CUBI_LOG_H

#include <errno.h>

/* Longest line written, escapes included. */
#define LOG_LINE_MAX 4096

enum {
	LOG_P_ERR = 3,
	LOG_P_WARN = 4,
	LOG_P_NOTICE = 5,
	LOG_P_INFO = 6,
	LOG_P_DEBUG = 7
};

void log_set_ident(const char *ident);
void log_set_level(int max_priority);
int log_get_level(void);
void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Logs "fmt: strerror(-r)" at error priority and returns r (r < 0). */
int log_errno(int r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_P_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_P_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_P_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_P_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_P_DEBUG, __VA_ARGS__)

#endif
