/*
 * test_gcore.c: the group's core without sockets.  A fake shell records
 * what the core sends, closes and repairs, fails sends when told to, and
 * keeps a model of where each connection may be, checked on every call
 * and after every event: every connection is in exactly one place (sent
 * to one endpoint and un-acked, waiting, acked by exactly one, closed);
 * the core closes one only for the endpoint that acked it, the ejected
 * endpoint that holds it, or at the end with no member left; it never
 * sends one that an endpoint could still take.  What a standby would
 * count for each member (ops->handed) is what it keeps of what it was
 * handed, told before each CONN goes; taken over, the counts go on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fakes.h"
#include "gcore.h"
#include "log.h"

#define	FD0		1000	/* connection i is fd FD0 + i */
#define	MAXCONN		8192
#define	MAXMID		4096	/* endpoint lives in one history */
#define	MAXLOG		64
#define	ANY		((size_t)-1)
#define	RETRY_US	((uint64_t)GCORE_RETRY_MS * 1000)

/* What may close a connection now: the event the core is in. */
enum phase {
	P_NONE,		/* nothing may be closed */
	P_ACK,		/* a record acks seq for mid */
	P_BOARD,	/* mid's board reads v: up to v, in order */
	P_EJECT,	/* mid is ejected: what it holds */
	P_RESET,	/* mid is gone: what was reset for it */
	P_FINISH	/* no member is left: what waits */
};

enum cstate { C_NONE = 0, C_HELD, C_ACKED, C_CLOSED };

/* A connection as the model sees it. */
struct mconn {
	enum cstate	st;
	int		owner;	/* the endpoint life that may take it, or -1 */
	uint32_t	seq;	/* of its last successful send */
	int		by;	/* acked by, or closed for, this life */
	int		reset;	/* reset: its client saw the end */
};

/* One endpoint's life (a slot is reused by later lives). */
struct mep {
	size_t		slot;
	int		alive;
	int		board;
	uint32_t	last_sent;	/* by successful sends */
	uint32_t	slot_val;	/* its board slot as the core set it */
	uint64_t	delivered;
};

struct sent {
	size_t		ep;
	uint32_t	seq;
	int		fd;
	int		err;
};

struct repair {
	size_t		ep;
	uint32_t	bad;
	uint32_t	seq;
};

static struct fake {
	struct gcore	*g;

	/* Sends to fail_ep (ANY: all) fail with fail_err while set. */
	int		fail_err;
	size_t		fail_ep;
	/* Random histories: each send fails with odds fail_pct. */
	unsigned	fail_pct;
	uint32_t	rng;
	/* What board_retire answers: the slot as it was, or this. */
	int		retire_set;
	uint32_t	retire_v;

	/* Records, in order (the counts go on past MAXLOG). */
	size_t		nsent;
	struct sent	sent[MAXLOG];
	size_t		nclosed;
	int		closed[MAXLOG];
	size_t		nepclosed;
	size_t		epclosed[MAXLOG];
	size_t		nrepair;
	struct repair	repair[MAXLOG];
	size_t		nmove;		/* board_move calls */
	uint32_t	last_prev;	/* prev of the last CONN sent */

	/* The model. */
	enum phase	phase;
	int		pmid;		/* the life the phase is about */
	uint32_t	pv;		/* P_ACK: seq; P_BOARD: v */
	uint32_t	plast;		/* P_BOARD: the last seq it took */
	int		pany;		/* P_BOARD: it took one */
	int		in_tick;	/* silent peers may be dropped */
	uint64_t	now;
	size_t		end_slot;	/* an end the test or a send expects */
	enum gcore_end	end_how;
	int		end_set;
	int		slot_mid[256];	/* slot -> its life now, or -1 */
	int		nmid;
	struct mep	mep[MAXMID];
	int		nconn;
	struct mconn	conn[MAXCONN];
	size_t		held;		/* conns C_HELD */
	uint64_t	delivered;
	uint64_t	departed;	/* delivered by lives that ended */
	uint64_t	handed[256];	/* by slot: the last ops->handed */

	/* What a history did: closes by phase, hand-ons, faults. */
	size_t		nphase[P_FINISH + 1];
	size_t		nhanded;
	size_t		nnoroom;
	size_t		nreturned;
	size_t		nrefused;
	size_t		nreset;
} f;

static struct gcore g;
static uint32_t stamp[MAXCONN];
static uint32_t stamp_now;

static struct mconn *
mc(int fd)
{
	assert_true(fd >= FD0 && fd < FD0 + f.nconn);
	return (&f.conn[fd - FD0]);
}

static int
mid_of(size_t slot)
{
	assert_true(slot < 256);
	return (f.slot_mid[slot]);
}

static int
gone_err(int err)
{
	return (err == EPIPE || err == ECONNRESET || err == ENOTCONN);
}

/* --- the fake shell ----------------------------------------------------- */

static int
fk_send_conn(void *ctx, size_t ep, uint32_t seq, uint32_t prev,
    const struct proto_addr *peer, int connfd)
{
	static const int errs[] = { EAGAIN, ENOBUFS, ENOMEM,
#ifdef ETOOMANYREFS
		ETOOMANYREFS,
#endif
		EPIPE, ECONNRESET, ENOTCONN };
	struct mconn *c = mc(connfd);
	int m = mid_of(ep), err = 0;

	assert_ptr_equal(ctx, &f);
	assert_non_null(peer);
	/* Only a connection no endpoint could still take goes out. */
	assert_int_equal(c->st, C_HELD);
	assert_int_equal(c->owner, -1);
	assert_true(m >= 0 && f.mep[m].alive);
	assert_int_equal(g.eps[ep].state, GCORE_LISTENING);
	assert_false(g.eps[ep].blocked);
	assert_true(g.eps[ep].unacked < GCORE_MAX_UNACKED);
	assert_int_equal(seq, g.seq);
	/*
	 * Every member's count told before the CONN goes (a kill as the
	 * send returns must find it counted), a returned one's already
	 * down: none counted twice.
	 */
	for (size_t j = 0; j < g.n; j++) {
		if (g.eps[j].state == GCORE_JOINED ||
		    g.eps[j].state == GCORE_LISTENING)
			assert_int_equal(f.handed[j], g.eps[j].delivered +
			    g.eps[j].unacked + (j == ep));
	}
	/* The chain a member's board ack is made from: its last CONN. */
	if (g.eps[ep].board)
		assert_int_equal(prev, g.eps[ep].chain);
	f.last_prev = prev;

	if (f.fail_err != 0 && (f.fail_ep == ANY || f.fail_ep == ep))
		err = f.fail_err;
	else if (f.fail_pct > 0 && fake_rand(&f.rng) % 100 < f.fail_pct)
		err = errs[fake_rand(&f.rng) % (sizeof (errs) /
		    sizeof (errs[0]))];
	if (f.nsent < MAXLOG) {
		f.sent[f.nsent].ep = ep;
		f.sent[f.nsent].seq = seq;
		f.sent[f.nsent].fd = connfd;
		f.sent[f.nsent].err = err;
	}
	f.nsent++;
	if (err == 0) {
		c->owner = m;
		c->seq = seq;
		f.mep[m].last_sent = seq;
	} else if (!gone_err(err)) {
		f.nnoroom++;
	} else {
		assert_false(f.end_set);
		f.end_set = 1;
		f.end_slot = ep;
		f.end_how = GCORE_GONE;
	}
	return (err);
}

