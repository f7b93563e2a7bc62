/*
 * reuseport-shim: the command that goes with the library.
 *
 *   reuseport-shim run [options] -- PROGRAM [ARGS...]
 *	start PROGRAM with the library preloaded and configured
 *   reuseport-shim stat [--json] [--dir D]
 *	ask every group owner (TCP and UDP) of this user who is in its group
 *   reuseport-shim stop [--dir D] PORT | tcp:ADDRESS:PORT | udp:PORT |
 *	    udp:ADDRESS:PORT | all ...
 *	end the groups named
 *
 * It links the library's own parsers and wire code, so that what it
 * accepts and what it reads are exactly what the library accepts and
 * writes: a second implementation would drift.  It is not part of the
 * library, so it may name operating systems (the path of its own
 * executable and the preload variables differ).
 */
#define	_XOPEN_SOURCE	700	/* realpath(3) is XSI, not base POSIX */
#ifdef __sun
#define	__EXTENSIONS__	/* getexecname(3C) */
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "reuseport_shim.h"
#include "config.h"
#include "platform.h"
#include "proto.h"
#include "real.h"
#include "rendezvous.h"

#define	PROG		"reuseport-shim"
#define	LIBNAME		"libreuseport_shim.so"
#define	ENV_LIB		"REUSEPORT_SHIM_LIB"
#define	STAT_TIMEOUT_MS	2000
/*
 * A member count read from the wire is only trusted this far: a confused
 * peer must not make us allocate without bound.  Members are stored as
 * they arrive, so an honest group larger than this is still not limited
 * by memory but by this sanity check.
 */
#define	STAT_MAX_MEMBERS	(1L << 20)

static void
complain(const char *what, const char *why)
{
	(void) fprintf(stderr, PROG ": %s: %s\n", what, why);
}

static const char usage_text[] =
    "usage: " PROG " run [--policy P] [--udp WAY] [--ports SPEC] [--mode M]\n"
    "                      [--dir D] [--log L] [--linger MS] -- PROGRAM "
    "[ARGS...]\n"
    "       " PROG " stat [--json] [--dir D]\n"
    "       " PROG " stop [--dir D] PORT | tcp:ADDRESS:PORT | udp:PORT |\n"
    "                      udp:ADDRESS:PORT | all ...\n"
    "       " PROG " help | --version\n";

static void
usage(FILE *f)
{
	(void) fputs(usage_text, f);
}

/* A usage error: what was wrong, then the synopsis, and exit 2. */
static void
usage_error(const char *what, const char *why)
{
	complain(what, why);
	usage(stderr);
	exit(2);
}

/* --- run ----------------------------------------------------------- */

static int
check_policy(const char *s)
{
	enum shim_policy p;

	return (config_parse_policy(s, &p));
}

static int
check_udp(const char *s)
{
	enum shim_policy p;

	return (config_parse_udp(s, &p));
}

static int
check_ports(const char *s)
{
	struct port_rule rules[CONFIG_MAX_RULES];
	size_t n;

	return (config_parse_ports(s, rules, CONFIG_MAX_RULES, &n));
}

static int
check_mode(const char *s)
{
	enum shim_mode m;

	return (config_parse_mode(s, &m));
}

static int
check_log(const char *s)
{
	int level;

	return (config_parse_log(s, &level));
}

static int
check_ms(const char *s)
{
	long ms;

	return (config_parse_ms(s, &ms));
}

/* The library's rule for REUSEPORT_SHIM_DIR (config_parse). */
static int
check_dir(const char *s)
{
	return (s[0] == '/' && strlen(s) < CONFIG_PATH_MAX ? 0 : -1);
}

struct run_opt {
	const char	*name;
	const char	*var;
	const char	*takes;		/* as the library words it */
	int		(*check)(const char *);
	const char	*value;
};

