/*
 * platform.c: the one file that knows which operating system it runs on.
 * Linux is where the tests run (the kernel's own SO_REUSEPORT is their
 * oracle); illumos is what the library is for.  Each branch names the
 * interface it relies on so that a port can check it against the man page.
 */
#if defined(__linux__)
#define	_GNU_SOURCE
#elif defined(__sun)
#define	__EXTENSIONS__
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/resource.h>
#elif defined(__sun)
#include <port.h>
#include <sys/filio.h>	/* FIONREAD (sys/ioctl.h has it under BSD_COMP) */
#include <sys/file.h>	/* FASYNC */
#include <sys/fork.h>
#include <ucred.h>
#endif

#include "platform.h"
#include "dgram.h"
#include "proto.h"
#include "real.h"
#include "shim.h"

/*
 * PLAT_LIKE_ILLUMOS (a Linux build for tests): take illumos's choice
 * wherever Linux can execute it, so that an integration run exercises the
 * paths illumos will take: accept inheriting O_NONBLOCK, close-on-exec by
 * fcntl after receipt, shm_open for the board, fork for the owner, the
 * one-shot poller of event ports (over EPOLLONESHOT), a member's
 * answers to the data calls and connect (no SIGPIPE), and a dispatched
 * UDP member's arrival times taken as it reads (plat_queue_stamps).
 */
#if defined(__sun) || defined(PLAT_LIKE_ILLUMOS)
#define	ILLUMOS_PATHS	1
#endif

#ifdef SO_REUSEPORT
const int plat_so_reuseport = SO_REUSEPORT;
const int plat_kernel_reuseport = 1;
#else
const int plat_kernel_reuseport = 0;
/* illumos: the kernel patch's value; the kernel answers ENOPROTOOPT. */
const int plat_so_reuseport = 0x2004;
#endif

#if defined(ILLUMOS_PATHS)
const int plat_accept_inherits_nonblock = 1;	/* socksyscalls.c accept() */
#else
const int plat_accept_inherits_nonblock = 0;
#endif

const int plat_sock_cloexec = SOCK_CLOEXEC;
const int plat_sock_nonblock = SOCK_NONBLOCK;
#ifdef O_NDELAY
const int plat_o_ndelay = O_NDELAY;
#else
const int plat_o_ndelay = O_NONBLOCK;
#endif

/* SO_TIMESTAMP and kin, under each name Linux has for them. */
static int
is_timestamp(int name)
{
	static const int t[] = {
		SO_TIMESTAMP,
#if defined(SO_TIMESTAMP_OLD)
		SO_TIMESTAMP_OLD, SO_TIMESTAMP_NEW,
#endif
#if defined(SO_TIMESTAMPNS)
		SO_TIMESTAMPNS,
#endif
#if defined(SO_TIMESTAMPNS_OLD)
		SO_TIMESTAMPNS_OLD, SO_TIMESTAMPNS_NEW,
#endif
	};

	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++) {
		if (t[i] == name)
			return (1);
	}
	return (0);
}

enum plat_opt_class
plat_opt_classify(int level, int name)
{
	if (level != SOL_SOCKET)
		return (PLAT_OPT_OTHER);
	if (name == plat_so_reuseport)
		return (PLAT_OPT_REUSEPORT);
	if (is_timestamp(name))
		return (PLAT_OPT_TIMESTAMP);
#if defined(SO_RCVBUFFORCE)
	if (name == SO_RCVBUFFORCE)
		return (PLAT_OPT_RCVBUF);
#endif
	if (name == SO_RCVBUF)
		return (PLAT_OPT_RCVBUF);
	switch (name) {
	case SO_REUSEADDR:
		return (PLAT_OPT_REUSEADDR);
	case SO_TYPE:
		return (PLAT_OPT_TYPE);
#ifdef SO_DOMAIN
	case SO_DOMAIN:
		return (PLAT_OPT_DOMAIN);
#endif
#ifdef SO_PROTOCOL
	case SO_PROTOCOL:
		return (PLAT_OPT_PROTOCOL);
#endif
	case SO_ACCEPTCONN:
		return (PLAT_OPT_ACCEPTCONN);
	case SO_ERROR:
		return (PLAT_OPT_ERROR);
	case SO_RCVTIMEO:
#if defined(SO_RCVTIMEO_NEW) && SO_RCVTIMEO_NEW != SO_RCVTIMEO
	case SO_RCVTIMEO_NEW:
#endif
#if defined(SO_RCVTIMEO_OLD) && SO_RCVTIMEO_OLD != SO_RCVTIMEO
	case SO_RCVTIMEO_OLD:
#endif
		return (PLAT_OPT_RCVTIMEO);
	default:
		return (PLAT_OPT_OTHER);
	}
}

/*
 * The options a program commonly sets on a listener, as an owner reports
 * its listener's in LISTEN_OK, for members of older builds (they copy
 * those of theirs that differ onto accepted sockets).
 */
static const struct plat_opt listener_opts[] = {
	{ SOL_SOCKET, SO_KEEPALIVE, PLAT_KIND_BOOL, 1 },
	{ SOL_SOCKET, SO_OOBINLINE, PLAT_KIND_BOOL, 1 },
	{ SOL_SOCKET, SO_RCVBUF, PLAT_KIND_BUF, 1 },
	{ SOL_SOCKET, SO_SNDBUF, PLAT_KIND_BUF, 1 },
	{ SOL_SOCKET, SO_LINGER, PLAT_KIND_LINGER, 1 },
	{ IPPROTO_TCP, TCP_NODELAY, PLAT_KIND_BOOL, 1 },
#ifdef TCP_KEEPIDLE
	{ IPPROTO_TCP, TCP_KEEPIDLE, PLAT_KIND_INT, 1 },
#endif
#ifdef TCP_KEEPINTVL
	{ IPPROTO_TCP, TCP_KEEPINTVL, PLAT_KIND_INT, 1 },
#endif
#ifdef TCP_KEEPCNT
	{ IPPROTO_TCP, TCP_KEEPCNT, PLAT_KIND_INT, 1 },
#endif
	{ SOL_SOCKET, SO_REUSEADDR, PLAT_KIND_BOOL, 0 },
	{ IPPROTO_IPV6, IPV6_V6ONLY, PLAT_KIND_BOOL, 0 },
};

const struct plat_opt *
plat_listener_opts(size_t *n)
{
	*n = sizeof (listener_opts) / sizeof (listener_opts[0]);
	return (listener_opts);
}

/* What setsockopt must pass for getsockopt to read v back. */
static int
opt_setval(const struct plat_opt *o, int v)
{
#if defined(__linux__)
	if (o->kind == PLAT_KIND_BUF)
		return (v / 2);
#else
	(void) o;
#endif
	return (v);
}

/*
 * What an accepted socket takes from its listener.  Linux clones the
 * listener's socket for each connection (sk_clone_lock, then TCP's own
 * fields), so nearly every option carries over; illumos copies the
 * listener's conn options (tcp_conn_create_v4/v6, conn_inherit_parent).
 * Not SO_PRIORITY: Linux gives an accepted socket the SYN's.  Only
 * options passed by value: a filter's struct points into the
 * application's memory.
 */
static const int inherited[][2] = {
	{ SOL_SOCKET, SO_KEEPALIVE }, { SOL_SOCKET, SO_OOBINLINE },
	{ SOL_SOCKET, SO_RCVBUF }, { SOL_SOCKET, SO_SNDBUF },
	{ SOL_SOCKET, SO_LINGER }, { SOL_SOCKET, SO_RCVLOWAT },
	{ SOL_SOCKET, SO_SNDLOWAT }, { SOL_SOCKET, SO_RCVTIMEO },
	{ SOL_SOCKET, SO_SNDTIMEO }, { SOL_SOCKET, SO_DONTROUTE },
#ifdef SO_RCVTIMEO_NEW
	{ SOL_SOCKET, SO_RCVTIMEO_NEW }, { SOL_SOCKET, SO_SNDTIMEO_NEW },
#endif
#ifdef SO_MARK
	{ SOL_SOCKET, SO_MARK },
#endif
#ifdef SO_MAX_PACING_RATE
	{ SOL_SOCKET, SO_MAX_PACING_RATE },
#endif
#ifdef SO_BUSY_POLL
	{ SOL_SOCKET, SO_BUSY_POLL },
#endif
	{ IPPROTO_IP, IP_TOS }, { IPPROTO_IP, IP_TTL },
#ifdef IP_MTU_DISCOVER
	{ IPPROTO_IP, IP_MTU_DISCOVER },
#endif
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS },
#ifdef IPV6_TCLASS
	{ IPPROTO_IPV6, IPV6_TCLASS },
#endif
	{ IPPROTO_TCP, TCP_NODELAY }, { IPPROTO_TCP, TCP_MAXSEG },
#ifdef TCP_KEEPIDLE
	{ IPPROTO_TCP, TCP_KEEPIDLE },
#endif
#ifdef TCP_KEEPINTVL
	{ IPPROTO_TCP, TCP_KEEPINTVL },
#endif
#ifdef TCP_KEEPCNT
	{ IPPROTO_TCP, TCP_KEEPCNT },
#endif
#ifdef TCP_KEEPALIVE_THRESHOLD
	{ IPPROTO_TCP, TCP_KEEPALIVE_THRESHOLD },
	{ IPPROTO_TCP, TCP_KEEPALIVE_ABORT_THRESHOLD },
#endif
#ifdef TCP_USER_TIMEOUT
	{ IPPROTO_TCP, TCP_USER_TIMEOUT },
#endif
#ifdef TCP_CONGESTION
	{ IPPROTO_TCP, TCP_CONGESTION },
