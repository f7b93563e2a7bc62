/*
 * group.c: bind() and listen() of member sockets: starting a group,
 * joining one, and turning a member into an endpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ackmem.h"
#include "config.h"
#include "fdtab.h"
#include "inherit.h"
#include "log.h"
#include "owner.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "rendezvous.h"
#include "shim.h"
#include "udp.h"
#include "util.h"

#define	JOIN_TRIES		50	/* an exiting owner is gone before */
#define	JOIN_TRIES_NO_NAME	3	/* no rendezvous: a program not ours */
/*
 * A join's whole wait, every try included.  A live owner answers far
 * sooner even when busy; one stopped or out of fds never does, and the
 * bind must not wait for it as long as it stays so.
 */
#define	JOIN_WAIT_MS		2500

static void
backoff(int attempt, uint64_t deadline)
{
	uint64_t now = util_now_us(), us = attempt < 5 ? 1000U << attempt :
	    20000U;
	struct timespec ts;

	if (now >= deadline)
		return;
	if (us > deadline - now)
		us = deadline - now;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(us * 1000U);
	(void) nanosleep(&ts, NULL);
}

/*
 * HELLO, and check that the owner is who it must be; *board: ackmem.h.
 * The reply is awaited until deadline.
 */
static int
hello(int ctl, int fd, struct proto_rec *welcome, int *board,
    uint64_t deadline)
{
	struct proto_rec req;
	uid_t uid;

	if (plat_peer_euid(ctl, &uid) != 0)
		return (-1);
	if (uid != geteuid()) {
		shim_log(LOG_LVL_WARN, "rendezvous answered by uid %lu, not "
		    "%lu; not joining", (unsigned long)uid,
		    (unsigned long)geteuid());
		errno = EACCES;
		return (-1);
	}
	memset(&req, 0, sizeof (req));
	req.type = REC_HELLO;
	req.arg = (int32_t)getpid();
	/*
	 * A UDP member: the reports it asked for before bind, which the
	 * owner's socket gives before the first datagram comes for it.
	 */
	req.seq = HELLO_TAKES_BOARD | HELLO_TELLS_REPORTS | HELLO_TAKES_FILE |
	    HELLO_TELLS_SHARED |
	    (plat_pktinfo_asked(fd) & PLAT_PKT_REPORTS) << HELLO_REPORTS_SHIFT;
	if (util_request_until(ctl, &req, REC_WELCOME, welcome, board,
	    deadline) != 0)
		return (-1);
	if (welcome->arg < 0) {
		if (*board >= 0)
			(void) real.close(*board);
		*board = -1;
		shim_log(LOG_LVL_ERROR, "the group's owner refused to take "
		    "another member (the group is full); see its log");
		errno = EACCES;
		return (-1);
	}
	return (0);
}

/*
 * Make fd, and every fd that shares its socket, the endpoint ctl: the
 * fd numbers stay, the open file changes, once, here, at bind, so that
 * an epoll or event port registration made before listen() keeps
 * working (they follow open files).  The application's kernel socket
 * stays as the shadow, with the options set on it so far; ctl takes its
 * file status flags (O_NONBLOCK, O_ASYNC) and its SIGIO owner.  The
 * board fd is closed here either way: once mapped it is not needed.
 */