static struct run_opt run_opts[] = {
	{ "--policy", REUSEPORT_SHIM_ENV_POLICY,
	    "roundrobin, hash, srcip, leastloaded or shared", check_policy,
	    NULL },
	{ "--udp", REUSEPORT_SHIM_ENV_UDP,
	    "hash, srcip, roundrobin or shared", check_udp, NULL },
	{ "--ports", REUSEPORT_SHIM_ENV_PORTS,
	    "a comma-separated list of PORT, tcp:PORT, tcp:IPV4:PORT, "
	    "tcp:[IPV6]:PORT or the same with udp: (at most 32)", check_ports,
	    NULL },
	{ "--mode", REUSEPORT_SHIM_ENV_MODE, "auto, emulate or off",
	    check_mode, NULL },
	{ "--dir", REUSEPORT_SHIM_ENV_DIR, "an absolute directory path",
	    check_dir, NULL },
	{ "--log", REUSEPORT_SHIM_ENV_LOG, "error, warn, info or debug",
	    check_log, NULL },
	{ "--linger", REUSEPORT_SHIM_ENV_LINGER,
	    "a number of milliseconds from 0 to 86400000", check_ms, NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

/*
 * The directory this executable is in, symbolic links resolved, so that
 * a command reached through a link in ~/bin still finds the library next
 * to its real self.  0, or -1 if it cannot be told.
 */
static int
self_dir(char *out, size_t len, const char *argv0)
{
	char buf[PATH_MAX];
	char *slash;
	int found = 0;

#if defined(__linux__)
	ssize_t n = readlink("/proc/self/exe", buf, sizeof (buf) - 1);

	if (n > 0) {
		buf[n] = '\0';
		found = 1;
	}
#elif defined(__sun)
	const char *e = getexecname();

	/* getexecname may be relative to the directory we started in. */
	if (e != NULL && realpath(e, buf) != NULL)
		found = 1;
#endif
	/* /proc not mounted, or another system: argv[0] if it is a path. */
	if (!found && argv0 != NULL && strchr(argv0, '/') != NULL &&
	    realpath(argv0, buf) != NULL)
		found = 1;
	if (!found || (slash = strrchr(buf, '/')) == NULL)
		return (-1);
	if (slash == buf)
		slash++;	/* the command is in "/" */
	*slash = '\0';
	if (strlen(buf) >= len)
		return (-1);
	(void) strcpy(out, buf);
	return (0);
}

/*
 * The library to preload, as an absolute path: the program may chdir
 * before it starts a child that inherits the variable.  $REUSEPORT_SHIM_LIB
 * first, then the build tree (next to the command), then the installed
 * layout (../lib).  0, or -1 with a message.
 */
static int
find_lib(char *out, const char *argv0)
{
	char dir[PATH_MAX], cand[PATH_MAX + 32];
	const char *env = getenv(ENV_LIB);
	static const char *const rel[] = { "/" LIBNAME, "/../lib/" LIBNAME };

	if (env != NULL && env[0] != '\0') {
		if (realpath(env, out) == NULL) {
			(void) fprintf(stderr, PROG ": " ENV_LIB "=%s: %s\n",
			    env, strerror(errno));
			return (-1);
		}
		return (0);
	}
	if (self_dir(dir, sizeof (dir), argv0) != 0) {
		complain("cannot find " LIBNAME, "the command's own path is "
		    "unknown; set " ENV_LIB);
		return (-1);
	}
	for (size_t i = 0; i < sizeof (rel) / sizeof (rel[0]); i++) {
		(void) snprintf(cand, sizeof (cand), "%s%s",
		    strcmp(dir, "/") == 0 ? "" : dir, rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
			return (0);
	}
	(void) fprintf(stderr, PROG ": cannot find " LIBNAME ": not in %s "
	    "nor in %s/../lib; set " ENV_LIB "\n", dir, dir);
	return (-1);
}

/*
 * The ELF class of a file: 1 (32-bit), 2 (64-bit) or 0 (not ELF, not
 * readable).  A "#!" script is the class of its interpreter, one level
 * deep, since that is the program the loader will start.
 */
static int
elf_class(const char *path, int depth)
{
	unsigned char h[256];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return (0);
	n = read(fd, h, sizeof (h) - 1);
	(void) close(fd);
	if (n >= 5 && memcmp(h, "\177ELF", 4) == 0)
		return (h[4] == 1 || h[4] == 2 ? h[4] : 0);	/* EI_CLASS */
	if (n > 2 && h[0] == '#' && h[1] == '!' && depth == 0) {
		char *s = (char *)h + 2, *e;

		h[n] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		for (e = s; *e != '\0' && *e != ' ' && *e != '\t' &&
		    *e != '\n'; e++)
			;
		*e = '\0';
		return (*s == '/' ? elf_class(s, 1) : 0);
	}
	return (0);
}

/*
 * The file execvp would run for name: the same PATH walk (an empty
 * element is the current directory), first executable regular file.
 * 0, or -1 if there is none (execvp will then say why).
 */
static int
find_program(const char *name, char *out, size_t len)
{
	char defpath[256];
	const char *path, *p;

	if (strchr(name, '/') != NULL) {
		if (strlen(name) >= len)
			return (-1);
		(void) strcpy(out, name);
		return (0);
	}
	if ((path = getenv("PATH")) == NULL) {
		size_t n = confstr(_CS_PATH, defpath, sizeof (defpath));

		path = (n > 0 && n <= sizeof (defpath)) ? defpath :
		    "/usr/bin:/bin";
	}
	for (p = path; ; ) {
		const char *e = strchr(p, ':');
		size_t dl = e != NULL ? (size_t)(e - p) : strlen(p);
		struct stat st;
		int n;

		n = dl == 0 ? snprintf(out, len, "%s", name) :
		    snprintf(out, len, "%.*s/%s", (int)dl, p, name);
		if (n > 0 && (size_t)n < len && stat(out, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return (0);
		if (e == NULL)
			break;
		p = e + 1;
	}
	return (-1);
}

/*
 * Put lib at the front of the preload list in var, unless it is already
 * in it: loading the library twice would interpose twice.  The loaders
 * separate entries with spaces or colons.
 */
static int
preload(const char *var, const char *lib)
{
	const char *old = getenv(var);
	struct stat ls, ts;
	char *copy, *tok, *save, *val;
	size_t len;
	int have_ls = stat(lib, &ls) == 0;

	if (old != NULL && old[0] != '\0') {
		if ((copy = strdup(old)) == NULL)
			return (-1);
		for (tok = strtok_r(copy, " :", &save); tok != NULL;
		    tok = strtok_r(NULL, " :", &save)) {
			if (strcmp(tok, lib) == 0 || (have_ls &&
			    stat(tok, &ts) == 0 && ts.st_dev == ls.st_dev &&
			    ts.st_ino == ls.st_ino)) {
				free(copy);
				return (0);
			}
		}
		free(copy);
	}
	if (old == NULL || old[0] == '\0')
		return (setenv(var, lib, 1));
	len = strlen(lib) + 1 + strlen(old) + 1;
	if ((val = malloc(len)) == NULL)
		return (-1);
	(void) snprintf(val, len, "%s %s", lib, old);
	if (setenv(var, val, 1) != 0) {
		free(val);
		return (-1);
	}
	free(val);
	return (0);
}

static void
run_usage_exit(void)
{
	usage(stdout);
	(void) fputs("\noptions of run (each sets the variable named):\n",
	    stdout);
	for (struct run_opt *o = run_opts; o->name != NULL; o++)
		(void) printf("  %-9s %s: %s\n", o->name, o->var, o->takes);
	exit(0);
}

/* argv[0] is "run"; argv0 is the command's own, to find the library. */
static int
cmd_run(int argc, char **argv, const char *argv0)
{
	char lib[PATH_MAX], prog[PATH_MAX];
	const char *var = "LD_PRELOAD";
	int i, pclass = 0, lclass;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		struct run_opt *o;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;	/* the program: options end there too */
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			run_usage_exit();
		for (o = run_opts; o->name != NULL; o++) {
			size_t nl = strlen(o->name);

			if (strcmp(a, o->name) == 0) {
				if (i + 1 >= argc)
					usage_error(o->name, "needs a value");
				val = argv[++i];
				break;
			}
			if (strncmp(a, o->name, nl) == 0 && a[nl] == '=') {
				val = a + nl + 1;
				break;
			}
		}
		if (o->name == NULL)
			usage_error(a, "not an option of run; see "
			    PROG " run --help");
		if (o->check(val) != 0) {
			(void) fprintf(stderr, PROG ": %s: \"%s\" is not "
			    "understood; it takes %s\n", o->name, val,
			    o->takes);
			exit(2);
		}
		o->value = val;
	}
	if (i >= argc)
		usage_error("run", "no program given");

	if (find_lib(lib, argv0) != 0)
		return (1);
	if (strpbrk(lib, " :") != NULL) {
		/* The loaders would split it into two names. */
		complain(lib, "cannot be preloaded from a path with a space "
		    "or a colon; set " ENV_LIB " to a copy elsewhere");
		return (1);
	}
	/*
	 * A program of the other ELF class would not load the library: on
	 * Linux the loader says so and runs it without the shim, which the
	 * user would otherwise only notice by its absence.
	 */
	lclass = elf_class(lib, 0);
	if (find_program(argv[i], prog, sizeof (prog)) == 0)
		pclass = elf_class(prog, 0);
	if (pclass != 0 && lclass != 0 && pclass != lclass)
		(void) fprintf(stderr, PROG ": warning: %s is a %d-bit "
		    "program and %s is %d-bit; it will run without the "
		    "shim\n", argv[i], pclass == 1 ? 32 : 64, lib,
		    lclass == 1 ? 32 : 64);
#if defined(__sun)
	/*
	 * ld.so.1 reads the class-specific variable of its own class
	 * first; the plain LD_PRELOAD would be tried by both classes.
	 */
	if (pclass == 0)
		pclass = lclass != 0 ? lclass : (sizeof (void *) == 8 ? 2 : 1);
	var = pclass == 1 ? "LD_PRELOAD_32" : "LD_PRELOAD_64";
#endif

	for (struct run_opt *o = run_opts; o->name != NULL; o++) {
		if (o->value != NULL && setenv(o->var, o->value, 1) != 0) {
			complain(o->var, strerror(errno));
			return (1);
		}
	}
	if (preload(var, lib) != 0) {
		complain(var, strerror(errno));
		return (1);
	}
	(void) execvp(argv[i], argv + i);
	complain(argv[i], strerror(errno));
	return (127);
}

/* --- stat ---------------------------------------------------------- */

struct member {
	uint32_t	id;
	long		pid;
	long		pids[STAT_PIDS];	/* who accepts; 0: not known */
	int		listening;
	long		unacked;
	uint64_t	delivered;
	int		idle;
	int		first;
	long		busy;		/* us per connection; 0: not measured */
	long		drops;		/* UDP: its queue full (saturates) */
};

struct group {
	char		path[RV_PATH_MAX];
	struct sockaddr_storage	ss;	/* from the name, or the owner */
	enum rv_proto	proto;		/* from the name; the owner agrees */
	int		stale;
	long		owner;
	enum shim_policy policy;
	long		uptime;
	uint64_t	delivered;
	long		waiting;
	long		linger;
	long		run;		/* roundrobin's run; 0: not told */
	long		standby;	/* its pid; 0: none (or not told) */
	long		takeovers;
	uint64_t	drops;		/* UDP: datagrams nobody could take */
	struct member	*m;
	size_t		nm;
};

/* Only REUSEPORT_SHIM_DIR: stat must not fail over an unrelated variable. */
static const char *
dir_env(const char *name)
{
	return (strcmp(name, REUSEPORT_SHIM_ENV_DIR) == 0 ? getenv(name) :
	    NULL);
}

/*
 * Whether name is a group's rendezvous socket ("tcp4-127.0.0.1-8080",
 * "udp6-::1-53"), its address and protocol.  A name being bound
 * (".<pid>-<n>" appended) is not: the IPv4 dots make a suffix test
 * ambiguous, so the name is parsed as an address with the library's
 * parser and must print back identically.
 */
static int
group_name(const char *dir, const char *name, struct sockaddr_storage *ss,
    enum rv_proto *proto)
{
	char peer[RV_PATH_MAX + 8], again[RV_PATH_MAX];
	socklen_t len;

	if (strncmp(name, "tcp4-", 5) != 0 && strncmp(name, "tcp6-", 5) != 0 &&
	    strncmp(name, "udp4-", 5) != 0 && strncmp(name, "udp6-", 5) != 0)
		return (-1);
	if (snprintf(peer, sizeof (peer), "%s/%s.0-0", dir, name) >=
	    (int)sizeof (peer))
		return (-1);
	if (rv_parse_peer_proto(dir, peer, ss, &len, proto) != 0 ||
	    rv_path_proto(again, sizeof (again), dir, (struct sockaddr *)ss,
	    *proto) != 0)
		return (-1);
	peer[strlen(peer) - 4] = '\0';
	return (strcmp(peer, again) == 0 ? 0 : -1);
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	(void) clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000);
}

/* One record before the deadline: 1, 0 at end of stream, -1 with errno. */
static int
recv_by(int fd, struct proto_rec *r, const struct timespec *deadline)
{
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int cfd, n;
		long left;

		n = proto_recv(fd, r, &cfd, plat_recv_cloexec_flag());
		if (n >= 0) {
			if (cfd >= 0)
				(void) close(cfd);	/* never for stat */
			return (n);
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return (-1);
		if ((left = ms_left(deadline)) <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return (-1);
	}
}

static uint64_t
u64(int32_t lo, int32_t hi)
{
	return ((uint64_t)(uint32_t)hi << 32 | (uint32_t)lo);
}

/* The owner's answer, checked field by field.  0, or -1 with why. */
static int
read_answer(int fd, struct group *g, char *why, size_t wl)
{
	struct timespec deadline;
	struct proto_rec r;
	long want;
	int n, udp;

	(void) clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STAT_TIMEOUT_MS / 1000;
	if ((n = recv_by(fd, &r, &deadline)) <= 0) {
		(void) snprintf(why, wl, "%s", n == 0 ?
		    "the owner closed without answering" : strerror(errno));
		return (-1);
	}
	/* Owners of builds before UDP leave the flag out: TCP. */
	udp = r.nopts > STAT_G_UDP ? r.opts[STAT_G_UDP] : 0;
	/* leastloaded is TCP's only: a UDP group saying so is confused. */
	if (r.type != REC_STAT_GROUP || r.nopts < STAT_G_REQUIRED ||
	    r.arg < 0 || r.arg > STAT_MAX_MEMBERS || (udp & ~1) != 0 ||
	    r.opts[STAT_G_POLICY] < SHIM_POLICY_ROUNDROBIN ||
	    r.opts[STAT_G_POLICY] > SHIM_POLICY_SHARED ||
	    (udp && r.opts[STAT_G_POLICY] == SHIM_POLICY_LEASTLOADED) ||
	    r.opts[STAT_G_UPTIME] < 0 || r.opts[STAT_G_WAITING] < 0 ||
	    r.opts[STAT_G_LINGER] < 0 || r.opts[STAT_G_RUN] < 0 ||
	    r.seq == 0 || r.seq > INT32_MAX) {
		(void) snprintf(why, wl, "not a valid group record "
		    "(type %d, %u options)", r.type, (unsigned)r.nopts);
		return (-1);
	}
	if (udp != (g->proto == RV_UDP)) {
		(void) snprintf(why, wl, "the owner answers for a %s group at "
		    "a %s group's name", udp ? "udp" : "tcp",
		    g->proto == RV_UDP ? "udp" : "tcp");
		return (-1);
	}
	(void) proto_addr_to_sockaddr(&r.addr, &g->ss);
	g->owner = (long)r.seq;
	g->policy = (enum shim_policy)r.opts[STAT_G_POLICY];
	g->uptime = r.opts[STAT_G_UPTIME];
	g->delivered = u64(r.opts[STAT_G_DELIVERED_LO],
	    r.opts[STAT_G_DELIVERED_HI]);
	g->waiting = r.opts[STAT_G_WAITING];
	g->linger = r.opts[STAT_G_LINGER];
	g->run = r.opts[STAT_G_RUN];	/* 0 if the owner left it out */
	g->standby = r.nopts > STAT_G_STANDBY ? r.opts[STAT_G_STANDBY] : 0;
	g->takeovers = r.nopts > STAT_G_TAKEOVERS ?
	    r.opts[STAT_G_TAKEOVERS] : 0;
	g->drops = r.nopts > STAT_G_DROPS_HI ? u64(r.opts[STAT_G_DROPS_LO],
	    r.opts[STAT_G_DROPS_HI]) : 0;
	want = r.arg;
	while ((long)g->nm < want) {
		struct member *m;
		const int32_t *o = r.opts;

		if ((n = recv_by(fd, &r, &deadline)) <= 0) {
			(void) snprintf(why, wl, "%ld members announced, %zu "
			    "received: %s", want, g->nm, n == 0 ?
			    "end of stream" : strerror(errno));
			return (-1);
		}
		if (r.type != REC_STAT_EP || r.nopts < STAT_E_REQUIRED ||
		    (o[STAT_E_STATE] != 1 && o[STAT_E_STATE] != 2) ||
		    o[STAT_E_BUSY_US] < 0 ||
		    o[STAT_E_UNACKED] < 0 || r.arg <= 0 ||
		    (o[STAT_E_IDLE] & ~1) != 0 || (o[STAT_E_FIRST] & ~1) != 0 ||
		    (r.nopts > STAT_E_DROPS && o[STAT_E_DROPS] < 0)) {
			(void) snprintf(why, wl, "not a valid member record "
			    "(type %d, %u options)", r.type,
			    (unsigned)r.nopts);
			return (-1);
		}
		/* At 0, 1, 2, 4...: grow. */
		if ((g->nm & (g->nm - 1)) == 0) {
			m = realloc(g->m, (g->nm == 0 ? 1 : g->nm * 2) *
			    sizeof (*m));
			if (m == NULL) {
				(void) snprintf(why, wl, "%s", strerror(errno));
				return (-1);
			}
			g->m = m;
		}
		m = &g->m[g->nm++];
		m->id = r.seq;
		m->pid = r.arg;
		m->listening = o[STAT_E_STATE] == 2;
		m->unacked = o[STAT_E_UNACKED];
		m->delivered = u64(o[STAT_E_DELIVERED_LO],
		    o[STAT_E_DELIVERED_HI]);
		m->idle = o[STAT_E_IDLE];
		m->first = o[STAT_E_FIRST];
		m->busy = o[STAT_E_BUSY_US];
		m->drops = r.nopts > STAT_E_DROPS ? o[STAT_E_DROPS] : 0;
		/* Owners of older builds leave the pids out. */
		for (size_t k = 0; k < STAT_PIDS; k++)
			m->pids[k] = r.nopts > STAT_E_PID0 + k &&
			    o[STAT_E_PID0 + k] > 0 ? o[STAT_E_PID0 + k] : 0;
	}
	if ((n = recv_by(fd, &r, &deadline)) != 0) {
		(void) snprintf(why, wl, "%s", n > 0 ?
		    "more members than announced" : strerror(errno));
		return (-1);
	}
	return (0);
}

/* STOP's answer: the owner closes everything, and we see the end. */
static int
read_end(int fd, char *why, size_t wl)
{
	struct timespec deadline;
	struct proto_rec r;

	(void) clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 5;
	switch (recv_by(fd, &r, &deadline)) {
	case 0:
		return (0);
	case 1:
		(void) snprintf(why, wl, "the owner answered STOP with a "
		    "record");
		return (-1);
	default:
		(void) snprintf(why, wl, "the owner did not stop: %s",
		    strerror(errno));
		return (-1);
	}
}

/*
 * Ask the owner behind path.  0 (answered), 1 (stale: a socket nobody
 * listens on, left by an owner that crashed), 2 (gone meanwhile), or
 * -1 with why.
 */
static int
query(struct group *g, int type, char *why, size_t wl)
{
	struct proto_rec req;
	uid_t uid;
	int fd, rc;

	if ((fd = rv_connect(g->path)) < 0) {
		if (errno == ECONNREFUSED)
			return (1);
		if (errno == ENOENT)
			return (2);
		(void) snprintf(why, wl, "%s", strerror(errno));
		return (-1);
	}
	/*
	 * Only the directory's owner can have put a socket there, but the
	 * members check the owner's uid on every connection; so do we.
	 */
	if (plat_peer_euid(fd, &uid) != 0 || uid != geteuid()) {
		(void) snprintf(why, wl, "the owner is not uid %lu",
		    (unsigned long)geteuid());
		(void) close(fd);
		return (-1);
	}
	memset(&req, 0, sizeof (req));
	req.type = type;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
	    proto_send(fd, &req, -1) != 0) {
		(void) snprintf(why, wl, "%s", strerror(errno));
		(void) close(fd);
		return (-1);
	}
	rc = type == REC_STOP ? read_end(fd, why, wl) :
	    read_answer(fd, g, why, wl);
	(void) close(fd);
	return (rc);
}

static void
fmt_addr(const struct sockaddr_storage *ss, char *host, size_t hl,
    unsigned *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;
		size_t n;

		(void) inet_ntop(AF_INET6, &in6->sin6_addr, host,
		    (socklen_t)hl);
		n = strlen(host);
		if (in6->sin6_scope_id != 0)
			(void) snprintf(host + n, hl - n, "%%%lu",
			    (unsigned long)in6->sin6_scope_id);
		*port = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		(void) inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)hl);
		*port = ntohs(in->sin_port);
	}
}

