/*
 * owner.c: the owner's process: its fds, the poller, signals, timers and
 * the wire.  What becomes of endpoints and connections is decided by the
 * group's core (gcore.c), which this file feeds with events and which
 * acts through the ops below.
 *
 * Single-threaded, poll-driven, and allocation-free after start (memory
 * comes from plat_alloc): it runs in a child forked from an arbitrary
 * program, where malloc's locks may have been held by another thread.
 * Every input from an endpoint is validated; a bad one closes that
 * endpoint, never the owner.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "ackmem.h"
#include "gcore.h"
#include "log.h"
#include "owner.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "standby.h"
#include "util.h"

#define	ACCEPT_BATCH	64	/* connections taken per wakeup */
#define	RETRY_MS	GCORE_RETRY_MS	/* a paused accept, again */
#define	RV_CHECK_MS	2000	/* is our rendezvous name still there? */
#define	FD_RESERVE	64	/* fds kept from members: listener, spare... */
#define	STAT_BATCH	64	/* status records per write */
/* Poller tokens: 0 the rendezvous, 1 the listener, 2 the standby. */
#define	SB_TOKEN	2
#define	EP_TOKEN(i)	((uint32_t)(3 + (i)))	/* endpoint slot i */
#define	SB_RETRY_MS	1000	/* a standby that died, again */
#define	SB_RETRY_MAX_MS	60000	/* after failures, doubling up to this */

/* The shell's side of an endpoint slot of the core. */
#define	LOPT_MAX	4	/* the listener's own options we keep */

struct sep {
	int		fd;
	uint32_t	rxlen;
	uint8_t		rx[PROTO_REC_SIZE];
	int		pids[STAT_PIDS];	/* who accepts, latest first */
	int32_t		lopt[LOPT_MAX];	/* its listener options, */
	unsigned	lopt_set;	/* where asked for (bit k) */
	int		backlog;	/* its listen()'s, once it listened */
};

static struct {
	int		lfd;
	int		rvfd;
	const char	*path;
	uid_t		uid;
	long		linger_ms;
	struct proto_addr gaddr;
	int		backlog;
	int		paused;		/* out of fds: wait for one to close */
	uint64_t	paused_us;	/* since when */
	size_t		max_members;	/* what our fd limit allows */
	uint64_t	rv_checked_us;
	int		rvpaused;	/* the rendezvous out of the poller */
	struct ackmem_board *board;	/* NULL: members send ACK records */
	int		boardfd;
	struct timespec	started;
	enum shim_policy policy;
	struct gcore	g;
	int32_t		lopt_now[LOPT_MAX];	/* on the listener now */
	int		lopt_dirty;	/* members came or went */

	/* The standby (standby.h): -1 while there is none. */
	const struct owner_args *args;
	struct standby_mem *sbmem;
	int		sbmemfd;
	int		sbfd;
	pid_t		sbpid;		/* our child */
	uint64_t	sb_tried_us;	/* when we last started one */
	long		sb_wait_ms;	/* until the next start may be tried */
	char		service[256];	/* ours (plat_service_of), or "" */
	char		sb_service[256];	/* the standby's; "": ours */

	/* Poller token EP_TOKEN(i) is g.eps[i], whose fd is seps[i].fd. */
	struct plat_poller *poller;
	int		lwatched;	/* the listener is in the poller */
	struct sep	*seps;
	size_t		scap;
} o;

/* Room in seps for slot i; -1 out of memory. */
static int
sep_room(size_t i)
{
	size_t nc = o.scap == 0 ? 16 : o.scap;
	struct sep *s;

	if (i < o.scap)
		return (0);
	while (nc <= i)
		nc *= 2;
	if ((s = plat_alloc(nc * sizeof (*s))) == NULL)
		return (-1);
	if (o.seps != NULL)
		memcpy(s, o.seps, o.scap * sizeof (*s));
	plat_free(o.seps, o.scap * sizeof (*s));
	o.seps = s;
	o.scap = nc;
	return (0);
}

_Noreturn static void finish(void);

/*
 * The standby is gone or cannot keep up (its socket full): the group
 * keeps one owner only, until the next is started.  A live one is ended
 * first: two processes must never both take over.
 */
static void
standby_drop(const char *why)
{
	if (o.sbfd < 0)
		return;
	plat_poller_del(o.poller, o.sbfd, SB_TOKEN);
	standby_kill(o.sbpid, o.sbfd);
	o.sbfd = -1;
	o.sbpid = 0;
	shim_log(LOG_LVL_WARN, "standby %s; starting another", why);
}

/*
 * Tell the standby, before the member hears from us; with what members
 * that left had taken, which it keeps for stat if it takes over.
 */
static void
mirror(enum standby_event ev, size_t i, int flags, int epfd)
{
	if (o.sbfd >= 0 && standby_tell_tcp(o.sbfd, ev, i,
	    ev == SB_COUNT ? 0 : o.g.eps[i].pid, flags, epfd,
	    o.g.departed, ev == SB_COUNT ? 0 : o.seps[i].backlog,
	    o.backlog) != 0)
		standby_drop(errno == EAGAIN ? "cannot keep up" : "is gone");
}

static int
join_flags(size_t i)
{
	return ((o.g.eps[i].state == GCORE_LISTENING ? SB_F_LISTENING : 0) |
	    (o.g.eps[i].board ? SB_F_BOARD : 0));
}

/* Member i runs in another service than ours: its name into out. */
static int
other_service(size_t i, char *out, size_t n)
{
	long pids[1 + STAT_PIDS];

	pids[0] = o.g.eps[i].pid;
	for (size_t k = 0; k < STAT_PIDS; k++)
		pids[k + 1] = o.seps[i].pids[k];
	for (size_t k = 0; k <= STAT_PIDS; k++) {
		if (pids[k] > 0 && plat_service_of((pid_t)pids[k], out,
		    n) == 0 && strcmp(out, o.service) != 0)
			return (1);
	}
	return (0);
}

