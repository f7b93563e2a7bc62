/*
 * udpowner.c: the owner of a UDP group, or of a TCP group served the
 * shared way (udp.h says what members see).
 *
 * It holds the group's one real socket and the rendezvous socket, takes
 * members (each keeps its connection open while it is one; as many as
 * its fd limit allows, a joiner beyond is refused), answers status
 * clients, and in the dispatched ways reads the datagrams in batches
 * and forwards each to the member the policy picks.  A forward
 * never waits: what a member's queue has no room for is held here for
 * it (dqueue.h), up to its buffer, and sent when it reads; beyond that
 * it is dropped, counted as its drop, as the kernel drops what a full
 * socket cannot take.  With
 * no member left the socket is not read: datagrams wait in the kernel's
 * queue for the next member during the linger.  It exits when the last
 * member is gone, which frees the port.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "config.h"
#include "dgram.h"
#include "dqueue.h"
#include "log.h"
#include "owner.h"
#include "platform.h"
#include "policy.h"
#include "proto.h"
#include "real.h"
#include "rendezvous.h"
#include "standby.h"
#include "util.h"

#define	UDP_MEMBERS	256	/* as the kernel's group (the illumos patch) */
/* fds kept from members, as the TCP owner's: joiners, status clients... */
#define	FD_RESERVE	64
#define	TOK_RV		0
#define	TOK_SOCK	1
#define	TOK_SB		2	/* the standby's end of the mirror */
#define	TOK_M(i)	((uint32_t)(3 + (i)))
/* A member's queue has room again, for what we hold for it. */
#define	TOK_D(i)	((uint32_t)(3 + UDP_MEMBERS + (i)))
#define	SB_RETRY_MS	1000	/* a standby that died, again */
#define	SB_RETRY_MAX_MS	60000	/* after failures, doubling up to this */
/* A member's queue: what its pair is asked to hold (plat_pair_bytes). */
#define	FWD_QUEUE	(4 << 20)
#define	CTL_SIZE	160	/* a datagram's reports (plat_pktinfo_enable) */
#define	RV_CHECK_MS	2000	/* is our rendezvous name still there? */
#define	NO_SLOT_WAIT_MS	100	/* a connection beyond the slots: its record */
/* For room in a full member's queue, at the end (a member that reads). */
#define	END_WAIT_MS	60000

struct umember {
	int		ctl;		/* its connection; -1: a free slot */
	int		dfd;		/* our end of its pair, or -1 */
	int		joined;		/* said HELLO */
	int		first;		/* started the group */
	int		pid;
	unsigned	wants;		/* PLAT_PKT_REPORTS its program asks */
					/* (proto.h HELLO_TELLS_REPORTS) */
	int		rcvbuf;		/* its receive buffer; 0: not told */
	uint64_t	delivered;
	uint32_t	drops;
	int		files;		/* takes payloads in files (proto.h */
					/* HELLO_TAKES_FILE) */
	struct dqueue	held;		/* for it while its queue is full */
	int		waiting;	/* held's: dfd watched for room */
};

static struct {
	int		sfd;
	int		rvfd;
	const char	*path;
	uid_t		uid;
	long		linger_ms;
	enum shim_policy way;
	int		udp;		/* else a TCP group, shared */
	struct proto_addr gaddr;
	struct umember	m[UDP_MEMBERS];
	struct policy_ep eps[UDP_MEMBERS];
	struct policy_state pol;
	size_t		n;		/* slots in use are below n */
	size_t		live;		/* members that said HELLO */
	size_t		max_members;	/* what our fd limit allows */
	int		had_first;
	uint64_t	delivered;
	uint64_t	drops;
	uint32_t	next_id;
	uint64_t	rv_checked_us;
	struct timespec	started;
	struct plat_poller *poller;
	int		swatched;	/* the socket is in the poller */
	uint64_t	rv_paused_us;	/* out of fds since, or 0 */
	uint8_t		(*bufs)[DGRAM_MAX];	/* PLAT_BATCH of them */

	/* The standby (standby.h): sbfd -1 while there is none. */
	const struct owner_args *args;
	int		sbfd;
	pid_t		sbpid;
	uint64_t	sb_tried_us;
	long		sb_wait_ms;
	uint32_t	takeovers;	/* the group's, this one's included */
	unsigned	reports;	/* PLAT_PKT_REPORTS the socket gives */
	int		rcvbuf0;	/* a member's buffer, untold: a new */
					/* socket's */
	int		unwatched;	/* a member's room not watched: */
					/* try again (watch_room) */
} u;

static int flush(size_t i);

static int
dispatched(void)
{
	return (u.way != SHIM_POLICY_SHARED);
}

/* err says a member's queue is full for now: what we send waits. */
static int
full(int err)
{
	return (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS ||
	    err == EINTR);
}

/* The group's end to member i's queue: 1 told, 0 no room yet, -1 gone. */
static int
tell_end(size_t i)
{
	uint8_t end[DGRAM_HDR_SIZE];

	dgram_encode_end(end);
	if (real.send(u.m[i].dfd, end, sizeof (end),
	    plat_send_nosignal_flag()) == (ssize_t)sizeof (end))
		return (1);
	return (full(errno) ? 0 : -1);
}

/*
 * Members left (reuseport-shim stop): each is told in its queue, so that
 * it lets the group's socket go (else members that will never be given a
 * datagram again keep the port bound).  One whose queue is full is told
 * when it has read some, or has left; the name and the socket are gone
 * meanwhile, so the next group can start.  What we hold for one goes
 * first: it came before the end, as it would be in its own socket.
 */
