/*
 * accept.c: accept() and accept4() on an endpoint.
 *
 * One record and its fd come from the owner; the acknowledgement goes
 * back (on the ack board, or as a record) before the fd is returned, so
 * the application never reads a byte of a connection the owner could
 * still hand to someone else.  One whose acknowledgement can no longer
 * reach the owner is not returned at all (settle()).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ackmem.h"
#include "fdflags.h"
#include "fdfast.h"
#include "fdtab.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "shim.h"
#include "udp.h"
#include "util.h"

/*
 * When this thread last returned a connection of a board endpoint: the
 * time until it calls accept() again is how long its application keeps
 * away per connection, which tells round-robin whether a short run to one
 * endpoint is safe (policy.c).  Per thread: in a pool of threads blocked
 * in accept(), another thread's return says nothing of this one's work.
 * The endpoint is known by its mapping's generation, not its address: a
 * new one may be allocated where a closed one was.  Initial-exec TLS
 * where the compiler has it (the library is preloaded, so it may): the
 * general model can allocate on a thread's first use, and accept() must
 * stay async-signal-safe.
 */
#if defined(__GNUC__)
#define	TLS_IE	__attribute__((tls_model("initial-exec")))
#else
#define	TLS_IE
#endif

static _Thread_local TLS_IE struct {
	uint32_t	gen;		/* 0: none */
	uint64_t	us;
} last_take;

/* What accept needs of the endpoint, copied under the lock. */
struct accept_view {
	uint64_t	serial;		/* which sock: see held() */
	int		shut;
	int		tell_idle;	/* leastloaded: by IDLE record */
	int		idle_board;	/* or on the ack board */
	int		mark_reuseport;
	struct ackmem	*ack;		/* held until the connection is acked */
	size_t		ncopy;
	struct sk_copy	copy[SK_COPY_MAX];
};

static void
view(const struct shim_sock *sk, struct accept_view *v)
{
	v->serial = sk->serial;
	v->shut = sk->shut;
	/*
	 * Emulating where the kernel has the option (Linux, in tests): an
	 * accepted socket reports SO_REUSEPORT as its listener had it, as
	 * without the shim.  The owner's listener itself never gets it: the
	 * kernel would let programs outside the shim join the port.
	 */
	v->mark_reuseport = plat_kernel_reuseport && sk->reuseport;
	if ((v->ack = sk->ack) != NULL)
		ackmem_hold(v->ack);
	v->idle_board = sk->tell_idle && v->ack != NULL &&
	    ackmem_idle_ok(v->ack);
	/* By record where the board cannot say it (or stops saying it). */
	v->tell_idle = sk->tell_idle && plat_recv_dontwait_flag() != 0;
	v->ncopy = sk->ncopy;
	memcpy(v->copy, sk->copy, sk->ncopy * sizeof (sk->copy[0]));
}

/*
 * fd is still the endpoint this accept() read from: the same sock (by
 * serial: sock records are reused), which fdtab_get found still referring
 * to what it did.  With the lock held.  Another thread may have closed it
 * meanwhile, and the number may even be another file's now.
 */
static struct shim_sock *
held(int fd, const struct accept_view *v)
{
	struct shim_sock *sk = fdtab_get(fd);

	return (sk != NULL && sk->serial == v->serial &&
	    sk->state == SK_ENDPOINT ? sk : NULL);
}

/*
 * The accepted socket came from the owner's listener, which has none of
 * this member's options: what the kernel's would have inherited from
 * the member's listener is set now, as the application set it.
 */
static void
apply_opts(int cfd, const struct accept_view *v)
{
	if (v->mark_reuseport) {
		int one = 1;

		(void) real.setsockopt(cfd, SOL_SOCKET, plat_so_reuseport, &one,
		    sizeof (one));
	}
	for (size_t i = 0; i < v->ncopy; i++) {
		const struct sk_copy *c = &v->copy[i];

		(void) real.setsockopt(cfd, c->level, c->name, c->val, c->len);
	}
}

