/*
 * exec.c: exec and spawn keep the shim for a program that inherits
 * endpoints.
 *
 * An endpoint that is not close-on-exec survives exec, and the new
 * program's shim recognises it (inherit.c), if the new program has a
 * shim.  nginx's binary upgrade execs itself with an environment of its
 * own making (only what its `env` lines keep): the new master ran
 * without the shim, saw a bare Unix socket, bound the port for real,
 * failed with EADDRINUSE and exited, and no log said why.  So when the
 * caller holds such an endpoint and the environment given lacks the
 * shim, the program gets that environment plus the preload variable
 * (each class's on illumos, LD_PRELOAD_64 and LD_PRELOAD_32, with that
 * class's library: execenv.h) and the REUSEPORT_SHIM_* variables as this
 * process had them at startup, and REUSEPORT_SHIM_DIR naming the
 * endpoint's directory when neither has it (XDG_RUNTIME_DIR, which picks
 * the default, is usually dropped as well).  Where that cannot be done
 * (no room), one error line says so and how to fix it, and the exec goes
 * ahead unchanged.  A member of the shared way (its fd the group's
 * socket itself) and a dispatched UDP member (its fd its queue) survive
 * exec as members too, their connection to the owner going along as the
 * shadows below do, and the shim is put back for them as well.
 *
 * glibc's execv, execvp, execl and the others call an internal execve,
 * not ours, so each is wrapped, and so is posix_spawn.  exec may run in
 * a vfork child or a signal handler: the check reads the fd table's
 * bitmap and the direct members' published view (fdfast.h) without a
 * lock and writes nothing, the new environment is
 * built on the stack, and log lines are written without stdio.  A
 * process that tracks no fd passes straight through (one atomic load).
 *
 * posix_spawn: file actions may close or dup2 an endpoint in the child,
 * and they are opaque, so the parent's fds decide, as for exec.  A child
 * whose actions close every endpoint may get the shim its parent had;
 * that changes nothing for a program that never sets SO_REUSEPORT.
 *
 * An endpoint's options live on its shadow (fdtab.h), which is
 * close-on-exec: an inherited listener read SO_KEEPALIVE 0 and accepted
 * sockets lost TCP_NODELAY after nginx's binary upgrade.  So every exec
 * with such an endpoint keeps its shadow open (FD_CLOEXEC cleared just
 * before, set again if the exec fails, or after posix_spawn in the
 * parent) and names the pairs in REUSEPORT_SHIM_SHADOWS, which replaces
 * any the environment given has (inherit.c takes them over).  That needs
 * the table's lock, to read which shadow is whose, and it is taken in
 * the table's own process only (fdtab_ours): a child forked without the
 * atfork handlers may have a copy of it held by a thread it does not
 * have, and would wait forever, and a vfork child, which shares its
 * parent's memory, cannot be told from one.  Their exec reads the table
 * without the lock where fdtab.h offers that (shadow_of); else it passes
 * no shadows (the new program's listeners start with fresh options) and
 * only drops a stale variable.  In a signal handler the lock is safe (it
 * blocks signals while held); fdtab_get() under it frees an entry whose
 * fd was replaced behind the shim's back: rare, and what close() in a
 * handler does as well.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "reuseport_shim.h"
#include "exec.h"
#include "config.h"
#include "execenv.h"
#include "fdfast.h"
#include "fdtab.h"
#include "log.h"
#include "platform.h"
#include "real.h"
#include "shim.h"

#define	EXEC_ENV_MAX	1024	/* entries of a new environment */
#define	EXEC_BUF_MAX	4096	/* strings made for it */
#define	EXEC_CAP_MAX	8192	/* the startup values kept */
#define	EXEC_PATH_MAX	4096	/* a candidate of execvp's search */
/*
 * REUSEPORT_SHIM_PKT4=, _TELLS= or _TELLBUF=: EXECENV_PAIRS_MAX numbers
 * below 65536 and commas
 */
