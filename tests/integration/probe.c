/*
 * probe.c: an ordinary program that observes SO_REUSEPORT behaviour.
 *
 * It knows nothing of the shim.  Run natively on Linux, the kernel's own
 * SO_REUSEPORT produces the reference output; run under LD_PRELOAD, the
 * shim must produce the same bytes.  So every line is deterministic:
 * results, errno names, option values and yes/no comparisons, never port
 * numbers, pids, fd numbers or anything else that differs between runs.
 * The probe never judges: a mismatch is for the caller's diff to find.
 *
 * usage: probe [-6] SCENARIO... | probe [-6] all
 * exit:  0 ran to the end, 1 a scenario could not set itself up, 2 usage
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reuseport_shim.h"

#define POLL_MS		5000	/* bound on every wait for a connection */
#define ALARM_S		10	/* bound on the one blocking accept */
#define FREE_TRIES	200	/* 200 x 10 ms: the owner's asynchronous exit */
#define MAXFDS		64

static int family = AF_INET;
static const char *scn;		/* current scenario: prefixes every line */
static int failed;		/* some scenario could not set itself up */

/*
 * Every descriptor a scenario opens is recorded here, so that whatever
 * path a scenario takes, the runner closes everything it left open and
 * the next scenario starts from a clean slate.
 */
static int fds[MAXFDS];
static int nfds;

static const struct {
	int num;
	const char *name;
} errnames[] = {
	{ EAGAIN, "EAGAIN" },
	{ EWOULDBLOCK, "EAGAIN" },	/* same value on Linux; one name */
	{ EADDRINUSE, "EADDRINUSE" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL" },
	{ EAFNOSUPPORT, "EAFNOSUPPORT" },
	{ EACCES, "EACCES" },
	{ EALREADY, "EALREADY" },
	{ EBADF, "EBADF" },
	{ ECONNABORTED, "ECONNABORTED" },
	{ ECONNREFUSED, "ECONNREFUSED" },
	{ ECONNRESET, "ECONNRESET" },
	{ EDESTADDRREQ, "EDESTADDRREQ" },
	{ EFAULT, "EFAULT" },
	{ EINPROGRESS, "EINPROGRESS" },
	{ EINTR, "EINTR" },
	{ EINVAL, "EINVAL" },
	{ EISCONN, "EISCONN" },
	{ EMFILE, "EMFILE" },
	{ ENFILE, "ENFILE" },
	{ ENOBUFS, "ENOBUFS" },
	{ ENOENT, "ENOENT" },
	{ ENOMEM, "ENOMEM" },
	{ ENOPROTOOPT, "ENOPROTOOPT" },
	{ ENOSYS, "ENOSYS" },
	{ ENOTCONN, "ENOTCONN" },
	{ ENOTSOCK, "ENOTSOCK" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },
	{ ENOTSUP, "EOPNOTSUPP" },	/* same value on Linux; one name */
	{ EPERM, "EPERM" },
	{ EPIPE, "EPIPE" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT" },
	{ EPROTOTYPE, "EPROTOTYPE" },
	{ ETIMEDOUT, "ETIMEDOUT" },
};

static const char *
errname(int e)
{
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof (errnames) / sizeof (errnames[0]); i++)
		if (errnames[i].num == e)
			return errnames[i].name;
	snprintf(buf, sizeof (buf), "errno_%d", e);
	return buf;
}

static void
out(const char *step, const char *fmt, ...)
{
	va_list ap;

	printf("%s.%s: ", scn, step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Print "ok" or the errno name; errno is read before anything can touch it. */
static int
res(const char *step, int rc)
{
	int e = errno;

	if (rc < 0)
		out(step, "%s", errname(e));
	else
		out(step, "ok");
	errno = e;
	return rc;
}

static const char *
yn(int b)
{
	return b ? "yes" : "no";
}

/* A setup step failed: the rest of the scenario would only print noise. */
static void
fail(const char *step)
{
	out("aborted", "%s: %s", step, errname(errno));
	failed = 1;
}

static int
keep(int fd)
{
	if (fd >= 0 && nfds < MAXFDS)
		fds[nfds++] = fd;
	return fd;
}

static int
drop(int fd)
{
	int i;

	for (i = 0; i < nfds; i++) {
		if (fds[i] == fd) {
			fds[i] = fds[--nfds];
			break;
		}
	}
	return close(fd);
}

static void
drop_all(void)
{
	while (nfds > 0)
		close(fds[--nfds]);
}

/* ---- addresses ---- */

static socklen_t
loopback(struct sockaddr_storage *ss, unsigned short port)
{
	memset(ss, 0, sizeof (*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		return sizeof (*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(port);
		return sizeof (*s4);
	}
}

static int
bind_port(int fd, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, port);

	return bind(fd, (struct sockaddr *)&ss, len);
}

static int
connect_port(int fd, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, port);

	return connect(fd, (struct sockaddr *)&ss, len);
}

static unsigned short
sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return 0;
}

/* The port the kernel gave fd, or 0 if it has none or getsockname fails. */
static unsigned short
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return sa_port(&ss);
}

static const char *
family_name(int f)
{
	static char buf[32];

	switch (f) {
	case AF_INET:
		return "AF_INET";
	case AF_INET6:
		return "AF_INET6";
	case AF_UNIX:
		return "AF_UNIX";
	case AF_UNSPEC:
		return "AF_UNSPEC";
	}
	snprintf(buf, sizeof (buf), "family_%d", f);
	return buf;
}

static const char *
addr_str(const struct sockaddr_storage *ss)
{
	static char buf[INET6_ADDRSTRLEN];
	const void *a;

	if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else
		return "none";
	if (inet_ntop(ss->ss_family, a, buf, sizeof (buf)) == NULL)
		return "unprintable";
	return buf;
}

/*
 * Family, address and port equal.  Compared field by field rather than
 * with memcmp so that padding and IPv6 flow information don't matter.
 */
static int
same_addr(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	if (alen != blen || a->ss_family != b->ss_family)
		return 0;
	if (sa_port(a) != sa_port(b))
		return 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof (struct in6_addr)) == 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return 0;
}

