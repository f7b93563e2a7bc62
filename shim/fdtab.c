/*
 * fdtab.c: the tracked fds, in memory the shim maps itself: a table
 * indexed by fd number, a pool of sock records, and a bitmap that lets
 * untracked fds (nearly all of them) skip the lock.
 *
 * No malloc, no free.  close, dup, dup2, fcntl, accept, bind, listen,
 * setsockopt... are async-signal-safe, and a signal handler may call one
 * on a tracked fd while the code it interrupted is inside malloc: a
 * malloc or free of ours there would deadlock on the allocator's lock or
 * corrupt its heap.  So everything here comes from plat_alloc (mmap: not
 * on POSIX's list, but a bare system call that takes no lock of the C
 * library's wherever the shim runs), in chunks mapped on first need and
 * never unmapped.  The wrappers are where the first need arises (the
 * first setsockopt of SO_REUSEPORT, a dup onto a new number), so the
 * memory cannot be set up outside them; reserving for every possible fd
 * up front would cost megabytes in every process.  Mapped lazily, a
 * process that tracks nothing pays for the directory below (2 KB, beside
 * the bitmaps); one with a few members, a chunk of the table or two (16
 * KB each) and a chunk of socks (20 KB).  What a process once needed it
 * keeps: records are reused, chunks are not given back.
 *
 * The bitmap may say "maybe" for an fd that is no longer tracked (a bit
 * is cleared under the lock, read without it); it never says "no" for an
 * fd that is, because bits are set before the entry is visible and only
 * the thread that changes an fd (bind, close, dup2...) changes its bit.
 *
 * Fds beyond the bitmap (BITMAP_FDS and up: only a program that raised
 * its fd limit that far and uses such numbers) have entries on a list of
 * blocks, searched in order: slower, still without malloc.  Hidden fds
 * are always below BITMAP_FDS (dup_away), and their records (what they
 * refer to, who made them) sit in the table's entry for their number, so
 * moving one to another number (a dup2 onto it) allocates nothing either
 * once the table has that number's chunk.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "ackmem.h"
#include "config.h"
#include "fdfast.h"
#include "fdtab.h"
#include "log.h"
#include "platform.h"
#include "real.h"
#include "udp.h"

/*
 * The pool's records are not malloc's, so AddressSanitizer (make
 * test-asan) would not see a freed sock used: it is told.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define	FDTAB_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(FDTAB_ASAN)
#include <sanitizer/asan_interface.h>
#define	POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define	UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define	POISON(p, n)	((void)(p), (void)(n))
#define	UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define	BITMAP_FDS	65536
#define	WORD_BITS	64
/* Table entries mapped at a time: 256 x 64 bytes, whole pages. */
#define	CHUNK_FDS	256
#define	NCHUNKS		(BITMAP_FDS / CHUNK_FDS)
/* Entries for fds beyond the bitmap, per block. */
#define	HIGH_PER_BLOCK	64
/* Sock records mapped at a time. */
#define	SOCKS_PER_CHUNK	16
/* Hidden fds go this far below the fd limit, out of the low numbers. */
#define	HIDDEN_ROOM	64

/* What an fd referred to when the shim took note of it. */
struct fdtab_id {
	dev_t	dev;
	ino_t	ino;
	mode_t	fmt;		/* st_mode & S_IFMT */
	int	known;		/* 0: the fd was not open then; not checked */
};

/* A tracked fd: the sock it is, and what it referred to then. */
struct ent {
	struct shim_sock *sk;	/* NULL: the entry is free */
	struct fdtab_id	id;
};

/* The table's entry for one fd number below BITMAP_FDS. */
struct slot {
	struct ent	e;
	pid_t		hid_pid;	/* hidden, with a record: who made it */
	struct fdtab_id	hid_id;		/* and what it referred to */
};

struct high_block {
	struct high_block *next;
	struct {
		int		fd;
		struct ent	e;
	} h[HIGH_PER_BLOCK];
};

