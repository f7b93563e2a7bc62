/*
 * udpstandby.c: the standby of a udpowner.c group (UDP, or TCP served
 * the shared way), so that killing its owner does not end the group.
 *
 * As standby.h tells for TCP: what keeps the group alive is open files,
 * not the owner process.  This one holds copies of the group's socket,
 * the rendezvous socket, and each member's connection and queue (the
 * owner's ends), told of each by MIRROR records (SB_JOIN with the
 * connection, SB_QUEUE with the queue, SB_END), and sleeps on its end of
 * the mirror.  End of stream with no FINISH: the owner died, and this
 * process becomes the owner with those members (udp_owner_takeover).
 * Datagrams the dead owner had read and not yet forwarded, or held for a
 * member (udpowner.c), are lost, as a socket's queue is when its process
 * dies; the rest wait in the socket.  Each member's buffer and reports
 * come with SB_JOIN and SB_OPTS, so that the new owner holds and reports
 * as the old one did.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "log.h"
#include "owner.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "standby.h"

#define	UDP_SB_SLOTS	256	/* as the owner's members */

static struct udp_member tab[UDP_SB_SLOTS];
/* The group's takeovers before the owner we stand by for (its records). */
static uint32_t takeovers;

static void
forget(size_t k)
{
	if (tab[k].ctl >= 0)
		(void) real.close(tab[k].ctl);
	if (tab[k].dfd >= 0)
		(void) real.close(tab[k].dfd);
	tab[k].ctl = tab[k].dfd = -1;
}

/* FINISH: the owner ends the group; we hold nothing of it any more. */
_Noreturn static void
let_go(const struct owner_args *a)
{
	for (size_t k = 0; k < UDP_SB_SLOTS; k++)
		forget(k);
	(void) real.close(a->listenfd);
	(void) real.close(a->rvfd);
	_exit(0);
}

_Noreturn void
udp_standby_run(const struct owner_args *args)
{
	static struct owner_args a;
	struct proto_rec r;
	socklen_t tl = sizeof (int);
	int fd, rc, type = 0;
	size_t k, n;

	a = *args;
	standby_begin(&a);
	/* The group's socket says which: a UDP group, or TCP shared. */
	if (real.getsockopt(a.listenfd, SOL_SOCKET, SO_TYPE, &type,
	    &tl) != 0)
		_exit(1);
	a.udp = type == SOCK_DGRAM;
	for (k = 0; k < UDP_SB_SLOTS; k++) {
		tab[k].slot = k;
		tab[k].ctl = tab[k].dfd = -1;
	}
	standby_say_up(a.mirrorfd);
	while ((rc = standby_next(a.mirrorfd, UDP_SB_SLOTS, &r, &fd)) == 1) {
		k = r.seq;
		switch (r.arg) {
		case SB_JOIN:
			forget(k);
			tab[k].ctl = fd;
			tab[k].pid = r.opts[0];
			tab[k].files = (r.opts[1] & SB_F_FILES) != 0;
			fd = -1;
			/* FALLTHROUGH */
		case SB_OPTS:
			tab[k].rcvbuf = r.nopts > SB_O_RCVBUF ?
			    r.opts[SB_O_RCVBUF] : 0;
			tab[k].wants = r.nopts > SB_O_WANTS ?
			    r.opts[SB_O_WANTS] : -1;
			if (r.nopts >= SB_NOPTS_UDP)
				takeovers = (uint32_t)r.opts[SB_O_TAKEOVERS];
			break;
		case SB_QUEUE:
			if (tab[k].dfd >= 0)
				(void) real.close(tab[k].dfd);
			tab[k].dfd = fd;
			fd = -1;
			break;
		case SB_END:
			forget(k);
			break;
		case SB_FINISH:
			let_go(&a);
		default:
			break;
		}
		if (fd >= 0)
			(void) real.close(fd);
	}
	/* A record we could not read: the owner lives; never two owners. */
	if (rc < 0)
		let_go(&a);
	(void) real.close(a.mirrorfd);
	for (k = n = 0; k < UDP_SB_SLOTS; k++) {
		if (tab[k].ctl >= 0)
			tab[n++] = tab[k];
	}
	udp_owner_takeover(&a, tab, n, takeovers);
}
