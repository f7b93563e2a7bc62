/*
 * test_auto.c: setsockopt(SO_REUSEPORT) in each mode, with "the kernel"
 * played by a fake setsockopt.  The library reaches the kernel only
 * through the `real` table, so the test swaps the entries it cares about
 * (the constructor has already filled the table with the real ones) and
 * puts the saved table back after every test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "fakes.h"
#include "fdtab.h"
#include "platform.h"
#include "real.h"
#include "shim.h"

#define	MAXFDS	4

struct fixture {
	struct shim_real	saved_real;
	struct shim_config	saved_config;
	int			fds[MAXFDS];
	size_t			nfds;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof (*f));

	if (f == NULL)
		return (-1);
	shim_init();
	f->saved_real = real;
	f->saved_config = *config_for_tests();
	fake_sockopt_reset(real.setsockopt, real.getsockopt);
	real.setsockopt = fake_setsockopt;
	real.getsockopt = fake_getsockopt;
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* The real table first: shim_close must really close. */
	real = f->saved_real;
	*config_for_tests() = f->saved_config;
	for (size_t i = 0; i < f->nfds; i++)
		(void) shim_close(f->fds[i]);
	free(f);
	return (0);
}

static void
set_mode(enum shim_mode m)
{
	struct shim_config *c = config_for_tests();

	c->mode = m;
	c->valid = 1;
}

/* A socket that teardown closes (through the shim, which forgets it). */
static int
sock(struct fixture *f, int family, int type)
{
	int fd = socket(family, type, 0);

	if (fd < 0)
		return (-1);
	assert_true(f->nfds < MAXFDS);
	f->fds[f->nfds++] = fd;
	return (fd);
}

static int
set_rp(int fd, int v)
{
	return (shim_setsockopt(fd, SOL_SOCKET, plat_so_reuseport, &v,
	    sizeof (v), SHIM_PLAIN));
}

static int
get_rp(int fd, int *v)
{
	socklen_t len = sizeof (*v);

	*v = -1;
	return (shim_getsockopt(fd, SOL_SOCKET, plat_so_reuseport, v, &len,
	    SHIM_PLAIN));
}

static size_t
kernel_rp_sets(void)
{
	return (fake_count_set(SOL_SOCKET, plat_so_reuseport));
}

static size_t
kernel_rp_gets(void)
{
	return (fake_count_get(SOL_SOCKET, plat_so_reuseport));
}

/* (1) The kernel has SO_REUSEPORT: the shim steps aside for good. */
static void
test_auto_kernel_has_it(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM), v;

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_AUTO);
	assert_int_equal(set_rp(fd, 1), 0);
	assert_int_equal(kernel_rp_sets(), 1);
	assert_int_equal(fake_so.set[fake_so.nset - 1].value, 1);
	assert_int_equal(fake_so.set[fake_so.nset - 1].fd, fd);
	assert_int_equal(fdtab_maybe(fd), 0);
	/* getsockopt is the kernel's business too. */
	assert_int_equal(get_rp(fd, &v), 0);
	assert_int_equal(kernel_rp_gets(), 1);
}

