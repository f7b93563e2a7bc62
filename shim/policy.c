/*
 * policy.c: endpoint selection.
 *
 * roundrobin: each eligible endpoint in turn: exact fairness.  A turn is
 *	one connection, or a short run of them when every application is
 *	measured to come back for the next one quickly (policy_run_for).
 * hash: the client's address and port pick one of the eligible
 *	endpoints, kept dense as the kernel keeps its group: O(1).
 * srcip: a consistent hash ring of the client address: RING_POINTS points
 *	per listening endpoint, found by binary search, O(log n).  A client
 *	stays on its endpoint while that lives, and when one of N endpoints
 *	comes or goes only about 1/N of the clients move.  One at its cap is
 *	passed over to the next point's, and taken up again after.
 * leastloaded: endpoints whose application waits for a connection first,
 *	then the fewest unaccepted connections; round-robin among equals, so
 *	a worker stuck in a slow request is not handed more.  A list per
 *	(idle, unacked) class and a bitmap of non-empty ones: O(1).
 *
 * The index lives in memory from plat_alloc(): the owner is a fork of a
 * member that may have had threads, so it never calls malloc.
 */
#include <string.h>
#include <sys/socket.h>

#include "platform.h"
#include "policy.h"

#define	NOWHERE		UINT32_MAX
#define	NO_CLASS	0xffU
#define	RING_POINTS	64	/* srcip: shares within about 1/8 */
#define	IX		sizeof (uint32_t)	/* an index entry */

struct policy_ring_pt {
	uint32_t	h;
	uint32_t	slot;
};

void
policy_init(struct policy_state *p, enum shim_policy kind)
{
	memset(p, 0, sizeof (*p));
	p->kind = kind;
	p->run = 1;	/* quota 0: the first sweep starts a pass */
	for (size_t c = 0; c < POLICY_CLASSES; c++)
		p->head[c] = NOWHERE;
}

void
policy_fini(struct policy_state *p)
{
	size_t c = p->cap;

	plat_free(p->pass_of, c * IX);
	plat_free(p->got, c * IX);
	plat_free(p->set, c * IX);
	plat_free(p->where, c * IX);
	plat_free(p->cls, c);
	plat_free(p->next, c * IX);
	plat_free(p->prev, c * IX);
	plat_free(p->member, c);
	plat_free(p->ring_id, c * IX);
	plat_free(p->ring, c * RING_POINTS * sizeof (*p->ring));
	policy_init(p, p->kind);
}

/* A copy of old in a bigger block, the new part set to fill; NULL: none. */
static void *
resized(const void *old, size_t oldsz, size_t newsz, int fill)
{
	char *q = plat_alloc(newsz);

	if (q == NULL)
		return (NULL);
	if (old != NULL)
		memcpy(q, old, oldsz);
	memset(q + oldsz, fill, newsz - oldsz);
	return (q);
}

/*
 * All or nothing: an index grown in part would be freed with the wrong
 * sizes.  Each policy grows only the arrays it uses.
 */