static void
fk_close_conn(void *ctx, int connfd)
{
	struct mconn *c = mc(connfd);

	assert_ptr_equal(ctx, &f);
	if (f.nclosed < MAXLOG)
		f.closed[f.nclosed] = connfd;
	f.nclosed++;
	assert_int_equal(c->st, C_HELD);
	switch (f.phase) {
	case P_ACK:
		assert_int_equal(c->owner, f.pmid);
		assert_int_equal(c->seq, f.pv);
		c->st = C_ACKED;
		break;
	case P_BOARD:
		assert_int_equal(c->owner, f.pmid);
		assert_true((int32_t)(c->seq - f.pv) <= 0);
		assert_true((int32_t)(f.pv - f.mep[f.pmid].last_sent) <= 0);
		assert_true(!f.pany || (int32_t)(c->seq - f.plast) > 0);
		f.pany = 1;
		f.plast = c->seq;
		c->st = C_ACKED;
		break;
	case P_EJECT:
		assert_int_equal(c->owner, f.pmid);
		c->st = C_CLOSED;
		break;
	case P_RESET:
		assert_int_equal(c->owner, f.pmid);
		assert_true(c->reset);
		c->st = C_CLOSED;
		break;
	case P_FINISH:
		assert_int_equal(c->owner, -1);
		assert_int_equal(g.live, 0);
		c->st = C_CLOSED;
		break;
	default:
		fail_msg("connection fd %d closed outside an ack, an eject or "
		    "the end", connfd);
	}
	if (c->st == C_ACKED) {
		f.mep[f.pmid].delivered++;
		f.delivered++;
	}
	c->by = f.pmid;
	f.held--;
	f.nphase[f.phase]++;
}

/* Only what waits in an endpoint when no endpoint listens any more. */
static void
fk_reset_conn(void *ctx, int connfd)
{
	struct mconn *c = mc(connfd);

	assert_ptr_equal(ctx, &f);
	assert_int_equal(c->st, C_HELD);
	assert_true(c->owner >= 0 && f.mep[c->owner].alive);
	assert_false(c->reset);
	for (size_t j = 0; j < g.n; j++)
		assert_true(g.eps[j].state != GCORE_LISTENING);
	c->reset = 1;
	f.nreset++;
}

static void
fk_ep_closed(void *ctx, size_t ep)
{
	int m = mid_of(ep);
	enum gcore_end how;

	assert_ptr_equal(ctx, &f);
	assert_true(m >= 0 && f.mep[m].alive);
	if (f.nepclosed < MAXLOG)
		f.epclosed[f.nepclosed] = ep;
	f.nepclosed++;
	if (f.end_set && f.end_slot == ep) {
		how = f.end_how;
		f.end_set = 0;
	} else {
		/* Unasked: only a peer silent since HELLO_MS ago. */
		assert_true(f.in_tick);
		assert_int_equal(g.eps[ep].state, GCORE_NEW);
		assert_true(f.now - g.eps[ep].since_us >=
		    (uint64_t)GCORE_HELLO_MS * 1000);
		how = GCORE_DONE;
	}
	if (how == GCORE_DONE)
		assert_int_equal(g.eps[ep].unacked, 0);
	/* What it took is told, and the group's, before the standby hears. */
	if (g.eps[ep].state != GCORE_NEW) {
		assert_int_equal(f.handed[ep], g.eps[ep].delivered);
		f.departed += f.mep[m].delivered;
	}
	assert_int_equal(g.departed, f.departed);
	/* Its board's last word took what it covers (else: served twice). */
	if (f.phase == P_BOARD && f.pmid == m &&
	    (int32_t)(f.pv - f.mep[m].last_sent) <= 0) {
		for (int k = 0; k < f.nconn; k++)
			assert_false(f.conn[k].st == C_HELD &&
			    f.conn[k].owner == m &&
			    (int32_t)(f.conn[k].seq - f.pv) <= 0);
	}
	f.mep[m].alive = 0;
	f.slot_mid[ep] = -1;
	/*
	 * Gone: what it held, nobody holds, but what was reset is closed.
	 * Ejected: it still holds all.
	 */
	if (how == GCORE_GONE) {
		for (int k = 0; k < f.nconn; k++) {
			if (f.conn[k].st == C_HELD && f.conn[k].owner == m &&
			    !f.conn[k].reset) {
				f.conn[k].owner = -1;
				f.nhanded++;
			}
		}
	}
	f.phase = how == GCORE_EJECT ? P_EJECT : how == GCORE_GONE ?
	    P_RESET : P_NONE;
	f.pmid = m;
}

static void
fk_board_reset(void *ctx, size_t ep, uint32_t seq)
{
	int m = mid_of(ep);

	assert_ptr_equal(ctx, &f);
	assert_true(m >= 0);
	f.mep[m].slot_val = seq;
}

static int
fk_board_repair(void *ctx, size_t ep, uint32_t bad, uint32_t seq)
{
	assert_ptr_equal(ctx, &f);
	if (f.nrepair < MAXLOG) {
		f.repair[f.nrepair].ep = ep;
		f.repair[f.nrepair].bad = bad;
		f.repair[f.nrepair].seq = seq;
	}
	f.nrepair++;
	return (0);
}

static int
fk_board_move(void *ctx, size_t ep, uint32_t from, uint32_t to)
{
	int m = mid_of(ep);

	assert_ptr_equal(ctx, &f);
	assert_true(m >= 0);
	f.nmove++;
	if (f.mep[m].slot_val != from)
		return (-1);
	f.mep[m].slot_val = to;
	return (0);
}

static uint32_t
fk_board_retire(void *ctx, size_t ep, uint32_t seq)
{
	int m = mid_of(ep);

	assert_ptr_equal(ctx, &f);
	(void) seq;
	f.phase = P_BOARD;
	f.pmid = m;
	f.pv = f.retire_set ? f.retire_v : f.mep[m].slot_val;
	f.pany = 0;
	f.retire_set = 0;
	return (f.pv);
}

static void
fk_handed(void *ctx, size_t ep, uint64_t n)
{
	int m = mid_of(ep);

	assert_ptr_equal(ctx, &f);
	assert_true(m >= 0 && f.mep[m].alive);
	assert_true(g.eps[ep].state == GCORE_JOINED ||
	    g.eps[ep].state == GCORE_LISTENING);
	f.handed[ep] = n;
}

static const struct gcore_ops fake_ops = {
	.send_conn = fk_send_conn,
	.close_conn = fk_close_conn,
	.reset_conn = fk_reset_conn,
	.ep_closed = fk_ep_closed,
	.board_reset = fk_board_reset,
	.board_repair = fk_board_repair,
	.board_move = fk_board_move,
	.board_retire = fk_board_retire,
	.handed = fk_handed
};

