// SPDX-License-Identifier: BSD-2-Clause
/*
 * evil, output hygiene attacks (issue 6, points 12 and 15): a worker
 * writing to its stderr, which the broker logs.
 *   cubicle e1 debug stderr what=forge   a forged broker line and an ESC
 *   cubicle e1 debug stderr what=flood   10 MiB of long lines
 * Never installed.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cubicle/plugin.h"
#include "evil_hygiene.h"

#define FLOOD_BYTES (10u << 20)
#define FLOOD_LINE 1024

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
evil_hygiene_stderr(
    struct cub_cube *cube, const char *what, struct cub_val **result)
{
	static const char forge[] =
	    "<3>cubicled[1]: forged by a worker\n"
	    "\033[31mred\033[0m from a worker\n"
	    "tab\there\rcarriage <2>cubicled[1]: again\n";
	char line[FLOOD_LINE];
	size_t done;
	int r = 0;

	if (!strcmp(what, "forge")) {
		r = write_all(STDERR_FILENO, forge, sizeof(forge) - 1);
	} else {
		memset(line, 'A', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		for (done = 0; !r && done < FLOOD_BYTES; done += sizeof(line))
			r = write_all(STDERR_FILENO, line, sizeof(line));
	}
	if (r)
		return cub_cube__set_error(
		    cube, CUB_E_INTERNAL, "write to stderr: %s", strerror(-r));
	*result = cub_val__map();
	cub_val__set(*result, "written", cub_val__str(what));
	return 0;
}
