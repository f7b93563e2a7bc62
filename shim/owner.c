/*
 * owner.c: the owner's loop.
 *
 * Single-threaded, poll-driven, and allocation-free after start (memory
 * comes from plat_alloc): it runs in a child forked from an arbitrary
 * program, where malloc's locks may have been held by another thread.
 * Every input from an endpoint is validated; a bad one closes that
 * endpoint, never the owner.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "ackmem.h"
#include "log.h"
#include "owner.h"
#include "platform.h"
#include "policy.h"
#include "proto.h"
#include "real.h"
#include "util.h"

#define	EP_MAX_UNACKED	POLICY_MAX_UNACKED	/* sent to one, unaccepted */
#define	MAX_MEMBERS	4096	/* members of one group: refused beyond, loudly */
#define	ACCEPT_BATCH	64	/* connections taken per wakeup */
#define	RETRY_MS	20	/* a blocked endpoint or a paused accept, again */
#define	HELLO_MS	2000	/* a peer that says nothing is dropped then */
#define	RV_CHECK_MS	2000	/* is our rendezvous name still there? */
#define	FD_RESERVE	64	/* fds kept from members: listener, spare... */
#define	STAT_BATCH	64	/* status records per write */
#define	NONE		(-1)
#define	RUNLOG_MAX	4	/* log2(POLICY_RUN_MAX) */
_Static_assert(POLICY_RUN_MAX == 1 << RUNLOG_MAX, "RUNLOG_MAX");

enum ep_state {
	EP_FREE = 0,
	EP_NEW,		/* connected, HELLO not yet seen */
	EP_JOINED,	/* a member, not listening */
	EP_LISTENING
};

/* A connection sent to an endpoint, or waiting for one. */
struct conn {
	int		fd;
	uint32_t	seq;
	int32_t		next;	/* next in its list, or NONE */
	struct proto_addr peer;
};

struct ep {
	int		fd;
	enum ep_state	state;
	int		listened;	/* has listened once: no second LISTEN_OK */
	int		first;		/* the first binder's member */
	int		blocked;	/* a send failed for want of room: wait */
	uint64_t	since_us;	/* when it connected (EP_NEW) */
	long		pid;
	int32_t		head, tail;	/* un-acked connections, oldest first */
	uint32_t	unacked;
	uint64_t	delivered;	/* connections it acknowledged */
	uint32_t	last_sent;	/* seq of the last CONN sent to it */
	int		board;		/* acks on the board (slot i) */
	uint32_t	slot;		/* that slot's value as we last knew it */
	uint32_t	busy;		/* us per connection, from its board */
	uint32_t	unboarded;	/* acks by record since its board moved */
	unsigned	runlog;		/* log2 of policy_run_for(busy) */
	uint32_t	rxlen;
	uint8_t		rx[PROTO_REC_SIZE];
};

static struct {
	int		lfd;
	int		rvfd;
	const char	*path;
	uid_t		uid;
	long		linger_ms;
	struct proto_addr gaddr;
	int		backlog;
	int		lnonblock;	/* listener O_NONBLOCK set by us */
	int		paused;		/* out of fds: wait for one to close */
	uint64_t	paused_us;	/* since when */
	size_t		nblocked;	/* endpoints with blocked set */
	uint64_t	blocked_us;	/* when the last one was blocked */
	size_t		nnew;		/* endpoints in EP_NEW */
	size_t		max_members;	/* what our fd limit allows */
	uint64_t	rv_checked_us;
	int		rvpaused;	/* the rendezvous is out of the poller */
	uint32_t	seq;
	uint64_t	last_conn_us;	/* when the last connection was handed */
	uint32_t	next_id;
	uint32_t	unacked;	/* over all endpoints */
	struct ackmem_board *board;	/* NULL: members send ACK records */
	int		boardfd;
	uint64_t	delivered;
	struct timespec	started;
	enum shim_policy policy;
	struct policy_state pol;

	/* Endpoint slots; poller token 2 + i is eps[i]. */
	struct plat_poller *poller;
	int		lwatched;	/* the listener is in the poller */
	struct ep	*eps;
	struct policy_ep *peps;
	size_t		n_eligible;	/* slots with peps[i].eligible */
	size_t		n_run[RUNLOG_MAX + 1];	/* of those, by runlog */
	size_t		cap;
	size_t		n;		/* slots in use or freed: high water */
	size_t		live;		/* endpoints not EP_FREE */

	/* Connection records: a pool with a free list. */
	struct conn	*conns;
	size_t		ncap;
	int32_t		free_head;
	int32_t		orphan_head, orphan_tail;	/* no endpoint yet */
} o;