/*
 * A socket that is never readable and is no listener: one end of a Unix
 * socket pair whose other end we keep and never write (an unconnected
 * one reports POLLHUP), made once per process, both ends hidden.  Put
 * in place of an endpoint whose group is gone, accept() on it fails with
 * EINVAL as on a socket that does not listen, and poll/epoll never report
 * it readable: an event loop waits quietly instead of spinning on an end
 * of stream (nginx filled its error log with "accept4() failed").
 */
static int
quiet_socket(void)
{
	static int quiet = -1;
	static pid_t quiet_pid;
	pid_t me = getpid();
	int sv[2];

	if (quiet >= 0 && quiet_pid == me && real.fcntl(quiet, F_GETFD) >= 0)
		return (quiet);
	if (socketpair(AF_UNIX, SOCK_STREAM | plat_sock_cloexec, 0, sv) != 0)
		return (quiet = -1);
	(void) fdtab_hide_away(sv[1]);
	quiet = fdtab_hide_away(sv[0]);
	quiet_pid = me;
	return (quiet);
}

void
direct_leave(struct shim_sock *sk)
{
	int q = quiet_socket();

	if (q >= 0)
		fdtab_become(sk, q);
	sk->shut = 1;
	/* Out of the group: its owner sees the connection end. */
	if (sk->ctl >= 0) {
		int ctl = sk->ctl;

		fdtab_hidden_drop(ctl);
		(void) real.close(ctl);
	}
}

/*
 * GONE: the owner ends the group, and sent us its end of this endpoint.
 * Kept, hidden, for as long as this process lives: an endpoint whose
 * other end closes reads end of stream for ever, and an epoll or event
 * port registration of it (on the open file, which other processes, such
 * as nginx's master, hold as well) would wake the application forever,
 * each accept() failing: it spun and filled its log.  Now the record
 * read, nothing is left to read.
 */
static void
keep_peer(int peer)
{
	sigset_t saved;

	if (peer < 0)
		return;
	fdtab_lock(&saved);
	(void) fdtab_hide_away(peer);
	fdtab_unlock(&saved);
}

/* The endpoint ended under us: shut down by us, or the owner is gone. */
static int
ended(int fd)
{
	static atomic_int told;
	struct shim_sock *sk;
	sigset_t saved;
	int shut, q, fdfl;

	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	shut = sk != NULL && sk->shut;
	/* In its place, the quiet socket; the entry goes with the endpoint. */
	if (sk != NULL && !shut && (q = quiet_socket()) >= 0 &&
	    (fdfl = real.fcntl(fd, F_GETFD)) >= 0 &&
	    real.dup2(q, fd) == fd) {
		(void) real.fcntl(fd, F_SETFD, fdfl);
		fdtab_forget(fd);
	}
	fdtab_unlock(&saved);
	if (!shut && atomic_exchange(&told, 1) == 0) {
		shim_log(LOG_LVL_ERROR, "accept: the group's owner process "
		    "is gone; this listener gets no more connections");
	}
	errno = EINVAL;
	return (-1);
}

/*
 * leastloaded: tell the owner this endpoint waits for a connection, once
 * until the next one arrives, so that it is preferred over a busy one.
 */
static void
say_idle(int fd, const struct accept_view *v)
{
	struct proto_rec r;
	struct shim_sock *sk;
	sigset_t saved;
	int tell = 0;

	memset(&r, 0, sizeof (r));
	r.type = REC_IDLE;
	r.arg = ackmem_self();
	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) != NULL && !sk->idle_told) {
		sk->idle_told = 1;
		/* A board, even one no longer said on, kept count. */
		r.seq = v->ack != NULL ? ackmem_last(v->ack) : sk->last_seq;
		tell = 1;
	}
	fdtab_unlock(&saved);
	if (tell)
		(void) proto_send(fd, &r, -1);
}