#define	EXEC_PKT4_BYTES	(sizeof (REUSEPORT_SHIM_ENV_TELLBUF) + \
	EXECENV_PAIRS_MAX * 6)

extern char **environ;

/* The room for a new environment, on the wrapper's stack. */
struct exec_room {
	char	*env[EXEC_ENV_MAX];
	char	buf[EXEC_BUF_MAX];
	/*
	 * The shadows (and a UDP member's connection and group socket)
	 * kept open for the exec, and the entry naming them.
	 */
	char	pairs[EXECENV_PAIRS_BYTES];
	struct execenv_pair p[EXECENV_PAIRS_MAX];
	size_t	npairs;
	int	open;		/* their FD_CLOEXEC is cleared */
	/* The UDP members whose IP_PKTINFO ask only the shim knows. */
	char	pkt4[EXEC_PKT4_BYTES];
	/* Those whose owner takes their tells: of reports, of buffers. */
	char	tells[EXEC_PKT4_BYTES];
	char	tellbuf[EXEC_PKT4_BYTES];
	/* A shared UDP member's own buffer's socket, by pair; or -1. */
	int	own[EXECENV_PAIRS_MAX];
	char	ownbuf[2 * EXEC_PKT4_BYTES];
	int	fds[2 * EXECENV_PAIRS_MAX];	/* the variable being made */
};

static struct execenv_self self;
static char self_path[1024];
static char cap[EXEC_CAP_MAX];
static size_t cap_used;
static int cap_short;		/* a startup value did not fit in cap */
static const char *pre_name = "LD_PRELOAD";	/* for log lines */
static char pre_name_buf[32];

/* len bytes of s as a string in cap; NULL (cap_short set) if no room. */
static const char *
keep(const char *s, size_t len)
{
	char *p = cap + cap_used;

	if (len >= sizeof (cap) - cap_used) {
		cap_short = 1;
		return (NULL);
	}
	memcpy(p, s, len);
	p[len] = '\0';
	cap_used += len + 1;
	return (p);
}

/* The name of a kept "NAME=value" entry, for log lines. */
static const char *
entry_name(const char *entry)
{
	size_t nl = strcspn(entry, "=");

	if (nl >= sizeof (pre_name_buf))
		return (pre_name);
	memcpy(pre_name_buf, entry, nl);
	pre_name_buf[nl] = '\0';
	return (pre_name_buf);
}

void
exec_init(void)
{
	const char *slash, *e;

	if (plat_self_path(self_path, sizeof (self_path)) != 0)
		return;		/* an exec that needs the shim says so */
	slash = strrchr(self_path, '/');
	self.base = slash != NULL ? slash + 1 : self_path;
	/*
	 * Each class's variable in effect, and our element of it: on
	 * illumos LD_PRELOAD_32 names the 32-bit library and LD_PRELOAD_64
	 * the 64-bit one, so each class gets its own back.
	 */
	if (execenv_self_pre(&self, plat_preload_vars(), environ, cap,
	    sizeof (cap), &cap_used) != 0)
		cap_short = 1;
	if (self.npre > 0)
		pre_name = entry_name(self.pre[0].entry);
	for (char **ep = environ; ep != NULL && *ep != NULL; ep++) {
		/* Shadows are this process's to pass on (see shadow_env). */
		if (strncmp(*ep, "REUSEPORT_SHIM_", 15) != 0 ||
		    strncmp(*ep, REUSEPORT_SHIM_ENV_SHADOWS "=",
		    sizeof (REUSEPORT_SHIM_ENV_SHADOWS)) == 0 ||
		    strncmp(*ep, REUSEPORT_SHIM_ENV_PKT4 "=",
		    sizeof (REUSEPORT_SHIM_ENV_PKT4)) == 0 ||
		    strncmp(*ep, REUSEPORT_SHIM_ENV_TELLS "=",
		    sizeof (REUSEPORT_SHIM_ENV_TELLS)) == 0 ||
		    strncmp(*ep, REUSEPORT_SHIM_ENV_TELLBUF "=",
		    sizeof (REUSEPORT_SHIM_ENV_TELLBUF)) == 0 ||
		    strncmp(*ep, REUSEPORT_SHIM_ENV_OWNBUF "=",
		    sizeof (REUSEPORT_SHIM_ENV_OWNBUF)) == 0)
			continue;
		if (self.nvars == EXECENV_VARS_MAX) {
			cap_short = 1;
			break;
		}
		if ((e = keep(*ep, strlen(*ep))) != NULL)
			self.vars[self.nvars++] = e;
	}
}

