/*
 * policy.h: choosing the endpoint for the next connection.  Pure: the
 * owner describes its endpoints in an array and tells the policy which
 * slot changed; the policy keeps its own index of them, so that a choice
 * costs O(1) (O(log n) for srcip) however many endpoints there are, and
 * answers with a slot.  Each policy is unit-tested without sockets.
 */
#ifndef SHIM_POLICY_H
#define SHIM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"

/* leastloaded's classes: idle ones by unacked, then busy ones by unacked. */
#define	POLICY_MAX_UNACKED	64	/* this many: not eligible */
#define	POLICY_CLASSES		(2 * POLICY_MAX_UNACKED)

struct policy_ring_pt;

struct policy_state {
	enum shim_policy kind;
	size_t		cap;		/* slots the index has room for */

	/* roundrobin */
	uint32_t	run;		/* the longest run now (the owner's) */
	uint32_t	quota;		/* what the pass under way gives each */
	uint32_t	pass;		/* its number */
	uint32_t	*pass_of;	/* slot -> the pass its count is of */
	uint32_t	*got;		/* slot -> its count in that pass */
	size_t		cursor;		/* the next slot of the sweep */
	int		sweep_gave;	/* this sweep gave a connection */
	size_t		last;		/* the endpoint of the current run */
	uint32_t	in_run;		/* connections it has had in the run */

	/* hash: the eligible slots, dense, as the kernel keeps its group */
	uint32_t	*set;
	uint32_t	*where;		/* slot -> place in set, or NOWHERE */
	size_t		nset;

	/* leastloaded: eligible slots in a circular list per class */
	uint8_t		*cls;		/* slot -> class, or NO_CLASS */
	uint32_t	*next, *prev;
	uint32_t	head[POLICY_CLASSES];
	uint64_t	nonempty[POLICY_CLASSES / 64];

	/* srcip: a ring of points of the listening endpoints */
	uint8_t		*member;	/* slot -> on the ring */
	uint32_t	*ring_id;	/* slot -> the id of its points */
	struct policy_ring_pt *ring;
	size_t		nring;
	int		ring_stale;	/* rebuild before the next choice */
};

/* What the policy may know of one endpoint slot. */
struct policy_ep {
	uint8_t		eligible;	/* listening and under its cap */
	uint8_t		listening;	/* a member of the group's rotation */
	uint8_t		idle;		/* its application waits to accept */
	uint32_t	unacked;	/* connections sent, not yet accepted */
	uint32_t	id;		/* stable for the endpoint's life */
};

/* The longest round-robin run; a power of two. */
#define	POLICY_RUN_MAX	16
/* The longest a run's last connection should wait for its worker. */
#define	POLICY_RUN_BUDGET_US	128

/*
 * The round-robin run (1 to POLICY_RUN_MAX) for an endpoint whose
 * application comes back for its next connection busy_us after it took
 * the last; 0: not measured (1, one at a time).
 */
uint32_t policy_run_for(uint32_t busy_us);

void policy_init(struct policy_state *p, enum shim_policy kind);
void policy_fini(struct policy_state *p);

/* Room for slots below cap (it only grows); -1 out of memory. */
int policy_reserve(struct policy_state *p, size_t cap);

/* eps[i] changed (any field; i below the reserved cap): index it again. */
void policy_update(struct policy_state *p, const struct policy_ep *eps,
    size_t i);

/*
 * The slot for a connection from peer among n, every one of them given
 * to policy_update since it last changed; n if none is eligible.
 */
size_t policy_pick(struct policy_state *p, const struct policy_ep *eps,
    size_t n, const struct proto_addr *peer);

/* A 32-bit hash of the peer's address (and port, if with_port). */
uint32_t policy_hash_peer(const struct proto_addr *peer, int with_port);

#endif /* SHIM_POLICY_H */
