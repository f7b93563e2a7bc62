/*
 * sockopt.c: setsockopt, getsockopt, getsockname and getpeername.
 *
 * On a member the fd is a Unix socket; its options live on its shadow,
 * the kernel socket the application made (fdtab.h): the kernel checks,
 * clamps and reads them back there, exactly as on its own listener.  The
 * shim answers only what belongs to the group (SO_REUSEPORT, whether it
 * listens, its address) and passes on what accepted sockets inherit and
 * what acts on the group's listener.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "fdtab.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "rendezvous.h"
#include "shim.h"
#include "udp.h"
#include "util.h"

/*
 * The family of a TCP or UDP socket; -1 for anything else, which we
 * leave alone.
 */
static int
inet_family(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);
	int type;
	socklen_t tlen = sizeof (type);

	if (real.getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
	    (type != SOCK_STREAM && type != SOCK_DGRAM))
		return (-1);
	return (ss.ss_family);
}

static int
set_reuseport(int fd, const void *val, socklen_t len, setsockopt_fn rf)
{
	const struct shim_config *c = config_get();
	struct shim_sock *sk;
	sigset_t saved;
	int family = -1, v, saved_errno = errno;

	if (c->mode == SHIM_MODE_OFF)
		return (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len));
	/* A tracked fd may be an endpoint, a Unix socket: don't ask it. */
	if (!fdtab_maybe(fd) && (family = inet_family(fd)) < 0) {
		errno = saved_errno;
		return (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len));
	}
	/* The kernel's own checks, first, as it makes them. */
	if (len < sizeof (int)) {
		errno = EINVAL;
		return (-1);
	}
	if (val == NULL) {
		errno = EFAULT;
		return (-1);
	}
	if (!c->valid) {
		errno = EINVAL;
		return (-1);
	}
	memcpy(&v, val, sizeof (v));
	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) != NULL) {
		sk->reuseport = v != 0;
		fdtab_unlock(&saved);
		errno = saved_errno;
		return (0);
	}
	fdtab_unlock(&saved);
	if (family < 0 && (family = inet_family(fd)) < 0) {
		errno = saved_errno;
		return (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len));
	}
	if (c->mode == SHIM_MODE_AUTO) {
		if (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len) == 0)
			return (0);	/* the kernel has it: step aside */
		/*
		 * Only ENOPROTOOPT says the kernel lacks the option (illumos
		 * without the patch).  Its EINVAL is about the socket (illumos:
		 * shut down for sending) and is the caller's answer.
		 */
		if (errno != ENOPROTOOPT)
			return (-1);
	}
	fdtab_lock(&saved);
	if ((sk = fdtab_get_or_new(fd, family)) == NULL) {
		fdtab_unlock(&saved);
		return (-1);
	}
	sk->reuseport = v != 0;
	fdtab_unlock(&saved);
	errno = saved_errno;
	return (0);
}

/*
 * sk's shadow, made now if it has none (it came through exec, or an
 * application's dup2 took its number), or -1.  With the lock held.
 */
static int
shadow_of(struct shim_sock *sk)
{
	int fd;

	if (sk->shadow >= 0)
		return (sk->shadow);
	if ((fd = socket(sk->family, (sk->dgram ? SOCK_DGRAM :
	    SOCK_STREAM) | plat_sock_cloexec, 0)) < 0)
		return (-1);
	sk->shadow = fdtab_hide_away(fd);
	return (sk->shadow);
}

/* Accepted sockets get this option as the application passed it. */
static void
remember(struct shim_sock *sk, int level, int name, const void *val,
    socklen_t len)
{
	size_t i;

	for (i = 0; i < sk->ncopy; i++) {
		if (sk->copy[i].level == level && sk->copy[i].name == name)
			break;
	}
	if (len > SK_COPY_BYTES || (i == sk->ncopy && i == SK_COPY_MAX)) {
		shim_log(LOG_LVL_WARN, "setsockopt(%d, %d) on a shared "
		    "listener: set, but accepted sockets will not have it",
		    level, name);
		return;
	}
	sk->copy[i].level = level;
	sk->copy[i].name = name;
	sk->copy[i].len = len;
	memcpy(sk->copy[i].val, val, len);
	if (i == sk->ncopy)
		sk->ncopy++;
}

/*
 * setsockopt on a member: on its shadow.  rec: a SETOPT record for the
 * owner, when the option acts on the group's listener.
 */
