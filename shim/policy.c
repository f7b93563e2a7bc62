/*
 * policy.c: endpoint selection.
 *
 * roundrobin: each eligible endpoint in turn: exact fairness.  A turn is
 *	one connection, or a short run of them when every application is
 *	measured to come back for the next one quickly (policy_run_for).
 * hash: the client's address and port pick one, as the kernel does.
 * srcip: rendezvous hashing on the client address: a client stays on its
 *	endpoint while that lives, and when one of N endpoints comes or
 *	goes only about 1/N of the clients move.
 * leastloaded: endpoints whose application waits for a connection first,
 *	then the fewest unaccepted connections; round-robin among equals, so
 *	a worker stuck in a slow request is not handed more.
 */
#include <sys/socket.h>

#include "policy.h"

void
policy_init(struct policy_state *p, enum shim_policy kind)
{
	p->kind = kind;
	p->cursor = 0;
	p->last = 0;
	p->run_left = 0;
	p->run = 1;
	p->turn = 0;
}

/*
 * Why runs: on a loaded machine, waking a worker costs more than the
 * worker's whole reply to a short request (bench/PROFILE.md: strict
 * one-at-a-time round-robin woke a worker per connection and reached 0.70
 * of the kernel's rate; runs of 8 reach it).  A connection sent to a
 * worker still busy with the one before waits for it, so a run is only
 * as long as keeps its last connection's wait within POLICY_RUN_BUDGET_US:
 * r - 1 times the time the application keeps away per connection.  An
 * application slower than that, or not measured yet, gets strict rotation.
 */
uint32_t
policy_run_for(uint32_t busy_us)
{
	uint32_t r = POLICY_RUN_MAX;

	if (busy_us == 0)
		return (1);
	while (r > 1 &&
	    (uint64_t)(r - 1) * busy_us > POLICY_RUN_BUDGET_US)
		r /= 2;
	return (r);
}

/* FNV-1a, then a final mix so nearby addresses spread over all bits. */
static uint32_t
mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x7feb352dU;
	h ^= h >> 15;
	h *= 0x846ca68bU;
	h ^= h >> 16;
	return (h);
}

static uint32_t
fnv(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return (h);
}

uint32_t
policy_hash_peer(const struct proto_addr *peer, int with_port)
{
	uint32_t h = 2166136261U;

	h = fnv(h, peer->addr, peer->family == AF_INET ? 4 : 16);
	if (with_port)
		h = fnv(h, (const uint8_t *)&peer->port, sizeof (peer->port));
	return (mix(h));
}

/*
 * A turn is p->turn connections in a row (a run).  The owner may change
 * p->run at any time, but a pass over the endpoints keeps the length it
 * started with: every endpoint's count stays within one run of every
 * other's (exact fairness); a new length counts from the next pass.
 */
static size_t
roundrobin(struct policy_state *p, const struct policy_ep *eps, size_t n)
{
	if (p->run_left > 0 && p->last < n && eps[p->last].eligible) {
		p->run_left--;
		return (p->last);
	}
	if (p->cursor >= n)
		p->cursor = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (p->cursor + k) % n;

		if (!eps[i].eligible)
			continue;
		if (i <= p->last || p->turn == 0)
			p->turn = p->run > 0 ? p->run : 1;	/* a new pass */
		p->cursor = i + 1;
		p->last = i;
		p->run_left = p->turn - 1;
		return (i);
	}
	p->run_left = 0;
	return (n);
}

static size_t
hash_pick(const struct policy_ep *eps, size_t n, const struct proto_addr *peer)
{
	size_t count = 0, k;

	for (size_t i = 0; i < n; i++)
		count += eps[i].eligible;
	if (count == 0)
		return (n);
	k = policy_hash_peer(peer, 1) % count;
	for (size_t i = 0; i < n; i++) {
		if (eps[i].eligible && k-- == 0)
			return (i);
	}
	return (n);
}

static size_t
srcip_pick(const struct policy_ep *eps, size_t n, const struct proto_addr *peer)
{
	uint32_t h = policy_hash_peer(peer, 0), best = 0;
	size_t pick = n;

	for (size_t i = 0; i < n; i++) {
		uint32_t w;

		if (!eps[i].eligible)
			continue;
		w = mix(h ^ mix(eps[i].id + 0x9e3779b9U));
		if (pick == n || w > best) {
			best = w;
			pick = i;
		}
	}
	return (pick);
}

static size_t
leastloaded(struct policy_state *p, const struct policy_ep *eps, size_t n)
{
	size_t pick = n;

	if (p->cursor >= n)
		p->cursor = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (p->cursor + k) % n;
		const struct policy_ep *e = &eps[i];

		if (!e->eligible)
			continue;
		if (pick == n || e->idle > eps[pick].idle ||
		    (e->idle == eps[pick].idle &&
		    e->unacked < eps[pick].unacked))
			pick = i;
	}
	if (pick < n)
		p->cursor = pick + 1;
	return (pick);
}

size_t
policy_pick(struct policy_state *p, const struct policy_ep *eps, size_t n,
    const struct proto_addr *peer)
{
	switch (p->kind) {
	case SHIM_POLICY_HASH:
		return (hash_pick(eps, n, peer));
	case SHIM_POLICY_SRCIP:
		return (srcip_pick(eps, n, peer));
	case SHIM_POLICY_LEASTLOADED:
		return (leastloaded(p, eps, n));
	case SHIM_POLICY_ROUNDROBIN:
	default:
		return (roundrobin(p, eps, n));
	}
}
