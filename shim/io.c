/*
 * io.c: the calls that move data (send, recv, sendto, recvfrom, sendmsg,
 * recvmsg, read, write, readv, writev, and glibc's fortified __read_chk,
 * __recv_chk and __recvfrom_chk), connect, and ioctl's FIONREAD.
 *
 * A member's fd is its endpoint, a Unix socket whose other end is the
 * group's owner: bytes the application sent there would reach the
 * owner's record parser, which ends the endpoint (a sole member's group
 * with it), and a read would take a record from under accept().  To the
 * application the fd is a TCP socket with no connection, a listener or
 * a socket bound and not listening yet, and it gets the kernel's answer
 * for one (platform.c): nothing moves, and SIGPIPE comes where the
 * kernel raises it.  connect() on a member gets a listener's answer, or
 * EADDRINUSE on one bound only: the port is the group's listener's.
 *
 * A UDP group's member (udp.h) in the dispatched ways: recv and its kin
 * take the next datagram the owner forwarded (udp.c), sends leave through
 * the group's socket; in the shared way its fd is that socket, and only
 * connect is ours.
 *
 * Every other fd goes straight to the C library.  read and write are the
 * hottest calls a program makes: an fd the shim does not track costs one
 * atomic load (fdtab_maybe), no lock.  The shim's own records never come
 * through here: proto.c calls real.sendmsg and real.recvmsg.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "config.h"
#include "fdfast.h"
#include "fdtab.h"
#include "platform.h"
#include "real.h"
#include "log.h"
#include "shim.h"
#include "udp.h"

/* What an fd the table may hold is to the application. */
enum io_kind {
	IO_PASS = 0,	/* not a member: the C library's call */
	IO_BOUND,	/* a member that does not listen (or shut it down) */
	IO_LISTENING,	/* a member that listens */
	IO_UDP,		/* a UDP member, dispatched */
	IO_SHARED,	/* a UDP member, shared: the C library's call */
	IO_STREAM	/* a TCP member, shared: the same, but connect */
};

/* The C library's call does for k. */
static int
passes(enum io_kind k)
{
	return (k == IO_PASS || k == IO_SHARED || k == IO_STREAM);
}

/*
 * The table's answer, for an fd fdtab_maybe() did not rule out.
 * *family: the member's, where wanted.  A process that must not touch
 * the table (a vfork child, the owner forked from the application) and
 * the shim's own hidden fds get the C library's call.
 */
static enum io_kind
kind_locked(int fd, int *family, struct udp_io *u)
{
	struct shim_sock *sk;
	enum io_kind k = IO_PASS;
	sigset_t saved;
	int e = errno;

	if (!fdtab_ours())
		return (IO_PASS);
	fdtab_lock(&saved);
	if (!fdtab_hidden(fd) && (sk = fdtab_get(fd)) != NULL &&
	    sk->state != SK_OPT) {
		/* Shut down for reading, a listener no longer listens. */
		k = sk->state == SK_ENDPOINT && !sk->shut ? IO_LISTENING :
		    IO_BOUND;
		if (sk->state == SK_DIRECT && !sk->dgram) {
			k = IO_STREAM;
		} else if (sk->state == SK_DIRECT) {
			k = sk->way == SHIM_POLICY_SHARED ? IO_SHARED :
			    IO_UDP;
			u->out = sk->out;
			u->pktinfo = sk->pktinfo;
			u->shut_wr = (sk->shut & UDP_SHUT_WR) != 0;
			u->so = sk->so;
		}
		if (family != NULL)
			*family = sk->family;
	}
	fdtab_unlock(&saved);
	errno = e;	/* the real call's errno is the caller's */
	return (k);
}

/*
 * What fd is to the data calls: a direct member's without the lock
 * (fdfast.h), else the table's.  A shared one's entry is not checked
 * against fstat: its calls are the C library's either way.
 */
static enum io_kind
kind_of(int fd, int *family, struct udp_io *u)
{
	struct fdfast_ent f;

	if (fdfast_get(fd, &f)) {
		if (f.flags & FDFAST_STREAM)
			return (IO_STREAM);
		u->out = f.out;
		u->pktinfo = f.flags >> FDFAST_PKT_SHIFT;
		u->shut_wr = (f.flags & FDFAST_SHUT_WR) != 0;
		u->so = f.so;
		return ((f.flags & FDFAST_SHARED) ? IO_SHARED : IO_UDP);
	}
	return (kind_locked(fd, family, u));
}

/*
 * The fd a dispatched UDP member's sends leave by, the group's socket;
 * or -1 with errno as the kernel's UDP socket would say: shut down for
 * sending (EPIPE, and no SIGPIPE), or its group ended (ENOTCONN: udp.c).
 */
