/*
 * fdops.c: close, closefrom, close_range, dup, dup2, dup3, fcntl's dups
 * and shutdown.  They keep the table in step with the process's fds: a
 * dup of a member is the same member, and a closed fd is forgotten in
 * the same critical section that closes it (the number may be reused by
 * another thread at once, and must not inherit the old entry).
 *
 * The shim's hidden fds are not the application's: a dup2 onto one gets
 * the number as if it were free (the shim's connection moves first), and
 * closefrom and close_range leave them open.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fdflags.h"
#include "config.h"
#include "fdtab.h"
#include "udp.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "shim.h"

int
shim_close(int fd)
{
	sigset_t saved;

	shim_init();
	if (!fdtab_maybe(fd) || !fdtab_ours()) {
		if (plat_pktinfo_held(fd) && fdtab_ours())
			plat_pktinfo_forget(fd, fd);
		return (real.close(fd));
	}
	fdtab_lock(&saved);
	if (fdtab_hidden(fd)) {
		fdtab_unlock(&saved);
		errno = EBADF;	/* not the application's to close */
		return (-1);
	}
	plat_pktinfo_forget(fd, fd);
	/*
	 * Forgotten first, closed after, outside the lock: a close can block
	 * (SO_LINGER), and no call of ours may wait on it meanwhile.  The
	 * number is not free until the close, so no new socket can take it
	 * (and be forgotten in its place) in between.
	 */
	fdtab_forget(fd);
	fdtab_unlock(&saved);
	return (real.close(fd));
}

/*
 * Close lo..hi (lo <= hi) with nothing of the shim's in it, by the next
 * close_range; where there is none, one fd at a time (closefrom's
 * spans between hidden fds are short).
 */
static void
close_span(int lo, int hi)
{
	if (plat_close_range_next((unsigned)lo, (unsigned)hi, 0) == 0 ||
	    errno != ENOSYS)
		return;
	for (int fd = lo; fd <= hi; fd++)
		(void) real.close(fd);
}

/*
 * The application's fds from lo up go, as it asked; the shim's hidden
 * ones among them stay, so that a program that closes all but its own
 * sockets between bind and listen keeps its members in their groups.
 * Entries are forgotten before the fds close, and the closing is done
 * without the lock, span by span between hidden fds: closing a socket
 * may block (SO_LINGER), and every other tracked call would wait.
 */
void
shim_closefrom(int lowfd)
{
	sigset_t saved;
	int lo = lowfd < 0 ? 0 : lowfd, h, e = errno;

	shim_init();
	if (!fdtab_any(lo, INT_MAX) || !fdtab_ours()) {
		if (fdtab_ours())
			plat_pktinfo_forget(lo, INT_MAX);
		plat_closefrom_next(lowfd);
		errno = e;
		return;
	}
	fdtab_lock(&saved);
	fdtab_forget_range(lo, INT_MAX);
	fdtab_unlock(&saved);
	for (;;) {
		fdtab_lock(&saved);
		h = fdtab_hidden_next(lo, INT_MAX);
		fdtab_unlock(&saved);
		if (h < 0)
			break;
		if (h > lo) {
			plat_pktinfo_forget(lo, h - 1);
			close_span(lo, h - 1);
		}
		lo = h + 1;
	}
	plat_pktinfo_forget(lo, INT_MAX);
	plat_closefrom_next(lo);
	errno = e;
}

/* As shim_closefrom, for first..last; flags as the kernel takes them. */
int
shim_close_range(unsigned first, unsigned last, int flags)
{
	sigset_t saved;
	int lo, hi, h;

	shim_init();
	if (first > last || first > INT_MAX ||
	    !plat_close_range_closes(flags) ||
	    !fdtab_any((int)first, last > INT_MAX ? INT_MAX : (int)last) ||
	    !fdtab_ours()) {
		if ((h = plat_close_range_next(first, last, flags)) == 0 &&
		    first <= last && first <= INT_MAX &&
		    plat_close_range_closes(flags) && fdtab_ours())
			plat_pktinfo_forget((int)first,
			    last > INT_MAX ? INT_MAX : (int)last);
		return (h);
	}
	/*
	 * The kernel checks the flags (and unshares the fd table) before it
	 * closes anything: a range past every fd has it do just that, so
	 * that a refused call leaves the table as it was.
	 */
	if (plat_close_range_next(UINT_MAX, UINT_MAX, flags) != 0)
		return (-1);
	lo = (int)first;
	hi = last > INT_MAX ? INT_MAX : (int)last;
	fdtab_lock(&saved);
	fdtab_forget_range(lo, hi);
	fdtab_unlock(&saved);
	for (;;) {
		fdtab_lock(&saved);
		h = fdtab_hidden_next(lo, hi);
		fdtab_unlock(&saved);
		if (h < 0)
			break;
		if (h > lo && plat_close_range_next((unsigned)lo,
		    (unsigned)h - 1, flags) != 0)
			return (-1);
		if (h > lo)
			plat_pktinfo_forget(lo, h - 1);
		lo = h + 1;
	}
	if ((unsigned)lo <= last) {
		plat_pktinfo_forget(lo, hi);
		return (plat_close_range_next((unsigned)lo, last, flags));
	}
	return (0);
}