static void *
regrow(void *old, size_t oldsz, size_t newsz)
{
	void *p = plat_alloc(newsz);

	if (p == NULL)
		return (NULL);
	if (old != NULL)
		memcpy(p, old, oldsz);
	plat_free(old, oldsz);
	return (p);
}

static int
grow_eps(void)
{
	size_t nc = o.cap == 0 ? 16 : o.cap * 2;
	struct ep *e;
	struct policy_ep *pe;

	e = regrow(o.eps, o.cap * sizeof (*e), nc * sizeof (*e));
	if (e == NULL)
		return (-1);
	o.eps = e;
	pe = regrow(o.peps, o.cap * sizeof (*pe), nc * sizeof (*pe));
	if (pe == NULL)
		return (-1);
	o.peps = pe;
	if (policy_reserve(&o.pol, nc) != 0)
		return (-1);
	o.cap = nc;
	return (0);
}

static int
grow_conns(void)
{
	size_t nc = o.ncap == 0 ? 64 : o.ncap * 2;
	struct conn *c;

	c = regrow(o.conns, o.ncap * sizeof (*c), nc * sizeof (*c));
	if (c == NULL)
		return (-1);
	for (size_t i = o.ncap; i < nc; i++)
		c[i].next = (i + 1 < nc) ? (int32_t)(i + 1) : o.free_head;
	o.free_head = (int32_t)o.ncap;
	o.conns = c;
	o.ncap = nc;
	return (0);
}

static int32_t
conn_new(int fd, const struct proto_addr *peer)
{
	int32_t k;

	if (o.free_head == NONE && grow_conns() != 0)
		return (NONE);
	k = o.free_head;
	o.free_head = o.conns[k].next;
	o.conns[k].fd = fd;
	o.conns[k].next = NONE;
	o.conns[k].peer = *peer;
	return (k);
}

static void
conn_free(int32_t k)
{
	(void) real.close(o.conns[k].fd);
	o.conns[k].fd = -1;
	o.conns[k].next = o.free_head;
	o.free_head = k;
	o.paused = 0;	/* an fd came free */
}

static void
list_append(int32_t *head, int32_t *tail, int32_t k)
{
	o.conns[k].next = NONE;
	if (*tail == NONE)
		*head = k;
	else
		o.conns[*tail].next = k;
	*tail = k;
}

/*
 * Make the listener non-blocking, once the application's own fd for it is
 * gone (the first binder listened or left): before that the flag would
 * show through its fcntl(F_GETFL).  Until then a readable listener gets a
 * single accept per wakeup, which cannot block on Linux, where a reset
 * connection stays in the accept queue.
 */
static void
listener_nonblock(void)
{
	int fl;

	if (o.lnonblock)
		return;
	fl = real.fcntl(o.lfd, F_GETFL);
	if (fl >= 0 && real.fcntl(o.lfd, F_SETFL, fl | O_NONBLOCK) == 0)
		o.lnonblock = 1;
}

static void
set_eligible(size_t i, int on)
{
	if (o.peps[i].eligible == on)
		return;
	o.peps[i].eligible = (uint8_t)on;
	if (on)
		o.n_eligible++;
	else
		o.n_eligible--;
	if (on)
		o.n_run[o.eps[i].runlog]++;
	else
		o.n_run[o.eps[i].runlog]--;
}

/*
 * Endpoint i's application keeps away busy us per connection (0: not yet
 * measured): the round-robin run it could take.
 */
static void
set_run(size_t i, uint32_t busy)
{
	unsigned r = policy_run_for(busy), lg = 0;

	o.eps[i].busy = busy;
	while ((1U << lg) < r)
		lg++;
	if (o.eps[i].runlog == lg)
		return;
	if (o.peps[i].eligible) {
		o.n_run[o.eps[i].runlog]--;
		o.n_run[lg]++;
	}
	o.eps[i].runlog = lg;
}

/*
 * Round-robin's longest run: the shortest any eligible endpoint allows,
 * so that none is given a run its application is too slow for (the
 * policy keeps the counts exact whatever the runs).
 */
static uint32_t
group_run(void)
{
	unsigned lg = 0;

	if (o.n_eligible == 0)
		return (1);
	while (lg < RUNLOG_MAX && o.n_run[lg] == 0)
		lg++;
	return (1U << lg);
}

/* Slot i changed: what the policy sees of it, and the policy's index. */
static void
update_policy_view(size_t i)
{
	struct ep *e = &o.eps[i];
	int listening = e->state == EP_LISTENING;

	set_eligible(i, listening && e->unacked < EP_MAX_UNACKED &&
	    !e->blocked);
	o.peps[i].listening = (uint8_t)listening;
	o.peps[i].unacked = e->unacked;
	policy_update(&o.pol, o.peps, i);
}

