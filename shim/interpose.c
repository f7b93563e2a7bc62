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
#include <sys/socket.h>

#include "shim.h"

#ifdef SHIM_VOID_LENP
typedef void *lenp_t;
#else
typedef socklen_t *lenp_t;
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