#endif
#ifdef TCP_NOTSENT_LOWAT
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT },
#endif
#ifdef TCP_WINDOW_CLAMP
	{ IPPROTO_TCP, TCP_WINDOW_CLAMP },
#endif
#ifdef TCP_LINGER2
	{ IPPROTO_TCP, TCP_LINGER2 },
#endif
#ifdef TCP_THIN_LINEAR_TIMEOUTS
	{ IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS },
#endif
};

/*
 * Options of the listener itself, which no later setsockopt on an
 * accepted socket can stand for: deferred accept, TCP Fast Open, and the
 * MSS the SYN-ACK offers (Linux reports an established socket's
 * negotiated MSS, not the one set on it afterwards).
 */
static const int on_listener[][2] = {
	{ IPPROTO_TCP, TCP_MAXSEG },
#ifdef TCP_DEFER_ACCEPT
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT },
#endif
#ifdef TCP_FASTOPEN
	{ IPPROTO_TCP, TCP_FASTOPEN },
#endif
};

static int
opt_in(const int (*t)[2], size_t n, int level, int name)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i][0] == level && t[i][1] == name)
			return (1);
	}
	return (0);
}

int
plat_opt_inherited(int level, int name)
{
	return (opt_in(inherited, sizeof (inherited) / sizeof (inherited[0]),
	    level, name));
}

int
plat_opt_on_listener(int level, int name)
{
	return (opt_in(on_listener,
	    sizeof (on_listener) / sizeof (on_listener[0]), level, name));
}

int
plat_opt_fixed_at_bind(int level, int name)
{
#if defined(__linux__)
	/* do_ipv6_setsockopt: EINVAL once the socket has a port. */
	return (level == IPPROTO_IPV6 && name == IPV6_V6ONLY);
#else
	(void) level;
	(void) name;
	return (0);
#endif
}

void
plat_tcp_reset(int fd)
{
	struct linger l = { 1, 0 };
	int saved = errno;

	(void) real.setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof (l));
#if defined(__linux__)
	{
		/* tcp_disconnect: the RST goes now, whoever else holds it. */
		struct sockaddr sa;

		memset(&sa, 0, sizeof (sa));
		sa.sa_family = AF_UNSPEC;
		(void) real.connect(fd, &sa, sizeof (sa));
	}
#endif
	errno = saved;
}

/*
 * The file status flag that asks for SIGIO: O_ASYNC; illumos has none by
 * that name, but takes FASYNC (<sys/file.h>) through F_SETFL on sockets
 * (so_flip_async), and its F_GETFL reports it.  Without it there, the
 * shim's own records raised SIGPOLL in programs that asked for it.
 */
#if defined(O_ASYNC)
#define	ASYNC_FLAG	O_ASYNC
#elif defined(FASYNC)
#define	ASYNC_FLAG	FASYNC
#endif

int
plat_async_pause(int fd)
{
#if defined(ASYNC_FLAG)
	int fl = real.fcntl(fd, F_GETFL);

	if (fl < 0 || !(fl & ASYNC_FLAG) ||
	    real.fcntl(fd, F_SETFL, fl & ~ASYNC_FLAG) != 0)
		return (0);
	return (1);
#else
	(void) fd;
	return (0);
#endif
}

void
plat_async_resume(int fd)
{
#if defined(ASYNC_FLAG)
	struct pollfd p = { fd, POLLIN, 0 };
	int fl = real.fcntl(fd, F_GETFL), own, saved = errno;

	if (fl < 0 || real.fcntl(fd, F_SETFL, fl | ASYNC_FLAG) != 0)
		return;
	/* What came meanwhile raised no signal: raise the kernel's one. */
	if (poll(&p, 1, 0) == 1 && !(p.revents & POLLNVAL) &&
	    (own = real.fcntl(fd, F_GETOWN)) != 0 && own != -1)
		(void) kill(own, SIGIO);
	errno = saved;
#else
	(void) fd;
#endif
}

void
plat_shadow_bound(int fd, const struct sockaddr *sa)
{
#if defined(__linux__)
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	int one = 1, saved = errno;

	/* __inet6_bind: a specific IPv6 address takes no IPv4. */
	if (sa->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) &&
	    !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		(void) real.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof (one));
	errno = saved;
#else
	(void) fd;
	(void) sa;
#endif
}

/*
 * The n options t names, as from has them, set on to; set_only: only
 * those turned on (an int, not 0).  errno as it was.
 */
static void
opts_copy(int from, int to, const int (*t)[2], size_t n, int set_only)
{
	int saved = errno;

	for (size_t i = 0; i < n; i++) {
		char v[64];
		socklen_t len = sizeof (v);
		int on;

		memset(v, 0, sizeof (v));
		if (real.getsockopt(from, t[i][0], t[i][1], v, &len) != 0 ||
		    len == 0)
			continue;
		memcpy(&on, v, sizeof (on));
		if (!set_only || (len == sizeof (int) && on != 0))
			(void) real.setsockopt(to, t[i][0], t[i][1], v, len);
	}
	errno = saved;
}

void
plat_bind_opts_copy(int from, int to)
{
	static const int t[][2] = {
		{ IPPROTO_IPV6, IPV6_V6ONLY },
#if defined(__linux__)
		{ IPPROTO_IP, IP_FREEBIND },
		{ IPPROTO_IP, IP_TRANSPARENT },
		{ SOL_SOCKET, SO_BINDTODEVICE },
#endif
	};

	opts_copy(from, to, t, sizeof (t) / sizeof (t[0]), 0);
}

void *
plat_dlsym_next(const char *name)
{
	return (dlsym(RTLD_NEXT, name));
}

int
plat_is_ours(void *p)
{
	Dl_info self, other;

	if (dladdr((void *)plat_is_ours, &self) == 0 ||
	    dladdr(p, &other) == 0)
		return (0);
	return (self.dli_fbase == other.dli_fbase);
}

int
plat_peer_euid(int fd, uid_t *euid)
{
#if defined(__linux__)
	struct ucred uc;
	socklen_t len = sizeof (uc);

	if (real.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
		return (-1);
	*euid = uc.uid;
	return (0);
#elif defined(__sun)
	/*
	 * getpeerucred(3C): a connecting peer's at connect, a listener's
	 * as it made its socket (tl keeps the cred of its open).
	 */
	ucred_t *uc = NULL;

	if (getpeerucred(fd, &uc) != 0)
		return (-1);
	*euid = ucred_geteuid(uc);
	ucred_free(uc);
	return (*euid == (uid_t)-1 ? -1 : 0);
#else
	gid_t gid;

	return (getpeereid(fd, euid, &gid));
#endif
}

int
plat_accept_cloexec(int fd, struct sockaddr *sa, socklen_t *len)
{
	/* accept4 exists on Linux and illumos (ILLUMOS_0.1). */
	return (real.accept4(fd, sa, len, SOCK_CLOEXEC));
}

int
plat_recv_cloexec_flag(void)
{
	/*
	 * illumos has MSG_CMSG_CLOEXEC only since 2024, and older kernels
	 * ignore flags they do not know: a received fd would silently stay
	 * inheritable.  There the caller sets FD_CLOEXEC itself.
	 */
#if defined(MSG_CMSG_CLOEXEC) && !defined(ILLUMOS_PATHS)
	return (MSG_CMSG_CLOEXEC);
#else
	return (0);
#endif
}

int
plat_recv_dontwait_flag(void)
{
#ifdef MSG_DONTWAIT
	return (MSG_DONTWAIT);
#else
	return (0);
#endif
}

#if defined(MSG_MAXIOVLEN)
const int plat_msg_iov_max = MSG_MAXIOVLEN;
#else
const int plat_msg_iov_max = 1024;	/* UIO_MAXIOV */
#endif

#if defined(__sun)
const int plat_shutdown_unconnected = 0;
#else
const int plat_shutdown_unconnected = 1;
#endif

int
plat_rcvbuf(int fd)
{
	int v = 0, saved = errno;
	socklen_t len = sizeof (v);

	if (real.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) != 0)
		v = -1;
	errno = saved;
	return (v);
}

int
plat_rcvbuf_default(int family)
{
	int fd, v, saved = errno;

	if ((fd = socket(family, SOCK_DGRAM | plat_sock_cloexec, 0)) < 0) {
		errno = saved;
		return (-1);
	}
	v = plat_rcvbuf(fd);
	(void) real.close(fd);
	errno = saved;
	return (v);
}

int
plat_pair_bytes(int want)
{
#if defined(PLAT_LIKE_ILLUMOS)
	/*
	 * Linux keeps twice, and refuses a datagram beyond that less 32
	 * bytes: 65536 at most, as illumos's tl (its TIDU, strmsgsz).
	 */
	(void) want;
	return ((65536 + 32) / 2);
#else
	return (want);
#endif
}

void
plat_rcvbuf_grow(int fd, int bytes)
{
	int saved = errno, cur = plat_rcvbuf(fd);

	if (bytes <= cur)
		return;
#if defined(__linux__)
	/* Linux keeps twice what it is asked; past rmem_max, only forced. */
	int v = bytes / 2;

	if (real.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v,
	    sizeof (v)) != 0)
		(void) real.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v,
		    sizeof (v));
#else
	/*
	 * illumos refuses past udp_max_buf (ENOBUFS) where Linux clamps:
	 * halfway back to what it has, until it takes one.
	 */
	while (bytes > cur && real.setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
	    &bytes, sizeof (bytes)) != 0 && errno == ENOBUFS)
		bytes = cur + (bytes - cur) / 2;
#endif
	errno = saved;
}

