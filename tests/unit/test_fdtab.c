/*
 * test_fdtab.c: the table of tracked fds.  The table does not look at
 * the fds themselves, so the numbers here need not be open; each test
 * leaves the table empty, as the next one expects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "fdtab.h"

/* Numbers around the bitmap's word and end boundaries, and past it. */
static const int probe_fds[] = { 0, 1, 5, 62, 63, 64, 65, 127, 128, 4095,
    65534, 65535, 65536, 65537, 100000, INT_MAX };
#define	NPROBE	(sizeof (probe_fds) / sizeof (probe_fds[0]))

static int
put(int fd, struct shim_sock *sk)
{
	sigset_t saved;
	int rc;

	fdtab_lock(&saved);
	rc = fdtab_put(fd, sk);
	fdtab_unlock(&saved);
	return (rc);
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

static struct shim_sock *
del(int fd)
{
	sigset_t saved;
	struct shim_sock *sk;

	fdtab_lock(&saved);
	sk = fdtab_del(fd);
	fdtab_unlock(&saved);
	return (sk);
}

static size_t
fds_of(const struct shim_sock *sk, int *fds, size_t max)
{
	sigset_t saved;
	size_t n;

	fdtab_lock(&saved);
	n = fdtab_fds_of(sk, fds, max);
	fdtab_unlock(&saved);
	return (n);
}

static void
test_untracked(void **state)
{
	(void) state;
	assert_int_equal(fdtab_maybe(-1), 0);
	assert_int_equal(fdtab_maybe(INT_MIN), 0);
	for (size_t i = 0; i < NPROBE; i++)
		assert_int_equal(fdtab_maybe(probe_fds[i]), 0);
	assert_null(get(3));
	assert_null(del(3));	/* forgetting an unknown fd is harmless */
}

static void
test_sock_new(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET6);

	(void) state;
	assert_non_null(sk);
	assert_int_equal(sk->family, AF_INET6);
	assert_int_equal(sk->refs, 0);
	assert_int_equal(sk->state, SK_OPT);
	/* 0 would be a real fd (stdin) that forget() would close. */
	assert_int_equal(sk->ctlfd, -1);
	sock_free(sk);
}

static void
test_put_get_del(void **state)
{
	(void) state;
	for (size_t i = 0; i < NPROBE; i++) {
		int fd = probe_fds[i];
		struct shim_sock *sk = sock_new(AF_INET);

		assert_non_null(sk);
		assert_int_equal(put(fd, sk), 0);
		assert_int_equal(sk->refs, 1);
		assert_int_equal(fdtab_maybe(fd), 1);
		assert_ptr_equal(get(fd), sk);
		/* Only this bit: the neighbours in the bitmap stay clear. */
		if (fd > 0 && fd - 1 < 65536)
			assert_int_equal(fdtab_maybe(fd - 1), 0);
		if (fd < 65535)
			assert_int_equal(fdtab_maybe(fd + 1), 0);
		assert_ptr_equal(del(fd), sk);
		assert_int_equal(sk->refs, 0);
		assert_int_equal(fdtab_maybe(fd), 0);
		assert_null(get(fd));
		sock_free(sk);
	}
}

/* Two high fds share one counter: one leaving must not hide the other. */
static void
test_high_fds(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET);

	(void) state;
	assert_non_null(sk);
	assert_int_equal(put(70000, sk), 0);
	assert_int_equal(put(80000, sk), 0);
	assert_null(del(70000));
	assert_int_equal(fdtab_maybe(80000), 1);
	assert_ptr_equal(get(80000), sk);
	assert_null(get(70000));
	assert_ptr_equal(del(80000), sk);
	assert_int_equal(fdtab_maybe(80000), 0);
	sock_free(sk);
}

static int
has(const int *fds, size_t n, int fd)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] == fd)
			return (1);
	}
	return (0);
}