static void board_seen(size_t i, uint32_t v);

/* How an endpoint ends, which decides what becomes of its connections. */
enum ep_end {
	END_GONE,	/* its member closed it: hand on what it never took */
	END_EJECT,	/* we close it, its member alive: what is queued is its */
	END_DONE	/* a status client, a refused or silent peer: no member */
};

static void
ep_drop(size_t i, enum ep_end how, const char *why)
{
	struct ep *e = &o.eps[i];
	int32_t k, next;

	/*
	 * What it took, it said so on the board before the application saw
	 * it: forget those (handing them on would serve one connection
	 * twice).  The rest it never saw: give them on.
	 */
	if (e->board) {
		/* Read and retire the slot at once: late writes move nothing. */
		board_seen(i, ackmem_retire(o.board, i, o.seq));
	}
	if (how == END_GONE)
		shim_log(LOG_LVL_INFO, "member pid %ld left (%s); %u "
		    "connection(s) to hand on", e->pid, why, e->unacked);
	else if (how == END_EJECT)
		shim_log(LOG_LVL_ERROR, "member pid %ld: %s; closing its "
		    "connection (the %u connection(s) queued to it stay "
		    "its own)", e->pid, why, e->unacked);
	plat_poller_del(o.poller, e->fd, (uint32_t)(2 + i));
	(void) real.close(e->fd);
	if (e->first)
		listener_nonblock();
	o.unacked -= e->unacked;
	/*
	 * A member that is gone took its socket's queue with it: hand on
	 * what it never took.  A live one may still read what is queued:
	 * handing that on too would serve one connection twice, so our
	 * copies go (its copies in flight keep the connections open).
	 */
	for (k = e->head; k != NONE; k = next) {
		next = o.conns[k].next;
		if (how == END_GONE)
			list_append(&o.orphan_head, &o.orphan_tail, k);
		else
			conn_free(k);
	}
	if (e->state == EP_NEW)
		o.nnew--;
	if (e->blocked)
		o.nblocked--;
	set_eligible(i, 0);	/* counted by its runlog: before the memset */
	memset(e, 0, sizeof (*e));
	e->fd = -1;
	e->state = EP_FREE;
	o.peps[i].idle = 0;
	update_policy_view(i);
	o.paused = 0;	/* an fd came free */
	o.live--;
}

static int
ep_send(size_t i, const struct proto_rec *r, int connfd)
{
	return (proto_send(o.eps[i].fd, r, connfd));
}

/* A send or read error that says the member's end is closed. */
static int
member_gone(int err)
{
	return (err == EPIPE || err == ECONNRESET || err == ENOTCONN);
}

/* Hand connection k to an endpoint, or park it until one can take it. */
static void
dispatch(int32_t k)
{
	/*
	 * Round-robin runs only while connections come close together: a
	 * worker that took one is then likely still awake for the next,
	 * which is what a run saves.  Further apart, each connection wakes
	 * a worker anyway, and someone trying a few requests by hand sees
	 * them go round one at a time.
	 */
	uint64_t now = util_now_us();
	int dense = now - o.last_conn_us <= POLICY_RUN_BUDGET_US;

	o.last_conn_us = now;
	for (;;) {
		struct proto_rec r;
		size_t i;

		o.pol.run = dense ? group_run() : 1;
		i = policy_pick(&o.pol, o.peps, o.n, &o.conns[k].peer);

		if (i >= o.n) {
			list_append(&o.orphan_head, &o.orphan_tail, k);
			return;
		}
		/*
		 * A new number for each send, also when handing on: an
		 * endpoint's list stays in send order, which is the order its
		 * board slot counts in.
		 */
		memset(&r, 0, sizeof (r));
		r.type = REC_CONN;
		r.seq = o.conns[k].seq = ++o.seq;
		r.addr = o.conns[k].peer;
		/*
		 * Sequence numbers wrap: an idle endpoint's slot left 2^31
		 * sends behind would read as ahead, and its member's forward-
		 * only write would refuse the next one.  Before that, while
		 * nothing is out to it, bring the slot up to just behind.
		 */
		if (o.eps[i].board && o.eps[i].head == NONE &&
		    r.seq - 1 - o.eps[i].slot > (1U << 30)) {
			o.eps[i].slot = r.seq - 1;
			ackmem_reset(o.board, i, o.eps[i].slot);
		}
		if (ep_send(i, &r, o.conns[k].fd) == 0) {
			struct ep *e = &o.eps[i];

			list_append(&e->head, &e->tail, k);
			e->unacked++;
			o.unacked++;
			e->last_sent = r.seq;
			o.peps[i].idle = 0;
			update_policy_view(i);
			return;
		}
		if (member_gone(errno)) {
			ep_drop(i, END_GONE, strerror(errno));
		} else {
			/*
			 * No room (its queue is full, or this user has too
			 * many fds in flight: ETOOMANYREFS), or no memory:
			 * our trouble, not the member's.  It sits out a
			 * moment; the connection goes to another.
			 */
			if (o.nblocked == 0)
				shim_log(LOG_LVL_WARN, "cannot send to member "
				    "pid %ld: %s; retrying", o.eps[i].pid,
				    strerror(errno));
			o.eps[i].blocked = 1;
			o.nblocked++;
			o.blocked_us = now;
			update_policy_view(i);
		}
	}
}

