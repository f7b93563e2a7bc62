/*
 * gcore.h: the group's core, pure.  The endpoints, the connections sent to
 * them and not yet acknowledged, the ones waiting for an endpoint, the
 * choice of endpoint, acknowledgements and how an endpoint ends.  It
 * takes events (a member joined, listened, acknowledged, left; a
 * connection came; time passed) and acts through struct gcore_ops, which
 * the owner's shell (owner.c) implements with its sockets and the ack
 * board, and the unit tests with fakes.  It calls no socket function,
 * reads no clock and never calls malloc (plat_alloc: the owner may be a
 * fork of a threaded program).
 *
 * What it keeps true: every connection it was given is in exactly one
 * place (sent to one endpoint and not yet acknowledged, waiting for one,
 * acknowledged by exactly one, or closed); it closes one only when the
 * endpoint holding it is ejected (the member may still read it: it stays
 * that member's) or when no member is left (gcore_finish).
 */
#ifndef SHIM_GCORE_H
#define SHIM_GCORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "proto.h"

#define	GCORE_MAX_UNACKED	POLICY_MAX_UNACKED	/* sent, unaccepted */
#define	GCORE_MAX_MEMBERS	4096	/* of one group: refused beyond */
#define	GCORE_RETRY_MS		20	/* a blocked endpoint, again */
#define	GCORE_HELLO_MS		2000	/* a peer that says nothing goes */
#define	GCORE_NONE		(-1)	/* the end of a connection list */
#define	GCORE_RUNLOG_MAX	4	/* log2(POLICY_RUN_MAX) */

enum gcore_state {
	GCORE_FREE = 0,
	GCORE_NEW,		/* connected, HELLO not yet seen */
	GCORE_JOINED,		/* a member, not listening */
	GCORE_LISTENING
};

/* How an endpoint ends, which decides what becomes of its connections. */
enum gcore_end {
	GCORE_GONE,	/* its member closed it: hand on what it never took */
	GCORE_EJECT,	/* we close it, its member alive: its queue is its */
	GCORE_DONE	/* a status client, a refused or silent peer */
};

/* The answer to a HELLO. */
enum gcore_welcome {
	GCORE_REFUSED,		/* the group is full */
	GCORE_WELCOMED,		/* a member, acks by record */
	GCORE_WELCOMED_BOARD	/* a member with its slot on the ack board */
};

/* A connection sent to an endpoint, or waiting for one. */
struct gcore_conn {
	int		fd;	/* the owner's copy; the core only passes it */
	uint32_t	seq;	/* of the last CONN that carried it */
	uint32_t	prev;	/* the CONN sent to that endpoint just before */
	int32_t		next;	/* next in its list, or GCORE_NONE */
	int		reset;	/* reset by gcore_unlisten: never handed on */
	struct proto_addr peer;
};

struct gcore_ep {
	enum gcore_state state;
	int		listened;	/* listened once: no second LISTEN_OK */
	int		first;		/* the first binder's member */
	int		blocked;	/* cannot take a connection now: wait */
	int		outoffds;	/* blocked by its RETURN: others' acks
					   free none of its fds */
	uint64_t	since_us;	/* when it connected (GCORE_NEW) */
	long		pid;
	int32_t		head, tail;	/* un-acked connections, oldest first */
	uint32_t	unacked;
	uint64_t	delivered;	/* connections it acknowledged */
	uint32_t	last_sent;	/* seq of the last CONN sent to it */
	uint32_t	chain;	/* the same, or where its slot started */
	int		board;		/* acks on the board (its slot) */
	uint32_t	slot;		/* that slot's value as last known */
	uint32_t	busy;		/* us per connection, from its board */
	uint32_t	unboarded;	/* acks by record since it moved */
	uint32_t	idle_word;	/* its slot's idle word as last read */
	unsigned	runlog;		/* log2 of policy_run_for(busy) */
	int		adopted;	/* from an owner that died */
	uint32_t	legacy;		/* its last CONN: acks up to it are
					   no error (gcore_adopt) */
};

/*
 * What the core asks of its shell; ctx is gcore_init's.  Endpoints are
 * named by slot, which the shell maps to its fds.
 */
