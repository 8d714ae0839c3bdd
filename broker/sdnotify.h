/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The systemd notification protocol (sd_notify(3), sd_watchdog_enabled(3))
 * without libsystemd: one datagram per message on the AF_UNIX socket named
 * by $NOTIFY_SOCKET.  Main thread only.
 */
#ifndef CUB_SDNOTIFY_H
#define CUB_SDNOTIFY_H

#include <stdint.h>

/*
 * Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then remove them
 * from the environment so that workers and helpers do not inherit them.
 * Call first thing in main(), before any thread exists (unsetenv).
 * Returns 0, or -EINVAL for a malformed variable (logged; notification
 * or the watchdog is then off).
 */
int sdn_init(void);

/* Send one message ("READY=1", "STATUS=...", lines joined by '\n'):
 * 0 when sent or when there is no $NOTIFY_SOCKET, -errno otherwise
 * (logged once). */
int sdn_send(const char *msg);
int sdn_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The watchdog: at most every half $WATCHDOG_USEC, from the main loop.
 * sdn_watchdog_tick(now) sends WATCHDOG=1 if one is due and returns the
 * milliseconds until the next is (a poll() timeout), or -1 when the
 * watchdog is off.
 */
int sdn_watchdog_tick(int64_t now);

/* Close the socket (at exit). */
void sdn_fini(void);

#endif
