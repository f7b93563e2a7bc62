/*
 * interpose.c: the exported names.  Each is one call into shim.h; nothing
 * else in the library is visible: this file alone is built with default
 * visibility, and the mapfile lists exactly what it defines.
 *
 * The __xnet_* names are illumos's XPG4.2 entry points, which programs
 * built with _XPG4_2 call instead of the plain ones; they differ in the
 * kernel (bind refuses a rebind differently), so for fds we leave alone
 * they go to the real __xnet_ function.
 * __setsockopt64/__getsockopt64 are glibc's 32-bit time64 variants.
 * close_range is glibc's and FreeBSD's; illumos has none, and ours there
 * fails with ENOSYS as a C library without the system call would.
 * __xnet_connect, __xnet_sendto, __xnet_sendmsg and __xnet_recvmsg are
 * the data calls' XPG4.2 names (libsocket), which io.c passes on to the
 * same; their msg headers are the XPG layout, the plain ones' the 4.3BSD
 * one.  __read_chk, __recv_chk and __recvfrom_chk are what glibc's
 * _FORTIFY_SOURCE makes of read, recv and recvfrom into a buffer of
 * known size: they reach the kernel without the exported names, so they
 * are wrapped too (illumos has none; ours there check and call the
 * plain ones).
 *
 * exec: glibc's execv, execvp, execvpe, execl, execle, execlp, fexecve
 * and posix_spawn reach the kernel through an internal execve, not the
 * exported one, so each is wrapped (exec.c).  illumos has them all
 * (execvpe since ILLUMOS_0.44, fexecve since 0.43); where the C library
 * lacks one, ours falls back on execvp, or fails with ENOSYS (fexecve).
 * The execl family's arguments become an argv on the stack.
 *
 * On illumos this file is built without _XPG4_2 (the Makefile's IFLAGS):
 * under it <sys/socket.h> renames bind and getsockopt to their __xnet_
 * names, and the plain ones would never be defined.  In that plain mode
 * the headers declare the length arguments as void * (SHIM_VOID_LENP).
 */
#include <stdarg.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "shim.h"

#ifdef SHIM_VOID_LENP
typedef void *lenp_t;
#else
typedef socklen_t *lenp_t;
#endif

/* ioctl's request: an int on illumos (SHIM_INT_IOCTL). */
#ifdef SHIM_INT_IOCTL
typedef int ioctl_req_t;
#else
typedef unsigned long ioctl_req_t;
#endif

/* Not in strict POSIX headers; declared here as the C libraries define them. */
int accept4(int fd, struct sockaddr *sa, lenp_t len, int flags);
int dup3(int fd, int nfd, int flags);
void closefrom(int lowfd);
int close_range(unsigned int fd, unsigned int max_fd, int flags);
int fcntl64(int fd, int cmd, ...);
int __xnet_bind(int fd, const struct sockaddr *sa, socklen_t len);
int __xnet_listen(int fd, int backlog);
int __xnet_getsockopt(int fd, int level, int name, void *val,
    socklen_t *len);
int __setsockopt64(int fd, int level, int name, const void *val,
    socklen_t len);
int __getsockopt64(int fd, int level, int name, void *val, socklen_t *len);
int execvpe(const char *file, char *const argv[], char *const envp[]);
int __xnet_connect(int fd, const struct sockaddr *sa, socklen_t len);
ssize_t __xnet_sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen);
ssize_t __xnet_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __xnet_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
/* Linux's (struct mmsghdr, struct timespec), which POSIX code cannot name. */
int recvmmsg(int fd, void *vec, unsigned int n, int flags, void *timeout);
int sendmmsg(int fd, void *vec, unsigned int n, int flags);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
    int flags, struct sockaddr *from, socklen_t *fromlen);

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (shim_bind(fd, sa, len, SHIM_PLAIN));
}

int
listen(int fd, int backlog)
{
	return (shim_listen(fd, backlog, SHIM_PLAIN));
}

int
accept(int fd, struct sockaddr *sa, lenp_t len)
{
	return (shim_accept(fd, sa, len, 0, 0));
}

int
accept4(int fd, struct sockaddr *sa, lenp_t len, int flags)
{
	return (shim_accept(fd, sa, len, flags, 1));
}

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return (shim_setsockopt(fd, level, name, val, len, SHIM_PLAIN));
}

int
getsockopt(int fd, int level, int name, void *val, lenp_t len)
{
	return (shim_getsockopt(fd, level, name, val, len, SHIM_PLAIN));
}

int
getsockname(int fd, struct sockaddr *sa, lenp_t len)
{
	return (shim_getsockname(fd, sa, len));
}

int
getpeername(int fd, struct sockaddr *sa, lenp_t len)
{
	return (shim_getpeername(fd, sa, len));
}

int
shutdown(int fd, int how)
{
	return (shim_shutdown(fd, how));
}

int
close(int fd)
{
	return (shim_close(fd));
}

void
closefrom(int lowfd)
{
	shim_closefrom(lowfd);
}

int
close_range(unsigned int fd, unsigned int max_fd, int flags)
{
	return (shim_close_range(fd, max_fd, flags));
}

int
dup(int fd)
{
	return (shim_dup(fd));
}