int
plat_send_dontwait_flag(void)
{
#if defined(MSG_DONTWAIT) && !defined(ILLUMOS_PATHS)
	return (MSG_DONTWAIT);
#else
	return (0);
#endif
}

int
plat_send_nosignal_flag(void)
{
#ifdef MSG_NOSIGNAL
	return (MSG_NOSIGNAL);
#else
	return (0);
#endif
}

/* A failed data call. */
static ssize_t
io_fail(int e)
{
	errno = e;
	return (-1);
}

#if !defined(ILLUMOS_PATHS)
/* 1 if the vector holds no bytes. */
static int
iov_empty(const struct iovec *iov, long n)
{
	for (long i = 0; i < n; i++) {
		if (iov[i].iov_len != 0)
			return (0);
	}
	return (1);
}
#endif

/*
 * The data calls on a TCP socket with no connection, in the order the
 * kernel checks (what the shim cannot see, such as a buffer's address,
 * is not checked: the call moves nothing).
 *
 * Linux (6.x, run natively): the send calls and write, writev fail with
 * EPIPE in every state but ESTABLISHED and CLOSE_WAIT
 * (sk_stream_wait_connect), with SIGPIPE unless MSG_NOSIGNAL, whatever
 * the length or MSG_DONTWAIT; the receive calls with ENOTCONN, but
 * MSG_ERRQUEUE, checked first, with EAGAIN, and MSG_OOB on a socket that
 * does not listen with EINVAL (tcp_recv_urg).  read of 0 bytes, and
 * readv and writev of vectors that hold none, succeed with 0 before the
 * socket is asked; a vector count past IOV_MAX is EINVAL (readv, writev)
 * or EMSGSIZE (sendmsg, recvmsg).
 *
 * illumos (illumos-gate, usr/src/uts/common): ENOTCONN for both
 * directions and no SIGPIPE.  inet/tcp/tcp_socket.c tcp_sendmsg: a state
 * before ESTABLISHED on a socket never connected (tcp_connid 0) is
 * ENOTCONN, and fs/sockfs/sockcommon.c socket_sendmsg raises SIGPIPE on
 * EPIPE only; control data is refused first with EOPNOTSUPP
 * (sockcommon_sops.c so_sendmsg, tcp_sendmsg).  sockcommon_sops.c
 * so_recvmsg: not connected on an SM_CONNREQUIRED socket is ENOTCONN,
 * before MSG_OOB is looked at.  syscall/rw.c: only regular files take a
 * count of 0 as done; readv and writev refuse a count outside
 * 1..IOV_MAX with EINVAL.
 */
ssize_t
plat_unconnected_io(const struct plat_io *c, int *sigpipe)
{
	int vec = c->op == PLAT_IO_READV || c->op == PLAT_IO_WRITEV;
	int msg = c->op == PLAT_IO_SENDMSG || c->op == PLAT_IO_RECVMSG;

	*sigpipe = 0;
	if (vec && (c->iovcnt < 0 || c->iovcnt > IOV_MAX))
		return (io_fail(EINVAL));
	/* Both check the vector first (illumos: socksyscalls.c). */
	if (msg && (c->iovcnt < 0 || c->iovcnt > plat_msg_iov_max))
		return (io_fail(EMSGSIZE));
#if defined(__sun)
	if (c->op == PLAT_IO_RECVMSG && c->iovcnt == 0)
		return (io_fail(EMSGSIZE));
#endif
	if ((vec || msg) && c->iov == NULL && c->iovcnt > 0)
		return (io_fail(EFAULT));
#if defined(ILLUMOS_PATHS)
	if (vec && c->iovcnt == 0)
		return (io_fail(EINVAL));
	if (c->op == PLAT_IO_SENDMSG && c->control)
		return (io_fail(EOPNOTSUPP));
	return (io_fail(ENOTCONN));
#else
	if ((c->op == PLAT_IO_READ && c->len == 0) ||
	    (vec && iov_empty(c->iov, c->iovcnt)))
		return (0);
	switch (c->op) {
	case PLAT_IO_SEND:
	case PLAT_IO_SENDMSG:
	case PLAT_IO_WRITE:
	case PLAT_IO_WRITEV:
		*sigpipe = !(c->flags & MSG_NOSIGNAL);
		return (io_fail(EPIPE));
	default:
		break;
	}
#ifdef MSG_ERRQUEUE
	if (c->flags & MSG_ERRQUEUE)
		return (io_fail(EAGAIN));
#endif
	if ((c->flags & MSG_OOB) && !c->listening)
		return (io_fail(EINVAL));
	return (io_fail(ENOTCONN));
#endif
}

/*
 * Linux (run natively): move_addr_to_kernel refuses a length past a
 * sockaddr_storage (EINVAL) and a bad pointer (EFAULT); inet_stream_connect
 * a length short of a family (EINVAL), takes AF_UNSPEC as disconnect,
 * and answers a listener EISCONN; tcp_v4_connect and tcp_v6_connect then
 * check the length (16, 24 bytes: EINVAL) and the family (EAFNOSUPPORT).
 * illumos: inet/proto_set.c proto_verify_ip_addr wants the socket's
 * family (EAFNOSUPPORT) at its exact length (EINVAL), then
 * inet/tcp/tcp_socket.c tcp_connect answers TCPS_LISTEN EOPNOTSUPP.
 */
int
plat_member_connect(int family, const struct sockaddr *sa, socklen_t len,
    int listening)
{
	int want = family == AF_INET6 ? AF_INET6 : AF_INET;
	socklen_t need = family == AF_INET6 ?
	    (socklen_t)sizeof (struct sockaddr_in6) :
	    (socklen_t)sizeof (struct sockaddr_in);

	if (len > (socklen_t)sizeof (struct sockaddr_storage))
		return (EINVAL);
	if (len > 0 && sa == NULL)
		return (EFAULT);
	if (len < (socklen_t)sizeof (sa_family_t))
		return (EINVAL);
#if defined(ILLUMOS_PATHS)
	if (sa->sa_family != want)
		return (EAFNOSUPPORT);
	if (len != need)
		return (EINVAL);
	return (listening ? EOPNOTSUPP : EADDRINUSE);
#else
	if (sa->sa_family == AF_UNSPEC)
		return (0);
	if (listening)
		return (EISCONN);
	/* tcp_v6_connect's minimum is the RFC 2133 sockaddr_in6, 24 bytes */
	if (len < (family == AF_INET6 ? 24 : need))
		return (EINVAL);
	if (sa->sa_family != want)
		return (EAFNOSUPPORT);
	return (EADDRINUSE);
#endif
}

void *
plat_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANON, -1, 0);

	return (p == MAP_FAILED ? NULL : p);
}

void
plat_free(void *p, size_t size)
{
	if (p != NULL)
		(void) munmap(p, size);
}

/*
 * The owner's poller.  PLAT_POLLER_POLL: the portable backend, on Linux
 * too, to test it.
 */
#if defined(ILLUMOS_PATHS) && !defined(PLAT_POLLER_POLL)

/*
 * Event ports: an association fires once and is then gone, so each
 * token a wait returned is associated again at the start of the next
 * wait, if it is still wanted by then; the state is read at that moment,
 * so an fd the owner drained meanwhile does not wake it again.  Linux
 * runs the same logic over EPOLLONESHOT.
 */
struct plat_poller {
	int		pfd;	/* the port, or the epoll fd */
	int		*fd;	/* by token: the fd, or -1 */
	uint8_t		*want;	/* by token: PLAT_POLL_IN, _OUT, or 0 */
	uint8_t		*armed;	/* by token: associated now */
	uint32_t	*fired;	/* tokens returned by the last wait */
	size_t		nfired;
	size_t		cap;
};

