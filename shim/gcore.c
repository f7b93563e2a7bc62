/*
 * gcore.c: the group's core (see gcore.h).  Memory from plat_alloc, and
 * only while growing: the owner runs in a child forked from an arbitrary
 * program, where malloc's locks may have been held by another thread.
 */
#include <errno.h>
#include <string.h>

#include "gcore.h"
#include "log.h"
#include "platform.h"

#define	NONE	GCORE_NONE
_Static_assert(POLICY_RUN_MAX == 1 << GCORE_RUNLOG_MAX, "GCORE_RUNLOG_MAX");

static void board_seen(struct gcore *g, size_t i, uint32_t v);
static void dispatch(struct gcore *g, int32_t k, uint64_t now);

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
grow_eps(struct gcore *g)
{
	size_t nc = g->cap == 0 ? 16 : g->cap * 2;
	struct gcore_ep *e;
	struct policy_ep *pe;

	/* Both or neither: one grown alone would be freed at the wrong size. */
	if ((e = plat_alloc(nc * sizeof (*e))) == NULL)
		return (-1);
	if ((pe = plat_alloc(nc * sizeof (*pe))) == NULL) {
		plat_free(e, nc * sizeof (*e));
		return (-1);
	}
	if (policy_reserve(&g->pol, nc) != 0) {
		plat_free(e, nc * sizeof (*e));
		plat_free(pe, nc * sizeof (*pe));
		return (-1);
	}
	if (g->cap > 0) {
		memcpy(e, g->eps, g->cap * sizeof (*e));
		memcpy(pe, g->peps, g->cap * sizeof (*pe));
		plat_free(g->eps, g->cap * sizeof (*e));
		plat_free(g->peps, g->cap * sizeof (*pe));
	}
	g->eps = e;
	g->peps = pe;
	g->cap = nc;
	return (0);
}

static int
grow_conns(struct gcore *g)
{
	size_t nc = g->ncap == 0 ? 64 : g->ncap * 2;
	struct gcore_conn *c;

	c = regrow(g->conns, g->ncap * sizeof (*c), nc * sizeof (*c));
	if (c == NULL)
		return (-1);
	for (size_t i = g->ncap; i < nc; i++)
		c[i].next = (i + 1 < nc) ? (int32_t)(i + 1) : g->free_head;
	g->free_head = (int32_t)g->ncap;
	g->conns = c;
	g->ncap = nc;
	return (0);
}

static int32_t
conn_new(struct gcore *g, int fd, const struct proto_addr *peer)
{
	int32_t k;

	if (g->free_head == NONE && grow_conns(g) != 0)
		return (NONE);
	k = g->free_head;
	g->free_head = g->conns[k].next;
	g->conns[k].fd = fd;
	g->conns[k].next = NONE;
	g->conns[k].reset = 0;
	g->conns[k].peer = *peer;
	return (k);
}

static void
conn_free(struct gcore *g, int32_t k)
{
	g->ops->close_conn(g->ctx, g->conns[k].fd);
	g->conns[k].fd = -1;
	g->conns[k].next = g->free_head;
	g->free_head = k;
}

static void
list_append(struct gcore *g, int32_t *head, int32_t *tail, int32_t k)
{
	g->conns[k].next = NONE;
	if (*tail == NONE)
		*head = k;
	else
		g->conns[*tail].next = k;
	*tail = k;
}

/* Take k, the one after prev, out of endpoint i's list. */
static void
list_unlink(struct gcore *g, size_t i, int32_t prev, int32_t k)
{
	struct gcore_ep *e = &g->eps[i];

	if (prev == NONE)
		e->head = g->conns[k].next;
	else
		g->conns[prev].next = g->conns[k].next;
	if (e->tail == k)
		e->tail = prev;
	e->unacked--;
	g->unacked--;
}

/* What endpoint i keeps of what it was handed, and extra on its way. */
static void
tell_handed(struct gcore *g, size_t i, uint32_t extra)
{
	const struct gcore_ep *e = &g->eps[i];

	g->ops->handed(g->ctx, i, e->delivered + e->unacked + extra);
}

static void
set_eligible(struct gcore *g, size_t i, int on)
{
	if (g->peps[i].eligible == on)
		return;
	g->peps[i].eligible = (uint8_t)on;
	if (on) {
		g->n_eligible++;
		g->n_run[g->eps[i].runlog]++;
	} else {
		g->n_eligible--;
		g->n_run[g->eps[i].runlog]--;
	}
}

