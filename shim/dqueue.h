/*
 * dqueue.h: the datagrams a UDP owner holds for one member, in order,
 * while that member's queue (its Unix datagram pair) is full.
 *
 * The kernel's group would have kept them in the member's own socket, up
 * to its SO_RCVBUF; the pair may hold far less (illumos's tl takes about
 * 21 KB whatever the buffer asked), so without this a member that pauses
 * loses what its socket would have held.  Each record is the owner's
 * header and the payload, kept as bytes in one ring; a record may wrap
 * at the ring's end, so its bytes are given as up to two pieces.  The
 * ring grows as needed, up to the limit the caller gives each push.
 * Pure: memory from plat_alloc (pages, given back when a burst's large
 * ring is let go), no other system calls.
 */
#ifndef SHIM_DQUEUE_H
#define SHIM_DQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct dqueue {
	uint8_t	*buf;
	size_t	cap;	/* bytes of buf: 0 with none */
	size_t	head;	/* where the oldest record starts */
	size_t	used;	/* bytes the records take, lengths and padding too */
	size_t	n;	/* records */
};

/*
 * A record of head and data (a header, then a payload) at the end; 0,
 * or -1 if it would take the queue beyond limit bytes (an empty queue
 * takes one record whatever its size, as a socket takes a datagram while
 * it is below its buffer) or there is no memory.
 */
int dqueue_push(struct dqueue *q, size_t limit, const void *head,
    size_t hlen, const void *data, size_t len);
/*
 * The bytes of the k-th oldest record, k < n, as iov[0..ret), ret 1 or
 * 2; *at is where to look (0 for the oldest) and is moved to the next.
 */
size_t dqueue_peek(const struct dqueue *q, size_t *at, struct iovec iov[2]);
/* The k oldest records gone; an emptied queue lets a large ring go. */
void dqueue_pop(struct dqueue *q, size_t k);
/* Everything gone, the ring too. */
void dqueue_free(struct dqueue *q);

#endif /* SHIM_DQUEUE_H */
