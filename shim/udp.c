/*
 * udp.c: a direct member (a UDP group's, or a shared TCP group's):
 * joining (direct_install) and, in UDP's dispatched ways, receiving
 * (udp.h says how the ways differ).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "config.h"
#include "dgram.h"
#include "fdtab.h"
#include "inherit.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "udp.h"
#include "util.h"

/* An application's vector with the header's entry: on the stack up to. */
#define	UDP_IOV_SMALL	64

/*
 * The dispatched way's DGRAM record: the member's end of its pair, and
 * into *features its PROTO_DGRAM_* (proto.h).
 */
static int
dgram_end(int ctl, int *features)
{
	struct proto_rec r;
	int fd = -1;

	/*
	 * No record: the owner ended, or had no fd for our queue, after its
	 * welcome; the group could not be joined (and a stale errno must
	 * not pass for the answer).
	 */
	if (util_wait_fd(ctl, POLLIN,
	    util_deadline(UTIL_REPLY_TIMEOUT_MS)) != 0 ||
	    proto_recv(ctl, &r, &fd, 0) != 1) {
		shim_log(LOG_LVL_ERROR, "the UDP group's owner did not hand "
		    "this member its queue");
		errno = EADDRINUSE;
		return (-1);
	}
	*features = r.arg;
	if (r.type != REC_DGRAM || fd < 0) {
		if (fd >= 0)
			(void) real.close(fd);
		errno = EPROTO;
		return (-1);
	}
	return (fd);
}

/*
 * A TCP member of the shared way: what the application set before bind
 * on its socket (from) goes onto the group's listener, which is its
 * listener now: what accepted sockets inherit (inherit_copies' list),
 * and the listener's own options (TCP_DEFER_ACCEPT...).  Every member's
 * join sets them, as any member's setsockopt would after.  The lock held.
 */
static void
shared_tcp_opts(struct shim_sock *sk, int from, int listener)
{
	int fresh, level, name, a, b;

	sk->shadow = from;
	inherit_copies(sk);
	sk->shadow = -1;
	for (size_t i = 0; i < sk->ncopy; i++) {
		const struct sk_copy *c = &sk->copy[i];

		(void) real.setsockopt(listener, c->level, c->name, c->val,
		    c->len);
	}
	sk->ncopy = 0;
	if ((fresh = socket(sk->family, SOCK_STREAM | plat_sock_cloexec,
	    0)) < 0)
		return;
	for (size_t i = 0; plat_opt_on_listener_nth(i, &level, &name) == 0;
	    i++) {
		socklen_t al = sizeof (a), bl = sizeof (b);

		if (real.getsockopt(from, level, name, &a, &al) == 0 &&
		    real.getsockopt(fresh, level, name, &b, &bl) == 0 &&
		    al == sizeof (int) && (bl != al || a != b))
			(void) real.setsockopt(listener, level, name, &a, al);
	}
	(void) real.close(fresh);
}

/*
 * The shared way: the group's one socket holds at least what this
 * member asked for before bind (a burst it cannot hold is lost before
 * anyone reads) at once; the owner makes it the sum of its members'
 * (those of an earlier build counted as a new socket's), told by each.
 */
static void
shared_rcvbuf(int fd, int sockfd)
{
	plat_rcvbuf_grow(sockfd, plat_rcvbuf(fd));
}