/* Print "yes"/"no" for fd's local name equal to ref's, or the errno name. */
static void
same_name(const char *step, int fd, int ref)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof (a), blen = sizeof (b);

	if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		out(step, "%s", errname(errno));
		return;
	}
	if (getsockname(ref, (struct sockaddr *)&b, &blen) < 0) {
		out(step, "ref %s", errname(errno));
		return;
	}
	out(step, "%s", yn(same_addr(&a, alen, &b, blen)));
}

/* ---- sockets and options ---- */

static int
setint(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof (val));
}

/* A TCP socket of the probe's family, optionally with SO_REUSEPORT set. */
static int
mksock(int reuseport, int typeflags)
{
	int fd = keep(socket(family, SOCK_STREAM | typeflags, 0));

	if (fd < 0) {
		fail("socket");
		return -1;
	}
	if (reuseport && setint(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0) {
		fail("setsockopt SO_REUSEPORT");
		return -1;
	}
	return fd;
}

/* Bind to port 0 and report the kernel-chosen port, without its number. */
static unsigned short
first_bind(const char *step, int fd)
{
	unsigned short port;

	if (res(step, bind_port(fd, 0)) < 0) {
		fail(step);
		return 0;
	}
	port = local_port(fd);
	if (port == 0)
		fail("getsockname after bind");
	return port;
}

static const char *
type_name(int t)
{
	static char buf[32];

	switch (t) {
	case SOCK_STREAM:
		return "SOCK_STREAM";
	case SOCK_DGRAM:
		return "SOCK_DGRAM";
	case SOCK_SEQPACKET:
		return "SOCK_SEQPACKET";
	}
	snprintf(buf, sizeof (buf), "type_%d", t);
	return buf;
}

static const char *
proto_name(int p)
{
	static char buf[32];

	switch (p) {
	case IPPROTO_TCP:
		return "IPPROTO_TCP";
	case IPPROTO_UDP:
		return "IPPROTO_UDP";
	case 0:
		return "0";
	}
	snprintf(buf, sizeof (buf), "proto_%d", p);
	return buf;
}

enum fmt { F_INT, F_TYPE, F_FAMILY, F_PROTO };

/* getsockopt with an int-sized optlen; print the value in a stable form. */
static void
show_opt(const char *step, int fd, int level, int opt, enum fmt f)
{
	int v = -1;
	socklen_t len = sizeof (v);

	if (getsockopt(fd, level, opt, &v, &len) < 0) {
		out(step, "%s", errname(errno));
		return;
	}
	if (len != sizeof (v)) {
		out(step, "optlen %u", (unsigned)len);
		return;
	}
	switch (f) {
	case F_TYPE:
		out(step, "%s", type_name(v));
		break;
	case F_FAMILY:
		out(step, "%s", family_name(v));
		break;
	case F_PROTO:
		out(step, "%s", proto_name(v));
		break;
	default:
		out(step, "%d", v);
	}
}

static void
show_fdflags(const char *prefix, int fd)
{
	char step[96];
	int fl;

	snprintf(step, sizeof (step), "%s.FD_CLOEXEC", prefix);
	fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		out(step, "%s", errname(errno));
	else
		out(step, "%s", yn(fl & FD_CLOEXEC));
	snprintf(step, sizeof (step), "%s.O_NONBLOCK", prefix);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		out(step, "%s", errname(errno));
	else
		out(step, "%s", yn(fl & O_NONBLOCK));
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? fl : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Wait (bounded) for fd to become readable; print what poll saw. */
static void
wait_readable(const char *step, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64] = "";
	int n;

	n = poll(&p, 1, POLL_MS);
	if (n < 0) {
		out(step, "%s", errname(errno));
		return;
	}
	if (n == 0) {
		out(step, "timeout");
		return;
	}
	if (p.revents & POLLIN)
		strcat(buf, "|POLLIN");
	if (p.revents & POLLPRI)
		strcat(buf, "|POLLPRI");
	if (p.revents & POLLOUT)
		strcat(buf, "|POLLOUT");
	if (p.revents & POLLERR)
		strcat(buf, "|POLLERR");
	if (p.revents & POLLHUP)
		strcat(buf, "|POLLHUP");
	if (p.revents & POLLNVAL)
		strcat(buf, "|POLLNVAL");
	out(step, "%s", buf[0] ? buf + 1 : "0");
}

/* A blocking client connected to port, or -1 (result printed either way). */
static int
client(const char *step, unsigned short port)
{
	int c = keep(socket(family, SOCK_STREAM, 0));

	if (c < 0) {
		out(step, "socket %s", errname(errno));
		return -1;
	}
	if (res(step, connect_port(c, port)) < 0) {
		drop(c);
		return -1;
	}
	return c;
}

/* Lowest unused descriptor at or above from, for dup2/dup3 targets. */
static int
free_fd_from(int from)
{
	while (fcntl(from, F_GETFD) >= 0 || errno != EBADF)
		from++;
	return from;
}

/* ---- scenarios ---- */

static void
dump_opts(const char *who, const char *stage, int fd)
{
	static const struct {
		int opt;
		const char *name;
		enum fmt f;
	} opts[] = {
		{ SO_REUSEPORT, "SO_REUSEPORT", F_INT },
		{ SO_REUSEADDR, "SO_REUSEADDR", F_INT },
		{ SO_TYPE, "SO_TYPE", F_TYPE },
		{ SO_DOMAIN, "SO_DOMAIN", F_FAMILY },
		{ SO_PROTOCOL, "SO_PROTOCOL", F_PROTO },
		{ SO_ACCEPTCONN, "SO_ACCEPTCONN", F_INT },
		{ SO_ERROR, "SO_ERROR", F_INT },
	};
	char step[96];
	size_t i;

	for (i = 0; i < sizeof (opts) / sizeof (opts[0]); i++) {
		snprintf(step, sizeof (step), "%s.%s.%s", who, stage,
		    opts[i].name);
		show_opt(step, fd, SOL_SOCKET, opts[i].opt, opts[i].f);
	}
}

/*
 * getsockopt with an odd optlen: the kernel copies min(optlen, 4) bytes
 * and reports that length; a negative length is refused.  The buffer is
 * pre-filled so that bytes the kernel didn't write can be seen.
 */
static void
short_optlen(const char *step, int fd, socklen_t len)
{
	unsigned char buf[16], want[sizeof (int)];
	socklen_t asked = len;
	int one = 1;
	char s[96];

	memset(buf, 0xa5, sizeof (buf));
	memcpy(want, &one, sizeof (one));
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, buf, &len) < 0) {
		out(step, "%s", errname(errno));
		return;
	}
	out(step, "ok");
	snprintf(s, sizeof (s), "%s.optlen", step);
	out(s, "%u", (unsigned)len);
	snprintf(s, sizeof (s), "%s.bytes_match_value", step);
	out(s, "%s", yn(len <= sizeof (want) && memcmp(buf, want, len) == 0));
	snprintf(s, sizeof (s), "%s.rest_untouched", step);
	out(s, "%s", yn(len <= sizeof (buf) && (len >= asked ||
	    buf[len] == 0xa5)));
}