static int
install(int fd, int ctl, const struct sockaddr_storage *ss, socklen_t len,
    const struct proto_rec *welcome, int board)
{
	struct ackmem *am = NULL;
	struct shim_sock *sk;
	sigset_t saved;
	int fl, own, shadow;

	if (board >= 0) {
		/* No board (or a bad one): ACK records, as after exec. */
		am = ackmem_attach(board, welcome->seq);
		(void) real.close(board);
	}
	fdtab_lock(&saved);
	if ((sk = fdtab_get_or_new(fd, ss->ss_family)) == NULL)
		goto fail;
	if ((shadow = real.fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		goto fail;
	if ((fl = real.fcntl(fd, F_GETFL)) >= 0)
		(void) real.fcntl(ctl, F_SETFL, fl);
	if ((own = real.fcntl(fd, F_GETOWN)) != 0 && own != -1)
		(void) real.fcntl(ctl, F_SETOWN, own);
	fdtab_become(sk, ctl);
	plat_shadow_bound(shadow, (const struct sockaddr *)ss);
	/* Hidden, and away from the numbers programs dup2 onto. */
	sk->shadow = fdtab_hide_away(shadow);
	/* Options set before bind went to it: accepted sockets get them. */
	inherit_copies(sk);
	sk->state = SK_MEMBER;
	sk->family = ss->ss_family;
	sk->tell_idle = welcome->arg == SHIM_POLICY_LEASTLOADED;
	/* The owner knows this member by it (SETOPT). */
	sk->slot1 = board >= 0 ? welcome->seq + 1 : 0;
	sk->ack = am;
	memcpy(&sk->addr, ss, len);
	sk->addrlen = len;
	fdtab_unlock(&saved);
	(void) real.close(ctl);
	return (0);
fail:
	fdtab_unlock(&saved);
	if (am != NULL)
		ackmem_release(am);
	errno = ENOMEM;
	return (-1);
}

/*
 * The owner answered: fd becomes a member of its group, TCP or UDP.  The
 * WELCOME fd (fdw: a TCP group's board, a UDP or shared group's socket)
 * is taken.
 */
static int
member_install(int udp, int fd, int ctl, const struct sockaddr_storage *ss,
    socklen_t len, const struct proto_rec *welcome, int fdw)
{
	int rc, e;

	if (!udp && welcome->arg != SHIM_POLICY_SHARED)
		return (install(fd, ctl, ss, len, welcome, fdw));
	if (fdw < 0) {
		errno = EPROTO;
		return (-1);
	}
	rc = direct_install(fd, ctl, ss, len, welcome, fdw, udp);
	e = errno;
	(void) real.close(fdw);
	errno = e;
	return (rc);
}

/*
 * The group has no owner after all: fd itself becomes the listener,
 * bound as the kernel bound it, and the port is this process's alone.
 */
static void
alone(int fd, int lfd)
{
	int fdfl = real.fcntl(fd, F_GETFD), fl = real.fcntl(fd, F_GETFL);
	struct shim_sock *sk;
	sigset_t saved;

	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (real.dup2(lfd, fd) == fd) {
		if (fdfl > 0)
			(void) real.fcntl(fd, F_SETFD, fdfl);
		if (fl >= 0)
			(void) real.fcntl(fd, F_SETFL, fl);
		if (sk != NULL)
			fdtab_reident(sk);
	}
	fdtab_unlock(&saved);
}

/*
 * lfd, a socket of the shim's, claimed the port: start the group with
 * it as the owner's listener and join it.  If no owner can be started,
 * fd gets the listener instead and the port can't be joined: a later
 * bind of it gets EADDRINUSE.  The caller closes lfd; rvfd, the group's
 * rendezvous if it is made already, or -1, is taken over.
 */
static int
start_group(int fd, int lfd, int rvfd, int udp)
{
	struct owner_args a;
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);
	struct proto_rec welcome;
	const char *dir;
	int saved = errno, ctl = -1, board = -1;

	memset(&a, 0, sizeof (a));
	a.rvfd = rvfd;
	if ((dir = rv_dir_get()) == NULL)
		goto out;
	if (real.getsockname(lfd, (struct sockaddr *)&ss, &len) != 0 ||
	    rv_path_proto(a.path, sizeof (a.path), dir,
	    (struct sockaddr *)&ss, udp ? RV_UDP : RV_TCP) != 0) {
		shim_log(LOG_LVL_ERROR, "no rendezvous name fits under %s; "
		    "this port cannot be shared", dir);
		goto out;
	}
	if (a.rvfd < 0 && (a.rvfd = rv_listen(a.path)) < 0) {
		shim_log(LOG_LVL_ERROR, "cannot create %s: %s", a.path,
		    strerror(errno));
		goto out;
	}
	if ((ctl = rv_connect(a.path)) < 0) {
		shim_log(LOG_LVL_ERROR, "cannot connect to %s: %s", a.path,
		    strerror(errno));
		goto out;
	}
	a.listenfd = lfd;
	a.udp = udp;
	a.policy = udp ? config_get()->udp : config_get()->policy;
	a.linger_ms = config_get()->linger_ms;
	a.uid = geteuid();
	if (owner_spawn(&a) != 0) {
		shim_log(LOG_LVL_ERROR, "cannot start the owner of %s: %s",
		    a.path, strerror(errno));
		goto out;
	}
	(void) real.close(a.rvfd);
	a.rvfd = -1;
	/* The owner has our connection queued; it exits if we give up. */
	if (hello(ctl, fd, &welcome, &board,
	    util_deadline(UTIL_REPLY_TIMEOUT_MS)) != 0 ||
	    member_install(udp, fd, ctl, &ss, len, &welcome, board) != 0) {
		shim_log(LOG_LVL_ERROR, "owner of %s did not answer: %s",
		    a.path, strerror(errno));
		(void) real.close(ctl);
		/* Our fd the listener: the owner must not hold it as well. */
		(void) unlink(a.path);
		alone(fd, lfd);
	} else if (!udp && a.policy != SHIM_POLICY_SHARED) {
		sockopt_listener_sync(fd);
	}
	errno = saved;
	return (0);
out:
	if (a.rvfd >= 0) {
		(void) unlink(a.path);
		(void) real.close(a.rvfd);
	}
	if (ctl >= 0)
		(void) real.close(ctl);
	alone(fd, lfd);
	errno = saved;
	return (0);
}

/*
 * Make lfd the port's one real listener: bind it (unless it is bound) and
 * listen at once.  Listening is what makes the claim exclusive: Linux lets
 * sockets with SO_REUSEADDR bind one port side by side until one of them
 * listens, so a bind alone proves nothing.  Connections that arrive before
 * the application calls listen() wait in the backlog.  1: claimed; 0: the
 * port is taken; -1: another error, in errno.
 */
static int
claim(int lfd, const struct sockaddr *sa, socklen_t salen, bind_fn rf,
    int *bound, int udp)
{
	if (!*bound) {
		if (rf(lfd, sa, salen) != 0)
			return (errno == EADDRINUSE ? 0 : -1);
		*bound = 1;
	}
	/* UDP: the bind alone is exclusive (the socket has no SO_REUSEADDR). */
	if (!udp && real.listen(lfd, 1) != 0)
		return (errno == EADDRINUSE ? 0 : -1);
	/*
	 * Emulating where the kernel has the option (Linux): a group of ours
	 * on another address of the port must be able to bind beside this
	 * one, as the kernel lets SO_REUSEPORT sockets (see beside()).
	 */
	if (plat_kernel_reuseport) {
		int one = 1;

		(void) real.setsockopt(lfd, SOL_SOCKET, plat_so_reuseport,
		    &one, sizeof (one));
	}
	return (1);
}

/*
 * No group of ours has this address, yet the port is taken: on Linux,
 * perhaps by a group of ours on another address of it (a wildcard next
 * to a specific address, IPv4 next to dual-stack IPv6), which the kernel
 * lets SO_REUSEPORT sockets of one user share, each address its own
 * group; a connection goes to the best match, as the kernel's lookup
 * chooses between the groups' listeners.  The group's name is taken
 * first, exclusively: with the option, a bind would succeed next to a
 * group of this very address too.  1: started; 0: the port is taken;
 * 2: a name is there now, join it; -1: another error, in errno.
 */
static int
beside(int fd, int lfd, const struct sockaddr *sa, socklen_t salen,
    bind_fn rf, int *bound, const char *path, int udp)
{
	int one = 1, rvfd, r, probe;

	if (!plat_kernel_reuseport)
		return (0);
	if ((rvfd = rv_listen_new(path)) < 0 && errno == EEXIST) {
		/* A dead owner's name (the kernel refuses connections)? */
		if ((probe = rv_connect(path)) >= 0) {
			(void) real.close(probe);
			return (2);
		}
		if (errno != ECONNREFUSED)
			return (2);
		(void) unlink(path);
		rvfd = rv_listen_new(path);
	}
	if (rvfd < 0)
		return (errno == EEXIST ? 2 : 0);
	(void) real.setsockopt(lfd, SOL_SOCKET, plat_so_reuseport, &one,
	    sizeof (one));
	if ((r = claim(lfd, sa, salen, rf, bound, udp)) == 1)
		return (start_group(fd, lfd, rvfd, udp) == 0 ? 1 : -1);
	(void) unlink(path);
	(void) real.close(rvfd);
	return (r);
}

/*
 * The port is taken.  If it belongs to a group of ours, join it; if its
 * owner is just leaving, claim the port with lfd and start the next
 * group; otherwise the kernel's answer, EADDRINUSE, stands.  Everything
 * is done by JOIN_WAIT_MS: an owner that does not answer (stopped, out
 * of fds) makes the bind fail, with one line saying so.
 */
static int
join_group(int fd, int lfd, const struct sockaddr *sa, socklen_t salen,
    bind_fn rf, int bound, int udp)
{
	struct sockaddr_storage ss;
	char path[RV_PATH_MAX];
	struct proto_rec welcome;
	const char *dir, *stuck = NULL;
	uint64_t start = util_now_us(), deadline = util_deadline(JOIN_WAIT_MS);
	int attempt, no_name = 0, ctl = -1, board = -1, e;

	if ((dir = rv_dir_get()) == NULL ||
	    rv_path_proto(path, sizeof (path), dir, sa,
	    udp ? RV_UDP : RV_TCP) != 0)
		goto inuse;
	for (attempt = 0; attempt < JOIN_TRIES; attempt++) {
		stuck = NULL;
		if ((ctl = rv_connect_until(path, deadline)) >= 0) {
			if (hello(ctl, fd, &welcome, &board, deadline) == 0)
				break;
			e = errno;
			(void) real.close(ctl);
			ctl = -1;
			if (e == EACCES)
				goto inuse;
			/* Else the owner is leaving, or hung. */
			if (e == ETIMEDOUT)
				stuck = "did not answer";
		} else if (errno == ENOENT || errno == ECONNREFUSED) {
			/* No group, or a dead one's name: see beside(). */
			if (++no_name > JOIN_TRIES_NO_NAME) {
				switch (beside(fd, lfd, sa, salen, rf, &bound,
				    path, udp)) {
				case 1:
					return (0);
				case 2:
					no_name = 0;
					break;
				case -1:
					return (-1);
				default:
					goto inuse;
				}
			}
		} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ETIMEDOUT) {
			stuck = "took no connection";
		} else {
			goto inuse;
		}
		backoff(attempt, deadline);
		switch (claim(lfd, sa, salen, rf, &bound, udp)) {
		case 1:
			return (start_group(fd, lfd, -1, udp));
		case -1:
			return (-1);
		}
		if (util_now_us() >= deadline)
			break;
	}
	if (ctl < 0) {
		if (stuck != NULL)
			shim_log(LOG_LVL_ERROR, "the group's owner at %s %s "
			    "in %lu ms (stopped, or out of file descriptors?); "
			    "the bind fails with EADDRINUSE", path, stuck,
			    (unsigned long)((util_now_us() - start) / 1000U));
		goto inuse;
	}
	memset(&ss, 0, sizeof (ss));
	memcpy(&ss, sa, salen < sizeof (ss) ? salen : sizeof (ss));
	if (member_install(udp, fd, ctl, &ss, salen < sizeof (ss) ?
	    salen : (socklen_t)sizeof (ss), &welcome, board) != 0) {
		(void) real.close(ctl);
		return (-1);
	}
	shim_log(LOG_LVL_DEBUG, "joined the group at %s", path);
	if (!udp && welcome.arg != SHIM_POLICY_SHARED)
		sockopt_listener_sync(fd);
	return (0);
inuse:
	errno = EADDRINUSE;
	return (-1);
}

