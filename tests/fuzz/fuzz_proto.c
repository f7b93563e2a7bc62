/*
 * fuzz_proto.c: libFuzzer target for the owner's record parser.
 *
 * The input is a byte stream of records, as an owner reads it from an
 * endpoint.  Each PROTO_REC_SIZE chunk goes to proto_decode; a record that
 * decodes must satisfy the invariants below and survive an encode/decode
 * round trip.  The same stream (at most STREAM_MAX records, plus any
 * trailing partial record) is then written to a Unix stream socket and
 * read back with proto_recv, which must agree with proto_decode record by
 * record and leak no fd.  A well-behaved sender attaches one fd to each
 * CONN record; the trailing partial record, if any, doubles as control
 * bytes, one per record (see send_record), that attach the wrong number
 * of fds or split a record across two sends.  Any violation aborts, so
 * that libFuzzer reports it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "platform.h"
#include "proto.h"
#include "real.h"

#define	STREAM_MAX	32	/* records written to the socket per input */
#define	MAX_SEND_FDS	10	/* more than proto_recv has room for */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int devnull = -1;

#define	CHECK(cond)	do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_proto: invariant failed: %s (%s:%d)\n", \
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

/*
 * Which types carry an address and which options, as the encoder says:
 * proto.c keeps that to itself, and the decoder must agree with it.
 * Learnt once, so that new record types need no change here.
 */
static int type_addr[REC_TYPE_END], type_opts[REC_TYPE_END];

static void
learn_types(void)
{
	for (int t = REC_HELLO; t < REC_TYPE_END; t++) {
		struct proto_rec r;
		uint8_t b[PROTO_REC_SIZE];

		memset(&r, 0, sizeof (r));
		r.type = (uint8_t)t;
		r.addr.family = AF_INET;
		r.nopts = 1;
		r.opts[0] = 1;
		proto_encode(&r, b);
		type_addr[t] = b[16] != 0 || b[17] != 0;	/* family */
		type_opts[t] = b[44] != 0;			/* nopts */
	}
}

static void
same_rec(const struct proto_rec *a, const struct proto_rec *b)
{
	CHECK(a->type == b->type);
	CHECK(a->seq == b->seq);
	CHECK(a->arg == b->arg);
	CHECK(a->addr.family == b->addr.family);
	CHECK(a->addr.port == b->addr.port);
	CHECK(a->addr.flowinfo == b->addr.flowinfo);
	CHECK(a->addr.scope_id == b->addr.scope_id);
	CHECK(memcmp(a->addr.addr, b->addr.addr, 16) == 0);
	CHECK(a->nopts == b->nopts);
	CHECK(memcmp(a->opts, b->opts, sizeof (a->opts)) == 0);
}

/* A decoded address, through sockaddr_storage and back. */
static void
check_addr(const struct proto_addr *pa)
{
	struct sockaddr_storage ss;
	struct proto_addr back;
	socklen_t len;

	len = proto_addr_to_sockaddr(pa, &ss);
	CHECK(ss.ss_family == pa->family);
	if (pa->family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		CHECK(len == sizeof (struct sockaddr_in));
		CHECK(in->sin_port == pa->port);
		CHECK(memcmp(&in->sin_addr, pa->addr, 4) == 0);
	} else {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)&ss;

		CHECK(len == sizeof (struct sockaddr_in6));
		CHECK(in6->sin6_port == pa->port);
		CHECK(in6->sin6_flowinfo == pa->flowinfo);
		CHECK(in6->sin6_scope_id == pa->scope_id);
		CHECK(memcmp(&in6->sin6_addr, pa->addr, 16) == 0);
	}
	CHECK(proto_addr_from_sockaddr(&back, (struct sockaddr *)&ss,
	    len) == 0);
	CHECK(back.family == pa->family && back.port == pa->port);
	if (pa->family == AF_INET) {
		/* IPv4 carries no flow, scope or address bytes past 4. */
		CHECK(memcmp(back.addr, pa->addr, 4) == 0);
	} else {
		CHECK(back.flowinfo == pa->flowinfo);
		CHECK(back.scope_id == pa->scope_id);
		CHECK(memcmp(back.addr, pa->addr, 16) == 0);
	}
	/* One byte short of a whole sockaddr is refused. */
	CHECK(proto_addr_from_sockaddr(&back, (struct sockaddr *)&ss,
	    len - 1) == -1);
}