static void
sc_sockopt(void)
{
	unsigned short port;
	int a, b;

	if ((a = mksock(0, 0)) < 0)
		return;
	res("a.set_SO_REUSEPORT", setint(a, SOL_SOCKET, SO_REUSEPORT, 1));
	res("a.set_SO_REUSEADDR", setint(a, SOL_SOCKET, SO_REUSEADDR, 1));
	dump_opts("a", "before_bind", a);
	if ((port = first_bind("a.bind", a)) == 0)
		return;
	out("a.port", "nonzero");
	dump_opts("a", "after_bind", a);
	res("a.set_SO_KEEPALIVE", setint(a, SOL_SOCKET, SO_KEEPALIVE, 1));
	res("a.set_TCP_NODELAY", setint(a, IPPROTO_TCP, TCP_NODELAY, 1));
	res("a.listen", listen(a, 16));
	dump_opts("a", "after_listen", a);
	show_opt("a.after_listen.SO_KEEPALIVE", a, SOL_SOCKET, SO_KEEPALIVE,
	    F_INT);
	show_opt("a.after_listen.TCP_NODELAY", a, IPPROTO_TCP, TCP_NODELAY,
	    F_INT);

	/* A second member that sets SO_REUSEPORT but not SO_REUSEADDR. */
	if ((b = mksock(0, 0)) < 0)
		return;
	res("b.set_SO_REUSEPORT", setint(b, SOL_SOCKET, SO_REUSEPORT, 1));
	dump_opts("b", "before_bind", b);
	res("b.bind", bind_port(b, port));
	out("b.same_port_as_a", "%s", yn(local_port(b) == port));
	dump_opts("b", "after_bind", b);
	res("b.listen", listen(b, 16));
	dump_opts("b", "after_listen", b);

	short_optlen("a.get_SO_REUSEPORT_optlen_2", a, 2);
	short_optlen("a.get_SO_REUSEPORT_optlen_8", a, 8);
	short_optlen("a.get_SO_REUSEPORT_optlen_0", a, 0);
	short_optlen("a.get_SO_REUSEPORT_optlen_neg", a, (socklen_t)-1);

	/* Programs re-assert options on live listeners; that must still work. */
	res("a.set_SO_REUSEPORT_after_listen",
	    setint(a, SOL_SOCKET, SO_REUSEPORT, 1));
	{
		short s = 1;

		res("a.set_SO_REUSEPORT_optlen_2",
		    setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &s, sizeof (s)));
	}
	show_opt("a.final.SO_REUSEPORT", a, SOL_SOCKET, SO_REUSEPORT, F_INT);
	res("b.close", drop(b));
	res("a.close", drop(a));
}

