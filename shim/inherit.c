/*
 * inherit.c: endpoints that came through exec.
 *
 * A listening endpoint that is not close-on-exec survives exec (nginx's
 * binary upgrade, programs handed listening fds by their parent), but the
 * new program's shim starts with an empty table and would see a bare Unix
 * socket.  At startup it looks at the fds it was given: a Unix stream
 * socket whose peer is bound under our rendezvous directory, by a process
 * of our uid, is an endpoint, and its peer's name says of which group.
 * (A member that never listened may survive exec as well: it is taken for
 * a listener, and waits in accept() instead of failing with EINVAL.)
 *
 * Its options live on its shadow (fdtab.h).  The old program's exec kept
 * the shadow open and named it in REUSEPORT_SHIM_SHADOWS (exec.c); here
 * it becomes the endpoint's again, hidden and close-on-exec, and the
 * list of options accepted sockets get is made anew from it: each
 * inherited option whose value there differs from a fresh socket's.
 * (One set to the value a fresh socket has is not seen, and needs no
 * copy, but for Linux's SO_RCVBUF and SO_SNDBUF: accepted sockets then
 * size their buffers themselves where the kernel's would keep the size
 * set.)  Without that, an inherited listener read SO_KEEPALIVE 0 and
 * accepted sockets lost TCP_NODELAY.  Fds of one endpoint name one
 * shadow and share one sock, or it would be closed twice.  A named
 * shadow that is not an unbound TCP socket (the variable forged, or
 * stale) is left alone, and so is one whose endpoint is not recognised
 * (in mode off, say: the program keeps it as an fd of its own).  An
 * endpoint without a shadow starts a fresh one when first asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "reuseport_shim.h"
#include "config.h"
#include "execenv.h"
#include "fdtab.h"
#include "inherit.h"
#include "log.h"
#include "platform.h"
#include "real.h"
#include "rendezvous.h"

struct scan {
	char	dir[CONFIG_PATH_MAX];
	int	found;
};

static void
look(int fd, void *arg)
{
	struct scan *s = arg;
	struct sockaddr_un un;
	struct sockaddr_storage ss;
	socklen_t len = sizeof (un), alen;
	struct shim_sock *sk;
	struct stat st;
	sigset_t saved;
	uid_t uid;
	int type;
	socklen_t tlen = sizeof (type);

	memset(&un, 0, sizeof (un));
	/* A shared member's connection to its owner, adopted already. */
	if (fdtab_hidden(fd) || fdtab_maybe(fd))
		return;
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
	    type != SOCK_STREAM ||
	    real.getpeername(fd, (struct sockaddr *)&un, &len) != 0 ||
	    un.sun_family != AF_UNIX || len <= sizeof (un.sun_family))
		return;
	un.sun_path[sizeof (un.sun_path) - 1] = '\0';
	if (rv_parse_peer(s->dir, un.sun_path, &ss, &alen) != 0)
		return;
	if (plat_peer_euid(fd, &uid) != 0 || uid != geteuid()) {
		shim_log(LOG_LVL_WARN, "fd %d looks like a shared listener "
		    "but its owner is not ours; leaving it alone", fd);
		return;
	}
	if ((sk = sock_new(ss.ss_family)) == NULL)
		return;
	sk->state = SK_ENDPOINT;
	sk->reuseport = 1;
	sk->addr = ss;
	sk->addrlen = alen;
	fdtab_lock(&saved);
	if (fdtab_put(fd, sk) != 0)
		sock_free(sk);
	else
		s->found++;
	fdtab_unlock(&saved);
}

/* The pairs REUSEPORT_SHIM_SHADOWS named. */
struct pairs {
	struct execenv_pair p[EXECENV_PAIRS_MAX];
	/* The sock that took pair i's shadow, or NULL. */
	struct shim_sock *sk[EXECENV_PAIRS_MAX];
	size_t	n;
	/* REUSEPORT_SHIM_PKT4's members, and _TELLS' (exec.c, udp_env). */
	int	pkt4[EXECENV_PAIRS_MAX];
	size_t	npkt4;
	int	tells[EXECENV_PAIRS_MAX];
	size_t	ntells;
	int	tellbuf[EXECENV_PAIRS_MAX];
	size_t	ntellbuf;
	/* _OWNBUF's: a shared member's fd, then its own buffer's socket. */
	int	own[2 * EXECENV_PAIRS_MAX];
	size_t	nown;
};