int
direct_install(int fd, int ctl, const struct sockaddr_storage *ss,
    socklen_t len, const struct proto_rec *welcome, int sockfd, int dgram)
{
	struct shim_sock *sk;
	int shared = welcome->arg == SHIM_POLICY_SHARED;
	/* Shared, the owner takes our buffer: seq's other bits count. */
	int first = (welcome->seq & ~WELCOME_TAKES_TELLS) == 0;
	int data = -1, out = -1, shadow = -1, fl, own, e, features = 0;
	int t = -1, rcvbuf = 0, dflt = -1;
	unsigned want = 0;
	sigset_t saved;

	if (shared) {
		data = sockfd;
	} else if ((data = dgram_end(ctl, &features)) < 0 ||
	    (out = real.fcntl(sockfd, F_DUPFD_CLOEXEC, 3)) < 0) {
		e = errno;
		if (data >= 0)
			(void) real.close(data);
		errno = e;
		return (-1);
	}
	if (shared && dgram && (welcome->seq & WELCOME_TAKES_TELLS))
		features |= PROTO_DGRAM_RCVBUF;
	/* The buffer the owner counts an untold member at: a new socket's. */
	if (features & PROTO_DGRAM_RCVBUF)
		dflt = plat_rcvbuf_default(ss->ss_family);
	fdtab_lock(&saved);
	if ((sk = fdtab_get_or_new(fd, ss->ss_family)) == NULL)
		goto fail;
	if (shared && dgram) {
		/* The receive reports it asked for, on the group's socket. */
		plat_udp_opts_copy(fd, sockfd);
		shared_rcvbuf(fd, sockfd);
		/*
		 * Its own buffer, which it reads back, kept on its own socket
		 * as a shadow (one open file for its forks, carried across
		 * exec), and tells the owner: the group's socket holds the
		 * members' sum (sockopt.c shared_buf).
		 */
		sk->tell_rcvbuf = (features & PROTO_DGRAM_RCVBUF) != 0;
		sk->rcvbuf = plat_rcvbuf(fd);
		if (sk->tell_rcvbuf &&
		    (shadow = real.fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
			shim_log(LOG_LVL_WARN, "no fd to keep this shared "
			    "member's own SO_RCVBUF (%s): it is set on the "
			    "group's socket, where the last one wins",
			    strerror(errno));
	} else if (shared) {
		shared_tcp_opts(sk, fd, sockfd);
	} else if ((shadow = real.fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		goto fail;
	} else {
		plat_pktinfo_dup(fd, shadow);
	}
	/*
	 * File status flags: shared, they are the group's, one open file
	 * for all members; the first member's stand.
	 */
	fl = real.fcntl(fd, F_GETFL);
	if (fl >= 0 && (!shared || first))
		(void) real.fcntl(data, F_SETFL, fl);
	else if (fl >= 0 && (real.fcntl(data, F_GETFL) ^ fl) & O_NONBLOCK)
		shim_log(LOG_LVL_WARN, "the shared way: this member's "
		    "O_NONBLOCK differs from the group's socket, which all "
		    "members share; the group's stands");
	/* Shared, SIGIO goes to the first member's owner, not the last's. */
	if ((own = real.fcntl(fd, F_GETOWN)) != 0 && own != -1 &&
	    (!shared || first))
		(void) real.fcntl(data, F_SETOWN, own);
	/* What a receive waits on, and what a send may do, come along. */
	if (!shared)
		plat_udp_member_opts(fd, data, out);
	fdtab_become(sk, data);
	if (!shared)
		plat_pktinfo_forget(fd, fd);	/* the member's queue now */
	if (shadow >= 0 && shared) {
		sk->shadow = fdtab_hide_away(shadow);
	} else if (shadow >= 0) {
		/* A specific IPv6 address reads IPV6_V6ONLY 1, as bound. */
		plat_shadow_bound(shadow, (const struct sockaddr *)ss);
		sk->shadow = fdtab_hide_away(shadow);
		sk->pktinfo = plat_pktinfo_asked(sk->shadow);
		plat_sendopts_read(sk->shadow, ss->ss_family, &sk->so);
		sk->tell_reports = (features & PROTO_DGRAM_REPORTS) != 0;
		sk->tell_rcvbuf = (features & PROTO_DGRAM_RCVBUF) != 0;
		sk->rcvbuf = plat_rcvbuf(sk->shadow);
	}
	if (out >= 0)
		sk->out = fdtab_hide_away(out);
	sk->ctl = fdtab_hide_away(ctl);
	sk->state = SK_DIRECT;
	sk->way = welcome->arg;
	sk->dgram = dgram;
	sk->family = ss->ss_family;
	memcpy(&sk->addr, ss, len);
	sk->addrlen = len;
	/* Its buffer, told before a burst can overflow it. */
	if (sk->tell_rcvbuf && sk->rcvbuf != dflt)
		t = udp_tell_copy(sk);
	want = sk->pktinfo;
	rcvbuf = sk->rcvbuf;
	fdtab_unlock(&saved);
	if (!shared)
		(void) real.close(data);
	if (t >= 0)
		udp_tell_owner(fd, t, want, rcvbuf);
	return (0);
fail:
	fdtab_unlock(&saved);
	if (!shared)
		(void) real.close(data);
	if (out >= 0)
		(void) real.close(out);
	errno = ENOMEM;
	return (-1);
}

static void
tell(int ctl, unsigned want, int rcvbuf)
{
	struct proto_rec rec, rep;
	int fd = -1, saved = errno;

	/* A late answer to an earlier ask that timed out: not this one's. */
	while (proto_recv(ctl, &rep, &fd, plat_recv_dontwait_flag()) == 1) {
		if (fd >= 0)
			(void) real.close(fd);
		fd = -1;
	}
	memset(&rec, 0, sizeof (rec));
	rec.type = REC_SETOPT;
	rec.nopts = 2;
	rec.opts[0] = (int32_t)(want & PLAT_PKT_REPORTS);
	rec.opts[1] = rcvbuf;
	if (util_request(ctl, &rec, REC_SETOPT, &rep) != 0)
		shim_log(LOG_LVL_WARN, "the UDP group's owner did not say it "
		    "took what this member asks (TTL, TOS, its receive "
		    "buffer): %s", strerror(errno));
	errno = saved;
}

int
udp_tell_copy(const struct shim_sock *sk)
{
	int t;

	if (sk->ctl < 0 || (t = real.fcntl(sk->ctl, F_DUPFD_CLOEXEC, 3)) < 0)
		return (-1);
	return (fdtab_hide_away(t));
}

void
udp_tell_owner(int fd, int t, unsigned want, int rcvbuf)
{
	struct shim_sock *sk;
	sigset_t saved;

	for (int tries = 0; ; tries++) {
		tell(t, want, rcvbuf);
		fdtab_lock(&saved);
		sk = fdtab_get(fd);
		if (sk == NULL || sk->state != SK_DIRECT || tries == 3 ||
		    (!((sk->pktinfo ^ want) & PLAT_PKT_REPORTS) &&
		    sk->rcvbuf == rcvbuf)) {
			/* A dup2 onto it meanwhile: the number is the app's */
			if (fdtab_hidden(t)) {
				fdtab_hide(t, 0);
				(void) real.close(t);
			}
			fdtab_unlock(&saved);
			return;
		}
		want = sk->pktinfo;
		rcvbuf = sk->rcvbuf;
		fdtab_unlock(&saved);
	}
}

/* The source, as recvfrom writes it: truncated to the room, full length. */
static void
name_out(struct msghdr *m, const struct proto_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (m->msg_name == NULL)
		return;
	sl = proto_addr_to_sockaddr(src, &ss);
	memcpy(m->msg_name, &ss, (size_t)m->msg_namelen < sl ?
	    (size_t)m->msg_namelen : sl);
	m->msg_namelen = sl;
}

int
udp_shutdown(int fd, struct shim_sock *sk, int how)
{
	int rc, e;

	if (sk->shadow < 0) {
		errno = ENOTCONN;
		return (-1);
	}
	rc = real.shutdown(sk->shadow, how);
	e = errno;
	if (rc == 0 || (e == ENOTCONN && plat_shutdown_unconnected)) {
		/* Its queue: poll then says what the kernel's would. */
		(void) real.shutdown(fd, how);
		if (how == SHUT_RD || how == SHUT_RDWR)
			sk->shut |= UDP_SHUT_RD;
		if (how == SHUT_WR || how == SHUT_RDWR)
			sk->shut |= UDP_SHUT_WR;
		fdtab_changed();
	}
	errno = e;
	return (rc);
}

/*
 * The group fd belongs to ended (reuseport-shim stop): the group's
 * socket, which kept the port, goes; sends fail from now on.
 */
static void
udp_ended(int fd)
{
	struct shim_sock *sk;
	sigset_t saved;
	int out = -1;

	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) != NULL && sk->state == SK_DIRECT &&
	    sk->out >= 0) {
		out = sk->out;
		fdtab_hidden_drop(out);
	}
	fdtab_unlock(&saved);
	if (out >= 0) {
		(void) real.close(out);
		shim_log(LOG_LVL_WARN, "the UDP group ended (reuseport-shim "
		    "stop): no more datagrams, sends fail with ENOTCONN");
	}
}

/*
 * One control message into m's buffer at *used, as Linux's put_cmsg:
 * whole if CMSG_LEN fits, else cut to the room with MSG_CTRUNC (nothing
 * without room for a header); the padding up to CMSG_SPACE as it fits.
 */
static void
cmsg_put(struct msghdr *m, size_t *used, int level, int type,
    const void *data, size_t n)
{
	size_t room = (size_t)m->msg_controllen - *used, len = CMSG_LEN(n);
	struct cmsghdr c;
	char *at = (char *)m->msg_control + *used;

	if (m->msg_control == NULL || room < sizeof (c)) {
		m->msg_flags |= MSG_CTRUNC;
		return;
	}
	if (room < len) {
		m->msg_flags |= MSG_CTRUNC;
		len = room;
	}
	memset(&c, 0, sizeof (c));
	c.cmsg_level = level;
	c.cmsg_type = type;
	c.cmsg_len = len;
	memcpy(at, &c, sizeof (c));
	memcpy(CMSG_DATA((struct cmsghdr *)(void *)at), data,
	    len > CMSG_LEN(0) ? len - CMSG_LEN(0) : 0);
	*used += CMSG_SPACE(n) < room ? CMSG_SPACE(n) : room;
}

/*
 * Into m's control buffer, the reports the application asked for: the
 * arrival time as its queue gave it (the member's SO_TIMESTAMP there:
 * when the owner forwarded it), first, as the kernel's; else the time
 * now (plat_queue_stamps), where the platform puts it; then the owner's.
 */
static void
pktinfo_out(struct msghdr *m, unsigned want, const struct dgram_hdr *h,
    const struct msghdr *own)
{
	unsigned char data[PLAT_PKTINFO_MAX];
	struct timespec now, *stamp = NULL;
	size_t n, used = 0;
	int level, type;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(own); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)own, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type != SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(0))
			cmsg_put(m, &used, c->cmsg_level, c->cmsg_type,
			    CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0));
	}
	if ((want & PLAT_PKT_STAMPS) && used == 0 &&
	    clock_gettime(CLOCK_REALTIME, &now) == 0)
		stamp = &now;
	for (int k = 0; want != 0 && (n = plat_pktinfo_make(want, h, stamp,
	    k, &level, &type, data)) != 0; k++)
		cmsg_put(m, &used, level, type, data, n);
	m->msg_controllen = used;
}

