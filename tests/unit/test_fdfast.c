/*
 * test_fdfast.c: the direct members' fds as the lock-free readers see
 * them (shim/fdfast.c): what was published is read back, what was not
 * (or no longer is) is not, and an fd whose number now refers to another
 * file is not taken for the member (but for the shared way, whose calls
 * go to the fd itself either way).  A member's connection to its owner
 * is read back too, and a change of it alone is published (exec's
 * survivor reads the group's directory from it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fdfast.h"

static struct fdfast_ent
ent(int fd, int out, unsigned flags)
{
	struct fdfast_ent e;
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	memset(&e, 0, sizeof (e));
	e.fd = fd;
	e.out = out;
	e.ctl = out + 100;
	e.flags = flags;
	e.dev = (uint64_t)st.st_dev;
	e.ino = (uint64_t)st.st_ino;
	return (e);
}

static void
test_published(void **state)
{
	struct fdfast_ent v[2], e;
	int a[2], b[2];

	(void) state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, b), 0);
	v[0] = ent(a[0], 77, 2U << FDFAST_PKT_SHIFT);
	v[1] = ent(b[0], 78, FDFAST_SHUT_WR);
	fdfast_publish(v, 2);
	assert_int_equal(fdfast_count(), 2);
	assert_int_equal(fdfast_get(a[0], &e), 1);
	assert_int_equal(e.out, 77);
	assert_int_equal(e.ctl, 177);
	assert_int_equal(e.flags, 2U << FDFAST_PKT_SHIFT);
	assert_int_equal(fdfast_get(b[0], &e), 1);
	assert_int_equal(e.out, 78);
	assert_int_equal(e.flags, FDFAST_SHUT_WR);
	/* The connection to the owner moved (a dup2 onto it), alone. */
	v[0].ctl = 200;
	fdfast_publish(v, 2);
	assert_int_equal(fdfast_get(a[0], &e), 1);
	assert_int_equal(e.ctl, 200);
	/* Never published, and no longer published. */
	assert_int_equal(fdfast_get(a[1], &e), 0);
	fdfast_publish(v + 1, 1);
	assert_int_equal(fdfast_count(), 1);
	assert_int_equal(fdfast_get(a[0], &e), 0);
	assert_int_equal(fdfast_get(b[0], &e), 1);
	fdfast_publish(NULL, 0);
	assert_int_equal(fdfast_get(b[0], &e), 0);
	(void) close(a[0]);
	(void) close(a[1]);
	(void) close(b[0]);
	(void) close(b[1]);
}

/* The number closed behind the table's back and taken by another file. */
static void
test_stale(void **state)
{
	struct fdfast_ent v[1], e;
	int a[2], b[2], fd;

	(void) state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, b), 0);
	fd = a[0];
	v[0] = ent(fd, 5, 0);
	fdfast_publish(v, 1);
	assert_int_equal(fdfast_get(fd, &e), 1);
	assert_int_equal(dup2(b[0], fd), fd);	/* another file, same number */
	assert_int_equal(fdfast_get(fd, &e), 0);
	/* The shared way is not checked: its calls are the fd's own. */
	v[0].flags = FDFAST_SHARED;
	fdfast_publish(v, 1);
	assert_int_equal(fdfast_get(fd, &e), 1);
	fdfast_publish(NULL, 0);
	(void) close(a[0]);
	(void) close(a[1]);
	(void) close(b[0]);
	(void) close(b[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published),
		cmocka_unit_test(test_stale),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
