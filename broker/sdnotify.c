// SPDX-License-Identifier: BSD-2-Clause
/*
 * sd_notify(3) in one sendto(): the broker tells its service manager it
 * is ready (after the store is loaded and the pinned dataplane adopted),
 * what it is doing (STATUS=), that its main loop still turns (WATCHDOG=1)
 * and that it is stopping.  No libsystemd: the protocol is a datagram of
 * "KEY=value" lines on the AF_UNIX socket $NOTIFY_SOCKET names (a name
 * starting with '@' is in the abstract namespace).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "parse.h"
#include "sdnotify.h"

static struct sockaddr_un sdn_addr;
static socklen_t sdn_addrlen; /* 0: no $NOTIFY_SOCKET */
static int sdn_fd = -1;
static int64_t sdn_wd_ms; /* between pings; 0: watchdog off */
static int64_t sdn_wd_next;
static bool sdn_warned;

static int
sdn_parse_socket(const char *path)
{
	size_t len = strlen(path);

	if (len < 2 || (path[0] != '/' && path[0] != '@') ||
	    len > sizeof(sdn_addr.sun_path) - (path[0] == '/')) {
		log_err("NOTIFY_SOCKET '%s' is not an absolute socket path or "
			"an @abstract name of at most %zu bytes: no service "
			"manager notifications",
		    path, sizeof(sdn_addr.sun_path) - 1);
		return -EINVAL;
	}
	sdn_addr.sun_family = AF_UNIX;
	memcpy(sdn_addr.sun_path, path, len);
	if (path[0] == '@')
		sdn_addr.sun_path[0] = '\0';
	sdn_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return 0;
}

int
sdn_init(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t us = 0, p = 0;
	int r = 0;

	if (sock && *sock && sdn_parse_socket(sock))
		r = -EINVAL;
	/* sd_watchdog_enabled(3): WATCHDOG_PID, when set, must be ours. */
	if (usec && *usec) {
		if (cubi_parse_uint(usec, 1, UINT64_MAX / 2, &us)) {
			log_err("WATCHDOG_USEC '%s' is not a positive number "
				"of microseconds: no watchdog pings",
			    usec);
			r = -EINVAL;
			us = 0;
		} else if (pid && *pid &&
			   (cubi_parse_uint(pid, 1, INT32_MAX, &p) ||
			       (pid_t)p != getpid())) {
			us = 0; /* meant for another process */
		}
	}
	if (us && sdn_addrlen) {
		/* Half the interval, as sd_watchdog_enabled(3) advises;
		 * at least 1 ms. */
		sdn_wd_ms = (int64_t)(us / 2000) ? (int64_t)(us / 2000) : 1;
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (sdn_addrlen) {
		sdn_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sdn_fd < 0) {
			r = -errno;
			log_errno(r, "NOTIFY_SOCKET: socket");
			sdn_addrlen = 0;
			sdn_wd_ms = 0;
		}
	}
	if (sdn_wd_ms)
		log_info("service manager watchdog: a ping every %lld ms",
		    (long long)sdn_wd_ms);
	return r;
}

int
sdn_send(const char *msg)
{
	int r;

	if (!sdn_addrlen)
		return 0;
	if (sendto(sdn_fd, msg, strlen(msg), MSG_NOSIGNAL,
		(const struct sockaddr *)&sdn_addr, sdn_addrlen) >= 0)
		return 0;
	r = -errno;
	if (!sdn_warned) {
		/* Once: a manager gone away would otherwise fill the log. */
		log_errno(r, "NOTIFY_SOCKET: send '%.40s'", msg);
		sdn_warned = true;
	}
	return r;
}

int
sdn_sendf(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!sdn_addrlen)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return sdn_send(msg);
}

int
sdn_watchdog_tick(int64_t now)
{
	if (!sdn_wd_ms)
		return -1;
	if (now >= sdn_wd_next) {
		sdn_send("WATCHDOG=1");
		sdn_wd_next = now + sdn_wd_ms;
	}
	return (int)(sdn_wd_next - now);
}

void
sdn_fini(void)
{
	if (sdn_fd >= 0)
		close(sdn_fd);
	sdn_fd = -1;
	sdn_addrlen = 0;
	sdn_wd_ms = 0;
}