/*
 * The file a datagram's payload came in (dgram.h in_file), taken out of
 * dm's control messages (and the application never sees it); -1 if
 * none came.  Any other fd is closed.
 */
static int
take_file(struct msghdr *dm)
{
	int n, f = proto_only_fd(dm, &n);

	if (n > 1)
		proto_close_fds(dm);
	return (f);
}

/* Up to len bytes of file f into m's vector: how many. */
static size_t
from_file(int f, const struct msghdr *m, size_t len)
{
	size_t got = 0;

	for (size_t i = 0; i < (size_t)m->msg_iovlen && got < len; i++) {
		size_t want = m->msg_iov[i].iov_len < len - got ?
		    m->msg_iov[i].iov_len : len - got, off = 0;
		ssize_t r;

		while (off < want && ((r = pread(f,
		    (uint8_t *)m->msg_iov[i].iov_base + off, want - off,
		    (off_t)(got + off))) > 0 || (r < 0 && errno == EINTR)))
			off += r > 0 ? (size_t)r : 0;
		got += off;
		if (off < want)
			break;
	}
	return (got);
}

/* udp_recvmsg, the header's room and m's vector in iov. */
static ssize_t
recv_into(int fd, struct msghdr *m, int flags, const struct udp_io *u,
    int xpg, struct iovec *iov)
{
	uint8_t hb[DGRAM_HDR_SIZE];
	struct dgram_hdr h;
	struct msghdr dm;
	/*
	 * The time it came, where the application asked (SO_TIMESTAMP), and
	 * a large datagram's file.
	 */
	union {
		struct cmsghdr	hdr;
		unsigned char	b[64 + CMSG_SPACE(sizeof (int))];
	} ctl;
	ssize_t r;
	size_t copied;
	int e, file, saved = errno;

	iov[0].iov_base = hb;
	iov[0].iov_len = sizeof (hb);
	for (size_t i = 0; i < (size_t)m->msg_iovlen; i++)
		iov[i + 1] = m->msg_iov[i];
	memset(&dm, 0, sizeof (dm));
	dm.msg_iov = iov;
	dm.msg_iovlen = m->msg_iovlen + 1;
	for (;;) {
		dm.msg_control = ctl.b;
		dm.msg_controllen = sizeof (ctl.b);
		r = real_recvmsg_xpg(fd, &dm, (flags & ~MSG_TRUNC) |
		    plat_recv_cloexec_flag());
		/*
		 * A datagram in a file, and no fd left for it: illumos fails
		 * the call (a peek leaves the datagram, which is taken now);
		 * the datagram is lost, as one the kernel had no room for.
		 */
		if (r < 0 && (errno == EMFILE || errno == ENFILE)) {
			if ((flags & MSG_PEEK) && real.recv(fd, hb, sizeof (hb),
			    MSG_DONTWAIT) < 0)
				return (-1);
			errno = saved;
			continue;
		}
		if (r < 0)
			return (-1);
		file = dm.msg_controllen > 0 ? take_file(&dm) : -1;
		/* Before 2024 illumos gave no close-on-exec with it. */
		if (file >= 0 && plat_recv_cloexec_flag() == 0)
			(void) real.fcntl(file, F_SETFD, FD_CLOEXEC);
		e = (size_t)r >= sizeof (hb) ? dgram_decode(hb, &h) : -1;
		if (e == 0 && h.in_file && file >= 0) {
			copied = from_file(file, m, h.len);
			(void) real.close(file);
			break;
		}
		if (file >= 0)
			(void) real.close(file);
		if (e == 0 && !h.in_file) {
			copied = (size_t)r - sizeof (hb);
			break;
		}
		if (e == 1) {
			/* The group ended: its socket goes; nothing comes. */
			if (!(flags & MSG_PEEK) ||
			    real.recv(fd, hb, sizeof (hb), MSG_DONTWAIT) >= 0)
				udp_ended(fd);
			continue;
		}
		/*
		 * Not a datagram of ours (never, from our owner), or one whose
		 * file did not come (we are out of fds): skip it.
		 */
		if (r == 0)
			return (0);
		if ((flags & MSG_PEEK) && real.recv(fd, hb, sizeof (hb),
		    MSG_DONTWAIT) < 0)
			return (-1);
	}
	name_out(m, &h.src);
	if (!xpg) {
		m->msg_controllen = 0;		/* msg_accrightslen */
	} else {
		m->msg_flags = h.len > copied ? MSG_TRUNC : 0;
		pktinfo_out(m, u->pktinfo, &h, &dm);
	}
	errno = saved;
	/* MSG_TRUNC asked: the datagram's length, as Linux's UDP says. */
	return ((flags & MSG_TRUNC) ? (ssize_t)h.len : (ssize_t)copied);
}