/*
 * fd is what a shadow is: a socket of family and type, neither bound nor
 * connected, and not already one of ours.  A bound or connected one is
 * the application's own (the number stale), never to be hidden from it.
 */
static int
is_shadow(int fd, int family, int want)
{
	struct sockaddr_storage ss;
	struct stat st;
	socklen_t len = sizeof (ss), tlen;
	int type, port;

	memset(&ss, 0, sizeof (ss));
	tlen = sizeof (type);
	if (fdtab_hidden(fd) || fdtab_maybe(fd) || fstat(fd, &st) != 0 ||
	    !S_ISSOCK(st.st_mode) ||
	    real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
	    type != want ||
	    real.getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    ss.ss_family != family ||
	    (family != AF_INET && family != AF_INET6))
		return (0);
	port = family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port;
	len = sizeof (ss);
	if (port != 0 ||
	    real.getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		return (0);
	return (1);
}

/* a and b are one open file's fds (dup'ed), or the same file's. */
static int
same_file(int a, int b)
{
	struct stat sa, sb;

	return (fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

/*
 * sk->copy from its shadow: each inherited option whose value there is
 * not a fresh socket's, as setsockopt must pass it to give that value.
 * With the lock held.  After exec, and at bind (options set before it
 * went straight to the socket that is now the shadow).
 */
void
inherit_copies(struct shim_sock *sk)
{
	int fresh, level, name;

	if ((fresh = socket(sk->family, SOCK_STREAM | plat_sock_cloexec,
	    0)) < 0)
		return;		/* no fd to spare: fresh options, as before */
	sk->ncopy = 0;
	for (size_t i = 0; plat_opt_inherited_nth(i, &level, &name) == 0;
	    i++) {
		unsigned char a[SK_COPY_BYTES], b[SK_COPY_BYTES];
		socklen_t al = sizeof (a), bl = sizeof (b);
		struct sk_copy *c;
		int v;

		memset(a, 0, sizeof (a));
		memset(b, 0, sizeof (b));
		if (real.getsockopt(sk->shadow, level, name, a, &al) != 0 ||
		    real.getsockopt(fresh, level, name, b, &bl) != 0 ||
		    al > sizeof (a) || (al == bl && memcmp(a, b, al) == 0))
			continue;
		if (sk->ncopy == SK_COPY_MAX) {
			shim_log(LOG_LVL_WARN, "inherited listener: "
			    "option (%d, %d) is not copied to accepted "
			    "sockets (more than %d differ)", level, name,
			    SK_COPY_MAX);
			continue;
		}
		c = &sk->copy[sk->ncopy++];
		c->level = level;
		c->name = name;
		c->len = al;
		memcpy(c->val, a, al);
		if (al == sizeof (int)) {
			memcpy(&v, a, sizeof (v));
			v = plat_opt_unread(level, name, v);
			memcpy(c->val, &v, sizeof (v));
		}
	}
	(void) real.close(fresh);
}

/* Pair i's shadow becomes its endpoint's, or the sock of a dup'ed fd. */
static void
adopt(struct pairs *p, size_t i)
{
	struct shim_sock *sk;
	sigset_t saved;
	int fd = p->p[i].fd, sh = p->p[i].shadow;
	size_t j;

	p->sk[i] = NULL;
	for (j = 0; j < i && (p->sk[j] == NULL || p->p[j].shadow != sh); j++)
		;
	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) == NULL || sk->state == SK_OPT) {
		fdtab_unlock(&saved);
		shim_log(LOG_LVL_DEBUG, "fd %d is no shared listener; its "
		    "shadow, fd %d, is left alone", fd, sh);
		return;
	}
	if (j < i && p->sk[j] == sk) {
		p->sk[i] = sk;		/* the same fd named twice */
	} else if (j < i) {
		/* A dup of pair j's endpoint: one sock, one shadow. */
		if (same_file(p->p[j].fd, fd) && sk->shadow < 0 &&
		    fdtab_put(fd, p->sk[j]) == 0)
			p->sk[i] = p->sk[j];
	} else if (sk->shadow < 0 && is_shadow(sh, sk->family, SOCK_STREAM)) {
		sk->shadow = fdtab_hide_away(sh);
		inherit_copies(sk);
		p->sk[i] = sk;
	}
	fdtab_unlock(&saved);
	if (p->sk[i] == NULL)
		shim_log(LOG_LVL_WARN, "%s names fd %d as the shadow of "
		    "shared listener %d, but it is not one (stale or forged); "
		    "left alone: the listener starts with fresh options",
		    REUSEPORT_SHIM_ENV_SHADOWS, sh, fd);
}

/* fd is a socket of type; its family into *family.  Else -1. */
static int
sock_of(int fd, int type, int *family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss), tlen = sizeof (int);
	int t;

	memset(&ss, 0, sizeof (ss));
	if (real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tlen) != 0 ||
	    t != type || real.getsockname(fd, (struct sockaddr *)&ss,
	    &len) != 0)
		return (-1);
	*family = ss.ss_family;
	return (0);
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
	return (ss->ss_family == AF_INET ?
	    ((const struct sockaddr_in *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/*
 * Entry i names the same member (its ctl) as an earlier entry that was
 * taken: fd, a dup of that one's, takes its sock.  1 if so (done with
 * entry i either way), else 0.
 */
static int
dup_of_earlier(struct pairs *p, size_t i)
{
	const struct execenv_pair *e = &p->p[i];
	sigset_t saved;
	size_t j;

	p->sk[i] = NULL;
	for (j = 0; j < i && (p->sk[j] == NULL || p->p[j].ctl != e->ctl); j++)
		;
	if (j == i)
		return (0);
	fdtab_lock(&saved);
	if (same_file(p->p[j].fd, e->fd) && !fdtab_maybe(e->fd) &&
	    fdtab_put(e->fd, p->sk[j]) == 0)
		p->sk[i] = p->sk[j];
	fdtab_unlock(&saved);
	return (1);
}

/*
 * ctl is a connection to a group of ours (its peer's name says which:
 * its address into ga, gl, and its protocol) whose owner has our uid:
 * 0, else -1.
 */
static int
ctl_group(int ctl, const char *dir, struct sockaddr_storage *ga,
    socklen_t *gl, enum rv_proto *proto)
{
	struct sockaddr_un un;
	socklen_t ul = sizeof (un);
	uid_t uid;
	int fam;

	memset(&un, 0, sizeof (un));
	if (fdtab_hidden(ctl) || sock_of(ctl, SOCK_STREAM, &fam) != 0 ||
	    fam != AF_UNIX ||
	    real.getpeername(ctl, (struct sockaddr *)&un, &ul) != 0 ||
	    un.sun_family != AF_UNIX)
		return (-1);
	un.sun_path[sizeof (un.sun_path) - 1] = '\0';
	if (rv_parse_peer_proto(dir, un.sun_path, ga, gl, proto) != 0 ||
	    plat_peer_euid(ctl, &uid) != 0 || uid != geteuid())
		return (-1);
	return (0);
}

/*
 * Entry i names a dispatched UDP member (fd:shadow:ctl:out): fd its
 * queue, a Unix datagram socket; ctl a connection to a UDP group of ours
 * (its peer's name says which, and our uid is its owner's); out a UDP
 * socket bound to that group's port; the shadow an unbound UDP socket.
 * All so, they are one member again, its fds hidden as before the exec:
 * 1.  Else 0, and left alone (stale or forged).  A dup of an earlier
 * entry's member takes its sock.
 */
static int
adopt_udp(struct pairs *p, size_t i, const char *dir)
{
	const struct execenv_pair *e = &p->p[i];
	struct sockaddr_storage ga, ob;
	struct shim_sock *sk;
	enum rv_proto proto;
	socklen_t gl, ol = sizeof (ob);
	sigset_t saved;
	size_t j;
	int fam;

	if (dup_of_earlier(p, i))
		return (0);
	memset(&ob, 0, sizeof (ob));
	if (fdtab_maybe(e->fd) || fdtab_hidden(e->out) ||
	    sock_of(e->fd, SOCK_DGRAM, &fam) != 0 || fam != AF_UNIX ||
	    ctl_group(e->ctl, dir, &ga, &gl, &proto) != 0 ||
	    proto != RV_UDP ||
	    real.getsockname(e->out, (struct sockaddr *)&ob, &ol) != 0 ||
	    sock_of(e->out, SOCK_DGRAM, &fam) != 0 ||
	    ob.ss_family != ga.ss_family || port_of(&ob) != port_of(&ga) ||
	    !is_shadow(e->shadow, ga.ss_family, SOCK_DGRAM) ||
	    (sk = sock_new(ga.ss_family)) == NULL)
		goto stale;
	sk->state = SK_DIRECT;
	sk->way = SHIM_POLICY_HASH;	/* dispatched: which, the owner's */
	sk->dgram = 1;
	sk->reuseport = 1;
	sk->addr = ob;
	sk->addrlen = ol;
	fdtab_lock(&saved);
	if (fdtab_put(e->fd, sk) != 0) {
		fdtab_unlock(&saved);
		sock_free(sk);
		return (0);
	}
	sk->shadow = fdtab_hide_away(e->shadow);
	sk->ctl = fdtab_hide_away(e->ctl);
	sk->out = fdtab_hide_away(e->out);
	for (j = 0; j < p->npkt4; j++) {
		if (p->pkt4[j] == e->fd)
			plat_pktinfo_mark(sk->shadow);
	}
	for (j = 0; j < p->ntells; j++)
		sk->tell_reports |= p->tells[j] == e->fd;
	for (j = 0; j < p->ntellbuf; j++)
		sk->tell_rcvbuf |= p->tellbuf[j] == e->fd;
	sk->rcvbuf = plat_rcvbuf(sk->shadow);
	sk->pktinfo = plat_pktinfo_asked(sk->shadow);
	plat_sendopts_read(sk->shadow, sk->family, &sk->so);
	fdtab_changed();
	fdtab_unlock(&saved);
	p->sk[i] = sk;
	return (1);
stale:
	shim_log(LOG_LVL_WARN, "%s names fd %d as a UDP group's member, but "
	    "it is not one (stale or forged); left alone",
	    REUSEPORT_SHIM_ENV_SHADOWS, e->fd);
	return (0);
}

/* Entry e names a member of the shared way (execenv.h: fd:fd:ctl:fd). */
static int
is_shared(const struct execenv_pair *e)
{
	return (e->ctl >= 0 && e->shadow == e->fd && e->out == e->fd);
}

/*
 * A shared UDP member's own buffer's socket as _OWNBUF names it for fd,
 * if it is one (a shadow's: unbound, not ours); else -1.
 */
static int
own_buf(const struct pairs *p, int fd, int family)
{
	for (size_t j = 0; j + 1 < p->nown; j += 2) {
		if (p->own[j] != fd)
			continue;
		if (p->own[j + 1] != fd &&
		    is_shadow(p->own[j + 1], family, SOCK_DGRAM))
			return (p->own[j + 1]);
		shim_log(LOG_LVL_WARN, "%s names fd %d as the buffer of "
		    "member %d, but it is not one; its buffer is the group's",
		    REUSEPORT_SHIM_ENV_OWNBUF, p->own[j + 1], fd);
	}
	return (-1);
}

/*
 * Entry i names a member of the shared way: fd the group's socket
 * itself, TCP or UDP, and ctl its connection to the group's owner (its
 * peer's name says which group, and our uid is its owner's).  So, fd is
 * that member again and ctl hidden as before the exec: 1.  Else 0, and
 * left alone (stale or forged).  A dup of an earlier entry's member
 * takes its sock.
 */
static int
adopt_shared(struct pairs *p, size_t i, const char *dir)
{
	const struct execenv_pair *e = &p->p[i];
	struct sockaddr_storage ga, sb;
	struct shim_sock *sk;
	enum rv_proto proto;
	socklen_t gl, sl = sizeof (sb);
	sigset_t saved;
	int fam, own;

	if (dup_of_earlier(p, i))
		return (0);
	memset(&sb, 0, sizeof (sb));
	if (fdtab_maybe(e->fd) || fdtab_maybe(e->ctl) || e->ctl == e->fd ||
	    ctl_group(e->ctl, dir, &ga, &gl, &proto) != 0 ||
	    sock_of(e->fd, proto == RV_UDP ? SOCK_DGRAM : SOCK_STREAM,
	    &fam) != 0 || fam != ga.ss_family ||
	    real.getsockname(e->fd, (struct sockaddr *)&sb, &sl) != 0 ||
	    port_of(&sb) != port_of(&ga) ||
	    (sk = sock_new(ga.ss_family)) == NULL)
		goto stale;
	own = proto == RV_UDP && e->ctl >= 0 ?
	    own_buf(p, e->fd, ga.ss_family) : -1;
	if (own == e->ctl)
		own = -1;
	sk->state = SK_DIRECT;
	sk->way = SHIM_POLICY_SHARED;
	sk->dgram = proto == RV_UDP;
	sk->reuseport = 1;
	sk->addr = ga;
	sk->addrlen = gl;
	fdtab_lock(&saved);
	if (fdtab_put(e->fd, sk) != 0) {
		fdtab_unlock(&saved);
		sock_free(sk);
		return (0);
	}
	sk->ctl = fdtab_hide_away(e->ctl);
	if (own >= 0) {
		sk->shadow = fdtab_hide_away(own);
		sk->rcvbuf = plat_rcvbuf(sk->shadow);
		for (size_t j = 0; j < p->ntellbuf; j++)
			sk->tell_rcvbuf |= p->tellbuf[j] == e->fd;
	}
	fdtab_changed();
	fdtab_unlock(&saved);
	p->sk[i] = sk;
	return (1);
stale:
	shim_log(LOG_LVL_WARN, "%s names fd %d as a member of a group's "
	    "shared way, but it is not one (stale or forged); left alone",
	    REUSEPORT_SHIM_ENV_SHADOWS, e->fd);
	return (0);
}

/* The fds variable name lists, into fds (max), and the variable gone. */
static size_t
fds_take_max(const char *name, int *fds, size_t max)
{
	const char *v = getenv(name);
	int n = 0;

	if (v != NULL && (n = execenv_fds_parse(v, fds, max)) < 0) {
		shim_log(LOG_LVL_WARN, "%s is malformed (\"%.64s\"); "
		    "ignored", name, v);
		n = 0;
	}
	(void) unsetenv(name);
	return ((size_t)n);
}

static size_t
fds_take(const char *name, int fds[EXECENV_PAIRS_MAX])
{
	return (fds_take_max(name, fds, EXECENV_PAIRS_MAX));
}

/* The same for a list of fds by twos (_OWNBUF): an odd one is no pair. */
static size_t
fds_take2(const char *name, int fds[2 * EXECENV_PAIRS_MAX])
{
	return (fds_take_max(name, fds, 2 * EXECENV_PAIRS_MAX) & ~(size_t)1);
}

/*
 * The pairs REUSEPORT_SHIM_SHADOWS names, into p, and the variable
 * gone: the program's own children must not take its numbers for
 * theirs (its exec names the shadows anew).
 */
static void
pairs_take(struct pairs *p)
{
	const char *v = getenv(REUSEPORT_SHIM_ENV_SHADOWS);
	int n;

	/* sk[] too: adopt_shared reads the earlier entries' */
	memset(p, 0, sizeof (*p));
	if (v != NULL && (n = execenv_pairs_parse(v, p->p,
	    EXECENV_PAIRS_MAX)) >= 0)
		p->n = (size_t)n;
	else if (v != NULL)
		shim_log(LOG_LVL_WARN, "%s is malformed (\"%.64s\"); "
		    "ignored", REUSEPORT_SHIM_ENV_SHADOWS, v);
	(void) unsetenv(REUSEPORT_SHIM_ENV_SHADOWS);
	p->npkt4 = fds_take(REUSEPORT_SHIM_ENV_PKT4, p->pkt4);
	p->ntells = fds_take(REUSEPORT_SHIM_ENV_TELLS, p->tells);
	p->ntellbuf = fds_take(REUSEPORT_SHIM_ENV_TELLBUF, p->tellbuf);
	p->nown = fds_take2(REUSEPORT_SHIM_ENV_OWNBUF, p->own);
}

void
inherit_scan(void)
{
	const struct shim_config *c = config_get();
	struct pairs p;
	struct scan s;
	int saved = errno;

	pairs_take(&p);
	memset(&s, 0, sizeof (s));
	/* Only the name: a program that never groups creates no directory. */
	if (c->mode != SHIM_MODE_OFF && rv_dir_choose(s.dir, sizeof (s.dir),
	    c->dir, getenv("XDG_RUNTIME_DIR"), geteuid()) == 0) {
		/*
		 * Shared members first: a TCP one's connection to its owner
		 * would look like an endpoint.
		 */
		for (size_t i = 0; i < p.n; i++) {
			if (is_shared(&p.p[i]))
				s.found += adopt_shared(&p, i, s.dir);
		}
		plat_for_each_fd(look, &s);
		for (size_t i = 0; i < p.n; i++) {
			if (is_shared(&p.p[i]))
				continue;
			if (p.p[i].ctl >= 0)
				s.found += adopt_udp(&p, i, s.dir);
			else
				adopt(&p, i);
		}
	}
	if (s.found > 0)
		shim_log(LOG_LVL_INFO, "%d shared listener(s) inherited",
		    s.found);
	errno = saved;
}
