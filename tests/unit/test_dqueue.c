/*
 * test_dqueue.c: the datagrams a UDP owner holds for a member whose
 * queue is full (shim/dqueue.c): they come out in order, byte for byte,
 * across the ring's end and its growth, and the member's buffer bounds
 * them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/uio.h>
#include <cmocka.h>

#include "dqueue.h"

#define	HLEN	72

/* Record k: a header and a payload of len bytes, both from k. */
static void
make(unsigned k, uint8_t *h, uint8_t *d, size_t len)
{
	for (size_t i = 0; i < HLEN; i++)
		h[i] = (uint8_t)(k * 7 + i);
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(k * 13 + i * 3);
}

static size_t
len_of(unsigned k)
{
	return ((size_t)(k * 977u) % 3001u);	/* 0 too, and odd sizes */
}

/* The oldest record must be record k. */
static void
expect(const struct dqueue *q, size_t *at, unsigned k)
{
	static uint8_t h[HLEN], d[4000], got[HLEN + 4000];
	struct iovec iov[2];
	size_t len = len_of(k), n = dqueue_peek(q, at, iov), off;

	make(k, h, d, len);
	assert_in_range(n, 1, 2);
	off = iov[0].iov_len + (n > 1 ? iov[1].iov_len : 0);
	assert_int_equal(off, HLEN + len);
	memcpy(got, iov[0].iov_base, iov[0].iov_len);
	if (n > 1)
		memcpy(got + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
	assert_memory_equal(got, h, HLEN);
	if (len > 0)
		assert_memory_equal(got + HLEN, d, len);
}

static void
push(struct dqueue *q, unsigned k, size_t limit, int want)
{
	static uint8_t h[HLEN], d[4000];
	size_t len = len_of(k);

	make(k, h, d, len);
	assert_int_equal(dqueue_push(q, limit, h, HLEN, len > 0 ? d : NULL,
	    len), want);
}

/*
 * A producer ahead of a consumer by a varying amount: records wrap at
 * the ring's end (two pieces) and the ring grows with live records in
 * it; every one comes out as it went in, in order.
 */
static void
test_order(void **state)
{
	struct dqueue q = { 0 };
	unsigned in = 0, out = 0;
	int wrapped = 0;

	(void) state;
	for (int round = 0; round < 400; round++) {
		unsigned burst = (unsigned)(round * 37) % 90;

		for (unsigned j = 0; j < burst; j++)
			push(&q, in++, SIZE_MAX, 0);
		/* Take some, oldest first, then let them go. */
		size_t at = 0, take = q.n / 2 + (round % 3 == 0 ? q.n / 2 : 0);

		for (size_t j = 0; j < take; j++) {
			struct iovec iov[2];
			size_t at2 = at;

			if (dqueue_peek(&q, &at2, iov) == 2)
				wrapped = 1;
			expect(&q, &at, out + (unsigned)j);
		}
		dqueue_pop(&q, take);
		out += (unsigned)take;
		assert_int_equal(q.n, in - out);
	}
	assert_true(wrapped);	/* else the two-piece path went untested */
	dqueue_free(&q);
	assert_int_equal(q.n, 0);
	assert_null(q.buf);
}

/*
 * The limit counts what the records take: refused beyond it, taken again
 * once some are gone; an empty queue takes one whatever its size.
 */
static void
test_limit(void **state)
{
	struct dqueue q = { 0 };
	size_t limit = 10000, n = 0, at = 0;
	uint8_t h[HLEN] = { 1 }, d[100] = { 2 };

	(void) state;
	while (dqueue_push(&q, limit, h, HLEN, d, sizeof (d)) == 0)
		n++;
	/* Each takes 4 + 172: 56 fit in 10000, the 57th does not. */
	assert_int_equal(n, limit / (4 + HLEN + sizeof (d)));
	assert_true(q.used <= limit);
	dqueue_pop(&q, 1);
	assert_int_equal(dqueue_push(&q, limit, h, HLEN, d, sizeof (d)), 0);
	assert_int_equal(dqueue_push(&q, limit, h, HLEN, d, sizeof (d)), -1);
	dqueue_pop(&q, q.n);
	assert_int_equal(q.used, 0);
	/* Larger than the limit, yet the first: taken. */
	assert_int_equal(dqueue_push(&q, 10, h, HLEN, d, sizeof (d)), 0);
	assert_int_equal(dqueue_push(&q, 10, h, HLEN, d, 0), -1);
	{
		struct iovec iov[2];

		assert_int_equal(dqueue_peek(&q, &at, iov), 1);
		assert_int_equal(iov[0].iov_len, HLEN + sizeof (d));
	}
	dqueue_free(&q);
}

/* A burst's large ring is let go once emptied; a small one is kept. */
static void
test_release(void **state)
{
	struct dqueue q = { 0 };
	unsigned k = 0;
	uint8_t *small;

	(void) state;
	push(&q, 1, SIZE_MAX, 0);
	small = q.buf;
	dqueue_pop(&q, 1);
	assert_ptr_equal(q.buf, small);
	while (q.cap <= ((size_t)64 << 10))
		push(&q, k++, SIZE_MAX, 0);
	dqueue_pop(&q, q.n - 1);
	assert_non_null(q.buf);		/* one left: kept */
	dqueue_pop(&q, 1);
	assert_null(q.buf);
	assert_int_equal(q.cap, 0);
	dqueue_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_release),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
