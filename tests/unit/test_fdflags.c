/*
 * test_fdflags.c: accept4's flags and fcntl's dups on members.  The rules
 * take the system's values as arguments (fdflags.h), so illumos's are
 * checked here too, from its <sys/socket.h> and <sys/fcntl.h>; Linux's
 * are checked against the running kernel.  fcntl's dups run against a
 * fake fcntl in the `real` table, on fd numbers that need not be open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fdflags.h"
#include "fdtab.h"
#include "real.h"
#include "shim.h"

/* illumos's values (sys/socket.h, sys/fcntl.h). */
static const struct accept_bits illumos = {
	.sock_cloexec = 0x080000,
	.sock_nonblock = 0x100000,
	.sock_ndelay = 0x200000,
	.sock_clofork = 0x400000,
	.fd_cloexec = 1,
	.fd_clofork = 2,
	.o_nonblock = 0x80,
	.o_ndelay = 0x04,
	.inherit = 1
};
#define	I_CLOEXEC	0x080000
#define	I_NONBLOCK	0x100000
#define	I_NDELAY	0x200000
#define	I_CLOFORK	0x400000

/* Fd numbers for the table: checked to be closed. */
#define	FD_A	900
#define	FD_B	901
#define	FD_C	902
#define	FD_D	903

/* --- a fake fcntl --------------------------------------------------- */

static struct {
	int	calls;
	int	fd;
	int	cmd;
	void	*arg;
	int	arg1;
	int	read_arg1;	/* the call passes a fourth argument */
	int	ret;
	int	err;		/* errno when ret < 0 */
} ff;

static int
fake_fcntl(int fd, int cmd, ...)
{
	va_list ap;

	ff.calls++;
	ff.fd = fd;
	ff.cmd = cmd;
	va_start(ap, cmd);
	ff.arg = va_arg(ap, void *);
	if (ff.read_arg1)
		ff.arg1 = va_arg(ap, int);
	va_end(ap);
	if (ff.ret < 0)
		errno = ff.err;
	return (ff.ret);
}

static struct shim_real saved_real;

static int
setup(void **state)
{
	(void) state;
	shim_init();
	saved_real = real;
	memset(&ff, 0, sizeof (ff));
	real.fcntl = fake_fcntl;
	return (0);
}

static void
untrack(int fd)
{
	sigset_t saved;
	struct shim_sock *sk;

	fdtab_lock(&saved);
	if ((sk = fdtab_del(fd)) != NULL)
		sock_free(sk);
	fdtab_unlock(&saved);
}

static int
teardown(void **state)
{
	(void) state;
	real = saved_real;
	untrack(FD_A);
	untrack(FD_B);
	untrack(FD_C);
	untrack(FD_D);
	return (0);
}

static struct shim_sock *
track(int fd, enum sk_state st)
{
	sigset_t saved;
	struct shim_sock *sk = sock_new(AF_INET);

	assert_non_null(sk);
	/* The real fcntl: these numbers must not be the process's fds. */
	assert_int_equal(saved_real.fcntl(fd, F_GETFD), -1);
	sk->state = st;
	fdtab_lock(&saved);
	assert_int_equal(fdtab_put(fd, sk), 0);
	fdtab_unlock(&saved);
	return (sk);
}

static struct shim_sock *
get(int fd)
{
	sigset_t saved;
	struct shim_sock *sk;

	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	fdtab_unlock(&saved);
	return (sk);
}

static void *
fdarg(int fd)
{
	return ((void *)(intptr_t)fd);
}

/* --- accept4's flags ------------------------------------------------ */

/* illumos's accept(): EINVAL for any bit outside SOCK_KNOWN_FLAGS. */
static void
test_illumos_accept4_flags_check(void **state)
{
	static const int good[] = { 0, I_CLOEXEC, I_NONBLOCK, I_NDELAY,
	    I_CLOFORK, I_CLOEXEC | I_NONBLOCK | I_NDELAY | I_CLOFORK,
	    I_NDELAY | I_CLOFORK };
	/* The last three as usr/src/test/os-tests/tests/oclo/oclo_errors.c */
	static const int bad[] = { 1, SOCK_STREAM, 0x800000, 0x040000,
	    I_CLOEXEC | 0x1000000, INT_MIN, INT32_MAX, 3 << 25 };

	(void) state;
	for (size_t i = 0; i < sizeof (good) / sizeof (good[0]); i++)
		assert_int_equal(accept_flags_check(&illumos, good[i]), 0);
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		assert_int_equal(accept_flags_check(&illumos, bad[i]), EINVAL);
}