static void
fmt_uptime(long s, char *out, size_t len)
{
	if (s < 60)
		(void) snprintf(out, len, "%lds", s);
	else if (s < 3600)
		(void) snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		(void) snprintf(out, len, "%ldh%02ldm", s / 3600,
		    s / 60 % 60);
	else
		(void) snprintf(out, len, "%ldd%02ldh", s / 86400,
		    s / 3600 % 24);
}

static const char *
proto_name(const struct group *g)
{
	return (g->proto == RV_UDP ? "udp" : "tcp");
}

/*
 * The pids that use a member, where not the one that joined: after a
 * fork or an exec, a worker may be the one that reads it.
 */
static void
print_pids(const struct member *m, const char *label)
{
	if (m->pids[0] > 0 && (m->pids[0] != m->pid || m->pids[1] > 0)) {
		(void) printf("  %s", label);
		for (size_t k = 0; k < STAT_PIDS && m->pids[k] > 0; k++)
			(void) printf("%c%ld", k == 0 ? ' ' : ',', m->pids[k]);
	}
}

/*
 * A UDP group: no connections, so no waiting, unacked, idle, busy or
 * run; datagrams forwarded and dropped instead.  In the shared way the
 * members read the group's socket themselves and the owner counts
 * nothing, so no counts are shown rather than zeros.
 */