static void
tell_members(void)
{
	uint64_t deadline = util_deadline(END_WAIT_MS);
	struct pollfd p[2 * UDP_MEMBERS];
	size_t who[UDP_MEMBERS], n;
	int f;

	for (;;) {
		n = 0;
		for (size_t i = 0; i < u.n; i++) {
			if (u.m[i].dfd < 0)
				continue;
			if ((f = flush(i)) < 0 || (f > 0 && tell_end(i) != 0)) {
				(void) real.close(u.m[i].dfd);
				u.m[i].dfd = -1;
				continue;
			}
			p[2 * n].fd = u.m[i].dfd;
			p[2 * n].events = POLLOUT;
			p[2 * n + 1].fd = u.m[i].ctl;
			p[2 * n + 1].events = POLLIN;
			who[n++] = i;
		}
		if (n == 0 || util_now_us() >= deadline)
			break;
		if (poll(p, 2 * n, RV_CHECK_MS) < 0 && errno != EINTR)
			break;
		for (size_t k = 0; k < n; k++) {
			/* Its connection's end: the member left. */
			if (p[2 * k + 1].revents & (POLLIN | POLLHUP)) {
				(void) real.close(u.m[who[k]].dfd);
				u.m[who[k]].dfd = -1;
			}
		}
	}
	if (n > 0)
		shim_log(LOG_LVL_WARN, "%zu member(s) never read again and "
		    "were not told that the group ended", n);
}

_Noreturn static void
finish(void)
{
	(void) unlink(u.path);
	/* The standby lets go of the socket, or the port stays taken. */
	if (u.sbfd >= 0)
		standby_finish(u.sbfd, u.sbpid);
	u.sbfd = -1;
	(void) real.close(u.rvfd);
	(void) real.close(u.sfd);
	/* Status clients (the one that said STOP) see the end now. */
	for (size_t i = 0; i < u.n; i++) {
		if (u.m[i].ctl >= 0 && !u.m[i].joined)
			(void) real.close(u.m[i].ctl);
	}
	if (u.n > 0)
		tell_members();
	shim_log(LOG_LVL_INFO, "last member left; group closed");
	_exit(0);
}

static void
sb_drop(const char *why)
{
	if (u.sbfd < 0)
		return;
	plat_poller_del(u.poller, u.sbfd, TOK_SB);
	standby_kill(u.sbpid, u.sbfd);
	u.sbfd = -1;
	shim_log(LOG_LVL_WARN, "the standby %s; another is started", why);
}

/* Member i to the standby: its connection, and its queue if it has one. */
static void
sb_tell(size_t i)
{
	const struct umember *m = &u.m[i];

	if (u.sbfd < 0)
		return;
	if (standby_tell_udp(u.sbfd, SB_JOIN, i, m->pid,
	    m->files ? SB_F_FILES : 0, m->ctl, m->rcvbuf, m->wants,
	    u.takeovers) != 0 ||
	    (m->dfd >= 0 && standby_tell(u.sbfd, SB_QUEUE, i, m->pid, 0,
	    m->dfd) != 0))
		sb_drop("did not take a member");
}

/*
 * A standby when there is none (a program owner only: a fork has no
 * program to start), told of every member; after a failure, again
 * later, each time twice as late.
 */
static void
sb_up(void)
{
	struct owner_args b;
	uint64_t now = util_now_us();
	int fd;
	pid_t pid;

	if (u.sbfd >= 0 || !u.args->prog || (u.sb_tried_us != 0 &&
	    now - u.sb_tried_us < (uint64_t)u.sb_wait_ms * 1000))
		return;
	u.sb_tried_us = now;
	b = *u.args;
	b.listenfd = u.sfd;
	b.rvfd = u.rvfd;
	b.service[0] = '\0';
	if (standby_start(&b, -1, -1, &fd, &pid) != 0) {
		u.sb_wait_ms = u.sb_wait_ms * 2 > SB_RETRY_MAX_MS ?
		    SB_RETRY_MAX_MS : u.sb_wait_ms * 2;
		shim_log(LOG_LVL_WARN, "no standby: %s", strerror(errno));
		return;
	}
	u.sb_wait_ms = SB_RETRY_MS;
	u.sbfd = fd;
	u.sbpid = pid;
	if (plat_poller_set(u.poller, fd, TOK_SB, 1) != 0) {
		sb_drop("cannot be watched");
		return;
	}
	for (size_t i = 0; i < u.n; i++) {
		if (u.m[i].ctl >= 0 && u.m[i].joined)
			sb_tell(i);
	}
}

/*
 * The socket reports each datagram's TTL and TOS only while a member
 * asks: each costs every datagram two control messages.
 */
static void
reports(void)
{
	unsigned want = 0;

	/* A slot's wants are 0 until its HELLO, and again once it is free. */
	for (size_t i = 0; i < u.n; i++)
		want |= u.m[i].wants;
	if (want != u.reports && dispatched()) {
		plat_pktinfo_enable(u.sfd, u.gaddr.family, want);
		u.reports = want;
	}
}

/*
 * The socket holds what its members' own would (natively each has its
 * buffer; one default-sized socket for all dropped a DNS server's
 * bursts, in the kernel, before the owner could read them): the sum of
 * theirs.  Grown, never shrunk (what it holds may still be read).
 */
static void
rcvbuf_grow(void)
{
	int64_t sum = 0;

	if (!u.udp || u.rcvbuf0 <= 0)
		return;
	for (size_t i = 0; i < u.n; i++) {
		if (u.m[i].joined)
			sum += u.m[i].rcvbuf > 0 ? u.m[i].rcvbuf : u.rcvbuf0;
	}
	if (sum > INT_MAX)
		sum = INT_MAX;
	/* As it is now: a shared member may have set it meanwhile. */
	plat_rcvbuf_grow(u.sfd, (int)sum);
}