/*
 * fd is connected to a group's owner: the peer is its rendezvous
 * "<dir>/tcp4-..." (rendezvous.c; udp too if any); that directory into
 * dir.  0, else -1.
 */
static int
owner_dir(int fd, int any, char *dir, size_t len)
{
	struct sockaddr_un un;
	socklen_t ul = sizeof (un);
	const char *slash;

	memset(&un, 0, sizeof (un));
	if (real.getpeername(fd, (struct sockaddr *)&un, &ul) != 0 ||
	    un.sun_family != AF_UNIX ||
	    ul <= offsetof(struct sockaddr_un, sun_path))
		return (-1);
	un.sun_path[sizeof (un.sun_path) - 1] = '\0';
	if ((slash = strrchr(un.sun_path, '/')) == NULL ||
	    (strncmp(slash + 1, "tcp", 3) != 0 &&
	    (!any || strncmp(slash + 1, "udp", 3) != 0)) ||
	    (slash[4] != '4' && slash[4] != '6') || slash[5] != '-' ||
	    (size_t)(slash - un.sun_path) >= len)
		return (-1);
	memcpy(dir, un.sun_path, (size_t)(slash - un.sun_path));
	dir[slash - un.sun_path] = '\0';
	return (0);
}

/*
 * fd is a direct member (fdtab.h, SK_DIRECT: of the shared way, TCP or
 * UDP, its fd the group's socket; or a dispatched UDP member, its fd
 * its queue) as the lock-free view has it (fdfast.h), still the file it
 * was, with its connection to the owner open: the group's directory
 * (the connection's peer names it) into dir and 0, else -1.  Its fd has
 * no owner for a peer, and was taken for no member: a program exec'd by
 * one with an environment that dropped the shim ran without it, its
 * binds of the port went to the kernel (EADDRINUSE on illumos), and the
 * member it inherited was a bare socket with the owner's connection an
 * fd beside it (the shared way) or a queue whose datagrams came with
 * the shim's header in front (dispatched).  The view holds FDFAST_MAX
 * members: past that many, a surviving one may go unseen.
 */
static int
direct_dir(int fd, char *dir, size_t len, int *stream)
{
	struct fdfast_ent f;
	struct stat st;

	if (!fdfast_get(fd, &f) || fstat(fd, &st) != 0 ||
	    (uint64_t)st.st_dev != f.dev || (uint64_t)st.st_ino != f.ino ||
	    f.ctl < 0 || !fdtab_hidden(f.ctl) ||
	    owner_dir(f.ctl, 1, dir, len) != 0)
		return (-1);
	*stream = (f.flags & FDFAST_STREAM) != 0;
	return (0);
}

/*
 * The first member that survives exec (not close-on-exec), its group's
 * directory into dir and what it is into *what (for log lines); -1 if
 * none.  Lock-free, and writes nothing but dir (see above): the table's
 * bitmap says which fds are tracked, hidden ones are the shim's own (and
 * close-on-exec), and a member is either an endpoint or a direct member
 * (direct_dir).  A tracked fd that is a Unix socket whose peer is the
 * owner's "<dir>/tcp4-..." is an endpoint: members before listen are
 * TCP sockets; a number reused for some other Unix socket behind the
 * shim's back is told apart by that name.
 */