/*
 * udp_recvmsg of a vector as long as the kernel takes (Linux's 1024,
 * illumos's 16 for the msg calls): with the header's entry it would be
 * one too many (refused, where the kernel takes it), so its last
 * entries share one buffer, copied out after.
 */
static ssize_t
recv_merged(int fd, struct msghdr *m, int flags, const struct udp_io *u,
    int xpg)
{
	size_t keep = (size_t)plat_msg_iov_max - 2, direct, blen, placed;
	size_t n = (size_t)m->msg_iovlen, k, off;
	struct iovec *vec, *iov;
	struct msghdr m2;
	uint8_t *bounce;
	ssize_t r;
	int e;

	direct = udp_iov_total(m->msg_iov, (int)keep);
	blen = udp_iov_total(m->msg_iov + keep, (int)(n - keep));
	if (blen > DGRAM_MAX)
		blen = DGRAM_MAX;	/* more than any datagram brings */
	vec = malloc((keep + 1 + keep + 2) * sizeof (*vec));
	bounce = malloc(blen > 0 ? blen : 1);
	if (vec == NULL || bounce == NULL) {
		free(vec);
		free(bounce);
		errno = ENOMEM;
		return (-1);
	}
	iov = vec + keep + 1;
	memcpy(vec, m->msg_iov, keep * sizeof (*vec));
	vec[keep].iov_base = bounce;
	vec[keep].iov_len = blen;
	/* Field by field: without xpg, m is 4.3BSD's, which has no flags. */
	memset(&m2, 0, sizeof (m2));
	m2.msg_name = m->msg_name;
	m2.msg_namelen = m->msg_namelen;
	m2.msg_control = m->msg_control;
	m2.msg_controllen = m->msg_controllen;
	m2.msg_iov = vec;
	m2.msg_iovlen = keep + 1;
	r = recv_into(fd, &m2, flags, u, xpg, iov);
	e = errno;
	if (r >= 0) {
		m->msg_namelen = m2.msg_namelen;
		m->msg_controllen = m2.msg_controllen;
		if (xpg)
			m->msg_flags = m2.msg_flags;
		/* MSG_TRUNC asked: r is the datagram's length, not what came */
		placed = (size_t)r < direct + blen ? (size_t)r : direct + blen;
		placed = placed > direct ? placed - direct : 0;
		for (k = keep, off = 0; k < n && off < placed; k++) {
			size_t c = m->msg_iov[k].iov_len < placed - off ?
			    m->msg_iov[k].iov_len : placed - off;

			if (c > 0)
				memcpy(m->msg_iov[k].iov_base, bounce + off, c);
			off += c;
		}
	}
	free(vec);
	free(bounce);
	errno = e;
	return (r);
}