static void
drop_member(size_t i)
{
	struct umember *m = &u.m[i];

	plat_poller_del(u.poller, m->ctl, TOK_M(i));
	/*
	 * What we held for it never reached its queue: dropped, as the
	 * kernel's group loses what a closed socket held.
	 */
	u.drops += m->held.n;
	dqueue_free(&m->held);
	if (m->dfd >= 0)
		plat_poller_del(u.poller, m->dfd, TOK_D(i));
	if (m->joined && u.sbfd >= 0 &&
	    standby_tell(u.sbfd, SB_END, i, 0, 0, -1) != 0)
		sb_drop("did not take a member's end");
	(void) real.close(m->ctl);
	if (m->dfd >= 0)
		(void) real.close(m->dfd);
	if (m->joined)
		u.live--;
	memset(m, 0, sizeof (*m));
	m->ctl = m->dfd = -1;
	memset(&u.eps[i], 0, sizeof (u.eps[i]));
	policy_update(&u.pol, u.eps, i);
	while (u.n > 0 && u.m[u.n - 1].ctl < 0)
		u.n--;
	reports();
}

/* The member's end of a new datagram pair, ours in m->dfd; or -1. */
static int
new_pair(struct umember *m)
{
	int sv[2], q = plat_pair_bytes(FWD_QUEUE);

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
		return (-1);
	(void) real.fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(sv[0], F_SETFL, O_NONBLOCK);
	(void) real.setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &q, sizeof (q));
	(void) real.setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &q, sizeof (q));
	/* The member never writes to it: nothing for us to read. */
	(void) real.shutdown(sv[0], SHUT_RD);
	m->dfd = sv[0];
	return (sv[1]);
}

static int
welcome(size_t i, const struct proto_rec *r)
{
	struct umember *m = &u.m[i];
	struct proto_rec out;
	int end;

	/* Its reports, before it is sent a datagram (proto.h). */
	m->wants = (r->seq & HELLO_TELLS_REPORTS) ?
	    (r->seq >> HELLO_REPORTS_SHIFT) & PLAT_PKT_REPORTS :
	    PLAT_PKT_REPORTS;
	m->files = (r->seq & HELLO_TAKES_FILE) != 0;
	reports();
	memset(&out, 0, sizeof (out));
	out.type = REC_WELCOME;
	out.addr = u.gaddr;
	out.arg = (int32_t)u.way;
	out.seq = (uint32_t)u.live;	/* 0: the first member */
	if (!dispatched() && u.udp && (r->seq & HELLO_TELLS_SHARED))
		out.seq |= WELCOME_TAKES_TELLS;
	if (proto_send(m->ctl, &out, u.sfd) != 0)
		return (-1);
	if (dispatched()) {
		memset(&out, 0, sizeof (out));
		out.type = REC_DGRAM;
		out.arg = PROTO_DGRAM_REPORTS | PROTO_DGRAM_RCVBUF;
		if ((end = new_pair(m)) < 0)
			return (-1);
		if (proto_send(m->ctl, &out, end) != 0) {
			(void) real.close(end);
			return (-1);
		}
		(void) real.close(end);
	}
	m->joined = 1;
	m->pid = r->arg;
	m->first = !u.had_first;
	u.had_first = 1;
	u.live++;
	rcvbuf_grow();
	u.eps[i].eligible = u.eps[i].listening = (uint8_t)dispatched();
	u.eps[i].id = ++u.next_id;
	policy_update(&u.pol, u.eps, i);
	sb_tell(i);
	return (0);
}

static void
put_u64(struct proto_rec *r, int lo, uint64_t v)
{
	r->opts[lo] = (int32_t)(v & 0xffffffffU);
	r->opts[lo + 1] = (int32_t)(v >> 32);
}

/* A status client: the group, its members, and the end of the stream. */
static void
send_stat(int fd)
{
	struct timespec now, limit = { 1, 0 };
	struct proto_rec r;

	(void) real.fcntl(fd, F_SETFL, 0);
	(void) real.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit,
	    sizeof (limit));
	(void) clock_gettime(CLOCK_MONOTONIC, &now);
	memset(&r, 0, sizeof (r));
	r.type = REC_STAT_GROUP;
	r.seq = (uint32_t)getpid();
	r.arg = (int32_t)u.live;
	r.addr = u.gaddr;
	r.nopts = STAT_G_COUNT;
	r.opts[STAT_G_POLICY] = (int32_t)u.way;
	r.opts[STAT_G_UPTIME] = (int32_t)(now.tv_sec - u.started.tv_sec);
	put_u64(&r, STAT_G_DELIVERED_LO, u.delivered);
	r.opts[STAT_G_LINGER] = (int32_t)u.linger_ms;
	r.opts[STAT_G_UDP] = u.udp;
	r.opts[STAT_G_STANDBY] = u.sbfd >= 0 ? (int32_t)u.sbpid : 0;
	r.opts[STAT_G_TAKEOVERS] = (int32_t)u.takeovers;
	put_u64(&r, STAT_G_DROPS_LO, u.drops);
	if (proto_send(fd, &r, -1) != 0)
		return;
	for (size_t j = 0; j < u.n; j++) {
		const struct umember *m = &u.m[j];

		if (m->ctl < 0 || !m->joined)
			continue;
		memset(&r, 0, sizeof (r));
		r.type = REC_STAT_EP;
		r.seq = u.eps[j].id;
		r.arg = m->pid > 0 ? m->pid : 1;
		r.nopts = STAT_E_COUNT;
		r.opts[STAT_E_STATE] = 2;
		put_u64(&r, STAT_E_DELIVERED_LO, m->delivered);
		r.opts[STAT_E_FIRST] = m->first;
		r.opts[STAT_E_PID0] = m->pid;
		r.opts[STAT_E_DROPS] = (int32_t)(m->drops > INT32_MAX ?
		    INT32_MAX : m->drops);
		if (proto_send(fd, &r, -1) != 0)
			return;
	}
}