static int
survivor(char *dir, size_t len, const char **what)
{
	for (int fd = fdtab_next(0); fd >= 0; fd = fdtab_next(fd + 1)) {
		int fl, stream;

		if (fdtab_hidden(fd) || (fl = real.fcntl(fd, F_GETFD)) < 0 ||
		    (fl & FD_CLOEXEC) != 0)
			continue;
		if (owner_dir(fd, 0, dir, len) == 0) {
			*what = "shared listener";
			return (fd);
		}
		if (direct_dir(fd, dir, len, &stream) == 0) {
			*what = stream ? "shared listener" : "UDP group's "
			    "member";
			return (fd);
		}
	}
	return (-1);
}

/* v in decimal, in buf (12 bytes). */
static const char *
num(char *buf, int v)
{
	size_t k = 11;

	buf[k] = '\0';
	do {
		buf[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && k > 0);
	return (buf + k);
}

/*
 * The environment to exec what with: envp itself, or envp with the
 * shim put back, in r.
 */
static char *const *
shim_env(const char *what, char *const envp[], struct exec_room *r)
{
	char dir[sizeof (((struct sockaddr_un *)0)->sun_path)], nb[12], ab[12];
	const char *why, *kind;
	size_t npre;
	int fd, n;

	/*
	 * Still named, and with its directory: nothing to add.  Named but
	 * without REUSEPORT_SHIM_DIR (nginx's 'env LD_PRELOAD;' alone), the
	 * new program may choose another directory (XDG_RUNTIME_DIR gone)
	 * and not recognise its listeners: the directory goes along.
	 */
	if (self.base != NULL && execenv_has_shim(envp, &self) &&
	    execenv_get(envp, REUSEPORT_SHIM_ENV_DIR) != NULL)
		return (envp);
	if ((fd = survivor(dir, sizeof (dir), &kind)) < 0)
		return (envp);
	if (self.base != NULL && self.npre == 0 && !cap_short) {
		/*
		 * Not loaded through the environment (ld.so.preload, linked
		 * in): the new program gets the shim the same way.
		 */
		shim_log_strs(LOG_LVL_DEBUG, "exec of ", what, ": no preload "
		    "variable named the shim at startup; environment left "
		    "as it is", NULL);
		return (envp);
	}
	if (self.base == NULL)
		why = "the shim does not know its own path";
	else if (cap_short)
		why = "this process's preload and REUSEPORT_SHIM_* variables "
		    "did not fit the shim's buffer";
	else if ((n = execenv_build(envp, &self, dir, r->env, EXEC_ENV_MAX,
	    r->buf, sizeof (r->buf), &npre)) < 0)
		why = "the environment has more entries or longer values "
		    "than the shim has room for";
	else {
		shim_log_strs(LOG_LVL_INFO, "exec of ", what, ": the ", kind,
		    " on fd ", num(nb, fd), " survives it but the new "
		    "environment lacks the shim", npre > 0 ? "" : "'s settings",
		    ": added ", npre > 0 ? pre_name : "",
		    npre > 0 ? " and " : "", num(ab, n - (int)npre),
		    " REUSEPORT_SHIM_* variable(s) (as at this process's "
		    "start)", NULL);
		return (r->env);
	}
	shim_log_strs(LOG_LVL_ERROR, "exec of ", what, ": the ", kind,
	    " on fd ", num(nb, fd), " survives it but the new "
	    "environment lacks the shim, and it cannot be put back: ", why,
	    "; the new program will bind the port itself and fail with "
	    "EADDRINUSE.  Keep ", pre_name, " and REUSEPORT_SHIM_* in its "
	    "environment (nginx: 'env ", pre_name, "; env REUSEPORT_SHIM_MODE; "
	    "env REUSEPORT_SHIM_DIR;' in nginx.conf's main context)", NULL);
	return (envp);
}

/* A hidden fd of ours, open. */
static int
kept(int fd)
{
	return (fd >= 0 && fdtab_hidden(fd) && real.fcntl(fd, F_GETFD) >= 0);
}

/*
 * What the new program needs of tracked fd if it is a member's: its
 * shadow, and a dispatched UDP member's connection to its owner and the
 * group's socket, into e; 0, or -1 (none: not a member).  A member of
 * the shared way is the group's socket itself and has no shadow: its
 * connection to the owner, its membership, goes along, named as
 * fd:fd:ctl:fd (execenv.h), and a UDP one's own buffer's socket into
 * *own (else -1).  Without it the member left the group at
 * exec, and once the group's last member had, the next bind of the port
 * found no group and the port taken.  The table's lock held.  Where
 * the table is not ours (a vfork child, a child forked without the
 * atfork handlers) its lock must not be taken and nothing answers: no
 * shadow (a shared member leaves the group), and the new program's
 * listeners start with fresh options (a lock-free read of the table
 * would do, were its fields atomic).  The hidden fds must be open here
 * too: a child's closefrom before exec (Python's close_fds) closes them
 * where the table is not ours.
 */
static int
carried(int fd, struct execenv_pair *e, int *own)
{
	struct shim_sock *sk;

	*own = -1;
	if ((sk = fdtab_get(fd)) == NULL || sk->state == SK_OPT)
		return (-1);
	if (sk->state == SK_DIRECT && sk->way == SHIM_POLICY_SHARED) {
		if (!kept(sk->ctl))
			return (-1);
		e->fd = e->shadow = e->out = fd;
		e->ctl = sk->ctl;
		/*
		 * A UDP member's own buffer lives on its shadow, named apart
		 * (REUSEPORT_SHIM_OWNBUF): an earlier build knows the entry
		 * only in this form.
		 */
		if (sk->shadow >= 0 && kept(sk->shadow))
			*own = sk->shadow;
		return (0);
	}
	if ((sk->state == SK_DIRECT && !sk->dgram) || !kept(sk->shadow))
		return (-1);
	e->fd = fd;
	e->shadow = sk->shadow;
	e->ctl = e->out = -1;
	if (sk->state == SK_DIRECT) {
		if (!kept(sk->ctl) || !kept(sk->out))
			return (-1);
		e->ctl = sk->ctl;
		e->out = sk->out;
	}
	return (0);
}

/*
 * The shadows of the endpoints that survive the exec, into r (ours: the
 * table's lock held; else none, see shadow_of): endpoints as survivor()
 * tells them, from the table, which knows each one's shadow.  How many
 * did not fit.
 */
static size_t
pairs_find(struct exec_room *r, int ours)
{
	size_t lost = 0;

	r->npairs = 0;
	if (!ours)
		return (0);
	for (int fd = fdtab_next(0); fd >= 0; fd = fdtab_next(fd + 1)) {
		struct execenv_pair e;
		int fl, own;

		if (fdtab_hidden(fd) || (fl = real.fcntl(fd, F_GETFD)) < 0 ||
		    (fl & FD_CLOEXEC) != 0 || carried(fd, &e, &own) != 0)
			continue;
		if (r->npairs == EXECENV_PAIRS_MAX) {
			lost++;
			continue;
		}
		r->own[r->npairs] = own;
		r->p[r->npairs++] = e;
	}
	return (lost);
}

/* Clear (on 0) or set FD_CLOEXEC on hidden fd. */
static void
cloexec(int fd, int on)
{
	int fl;

	/* Moved meanwhile (a dup2 onto it): the number is not ours. */
	if (fd < 0 || !fdtab_hidden(fd) || (fl = real.fcntl(fd, F_GETFD)) < 0)
		return;
	(void) real.fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC :
	    fl & ~FD_CLOEXEC);
}