/*
 * udp_recvmsg, and readv's (which takes IOV_MAX entries where illumos's
 * recvmsg takes 16): a vector of up to max entries.
 */
static ssize_t
recv_vec(int fd, struct msghdr *m, int flags, const struct udp_io *u,
    int xpg, size_t max)
{
	struct iovec small[UDP_IOV_SMALL + 1], *iov = small;
	size_t n = (size_t)m->msg_iovlen;
	ssize_t r;
	int e;

	/* Errors of sends are queued on the socket they left by. */
	if (flags & plat_msg_errqueue)
		return (xpg ? real_recvmsg_xpg(u->out, m, flags) :
		    real.recvmsg(u->out, m, flags));
	if (n > max) {
		errno = EMSGSIZE;
		return (-1);
	}
	/* The kernel's longest vector: the header's entry needs one more. */
	if (n + 1 > (size_t)plat_msg_iov_max)
		return (recv_merged(fd, m, flags, u, xpg));
	/*
	 * A long vector (rare) on the heap: 16 KB more of a thread's stack
	 * could overflow a small one (a coroutine's) that the plain call
	 * would not.  (malloc, in a call POSIX lets signal handlers make:
	 * only for a vector longer than any we know of.)
	 */
	if (n > UDP_IOV_SMALL && (iov = malloc((n + 1) *
	    sizeof (*iov))) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	r = recv_into(fd, m, flags, u, xpg, iov);
	if (iov != small) {
		e = errno;
		free(iov);
		errno = e;
	}
	return (r);
}

ssize_t
udp_recvmsg(int fd, struct msghdr *m, int flags, const struct udp_io *u,
    int xpg)
{
	return (recv_vec(fd, m, flags, u, xpg, (size_t)plat_msg_iov_max));
}

ssize_t
udp_recv(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
    socklen_t *fromlen, const struct udp_io *u)
{
	struct iovec iov = { buf, len };
	struct msghdr m;
	ssize_t r;

	memset(&m, 0, sizeof (m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (from != NULL && fromlen != NULL) {
		m.msg_name = from;
		m.msg_namelen = *fromlen;
	}
	if ((r = udp_recvmsg(fd, &m, flags, u, 1)) >= 0 &&
	    m.msg_name != NULL)
		*fromlen = m.msg_namelen;
	return (r);
}

size_t
udp_iov_total(const struct iovec *iov, int cnt)
{
	size_t total = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	return (total);
}

ssize_t
udp_readv(int fd, const struct iovec *iov, int iovcnt,
    const struct udp_io *u)
{
	struct msghdr m;

	if (iovcnt < 0 || iovcnt > UDP_IOV_KERNEL) {
		errno = EINVAL;
		return (-1);
	}
	/* A read with no room takes nothing, as Linux's sock_read_iter. */
	if (udp_iov_total(iov, iovcnt) == 0)
		return (0);
	memset(&m, 0, sizeof (m));
	m.msg_iov = (struct iovec *)(uintptr_t)iov;
	m.msg_iovlen = iovcnt;
	return (recv_vec(fd, &m, 0, u, 1, UDP_IOV_KERNEL));
}

/* The largest time_t, signed as both systems have it. */
#define	TIME_T_MAX	((time_t)(((uintmax_t)1 << \
	(sizeof (time_t) * CHAR_BIT - 1)) - 1))

