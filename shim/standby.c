/*
 * standby.c: an owner's standby (see standby.h): the memory the owner
 * shares with it, the mirror records, and the standby's own wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "ackmem.h"
#include "log.h"
#include "owner.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "standby.h"
#include "util.h"

#define	MEM_MAGIC	0x42535052u	/* "RPSB" read as bytes */
#define	SB_SLOTS	8192	/* endpoint slots a standby follows */
#define	FINISH_MS	1000	/* for the standby to let go of the port */
#define	UP_MS		2000	/* for a new standby to say it is up */
#define	TELL_MS		1000	/* a mirror record may wait this long */
#define	UP_BYTE		'u'	/* a standby holds its copies (the mirror) */

/* The memory itself, shared by an owner and the standbys it starts. */
struct shared {
	uint32_t	magic;
	uint32_t	nslots;
	atomic_uint	seq;		/* the last CONN, stored before sent */
	atomic_uint	inhand;		/* accepted, not yet sent */
	atomic_uint	takeovers;
	atomic_uint	sent[ACKMEM_SLOTS];	/* each endpoint's last CONN */
	/*
	 * After what an older build maps, which reads and writes the rest
	 * as before: each endpoint's count, in halves (a 64-bit atomic may
	 * not be lock-free between processes; the standby reads only once
	 * the owner is dead, so only a kill between the two stores as the
	 * low half wraps tears it).
	 */
	atomic_uint	handed_lo[ACKMEM_SLOTS];
	atomic_uint	handed_hi[ACKMEM_SLOTS];
};

/* Without the counts: an older owner's. */
#define	SHARED_OLD	offsetof(struct shared, handed_lo)

/* This process's view of it. */
struct standby_mem {
	struct shared	*s;
	size_t		len;	/* mapped: SHARED_OLD, or all of it */
	uint64_t	departed;	/* a standby's: what the mirror said */
	int		backlog;	/* the same: the listener's */
};

static struct standby_mem *
mem_map(int fd, size_t len)
{
	struct standby_mem *m;
	void *p;

	if ((m = plat_alloc(sizeof (*m))) == NULL)
		return (NULL);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		plat_free(m, sizeof (*m));
		return (NULL);
	}
	m->s = p;
	m->len = len;
	m->departed = 0;
	m->backlog = 0;
	return (m);
}

static void
mem_unmap(struct standby_mem *m)
{
	(void) munmap(m->s, m->len);
	plat_free(m, sizeof (*m));
}

static int
counted(const struct standby_mem *m, size_t slot)
{
	return (m != NULL && slot < ACKMEM_SLOTS &&
	    m->len == sizeof (struct shared));
}

struct standby_mem *
standby_mem_create(int *fd)
{
	struct standby_mem *m;
	int f = plat_shm_fd(sizeof (struct shared), "rpshim-standby");

	if (f < 0)
		return (NULL);
	if ((m = mem_map(f, sizeof (struct shared))) == NULL) {
		(void) real.close(f);
		return (NULL);
	}
	/* A new shared object reads as zeros: only the header to write. */
	m->s->magic = MEM_MAGIC;
	m->s->nslots = ACKMEM_SLOTS;
	*fd = f;
	return (m);
}

struct standby_mem *
standby_mem_attach(int fd)
{
	struct standby_mem *m;
	struct stat st;
	size_t len;

	/* Mapped beyond the object, a read would kill us (SIGBUS). */
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)SHARED_OLD)
		return (NULL);
	len = st.st_size >= (off_t)sizeof (struct shared) ?
	    sizeof (struct shared) : SHARED_OLD;
	if ((m = mem_map(fd, len)) != NULL && (m->s->magic != MEM_MAGIC ||
	    m->s->nslots != ACKMEM_SLOTS)) {
		mem_unmap(m);
		m = NULL;
	}
	return (m);
}

void
standby_mem_sent(struct standby_mem *m, size_t slot, uint32_t seq)
{
	if (m == NULL)
		return;
	if (slot < ACKMEM_SLOTS)
		atomic_store_explicit(&m->s->sent[slot], seq,
		    memory_order_relaxed);
	atomic_store_explicit(&m->s->seq, seq, memory_order_release);
}