/* dup'ed fds share one sock; it lives until the last of them goes. */
static void
test_shared_refs(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET), *other = sock_new(AF_INET);
	int fds[4] = { -7, -7, -7, -7 };

	(void) state;
	assert_non_null(sk);
	assert_non_null(other);
	assert_int_equal(put(10, sk), 0);
	assert_int_equal(put(70001, sk), 0);
	assert_int_equal(put(12, other), 0);
	assert_int_equal(sk->refs, 2);

	assert_int_equal(fds_of(sk, fds, 4), 2);
	assert_true(has(fds, 2, 10));
	assert_true(has(fds, 2, 70001));
	assert_int_equal(fds[2], -7);
	/* A short buffer: the count is still the whole, nothing overflows. */
	fds[0] = fds[1] = -7;
	assert_int_equal(fds_of(sk, fds, 1), 2);
	assert_true(fds[0] == 10 || fds[0] == 70001);
	assert_int_equal(fds[1], -7);

	assert_null(del(10));
	assert_int_equal(sk->refs, 1);
	assert_int_equal(fdtab_maybe(10), 0);
	assert_ptr_equal(get(70001), sk);
	assert_int_equal(fds_of(sk, fds, 4), 1);
	assert_int_equal(fds[0], 70001);

	assert_ptr_equal(del(70001), sk);
	assert_int_equal(fds_of(sk, fds, 4), 0);
	sock_free(sk);
	/* The other sock was never touched. */
	assert_int_equal(other->refs, 1);
	assert_ptr_equal(del(12), other);
	sock_free(other);
}

/* dup2 onto a tracked fd: the fd now means the new sock. */
static void
test_reput_moves_reference(void **state)
{
	struct shim_sock *a = sock_new(AF_INET), *b = sock_new(AF_INET6);
	int fds[4];

	(void) state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(put(20, a), 0);
	assert_int_equal(put(21, a), 0);
	assert_int_equal(put(22, b), 0);
	assert_int_equal(a->refs, 2);

	assert_int_equal(put(20, b), 0);
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 2);
	assert_ptr_equal(get(20), b);
	assert_int_equal(fdtab_maybe(20), 1);
	assert_int_equal(fds_of(a, fds, 4), 1);
	assert_int_equal(fds[0], 21);

	/* The same sock again: no second reference. */
	assert_int_equal(put(20, b), 0);
	assert_int_equal(b->refs, 2);

	/* a's last fd moves: a is freed by the table, not leaked. */
	assert_int_equal(put(21, b), 0);
	assert_int_equal(b->refs, 3);
	assert_int_equal(fds_of(a, fds, 4), 0);	/* compares pointers only */
	assert_int_equal(fds_of(b, fds, 4), 3);

	assert_null(del(20));
	assert_null(del(21));
	assert_ptr_equal(del(22), b);
	assert_int_equal(fdtab_maybe(21), 0);
	sock_free(b);
}

/*
 * A handler that touched the table while its thread holds the lock would
 * deadlock: signals are held off for exactly that long.
 */
static void
test_lock_blocks_signals(void **state)
{
	sigset_t saved, inside, after;

	(void) state;
	fdtab_lock(&saved);
	(void) pthread_sigmask(SIG_SETMASK, NULL, &inside);
	fdtab_unlock(&saved);
	(void) pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&inside, SIGUSR1), 1);
	assert_int_equal(sigismember(&inside, SIGALRM), 1);
	assert_int_equal(sigismember(&inside, SIGCHLD), 1);
	assert_int_equal(sigismember(&after, SIGUSR1),
	    sigismember(&saved, SIGUSR1));
	assert_int_equal(sigismember(&after, SIGALRM),
	    sigismember(&saved, SIGALRM));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untracked),
		cmocka_unit_test(test_sock_new),
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_high_fds),
		cmocka_unit_test(test_shared_refs),
		cmocka_unit_test(test_reput_moves_reference),
		cmocka_unit_test(test_lock_blocks_signals),
	};

	return (cmocka_run_group_tests_name("fdtab", tests, NULL, NULL));
}