/*
 * Endpoint i's application keeps away busy us per connection (0: not yet
 * measured): the round-robin run it could take.
 */
static void
set_run(struct gcore *g, size_t i, uint32_t busy)
{
	unsigned r = policy_run_for(busy), lg = 0;

	g->eps[i].busy = busy;
	while ((1U << lg) < r)
		lg++;
	if (g->eps[i].runlog == lg)
		return;
	if (g->peps[i].eligible) {
		g->n_run[g->eps[i].runlog]--;
		g->n_run[lg]++;
	}
	g->eps[i].runlog = lg;
}

/*
 * The shortest run any eligible endpoint allows, so that none is given a
 * run its application is too slow for (the policy keeps the counts exact
 * whatever the runs).
 */
uint32_t
gcore_run(const struct gcore *g)
{
	unsigned lg = 0;

	if (g->n_eligible == 0)
		return (1);
	while (lg < GCORE_RUNLOG_MAX && g->n_run[lg] == 0)
		lg++;
	return (1U << lg);
}

/* Slot i changed: what the policy sees of it, and the policy's index. */
static void
update_policy_view(struct gcore *g, size_t i)
{
	struct gcore_ep *e = &g->eps[i];
	int listening = e->state == GCORE_LISTENING;

	set_eligible(g, i, listening && e->unacked < GCORE_MAX_UNACKED &&
	    !e->blocked);
	g->peps[i].listening = (uint8_t)listening;
	g->peps[i].unacked = e->unacked;
	policy_update(&g->pol, g->peps, i);
}

/* Endpoint i sits out until the retry interval passes or an ack comes. */
static void
block(struct gcore *g, size_t i, uint64_t now)
{
	if (!g->eps[i].blocked) {
		g->eps[i].blocked = 1;
		g->nblocked++;
	}
	g->blocked_us = now;
	update_policy_view(g, i);
}

/*
 * Blocked endpoints may take connections again: room may have come.  An
 * ack elsewhere (timer 0) frees fds in flight, not the fds of a process
 * out of them: that one waits for the timer or its own ack.
 */
static void
unblock_all(struct gcore *g, int timer)
{
	for (size_t i = 0; i < g->n && g->nblocked > 0; i++) {
		if (g->eps[i].state != GCORE_FREE && g->eps[i].blocked &&
		    (timer || !g->eps[i].outoffds)) {
			g->eps[i].blocked = 0;
			g->eps[i].outoffds = 0;
			g->nblocked--;
			update_policy_view(g, i);
		}
	}
}

int
gcore_init(struct gcore *g, enum shim_policy policy, size_t max_members,
    const struct gcore_ops *ops, void *ctx)
{
	memset(g, 0, sizeof (*g));
	g->ops = ops;
	g->ctx = ctx;
	g->policy = policy;
	g->max_members = max_members;
	g->free_head = g->orphan_head = g->orphan_tail = NONE;
	policy_init(&g->pol, policy);
	return (grow_eps(g));
}

void
gcore_fini(struct gcore *g)
{
	policy_fini(&g->pol);
	plat_free(g->eps, g->cap * sizeof (*g->eps));
	plat_free(g->peps, g->cap * sizeof (*g->peps));
	plat_free(g->conns, g->ncap * sizeof (*g->conns));
	memset(g, 0, sizeof (*g));
	g->free_head = g->orphan_head = g->orphan_tail = NONE;
}

int
gcore_ep_new(struct gcore *g, uint64_t now, size_t *slot)
{
	struct gcore_ep *e;
	size_t i;

	for (i = 0; i < g->n && g->eps[i].state != GCORE_FREE; i++)
		continue;
	if (i == g->cap && grow_eps(g) != 0)
		return (-1);
	if (i == g->n)
		g->n++;
	e = &g->eps[i];
	memset(e, 0, sizeof (*e));
	memset(&g->peps[i], 0, sizeof (g->peps[i]));
	e->state = GCORE_NEW;
	e->since_us = now;
	e->head = e->tail = NONE;
	g->live++;
	g->nnew++;
	*slot = i;
	return (0);
}

void
gcore_ep_cancel(struct gcore *g, size_t i)
{
	g->eps[i].state = GCORE_FREE;
	g->live--;
	g->nnew--;
}

