/*
 * proto.c: encoding, validation and transport of records.
 */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "platform.h"
#include "proto.h"
#include "real.h"
#include "reuseport_shim.h"

/*
 * Byte offsets.  Bytes a type does not use must be zero, so that a later
 * version can give them meaning and an old owner refuses what it can't
 * read instead of misreading it.
 */
#define	OFF_MAGIC	0
#define	OFF_VERSION	4
#define	OFF_TYPE	5
#define	OFF_FLAGS	6
#define	OFF_SEQ		8
#define	OFF_ARG		12
#define	OFF_ADDR	16	/* PROTO_ADDR_SIZE bytes */
#define	OFF_NOPTS	44
#define	OFF_OPTS	48
#define	MAX_OPTS_FIT	((PROTO_REC_SIZE - OFF_OPTS) / 4)

_Static_assert(MAX_OPTS_FIT == PROTO_MAX_OPTS, "options must fill the record");
_Static_assert(OFF_ADDR + PROTO_ADDR_SIZE == OFF_NOPTS, "address fits");

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* host order: both ends share one machine */
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v);
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return (v);
}

void
proto_addr_put(uint8_t *p, const struct proto_addr *a)
{
	put16(p, a->family);
	put16(p + 2, a->port);
	put32(p + 4, a->flowinfo);
	put32(p + 8, a->scope_id);
	memcpy(p + 12, a->addr, 16);
}

void
proto_addr_get(const uint8_t *p, struct proto_addr *a)
{
	a->family = get16(p);
	a->port = get16(p + 2);
	a->flowinfo = get32(p + 4);
	a->scope_id = get32(p + 8);
	memcpy(a->addr, p + 12, 16);
}

int
proto_type_has_fd(int type)
{
	return (type == REC_CONN);
}

int
proto_type_may_fd(int type)
{
	return (type == REC_CONN || type == REC_WELCOME ||
	    type == REC_MIRROR || type == REC_GONE || type == REC_DGRAM);
}

static int
type_has_addr(int type)
{
	return (type == REC_WELCOME || type == REC_CONN ||
	    type == REC_STAT_GROUP);
}

static int
type_has_opts(int type)
{
	return (type == REC_LISTEN_OK || type == REC_STAT_GROUP ||
	    type == REC_STAT_EP || type == REC_SETOPT || type == REC_MIRROR);
}

void
proto_encode(const struct proto_rec *r, uint8_t out[PROTO_REC_SIZE])
{
	uint32_t n = r->nopts > MAX_OPTS_FIT ? MAX_OPTS_FIT : r->nopts;

	memset(out, 0, PROTO_REC_SIZE);
	put32(out + OFF_MAGIC, PROTO_MAGIC);
	out[OFF_VERSION] = REUSEPORT_SHIM_PROTO_VERSION;
	out[OFF_TYPE] = r->type;
	put32(out + OFF_SEQ, r->seq);
	put32(out + OFF_ARG, (uint32_t)r->arg);
	if (type_has_addr(r->type))
		proto_addr_put(out + OFF_ADDR, &r->addr);
	if (type_has_opts(r->type)) {
		put32(out + OFF_NOPTS, n);
		for (uint32_t i = 0; i < n; i++)
			put32(out + OFF_OPTS + 4 * i, (uint32_t)r->opts[i]);
	}
}

/* Bytes a record of this type must leave zero: they mean nothing yet. */
static int
tail_is_zero(const uint8_t *p, size_t from)
{
	for (size_t i = from; i < PROTO_REC_SIZE; i++) {
		if (p[i] != 0)
			return (0);
	}
	return (1);
}

static int
tail_zero16(const uint8_t *a, size_t from)
{
	for (size_t i = from; i < 16; i++) {
		if (a[i] != 0)
			return (0);
	}
	return (1);
}

int
proto_decode(const uint8_t in[PROTO_REC_SIZE], struct proto_rec *r)
{
	memset(r, 0, sizeof (*r));
	if (get32(in + OFF_MAGIC) != PROTO_MAGIC ||
	    in[OFF_VERSION] != REUSEPORT_SHIM_PROTO_VERSION ||
	    get16(in + OFF_FLAGS) != 0)
		return (-1);
	r->type = in[OFF_TYPE];
	if (r->type < REC_HELLO || r->type >= REC_TYPE_END)
		return (-1);
	r->seq = get32(in + OFF_SEQ);
	r->arg = (int32_t)get32(in + OFF_ARG);
	if (type_has_addr(r->type)) {
		proto_addr_get(in + OFF_ADDR, &r->addr);
		if (r->addr.family != AF_INET && r->addr.family != AF_INET6)
			return (-1);
		/* An IPv4 address uses 4 bytes and no flow or scope. */
		if (r->addr.family == AF_INET && (r->addr.flowinfo != 0 ||
		    r->addr.scope_id != 0 || !tail_zero16(r->addr.addr, 4)))
			return (-1);
	} else {
		for (size_t i = OFF_ADDR; i < OFF_NOPTS; i++) {
			if (in[i] != 0)
				return (-1);
		}
	}
	if (type_has_opts(r->type)) {
		r->nopts = get32(in + OFF_NOPTS);
		if (r->nopts > MAX_OPTS_FIT || r->nopts > PROTO_MAX_OPTS)
			return (-1);
		for (uint32_t i = 0; i < r->nopts; i++)
			r->opts[i] = (int32_t)get32(in + OFF_OPTS + 4 * i);
		if (!tail_is_zero(in, OFF_OPTS + 4 * r->nopts))
			return (-1);
	} else if (!tail_is_zero(in, OFF_NOPTS)) {
		return (-1);
	}
	if ((r->type == REC_LISTEN || r->type == REC_LISTEN_OK) && r->arg < 0)
		return (-1);
	return (0);
}