static void
print_text_udp(const struct group *g, const char *up)
{
	int shared = g->policy == SHIM_POLICY_SHARED;

	(void) printf("  policy %s  owner pid %ld  up %s",
	    config_policy_name(g->policy), g->owner, up);
	if (shared)
		(void) fputs("  shared: members read the socket directly",
		    stdout);
	else
		(void) printf("  delivered %llu  drops %llu",
		    (unsigned long long)g->delivered,
		    (unsigned long long)g->drops);
	if (g->linger > 0)
		(void) printf("  linger %ldms", g->linger);
	if (g->standby > 0)
		(void) printf("  standby pid %ld", g->standby);
	if (g->takeovers > 0)
		(void) printf("  takeovers %ld", g->takeovers);
	(void) putchar('\n');
	for (size_t i = 0; i < g->nm; i++) {
		const struct member *m = &g->m[i];

		(void) printf("  pid %ld", m->pid);
		if (!shared)
			(void) printf("  delivered %llu  drops %ld",
			    (unsigned long long)m->delivered, m->drops);
		print_pids(m, g->proto == RV_UDP ? "receiving" : "accepting");
		(void) printf("%s\n", m->first ? "  first" : "");
	}
}

static void
print_text(const struct group *g)
{
	char host[INET6_ADDRSTRLEN + 16], up[32];
	unsigned port;

	fmt_addr(&g->ss, host, sizeof (host), &port);
	if (g->ss.ss_family == AF_INET6)
		(void) printf("%s [%s]:%u", proto_name(g), host, port);
	else
		(void) printf("%s %s:%u", proto_name(g), host, port);
	if (g->stale) {
		(void) printf("  stale: nobody answers at %s (its owner "
		    "died)\n", g->path);
		return;
	}
	fmt_uptime(g->uptime, up, sizeof (up));
	/* A TCP group served the shared way reads like a UDP one. */
	if (g->proto == RV_UDP || g->policy == SHIM_POLICY_SHARED) {
		print_text_udp(g, up);
		return;
	}
	(void) printf("  policy %s  owner pid %ld  up %s  delivered %llu  "
	    "waiting %ld", config_policy_name(g->policy), g->owner, up,
	    (unsigned long long)g->delivered, g->waiting);
	if (g->linger > 0)
		(void) printf("  linger %ldms", g->linger);
	if (g->policy == SHIM_POLICY_ROUNDROBIN && g->run > 0)
		(void) printf("  run %ld", g->run);
	if (g->standby > 0)
		(void) printf("  standby pid %ld", g->standby);
	else
		(void) fputs("  no standby", stdout);
	if (g->takeovers > 0)
		(void) printf("  takeovers %ld", g->takeovers);
	(void) putchar('\n');
	for (size_t i = 0; i < g->nm; i++) {
		const struct member *m = &g->m[i];

		(void) printf("  pid %ld  %s  delivered %llu  unacked %ld",
		    m->pid, m->listening ? "listening" : "joined",
		    (unsigned long long)m->delivered, m->unacked);
		print_pids(m, "accepting");
		if (m->busy > 0)
			(void) printf("  busy %ldus", m->busy);
		(void) printf("%s%s\n", m->idle ? "  idle" : "",
		    m->first ? "  first" : "");
	}
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned c = s[0];

	if (c < 0xc2 || c > 0xf4)
		return (0);
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
	}
	/* Overlong three- and four-byte forms, surrogates, > U+10FFFF. */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return (0);
	return (n);
}