/* Blocked endpoints may take connections again: room may have come. */
static void
unblock_all(void)
{
	for (size_t i = 0; i < o.n && o.nblocked > 0; i++) {
		if (o.eps[i].state != EP_FREE && o.eps[i].blocked) {
			o.eps[i].blocked = 0;
			o.nblocked--;
			update_policy_view(i);
		}
	}
}

static int
any_eligible(void)
{
	return (o.n_eligible > 0);
}

static void
dispatch_orphans(void)
{
	while (o.orphan_head != NONE && any_eligible()) {
		int32_t k = o.orphan_head;

		o.orphan_head = o.conns[k].next;
		if (o.orphan_head == NONE)
			o.orphan_tail = NONE;
		dispatch(k);
	}
}

static void
accept_conns(void)
{
	for (int n = 0; n < ACCEPT_BATCH; n++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof (ss);
		struct proto_addr peer;
		int32_t k;
		int fd;

		if ((n > 0 && !o.lnonblock) || !any_eligible())
			return;
		fd = plat_accept_cloexec(o.lfd, (struct sockaddr *)&ss, &len);
		if (fd < 0) {
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
		    len) != 0 || (k = conn_new(fd, &peer)) == NONE) {
			(void) real.close(fd);
			continue;
		}
		dispatch(k);
	}
}