static void
test_illumos_accept4_fd_flags(void **state)
{
	(void) state;
	assert_int_equal(accept_fd_flags(&illumos, 0), 0);
	assert_int_equal(accept_fd_flags(&illumos, I_CLOEXEC), 1);
	assert_int_equal(accept_fd_flags(&illumos, I_CLOFORK), 2);
	assert_int_equal(accept_fd_flags(&illumos, I_CLOEXEC | I_CLOFORK |
	    I_NONBLOCK | I_NDELAY), 3);
	assert_int_equal(accept_fd_flags(&illumos, I_NONBLOCK | I_NDELAY), 0);
}

/*
 * socksyscalls.c accept(): (ssflags | so->so_state) & SS_NONBLOCK gives
 * FNONBLOCK, else SS_NDELAY gives FNDELAY: asked for or the listener's.
 */
static void
test_illumos_accept4_fl_flags(void **state)
{
	static const struct {
		int	flags;
		int	lfl;
		int	want;
	} t[] = {
		{ 0, 0, 0 },
		{ 0, 0x02, 0 },			/* O_RDWR: not carried */
		{ 0, 0x08, 0 },			/* O_APPEND: not carried */
		{ I_CLOEXEC | I_CLOFORK, 0, 0 },
		{ I_NONBLOCK, 0, 0x80 },
		{ I_NDELAY, 0, 0x04 },
		{ I_NONBLOCK | I_NDELAY, 0, 0x80 },
		{ 0, 0x80, 0x80 },
		{ 0, 0x04, 0x04 },
		{ 0, 0x84, 0x80 },
		{ I_NDELAY, 0x80, 0x80 },
		{ I_NONBLOCK, 0x04, 0x80 },
		{ I_NDELAY, 0x04 | 0x02, 0x04 },
	};

	(void) state;
	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++) {
		assert_int_equal(accept_fl_flags(&illumos, t[i].flags,
		    t[i].lfl), t[i].want);
	}
}

/* Without inheritance (Linux): only the flags asked for count. */
static void
test_noinherit_fl_flags(void **state)
{
	struct accept_bits b = illumos;

	(void) state;
	b.inherit = 0;
	assert_int_equal(accept_fl_flags(&b, 0, 0x80 | 0x04), 0);
	assert_int_equal(accept_fl_flags(&b, I_NDELAY, 0x80), 0x04);
	assert_int_equal(accept_fl_flags(&b, I_NONBLOCK, 0), 0x80);
}

/* A system without SOCK_NDELAY/SOCK_CLOFORK: their bits are unknown. */
static void
test_missing_bits_are_invalid(void **state)
{
	struct accept_bits b = illumos;

	(void) state;
	b.sock_ndelay = 0;
	b.sock_clofork = 0;
	b.fd_clofork = 0;
	assert_int_equal(accept_flags_check(&b, I_NDELAY), EINVAL);
	assert_int_equal(accept_flags_check(&b, I_CLOFORK), EINVAL);
	assert_int_equal(accept_flags_check(&b, I_CLOEXEC | I_NONBLOCK), 0);
	/* The listener's O_NDELAY is the file's, and still carries over. */
	assert_int_equal(accept_fl_flags(&b, 0, 0x04), 0x04);
}