void
standby_mem_unsent(struct standby_mem *m, size_t slot, uint32_t was)
{
	if (m != NULL && slot < ACKMEM_SLOTS)
		atomic_store_explicit(&m->s->sent[slot], was,
		    memory_order_relaxed);
}

void
standby_mem_inhand(struct standby_mem *m, uint32_t n)
{
	if (m != NULL)
		atomic_store_explicit(&m->s->inhand, n, memory_order_relaxed);
}

void
standby_mem_handed(struct standby_mem *m, size_t slot, uint64_t n)
{
	uint32_t hi = (uint32_t)(n >> 32);

	if (!counted(m, slot))
		return;
	atomic_store_explicit(&m->s->handed_lo[slot], (uint32_t)n,
	    memory_order_relaxed);
	/* Once in 2^32: the usual store is one. */
	if (atomic_load_explicit(&m->s->handed_hi[slot],
	    memory_order_relaxed) != hi)
		atomic_store_explicit(&m->s->handed_hi[slot], hi,
		    memory_order_relaxed);
}

uint32_t
standby_mem_seq(const struct standby_mem *m)
{
	return (atomic_load(&m->s->seq));
}

uint32_t
standby_mem_slot_sent(const struct standby_mem *m, size_t slot)
{
	return (slot < ACKMEM_SLOTS ? atomic_load(&m->s->sent[slot]) : 0);
}

uint64_t
standby_mem_slot_handed(const struct standby_mem *m, size_t slot)
{
	if (!counted(m, slot))
		return (0);
	return ((uint64_t)atomic_load(&m->s->handed_hi[slot]) << 32 |
	    atomic_load(&m->s->handed_lo[slot]));
}

void
standby_mem_set_departed(struct standby_mem *m, uint64_t n)
{
	m->departed = n;
}

uint64_t
standby_mem_departed(const struct standby_mem *m)
{
	return (m->departed);
}

void
standby_mem_set_backlog(struct standby_mem *m, int n)
{
	m->backlog = n;
}

int
standby_mem_backlog(const struct standby_mem *m)
{
	return (m->backlog);
}

uint32_t
standby_mem_held(const struct standby_mem *m)
{
	return (atomic_load(&m->s->inhand));
}

uint32_t
standby_mem_takeovers(const struct standby_mem *m)
{
	return (m != NULL ? atomic_load(&m->s->takeovers) : 0);
}

uint32_t
standby_mem_took_over(struct standby_mem *m)
{
	return (atomic_fetch_add(&m->s->takeovers, 1) + 1);
}

void
standby_kill(pid_t pid, int fd)
{
	int e = errno;

	/* Killed before its end of the mirror sees ours close. */
	if (pid > 0) {
		(void) kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			continue;
	}
	if (fd >= 0)
		(void) real.close(fd);
	errno = e;
}

int
standby_start(const struct owner_args *a, int boardfd, int memfd, int *fd,
    pid_t *pid)
{
	struct owner_args b = *a;
	struct timeval tv;
	int sv[2], e;
	char c = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | plat_sock_cloexec, 0, sv) != 0)
		return (-1);
	b.boardfd = boardfd;
	b.memfd = memfd;
	b.mirrorfd = sv[1];
	if (standby_spawn(&b, pid) != 0) {
		e = errno;
		(void) real.close(sv[0]);
		(void) real.close(sv[1]);
		errno = e;
		return (-1);
	}
	(void) real.close(sv[1]);
	/* Up when it says so: it holds its copies and reads the mirror. */
	if (util_wait_fd(sv[0], POLLIN, util_deadline(UP_MS)) != 0 ||
	    real.read(sv[0], &c, 1) != 1 || c != UP_BYTE) {
		e = errno != 0 ? errno : EPROTO;
		standby_kill(*pid, sv[0]);
		errno = e;
		return (-1);
	}
	/*
	 * Blocking, with a bound: a large group's joins fill any buffer, and
	 * the standby reads as fast as we write; only one stuck (stopped)
	 * for TELL_MS is given up (EAGAIN).
	 */
	tv.tv_sec = TELL_MS / 1000;
	tv.tv_usec = (TELL_MS % 1000) * 1000;
	(void) real.setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof (tv));
	*fd = sv[0];
	return (0);
}