/*
 * A JSON string.  Paths are bytes, JSON is Unicode: a byte that is not
 * part of valid UTF-8 becomes U+FFFD rather than an invalid document.
 */
static void
json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	(void) putchar('"');
	while (*p != '\0') {
		size_t n;

		if (*p == '"' || *p == '\\') {
			(void) printf("\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			(void) printf("\\u%04x", *p++);
		} else if (*p < 0x80) {
			(void) putchar(*p++);
		} else if ((n = utf8_len(p)) != 0) {
			(void) fwrite(p, 1, n, stdout);
			p += n;
		} else {
			(void) fputs("\\ufffd", stdout);
			p++;
		}
	}
	(void) putchar('"');
}

/* A figure the owner may not have told (0): null. */
static void
json_count(long v)
{
	if (v > 0)
		(void) printf("%ld", v);
	else
		(void) fputs("null", stdout);
}

/* A count the shared way does not keep: null, not a misleading 0. */
static void
json_kept(int kept, unsigned long long v)
{
	if (kept)
		(void) printf("%llu", v);
	else
		(void) fputs("null", stdout);
}

static void
print_json_udp(const struct group *g)
{
	int kept = g->policy != SHIM_POLICY_SHARED;

	(void) printf(",\n   \"policy\": \"%s\", \"owner_pid\": %ld, "
	    "\"uptime_s\": %ld, \"delivered\": ",
	    config_policy_name(g->policy), g->owner, g->uptime);
	json_kept(kept, g->delivered);
	(void) fputs(", \"drops\": ", stdout);
	json_kept(kept, g->drops);
	(void) printf(", \"linger_ms\": %ld, \"standby_pid\": %ld, "
	    "\"takeovers\": %ld,\n   \"members\": [", g->linger, g->standby,
	    g->takeovers);
	for (size_t i = 0; i < g->nm; i++) {
		const struct member *m = &g->m[i];

		(void) printf("%s\n    {\"id\": %lu, \"pid\": %ld, "
		    "\"delivered\": ", i > 0 ? "," : "", (unsigned long)m->id,
		    m->pid);
		json_kept(kept, m->delivered);
		(void) fputs(", \"drops\": ", stdout);
		json_kept(kept, (unsigned long long)m->drops);
		(void) printf(", \"first\": %s, \"receiving\": [",
		    m->first ? "true" : "false");
		for (size_t k = 0; k < STAT_PIDS && m->pids[k] > 0; k++)
			(void) printf("%s%ld", k > 0 ? ", " : "", m->pids[k]);
		(void) fputs("]}", stdout);
	}
	(void) fputs(g->nm > 0 ? "\n   ]}" : "]}", stdout);
}