static int
os_arm(struct plat_poller *p, int fd, uint32_t token, int on)
{
#if defined(__sun)
	return (port_associate(p->pfd, PORT_SOURCE_FD, (uintptr_t)fd,
	    ((on & PLAT_POLL_IN) ? POLLIN : 0) |
	    ((on & PLAT_POLL_OUT) ? POLLOUT : 0), (void *)(uintptr_t)token));
#else
	struct epoll_event ev;

	memset(&ev, 0, sizeof (ev));
	ev.events = EPOLLONESHOT | ((on & PLAT_POLL_IN) ? EPOLLIN : 0) |
	    ((on & PLAT_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.u32 = token;
	if (epoll_ctl(p->pfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return (0);
	if (errno != ENOENT)
		return (-1);
	return (epoll_ctl(p->pfd, EPOLL_CTL_ADD, fd, &ev));
#endif
}

static void
os_disarm(struct plat_poller *p, int fd)
{
	int saved = errno;
#if defined(__sun)
	(void) port_dissociate(p->pfd, PORT_SOURCE_FD, (uintptr_t)fd);
#else
	(void) epoll_ctl(p->pfd, EPOLL_CTL_DEL, fd, NULL);
#endif
	errno = saved;
}

/* Up to max fired tokens into tokens; 0 on timeout, -1 with errno. */
static int
os_wait(struct plat_poller *p, uint32_t *tokens, int max, int timeout_ms)
{
#if defined(__sun)
	port_event_t ev[64];
	struct timespec ts, *tp = NULL;
	uint_t nget = 1;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tp = &ts;
	}
	/* ETIME may still come with events (port_getn(3C)). */
	if (port_getn(p->pfd, ev, (uint_t)max, &nget, tp) != 0 &&
	    errno != ETIME)
		return (-1);
	for (uint_t i = 0; i < nget; i++)
		tokens[i] = (uint32_t)(uintptr_t)ev[i].portev_user;
	return ((int)nget);
#else
	struct epoll_event ev[64];
	int n = epoll_wait(p->pfd, ev, max, timeout_ms);

	for (int i = 0; i < n; i++)
		tokens[i] = ev[i].data.u32;
	return (n);
#endif
}

struct plat_poller *
plat_poller_new(void)
{
	struct plat_poller *p = plat_alloc(sizeof (*p));

	if (p == NULL)
		return (NULL);
	memset(p, 0, sizeof (*p));
#if defined(__sun)
	p->pfd = port_create();
	if (p->pfd >= 0)
		(void) real.fcntl(p->pfd, F_SETFD, FD_CLOEXEC);
#else
	p->pfd = epoll_create1(EPOLL_CLOEXEC);
#endif
	if (p->pfd < 0) {
		plat_free(p, sizeof (*p));
		return (NULL);
	}
	return (p);
}

/* Room for token; all or nothing. */
static int
poller_grow(struct plat_poller *p, uint32_t token)
{
	size_t nc = p->cap == 0 ? 64 : p->cap;
	int *f;
	uint8_t *w, *a;
	uint32_t *fi;

	while (nc <= token)
		nc *= 2;
	f = plat_alloc(nc * sizeof (*f));
	w = plat_alloc(nc);
	a = plat_alloc(nc);
	fi = plat_alloc(nc * sizeof (*fi));
	if (f == NULL || w == NULL || a == NULL || fi == NULL) {
		plat_free(f, nc * sizeof (*f));
		plat_free(w, nc);
		plat_free(a, nc);
		plat_free(fi, nc * sizeof (*fi));
		return (-1);
	}
	for (size_t i = 0; i < nc; i++)
		f[i] = -1;
	if (p->cap > 0) {
		memcpy(f, p->fd, p->cap * sizeof (*f));
		memcpy(w, p->want, p->cap);
		memcpy(a, p->armed, p->cap);
		memcpy(fi, p->fired, p->nfired * sizeof (*fi));
		plat_free(p->fd, p->cap * sizeof (*f));
		plat_free(p->want, p->cap);
		plat_free(p->armed, p->cap);
		plat_free(p->fired, p->cap * sizeof (*fi));
	}
	p->fd = f;
	p->want = w;
	p->armed = a;
	p->fired = fi;
	p->cap = nc;
	return (0);
}

int
plat_poller_set(struct plat_poller *p, int fd, uint32_t token, int on)
{
	if (token >= p->cap && poller_grow(p, token) != 0)
		return (-1);
	if (p->fd[token] != fd && p->armed[token]) {
		os_disarm(p, p->fd[token]);
		p->armed[token] = 0;
	}
	/* Armed for something else: associated again, as it is wanted now. */
	if (p->armed[token] && p->want[token] != on && on) {
		os_disarm(p, fd);
		p->armed[token] = 0;
	}
	p->fd[token] = fd;
	p->want[token] = (uint8_t)on;
	if (on && !p->armed[token]) {
		if (os_arm(p, fd, token, on) != 0)
			return (-1);
		p->armed[token] = 1;
	} else if (!on && p->armed[token]) {
		os_disarm(p, fd);
		p->armed[token] = 0;
	}
	return (0);
}

void
plat_poller_del(struct plat_poller *p, int fd, uint32_t token)
{
	if (token >= p->cap)
		return;
	if (p->armed[token])
		os_disarm(p, fd);
	p->armed[token] = 0;
	p->want[token] = 0;
	p->fd[token] = -1;
}

int
plat_poller_wait(struct plat_poller *p, uint32_t *tokens, int max,
    int timeout_ms)
{
	int n;

	for (size_t i = 0; i < p->nfired; i++) {
		uint32_t t = p->fired[i];

		if (t < p->cap && p->want[t] && !p->armed[t] &&
		    p->fd[t] >= 0 && os_arm(p, p->fd[t], t, p->want[t]) == 0)
			p->armed[t] = 1;
	}
	p->nfired = 0;
	if (max > 64)
		max = 64;
	if ((n = os_wait(p, tokens, max, timeout_ms)) <= 0)
		return (n);
	for (int i = 0; i < n; i++) {
		uint32_t t = tokens[i];

		if (t < p->cap && p->armed[t]) {
			p->armed[t] = 0;
			p->fired[p->nfired++] = t;
		}
	}
	return (n);
}

#elif defined(__linux__) && !defined(PLAT_POLLER_POLL)

struct plat_poller {
	int	epfd;
};

struct plat_poller *
plat_poller_new(void)
{
	struct plat_poller *p = plat_alloc(sizeof (*p));

	if (p == NULL)
		return (NULL);
	if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		plat_free(p, sizeof (*p));
		return (NULL);
	}
	return (p);
}

int
plat_poller_set(struct plat_poller *p, int fd, uint32_t token, int on)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof (ev));
	ev.events = ((on & PLAT_POLL_IN) ? EPOLLIN : 0) |
	    ((on & PLAT_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.u32 = token;
	if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return (0);
	if (errno != ENOENT)
		return (-1);
	return (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev));
}

void
plat_poller_del(struct plat_poller *p, int fd, uint32_t token)
{
	(void) token;
	(void) epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int
plat_poller_wait(struct plat_poller *p, uint32_t *tokens, int max,
    int timeout_ms)
{
	struct epoll_event ev[64];
	int n;

	if (max > 64)
		max = 64;
	n = epoll_wait(p->epfd, ev, max, timeout_ms);
	for (int i = 0; i < n; i++)
		tokens[i] = ev[i].data.u32;
	return (n);
}

#else	/* poll(2): tokens index a pollfd array */

struct plat_poller {
	struct pollfd	*fds;
	size_t		cap;
	size_t		n;	/* 1 + the highest token in use */
};

struct plat_poller *
plat_poller_new(void)
{
	struct plat_poller *p = plat_alloc(sizeof (*p));

	if (p != NULL)
		memset(p, 0, sizeof (*p));
	return (p);
}

int
plat_poller_set(struct plat_poller *p, int fd, uint32_t token, int on)
{
	if (token >= p->cap) {
		size_t nc = p->cap == 0 ? 64 : p->cap;
		struct pollfd *f;

		while (nc <= token)
			nc *= 2;
		if ((f = plat_alloc(nc * sizeof (*f))) == NULL)
			return (-1);
		for (size_t i = 0; i < nc; i++)
			f[i].fd = -1;
		if (p->fds != NULL)
			memcpy(f, p->fds, p->cap * sizeof (*f));
		plat_free(p->fds, p->cap * sizeof (*f));
		p->fds = f;
		p->cap = nc;
	}
	p->fds[token].fd = on ? fd : -1;
	p->fds[token].events = (short)(((on & PLAT_POLL_IN) ? POLLIN : 0) |
	    ((on & PLAT_POLL_OUT) ? POLLOUT : 0));
	if (token >= p->n)
		p->n = token + 1;
	return (0);
}

void
plat_poller_del(struct plat_poller *p, int fd, uint32_t token)
{
	(void) fd;
	if (token < p->cap)
		p->fds[token].fd = -1;
}

int
plat_poller_wait(struct plat_poller *p, uint32_t *tokens, int max,
    int timeout_ms)
{
	int n = poll(p->fds, (nfds_t)p->n, timeout_ms), k = 0;

	if (n <= 0)
		return (n);
	for (size_t i = 0; i < p->n && k < max; i++) {
		if (p->fds[i].fd >= 0 && p->fds[i].revents != 0)
			tokens[k++] = (uint32_t)i;
	}
	return (k);
}

#endif

pid_t
plat_fork(int waited)
{
	/*
	 * The owner is forked from inside bind(): the application's atfork
	 * handlers must not run (they may take its locks or log a fork it
	 * never made).  The child only makes async-signal-safe calls.
	 */
#if defined(__linux__) && defined(__GLIBC__) && !defined(ILLUMOS_PATHS) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	(void) waited;
	return (_Fork());
#elif defined(__linux__) && !defined(ILLUMOS_PATHS)
	(void) waited;
	return ((pid_t)syscall(SYS_fork));
#elif defined(__sun)
	/*
	 * forkx(2): a child the caller waits for by pid raises no SIGCHLD
	 * in the application and is invisible to its wait(-1), which could
	 * otherwise reap it (or take it for one of its own workers).
	 * Atfork handlers do run here.
	 */
	return (forkx(waited ? FORK_NOSIGCHLD | FORK_WAITPID : 0));
#else
	(void) waited;
	return (fork());
#endif
}

void
plat_closefrom(int lowfd)
{
#if defined(__linux__) && defined(SYS_close_range)
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
#if defined(__sun)
	plat_closefrom_next(lowfd);	/* not through our own closefrom */
#else
	/* Fallback: every possible fd up to the limit. */
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 1 << 20)
		max = 1 << 20;
	for (int fd = lowfd; fd < max; fd++)
		(void) real.close(fd);
#endif
}

/*
 * The C library's closefrom and close_range, which the application's
 * calls reach through ours.  Resolved before main(), as the real table
 * is: a first call may come from a child forked by a threaded program,
 * where dlsym could wait for a lock that a vanished thread holds.
 */
typedef void (*plat_closefrom_fn)(int);
typedef int (*plat_close_range_fn)(unsigned, unsigned, int);
static plat_closefrom_fn next_closefrom;
static plat_close_range_fn next_close_range;
static int close_next_resolved;

static void
close_next_find(plat_closefrom_fn *cf, plat_close_range_fn *cr)
{
	void *p;

	*cf = NULL;
	*cr = NULL;
	if ((p = plat_dlsym_next("closefrom")) != NULL && !plat_is_ours(p))
		memcpy(cf, &p, sizeof (p));
	if ((p = plat_dlsym_next("close_range")) != NULL && !plat_is_ours(p))
		memcpy(cr, &p, sizeof (p));
}

#if defined(__GNUC__)
static void close_next_init(void) __attribute__((constructor));
#elif defined(__sun)
static void close_next_init(void);
#pragma init(close_next_init)
#endif

static void
close_next_init(void)
{
	close_next_find(&next_closefrom, &next_close_range);
	close_next_resolved = 1;
}

void
plat_closefrom_next(int lowfd)
{
	plat_closefrom_fn cf = next_closefrom;
	plat_close_range_fn cr = next_close_range;

	if (!close_next_resolved)
		close_next_find(&cf, &cr);
	if (cf != NULL) {
		cf(lowfd);
		return;
	}
	/* A C library without closefrom (glibc before 2.34, musl). */
	if (lowfd < 0)
		lowfd = 0;
	if (plat_close_range_next((unsigned)lowfd, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);

		if (max < 0 || max > 1 << 20)
			max = 1 << 20;
		for (int fd = lowfd; fd < max; fd++)
			(void) real.close(fd);
	}
}

int
plat_close_range_next(unsigned first, unsigned last, int flags)
{
	plat_closefrom_fn cf = next_closefrom;
	plat_close_range_fn cr = next_close_range;

	if (!close_next_resolved)
		close_next_find(&cf, &cr);
	if (cr != NULL)
		return (cr(first, last, flags));
#if defined(__linux__) && defined(SYS_close_range)
	return ((int)syscall(SYS_close_range, first, last, flags));
#else
	(void) first;
	(void) last;
	(void) flags;
	errno = ENOSYS;
	return (-1);
#endif
}

int
plat_close_range_closes(int flags)
{
#if defined(CLOSE_RANGE_CLOEXEC)
	return ((flags & CLOSE_RANGE_CLOEXEC) == 0);
#else
	(void) flags;
	return (1);
#endif
}

void
plat_for_each_fd(void (*fn)(int fd, void *arg), void *arg)
{
	/* Linux and illumos both list a process's fds under /proc/self/fd. */
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[1024], n = 0;

	if (d == NULL) {
		for (int fd = 0; fd < 1024; fd++) {
			if (real.fcntl(fd, F_GETFD) >= 0)
				fn(fd, arg);
		}
		return;
	}
	/* Collect first: fn may open and close fds while we read. */
	while ((e = readdir(d)) != NULL && n < (int)(sizeof (fds) /
	    sizeof (fds[0]))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end == '\0' && end != e->d_name && fd != dirfd(d))
			fds[n++] = (int)fd;
	}
	(void) closedir(d);
	for (int i = 0; i < n; i++)
		fn(fds[i], arg);
}