/* A MIRROR record; its opts past pid and flags: more[0..nmore). */
static int
tell(int fd, enum standby_event ev, size_t slot, long pid, int flags,
    int epfd, const int32_t *more, size_t nmore)
{
	struct proto_rec r;

	memset(&r, 0, sizeof (r));
	r.type = REC_MIRROR;
	r.arg = (int32_t)ev;
	r.seq = (uint32_t)slot;
	r.nopts = (uint8_t)(2 + nmore);
	r.opts[0] = (int32_t)pid;
	r.opts[1] = flags;
	for (size_t k = 0; k < nmore; k++)
		r.opts[2 + k] = more[k];
	return (proto_send(fd, &r, epfd));
}

int
standby_tell(int fd, enum standby_event ev, size_t slot, long pid,
    int flags, int epfd)
{
	return (tell(fd, ev, slot, pid, flags, epfd, NULL, 0));
}

int
standby_tell_tcp(int fd, enum standby_event ev, size_t slot, long pid,
    int flags, int epfd, uint64_t departed, int backlog, int lbacklog)
{
	const int32_t more[] = { (int32_t)(uint32_t)departed,
	    (int32_t)(uint32_t)(departed >> 32), backlog, lbacklog };

	return (tell(fd, ev, slot, pid, flags, epfd, more, 4));
}

int
standby_tell_udp(int fd, enum standby_event ev, size_t slot, long pid,
    int flags, int epfd, int rcvbuf, unsigned wants, uint32_t takeovers)
{
	const int32_t more[] = { rcvbuf, (int32_t)wants, (int32_t)takeovers };

	return (tell(fd, ev, slot, pid, flags, epfd, more, 3));
}

void
standby_finish(int fd, pid_t pid)
{
	uint64_t deadline = util_deadline(FINISH_MS);
	char c;

	if (standby_tell(fd, SB_FINISH, 0, 0, 0, -1) == 0) {
		/* Its end of the pair closes as it exits. */
		while (util_wait_fd(fd, POLLIN, deadline) == 0) {
			ssize_t n = real.read(fd, &c, 1);

			if (n == 0 || (n < 0 && errno != EINTR &&
			    errno != EAGAIN))
				break;
		}
	}
	standby_kill(pid, fd);
}

int
standby_next(int mirrorfd, size_t nslots, struct proto_rec *r, int *fd)
{
	int rc;

	for (;;) {
		rc = proto_recv(mirrorfd, r, fd, plat_recv_cloexec_flag());
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0 || (rc < 0 && errno == ECONNRESET))
			return (0);
		if (rc < 0) {
			shim_log(LOG_LVL_ERROR, "standby: bad record from "
			    "the owner (%s); leaving", strerror(errno));
			return (-1);
		}
		if (*fd >= 0 && plat_recv_cloexec_flag() == 0)
			(void) real.fcntl(*fd, F_SETFD, FD_CLOEXEC);
		if (r->type == REC_MIRROR && r->nopts >= 2 && r->seq < nslots)
			return (1);
		if (*fd >= 0)
			(void) real.close(*fd);
	}
}

void
standby_begin(const struct owner_args *a)
{
	/* A UDP group's standby has no board and no memory: -1. */
	const int fds[] = { a->listenfd, a->rvfd, a->boardfd, a->memfd,
	    a->mirrorfd };

	shim_log_set_role("standby ");
	owner_signals();
	/*
	 * Unlike the owner, a standby goes when its service is stopped (it
	 * may live in another member's): nothing is lost, the owner starts
	 * another.  It is deaf again once it takes over.
	 */
	(void) signal(SIGTERM, SIG_DFL);
	plat_set_procname(OWNER_PROG);
	/* Passed to survive our exec: not into the standby we start later. */
	for (size_t i = 0; i < sizeof (fds) / sizeof (fds[0]); i++) {
		if (fds[i] >= 0)
			(void) real.fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	}
}

