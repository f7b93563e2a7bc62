/*
 * fdtab.c: a uthash table of tracked fds behind one mutex, and a bitmap
 * that lets untracked fds (nearly all of them) skip the mutex.
 *
 * The bitmap may say "maybe" for an fd that is no longer tracked (a bit
 * is cleared under the lock, read without it); it never says "no" for an
 * fd that is, because bits are set before the entry is visible and only
 * the thread that changes an fd (bind, close, dup2...) changes its bit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "ackmem.h"
#include "fdtab.h"

#define	BITMAP_FDS	65536
#define	WORD_BITS	64

struct fd_entry {
	int		fd;
	struct shim_sock *sk;
	UT_hash_handle	hh;
};

static _Atomic uint64_t bitmap[BITMAP_FDS / WORD_BITS];
static _Atomic uint64_t hidden[BITMAP_FDS / WORD_BITS];
/* Tracked fds beyond the bitmap: rare, so they share one counter. */
static atomic_uint high_fds;

static struct fd_entry *table;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

int
fdtab_maybe(int fd)
{
	if (fd < 0)
		return (0);
	if (fd < BITMAP_FDS)
		return ((atomic_load_explicit(&bitmap[fd / WORD_BITS],
		    memory_order_acquire) >> (fd % WORD_BITS)) & 1);
	return (atomic_load_explicit(&high_fds, memory_order_acquire) != 0);
}

static void
mark(int fd, int on)
{
	if (fd >= BITMAP_FDS) {
		if (on)
			atomic_fetch_add(&high_fds, 1);
		else
			atomic_fetch_sub(&high_fds, 1);
		return;
	}
	uint64_t bit = (uint64_t)1 << (fd % WORD_BITS);
	if (on)
		atomic_fetch_or(&bitmap[fd / WORD_BITS], bit);
	else
		atomic_fetch_and(&bitmap[fd / WORD_BITS], ~bit);
}

void
fdtab_hide(int fd, int on)
{
	uint64_t bit;

	if (fd < 0 || fd >= BITMAP_FDS)
		return;		/* beyond the bitmap: not protected */
	bit = (uint64_t)1 << (fd % WORD_BITS);
	if (on) {
		atomic_fetch_or(&hidden[fd / WORD_BITS], bit);
		mark(fd, 1);	/* so that close() takes the slow path */
	} else {
		atomic_fetch_and(&hidden[fd / WORD_BITS], ~bit);
		mark(fd, 0);
	}
}

int
fdtab_hidden(int fd)
{
	if (fd < 0 || fd >= BITMAP_FDS)
		return (0);
	return ((atomic_load_explicit(&hidden[fd / WORD_BITS],
	    memory_order_acquire) >> (fd % WORD_BITS)) & 1);
}

void
fdtab_lock(sigset_t *saved)
{
	sigset_t all;

	/*
	 * A signal handler that closes or binds a tracked fd would deadlock
	 * on a lock its own thread holds.
	 */
	(void) sigfillset(&all);
	(void) pthread_sigmask(SIG_BLOCK, &all, saved);
	(void) pthread_mutex_lock(&table_lock);
}

void
fdtab_unlock(const sigset_t *saved)
{
	(void) pthread_mutex_unlock(&table_lock);
	(void) pthread_sigmask(SIG_SETMASK, saved, NULL);
}

struct shim_sock *
fdtab_get(int fd)
{
	struct fd_entry *e;

	HASH_FIND_INT(table, &fd, e);
	return (e != NULL ? e->sk : NULL);
}

int
fdtab_put(int fd, struct shim_sock *sk)
{
	struct fd_entry *e;
	struct shim_sock *old;

	HASH_FIND_INT(table, &fd, e);
	if (e != NULL) {
		if (e->sk == sk)
			return (0);
		old = e->sk;
		if (--old->refs == 0)
			sock_free(old);
		e->sk = sk;
		sk->refs++;
		return (0);
	}
	if ((e = malloc(sizeof (*e))) == NULL)
		return (-1);
	e->fd = fd;
	e->sk = sk;
	sk->refs++;
	mark(fd, 1);
	HASH_ADD_INT(table, fd, e);
	return (0);
}

struct shim_sock *
fdtab_del(int fd)
{
	struct fd_entry *e;
	struct shim_sock *sk;

	HASH_FIND_INT(table, &fd, e);
	if (e == NULL)
		return (NULL);
	HASH_DEL(table, e);
	mark(fd, 0);
	sk = e->sk;
	free(e);
	return (--sk->refs == 0 ? sk : NULL);
}

size_t
fdtab_fds_of(const struct shim_sock *sk, int *fds, size_t max)
{
	struct fd_entry *e, *tmp;
	size_t n = 0;

	HASH_ITER(hh, table, e, tmp) {
		if (e->sk != sk)
			continue;
		if (n < max)
			fds[n] = e->fd;
		n++;
	}
	return (n);
}

struct shim_sock *
sock_new(int family)
{
	struct shim_sock *sk = calloc(1, sizeof (*sk));

	if (sk == NULL)
		return (NULL);
	sk->family = family;
	sk->ctlfd = -1;
	return (sk);
}

void
sock_free(struct shim_sock *sk)
{
	if (sk->ack != NULL)
		ackmem_release(sk->ack);
	free(sk);
}

void
fdtab_atfork_prepare(void)
{
	(void) pthread_mutex_lock(&table_lock);
}

void
fdtab_atfork_parent(void)
{
	(void) pthread_mutex_unlock(&table_lock);
}

void
fdtab_atfork_child(void)
{
	/* Only the forking thread exists now; it holds the lock. */
	(void) pthread_mutex_unlock(&table_lock);
}