/*
 * A joiner beyond what our fd limit allows: told so (WELCOME -1), its
 * bind fails now, not when it gives up waiting on an owner out of fds.
 */
static void
refuse(int fd, const struct proto_rec *r)
{
	struct proto_rec out;

	if (u.live >= u.max_members)
		shim_log(LOG_LVL_ERROR, "group full (%zu members%s): refusing "
		    "pid %ld", u.max_members, u.max_members < UDP_MEMBERS ?
		    ", as many as the owner's fd limit allows" : "",
		    (long)r->arg);
	else
		shim_log(LOG_LVL_ERROR, "group full (%zu members, every other "
		    "slot held by a joiner or status client): refusing pid "
		    "%ld", u.live, (long)r->arg);
	memset(&out, 0, sizeof (out));
	out.type = REC_WELCOME;
	out.addr = u.gaddr;
	out.arg = -1;
	(void) proto_send(fd, &out, -1);
}

/*
 * A connection while every slot is taken (256 members, or fewer with
 * status clients): its first record is read here, waiting until
 * deadline, so that a joiner is refused at once, as beyond the fd
 * limit, and a status client still answered.  Rare enough to hold the
 * datagrams up, for NO_SLOT_WAIT_MS at most a wakeup.
 */
static void
no_slot(int fd, uint64_t deadline)
{
	struct proto_rec r;
	int got = -1;

	if (util_wait_fd(fd, POLLIN, deadline) == 0 &&
	    proto_recv(fd, &r, &got, plat_recv_dontwait_flag()) == 1) {
		if (r.type == REC_HELLO) {
			refuse(fd, &r);
		} else if (r.type == REC_STAT) {
			send_stat(fd);
		} else if (r.type == REC_STOP) {
			shim_log(LOG_LVL_INFO, "stopped on request");
			finish();
		}
	}
	if (got >= 0)
		(void) real.close(got);
	(void) real.close(fd);
}

/* The rendezvous is readable: joiners and status clients. */
static void
accept_members(void)
{
	uint64_t deadline = util_deadline(NO_SLOT_WAIT_MS);

	for (;;) {
		int fd = owner_next_joiner(u.rvfd, u.uid);
		size_t i;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				(void) plat_poller_set(u.poller, u.rvfd, TOK_RV,
				    0);
				u.rv_paused_us = util_now_us();
			}
			return;
		}
		for (i = 0; i < UDP_MEMBERS && u.m[i].ctl >= 0; i++)
			continue;
		if (i == UDP_MEMBERS) {
			no_slot(fd, deadline);
			continue;
		}
		if (plat_poller_set(u.poller, fd, TOK_M(i), 1) != 0) {
			shim_log(LOG_LVL_ERROR, "cannot watch a member: %s",
			    strerror(errno));
			(void) real.close(fd);
			continue;
		}
		u.m[i].ctl = fd;
		u.m[i].dfd = -1;
		if (i >= u.n)
			u.n = i + 1;
	}
}

/* Member slot i's connection is readable. */
static void
ctl_read(size_t i)
{
	struct umember *m = &u.m[i];
	struct proto_rec r;
	int fd = -1, n;

	n = proto_recv(m->ctl, &r, &fd, plat_recv_dontwait_flag());
	if (fd >= 0)
		(void) real.close(fd);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n != 1) {
		drop_member(i);		/* gone, or talking nonsense */
		return;
	}
	if (!m->joined && r.type == REC_HELLO) {
		if (u.live >= u.max_members) {
			refuse(m->ctl, &r);
			drop_member(i);
		} else if (welcome(i, &r) != 0) {
			shim_log(LOG_LVL_WARN, "could not welcome a member: %s",
			    strerror(errno));
			drop_member(i);
		}
		return;
	}
	if (!m->joined && r.type == REC_STAT) {
		send_stat(m->ctl);
		drop_member(i);
		return;
	}
	if (!m->joined && r.type == REC_STOP) {
		shim_log(LOG_LVL_INFO, "stopped on request");
		finish();
	}
	/* The reports it asks for: set before the answer (proto.h). */
	if (m->joined && r.type == REC_SETOPT && r.nopts >= 1) {
		struct proto_rec out;

		m->wants = (unsigned)r.opts[0] & PLAT_PKT_REPORTS;
		reports();
		if (r.nopts >= 2 && r.opts[1] > 0) {
			m->rcvbuf = r.opts[1];
			rcvbuf_grow();
		}
		if (u.sbfd >= 0 && standby_tell_udp(u.sbfd, SB_OPTS, i, m->pid,
		    0, -1, m->rcvbuf, m->wants, u.takeovers) != 0)
			sb_drop("did not take a member's options");
		memset(&out, 0, sizeof (out));
		out.type = REC_SETOPT;
		/* Not sent: the member gives up waiting, and says so. */
		(void) proto_send(m->ctl, &out, -1);
		return;
	}
	/* A member says nothing else after HELLO; LISTEN and the like: no. */
	shim_log(LOG_LVL_WARN, "unexpected record %d from a member", r.type);
	drop_member(i);
}

