/*
 * test_dgram.c: the header an owner puts in front of each datagram it
 * forwards (shim/dgram.c): what goes in comes out, and nothing that is
 * not a header of ours passes for one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dgram.h"

static void
sample(struct dgram_hdr *h, int family)
{
	memset(h, 0, sizeof (*h));
	h->len = 1234;
	h->ifindex = 7;
	h->src.family = (uint16_t)family;
	h->src.port = htons(53000);
	h->src.flowinfo = 0x12345;
	h->src.scope_id = 3;
	for (size_t i = 0; i < 16; i++)
		h->src.addr[i] = (uint8_t)(i + 1);
	h->dst.family = (uint16_t)family;
	h->dst.port = htons(53);
	for (size_t i = 0; i < 16; i++)
		h->dst.addr[i] = (uint8_t)(0xf0 + i);
	h->ttl = 33;
	h->tos = 0x22;
}

static void
test_roundtrip(void **state)
{
	const int fams[] = { AF_INET, AF_INET6 };
	uint8_t b[DGRAM_HDR_SIZE];
	struct dgram_hdr in, out;

	(void) state;
	for (size_t f = 0; f < 2; f++) {
		sample(&in, fams[f]);
		dgram_encode(&in, b);
		memset(&out, 0xa5, sizeof (out));
		assert_int_equal(dgram_decode(b, &out), 0);
		assert_int_equal(out.len, in.len);
		assert_int_equal(out.ifindex, in.ifindex);
		assert_memory_equal(&out.src, &in.src, sizeof (in.src));
		assert_memory_equal(&out.dst, &in.dst, sizeof (in.dst));
		assert_int_equal(out.ttl, 33);
		assert_int_equal(out.tos, 0x22);
		assert_int_equal(out.in_file, 0);
	}
	/* A payload in a file: said, and nothing else changes. */
	sample(&in, AF_INET6);
	in.in_file = 1;
	dgram_encode(&in, b);
	memset(&out, 0xa5, sizeof (out));
	assert_int_equal(dgram_decode(b, &out), 0);
	assert_int_equal(out.in_file, 1);
	assert_int_equal(out.len, in.len);
	assert_int_equal(out.ttl, 33);
	assert_int_equal(out.tos, 0x22);
	assert_memory_equal(&out.src, &in.src, sizeof (in.src));
	/* No destination known (no pktinfo): family 0 passes. */
	sample(&in, AF_INET);
	in.dst.family = 0;
	in.len = 0;		/* an empty datagram is a datagram */
	dgram_encode(&in, b);
	assert_int_equal(dgram_decode(b, &out), 0);
	assert_int_equal(out.dst.family, 0);
	assert_int_equal(out.len, 0);
	in.len = DGRAM_MAX;
	dgram_encode(&in, b);
	assert_int_equal(dgram_decode(b, &out), 0);
	assert_int_equal(out.len, DGRAM_MAX);
}

/*
 * TTL and TOS: 0 and 255 are values, -1 is "not known"; an owner of an
 * earlier build leaves those bytes 0, which reads as not known.
 */
static void
test_ttl_tos(void **state)
{
	uint8_t b[DGRAM_HDR_SIZE];
	struct dgram_hdr in, out;
	const int v[][2] = { { 0, 255 }, { 255, 0 }, { -1, 7 }, { 9, -1 },
	    { -1, -1 } };

	(void) state;
	for (size_t i = 0; i < sizeof (v) / sizeof (v[0]); i++) {
		sample(&in, AF_INET6);
		in.ttl = v[i][0];
		in.tos = v[i][1];
		dgram_encode(&in, b);
		assert_int_equal(dgram_decode(b, &out), 0);
		assert_int_equal(out.ttl, v[i][0]);
		assert_int_equal(out.tos, v[i][1]);
	}
	sample(&in, AF_INET);
	dgram_encode(&in, b);
	memset(b + 68, 0, DGRAM_HDR_SIZE - 68);
	assert_int_equal(dgram_decode(b, &out), 0);
	assert_int_equal(out.ttl, -1);
	assert_int_equal(out.tos, -1);
}

/* The group's end is told apart from every datagram. */
static void
test_end(void **state)
{
	uint8_t b[DGRAM_HDR_SIZE];
	struct dgram_hdr in, out;

	(void) state;
	dgram_encode_end(b);
	assert_int_equal(dgram_decode(b, &out), 1);
	sample(&in, AF_INET);
	dgram_encode(&in, b);
	assert_int_equal(dgram_decode(b, &out), 0);
}

static void
test_rejects(void **state)
{
	uint8_t b[DGRAM_HDR_SIZE], good[DGRAM_HDR_SIZE];
	struct dgram_hdr in, out;

	(void) state;
	sample(&in, AF_INET6);
	dgram_encode(&in, good);

	/* Every single byte of the magic matters. */
	for (size_t i = 0; i < 4; i++) {
		memcpy(b, good, sizeof (b));
		b[i] ^= 0x40;
		assert_int_equal(dgram_decode(b, &out), -1);
	}
	/* Too long for UDP. */
	in.len = DGRAM_MAX + 1;
	dgram_encode(&in, b);
	assert_int_equal(dgram_decode(b, &out), -1);
	/* A source of no family we know; a destination of a strange one. */
	sample(&in, AF_INET);
	in.src.family = AF_UNIX;
	dgram_encode(&in, b);
	assert_int_equal(dgram_decode(b, &out), -1);
	sample(&in, AF_INET);
	in.dst.family = AF_UNIX;
	dgram_encode(&in, b);
	assert_int_equal(dgram_decode(b, &out), -1);
	/* All zeroes: what an empty message would look like. */
	memset(b, 0, sizeof (b));
	assert_int_equal(dgram_decode(b, &out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_ttl_tos),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_rejects),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