/* The listener listens from the group's first bind; this sets its backlog. */
static int
do_listen(int backlog)
{
	if (backlog <= o.backlog)
		return (0);
	if (real.listen(o.lfd, backlog) != 0)
		return (errno);
	o.backlog = backlog;
	return (0);
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

/* Endpoint i took connection k, the one after prev in its list. */
static void
taken(size_t i, int32_t prev, int32_t k)
{
	struct ep *e = &o.eps[i];

	if (prev == NONE)
		e->head = o.conns[k].next;
	else
		o.conns[prev].next = o.conns[k].next;
	if (e->tail == k)
		e->tail = prev;
	conn_free(k);
	e->unacked--;
	o.unacked--;
	e->delivered++;
	o.delivered++;
	update_policy_view(i);
	if (o.nblocked > 0)
		unblock_all();	/* fds in flight went down */
}

/*
 * An ACK record: drop the connection with sequence seq from endpoint i's
 * list.  With a board, one already dropped is no error (the record only
 * woke us, and the board may have said so first), as long as it was sent
 * to this endpoint; without one, an ack of nothing is a broken member.
 */
static int
ack(size_t i, uint32_t seq)
{
	int32_t prev = NONE;

	for (int32_t k = o.eps[i].head; k != NONE;
	    prev = k, k = o.conns[k].next) {
		if (o.conns[k].seq == seq) {
			taken(i, prev, k);
			/*
			 * A board endpoint whose acks come only as records
			 * (exec'd into a program without its board, or the
			 * board off) no longer measures its time: forget it.
			 */
			if (o.eps[i].board &&
			    ++o.eps[i].unboarded > 2 * POLICY_RUN_MAX)
				set_run(i, 0);
			return (0);
		}
	}
	return (o.eps[i].board && o.eps[i].last_sent != 0 &&
	    (int32_t)(seq - o.eps[i].last_sent) <= 0 ? 0 : -1);
}

/*
 * Endpoint i's slot reads v: it took everything up to v (in send order).
 * Only a value that moved forward and stays within what it was sent
 * counts: the board is written by members, and a slot nobody writes
 * (its member exec'd) must never come to look new as numbers wrap.
 */
static void
board_seen(size_t i, uint32_t v)
{
	struct ep *e = &o.eps[i];
	int32_t k;

	if ((int32_t)(v - e->slot) <= 0)
		return;
	if ((int32_t)(v - e->last_sent) > 0) {
		/*
		 * Ahead of what it was sent: not the member's ack but a stray
		 * write.  Left there, the member's forward-only writes could
		 * never move the slot again (its acks lost, its clients
		 * without a FIN): put back what we knew.
		 */
		if (ackmem_repair(o.board, i, v, e->slot) == 0)
			shim_log(LOG_LVL_WARN, "member pid %ld: ack board slot "
			    "%zu held %u, beyond what it was sent; reset",
			    e->pid, i, v);
		return;
	}
	e->slot = v;
	while ((k = e->head) != NONE && (int32_t)(v - o.conns[k].seq) >= 0)
		taken(i, NONE, k);
}

static void
board_ack(void *arg, size_t i, uint32_t seq, uint32_t busy)
{
	(void) arg;
	if (i < o.n && o.eps[i].state != EP_FREE && o.eps[i].board) {
		board_seen(i, seq);
		set_run(i, busy);
		o.eps[i].unboarded = 0;
	}
}

/* What members wrote on the board since we last looked. */
static size_t
collect_acks(void)
{
	if (o.board == NULL || o.unacked == 0)
		return (0);
	return (ackmem_collect(o.board, o.n, board_ack, NULL));
}

static int32_t
count_members(void)
{
	int32_t n = 0;

	for (size_t j = 0; j < o.n; j++)
		n += o.eps[j].state == EP_JOINED ||
		    o.eps[j].state == EP_LISTENING;
	return (n);
}

static int32_t
count_waiting(void)
{
	int32_t n = 0;

	for (int32_t k = o.orphan_head; k != NONE; k = o.conns[k].next)
		n++;
	return (n);
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
		ssize_t w = send(fd, buf + off, len - off,
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
	int32_t members = count_members();
	int fd = o.eps[i].fd, fl;
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
	g.opts[STAT_G_DELIVERED_LO] = (int32_t)(o.delivered & 0xffffffffU);
	g.opts[STAT_G_DELIVERED_HI] = (int32_t)(o.delivered >> 32);
	g.opts[STAT_G_WAITING] = count_waiting();
	g.opts[STAT_G_LINGER] = (int32_t)o.linger_ms;
	g.opts[STAT_G_RUN] = o.policy != SHIM_POLICY_ROUNDROBIN ? 0 :
	    (int32_t)group_run();
	if (stat_put(fd, &g, buf, &n, 0) != 0)
		return;
	for (size_t j = 0; j < o.n; j++) {
		const struct ep *e = &o.eps[j];
		struct proto_rec r;

		if (e->state != EP_JOINED && e->state != EP_LISTENING)
			continue;
		memset(&r, 0, sizeof (r));
		r.type = REC_STAT_EP;
		r.seq = o.peps[j].id;
		r.arg = (int32_t)e->pid;
		r.nopts = STAT_E_COUNT;
		r.opts[STAT_E_STATE] = e->state == EP_LISTENING ? 2 : 1;
		r.opts[STAT_E_UNACKED] = (int32_t)e->unacked;
		r.opts[STAT_E_DELIVERED_LO] =
		    (int32_t)(e->delivered & 0xffffffffU);
		r.opts[STAT_E_DELIVERED_HI] = (int32_t)(e->delivered >> 32);
		r.opts[STAT_E_IDLE] = o.peps[j].idle;
		r.opts[STAT_E_FIRST] = e->first;
		r.opts[STAT_E_BUSY_US] = (int32_t)(e->busy > INT32_MAX ?
		    INT32_MAX : e->busy);
		if (stat_put(fd, &r, buf, &n, 0) != 0)
			return;
	}
	(void) stat_put(fd, NULL, buf, &n, 1);
}

static int
handle(size_t i, const struct proto_rec *r)
{
	struct ep *e = &o.eps[i];
	struct proto_rec out;

	memset(&out, 0, sizeof (out));
	if (e->state == EP_NEW) {
		if (r->type == REC_STAT) {
			send_stat(i);
			return (1);	/* done with this client */
		}
		if (r->type != REC_HELLO)
			return (-1);
		if ((size_t)count_members() >= o.max_members) {
			shim_log(LOG_LVL_ERROR, "group full (%zu members%s): "
			    "refusing pid %ld", o.max_members,
			    o.max_members < MAX_MEMBERS ? ", as many as the "
			    "owner's fd limit allows" : "", (long)r->arg);
			out.type = REC_WELCOME;
			out.arg = -1;	/* refused */
			out.addr = o.gaddr;
			(void) ep_send(i, &out, -1);
			return (1);
		}
		e->pid = r->arg;
		e->state = EP_JOINED;
		o.nnew--;
		e->first = (o.next_id == 0);
		o.peps[i].id = o.next_id++;
		shim_log(LOG_LVL_INFO, "member pid %ld joined", e->pid);
		out.type = REC_WELCOME;
		out.arg = (int32_t)o.policy;
		out.addr = o.gaddr;
		/* A board only for a member that says it takes one. */
		if (o.board == NULL || i >= ACKMEM_SLOTS ||
		    !(r->seq & HELLO_TAKES_BOARD))
			return (ep_send(i, &out, -1));
		/* Nothing sent yet is its; the slot counts from here. */
		ackmem_reset(o.board, i, o.seq);
		ackmem_clear_busy(o.board, i);
		e->board = 1;
		e->slot = o.seq;
		out.seq = (uint32_t)i;
		return (ep_send(i, &out, o.boardfd));
	}
	switch (r->type) {
	case REC_LISTEN: {
		int err = do_listen(r->arg);

		if (e->first)
			listener_nonblock();
		if (!e->listened) {
			out.type = REC_LISTEN_OK;
			out.arg = err;
			listener_opts(&out);
			if (ep_send(i, &out, -1) != 0)
				return (-1);
		}
		if (err == 0) {
			e->state = EP_LISTENING;
			e->listened = 1;
		}
		update_policy_view(i);
		return (0);
	}
	case REC_ACK:
		return (ack(i, r->seq));
	case REC_IDLE:
		/* Stale if a connection is on its way to it already. */
		o.peps[i].idle = r->seq == e->last_sent;
		update_policy_view(i);
		return (0);
	case REC_UNLISTEN:
		if (e->state == EP_LISTENING)
			e->state = EP_JOINED;
		update_policy_view(i);
		return (0);
	default:
		return (-1);
	}
}

/* Read what endpoint i sent; drop it on end of stream or bad input. */
static void
ep_read(size_t i)
{
	struct ep *e = &o.eps[i];
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
		n = recvmsg(e->fd, &mh, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (mh.msg_controllen > 0 && n >= 0) {
		/* Members never send fds: close what came, and the member. */
		proto_close_fds(&mh);
		ep_drop(i, END_EJECT, "sent a file descriptor");
		return;
	}
	if (n == 0 || (n < 0 && member_gone(errno))) {
		ep_drop(i, END_GONE, n == 0 ? "closed" : strerror(errno));
		return;
	}
	if (n < 0)
		return;		/* ENOBUFS, ENOMEM: ours, read again later */
	have = e->rxlen + (size_t)n;
	for (off = 0; have - off >= PROTO_REC_SIZE; off += PROTO_REC_SIZE) {
		struct proto_rec r;

		int h = proto_decode(buf + off, &r) == 0 ? handle(i, &r) : -1;

		if (h < 0) {
			ep_drop(i, END_EJECT, "invalid record");
			return;
		}
		if (h > 0) {
			ep_drop(i, END_DONE, NULL);
			return;
		}
	}
	e->rxlen = (uint32_t)(have - off);
	memcpy(e->rx, buf + off, e->rxlen);
}

static void
accept_members(void)
{
	for (;;) {
		int fd = real.accept(o.rvfd, NULL, NULL);
		uid_t uid;
		size_t i;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* Else the pending joiner wakes us forever. */
				shim_log(LOG_LVL_WARN, "cannot take a member: "
				    "%s", strerror(errno));
				o.paused = 1;
				o.paused_us = util_now_us();
			}
			return;
		}
		if (plat_peer_euid(fd, &uid) != 0 || uid != o.uid) {
			shim_log(LOG_LVL_WARN, "refused a member: %s",
			    uid != o.uid ? "another user" : "no credentials");
			(void) real.close(fd);
			continue;
		}
		(void) real.fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void) real.fcntl(fd, F_SETFL, O_NONBLOCK);
		for (i = 0; i < o.n && o.eps[i].state != EP_FREE; i++)
			continue;
		if (i == o.cap && grow_eps() != 0) {
			shim_log(LOG_LVL_ERROR, "out of memory for members");
			(void) real.close(fd);
			continue;
		}
		if (i == o.n)
			o.n++;
		memset(&o.eps[i], 0, sizeof (o.eps[i]));
		memset(&o.peps[i], 0, sizeof (o.peps[i]));
		o.eps[i].fd = fd;
		o.eps[i].state = EP_NEW;
		o.eps[i].since_us = util_now_us();
		o.eps[i].head = o.eps[i].tail = NONE;
		if (plat_poller_set(o.poller, fd, (uint32_t)(2 + i), 1) != 0) {
			shim_log(LOG_LVL_ERROR, "cannot watch a member: %s",
			    strerror(errno));
			(void) real.close(fd);
			o.eps[i].state = EP_FREE;
			continue;
		}
		o.live++;
		o.nnew++;
	}
}

