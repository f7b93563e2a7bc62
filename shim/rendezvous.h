/*
 * rendezvous.h: where a group's owner can be found, and who may be there.
 *
 * Each group has one Unix socket in a per-user directory, named after the
 * group's protocol, address and port.  The directory is the security
 * boundary: only its owner may create, replace or connect to the sockets
 * in it, and both ends check the other's uid again on every connection.
 */
#ifndef SHIM_RENDEZVOUS_H
#define SHIM_RENDEZVOUS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

#define	RV_PATH_MAX	108	/* the smallest sun_path we target */
/* Room left in a group's name for the ".<pid>-<n>" of its bound name. */
#define	RV_SUFFIX_MAX	24

/*
 * Choose the directory: cfgdir if set, else $XDG_RUNTIME_DIR/reuseport-shim,
 * else /tmp/reuseport-shim-<euid>.  Pure.  0, or -1 if it would not fit.
 */
int rv_dir_choose(char *out, size_t len, const char *cfgdir,
    const char *xdg, uid_t euid);

/*
 * Make sure dir is a real directory (not a symlink), owned by euid and
 * writable by nobody else, creating it 0700 if absent.  0, or -1 with a
 * reason in why.
 */
int rv_dir_check(const char *dir, uid_t euid, char *why, size_t whylen);

/* "<dir>/tcp4-127.0.0.1-8080" and the like.  Pure.  0, or -1 if too long. */
int rv_path(char *out, size_t len, const char *dir, const struct sockaddr *sa);

/*
 * A listening Unix socket at path, close-on-exec, replacing whatever is
 * there atomically (bound under a private name, then renamed), so that
 * a joiner never finds a half-made socket and a stale one from a dead
 * owner is never unlinked after a new owner put its own there.
 */
int rv_listen(const char *path);

/*
 * The group address an endpoint belongs to, from its peer's bound name
 * ("<dir>/tcp4-127.0.0.1-8080.<pid>-<n>").  Pure.  0, or -1 if peer is
 * not one of ours.
 */
int rv_parse_peer(const char *dir, const char *peer,
    struct sockaddr_storage *ss, socklen_t *len);

/* Connect to path; the fd is close-on-exec.  -1 with errno as connect. */
int rv_connect(const char *path);

/* The directory, checked, for this process.  NULL (and a log line) if unusable. */
const char *rv_dir_get(void);

#endif /* SHIM_RENDEZVOUS_H */
