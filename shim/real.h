/*
 * real.h: the table of the functions the shim wraps, as the next object
 * in the link order (libc) defines them.  Everything in the shim calls the
 * kernel through this table, never by name, so a call can't loop back into
 * our own wrappers; unit tests fill it with fakes.
 */
#ifndef SHIM_REAL_H
#define SHIM_REAL_H

#include <spawn.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct shim_real {
	int	(*socket)(int, int, int);
	int	(*bind)(int, const struct sockaddr *, socklen_t);
	int	(*listen)(int, int);
	int	(*accept)(int, struct sockaddr *, socklen_t *);
	int	(*accept4)(int, struct sockaddr *, socklen_t *, int);
	int	(*connect)(int, const struct sockaddr *, socklen_t);
	int	(*setsockopt)(int, int, int, const void *, socklen_t);
	int	(*getsockopt)(int, int, int, void *, socklen_t *);
	int	(*getsockname)(int, struct sockaddr *, socklen_t *);
	int	(*getpeername)(int, struct sockaddr *, socklen_t *);
	int	(*shutdown)(int, int);
	int	(*close)(int);
	int	(*dup)(int);
	int	(*dup2)(int, int);
	int	(*dup3)(int, int, int);
	int	(*fcntl)(int, int, ...);
	/*
	 * illumos declares the request an int: the same register, whose
	 * low half (all the callee reads) is the int the caller passed.
	 */
	int	(*ioctl)(int, unsigned long, ...);
	/* Variants, NULL where the C library has none (see shim.h). */
	int	(*xnet_bind)(int, const struct sockaddr *, socklen_t);
	int	(*xnet_listen)(int, int);
	int	(*xnet_getsockopt)(int, int, int, void *, socklen_t *);
	int	(*getsockopt64)(int, int, int, void *, socklen_t *);
	int	(*setsockopt64)(int, int, int, const void *, socklen_t);
	/* The data calls (io.c); the shim's own records go through these. */
	ssize_t	(*read)(int, void *, size_t);
	ssize_t	(*write)(int, const void *, size_t);
	ssize_t	(*readv)(int, const struct iovec *, int);
	ssize_t	(*writev)(int, const struct iovec *, int);
	ssize_t	(*send)(int, const void *, size_t, int);
	ssize_t	(*recv)(int, void *, size_t, int);
	ssize_t	(*sendto)(int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t);
	ssize_t	(*recvfrom)(int, void *, size_t, int, struct sockaddr *,
	    socklen_t *);
	ssize_t	(*sendmsg)(int, const struct msghdr *, int);
	ssize_t	(*recvmsg)(int, struct msghdr *, int);
	/* Their variants, NULL where the C library has none (see shim.h). */
	int	(*xnet_connect)(int, const struct sockaddr *, socklen_t);
	ssize_t	(*xnet_sendto)(int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t);
	ssize_t	(*xnet_sendmsg)(int, const struct msghdr *, int);
	ssize_t	(*xnet_recvmsg)(int, struct msghdr *, int);
	/* Linux's batches (the vector: struct mmsghdr); NULL elsewhere. */
	int	(*recvmmsg)(int, void *, unsigned, int, void *);
	int	(*sendmmsg)(int, void *, unsigned, int);
	ssize_t	(*read_chk)(int, void *, size_t, size_t);
	ssize_t	(*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t	(*recvfrom_chk)(int, void *, size_t, size_t, int,
	    struct sockaddr *, socklen_t *);
	/* exec and spawn (exec.c); NULL where the C library has none. */
	int	(*execve)(const char *, char *const [], char *const []);
	int	(*execv)(const char *, char *const []);
	int	(*execvp)(const char *, char *const []);
	int	(*execvpe)(const char *, char *const [], char *const []);
	int	(*fexecve)(int, char *const [], char *const []);
	int	(*posix_spawn)(pid_t *, const char *,
	    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
	    char *const [], char *const []);
	int	(*posix_spawnp)(pid_t *, const char *,
	    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
	    char *const [], char *const []);
};

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*listen_fn)(int, int);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

extern struct shim_real real;

/*
 * Fill the table once; aborts with a message if a symbol is missing.  A
 * table already filled (by a unit test's fakes) is left as it is.
 */
void real_init(void);

/*
 * sendmsg and recvmsg for the shim's own messages, whose header is the
 * XPG one (msg_control, cmsghdr, msg_flags): illumos's plain calls read
 * it as 4.3BSD's (msg_accrights: bare fds), its __xnet_ ones as XPG.
 */
ssize_t real_sendmsg_xpg(int fd, const struct msghdr *m, int flags);
ssize_t real_recvmsg_xpg(int fd, struct msghdr *m, int flags);

#endif /* SHIM_REAL_H */