/* (2) The kernel lacks it: illumos without the patch says ENOPROTOOPT. */
static void
auto_kernel_lacks_it(struct fixture *f, int kerr)
{
	int fd = sock(f, AF_INET, SOCK_STREAM), v;

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_AUTO);
	fake_so.reuseport_errno = kerr;
	errno = EDOM;
	assert_int_equal(set_rp(fd, 1), 0);
	/* The kernel's refusal is the shim's business, not the caller's. */
	assert_int_equal(errno, EDOM);
	assert_int_equal(kernel_rp_sets(), 1);
	assert_int_equal(fdtab_maybe(fd), 1);

	assert_int_equal(get_rp(fd, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(errno, EDOM);
	assert_int_equal(kernel_rp_gets(), 0);

	/* Turned off again: recorded too, the kernel not asked again. */
	assert_int_equal(set_rp(fd, 0), 0);
	assert_int_equal(get_rp(fd, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(kernel_rp_sets(), 1);
	assert_int_equal(kernel_rp_gets(), 0);
}

static void
test_auto_enoprotoopt(void **state)
{
	auto_kernel_lacks_it(*state, ENOPROTOOPT);
}

/*
 * (3) illumos answers EINVAL to any option once a socket is shut down for
 * sending: that is the kernel's answer for this socket, not a missing
 * option, so it is the caller's, and the shim does not take the socket.
 */
static void
test_auto_einval_is_the_kernels(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM);

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_AUTO);
	fake_so.reuseport_errno = EINVAL;
	errno = 0;
	assert_int_equal(set_rp(fd, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(kernel_rp_sets(), 1);
	assert_int_equal(fdtab_maybe(fd), 0);
}

/* (4) Any other error is the kernel's answer, given as it is. */
static void
test_auto_other_error(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM);

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_AUTO);
	fake_so.reuseport_errno = EBADF;
	errno = 0;
	assert_int_equal(set_rp(fd, 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(kernel_rp_sets(), 1);
	assert_int_equal(fdtab_maybe(fd), 0);
}

/* (5) emulate: the kernel never sees the option, even where it has it. */
static void
test_emulate(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM), fd6, v;
	sigset_t saved;
	struct shim_sock *sk;

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_EMULATE);
	errno = EDOM;
	assert_int_equal(set_rp(fd, 1), 0);
	assert_int_equal(errno, EDOM);
	assert_int_equal(kernel_rp_sets(), 0);
	assert_int_equal(fdtab_maybe(fd), 1);
	assert_int_equal(get_rp(fd, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(kernel_rp_gets(), 0);

	/* Any non-zero value is "on", read back as 1 like the kernel's. */
	assert_int_equal(set_rp(fd, 42), 0);
	assert_int_equal(get_rp(fd, &v), 0);
	assert_int_equal(v, 1);

	fd6 = sock(f, AF_INET6, SOCK_STREAM);
	if (fd6 < 0)
		return;		/* no IPv6 here */
	assert_int_equal(set_rp(fd6, 1), 0);
	assert_int_equal(kernel_rp_sets(), 0);
	fdtab_lock(&saved);
	sk = fdtab_get(fd6);
	assert_non_null(sk);
	assert_int_equal(sk->family, AF_INET6);
	assert_int_equal(sk->state, SK_OPT);
	fdtab_unlock(&saved);
}

/* (6) off: straight to the kernel, whatever it answers. */
static void
test_off(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM), v;

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_OFF);
	fake_so.reuseport_errno = ENOPROTOOPT;
	errno = 0;
	assert_int_equal(set_rp(fd, 1), -1);
	assert_int_equal(errno, ENOPROTOOPT);
	assert_int_equal(kernel_rp_sets(), 1);
	assert_int_equal(fdtab_maybe(fd), 0);

	fake_so.reuseport_errno = 0;
	assert_int_equal(set_rp(fd, 1), 0);
	assert_int_equal(kernel_rp_sets(), 2);
	assert_int_equal(fdtab_maybe(fd), 0);
	assert_int_equal(get_rp(fd, &v), 0);
	assert_int_equal(kernel_rp_gets(), 1);
}

/* (7) The kernel's own argument checks, made before anything else. */
static void
test_bad_arguments(void **state)
{
	static const enum shim_mode modes[] = { SHIM_MODE_AUTO,
	    SHIM_MODE_EMULATE };
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM);
	int one = 1;

	assert_true(fd >= 0);
	for (size_t i = 0; i < 2; i++) {
		set_mode(modes[i]);
		fake_so.reuseport_errno = ENOPROTOOPT;
		errno = 0;
		assert_int_equal(shim_setsockopt(fd, SOL_SOCKET,
		    plat_so_reuseport, &one, 2, SHIM_PLAIN), -1);
		assert_int_equal(errno, EINVAL);
		errno = 0;
		assert_int_equal(shim_setsockopt(fd, SOL_SOCKET,
		    plat_so_reuseport, NULL, sizeof (int), SHIM_PLAIN), -1);
		assert_int_equal(errno, EFAULT);
		assert_int_equal(kernel_rp_sets(), 0);
		assert_int_equal(fdtab_maybe(fd), 0);
	}
}

/* (8) Not an Internet socket: never the shim's, in any mode. */
static void
test_unix_socket_untouched(void **state)
{
	static const enum shim_mode modes[] = { SHIM_MODE_AUTO,
	    SHIM_MODE_EMULATE, SHIM_MODE_OFF };
	struct fixture *f = *state;
	int fd = sock(f, AF_UNIX, SOCK_STREAM), v;

	assert_true(fd >= 0);
	for (size_t i = 0; i < 3; i++) {
		set_mode(modes[i]);
		fake_so.reuseport_errno = EOPNOTSUPP;
		errno = 0;
		assert_int_equal(set_rp(fd, 1), -1);
		assert_int_equal(errno, EOPNOTSUPP);
		assert_int_equal(kernel_rp_sets(), i + 1);
		assert_int_equal(fake_so.set[i].fd, fd);
		assert_int_equal(fake_so.set[i].value, 1);
		assert_int_equal(fake_so.set[i].len, sizeof (int));
		assert_int_equal(fdtab_maybe(fd), 0);
		assert_int_equal(get_rp(fd, &v), 0);
		assert_int_equal(kernel_rp_gets(), i + 1);
	}
	/* Even a bad length is for the kernel to judge on such a socket. */
	set_mode(SHIM_MODE_EMULATE);
	assert_int_equal(shim_setsockopt(fd, SOL_SOCKET, plat_so_reuseport,
	    &v, 2, SHIM_PLAIN), -1);
	assert_int_equal(kernel_rp_sets(), 4);
	assert_int_equal(fake_so.set[3].len, 2);
}

/* (9) A configuration the shim did not understand: EINVAL, loudly. */
static void
test_invalid_config(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM);

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_AUTO);
	config_for_tests()->valid = 0;
	errno = 0;
	assert_int_equal(set_rp(fd, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(kernel_rp_sets(), 0);
	assert_int_equal(fdtab_maybe(fd), 0);
}

/* Other options on an untracked socket go to the kernel unchanged. */
static void
test_other_options_pass(void **state)
{
	struct fixture *f = *state;
	int fd = sock(f, AF_INET, SOCK_STREAM), one = 1;

	assert_true(fd >= 0);
	set_mode(SHIM_MODE_EMULATE);
	assert_int_equal(shim_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one,
	    sizeof (one), SHIM_PLAIN), 0);
	assert_int_equal(fake_count_set(SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(fdtab_maybe(fd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auto_kernel_has_it, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auto_enoprotoopt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_auto_einval_is_the_kernels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_other_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_emulate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket_untouched,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_options_pass, setup,
		    teardown),
	};

	return (cmocka_run_group_tests_name("auto", tests, NULL, NULL));
}