/*
 * The last member left.  The name goes first, then the rendezvous
 * socket, and the port last: while we hold the port no new owner can
 * exist, so the name we unlink is ours; a joiner that comes in between
 * finds no owner, retries its bind, and starts the next group.
 */
static void
finish(void)
{
	(void) unlink(o.path);
	(void) real.close(o.rvfd);
	(void) real.close(o.lfd);
	while (o.orphan_head != NONE) {
		int32_t k = o.orphan_head;

		o.orphan_head = o.conns[k].next;
		(void) real.close(o.conns[k].fd);
	}
	shim_log(LOG_LVL_INFO, "last member left; group closed");
	_exit(0);
}

static void
reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	/* The application's handlers must never run in the owner. */
	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = SIG_DFL;
	(void) sigemptyset(&sa.sa_mask);
	for (int s = 1; s < 128; s++)
		(void) sigaction(s, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void) sigaction(SIGHUP, &sa, NULL);
	(void) sigaction(SIGINT, &sa, NULL);
	(void) sigaction(SIGPIPE, &sa, NULL);
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

	if (o.live > 0)
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
}

/*
 * What waits on time: blocked endpoints and a paused accept are tried
 * again, peers that never said HELLO are dropped (else one keeps the
 * group and its port after the last member), the rendezvous name is
 * checked.  The ms until the next of these, or -1.
 */
