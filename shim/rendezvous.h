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
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define	RV_PATH_MAX	108	/* the smallest sun_path we target */
/* Room left in a group's name for the ".<pid>-<n>" of its bound name. */
#define	RV_SUFFIX_MAX	24

/* Under the home directory: only its owner can create it. */
#define	RV_HOME_NAME	".reuseport-shim"

/* What the choice of the directory looks at. */
struct rv_dir_in {
	const char	*cfgdir;	/* REUSEPORT_SHIM_DIR, or NULL */
	const char	*xdg;		/* XDG_RUNTIME_DIR, or NULL */
	uid_t		euid;
	const struct stat *tmp;		/* lstat of the /tmp name; NULL: none */
	const char	*home;		/* HOME, or NULL */
	const struct stat *homest;	/* stat of home; NULL: none */
};

/*
 * Choose the directory: cfgdir if set, else $XDG_RUNTIME_DIR/reuseport-shim,
 * else /tmp/reuseport-shim-<euid> unless something there is refused (a
 * name any user can take first), then $HOME/.reuseport-shim if HOME is a
 * directory of euid's; else the /tmp name, for its refusal.  Pure.  1 if
 * the /tmp name was passed over (its refusal in why, when why is not
 * NULL), 0 if not, -1 if the name would not fit.
 */
int rv_dir_pick(char *out, size_t len, const struct rv_dir_in *in,
    char *why, size_t whylen);

/*
 * rv_dir_pick with what this system shows: lstat of the /tmp name and
 * stat of $HOME, each only when the choice depends on it.  0, or -1 if
 * the name would not fit.  The same for every caller (the library, the
 * command, the scan of inherited endpoints).
 */
int rv_dir_choose(char *out, size_t len, const char *cfgdir,
    const char *xdg, uid_t euid);

/*
 * Whether st, the lstat of dir, is a directory the shim may use: a real
 * directory (not a symlink), owned by euid and writable by nobody else.
 * Pure.  0, or -1 with the reason in why.
 */
int rv_dir_stat_ok(const char *dir, const struct stat *st, uid_t euid,
    char *why, size_t whylen);

/*
 * Make sure dir is a real directory (not a symlink), owned by euid and
 * writable by nobody else, creating it 0700 if absent.  0, or -1 with a
 * reason in why.
 */
int rv_dir_check(const char *dir, uid_t euid, char *why, size_t whylen);

/* Which protocol a group is of: its names start tcp or udp. */
enum rv_proto {
	RV_TCP = 0,
	RV_UDP
};

/* "<dir>/tcp4-127.0.0.1-8080" and the like.  Pure.  0, or -1 if too long. */
int rv_path(char *out, size_t len, const char *dir, const struct sockaddr *sa);
/* The same for a group of proto ("<dir>/udp6-::-53"). */
int rv_path_proto(char *out, size_t len, const char *dir,
    const struct sockaddr *sa, enum rv_proto proto);

/*
 * A listening Unix socket at path, close-on-exec, replacing whatever is
 * there atomically (bound under a private name, then renamed), so that
 * a joiner never finds a half-made socket and a stale one from a dead
 * owner is never unlinked after a new owner put its own there.
 */
int rv_listen(const char *path);
/*
 * The same, only where there is nothing at path yet (EEXIST): the name
 * is then a lock on the group's address, taken by one process.
 */
int rv_listen_new(const char *path);

/*
 * The group address an endpoint belongs to, from its peer's bound name
 * ("<dir>/tcp4-127.0.0.1-8080.<pid>-<n>").  Pure.  0, or -1 if peer is
 * not one of ours.
 */
int rv_parse_peer(const char *dir, const char *peer,
    struct sockaddr_storage *ss, socklen_t *len);
/* The same for a group of either protocol, which it says in *proto. */
int rv_parse_peer_proto(const char *dir, const char *peer,
    struct sockaddr_storage *ss, socklen_t *len, enum rv_proto *proto);

/*
 * Connect to path, giving up at deadline (util_deadline); the fd is
 * close-on-exec.  -1 with errno as connect, ETIMEDOUT, or EAGAIN where
 * the listener's backlog is full (an owner that takes no connections).
 */
int rv_connect_until(const char *path, uint64_t deadline);
/* The same within UTIL_REPLY_TIMEOUT_MS. */
int rv_connect(const char *path);

/*
 * The directory, checked, for this process.  NULL (and a log line) if
 * unusable.
 */
const char *rv_dir_get(void);

#endif /* SHIM_RENDEZVOUS_H */
