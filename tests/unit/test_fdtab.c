/*
 * test_fdtab.c: the table of tracked fds.  An entry made for a number
 * that was not open has no identity to check and is taken as it is, so
 * the first tests use numbers that need not be open; the staleness tests
 * use real sockets, placed at numbers of their own (FD_BASE up), and
 * close or replace them behind the table's back with the C library's
 * calls (this program has no wrappers).  Each test leaves the table
 * empty, as the next one expects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fdtab.h"
#include "shim.h"

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
	assert_int_equal(sk->shadow, -1);
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

/* --- staleness: real fds --------------------------------------------- */

#define	FD_BASE	500

/* A new TCP socket at exactly fd. */
static int
sock_at(int fd)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	if (s != fd) {
		assert_int_equal(dup2(s, fd), fd);
		assert_int_equal(close(s), 0);
	}
	return (fd);
}

/* A connected pair, one end at exactly fd; the other end returned. */
static int
pair_at(int fd)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(dup2(sv[0], fd), fd);
	assert_int_equal(close(sv[0]), 0);
	return (sv[1]);
}

static int
is_open(int fd)
{
	return (fcntl(fd, F_GETFD) >= 0);
}

static ino_t
ino(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (st.st_ino);
}

/* A member at fd whose hidden connection to its "owner" is at ctl. */
static struct shim_sock *
member_at(int fd, int ctl, int *peer)
{
	struct shim_sock *sk = sock_new(AF_INET);
	sigset_t saved;

	assert_non_null(sk);
	(void) sock_at(fd);
	*peer = pair_at(ctl);
	fdtab_lock(&saved);
	assert_int_equal(fdtab_put(fd, sk), 0);
	fdtab_hide(ctl, 1);
	sk->state = SK_MEMBER;
	sk->shadow = ctl;
	fdtab_unlock(&saved);
	return (sk);
}

/* Forget fd as close() would (its connection closed if it is the last). */
static void
forget(int fd)
{
	sigset_t saved;

	fdtab_lock(&saved);
	fdtab_forget(fd);
	fdtab_unlock(&saved);
}

/* Replaced behind the table's back: the entry goes, the sock with it. */
static void
test_stale_replaced(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET), *other = sock_new(AF_INET);
	int a = sock_at(FD_BASE), b = sock_at(FD_BASE + 1), x;

	(void) state;
	assert_int_equal(put(a, sk), 0);
	assert_int_equal(put(b, other), 0);
	assert_ptr_equal(get(a), sk);
	x = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(dup2(x, a), a);
	assert_null(get(a));
	assert_int_equal(fdtab_maybe(a), 0);
	/* The neighbour is untouched. */
	assert_ptr_equal(get(b), other);
	assert_int_equal(other->refs, 1);
	forget(b);
	(void) close(x);
	(void) close(a);
	(void) close(b);
}

/* Closed, then the number reused by another socket: not the member. */
static void
test_stale_reused(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET);
	int a = sock_at(FD_BASE);

	(void) state;
	sk->state = SK_ENDPOINT;
	assert_int_equal(put(a, sk), 0);
	assert_int_equal(close(a), 0);
	(void) sock_at(a);
	assert_null(get(a));
	(void) close(a);
	/* Closed and not reused: the same. */
	sk = sock_new(AF_INET);
	(void) sock_at(a);
	assert_int_equal(put(a, sk), 0);
	assert_int_equal(close(a), 0);
	assert_null(get(a));
	assert_int_equal(fdtab_maybe(a), 0);
}

/* The same file put back on the number (dup2 of a dup) is still it. */
static void
test_same_file_kept(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET);
	int a = sock_at(FD_BASE), b = FD_BASE + 1;

	(void) state;
	assert_int_equal(dup2(a, b), b);
	assert_int_equal(put(a, sk), 0);
	assert_int_equal(put(b, sk), 0);
	assert_int_equal(dup2(b, a), a);
	assert_ptr_equal(get(a), sk);
	/* One of two fds replaced: only that one goes. */
	(void) sock_at(b);
	assert_null(get(b));
	assert_int_equal(sk->refs, 1);
	assert_ptr_equal(get(a), sk);
	forget(a);
	(void) close(a);
	(void) close(b);
}

