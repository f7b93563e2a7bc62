/*
 * util.h: small pieces the call families share.
 */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "platform.h"
#include "proto.h"

/*
 * Copy an address out as the kernel does: at most *len bytes, and *len
 * set to the full size, so a caller can tell it was cut short.
 */
int util_addr_out(struct sockaddr *sa, socklen_t *len, const void *src,
    socklen_t srclen);

/* Copy an option value out as Linux does: at most *len bytes. */
/*
 * sa as the kernel's getsockname would give it back after a bind: no
 * junk in sin_zero, no flow label, a scope only where it means one, the
 * family's own length (returned; 0 if len is too short to be one).
 */
socklen_t util_addr_canon(struct sockaddr_storage *out,
    const struct sockaddr *sa, socklen_t len);
int util_opt_out(void *val, socklen_t *len, const void *src,
    socklen_t srclen);

/* A request's wait for its reply: an owner alive but this slow is hung. */
#define	UTIL_REPLY_TIMEOUT_MS	5000

/*
 * Send req on ctl and wait (UTIL_REPLY_TIMEOUT_MS) for a record of type
 * want.  0, or -1 with errno: ECONNRESET if the owner went away,
 * ETIMEDOUT, EPROTO.
 */
int util_request(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep);
/* The same; an fd that came with the reply goes to *repfd (or -1). */
int util_request_fd(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep, int *repfd);
/* The same, waiting until deadline (util_deadline) at most. */
int util_request_until(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep, int *repfd, uint64_t deadline);

/*
 * Wait until fd has events (poll(2) bits) or deadline passes.  A signal
 * does not restart the wait from the start: the time left is taken from
 * the monotonic clock each round.  0, or -1 with errno (ETIMEDOUT).
 */
int util_wait_fd(int fd, short events, uint64_t deadline);

/*
 * The value of listener option o on fd, as it travels in records and is
 * kept in struct sk_opt (a linger is its seconds, or -1 when off).
 * 0, or -1 if the kernel would not say.
 */
int util_opt_read(int fd, const struct plat_opt *o, int32_t *value);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t util_now_us(void);
/*
 * An owner's member cap: RLIMIT_NOFILE's soft limit is raised to the
 * hard one (it was the starting program's), and the members, per fds
 * each, get what is left beside room for the owner's own work (reserve
 * twice, or three quarters of a small limit); at most max, at least 1.
 */
size_t util_fd_members(size_t per, size_t max, size_t reserve);
/* util_now_us() ms from now. */
uint64_t util_deadline(unsigned ms);

#endif /* SHIM_UTIL_H */