/* The same on the hidden fds r names. */
static void
pairs_cloexec(const struct exec_room *r, int on)
{
	for (size_t i = 0; i < r->npairs; i++) {
		cloexec(r->p[i].shadow, on);
		cloexec(r->p[i].ctl, on);
		cloexec(r->p[i].out, on);
		cloexec(r->own[i], on);
	}
}

/* What udp_env names: a UDP member's, by its shadow and its sock. */
enum udp_mark { MARK_PKT4, MARK_TELLS, MARK_TELLBUF, MARK_OWNBUF };

static int
marked(const struct execenv_pair *p, int own, enum udp_mark what)
{
	const struct shim_sock *sk;

	if (p->ctl < 0 || (p->shadow == p->fd && own < 0))
		return (0);		/* not a UDP member with a shadow */
	if (what == MARK_PKT4)		/* dispatched: out its own */
		return (p->out != p->fd && plat_pktinfo_held(p->shadow));
	if ((sk = fdtab_get(p->fd)) == NULL)
		return (0);
	return (what == MARK_TELLS ? sk->tell_reports : sk->tell_rcvbuf);
}

/*
 * r's environment with variable name naming the members of r's pairs
 * that are marked what (MARK_OWNBUF: each shared member with its own
 * buffer's socket, by twos), into buf, in place of any it has: as
 * execenv_replace says, or rc if that is < 0 already.
 */