/*
 * A socket for the group's listener, of fd's family, with what decides
 * a bind copied from fd.  SO_REUSEADDR: a restart binds next to the
 * previous run's TIME_WAIT connections, as SO_REUSEPORT lets the kernel
 * (they carry the option); a listening socket still refuses it.
 */
static int
listener_socket(int fd, int family, int udp)
{
	int lfd, one = 1;

	if ((lfd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    plat_sock_cloexec, 0)) < 0)
		return (-1);
	plat_bind_opts_copy(fd, lfd);
	/*
	 * Not for UDP: there SO_REUSEADDR lets a second socket bind the
	 * very address, and the group's claim would not be exclusive.
	 */
	if (!udp)
		(void) real.setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof (one));
	return (lfd);
}

/* fd's type: SOCK_STREAM, SOCK_DGRAM..., or -1. */
static int
sock_type(int fd)
{
	socklen_t tlen;
	int type, e = errno;

	tlen = sizeof (type);
	if (real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
		type = -1;
	errno = e;
	return (type);
}

/*
 * fd must be an unbound TCP or UDP socket for the shim to bind it for a
 * group: its family (*udp set), or -1 with errno set as the kernel's
 * bind would (EINVAL: bound already, by a listen() without bind), or 0:
 * neither, not ours.
 */
static int
bindable(int fd, int *udp)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss), tlen;
	int type;

	tlen = sizeof (type);
	if (real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
		return (-1);
	if (real.getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return (-1);
	if ((type != SOCK_STREAM && type != SOCK_DGRAM) ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return (0);
	*udp = type == SOCK_DGRAM;
	if ((ss.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&ss)->sin_port != 0) ||
	    (ss.ss_family == AF_INET6 &&
	    ((struct sockaddr_in6 *)&ss)->sin6_port != 0)) {
		errno = EINVAL;
		return (-1);
	}
	return (ss.ss_family);
}

/* A REUSEPORT_SHIM_PORTS rule covers fd's bind of sa. */
static int
forced(const struct shim_config *c, int fd, const struct sockaddr *sa,
    socklen_t len)
{
	int type;

	if (c->nrules == 0)
		return (0);
	if ((type = sock_type(fd)) != SOCK_STREAM && type != SOCK_DGRAM)
		return (0);
	if (sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (config_rule_match_proto(c, type == SOCK_DGRAM,
		    AF_INET, &in->sin_addr, ntohs(in->sin_port)));
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		return (config_rule_match_proto(c, type == SOCK_DGRAM,
		    AF_INET6, &in6->sin6_addr, ntohs(in6->sin6_port)));
	}
	return (0);
}

int
shim_bind(int fd, const struct sockaddr *sa, socklen_t len,
    enum shim_variant var)
{
	const struct shim_config *c;
	struct sockaddr_storage canon;
	struct shim_sock *sk;
	sigset_t saved;
	socklen_t clen;
	int member = 0, already = 0, bound = 0, udp = 0, family, lfd, rc, e;
	int saved_errno = errno;
	bind_fn rf;

	shim_init();
	rf = var == SHIM_XNET && real.xnet_bind != NULL ? real.xnet_bind :
	    real.bind;
	if (sa == NULL || len < sizeof (sa_family_t) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return (rf(fd, sa, len));
	c = config_get();
	if (!fdtab_maybe(fd) && c->nrules == 0)
		return (rf(fd, sa, len));
	if (c->mode == SHIM_MODE_OFF)
		return (rf(fd, sa, len));

	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) != NULL) {
		member = sk->reuseport;
		already = sk->state != SK_OPT;
	}
	fdtab_unlock(&saved);
	if (already) {
		errno = EINVAL;		/* as the kernel: already bound */
		return (-1);
	}
	if (!member && !forced(c, fd, sa, len))
		return (rf(fd, sa, len));
	if (!member && c->mode == SHIM_MODE_AUTO) {
		int one = 1;

		/* A forced port where the kernel has the option: let it. */
		if (real.setsockopt(fd, SOL_SOCKET, plat_so_reuseport, &one,
		    sizeof (one)) == 0)
			return (rf(fd, sa, len));
		errno = saved_errno;	/* ours, not the caller's */
	}
	if (!c->valid) {
		errno = EINVAL;
		return (-1);
	}
	if ((family = bindable(fd, &udp)) <= 0) {
		if (family == 0) {
			errno = saved_errno;
			return (rf(fd, sa, len));
		}
		return (-1);
	}
	if ((lfd = listener_socket(fd, family, udp)) < 0)
		return (-1);
	/* The kernel judges the caller's own bytes first. */
	switch (claim(lfd, sa, len, rf, &bound, udp)) {
	case 1:
		rc = start_group(fd, lfd, -1, udp);
		(void) real.close(lfd);
		return (rc);
	case -1:
		e = errno;
		(void) real.close(lfd);
		errno = e;
		return (-1);
	}
	/*
	 * From here the address as the kernel would keep it: getsockname
	 * showed the caller's junk (sin_zero, a flow label, a storage-sized
	 * length), and a 24-byte sockaddr_in6 was read past its end.
	 */
	if ((clen = util_addr_canon(&canon, sa, len)) == 0) {
		(void) real.close(lfd);
		errno = EINVAL;
		return (-1);
	}
	/* The refused claim set errno; a bind that works leaves it. */
	rc = join_group(fd, lfd, (struct sockaddr *)&canon, clen, rf, bound,
	    udp);
	e = errno;
	(void) real.close(lfd);
	errno = rc == 0 ? saved_errno : e;
	return (rc);
}