/* A service of a member's, not ours, into out; "" if there is none. */
static void
pick_service(char *out, size_t n)
{
	out[0] = '\0';
	if (o.service[0] == '\0')
		return;
	for (size_t i = 0; i < o.g.n; i++) {
		if ((o.g.eps[i].state == GCORE_JOINED ||
		    o.g.eps[i].state == GCORE_LISTENING) &&
		    other_service(i, out, n))
			return;
	}
	out[0] = '\0';
}

/*
 * Member i joined: if it comes from another service than ours and our
 * standby lives in ours, the standby moves to i's (a new one starts
 * there): then no one service's restart ends the group.
 */
static void
standby_place(size_t i)
{
	char svc[sizeof (o.service)];

	if (o.sbfd < 0 || o.sb_service[0] != '\0' || o.service[0] == '\0' ||
	    !other_service(i, svc, sizeof (svc)))
		return;
	standby_drop("moves to another service");
	o.sb_tried_us = 0;
}

/*
 * Start a standby, at most once per sb_wait_ms (SB_RETRY_MS, doubled
 * after each start that failed: one that cannot start holds up our loop
 * for up to 2 s each time), and tell it of every member.  Only
 * OWNER_PROG can: a forked owner has no program to run.
 */
static void
standby_up(void)
{
	uint64_t now = util_now_us();
	struct owner_args a;

	if (o.sb_wait_ms == 0)
		o.sb_wait_ms = SB_RETRY_MS;
	if (o.sbfd >= 0 || o.sbmem == NULL || !o.args->prog ||
	    (o.sb_tried_us != 0 &&
	    now - o.sb_tried_us < (uint64_t)o.sb_wait_ms * 1000))
		return;
	o.sb_tried_us = now;
	a = *o.args;
	a.listenfd = o.lfd;
	a.rvfd = o.rvfd;	/* moved since, or made again (rv_heal) */
	pick_service(a.service, sizeof (a.service));
	(void) strcpy(o.sb_service, a.service);
	if (standby_start(&a, o.boardfd, o.sbmemfd, &o.sbfd, &o.sbpid) != 0) {
		o.sbfd = -1;
		shim_log(LOG_LVL_WARN, "cannot start a standby: %s; trying "
		    "again in %ld s", strerror(errno), o.sb_wait_ms / 1000);
		if ((o.sb_wait_ms *= 2) > SB_RETRY_MAX_MS)
			o.sb_wait_ms = SB_RETRY_MAX_MS;
		return;
	}
	o.sb_wait_ms = SB_RETRY_MS;
	if (plat_poller_set(o.poller, o.sbfd, SB_TOKEN, 1) != 0) {
		standby_drop("cannot be watched");
		return;
	}
	mirror(SB_COUNT, 0, 0, -1);	/* also where no member is left */
	for (size_t i = 0; i < o.g.n && o.sbfd >= 0; i++) {
		if (o.g.eps[i].state == GCORE_JOINED ||
		    o.g.eps[i].state == GCORE_LISTENING)
			mirror(SB_JOIN, i, join_flags(i), o.seps[i].fd);
	}
}

/* --- what the core asks of us ------------------------------------------ */

static int
op_send_conn(void *ctx, size_t i, uint32_t seq, uint32_t prev,
    const struct proto_addr *peer, int connfd)
{
	struct proto_rec r;

	(void) ctx;
	memset(&r, 0, sizeof (r));
	r.type = REC_CONN;
	r.seq = seq;
	r.arg = (int32_t)prev;	/* the member's board ack is made from it */
	r.addr = *peer;
	/* Before it goes: a standby taking over chains acks from it. */
	standby_mem_sent(o.sbmem, i, seq);
	if (proto_send(o.seps[i].fd, &r, connfd) == 0)
		return (0);
	standby_mem_unsent(o.sbmem, i, o.g.eps[i].last_sent);
	return (errno != 0 ? errno : EIO);
}

static void
op_close_conn(void *ctx, int connfd)
{
	(void) ctx;
	(void) real.close(connfd);
	o.paused = 0;	/* an fd came free */
}

static void
op_reset_conn(void *ctx, int connfd)
{
	(void) ctx;
	plat_tcp_reset(connfd);
}

static void
op_ep_closed(void *ctx, size_t i)
{
	(void) ctx;
	if (o.g.eps[i].state != GCORE_NEW)
		mirror(SB_END, i, 0, -1);
	plat_poller_del(o.poller, o.seps[i].fd, EP_TOKEN(i));
	(void) real.close(o.seps[i].fd);
	o.seps[i].fd = -1;
	o.seps[i].rxlen = 0;
	o.seps[i].lopt_set = 0;
	o.seps[i].backlog = 0;
	o.lopt_dirty = 1;
	o.paused = 0;	/* an fd came free */
}

static void
op_board_reset(void *ctx, size_t i, uint32_t seq)
{
	(void) ctx;
	ackmem_reset(o.board, i, seq);
}

static int
op_board_repair(void *ctx, size_t i, uint32_t bad, uint32_t seq)
{
	(void) ctx;
	return (ackmem_repair(o.board, i, bad, seq));
}

static uint32_t
op_board_retire(void *ctx, size_t i, uint32_t seq)
{
	(void) ctx;
	return (ackmem_retire(o.board, i, seq));
}

static void
op_handed(void *ctx, size_t i, uint64_t n)
{
	(void) ctx;
	standby_mem_handed(o.sbmem, i, n);
}

