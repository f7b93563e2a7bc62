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
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "platform.h"
#include "real.h"
#include "udp.h"

/* Room for the control of a send: the application's and ours. */
#define	CONTROL_ROOM	512

/*
 * Whether the application's control sets (level, type) itself; *end:
 * where a message after its last goes (its padding counted: the
 * application's length may leave it out).
 */
static int
control_has(const struct msghdr *m, int level, int type, size_t *end)
{
	int has = 0;

	*end = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		if (c->cmsg_level == level && c->cmsg_type == type)
			has = 1;
		*end = (size_t)((char *)c - (char *)m->msg_control) +
		    CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
	}
	return (has);
}

/*
 * The control of s's sendmsg into buf (room bytes, aligned for a
 * cmsghdr): the application's messages, then ours for each option it
 * does not set itself in this call.  Its length, or -1 if it does not
 * fit.
 */
static long
control(const struct plat_sendopts *o, const struct udp_send *s, void *buf,
    size_t room)
{
	const struct plat_sendopt *d;
	struct msghdr app;
	size_t used, end;

	memset(&app, 0, sizeof (app));
	app.msg_control = (void *)s->ctl;
	app.msg_controllen = s->ctl != NULL ? s->ctllen : 0;
	(void) control_has(&app, -1, -1, &used);
	if (used > room)
		return (-1);
	memset(buf, 0, used);
	if (used > 0)
		memcpy(buf, app.msg_control, app.msg_controllen < used ?
		    app.msg_controllen : used);
	for (size_t i = 0; i < PLAT_SENDOPTS; i++) {
		struct cmsghdr *c = (struct cmsghdr *)((char *)buf + used);
		uint16_t v16 = (uint16_t)o->v[i];

		if ((d = plat_sendopt_nth(i)) == NULL ||
		    !(o->set & (1U << i)) ||
		    control_has(&app, d->level, d->type, &end))
			continue;
		if (used + CMSG_SPACE(d->size) > room)
			return (-1);
		memset(c, 0, CMSG_SPACE(d->size));
		c->cmsg_level = d->level;
		c->cmsg_type = d->type;
		c->cmsg_len = CMSG_LEN(d->size);
		memcpy(CMSG_DATA(c), d->size == sizeof (v16) ?
		    (const void *)&v16 : (const void *)&o->v[i], d->size);
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
	} ctl;
	struct msghdr m;
	long n;

	memset(&m, 0, sizeof (m));
	m.msg_name = (void *)s->to;
	m.msg_namelen = s->to != NULL ? s->tolen : 0;
	m.msg_iov = (struct iovec *)s->iov;
	m.msg_iovlen = s->iovcnt;
	/*
	 * An application's control too large to add ours to (never, for the
	 * messages a UDP socket takes) goes as it is.
	 */
	n = control(&u->so, s, ctl.b, sizeof (ctl.b));
	if (n < 0) {
		m.msg_control = (void *)s->ctl;
		m.msg_controllen = s->ctllen;
	} else if (n > 0) {
		m.msg_control = ctl.b;
		m.msg_controllen = (size_t)n;
	}
	return (real_sendmsg_xpg(out, &m, s->flags));
}

/*
 * sendmmsg, one sendmsg a message: each needs its own control.  As the
 * kernel's: how many went, or -1 and errno if not even the first did.
 */
int
udp_sendmmsg_opts(int out, const struct udp_io *u, void *vec, unsigned n,
    int flags)
{
	struct udp_mmsg *v = vec;
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct msghdr *h = &v[i].hdr;
		ssize_t r;

		r = udp_send_opts(out, u, &(struct udp_send){
		    .iov = h->msg_iov, .iovcnt = (long)h->msg_iovlen,
		    .to = h->msg_name, .tolen = h->msg_namelen,
		    .ctl = h->msg_control, .ctllen = h->msg_controllen,
		    .flags = flags });
		if (r < 0)
			return (i > 0 ? (int)i : -1);
		v[i].len = (unsigned)r;
	}
	return ((int)i);
}