/*
 * One batch read from the socket, each datagram with its header and the
 * member chosen for it; sent member by member, in as few calls as the
 * kernel allows (sendmmsg), in the order they came.
 */
static struct {
	struct sockaddr_storage names[PLAT_BATCH];
	_Alignas(struct cmsghdr) char ctls[PLAT_BATCH][CTL_SIZE];
	struct iovec	in[PLAT_BATCH];
	struct msghdr	hdrs[PLAT_BATCH];
	unsigned	lens[PLAT_BATCH];
	uint8_t		heads[PLAT_BATCH][DGRAM_HDR_SIZE];
	struct iovec	out_iov[PLAT_BATCH][2];
	struct msghdr	out[PLAT_BATCH];
	size_t		to[PLAT_BATCH];		/* its member, or UDP_MEMBERS */
	/* Each member's datagrams, chained in the order they came. */
	unsigned	next[PLAT_BATCH];	/* its member's next, or got */
	uint8_t		first[PLAT_BATCH];	/* 1: its member's first */
	unsigned	last[UDP_MEMBERS];	/* see forward() */
} b;

/* Datagram k of the batch, for its member: header, choice. */
static void
prepare(unsigned k)
{
	const struct msghdr *mh = &b.hdrs[k];
	struct dgram_hdr h;

	b.to[k] = UDP_MEMBERS;
	memset(&h, 0, sizeof (h));
	h.ttl = h.tos = -1;
	if (proto_addr_from_sockaddr(&h.src, mh->msg_name,
	    mh->msg_namelen) != 0)
		return;
	h.len = b.lens[k];
	for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)mh); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		(void) plat_pktinfo_parse(c->cmsg_level, c->cmsg_type,
		    CMSG_DATA(c), (size_t)c->cmsg_len - CMSG_LEN(0), &h);
	}
	dgram_encode(&h, b.heads[k]);
	b.to[k] = policy_pick(&u.pol, u.eps, u.n, &h.src);
	if (b.to[k] >= u.n)
		b.to[k] = UDP_MEMBERS;
}

/*
 * err, from a send to a member's queue, says its end is closed: it left,
 * its close() returned, before its connection's end reached us.  Linux
 * refuses (then says not connected); illumos says ECONNRESET once, at
 * the send after, and then, the pair no longer connected, EDESTADDRREQ
 * (a member whose reset went unseen stayed, its datagrams counted as
 * drops for ever).  EPIPE is a member that shut its queue down for
 * reading: still one.
 */
static int
gone(int err)
{
	return (err == ECONNREFUSED || err == ENOTCONN || err == ECONNRESET ||
	    err == EDESTADDRREQ);
}

/* n datagrams for member m: delivered, or dropped. */
static void
tally(struct umember *m, unsigned n, int delivered)
{
	if (delivered) {
		m->delivered += n;
		u.delivered += n;
	} else {
		m->drops += n;
		u.drops += n;
	}
}

/* What we may hold for member i: what its own socket would hold. */
static size_t
held_limit(const struct umember *m)
{
	int sz = m->rcvbuf > 0 ? m->rcvbuf : u.rcvbuf0;

	return (sz > 0 ? (size_t)sz : 0);
}

/*
 * Member i's queue watched for room while we hold something for it; one
 * the poller could not take (out of memory) is tried again by the loop.
 */
static void
watch_room(size_t i)
{
	struct umember *m = &u.m[i];

	if (m->waiting)
		return;
	if (plat_poller_set(u.poller, m->dfd, TOK_D(i), PLAT_POLL_OUT) == 0)
		m->waiting = 1;
	else
		u.unwatched = 1;
}

/* v (its header, its payload) held for member i, or dropped, counted. */
static void
hold(size_t i, const struct msghdr *v)
{
	struct umember *m = &u.m[i];
	const struct iovec *io = v->msg_iov;

	if (dqueue_push(&m->held, held_limit(m), io[0].iov_base,
	    io[0].iov_len, io[1].iov_base, io[1].iov_len) != 0) {
		tally(m, 1, 0);
		return;
	}
	watch_room(i);
}

/* n bytes of p into file fd at off; 0, or -1. */
static int
write_at(int fd, const uint8_t *p, size_t n, size_t off)
{
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, p, n, (off_t)off)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return (-1);
		p += w;
		n -= (size_t)w;
		off += (size_t)w;
	}
	return (0);
}

/*
 * A datagram (its header and payload, as nio pieces of io) too large for
 * member i's queue (illumos's Unix datagrams carry 65536 bytes, a UDP
 * datagram and our header up to 65599), with its payload in a file
 * passed along (dgram.h in_file): 1 sent, 0 no room yet, -1 it cannot go
 * (a member of an earlier build, or no file).
 */
static int
send_file(size_t i, const struct iovec *io, size_t nio)
{
	uint8_t hb[DGRAM_HDR_SIZE];
	struct dgram_hdr h;
	size_t total = 0, at, k, skip;
	int fd, ok = 0;

	for (k = 0; k < nio; k++)
		total += io[k].iov_len;
	if (!u.m[i].files || total < sizeof (hb))
		return (-1);
	for (k = 0, at = 0; at < sizeof (hb); at += skip, k++) {
		skip = io[k].iov_len < sizeof (hb) - at ? io[k].iov_len :
		    sizeof (hb) - at;
		memcpy(hb + at, io[k].iov_base, skip);
	}
	if (dgram_decode(hb, &h) != 0 ||
	    (fd = plat_shm_fd(total - sizeof (hb),
	    "rpshim-dgram")) < 0)
		return (-1);
	/* Each piece's bytes past the header, where they go in the file. */
	for (k = 0, at = 0; k < nio && ok == 0; at += io[k].iov_len, k++) {
		skip = at >= sizeof (hb) ? 0 : sizeof (hb) - at;
		if (skip < io[k].iov_len)
			ok = write_at(fd, (const uint8_t *)io[k].iov_base +
			    skip, io[k].iov_len - skip,
			    at + skip - sizeof (hb));
	}
	h.in_file = 1;
	dgram_encode(&h, hb);
	if (ok != 0)
		ok = -1;
	else if (proto_send_fd(u.m[i].dfd, hb, sizeof (hb), fd,
	    MSG_DONTWAIT) >= 0)
		ok = 1;
	else
		ok = full(errno) ? 0 : -1;
	(void) real.close(fd);
	return (ok);
}