static const struct gcore_ops shell_ops = {
	.send_conn = op_send_conn,
	.close_conn = op_close_conn,
	.reset_conn = op_reset_conn,
	.ep_closed = op_ep_closed,
	.board_reset = op_board_reset,
	.board_repair = op_board_repair,
	.board_move = op_board_repair,
	.board_retire = op_board_retire,
	.handed = op_handed
};

static int
ep_send(size_t i, const struct proto_rec *r, int connfd)
{
	return (proto_send(o.seps[i].fd, r, connfd));
}

/* A read error that says the member's end is closed. */
static int
member_gone(int err)
{
	return (err == EPIPE || err == ECONNRESET || err == ENOTCONN);
}

static int
any_eligible(void)
{
	return (o.g.n_eligible > 0);
}

/* Waiting connections to endpoints that can take them now. */
static void
dispatch_orphans(void)
{
	if (o.g.orphan_head != GCORE_NONE && any_eligible())
		gcore_dispatch_orphans(&o.g, util_now_us());
}

/*
 * pid accepts on endpoint i: stat names it.  After fork (and exec) the
 * processes that accept are not the one that joined (nginx's workers).
 */
static void
note_pid(size_t i, int pid)
{
	int *p = o.seps[i].pids;
	size_t k;

	if (pid <= 0 || p[0] == pid)
		return;
	for (k = 1; k < STAT_PIDS - 1 && p[k] != pid; k++)
		continue;
	memmove(p + 1, p, k * sizeof (*p));
	p[0] = pid;
}

_Static_assert(ACKMEM_IDLE_NONE == GCORE_IDLE_NONE,
    "gcore must know the idle word a slot starts with");

static void
board_ack(void *arg, size_t i, const struct ackmem_mark *mk)
{
	(void) arg;
	gcore_board(&o.g, i, mk->seq, mk->busy, mk->idle);
	if (i < o.g.n && o.g.eps[i].board)
		note_pid(i, ackmem_pid(o.board, i));
}

/*
 * What members wrote on the board since we last looked: acks, and under
 * leastloaded also who waits, which counts even with nothing out.
 */
static size_t
collect_acks(void)
{
	if (o.board == NULL || (o.g.unacked == 0 &&
	    o.policy != SHIM_POLICY_LEASTLOADED))
		return (0);
	return (ackmem_collect(o.board, o.g.n, board_ack, NULL));
}

/*
 * What a standby would say we held unsent if we died now: the waiting
 * connections, and extra in hand.  A kill lands most often as a system
 * call returns: one accept() that returned a connection and never came
 * back to us.  So the one in hand counts from before the call.  A store
 * or two per connection, in memory only we write.
 */
static void
holding(uint32_t extra)
{
	if (o.sbmem != NULL)
		standby_mem_inhand(o.sbmem, extra +
		    (uint32_t)(o.g.orphan_head == GCORE_NONE ? 0 :
		    gcore_waiting(&o.g)));
}

static void
accept_conns(void)
{
	/* Who waits now, said on the board while we slept: once a batch. */
	if (o.policy == SHIM_POLICY_LEASTLOADED)
		(void) collect_acks();
	for (int n = 0; n < ACCEPT_BATCH; n++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof (ss);
		struct proto_addr peer;
		int fd;

		if (!any_eligible())
			return;
		holding(1);
		fd = plat_accept_cloexec(o.lfd, (struct sockaddr *)&ss, &len);
		if (fd < 0) {
			holding(0);
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				shim_log(LOG_LVL_WARN, "accept: %s; waiting "
				    "for connections to be taken",
				    strerror(errno));
				o.paused = 1;
				o.paused_us = util_now_us();
			}
			return;
		}
		if (proto_addr_from_sockaddr(&peer, (struct sockaddr *)&ss,
		    len) != 0 || gcore_conn(&o.g, fd, &peer,
		    util_now_us()) != 0)
			(void) real.close(fd);
		holding(0);
	}
}

static int live_member(size_t i);

/*
 * The listener listens from the group's first bind; this sets its
 * backlog: the sum of its listening members' (natively each has its own
 * queue that long; with the largest alone, a burst of connections while
 * the workers were busy found the one queue full, and its SYNs were
 * dropped where the kernel's group held them), never shrunk.  A
 * negative one asks the kernel's most.
 */
static int
do_listen(size_t ep)
{
	int64_t sum = 0;
	int backlog, was = o.backlog;

	for (size_t i = 0; i < o.g.n; i++) {
		if (o.seps[i].fd >= 0 && live_member(i))
			sum += o.seps[i].backlog < 0 ? INT_MAX :
			    o.seps[i].backlog;
	}
	backlog = sum > INT_MAX ? INT_MAX : (int)sum;
	if (backlog <= o.backlog)
		return (0);
	/*
	 * The standby hears of it first: an owner killed in between would
	 * leave a listener longer than the new owner knew, which its next
	 * listen would shrink.  Told and then refused, the standby's number
	 * is too high, which only delays a growth after a takeover.
	 */
	o.backlog = backlog;
	mirror(SB_OPTS, ep, 0, -1);
	if (real.listen(o.lfd, backlog) != 0) {
		o.backlog = was;
		return (errno);
	}
	return (0);
}

/* Which of the listener's own options (level, name) is, or -1. */
static int
lopt_index(int level, int name)
{
	int l, n;

	for (int k = 0; k < LOPT_MAX &&
	    plat_opt_on_listener_nth((size_t)k, &l, &n) == 0; k++) {
		if (l == level && n == name)
			return (k);
	}
	return (-1);
}

static int
live_member(size_t i)
{
	return (i < o.g.n && (o.g.eps[i].state == GCORE_JOINED ||
	    o.g.eps[i].state == GCORE_LISTENING));
}

