/*
 * shim.h: the shim's entry points.  Each exported wrapper in interpose.c
 * is one call into the shim_X() here; the functions live in one file per
 * call family (group.c, accept.c, sockopt.c, fdops.c, io.c).
 */
#ifndef SHIM_SHIM_H
#define SHIM_SHIM_H

#include <spawn.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

/*
 * Which entry point a call came through, and so which real function an
 * fd the shim leaves alone goes to: illumos's __xnet_bind differs from
 * bind in the kernel, glibc's __getsockopt64 in its time64 options.
 */
enum shim_variant {
	SHIM_PLAIN = 0,
	SHIM_XNET,
	SHIM_TIME64
};

/* Resolve real functions, read the configuration, set up fork handling. */
void shim_init(void);

int shim_bind(int fd, const struct sockaddr *sa, socklen_t len,
    enum shim_variant v);
int shim_listen(int fd, int backlog, enum shim_variant v);
int shim_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags,
    int is_accept4);
int shim_setsockopt(int fd, int level, int name, const void *val,
    socklen_t len, enum shim_variant v);
int shim_getsockopt(int fd, int level, int name, void *val, socklen_t *len,
    enum shim_variant v);
/* bind (group.c): listener options set before it go to the group's. */
void sockopt_listener_sync(int fd);
int shim_getsockname(int fd, struct sockaddr *sa, socklen_t *len);
int shim_getpeername(int fd, struct sockaddr *sa, socklen_t *len);
int shim_shutdown(int fd, int how);
int shim_close(int fd);
void shim_closefrom(int lowfd);
int shim_close_range(unsigned first, unsigned last, int flags);
int shim_dup(int fd);
int shim_dup2(int fd, int nfd);
int shim_dup3(int fd, int nfd, int flags);
/* arg1: F_DUP3FD's fourth argument (illumos), else unused. */
int shim_fcntl(int fd, int cmd, void *arg, int arg1);

/* exec and spawn (exec.c): the shim kept for inherited endpoints. */
int shim_execve(const char *path, char *const argv[], char *const envp[]);
int shim_execv(const char *path, char *const argv[]);
int shim_execvp(const char *file, char *const argv[]);
int shim_execvpe(const char *file, char *const argv[], char *const envp[]);
int shim_fexecve(int fd, char *const argv[], char *const envp[]);
/* Which execl: its arguments follow arg in ap (execle's envp last). */
enum shim_execl {
	SHIM_EXECL = 0,
	SHIM_EXECLE,
	SHIM_EXECLP
};
int shim_execl(const char *path, const char *arg, va_list ap,
    enum shim_execl kind);
/* search: posix_spawnp. */
int shim_posix_spawn(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
    char *const argv[], char *const envp[], int search);

/*
 * The calls that move data, and connect (io.c).  The msg calls' header
 * is a void *: illumos's plain sendmsg and recvmsg take the 4.3BSD
 * layout, its __xnet_ ones (and everyone else's) the XPG one, and the
 * two agree on every field io.c reads.  The _chk calls are glibc's
 * _FORTIFY_SOURCE entry points; buflen is the buffer's size.
 */
ssize_t shim_send(int fd, const void *buf, size_t len, int flags);
ssize_t shim_recv(int fd, void *buf, size_t len, int flags);
ssize_t shim_sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen, enum shim_variant v);
ssize_t shim_recvfrom(int fd, void *buf, size_t len, int flags,
    struct sockaddr *from, socklen_t *fromlen);
ssize_t shim_sendmsg(int fd, const void *msg, int flags,
    enum shim_variant v);
ssize_t shim_recvmsg(int fd, void *msg, int flags, enum shim_variant v);
ssize_t shim_read(int fd, void *buf, size_t len);
ssize_t shim_write(int fd, const void *buf, size_t len);
ssize_t shim_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t shim_writev(int fd, const struct iovec *iov, int iovcnt);
int shim_connect(int fd, const struct sockaddr *sa, socklen_t len,
    enum shim_variant v);
/* req: an int on illumos, whose bits the real call gets back (real.h). */
int shim_ioctl(int fd, unsigned long req, void *arg);
/* Linux's batches; vec: struct mmsghdr, timeout: struct timespec. */
int shim_recvmmsg(int fd, void *vec, unsigned n, int flags, void *timeout);
int shim_sendmmsg(int fd, void *vec, unsigned n, int flags);
ssize_t shim_read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t shim_recv_chk(int fd, void *buf, size_t len, size_t buflen,
    int flags);
ssize_t shim_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
    int flags, struct sockaddr *from, socklen_t *fromlen);

#endif /* SHIM_SHIM_H */