/* --- the invariant ------------------------------------------------------ */

/* Connection k of the pool, listed: held, once, by the one expected. */
static void
check_listed(int32_t k, int owner)
{
	int fd = g.conns[k].fd;
	struct mconn *c = mc(fd);

	assert_int_equal(c->st, C_HELD);
	assert_int_equal(c->owner, owner);
	assert_int_not_equal(stamp[fd - FD0], stamp_now);
	stamp[fd - FD0] = stamp_now;
	if (owner >= 0)
		assert_int_equal(g.conns[k].seq, c->seq);
}

static void
check_all(void)
{
	size_t listed = 0, nnew = 0, nblocked = 0, live = 0, nel = 0;
	size_t nfree = 0, runs = 0;
	uint32_t unacked = 0;
	uint64_t live_delivered = 0;

	stamp_now++;
	for (size_t i = 0; i < g.n; i++) {
		const struct gcore_ep *e = &g.eps[i];
		int m = mid_of(i);
		uint32_t n = 0, last = 0;

		if (e->state == GCORE_FREE) {
			assert_int_equal(m, -1);
			assert_false(g.peps[i].eligible);
			continue;
		}
		assert_true(m >= 0 && f.mep[m].alive);
		live++;
		nnew += e->state == GCORE_NEW;
		nblocked += e->blocked != 0;
		nel += g.peps[i].eligible;
		assert_int_equal(g.peps[i].eligible,
		    e->state == GCORE_LISTENING && !e->blocked &&
		    e->unacked < GCORE_MAX_UNACKED);
		for (int32_t k = e->head; k != GCORE_NONE;
		    k = g.conns[k].next) {
			check_listed(k, m);
			/* In send order, the order its board counts in. */
			assert_true(n == 0 || (int32_t)(g.conns[k].seq -
			    last) > 0);
			last = g.conns[k].seq;
			if (g.conns[k].next == GCORE_NONE)
				assert_int_equal(e->tail, k);
			n++;
		}
		if (n == 0)
			assert_int_equal(e->tail, GCORE_NONE);
		assert_int_equal(e->unacked, n);
		assert_int_equal(e->delivered, f.mep[m].delivered);
		if (e->state != GCORE_NEW)
			assert_int_equal(f.handed[i], e->delivered + n);
		live_delivered += e->delivered;
		assert_int_equal(e->board, f.mep[m].board);
		unacked += n;
		listed += n;
	}
	for (size_t i = g.n; i < 256; i++)
		assert_int_equal(f.slot_mid[i], -1);
	for (int32_t k = g.orphan_head; k != GCORE_NONE; k = g.conns[k].next) {
		check_listed(k, -1);
		if (g.conns[k].next == GCORE_NONE)
			assert_int_equal(g.orphan_tail, k);
		listed++;
	}
	for (int32_t k = g.free_head; k != GCORE_NONE; k = g.conns[k].next)
		nfree++;
	for (size_t r = 0; r <= GCORE_RUNLOG_MAX; r++)
		runs += g.n_run[r];
	/* Every connection held is listed once; the pool adds up. */
	assert_int_equal(listed, f.held);
	assert_int_equal(listed + nfree, g.ncap);
	assert_int_equal(g.unacked, unacked);
	assert_int_equal(g.delivered, f.delivered);
	assert_int_equal(g.departed, f.departed);
	assert_int_equal(g.delivered, g.departed + live_delivered);
	assert_int_equal(g.live, live);
	assert_int_equal(g.nnew, nnew);
	assert_int_equal(g.nblocked, nblocked);
	assert_int_equal(g.n_eligible, nel);
	assert_int_equal(runs, nel);
	assert_int_equal(gcore_waiting(&g), listed - unacked);
	assert_false(f.end_set);
}

/* --- driving the core --------------------------------------------------- */

static void
reset(enum shim_policy pol, size_t max_members)
{
	memset(&f, 0, sizeof (f));
	f.g = &g;
	f.fail_ep = ANY;
	f.now = 1000000;
	for (size_t i = 0; i < 256; i++)
		f.slot_mid[i] = -1;
	shim_log_level = -1;	/* ejects and refusals log as errors */
	assert_int_equal(gcore_init(&g, pol, max_members, &fake_ops, &f), 0);
}

static void
done(void)
{
	gcore_fini(&g);
}

/* A peer connects. */
static size_t
ep_new(void)
{
	size_t i;

	assert_int_equal(gcore_ep_new(&g, f.now, &i), 0);
	assert_true(i < 256);
	assert_int_equal(f.slot_mid[i], -1);
	assert_true(f.nmid < MAXMID);
	f.slot_mid[i] = f.nmid;
	memset(&f.mep[f.nmid], 0, sizeof (f.mep[0]));
	f.mep[f.nmid].slot = i;
	f.mep[f.nmid].alive = 1;
	f.nmid++;
	return (i);
}

static enum gcore_welcome
join(size_t i, int board)
{
	enum gcore_welcome w = gcore_join(&g, i, 100 + (long)i, board);

	if (w == GCORE_WELCOMED_BOARD) {
		f.mep[mid_of(i)].board = 1;
		assert_int_equal(f.mep[mid_of(i)].slot_val, g.seq);
	}
	return (w);
}

/* A member, listening. */
static size_t
member(int board)
{
	size_t i = ep_new();

	assert_int_equal(join(i, board),
	    board ? GCORE_WELCOMED_BOARD : GCORE_WELCOMED);
	gcore_listen(&g, i, 1);
	return (i);
}

static void
end(size_t i, enum gcore_end how)
{
	f.end_set = 1;
	f.end_slot = i;
	f.end_how = how;
	gcore_end(&g, i, how, "test");
	assert_false(f.end_set);
	f.phase = P_NONE;
}

static struct proto_addr
peer_of(int n)
{
	struct proto_addr a;
	uint32_t ip = htonl(0x0a000000u + (uint32_t)n);

	memset(&a, 0, sizeof (a));
	a.family = AF_INET;
	a.port = htons((uint16_t)(1024 + n));
	memcpy(a.addr, &ip, 4);
	return (a);
}

/* A connection comes; its fd. */
static int
conn(void)
{
	int fd = FD0 + f.nconn;
	struct proto_addr peer = peer_of(f.nconn);

	assert_true(f.nconn < MAXCONN);
	f.conn[f.nconn].st = C_HELD;
	f.conn[f.nconn].owner = -1;
	f.nconn++;
	f.held++;
	assert_int_equal(gcore_conn(&g, fd, &peer, f.now), 0);
	f.phase = P_NONE;
	return (fd);
}

static int
ack(size_t i, uint32_t seq)
{
	int rc;

	f.phase = P_ACK;
	f.pmid = mid_of(i);
	f.pv = seq;
	rc = gcore_ack(&g, i, seq);
	f.phase = P_NONE;
	return (rc);
}