/*
 * With the lock held, after a dup-like call returned nfd: nfd is now what
 * fd is.  Whatever nfd was before, the call closed it.
 */
static int
follow(int fd, int nfd)
{
	struct shim_sock *sk;

	if (nfd < 0 || nfd == fd)
		return (nfd);
	plat_pktinfo_dup(fd, nfd);
	fdtab_forget(nfd);
	sk = fdtab_get(fd);
	if (sk != NULL && fdtab_put(nfd, sk) != 0) {
		/* Untracked, nfd would be a bare Unix socket: refuse it. */
		(void) real.close(nfd);
		errno = ENOMEM;
		return (-1);
	}
	return (nfd);
}

/*
 * A dup-like call of fds the table does not know returned nfd: what the
 * shim keeps of fd where the kernel cannot say (plat_pktinfo_note) is
 * nfd's now.
 */
static int
made(int fd, int nfd)
{
	if (nfd >= 0 && nfd != fd && (plat_pktinfo_held(fd) ||
	    plat_pktinfo_held(nfd)) && fdtab_ours())
		plat_pktinfo_dup(fd, nfd);
	return (nfd);
}

/*
 * A hidden fd is not open as far as the application knows: -1 in its
 * place (never open) has the kernel answer as for a closed fd, after the
 * checks it makes first (dup3's flags).
 */
static int
app_fd(int fd)
{
	return (fdtab_hidden(fd) ? -1 : fd);
}

/*
 * With the lock held, before a dup2-like call onto nfd: if nfd is a
 * hidden fd, the shim's connection moves elsewhere first (or, if it
 * cannot, is given up: the call closes it).  1 if nfd was hidden.
 */
static int
clear_target(int fd, int nfd)
{
	if (nfd == fd || !fdtab_hidden(nfd))
		return (0);
	if (fdtab_hidden_move(nfd) < 0)
		fdtab_hidden_drop(nfd);
	return (1);
}

/*
 * After it: a failed call leaves nfd as it was, to the application not
 * open; the copy of the connection that stayed there goes.
 */
static int
after_target(int cleared, int nfd, int rc)
{
	int e = errno;

	if (cleared && rc < 0) {
		(void) real.close(nfd);
		errno = e;
	}
	return (rc);
}

int
shim_dup(int fd)
{
	sigset_t saved;
	int nfd;

	shim_init();
	if (!fdtab_maybe(fd) || !fdtab_ours())
		return (made(fd, real.dup(fd)));
	fdtab_lock(&saved);
	nfd = follow(fd, real.dup(app_fd(fd)));
	fdtab_unlock(&saved);
	return (nfd);
}

int
shim_dup2(int fd, int nfd)
{
	sigset_t saved;
	int cleared, rc;

	shim_init();
	if ((!fdtab_maybe(fd) && !fdtab_maybe(nfd)) || !fdtab_ours())
		return (made(fd, real.dup2(fd, nfd)));
	fdtab_lock(&saved);
	if (fdtab_hidden(fd)) {
		rc = real.dup2(-1, nfd);
	} else {
		cleared = clear_target(fd, nfd);
		rc = after_target(cleared, nfd, real.dup2(fd, nfd));
		rc = follow(fd, rc);
	}
	fdtab_unlock(&saved);
	return (rc);
}

int
shim_dup3(int fd, int nfd, int flags)
{
	sigset_t saved;
	int cleared, rc;

	shim_init();
	if (real.dup3 == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	if ((!fdtab_maybe(fd) && !fdtab_maybe(nfd)) || !fdtab_ours())
		return (made(fd, real.dup3(fd, nfd, flags)));
	fdtab_lock(&saved);
	if (fdtab_hidden(fd) && fd != nfd) {
		rc = real.dup3(-1, nfd, flags);
	} else {
		cleared = clear_target(fd, nfd);
		rc = after_target(cleared, nfd, real.dup3(fd, nfd, flags));
		rc = follow(fd, rc);
	}
	fdtab_unlock(&saved);
	return (rc);
}

/*
 * The commands that make fds, each where the headers have it.  illumos
 * (the kernel's fcntl(), libc's dup.c): F_DUP2FD is dup2, F_DUP2FD_CLOEXEC
 * and F_DUP2FD_CLOFORK are dup2 that set the fd flag, F_DUP3FD is dup3
 * with FD_ flags in a fourth argument.  The kernel checks the arguments.
 */
enum fcntl_dup
fcntl_dup_kind(int cmd)
{
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
#ifdef F_DUPFD_CLOFORK
	case F_DUPFD_CLOFORK:
#endif
		return (FCNTL_DUPFD);
#ifdef F_DUP2FD
	case F_DUP2FD:
		return (FCNTL_DUP2FD);
#endif
#ifdef F_DUP2FD_CLOEXEC
	case F_DUP2FD_CLOEXEC:
		return (FCNTL_DUP2FD);
#endif
#ifdef F_DUP2FD_CLOFORK
	case F_DUP2FD_CLOFORK:
		return (FCNTL_DUP2FD);
#endif
#ifdef F_DUP3FD
	case F_DUP3FD:
		return (FCNTL_DUP3FD);
#endif
	default:
		return (FCNTL_NODUP);
	}
}

