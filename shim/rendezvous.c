/*
 * rendezvous.c: the per-user directory and the group sockets in it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "log.h"
#include "real.h"
#include "rendezvous.h"
#include "util.h"

#define	RV_TMP_FMT	"/tmp/reuseport-shim-%lu"
#define	RV_TMP_MAX	48	/* RV_TMP_FMT with the largest uid */

/* Neither REUSEPORT_SHIM_DIR nor XDG_RUNTIME_DIR: the /tmp name or HOME. */
static int
shared_default(const char *cfgdir, const char *xdg)
{
	return ((cfgdir == NULL || cfgdir[0] == '\0') &&
	    (xdg == NULL || xdg[0] != '/'));
}

int
rv_dir_pick(char *out, size_t len, const struct rv_dir_in *in, char *why,
    size_t whylen)
{
	char tmp[RV_TMP_MAX], skip[CONFIG_PATH_MAX + 96];
	int n;

	if (!shared_default(in->cfgdir, in->xdg)) {
		if (in->cfgdir != NULL && in->cfgdir[0] != '\0')
			n = snprintf(out, len, "%s", in->cfgdir);
		else
			n = snprintf(out, len, "%s/reuseport-shim", in->xdg);
		return (n < 0 || (size_t)n >= len ? -1 : 0);
	}
	(void) snprintf(tmp, sizeof (tmp), RV_TMP_FMT,
	    (unsigned long)in->euid);
	/*
	 * Any user can create the /tmp name first; then it is refused and
	 * emulation would be off for us.  HOME is ours alone, but only a
	 * directory of ours: HOME=/tmp would be the same trap again.
	 */
	if (in->tmp != NULL && rv_dir_stat_ok(tmp, in->tmp, in->euid, skip,
	    sizeof (skip)) != 0 && in->home != NULL && in->home[0] == '/' &&
	    in->homest != NULL && S_ISDIR(in->homest->st_mode) &&
	    in->homest->st_uid == in->euid) {
		n = snprintf(out, len, "%s%s" RV_HOME_NAME, in->home,
		    in->home[strlen(in->home) - 1] == '/' ? "" : "/");
		if (n >= 0 && (size_t)n < len) {
			if (why != NULL)
				(void) snprintf(why, whylen, "%s", skip);
			return (1);
		}
	}
	n = snprintf(out, len, "%s", tmp);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

/* rv_dir_choose, and why the /tmp name was passed over (rv_dir_pick). */
static int
choose(char *out, size_t len, const char *cfgdir, const char *xdg,
    uid_t euid, char *why, size_t whylen)
{
	struct rv_dir_in in = { cfgdir, xdg, euid, NULL, NULL, NULL };
	struct stat tst, hst;
	char tmp[RV_TMP_MAX];
	int saved = errno, rc;

	/*
	 * HOME, not the password database: its modules may call wrappers of
	 * ours while the library is still being set up (the scan of
	 * inherited endpoints), and those would wait for that setup forever.
	 */
	if (shared_default(cfgdir, xdg)) {
		(void) snprintf(tmp, sizeof (tmp), RV_TMP_FMT,
		    (unsigned long)euid);
		if (lstat(tmp, &tst) == 0) {
			in.tmp = &tst;
			in.home = getenv("HOME");
			if (in.home != NULL && stat(in.home, &hst) == 0)
				in.homest = &hst;
		}
	}
	rc = rv_dir_pick(out, len, &in, why, whylen);
	errno = saved;
	return (rc < 0 ? -1 : rc);
}

int
rv_dir_choose(char *out, size_t len, const char *cfgdir, const char *xdg,
    uid_t euid)
{
	return (choose(out, len, cfgdir, xdg, euid, NULL, 0) < 0 ? -1 : 0);
}

int
rv_dir_stat_ok(const char *dir, const struct stat *st, uid_t euid,
    char *why, size_t whylen)
{
	if (!S_ISDIR(st->st_mode)) {
		(void) snprintf(why, whylen, "%s is not a directory%s", dir,
		    S_ISLNK(st->st_mode) ? " (a symbolic link)" : "");
		return (-1);
	}
	if (st->st_uid != euid) {
		(void) snprintf(why, whylen, "%s is owned by uid %lu, not %lu",
		    dir, (unsigned long)st->st_uid, (unsigned long)euid);
		return (-1);
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		(void) snprintf(why, whylen,
		    "%s is writable by group or others (mode %03o)", dir,
		    (unsigned)(st->st_mode & 0777));
		return (-1);
	}
	return (0);
}

int
rv_dir_check(const char *dir, uid_t euid, char *why, size_t whylen)
{
	struct stat st;

	/* mkdir fails on anything already there, a symlink included. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		(void) snprintf(why, whylen, "cannot create %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	if (lstat(dir, &st) != 0) {
		(void) snprintf(why, whylen, "cannot examine %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	return (rv_dir_stat_ok(dir, &st, euid, why, whylen));
}

int
rv_path(char *out, size_t len, const char *dir, const struct sockaddr *sa)
{
	return (rv_path_proto(out, len, dir, sa, RV_TCP));
}

int
rv_path_proto(char *out, size_t len, const char *dir,
    const struct sockaddr *sa, enum rv_proto proto)
{
	const char *pn = proto == RV_UDP ? "udp" : "tcp";
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &in->sin_addr, host,
		    sizeof (host)) == NULL)
			return (-1);
		port = ntohs(in->sin_port);
		n = snprintf(out, len, "%s/%s4-%s-%u", dir, pn, host,
		    port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, host,
		    sizeof (host)) == NULL)
			return (-1);
		port = ntohs(in6->sin6_port);
		if (in6->sin6_scope_id != 0)
			n = snprintf(out, len, "%s/%s6-%s%%%lu-%u", dir, pn,
			    host, (unsigned long)in6->sin6_scope_id, port);
		else
			n = snprintf(out, len, "%s/%s6-%s-%u", dir, pn, host,
			    port);
	} else {
		return (-1);
	}
	return (n < 0 || (size_t)n >= len ||
	    (size_t)n >= RV_PATH_MAX - RV_SUFFIX_MAX ? -1 : 0);
}

static int
unix_socket(void)
{
	int fd = real.socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd >= 0 && real.fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		(void) real.close(fd);
		return (-1);
	}
	return (fd);
}

static int
set_path(struct sockaddr_un *un, const char *path)
{
	memset(un, 0, sizeof (*un));
	un->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof (un->sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	(void) strcpy(un->sun_path, path);
	return (0);
}

/* rv_listen, or with excl rv_listen_new. */
static int
listen_at(const char *path, int excl)
{
	static unsigned counter;
	struct sockaddr_un un;
	char tmp[RV_PATH_MAX];
	int fd, e, n;

	/*
	 * Bound under "<path>.<pid>-<n>", a name no other process of ours is
	 * using, then renamed (or linked).  The socket keeps its bound name,
	 * so an endpoint's peer name tells which group it belongs to: that
	 * is how an endpoint inherited across exec is recognised
	 * (rv_parse_peer).
	 */
	n = snprintf(tmp, sizeof (tmp), "%s.%ld-%u", path, (long)getpid(),
	    counter++);
	if (n < 0 || (size_t)n >= sizeof (tmp)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (set_path(&un, tmp) != 0 || (fd = unix_socket()) < 0)
		return (-1);
	(void) unlink(tmp);	/* left by a crashed process with our pid */
	if (real.bind(fd, (struct sockaddr *)&un, sizeof (un)) != 0 ||
	    real.listen(fd, SOMAXCONN) != 0 ||
	    (excl ? link(tmp, path) : rename(tmp, path)) != 0) {
		e = errno;
		(void) unlink(tmp);
		(void) real.close(fd);
		errno = e;
		return (-1);
	}
	if (excl)
		(void) unlink(tmp);
	return (fd);
}

int
rv_listen(const char *path)
{
	return (listen_at(path, 0));
}

int
rv_listen_new(const char *path)
{
	return (listen_at(path, 1));
}

/* "<pid>-<n>", as rv_listen writes it. */
static int
suffix_ok(const char *s)
{
	int digits = 0, dashes = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (*s == '-' && digits > 0 && dashes++ == 0)
			digits = 0;
		else
			return (0);
	}
	return (dashes == 1 && digits > 0);
}

int
rv_parse_peer(const char *dir, const char *peer, struct sockaddr_storage *ss,
    socklen_t *len)
{
	enum rv_proto proto;

	if (rv_parse_peer_proto(dir, peer, ss, len, &proto) != 0 ||
	    proto != RV_TCP)
		return (-1);
	return (0);
}

int
rv_parse_peer_proto(const char *dir, const char *peer,
    struct sockaddr_storage *ss, socklen_t *len, enum rv_proto *proto)
{
	char host[INET6_ADDRSTRLEN + 16];
	size_t dl = strlen(dir);
	const char *name, *dash, *dot;
	unsigned long port = 0, scope = 0;
	int v6;

	if (strncmp(peer, dir, dl) != 0 || peer[dl] != '/')
		return (-1);
	name = peer + dl + 1;
	if (strncmp(name, "tcp", 3) == 0)
		*proto = RV_TCP;
	else if (strncmp(name, "udp", 3) == 0)
		*proto = RV_UDP;
	else
		return (-1);
	if (strncmp(name + 3, "4-", 2) == 0)
		v6 = 0;
	else if (strncmp(name + 3, "6-", 2) == 0)
		v6 = 1;
	else
		return (-1);
	name += 5;
	/* "<addr>-<port>.<pid>-<n>": addresses may have dots, suffixes not. */
	if ((dot = strrchr(name, '.')) == NULL || !suffix_ok(dot + 1))
		return (-1);
	dash = NULL;
	for (const char *p = name; p < dot; p++) {
		if (*p == '-')
			dash = p;
	}
	if (dash == NULL || dash == name || (size_t)(dash - name) >=
	    sizeof (host) || dot - dash < 2 || dot - dash > 6)
		return (-1);
	for (const char *p = dash + 1; p < dot; p++) {
		if (*p < '0' || *p > '9')
			return (-1);
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port == 0 || port > 65535)
		return (-1);
	memcpy(host, name, (size_t)(dash - name));
	host[dash - name] = '\0';
	memset(ss, 0, sizeof (*ss));
	if (!v6) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return (-1);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof (*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		char *pct = strchr(host, '%');

		if (pct != NULL) {
			char *end;

			*pct = '\0';
			scope = strtoul(pct + 1, &end, 10);
			if (*end != '\0' || end == pct + 1)
				return (-1);
		}
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return (-1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_scope_id = (uint32_t)scope;
		*len = sizeof (*in6);
	}
	return (0);
}

int
rv_connect(const char *path)
{
	return (rv_connect_until(path, util_deadline(UTIL_REPLY_TIMEOUT_MS)));
}

int
rv_connect_until(const char *path, uint64_t deadline)
{
	struct sockaddr_un un;
	socklen_t elen = sizeof (int);
	int fd, fl, e, err = 0;

	if (set_path(&un, path) != 0 || (fd = unix_socket()) < 0)
		return (-1);
	/*
	 * Not blocking: an owner that takes no connections (stopped, out of
	 * fds) fills its backlog, and a blocking connect then waits for as
	 * long as the owner does.
	 */
	if ((fl = real.fcntl(fd, F_GETFL)) < 0 ||
	    real.fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		goto fail;
	if (real.connect(fd, (struct sockaddr *)&un, sizeof (un)) != 0) {
		/* Interrupted, it goes on in the background all the same. */
		if (errno != EINPROGRESS && errno != EINTR)
			goto fail;
		if (util_wait_fd(fd, POLLOUT, deadline) != 0 ||
		    real.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
		    &elen) != 0)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	if (real.fcntl(fd, F_SETFL, fl) != 0)
		goto fail;
	return (fd);
fail:
	e = errno;
	(void) real.close(fd);
	errno = e;
	return (-1);
}

static char rv_dir_buf[CONFIG_PATH_MAX];
static const char *rv_dir_ok;
static pthread_mutex_t rv_dir_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The directory for this process, checked, into rv_dir_buf; 0, or -1 with
 * the line to log in msg.
 */
static int
dir_find(char *msg, size_t msglen)
{
	const char *cfg = config_get()->dir, *xdg = getenv("XDG_RUNTIME_DIR");
	char skip[CONFIG_PATH_MAX + 96], why[CONFIG_PATH_MAX + 96];
	int rc = 0;

	for (int pass = 0; pass < 2; pass++) {
		skip[0] = '\0';
		rc = choose(rv_dir_buf, sizeof (rv_dir_buf), cfg, xdg,
		    geteuid(), skip, sizeof (skip));
		if (rc < 0) {
			(void) snprintf(msg, msglen, "rendezvous directory "
			    "name too long; not emulating SO_REUSEPORT");
			return (-1);
		}
		if (rv_dir_check(rv_dir_buf, geteuid(), why,
		    sizeof (why)) == 0) {
			if (rc == 1)
				shim_log(LOG_LVL_WARN, "%s; the rendezvous "
				    "directory is %s instead", skip,
				    rv_dir_buf);
			return (0);
		}
		/*
		 * The /tmp name taken by another user between our look and
		 * our mkdir: a second look sees it and passes it over.
		 */
		if (rc == 1 || !shared_default(cfg, xdg))
			break;
	}
	(void) snprintf(msg, msglen, "refusing rendezvous directory: %s%s%s; "
	    "not emulating SO_REUSEPORT", rc == 1 ? skip : "",
	    rc == 1 ? ", and " : "", why);
	return (-1);
}

const char *
rv_dir_get(void)
{
	static int told;
	char msg[3 * CONFIG_PATH_MAX + 256];
	const char *d;

	/*
	 * Checked again until it passes: the directory may be fixed while
	 * the program runs.  A refusal is logged once per process: a server
	 * binding many sockets would otherwise repeat it for each.
	 */
	(void) pthread_mutex_lock(&rv_dir_lock);
	if (rv_dir_ok == NULL) {
		if (dir_find(msg, sizeof (msg)) == 0)
			rv_dir_ok = rv_dir_buf;
		else if (!told++)
			shim_log(LOG_LVL_ERROR, "%s", msg);
	}
	d = rv_dir_ok;
	(void) pthread_mutex_unlock(&rv_dir_lock);
	return (d);
}