static int
udp_var(struct exec_room *r, int rc, const char *name, enum udp_mark what,
    char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < r->npairs; i++) {
		if (what == MARK_OWNBUF ? r->own[i] < 0 :
		    !marked(&r->p[i], r->own[i], what))
			continue;
		r->fds[n++] = r->p[i].fd;
		if (what == MARK_OWNBUF)	/* by twos: fd, own */
			r->fds[n++] = r->own[i];
	}
	if (rc < 0)
		return (rc);
	return (execenv_replace(r->env, name, n > 0 && execenv_fds_format(
	    name, r->fds, n, buf, len) >= 0 ? buf : NULL, r->env,
	    EXEC_ENV_MAX));
}

/*
 * r's environment with REUSEPORT_SHIM_PKT4 naming the UDP members of the
 * pairs that asked for the report only the shim keeps (illumos's
 * IP_PKTINFO, plat_pktinfo_held on their shadows), _TELLS and _TELLBUF
 * those whose owner takes what they tell it of reports and of their
 * buffer (else the new program's asks would never reach it), and
 * _OWNBUF the shared members' own buffers' sockets: the number of
 * entries, or -1 (no room).  The table's lock held where the table is
 * ours (else there are no pairs).
 */
static int
udp_env(struct exec_room *r)
{
	int rc = udp_var(r, 0, REUSEPORT_SHIM_ENV_PKT4, MARK_PKT4, r->pkt4,
	    sizeof (r->pkt4));

	rc = udp_var(r, rc, REUSEPORT_SHIM_ENV_TELLS, MARK_TELLS, r->tells,
	    sizeof (r->tells));
	rc = udp_var(r, rc, REUSEPORT_SHIM_ENV_TELLBUF, MARK_TELLBUF,
	    r->tellbuf, sizeof (r->tellbuf));
	return (udp_var(r, rc, REUSEPORT_SHIM_ENV_OWNBUF, MARK_OWNBUF,
	    r->ownbuf, sizeof (r->ownbuf)));
}

/*
 * env with REUSEPORT_SHIM_SHADOWS naming the shadows of the endpoints
 * that survive the exec, in place of any the environment has (a stale
 * one would make the new program take some other fd for a shadow), and
 * those shadows left open for it; env itself where there is nothing to
 * name or drop.
 */