/*
 * Member i's queue refused a datagram (its pieces io[0..nio)) for err,
 * not gone(): 0 if it must wait for room (full, or its file found none),
 * else 1, seen to and counted.  Too large for the queue, it goes in a
 * file where it can go so; any other refusal (a member that shut its
 * queue down for reading: EPIPE) drops it, since held it would be
 * refused again at each wakeup for room.
 */
static int
refused(size_t i, int err, const struct iovec *io, size_t nio)
{
	int sent;

	if (full(err))
		return (0);
	if ((sent = err == EMSGSIZE ? send_file(i, io, nio) : -1) == 0)
		return (0);
	tally(&u.m[i], 1, sent > 0);
	return (1);
}

static void deliver(size_t i, struct msghdr *const *v, unsigned n);

/* v[0..n) to the members the policy picks for them now. */
static void
pick_again(struct msghdr *const *v, unsigned n)
{
	struct dgram_hdr h;
	size_t to;

	for (unsigned k = 0; k < n; k++) {
		if (dgram_decode(v[k]->msg_iov[0].iov_base, &h) != 0 ||
		    (to = policy_pick(&u.pol, u.eps, u.n, &h.src)) >= u.n) {
			u.drops++;	/* none to take it */
			continue;
		}
		deliver(to, &v[k], 1);
	}
}

/*
 * Member i left (gone()) with v[0..n) not sent: the kernel's group would
 * have given what came since to the others, so they go to the others,
 * each as the policy picks again.
 */
static void
left(size_t i, struct msghdr *const *v, unsigned n)
{
	drop_member(i);
	pick_again(v, n);
}

/*
 * v[0..n), member i's in the order they came (n <= PLAT_BATCH): sent
 * while its queue has room and we hold nothing older for it; the rest
 * held.  One too large for its queue goes with its payload in a file;
 * where it cannot, it is dropped, counted.
 */
static void
deliver(size_t i, struct msghdr *const *v, unsigned n)
{
	struct umember *m = &u.m[i];
	unsigned k = 0;
	int sent, err;

	/*
	 * Left earlier in this batch (its slot free, or another's by now):
	 * its datagrams go as the policy picks again.
	 */
	if (m->dfd < 0 || !m->joined) {
		pick_again(v, n);
		return;
	}
	/* A short count tells no errno: the next call says why. */
	while (k < n && m->held.n == 0) {
		if ((sent = plat_send_batch(m->dfd, v + k, n - k, &err)) > 0) {
			k += (unsigned)sent;
			tally(m, (unsigned)sent, 1);
		} else if (gone(err)) {
			left(i, v + k, n - k);
			return;
		} else if (!refused(i, err, v[k]->msg_iov,
		    (size_t)v[k]->msg_iovlen)) {
			break;
		} else {
			k++;
		}
	}
	for (; k < n; k++)
		hold(i, v[k]);
}

/*
 * Member i's queue has room: what we hold for it, oldest first.  1 when
 * all is sent, 0 if some must wait for room again, -1 if it left (what
 * we hold then is lost with it, as its socket's queue would be).
 */
static int
flush(size_t i)
{
	struct umember *m = &u.m[i];
	struct iovec iov[PLAT_BATCH][2];
	struct msghdr h[PLAT_BATCH], *v[PLAT_BATCH];
	int sent, err;
	unsigned n;

	while (m->held.n > 0) {
		size_t at = 0;

		for (n = 0; n < PLAT_BATCH && n < m->held.n; n++) {
			memset(&h[n], 0, sizeof (h[n]));
			h[n].msg_iov = iov[n];
			h[n].msg_iovlen = dqueue_peek(&m->held, &at, iov[n]);
			v[n] = &h[n];
		}
		if ((sent = plat_send_batch(m->dfd, v, n, &err)) > 0) {
			dqueue_pop(&m->held, (size_t)sent);
			tally(m, (unsigned)sent, 1);
		} else if (gone(err)) {
			return (-1);
		} else if (!refused(i, err, iov[0], (size_t)h[0].msg_iovlen)) {
			break;
		} else {
			dqueue_pop(&m->held, 1);
		}
	}
	if (m->held.n > 0)
		return (0);
	if (m->waiting) {
		(void) plat_poller_set(u.poller, m->dfd, TOK_D(i), 0);
		m->waiting = 0;
	}
	return (1);
}