struct gcore_ops {
	/*
	 * Send connfd to endpoint ep as CONN seq; prev, the CONN sent to
	 * it before, goes along (its member's board ack is made from it).
	 * 0, or an errno value.
	 */
	int	(*send_conn)(void *ctx, size_t ep, uint32_t seq, uint32_t prev,
		    const struct proto_addr *peer, int connfd);
	/* The core is done with its copy of a connection: close it. */
	void	(*close_conn)(void *ctx, int connfd);
	/*
	 * Reset the connection (the client sees ECONNRESET) though the
	 * member's copy in flight keeps it open; the core keeps its copy.
	 */
	void	(*reset_conn)(void *ctx, int connfd);
	/* Endpoint ep ends: close it (its entry still reads as it was). */
	void	(*ep_closed)(void *ctx, size_t ep);
	/* Board slot ep starts over: nothing up to seq is its. */
	void	(*board_reset)(void *ctx, size_t ep, uint32_t seq);
	/* Slot ep back to seq if it still reads bad; 0 if it did. */
	int	(*board_repair)(void *ctx, size_t ep, uint32_t bad,
		    uint32_t seq);
	/*
	 * Slot ep from `from` on to `to` if it still reads `from` (members
	 * may have moved it meanwhile: then it stays): 0 if it did.
	 */
	int	(*board_move)(void *ctx, size_t ep, uint32_t from, uint32_t to);
	/* Slot ep's endpoint ends: its last value, and the slot set to seq. */
	uint32_t (*board_retire)(void *ctx, size_t ep, uint32_t seq);
	/*
	 * Endpoint ep keeps n of the connections it was handed (taken, or
	 * on their way): what a standby taking over starts its count from
	 * (standby.h).  Told before each CONN goes, so that a kill as the
	 * send returns finds it counted, and as one is handed back; an ack
	 * leaves n as it is.  At its end, n is what it took.
	 */
	void	(*handed)(void *ctx, size_t ep, uint64_t n);
};

struct gcore {
	const struct gcore_ops *ops;
	void		*ctx;
	enum shim_policy policy;
	struct policy_state pol;
	size_t		max_members;
	uint32_t	seq;		/* of the last CONN sent */
	uint64_t	last_conn_us;	/* when the last one was handed */
	uint32_t	next_id;
	uint32_t	unacked;	/* over all endpoints */
	uint64_t	delivered;
	uint64_t	departed;	/* of it, by endpoints that ended */
	size_t		nblocked;	/* endpoints with blocked set */
	uint64_t	blocked_us;	/* when the last one was blocked */
	size_t		nnew;		/* endpoints in GCORE_NEW */

	/* Endpoint slots, and what the policy sees of each. */
	struct gcore_ep	*eps;
	struct policy_ep *peps;
	size_t		n_eligible;	/* slots with peps[i].eligible */
	size_t		n_run[GCORE_RUNLOG_MAX + 1];	/* those by runlog */
	size_t		cap;
	size_t		n;		/* slots in use or freed: high water */
	size_t		live;		/* endpoints not GCORE_FREE */

	/* Connection records: a pool with a free list. */
	struct gcore_conn *conns;
	size_t		ncap;
	int32_t		free_head;
	int32_t		orphan_head, orphan_tail;	/* no endpoint yet */
};

/*
 * A core for policy, admitting max_members; ops and ctx are kept.  0, or
 * -1 out of memory (g can still be given to gcore_finish).
 */
int gcore_init(struct gcore *g, enum shim_policy policy, size_t max_members,
    const struct gcore_ops *ops, void *ctx);
/* Its memory back (the tests; the owner exits instead).  No ops called. */
void gcore_fini(struct gcore *g);

/* --- endpoints ------------------------------------------------------- */

/* A peer connected at now: its slot in *slot (GCORE_NEW).  0, or -1. */
int gcore_ep_new(struct gcore *g, uint64_t now, size_t *slot);
/* The shell could not take slot i after all: forget it, no op called. */
void gcore_ep_cancel(struct gcore *g, size_t i);
/*
 * HELLO from pid on NEW endpoint i; board: the shell can give it a slot on
 * the board (the core then resets the slot).  GCORE_REFUSED leaves it
 * NEW: the shell ends it (GCORE_DONE) once it has said so.
 */
