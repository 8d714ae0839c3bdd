// SPDX-License-Identifier: BSD-2-Clause
/* store.c: write, reload, and refusal of every kind of damaged file. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "store.h"

static char dir[64], path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cubi-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.db", dir);
}

static void
teardown(void)
{
	char tmp[160];

	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
}

static struct cub_val *
sample(void)
{
	struct cub_val *d = cub_val__map(), *cubes = cub_val__array();
	struct cub_val *c = cub_val__map();

	cub_val__set(c, "name", cub_val__str("sf1"));
	cub_val__set(c, "hash", cub_val__uint(0xdeadbeefcafeull));
	cub_val__push(cubes, c);
	cub_val__set(d, "version", cub_val__uint(1));
	cub_val__set(d, "cubes", cubes);
	return d;
}

START_TEST(round_trip)
{
	struct cub_val *d = sample(), *back = NULL;
	char err[256];

	ck_assert_int_eq(store_save(path, d, err, sizeof(err)), 0);
	ck_assert_int_eq(store_load(path, &back, err, sizeof(err)), 0);
	ck_assert(cub_val__equal(d, back));
	/* Overwrite: the new state replaces the old, no temp left. */
	cub_val__set(d, "version", cub_val__uint(2));
	ck_assert_int_eq(store_save(path, d, err, sizeof(err)), 0);
	cub_val__free(back);
	ck_assert_int_eq(store_load(path, &back, err, sizeof(err)), 0);
	ck_assert(cub_val__equal(d, back));
	ck_assert_int_ne(access("/nonexistent", F_OK), 0);
	{
		char tmp[160];

		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		ck_assert_int_ne(access(tmp, F_OK), 0);
	}
	cub_val__free(d);
	cub_val__free(back);
}
END_TEST

START_TEST(missing)
{
	struct cub_val *back = NULL;
	char err[256];

	ck_assert_int_eq(store_load(path, &back, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(back);
}
END_TEST

/* Flip one byte at each position of the file: every load must refuse. */
START_TEST(corruption)
{
	struct cub_val *d = sample(), *back;
	unsigned char buf[4096];
	char err[256];
	ssize_t n, i;
	int fd;

	ck_assert_int_eq(store_save(path, d, err, sizeof(err)), 0);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_gt(n, 24);
	for (i = 0; i < n; i++) {
		buf[i] ^= 0x41;
		fd = open(path, O_WRONLY | O_TRUNC);
		ck_assert_int_eq(write(fd, buf, (size_t)n), n);
		close(fd);
		back = NULL;
		ck_assert_int_eq(
		    store_load(path, &back, err, sizeof(err)), -EBADMSG);
		ck_assert_ptr_null(back);
		ck_assert_int_gt(strlen(err), 0);
		buf[i] ^= 0x41;
	}
	/* Truncated at every length. */
	for (i = 0; i < n; i++) {
		fd = open(path, O_WRONLY | O_TRUNC);
		ck_assert_int_eq(write(fd, buf, (size_t)i), i);
		close(fd);
		back = NULL;
		ck_assert_int_eq(
		    store_load(path, &back, err, sizeof(err)), -EBADMSG);
	}
	cub_val__free(d);
}
END_TEST

/*
 * A save that cannot be made says which step failed on which file and
 * leaves the store as it was; a link at the temporary path is replaced,
 * never followed.
 */
START_TEST(save_failures)
{
	struct cub_val *d = sample(), *back = NULL;
	char tmp[160], victim[160], err[512], buf[8];
	int fd;

	ck_assert_int_eq(store_save(path, d, err, sizeof(err)), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	cub_val__set(d, "version", cub_val__uint(7));
	err[0] = '\0';
	ck_assert_int_eq(store_save(path, d, err, sizeof(err)), -EISDIR);
	ck_assert_ptr_nonnull(strstr(err, tmp));
	ck_assert_ptr_nonnull(strstr(err, strerror(EISDIR)));
	ck_assert_int_eq(rmdir(tmp), 0);
	ck_assert_int_eq(store_load(path, &back, err, sizeof(err)), 0);
	ck_assert(!cub_val__equal(d, back));
	cub_val__free(back);

	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(symlink(victim, tmp), 0);
	ck_assert_int_eq(store_save(path, d, err, sizeof(err)), 0);
	fd = open(victim, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);
	ck_assert_int_eq(memcmp(buf, "keep", 4), 0);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	ck_assert_int_eq(store_load(path, &back, err, sizeof(err)), 0);
	ck_assert(cub_val__equal(d, back));
	unlink(victim);
	cub_val__free(back);
	cub_val__free(d);
}
END_TEST

/* store_load refuses the file at path at once, naming it and what. */
static void
load_odd(const char *what)
{
	struct cub_val *back = NULL;
	char err[512] = "";

	ck_assert_int_eq(store_load(path, &back, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_null(back);
	ck_assert_msg(strstr(err, path) && strstr(err, what),
	    "'%s' does not name %s and '%s'", err, path, what);
}

/* Anything but a regular file is refused without following or blocking. */
START_TEST(odd_files)
{
	struct cub_val *d = sample();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char real[160], err[256];
	int s;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	load_odd("a FIFO"); /* a blocking open() would hang here */
	ck_assert_int_eq(unlink(path), 0);

	ck_assert_int_eq(symlink("/nonexistent/state.db", path), 0);
	load_odd("symbolic link");
	ck_assert_int_eq(unlink(path), 0);

	snprintf(real, sizeof(real), "%s/real.db", dir);
	ck_assert_int_eq(store_save(real, d, err, sizeof(err)), 0);
	ck_assert_int_eq(symlink(real, path), 0);
	load_odd("symbolic link");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(unlink(real), 0);

	ck_assert_int_eq(mkdir(path, 0700), 0);
	load_odd("a directory");
	ck_assert_int_eq(rmdir(path), 0);

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	load_odd("a socket");
	close(s);
	ck_assert_int_eq(unlink(path), 0);

	/* Devices need CAP_MKNOD: checked where the test runs as root. */
	if (!mknod(path, S_IFCHR | 0600, makedev(1, 3))) {
		load_odd("a character device");
		ck_assert_int_eq(unlink(path), 0);
	}
	cub_val__free(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, missing);
	tcase_add_test(tc, corruption);
	tcase_add_test(tc, save_failures);
	tcase_add_test(tc, odd_files);
	suite_add_tcase(s, tc);
	return cubi_check_run(s);
}
