/*
 * fdtab.c: a uthash table of tracked fds behind one mutex, and a bitmap
 * that lets untracked fds (nearly all of them) skip the mutex.
 *
 * The bitmap may say "maybe" for an fd that is no longer tracked (a bit
 * is cleared under the lock, read without it); it never says "no" for an
 * fd that is, because bits are set before the entry is visible and only
 * the thread that changes an fd (bind, close, dup2...) changes its bit.
 *
 * Hidden fds have a record each (what they refer to, who made them) in a
 * small hash of fixed buckets: moving one to another number relinks it,
 * so that a dup2 onto it allocates nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <uthash.h>

#include "ackmem.h"
#include "fdtab.h"
#include "real.h"

#define	BITMAP_FDS	65536
#define	WORD_BITS	64
#define	HID_BUCKETS	64
/* Hidden fds go this far below the fd limit, out of the low numbers. */
#define	HIDDEN_ROOM	64

/* What an fd referred to when the shim took note of it. */
struct fdtab_id {
	dev_t	dev;
	ino_t	ino;
	mode_t	fmt;		/* st_mode & S_IFMT */
	int	known;		/* 0: the fd was not open then; not checked */
};

struct fd_entry {
	int		fd;
	struct shim_sock *sk;
	struct fdtab_id	id;
	UT_hash_handle	hh;
};

struct hid {
	int		fd;
	pid_t		pid;		/* the process that made it */
	struct fdtab_id	id;
	struct hid	*next;
};

static _Atomic uint64_t bitmap[BITMAP_FDS / WORD_BITS];
static _Atomic uint64_t hidden[BITMAP_FDS / WORD_BITS];
/* Tracked fds beyond the bitmap: rare, so they share one counter. */
static atomic_uint high_fds;
/* Bits set in bitmap, plus high_fds: fdtab_none() in one load. */
static atomic_uint marked;
/* The process the table describes; 0 until it tracks something. */
static atomic_long table_pid;

static struct fd_entry *table;
static struct hid *hids[HID_BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* What fd refers to now; known is 0 if it is not open. */
static void
ident(int fd, struct fdtab_id *id)
{
	struct stat st;
	int e = errno;

	memset(id, 0, sizeof (*id));
	if (fstat(fd, &st) == 0) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		id->fmt = st.st_mode & S_IFMT;
		id->known = 1;
	}
	errno = e;
}

/* fd still refers to what id says (or id has nothing to compare). */
static int
still(int fd, const struct fdtab_id *id)
{
	struct fdtab_id now;

	if (!id->known)
		return (1);
	ident(fd, &now);
	return (now.known && now.dev == id->dev && now.ino == id->ino &&
	    now.fmt == id->fmt);
}

static void
claim_table(void)
{
	if (atomic_load(&table_pid) == 0)
		atomic_store(&table_pid, (long)getpid());
}

int
fdtab_ours(void)
{
	long p = atomic_load_explicit(&table_pid, memory_order_relaxed);

	return (p == 0 || p == (long)getpid());
}

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
		if (on) {
			atomic_fetch_add(&high_fds, 1);
			atomic_fetch_add(&marked, 1);
		} else {
			atomic_fetch_sub(&high_fds, 1);
			atomic_fetch_sub(&marked, 1);
		}
		return;
	}
	uint64_t bit = (uint64_t)1 << (fd % WORD_BITS);
	_Atomic uint64_t *w = &bitmap[fd / WORD_BITS];
	/* Counted on change only: a bit may be set twice (hidden, put). */
	if (on) {
		if ((atomic_fetch_or(w, bit) & bit) == 0)
			atomic_fetch_add(&marked, 1);
	} else {
		if ((atomic_fetch_and(w, ~bit) & bit) != 0)
			atomic_fetch_sub(&marked, 1);
	}
}

int
fdtab_none(void)
{
	return (atomic_load_explicit(&marked, memory_order_acquire) == 0);
}

int
fdtab_next(int from)
{
	if (from < 0)
		from = 0;
	for (int w = from / WORD_BITS; w < BITMAP_FDS / WORD_BITS; w++) {
		uint64_t v = atomic_load_explicit(&bitmap[w],
		    memory_order_acquire);

		if (w == from / WORD_BITS)
			v &= ~(uint64_t)0 << (from % WORD_BITS);
		for (int b = 0; v != 0; b++, v >>= 1) {
			if (v & 1)
				return (w * WORD_BITS + b);
		}
	}
	return (-1);
}