static int
send_fd(const struct udp_io *u)
{
	if (u->out < 0 || u->shut_wr) {
		errno = u->shut_wr ? EPIPE : ENOTCONN;
		return (-1);
	}
	return (u->out);
}

/*
 * The kernel's answer to c on a member of kind k.  SIGPIPE goes to this
 * thread, as the kernel's does, and before errno is set: a handler that
 * clobbers errno cannot change the caller's.
 */
static ssize_t
answer(enum io_kind k, struct plat_io *c)
{
	ssize_t rc;
	int sigpipe, e;

	c->listening = k == IO_LISTENING;
	rc = plat_unconnected_io(c, &sigpipe);
	if (sigpipe) {
		e = errno;
		(void) pthread_kill(pthread_self(), SIGPIPE);
		errno = e;
	}
	return (rc);
}

/*
 * A msg call's vector.  The count is a size_t (Linux) or an int
 * (illumos); a size_t past LONG_MAX turns negative, which platform.c
 * refuses as the kernel refuses a count past its limit.
 */
static long
msg_iovcnt(const struct msghdr *m)
{
	return ((long)m->msg_iovlen);
}

ssize_t
shim_send(int fd, const void *buf, size_t len, int flags)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.send(fd, buf, len, flags));
	if (k == IO_UDP && (fd = send_fd(&u)) < 0)
		return (-1);
	if (k == IO_UDP && u.so.set != 0)
		return (udp_send_opts(fd, &u, &(struct udp_send){
		    .iov = &(struct iovec){ (void *)buf, len }, .iovcnt = 1,
		    .flags = flags }));
	if (k == IO_UDP)
		return (real.send(fd, buf, len, flags));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_SEND,
	    .flags = flags, .len = len }));
}

ssize_t
shim_recv(int fd, void *buf, size_t len, int flags)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.recv(fd, buf, len, flags));
	if (k == IO_UDP)
		return (udp_recv(fd, buf, len, flags, NULL, NULL, &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_RECV,
	    .flags = flags, .len = len }));
}

/*
 * FIONREAD on a dispatched UDP member: the size of the next datagram, 0
 * with none, as the kernel's UDP socket says (not the size of the
 * record that carries it, nor of every record queued, which some
 * kernels count).  Every other request is the C library's.
 */
int
shim_ioctl(int fd, unsigned long req, void *arg)
{
	struct udp_io u;
	ssize_t n;
	int e = errno;

	shim_init();
	if (!plat_is_fionread(req) || !fdtab_maybe(fd) ||
	    kind_of(fd, NULL, &u) != IO_UDP)
		return (real.ioctl(fd, req, arg));
	if (arg == NULL) {
		errno = EFAULT;
		return (-1);
	}
	n = udp_recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC |
	    plat_recv_dontwait_flag(), NULL, NULL, &u);
	*(int *)arg = n > 0 ? (int)n : 0;
	errno = e;
	return (0);
}

/* A connection-mode socket ignores the address (both kernels). */
ssize_t
shim_sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen, enum shim_variant v)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u))) {
		if (v == SHIM_XNET && real.xnet_sendto != NULL)
			return (real.xnet_sendto(fd, buf, len, flags, to,
			    tolen));
		return (real.sendto(fd, buf, len, flags, to, tolen));
	}
	if (k == IO_UDP && (fd = send_fd(&u)) < 0)
		return (-1);
	if (k == IO_UDP && u.so.set != 0)
		return (udp_send_opts(fd, &u, &(struct udp_send){
		    .iov = &(struct iovec){ (void *)buf, len }, .iovcnt = 1,
		    .to = to, .tolen = tolen, .flags = flags }));
	if (k == IO_UDP)
		return (v == SHIM_XNET && real.xnet_sendto != NULL ?
		    real.xnet_sendto(fd, buf, len, flags, to, tolen) :
		    real.sendto(fd, buf, len, flags, to, tolen));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_SEND,
	    .flags = flags, .len = len }));
}

ssize_t
shim_recvfrom(int fd, void *buf, size_t len, int flags,
    struct sockaddr *from, socklen_t *fromlen)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.recvfrom(fd, buf, len, flags, from, fromlen));
	if (k == IO_UDP)
		return (udp_recv(fd, buf, len, flags, from, fromlen, &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_RECV,
	    .flags = flags, .len = len }));
}