static int
set_on_member(int fd, struct shim_sock *sk, int level, int name,
    const void *val, socklen_t len, setsockopt_fn rf, struct proto_rec *rec)
{
	int sh, v;

	if (plat_opt_fixed_at_bind(level, name)) {
		errno = EINVAL;
		return (-1);
	}
	if ((sh = shadow_of(sk)) < 0)
		return (-1);
	if (rf(sh, level, name, val, len) != 0)
		return (-1);
	/* A blocking accept() waits on the endpoint: bound it there. */
	if (plat_opt_classify(level, name) == PLAT_OPT_RCVTIMEO)
		(void) rf(fd, level, name, val, len);
	if (plat_opt_inherited(level, name))
		remember(sk, level, name, val, len);
	if (plat_opt_on_listener(level, name) && len >= sizeof (int)) {
		memcpy(&v, val, sizeof (v));
		rec->type = REC_SETOPT;
		rec->seq = sk->slot1;
		rec->nopts = 3;
		rec->opts[0] = level;
		rec->opts[1] = name;
		rec->opts[2] = v;
	}
	return (0);
}

/* A UDP group's shared way: the member's fd is the group's socket. */
static int
udp_shared(const struct shim_sock *sk)
{
	return (sk->state == SK_DIRECT && sk->way == SHIM_POLICY_SHARED);
}

/*
 * A shared member's own receive buffer: the group's socket is every
 * member's, and set there the last member's would win, shrinking what
 * the others asked.  Kept on its own socket, its shadow (the kernel's
 * answer and errno; one open file for its forks; carried across exec),
 * read back from there, and told to the owner, which makes the group's
 * socket hold the members' sum.
 */
static int
shared_buf(const struct shim_sock *sk, int level, int name)
{
	return (udp_shared(sk) && sk->dgram && sk->tell_rcvbuf &&
	    sk->shadow >= 0 &&
	    plat_opt_classify(level, name) == PLAT_OPT_RCVBUF);
}

/*
 * The kernel's setsockopt of fd, and what it took noted where the kernel
 * cannot say it back (plat_pktinfo_note: illumos's IP_PKTINFO).
 */
static int
noted(int fd, int level, int name, const void *val, socklen_t len,
    setsockopt_fn rf)
{
	if (rf(fd, level, name, val, len) != 0)
		return (-1);
	if (plat_pktinfo_kept(level, name) && fdtab_ours())
		plat_pktinfo_note(fd, level, name, val, len);
	return (0);
}

/*
 * setsockopt on a dispatched UDP member: on its shadow, as a TCP
 * member's; what the shim itself acts on is noted (the reports its
 * recv calls write, SO_RCVTIMEO on the fd it waits on).  The group's
 * socket, which its sends leave by, is every member's: not changed.
 */
static int
set_on_udp(int fd, struct shim_sock *sk, int level, int name,
    const void *val, socklen_t len, setsockopt_fn rf, int *tell)
{
	unsigned was = sk->pktinfo;
	enum plat_opt_class c;
	int sh, resized = 0;

	if (plat_opt_fixed_at_bind(level, name)) {
		errno = EINVAL;
		return (-1);
	}
	if ((sh = shadow_of(sk)) < 0 || noted(sh, level, name, val, len,
	    rf) != 0)
		return (-1);
	/* As the kernel took it (TTL -1: the default, so none to carry). */
	if (plat_sendopt_note(sh, level, name, val, len, &sk->so))
		fdtab_changed();
	/*
	 * What a receive waits on, and the time it reports, are its queue's
	 * (where the queue has one: plat_queue_stamps).
	 */
	c = plat_opt_classify(level, name);
	if (c == PLAT_OPT_RCVTIMEO ||
	    (c == PLAT_OPT_TIMESTAMP && plat_queue_stamps))
		(void) rf(fd, level, name, val, len);
	/*
	 * A broadcast send leaves by the group's socket: it must allow it
	 * (on only: another member may want it still).
	 */
	if (level == SOL_SOCKET && name == SO_BROADCAST && sk->out >= 0 &&
	    len >= sizeof (int) && *(const int *)val != 0)
		(void) rf(sk->out, level, name, val, len);
	/* The reports it asks for, as the shadow (the kernel) took them. */
	if (plat_pktinfo_opt(level, name) != 0) {
		sk->pktinfo = plat_pktinfo_asked(sh);
		fdtab_changed();
	}
	/* Its receive buffer: the owner's socket holds its members' sum. */
	if (c == PLAT_OPT_RCVBUF && sk->tell_rcvbuf) {
		int b = plat_rcvbuf(sh);

		resized = b != sk->rcvbuf;
		sk->rcvbuf = b;
	}
	/*
	 * A TTL or TOS report asked for, or no longer: the owner's socket
	 * gives it only while a member asks.  Told after the unlock, on a
	 * copy of the connection (a close cannot hand its number on).
	 */
	if ((((was ^ sk->pktinfo) & PLAT_PKT_REPORTS) && sk->tell_reports) ||
	    resized)
		*tell = udp_tell_copy(sk);
	return (0);
}

