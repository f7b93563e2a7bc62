/*
 * rendezvous.c: the per-user directory and the group sockets in it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

int
rv_dir_choose(char *out, size_t len, const char *cfgdir, const char *xdg,
    uid_t euid)
{
	int n;

	if (cfgdir != NULL && cfgdir[0] != '\0')
		n = snprintf(out, len, "%s", cfgdir);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, len, "%s/reuseport-shim", xdg);
	else
		n = snprintf(out, len, "/tmp/reuseport-shim-%lu",
		    (unsigned long)euid);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
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
	if (!S_ISDIR(st.st_mode)) {
		(void) snprintf(why, whylen, "%s is not a directory%s", dir,
		    S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
		return (-1);
	}
	if (st.st_uid != euid) {
		(void) snprintf(why, whylen, "%s is owned by uid %lu, not %lu",
		    dir, (unsigned long)st.st_uid, (unsigned long)euid);
		return (-1);
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		(void) snprintf(why, whylen,
		    "%s is writable by group or others (mode %03o)", dir,
		    (unsigned)(st.st_mode & 0777));
		return (-1);
	}
	return (0);
}

int
rv_path(char *out, size_t len, const char *dir, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &in->sin_addr, host,
		    sizeof (host)) == NULL)
			return (-1);
		port = ntohs(in->sin_port);
		n = snprintf(out, len, "%s/tcp4-%s-%u", dir, host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, host,
		    sizeof (host)) == NULL)
			return (-1);
		port = ntohs(in6->sin6_port);
		if (in6->sin6_scope_id != 0)
			n = snprintf(out, len, "%s/tcp6-%s%%%lu-%u", dir, host,
			    (unsigned long)in6->sin6_scope_id, port);
		else
			n = snprintf(out, len, "%s/tcp6-%s-%u", dir, host,
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

int
rv_listen(const char *path)
{
	static unsigned counter;
	struct sockaddr_un un;
	char tmp[RV_PATH_MAX];
	int fd, e, n;

	/*
	 * Bound under "<path>.<pid>-<n>", a name no other process of ours is
	 * using, then renamed.  The socket keeps its bound name, so an
	 * endpoint's peer name tells which group it belongs to: that is how
	 * an endpoint inherited across exec is recognised (rv_parse_peer).
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
	    real.listen(fd, SOMAXCONN) != 0 || rename(tmp, path) != 0) {
		e = errno;
		(void) unlink(tmp);
		(void) real.close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
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
	char host[INET6_ADDRSTRLEN + 16];
	size_t dl = strlen(dir);
	const char *name, *dash, *dot;
	unsigned long port = 0, scope = 0;
	int v6;

	if (strncmp(peer, dir, dl) != 0 || peer[dl] != '/')
		return (-1);
	name = peer + dl + 1;
	if (strncmp(name, "tcp4-", 5) == 0)
		v6 = 0;
	else if (strncmp(name, "tcp6-", 5) == 0)
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
	struct sockaddr_un un;
	int fd, e;

	if (set_path(&un, path) != 0 || (fd = unix_socket()) < 0)
		return (-1);
	while (real.connect(fd, (struct sockaddr *)&un, sizeof (un)) != 0) {
		if (errno == EINTR)
			continue;
		e = errno;
		(void) real.close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

static char rv_dir_buf[CONFIG_PATH_MAX];
static const char *rv_dir_ok;
static pthread_mutex_t rv_dir_lock = PTHREAD_MUTEX_INITIALIZER;

const char *
rv_dir_get(void)
{
	static int told;
	char why[CONFIG_PATH_MAX + 96];
	const char *d;

	/*
	 * Checked again until it passes: the directory may be fixed while
	 * the program runs.  A refusal is logged once per process: a server
	 * binding many sockets would otherwise repeat it for each.
	 */
	(void) pthread_mutex_lock(&rv_dir_lock);
	if (rv_dir_ok == NULL) {
		if (rv_dir_choose(rv_dir_buf, sizeof (rv_dir_buf),
		    config_get()->dir, getenv("XDG_RUNTIME_DIR"),
		    geteuid()) != 0) {
			if (!told++)
				shim_log(LOG_LVL_ERROR, "rendezvous directory "
				    "name too long; not emulating SO_REUSEPORT");
		} else if (rv_dir_check(rv_dir_buf, geteuid(), why,
		    sizeof (why)) != 0) {
			if (!told++)
				shim_log(LOG_LVL_ERROR, "refusing rendezvous "
				    "directory: %s; not emulating SO_REUSEPORT",
				    why);
		} else {
			rv_dir_ok = rv_dir_buf;
		}
	}
	d = rv_dir_ok;
	(void) pthread_mutex_unlock(&rv_dir_lock);
	return (d);
}