static void
took(int fd, const struct accept_view *v, uint32_t seq)
{
	struct shim_sock *sk;
	sigset_t saved;

	fdtab_lock(&saved);
	/* Not another socket that took the number meanwhile. */
	if ((sk = held(fd, v)) != NULL) {
		sk->last_seq = seq;
		sk->idle_told = 0;
	}
	fdtab_unlock(&saved);
}

static void
waited(void *m)
{
	ackmem_waited(m);
}

struct recv_call {
	int		fd;
	int		rflags;
	struct proto_rec *rec;
	int		*cfd;
};

static ssize_t
recv_one(void *arg)
{
	struct recv_call *c = arg;

	return (proto_recv(c->fd, c->rec, c->cfd, c->rflags));
}

/*
 * One record from the endpoint, saying first that we wait: on the board,
 * before every wait (a few atomics; true whenever we wait, as we have
 * then taken every connection sent to us), or by record, once we know.
 */
static int
next_record(int fd, const struct accept_view *v, int rflags,
    struct proto_rec *rec, int *cfd)
{
	int n;

	if (v->idle_board && ackmem_wait(v->ack) == 0) {
		struct recv_call c = { fd, rflags, rec, cfd };

		/* accept() is a cancellation point: count the wait out. */
		return ((int)plat_with_cleanup(recv_one, &c, waited, v->ack));
	}
	if (!v->tell_idle)
		return (proto_recv(fd, rec, cfd, rflags));
	n = proto_recv(fd, rec, cfd, rflags | plat_recv_dontwait_flag());
	if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		return (n);
	say_idle(fd, v);
	return (proto_recv(fd, rec, cfd, rflags));
}

enum sent {
	SEND_OK,		/* read by the owner before the stream ends */
	SEND_NOT_HELD,		/* fd is no longer this endpoint: not sent */
	SEND_PEER_CLOSED,	/* the owner's end is closed */
	SEND_FAILED		/* another error */
};

/*
 * An ACK record for seq on fd, only while fd is this endpoint: the check
 * and the send both under the table lock, so that no close() in another
 * thread comes in between (shim_close forgets the entry under the lock
 * before it closes the fd) and no record reaches a file that took the
 * number.  Under the lock the send must not wait: while the owner's end
 * is full, room is waited for outside it (or, wait 0, not at all).
 * Where a send ignores MSG_DONTWAIT (illumos), a poll under the lock
 * says whether there is room: else every tracked call of the process
 * waited for an owner that reads no more.  *shut: the endpoint was shut
 * down.
 */
/* A send on fd would not wait: it has MSG_DONTWAIT, or room now. */
static int
room(int fd)
{
	struct pollfd pfd;
	int e = errno;

	if (plat_send_dontwait_flag() != 0)
		return (1);
	pfd.fd = fd;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 0) {
		errno = e;
		return (0);
	}
	errno = e;
	return (1);	/* room, an error, a hang-up: the send says which */
}