void
plat_set_procname(const char *name)
{
#if defined(__linux__)
	(void) prctl(PR_SET_NAME, name, 0, 0, 0);
#else
	(void) name;
#endif
}

#if defined(__linux__)
/* The line of f (a /proc or mount table file) that starts with key. */
static int
file_line(const char *f, int (*match)(const char *, void *), void *arg,
    char *out, size_t n)
{
	char buf[8192];
	ssize_t len;
	int fd, found = -1;

	if ((fd = open(f, O_RDONLY | O_CLOEXEC)) < 0)
		return (-1);
	len = real.read(fd, buf, sizeof (buf) - 1);
	(void) real.close(fd);
	if (len <= 0)
		return (-1);
	buf[len] = '\0';
	for (char *l = buf, *e; l != NULL && *l != '\0'; l = e) {
		if ((e = strchr(l, '\n')) != NULL)
			*e++ = '\0';
		if (match(l, arg) && strlen(l) < n) {
			(void) strcpy(out, l);
			found = 0;
			break;
		}
	}
	return (found);
}

static int
is_v2(const char *l, void *arg)
{
	(void) arg;
	return (strncmp(l, "0::", 3) == 0);
}

/* mountinfo: "... - cgroup2 ..." */
static int
is_cgroup2(const char *l, void *arg)
{
	(void) arg;
	return (strstr(l, " - cgroup2 ") != NULL);
}
#endif

int
plat_service_of(pid_t pid, char *buf, size_t n)
{
#if defined(__linux__)
	char f[64], l[512];

	(void) snprintf(f, sizeof (f), "/proc/%ld/cgroup", (long)pid);
	if (file_line(f, is_v2, NULL, l, sizeof (l)) != 0 ||
	    strlen(l + 3) >= n || l[3] != '/')
		return (-1);
	(void) strcpy(buf, l + 3);
	return (0);
#else
	(void) pid;
	(void) buf;
	(void) n;
	return (-1);
#endif
}

int
plat_service_enter(const char *service)
{
#if defined(__linux__)
	char l[1024], path[1024 + 256], num[24], *mnt, *end;
	int fd, k, rc = -1, e;

	/* mountinfo's fifth field is where the cgroup2 tree is mounted. */
	if (file_line("/proc/self/mountinfo", is_cgroup2, NULL, l,
	    sizeof (l)) != 0)
		return (-1);
	for (mnt = l, k = 0; k < 4 && mnt != NULL; k++) {
		if ((mnt = strchr(mnt, ' ')) != NULL)
			mnt++;
	}
	if (mnt == NULL || (end = strchr(mnt, ' ')) == NULL)
		return (-1);
	*end = '\0';
	if (snprintf(path, sizeof (path), "%s%s/cgroup.procs", mnt,
	    service) >= (int)sizeof (path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return (-1);
	k = snprintf(num, sizeof (num), "%ld\n", (long)getpid());
	if (real.write(fd, num, (size_t)k) == k)
		rc = 0;
	e = errno;
	(void) real.close(fd);
	errno = e;
	return (rc);
#else
	(void) service;
	errno = ENOTSUP;
	return (-1);
#endif
}

/*
 * A shared memory object of size bytes that no other process can open by
 * name, close-on-exec: Linux's memfd, else an unlinked POSIX one.  On
 * Linux its size is sealed: a member that truncated it would make the
 * owner's next read of the board a SIGBUS, ending the group.
 */
int
plat_shm_fd(size_t size, const char *what)
{
	int fd, saved = errno;
#if defined(__linux__) && !defined(ILLUMOS_PATHS)
	fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);
#else
	static unsigned n;
	char name[64];

	for (int tries = 0; ; tries++) {
		(void) snprintf(name, sizeof (name), "/%s.%ld.%u", what,
		    (long)getpid(), n++);
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0 || errno != EEXIST || tries == 100)
			break;
	}
	if (fd >= 0)
		(void) shm_unlink(name);
#endif
	if (fd >= 0 && ftruncate(fd, (off_t)size) != 0) {
		(void) real.close(fd);
		fd = -1;
	}
#if defined(__linux__) && defined(F_ADD_SEALS) && !defined(ILLUMOS_PATHS)
	if (fd >= 0 && real.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		(void) real.close(fd);
		fd = -1;
	}
#endif
	errno = saved;
	return (fd);
}

/*
 * The directory of the object that holds this code (the library, or a
 * program linked with its objects): helpers are installed beside it.
 */
int
plat_self_dir(char *buf, size_t n)
{
	Dl_info self;
	const char *slash;
	size_t len;

	if (dladdr((void *)plat_self_dir, &self) == 0 ||
	    self.dli_fname == NULL ||
	    (slash = strrchr(self.dli_fname, '/')) == NULL)
		return (-1);
	len = (size_t)(slash - self.dli_fname);
	if (len + 1 > n)
		return (-1);
	memcpy(buf, self.dli_fname, len);
	buf[len] = '\0';
	return (0);
}

int
plat_self_exe(char *buf, size_t n)
{
#if defined(__linux__)
	/* Not its name: the file may be replaced since (an upgrade). */
	if (n < sizeof ("/proc/self/exe"))
		return (-1);
	(void) strcpy(buf, "/proc/self/exe");
	return (0);
#elif defined(__sun)
	const char *p = getexecname();

	if (p == NULL || p[0] != '/' || strlen(p) >= n)
		return (-1);
	(void) strcpy(buf, p);
	return (0);
#else
	(void) buf;
	(void) n;
	return (-1);
#endif
}

/*
 * The path of the object that holds this code, as the run-time linker
 * loaded it (for the library: as its preload variable named it).
 */
int
plat_self_path(char *buf, size_t n)
{
	Dl_info self;

	if (dladdr((void *)plat_self_path, &self) == 0 ||
	    self.dli_fname == NULL || strlen(self.dli_fname) >= n)
		return (-1);
	(void) strcpy(buf, self.dli_fname);
	return (0);
}

/*
 * The variables the run-time linker preloads from: ld.so.1(1) reads
 * LD_PRELOAD_64 or LD_PRELOAD_32 by the program's class, before
 * LD_PRELOAD; glibc's ld.so reads LD_PRELOAD alone.
 */
const char *const *
plat_preload_vars(void)
{
#if defined(__sun)
	static const char *const v[] = { "LD_PRELOAD", "LD_PRELOAD_64",
	    "LD_PRELOAD_32", NULL };
#else
	static const char *const v[] = { "LD_PRELOAD", NULL };
#endif
	return (v);
}

extern char **environ;

/*
 * Start a helper program with the environment less the preload
 * variables: the helper links the shim's objects itself, and a second,
 * preloaded copy would wrap the calls its own table resolves.  The
 * caller reaps the child by pid; on illumos the application sees no
 * SIGCHLD for it and its wait(-1) cannot take it.
 */