enum gcore_welcome
gcore_join(struct gcore *g, size_t i, long pid, int board)
{
	struct gcore_ep *e = &g->eps[i];

	if (gcore_members(g) >= g->max_members) {
		shim_log(LOG_LVL_ERROR, "group full (%zu members%s): "
		    "refusing pid %ld", g->max_members,
		    g->max_members < GCORE_MAX_MEMBERS ? ", as many as the "
		    "owner's fd limit allows" : "", pid);
		return (GCORE_REFUSED);
	}
	e->pid = pid;
	e->state = GCORE_JOINED;
	g->nnew--;
	e->first = (g->next_id == 0);
	g->peps[i].id = g->next_id++;
	tell_handed(g, i, 0);	/* not the count of the slot's last member */
	shim_log(LOG_LVL_INFO, "member pid %ld joined", e->pid);
	if (!board)
		return (GCORE_WELCOMED);
	/* Nothing sent yet is its; the slot counts from here. */
	g->ops->board_reset(g->ctx, i, g->seq);
	e->board = 1;
	e->slot = e->chain = g->seq;
	e->idle_word = GCORE_IDLE_NONE;
	return (GCORE_WELCOMED_BOARD);
}

int
gcore_resume(struct gcore *g, uint32_t seq, uint64_t departed)
{
	if (g->live > 0)
		return (-1);
	g->seq = seq;
	g->delivered = g->departed = departed;
	return (0);
}

int
gcore_adopt(struct gcore *g, size_t i, long pid, int listening, int board,
    uint32_t slot, uint32_t sent, uint64_t handed)
{
	struct gcore_ep *e;

	while (i >= g->cap) {
		if (grow_eps(g) != 0)
			return (-1);
	}
	for (; g->n <= i; g->n++) {
		memset(&g->eps[g->n], 0, sizeof (g->eps[0]));
		memset(&g->peps[g->n], 0, sizeof (g->peps[0]));
		g->eps[g->n].state = GCORE_FREE;
		g->eps[g->n].head = g->eps[g->n].tail = NONE;
	}
	e = &g->eps[i];
	if (e->state != GCORE_FREE)
		return (-1);
	memset(e, 0, sizeof (*e));
	memset(&g->peps[i], 0, sizeof (g->peps[i]));
	e->head = e->tail = NONE;
	e->state = listening ? GCORE_LISTENING : GCORE_JOINED;
	e->listened = listening;
	e->pid = pid;
	e->adopted = 1;
	e->legacy = g->seq;
	/*
	 * Its count goes on, with what it had not yet acknowledged: its
	 * acks of those, later, name no CONN of ours to count them by.
	 */
	e->delivered = handed;
	g->delivered += handed;
	/*
	 * Its board ack for the next CONN is made from the last it was
	 * sent: the chain goes on from there, and the slot may move along
	 * the old one meanwhile (board_seen takes values up to last_sent).
	 */
	if (board) {
		e->board = 1;
		e->slot = slot;
		e->last_sent = e->chain = sent;
		e->idle_word = GCORE_IDLE_NONE;	/* what it says counts */
	}
	g->peps[i].id = g->next_id++;
	g->live++;
	tell_handed(g, i, 0);
	update_policy_view(g, i);
	return (0);
}

void
gcore_listen(struct gcore *g, size_t i, int ok)
{
	if (ok) {
		g->eps[i].state = GCORE_LISTENING;
		g->eps[i].listened = 1;
	}
	update_policy_view(g, i);
}

void
gcore_unlisten(struct gcore *g, size_t i)
{
	if (g->eps[i].state == GCORE_LISTENING)
		g->eps[i].state = GCORE_JOINED;
	update_policy_view(g, i);
	for (size_t j = 0; j < g->n; j++) {
		if (g->eps[j].state == GCORE_LISTENING)
			return;
	}
	/*
	 * Reset, not handed on: a thread of its member may have read one
	 * just before the shutdown and not yet acknowledged it.  Reset, it
	 * reaches that thread dead, never two processes alive.
	 */
	for (int32_t k = g->eps[i].head; k != NONE; k = g->conns[k].next) {
		if (!g->conns[k].reset) {
			g->ops->reset_conn(g->ctx, g->conns[k].fd);
			g->conns[k].reset = 1;
		}
	}
}

