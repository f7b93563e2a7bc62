/*
 * util.h: small pieces the call families share.
 */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

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
int util_opt_out(void *val, socklen_t *len, const void *src,
    socklen_t srclen);

/*
 * Send req on ctl and wait (bounded) for a record of type want.  0, or -1
 * with errno: ECONNRESET if the owner went away, ETIMEDOUT, EPROTO.
 */
int util_request(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep);
/* The same; an fd that came with the reply goes to *repfd (or -1). */
int util_request_fd(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep, int *repfd);

/*
 * The value of listener option o on fd, as it travels in records and is
 * kept in struct sk_opt (a linger is its seconds, or -1 when off).
 * 0, or -1 if the kernel would not say.
 */
int util_opt_read(int fd, const struct plat_opt *o, int32_t *value);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t util_now_us(void);

#endif /* SHIM_UTIL_H */