static void
print_json(const struct group *g, int comma)
{
	char host[INET6_ADDRSTRLEN + 16];
	unsigned port;

	fmt_addr(&g->ss, host, sizeof (host), &port);
	(void) printf("%s\n  {\"protocol\": \"%s\", \"family\": \"%s\", "
	    "\"address\": ", comma ? "," : "", proto_name(g),
	    g->ss.ss_family == AF_INET6 ? "inet6" : "inet");
	json_str(host);
	(void) printf(", \"port\": %u, \"socket\": ", port);
	json_str(g->path);
	(void) printf(", \"stale\": %s", g->stale ? "true" : "false");
	if (g->stale) {
		(void) fputs("}", stdout);
		return;
	}
	if (g->proto == RV_UDP || g->policy == SHIM_POLICY_SHARED) {
		print_json_udp(g);
		return;
	}
	(void) printf(",\n   \"policy\": \"%s\", \"owner_pid\": %ld, "
	    "\"uptime_s\": %ld, \"delivered\": %llu, \"waiting\": %ld, "
	    "\"linger_ms\": %ld, \"standby_pid\": %ld, \"takeovers\": %ld, "
	    "\"run\": ",
	    config_policy_name(g->policy), g->owner, g->uptime,
	    (unsigned long long)g->delivered, g->waiting, g->linger,
	    g->standby, g->takeovers);
	json_count(g->run);
	(void) fputs(",\n   \"members\": [", stdout);
	for (size_t i = 0; i < g->nm; i++) {
		const struct member *m = &g->m[i];

		(void) printf("%s\n    {\"id\": %lu, \"pid\": %ld, \"state\": "
		    "\"%s\", \"delivered\": %llu, \"unacked\": %ld, "
		    "\"idle\": %s, \"first\": %s, \"busy_us\": ",
		    i > 0 ? "," : "", (unsigned long)m->id, m->pid,
		    m->listening ? "listening" : "joined",
		    (unsigned long long)m->delivered, m->unacked,
		    m->idle ? "true" : "false", m->first ? "true" : "false");
		json_count(m->busy);
		(void) fputs(", \"accepting\": [", stdout);
		for (size_t k = 0; k < STAT_PIDS && m->pids[k] > 0; k++)
			(void) printf("%s%ld", k > 0 ? ", " : "", m->pids[k]);
		(void) fputs("]}", stdout);
	}
	(void) fputs(g->nm > 0 ? "\n   ]}" : "]}", stdout);
}