int
plat_spawn(const char *path, char *const argv[], pid_t *pid)
{
	char *envp[1024];
	size_t n = 0;
	posix_spawnattr_t at;
	int err, saved = errno;

	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "LD_PRELOAD", 10) == 0)
			continue;
		if (n == sizeof (envp) / sizeof (envp[0]) - 1) {
			errno = E2BIG;
			return (-1);
		}
		envp[n++] = *e;
	}
	envp[n] = NULL;
	if ((err = posix_spawnattr_init(&at)) != 0) {
		errno = err;
		return (-1);
	}
#if defined(POSIX_SPAWN_NOSIGCHLD_NP) && defined(POSIX_SPAWN_WAITPID_NP)
	err = posix_spawnattr_setflags(&at,
	    POSIX_SPAWN_NOSIGCHLD_NP | POSIX_SPAWN_WAITPID_NP);
#endif
	/*
	 * The C library's, not our wrapper (exec.c), which would put the
	 * preload back if this process holds an inheritable endpoint.
	 */
	if (err == 0 && real.posix_spawn != NULL)
		err = real.posix_spawn(pid, path, NULL, &at, argv, envp);
	else if (err == 0)
		err = posix_spawn(pid, path, NULL, &at, argv, envp);
	(void) posix_spawnattr_destroy(&at);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	errno = saved;
	return (0);
}

/*
 * The owner takes connections in batches: one wakeup per connection costs
 * it a context switch each, and on a busy machine those dominate (perf on
 * 2 cores: scheduling was 40% of all CPU).  Linux's batch class keeps a
 * woken owner from preempting the clients and workers, so by the time it
 * runs several connections wait; measured +13% in connections/s.  Only
 * from the ordinary class: a real-time application keeps its priority.
 */
void
plat_owner_sched(void)
{
#if defined(__linux__)
	struct sched_param sp;

	if (sched_getscheduler(0) != SCHED_OTHER)
		return;
	memset(&sp, 0, sizeof (sp));
	(void) sched_setscheduler(0, SCHED_BATCH, &sp);
#endif
}

/*
 * The name as the program started, copied before main(): daemons that
 * set their process title (nginx) write over argv[0], which glibc's
 * short name points into, and log lines showed "ker process" for nginx.
 */
#if defined(__linux__)
static char progname[64];
#endif

static void
progname_keep(void)
{
#if defined(__linux__)
	(void) snprintf(progname, sizeof (progname), "%s",
	    program_invocation_short_name);
#endif
}

const char *
plat_progname(void)
{
#if defined(__linux__)
	return (progname[0] != '\0' ? progname :
	    program_invocation_short_name);
#elif defined(__sun)
	const char *p = getexecname();
	const char *s;

	if (p == NULL)
		return ("?");
	s = strrchr(p, '/');
	return (s != NULL ? s + 1 : p);
#else
	return (getprogname());
#endif
}

/*
 * Resolve the real functions and read the environment while the program
 * is still single-threaded, before main(); every wrapper also checks, in
 * case another library's constructor calls one before ours ran.
 */
#if defined(__GNUC__)
static void plat_constructor(void) __attribute__((constructor));
#elif defined(__sun)
static void plat_constructor(void);
#pragma init(plat_constructor)
#endif

static void
plat_constructor(void)
{
	progname_keep();
	shim_init();
}

/*
 * An endpoint's options come back after exec from its shadow
 * (inherit.c): it walks the list plat_opt_inherited() answers from.
 */
int
plat_opt_on_listener_nth(size_t i, int *level, int *name)
{
	if (i >= sizeof (on_listener) / sizeof (on_listener[0]))
		return (-1);
	*level = on_listener[i][0];
	*name = on_listener[i][1];
	return (0);
}

int
plat_opt_inherited_nth(size_t i, int *level, int *name)
{
	if (i >= sizeof (inherited) / sizeof (inherited[0]))
		return (-1);
	*level = inherited[i][0];
	*name = inherited[i][1];
	return (0);
}

int
plat_opt_unread(int level, int name, int v)
{
	for (size_t i = 0; i < sizeof (listener_opts) /
	    sizeof (listener_opts[0]); i++) {
		const struct plat_opt *o = &listener_opts[i];

		if (o->level == level && o->name == name)
			return (opt_setval(o, v));
	}
	return (v);
}

/*
 * The search path of execvp when PATH is unset, for exec.c's own search
 * where the C library has no execvpe: the C library's own default, so
 * that the search finds what its execvp would.  illumos libc's (not
 * XPG4): root's has /usr/sbin, and other users' ends in an empty element
 * (the current directory).  glibc's: /bin:/usr/bin.
 */
const char *
plat_exec_path(void)
{
#if defined(__sun)
	if (geteuid() == 0 || getuid() == 0)
		return ("/usr/sbin:/usr/ccs/bin:/usr/bin");
	return ("/usr/ccs/bin:/usr/bin:");
#else
	return ("/bin:/usr/bin");
#endif
}

/* --- UDP groups ------------------------------------------------------- */

/* The reports a member may ask for, by its PLAT_PKT_* bit. */
static const struct {
	unsigned	bit;
	int		level, name;
} report[] = {
	{ PLAT_PKT_V4, IPPROTO_IP, IP_PKTINFO },
	{ PLAT_PKT_V6, IPPROTO_IPV6, IPV6_RECVPKTINFO },
	{ PLAT_PKT_TTL, IPPROTO_IP, IP_RECVTTL },
#if defined(IP_RECVTOS)	/* illumos since 2020 */
	{ PLAT_PKT_TOS, IPPROTO_IP, IP_RECVTOS },
#endif
	{ PLAT_PKT_HOPS, IPPROTO_IPV6, IPV6_RECVHOPLIMIT },
	{ PLAT_PKT_TCLASS, IPPROTO_IPV6, IPV6_RECVTCLASS },
	{ PLAT_PKT_STAMP, SOL_SOCKET, SO_TIMESTAMP },
#if defined(SO_TIMESTAMPNS)
	{ PLAT_PKT_STAMPNS, SOL_SOCKET, SO_TIMESTAMPNS },
#endif
};
#define	NREPORT	(sizeof (report) / sizeof (report[0]))

unsigned
plat_pktinfo_opt(int level, int name)
{
	for (size_t i = 0; i < NREPORT; i++) {
		if (report[i].level == level && report[i].name == name)
			return (report[i].bit);
	}
	return (0);
}

#if defined(ILLUMOS_PATHS)
const int plat_queue_stamps = 0;
#else
const int plat_queue_stamps = 1;
#endif

#if defined(__sun)
const int plat_plain_msg_xpg = 0;
#else
const int plat_plain_msg_xpg = 1;
#endif

#if defined(MSG_ERRQUEUE)
const int plat_msg_errqueue = MSG_ERRQUEUE;
#else
const int plat_msg_errqueue = 0;
#endif

#if defined(MSG_WAITFORONE)
const int plat_msg_waitforone = MSG_WAITFORONE;
#else
const int plat_msg_waitforone = 0;
#endif

/*
 * illumos cannot say whether a socket asked for IP_PKTINFO's report: its
 * getsockopt answers with the sticky sending struct (conn_opt_get: the
 * receive flag's branch is compiled out), and IP_RECVPKTINFO is the same
 * option.  Read back, an IPv4 member's ask was lost and it never got the
 * destination (a DNS server on a wildcard address answers from it).  So
 * the shim keeps the ask itself, per fd, from each successful int-sized
 * setsockopt; close, dup2 and closefrom forget it, and the shim's own
 * dups copy it.  The build that takes illumos's paths keeps it too.
 */
#if defined(ILLUMOS_PATHS)
#define	PKT4_FDS	65536	/* as the fd table's bitmap */
static atomic_uint pkt4[PKT4_FDS / 32];

static int
pkt4_get(int fd)
{
	return (fd >= 0 && fd < PKT4_FDS &&
	    (atomic_load(&pkt4[fd / 32]) & (1U << (fd % 32))) != 0);
}

static void
pkt4_set(int fd, int on)
{
	unsigned bit;

	if (fd < 0 || fd >= PKT4_FDS || pkt4_get(fd) == on)
		return;
	bit = 1U << (fd % 32);
	if (on)
		(void) atomic_fetch_or(&pkt4[fd / 32], bit);
	else
		(void) atomic_fetch_and(&pkt4[fd / 32], ~bit);
}
#endif

int
plat_pktinfo_kept(int level, int name)
{
#if defined(ILLUMOS_PATHS)
	return (level == IPPROTO_IP && name == IP_PKTINFO);
#else
	(void) level, (void) name;
	return (0);
#endif
}

int
plat_pktinfo_held(int fd)
{
#if defined(ILLUMOS_PATHS)
	return (pkt4_get(fd));
#else
	(void) fd;
	return (0);
#endif
}

void
plat_pktinfo_note(int fd, int level, int name, const void *val,
    socklen_t len)
{
#if defined(ILLUMOS_PATHS)
	int on;

	if (!plat_pktinfo_kept(level, name) || len != sizeof (on))
		return;
	memcpy(&on, val, sizeof (on));
	pkt4_set(fd, on != 0);
#else
	(void) fd, (void) level, (void) name, (void) val, (void) len;
#endif
}

void
plat_pktinfo_forget(int lo, int hi)
{
#if defined(ILLUMOS_PATHS)
	for (int fd = lo < 0 ? 0 : lo; fd <= hi && fd < PKT4_FDS; fd++) {
		if (fd % 32 == 0 && fd + 31 <= hi &&
		    atomic_load(&pkt4[fd / 32]) == 0) {
			fd += 31;	/* a word with nothing to forget */
			continue;
		}
		pkt4_set(fd, 0);
	}
#else
	(void) lo, (void) hi;
#endif
}