/*
 * The group has one listener where the kernel gives each member its own:
 * an option of the listener itself holds for the group when every member
 * asked for it, with the smallest value asked.  A member that never did
 * (it accepts at once, where another defers) leaves it at its default:
 * what the kernel's listener of that member would do, and what it does
 * again once the member that asked has gone.
 */
static void
lopts_apply(void)
{
	int level, name;

	o.lopt_dirty = 0;
	for (int k = 0; k < LOPT_MAX &&
	    plat_opt_on_listener_nth((size_t)k, &level, &name) == 0; k++) {
		int32_t v = 0;
		int any = 0, all = 1;

		for (size_t i = 0; i < o.g.n && all; i++) {
			if (!live_member(i))
				continue;
			if (!(o.seps[i].lopt_set & (1U << k)))
				all = 0;
			else if (!any++ || o.seps[i].lopt[k] < v)
				v = o.seps[i].lopt[k];
		}
		if (!all)
			v = 0;
		if (v != o.lopt_now[k] && real.setsockopt(o.lfd, level, name,
		    &v, sizeof (v)) == 0)
			o.lopt_now[k] = v;
	}
}

/*
 * SETOPT from client i, for member slot seq - 1: an option of the
 * listener itself that the member set on its own (its shadow took it:
 * the value is valid).  The answer says it is set: the member's
 * setsockopt returns only then, and a connection made after it finds the
 * listener so.  From a member that cannot say which it is (seq 0, no
 * board slot), the value is set as it comes.
 */
static void
set_listener_opt(size_t i, const struct proto_rec *r)
{
	struct proto_rec out;
	size_t m = (size_t)r->seq - 1;
	int k, v = r->opts[2];

	memset(&out, 0, sizeof (out));
	out.type = REC_SETOPT;
	if (r->nopts != 3 || (k = lopt_index(r->opts[0], r->opts[1])) < 0) {
		out.arg = EINVAL;
	} else if (r->seq != 0 && live_member(m)) {
		o.seps[m].lopt[k] = v;
		o.seps[m].lopt_set |= 1U << k;
		lopts_apply();
	} else if (real.setsockopt(o.lfd, r->opts[0], r->opts[1], &v,
	    sizeof (v)) != 0) {
		out.arg = errno;
	}
	(void) ep_send(i, &out, -1);
}

/* The listener's options, in plat_listener_opts() order. */
static void
listener_opts(struct proto_rec *r)
{
	size_t n;
	const struct plat_opt *t = plat_listener_opts(&n);

	r->nopts = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		if (util_opt_read(o.lfd, &t[i], &r->opts[i]) != 0)
			r->opts[i] = 0;
	}
}

/*
 * Records to a status client, in writes of up to STAT_BATCH: one record
 * per non-blocking write filled its socket's buffer at a few hundred
 * members, and the rest were lost.  The client reads as we write; one
 * that stops is given up after a second.
 */
static int
stat_put(int fd, const struct proto_rec *r, uint8_t *buf, size_t *n,
    int flush)
{
	if (r != NULL)
		proto_encode(r, buf + PROTO_REC_SIZE * (*n)++);
	if (*n < STAT_BATCH && !flush)
		return (0);
	for (size_t off = 0, len = PROTO_REC_SIZE * *n; off < len; ) {
		ssize_t w = real.send(fd, buf + off, len - off,
		    plat_send_nosignal_flag());

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return (-1);
		off += (size_t)w;
	}
	*n = 0;
	return (0);
}

/*
 * A status client asked who is in the group: one STAT_GROUP, one STAT_EP
 * per member, and the client's connection is closed (it is not a member).
 */
static void
send_stat(size_t i)
{
	static uint8_t buf[PROTO_REC_SIZE * STAT_BATCH];
	struct proto_rec g;
	struct timespec now, limit = { 1, 0 };
	int32_t members = (int32_t)gcore_members(&o.g);
	int fd = o.seps[i].fd, fl;
	size_t n = 0;

	fl = real.fcntl(fd, F_GETFL);
	if (fl < 0 || real.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
	    real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit,
	    sizeof (limit)) != 0)
		return;
	(void) clock_gettime(CLOCK_MONOTONIC, &now);
	memset(&g, 0, sizeof (g));
	g.type = REC_STAT_GROUP;
	g.seq = (uint32_t)getpid();
	g.arg = members;
	g.addr = o.gaddr;
	g.nopts = STAT_G_COUNT;
	g.opts[STAT_G_POLICY] = (int32_t)o.policy;
	g.opts[STAT_G_UPTIME] = (int32_t)(now.tv_sec - o.started.tv_sec);
	g.opts[STAT_G_DELIVERED_LO] = (int32_t)(o.g.delivered & 0xffffffffU);
	g.opts[STAT_G_DELIVERED_HI] = (int32_t)(o.g.delivered >> 32);
	g.opts[STAT_G_WAITING] = (int32_t)gcore_waiting(&o.g);
	g.opts[STAT_G_LINGER] = (int32_t)o.linger_ms;
	g.opts[STAT_G_STANDBY] = o.sbfd >= 0 ? (int32_t)o.sbpid : 0;
	g.opts[STAT_G_TAKEOVERS] = (int32_t)standby_mem_takeovers(o.sbmem);
	g.opts[STAT_G_RUN] = o.policy != SHIM_POLICY_ROUNDROBIN ? 0 :
	    (int32_t)gcore_run(&o.g);
	if (stat_put(fd, &g, buf, &n, 0) != 0)
		return;
	for (size_t j = 0; j < o.g.n; j++) {
		const struct gcore_ep *e = &o.g.eps[j];
		struct proto_rec r;

		if (e->state != GCORE_JOINED && e->state != GCORE_LISTENING)
			continue;
		memset(&r, 0, sizeof (r));
		r.type = REC_STAT_EP;
		r.seq = o.g.peps[j].id;
		r.arg = (int32_t)e->pid;
		r.nopts = STAT_E_COUNT;
		r.opts[STAT_E_STATE] = e->state == GCORE_LISTENING ? 2 : 1;
		r.opts[STAT_E_UNACKED] = (int32_t)e->unacked;
		r.opts[STAT_E_DELIVERED_LO] =
		    (int32_t)(e->delivered & 0xffffffffU);
		r.opts[STAT_E_DELIVERED_HI] = (int32_t)(e->delivered >> 32);
		/*
		 * Idle however its application waits: it said so from a
		 * blocking accept, or nothing sent to it is waiting (a
		 * program in poll or select says nothing).
		 */
		r.opts[STAT_E_IDLE] = o.g.peps[j].idle ||
		    (e->state == GCORE_LISTENING && e->unacked == 0);
		r.opts[STAT_E_FIRST] = e->first;
		r.opts[STAT_E_BUSY_US] = (int32_t)(e->busy > INT32_MAX ?
		    INT32_MAX : e->busy);
		for (size_t k = 0; k < STAT_PIDS; k++)
			r.opts[STAT_E_PID0 + k] = o.seps[j].pids[k];
		if (stat_put(fd, &r, buf, &n, 0) != 0)
			return;
	}
	(void) stat_put(fd, NULL, buf, &n, 1);
}