void
gcore_idle(struct gcore *g, size_t i, uint32_t seq)
{
	/* Stale if a connection is on its way to it already. */
	g->peps[i].idle = seq == g->eps[i].last_sent;
	update_policy_view(g, i);
}

void
gcore_end(struct gcore *g, size_t i, enum gcore_end how, const char *why)
{
	struct gcore_ep *e = &g->eps[i];
	int32_t k, next;

	/*
	 * What it took, it said so on the board before the application saw
	 * it: forget those (handing them on would serve one connection
	 * twice).  The rest it never saw: give them on.  The slot is read
	 * and retired at once: late writes move nothing.
	 */
	if (e->board)
		board_seen(g, i, g->ops->board_retire(g->ctx, i, g->seq));
	/* What it took is the group's now; the rest is not its any more. */
	if (e->state != GCORE_NEW) {
		g->ops->handed(g->ctx, i, e->delivered);
		g->departed += e->delivered;
	}
	if (how == GCORE_GONE)
		shim_log(LOG_LVL_INFO, "member pid %ld left (%s); %u "
		    "connection(s) to hand on", e->pid, why, e->unacked);
	else if (how == GCORE_EJECT)
		shim_log(LOG_LVL_ERROR, "member pid %ld: %s; closing its "
		    "connection (the %u connection(s) queued to it stay "
		    "its own)", e->pid, why, e->unacked);
	g->ops->ep_closed(g->ctx, i);
	g->unacked -= e->unacked;
	/*
	 * A member that is gone took its socket's queue with it: hand on
	 * what it never took.  A live one may still read what is queued:
	 * handing that on too would serve one connection twice, so our
	 * copies go (its copies in flight keep the connections open).
	 */
	for (k = e->head; k != NONE; k = next) {
		next = g->conns[k].next;
		if (how == GCORE_GONE && !g->conns[k].reset)
			list_append(g, &g->orphan_head, &g->orphan_tail, k);
		else
			conn_free(g, k);
	}
	if (e->state == GCORE_NEW)
		g->nnew--;
	if (e->blocked)
		g->nblocked--;
	set_eligible(g, i, 0);	/* counted by its runlog: before the memset */
	memset(e, 0, sizeof (*e));
	e->state = GCORE_FREE;
	e->head = e->tail = NONE;
	g->peps[i].idle = 0;
	update_policy_view(g, i);
	g->live--;
}

/* A send error that says the member's end is closed. */
static int
member_gone(int err)
{
	return (err == EPIPE || err == ECONNRESET || err == ENOTCONN);
}

/* Hand connection k to an endpoint, or park it until one can take it. */
static void
dispatch(struct gcore *g, int32_t k, uint64_t now)
{
	/*
	 * Round-robin runs only while connections come close together: a
	 * worker that took one is then likely still awake for the next,
	 * which is what a run saves.  Further apart, each connection wakes
	 * a worker anyway, and someone trying a few requests by hand sees
	 * them go round one at a time.
	 */
	int dense = now - g->last_conn_us <= POLICY_RUN_BUDGET_US;

	g->last_conn_us = now;
	for (;;) {
		struct gcore_ep *e;
		uint32_t seq;
		size_t i;
		int err;

		g->pol.run = dense ? gcore_run(g) : 1;
		i = policy_pick(&g->pol, g->peps, g->n, &g->conns[k].peer);
		if (i >= g->n) {
			list_append(g, &g->orphan_head, &g->orphan_tail, k);
			return;
		}
		e = &g->eps[i];
		/*
		 * A new number for each send, also when handing on: an
		 * endpoint's list stays in send order, which is the order its
		 * board slot counts in.  Never 0 as numbers wrap: 0 stands
		 * for "nothing sent yet" (last_sent); nor GCORE_IDLE_NONE,
		 * which an idle word saying it would read as unchanged.
		 */
		do {
			g->seq++;
		} while (g->seq == 0 || g->seq == GCORE_IDLE_NONE);
		seq = g->conns[k].seq = g->seq;
		g->conns[k].prev = e->chain;
		tell_handed(g, i, 1);
		err = g->ops->send_conn(g->ctx, i, seq, e->chain,
		    &g->conns[k].peer, g->conns[k].fd);
		if (err != 0)
			tell_handed(g, i, 0);
		if (err == 0) {
			list_append(g, &e->head, &e->tail, k);
			e->unacked++;
			g->unacked++;
			e->last_sent = e->chain = seq;
			g->peps[i].idle = 0;
			update_policy_view(g, i);
			return;
		}
		if (member_gone(err)) {
			gcore_end(g, i, GCORE_GONE, strerror(err));
		} else {
			/*
			 * No room (its queue is full, or this user has too
			 * many fds in flight: ETOOMANYREFS), or no memory:
			 * our trouble, not the member's.  It sits out a
			 * moment; the connection goes to another.
			 */
			if (g->nblocked == 0)
				shim_log(LOG_LVL_WARN, "cannot send to member "
				    "pid %ld: %s; retrying", e->pid,
				    strerror(err));
			block(g, i, now);
		}
	}
}