ssize_t
shim_sendmsg(int fd, const void *msg, int flags, enum shim_variant v)
{
	const struct msghdr *m = msg;
	struct udp_io u;
	enum io_kind k;
	int xpg;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u))) {
		if (v == SHIM_XNET && real.xnet_sendmsg != NULL)
			return (real.xnet_sendmsg(fd, m, flags));
		return (real.sendmsg(fd, m, flags));
	}
	if (m == NULL) {
		errno = EFAULT;		/* the header is read first */
		return (-1);
	}
	if (k == IO_UDP && (fd = send_fd(&u)) < 0)
		return (-1);
	/* 4.3BSD's header (illumos): no control, its rights mean nothing. */
	xpg = v == SHIM_XNET || plat_plain_msg_xpg;
	if (k == IO_UDP && u.so.set != 0)
		return (udp_send_opts(fd, &u, &(struct udp_send){
		    .iov = m->msg_iov, .iovcnt = msg_iovcnt(m),
		    .to = m->msg_name, .tolen = m->msg_namelen,
		    .ctl = xpg ? m->msg_control : NULL,
		    .ctllen = xpg ? m->msg_controllen : 0, .flags = flags }));
	if (k == IO_UDP)
		return (v == SHIM_XNET && real.xnet_sendmsg != NULL ?
		    real.xnet_sendmsg(fd, m, flags) :
		    real.sendmsg(fd, m, flags));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_SENDMSG,
	    .flags = flags, .iov = m->msg_iov, .iovcnt = msg_iovcnt(m),
	    .control = m->msg_controllen != 0 }));
}

ssize_t
shim_recvmsg(int fd, void *msg, int flags, enum shim_variant v)
{
	struct msghdr *m = msg;
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u))) {
		if (v == SHIM_XNET && real.xnet_recvmsg != NULL)
			return (real.xnet_recvmsg(fd, m, flags));
		return (real.recvmsg(fd, m, flags));
	}
	if (m == NULL) {
		errno = EFAULT;
		return (-1);
	}
	if (k == IO_UDP)
		return (udp_recvmsg(fd, m, flags, &u, v == SHIM_XNET ||
		    plat_plain_msg_xpg));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_RECVMSG,
	    .flags = flags, .iov = m->msg_iov, .iovcnt = msg_iovcnt(m) }));
}

ssize_t
shim_read(int fd, void *buf, size_t len)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.read(fd, buf, len));
	if (k == IO_UDP)
		return (len == 0 ? 0 : udp_recv(fd, buf, len, 0, NULL, NULL,
		    &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_READ,
	    .len = len }));
}

ssize_t
shim_write(int fd, const void *buf, size_t len)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.write(fd, buf, len));
	if (k == IO_UDP && (fd = send_fd(&u)) < 0)
		return (-1);
	if (k == IO_UDP && u.so.set != 0)
		return (udp_send_opts(fd, &u, &(struct udp_send){
		    .iov = &(struct iovec){ (void *)buf, len }, .iovcnt = 1 }));
	if (k == IO_UDP)
		return (real.write(fd, buf, len));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_WRITE,
	    .len = len }));
}

ssize_t
shim_readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.readv(fd, iov, iovcnt));
	if (k == IO_UDP)
		return (udp_readv(fd, iov, iovcnt, &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_READV,
	    .iov = iov, .iovcnt = iovcnt }));
}

ssize_t
shim_writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.writev(fd, iov, iovcnt));
	/*
	 * Only a vector writev itself would send: one out of range gets
	 * writev's own error, one of nothing sends nothing (Linux's).
	 */
	if (k == IO_UDP && (fd = send_fd(&u)) < 0)
		return (-1);
	if (k == IO_UDP && u.so.set != 0 && iovcnt >= 0 &&
	    iovcnt <= UDP_IOV_KERNEL && udp_iov_total(iov, iovcnt) > 0)
		return (udp_send_opts(fd, &u, &(struct udp_send){
		    .iov = iov, .iovcnt = iovcnt }));
	if (k == IO_UDP)
		return (real.writev(fd, iov, iovcnt));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_WRITEV,
	    .iov = iov, .iovcnt = iovcnt }));
}

/*
 * Where Linux takes the address as "disconnect" (AF_UNSPEC), a listener
 * stops listening: here as after shutdown(SHUT_RD), the owner stops
 * choosing this endpoint and accept() fails with EINVAL.
 */
int
shim_connect(int fd, const struct sockaddr *sa, socklen_t len,
    enum shim_variant v)
{
	struct udp_io u;
	enum io_kind k;
	int family = AF_INET, e;

	shim_init();
	/* The table's answer: connect is no hot path, and it must be sure. */
	if (!fdtab_maybe(fd) || (k = kind_locked(fd, &family, &u)) ==
	    IO_PASS || (k == IO_STREAM && plat_member_connect(family, sa, len,
	    1) != 0)) {
		if (v == SHIM_XNET && real.xnet_connect != NULL)
			return (real.xnet_connect(fd, sa, len));
		return (real.connect(fd, sa, len));
	}
	/* Where it disconnects a listener (Linux), as shutdown(SHUT_RD). */
	if (k == IO_STREAM)
		return (shim_shutdown(fd, SHUT_RD));
	if (k == IO_UDP || k == IO_SHARED) {
		/* Its datagrams come from the owner: a peer cannot choose. */
		shim_log(LOG_LVL_WARN, "connect() on a member of a UDP group "
		    "is not supported (EOPNOTSUPP); use a socket of its own");
		errno = EOPNOTSUPP;
		return (-1);
	}
	if ((e = plat_member_connect(family, sa, len,
	    k == IO_LISTENING)) != 0) {
		errno = e;
		return (-1);
	}
	if (k == IO_LISTENING)
		return (shim_shutdown(fd, SHUT_RD));
	return (0);
}