/* i's slot reads v, and idle as its idle word. */
static void
board_said(size_t i, uint32_t v, uint32_t idle)
{
	f.phase = P_BOARD;
	f.pmid = mid_of(i);
	f.pv = v;
	f.pany = 0;
	gcore_board(&g, i, v, 0, idle);
	f.phase = P_NONE;
}

static void
board(size_t i, uint32_t v)
{
	board_said(i, v, GCORE_IDLE_NONE);
}

static int
give_back(size_t i, uint32_t seq)
{
	int rc;

	/* It cannot take this one: whoever gets it next is the only one. */
	for (int k = 0; k < f.nconn; k++) {
		if (f.conn[k].st == C_HELD && f.conn[k].owner == mid_of(i) &&
		    f.conn[k].seq == seq)
			f.conn[k].owner = -1;
	}
	rc = gcore_return(&g, i, seq, f.now);
	f.phase = P_NONE;
	f.nreturned += rc == 0;
	return (rc);
}

static int64_t
tick(void)
{
	int64_t r;

	f.in_tick = 1;
	r = gcore_tick(&g, f.now);
	f.in_tick = 0;
	f.phase = P_NONE;
	return (r);
}

static void
orphans(void)
{
	gcore_dispatch_orphans(&g, f.now);
	f.phase = P_NONE;
}

/* The endpoint connection fd was last sent to, and its seq. */
static size_t
holder(int fd, uint32_t *seq)
{
	struct mconn *c = mc(fd);

	assert_int_equal(c->st, C_HELD);
	if (seq != NULL)
		*seq = c->seq;
	return (c->owner < 0 ? ANY : f.mep[c->owner].slot);
}

/* --- one case per fault -------------------------------------------------- */

/*
 * No room to send (a full queue, fds in flight, memory): the member
 * stays, so does the connection; the endpoint sits out until the retry
 * interval or an ack.
 */
static void
no_room(int err)
{
	size_t a, b;
	int c1, c2, c3;

	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(0);
	b = member(0);
	f.fail_err = err;
	f.fail_ep = a;
	c1 = conn();
	check_all();
	assert_int_equal(f.nepclosed, 0);
	assert_int_equal(f.nsent, 2);
	assert_int_equal(f.sent[0].ep, a);
	assert_int_equal(f.sent[0].err, err);
	assert_int_equal(holder(c1, NULL), b);
	assert_true(g.eps[a].blocked);
	assert_int_equal(g.eps[a].state, GCORE_LISTENING);

	/* Blocked, it is passed over; the retry interval brings it back. */
	c2 = conn();
	assert_int_equal(holder(c2, NULL), b);
	assert_int_equal(f.nsent, 3);
	f.fail_err = 0;
	f.now += RETRY_US - 1;
	assert_int_equal(tick(), 1);
	assert_true(g.eps[a].blocked);
	f.now += 1;
	assert_int_equal(tick(), -1);
	assert_false(g.eps[a].blocked);
	check_all();

	/* Blocked again, an ack brings it back before that. */
	f.fail_err = err;
	c3 = conn();
	assert_int_equal(holder(c3, NULL), b);
	assert_true(g.eps[a].blocked);
	f.fail_err = 0;
	assert_int_equal(ack(b, mc(c1)->seq), 0);
	assert_false(g.eps[a].blocked);
	assert_int_equal(holder(conn(), NULL), a);
	check_all();

	/* Alone and blocked: the connection waits, then goes to it. */
	end(b, GCORE_GONE);
	orphans();
	assert_int_equal(holder(c2, NULL), a);
	assert_int_equal(holder(c3, NULL), a);
	f.fail_err = err;
	c1 = conn();
	assert_int_equal(holder(c1, NULL), ANY);
	assert_int_equal(gcore_waiting(&g), 1);
	f.fail_err = 0;
	orphans();
	assert_int_equal(holder(c1, NULL), ANY);
	f.now += RETRY_US;
	(void) tick();
	orphans();
	assert_int_equal(holder(c1, NULL), a);
	assert_int_equal(f.nepclosed, 1);	/* b only, by the test */
	check_all();
	done();
}

#ifdef ETOOMANYREFS
static void
test_no_room_etoomanyrefs(void **state)
{
	(void) state;
	no_room(ETOOMANYREFS);
}
#endif

static void
test_no_room_eagain(void **state)
{
	(void) state;
	no_room(EAGAIN);
}

static void
test_no_room_enobufs(void **state)
{
	(void) state;
	no_room(ENOBUFS);
}

static void
test_no_room_enomem(void **state)
{
	(void) state;
	no_room(ENOMEM);
}

/* The member's end is closed: it goes, and what it never took goes on. */
static void
gone(int err)
{
	size_t a, b;
	int c1, c2, c3;

	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(1);
	b = member(0);
	c1 = conn();
	c2 = conn();
	assert_int_equal(holder(c1, NULL), a);
	assert_int_equal(holder(c2, NULL), b);
	f.fail_err = err;
	f.fail_ep = a;
	c3 = conn();
	assert_int_equal(f.nepclosed, 1);
	assert_int_equal(f.epclosed[0], a);
	assert_int_equal(g.eps[a].state, GCORE_FREE);
	assert_int_equal(holder(c3, NULL), b);
	assert_int_equal(holder(c1, NULL), ANY);	/* handed on */
	check_all();
	orphans();
	assert_int_equal(holder(c1, NULL), b);
	assert_int_equal(f.nclosed, 0);
	assert_int_equal(g.eps[b].unacked, 3);
	check_all();
	done();
}

static void
test_gone_epipe(void **state)
{
	(void) state;
	gone(EPIPE);
}

static void
test_gone_econnreset(void **state)
{
	(void) state;
	gone(ECONNRESET);
}

/* A protocol error: its member may still read what is queued: ours go. */
static void
test_eject_keeps_its_own(void **state)
{
	size_t a, b;
	int c1, c2, c3;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(0);
	b = member(0);
	c1 = conn();
	c2 = conn();
	c3 = conn();
	assert_int_equal(holder(c1, NULL), a);
	assert_int_equal(holder(c3, NULL), a);
	end(a, GCORE_EJECT);
	assert_int_equal(f.nclosed, 2);
	assert_int_equal(f.closed[0], c1);
	assert_int_equal(f.closed[1], c3);
	assert_int_equal(mc(c1)->st, C_CLOSED);
	assert_int_equal(gcore_waiting(&g), 0);
	orphans();
	assert_int_equal(f.nsent, 3);
	assert_int_equal(holder(c2, NULL), b);
	assert_int_equal(g.delivered, 0);
	check_all();
	done();
}

/*
 * shutdown(SHUT_RD) of the last listener: what is queued to it is reset,
 * as the kernel resets its last listener's queue, and closed, not handed
 * on, when it goes.  With another listening, nothing is reset.
 */