enum gcore_welcome gcore_join(struct gcore *g, size_t i, long pid, int board);
/*
 * A standby takes over (standby.c) from an owner that died: CONNs go on
 * from seq, the last that owner sent; departed: what its endpoints that
 * ended had taken (stat's group count goes on).  0, or -1 if endpoints
 * exist.
 */
int gcore_resume(struct gcore *g, uint32_t seq, uint64_t departed);
/*
 * Then each member the dead owner had, at its slot i (its board slot):
 * pid, listening or not, acking on the board (slot: what it reads now,
 * sent: the last CONN it was sent) or by record; handed: the dead
 * owner's last ops->handed for it, which its count goes on from.  What
 * it was sent and has not acknowledged is not known one by one, so not
 * handed on if it goes (only the dead owner had copies), and counted
 * as taken from now; its acks, on the board or by record, up to the
 * last CONN sent, are no error.  0, or -1 out of memory or a slot in
 * use.
 */
int gcore_adopt(struct gcore *g, size_t i, long pid, int listening,
    int board, uint32_t slot, uint32_t sent, uint64_t handed);

/* LISTEN on i: ok if the listener took its backlog. */
void gcore_listen(struct gcore *g, size_t i, int ok);
/*
 * UNLISTEN: i's member shut it down for reading (it reads no more) and
 * listens no longer.  If no endpoint listens now, the connections queued
 * to it are reset, as the kernel resets those of its last listener; with
 * others listening they are handed on when the endpoint closes.
 */
void gcore_unlisten(struct gcore *g, size_t i);
/* IDLE seq: its application waits, if seq is the last CONN it was sent. */
void gcore_idle(struct gcore *g, size_t i, uint32_t seq);
/* Endpoint i ends (why for the log: GCORE_GONE, GCORE_EJECT). */
void gcore_end(struct gcore *g, size_t i, enum gcore_end how,
    const char *why);

/* --- connections and acknowledgements -------------------------------- */

/*
 * A connection from peer came at now: sent on, or waiting.  0, or -1 out
 * of memory (the caller still holds fd).
 */
int gcore_conn(struct gcore *g, int fd, const struct proto_addr *peer,
    uint64_t now);
/* Waiting connections to endpoints that can take them. */
void gcore_dispatch_orphans(struct gcore *g, uint64_t now);
/* An ACK record for seq from i: 0, or -1 if i was never sent it. */
int gcore_ack(struct gcore *g, size_t i, uint32_t seq);
/*
 * A slot's idle word before its member writes one (ackmem_reset leaves
 * it so): a member that has taken nothing says 0.
 */
#define	GCORE_IDLE_NONE	UINT32_MAX
/*
 * i's board slot reads v (busy: its us per connection; idle: its
 * application waits, having taken that one, once it changes: see
 * gcore_idle).
 */
void gcore_board(struct gcore *g, size_t i, uint32_t v, uint32_t busy,
    uint32_t idle);
/*
 * A RETURN record: i could not take CONN seq (out of fds).  The connection
 * goes to another endpoint, i sits out like a blocked one.  A seq i does
 * not hold is ignored.  Returns 0.
 */
int gcore_return(struct gcore *g, size_t i, uint32_t seq, uint64_t now);

/* --- time and the end ------------------------------------------------- */

/*
 * Time is now: blocked endpoints may try again, silent peers go.  The us
 * until the next of these, or -1.
 */
int64_t gcore_tick(struct gcore *g, uint64_t now);
/* No member is left: close the connections still waiting. */
void gcore_finish(struct gcore *g);

/* --- what stat shows -------------------------------------------------- */

size_t gcore_members(const struct gcore *g);	/* joined or listening */
size_t gcore_waiting(const struct gcore *g);	/* on the orphan list */
/* Round-robin's run now: the shortest any eligible endpoint allows. */
uint32_t gcore_run(const struct gcore *g);

#endif /* SHIM_GCORE_H */