/*
 * The owner sets rec's option on the group's listener, asked on a
 * connection of its own: the endpoint's stream carries connections, and
 * its reader may be another thread's accept().  Waited for, so that the
 * next connection finds it set.  A failure costs only the option.
 */
static void
listener_opt(const struct proto_rec *rec, const struct sockaddr_storage *ga)
{
	char path[RV_PATH_MAX];
	struct proto_rec rep;
	const char *dir;
	int ctl;

	if ((dir = rv_dir_get()) == NULL || rv_path(path, sizeof (path), dir,
	    (const struct sockaddr *)ga) != 0 ||
	    (ctl = rv_connect(path)) < 0)
		return;
	if (util_request(ctl, rec, REC_SETOPT, &rep) != 0 || rep.arg != 0)
		shim_log(LOG_LVL_WARN, "the group's listener did not take "
		    "option (%d, %d)", rec->opts[0], rec->opts[1]);
	(void) real.close(ctl);
}

/*
 * After bind: what the application set before it on its socket (now the
 * shadow) of the listener's own options goes to the group's listener,
 * as setsockopt would have sent it (TCP_MAXSEG set before bind shapes
 * the SYN-ACK, as on the kernel's listener).
 */
void
sockopt_listener_sync(int fd)
{
	struct sockaddr_storage addr;
	struct shim_sock *sk;
	struct proto_rec rec;
	sigset_t saved;
	int level, name, fresh, sh, a, b, family = -1, saved_errno = errno;

	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) != NULL)
		family = sk->family;
	fdtab_unlock(&saved);
	if (family < 0 ||
	    (fresh = socket(family, SOCK_STREAM | plat_sock_cloexec, 0)) < 0)
		return;
	for (size_t i = 0; plat_opt_on_listener_nth(i, &level, &name) == 0;
	    i++) {
		socklen_t al = sizeof (a), bl = sizeof (b);

		fdtab_lock(&saved);
		sk = fdtab_get(fd);
		sh = sk != NULL && sk->state != SK_OPT ? sk->shadow : -1;
		if (sh < 0 || real.getsockopt(sh, level, name, &a, &al) != 0 ||
		    real.getsockopt(fresh, level, name, &b, &bl) != 0 ||
		    al != sizeof (int) || (bl == al && a == b)) {
			fdtab_unlock(&saved);
			continue;
		}
		addr = sk->addr;
		memset(&rec, 0, sizeof (rec));
		rec.seq = sk->slot1;
		fdtab_unlock(&saved);
		rec.type = REC_SETOPT;
		rec.nopts = 3;
		rec.opts[0] = level;
		rec.opts[1] = name;
		rec.opts[2] = a;
		listener_opt(&rec, &addr);
	}
	(void) real.close(fresh);
	errno = saved_errno;
}

int
shim_setsockopt(int fd, int level, int name, const void *val, socklen_t len,
    enum shim_variant var)
{
	enum plat_opt_class cls;
	struct sockaddr_storage addr;
	struct proto_rec rec;
	struct shim_sock *sk;
	sigset_t saved;
	int rc, saved_errno = errno;
	setsockopt_fn rf;

	shim_init();
	rf = var == SHIM_TIME64 && real.setsockopt64 != NULL ?
	    real.setsockopt64 : real.setsockopt;
	cls = plat_opt_classify(level, name);
	if (cls == PLAT_OPT_REUSEPORT)
		return (set_reuseport(fd, val, len, rf));
	if (!fdtab_maybe(fd))
		return (noted(fd, level, name, val, len, rf));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (sk != NULL && shared_buf(sk, level, name)) {
		unsigned want = sk->pktinfo;
		int b = 0, t = -1;

		if ((rc = rf(sk->shadow, level, name, val, len)) == 0) {
			sk->rcvbuf = b = plat_rcvbuf(sk->shadow);
			t = udp_tell_copy(sk);
		}
		fdtab_unlock(&saved);
		if (rc != 0)
			return (-1);
		/* At once, and where the owner cannot be told (it ended). */
		plat_rcvbuf_grow(fd, b);
		/* Each time: one not heard (a stopped owner) is again. */
		if (t >= 0)
			udp_tell_owner(fd, t, want, b);
		errno = saved_errno;
		return (0);
	}
	if (sk == NULL || sk->state == SK_OPT || udp_shared(sk)) {
		fdtab_unlock(&saved);
		return (noted(fd, level, name, val, len, rf));
	}
	if (sk->state == SK_DIRECT) {
		unsigned want;
		int tell = -1, rcvbuf;

		rc = set_on_udp(fd, sk, level, name, val, len, rf, &tell);
		want = sk->pktinfo;
		rcvbuf = sk->rcvbuf;
		fdtab_unlock(&saved);
		if (tell >= 0)
			udp_tell_owner(fd, tell, want, rcvbuf);
		if (rc == 0)
			errno = saved_errno;
		return (rc);
	}
	memset(&rec, 0, sizeof (rec));
	rc = set_on_member(fd, sk, level, name, val, len, rf, &rec);
	addr = sk->addr;
	fdtab_unlock(&saved);
	if (rc != 0)
		return (-1);
	if (rec.type == REC_SETOPT)
		listener_opt(&rec, &addr);
	errno = saved_errno;
	return (0);
}