static int
real_fcntl(int fd, int cmd, enum fcntl_dup kind, void *arg, int arg1)
{
	if (kind == FCNTL_DUP3FD)
		return (real.fcntl(fd, cmd, arg, arg1));
	return (real.fcntl(fd, cmd, arg));
}

int
fdops_fcntl(int fd, int cmd, enum fcntl_dup kind, void *arg, int arg1)
{
	sigset_t saved;
	int nfd = -1, cleared = 0, rc;

	/* As dup2: the target may be a member the call closes. */
	if (kind == FCNTL_DUP2FD || kind == FCNTL_DUP3FD)
		nfd = (int)(intptr_t)arg;
	if (kind == FCNTL_NODUP)
		return (real_fcntl(fd, cmd, kind, arg, arg1));
	if ((!fdtab_maybe(fd) && !fdtab_maybe(nfd)) || !fdtab_ours())
		return (made(fd, real_fcntl(fd, cmd, kind, arg, arg1)));
	fdtab_lock(&saved);
	if (fdtab_hidden(fd)) {
		rc = real_fcntl(-1, cmd, kind, arg, arg1);
	} else {
		if (kind != FCNTL_DUPFD)
			cleared = clear_target(fd, nfd);
		rc = after_target(cleared, nfd,
		    real_fcntl(fd, cmd, kind, arg, arg1));
		rc = follow(fd, rc);
	}
	fdtab_unlock(&saved);
	return (rc);
}

int
shim_fcntl(int fd, int cmd, void *arg, int arg1)
{
	shim_init();
	return (fdops_fcntl(fd, cmd, fcntl_dup_kind(cmd), arg, arg1));
}

/*
 * shutdown(SHUT_RD or SHUT_RDWR) of a listener: the owner stops choosing
 * this endpoint (what it already sent stays queued, and goes to another
 * endpoint when this one is closed), and blocked accepts wake up with
 * EINVAL, as on a listener the kernel shut down.  Where the kernel's
 * shutdown of a socket not connected does nothing but fail (illumos:
 * plat_shutdown_unconnected), a listener's does that.
 */
int
shim_shutdown(int fd, int how)
{
	struct shim_sock *sk;
	struct proto_rec r;
	sigset_t saved;
	int endpoint = 0, rc = 0, saved_errno = errno;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.shutdown(fd, how));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (sk != NULL && sk->state == SK_DIRECT && sk->dgram &&
	    sk->way != SHIM_POLICY_SHARED) {
		rc = udp_shutdown(fd, sk, how);
		fdtab_unlock(&saved);
		return (rc);
	}
	if (sk != NULL && (sk->state == SK_ENDPOINT || (sk->state ==
	    SK_DIRECT && !sk->dgram)) && !plat_shutdown_unconnected) {
		fdtab_unlock(&saved);
		errno = ENOTCONN;
		return (-1);
	}
	if (sk != NULL && sk->state == SK_DIRECT && !sk->dgram) {
		/*
		 * The group's one listener: this member stops listening, the
		 * others go on (shutting it down would end theirs too).
		 */
		rc = 0;
		if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
			errno = EINVAL;
			rc = -1;
		} else if (how != SHUT_WR) {
			direct_leave(sk);
		}
		fdtab_unlock(&saved);
		if (rc == 0)
			errno = saved_errno;
		return (rc);
	}
	if (sk != NULL && sk->state == SK_MEMBER) {
		/* Bound, not listening: the kernel's answer is its shadow's. */
		rc = sk->shadow >= 0 ? real.shutdown(sk->shadow, how) : -1;
		if (sk->shadow < 0)
			errno = ENOTCONN;
		fdtab_unlock(&saved);
		return (rc);
	}
	if (sk != NULL && sk->state == SK_ENDPOINT) {
		endpoint = 1;
		if (how == SHUT_RD || how == SHUT_RDWR)
			sk->shut = 1;
	}
	fdtab_unlock(&saved);
	if (!endpoint)
		return (real.shutdown(fd, how));
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
		errno = EINVAL;
		return (-1);
	}
	/*
	 * Nothing is read from the endpoint after this shutdown; only then
	 * may the owner reset what it queued there (gcore_unlisten).
	 */
	if (how != SHUT_WR) {
		(void) real.shutdown(fd, SHUT_RD);
		r = (struct proto_rec){ .type = REC_UNLISTEN };
		(void) proto_send(fd, &r, -1);
	}
	errno = saved_errno;
	return (0);
}