static char *const *
shadow_env(const char *what, char *const env[], struct exec_room *r)
{
	char nb[12], mb[12];
	char *entry = NULL;
	sigset_t saved;
	size_t lost;
	int ours = fdtab_ours(), n;

	if (ours)
		fdtab_lock(&saved);
	lost = pairs_find(r, ours);
	if (r->npairs > 0 && execenv_pairs_format(r->p, r->npairs, r->pairs,
	    sizeof (r->pairs)) >= 0)
		entry = r->pairs;
	if (entry == NULL && execenv_get(env, REUSEPORT_SHIM_ENV_SHADOWS) ==
	    NULL) {
		r->npairs = 0;
		if (ours)
			fdtab_unlock(&saved);
		return (env);
	}
	n = execenv_replace(env, REUSEPORT_SHIM_ENV_SHADOWS, entry, r->env,
	    EXEC_ENV_MAX);
	if (n >= 0)
		n = udp_env(r);
	if (n >= 0 && entry != NULL) {
		/* Under the lock: no dup2 moves a shadow meanwhile. */
		pairs_cloexec(r, 0);
		r->open = 1;
	} else {
		r->npairs = 0;
	}
	if (ours)
		fdtab_unlock(&saved);
	if (n < 0 && entry != NULL)
		shim_log_strs(LOG_LVL_WARN, "exec of ", what, ": no room in "
		    "the environment to name the shared listeners' shadows: "
		    "the new program's listeners lose the options set on "
		    "them", NULL);
	else if (lost > 0)
		shim_log_strs(LOG_LVL_WARN, "exec of ", what, ": ",
		    num(nb, (int)lost), " shared listener(s) beyond the first ",
		    num(mb, EXECENV_PAIRS_MAX), " lose the options set on "
		    "them", NULL);
	return (n >= 0 ? r->env : env);
}

/*
 * The environment to exec what with (see shim_env and shadow_env).
 * After the exec, or posix_spawn, exec_done(r) sets back what it changed.
 */
static char *const *
exec_env(const char *what, char *const envp[], struct exec_room *r)
{
	r->npairs = 0;
	r->open = 0;
	if (fdtab_none())
		return (envp);
	return (shadow_env(what, shim_env(what, envp, r), r));
}

/*
 * The exec failed, or posix_spawn returned: the shadows are close-on-exec
 * again, or a later exec that does not pass them on (this process's
 * children's) would leak them.  rc is returned, errno kept.
 */
static int
exec_done(struct exec_room *r, int rc)
{
	sigset_t saved;
	int e = errno, ours = fdtab_ours();

	if (r->open) {
		if (ours)
			fdtab_lock(&saved);
		pairs_cloexec(r, 1);
		if (ours)
			fdtab_unlock(&saved);
		r->open = 0;
	}
	errno = e;
	return (rc);
}

/*
 * The room for a new environment (about 20 KB) is taken only on the slow
 * paths, in functions of their own: a crash handler on a small signal
 * stack that execs must not pay for it in a process that tracks nothing.
 */
#if defined(__GNUC__)
#define	SLOW	__attribute__((noinline))
#else
#define	SLOW
#endif

/*
 * execvpe where the C library has none (illumos before ILLUMOS_0.44):
 * execvp's search, made here (execenv_search), each candidate run by
 * execve with envp.  Not execvp with environ pointing at envp for the
 * call: in a vfork child that writes the parent's environ, which another
 * of its threads may be reading, and a signal handler's exec would race
 * with the interrupted code's own use of it.  PATH is the caller's, as
 * execvpe's is; where it is unset, the C library's execvp default.
 */
static SLOW int
execvpe_search(const char *file, char *const argv[], char *const envp[])
{
	char buf[EXEC_PATH_MAX];
	const char *path = execenv_get(environ, "PATH");

	if (path == NULL)
		path = plat_exec_path();
	return (execenv_search(file, argv, envp, path, "/bin/sh",
	    real.execve, buf, sizeof (buf)));
}

static int
execvpe_next(const char *file, char *const argv[], char *const envp[])
{
	if (real.execvpe != NULL)
		return (real.execvpe(file, argv, envp));
	return (execvpe_search(file, argv, envp));
}

/* Resolved before main(); a call from an earlier constructor resolves. */
static void
ready(void)
{
	if (real.execve == NULL)
		shim_init();
}

static SLOW int
execve_slow(const char *path, char *const argv[], char *const envp[])
{
	struct exec_room r;
	char *const *env = exec_env(path, envp, &r);

	return (exec_done(&r, real.execve(path, argv, env)));
}

int
shim_execve(const char *path, char *const argv[], char *const envp[])
{
	ready();
	if (fdtab_none())
		return (real.execve(path, argv, envp));
	return (execve_slow(path, argv, envp));
}