int
gcore_conn(struct gcore *g, int fd, const struct proto_addr *peer,
    uint64_t now)
{
	int32_t k = conn_new(g, fd, peer);

	if (k == NONE)
		return (-1);
	dispatch(g, k, now);
	return (0);
}

void
gcore_dispatch_orphans(struct gcore *g, uint64_t now)
{
	while (g->orphan_head != NONE && g->n_eligible > 0) {
		int32_t k = g->orphan_head;

		g->orphan_head = g->conns[k].next;
		if (g->orphan_head == NONE)
			g->orphan_tail = NONE;
		dispatch(g, k, now);
	}
}

/*
 * Its slot on to where the next board ack in turn starts: the CONN sent
 * before its oldest un-acked one, or its last if none is out.  Acks by
 * record (out of turn, or from a process without the board) leave the
 * slot behind, and every later board ack would then go by record too.
 * Kept there, the slot also never lags 2^31 sends (numbers wrap).
 */
static void
board_advance(struct gcore *g, size_t i)
{
	struct gcore_ep *e = &g->eps[i];
	uint32_t to;

	if (!e->board)
		return;
	to = e->head != NONE ? g->conns[e->head].prev : e->chain;
	if (e->slot != to && g->ops->board_move(g->ctx, i, e->slot, to) == 0)
		e->slot = to;
}

/* Endpoint i took connection k, the one after prev in its list. */
static void
taken(struct gcore *g, size_t i, int32_t prev, int32_t k)
{
	list_unlink(g, i, prev, k);
	conn_free(g, k);
	g->eps[i].delivered++;
	g->delivered++;
	update_policy_view(g, i);
	g->eps[i].outoffds = 0;	/* it took one: it has fds again */
	if (g->nblocked > 0)
		unblock_all(g, 0);	/* fds in flight went down */
}

/* Connection seq in i's list (*prev: the one before it), or NONE. */
static int32_t
find(const struct gcore *g, size_t i, uint32_t seq, int32_t *prev)
{
	*prev = NONE;
	for (int32_t k = g->eps[i].head; k != NONE;
	    *prev = k, k = g->conns[k].next) {
		if (g->conns[k].seq == seq)
			return (k);
	}
	return (NONE);
}

/*
 * A record for seq, not in i's list.  With a board, one already taken is
 * no error (an ACK only woke us, and the board may have said so first),
 * as long as it was sent to this endpoint; nor is one the owner we took
 * over from sent; else a record about nothing is a broken member.
 */
static int
not_listed(const struct gcore *g, size_t i, uint32_t seq)
{
	const struct gcore_ep *e = &g->eps[i];

	if (e->adopted && (int32_t)(seq - e->legacy) <= 0)
		return (0);	/* sent by the owner we took over from */
	return (e->board && e->last_sent != 0 &&
	    (int32_t)(seq - e->last_sent) <= 0 ? 0 : -1);
}

int
gcore_ack(struct gcore *g, size_t i, uint32_t seq)
{
	int32_t prev, k = find(g, i, seq, &prev);

	if (k == NONE)
		return (not_listed(g, i, seq));
	taken(g, i, prev, k);
	board_advance(g, i);
	/*
	 * A board endpoint whose acks come only as records (exec'd into a
	 * program without its board, or the board off) no longer measures
	 * its time: forget it.
	 */
	if (g->eps[i].board && ++g->eps[i].unboarded > 2 * POLICY_RUN_MAX)
		set_run(g, i, 0);
	return (0);
}