static enum sent
send_ack(int fd, const struct accept_view *v, uint32_t seq, int wait,
    int *shut)
{
	uint8_t buf[PROTO_REC_SIZE];
	struct proto_rec ack;
	struct shim_sock *sk;
	struct pollfd pfd;
	struct msghdr mh;
	struct iovec iov;
	sigset_t saved;
	ssize_t n;
	int err;

	memset(&ack, 0, sizeof (ack));
	ack.type = REC_ACK;
	ack.seq = seq;
	ack.arg = ackmem_self();	/* who accepts, for stat */
	proto_encode(&ack, buf);
	for (;;) {
		iov.iov_base = buf;
		iov.iov_len = sizeof (buf);
		memset(&mh, 0, sizeof (mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		fdtab_lock(&saved);
		if ((sk = held(fd, v)) == NULL) {
			fdtab_unlock(&saved);
			return (SEND_NOT_HELD);
		}
		*shut = sk->shut;
		if (room(fd)) {
			n = real_sendmsg_xpg(fd, &mh,
			    plat_send_nosignal_flag() |
			    plat_send_dontwait_flag());
			err = errno;
		} else {
			n = -1;
			err = EAGAIN;
		}
		fdtab_unlock(&saved);
		if (n == (ssize_t)sizeof (buf))
			return (SEND_OK);
		if (n >= 0)
			/* Cut short: see settle(). */
			return (SEND_PEER_CLOSED);
		if (err == EINTR)
			continue;
		if ((err == EAGAIN || err == EWOULDBLOCK) && wait) {
			/* A closed or reused fd is found out above. */
			pfd.fd = fd;
			pfd.events = POLLOUT;
			pfd.revents = 0;
			(void) poll(&pfd, 1, 100);
			continue;
		}
		return (err == EPIPE || err == ECONNRESET || err == ENOTCONN ?
		    SEND_PEER_CLOSED : SEND_FAILED);
	}
}

/*
 * Connection seq came on fd (prev: CONN's arg): acknowledge it, and say
 * whether it is ours to return (0) or what accept() fails with instead
 * (the caller closes it).
 *
 * Another thread may close the endpoint while this one waits in recvmsg.
 * Linux lets an accept() on a listener closed under it go on (the socket
 * lives until the call returns) and return a connection that comes; so
 * does the shim, as long as the owner learns that this connection is
 * taken.  Once it cannot (the slot was retired first, or there is no
 * board and the fd is gone), the owner hands the connection on: it saw
 * the endpoint end and took back what had not been acknowledged.
 * Returned here as well, it would be served twice.  Instead it is closed,
 * and accept() fails as a call on that fd now would: EBADF; or EINVAL
 * (a listener shut down) where the application shut the endpoint down
 * for reading, after which the owner's next send fails and it hands on
 * what had not been acknowledged.
 *
 * An endpoint still held and not shut down was not ended by this
 * process: if its slot reads retired, the owner ejected it (what was
 * queued to it stays its own), or something wrote the slot; a record
 * then settles it either way.  Left open: a member whose endpoint a
 * forked process shares and shuts down (this one does not know it is
 * shut), and one without a board that shut it down itself and acks the
 * moment the owner gives up on it (a record it sent may go unread).
 */
static int
settle(int fd, const struct accept_view *v, uint32_t prev, uint32_t seq)
{
	int said, shut = 0;

	said = v->ack != NULL ? ackmem_ack(v->ack, prev, seq) : ACKMEM_RECORD;
	if (said == ACKMEM_ACKED)
		return (0);
	if (said == ACKMEM_WAKE) {
		/*
		 * Only to wake the owner, which must let go of its copy for
		 * the application's close() to end the connection: the
		 * board has it.  If the record cannot go, the next member
		 * to ack must wake it instead.
		 */
		if (send_ack(fd, v, seq, 0, &shut) != SEND_OK)
			ackmem_rewake(v->ack);
		return (0);
	}
	switch (send_ack(fd, v, seq, 1, &shut)) {
	case SEND_NOT_HELD:
		return (EBADF);
	case SEND_PEER_CLOSED:
		/*
		 * The owner is gone or ejected this endpoint (a record cut
		 * short, which breaks the stream, has it do so): either way
		 * the connection is ours to keep.  Unless the endpoint was
		 * shut down: then the owner's send failed and it handed on.
		 */
		return (shut ? EINVAL : 0);
	default:
		/* SEND_OK: read before the end of the stream, which we hold. */
		return (said == ACKMEM_RETIRED && shut ? EINVAL : 0);
	}
}

/*
 * Out of fds, the kernel dropped the connection's fd on its way to us:
 * the owner still holds its copy and gives it to another member, and
 * accept() fails with EMFILE as the kernel's would, the application to
 * retry.  (Kept back instead, the client would wait forever.)
 */
static void
give_back(int fd, uint32_t seq)
{
	struct proto_rec r;
	int saved = errno;

	memset(&r, 0, sizeof (r));
	r.type = REC_RETURN;
	r.seq = seq;
	(void) proto_send(fd, &r, -1);
	errno = saved;
}

void
accept_bits_sys(struct accept_bits *b)
{
	b->sock_cloexec = plat_sock_cloexec;
	b->sock_nonblock = plat_sock_nonblock;
#ifdef SOCK_NDELAY
	b->sock_ndelay = SOCK_NDELAY;
#else
	b->sock_ndelay = 0;
#endif
#if defined(SOCK_CLOFORK) && defined(FD_CLOFORK)
	b->sock_clofork = SOCK_CLOFORK;
	b->fd_clofork = FD_CLOFORK;
#else
	b->sock_clofork = 0;
	b->fd_clofork = 0;
#endif
	b->fd_cloexec = FD_CLOEXEC;
	b->o_nonblock = O_NONBLOCK;
	b->o_ndelay = PLAT_O_NDELAY;
	b->inherit = plat_accept_inherits_nonblock;
}

/* The kernel refuses any bit it does not know (illumos: SOCK_KNOWN_FLAGS). */
int
accept_flags_check(const struct accept_bits *b, int flags)
{
	int known = b->sock_cloexec | b->sock_nonblock | b->sock_ndelay |
	    b->sock_clofork;

	return ((flags & ~known) != 0 ? EINVAL : 0);
}

int
accept_fd_flags(const struct accept_bits *b, int flags)
{
	int fdfl = 0;

	if (b->sock_cloexec != 0 && (flags & b->sock_cloexec))
		fdfl |= b->fd_cloexec;
	if (b->sock_clofork != 0 && (flags & b->sock_clofork))
		fdfl |= b->fd_clofork;
	return (fdfl);
}

/*
 * As illumos's accept(): the flags asked for and, where inherited, the
 * listener's; O_NONBLOCK from either wins over O_NDELAY (one of the two
 * only, as F_SETFL keeps).
 */
int
accept_fl_flags(const struct accept_bits *b, int flags, int lfl)
{
	int nb = b->sock_nonblock != 0 && (flags & b->sock_nonblock);
	int nd = b->sock_ndelay != 0 && (flags & b->sock_ndelay);

	if (b->inherit) {
		nb = nb || (lfl & b->o_nonblock);
		nd = nd || (lfl & b->o_ndelay);
	}
	if (nb)
		return (b->o_nonblock);
	return (nd ? b->o_ndelay : 0);
}

/* The checks the kernel makes before it waits: EINVAL, EFAULT. */
static int
bad_args(const struct accept_bits *b, const struct accept_view *v,
    struct sockaddr *sa, socklen_t *len, int flags, int is_accept4)
{
	if (is_accept4 && accept_flags_check(b, flags) != 0)
		return (EINVAL);
	if (v->shut)
		return (EINVAL);
	if (sa != NULL && len == NULL)
		return (EFAULT);
	if (sa != NULL && (int)*len < 0)
		return (EINVAL);
	return (0);
}

int
shim_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags,
    int is_accept4)
{
	struct accept_bits b;
	struct accept_view v;
	struct fdfast_ent ff;
	struct sockaddr_storage ss;
	struct proto_rec rec;
	struct shim_sock *sk;
	sigset_t saved;
	socklen_t sl;
	int cfd, n, err, fdfl, rflags, fl, lfl = 0, saved_errno = errno;

	shim_init();
	/* Not ours, or the group's listener itself (the shared way). */
	if (!fdtab_maybe(fd) || (fdfast_get(fd, &ff) &&
	    (ff.flags & FDFAST_SHARED)))
		goto real_call;
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	/* A UDP member: the kernel's EOPNOTSUPP, from its fd. */
	if (sk == NULL || sk->state == SK_OPT || sk->state == SK_DIRECT) {
		fdtab_unlock(&saved);
		goto real_call;
	}
	if (sk->state == SK_MEMBER) {
		/* Bound, not listening (the real socket may be the listener) */
		fdtab_unlock(&saved);
		errno = EINVAL;
		return (-1);
	}
	view(sk, &v);
	fdtab_unlock(&saved);

	accept_bits_sys(&b);
	if ((err = bad_args(&b, &v, sa, len, flags, is_accept4)) != 0) {
		n = -1;
		goto out;
	}
	/*
	 * The kernel sets the fd flags as it makes the fd; recvmsg does
	 * where it can, so that a fork or exec in another thread meanwhile
	 * cannot leak the connection.
	 */
	fdfl = accept_fd_flags(&b, flags);
	rflags = (fdfl & b.fd_cloexec) ? plat_recv_cloexec_flag() : 0;
#ifdef MSG_CMSG_CLOFORK
	if (fdfl & b.fd_clofork)
		rflags |= MSG_CMSG_CLOFORK;
#endif
	if (v.ack != NULL && last_take.gen == ackmem_gen(v.ack)) {
		ackmem_busy(v.ack, util_now_us() - last_take.us);
		last_take.gen = 0;	/* time waiting here is not work */
	}
	for (;;) {
		memset(&rec, 0, sizeof (rec));
		n = next_record(fd, &v, rflags, &rec, &cfd);
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			/*
			 * Only a record we read whole names the connection
			 * (illumos fails the whole recvmsg instead, and the
			 * record is gone with it: nothing to name).
			 */
			if (n < 0 && err == EMFILE && rec.type == REC_CONN)
				give_back(fd, rec.seq);
			goto out;
		}
		if (rec.type == REC_CONN)
			break;
		if (rec.type == REC_GONE) {
			keep_peer(cfd);
			n = 0;
			goto out;
		}
	}
	err = settle(fd, &v, (uint32_t)rec.arg, rec.seq);
	if (v.ack != NULL) {
		if (err == 0) {
			last_take.gen = ackmem_gen(v.ack);
			last_take.us = util_now_us();
		}
		ackmem_release(v.ack);
	}
	if (err != 0) {
		(void) real.close(cfd);	/* handed on: not ours to return */
		errno = err;
		return (-1);
	}
	if (v.tell_idle && (!v.idle_board || !ackmem_idle_ok(v.ack)))
		took(fd, &v, rec.seq);

	/*
	 * FD_CLOFORK again even if MSG_CMSG_CLOFORK was passed: a kernel
	 * older than close-on-fork ignores that flag.  F_SETFD sets both.
	 */
	if (((fdfl & b.fd_cloexec) && plat_recv_cloexec_flag() == 0) ||
	    (fdfl & b.fd_clofork))
		(void) real.fcntl(cfd, F_SETFD, fdfl);
	/*
	 * The file status flags, as the kernel's accept sets them: on
	 * illumos the endpoint's O_NONBLOCK or O_NDELAY (the application
	 * sets them on it as on its listener) carry over.  The fd arrives
	 * as the owner's accept made it, which on illumos may have taken the
	 * owner's listener's: there, always set.
	 */
	if (b.inherit && (lfl = real.fcntl(fd, F_GETFL)) < 0)
		lfl = 0;
	if ((fl = accept_fl_flags(&b, flags, lfl)) != 0 || b.inherit)
		(void) real.fcntl(cfd, F_SETFL, fl);
	apply_opts(cfd, &v);
	if (sa != NULL) {
		sl = proto_addr_to_sockaddr(&rec.addr, &ss);
		(void) util_addr_out(sa, len, &ss, sl);
	}
	errno = saved_errno;
	return (cfd);

out:
	if (v.ack != NULL) {
		if (n < 0 && err == EPROTO)
			ackmem_off(v.ack);
		ackmem_release(v.ack);
	}
	if (n == 0)
		return (ended(fd));
	if (err == EPROTO) {
		shim_log(LOG_LVL_ERROR, "accept: invalid record from the "
		    "group's owner");
		err = EINVAL;
	}
	errno = err;
	return (-1);

real_call:
	return (is_accept4 ? real.accept4(fd, sa, len, flags) :
	    real.accept(fd, sa, len));
}
