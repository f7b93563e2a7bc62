/*
 * shim.h: the shim's entry points.  Each exported wrapper in interpose.c
 * is one call into the shim_X() here; the functions live in one file per
 * call family (group.c, accept.c, sockopt.c, fdops.c).
 */
#ifndef SHIM_SHIM_H
#define SHIM_SHIM_H

#include <sys/types.h>
#include <sys/socket.h>

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

#endif /* SHIM_SHIM_H */