static void
sc_name(void)
{
	struct sockaddr_storage ss, full;
	socklen_t len, fulllen;
	unsigned short port;
	int a, b, ok;
	size_t i;

	if ((a = mksock(1, 0)) < 0)
		return;
	if ((port = first_bind("a.bind", a)) == 0)
		return;
	len = sizeof (ss);
	if (res("a.getsockname", getsockname(a, (struct sockaddr *)&ss,
	    &len)) == 0) {
		out("a.family", "%s", family_name(ss.ss_family));
		out("a.addr", "%s", addr_str(&ss));
		out("a.port", "%s", sa_port(&ss) ? "nonzero" : "zero");
		out("a.addrlen", "%u", (unsigned)len);
	}
	if ((b = mksock(1, 0)) < 0)
		return;
	res("b.bind", bind_port(b, port));
	same_name("b.same_name_as_a.bound", b, a);
	res("b.getpeername.bound",
	    getpeername(b, (struct sockaddr *)&ss, &(socklen_t){ sizeof (ss) }));
	res("a.listen", listen(a, 16));
	res("b.listen", listen(b, 16));
	same_name("b.same_name_as_a.listening", b, a);
	len = sizeof (ss);
	if (getsockname(a, (struct sockaddr *)&ss, &len) == 0)
		out("a.port_after_listen", "%s",
		    sa_port(&ss) == port ? "same" : "changed");
	res("b.getpeername.listening",
	    getpeername(b, (struct sockaddr *)&ss, &(socklen_t){ sizeof (ss) }));

	/*
	 * A short buffer: the kernel truncates the copy but reports the
	 * full length, and leaves the rest of the buffer alone.
	 */
	fulllen = sizeof (full);
	if (getsockname(b, (struct sockaddr *)&full, &fulllen) < 0) {
		fail("getsockname");
		return;
	}
	memset(&ss, 0xa5, sizeof (ss));
	len = 4;
	if (res("b.getsockname_len4", getsockname(b, (struct sockaddr *)&ss,
	    &len)) == 0) {
		out("b.getsockname_len4.addrlen", "%u", (unsigned)len);
		out("b.getsockname_len4.prefix_matches", "%s",
		    yn(memcmp(&ss, &full, 4) == 0));
		ok = 1;
		for (i = 4; i < sizeof (ss); i++)
			if (((unsigned char *)&ss)[i] != 0xa5)
				ok = 0;
		out("b.getsockname_len4.rest_untouched", "%s", yn(ok));
	}
	memset(&ss, 0xa5, sizeof (ss));
	len = 0;
	if (res("b.getsockname_len0", getsockname(b, (struct sockaddr *)&ss,
	    &len)) == 0) {
		out("b.getsockname_len0.addrlen", "%u", (unsigned)len);
		out("b.getsockname_len0.untouched", "%s",
		    yn(((unsigned char *)&ss)[0] == 0xa5));
	}
	res("b.close", drop(b));
	res("a.close", drop(a));
}