static SLOW int
execv_slow(const char *path, char *const argv[])
{
	struct exec_room r;
	char *const *env;

	if ((env = exec_env(path, environ, &r)) == environ)
		return (exec_done(&r, real.execv(path, argv)));
	return (exec_done(&r, real.execve(path, argv, env)));
}

int
shim_execv(const char *path, char *const argv[])
{
	ready();
	if (fdtab_none())
		return (real.execv(path, argv));
	return (execv_slow(path, argv));
}

static SLOW int
execvp_slow(const char *file, char *const argv[])
{
	struct exec_room r;
	char *const *env;

	if ((env = exec_env(file, environ, &r)) == environ)
		return (exec_done(&r, real.execvp(file, argv)));
	return (exec_done(&r, execvpe_next(file, argv, env)));
}

int
shim_execvp(const char *file, char *const argv[])
{
	ready();
	if (fdtab_none())
		return (real.execvp(file, argv));
	return (execvp_slow(file, argv));
}

static SLOW int
execvpe_slow(const char *file, char *const argv[], char *const envp[])
{
	struct exec_room r;
	char *const *env = exec_env(file, envp, &r);

	return (exec_done(&r, execvpe_next(file, argv, env)));
}

int
shim_execvpe(const char *file, char *const argv[], char *const envp[])
{
	ready();
	if (fdtab_none())
		return (execvpe_next(file, argv, envp));
	return (execvpe_slow(file, argv, envp));
}

static SLOW int
fexecve_slow(int fd, char *const argv[], char *const envp[])
{
	struct exec_room r;
	char *const *env = exec_env("fexecve", envp, &r);

	return (exec_done(&r, real.fexecve(fd, argv, env)));
}

int
shim_fexecve(int fd, char *const argv[], char *const envp[])
{
	ready();
	if (real.fexecve == NULL) {
		errno = ENOSYS;		/* as a C library without it */
		return (-1);
	}
	if (fdtab_none())
		return (real.fexecve(fd, argv, envp));
	return (fexecve_slow(fd, argv, envp));
}

/*
 * execl's arguments into an array as long as they are (as the C library
 * does it), then the matching v-form.
 */
int
shim_execl(const char *path, const char *arg, va_list ap,
    enum shim_execl kind)
{
	va_list count;
	size_t n = 1;

	va_copy(count, ap);
	if (arg != NULL) {
		while (va_arg(count, char *) != NULL)
			n++;
	}
	va_end(count);
	{
		char *argv[n + 1];
		char *const *envp;

		/* Cast: exec's argv type; nobody writes through it. */
		argv[0] = (char *)arg;
		for (size_t k = 1; k <= n; k++)
			argv[k] = arg == NULL ? NULL : va_arg(ap, char *);
		switch (kind) {
		case SHIM_EXECLE:
			envp = va_arg(ap, char *const *);
			return (shim_execve(path, argv, envp));
		case SHIM_EXECLP:
			return (shim_execvp(path, argv));
		default:
			return (shim_execv(path, argv));
		}
	}
}

static SLOW int
posix_spawn_slow(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
    char *const argv[], char *const envp[], int search)
{
	struct exec_room r;
	char *const *env;

	/*
	 * The shadows are inheritable during the call, in the parent too: a
	 * fork by another thread meanwhile gets them without close-on-exec.
	 */
	env = exec_env(path, envp, &r);
	if (search)
		return (exec_done(&r, real.posix_spawnp(pid, path, fa, at,
		    argv, env)));
	return (exec_done(&r, real.posix_spawn(pid, path, fa, at, argv,
	    env)));
}

int
shim_posix_spawn(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
    char *const argv[], char *const envp[], int search)
{
	ready();
	if (!fdtab_none())
		return (posix_spawn_slow(pid, path, fa, at, argv, envp,
		    search));
	if (search)
		return (real.posix_spawnp(pid, path, fa, at, argv, envp));
	return (real.posix_spawn(pid, path, fa, at, argv, envp));
}