/* HELLO on endpoint i: the core decides, we answer. */
static int
welcome(size_t i, const struct proto_rec *r)
{
	struct proto_rec out;
	/* A board only for a member that says it takes one. */
	int board = o.board != NULL && i < ACKMEM_SLOTS &&
	    (r->seq & HELLO_TAKES_BOARD);
	enum gcore_welcome w = gcore_join(&o.g, i, (long)r->arg, board);

	memset(&out, 0, sizeof (out));
	out.type = REC_WELCOME;
	out.addr = o.gaddr;
	if (w == GCORE_REFUSED) {
		out.arg = -1;
		(void) ep_send(i, &out, -1);
		return (1);
	}
	out.arg = (int32_t)o.policy;
	mirror(SB_JOIN, i, join_flags(i), o.seps[i].fd);
	standby_place(i);
	o.seps[i].lopt_set = 0;
	o.lopt_dirty = 1;
	if (w == GCORE_WELCOMED)
		return (ep_send(i, &out, -1));
	ackmem_clear_busy(o.board, i);
	out.seq = (uint32_t)i;
	return (ep_send(i, &out, o.boardfd));
}

/*
 * One record from endpoint i: 0, 1 done with it (a status client, a
 * refused member), -1 a broken member.
 */
static int
handle(size_t i, const struct proto_rec *r)
{
	const struct gcore_ep *e = &o.g.eps[i];

	if (e->state == GCORE_NEW) {
		if (r->type == REC_STAT) {
			send_stat(i);
			return (1);	/* done with this client */
		}
		if (r->type == REC_STOP) {
			/* The peer's uid is ours (accept_members checked). */
			shim_log(LOG_LVL_WARN, "stopped by reuseport-shim "
			    "stop; %zu member(s) lose their listener",
			    gcore_members(&o.g));
			finish();
		}
		if (r->type == REC_SETOPT) {
			set_listener_opt(i, r);
			return (1);	/* done with this client */
		}
		if (r->type != REC_HELLO)
			return (-1);
		return (welcome(i, r));
	}
	switch (r->type) {
	case REC_LISTEN: {
		int err, was;

		was = o.seps[i].backlog;
		o.seps[i].backlog = r->arg;
		err = do_listen(i);

		/* A listen again with another backlog: the standby's too. */
		if (err == 0 && (e->state != GCORE_LISTENING ||
		    was != r->arg))
			mirror(SB_LISTEN, i, 0, -1);
		if (!e->listened) {
			struct proto_rec out;

			memset(&out, 0, sizeof (out));
			out.type = REC_LISTEN_OK;
			out.arg = err;
			listener_opts(&out);
			if (ep_send(i, &out, -1) != 0)
				return (-1);
		}
		gcore_listen(&o.g, i, err == 0);
		return (0);
	}
	case REC_ACK:
		note_pid(i, r->arg);
		return (gcore_ack(&o.g, i, r->seq));
	case REC_RETURN:
		return (gcore_return(&o.g, i, r->seq, util_now_us()));
	case REC_IDLE:
		note_pid(i, r->arg);
		gcore_idle(&o.g, i, r->seq);
		return (0);
	case REC_UNLISTEN:
		mirror(SB_UNLISTEN, i, 0, -1);
		gcore_unlisten(&o.g, i);
		return (0);

	default:
		return (-1);
	}
}

