/*
 * ackmem.c: the ack board (see ackmem.h).
 *
 * Owner and members are separate processes: everything here is a C11
 * atomic on memory both map, lock-free (a lock could be left held by a
 * member that dies), sequentially consistent where the sleep flag meets
 * the slots.  The owner trusts nothing it reads here more than an ACK
 * record: a wrong value can only make it forget connections early (the
 * kernel still holds those in flight), never crash it or read out of
 * bounds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ackmem.h"
#include "platform.h"
#include "real.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
    "the ack board needs lock-free int atomics shared between processes");

#define	BOARD_MAGIC	0x72706b31U	/* "rpk1" */
#define	WORD_BITS	32

/*
 * A slot's life: twice the number of endpoints it has had (ackmem_reset
 * counts one more), plus LIFE_RETIRED once the last of them was retired.
 * A member remembers the value it found when it attached; any other value
 * means its endpoint's slot was retired.  It is a word of its own, not
 * bits of seq: sequence numbers take all 32 bits, and a 64-bit word would
 * need 64-bit atomics shared between processes.  That is enough because
 * a member looks at it only after its compare-and-swap on seq failed, and
 * the owner marks it before it reads seq for the last time (ackmem_retire):
 * a CAS that failed on that last read sees the mark.
 */
#define	LIFE_RETIRED	1U

/*
 * The board's features, set by the owner that made it.  A board of an
 * older build reads 0 there (the header's padding): its owner never
 * reads idle words, and members tell it with IDLE records as before.
 */
#define	BOARD_F_IDLE	0x1U

/*
 * A slot per cache line: members writing their own never contend.  life
 * comes last, where a build without it has nothing: such an owner never
 * changes it, so a member of this build on its board reads 0 on and on
 * and acks as before (RECORD, never RETIRED); such a member never reads
 * it.  So the magic stays, and a group's members and owner of the two
 * builds (an upgrade under way) keep working together.
 */
struct slot {
	_Alignas(64) atomic_uint seq;
	atomic_uint	busy;	/* 8 x us its application keeps away (mean) */
	atomic_int	pid;	/* the process that acked last (stat) */
	atomic_uint	life;	/* see LIFE_RETIRED */
	atomic_uint	idle;	/* its application waits, having taken this */
};

struct ackmem_board {
	uint32_t	magic;
	uint32_t	nslots;
	uint32_t	features;	/* BOARD_F_* */
	_Alignas(64) atomic_uint sleeping;
	_Alignas(64) atomic_uint dirty[ACKMEM_SLOTS / WORD_BITS];
	struct slot	slot[ACKMEM_SLOTS];
};

struct ackmem {
	uint32_t	gen;		/* which attach in this process (> 0) */
	unsigned	life;		/* the slot's life when we attached */
	atomic_uint	refs;
	atomic_int	off;		/* a record went missing: no board */
	atomic_uint	last;		/* the latest connection taken here */
	atomic_uint	waiting;	/* threads between wait and waited */
	atomic_int	wpid;		/* whose count that is (see waiters) */
	int		idle_ok;	/* its owner reads idle words */
	struct ackmem_board *b;
	uint32_t	i;
};