/* A member closed behind our back leaves its group: its connection goes. */
static void
test_stale_member_closes_connection(void **state)
{
	int a = FD_BASE, ctl = FD_BASE + 1, peer;
	char c;

	(void) state;
	(void) member_at(a, ctl, &peer);
	assert_int_equal(fdtab_hidden(ctl), 1);
	assert_int_equal(close(a), 0);
	assert_null(get(a));
	assert_int_equal(fdtab_hidden(ctl), 0);
	assert_false(is_open(ctl));
	assert_int_equal(read(peer, &c, 1), 0);	/* the owner sees it go */
	(void) close(peer);
}

/*
 * The hidden connection replaced behind our back: it is not ours any
 * more, and is neither trusted nor closed (it is the application's).
 */
static void
test_stale_connection_dropped(void **state)
{
	struct shim_sock *sk;
	int a = FD_BASE, ctl = FD_BASE + 1, peer, x;

	(void) state;
	sk = member_at(a, ctl, &peer);
	x = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(dup2(x, ctl), ctl);
	assert_ptr_equal(get(a), sk);
	assert_int_equal(sk->shadow, -1);
	assert_int_equal(fdtab_hidden(ctl), 0);
	forget(a);
	assert_true(is_open(ctl));
	assert_int_equal(ino(ctl), ino(x));
	(void) close(x);
	(void) close(ctl);
	(void) close(a);
	(void) close(peer);
}

/*
 * bind(): the endpoint is put on the member's fds, its kernel socket kept
 * hidden as the shadow; those fds now refer to the endpoint, and are
 * trusted, and the shadow stays.
 */
static void
test_endpoint_takes_fds(void **state)
{
	struct shim_sock *sk;
	sigset_t saved;
	int a = FD_BASE, sh = FD_BASE + 1, ep = FD_BASE + 2, peer, epeer;

	(void) state;
	sk = member_at(a, sh, &peer);
	epeer = pair_at(ep);
	fdtab_lock(&saved);
	assert_int_equal(dup2(ep, a), a);
	fdtab_reident(sk);
	fdtab_unlock(&saved);
	(void) close(ep);
	assert_ptr_equal(get(a), sk);
	assert_int_equal(sk->shadow, sh);
	assert_int_equal(fdtab_hidden(sh), 1);
	forget(a);
	assert_false(is_open(sh));
	(void) close(a);
	(void) close(peer);
	(void) close(epeer);
}

/* A hidden fd moved away: same connection, its sock follows, checked. */
static void
test_hidden_move(void **state)
{
	struct shim_sock *sk;
	sigset_t saved;
	int a = FD_BASE, ctl = FD_BASE + 1, peer, nfd;
	ino_t was;
	char c = 'x';

	(void) state;
	sk = member_at(a, ctl, &peer);
	was = ino(ctl);
	fdtab_lock(&saved);
	nfd = fdtab_hidden_move(ctl);
	fdtab_unlock(&saved);
	assert_true(nfd >= 0 && nfd != ctl);
	assert_int_equal(sk->shadow, nfd);
	assert_int_equal(fdtab_hidden(nfd), 1);
	assert_int_equal(fdtab_hidden(ctl), 0);
	assert_int_equal(ino(nfd), was);
	assert_true(fcntl(nfd, F_GETFD) & FD_CLOEXEC);
	/* Away from the low numbers: above where the original was. */
	assert_true(nfd > ctl);
	(void) close(ctl);	/* the copy left behind */
	assert_ptr_equal(get(a), sk);
	assert_int_equal(sk->shadow, nfd);
	assert_int_equal(write(nfd, &c, 1), 1);
	assert_int_equal(read(peer, &c, 1), 1);
	forget(a);
	assert_false(is_open(nfd));
	(void) close(a);
	(void) close(peer);
}