/* 0 and r filled if chunk is a valid record, else -1. */
static int
decode_checked(const uint8_t *chunk, struct proto_rec *r)
{
	uint8_t enc[PROTO_REC_SIZE];
	struct proto_rec again;

	if (proto_decode(chunk, r) != 0)
		return (-1);
	CHECK(r->type >= REC_HELLO && r->type < REC_TYPE_END);
	CHECK(r->nopts <= PROTO_MAX_OPTS);
	CHECK(type_opts[r->type] || r->nopts == 0);
	if (type_addr[r->type]) {
		CHECK(r->addr.family == AF_INET || r->addr.family == AF_INET6);
		check_addr(&r->addr);
	} else {
		CHECK(r->addr.family == 0 && r->addr.port == 0);
	}
	if (r->type == REC_LISTEN || r->type == REC_LISTEN_OK)
		CHECK(r->arg >= 0);
	CHECK(proto_type_has_fd(r->type) == (r->type == REC_CONN));
	/* The owner's to its standby, and GONE: an fd of the owner's own. */
	CHECK(proto_type_may_fd(r->type) ==
	    (r->type == REC_CONN || r->type == REC_WELCOME ||
	    r->type == REC_MIRROR || r->type == REC_GONE ||
	    r->type == REC_DGRAM));
	for (uint32_t i = r->nopts; i < PROTO_MAX_OPTS; i++)
		CHECK(r->opts[i] == 0);

	/* Round trip: the struct, and the bytes (a valid record is canonical). */
	proto_encode(r, enc);
	CHECK(proto_decode(enc, &again) == 0);
	same_rec(r, &again);
	CHECK(memcmp(enc, chunk, PROTO_REC_SIZE) == 0);
	return (0);
}

static int
lowest_free_fd(void)
{
	int fd = dup(0);

	CHECK(fd >= 0);
	(void) close(fd);
	return (fd);
}

/*
 * Which fds are open from lowest on.  Fds are allocated lowest first, and
 * a run holds at most the socket pair and one message's fds at once, so
 * the first fd a run leaked would land within LEAK_WINDOW of the lowest
 * free fd when it began.  (fds above may be open: the fuzzer's own.)
 */
#define	LEAK_WINDOW	(2 + MAX_SEND_FDS + 4)

static uint32_t
open_fds_from(int lowest)
{
	uint32_t set = 0;

	for (int i = 0; i < LEAK_WINDOW; i++) {
		if (fcntl(lowest + i, F_GETFD) != -1)
			set |= 1u << i;
	}
	return (set);
}

