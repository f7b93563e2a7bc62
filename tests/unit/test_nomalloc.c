/*
 * test_nomalloc.c: the wrapped calls allocate nothing (issue 12).  POSIX
 * makes close, dup, dup2, fcntl, accept, bind... async-signal-safe; a
 * handler may call one on a tracked fd while the code it interrupted is
 * inside malloc, and a malloc or free of the shim's there deadlocks or
 * corrupts the heap.  This program has malloc and its kin of its own,
 * which count their calls and hand on to the C library's; the table's
 * calls and the wrappers on tracked and hidden fds run twice, and the
 * second time (the table's chunks and the pool of socks mapped by the
 * first) not one call may reach them.
 *
 * glibc only: its allocator has names (__libc_malloc...) to hand on to
 * from here; elsewhere the test is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ackmem.h"
#include "fakes.h"
#include "fdtab.h"
#include "proto.h"
#include "real.h"
#include "shim.h"

static atomic_int counting;
static atomic_ulong calls;

static void
note(void)
{
	if (atomic_load_explicit(&counting, memory_order_relaxed))
		(void) atomic_fetch_add(&calls, 1);
}

#if defined(__GLIBC__)
#define	HAVE_COUNTER	1

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

void *
malloc(size_t n)
{
	note();
	return (__libc_malloc(n));
}

void *
calloc(size_t k, size_t n)
{
	note();
	return (__libc_calloc(k, n));
}

void *
realloc(void *p, size_t n)
{
	note();
	return (__libc_realloc(p, n));
}

void
free(void *p)
{
	if (p != NULL)
		note();
	__libc_free(p);
}

void *
memalign(size_t a, size_t n)
{
	note();
	return (__libc_memalign(a, n));
}

void *
aligned_alloc(size_t a, size_t n)
{
	note();
	return (__libc_memalign(a, n));
}

int
posix_memalign(void **out, size_t a, size_t n)
{
	void *p;

	note();
	if (a < sizeof (void *) || (a & (a - 1)) != 0)
		return (EINVAL);
	if ((p = __libc_memalign(a, n)) == NULL)
		return (ENOMEM);
	*out = p;
	return (0);
}

void *
valloc(size_t n)
{
	note();
	return (__libc_valloc(n));
}

void *
pvalloc(size_t n)
{
	note();
	return (__libc_pvalloc(n));
}
#else
#define	HAVE_COUNTER	0
#endif

static struct ackmem_board *board;
static int boardfd;

/* A CONN on own for the endpoint: seq after prev, a connection with it. */
static void
conn(int own, uint32_t prev, uint32_t seq, int *client)
{
	assert_true((*client = fake_conn(own, prev, seq)) >= 0);
}

/*
 * Everything the wrappers do with the table, on a member: its endpoint
 * (a socket pair here), its hidden shadow, dups, a dup2 onto the shadow,
 * accept with the board and by record, closes, close_range, a sock
 * beyond the bitmap.  The results are checked after the counting stops
 * (a failed assertion would allocate).
 */
static int
ops(void)
{
	struct shim_sock *sk, *hi;
	struct proto_rec r;
	sigset_t saved;
	int sv[2], hv[2], x[2], fds[8], ep, own, d, d2, c1, c2, cfd, rfd;
	int ok = 1, shadow;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, hv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, x) != 0 ||
	    (sk = sock_new(AF_INET)) == NULL ||
	    (hi = sock_new(AF_INET)) == NULL)
		return (0);
	ep = sv[0];
	own = sv[1];
	sk->state = SK_ENDPOINT;
	ackmem_reset(board, 3, 100);
	if ((sk->ack = ackmem_attach(boardfd, 3)) == NULL)
		return (0);
	fdtab_lock(&saved);
	ok &= fdtab_put(ep, sk) == 0;
	sk->shadow = fdtab_hide_away(hv[0]);
	ok &= fdtab_put(70000, hi) == 0 && fdtab_put(70001, hi) == 0;
	ok &= fdtab_get(ep) == sk && fdtab_get(70001) == hi;
	ok &= fdtab_fds_of(sk, fds, 8) == 1;
	fdtab_reident(sk);
	ok &= fdtab_hidden(sk->shadow) &&
	    fdtab_hidden_next(0, INT_MAX) == sk->shadow;
	fdtab_unlock(&saved);

	d = shim_dup(ep);
	d2 = shim_fcntl(ep, F_DUPFD, (void *)(intptr_t)200, 0);
	ok &= d >= 0 && d2 >= 200 && shim_dup2(ep, 300) == 300;
	/* The application's dup2 onto the shadow: it moves. */
	shadow = sk->shadow;
	ok &= shim_dup2(x[0], shadow) == shadow && sk->shadow != shadow &&
	    fdtab_hidden(sk->shadow);
	ok &= shim_close(shadow) == 0;
	ok &= shim_close(sk->shadow) == -1 && errno == EBADF;
	ok &= shim_dup3(ep, 301, 0) == 301;

	/* accept: in turn on the board, then out of turn by record. */
	conn(own, 100, 101, &c1);
	cfd = shim_accept(ep, NULL, NULL, 0, 0);
	ok &= cfd >= 0 && ackmem_read(board, 3) == 101;
	(void) close(cfd);
	conn(own, 105, 106, &c2);
	cfd = shim_accept(ep, NULL, NULL, 0, 0);
	ok &= cfd >= 0 && proto_recv(own, &r, &rfd, 0) == 1 &&
	    r.type == REC_ACK && r.seq == 106;
	(void) close(cfd);

	ok &= shim_close(d) == 0 && shim_close(d2) == 0 &&
	    shim_close_range(300, 301, 0) == 0;
	fdtab_lock(&saved);
	fdtab_forget(70000);
	ok &= fdtab_del(70001) == hi;
	fdtab_unlock(&saved);
	sock_free(hi);
	/* The last of its fds: the shadow closed, the sock freed. */
	ok &= shim_close(ep) == 0;
	ok &= fdtab_none();
	(void) close(own);
	(void) close(hv[1]);
	(void) close(x[0]);
	(void) close(x[1]);
	(void) close(c1);
	(void) close(c2);
	return (ok);
}

/* The counter counts (through pointers: a compiler may drop the pair). */
static void
test_counter_works(void **state)
{
	void *(*volatile m)(size_t) = malloc;
	void (*volatile f)(void *) = free;
	void *p;

	(void) state;
	if (!HAVE_COUNTER)
		skip();
	atomic_store(&calls, 0);
	atomic_store(&counting, 1);
	p = m(8);
	f(p);
	atomic_store(&counting, 0);
	assert_int_equal(atomic_load(&calls), 2);
}

static void
test_no_allocation(void **state)
{
	int ok;

	(void) state;
	if (!HAVE_COUNTER)
		skip();
	assert_true(ops());	/* the warm-up: chunks mapped */
	atomic_store(&calls, 0);
	atomic_store(&counting, 1);
	ok = ops();
	atomic_store(&counting, 0);
	assert_true(ok);
	assert_int_equal(atomic_load(&calls), 0);
	/* Once more, for a pool that reuses what the last one gave back. */
	atomic_store(&counting, 1);
	ok = ops();
	atomic_store(&counting, 0);
	assert_true(ok);
	assert_int_equal(atomic_load(&calls), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_works),
		cmocka_unit_test(test_no_allocation),
	};

	shim_init();
	(void) signal(SIGPIPE, SIG_IGN);
	if ((board = ackmem_create(&boardfd)) == NULL)
		return (1);
	return (cmocka_run_group_tests_name("nomalloc", tests, NULL, NULL));
}