void
plat_pktinfo_mark(int fd)
{
#if defined(ILLUMOS_PATHS)
	pkt4_set(fd, 1);
#else
	(void) fd;
#endif
}

void
plat_pktinfo_dup(int from, int to)
{
#if defined(ILLUMOS_PATHS)
	pkt4_set(to, pkt4_get(from));
#else
	(void) from, (void) to;
#endif
}

unsigned
plat_pktinfo_asked(int fd)
{
	unsigned want = 0;
	int saved = errno;

	for (size_t i = 0; i < NREPORT; i++) {
		int v = 0;
		socklen_t len = sizeof (v);

#if defined(ILLUMOS_PATHS)
		if (report[i].bit == PLAT_PKT_V4) {
			if (pkt4_get(fd))
				want |= PLAT_PKT_V4;
			continue;
		}
#endif
		if (real.getsockopt(fd, report[i].level, report[i].name, &v,
		    &len) == 0 && v != 0)
			want |= report[i].bit;
	}
	errno = saved;
	return (want);
}

void
plat_pktinfo_enable(int fd, int family, unsigned want)
{
	int saved = errno;

	/*
	 * The destination always.  A dual-stack socket's IPv4 datagrams
	 * report it as IPv6's, mapped (IPv4's too would take its place),
	 * and their TTL and TOS as IPv4's.
	 */
	want = (want & PLAT_PKT_REPORTS) |
	    (family == AF_INET ? PLAT_PKT_V4 : PLAT_PKT_V6);
	for (size_t i = 0; i < NREPORT; i++) {
		int on = (want & report[i].bit) != 0;

		/* The time: the member's own (plat_queue_stamps). */
		if ((family == AF_INET && report[i].level != IPPROTO_IP) ||
		    report[i].level == SOL_SOCKET)
			continue;
		(void) real.setsockopt(fd, report[i].level, report[i].name,
		    &on, sizeof (on));
	}
	errno = saved;
}

/*
 * IPv4's TTL and TOS reports: IP_TTL, an int, and IP_TOS, a byte, on
 * Linux; IP_RECVTTL and IP_RECVTOS, a byte each, on illumos.
 */
#if defined(__sun)
#define	RECV_TTL_TYPE	IP_RECVTTL
#define	RECV_TTL_SIZE	1
#if defined(IP_RECVTOS)
#define	RECV_TOS_TYPE	IP_RECVTOS
#else
#define	RECV_TOS_TYPE	(-1)		/* none before 2020 */
#endif
#define	MAPPED_REPORTS_V6	1
#else
#define	RECV_TTL_TYPE	IP_TTL
#define	RECV_TTL_SIZE	sizeof (int)
#define	RECV_TOS_TYPE	IP_TOS
#define	MAPPED_REPORTS_V6	0
#endif

/* A report's value: an int, or a byte where the kernel gives one. */
static int
report_value(const void *data, size_t len)
{
	int v = -1;
	uint8_t b;

	if (len >= sizeof (int)) {
		memcpy(&v, data, sizeof (v));
	} else if (len == 1) {
		memcpy(&b, data, 1);
		v = b;
	}
	return (v >= 0 && v <= 255 ? v : -1);
}

int
plat_pktinfo_parse(int level, int type, const void *data, size_t len,
    struct dgram_hdr *h)
{
	if (level == IPPROTO_IP && type == IP_PKTINFO &&
	    len >= sizeof (struct in_pktinfo)) {
		struct in_pktinfo pi;

		memcpy(&pi, data, sizeof (pi));
		memset(&h->dst, 0, sizeof (h->dst));
		h->dst.family = AF_INET;
		memcpy(h->dst.addr, &pi.ipi_addr, 4);
		h->ifindex = (uint32_t)pi.ipi_ifindex;
		return (1);
	}
	if (level == IPPROTO_IPV6 && type == IPV6_PKTINFO &&
	    len >= sizeof (struct in6_pktinfo)) {
		struct in6_pktinfo pi;

		memcpy(&pi, data, sizeof (pi));
		memset(&h->dst, 0, sizeof (h->dst));
		h->dst.family = AF_INET6;
		memcpy(h->dst.addr, &pi.ipi6_addr, 16);
		h->ifindex = pi.ipi6_ifindex;
		return (1);
	}
	if ((level == IPPROTO_IP && type == RECV_TTL_TYPE) ||
	    (level == IPPROTO_IPV6 && type == IPV6_HOPLIMIT)) {
		h->ttl = report_value(data, len);
		return (1);
	}
	if ((level == IPPROTO_IP && type == RECV_TOS_TYPE) ||
	    (level == IPPROTO_IPV6 && type == IPV6_TCLASS)) {
		h->tos = report_value(data, len);
		return (1);
	}
	return (0);
}

/* One report of value v into out: its size. */
static size_t
report_put(void *out, int v, size_t size)
{
	uint8_t b = (uint8_t)v;

	memcpy(out, size == 1 ? (const void *)&b : (const void *)&v, size);
	return (size);
}

/* The reports of one datagram, in the order each kernel writes them. */
enum report_item {
	RI_STAMP,	/* SO_TIMESTAMP, SO_TIMESTAMPNS */
	RI_DST6,	/* IPV6_PKTINFO */
	RI_DST4,	/* IP_PKTINFO */
	RI_TTL,		/* the TTL or hop limit */
	RI_TOS		/* the TOS or traffic class */
};

#if defined(__sun)
/*
 * illumos (conn_recvancillary_add): the destination, the time, then
 * IPv4's TOS before its TTL; an IPv6 socket's after its hop limit and
 * traffic class.
 */
static const enum report_item order4[] = { RI_DST4, RI_STAMP, RI_TOS,
	RI_TTL };
static const enum report_item order6[] = { RI_DST6, RI_TTL, RI_TOS,
	RI_STAMP };
#else
/* Linux: the time (sock_recv_cmsgs), then the IP ones, IPv6's first. */
static const enum report_item order4[] = { RI_STAMP, RI_DST6, RI_DST4,
	RI_TTL, RI_TOS };
#define	order6	order4
#endif

/* Item it of h's reports into out, if want has it: its length, or 0. */
static size_t
report_item(enum report_item it, unsigned want, const struct dgram_hdr *h,
    const struct timespec *now, int *level, int *type, void *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const struct proto_addr *dst = &h->dst;
	const uint8_t *v4 = NULL;
	int ip4;

	if (it == RI_STAMP) {
		struct timeval tv;

		if (now == NULL || !(want & PLAT_PKT_STAMPS))
			return (0);
		*level = SOL_SOCKET;
#if defined(SO_TIMESTAMPNS)
		if (want & PLAT_PKT_STAMPNS) {
			_Static_assert(sizeof (*now) <= PLAT_PKTINFO_MAX,
			    "room");
			*type = SCM_TIMESTAMPNS;
			memcpy(out, now, sizeof (*now));
			return (sizeof (*now));
		}
#endif
		_Static_assert(sizeof (tv) <= PLAT_PKTINFO_MAX, "room");
		tv.tv_sec = now->tv_sec;
		tv.tv_usec = (suseconds_t)(now->tv_nsec / 1000);
		*type = SCM_TIMESTAMP;
		memcpy(out, &tv, sizeof (tv));
		return (sizeof (tv));
	}
	if (dst->family == 0)
		return (0);	/* not known: nor its TTL and TOS */
	if (it == RI_DST6) {
		struct in6_pktinfo pi;

		if (!(want & PLAT_PKT_V6) || dst->family != AF_INET6)
			return (0);
		_Static_assert(sizeof (pi) <= PLAT_PKTINFO_MAX, "room");
		memset(&pi, 0, sizeof (pi));
		pi.ipi6_ifindex = h->ifindex;
		memcpy(&pi.ipi6_addr, dst->addr, 16);
		memcpy(out, &pi, sizeof (pi));
		*level = IPPROTO_IPV6;
		*type = IPV6_PKTINFO;
		return (sizeof (pi));
	}
	/* IPv4's, also on a dual-stack socket for an IPv4 datagram. */
	if (dst->family == AF_INET)
		v4 = dst->addr;
	else if (dst->family == AF_INET6 && memcmp(dst->addr, mapped, 12) == 0)
		v4 = dst->addr + 12;
	if (it == RI_DST4) {
		struct in_pktinfo pi;

		if (!(want & PLAT_PKT_V4) || v4 == NULL)
			return (0);
		_Static_assert(sizeof (pi) <= PLAT_PKTINFO_MAX, "room");
		memset(&pi, 0, sizeof (pi));
		pi.ipi_ifindex = (int)h->ifindex;
		memcpy(&pi.ipi_addr, v4, 4);
		memcpy(&pi.ipi_spec_dst, v4, 4);
		memcpy(out, &pi, sizeof (pi));
		*level = IPPROTO_IP;
		*type = IP_PKTINFO;
		return (sizeof (pi));
	}
	/*
	 * The TTL and the TOS, each family's: IPv4's for an IPv4 datagram
	 * on Linux; on illumos, whose IPv6 socket refuses IPv4's options,
	 * IPv6's for one on a dual-stack socket.
	 */
	ip4 = v4 != NULL && !(MAPPED_REPORTS_V6 && dst->family == AF_INET6);
	*level = ip4 ? IPPROTO_IP : IPPROTO_IPV6;
	if (it == RI_TTL) {
		if (!(want & (ip4 ? PLAT_PKT_TTL : PLAT_PKT_HOPS)) ||
		    h->ttl < 0)
			return (0);
		*type = ip4 ? RECV_TTL_TYPE : IPV6_HOPLIMIT;
		return (report_put(out, h->ttl, ip4 ? RECV_TTL_SIZE :
		    sizeof (int)));
	}
	if (!(want & (ip4 ? PLAT_PKT_TOS : PLAT_PKT_TCLASS)) || h->tos < 0)
		return (0);
	*type = ip4 ? RECV_TOS_TYPE : IPV6_TCLASS;
	return (report_put(out, h->tos, ip4 ? 1 : sizeof (int)));
}