/* Read what endpoint i sent; drop it on end of stream or bad input. */
static void
ep_read(size_t i)
{
	struct sep *e = &o.seps[i];
	uint8_t buf[PROTO_REC_SIZE * 32];
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(4 * sizeof (int))];
	} cm;
	struct iovec iov;
	struct msghdr mh;
	size_t have, off;
	ssize_t n;

	memcpy(buf, e->rx, e->rxlen);
	iov.iov_base = buf + e->rxlen;
	iov.iov_len = sizeof (buf) - e->rxlen;
	memset(&mh, 0, sizeof (mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof (cm.buf);
	do {
		n = real_recvmsg_xpg(e->fd, &mh, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (mh.msg_controllen > 0 && n >= 0) {
		/* Members never send fds: close what came, and the member. */
		proto_close_fds(&mh);
		gcore_end(&o.g, i, GCORE_EJECT, "sent a file descriptor");
		return;
	}
	if (n == 0 || (n < 0 && member_gone(errno))) {
		gcore_end(&o.g, i, GCORE_GONE, n == 0 ? "closed" :
		    strerror(errno));
		return;
	}
	if (n < 0)
		return;		/* ENOBUFS, ENOMEM: ours, read again later */
	have = e->rxlen + (size_t)n;
	for (off = 0; have - off >= PROTO_REC_SIZE; off += PROTO_REC_SIZE) {
		struct proto_rec r;

		int h = proto_decode(buf + off, &r) == 0 ? handle(i, &r) : -1;

		if (h < 0) {
			gcore_end(&o.g, i, GCORE_EJECT, "invalid record");
			return;
		}
		if (h > 0) {
			gcore_end(&o.g, i, GCORE_DONE, NULL);
			return;
		}
	}
	e->rxlen = (uint32_t)(have - off);
	memcpy(e->rx, buf + off, e->rxlen);
}

int
owner_next_joiner(int rvfd, uid_t uid)
{
	for (;;) {
		int fd = real.accept(rvfd, NULL, NULL);
		uid_t peer;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				shim_log(LOG_LVL_WARN, "cannot take a member: "
				    "%s", strerror(errno));
			}
			return (-1);
		}
		if (plat_peer_euid(fd, &peer) != 0 || peer != uid) {
			shim_log(LOG_LVL_WARN, "refused a member: %s",
			    peer != uid ? "another user" : "no credentials");
			(void) real.close(fd);
			continue;
		}
		(void) real.fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void) real.fcntl(fd, F_SETFL, O_NONBLOCK);
		return (fd);
	}
}

static void
accept_members(void)
{
	for (;;) {
		int fd = owner_next_joiner(o.rvfd, o.uid);
		size_t i;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				o.paused = 1;
				o.paused_us = util_now_us();
			}
			return;
		}
		if (gcore_ep_new(&o.g, util_now_us(), &i) != 0) {
			shim_log(LOG_LVL_ERROR, "out of memory for members");
			(void) real.close(fd);
			continue;
		}
		if (sep_room(i) != 0) {
			shim_log(LOG_LVL_ERROR, "out of memory for members");
			gcore_ep_cancel(&o.g, i);
			(void) real.close(fd);
			continue;
		}
		o.seps[i].fd = fd;
		o.seps[i].rxlen = 0;
		o.seps[i].backlog = 0;
		memset(o.seps[i].pids, 0, sizeof (o.seps[i].pids));
		if (plat_poller_set(o.poller, fd, EP_TOKEN(i), 1) != 0) {
			shim_log(LOG_LVL_ERROR, "cannot watch a member: %s",
			    strerror(errno));
			(void) real.close(fd);
			o.seps[i].fd = -1;
			gcore_ep_cancel(&o.g, i);
			continue;
		}
	}
}

/*
 * The last member left.  The name goes first, then the rendezvous
 * socket, and the port last: while we hold the port no new owner can
 * exist, so the name we unlink is ours; a joiner that comes in between
 * finds no owner, retries its bind, and starts the next group.
 */
_Noreturn static void
finish(void)
{
	struct proto_rec r;

	(void) unlink(o.path);
	/*
	 * Members left (reuseport-shim stop): each gets its endpoint's other
	 * end, which so never closes: see accept.c's keep_peer().
	 */
	memset(&r, 0, sizeof (r));
	r.type = REC_GONE;
	for (size_t i = 0; i < o.g.n; i++) {
		if (o.g.eps[i].state == GCORE_JOINED ||
		    o.g.eps[i].state == GCORE_LISTENING)
			(void) proto_send(o.seps[i].fd, &r, o.seps[i].fd);
	}
	if (o.sbfd >= 0)
		standby_finish(o.sbfd, o.sbpid);
	o.sbfd = -1;
	(void) real.close(o.rvfd);
	(void) real.close(o.lfd);
	gcore_finish(&o.g);
	shim_log(LOG_LVL_INFO, "last member left; group closed");
	_exit(0);
}

static const int deaf[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
	SIGUSR2, SIGALRM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU,
#ifdef SIGWINCH
	SIGWINCH,
#endif
};

void
owner_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	/* The application's handlers must never run in the owner. */
	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = SIG_DFL;
	(void) sigemptyset(&sa.sa_mask);
	for (int s = 1; s < 128; s++)
		(void) sigaction(s, &sa, NULL);
	/*
	 * Deaf to what operators send a daemon's processes (kill -USR1 of
	 * every nginx to reopen logs, a TERM to the process group, a
	 * terminal's ^C): the owner ends by itself when its last member is
	 * gone, and reuseport-shim stop ends it on purpose.
	 */
	sa.sa_handler = SIG_IGN;
	for (size_t k = 0; k < sizeof (deaf) / sizeof (deaf[0]); k++)
		(void) sigaction(deaf[k], &sa, NULL);
	(void) sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Put fd at want (the caller has moved anything it needs out of want). */
static int
move_fd(int fd, int want)
{
	if (fd == want)
		return (fd);
	if (real.dup2(fd, want) < 0)
		return (-1);
	(void) real.close(fd);
	return (want);
}

static long
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	(void) clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - since->tv_sec) * 1000L +
	    (now.tv_nsec - since->tv_nsec) / 1000000L);
}

/*
 * How long poll may wait: forever while members live; once the last is
 * gone, what is left of REUSEPORT_SHIM_LINGER_MS (0: finish now).  During
 * the linger the listener stays open and its backlog holds the
 * connections that arrive, for the next member that joins.
 */