/* A new hidden fd goes away from the low numbers, its first number freed. */
static void
test_hide_away(void **state)
{
	sigset_t saved;
	int ctl = FD_BASE + 1, peer = pair_at(ctl), nfd;
	ino_t was = ino(ctl);
	char c = 'x';

	(void) state;
	fdtab_lock(&saved);
	nfd = fdtab_hide_away(ctl);
	fdtab_unlock(&saved);
	assert_true(nfd > ctl);
	assert_false(is_open(ctl));
	assert_int_equal(fdtab_hidden(ctl), 0);
	assert_int_equal(fdtab_hidden(nfd), 1);
	assert_int_equal(ino(nfd), was);
	assert_true(fcntl(nfd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(nfd, &c, 1), 1);
	assert_int_equal(read(peer, &c, 1), 1);
	fdtab_lock(&saved);
	fdtab_hidden_drop(nfd);
	fdtab_unlock(&saved);
	(void) close(nfd);
	(void) close(peer);
}

/* --- dup2 and closefrom through the wrappers --------------------------- */

/* dup2 and dup3 onto a hidden fd: the caller gets the number, we keep ours. */
static void
test_dup2_onto_hidden(void **state)
{
	struct shim_sock *sk;
	int a = FD_BASE, ctl = FD_BASE + 1, peer, y[2], h;
	char c = 'x';

	(void) state;
	sk = member_at(a, ctl, &peer);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, y), 0);
	assert_int_equal(shim_dup2(y[0], ctl), ctl);
	assert_int_equal(ino(ctl), ino(y[0]));
	assert_int_equal(fdtab_hidden(ctl), 0);
	assert_ptr_equal(get(a), sk);
	assert_true(sk->shadow >= 0 && sk->shadow != ctl);
	assert_int_equal(fdtab_hidden(sk->shadow), 1);
	/* Our connection still reaches the owner; theirs is theirs alone. */
	assert_int_equal(write(sk->shadow, &c, 1), 1);
	assert_int_equal(read(peer, &c, 1), 1);
	assert_int_equal(write(y[1], &c, 1), 1);
	assert_int_equal(read(ctl, &c, 1), 1);
	assert_int_equal(shim_close(ctl), 0);

	h = sk->shadow;
	assert_int_equal(shim_dup3(y[0], h, 0), h);
	assert_int_equal(ino(h), ino(y[0]));
	assert_true(sk->shadow != h && fdtab_hidden(sk->shadow));
	assert_int_equal(shim_close(h), 0);

	/* A refused call: the number stays closed, the connection ours. */
	h = sk->shadow;
	assert_int_equal(shim_dup3(y[0], h, -1), -1);
	assert_int_equal(errno, EINVAL);
	assert_false(is_open(h));
	assert_true(fdtab_hidden(sk->shadow));
	assert_int_equal(write(sk->shadow, &c, 1), 1);
	assert_int_equal(read(peer, &c, 1), 1);

	forget(a);
	(void) close(a);
	(void) close(y[0]);
	(void) close(y[1]);
	(void) close(peer);
}