/*
 * The fortified calls check the length against the buffer first, with
 * the C library's own report and abort: so for a member too.  A C
 * library without them (illumos) has no program that calls them; there
 * the check is made here and the call is the plain one.
 */
static ssize_t
real_read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (real.read_chk != NULL)
		return (real.read_chk(fd, buf, len, buflen));
	if (len > buflen)
		abort();
	return (real.read(fd, buf, len));
}

static ssize_t
real_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (real.recv_chk != NULL)
		return (real.recv_chk(fd, buf, len, buflen, flags));
	if (len > buflen)
		abort();
	return (real.recv(fd, buf, len, flags));
}

static ssize_t
real_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
    struct sockaddr *from, socklen_t *fromlen)
{
	if (real.recvfrom_chk != NULL)
		return (real.recvfrom_chk(fd, buf, len, buflen, flags, from,
		    fromlen));
	if (len > buflen)
		abort();
	return (real.recvfrom(fd, buf, len, flags, from, fromlen));
}

ssize_t
shim_read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (len > buflen || !fdtab_maybe(fd) ||
	    passes(k = kind_of(fd, NULL, &u)))
		return (real_read_chk(fd, buf, len, buflen));
	if (k == IO_UDP)
		return (len == 0 ? 0 : udp_recv(fd, buf, len, 0, NULL, NULL,
		    &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_READ,
	    .len = len }));
}

ssize_t
shim_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (len > buflen || !fdtab_maybe(fd) ||
	    passes(k = kind_of(fd, NULL, &u)))
		return (real_recv_chk(fd, buf, len, buflen, flags));
	if (k == IO_UDP)
		return (udp_recv(fd, buf, len, flags, NULL, NULL, &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_RECV,
	    .flags = flags, .len = len }));
}

ssize_t
shim_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
    struct sockaddr *from, socklen_t *fromlen)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (len > buflen || !fdtab_maybe(fd) ||
	    passes(k = kind_of(fd, NULL, &u)))
		return (real_recvfrom_chk(fd, buf, len, buflen, flags, from,
		    fromlen));
	if (k == IO_UDP)
		return (udp_recv(fd, buf, len, flags, from, fromlen, &u));
	return (answer(k, &(struct plat_io){ .op = PLAT_IO_RECV,
	    .flags = flags, .len = len }));
}

/*
 * Linux's batches: vec is a struct mmsghdr array, whose first member is
 * a struct msghdr.  A TCP member gets the kernel's answer for the first
 * message, as for recvmsg and sendmsg.
 */
int
shim_recvmmsg(int fd, void *vec, unsigned n, int flags, void *timeout)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (real.recvmmsg == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.recvmmsg(fd, vec, n, flags, timeout));
	if (k == IO_UDP)
		return (udp_recvmmsg(fd, vec, n, flags, timeout, &u));
	if (vec == NULL && n > 0) {
		errno = EFAULT;
		return (-1);
	}
	return (n == 0 ? 0 : (int)answer(k, &(struct plat_io){
	    .op = PLAT_IO_RECVMSG, .flags = flags,
	    .iov = ((struct msghdr *)vec)->msg_iov,
	    .iovcnt = msg_iovcnt(vec) }));
}

int
shim_sendmmsg(int fd, void *vec, unsigned n, int flags)
{
	struct udp_io u;
	enum io_kind k;

	shim_init();
	if (real.sendmmsg == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	if (!fdtab_maybe(fd) || passes(k = kind_of(fd, NULL, &u)))
		return (real.sendmmsg(fd, vec, n, flags));
	if (vec == NULL && n > 0) {
		errno = EFAULT;
		return (-1);
	}
	if (k == IO_UDP && (fd = send_fd(&u)) < 0)
		return (-1);
	if (k == IO_UDP && u.so.set != 0)
		return (udp_sendmmsg_opts(fd, &u, vec, n, flags));
	if (k == IO_UDP)
		return (real.sendmmsg(fd, vec, n, flags));
	/* A TCP member: the first message's answer, as the kernel's. */
	return (n == 0 ? 0 : (int)answer(k, &(struct plat_io){
	    .op = PLAT_IO_SENDMSG, .flags = flags,
	    .iov = ((struct msghdr *)vec)->msg_iov,
	    .iovcnt = msg_iovcnt(vec),
	    .control = ((struct msghdr *)vec)->msg_controllen != 0 }));
}