/* Send len bytes with nfds fresh fds (dups of /dev/null) attached. */
static void
send_part(int fd, const uint8_t *p, size_t len, int nfds)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(MAX_SEND_FDS * sizeof (int))];
	} cm;
	struct iovec iov = { (void *)(uintptr_t)p, len };
	struct msghdr mh;
	int fds[MAX_SEND_FDS];

	CHECK(nfds >= 0 && nfds <= MAX_SEND_FDS);
	memset(&mh, 0, sizeof (mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *c;

		for (int i = 0; i < nfds; i++)
			CHECK((fds[i] = dup(devnull)) >= 0);
		memset(&cm, 0, sizeof (cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof (int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof (int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof (int));
	}
	CHECK(sendmsg(fd, &mh, MSG_DONTWAIT) == (ssize_t)len);
	for (int i = 0; i < nfds; i++)
		(void) close(fds[i]);
}

/*
 * Send record p as a sender would, or not, as the control byte m says:
 *   bits 0-1: fds attached: 0 one if the type byte says CONN, else none;
 *             1 the opposite; 2 two; 3 MAX_SEND_FDS (more than
 *             proto_recv has room for)
 *   bits 3-7: if non-zero, send the record in two parts, split at 3 times
 *             this; bit 2 then puts the fds on the first part, else on
 *             the second (with two fds, one on each part)
 * Returns how many fds the record came with.
 */
static int
send_record(int fd, const uint8_t *p, unsigned m)
{
	size_t split = (m >> 3) * 3;
	int nfds;

	switch (m & 3) {
	case 0:
		nfds = proto_type_has_fd(p[5]);	/* the type byte */
		break;
	case 1:
		nfds = !proto_type_has_fd(p[5]);
		break;
	case 2:
		nfds = 2;
		break;
	default:
		nfds = MAX_SEND_FDS;
		break;
	}
	if (split == 0)
		send_part(fd, p, PROTO_REC_SIZE, nfds);
	else if (nfds == 2) {
		send_part(fd, p, split, 1);
		send_part(fd, p + split, PROTO_REC_SIZE - split, 1);
	} else if (m & 4) {
		send_part(fd, p, split, nfds);
		send_part(fd, p + split, PROTO_REC_SIZE - split, 0);
	} else {
		send_part(fd, p, split, 0);
		send_part(fd, p + split, PROTO_REC_SIZE - split, nfds);
	}
	return (nfds);
}

/*
 * The stream through a socket and proto_recv, against proto_decode: a
 * record comes back iff it decodes and came with the fds its type takes
 * (one for CONN, one or none for WELCOME, else none), however it was
 * split; otherwise EPROTO,
 * with every fd that came with it closed.
 */
static void
stream(const uint8_t *data, size_t size)
{
	size_t nrec = size / PROTO_REC_SIZE, rest = size % PROTO_REC_SIZE;
	const uint8_t *ctl = data + nrec * PROTO_REC_SIZE;
	int sv[2], before, nfds[STREAM_MAX];
	uint32_t open_before;

	if (nrec > STREAM_MAX) {
		nrec = STREAM_MAX;
		rest = 0;
	}
	before = lowest_free_fd();
	open_before = open_fds_from(before);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	for (size_t i = 0; i < nrec; i++) {
		nfds[i] = send_record(sv[1], data + i * PROTO_REC_SIZE,
		    i < rest ? ctl[i] : 0);
	}
	if (rest > 0)
		send_part(sv[1], ctl, rest, 0);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);

	for (size_t i = 0; i < nrec; i++) {
		struct proto_rec want, got;
		int ok, n, connfd = -2;

		ok = decode_checked(data + i * PROTO_REC_SIZE, &want) == 0 &&
		    (nfds[i] == 0 ? !proto_type_has_fd(want.type) :
		    nfds[i] == 1 && proto_type_may_fd(want.type));
		errno = 0;
		n = proto_recv(sv[0], &got, &connfd, plat_recv_cloexec_flag());
		if (ok) {
			CHECK(n == 1);
			same_rec(&want, &got);
			CHECK((connfd >= 0) == nfds[i]);
			if (connfd >= 0) {
				CHECK(fcntl(connfd, F_GETFD) >= 0);
				(void) close(connfd);
			}
		} else {
			CHECK(n == -1 && errno == EPROTO);
			CHECK(connfd == -1);
		}
	}
	{
		struct proto_rec got;
		int n, connfd = -2;

		errno = 0;
		n = proto_recv(sv[0], &got, &connfd, plat_recv_cloexec_flag());
		if (rest > 0)
			CHECK(n == -1 && errno == EPROTO);
		else
			CHECK(n == 0);
		CHECK(connfd == -1);
	}
	(void) close(sv[0]);
	(void) close(sv[1]);
	CHECK(open_fds_from(before) == open_before);	/* no fd leaked */
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	real_init();
	learn_types();
	/* What proto.h documents. */
	if (!type_addr[REC_WELCOME] || !type_addr[REC_CONN] ||
	    !type_opts[REC_LISTEN_OK] || type_addr[REC_HELLO])
		abort();
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0)
		abort();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t off = 0; off + PROTO_REC_SIZE <= size;
	    off += PROTO_REC_SIZE) {
		uint8_t chunk[PROTO_REC_SIZE];
		struct proto_rec r;

		/* proto_decode takes exactly PROTO_REC_SIZE bytes. */
		memcpy(chunk, data + off, PROTO_REC_SIZE);
		(void) decode_checked(chunk, &r);
	}
	stream(data, size);
	return (0);
}