/*
 * A sock and its place in the pool; the sock comes first, so that a
 * struct shim_sock * is its record's address.
 */
struct sock_rec {
	struct shim_sock sk;
	struct sock_rec	*next;		/* on the free list */
	int		used;
};

static _Atomic uint64_t bitmap[BITMAP_FDS / WORD_BITS];
static _Atomic uint64_t hidden[BITMAP_FDS / WORD_BITS];
/* Tracked fds beyond the bitmap: rare, so they share one counter. */
static atomic_uint high_fds;
/* Bits set in bitmap, plus high_fds: fdtab_none() in one load. */
static atomic_uint marked;
/* The process the table describes; 0 until it tracks something. */
static atomic_long table_pid;

/* These with table_lock held. */
static struct slot *chunks[NCHUNKS];
static struct high_block *highs;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
/* An entry changed: publish the UDP members again (fdfast.h). */
static int fast_dirty;

/*
 * The pool has a lock of its own: inherit.c makes a sock before it takes
 * the table's.  Taken after the table's, never before it.
 */
static struct sock_rec *free_socks;
static uint64_t last_serial;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

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
	fast_dirty = 1;
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

/* The lowest number in from..to (to < BITMAP_FDS) set in map, or -1. */
static int
next_set(_Atomic uint64_t *map, int from, int to)
{
	if (from < 0)
		from = 0;
	for (int w = from / WORD_BITS; from <= to && w <= to / WORD_BITS;
	    w++) {
		uint64_t v = atomic_load_explicit(&map[w],
		    memory_order_acquire);

		if (w == from / WORD_BITS)
			v &= ~(uint64_t)0 << (from % WORD_BITS);
		for (int b = 0; v != 0; b++, v >>= 1) {
			if (v & 1)
				return (w * WORD_BITS + b <= to ?
				    w * WORD_BITS + b : -1);
		}
	}
	return (-1);
}