struct ackmem_board *
ackmem_create(int *fd)
{
	struct ackmem_board *b;
	int f = plat_shm_fd(sizeof (*b), "rpshim-acks");

	if (f < 0)
		return (NULL);
	b = mmap(NULL, sizeof (*b), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (b == MAP_FAILED) {
		(void) real.close(f);
		return (NULL);
	}
	/* A new shared object reads as zeros: only the header to write. */
	b->magic = BOARD_MAGIC;
	b->nslots = ACKMEM_SLOTS;
	b->features = BOARD_F_IDLE;
	*fd = f;
	return (b);
}

/*
 * A new endpoint: a new life, which its member reads when it attaches
 * (after the WELCOME that follows this).  A member of an endpoint the slot
 * had before finds a life not its own, whichever store it sees first.
 */
void
ackmem_reset(struct ackmem_board *b, size_t i, uint32_t seq)
{
	unsigned life;

	if (i >= ACKMEM_SLOTS)
		return;
	life = atomic_load(&b->slot[i].life);
	atomic_store(&b->slot[i].seq, seq);
	/* Never what its new member says first (it has taken nothing: 0). */
	atomic_store(&b->slot[i].idle, ACKMEM_IDLE_NONE);
	atomic_store(&b->slot[i].life, (life | LIFE_RETIRED) + 1);
}

/*
 * Only if it still holds the value we judged: a member's ack that lands
 * in between is kept, and read on the next collection.
 */
int
ackmem_repair(struct ackmem_board *b, size_t i, uint32_t bad, uint32_t seq)
{
	if (i >= ACKMEM_SLOTS)
		return (-1);
	return (atomic_compare_exchange_strong(&b->slot[i].seq, &bad, seq) ?
	    0 : -1);
}

void
ackmem_clear_busy(struct ackmem_board *b, size_t i)
{
	if (i < ACKMEM_SLOTS)
		atomic_store(&b->slot[i].busy, 0);
}

/*
 * Marked before the last read, both sequentially consistent: a member's
 * CAS that fails because of this exchange then reads the mark (see
 * LIFE_RETIRED), and one that succeeded before it is in the value read.
 */
uint32_t
ackmem_retire(struct ackmem_board *b, size_t i, uint32_t seq)
{
	(void) atomic_fetch_or(&b->slot[i].life, LIFE_RETIRED);
	return (atomic_exchange(&b->slot[i].seq, seq));
}

/* The average in whole microseconds; 0 only for "not measured". */
static uint32_t
busy_us(unsigned v)
{
	return (v == 0 ? 0 : v / 8 > 0 ? v / 8 : 1);
}

size_t
ackmem_collect(struct ackmem_board *b, size_t n,
    void (*fn)(void *arg, size_t i, const struct ackmem_mark *mk), void *arg)
{
	struct ackmem_mark mk;
	size_t words, found = 0;

	if (n > ACKMEM_SLOTS)
		n = ACKMEM_SLOTS;
	words = (n + WORD_BITS - 1) / WORD_BITS;
	for (size_t w = 0; w < words; w++) {
		size_t left = n - w * WORD_BITS;
		unsigned mask = left >= WORD_BITS ? ~0U : (1U << left) - 1;
		unsigned bits;

		/* Take only the marks of slots below n; the rest stay. */
		if ((atomic_load(&b->dirty[w]) & mask) == 0)
			continue;
		bits = atomic_fetch_and(&b->dirty[w], ~mask) & mask;
		for (unsigned k = 0; bits != 0; k++, bits >>= 1) {
			size_t i = w * WORD_BITS + k;

			if (!(bits & 1U))
				continue;
			mk.seq = atomic_load(&b->slot[i].seq);
			mk.busy = busy_us(atomic_load_explicit(
			    &b->slot[i].busy, memory_order_relaxed));
			/* An older owner's board, adopted: no idle words. */
			mk.idle = (b->features & BOARD_F_IDLE) ?
			    atomic_load(&b->slot[i].idle) : ACKMEM_IDLE_NONE;
			fn(arg, i, &mk);
			found++;
		}
	}
	return (found);
}

void
ackmem_sleeping(struct ackmem_board *b, int on)
{
	atomic_store(&b->sleeping, on ? 1U : 0U);
}

static atomic_uint attaches;

/*
 * This process's pid, for stat's "who accepts": getpid() is a system call
 * on today's C libraries, too dear for every accept.  A fork's child
 * looks again.
 */
static atomic_int self_pid;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void
self_forget(void)
{
	atomic_store_explicit(&self_pid, 0, memory_order_relaxed);
}

static void
self_init(void)
{
	(void) pthread_atfork(NULL, NULL, self_forget);
}

int
ackmem_self(void)
{
	int p = atomic_load_explicit(&self_pid, memory_order_relaxed);

	if (p == 0) {
		p = (int)getpid();
		atomic_store_explicit(&self_pid, p, memory_order_relaxed);
	}
	return (p);
}

int
ackmem_pid(const struct ackmem_board *b, size_t i)
{
	return (i < ACKMEM_SLOTS ? atomic_load_explicit(&b->slot[i].pid,
	    memory_order_relaxed) : 0);
}

struct ackmem *
ackmem_attach(int fd, uint32_t i)
{
	struct ackmem_board *b;
	struct ackmem *m;
	struct stat st;
	int saved = errno;

	if (i >= ACKMEM_SLOTS || fstat(fd, &st) != 0 ||
	    st.st_size < (off_t)sizeof (*b))
		goto fail;
	b = mmap(NULL, sizeof (*b), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		goto fail;
	(void) pthread_once(&self_once, self_init);
	/*
	 * Not malloc: bind (which attaches) and close (which releases) are
	 * async-signal-safe, and a handler may call them while the code it
	 * interrupted is inside malloc.  A page per endpoint, beside the
	 * board's own mapping.
	 */
	if (b->magic != BOARD_MAGIC || b->nslots != ACKMEM_SLOTS ||
	    (m = plat_alloc(sizeof (*m))) == NULL) {
		(void) munmap(b, sizeof (*b));
		goto fail;
	}
	/* Wraps after 2^32 boards: a stray sample at worst. */
	m->gen = atomic_fetch_add(&attaches, 1) + 1;
	if (m->gen == 0)
		m->gen = 1;
	atomic_init(&m->refs, 1);
	atomic_init(&m->off, 0);
	atomic_init(&m->last, 0);
	atomic_init(&m->waiting, 0);
	atomic_init(&m->wpid, 0);
	m->idle_ok = (b->features & BOARD_F_IDLE) != 0;
	m->b = b;
	m->i = i;
	/* Set by the owner before it sent WELCOME (ackmem_reset). */
	m->life = atomic_load(&b->slot[i].life);
	errno = saved;
	return (m);
fail:
	errno = saved;
	return (NULL);
}

uint32_t
ackmem_gen(const struct ackmem *m)
{
	return (m->gen);
}

void
ackmem_hold(struct ackmem *m)
{
	(void) atomic_fetch_add(&m->refs, 1);
}

/*
 * The last reference unmaps.  That can be an accept() that was still
 * running when another thread closed the endpoint: it held its own
 * reference, so it never writes to a board that is gone.
 */
void
ackmem_release(struct ackmem *m)
{
	if (atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	(void) munmap(m->b, sizeof (*m->b));
	plat_free(m, sizeof (*m));
}

void
ackmem_off(struct ackmem *m)
{
	atomic_store(&m->off, 1);
}

/*
 * Our ack is not on the board: was the slot retired meanwhile?  Read
 * only after a failed CAS (LIFE_RETIRED says why that suffices).
 */
static int
not_on_board(const struct ackmem *m)
{
	unsigned life = atomic_load(&m->b->slot[m->i].life);

	return (life != m->life || (life & LIFE_RETIRED) ? ACKMEM_RETIRED :
	    ACKMEM_RECORD);
}

/* Sequence number a comes after b (they wrap); 0, none yet, is first. */
static int
after(uint32_t a, uint32_t b)
{
	return (b == 0 ? a != 0 : (int32_t)(a - b) > 0);
}

/*
 * Forward only: threads (and processes after fork) taking connections
 * out of order must not set back what the latest of them took, or the
 * endpoint would read busy while it waits.
 */
static void
took_latest(struct ackmem *m, uint32_t seq)
{
	unsigned cur = atomic_load(&m->last);

	while (after(seq, cur) &&
	    !atomic_compare_exchange_weak(&m->last, &cur, seq))
		continue;
}

/*
 * This process's waiters.  The struct is in private memory: a fork's
 * child copied its parent's count with the rest, and its first call
 * starts its own (a count left from another process would post idle
 * on every ack, and the owner would pile connections on a busy child).
 */
static atomic_uint *
waiters(struct ackmem *m)
{
	int me = ackmem_self();

	if (atomic_load(&m->wpid) != me) {
		atomic_store(&m->waiting, 0);
		atomic_store(&m->wpid, me);
	}
	return (&m->waiting);
}

/*
 * The endpoint's application waits, having taken everything up to seq
 * here: on its slot, forward only (as took_latest), and (mark) marked
 * for the owner, only when it changes: the owner's view of it goes stale
 * only when it sends another connection, and that changes what the slot
 * must say.
 */
static int
post_idle(struct ackmem *m, uint32_t seq, int mark)
{
	struct ackmem_board *b = m->b;
	atomic_uint *w = &b->slot[m->i].idle;
	unsigned cur = atomic_load(w);

	do {
		if (cur != ACKMEM_IDLE_NONE && !after(seq, cur))
			return (0);
	} while (!atomic_compare_exchange_weak(w, &cur, seq));
	if (mark) {
		(void) atomic_fetch_or(&b->dirty[m->i / WORD_BITS],
		    1U << (m->i % WORD_BITS));
	}
	return (1);
}

int
ackmem_idle_ok(const struct ackmem *m)
{
	return (m->idle_ok && !atomic_load(&m->off));
}

int
ackmem_wait(struct ackmem *m)
{
	if (!ackmem_idle_ok(m))
		return (-1);
	(void) atomic_fetch_add(waiters(m), 1);
	(void) post_idle(m, atomic_load(&m->last), 1);
	return (0);
}

void
ackmem_waited(struct ackmem *m)
{
	atomic_uint *w = waiters(m);

	/* Not below 0: a count another process left was started over. */
	unsigned cur = atomic_load(w);

	while (cur > 0 && !atomic_compare_exchange_weak(w, &cur, cur - 1))
		continue;
}

uint32_t
ackmem_last(const struct ackmem *m)
{
	return (atomic_load(&m->last));
}

int
ackmem_ack(struct ackmem *m, uint32_t prev, uint32_t seq)
{
	struct ackmem_board *b = m->b;
	atomic_uint *s = &b->slot[m->i].seq;
	unsigned cur = prev;

	took_latest(m, seq);
	if (atomic_load(&m->off))
		return (not_on_board(m));
	/*
	 * Only from the connection sent just before this one: the slot
	 * says "everything up to seq", which is true only then.  Processes
	 * sharing an endpoint after fork take its records in order but may
	 * get here out of order; moved past an earlier one still in another
	 * process's hands, the slot would let the owner close its copy, and
	 * that process killed before its own ack would lose the connection.
	 * Out of turn, an exact record instead (the owner then moves the
	 * slot on, so the next in turn can use it again).  Retired (the
	 * endpoint ended before we got here): the owner no longer holds
	 * the connection for us, and the caller must find out why.
	 */
	if (!atomic_compare_exchange_strong(s, &cur, seq))
		return (not_on_board(m));
	if (atomic_load_explicit(&b->slot[m->i].pid, memory_order_relaxed) !=
	    ackmem_self())
		atomic_store_explicit(&b->slot[m->i].pid, ackmem_self(),
		    memory_order_relaxed);
	/*
	 * Another thread of ours still waits on this endpoint: it is
	 * idle still, now having taken this one (marked with the ack).
	 */
	if (m->idle_ok && atomic_load(waiters(m)) > 0)
		(void) post_idle(m, atomic_load(&m->last), 0);
	(void) atomic_fetch_or(&b->dirty[m->i / WORD_BITS],
	    1U << (m->i % WORD_BITS));
	/* Seen after our mark, or our mark seen by the owner's last look. */
	return (atomic_load(&b->sleeping) != 0 &&
	    atomic_exchange(&b->sleeping, 0) != 0 ? ACKMEM_WAKE :
	    ACKMEM_ACKED);
}

/*
 * A moving average over about 8 connections: one slow request among fast
 * ones counts at once (a 100 ms request alone reads 12.5 ms), a stray
 * preemption of the member fades.  The slot keeps 8 times the average
 * (three bits of fraction: with whole microseconds, a new sample within
 * 7 us of the average would never move it).  Processes sharing an
 * endpoint after fork may lose each other's updates: it is a hint.
 */
#define	BUSY_MAX_US	(1U << 28)	/* 8 times it fits in 31 bits */

void
ackmem_busy(struct ackmem *m, uint64_t us)
{
	atomic_uint *b = &m->b->slot[m->i].busy;
	unsigned cur = atomic_load_explicit(b, memory_order_relaxed);
	unsigned now = us < BUSY_MAX_US ? (unsigned)us : BUSY_MAX_US;
	unsigned next = cur == 0 ? 8 * now : cur - cur / 8 + now;

	/* 0 stays "not measured yet". */
	atomic_store_explicit(b, next != 0 ? next : 1U, memory_order_relaxed);
}

void
ackmem_rewake(struct ackmem *m)
{
	atomic_store(&m->b->sleeping, 1);
}

/*
 * A standby taking over (standby.c) maps the board the dead owner made;
 * the members never noticed, and write on.
 */
struct ackmem_board *
ackmem_adopt(int fd)
{
	struct ackmem_board *b;

	b = mmap(NULL, sizeof (*b), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		return (NULL);
	if (b->magic != BOARD_MAGIC || b->nslots != ACKMEM_SLOTS) {
		(void) munmap(b, sizeof (*b));
		return (NULL);
	}
	return (b);
}

uint32_t
ackmem_read(const struct ackmem_board *b, size_t i)
{
	return (i < ACKMEM_SLOTS ? atomic_load(&b->slot[i].seq) : 0);
}