int
proto_addr_from_sockaddr(struct proto_addr *pa, const struct sockaddr *sa,
    socklen_t len)
{
	memset(pa, 0, sizeof (*pa));
	if (sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		pa->family = AF_INET;
		pa->port = in->sin_port;
		memcpy(pa->addr, &in->sin_addr, 4);
		return (0);
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		pa->family = AF_INET6;
		pa->port = in6->sin6_port;
		pa->flowinfo = in6->sin6_flowinfo;
		pa->scope_id = in6->sin6_scope_id;
		memcpy(pa->addr, &in6->sin6_addr, 16);
		return (0);
	}
	return (-1);
}

socklen_t
proto_addr_to_sockaddr(const struct proto_addr *pa,
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof (*ss));
	if (pa->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = pa->port;
		memcpy(&in->sin_addr, pa->addr, 4);
		return ((socklen_t)sizeof (*in));
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = pa->port;
		in6->sin6_flowinfo = pa->flowinfo;
		in6->sin6_scope_id = pa->scope_id;
		memcpy(&in6->sin6_addr, pa->addr, 16);
		return ((socklen_t)sizeof (*in6));
	}
}

ssize_t
proto_send_fd(int fd, const void *buf, size_t len, int passfd, int flags)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof (int))];
	} cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh;

	memset(&mh, 0, sizeof (mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (passfd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof (cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof (cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof (int));
		memcpy(CMSG_DATA(c), &passfd, sizeof (int));
	}
	return (real_sendmsg_xpg(fd, &mh, flags | plat_send_nosignal_flag()));
}

int
proto_send(int fd, const struct proto_rec *r, int connfd)
{
	uint8_t buf[PROTO_REC_SIZE];
	ssize_t n;

	proto_encode(r, buf);
	do {
		n = proto_send_fd(fd, buf, sizeof (buf), connfd, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (-1);
	if ((size_t)n != sizeof (buf)) {
		errno = EPIPE;
		return (-1);
	}
	return (0);
}

void
proto_close_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	    c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof (int);
		for (size_t i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof (int), sizeof (f));
			(void) real.close(f);
		}
	}
}

int
proto_only_fd(struct msghdr *mh, int *nfds)
{
	int fd = -1;

	*nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	    c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof (int);
		if (n >= 1)
			memcpy(&fd, CMSG_DATA(c), sizeof (fd));
		*nfds += (int)n;
	}
	return (*nfds == 1 ? fd : -1);
}

/* The rest of a record comes at once or never: wait a bounded time. */
static int
wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int n;

	do {
		n = poll(&p, 1, 1000);
	} while (n < 0 && errno == EINTR);
	return (n == 1 ? 0 : -1);
}

int
proto_recv(int fd, struct proto_rec *r, int *connfd, int flags)
{
	uint8_t buf[PROTO_REC_SIZE];
	union {
		struct cmsghdr	align;
		/* Room for a few stray fds: they are closed, not leaked. */
		char		buf[CMSG_SPACE(8 * sizeof (int))];
	} cm;
	size_t got = 0;
	int nfds = 0, rfd = -1, lost = 0;

	*connfd = -1;
	while (got < sizeof (buf)) {
		struct iovec iov = { buf + got, sizeof (buf) - got };
		struct msghdr mh;
		ssize_t n;
		int k, f;

		memset(&mh, 0, sizeof (mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof (cm.buf);
		n = real_recvmsg_xpg(fd, &mh, flags);
		if (n < 0) {
			if (got > 0 && (errno == EINTR || (errno == EAGAIN &&
			    wait_readable(fd) == 0)))
				continue;	/* a record split in two */
			if (got > 0)
				errno = EPROTO;
			goto fail;
		}
		if (n == 0) {
			if (got == 0)
				return (0);
			errno = EPROTO;
			goto fail;
		}
		k = 0;
		f = mh.msg_controllen > 0 ? proto_only_fd(&mh, &k) : -1;
		/*
		 * Cut off with no fd at all: the kernel could not give us one
		 * (EMFILE, ENFILE).  The record is still whole and valid.
		 */
		if ((mh.msg_flags & MSG_CTRUNC) && k == 0) {
			lost = 1;
		} else if (mh.msg_controllen > 0) {
			if ((mh.msg_flags & MSG_CTRUNC) || k != 1 ||
			    nfds != 0) {
				proto_close_fds(&mh);
				nfds += k + 1;
			} else {
				rfd = f;
				nfds = 1;
			}
		}
		got += (size_t)n;
	}
	if (proto_decode(buf, r) != 0) {
		errno = EPROTO;
		goto fail;
	}
	if (lost && nfds == 0 && proto_type_has_fd(r->type)) {
		errno = EMFILE;
		return (-1);
	}
	if (lost || nfds > 1 || (nfds == 1 && !proto_type_may_fd(r->type)) ||
	    (nfds == 0 && proto_type_has_fd(r->type))) {
		errno = EPROTO;
		goto fail;
	}
	*connfd = rfd;
	return (1);
fail:
	if (rfd >= 0) {
		int e = errno;

		(void) real.close(rfd);
		errno = e;
	}
	return (-1);
}