/* This system's bits against its kernel: EINVAL for the same flags. */
static void
test_sys_flags_match_kernel(void **state)
{
	struct accept_bits b;
	struct sockaddr_in sin;
	int fd, i, rc, e;

	(void) state;
	accept_bits_sys(&b);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(saved_real.fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	memset(&sin, 0, sizeof (sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof (sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	for (i = -1; i < 32; i++) {
		/* Nothing queued: EAGAIN unless the flags are refused. */
		int flags = i < 0 ? 0 : (int)(1u << i);

		rc = saved_real.accept4(fd, NULL, NULL, flags);
		e = errno;
		assert_int_equal(rc, -1);
		assert_true(e == EINVAL || e == EAGAIN || e == EWOULDBLOCK);
		assert_int_equal(accept_flags_check(&b, flags),
		    e == EINVAL ? EINVAL : 0);
	}
	(void) close(fd);
}

/* A member's accept4: bad flags fail before anything is read. */
static void
test_member_accept4_bad_flags(void **state)
{
	struct accept_bits b;
	int bad, good;

	(void) state;
	accept_bits_sys(&b);
	good = b.sock_cloexec | b.sock_nonblock | b.sock_ndelay |
	    b.sock_clofork;
	bad = ~good;
	(void) track(FD_A, SK_ENDPOINT);
	errno = 0;
	assert_int_equal(shim_accept(FD_A, NULL, NULL, bad, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(shim_accept(FD_A, NULL, NULL, bad & -bad, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ff.calls, 0);
	/* Good flags get as far as reading the (closed) fd. */
	assert_int_equal(shim_accept(FD_A, NULL, NULL, good, 1), -1);
	assert_int_equal(errno, EBADF);
	/* accept() has no flags to check. */
	assert_int_equal(shim_accept(FD_A, NULL, NULL, 0, 0), -1);
	assert_int_equal(errno, EBADF);
}

/* --- fcntl's dups ---------------------------------------------------- */

static void
test_dup_kinds(void **state)
{
	(void) state;
	assert_int_equal(fcntl_dup_kind(F_DUPFD), FCNTL_DUPFD);
	assert_int_equal(fcntl_dup_kind(F_DUPFD_CLOEXEC), FCNTL_DUPFD);
	assert_int_equal(fcntl_dup_kind(F_GETFD), FCNTL_NODUP);
	assert_int_equal(fcntl_dup_kind(F_SETFD), FCNTL_NODUP);
	assert_int_equal(fcntl_dup_kind(F_GETFL), FCNTL_NODUP);
	assert_int_equal(fcntl_dup_kind(F_SETFL), FCNTL_NODUP);
	assert_int_equal(fcntl_dup_kind(F_SETLK), FCNTL_NODUP);
#ifdef F_DUPFD_CLOFORK
	assert_int_equal(fcntl_dup_kind(F_DUPFD_CLOFORK), FCNTL_DUPFD);
#endif
#ifdef F_DUP2FD
	assert_int_equal(fcntl_dup_kind(F_DUP2FD), FCNTL_DUP2FD);
#endif
#ifdef F_DUP2FD_CLOEXEC
	assert_int_equal(fcntl_dup_kind(F_DUP2FD_CLOEXEC), FCNTL_DUP2FD);
#endif
#ifdef F_DUP2FD_CLOFORK
	assert_int_equal(fcntl_dup_kind(F_DUP2FD_CLOFORK), FCNTL_DUP2FD);
#endif
#ifdef F_DUP3FD
	assert_int_equal(fcntl_dup_kind(F_DUP3FD), FCNTL_DUP3FD);
#endif
}

/* F_DUPFD of a member: the new fd is the same member. */
static void
test_dupfd_follows(void **state)
{
	struct shim_sock *sk;

	(void) state;
	sk = track(FD_A, SK_ENDPOINT);
	ff.ret = FD_B;
	assert_int_equal(shim_fcntl(FD_A, F_DUPFD_CLOEXEC, fdarg(FD_B), 0),
	    FD_B);
	assert_int_equal(ff.calls, 1);
	assert_int_equal(ff.cmd, F_DUPFD_CLOEXEC);
	assert_ptr_equal(ff.arg, fdarg(FD_B));
	assert_ptr_equal(get(FD_B), sk);
	assert_ptr_equal(get(FD_A), sk);
	assert_int_equal(sk->refs, 2);
}

/* Other commands pass through and change nothing. */
static void
test_nodup_passes(void **state)
{
	struct shim_sock *sk;

	(void) state;
	sk = track(FD_A, SK_ENDPOINT);
	ff.ret = 0;
	assert_int_equal(shim_fcntl(FD_A, F_SETFL, fdarg(O_NONBLOCK), 0), 0);
	assert_int_equal(ff.calls, 1);
	assert_int_equal(ff.cmd, F_SETFL);
	assert_ptr_equal(ff.arg, fdarg(O_NONBLOCK));
	assert_ptr_equal(get(FD_A), sk);
	assert_int_equal(sk->refs, 1);
}

/*
 * The F_DUP2FD kinds, driven with a made-up command number (this
 * system may have none): as dup2 on a member.
 */
#define	CMD_DUP2	0x7e01
#define	CMD_DUP3	0x7e02

static void
test_dup2fd_member_to_new(void **state)
{
	struct shim_sock *sk;

	(void) state;
	sk = track(FD_A, SK_ENDPOINT);
	ff.ret = FD_C;
	assert_int_equal(fdops_fcntl(FD_A, CMD_DUP2, FCNTL_DUP2FD,
	    fdarg(FD_C), 0), FD_C);
	assert_int_equal(ff.cmd, CMD_DUP2);
	assert_ptr_equal(get(FD_C), sk);
	assert_int_equal(sk->refs, 2);
}

/* Onto another member: that one loses its fd (its last: freed). */
static void
test_dup2fd_member_over_member(void **state)
{
	struct shim_sock *a, *b;

	(void) state;
	a = track(FD_A, SK_ENDPOINT);
	b = track(FD_B, SK_ENDPOINT);
	assert_non_null(b);
	ff.ret = FD_B;
	assert_int_equal(fdops_fcntl(FD_A, CMD_DUP2, FCNTL_DUP2FD,
	    fdarg(FD_B), 0), FD_B);
	assert_ptr_equal(get(FD_B), a);
	assert_int_equal(a->refs, 2);
}

/* An fd the shim does not track, onto a member: the member is closed. */
static void
test_dup2fd_untracked_over_member(void **state)
{
	(void) state;
	(void) track(FD_B, SK_ENDPOINT);
	ff.ret = FD_B;
	assert_int_equal(fdtab_maybe(FD_D), 0);
	assert_int_equal(fdops_fcntl(FD_D, CMD_DUP2, FCNTL_DUP2FD,
	    fdarg(FD_B), 0), FD_B);
	assert_int_equal(ff.calls, 1);
	assert_null(get(FD_B));
	assert_null(get(FD_D));
}

/* Onto itself (F_DUP2FD: the fd back; the CLO variants: EINVAL). */
static void
test_dup2fd_same_fd(void **state)
{
	struct shim_sock *sk;

	(void) state;
	sk = track(FD_A, SK_ENDPOINT);
	ff.ret = FD_A;
	assert_int_equal(fdops_fcntl(FD_A, CMD_DUP2, FCNTL_DUP2FD,
	    fdarg(FD_A), 0), FD_A);
	assert_ptr_equal(get(FD_A), sk);
	assert_int_equal(sk->refs, 1);
	ff.ret = -1;
	ff.err = EINVAL;
	assert_int_equal(fdops_fcntl(FD_A, CMD_DUP2, FCNTL_DUP2FD,
	    fdarg(FD_A), 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_ptr_equal(get(FD_A), sk);
	assert_int_equal(sk->refs, 1);
}

/* A failed call closes nothing: the target stays a member. */
static void
test_dup2fd_failure_keeps_target(void **state)
{
	struct shim_sock *b;

	(void) state;
	(void) track(FD_A, SK_ENDPOINT);
	b = track(FD_B, SK_ENDPOINT);
	ff.ret = -1;
	ff.err = EBADF;
	assert_int_equal(fdops_fcntl(FD_A, CMD_DUP2, FCNTL_DUP2FD,
	    fdarg(FD_B), 0), -1);
	assert_int_equal(errno, EBADF);
	assert_ptr_equal(get(FD_B), b);
}

/* F_DUP3FD: the fourth argument reaches the kernel. */
static void
test_dup3fd_passes_flags(void **state)
{
	struct shim_sock *sk;

	(void) state;
	sk = track(FD_A, SK_ENDPOINT);
	ff.ret = FD_C;
	ff.read_arg1 = 1;
	ff.arg1 = -1;
	assert_int_equal(fdops_fcntl(FD_A, CMD_DUP3, FCNTL_DUP3FD,
	    fdarg(FD_C), 3), FD_C);
	assert_int_equal(ff.cmd, CMD_DUP3);
	assert_ptr_equal(ff.arg, fdarg(FD_C));
	assert_int_equal(ff.arg1, 3);
	assert_ptr_equal(get(FD_C), sk);
}

/* Neither fd tracked: straight through, the table untouched. */
static void
test_dup2fd_untracked_passes(void **state)
{
	(void) state;
	ff.ret = FD_D;
	ff.read_arg1 = 1;
	assert_int_equal(fdops_fcntl(FD_C, CMD_DUP3, FCNTL_DUP3FD,
	    fdarg(FD_D), 2), FD_D);
	assert_int_equal(ff.calls, 1);
	assert_int_equal(ff.arg1, 2);
	assert_null(get(FD_C));
	assert_null(get(FD_D));
}

#define	T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_illumos_accept4_flags_check),
		T(test_illumos_accept4_fd_flags),
		T(test_illumos_accept4_fl_flags),
		T(test_noinherit_fl_flags),
		T(test_missing_bits_are_invalid),
		T(test_sys_flags_match_kernel),
		T(test_member_accept4_bad_flags),
		T(test_dup_kinds),
		T(test_dupfd_follows),
		T(test_nodup_passes),
		T(test_dup2fd_member_to_new),
		T(test_dup2fd_member_over_member),
		T(test_dup2fd_untracked_over_member),
		T(test_dup2fd_same_fd),
		T(test_dup2fd_failure_keeps_target),
		T(test_dup3fd_passes_flags),
		T(test_dup2fd_untracked_passes),
	};

	return (cmocka_run_group_tests_name("fdflags", tests, NULL, NULL));
}