/* A hidden fd is not open to the application: dups of it fail so. */
static void
test_dup_of_hidden(void **state)
{
	struct shim_sock *sk;
	int a = FD_BASE, ctl = FD_BASE + 1, peer, to = FD_BASE + 2;

	(void) state;
	sk = member_at(a, ctl, &peer);
	errno = 0;
	assert_int_equal(shim_dup(ctl), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(shim_dup2(ctl, to), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(shim_dup2(ctl, ctl), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(shim_dup3(ctl, to, 0), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(shim_fcntl(ctl, F_DUPFD, (void *)(intptr_t)to, 0), -1);
	assert_int_equal(errno, EBADF);
	/* As for any fd: dup3 onto itself is EINVAL before anything else. */
	assert_int_equal(shim_dup3(ctl, ctl, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_false(is_open(to));
	assert_int_equal(sk->shadow, ctl);
	forget(a);
	(void) close(a);
	(void) close(peer);
}

/*
 * closefrom: the application's fds go and are forgotten; the hidden
 * connection stays, still the member's.
 */
static void
test_closefrom_spares_hidden(void **state)
{
	struct shim_sock *sk, *p = sock_new(AF_INET);
	int a = FD_BASE, ctl = FD_BASE + 10, peer;
	int p1 = sock_at(FD_BASE + 5), p2 = sock_at(FD_BASE + 20);
	char c = 'x';

	(void) state;
	sk = member_at(a, ctl, &peer);
	assert_int_equal(put(p1, p), 0);
	shim_closefrom(FD_BASE + 1);
	assert_false(is_open(p1));
	assert_false(is_open(p2));
	assert_int_equal(fdtab_maybe(p1), 0);
	assert_true(is_open(ctl));
	assert_int_equal(fdtab_hidden(ctl), 1);
	assert_ptr_equal(get(a), sk);
	assert_int_equal(sk->shadow, ctl);
	assert_int_equal(write(ctl, &c, 1), 1);
	assert_int_equal(read(peer, &c, 1), 1);
	/* From the member itself: it goes, and its connection with it. */
	shim_closefrom(a);
	assert_false(is_open(a));
	assert_false(is_open(ctl));
	assert_int_equal(fdtab_hidden(ctl), 0);
	assert_int_equal(read(peer, &c, 1), 0);
	(void) close(peer);
}

static void
test_close_range_spares_hidden(void **state)
{
	struct shim_sock *sk, *p = sock_new(AF_INET);
	int a = FD_BASE, ctl = FD_BASE + 10, peer;
	int p1 = sock_at(FD_BASE + 5), p2 = sock_at(FD_BASE + 20);

	(void) state;
	sk = member_at(a, ctl, &peer);
	assert_int_equal(put(p1, p), 0);
	/* Refused by the kernel: nothing closed, nothing forgotten. */
	errno = 0;
	assert_int_equal(shim_close_range(FD_BASE + 1, FD_BASE + 15,
	    1 << 30), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(is_open(p1));
	assert_ptr_equal(get(p1), p);
	assert_int_equal(shim_close_range(FD_BASE + 1, FD_BASE + 15, 0), 0);
	assert_false(is_open(p1));
	assert_int_equal(fdtab_maybe(p1), 0);
	assert_true(is_open(p2));
	assert_true(is_open(ctl));
	assert_ptr_equal(get(a), sk);
	assert_int_equal(sk->shadow, ctl);
	/* A range of hidden fds only closes nothing. */
	assert_int_equal(shim_close_range(ctl, ctl, 0), 0);
	assert_true(is_open(ctl));
	forget(a);
	(void) close(a);
	(void) close(p2);
	(void) close(peer);
}

/*
 * A forked child's copies of its parent's hidden fds are not kept by its
 * closefrom when it closes the member too (they would hold the parent's
 * connections open); kept, and the child's now, when it keeps the member
 * (a prefork child that closes all but its sockets: a UDP member's
 * connection to its owner is one of them); the parent's stay.
 */
static void
test_closefrom_in_child(void **state)
{
	struct shim_sock *sk;
	int a = FD_BASE, ctl = FD_BASE + 10, peer, st;
	pid_t pid;

	(void) state;
	sk = member_at(a, ctl, &peer);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shim_closefrom(FD_BASE);
		_exit(is_open(ctl) ? 1 : fdtab_hidden(ctl) ? 2 :
		    is_open(a) ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		shim_closefrom(FD_BASE + 1);
		/* Kept, and a second closefrom keeps it too: the child's. */
		shim_closefrom(FD_BASE + 1);
		_exit(!is_open(ctl) ? 1 : !fdtab_hidden(ctl) ? 2 :
		    sk->shadow != ctl ? 3 : !is_open(a) ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(is_open(ctl));
	assert_int_equal(fdtab_hidden(ctl), 1);
	assert_int_equal(sk->shadow, ctl);
	forget(a);
	(void) close(a);
	(void) close(peer);
}

/* The lock-free range question, at the bitmap's word edges and beyond. */
static void
test_any(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET);

	(void) state;
	assert_int_equal(fdtab_any(0, INT_MAX), 0);
	assert_int_equal(put(63, sk), 0);
	assert_int_equal(fdtab_any(0, 62), 0);
	assert_int_equal(fdtab_any(63, 63), 1);
	assert_int_equal(fdtab_any(-5, 63), 1);
	assert_int_equal(fdtab_any(64, INT_MAX), 0);
	assert_int_equal(fdtab_any(0, INT_MAX), 1);
	assert_int_equal(put(70000, sk), 0);
	assert_int_equal(fdtab_any(64, 65535), 0);
	assert_int_equal(fdtab_any(65536, INT_MAX), 1);
	assert_null(del(63));
	assert_ptr_equal(del(70000), sk);
	assert_int_equal(fdtab_any(0, INT_MAX), 0);
	sock_free(sk);
}

/*
 * exec's questions (shim/exec.c): nothing tracked, in one load, and the
 * tracked numbers in order, without the lock; a number marked twice
 * (hidden twice) is counted once.
 */
static void
test_none_next(void **state)
{
	struct shim_sock *sk = sock_new(AF_INET);
	sigset_t saved;

	(void) state;
	assert_int_equal(fdtab_none(), 1);
	assert_int_equal(fdtab_next(0), -1);
	assert_int_equal(put(64, sk), 0);
	assert_int_equal(put(5, sk), 0);
	assert_int_equal(put(70000, sk), 0);
	assert_int_equal(fdtab_none(), 0);
	assert_int_equal(fdtab_next(-1), 5);
	assert_int_equal(fdtab_next(6), 64);
	assert_int_equal(fdtab_next(65), -1);
	assert_null(del(5));
	assert_null(del(64));
	assert_int_equal(fdtab_none(), 0);	/* 70000: beyond the bitmap */
	assert_ptr_equal(del(70000), sk);
	assert_int_equal(fdtab_none(), 1);
	fdtab_lock(&saved);
	fdtab_hide(127, 1);
	fdtab_hide(127, 1);
	fdtab_unlock(&saved);
	assert_int_equal(fdtab_none(), 0);
	assert_int_equal(fdtab_next(0), 127);
	fdtab_lock(&saved);
	fdtab_hide(127, 0);
	fdtab_unlock(&saved);
	assert_int_equal(fdtab_none(), 1);
	sock_free(sk);
}

/* --- the table's own memory (no malloc: issue 12) --------------------- */

/*
 * A freed sock's record is the next one handed out: the same address,
 * zeroed again, with a serial of its own (accept.c tells socks apart by
 * it).  Freed twice, it is still handed out once.
 */
static void
test_sock_records_reused(void **state)
{
	struct shim_sock *a = sock_new(AF_INET), *b, *c;
	uint64_t serial;

	(void) state;
	assert_non_null(a);
	serial = a->serial;
	assert_true(serial != 0);
	a->refs = 3;
	a->state = SK_ENDPOINT;
	a->shadow = 7;
	a->ncopy = SK_COPY_MAX;
	memset(a->copy, 0x5a, sizeof (a->copy));
	sock_free(a);
	b = sock_new(AF_INET6);
	assert_ptr_equal(b, a);
	assert_true(b->serial != serial);
	assert_int_equal(b->family, AF_INET6);
	assert_int_equal(b->refs, 0);
	assert_int_equal(b->state, SK_OPT);
	assert_int_equal(b->shadow, -1);
	assert_int_equal(b->ncopy, 0);
	assert_int_equal(b->copy[SK_COPY_MAX - 1].val[SK_COPY_BYTES - 1], 0);
	assert_null(b->ack);
	sock_free(b);
	sock_free(b);
	b = sock_new(AF_INET);
	c = sock_new(AF_INET);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(b != c);
	sock_free(b);
	sock_free(c);
}

/*
 * Many socks at once (several of the pool's chunks): each its own memory
 * (written whole, none overlaps another), each serial distinct; given
 * back, the same records serve again, no new memory.
 */
#define	MANY_SOCKS	100

static void
test_many_socks(void **state)
{
	static struct shim_sock *sk[MANY_SOCKS], *again[MANY_SOCKS];

	(void) state;
	for (size_t i = 0; i < MANY_SOCKS; i++) {
		assert_non_null(sk[i] = sock_new(AF_INET));
		memset(sk[i]->copy, (int)i, sizeof (sk[i]->copy));
		sk[i]->ncopy = i;
	}
	for (size_t i = 0; i < MANY_SOCKS; i++) {
		assert_int_equal(sk[i]->ncopy, i);
		assert_int_equal(sk[i]->copy[0].val[0], (unsigned char)i);
		assert_int_equal(sk[i]->copy[SK_COPY_MAX - 1].level,
		    (int)(0x01010101U * (unsigned char)i));
		for (size_t j = 0; j < i; j++) {
			assert_true(sk[i] != sk[j]);
			assert_true(sk[i]->serial != sk[j]->serial);
		}
	}
	for (size_t i = 0; i < MANY_SOCKS; i++)
		sock_free(sk[i]);
	for (size_t i = 0; i < MANY_SOCKS; i++) {
		int found = 0;

		assert_non_null(again[i] = sock_new(AF_INET));
		for (size_t j = 0; j < MANY_SOCKS; j++)
			found |= again[i] == sk[j];
		assert_true(found);
	}
	for (size_t i = 0; i < MANY_SOCKS; i++)
		sock_free(again[i]);
}

/*
 * Many fds, in every chunk of the table and beyond the bitmap (several
 * blocks there): each finds its own sock, each sock its own fds; entries
 * freed are taken again; the table ends empty.  The numbers need not be
 * open (entries for those are not checked).
 */
#define	MANY_FDS	2000
#define	FD_OF(k)	((k) * 37 + 1000)	/* to 74963: 258 beyond */

static void
test_many_fds(void **state)
{
	struct shim_sock *sk[4];
	static int fds[MANY_FDS];
	size_t per[4] = { 0 };

	(void) state;
	for (size_t i = 0; i < 4; i++)
		assert_non_null(sk[i] = sock_new(AF_INET));
	for (int k = 0; k < MANY_FDS; k++)
		assert_int_equal(put(FD_OF(k), sk[k % 4]), 0);
	for (int k = 0; k < MANY_FDS; k++) {
		assert_int_equal(fdtab_maybe(FD_OF(k)), 1);
		assert_ptr_equal(get(FD_OF(k)), sk[k % 4]);
		if (FD_OF(k) + 1 < 65536)
			assert_null(get(FD_OF(k) + 1));
	}
	/* Each sock's fds, in no particular order, each once. */
	for (size_t i = 0; i < 4; i++) {
		static char seen[MANY_FDS];

		memset(seen, 0, sizeof (seen));
		assert_int_equal(sk[i]->refs, MANY_FDS / 4);
		assert_int_equal(fds_of(sk[i], fds, MANY_FDS), MANY_FDS / 4);
		for (int j = 0; j < MANY_FDS / 4; j++) {
			int k = (fds[j] - 1000) / 37;

			assert_int_equal(FD_OF(k), fds[j]);
			assert_int_equal(k % 4, (int)i);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
		}
	}
	/* Half go; their entries (beyond the bitmap too) are taken again. */
	for (int k = 1; k < MANY_FDS; k += 2) {
		struct shim_sock *last = del(FD_OF(k));

		/* sk[1] and sk[3] had odd ones only: the last says so. */
		assert_true(last == NULL || (last == sk[k % 4] &&
		    k >= MANY_FDS - 4));
	}
	assert_int_equal(sk[1]->refs, 0);
	assert_int_equal(sk[3]->refs, 0);
	for (int k = 1; k < MANY_FDS; k += 2) {
		assert_null(get(FD_OF(k)));
		assert_int_equal(put(FD_OF(k) + 1, sk[0]), 0);
	}
	for (int k = 0; k < MANY_FDS; k++) {
		if (k % 2 == 0)
			assert_ptr_equal(get(FD_OF(k)), sk[k % 4]);
		else
			assert_ptr_equal(get(FD_OF(k) + 1), sk[0]);
	}
	for (size_t i = 0; i < 4; i++)
		per[i] = fds_of(sk[i], fds, MANY_FDS);
	assert_int_equal(per[0], MANY_FDS / 4 + MANY_FDS / 2);
	assert_int_equal(per[1], 0);
	assert_int_equal(per[2], MANY_FDS / 4);
	assert_int_equal(per[3], 0);
	for (int k = 0; k < MANY_FDS; k++)
		(void) del(k % 2 == 0 ? FD_OF(k) : FD_OF(k) + 1);
	assert_int_equal(fdtab_none(), 1);
	assert_int_equal(fdtab_any(0, INT_MAX), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sk[i]->refs, 0);
		sock_free(sk[i]);
	}
}

/*
 * closefrom's range over fds beyond the bitmap: those in it go (their
 * socks freed with their last fd), the others stay.
 */
static void
test_forget_range_high(void **state)
{
	struct shim_sock *a = sock_new(AF_INET), *b = sock_new(AF_INET);
	sigset_t saved;

	(void) state;
	assert_non_null(a);
	assert_non_null(b);
	for (int fd = 70000; fd < 70200; fd++)
		assert_int_equal(put(fd, fd < 70100 ? a : b), 0);
	assert_int_equal(put(90000, b), 0);
	fdtab_lock(&saved);
	fdtab_forget_range(70000, 80000);	/* a is freed here */
	fdtab_unlock(&saved);
	for (int fd = 70000; fd < 70200; fd++)
		assert_null(get(fd));
	assert_ptr_equal(get(90000), b);
	assert_int_equal(b->refs, 1);
	assert_ptr_equal(del(90000), b);
	assert_int_equal(fdtab_none(), 1);
	sock_free(b);
}

/* Hidden records in several chunks: closefrom's question finds them. */
static void
test_hidden_records_spread(void **state)
{
	static const int h[] = { 3, 255, 256, 4000, 65535 };
	sigset_t saved;

	(void) state;
	fdtab_lock(&saved);
	for (size_t i = 0; i < 5; i++)
		fdtab_hide(h[i], 1);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(fdtab_hidden(h[i]), 1);
		assert_int_equal(fdtab_hidden_next(h[i], INT_MAX), h[i]);
		assert_int_equal(fdtab_hidden_next(i == 0 ? 0 : h[i - 1] + 1,
		    h[i]), h[i]);
	}
	assert_int_equal(fdtab_hidden_next(65536, INT_MAX), -1);
	assert_int_equal(fdtab_hidden_next(4001, 65534), -1);
	for (size_t i = 0; i < 5; i++)
		fdtab_hide(h[i], 0);
	assert_int_equal(fdtab_hidden_next(0, INT_MAX), -1);
	fdtab_unlock(&saved);
	assert_int_equal(fdtab_none(), 1);
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
		cmocka_unit_test(test_stale_replaced),
		cmocka_unit_test(test_stale_reused),
		cmocka_unit_test(test_same_file_kept),
		cmocka_unit_test(test_stale_member_closes_connection),
		cmocka_unit_test(test_stale_connection_dropped),
		cmocka_unit_test(test_endpoint_takes_fds),
		cmocka_unit_test(test_hidden_move),
		cmocka_unit_test(test_hide_away),
		cmocka_unit_test(test_dup2_onto_hidden),
		cmocka_unit_test(test_dup_of_hidden),
		cmocka_unit_test(test_closefrom_spares_hidden),
		cmocka_unit_test(test_close_range_spares_hidden),
		cmocka_unit_test(test_closefrom_in_child),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_none_next),
		cmocka_unit_test(test_sock_records_reused),
		cmocka_unit_test(test_many_socks),
		cmocka_unit_test(test_many_fds),
		cmocka_unit_test(test_forget_range_high),
		cmocka_unit_test(test_hidden_records_spread),
	};

	/* The real functions, as the wrappers and the table's closes use. */
	shim_init();
	return (cmocka_run_group_tests_name("fdtab", tests, NULL, NULL));
}