static int
linger_left(struct timespec *empty_since)
{
	long left;

	if (o.g.live > 0)
		return (-1);
	if (empty_since->tv_sec < 0)
		(void) clock_gettime(CLOCK_MONOTONIC, empty_since);
	left = o.linger_ms - elapsed_ms(empty_since);
	return (left > 0 ? (int)left : 0);
}

/* The earlier of *next and in_us from now. */
static void
due(int64_t *next, uint64_t in_us)
{
	if (*next < 0 || (int64_t)in_us < *next)
		*next = (int64_t)in_us;
}

/*
 * Our rendezvous name was removed (a cleaner of /tmp): make it again, or
 * no member could join any more.  Joiners already in the old socket's
 * backlog are taken first.
 */
static void
rv_heal(void)
{
	struct stat st;
	int fd;

	if (lstat(o.path, &st) == 0 || errno != ENOENT)
		return;
	if ((fd = rv_listen(o.path)) < 0) {
		shim_log(LOG_LVL_WARN, "%s was removed and cannot be made "
		    "again: %s", o.path, strerror(errno));
		return;
	}
	accept_members();
	(void) real.fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(fd, F_SETFL, O_NONBLOCK);
	plat_poller_del(o.poller, o.rvfd, 0);
	(void) real.close(o.rvfd);
	o.rvfd = fd;
	o.rvpaused = o.paused;
	(void) plat_poller_set(o.poller, fd, 0, !o.paused);
	shim_log(LOG_LVL_WARN, "%s was removed; made it again", o.path);
	/* Its copy is of the old socket: a takeover would be unreachable. */
	standby_drop("holds the old rendezvous socket");
	o.sb_tried_us = 0;
}

/*
 * What waits on time: a paused accept is tried again, the core's timers
 * run (blocked endpoints, peers that never said HELLO), the rendezvous
 * name is checked.  The ms until the next of these, or -1.
 */
static int
timers(void)
{
	uint64_t now = util_now_us();
	int64_t next = -1, core;

	if (o.paused) {
		if (now - o.paused_us >= RETRY_MS * 1000)
			o.paused = 0;
		else
			due(&next, o.paused_us + RETRY_MS * 1000 - now);
	}
	if ((core = gcore_tick(&o.g, now)) >= 0)
		due(&next, (uint64_t)core);
	if (now - o.rv_checked_us >= RV_CHECK_MS * 1000) {
		rv_heal();
		o.rv_checked_us = now;
	}
	due(&next, o.rv_checked_us + RV_CHECK_MS * 1000 - now);
	return (next < 0 ? -1 : (int)((next + 999) / 1000));
}

/*
 * Each member costs the owner an fd, each connection in flight another:
 * take the hard limit, and admit only as many members as leave room for
 * the listener's work (else, full, it could serve nobody).
 */
static void
fd_budget(void)
{
	o.max_members = util_fd_members(1, GCORE_MAX_MEMBERS, FD_RESERVE);
}

/* The earlier of two poll timeouts (-1: none). */
static int
min_timeout(int a, int b)
{
	if (a < 0)
		return (b);
	if (b < 0)
		return (a);
	return (a < b ? a : b);
}