int
gcore_return(struct gcore *g, size_t i, uint32_t seq, uint64_t now)
{
	int32_t prev, k = find(g, i, seq, &prev);

	/*
	 * One it no longer holds (taken meanwhile by another process of the
	 * endpoint, or handed on): nothing to do.  Only a hint to hand a
	 * connection on, it can never serve one twice.
	 */
	if (k == NONE)
		return (0);
	/*
	 * Its process is out of fds: the kernel dropped the connection on
	 * the way, and another would only be dropped too.  It sits out
	 * before this one goes on (else the policy could pick it again).
	 */
	list_unlink(g, i, prev, k);
	tell_handed(g, i, 0);	/* before it goes to another */
	board_advance(g, i);
	if (!g->eps[i].blocked)
		shim_log(LOG_LVL_WARN, "member pid %ld could not take a "
		    "connection (out of fds); handing it on", g->eps[i].pid);
	block(g, i, now);
	g->eps[i].outoffds = 1;
	dispatch(g, k, now);
	return (0);
}

/*
 * Endpoint i's slot reads v: it took everything up to v (in send order).
 * Only a value that moved forward and stays within what it was sent
 * counts: the board is written by members, and a slot nobody writes
 * (its member exec'd) must never come to look new as numbers wrap.
 */
static void
board_seen(struct gcore *g, size_t i, uint32_t v)
{
	struct gcore_ep *e = &g->eps[i];
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
		if (g->ops->board_repair(g->ctx, i, v, e->slot) == 0)
			shim_log(LOG_LVL_WARN, "member pid %ld: ack board slot "
			    "%zu held %u, beyond what it was sent; reset",
			    e->pid, i, v);
		return;
	}
	e->slot = v;
	while ((k = e->head) != NONE && (int32_t)(v - g->conns[k].seq) >= 0)
		taken(g, i, NONE, k);
	board_advance(g, i);
}

void
gcore_board(struct gcore *g, size_t i, uint32_t v, uint32_t busy,
    uint32_t idle)
{
	struct gcore_ep *e;

	if (i >= g->n || g->eps[i].state == GCORE_FREE || !g->eps[i].board)
		return;
	e = &g->eps[i];
	board_seen(g, i, v);
	set_run(g, i, busy);
	e->unboarded = 0;
	/*
	 * Only a word that changed: a member of an older build never
	 * writes it and says IDLE by record, which an unchanged word must
	 * not undo.  One that did not change cannot have become true: our
	 * view went stale only by sending, which it must then have taken.
	 */
	if (idle != e->idle_word) {
		e->idle_word = idle;
		gcore_idle(g, i, idle);
	}
}

/* The earlier of *next and in_us from now. */
static void
due(int64_t *next, uint64_t in_us)
{
	if (*next < 0 || (int64_t)in_us < *next)
		*next = (int64_t)in_us;
}

int64_t
gcore_tick(struct gcore *g, uint64_t now)
{
	const uint64_t retry = GCORE_RETRY_MS * 1000;
	const uint64_t hello = GCORE_HELLO_MS * 1000;
	int64_t next = -1;

	if (g->nblocked > 0) {
		if (now - g->blocked_us >= retry)
			unblock_all(g, 1);
		else
			due(&next, g->blocked_us + retry - now);
	}
	/* Else one keeps the group and its port after the last member. */
	for (size_t i = 0; i < g->n && g->nnew > 0; i++) {
		struct gcore_ep *e = &g->eps[i];

		if (e->state != GCORE_NEW)
			continue;
		if (now - e->since_us >= hello) {
			shim_log(LOG_LVL_WARN, "a peer said nothing for %d ms; "
			    "dropped", GCORE_HELLO_MS);
			gcore_end(g, i, GCORE_DONE, NULL);
		} else {
			due(&next, e->since_us + hello - now);
		}
	}
	return (next);
}

void
gcore_finish(struct gcore *g)
{
	while (g->orphan_head != NONE) {
		int32_t k = g->orphan_head;

		g->orphan_head = g->conns[k].next;
		conn_free(g, k);
	}
	g->orphan_tail = NONE;
}

size_t
gcore_members(const struct gcore *g)
{
	return (g->live - g->nnew);
}

size_t
gcore_waiting(const struct gcore *g)
{
	size_t n = 0;

	for (int32_t k = g->orphan_head; k != NONE; k = g->conns[k].next)
		n++;
	return (n);
}