static int
int_out(void *val, socklen_t *len, int v)
{
	return (util_opt_out(val, len, &v, sizeof (v)));
}

/*
 * getsockopt on a member: the group's own answers; *handled 0: ask the
 * shadow (-1: it has none, errno set).
 */
static int
get_on_member(struct shim_sock *sk, int level, int name, void *val,
    socklen_t *len, int *handled)
{
	*handled = 1;
	switch (plat_opt_classify(level, name)) {
	case PLAT_OPT_REUSEPORT:
		return (int_out(val, len, sk->reuseport));
	case PLAT_OPT_ACCEPTCONN:
		return (int_out(val, len, sk->state == SK_ENDPOINT &&
		    !sk->shut));
	default:
		break;
	}
	*handled = 0;
	return (shadow_of(sk));
}

int
shim_getsockopt(int fd, int level, int name, void *val, socklen_t *len,
    enum shim_variant var)
{
	struct shim_sock *sk;
	sigset_t saved;
	int rc = 0, handled = 0, saved_errno = errno;
	getsockopt_fn rf;

	shim_init();
	if (var == SHIM_XNET && real.xnet_getsockopt != NULL)
		rf = real.xnet_getsockopt;
	else if (var == SHIM_TIME64 && real.getsockopt64 != NULL)
		rf = real.getsockopt64;
	else
		rf = real.getsockopt;
	if (!fdtab_maybe(fd))
		return (rf(fd, level, name, val, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	/* A shared member's buffer reads as its own (shared_buf). */
	if (sk != NULL && name == SO_RCVBUF && shared_buf(sk, level, name)) {
		rc = rf(sk->shadow, level, name, val, len);
		fdtab_unlock(&saved);
		if (rc == 0)
			errno = saved_errno;
		return (rc);
	}
	if (sk == NULL || ((sk->state == SK_OPT || udp_shared(sk)) &&
	    plat_opt_classify(level, name) != PLAT_OPT_REUSEPORT)) {
		fdtab_unlock(&saved);
		return (rf(fd, level, name, val, len));
	}
	if (sk->state == SK_OPT) {
		handled = 1;
		rc = int_out(val, len, sk->reuseport);
	} else {
		rc = get_on_member(sk, level, name, val, len, &handled);
		/* The shadow answers under the lock: its number may move. */
		if (!handled && rc >= 0)
			rc = rf(rc, level, name, val, len);
		else if (!handled)
			rc = -1;
		handled = 1;
	}
	fdtab_unlock(&saved);
	if (rc == 0)
		errno = saved_errno;
	return (rc);
}

int
shim_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	struct shim_sock *sk;
	socklen_t sl = 0;
	sigset_t saved;
	int rc, saved_errno = errno;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.getsockname(fd, sa, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (sk != NULL && sk->state != SK_OPT) {
		ss = sk->addr;
		sl = sk->addrlen;
	}
	fdtab_unlock(&saved);
	if (sl == 0)
		return (real.getsockname(fd, sa, len));
	rc = util_addr_out(sa, len, &ss, sl);
	if (rc == 0)
		errno = saved_errno;
	return (rc);
}

int
shim_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct shim_sock *sk;
	sigset_t saved;
	int endpoint;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.getpeername(fd, sa, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	endpoint = sk != NULL && sk->state != SK_OPT;
	fdtab_unlock(&saved);
	if (!endpoint)
		return (real.getpeername(fd, sa, len));
	errno = ENOTCONN;	/* neither a listener nor a bound socket */
	return (-1);
}
