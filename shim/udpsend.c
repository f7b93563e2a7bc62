/*
 * udpsend.c: the sends of a dispatched UDP member that set sending
 * options of its own (IP_TOS for ECN, IP_TTL, UDP_SEGMENT...).  Its
 * sends leave by the group's socket, which every member shares, so the
 * options cannot live there: each send carries them as the control
 * messages that set them for one datagram (platform.h), and every send
 * call becomes one sendmsg.  A member without such options never comes
 * here: its calls go to the group's socket as they are (io.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "platform.h"
#include "real.h"
#include "udp.h"

/* Room on the stack for a send's control: the application's and ours. */
#define	CONTROL_ROOM	512
/* sendmmsg's count, as Linux caps it (UIO_MAXIOV). */
#define	MMSG_MAX	1024

/*
 * The application's control (ctl of len bytes; NULL: none), walked as
 * the kernel checks it: into *end, where a message after its last goes
 * (its padding counted: the application's length may leave it out);
 * into *has, bit i, that it sets our option i itself.  -1 if a header is
 * short or runs past len: the kernel refuses that, so it goes as it is.
 * Headers are copied out: the application's buffer need not be aligned.
 */
static int
app_control(const void *ctl, size_t len, size_t *end, unsigned *has)
{
	const struct plat_sendopt *d;
	size_t off = 0;

	*end = 0;
	*has = 0;
	while (ctl != NULL && off + sizeof (struct cmsghdr) <= len) {
		struct cmsghdr c;

		memcpy(&c, (const char *)ctl + off, sizeof (c));
		if (c.cmsg_len < CMSG_LEN(0) || c.cmsg_len > len - off)
			return (-1);
		for (size_t i = 0; i < PLAT_SENDOPTS; i++) {
			if ((d = plat_sendopt_nth(i)) != NULL &&
			    d->level == c.cmsg_level && d->type == c.cmsg_type)
				*has |= 1U << i;
		}
		off += CMSG_SPACE(c.cmsg_len - CMSG_LEN(0));
		*end = off;
	}
	return (0);
}

/* Whether to is a multicast address (IPv4's, mapped too, or IPv6's). */
static int
multicast(const struct sockaddr *to, socklen_t len)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const uint8_t *a;

	if (to == NULL || len < sizeof (sa_family_t))
		return (0);
	if (to->sa_family == AF_INET && len >= sizeof (sin)) {
		memcpy(&sin, to, sizeof (sin));
		a = (const uint8_t *)&sin.sin_addr;
		return ((a[0] & 0xf0) == 0xe0);
	}
	if (to->sa_family != AF_INET6 || len < sizeof (sin6))
		return (0);
	memcpy(&sin6, to, sizeof (sin6));
	a = sin6.sin6_addr.s6_addr;
	return (IN6_IS_ADDR_MULTICAST(&sin6.sin6_addr) ||
	    (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr) && (a[12] & 0xf0) == 0xe0));
}

/*
 * The control of s's sendmsg: the application's messages, then ours for
 * each option it does not set itself in this call (the unicast TTL not
 * to a multicast group: a socket's option would not apply there).  Into
 * buf (aligned for a cmsghdr, as long as the answer), or with buf NULL
 * how long it is; -1 for an application's control the kernel refuses.
 */
static long
control(const struct plat_sendopts *o, const struct udp_send *s, void *buf)
{
	const struct plat_sendopt *d;
	size_t len = s->ctl != NULL ? s->ctllen : 0, used;
	unsigned has;
	int mc = multicast(s->to, s->tolen);

	if (app_control(s->ctl, len, &used, &has) != 0)
		return (-1);
	if (buf != NULL && used > 0) {
		memset(buf, 0, used);
		memcpy(buf, s->ctl, len < used ? len : used);
	}
	for (size_t i = 0; i < PLAT_SENDOPTS; i++) {
		struct cmsghdr c;
		uint16_t v16 = (uint16_t)o->v[i];
		char *at;

		if ((d = plat_sendopt_nth(i)) == NULL ||
		    !(o->set & (1U << i)) || (has & (1U << i)) ||
		    (mc && d->unicast))
			continue;
		if (buf != NULL) {
			at = (char *)buf + used;
			memset(at, 0, CMSG_SPACE(d->size));
			memset(&c, 0, sizeof (c));
			c.cmsg_level = d->level;
			c.cmsg_type = d->type;
			c.cmsg_len = CMSG_LEN(d->size);
			memcpy(at, &c, sizeof (c));
			memcpy(CMSG_DATA((struct cmsghdr *)(void *)at),
			    d->size == sizeof (v16) ? (const void *)&v16 :
			    (const void *)&o->v[i], d->size);
		}
		used += CMSG_SPACE(d->size);
	}
	return ((long)used);
}

ssize_t
udp_send_opts(int out, const struct udp_io *u, const struct udp_send *s)
{
	/* The control's room, aligned as a cmsghdr must be. */
	union {
		struct cmsghdr	hdr;
		unsigned char	b[CONTROL_ROOM];
	} small;
	struct msghdr m;
	void *buf = small.b;
	long n = control(&u->so, s, NULL);
	ssize_t r;
	int e;

	memset(&m, 0, sizeof (m));
	m.msg_name = (void *)s->to;
	m.msg_namelen = s->to != NULL ? s->tolen : 0;
	m.msg_iov = (struct iovec *)s->iov;
	m.msg_iovlen = s->iovcnt;
	/* A long control (never, for what a UDP socket takes): the heap. */
	if (n > CONTROL_ROOM && (buf = malloc((size_t)n)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if (n < 0) {
		m.msg_control = (void *)s->ctl;
		m.msg_controllen = s->ctllen;
	} else if (n > 0) {
		m.msg_control = buf;
		m.msg_controllen = (size_t)control(&u->so, s, buf);
	}
	r = real_sendmsg_xpg(out, &m, s->flags);
	if (buf != small.b) {
		e = errno;
		free(buf);
		errno = e;
	}
	return (r);
}

/*
 * sendmmsg, one sendmsg a message: each needs its own control.  As the
 * kernel's: at most MMSG_MAX; how many went, or -1 and errno if not even
 * the first did.
 */
int
udp_sendmmsg_opts(int out, const struct udp_io *u, void *vec, unsigned n,
    int flags)
{
	struct udp_mmsg *v = vec;
	unsigned i;
	int e = errno;

	if (n > MMSG_MAX)
		n = MMSG_MAX;
	for (i = 0; i < n; i++) {
		const struct msghdr *h = &v[i].hdr;
		ssize_t r;

		r = udp_send_opts(out, u, &(struct udp_send){
		    .iov = h->msg_iov, .iovcnt = (long)h->msg_iovlen,
		    .to = h->msg_name, .tolen = h->msg_namelen,
		    .ctl = h->msg_control, .ctllen = h->msg_controllen,
		    .flags = flags });
		if (r < 0 && i == 0)
			return (-1);
		if (r < 0)
			break;
		v[i].len = (unsigned)r;
	}
	errno = e;	/* what went is the answer */
	return ((int)i);
}