static int
timers(void)
{
	uint64_t now = util_now_us();
	int64_t next = -1;

	if (o.nblocked > 0) {
		if (now - o.blocked_us >= RETRY_MS * 1000)
			unblock_all();
		else
			due(&next, o.blocked_us + RETRY_MS * 1000 - now);
	}
	if (o.paused) {
		if (now - o.paused_us >= RETRY_MS * 1000)
			o.paused = 0;
		else
			due(&next, o.paused_us + RETRY_MS * 1000 - now);
	}
	for (size_t i = 0; i < o.n && o.nnew > 0; i++) {
		struct ep *e = &o.eps[i];

		if (e->state != EP_NEW)
			continue;
		if (now - e->since_us >= HELLO_MS * 1000) {
			shim_log(LOG_LVL_WARN, "a peer said nothing for %d ms; "
			    "dropped", HELLO_MS);
			ep_drop(i, END_DONE, NULL);
		} else {
			due(&next, e->since_us + HELLO_MS * 1000 - now);
		}
	}
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
	struct rlimit rl;

	o.max_members = MAX_MEMBERS;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t cur = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = cur;
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)MAX_MEMBERS + 2 * FD_RESERVE)
		o.max_members = rl.rlim_cur > 4 * FD_RESERVE ?
		    (size_t)rl.rlim_cur - 2 * FD_RESERVE :
		    (size_t)rl.rlim_cur / 4 + 1;
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

/* The owner's loop; it never returns. */
_Noreturn void
owner_run(const struct owner_args *a)
{
	struct timespec empty_since = { -1, 0 };
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);
	int lfd, rvfd, nul;

	shim_log_set_role("owner ");
	reset_signals();
	plat_set_procname("rpshim-owner");
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
	(void) real.fcntl(lfd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(rvfd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(rvfd, F_SETFL, O_NONBLOCK);

	memset(&o, 0, sizeof (o));
	fd_budget();
	o.rv_checked_us = util_now_us();
	o.board = ackmem_create(&o.boardfd);
	o.lfd = lfd;
	o.rvfd = rvfd;
	o.path = a->path;
	o.uid = a->uid;
	o.linger_ms = a->linger_ms;
	o.policy = a->policy;
	(void) clock_gettime(CLOCK_MONOTONIC, &o.started);
	o.free_head = o.orphan_head = o.orphan_tail = NONE;
	policy_init(&o.pol, a->policy);
	if (real.getsockname(lfd, (struct sockaddr *)&ss, &len) != 0 ||
	    proto_addr_from_sockaddr(&o.gaddr, (struct sockaddr *)&ss,
	    len) != 0 || grow_eps() != 0) {
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
	shim_log(LOG_LVL_INFO, "group started at %s (policy %s)", a->path,
	    config_policy_name(a->policy));

	for (;;) {
		uint32_t tok[64];
		int n, timeout, rv_ready = 0, l_ready = 0, want, later;

		(void) collect_acks();
		later = timers();
		dispatch_orphans();
		want = !o.paused && any_eligible();

		/* The listener is watched only while someone can take more. */
		if (want != o.lwatched &&
		    plat_poller_set(o.poller, lfd, 1, want) == 0)
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
		if (o.board != NULL && o.unacked > 0) {
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
			else if (tok[k] - 2 < o.n &&
			    o.eps[tok[k] - 2].state != EP_FREE)
				ep_read(tok[k] - 2);
		}
		if (rv_ready)
			accept_members();
		dispatch_orphans();
		if (l_ready && o.lwatched)
			accept_conns();
		if (o.live == 0 && linger_left(&empty_since) == 0)
			finish();
		if (o.live > 0)
			empty_since.tv_sec = -1;
	}
}

/* Reap the intermediate process; 0 if it reported the owner started. */
static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return (0);	/* reaped by the application: fine */
	}
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
}

