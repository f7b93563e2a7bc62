/*
 * dqueue.c: a member's held datagrams (see dqueue.h).
 *
 * A record is its length (4 bytes) and then its bytes, padded to 4, so
 * that a length, at a multiple of 4 in a ring whose size is one, never
 * wraps; the bytes may, and are peeked as two pieces then.
 */
#include <string.h>

#include "dqueue.h"
#include "platform.h"

#define	FIRST_CAP	((size_t)64 << 10)
/* An emptied ring larger than this is let go (a burst's memory). */
#define	KEEP_CAP	FIRST_CAP

static size_t
pad4(size_t n)
{
	return ((n + 3) & ~(size_t)3);
}

/* n bytes of src into the ring at physical offset at, wrapping. */
static void
put(struct dqueue *q, size_t at, const void *src, size_t n)
{
	size_t first = q->cap - at < n ? q->cap - at : n;

	if (n == 0)
		return;		/* src may be NULL (an empty payload) */
	memcpy(q->buf + at, src, first);
	memcpy(q->buf, (const uint8_t *)src + first, n - first);
}

/* A ring of at least need bytes, the records moved to its start. */
static int
grow(struct dqueue *q, size_t need)
{
	size_t nc = q->cap == 0 ? FIRST_CAP : q->cap * 2, at = 0;
	struct iovec iov[2];
	uint8_t *b;

	while (nc < need)
		nc *= 2;
	if ((b = plat_alloc(nc)) == NULL)
		return (-1);
	/* Record by record: each keeps its length word and padding. */
	for (size_t k = 0; k < q->n; k++) {
		size_t off = at, got = dqueue_peek(q, &at, iov);
		uint32_t len = (uint32_t)(iov[0].iov_len +
		    (got > 1 ? iov[1].iov_len : 0));

		memcpy(b + off, &len, sizeof (len));
		memcpy(b + off + 4, iov[0].iov_base, iov[0].iov_len);
		if (got > 1)
			memcpy(b + off + 4 + iov[0].iov_len, iov[1].iov_base,
			    iov[1].iov_len);
	}
	plat_free(q->buf, q->cap);
	q->buf = b;
	q->cap = nc;
	q->head = 0;
	return (0);
}

int
dqueue_push(struct dqueue *q, size_t limit, const void *head, size_t hlen,
    const void *data, size_t len)
{
	size_t rec = 4 + pad4(hlen + len), at;
	uint32_t l = (uint32_t)(hlen + len);

	if (q->n > 0 && q->used + rec > limit)
		return (-1);
	if (q->used + rec > q->cap && grow(q, q->used + rec) != 0)
		return (-1);
	at = (q->head + q->used) % q->cap;
	memcpy(q->buf + at, &l, sizeof (l));
	at = (at + 4) % q->cap;
	put(q, at, head, hlen);
	put(q, (at + hlen) % q->cap, data, len);
	q->used += rec;
	q->n++;
	return (0);
}

size_t
dqueue_peek(const struct dqueue *q, size_t *at, struct iovec iov[2])
{
	size_t pos = (q->head + *at) % q->cap, first;
	uint32_t len;

	memcpy(&len, q->buf + pos, sizeof (len));
	pos = (pos + 4) % q->cap;
	first = q->cap - pos < len ? q->cap - pos : len;
	iov[0].iov_base = q->buf + pos;
	iov[0].iov_len = first;
	iov[1].iov_base = q->buf;
	iov[1].iov_len = len - first;
	*at += 4 + pad4(len);
	return (len > first ? 2 : 1);
}

void
dqueue_pop(struct dqueue *q, size_t k)
{
	size_t at = 0;
	struct iovec iov[2];

	for (; k > 0 && q->n > 0; k--, q->n--)
		(void) dqueue_peek(q, &at, iov);
	q->head = (q->head + at) % (q->cap > 0 ? q->cap : 1);
	q->used -= at;
	if (q->n == 0) {
		q->head = q->used = 0;
		if (q->cap > KEEP_CAP)
			dqueue_free(q);
	}
}

void
dqueue_free(struct dqueue *q)
{
	plat_free(q->buf, q->cap);
	memset(q, 0, sizeof (*q));
}