static void
test_unlisten_last_resets(void **state)
{
	size_t a, b;
	int c1, c2, c3;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(0);
	b = member(0);
	c1 = conn();
	c2 = conn();
	c3 = conn();
	assert_int_equal(holder(c1, NULL), a);
	assert_int_equal(holder(c2, NULL), b);
	gcore_unlisten(&g, b);
	assert_int_equal(f.nreset, 0);
	gcore_unlisten(&g, a);
	assert_int_equal(f.nreset, 2);
	assert_true(mc(c1)->reset && mc(c3)->reset && !mc(c2)->reset);
	end(a, GCORE_GONE);
	assert_int_equal(f.nclosed, 2);
	assert_int_equal(mc(c1)->st, C_CLOSED);
	assert_int_equal(mc(c3)->st, C_CLOSED);
	assert_int_equal(gcore_waiting(&g), 0);
	/* b's, not reset, is handed on when b goes. */
	end(b, GCORE_GONE);
	assert_int_equal(f.nclosed, 2);
	assert_int_equal(gcore_waiting(&g), 1);
	check_all();
	done();
}

/* A standby takes over: CONNs after seq, departed as the mirror said. */
static void
resume(uint32_t seq, uint64_t departed)
{
	assert_int_equal(gcore_resume(&g, seq, departed), 0);
	f.delivered = f.departed = departed;
}

/*
 * An endpoint taken over from a dead owner, at slot i, as the model's;
 * handed, its count as the dead owner last told it.
 */
static void
adopt_n(size_t i, int listening, int board, uint32_t slot, uint32_t sent,
    uint64_t handed)
{
	assert_int_equal(f.slot_mid[i], -1);
	f.slot_mid[i] = f.nmid;
	memset(&f.mep[f.nmid], 0, sizeof (f.mep[0]));
	f.mep[f.nmid].slot = i;
	f.mep[f.nmid].alive = 1;
	f.mep[f.nmid].board = board;
	f.mep[f.nmid].slot_val = slot;
	f.mep[f.nmid].last_sent = sent;
	f.mep[f.nmid].delivered = handed;
	f.delivered += handed;
	f.nmid++;
	/* The slot's memory may hold anything; the core tells it anew. */
	f.handed[i] = ~handed;
	assert_int_equal(gcore_adopt(&g, i, 100 + (long)i, listening, board,
	    slot, sent, handed), 0);
	assert_int_equal(g.eps[i].delivered, handed);
	assert_int_equal(f.handed[i], handed);
}

static void
adopt(size_t i, int listening, int board, uint32_t slot, uint32_t sent)
{
	adopt_n(i, listening, board, slot, sent, 0);
}

/*
 * A standby takes over: CONNs go on after the dead owner's last; the
 * members' acks of what it sent (on the board, along the old chain, or
 * by record) are no error and move nothing of ours; a board member's
 * next CONN is chained to the last the dead owner sent it.
 */
static void
test_takeover(void **state)
{
	size_t a = 3, b = 5, c;
	uint32_t seq;
	int c1, c2;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	resume(1000, 0);
	adopt(a, 1, 1, 990, 998);
	adopt(b, 1, 0, 0, 0);
	assert_int_equal(g.live, 2);
	assert_int_equal(g.n, 6);
	/* Old acks: on the board along the old chain, and by record. */
	board(a, 995);
	assert_int_equal(f.nrepair, 0);
	assert_int_equal(ack(b, 999), 0);
	assert_int_equal(ack(a, 997), 0);
	/* A record about what nobody sent is still an error. */
	assert_int_equal(ack(b, 1500), -1);
	/* Round-robin in adoption order: a first, chained to 998. */
	c1 = conn();
	assert_int_equal(holder(c1, &seq), a);
	assert_true((int32_t)(seq - 1000) > 0);
	assert_int_equal(f.last_prev, 998);
	c2 = conn();
	/* The old chain's end, then the new CONN: taken in order. */
	board(a, 998);
	assert_int_equal(mc(c1)->st, C_HELD);
	board(a, seq);
	assert_int_equal(mc(c1)->st, C_ACKED);
	assert_int_equal(holder(c2, &seq), b);
	assert_int_equal(ack(b, seq), 0);
	assert_int_equal(mc(c2)->st, C_ACKED);
	assert_int_equal(f.nrepair, 0);
	/* A new member takes a free slot below the adopted ones. */
	c = member(1);
	assert_true(c < a);
	check_all();
	done();
}

/* What a standby holds of one member when the owner dies. */
struct snap {
	size_t		slot;
	long		pid;
	int		listening;
	int		board;
	uint32_t	slot_val;	/* its board slot now */
	uint32_t	sent;		/* the last CONN sent to it */
	uint64_t	handed;		/* the shared memory's count */
};

/*
 * The owner dies: what its standby finds (the shared memory's counts,
 * the departed count of the last mirror record, which the core had
 * before ep_closed) goes into a new core with nothing of the old one's.
 * Each member's count goes on from what it took and had on its way; the
 * group's from that and what members that left took.  Returns how many
 * were on their way.
 */
static uint64_t
take_over(enum shim_policy pol)
{
	static struct snap sn[256];
	uint64_t departed = g.departed, total = g.delivered, before = total;
	uint32_t seq = g.seq;
	size_t n = 0;

	for (size_t i = 0; i < g.n; i++) {
		const struct gcore_ep *e = &g.eps[i];

		if (e->state != GCORE_JOINED && e->state != GCORE_LISTENING)
			continue;
		sn[n].slot = i;
		sn[n].pid = e->pid;
		sn[n].listening = e->state == GCORE_LISTENING;
		sn[n].board = e->board;
		sn[n].slot_val = f.mep[mid_of(i)].slot_val;
		sn[n].sent = f.mep[mid_of(i)].last_sent;
		sn[n].handed = f.handed[i];
		assert_int_equal(sn[n].handed, e->delivered + e->unacked);
		total += e->unacked;
		n++;
	}
	done();
	reset(pol, 6);
	resume(seq, departed);
	for (size_t k = 0; k < n; k++) {
		adopt_n(sn[k].slot, sn[k].listening, sn[k].board,
		    sn[k].slot_val, sn[k].sent, sn[k].handed);
		assert_int_equal(g.eps[sn[k].slot].pid, sn[k].pid);
	}
	assert_int_equal(g.delivered, total);
	check_all();
	return (total - before);
}

/*
 * stat's counts go on after a takeover: each member's is what it took
 * plus what was on its way (its acks of those count nothing twice), the
 * group's adds what members that left took; then, and after a second
 * takeover, each new connection taken counts once more.
 */