int
dup2(int fd, int nfd)
{
	return (shim_dup2(fd, nfd));
}

int
dup3(int fd, int nfd, int flags)
{
	return (shim_dup3(fd, nfd, flags));
}

/*
 * fcntl's third argument is an int or a pointer by command; like the C
 * library's own wrapper, take it as a pointer, which holds either.
 * illumos's F_DUP3FD alone has a fourth, the new fd's flags (int), which
 * its libc reads for that command only: so do we.
 */
int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int arg1 = 0;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
#ifdef F_DUP3FD
	if (cmd == F_DUP3FD)
		arg1 = va_arg(ap, int);
#endif
	va_end(ap);
	return (shim_fcntl(fd, cmd, arg, arg1));
}

/* As fcntl's: the third argument taken as a pointer, which holds either. */
int
ioctl(int fd, ioctl_req_t req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	return (shim_ioctl(fd, (unsigned long)req, arg));
}

int
fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int arg1 = 0;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
#ifdef F_DUP3FD
	if (cmd == F_DUP3FD)
		arg1 = va_arg(ap, int);
#endif
	va_end(ap);
	return (shim_fcntl(fd, cmd, arg, arg1));
}

int
__xnet_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (shim_bind(fd, sa, len, SHIM_XNET));
}

int
__xnet_listen(int fd, int backlog)
{
	return (shim_listen(fd, backlog, SHIM_XNET));
}

int
__xnet_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	return (shim_getsockopt(fd, level, name, val, len,
	    SHIM_XNET));
}

int
__setsockopt64(int fd, int level, int name, const void *val, socklen_t len)
{
	return (shim_setsockopt(fd, level, name, val, len,
	    SHIM_TIME64));
}

int
__getsockopt64(int fd, int level, int name, void *val, socklen_t *len)
{
	return (shim_getsockopt(fd, level, name, val, len,
	    SHIM_TIME64));
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (shim_connect(fd, sa, len, SHIM_PLAIN));
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	return (shim_send(fd, buf, len, flags));
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	return (shim_recv(fd, buf, len, flags));
}

ssize_t
sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	return (shim_sendto(fd, buf, len, flags, to, tolen, SHIM_PLAIN));
}

ssize_t
recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
    lenp_t fromlen)
{
	return (shim_recvfrom(fd, buf, len, flags, from, fromlen));
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return (shim_sendmsg(fd, msg, flags, SHIM_PLAIN));
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	return (shim_recvmsg(fd, msg, flags, SHIM_PLAIN));
}

ssize_t
read(int fd, void *buf, size_t len)
{
	return (shim_read(fd, buf, len));
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	return (shim_write(fd, buf, len));
}

ssize_t
readv(int fd, const struct iovec *iov, int iovcnt)
{
	return (shim_readv(fd, iov, iovcnt));
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	return (shim_writev(fd, iov, iovcnt));
}

int
__xnet_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (shim_connect(fd, sa, len, SHIM_XNET));
}

ssize_t
__xnet_sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	return (shim_sendto(fd, buf, len, flags, to, tolen, SHIM_XNET));
}

ssize_t
__xnet_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return (shim_sendmsg(fd, msg, flags, SHIM_XNET));
}

ssize_t
__xnet_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return (shim_recvmsg(fd, msg, flags, SHIM_XNET));
}

int
recvmmsg(int fd, void *vec, unsigned int n, int flags, void *timeout)
{
	return (shim_recvmmsg(fd, vec, n, flags, timeout));
}

int
sendmmsg(int fd, void *vec, unsigned int n, int flags)
{
	return (shim_sendmmsg(fd, vec, n, flags));
}

ssize_t
__read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	return (shim_read_chk(fd, buf, len, buflen));
}

ssize_t
__recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	return (shim_recv_chk(fd, buf, len, buflen, flags));
}

ssize_t
__recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
    struct sockaddr *from, socklen_t *fromlen)
{
	return (shim_recvfrom_chk(fd, buf, len, buflen, flags, from,
	    fromlen));
}

int
execve(const char *path, char *const argv[], char *const envp[])
{
	return (shim_execve(path, argv, envp));
}

int
execv(const char *path, char *const argv[])
{
	return (shim_execv(path, argv));
}

int
execvp(const char *file, char *const argv[])
{
	return (shim_execvp(file, argv));
}

int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	return (shim_execvpe(file, argv, envp));
}

int
fexecve(int fd, char *const argv[], char *const envp[])
{
	return (shim_fexecve(fd, argv, envp));
}

int
execl(const char *path, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = shim_execl(path, arg, ap, SHIM_EXECL);
	va_end(ap);
	return (rc);
}

int
execle(const char *path, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = shim_execl(path, arg, ap, SHIM_EXECLE);
	va_end(ap);
	return (rc);
}

int
execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = shim_execl(file, arg, ap, SHIM_EXECLP);
	va_end(ap);
	return (rc);
}

int
posix_spawn(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
    char *const argv[], char *const envp[])
{
	return (shim_posix_spawn(pid, path, fa, at, argv, envp, 0));
}

int
posix_spawnp(pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
    char *const argv[], char *const envp[])
{
	return (shim_posix_spawn(pid, file, fa, at, argv, envp, 1));
}