static int
by_path(const void *a, const void *b)
{
	return (strcmp(((const struct group *)a)->path,
	    ((const struct group *)b)->path));
}

/*
 * The group sockets in dir, sorted so that output is stable.  0, or -1
 * with a message; a missing directory has none.
 */
static int
list_groups(const char *dir, struct group **out, size_t *n)
{
	struct group *gs = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return (0);
		complain(dir, strerror(errno));
		return (-1);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct sockaddr_storage ss;
		enum rv_proto proto;
		struct stat st;
		struct group *g;

		if (group_name(dir, de->d_name, &ss, &proto) != 0)
			continue;
		if (*n == cap) {
			size_t nc = cap == 0 ? 8 : cap * 2;

			if ((g = realloc(gs, nc * sizeof (*g))) == NULL) {
				complain("stat", strerror(errno));
				break;
			}
			gs = g;
			cap = nc;
		}
		g = &gs[*n];
		memset(g, 0, sizeof (*g));
		g->ss = ss;
		g->proto = proto;
		/* group_name proved that the path fits; checked again. */
		if (snprintf(g->path, sizeof (g->path), "%s/%s", dir,
		    de->d_name) < (int)sizeof (g->path) &&
		    lstat(g->path, &st) == 0 && S_ISSOCK(st.st_mode))
			(*n)++;
	}
	if (errno != 0) {
		complain(dir, strerror(errno));
		(void) closedir(d);
		free(gs);
		return (-1);
	}
	(void) closedir(d);
	if (*n > 0)
		qsort(gs, *n, sizeof (*gs), by_path);
	*out = gs;
	return (0);
}

/* --dir D of stat and stop: the directory run --dir gave the programs. */
static const char *
dir_arg(int argc, char **argv, int *i)
{
	const char *d;

	if (*i + 1 == argc)
		usage_error("--dir", "needs a directory");
	d = argv[++*i];
	if (check_dir(d) != 0)
		usage_error(d, "--dir takes an absolute directory path");
	return (d);
}

/*
 * The groups in the rendezvous directory (dirarg, else as the library
 * chooses it) into *gs, *n.  0, or 1 with a message naming cmd.
 */
static int
groups_in(const char *dirarg, const char *cmd, char *dir, size_t dl,
    struct group **gs, size_t *n)
{
	struct shim_config c;
	char why[CONFIG_PATH_MAX + 96];
	struct stat st;

	*gs = NULL;
	*n = 0;
	if (config_parse(&c, dir_env) != 0) {
		complain(cmd, c.error);
		return (1);
	}
	if (dirarg != NULL)
		(void) snprintf(c.dir, sizeof (c.dir), "%s", dirarg);
	if (rv_dir_choose(dir, dl, c.dir, getenv("XDG_RUNTIME_DIR"),
	    geteuid()) != 0) {
		complain(cmd, "the rendezvous directory's name is too long");
		return (1);
	}
	/*
	 * The library's own check, so that we trust no directory the
	 * library would refuse; it would create a missing one, which a
	 * status command must not, so a missing one is looked at first.
	 */
	if (lstat(dir, &st) != 0 && errno == ENOENT)
		return (0);
	if (rv_dir_check(dir, geteuid(), why, sizeof (why)) != 0) {
		complain("refusing the rendezvous directory", why);
		return (1);
	}
	return (list_groups(dir, gs, n) != 0);
}

