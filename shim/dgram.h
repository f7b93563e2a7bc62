/*
 * dgram.h: how a UDP group's owner hands a datagram to a member.
 *
 * In the dispatched ways the owner reads the group's one real socket and
 * forwards each datagram, as one message on a Unix datagram socket, to
 * the member it chose: a fixed header, then the payload.  The header says
 * what recvfrom and recvmsg must report: the datagram's length (a member
 * that asks with MSG_TRUNC learns it even when its buffer was short), its
 * source, where it was sent to (IP_PKTINFO, IPV6_RECVPKTINFO), its TTL
 * and TOS (IP_RECVTTL, IP_RECVTOS and IPv6's kin).  Both ends are
 * processes of one machine, yet the layout has fixed offsets, as
 * proto.h's, so a 32-bit member reads a 64-bit owner; and fields added
 * since take bytes an earlier owner left 0, which read as "not known".
 * Pure: no system calls.
 */
#ifndef SHIM_DGRAM_H
#define SHIM_DGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define	DGRAM_MAGIC	0x55505352u	/* "RSPU" read as bytes */
/* A header alone with this magic: the group ended (reuseport-shim stop). */
#define	DGRAM_MAGIC_END	0x444e4552u	/* "REND" */
#define	DGRAM_HDR_SIZE	72
/* The largest payload a UDP datagram can carry (IPv6 without jumbo). */
#define	DGRAM_MAX	65535

struct dgram_hdr {
	uint32_t	len;		/* the payload's length */
	struct proto_addr src;		/* who sent it */
	struct proto_addr dst;		/* to which address of ours; family */
					/* 0: not known (no pktinfo) */
	uint32_t	ifindex;	/* the interface it came in on */
	int		ttl;		/* its TTL or hop limit; -1: unknown */
	int		tos;		/* its TOS or traffic class; -1 too */
	int		in_file;	/* the payload comes in a file passed */
					/* with the header, not after it */
					/* (proto.h HELLO_TAKES_FILE) */
};

void dgram_encode(const struct dgram_hdr *h, uint8_t out[DGRAM_HDR_SIZE]);
/* The group's end, to each member's queue. */
void dgram_encode_end(uint8_t out[DGRAM_HDR_SIZE]);
/*
 * 0, 1 for the group's end, or -1 if in is not a header of ours (magic,
 * families, length).
 */
int dgram_decode(const uint8_t in[DGRAM_HDR_SIZE], struct dgram_hdr *h);

#endif /* SHIM_DGRAM_H */