/* What an owner and a standby taking over set up alike. */
static void
setup(const struct owner_args *a, int lfd, int rvfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);

	(void) real.fcntl(lfd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(rvfd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(rvfd, F_SETFL, O_NONBLOCK);
	/* The listener is ours alone: one wakeup takes a batch. */
	(void) real.fcntl(lfd, F_SETFL, real.fcntl(lfd, F_GETFL) | O_NONBLOCK);

	memset(&o, 0, sizeof (o));
	o.sbfd = -1;
	o.args = a;
	if (plat_service_of(getpid(), o.service, sizeof (o.service)) != 0)
		o.service[0] = '\0';
	fd_budget();
	o.rv_checked_us = util_now_us();
	o.lfd = lfd;
	o.rvfd = rvfd;
	o.path = a->path;
	o.uid = a->uid;
	o.linger_ms = a->linger_ms;
	o.policy = a->policy;
	(void) clock_gettime(CLOCK_MONOTONIC, &o.started);
	if (gcore_init(&o.g, a->policy, o.max_members, &shell_ops,
	    NULL) != 0 || real.getsockname(lfd, (struct sockaddr *)&ss,
	    &len) != 0 || proto_addr_from_sockaddr(&o.gaddr,
	    (struct sockaddr *)&ss, len) != 0) {
		shim_log(LOG_LVL_ERROR, "owner cannot start: %s",
		    strerror(errno));
		finish();
	}
	o.backlog = 1;		/* as the first bind listened */
	if ((o.poller = plat_poller_new()) == NULL ||
	    plat_poller_set(o.poller, rvfd, 0, 1) != 0) {
		shim_log(LOG_LVL_ERROR, "owner cannot poll: %s",
		    strerror(errno));
		finish();
	}
}

/* The owner's loop; it never returns. */
_Noreturn static void
run(void)
{
	struct timespec empty_since = { -1, 0 };

	for (;;) {
		uint32_t tok[64];
		int n, timeout, rv_ready = 0, l_ready = 0, want, later;

		(void) collect_acks();
		later = timers();
		dispatch_orphans();
		standby_up();
		holding(0);
		if (o.lopt_dirty)
			lopts_apply();
		want = !o.paused && any_eligible();

		/* The listener is watched only while someone can take more. */
		if (want != o.lwatched &&
		    plat_poller_set(o.poller, o.lfd, 1, want) == 0)
			o.lwatched = want;
		/* Out of fds, joiners wait in the rendezvous backlog too. */
		if (o.paused != o.rvpaused &&
		    plat_poller_set(o.poller, o.rvfd, 0, !o.paused) == 0)
			o.rvpaused = o.paused;
		/*
		 * Sleeping with connections out: ask to be woken by the next
		 * ack (ackmem.h), then look once more, as one may have come
		 * between our last look and the flag.
		 */
		timeout = min_timeout(linger_left(&empty_since), later);
		if (o.sbfd < 0 && o.sbmem != NULL && o.args->prog)
			timeout = min_timeout(timeout, (int)o.sb_wait_ms);
		if (o.board != NULL && o.g.unacked > 0) {
			ackmem_sleeping(o.board, 1);
			if (collect_acks() > 0)
				timeout = 0;
		}
		n = plat_poller_wait(o.poller, tok, 64, timeout);
		if (o.board != NULL)
			ackmem_sleeping(o.board, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			shim_log(LOG_LVL_ERROR, "poll: %s", strerror(errno));
			finish();
		}
		for (int k = 0; k < n; k++) {
			if (tok[k] == 0)
				rv_ready = 1;
			else if (tok[k] == 1)
				l_ready = 1;
			else if (tok[k] == SB_TOKEN)
				standby_drop("is gone");
			else if (tok[k] - EP_TOKEN(0) < o.g.n &&
			    o.g.eps[tok[k] - EP_TOKEN(0)].state != GCORE_FREE)
				ep_read(tok[k] - EP_TOKEN(0));
		}
		if (rv_ready)
			accept_members();
		dispatch_orphans();
		if (l_ready && o.lwatched)
			accept_conns();
		if (o.g.live == 0 && linger_left(&empty_since) == 0)
			finish();
		if (o.g.live > 0)
			empty_since.tv_sec = -1;
	}
}

_Noreturn void
owner_run(const struct owner_args *a)
{
	int lfd, rvfd, nul;

	shim_log_set_role("owner ");
	owner_signals();
	plat_set_procname(OWNER_PROG);
	plat_owner_sched();

	/* Our two fds at 3 and 4; 0 and 1 to /dev/null; 2 kept for logs. */
	lfd = a->listenfd;
	rvfd = a->rvfd;
	if (rvfd == 3) {
		int t = real.fcntl(rvfd, F_DUPFD, 5);

		if (t < 0)
			_exit(1);
		(void) real.close(rvfd);
		rvfd = t;
	}
	if ((lfd = move_fd(lfd, 3)) < 0 || (rvfd = move_fd(rvfd, 4)) < 0)
		_exit(1);
	plat_closefrom(5);
	if ((nul = open("/dev/null", O_RDWR)) >= 0) {
		(void) real.dup2(nul, 0);
		(void) real.dup2(nul, 1);
		if (nul > 2)
			(void) real.close(nul);
	}
	if (a->udp || a->policy == SHIM_POLICY_SHARED)
		udp_owner_run(a, lfd, rvfd);
	setup(a, lfd, rvfd);
	o.board = ackmem_create(&o.boardfd);
	/* The standby needs the board; without one, no standby either. */
	if (o.board != NULL)
		o.sbmem = standby_mem_create(&o.sbmemfd);
	shim_log(LOG_LVL_INFO, "group started at %s (policy %s)", a->path,
	    config_policy_name(a->policy));
	run();
}

_Noreturn void
owner_takeover(const struct owner_args *a, const struct standby_member *m,
    size_t n, struct standby_mem *mem)
{
	uint32_t held = standby_mem_held(mem), seq = standby_mem_seq(mem);
	uint32_t nth = standby_mem_took_over(mem);
	size_t k, adopted = 0;

	shim_log_set_role("owner ");
	owner_signals();
	plat_owner_sched();
	/* What ps and pgrep -f show: "rpshim-owner tcp ADDRESS..." now. */
	if (a->role != NULL && strlen(a->role) >= 3) {
		size_t len = strlen(a->role);

		memset(a->role, 0, len);
		memcpy(a->role, "tcp", 3);
	}
	setup(a, a->listenfd, a->rvfd);
	o.boardfd = a->boardfd;
	o.board = ackmem_adopt(a->boardfd);
	o.sbmem = mem;
	o.sbmemfd = a->memfd;
	(void) real.close(a->mirrorfd);
	(void) gcore_resume(&o.g, seq, standby_mem_departed(mem));
	for (k = 0; k < n; k++) {
		size_t i = m[k].slot;
		int board = m[k].board && o.board != NULL;

		if (sep_room(i) != 0 || gcore_adopt(&o.g, i, m[k].pid,
		    m[k].listening, board, board ? ackmem_read(o.board, i) : 0,
		    standby_mem_slot_sent(mem, i),
		    standby_mem_slot_handed(mem, i)) != 0) {
			(void) real.close(m[k].fd);
			continue;
		}
		memset(&o.seps[i], 0, sizeof (o.seps[i]));
		o.seps[i].fd = m[k].fd;
		o.seps[i].backlog = m[k].backlog;
		(void) real.fcntl(m[k].fd, F_SETFL, O_NONBLOCK);
		if (plat_poller_set(o.poller, m[k].fd, EP_TOKEN(i),
		    1) != 0) {
			gcore_end(&o.g, i, GCORE_EJECT, "cannot be watched");
			continue;
		}
		adopted++;
	}
	/*
	 * The listener keeps the queue the dead owner set, which the mirror
	 * told us (one of an earlier build did not: then it is never set
	 * again, as a first LISTEN after the takeover would shrink it to
	 * one member's).
	 */
	o.backlog = standby_mem_backlog(mem) > 0 ? standby_mem_backlog(mem) :
	    INT_MAX;
	shim_log(LOG_LVL_WARN, "the owner of %s died; took over its %zu "
	    "member(s) (takeover %u); %u connection(s) it had accepted and "
	    "not yet sent are lost", a->path, adopted, nth, held);
	run();
}