/*
 * listen() on a member asks its owner (the group's listener listens
 * already; this sets its backlog and makes the endpoint eligible), on the
 * endpoint itself: nothing else reads it before it listens.  On a
 * listening endpoint, a new backlog and no reply to wait for.
 */
int
shim_listen(int fd, int backlog, enum shim_variant var)
{
	struct proto_rec req, rep;
	struct shim_sock *sk;
	sigset_t saved;
	enum sk_state st;
	int rc, async, saved_errno = errno;
	listen_fn rf;

	shim_init();
	rf = var == SHIM_XNET && real.xnet_listen != NULL ?
	    real.xnet_listen : real.listen;
	if (!fdtab_maybe(fd))
		return (rf(fd, backlog));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	st = sk != NULL ? sk->state : SK_OPT;
	fdtab_unlock(&saved);
	/* A UDP member's: the kernel's EOPNOTSUPP. */
	if (st == SK_OPT || st == SK_DIRECT)
		return (rf(fd, backlog));
	if (st == SK_ENDPOINT && sk->shut) {
		/* The endpoint no longer reads; see shim_shutdown(). */
		errno = EINVAL;
		return (-1);
	}
	memset(&req, 0, sizeof (req));
	req.type = REC_LISTEN;
	req.arg = backlog < 0 ? INT_MAX : backlog;
	if (st == SK_ENDPOINT) {
		(void) proto_send(fd, &req, -1);
		errno = saved_errno;
		return (0);
	}
	async = plat_async_pause(fd);
	rc = util_request(fd, &req, REC_LISTEN_OK, &rep);
	if (async)
		plat_async_resume(fd);
	if (rc != 0) {
		shim_log(LOG_LVL_ERROR, "listen: the group's owner did not "
		    "answer: %s", strerror(errno));
		errno = EADDRINUSE;
		return (-1);
	}
	if (rep.arg != 0) {
		errno = rep.arg;
		return (-1);
	}
	fdtab_lock(&saved);
	if (fdtab_get(fd) == sk && sk->state == SK_MEMBER)
		sk->state = SK_ENDPOINT;
	fdtab_unlock(&saved);
	errno = saved_errno;
	return (0);
}