int
fdtab_any(int lo, int hi)
{
	int top = hi < BITMAP_FDS ? hi : BITMAP_FDS - 1;

	if (lo < 0)
		lo = 0;
	if (hi >= BITMAP_FDS &&
	    atomic_load_explicit(&high_fds, memory_order_acquire) != 0)
		return (1);
	for (int w = lo / WORD_BITS; lo <= top && w <= top / WORD_BITS; w++) {
		uint64_t v = atomic_load_explicit(&bitmap[w],
		    memory_order_acquire);

		if (w == lo / WORD_BITS)
			v &= ~(uint64_t)0 << (lo % WORD_BITS);
		if (w == top / WORD_BITS && top % WORD_BITS != WORD_BITS - 1)
			v &= ((uint64_t)1 << (top % WORD_BITS + 1)) - 1;
		if (v != 0)
			return (1);
	}
	return (0);
}

static struct hid **
hid_slot(int fd)
{
	struct hid **pp = &hids[(unsigned)fd % HID_BUCKETS];

	while (*pp != NULL && (*pp)->fd != fd)
		pp = &(*pp)->next;
	return (pp);
}

static void
hid_link(struct hid *h)
{
	struct hid **head = &hids[(unsigned)h->fd % HID_BUCKETS];

	h->next = *head;
	*head = h;
}

static void
hide_bits(int fd, int on)
{
	uint64_t bit = (uint64_t)1 << (fd % WORD_BITS);

	if (on) {
		atomic_fetch_or(&hidden[fd / WORD_BITS], bit);
		mark(fd, 1);	/* so that close() takes the slow path */
	} else {
		atomic_fetch_and(&hidden[fd / WORD_BITS], ~bit);
		mark(fd, 0);
	}
}

/* The sock whose shadow fd is, or NULL. */
static struct shim_sock *
sock_of_ctl(int fd)
{
	struct fd_entry *e, *tmp;

	HASH_ITER(hh, table, e, tmp) {
		if (e->sk->shadow == fd)
			return (e->sk);
	}
	return (NULL);
}

/* Stop hiding fd and forget its record; the caller closes it or not. */
static void
unhide(int fd)
{
	struct hid **pp, *h;

	if (fd < 0 || fd >= BITMAP_FDS)
		return;
	pp = hid_slot(fd);
	if ((h = *pp) != NULL) {
		*pp = h->next;
		free(h);
	}
	hide_bits(fd, 0);
}

void
fdtab_hide(int fd, int on)
{
	struct hid *h;

	if (fd < 0 || fd >= BITMAP_FDS)
		return;		/* beyond the bitmap: not protected */
	if (on) {
		claim_table();
		/* No record (no memory): hidden all the same, not checked. */
		if (*hid_slot(fd) == NULL &&
		    (h = calloc(1, sizeof (*h))) != NULL) {
			h->fd = fd;
			h->pid = getpid();
			ident(fd, &h->id);
			hid_link(h);
		}
		hide_bits(fd, 1);
		return;
	}
	unhide(fd);
}

void
fdtab_reident(const struct shim_sock *sk)
{
	struct fd_entry *e, *tmp;

	HASH_ITER(hh, table, e, tmp) {
		if (e->sk == sk)
			ident(e->fd, &e->id);
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

/*
 * A copy of fd, close-on-exec as hidden fds are, high under the fd limit
 * (and within the bitmap); else the lowest free above stdio, which a
 * program that closes and reopens 0, 1 or 2 expects to get back.
 */
static int
dup_away(int fd)
{
	long lim = sysconf(_SC_OPEN_MAX);
	int base, nfd, e = errno;

	if (lim < 0 || lim > BITMAP_FDS)
		lim = BITMAP_FDS;
	base = (int)(lim > 2 * HIDDEN_ROOM ? lim - HIDDEN_ROOM : lim / 2);
	if (base < 3)
		base = 3;
	if ((nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, base)) < 0 ||
	    nfd >= BITMAP_FDS) {
		if (nfd >= 0)
			(void) real.close(nfd);
		nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, 3);
	}
	if (nfd >= BITMAP_FDS) {
		(void) real.close(nfd);
		nfd = -1;
	}
	errno = e;
	return (nfd);
}