int
policy_reserve(struct policy_state *p, size_t cap)
{
	size_t o = p->cap;

	if (cap <= o)
		return (0);
	switch (p->kind) {
	case SHIM_POLICY_HASH: {
		uint32_t *set = resized(p->set, o * IX, cap * IX, 0);
		uint32_t *where = resized(p->where, o * IX, cap * IX, 0xff);

		if (set == NULL || where == NULL) {
			plat_free(set, cap * IX);
			plat_free(where, cap * IX);
			return (-1);
		}
		plat_free(p->set, o * IX);
		plat_free(p->where, o * IX);
		p->set = set;
		p->where = where;
		break;
	}
	case SHIM_POLICY_LEASTLOADED: {
		uint8_t *cls = resized(p->cls, o, cap, 0xff);
		uint32_t *next = resized(p->next, o * IX, cap * IX, 0);
		uint32_t *prev = resized(p->prev, o * IX, cap * IX, 0);

		if (cls == NULL || next == NULL || prev == NULL) {
			plat_free(cls, cap);
			plat_free(next, cap * IX);
			plat_free(prev, cap * IX);
			return (-1);
		}
		plat_free(p->cls, o);
		plat_free(p->next, o * IX);
		plat_free(p->prev, o * IX);
		p->cls = cls;
		p->next = next;
		p->prev = prev;
		break;
	}
	case SHIM_POLICY_SRCIP: {
		size_t pt = RING_POINTS * sizeof (*p->ring);
		uint8_t *member = resized(p->member, o, cap, 0);
		uint32_t *id = resized(p->ring_id, o * IX, cap * IX, 0);
		struct policy_ring_pt *ring = resized(p->ring, o * pt,
		    cap * pt, 0);

		if (member == NULL || id == NULL || ring == NULL) {
			plat_free(member, cap);
			plat_free(id, cap * IX);
			plat_free(ring, cap * pt);
			return (-1);
		}
		plat_free(p->member, o);
		plat_free(p->ring_id, o * IX);
		plat_free(p->ring, o * pt);
		p->member = member;
		p->ring_id = id;
		p->ring = ring;
		break;
	}
	case SHIM_POLICY_ROUNDROBIN:
	default: {
		uint32_t *pass_of = resized(p->pass_of, o * IX, cap * IX, 0);
		uint32_t *got = resized(p->got, o * IX, cap * IX, 0);

		if (pass_of == NULL || got == NULL) {
			plat_free(pass_of, cap * IX);
			plat_free(got, cap * IX);
			return (-1);
		}
		plat_free(p->pass_of, o * IX);
		plat_free(p->got, o * IX);
		p->pass_of = pass_of;
		p->got = got;
		break;
	}
	}
	p->cap = cap;
	return (0);
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
 * A pass gives every eligible endpoint the same quota of connections (the
 * run when the pass began), so the counts stay within one quota of each
 * other: exact fairness.  An endpoint takes its quota in runs of at most
 * p->run, which the owner sets for each connection (1 when connections
 * come far apart, or when an application is slow or not measured yet), so
 * if runs stop in the middle of a pass, the rest of it goes one at a time
 * round the endpoints still owed.  A pass ends with a sweep that finds
 * nobody owed; the next one takes the run of that moment as its quota.
 * Per connection O(1), amortized: two sweeps per pass of n * quota.
 */
static size_t
roundrobin(struct policy_state *p, const struct policy_ep *eps, size_t n)
{
	size_t i = p->last;

	if (p->in_run > 0 && p->in_run < p->run && i < n && eps[i].eligible &&
	    p->got[i] < p->quota) {
		p->in_run++;
		p->got[i]++;
		return (i);
	}
	p->in_run = 0;
	/* The rest of this sweep, an empty one, and a new pass's first. */
	for (size_t k = 0; k < 3 * n; k++) {
		if (p->cursor >= n) {
			p->cursor = 0;
			if (!p->sweep_gave) {
				p->pass++;
				p->quota = p->run > 0 ? p->run : 1;
			}
			p->sweep_gave = 0;
		}
		i = p->cursor++;
		if (!eps[i].eligible)
			continue;
		if (p->pass_of[i] != p->pass) {
			p->pass_of[i] = p->pass;
			p->got[i] = 0;
		}
		if (p->got[i] >= p->quota)
			continue;
		p->sweep_gave = 1;
		p->got[i]++;
		p->in_run = 1;
		p->last = i;
		return (i);
	}
	return (n);
}

/* --- hash: the eligible slots, dense ---------------------------------- */

static void
set_update(struct policy_state *p, size_t i, int in)
{
	uint32_t w = p->where[i];

	if (in && w == NOWHERE) {
		p->where[i] = (uint32_t)p->nset;
		p->set[p->nset++] = (uint32_t)i;
	} else if (!in && w != NOWHERE) {
		/* The last takes its place, as in the kernel's group. */
		uint32_t last = p->set[--p->nset];

		p->set[w] = last;
		p->where[last] = w;
		p->where[i] = NOWHERE;
	}
}

static size_t
hash_pick(const struct policy_state *p, const struct proto_addr *peer,
    size_t n)
{
	uint32_t h;

	if (p->nset == 0)
		return (n);
	h = policy_hash_peer(peer, 1);
	/* h scaled to [0, nset): no division, no modulo bias to speak of. */
	return (p->set[((uint64_t)h * p->nset) >> 32]);
}

/* --- leastloaded: a circular list per class ---------------------------- */

static unsigned
class_of(const struct policy_ep *e)
{
	unsigned u = e->unacked < POLICY_MAX_UNACKED ? e->unacked :
	    POLICY_MAX_UNACKED - 1;

	return (e->idle ? u : POLICY_MAX_UNACKED + u);
}

static void
class_unlink(struct policy_state *p, uint32_t i)
{
	unsigned c = p->cls[i];

	if (p->next[i] == i) {
		p->head[c] = NOWHERE;
		p->nonempty[c / 64] &= ~((uint64_t)1 << (c % 64));
	} else {
		p->next[p->prev[i]] = p->next[i];
		p->prev[p->next[i]] = p->prev[i];
		if (p->head[c] == i)
			p->head[c] = p->next[i];
	}
	p->cls[i] = NO_CLASS;
}

/* At the tail: it takes its turn after the ones already in the class. */
static void
class_link(struct policy_state *p, uint32_t i, unsigned c)
{
	uint32_t h = p->head[c];

	if (h == NOWHERE) {
		p->next[i] = p->prev[i] = i;
		p->head[c] = i;
		p->nonempty[c / 64] |= (uint64_t)1 << (c % 64);
	} else {
		p->prev[i] = p->prev[h];
		p->next[i] = h;
		p->next[p->prev[h]] = i;
		p->prev[h] = i;
	}
	p->cls[i] = (uint8_t)c;
}

static unsigned
lowest_bit(uint64_t w)
{
	unsigned k = 0;

	while ((w & 0xff) == 0) {
		w >>= 8;
		k += 8;
	}
	while ((w & 1) == 0) {
		w >>= 1;
		k++;
	}
	return (k);
}

static size_t
leastloaded(struct policy_state *p, size_t n)
{
	for (size_t w = 0; w < POLICY_CLASSES / 64; w++) {
		unsigned c;
		uint32_t i;

		if (p->nonempty[w] == 0)
			continue;
		c = (unsigned)(w * 64) + lowest_bit(p->nonempty[w]);
		i = p->head[c];
		p->head[c] = p->next[i];	/* round-robin among equals */
		return (i);
	}
	return (n);
}

/* --- srcip: the ring -------------------------------------------------- */

static int
pt_less(const struct policy_ring_pt *a, const struct policy_ring_pt *b)
{
	return (a->h < b->h || (a->h == b->h && a->slot < b->slot));
}

/* Heapsort: in place, no allocation, O(m log m) whatever the input. */
static void
sift(struct policy_ring_pt *v, size_t root, size_t m)
{
	for (;;) {
		size_t c = 2 * root + 1;
		struct policy_ring_pt t;

		if (c >= m)
			return;
		if (c + 1 < m && pt_less(&v[c], &v[c + 1]))
			c++;
		if (!pt_less(&v[root], &v[c]))
			return;
		t = v[root];
		v[root] = v[c];
		v[c] = t;
		root = c;
	}
}

static void
pt_sort(struct policy_ring_pt *v, size_t m)
{
	for (size_t k = m / 2; k-- > 0; )
		sift(v, k, m);
	for (size_t end = m; end-- > 1; ) {
		struct policy_ring_pt t = v[0];

		v[0] = v[end];
		v[end] = t;
		sift(v, 0, end);
	}
}

/*
 * An endpoint's points depend on its id alone: the others' stay where
 * they were when one comes or goes, so only its clients move.
 */
static void
ring_build(struct policy_state *p)
{
	p->nring = 0;
	for (size_t i = 0; i < p->cap; i++) {
		if (!p->member[i])
			continue;
		for (uint32_t v = 0; v < RING_POINTS; v++) {
			struct policy_ring_pt *pt = &p->ring[p->nring++];

			pt->h = mix(mix(p->ring_id[i] ^ 0x9e3779b9U) + v);
			pt->slot = (uint32_t)i;
		}
	}
	pt_sort(p->ring, p->nring);
	p->ring_stale = 0;
}

static size_t
srcip_pick(struct policy_state *p, const struct policy_ep *eps, size_t n,
    const struct proto_addr *peer)
{
	uint32_t h = policy_hash_peer(peer, 0);
	size_t lo = 0, hi;

	if (p->ring_stale)
		ring_build(p);
	/* The first point at or after h, round the ring. */
	hi = p->nring;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->ring[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < p->nring; k++) {
		uint32_t s = p->ring[(lo + k) % p->nring].slot;

		if (s < n && eps[s].eligible)
			return (s);
	}
	return (n);
}

/* --- the owner's side ------------------------------------------------- */

void
policy_update(struct policy_state *p, const struct policy_ep *eps, size_t i)
{
	const struct policy_ep *e = &eps[i];

	if (i >= p->cap)
		return;		/* not reserved: the owner's bug, not a crash */
	switch (p->kind) {
	case SHIM_POLICY_HASH:
		set_update(p, i, e->eligible);
		break;
	case SHIM_POLICY_LEASTLOADED: {
		unsigned c = e->eligible ? class_of(e) : NO_CLASS;

		if (c == p->cls[i])
			break;
		if (p->cls[i] != NO_CLASS)
			class_unlink(p, (uint32_t)i);
		if (c != NO_CLASS)
			class_link(p, (uint32_t)i, c);
		break;
	}
	case SHIM_POLICY_SRCIP:
		if (p->member[i] != e->listening ||
		    (e->listening && p->ring_id[i] != e->id)) {
			p->member[i] = e->listening;
			p->ring_id[i] = e->id;
			p->ring_stale = 1;
		}
		break;
	case SHIM_POLICY_ROUNDROBIN:
	default:
		break;
	}
}

size_t
policy_pick(struct policy_state *p, const struct policy_ep *eps, size_t n,
    const struct proto_addr *peer)
{
	switch (p->kind) {
	case SHIM_POLICY_HASH:
		return (hash_pick(p, peer, n));
	case SHIM_POLICY_SRCIP:
		return (srcip_pick(p, eps, n, peer));
	case SHIM_POLICY_LEASTLOADED:
		return (leastloaded(p, n));
	case SHIM_POLICY_ROUNDROBIN:
	default:
		return (roundrobin(p, eps, n));
	}
}