static void
test_takeover_counts(void **state)
{
	size_t a, b, c, d;
	uint32_t s[8], legacy_a, legacy_c;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 6);
	a = member(1);
	b = member(0);
	c = member(1);
	d = member(0);
	for (int k = 0; k < 8; k++)
		(void) holder(conn(), &s[k]);	/* a b c d a b c d */
	board(a, s[0]);
	assert_int_equal(ack(b, s[1]), 0);
	assert_int_equal(ack(b, s[5]), 0);
	assert_int_equal(ack(d, s[3]), 0);
	assert_int_equal(ack(d, s[7]), 0);
	end(d, GCORE_GONE);
	assert_int_equal(g.departed, 2);
	assert_int_equal(g.delivered, 5);
	check_all();
	legacy_a = s[4];
	legacy_c = s[6];

	/* a: 1 taken + 1 on its way; b: 2; c: 0 + 2.  Group: 2 + 6. */
	assert_int_equal(take_over(SHIM_POLICY_ROUNDROBIN), 3);
	assert_int_equal(g.eps[a].delivered, 2);
	assert_int_equal(g.eps[b].delivered, 2);
	assert_int_equal(g.eps[c].delivered, 2);
	assert_int_equal(g.delivered, 8);
	assert_int_equal(g.departed, 2);
	/* Acks of what the dead owner sent: counted already. */
	board(a, legacy_a);
	assert_int_equal(ack(c, s[2]), 0);
	board(c, legacy_c);
	assert_int_equal(g.delivered, 8);
	check_all();

	/* New ones count as they are taken. */
	for (int k = 0; k < 3; k++)
		(void) holder(conn(), &s[k]);	/* a b c */
	board(a, s[0]);
	assert_int_equal(ack(b, s[1]), 0);
	board(c, s[2]);
	assert_int_equal(g.eps[a].delivered, 3);
	assert_int_equal(g.eps[b].delivered, 3);
	assert_int_equal(g.eps[c].delivered, 3);
	assert_int_equal(g.delivered, 11);
	end(b, GCORE_GONE);
	assert_int_equal(g.departed, 5);
	check_all();

	/* Again, with one on its way to c. */
	(void) holder(conn(), &s[0]);
	(void) holder(conn(), &s[1]);
	board(a, s[0]);
	assert_int_equal(take_over(SHIM_POLICY_ROUNDROBIN), 1);
	assert_int_equal(g.eps[a].delivered, 4);
	assert_int_equal(g.eps[c].delivered, 4);
	assert_int_equal(g.delivered, 13);
	(void) holder(conn(), &s[2]);
	assert_int_equal(ack(a, s[2]), 0);
	assert_int_equal(g.eps[a].delivered, 5);
	assert_int_equal(g.delivered, 14);
	check_all();
	done();
}

/*
 * Processes sharing one endpoint (after fork) ack by record in any
 * order: each takes exactly its own.
 */
static void
test_record_acks_exact(void **state)
{
	uint32_t s[3];
	int c[3];
	size_t a;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(0);
	for (int k = 0; k < 3; k++) {
		c[k] = conn();
		(void) holder(c[k], &s[k]);
	}
	assert_int_equal(ack(a, s[1]), 0);
	assert_int_equal(f.nclosed, 1);
	assert_int_equal(f.closed[0], c[1]);
	assert_int_equal(mc(c[0])->st, C_HELD);
	assert_int_equal(g.eps[a].unacked, 2);
	check_all();
	assert_int_equal(ack(a, s[2]), 0);
	assert_int_equal(ack(a, s[0]), 0);
	assert_int_equal(f.closed[1], c[2]);
	assert_int_equal(f.closed[2], c[0]);
	assert_int_equal(g.eps[a].delivered, 3);
	/* Without a board, an ack of nothing is a broken member. */
	assert_int_equal(ack(a, s[1]), -1);
	assert_int_equal(ack(a, s[2] + 1), -1);
	check_all();
	done();
}

/* A board value ahead of what was sent is a stray write: put back. */
static void
test_board_ahead_repaired(void **state)
{
	uint32_t s1, s2, slot;
	size_t a;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(1);
	slot = g.eps[a].slot;
	(void) holder(conn(), &s1);
	(void) holder(conn(), &s2);
	board(a, s2 + 1);
	assert_int_equal(f.nclosed, 0);
	assert_int_equal(f.nrepair, 1);
	assert_int_equal(f.repair[0].ep, a);
	assert_int_equal(f.repair[0].bad, s2 + 1);
	assert_int_equal(f.repair[0].seq, slot);
	assert_int_equal(g.eps[a].unacked, 2);
	/* With a board, an ack of one it was sent but already took is none. */
	assert_int_equal(ack(a, s1), 0);
	assert_int_equal(ack(a, s1), 0);
	assert_int_equal(ack(a, s2 + 1), -1);
	check_all();
	done();
}

/*
 * Processes sharing one endpoint after fork take its records in order but
 * acknowledge out of order: B's ack of the later CONN goes by record (the
 * member's board write from its prev fails), and must not cover A's
 * earlier one, which A could still lose by dying.  Once A's board ack
 * comes, the slot is moved on past B's, so later acks in turn go by the
 * board again; each CONN carries the prev its board ack starts from.
 */
static void
test_shared_endpoint_exact(void **state)
{
	uint32_t s5, s6, start;
	int c5, c6, c7;
	size_t a;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(1);
	start = g.eps[a].slot;
	c5 = conn();
	(void) holder(c5, &s5);
	assert_int_equal(f.last_prev, start);
	c6 = conn();
	(void) holder(c6, &s6);
	assert_int_equal(f.last_prev, s5);
	/* B acks s6 by record: s5 stays A's to acknowledge. */
	assert_int_equal(ack(a, s6), 0);
	assert_int_equal(mc(c5)->st, C_HELD);
	assert_int_equal(mc(c6)->st, C_ACKED);
	assert_int_equal(f.mep[mid_of(a)].slot_val, start);
	/* A acks s5 on the board (from start): the slot goes on to s6. */
	f.mep[mid_of(a)].slot_val = s5;
	board(a, s5);
	assert_int_equal(mc(c5)->st, C_ACKED);
	assert_int_equal(f.mep[mid_of(a)].slot_val, s6);
	assert_int_equal(g.eps[a].slot, s6);
	/* The next CONN's board ack starts from there. */
	c7 = conn();
	assert_int_equal(f.last_prev, s6);
	(void) c7;
	assert_int_equal(f.nrepair, 0);
	check_all();
	done();
}

/* A board value within range takes everything up to it, in order. */
static void
test_board_takes_in_order(void **state)
{
	uint32_t s[4];
	int c[4];
	size_t a;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(1);
	for (int k = 0; k < 4; k++) {
		c[k] = conn();
		(void) holder(c[k], &s[k]);
	}
	board(a, s[2]);
	assert_int_equal(f.nclosed, 3);
	for (int k = 0; k < 3; k++)
		assert_int_equal(f.closed[k], c[k]);
	assert_int_equal(mc(c[3])->st, C_HELD);
	assert_int_equal(g.eps[a].delivered, 3);
	/* A value behind it is old news. */
	board(a, s[1]);
	assert_int_equal(f.nclosed, 3);
	assert_int_equal(f.nrepair, 0);
	/* What it says at its end counts, then the rest goes on. */
	f.retire_set = 1;
	f.retire_v = s[3];
	end(a, GCORE_GONE);
	assert_int_equal(mc(c[3])->st, C_ACKED);
	assert_int_equal(g.delivered, 4);
	check_all();
	done();
}