int
fdtab_next(int from)
{
	return (next_set(bitmap, from, BITMAP_FDS - 1));
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

/* --- the table: entries by number ------------------------------------ */

/*
 * fd's entry below BITMAP_FDS; its chunk mapped first if make (NULL if
 * that fails).  A new chunk reads as zeros: no sock, no record.
 */
static struct slot *
slot_at(int fd, int make)
{
	struct slot **c = &chunks[fd / CHUNK_FDS];

	if (*c == NULL && make) {
		int e = errno;

		*c = plat_alloc(CHUNK_FDS * sizeof (struct slot));
		errno = e;
	}
	return (*c != NULL ? &(*c)[fd % CHUNK_FDS] : NULL);
}

/* fd's entry if it is tracked, else NULL. */
static struct ent *
ent_find(int fd)
{
	if (fd < 0)
		return (NULL);
	if (fd < BITMAP_FDS) {
		struct slot *s = slot_at(fd, 0);

		return (s != NULL && s->e.sk != NULL ? &s->e : NULL);
	}
	for (struct high_block *b = highs; b != NULL; b = b->next) {
		for (size_t k = 0; k < HIGH_PER_BLOCK; k++) {
			if (b->h[k].e.sk != NULL && b->h[k].fd == fd)
				return (&b->h[k].e);
		}
	}
	return (NULL);
}

/* A free entry for fd, which has none; NULL with errno ENOMEM. */
static struct ent *
ent_make(int fd)
{
	struct high_block *b;
	struct slot *s;

	if (fd < BITMAP_FDS) {
		if ((s = slot_at(fd, 1)) == NULL) {
			errno = ENOMEM;
			return (NULL);
		}
		return (&s->e);
	}
	for (b = highs; b != NULL; b = b->next) {
		for (size_t k = 0; k < HIGH_PER_BLOCK; k++) {
			if (b->h[k].e.sk == NULL) {
				b->h[k].fd = fd;
				return (&b->h[k].e);
			}
		}
	}
	if ((b = plat_alloc(sizeof (*b))) == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	b->next = highs;
	highs = b;
	b->h[0].fd = fd;
	return (&b->h[0].e);
}

/*
 * A walk over every tracked fd, in the bitmap's order, then beyond it.
 * An entry may be dropped during the walk: nothing is ever unmapped.
 */
struct walk {
	int		next;		/* the number to look at next */
	struct high_block *b;
	size_t		k;
};

static void
walk_start(struct walk *w)
{
	w->next = 0;
	w->b = highs;
	w->k = 0;
}

static struct ent *
walk_next(struct walk *w, int *fd)
{
	while (w->next < BITMAP_FDS) {
		int n = next_set(bitmap, w->next, BITMAP_FDS - 1);
		struct slot *s;

		if (n < 0) {
			w->next = BITMAP_FDS;
			break;
		}
		w->next = n + 1;
		/* A bit may be a hidden fd's, with no entry. */
		if ((s = slot_at(n, 0)) != NULL && s->e.sk != NULL) {
			*fd = n;
			return (&s->e);
		}
	}
	for (; w->b != NULL; w->b = w->b->next, w->k = 0) {
		while (w->k < HIGH_PER_BLOCK) {
			size_t k = w->k++;

			if (w->b->h[k].e.sk != NULL) {
				*fd = w->b->h[k].fd;
				return (&w->b->h[k].e);
			}
		}
	}
	return (NULL);
}

/* --- hidden fds ------------------------------------------------------- */

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

/* Where a sock keeps hidden fd (shadow, ctl or out), or NULL. */
static int *
hid_field(struct shim_sock *sk, int fd)
{
	if (sk->shadow == fd)
		return (&sk->shadow);
	if (sk->ctl == fd)
		return (&sk->ctl);
	if (sk->out == fd)
		return (&sk->out);
	return (NULL);
}

/* The field of the sock that keeps hidden fd, or NULL. */
static int *
hid_of(int fd)
{
	struct walk w;
	struct ent *e;
	int n, *f;

	walk_start(&w);
	while ((e = walk_next(&w, &n)) != NULL) {
		if ((f = hid_field(e->sk, fd)) != NULL)
			return (f);
	}
	return (NULL);
}

/* Stop hiding fd and forget its record; the caller closes it or not. */
static void
unhide(int fd)
{
	struct slot *s;

	if (fd < 0 || fd >= BITMAP_FDS)
		return;
	if ((s = slot_at(fd, 0)) != NULL)
		s->hid_pid = 0;
	hide_bits(fd, 0);
}

void
fdtab_hide(int fd, int on)
{
	struct slot *s;

	if (fd < 0 || fd >= BITMAP_FDS)
		return;		/* beyond the bitmap: not protected */
	if (on) {
		claim_table();
		/* No record (no memory): hidden all the same, not checked. */
		if ((s = slot_at(fd, 1)) != NULL && s->hid_pid == 0) {
			s->hid_pid = getpid();
			ident(fd, &s->hid_id);
		}
		hide_bits(fd, 1);
		return;
	}
	unhide(fd);
}

void
fdtab_reident(const struct shim_sock *sk)
{
	fast_dirty = 1;
	struct walk w;
	struct ent *e;
	int fd;

	walk_start(&w);
	while ((e = walk_next(&w, &fd)) != NULL) {
		if (e->sk == sk)
			ident(fd, &e->id);
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
		plat_pktinfo_dup(fd, nfd);
		plat_pktinfo_forget(fd, fd);
		(void) real.close(fd);
		fd = nfd;
	}
	fdtab_hide(fd, 1);
	return (fd);
}

int
fdtab_hidden_move(int fd)
{
	struct slot *s, *ns;
	int *f;
	int nfd = dup_away(fd), e = errno;

	if (nfd < 0)
		return (-1);
	plat_pktinfo_dup(fd, nfd);
	s = slot_at(fd, 0);
	if (s != NULL && s->hid_pid != 0) {
		/*
		 * The record moves with it; with nowhere to put it (no
		 * memory), nothing moves: an unrecorded hidden fd would be
		 * closed by the next closefrom.
		 */
		if ((ns = slot_at(nfd, 1)) == NULL) {
			(void) real.close(nfd);
			errno = e;
			return (-1);
		}
		ns->hid_pid = s->hid_pid;
		ns->hid_id = s->hid_id;
		s->hid_pid = 0;
	}
	hide_bits(fd, 0);
	hide_bits(nfd, 1);
	if ((f = hid_of(fd)) != NULL)
		*f = nfd;
	return (nfd);
}

void
fdtab_hidden_drop(int fd)
{
	int *f = hid_of(fd);

	if (f != NULL)
		*f = -1;
	unhide(fd);
}

int
fdtab_hidden_next(int lo, int hi)
{
	pid_t me = getpid();
	int fd = lo < 0 ? 0 : lo, top = hi < BITMAP_FDS ? hi : BITMAP_FDS - 1;

	while (fd <= top && (fd = next_set(hidden, fd, top)) >= 0) {
		struct slot *s = slot_at(fd, 0);

		if (s != NULL && s->hid_pid == me)
			return (fd);
		fd++;
	}
	return (-1);
}

/* The hidden fd still refers to what was recorded when it was hidden. */
static int
hidden_still(int fd)
{
	struct slot *s = fd >= 0 && fd < BITMAP_FDS ? slot_at(fd, 0) : NULL;

	return (s == NULL || s->hid_pid == 0 || still(fd, &s->hid_id));
}

/* --- the lock --------------------------------------------------------- */

/*
 * A signal handler that closes or binds a tracked fd would deadlock on a
 * lock its own thread holds: signals are held off while one is.
 */
static void
lock_blocking(pthread_mutex_t *m, sigset_t *saved)
{
	sigset_t all;

	(void) sigfillset(&all);
	(void) pthread_sigmask(SIG_BLOCK, &all, saved);
	(void) pthread_mutex_lock(m);
}

static void
unlock_restoring(pthread_mutex_t *m, const sigset_t *saved)
{
	(void) pthread_mutex_unlock(m);
	(void) pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void
fdtab_lock(sigset_t *saved)
{
	lock_blocking(&table_lock, saved);
}

/*
 * The UDP member fds as they are now, for the lock-free readers
 * (fdfast.h), after a change; with the lock held.
 */
static void
fast_publish(void)
{
	struct fdfast_ent v[FDFAST_MAX];
	struct walk w;
	struct ent *e;
	size_t n = 0;
	int fd;

	if (!fast_dirty)
		return;
	fast_dirty = 0;
	walk_start(&w);
	while ((e = walk_next(&w, &fd)) != NULL && n < FDFAST_MAX) {
		const struct shim_sock *sk = e->sk;

		/* Unchecked (no identity): the slow path's to answer. */
		if (sk->state != SK_DIRECT || !e->id.known)
			continue;
		v[n].fd = fd;
		v[n].out = sk->out;
		v[n].ctl = sk->ctl;
		v[n].flags = (sk->way == SHIM_POLICY_SHARED ?
		    FDFAST_SHARED : 0) | ((sk->shut & UDP_SHUT_WR) ?
		    FDFAST_SHUT_WR : 0) | (sk->dgram ? 0 : FDFAST_STREAM) |
		    sk->pktinfo << FDFAST_PKT_SHIFT;
		v[n].dev = (uint64_t)e->id.dev;
		v[n].ino = (uint64_t)e->id.ino;
		v[n].so = sk->so;
		n++;
	}
	fdfast_publish(v, n);
}

void
fdtab_changed(void)
{
	fast_dirty = 1;
}

void
fdtab_unlock(const sigset_t *saved)
{
	fast_publish();
	unlock_restoring(&table_lock, saved);
}

/* --- entries ---------------------------------------------------------- */

/*
 * sk has no fd left: close its shadow, unless that number was
 * taken over behind our back (closing it would close the application's
 * file), and free it.
 */
static void
release_hidden(int *fd)
{
	if (*fd >= 0) {
		int ok = hidden_still(*fd), e = errno;

		unhide(*fd);
		if (ok) {
			plat_pktinfo_forget(*fd, *fd);
			(void) real.close(*fd);
		}
		errno = e;
		*fd = -1;
	}
}

static void
release(struct shim_sock *sk)
{
	release_hidden(&sk->shadow);
	/* A UDP member's owner sees it leave when ctl closes. */
	release_hidden(&sk->ctl);
	release_hidden(&sk->out);
	sock_free(sk);
}

/* A hidden fd of a sock replaced behind our back: never touch it. */
static void
forget_stale(int *fd)
{
	if (*fd >= 0 && !hidden_still(*fd)) {
		unhide(*fd);
		*fd = -1;
	}
}

static void
drop(int fd, struct ent *e)
{
	struct shim_sock *sk = e->sk;

	e->sk = NULL;
	mark(fd, 0);
	if (--sk->refs == 0)
		release(sk);
}

struct shim_sock *
fdtab_get(int fd)
{
	struct ent *e = ent_find(fd);
	struct shim_sock *sk;

	if (e == NULL)
		return (NULL);
	sk = e->sk;
	if (!still(fd, &e->id)) {
		drop(fd, e);
		return (NULL);
	}
	/* Not ours any more: never write to them, never close them. */
	forget_stale(&sk->shadow);
	forget_stale(&sk->ctl);
	forget_stale(&sk->out);
	return (sk);
}

int
fdtab_put(int fd, struct shim_sock *sk)
{
	struct ent *e = ent_find(fd);
	struct shim_sock *old;

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
	if (fd < 0) {
		errno = EBADF;
		return (-1);
	}
	if ((e = ent_make(fd)) == NULL)
		return (-1);
	claim_table();
	ident(fd, &e->id);
	sk->refs++;
	mark(fd, 1);
	e->sk = sk;
	return (0);
}

struct shim_sock *
fdtab_get_or_new(int fd, int family)
{
	struct shim_sock *sk = fdtab_get(fd);

	if (sk != NULL)
		return (sk);
	if ((sk = sock_new(family)) != NULL && fdtab_put(fd, sk) != 0) {
		sock_free(sk);
		sk = NULL;
	}
	if (sk == NULL)
		errno = ENOMEM;
	return (sk);
}

struct shim_sock *
fdtab_del(int fd)
{
	struct ent *e = ent_find(fd);
	struct shim_sock *sk;

	if (e == NULL)
		return (NULL);
	sk = e->sk;
	e->sk = NULL;
	mark(fd, 0);
	return (--sk->refs == 0 ? sk : NULL);
}

void
fdtab_forget(int fd)
{
	struct ent *e = ent_find(fd);

	if (e != NULL)
		drop(fd, e);
}

void
fdtab_forget_range(int lo, int hi)
{
	struct walk w;
	struct ent *e;
	pid_t me = getpid();
	int fd, top = hi < BITMAP_FDS ? hi : BITMAP_FDS - 1;

	walk_start(&w);
	while ((e = walk_next(&w, &fd)) != NULL) {
		if (fd >= lo && fd <= hi)
			drop(fd, e);
	}
	for (fd = lo < 0 ? 0 : lo;
	    fd <= top && (fd = next_set(hidden, fd, top)) >= 0; fd++) {
		struct slot *s = slot_at(fd, 0);

		if (s == NULL || s->hid_pid == 0 || s->hid_pid == me)
			continue;
		/*
		 * A sock with an fd left below lo or above hi (a prefork
		 * child keeps its member and closes the rest) keeps it: ours
		 * now, so that closefrom leaves it open.
		 */
		if (hid_of(fd) != NULL)
			s->hid_pid = me;
		else
			fdtab_hidden_drop(fd);
	}
}

void
fdtab_become(const struct shim_sock *sk, int file)
{
	int fds[FDTAB_BECOME_MAX];
	size_t n;

	if ((n = fdtab_fds_of(sk, fds, FDTAB_BECOME_MAX)) >
	    FDTAB_BECOME_MAX) {
		shim_log(LOG_LVL_WARN, "%zu fds share one socket; only %d "
		    "become members", n, FDTAB_BECOME_MAX);
		n = FDTAB_BECOME_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		int fdfl = real.fcntl(fds[i], F_GETFD);

		if (real.dup2(file, fds[i]) < 0)
			continue;
		if (fdfl > 0)
			(void) real.fcntl(fds[i], F_SETFD, fdfl);
	}
	fdtab_reident(sk);
}

size_t
fdtab_fds_of(const struct shim_sock *sk, int *fds, size_t max)
{
	struct walk w;
	struct ent *e;
	size_t n = 0;
	int fd;

	walk_start(&w);
	while ((e = walk_next(&w, &fd)) != NULL) {
		if (e->sk != sk)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	return (n);
}

/* --- the socks' pool -------------------------------------------------- */

struct shim_sock *
sock_new(int family)
{
	struct sock_rec *r;
	sigset_t saved;
	uint64_t serial = 0;
	int e = errno;

	lock_blocking(&pool_lock, &saved);
	if (free_socks == NULL) {
		struct sock_rec *c = plat_alloc(SOCKS_PER_CHUNK * sizeof (*c));

		for (size_t i = 0; c != NULL && i < SOCKS_PER_CHUNK; i++) {
			c[i].next = free_socks;
			free_socks = &c[i];
			POISON(&c[i].sk, sizeof (c[i].sk));
		}
	}
	if ((r = free_socks) != NULL) {
		free_socks = r->next;
		r->used = 1;
		serial = ++last_serial;
	}
	unlock_restoring(&pool_lock, &saved);
	if (r == NULL) {
		errno = ENOMEM;
		return (NULL);
	}
	errno = e;
	UNPOISON(&r->sk, sizeof (r->sk));
	memset(&r->sk, 0, sizeof (r->sk));
	r->sk.family = family;
	r->sk.shadow = -1;
	r->sk.ctl = -1;
	r->sk.out = -1;
	r->sk.serial = serial;
	return (&r->sk);
}

void
sock_free(struct shim_sock *sk)
{
	struct sock_rec *r = (struct sock_rec *)sk;
	sigset_t saved;

	if (sk == NULL)
		return;
	lock_blocking(&pool_lock, &saved);
	/* Freed twice, the free list would hand one record out twice. */
	if (r->used) {
		if (sk->ack != NULL)
			ackmem_release(sk->ack);
		r->used = 0;
		r->next = free_socks;
		free_socks = r;
		POISON(&r->sk, sizeof (r->sk));
	}
	unlock_restoring(&pool_lock, &saved);
}

/* --- fork ------------------------------------------------------------- */

void
fdtab_atfork_prepare(void)
{
	(void) pthread_mutex_lock(&table_lock);
	(void) pthread_mutex_lock(&pool_lock);
}

void
fdtab_atfork_parent(void)
{
	(void) pthread_mutex_unlock(&pool_lock);
	(void) pthread_mutex_unlock(&table_lock);
}

void
fdtab_atfork_child(void)
{
	/* Only the forking thread exists now; it holds the locks. */
	if (atomic_load(&table_pid) != 0)
		atomic_store(&table_pid, (long)getpid());
	(void) pthread_mutex_unlock(&pool_lock);
	(void) pthread_mutex_unlock(&table_lock);
}