void
standby_say_up(int mirrorfd)
{
	char c = UP_BYTE;

	/* Its end is closed: it gave up waiting for us, or died first. */
	if (real.write(mirrorfd, &c, 1) != 1)
		_exit(1);
}

/* SB_FINISH: the owner ends the group; we hold nothing of it any more. */
_Noreturn static void
let_go(const struct owner_args *a, struct standby_member *tab, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (tab[i].fd >= 0)
			(void) real.close(tab[i].fd);
	}
	(void) real.close(a->listenfd);
	(void) real.close(a->rvfd);
	_exit(0);
}

_Noreturn void
standby_run(const struct owner_args *a)
{
	struct standby_member *tab;
	struct standby_mem *mem;
	struct proto_rec r;
	size_t n, k;
	int fd, rc;

	standby_begin(a);
	if ((mem = standby_mem_attach(a->memfd)) == NULL ||
	    (tab = plat_alloc(SB_SLOTS * sizeof (*tab))) == NULL) {
		shim_log(LOG_LVL_ERROR, "standby cannot start: %s",
		    strerror(errno));
		_exit(1);
	}
	for (size_t i = 0; i < SB_SLOTS; i++)
		tab[i].fd = -1;
	/*
	 * Into another service than the owner's, where members come from
	 * more than one: restarting the owner's service (which ends every
	 * process in it) then leaves us to carry on for the others.
	 */
	if (a->service[0] != '\0' && plat_service_enter(a->service) != 0)
		shim_log(LOG_LVL_WARN, "standby cannot move into %s: %s",
		    a->service, strerror(errno));
	standby_say_up(a->mirrorfd);
	while ((rc = standby_next(a->mirrorfd, SB_SLOTS, &r, &fd)) == 1) {
		k = r.seq;
		/* Each record whole or not at all: never a torn count. */
		if (r.nopts >= SB_NOPTS)
			standby_mem_set_departed(mem, (uint64_t)(uint32_t)
			    r.opts[SB_O_DEPARTED + 1] << 32 |
			    (uint32_t)r.opts[SB_O_DEPARTED]);
		if (r.nopts >= SB_NOPTS_TCP && r.opts[SB_O_LBACKLOG] > 0)
			standby_mem_set_backlog(mem, r.opts[SB_O_LBACKLOG]);
		switch (r.arg) {
		case SB_JOIN:
			if (tab[k].fd >= 0)
				(void) real.close(tab[k].fd);
			tab[k].slot = k;
			tab[k].fd = fd;
			tab[k].pid = r.opts[0];
			tab[k].listening = (r.opts[1] & SB_F_LISTENING) != 0;
			tab[k].board = (r.opts[1] & SB_F_BOARD) != 0;
			tab[k].backlog = r.nopts >= SB_NOPTS_TCP ?
			    r.opts[SB_O_BACKLOG] : 0;
			fd = -1;
			break;
		case SB_OPTS:
			if (r.nopts >= SB_NOPTS_TCP)
				tab[k].backlog = r.opts[SB_O_BACKLOG];
			break;
		case SB_LISTEN:
			if (r.nopts >= SB_NOPTS_TCP)
				tab[k].backlog = r.opts[SB_O_BACKLOG];
			/* FALLTHROUGH */
		case SB_UNLISTEN:
			tab[k].listening = r.arg == SB_LISTEN;
			break;
		case SB_END:
			if (tab[k].fd >= 0)
				(void) real.close(tab[k].fd);
			tab[k].fd = -1;
			break;
		case SB_FINISH:
			let_go(a, tab, SB_SLOTS);
		default:
			break;
		}
		if (fd >= 0)
			(void) real.close(fd);
	}
	/* The owner lives: we leave, and it starts another standby. */
	if (rc < 0)
		let_go(a, tab, SB_SLOTS);
	for (size_t i = n = 0; i < SB_SLOTS; i++) {
		if (tab[i].fd >= 0)
			tab[n++] = tab[i];
	}
	owner_takeover(a, tab, n, mem);
}