/*
 * leastloaded: who waits, said on the board.  A word that changes to
 * what the member was sent last makes it idle; one that stays never
 * undoes what an IDLE record said (a member of an older build).
 */
static void
test_board_idle(void **state)
{
	uint32_t s1, s2;
	size_t a, b, h, w;
	int c1, c2;

	(void) state;
	reset(SHIM_POLICY_LEASTLOADED, 8);
	a = member(1);
	b = member(1);
	c1 = conn();
	h = holder(c1, &s1);
	w = h == a ? b : a;
	board_said(h, s1, GCORE_IDLE_NONE);
	assert_false(g.peps[h].idle);

	/* w waits, having taken nothing: the next connection is its. */
	board_said(w, g.eps[w].slot, 0);
	assert_true(g.peps[w].idle);
	c2 = conn();
	assert_int_equal(holder(c2, &s2), w);
	assert_false(g.peps[w].idle);
	/* Its ack, the word unchanged: busy with it, still not idle. */
	board_said(w, s2, 0);
	assert_false(g.peps[w].idle);
	assert_int_equal(mc(c2)->st, C_ACKED);
	/* A word naming an earlier one is stale. */
	board_said(w, s2, s1);
	assert_false(g.peps[w].idle);
	board_said(w, s2, s2);
	assert_true(g.peps[w].idle);

	/* h says IDLE by record; its unchanged word leaves that be. */
	gcore_idle(&g, h, s1);
	assert_true(g.peps[h].idle);
	board_said(h, s1, GCORE_IDLE_NONE);
	assert_true(g.peps[h].idle);
	check_all();
	done();
}

static void
test_member_limit(void **state)
{
	size_t a, c, d;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 2);
	a = member(0);
	(void) member(1);
	c = ep_new();
	assert_int_equal(join(c, 1), GCORE_REFUSED);
	assert_int_equal(g.eps[c].state, GCORE_NEW);
	assert_int_equal(gcore_members(&g), 2);
	end(c, GCORE_DONE);
	end(a, GCORE_GONE);
	d = ep_new();
	assert_int_equal(join(d, 0), GCORE_WELCOMED);
	assert_int_equal(gcore_members(&g), 2);
	check_all();
	done();
}

/* RETURN: the member could not take it; it goes to another, or waits. */
static void
test_return_redispatches(void **state)
{
	uint32_t s1, s2, s3;
	size_t a, b;
	int c1, c2;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(0);
	b = member(0);
	c1 = conn();
	assert_int_equal(holder(c1, &s1), a);
	assert_int_equal(give_back(a, s1), 0);
	assert_int_equal(holder(c1, &s2), b);
	assert_true(s2 != s1);
	assert_true(g.eps[a].blocked);
	assert_int_equal(g.eps[a].unacked, 0);
	assert_int_equal(g.eps[a].delivered, 0);
	assert_int_equal(f.nclosed, 0);
	check_all();
	/*
	 * A seq it no longer holds, or never had: ignored (a hint to hand
	 * one on can never serve one twice), and nothing moves.
	 */
	assert_int_equal(give_back(a, s1), 0);
	assert_int_equal(give_back(b, s2 + 7), 0);
	assert_int_equal(f.nclosed, 0);
	/*
	 * Another member's ack frees fds in flight, not a's: a stays out
	 * until the timer (or its own ack), where a no-room block ends.
	 */
	c2 = conn();
	assert_int_equal(holder(c2, &s3), b);
	assert_int_equal(ack(b, s3), 0);
	assert_true(g.eps[a].blocked);
	check_all();

	/* Alone: it waits, and the member gets it again after a moment. */
	end(b, GCORE_GONE);
	assert_int_equal(holder(c1, NULL), ANY);
	f.now += RETRY_US;
	(void) tick();
	orphans();
	assert_int_equal(holder(c1, &s1), a);
	assert_int_equal(give_back(a, s1), 0);
	assert_int_equal(holder(c1, NULL), ANY);
	orphans();
	assert_int_equal(holder(c1, NULL), ANY);
	f.now += RETRY_US;
	(void) tick();
	orphans();
	assert_int_equal(holder(c1, &s1), a);
	assert_int_equal(ack(a, s1), 0);
	assert_int_equal(g.delivered, 2);	/* c2 by b, c1 by a */
	check_all();
	done();
}

/* A peer that never says HELLO goes; a member's connections are kept. */
static void
test_silent_peer(void **state)
{
	size_t a, p;

	(void) state;
	reset(SHIM_POLICY_ROUNDROBIN, 8);
	a = member(0);
	p = ep_new();
	(void) conn();
	f.now += (uint64_t)GCORE_HELLO_MS * 1000 - 1;
	assert_int_equal(tick(), 1);
	assert_int_equal(g.eps[p].state, GCORE_NEW);
	f.now += 1;
	(void) tick();
	assert_int_equal(g.eps[p].state, GCORE_FREE);
	assert_int_equal(g.eps[a].unacked, 1);
	check_all();
	done();
}

/* --- random histories --------------------------------------------------- */

static size_t
pick_slot(int (*ok)(size_t))
{
	size_t cand[256], n = 0;

	for (size_t i = 0; i < g.n; i++) {
		if (g.eps[i].state != GCORE_FREE && ok(i))
			cand[n++] = i;
	}
	return (n == 0 ? ANY : cand[fake_rand(&f.rng) % n]);
}

static int
is_new(size_t i)
{
	return (g.eps[i].state == GCORE_NEW);
}

static int
is_member(size_t i)
{
	return (g.eps[i].state != GCORE_NEW);
}

static int
is_any(size_t i)
{
	(void) i;
	return (1);
}

static int
has_board(size_t i)
{
	return (is_member(i) && g.eps[i].board);
}

/* The seq of a random connection i holds, or 0 if none. */
static uint32_t
pick_held(size_t i)
{
	uint32_t n = g.eps[i].unacked, r;
	int32_t k = g.eps[i].head;

	if (n == 0)
		return (0);
	for (r = fake_rand(&f.rng) % n; r > 0; r--)
		k = g.conns[k].next;
	return (g.conns[k].seq);
}

/* A member that breaks the protocol is ejected, as the shell does. */
static void
broken(size_t i)
{
	end(i, GCORE_EJECT);
}

