/*
 * fdfast.c: UDP member fds without the table's lock (fdfast.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "fdfast.h"

/* One entry; every field atomic, so a reader racing the writer is defined. */
struct slotf {
	atomic_uint	seq;		/* odd while the writer changes it */
	atomic_int	fd;		/* -1: none */
	atomic_int	out;
	atomic_int	ctl;
	atomic_uint	flags;
	_Atomic uint64_t dev;
	_Atomic uint64_t ino;
	atomic_uint	so_set;
	atomic_int	so_v[PLAT_SENDOPTS];
};

static struct slotf fast[FDFAST_MAX];
static atomic_size_t nfast;	/* entries below it may be in use */

static void
put(struct slotf *s, const struct fdfast_ent *e)
{
	unsigned q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->fd, e != NULL ? e->fd : -1,
	    memory_order_relaxed);
	if (e != NULL) {
		atomic_store_explicit(&s->out, e->out, memory_order_relaxed);
		atomic_store_explicit(&s->ctl, e->ctl, memory_order_relaxed);
		atomic_store_explicit(&s->flags, e->flags,
		    memory_order_relaxed);
		atomic_store_explicit(&s->dev, e->dev, memory_order_relaxed);
		atomic_store_explicit(&s->ino, e->ino, memory_order_relaxed);
		atomic_store_explicit(&s->so_set, e->so.set,
		    memory_order_relaxed);
		for (size_t i = 0; i < PLAT_SENDOPTS; i++)
			atomic_store_explicit(&s->so_v[i], e->so.v[i],
			    memory_order_relaxed);
	}
	atomic_store_explicit(&s->seq, q + 2, memory_order_release);
}

static int
same(struct slotf *s, const struct fdfast_ent *e)
{
	for (size_t i = 0; i < PLAT_SENDOPTS; i++) {
		if (atomic_load(&s->so_v[i]) != e->so.v[i])
			return (0);
	}
	return (atomic_load(&s->fd) == e->fd && atomic_load(&s->out) ==
	    e->out && atomic_load(&s->ctl) == e->ctl &&
	    atomic_load(&s->flags) == e->flags &&
	    atomic_load(&s->dev) == e->dev && atomic_load(&s->ino) == e->ino &&
	    atomic_load(&s->so_set) == e->so.set);
}

void
fdfast_publish(const struct fdfast_ent *v, size_t n)
{
	size_t old = atomic_load(&nfast);

	if (n > FDFAST_MAX)
		n = FDFAST_MAX;
	for (size_t i = 0; i < n; i++) {
		if (i >= old || !same(&fast[i], &v[i]))
			put(&fast[i], &v[i]);
	}
	for (size_t i = n; i < old; i++)
		put(&fast[i], NULL);
	atomic_store(&nfast, n);
}

size_t
fdfast_count(void)
{
	return (atomic_load_explicit(&nfast, memory_order_relaxed));
}

int
fdfast_get(int fd, struct fdfast_ent *e)
{
	size_t n = atomic_load_explicit(&nfast, memory_order_acquire);
	struct stat st;
	int err;

	for (size_t i = 0; i < n; i++) {
		struct slotf *s = &fast[i];
		unsigned q;

		if (atomic_load_explicit(&s->fd, memory_order_relaxed) != fd)
			continue;
		q = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (q & 1)
			return (0);	/* being changed: the slow path */
		e->fd = fd;
		e->out = atomic_load_explicit(&s->out, memory_order_relaxed);
		e->ctl = atomic_load_explicit(&s->ctl, memory_order_relaxed);
		e->flags = atomic_load_explicit(&s->flags,
		    memory_order_relaxed);
		e->dev = atomic_load_explicit(&s->dev, memory_order_relaxed);
		e->ino = atomic_load_explicit(&s->ino, memory_order_relaxed);
		e->so.set = atomic_load_explicit(&s->so_set,
		    memory_order_relaxed);
		for (size_t k = 0; e->so.set != 0 && k < PLAT_SENDOPTS; k++)
			e->so.v[k] = atomic_load_explicit(&s->so_v[k],
			    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) != q ||
		    atomic_load_explicit(&s->fd, memory_order_relaxed) != fd)
			return (0);
		if (e->flags & FDFAST_SHARED)
			return (1);
		/* Closed behind our back and the number reused? */
		err = errno;
		if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != e->dev ||
		    (uint64_t)st.st_ino != e->ino) {
			errno = err;
			return (0);
		}
		errno = err;
		return (1);
	}
	return (0);
}
