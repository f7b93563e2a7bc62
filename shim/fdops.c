/*
 * fdops.c: close, dup, dup2, dup3, fcntl(F_DUPFD*) and shutdown.  They
 * keep the table in step with the process's fds: a dup of a member is
 * the same member, and a closed fd is forgotten in the same critical
 * section that closes it (the number may be reused by another thread at
 * once, and must not inherit the old entry).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "fdtab.h"
#include "proto.h"
#include "real.h"
#include "shim.h"

/* With the lock held: forget fd, and release its sock if it was the last. */
static void
forget(int fd)
{
	struct shim_sock *sk = fdtab_del(fd);

	if (sk == NULL)
		return;
	if (sk->ctlfd >= 0) {
		fdtab_hide(sk->ctlfd, 0);
		(void) real.close(sk->ctlfd);
	}
	sock_free(sk);
}

int
shim_close(int fd)
{
	sigset_t saved;
	int rc, e;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.close(fd));
	fdtab_lock(&saved);
	if (fdtab_hidden(fd)) {
		fdtab_unlock(&saved);
		errno = EBADF;	/* not the application's to close */
		return (-1);
	}
	rc = real.close(fd);
	e = errno;
	forget(fd);
	fdtab_unlock(&saved);
	errno = e;
	return (rc);
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
	forget(nfd);
	sk = fdtab_get(fd);
	if (sk != NULL && fdtab_put(nfd, sk) != 0) {
		/* Untracked, nfd would be a bare Unix socket: refuse it. */
		(void) real.close(nfd);
		errno = ENOMEM;
		return (-1);
	}
	return (nfd);
}

int
shim_dup(int fd)
{
	sigset_t saved;
	int nfd;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.dup(fd));
	fdtab_lock(&saved);
	nfd = follow(fd, real.dup(fd));
	fdtab_unlock(&saved);
	return (nfd);
}

int
shim_dup2(int fd, int nfd)
{
	sigset_t saved;

	shim_init();
	if (!fdtab_maybe(fd) && !fdtab_maybe(nfd))
		return (real.dup2(fd, nfd));
	fdtab_lock(&saved);
	nfd = follow(fd, real.dup2(fd, nfd));
	fdtab_unlock(&saved);
	return (nfd);
}

int
shim_dup3(int fd, int nfd, int flags)
{
	sigset_t saved;

	shim_init();
	if (real.dup3 == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	if (!fdtab_maybe(fd) && !fdtab_maybe(nfd))
		return (real.dup3(fd, nfd, flags));
	fdtab_lock(&saved);
	nfd = follow(fd, real.dup3(fd, nfd, flags));
	fdtab_unlock(&saved);
	return (nfd);
}

int
shim_fcntl(int fd, int cmd, void *arg)
{
	sigset_t saved;
	int nfd;

	shim_init();
	if ((cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) || !fdtab_maybe(fd))
		return (real.fcntl(fd, cmd, arg));
	fdtab_lock(&saved);
	nfd = follow(fd, real.fcntl(fd, cmd, arg));
	fdtab_unlock(&saved);
	return (nfd);
}

/*
 * shutdown(SHUT_RD or SHUT_RDWR) of a listener: the owner stops choosing
 * this endpoint (what it already sent stays queued, and goes to another
 * endpoint when this one is closed), and blocked accepts wake up with
 * EINVAL, as on a listener the kernel shut down.
 */
int
shim_shutdown(int fd, int how)
{
	struct shim_sock *sk;
	struct proto_rec r;
	sigset_t saved;
	int endpoint = 0, saved_errno = errno;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.shutdown(fd, how));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
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
	if (how != SHUT_WR) {
		r = (struct proto_rec){ .type = REC_UNLISTEN };
		(void) proto_send(fd, &r, -1);
		(void) real.shutdown(fd, SHUT_RD);
	}
	errno = saved_errno;
	return (0);
}