static void
step(void)
{
	uint32_t r = fake_rand(&f.rng) % 100, seq, v;
	size_t i;

	if (r < 6) {
		if (g.live < 24)
			(void) ep_new();
	} else if (r < 12) {
		if ((i = pick_slot(is_new)) != ANY) {
			size_t members = gcore_members(&g);
			enum gcore_welcome w = join(i,
			    (int)(fake_rand(&f.rng) & 1));

			assert_int_equal(w == GCORE_REFUSED,
			    members >= g.max_members);
			if (w == GCORE_REFUSED) {
				f.nrefused++;
				end(i, GCORE_DONE);
			}
		}
	} else if (r < 20) {
		if ((i = pick_slot(is_member)) != ANY)
			gcore_listen(&g, i, fake_rand(&f.rng) % 10 != 0);
	} else if (r < 22) {
		if ((i = pick_slot(is_member)) != ANY)
			gcore_unlisten(&g, i);
	} else if (r < 37) {
		(void) conn();
	} else if (r < 55) {
		if ((i = pick_slot(is_member)) == ANY)
			return;
		seq = pick_held(i);
		v = fake_rand(&f.rng) % 20;
		if (v == 0) {
			/*
			 * Never sent to it (nor by an owner it was taken
			 * over from): broken.
			 */
			seq = g.seq + 1;
			assert_int_equal(ack(i, seq), -1);
			broken(i);
		} else if (seq == 0) {
			return;
		} else if (ack(i, seq) != 0) {
			fail_msg("ack of a held connection refused");
		} else if (v == 1 && ack(i, seq) != 0) {
			/* Again: fine with a board (the record only woke). */
			assert_false(g.eps[i].board);
			broken(i);
		}
	} else if (r < 66) {
		uint32_t before;

		if ((i = pick_slot(has_board)) == ANY)
			return;
		v = fake_rand(&f.rng) % 4;
		seq = pick_held(i);
		if (v == 0 || seq == 0)
			seq = g.eps[i].slot - v;		/* old */
		else if (v == 1)
			seq = g.eps[i].last_sent + v;		/* ahead */
		before = (uint32_t)f.nrepair;
		board(i, seq);
		if ((int32_t)(seq - g.eps[i].last_sent) > 0 &&
		    (int32_t)(seq - g.eps[i].slot) > 0)
			assert_int_equal(f.nrepair, before + 1);
		/* Everything up to it is taken. */
		if ((int32_t)(seq - g.eps[i].last_sent) <= 0 &&
		    g.eps[i].head != GCORE_NONE)
			assert_true((int32_t)(g.conns[g.eps[i].head].seq -
			    seq) > 0);
	} else if (r < 71) {
		if ((i = pick_slot(is_member)) != ANY &&
		    (seq = pick_held(i)) != 0) {
			assert_int_equal(give_back(i, seq), 0);
			assert_true(g.eps[i].blocked);
		}
	} else if (r < 74) {
		if ((i = pick_slot(is_member)) != ANY)
			gcore_idle(&g, i, g.eps[i].last_sent -
			    fake_rand(&f.rng) % 2);
	} else if (r < 76) {
		if ((i = pick_slot(is_any)) != ANY) {
			if (g.eps[i].board && fake_rand(&f.rng) % 2) {
				f.retire_set = 1;
				f.retire_v = (seq = pick_held(i)) != 0 ?
				    seq : g.eps[i].last_sent + 3;
			}
			end(i, GCORE_GONE);
		}
	} else if (r < 77) {
		if ((i = pick_slot(is_member)) != ANY)
			broken(i);
	} else if (r < 90) {
		f.now += fake_rand(&f.rng) % 100 == 0 ?
		    (uint64_t)GCORE_HELLO_MS * 1000 : RETRY_US / 2;
		(void) tick();
	} else {
		orphans();
	}
}

static void
history(uint32_t seed, enum shim_policy pol, int nsteps)
{
	reset(pol, 6);
	f.rng = seed;
	f.fail_pct = 10;
	for (int s = 0; s < nsteps; s++) {
		f.now += fake_rand(&f.rng) % 200;
		step();
		check_all();
	}
	/* Every member leaves: what waits is closed, nothing else is. */
	for (size_t i = 0; i < g.n; i++) {
		if (g.eps[i].state != GCORE_FREE) {
			end(i, GCORE_GONE);
			check_all();
		}
	}
	f.phase = P_FINISH;
	gcore_finish(&g);
	f.phase = P_NONE;
	assert_int_equal(f.held, 0);
	assert_int_equal(g.orphan_head, GCORE_NONE);
	for (int k = 0; k < f.nconn; k++)
		assert_true(f.conn[k].st == C_ACKED ||
		    f.conn[k].st == C_CLOSED);
	/* The history did what it is for. */
	assert_true(f.delivered > (uint64_t)f.nconn / 4);
	for (int p = P_ACK; p <= P_EJECT; p++)
		assert_true(f.nphase[p] > 0);
	assert_true(f.nhanded > 0 && f.nnoroom > 0 && f.nreturned > 0);
	assert_true(f.nrepair > 0);
	assert_true(f.nrefused > 0);
	assert_true(f.nreset > 0);
	done();
}

/*
 * Owners killed at random points of random histories: every member's
 * count and the group's go on (take_over), and stay right after.
 */
static void
test_takeover_histories(void **state)
{
	uint64_t onway = 0;
	unsigned n = 0;

	(void) state;
	for (uint32_t seed = 1; seed <= 8; seed++) {
		reset(SHIM_POLICY_ROUNDROBIN, 6);
		f.rng = seed * 2246822519u;
		f.fail_pct = 10;
		for (int s = 0; s < 3000; s++) {
			f.now += fake_rand(&f.rng) % 200;
			step();
			check_all();
			if (fake_rand(&f.rng) % 500 == 0) {
				uint32_t rng = f.rng;

				onway += take_over(SHIM_POLICY_ROUNDROBIN);
				n++;
				f.rng = rng;
				f.fail_pct = 10;
			}
		}
		done();
	}
	/* Taken over often, also with connections on their way. */
	assert_true(n > 20 && onway > 0);
}

static void
test_random_histories(void **state)
{
	static const enum shim_policy pols[] = { SHIM_POLICY_ROUNDROBIN,
	    SHIM_POLICY_HASH, SHIM_POLICY_SRCIP, SHIM_POLICY_LEASTLOADED };

	(void) state;
	for (uint32_t seed = 1; seed <= 8; seed++)
		history(seed * 2654435761u, pols[seed % 4], 4000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef ETOOMANYREFS
		cmocka_unit_test(test_no_room_etoomanyrefs),
#endif
		cmocka_unit_test(test_no_room_eagain),
		cmocka_unit_test(test_unlisten_last_resets),
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_takeover_counts),
		cmocka_unit_test(test_takeover_histories),
		cmocka_unit_test(test_no_room_enobufs),
		cmocka_unit_test(test_no_room_enomem),
		cmocka_unit_test(test_gone_epipe),
		cmocka_unit_test(test_gone_econnreset),
		cmocka_unit_test(test_eject_keeps_its_own),
		cmocka_unit_test(test_record_acks_exact),
		cmocka_unit_test(test_board_ahead_repaired),
		cmocka_unit_test(test_board_takes_in_order),
		cmocka_unit_test(test_board_idle),
		cmocka_unit_test(test_shared_endpoint_exact),
		cmocka_unit_test(test_member_limit),
		cmocka_unit_test(test_return_redispatches),
		cmocka_unit_test(test_silent_peer),
		cmocka_unit_test(test_random_histories),
	};

	return (cmocka_run_group_tests_name("gcore", tests, NULL, NULL));
}