int
fdtab_hide_away(int fd)
{
	int nfd = dup_away(fd);

	if (nfd >= 0) {
		(void) real.close(fd);
		fd = nfd;
	}
	fdtab_hide(fd, 1);
	return (fd);
}

int
fdtab_hidden_move(int fd)
{
	struct shim_sock *sk;
	struct hid **pp, *h;
	int nfd = dup_away(fd);

	if (nfd < 0)
		return (-1);
	pp = hid_slot(fd);
	if ((h = *pp) != NULL) {
		*pp = h->next;
		h->fd = nfd;
		hid_link(h);
	}
	hide_bits(fd, 0);
	hide_bits(nfd, 1);
	if ((sk = sock_of_ctl(fd)) != NULL)
		sk->shadow = nfd;
	return (nfd);
}

void
fdtab_hidden_drop(int fd)
{
	struct shim_sock *sk = sock_of_ctl(fd);

	if (sk != NULL)
		sk->shadow = -1;
	unhide(fd);
}

int
fdtab_hidden_next(int lo, int hi)
{
	pid_t me = getpid();
	int best = -1;

	for (size_t b = 0; b < HID_BUCKETS; b++) {
		for (struct hid *h = hids[b]; h != NULL; h = h->next) {
			if (h->fd >= lo && h->fd <= hi && h->pid == me &&
			    (best < 0 || h->fd < best))
				best = h->fd;
		}
	}
	return (best);
}

/* The hidden fd still refers to what was recorded when it was hidden. */
static int
hidden_still(int fd)
{
	struct hid *h = *hid_slot(fd);

	return (h == NULL || still(fd, &h->id));
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

/*
 * sk has no fd left: close its shadow, unless that number was
 * taken over behind our back (closing it would close the application's
 * file), and free it.
 */
static void
release(struct shim_sock *sk)
{
	if (sk->shadow >= 0) {
		int ok = hidden_still(sk->shadow), e = errno;

		unhide(sk->shadow);
		if (ok)
			(void) real.close(sk->shadow);
		errno = e;
	}
	sock_free(sk);
}

static void
drop(struct fd_entry *e)
{
	struct shim_sock *sk = e->sk;

	HASH_DEL(table, e);
	mark(e->fd, 0);
	free(e);
	if (--sk->refs == 0)
		release(sk);
}

struct shim_sock *
fdtab_get(int fd)
{
	struct fd_entry *e;
	struct shim_sock *sk;

	HASH_FIND_INT(table, &fd, e);
	if (e == NULL)
		return (NULL);
	sk = e->sk;
	if (!still(fd, &e->id)) {
		drop(e);
		return (NULL);
	}
	if (sk->shadow >= 0 && !hidden_still(sk->shadow)) {
		/* Not ours any more: never write to it, never close it. */
		unhide(sk->shadow);
		sk->shadow = -1;
	}
	return (sk);
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
		ident(fd, &e->id);
		sk->refs++;
		return (0);
	}
	if ((e = malloc(sizeof (*e))) == NULL)
		return (-1);
	claim_table();
	ident(fd, &e->id);
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

void
fdtab_forget(int fd)
{
	struct fd_entry *e;

	HASH_FIND_INT(table, &fd, e);
	if (e != NULL)
		drop(e);
}

void
fdtab_forget_range(int lo, int hi)
{
	struct fd_entry *e, *tmp;
	pid_t me = getpid();

	HASH_ITER(hh, table, e, tmp) {
		if (e->fd >= lo && e->fd <= hi)
			drop(e);
	}
	for (size_t b = 0; b < HID_BUCKETS; b++) {
		struct hid *h = hids[b], *next;

		for (; h != NULL; h = next) {
			next = h->next;
			if (h->fd >= lo && h->fd <= hi && h->pid != me)
				fdtab_hidden_drop(h->fd);
		}
	}
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
	sk->shadow = -1;
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
	if (atomic_load(&table_pid) != 0)
		atomic_store(&table_pid, (long)getpid());
	(void) pthread_mutex_unlock(&table_lock);
}