/*
 * recvmmsg's timeout, as Linux's: when it ends (a zero one has ended
 * already), or -1 with EINVAL for one out of range.
 */
static int
mmsg_deadline(const struct timespec *t, struct timespec *end)
{
	if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L) {
		errno = EINVAL;
		return (-1);
	}
	memset(end, 0, sizeof (*end));
	if ((t->tv_sec != 0 || t->tv_nsec != 0) &&
	    clock_gettime(CLOCK_MONOTONIC, end) == 0) {
		/* "Forever" as a huge one: the end saturates, as Linux's. */
		if (t->tv_sec >= TIME_T_MAX - end->tv_sec - 1) {
			end->tv_sec = TIME_T_MAX;
			end->tv_nsec = 999999999L;
			return (0);
		}
		end->tv_sec += t->tv_sec;
		if ((end->tv_nsec += t->tv_nsec) >= 1000000000L) {
			end->tv_sec++;
			end->tv_nsec -= 1000000000L;
		}
	}
	return (0);
}

/* What is left of the timeout, into t: 1 when nothing is (stop). */
static int
mmsg_left(const struct timespec *end, struct timespec *t)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return (1);
	t->tv_sec = end->tv_sec - now.tv_sec;
	if ((t->tv_nsec = end->tv_nsec - now.tv_nsec) < 0) {
		t->tv_sec--;
		t->tv_nsec += 1000000000L;
	}
	if (t->tv_sec < 0)
		t->tv_sec = t->tv_nsec = 0;
	return (t->tv_sec == 0 && t->tv_nsec == 0);
}

int
udp_recvmmsg(int fd, void *vec, unsigned n, int flags, void *timeout,
    const struct udp_io *u)
{
	struct udp_mmsg *v = vec;
	struct timespec *t = timeout, end;
	unsigned got = 0;
	int f = flags & ~plat_msg_waitforone, e = errno;
	ssize_t r;

	/* The timeout is checked first, as Linux's. */
	if (t != NULL && mmsg_deadline(t, &end) != 0)
		return (-1);
	if (v == NULL && n > 0) {
		errno = EFAULT;
		return (-1);
	}
	while (got < n) {
		if ((r = udp_recvmsg(fd, &v[got].hdr, f, u, 1)) < 0) {
			if (got == 0)
				return (-1);
			errno = e;	/* what came is the answer */
			return ((int)got);
		}
		v[got++].len = (unsigned)r;
		/* After the first, what is there (MSG_WAITFORONE). */
		if (flags & plat_msg_waitforone)
			f |= MSG_DONTWAIT;
		if (t != NULL && mmsg_left(&end, t))
			break;
	}
	errno = e;
	return ((int)got);
}