/*
 * The owner as a program of its own, OWNER_PROG beside the library:
 * nothing of the application's image is copied (illumos reserves swap
 * for all of a forked image, so a large program's fork can fail), and ps,
 * pidof and pkill see rpshim-owner, not the daemon.  -1 with errno
 * ENOENT if there is no such program, so the caller can fork instead.
 */
static int
spawn_prog(const struct owner_args *a)
{
	char prog[RV_PATH_MAX + 32], nums[5][24];
	char *argv[8];
	pid_t pid;
	int lfd, rvfd, rc;

	if (plat_self_dir(prog, sizeof (prog)) != 0 ||
	    strlen(prog) + sizeof ("/" OWNER_PROG) > sizeof (prog)) {
		errno = ENOENT;
		return (-1);
	}
	(void) strcat(prog, "/" OWNER_PROG);
	if (access(prog, X_OK) != 0) {
		errno = ENOENT;
		return (-1);
	}
	/* Copies that survive exec (ours are close-on-exec), away from 0-2. */
	if ((lfd = real.fcntl(a->listenfd, F_DUPFD, 10)) < 0)
		return (-1);
	if ((rvfd = real.fcntl(a->rvfd, F_DUPFD, 10)) < 0) {
		(void) real.close(lfd);
		return (-1);
	}
	(void) snprintf(nums[0], sizeof (nums[0]), "%d", lfd);
	(void) snprintf(nums[1], sizeof (nums[1]), "%d", rvfd);
	(void) snprintf(nums[2], sizeof (nums[2]), "%d", (int)a->policy);
	(void) snprintf(nums[3], sizeof (nums[3]), "%ld", (long)a->uid);
	(void) snprintf(nums[4], sizeof (nums[4]), "%ld", a->linger_ms);
	argv[0] = OWNER_PROG;
	for (int i = 0; i < 5; i++)
		argv[i + 1] = nums[i];
	argv[6] = (char *)a->path;
	argv[7] = NULL;
	rc = plat_spawn(prog, argv, &pid);
	(void) real.close(lfd);
	(void) real.close(rvfd);
	if (rc != 0)
		return (-1);
	return (reap(pid));
}

int
owner_args_parse(struct owner_args *a, int argc, char **argv)
{
	long v[5];

	if (argc != 7)
		return (-1);
	memset(a, 0, sizeof (*a));
	for (int i = 0; i < 5; i++) {
		char *end;

		errno = 0;
		v[i] = strtol(argv[i + 1], &end, 10);
		if (errno != 0 || end == argv[i + 1] || *end != '\0' ||
		    v[i] < 0)
			return (-1);
	}
	if (v[0] > INT_MAX || v[1] > INT_MAX || v[2] > SHIM_POLICY_LEASTLOADED ||
	    strlen(argv[6]) >= sizeof (a->path))
		return (-1);
	a->listenfd = (int)v[0];
	a->rvfd = (int)v[1];
	a->policy = (enum shim_policy)v[2];
	a->uid = (uid_t)v[3];
	a->linger_ms = v[4];
	(void) strcpy(a->path, argv[6]);
	return (0);
}

int
owner_spawn(const struct owner_args *a)
{
	pid_t pid, mid;
	int saved = errno;

	if (spawn_prog(a) == 0)
		return (0);
	if (errno != ENOENT)
		shim_log(LOG_LVL_WARN, "cannot start %s: %s; forking the "
		    "owner instead", OWNER_PROG, strerror(errno));
	errno = saved;
	/*
	 * Double fork: the owner is not our child (nothing of ours to reap,
	 * no zombie if the application never waits), and setsid detaches it
	 * from the terminal, so ^C to the application spares the group.
	 */
	pid = plat_fork(1);
	if (pid < 0)
		return (-1);
	if (pid == 0) {
		(void) setsid();
		mid = plat_fork(0);
		if (mid != 0)
			_exit(mid < 0 ? 1 : 0);
		owner_run(a);
	}
	return (reap(pid));
}
