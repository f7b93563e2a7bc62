/*
 * policy.h: choosing the endpoint for the next connection.  Pure: the
 * owner describes its endpoints, the policy answers with an index, so
 * each policy is unit-tested without sockets.
 */
#ifndef SHIM_POLICY_H
#define SHIM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"

struct policy_state {
	enum shim_policy kind;
	size_t		cursor;		/* where the next round-robin scan starts */
	uint32_t	run;		/* round-robin's run, set by the owner */
	uint32_t	turn;		/* the run of the pass under way */
	uint32_t	run_left;	/* connections left in the current run */
	size_t		last;		/* the endpoint of the current run */
};

/* What the policy may know of one endpoint slot. */
struct policy_ep {
	uint8_t		eligible;	/* listening and under its cap */
	uint8_t		idle;		/* its application waits for a connection */
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

/* The slot for a connection from peer among n; n if none is eligible. */
size_t policy_pick(struct policy_state *p, const struct policy_ep *eps,
    size_t n, const struct proto_addr *peer);

/* A 32-bit hash of the peer's address (and port, if with_port). */
uint32_t policy_hash_peer(const struct proto_addr *peer, int with_port);

#endif /* SHIM_POLICY_H */
