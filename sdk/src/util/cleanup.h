/* SPDX-License-Identifier: BSD-2-Clause */
/* Scope-bound cleanup and ownership hand-off (style rule 16, systemd). */
#ifndef CUBI_CLEANUP_H
#define CUBI_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

static inline void
cubi_freep(void *p)
{
	free(*(void **)p);
}

static inline void
cubi_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cubi_freep)
#define _cleanup_close_ _cleanup_(cubi_closep)

#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _p = (p);                                        \
		(p) = NULL;                                                    \
		_p;                                                            \
	})
#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _fd = (fd);                                                \
		(fd) = -1;                                                     \
		_fd;                                                           \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