/* The batch's got datagrams to their members; none waits for one. */
static void
forward(unsigned got)
{
	struct msghdr *v[PLAT_BATCH];
	unsigned k, j, l, n;
	size_t i;

	for (k = 0; k < got; k++) {
		prepare(k);
		b.next[k] = got;
		b.first[k] = 1;
		if ((i = b.to[k]) == UDP_MEMBERS)
			continue;
		/*
		 * last[i] is not cleared between batches: it counts only if
		 * it points back into this one, at one of i's (one left from
		 * an earlier batch would chain ours to another member's).
		 */
		l = b.last[i];
		if (l < k && b.to[l] == i) {
			b.next[l] = k;
			b.first[k] = 0;
		}
		b.last[i] = k;
	}
	for (k = 0; k < got; k++) {
		if ((i = b.to[k]) == UDP_MEMBERS) {
			u.drops++;		/* no member to take it */
			continue;
		}
		if (!b.first[k])
			continue;	/* sent with its member's first */
		for (n = 0, j = k; j < got; j = b.next[j]) {
			b.out_iov[j][0].iov_base = b.heads[j];
			b.out_iov[j][0].iov_len = DGRAM_HDR_SIZE;
			b.out_iov[j][1].iov_base = b.in[j].iov_base;
			b.out_iov[j][1].iov_len = b.lens[j];
			memset(&b.out[j], 0, sizeof (b.out[j]));
			b.out[j].msg_iov = b.out_iov[j];
			b.out[j].msg_iovlen = 2;
			v[n++] = &b.out[j];
		}
		deliver(i, v, n);
	}
}

/* What the socket has now, in batches, forwarded. */
static void
read_socket(void)
{
	int got;

	for (int round = 0; round < 4; round++) {
		for (unsigned k = 0; k < PLAT_BATCH; k++) {
			b.in[k].iov_base = u.bufs[k];
			b.in[k].iov_len = DGRAM_MAX;
			memset(&b.hdrs[k], 0, sizeof (b.hdrs[k]));
			b.hdrs[k].msg_name = &b.names[k];
			b.hdrs[k].msg_namelen = sizeof (b.names[k]);
			b.hdrs[k].msg_iov = &b.in[k];
			b.hdrs[k].msg_iovlen = 1;
			b.hdrs[k].msg_control = b.ctls[k];
			b.hdrs[k].msg_controllen = CTL_SIZE;
		}
		if ((got = plat_recv_batch(u.sfd, b.hdrs, b.lens,
		    PLAT_BATCH)) <= 0)
			return;
		forward((unsigned)got);
		/* The last member left under us: the rest wait for the next. */
		if (got < PLAT_BATCH || u.live == 0)
			return;
	}
}

/*
 * How long poll may wait once the last member is gone: what is left of
 * the linger (0: finish now); -1 while there are members.  *empty_us:
 * since when the group is empty, 0 while it is not.
 */
static int
linger_left(uint64_t *empty_us)
{
	uint64_t now = util_now_us(), gone;

	if (u.n > 0) {
		*empty_us = 0;
		return (-1);
	}
	if (*empty_us == 0)
		*empty_us = now;
	gone = (now - *empty_us) / 1000;
	return ((uint64_t)u.linger_ms > gone ?
	    (int)((uint64_t)u.linger_ms - gone) : 0);
}

/* Our rendezvous name was removed (a cleaner of /tmp): make it again. */
static void
rv_heal(void)
{
	int fd;

	if (access(u.path, F_OK) == 0 || errno != ENOENT)
		return;
	if ((fd = rv_listen(u.path)) < 0)
		return;
	accept_members();
	(void) real.fcntl(fd, F_SETFL, O_NONBLOCK);
	plat_poller_del(u.poller, u.rvfd, TOK_RV);
	(void) real.close(u.rvfd);
	u.rvfd = fd;
	(void) plat_poller_set(u.poller, fd, TOK_RV, 1);
	shim_log(LOG_LVL_WARN, "%s was removed; made it again", u.path);
	/* Its copy is of the old socket: a takeover would be unreachable. */
	sb_drop("holds the old rendezvous socket");
	u.sb_tried_us = 0;
}

/* What an owner and a standby taking over set up alike. */
static void
setup(const struct owner_args *a, int sfd, int rvfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);

	memset(&u, 0, sizeof (u));
	u.args = a;
	u.sbfd = -1;
	u.sb_wait_ms = SB_RETRY_MS;
	for (size_t i = 0; i < UDP_MEMBERS; i++)
		u.m[i].ctl = u.m[i].dfd = -1;
	u.sfd = sfd;
	u.rvfd = rvfd;
	u.path = a->path;
	u.uid = a->uid;
	u.linger_ms = a->linger_ms;
	u.way = a->policy;
	u.udp = a->udp;
	u.rv_checked_us = util_now_us();
	(void) clock_gettime(CLOCK_MONOTONIC, &u.started);
	/* A member costs its connection, and its queue where dispatched. */
	u.max_members = util_fd_members(dispatched() ? 2 : 1, UDP_MEMBERS,
	    FD_RESERVE);
	(void) real.fcntl(sfd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(rvfd, F_SETFD, FD_CLOEXEC);
	(void) real.fcntl(rvfd, F_SETFL, O_NONBLOCK);
	policy_init(&u.pol, u.way == SHIM_POLICY_SHARED ?
	    SHIM_POLICY_HASH : u.way);
	if (real.getsockname(sfd, (struct sockaddr *)&ss, &len) != 0 ||
	    proto_addr_from_sockaddr(&u.gaddr, (struct sockaddr *)&ss,
	    len) != 0 || policy_reserve(&u.pol, UDP_MEMBERS) != 0 ||
	    (u.bufs = malloc(PLAT_BATCH * sizeof (*u.bufs))) == NULL ||
	    (u.poller = plat_poller_new()) == NULL ||
	    plat_poller_set(u.poller, rvfd, TOK_RV, 1) != 0) {
		shim_log(LOG_LVL_ERROR, "owner cannot start: %s",
		    strerror(errno));
		finish();
	}
	if (dispatched()) {
		/* Ours alone to read: non-blocking, with each destination. */
		(void) real.fcntl(sfd, F_SETFL,
		    real.fcntl(sfd, F_GETFL) | O_NONBLOCK);
		plat_pktinfo_enable(sfd, ss.ss_family, 0);
	}
	if (u.udp)
		u.rcvbuf0 = plat_rcvbuf_default(ss.ss_family);
}

