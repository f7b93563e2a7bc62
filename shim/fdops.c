/*
 * fdops.c: close, dup, dup2, dup3, fcntl's dups and shutdown.  They
 * keep the table in step with the process's fds: a dup of a member is
 * the same member, and a closed fd is forgotten in the same critical
 * section that closes it (the number may be reused by another thread at
 * once, and must not inherit the old entry).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fdflags.h"
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
	int nfd = -1;

	/* As dup2: the target may be a member the call closes. */
	if (kind == FCNTL_DUP2FD || kind == FCNTL_DUP3FD)
		nfd = (int)(intptr_t)arg;
	if (kind == FCNTL_NODUP || (!fdtab_maybe(fd) && !fdtab_maybe(nfd)))
		return (real_fcntl(fd, cmd, kind, arg, arg1));
	fdtab_lock(&saved);
	nfd = follow(fd, real_fcntl(fd, cmd, kind, arg, arg1));
	fdtab_unlock(&saved);
	return (nfd);
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