size_t
plat_pktinfo_make(unsigned want, const struct dgram_hdr *h,
    const struct timespec *now, int nth, int *level, int *type, void *out)
{
	/* An IPv6 socket's order (also dual-stack), or an IPv4 one's. */
	int six = h->dst.family == AF_INET6;
	const enum report_item *order = six ? order6 : order4;
	size_t n = six ? sizeof (order6) : sizeof (order4);

	for (size_t i = 0; i < n / sizeof (order[0]); i++) {
		size_t len = report_item(order[i], want, h, now, level, type,
		    out);

		if (len > 0 && nth-- == 0)
			return (len);
	}
	return (0);
}

void
plat_udp_member_opts(int from, int data, int out)
{
	static const int stamps[][2] = {
		{ SOL_SOCKET, SO_TIMESTAMP },
#if defined(SO_TIMESTAMPNS)
		{ SOL_SOCKET, SO_TIMESTAMPNS },
#endif
	};
	char tv[64];
	socklen_t len = sizeof (tv);
	int v = 0, saved = errno;

	if (real.getsockopt(from, SOL_SOCKET, SO_RCVTIMEO, tv, &len) == 0)
		(void) real.setsockopt(data, SOL_SOCKET, SO_RCVTIMEO, tv, len);
	if (plat_queue_stamps)
		opts_copy(from, data, stamps,
		    sizeof (stamps) / sizeof (stamps[0]), 1);
	len = sizeof (v);
	if (out >= 0 && real.getsockopt(from, SOL_SOCKET, SO_BROADCAST, &v,
	    &len) == 0 && v != 0)
		(void) real.setsockopt(out, SOL_SOCKET, SO_BROADCAST, &v,
		    sizeof (v));
	errno = saved;
}

/*
 * The sending options, by index: the option, the control message that
 * sets it per datagram (IPV6_HOPLIMIT for IPV6_UNICAST_HOPS, RFC 3542),
 * the family whose sends take it (0: both), the message's data size.
 */
/*
 * Each family's options on either family's socket: Linux takes IPv4's
 * on an IPv6 socket for its IPv4-mapped peers (and ignores IPv4's
 * control messages on its IPv6 sends); a socket that refuses one never
 * has it to carry.
 */
static const struct plat_sendopt sendopt[PLAT_SENDOPTS] = {
	{ IPPROTO_IP, IP_TOS, IP_TOS, sizeof (int), 0, 0 },
	{ IPPROTO_IP, IP_TTL, IP_TTL, sizeof (int), -1, 1 },
	{ IPPROTO_IPV6, IPV6_TCLASS, IPV6_TCLASS, sizeof (int), -1, 0 },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS, IPV6_HOPLIMIT, sizeof (int), -1,
	    1 },
#if defined(UDP_SEGMENT)
	{ SOL_UDP, UDP_SEGMENT, UDP_SEGMENT, sizeof (uint16_t), 0, 0 },
#else
	{ -1, -1, -1, 0, 0, 0 },	/* no GSO here */
#endif
};

static int
sendopt_index(int level, int name)
{
	for (size_t i = 0; i < PLAT_SENDOPTS; i++) {
		if (sendopt[i].level == level && sendopt[i].name == name &&
		    sendopt[i].size != 0)
			return ((int)i);
	}
	return (-1);
}

int
plat_sendopt_note(int fd, int level, int name, const void *val,
    socklen_t len, struct plat_sendopts *o)
{
	int i = sendopt_index(level, name), v = 0, saved = errno;
	socklen_t vl = sizeof (v);

	if (i < 0)
		return (0);
	if (val == NULL || len < 1)
		return (1);
	/* An int, or the byte Linux takes as well. */
	if (len >= sizeof (int))
		memcpy(&v, val, sizeof (v));
	else
		v = *(const unsigned char *)val;
	o->set &= ~(1U << i);
	/* As the kernel keeps it (a TOS's low bits...); "unset": nothing. */
	if (v != sendopt[i].unset && real.getsockopt(fd, level, name, &v,
	    &vl) == 0 && vl == sizeof (int)) {
		o->set |= 1U << i;
		o->v[i] = v;
	}
	errno = saved;
	return (1);
}

void
plat_sendopts_read(int fd, int family, struct plat_sendopts *o)
{
	int fresh, saved = errno;

	if ((fresh = socket(family, SOCK_DGRAM | plat_sock_cloexec, 0)) < 0) {
		errno = saved;
		return;
	}
	memset(o, 0, sizeof (*o));
	for (size_t i = 0; i < PLAT_SENDOPTS; i++) {
		const struct plat_sendopt *s = &sendopt[i];
		int a = 0, b = 0;
		socklen_t al = sizeof (a), bl = sizeof (b);

		if (s->size != 0 &&
		    real.getsockopt(fd, s->level, s->name, &a, &al) == 0 &&
		    real.getsockopt(fresh, s->level, s->name, &b, &bl) == 0 &&
		    al == sizeof (int) && bl == al && a != b) {
			o->set |= 1U << i;
			o->v[i] = a;
		}
	}
	(void) real.close(fresh);
	errno = saved;
}

const struct plat_sendopt *
plat_sendopt_nth(size_t i)
{
	return (i < PLAT_SENDOPTS && sendopt[i].size != 0 ? &sendopt[i] :
	    NULL);
}

void
plat_udp_opts_copy(int from, int to)
{
	static const int t[][2] = {
		{ IPPROTO_IP, IP_PKTINFO },
		{ IPPROTO_IPV6, IPV6_RECVPKTINFO },
		{ IPPROTO_IP, IP_RECVTTL },
#if defined(IP_RECVTOS)
		{ IPPROTO_IP, IP_RECVTOS },
#endif
		{ IPPROTO_IPV6, IPV6_RECVHOPLIMIT },
		{ IPPROTO_IPV6, IPV6_RECVTCLASS },
		{ IPPROTO_IP, IP_TOS },
		{ IPPROTO_IPV6, IPV6_TCLASS },
		{ SOL_SOCKET, SO_TIMESTAMP },
#if defined(SO_TIMESTAMPNS)
		{ SOL_SOCKET, SO_TIMESTAMPNS },
#endif
	};

	opts_copy(from, to, t, sizeof (t) / sizeof (t[0]), 1);
#if defined(ILLUMOS_PATHS)
	/* The one it cannot read back (plat_pktinfo_note). */
	if (pkt4_get(from)) {
		int on = 1;

		(void) real.setsockopt(to, IPPROTO_IP, IP_PKTINFO, &on,
		    sizeof (on));
	}
#endif
}

int
plat_recv_batch(int fd, struct msghdr *hdrs, unsigned *lens, unsigned n)
{
#if defined(__linux__)
	struct mmsghdr mm[PLAT_BATCH];
	int got;

	if (n > PLAT_BATCH)
		n = PLAT_BATCH;
	for (unsigned i = 0; i < n; i++) {
		mm[i].msg_hdr = hdrs[i];
		mm[i].msg_len = 0;
	}
	if ((got = recvmmsg(fd, mm, n, MSG_DONTWAIT, NULL)) <= 0)
		return (got < 0 ? -1 : 0);
	for (int i = 0; i < got; i++) {
		hdrs[i] = mm[i].msg_hdr;
		lens[i] = mm[i].msg_len;
	}
	return (got);
#else
	unsigned got = 0;
	ssize_t r;

	while (got < n && got < PLAT_BATCH) {
		if ((r = real_recvmsg_xpg(fd, &hdrs[got],
		    MSG_DONTWAIT)) < 0)
			return (got > 0 ? (int)got : -1);
		lens[got++] = (unsigned)r;
	}
	return ((int)got);
#endif
}

int
plat_send_batch(int fd, struct msghdr *const *v, unsigned n, int *err)
{
	int flags = MSG_DONTWAIT | plat_send_nosignal_flag();
#if defined(__linux__)
	struct mmsghdr mm[PLAT_BATCH];
	int sent;

	if (n > PLAT_BATCH)
		n = PLAT_BATCH;
	for (unsigned i = 0; i < n; i++) {
		mm[i].msg_hdr = *v[i];
		mm[i].msg_len = 0;
	}
	sent = sendmmsg(fd, mm, n, flags);
	*err = sent < 0 ? errno : 0;	/* a short count tells no errno */
	return (sent);
#else
	unsigned sent = 0;

	*err = 0;
	while (sent < n && sent < PLAT_BATCH) {
		if (real_sendmsg_xpg(fd, v[sent], flags) < 0) {
			*err = errno;
			return (sent > 0 ? (int)sent : -1);
		}
		sent++;
	}
	return ((int)sent);
#endif
}

ssize_t
plat_with_cleanup(ssize_t (*fn)(void *), void *arg, void (*done)(void *),
    void *darg)
{
	ssize_t r;

#if defined(__sun) || defined(PLAT_LIKE_ILLUMOS)
	r = fn(arg);
	done(darg);
#else
	pthread_cleanup_push(done, darg);
	r = fn(arg);
	pthread_cleanup_pop(1);
#endif
	return (r);
}

int
plat_is_fionread(unsigned long req)
{
	/* As the wrapper widened it: illumos's int request sign-extended. */
	return (req == (unsigned long)FIONREAD);
}