_Noreturn static void
loop(void)
{
	uint64_t empty_us = 0;

	for (;;) {
		uint32_t tok[64];
		int n, timeout, want = dispatched() && u.live > 0;

		sb_up();
		if (want != u.swatched &&
		    plat_poller_set(u.poller, u.sfd, TOK_SOCK, want) == 0)
			u.swatched = want;
		timeout = linger_left(&empty_us);
		if (timeout < 0 || timeout > RV_CHECK_MS)
			timeout = RV_CHECK_MS;
		n = plat_poller_wait(u.poller, tok, 64, timeout);
		if (n < 0 && errno != EINTR) {
			shim_log(LOG_LVL_ERROR, "poll: %s", strerror(errno));
			finish();
		}
		for (int k = 0; k < n; k++) {
			if (tok[k] == TOK_RV)
				accept_members();
			else if (tok[k] == TOK_SB)
				sb_drop("is gone");
			else if (tok[k] == TOK_SOCK && u.swatched &&
			    u.live > 0)
				read_socket();
			else if (tok[k] >= TOK_D(0) &&
			    tok[k] - TOK_D(0) < u.n &&
			    u.m[tok[k] - TOK_D(0)].dfd >= 0 &&
			    flush(tok[k] - TOK_D(0)) < 0)
				drop_member(tok[k] - TOK_D(0));
			else if (tok[k] >= TOK_M(0) && tok[k] < TOK_D(0) &&
			    tok[k] - TOK_M(0) < u.n &&
			    u.m[tok[k] - TOK_M(0)].ctl >= 0)
				ctl_read(tok[k] - TOK_M(0));
		}
		if (u.unwatched) {
			u.unwatched = 0;
			for (size_t i = 0; i < u.n; i++) {
				if (u.m[i].held.n > 0 && u.m[i].dfd >= 0)
					watch_room(i);
			}
		}
		/* Out of fds: joiners wait in the backlog; try again. */
		if (u.rv_paused_us != 0 &&
		    util_now_us() - u.rv_paused_us >= RV_CHECK_MS * 1000 &&
		    plat_poller_set(u.poller, u.rvfd, TOK_RV, 1) == 0)
			u.rv_paused_us = 0;
		if (util_now_us() - u.rv_checked_us >= RV_CHECK_MS * 1000) {
			rv_heal();
			u.rv_checked_us = util_now_us();
		}
		if (linger_left(&empty_us) == 0)
			finish();
	}
}

_Noreturn void
udp_owner_run(const struct owner_args *a, int sfd, int rvfd)
{
	setup(a, sfd, rvfd);
	shim_log(LOG_LVL_INFO, "%s group started at %s (%s)", u.udp ? "UDP" :
	    "TCP", a->path, config_policy_name(u.way));
	loop();
}

_Noreturn void
udp_owner_takeover(const struct owner_args *a, const struct udp_member *m,
    size_t n, uint32_t before)
{
	size_t adopted = 0;

	shim_log_set_role("owner ");
	owner_signals();
	/* What ps and pgrep -f show: "rpshim-owner udp ADDRESS..." now. */
	if (a->role != NULL && strlen(a->role) >= 3) {
		size_t len = strlen(a->role);

		memset(a->role, 0, len);
		memcpy(a->role, a->udp ? "udp" : "tcp", 3);
	}
	setup(a, a->listenfd, a->rvfd);
	u.takeovers = before + 1;
	for (size_t k = 0; k < n; k++) {
		size_t i = m[k].slot;
		struct umember *um = &u.m[i];

		if (i >= UDP_MEMBERS || um->ctl >= 0 || m[k].ctl < 0 ||
		    (dispatched() && m[k].dfd < 0) ||
		    plat_poller_set(u.poller, m[k].ctl, TOK_M(i), 1) != 0) {
			(void) real.close(m[k].ctl);
			if (m[k].dfd >= 0)
				(void) real.close(m[k].dfd);
			continue;
		}
		(void) real.fcntl(m[k].ctl, F_SETFL, O_NONBLOCK);
		if (m[k].dfd >= 0)
			(void) real.fcntl(m[k].dfd, F_SETFL, O_NONBLOCK);
		um->ctl = m[k].ctl;
		um->dfd = dispatched() ? m[k].dfd : -1;
		um->joined = 1;
		um->pid = (int)m[k].pid;
		/* What it asked the dead owner for, if known; else all. */
		um->wants = m[k].wants >= 0 ?
		    (unsigned)m[k].wants & PLAT_PKT_REPORTS : PLAT_PKT_REPORTS;
		um->rcvbuf = m[k].rcvbuf > 0 ? m[k].rcvbuf : 0;
		um->files = m[k].files;
		um->first = 0;
		u.live++;
		u.had_first = 1;
		u.eps[i].eligible = u.eps[i].listening = (uint8_t)dispatched();
		u.eps[i].id = ++u.next_id;
		policy_update(&u.pol, u.eps, i);
		if (i >= u.n)
			u.n = i + 1;
		adopted++;
	}
	reports();
	shim_log(LOG_LVL_WARN, "the owner of %s died; took over its %zu "
	    "member(s)", a->path, adopted);
	loop();
}
