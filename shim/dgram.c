/*
 * dgram.c: the header in front of each datagram an owner forwards
 * (dgram.h).
 */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "dgram.h"

/* Offsets, fixed: see dgram.h. */
#define	OFF_MAGIC	0
#define	OFF_LEN		4
#define	OFF_IFINDEX	8
#define	OFF_SRC		12	/* PROTO_ADDR_SIZE bytes each */
#define	OFF_DST		40
#define	OFF_TTL		68	/* a byte each */
#define	OFF_TOS		69
#define	OFF_KNOWN	70	/* which of the two: KNOWN_*; an earlier */
				/* owner's 0: neither */
#define	OFF_FLAGS	71	/* FLAG_*; an earlier owner's 0 */

#define	KNOWN_TTL	0x1
#define	KNOWN_TOS	0x2
#define	FLAG_IN_FILE	0x1

_Static_assert(OFF_FLAGS < DGRAM_HDR_SIZE, "header fits");

_Static_assert(OFF_DST + PROTO_ADDR_SIZE <= OFF_TTL, "addresses fit");

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v);
}

void
dgram_encode(const struct dgram_hdr *h, uint8_t out[DGRAM_HDR_SIZE])
{
	memset(out, 0, DGRAM_HDR_SIZE);
	put32(out + OFF_MAGIC, DGRAM_MAGIC);
	put32(out + OFF_LEN, h->len);
	put32(out + OFF_IFINDEX, h->ifindex);
	proto_addr_put(out + OFF_SRC, &h->src);
	proto_addr_put(out + OFF_DST, &h->dst);
	if (h->ttl >= 0 && h->ttl <= 255) {
		out[OFF_TTL] = (uint8_t)h->ttl;
		out[OFF_KNOWN] |= KNOWN_TTL;
	}
	if (h->tos >= 0 && h->tos <= 255) {
		out[OFF_TOS] = (uint8_t)h->tos;
		out[OFF_KNOWN] |= KNOWN_TOS;
	}
	if (h->in_file)
		out[OFF_FLAGS] |= FLAG_IN_FILE;
}

void
dgram_encode_end(uint8_t out[DGRAM_HDR_SIZE])
{
	memset(out, 0, DGRAM_HDR_SIZE);
	put32(out + OFF_MAGIC, DGRAM_MAGIC_END);
}

int
dgram_decode(const uint8_t in[DGRAM_HDR_SIZE], struct dgram_hdr *h)
{
	if (get32(in + OFF_MAGIC) == DGRAM_MAGIC_END) {
		memset(h, 0, sizeof (*h));
		return (1);
	}
	if (get32(in + OFF_MAGIC) != DGRAM_MAGIC)
		return (-1);
	h->len = get32(in + OFF_LEN);
	h->ifindex = get32(in + OFF_IFINDEX);
	proto_addr_get(in + OFF_SRC, &h->src);
	proto_addr_get(in + OFF_DST, &h->dst);
	h->ttl = (in[OFF_KNOWN] & KNOWN_TTL) ? in[OFF_TTL] : -1;
	h->tos = (in[OFF_KNOWN] & KNOWN_TOS) ? in[OFF_TOS] : -1;
	h->in_file = (in[OFF_FLAGS] & FLAG_IN_FILE) != 0;
	if (h->len > DGRAM_MAX ||
	    (h->src.family != AF_INET && h->src.family != AF_INET6) ||
	    (h->dst.family != 0 && h->dst.family != AF_INET &&
	    h->dst.family != AF_INET6))
		return (-1);
	return (0);
}