static void
sc_inuse(void)
{
	unsigned short port, plainport;
	int a, b, c, p, d, e;

	/* A listening group of two. */
	if ((a = mksock(1, 0)) < 0)
		return;
	if ((port = first_bind("group.a.bind", a)) == 0)
		return;
	if ((b = mksock(1, 0)) < 0)
		return;
	res("group.b.bind", bind_port(b, port));
	res("group.a.listen", listen(a, 16));
	res("group.b.listen", listen(b, 16));

	if ((c = mksock(0, 0)) < 0)
		return;
	res("plain_binds_group_port", bind_port(c, port));
	drop(c);
	if ((c = mksock(0, 0)) < 0)
		return;
	res("reuseaddr_only_binds_group_port",
	    setint(c, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ? -1 :
	    bind_port(c, port));
	drop(c);

	/* A plain listener: SO_REUSEPORT on the newcomer alone isn't enough. */
	if ((p = mksock(0, 0)) < 0)
		return;
	if ((plainport = first_bind("plain.bind", p)) == 0)
		return;
	res("plain.listen", listen(p, 16));
	if ((d = mksock(1, 0)) < 0)
		return;
	res("reuseport_binds_plain_port", bind_port(d, plainport));
	drop(d);

	/* SO_REUSEPORT set and then cleared counts as never set. */
	if ((e = mksock(1, 0)) < 0)
		return;
	res("reset.set_SO_REUSEPORT_0", setint(e, SOL_SOCKET, SO_REUSEPORT, 0));
	show_opt("reset.SO_REUSEPORT", e, SOL_SOCKET, SO_REUSEPORT, F_INT);
	res("reset.binds_group_port", bind_port(e, port));
	drop(e);

	/* The failures above left the group intact. */
	show_opt("group.a.SO_ACCEPTCONN", a, SOL_SOCKET, SO_ACCEPTCONN, F_INT);
	c = client("group.client_connect", port);
	if (c >= 0)
		drop(c);
	drop(p);
	drop(b);
	drop(a);
}

/* Accept once data is known to be waiting, so the result is deterministic. */
static void
sc_accept(void)
{
	struct sockaddr_storage ss, cs;
	socklen_t len, clen;
	unsigned short port;
	int l, m, c, s, fl;
	char ch;

	if ((l = mksock(1, 0)) < 0)
		return;
	if ((port = first_bind("l.bind", l)) == 0)
		return;
	res("l.set_O_NONBLOCK", set_nonblock(l));
	res("l.set_TCP_NODELAY", setint(l, IPPROTO_TCP, TCP_NODELAY, 1));
	res("l.set_SO_KEEPALIVE", setint(l, SOL_SOCKET, SO_KEEPALIVE, 1));
	res("l.listen", listen(l, 16));
	res("l.accept_empty", accept(l, NULL, NULL));
	res("l.accept4_bad_flags", accept4(l, NULL, NULL, 0x7fffffff));

	/* A member that joined but never listened can't accept. */
	if ((m = mksock(1, SOCK_NONBLOCK)) < 0)
		return;
	res("m.bind", bind_port(m, port));
	res("m.accept_unlistened", accept(m, NULL, NULL));
	drop(m);

	/* accept4 with both flags. */
	if ((c = client("c1.connect", port)) < 0)
		return;
	clen = sizeof (cs);
	getsockname(c, (struct sockaddr *)&cs, &clen);
	wait_readable("l.poll1", l);
	len = sizeof (ss);
	s = keep(accept4(l, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC));
	if (res("l.accept4_nonblock_cloexec", s) >= 0) {
		show_fdflags("s1", s);
		out("s1.peer_family", "%s", family_name(ss.ss_family));
		out("s1.peer_addr", "%s", addr_str(&ss));
		out("s1.peer_is_client", "%s", yn(same_addr(&ss, len, &cs,
		    clen)));
		same_name("s1.local_is_listener", s, l);
		/* The connection carries data both ways. */
		res("c1.write", (int)write(c, "y", 1));
		wait_readable("s1.poll", s);
		ch = 0;
		res("s1.read", (int)read(s, &ch, 1));
		out("s1.read_byte", "%c", ch ? ch : '?');
		res("s1.write", (int)write(s, "z", 1));
		ch = 0;
		res("c1.read", (int)read(c, &ch, 1));
		out("c1.read_byte", "%c", ch ? ch : '?');
		drop(s);
	}
	drop(c);

	/* Plain accept: flags are not inherited from the listener. */
	if ((c = client("c2.connect", port)) < 0)
		return;
	wait_readable("l.poll2", l);
	s = keep(accept(l, NULL, NULL));
	if (res("l.accept_plain", s) >= 0) {
		show_fdflags("s2", s);
		/* ...but these options are copied from the listener. */
		show_opt("s2.TCP_NODELAY", s, IPPROTO_TCP, TCP_NODELAY, F_INT);
		show_opt("s2.SO_KEEPALIVE", s, SOL_SOCKET, SO_KEEPALIVE,
		    F_INT);
		show_opt("s2.SO_ACCEPTCONN", s, SOL_SOCKET, SO_ACCEPTCONN,
		    F_INT);
		show_opt("s2.SO_REUSEPORT", s, SOL_SOCKET, SO_REUSEPORT,
		    F_INT);
		drop(s);
	}
	drop(c);

	/* A short address buffer. */
	if ((c = client("c3.connect", port)) < 0)
		return;
	clen = sizeof (cs);
	getsockname(c, (struct sockaddr *)&cs, &clen);
	wait_readable("l.poll3", l);
	memset(&ss, 0xa5, sizeof (ss));
	len = 4;
	s = keep(accept(l, (struct sockaddr *)&ss, &len));
	if (res("l.accept_addrlen4", s) >= 0) {
		out("s3.addrlen", "%u", (unsigned)len);
		out("s3.prefix_matches", "%s", yn(memcmp(&ss, &cs, 4) == 0));
		out("s3.rest_untouched", "%s",
		    yn(((unsigned char *)&ss)[4] == 0xa5));
		drop(s);
	}
	drop(c);

	/* No address wanted at all. */
	if ((c = client("c4.connect", port)) < 0)
		return;
	wait_readable("l.poll4", l);
	s = keep(accept(l, NULL, NULL));
	if (res("l.accept_null_addr", s) >= 0)
		drop(s);
	drop(c);

	res("l.accept_drained", accept(l, NULL, NULL));
	fl = fcntl(l, F_GETFL);
	out("l.O_NONBLOCK", "%s", fl < 0 ? errname(errno) :
	    yn(fl & O_NONBLOCK));
	drop(l);
}

static void
sc_flags(void)
{
	unsigned short port;
	int a, b, c, fd;

	/* CLOEXEC from socket(), NONBLOCK from fcntl. */
	if ((a = mksock(1, SOCK_CLOEXEC)) < 0)
		return;
	res("a.set_O_NONBLOCK", set_nonblock(a));
	if ((port = first_bind("a.bind", a)) == 0)
		return;
	show_fdflags("a.before_listen", a);
	fd = a;
	res("a.listen", listen(a, 16));
	show_fdflags("a.after_listen", a);
	out("a.same_fd_after_listen", "%s", yn(fd == a && fcntl(a,
	    F_GETFD) >= 0));

	/* Neither flag. */
	if ((b = mksock(1, 0)) < 0)
		return;
	res("b.bind", bind_port(b, port));
	res("b.listen", listen(b, 16));
	show_fdflags("b.after_listen", b);

	/* NONBLOCK from socket(), CLOEXEC from fcntl. */
	if ((c = mksock(1, SOCK_NONBLOCK)) < 0)
		return;
	res("c.set_FD_CLOEXEC", fcntl(c, F_SETFD, FD_CLOEXEC));
	res("c.bind", bind_port(c, port));
	res("c.listen", listen(c, 16));
	show_fdflags("c.after_listen", c);

	/* Flags changed on a live listener stick. */
	res("b.set_O_NONBLOCK", set_nonblock(b));
	res("b.set_FD_CLOEXEC", fcntl(b, F_SETFD, FD_CLOEXEC));
	show_fdflags("b.after_set", b);
	res("c.clear_flags", fcntl(c, F_SETFL, fcntl(c, F_GETFL) &
	    ~O_NONBLOCK));
	res("c.clear_FD_CLOEXEC", fcntl(c, F_SETFD, 0));
	show_fdflags("c.after_clear", c);

	/* Calling listen again on a listener only adjusts its backlog. */
	res("a.listen_again", listen(a, 32));
	show_opt("a.SO_ACCEPTCONN", a, SOL_SOCKET, SO_ACCEPTCONN, F_INT);
	drop(c);
	drop(b);
	drop(a);
}

static void
dup_report(const char *who, int fd, int orig)
{
	char step[96];

	snprintf(step, sizeof (step), "%s.same_name", who);
	same_name(step, fd, orig);
	snprintf(step, sizeof (step), "%s.SO_ACCEPTCONN", who);
	show_opt(step, fd, SOL_SOCKET, SO_ACCEPTCONN, F_INT);
	snprintf(step, sizeof (step), "%s.FD_CLOEXEC", who);
	{
		int fl = fcntl(fd, F_GETFD);

		out(step, "%s", fl < 0 ? errname(errno) : yn(fl & FD_CLOEXEC));
	}
}

static void
accept_via(const char *who, int fd, unsigned short port)
{
	char step[96];
	int c, s;

	snprintf(step, sizeof (step), "%s.client_connect", who);
	if ((c = client(step, port)) < 0)
		return;
	snprintf(step, sizeof (step), "%s.poll", who);
	wait_readable(step, fd);
	snprintf(step, sizeof (step), "%s.accept", who);
	s = keep(accept(fd, NULL, NULL));
	if (res(step, s) >= 0)
		drop(s);
	drop(c);
}

static void
sc_dup(void)
{
	static const char *const names[] = {
		"dup", "dup2", "dup3_cloexec", "dupfd_100", "dupfd_cloexec_200"
	};
	int d[5], i, l, t2, t3;
	unsigned short port;

	/* CLOEXEC on the original shows which duplicates carry it. */
	if ((l = mksock(1, SOCK_CLOEXEC)) < 0)
		return;
	if ((port = first_bind("l.bind", l)) == 0)
		return;
	res("l.listen", listen(l, 16));

	t2 = free_fd_from(300);
	t3 = free_fd_from(t2 + 1);
	d[0] = keep(dup(l));
	res("dup", d[0]);
	d[1] = keep(dup2(l, t2));
	res("dup2", d[1]);
	out("dup2.is_target", "%s", yn(d[1] == t2));
	d[2] = keep(dup3(l, t3, O_CLOEXEC));
	res("dup3_cloexec", d[2]);
	out("dup3_cloexec.is_target", "%s", yn(d[2] == t3));
	d[3] = keep(fcntl(l, F_DUPFD, 100));
	res("dupfd_100", d[3]);
	out("dupfd_100.at_least_100", "%s", yn(d[3] >= 100));
	d[4] = keep(fcntl(l, F_DUPFD_CLOEXEC, 200));
	res("dupfd_cloexec_200", d[4]);
	out("dupfd_cloexec_200.at_least_200", "%s", yn(d[4] >= 200));
	for (i = 0; i < 5; i++)
		if (d[i] >= 0)
			dup_report(names[i], d[i], l);

	/* The listener lives on in its duplicates once the original goes. */
	res("l.close", drop(l));
	for (i = 0; i < 5; i++)
		if (d[i] >= 0)
			accept_via(names[i], d[i], port);
	for (i = 0; i < 5; i++)
		if (d[i] >= 0)
			drop(d[i]);
}

/*
 * Not in "all": a duplicate taken while the member was only bound.  The
 * kernel shares one socket between both descriptors, so listen() through
 * one is visible through the other.
 */
static void
sc_predup(void)
{
	unsigned short port;
	int a, d;

	if ((a = mksock(1, 0)) < 0)
		return;
	if ((port = first_bind("a.bind", a)) == 0)
		return;
	d = keep(dup(a));
	if (res("dup_before_listen", d) < 0)
		return;
	res("a.listen", listen(a, 16));
	show_opt("d.SO_ACCEPTCONN", d, SOL_SOCKET, SO_ACCEPTCONN, F_INT);
	same_name("d.same_name", d, a);
	res("a.close", drop(a));
	accept_via("d", d, port);
	drop(d);
}

static void
sc_free(void)
{
	unsigned short port;
	int a, b, c, rc = -1, tries;

	if ((a = mksock(1, 0)) < 0)
		return;
	if ((port = first_bind("a.bind", a)) == 0)
		return;
	if ((b = mksock(1, 0)) < 0)
		return;
	res("b.bind", bind_port(b, port));
	res("a.listen", listen(a, 16));
	res("b.listen", listen(b, 16));
	res("a.close", drop(a));
	res("b.close", drop(b));

	/*
	 * The one permitted wait: an emulation may release the port a
	 * little after the last close.  Bounded, and only on EADDRINUSE.
	 */
	if ((c = mksock(0, 0)) < 0)
		return;
	for (tries = 0; tries < FREE_TRIES; tries++) {
		rc = bind_port(c, port);
		if (rc == 0 || errno != EADDRINUSE)
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	res("plain_binds_freed_port", rc);
	if (rc == 0)
		res("plain.listen", listen(c, 16));
	drop(c);
}

static volatile sig_atomic_t alarmed;

static void
on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;	/* only to interrupt accept(); its EINTR is reported */
}

/* The child's whole life: wait for the go, connect, send "x". */
static int
child_main(int go, unsigned short port)
{
	char ch;
	int c;

	if (read(go, &ch, 1) != 1)
		return 3;
	c = socket(family, SOCK_STREAM, 0);
	if (c < 0)
		return 4;
	if (connect_port(c, port) < 0)
		return 5;
	if (write(c, "x", 1) != 1)
		return 6;
	close(c);
	return 0;
}

static void
sc_blocking(void)
{
	struct sigaction sa;
	unsigned short port;
	int l, s, p[2], status, rc;
	pid_t pid;
	char ch;

	if ((l = mksock(1, 0)) < 0)
		return;
	if ((port = first_bind("l.bind", l)) == 0)
		return;
	res("l.listen", listen(l, 16));
	if (pipe(p) < 0) {
		fail("pipe");
		return;
	}
	keep(p[0]);
	keep(p[1]);
	fflush(stdout);	/* the child must not repeat buffered lines */
	pid = fork();
	if (pid < 0) {
		fail("fork");
		return;
	}
	if (pid == 0) {
		/* The child holds only what it needs: no listener, no pipe end. */
		close(l);
		close(p[1]);
		_exit(child_main(p[0], port));
	}
	drop(p[0]);

	/* No SA_RESTART: the alarm must break a stuck accept(). */
	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(ALARM_S);

	/*
	 * Release the child just before blocking: if it connects first, the
	 * kernel queues the connection and accept() returns it at once.
	 */
	res("go", (int)write(p[1], "g", 1));
	drop(p[1]);
	s = keep(accept(l, NULL, NULL));
	if (res("l.accept_blocking", s) >= 0) {
		ch = 0;
		res("s.read", (int)read(s, &ch, 1));
		out("s.read_byte", "%c", ch ? ch : '?');
		drop(s);
	}
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	out("alarm_fired", "%s", yn(alarmed));

	do
		rc = waitpid(pid, &status, 0);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		out("child", "%s", errname(errno));
	else if (WIFEXITED(status))
		out("child_exit", "%d", WEXITSTATUS(status));
	else
		out("child_exit", "signal");
	drop(l);
}

static const struct {
	const char *name;
	void (*fn)(void);
	int in_all;
} scenarios[] = {
	{ "sockopt", sc_sockopt, 1 },
	{ "name", sc_name, 1 },
	{ "inuse", sc_inuse, 1 },
	{ "accept", sc_accept, 1 },
	{ "flags", sc_flags, 1 },
	{ "dup", sc_dup, 1 },
	{ "free", sc_free, 1 },
	{ "blocking", sc_blocking, 1 },
	{ "predup", sc_predup, 0 },
};

#define NSCEN	(sizeof (scenarios) / sizeof (scenarios[0]))

static void
run(size_t i)
{
	scn = scenarios[i].name;
	scenarios[i].fn();
	drop_all();
	out("done", "yes");
}

static int
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < NSCEN; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: probe [-6] SCENARIO... | probe [-6] all\n"
	    "scenarios:");
	for (i = 0; i < NSCEN; i++)
		fprintf(stderr, " %s%s", scenarios[i].name,
		    scenarios[i].in_all ? "" : "(not in all)");
	fputc('\n', stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	int i, first = 1;
	size_t j;

	if (first < argc && strcmp(argv[first], "-6") == 0) {
		family = AF_INET6;
		first++;
	}
	if (first >= argc)
		usage();
	/* Validate everything before running anything. */
	for (i = first; i < argc; i++)
		if (strcmp(argv[i], "all") != 0 && lookup(argv[i]) < 0)
			usage();

	/* Line buffering, so a crash loses no observation already made. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);	/* a broken peer shows as EPIPE */

	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "all") == 0) {
			for (j = 0; j < NSCEN; j++)
				if (scenarios[j].in_all)
					run(j);
		} else {
			run((size_t)lookup(argv[i]));
		}
	}
	return failed ? 1 : 0;
}