static int
cmd_stat(int argc, char **argv)
{
	char dir[CONFIG_PATH_MAX + 32], why[CONFIG_PATH_MAX + 96];
	struct group *gs = NULL;
	size_t n, shown = 0;
	const char *dirarg = NULL;
	int json = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--dir") == 0) {
			dirarg = dir_arg(argc, argv, &i);
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return (0);
		} else {
			usage_error(argv[i], "not an option of stat");
		}
	}
	if (groups_in(dirarg, "stat", dir, sizeof (dir), &gs, &n) != 0)
		return (1);

	if (json)
		(void) putchar('[');
	for (size_t i = 0; i < n; i++) {
		struct group *g = &gs[i];
		int rc = query(g, REC_STAT, why, sizeof (why));

		if (rc == 2)
			continue;	/* the group ended meanwhile */
		if (rc < 0) {
			complain(g->path, why);
			failed = 1;
			continue;
		}
		g->stale = rc == 1;
		if (json)
			print_json(g, shown > 0);
		else
			print_text(g);
		shown++;
	}
	if (json)
		(void) fputs(shown > 0 ? "\n]\n" : "]\n", stdout);
	else if (shown == 0 && !failed)
		(void) printf("no groups for uid %lu in %s\n",
		    (unsigned long)geteuid(), dir);
	for (size_t i = 0; i < n; i++)
		free(gs[i].m);
	free(gs);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		complain("stdout", strerror(errno));
		return (1);
	}
	return (failed);
}

/*
 * Stop the groups that a target names (as REUSEPORT_SHIM_PORTS does:
 * 8080, tcp:127.0.0.1:8080, tcp:[::]:443, udp:53, udp:[::1]:53; "all"
 * for every one): their owners close the listener and end; members'
 * accept() then fails.  A bare port is TCP's, as in the variable.
 */
static int
cmd_stop(int argc, char **argv)
{
	char dir[CONFIG_PATH_MAX + 32], why[CONFIG_PATH_MAX + 96];
	char host[INET6_ADDRSTRLEN + 16];
	struct shim_config want;
	struct group *gs = NULL;
	const char *dirarg = NULL;
	size_t n, stopped = 0;
	int all = 0, failed = 0, targets = 0, other = 0;
	unsigned port;

	memset(&want, 0, sizeof (want));
	for (int i = 1; i < argc; i++) {
		size_t k;

		if (strcmp(argv[i], "--dir") == 0) {
			dirarg = dir_arg(argc, argv, &i);
		} else if (strcmp(argv[i], "all") == 0) {
			all = targets = 1;
		} else if (config_parse_ports(argv[i], want.rules +
		    want.nrules, CONFIG_MAX_RULES - want.nrules, &k) == 0) {
			want.nrules += k;
			targets = 1;
		} else {
			usage_error(argv[i], "stop takes PORT, "
			    "tcp:ADDRESS:PORT, udp:PORT, udp:ADDRESS:PORT or "
			    "all");
		}
	}
	if (!targets)
		usage_error("stop", "name the groups: PORT, tcp:ADDRESS:PORT, "
		    "udp:PORT, udp:ADDRESS:PORT or all");
	if (groups_in(dirarg, "stop", dir, sizeof (dir), &gs, &n) != 0)
		return (1);
	for (size_t i = 0; i < n; i++) {
		struct group *g = &gs[i];
		const void *addr = g->ss.ss_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)&g->ss)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)&g->ss)->sin_addr;
		int rc;

		fmt_addr(&g->ss, host, sizeof (host), &port);
		if (!all && !config_rule_match_proto(&want, g->proto == RV_UDP,
		    g->ss.ss_family, addr, (uint16_t)port)) {
			/* For the hint: "stop 53" when 53 is a UDP group. */
			if (config_rule_match_proto(&want, g->proto != RV_UDP,
			    g->ss.ss_family, addr, (uint16_t)port))
				other = g->proto == RV_UDP ? 'u' : 't';
			continue;
		}
		if ((rc = query(g, REC_STOP, why, sizeof (why))) < 0) {
			complain(g->path, why);
			failed = 1;
		} else if (rc == 0) {
			(void) printf("stopped %s %s%s%s:%u\n", proto_name(g),
			    g->ss.ss_family == AF_INET6 ? "[" : "", host,
			    g->ss.ss_family == AF_INET6 ? "]" : "", port);
			stopped++;
		}
	}
	free(gs);
	if (stopped == 0 && !failed) {
		(void) fprintf(stderr, PROG ": stop: no group of uid %lu in %s "
		    "matches%s\n", (unsigned long)geteuid(), dir,
		    other == 'u' ? " (a udp group is named udp:PORT)" :
		    other == 't' ? " (a tcp group is named PORT or tcp:PORT)" :
		    "");
		return (1);
	}
	return (failed);
}

int
main(int argc, char **argv)
{
	/* The library's proto and rendezvous code call through this table. */
	real_init();
	if (argc < 2)
		usage_error("no command given", "run or stat");
	if (strcmp(argv[1], "run") == 0)
		return (cmd_run(argc - 1, argv + 1, argv[0]));
	if (strcmp(argv[1], "stat") == 0)
		return (cmd_stat(argc - 1, argv + 1));
	if (strcmp(argv[1], "stop") == 0)
		return (cmd_stop(argc - 1, argv + 1));
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		(void) printf(PROG " %s (wire protocol %d)\n", SHIM_VERSION,
		    REUSEPORT_SHIM_PROTO_VERSION);
		return (0);
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return (0);
	}
	usage_error(argv[1], "unknown command; it takes run or stat");
	return (2);
}
