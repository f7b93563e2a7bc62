#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0		/* SIGPIPE is ignored as well, see below */
#endif

const char *progname = "example";

void die(const char *what)
{
	int err = errno;

	fprintf(stderr, "%s: %s: %s\n", progname, what, strerror(err));
	exit(1);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int write_all(int fd, const char *p, size_t len, int is_socket)
{
	while (len > 0) {
		ssize_t n = is_socket ? send(fd, p, len, MSG_NOSIGNAL)
				      : write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One line to stdout with a single write(2): tests read it through a pipe
 * while we run, and no stdio buffer can be duplicated by fork().
 */
void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof buf)
		fatal("output line too long");
	if (write_all(STDOUT_FILENO, buf, (size_t)len, 0) < 0)
		die("write stdout");
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		fatal("bad %s '%s' (want %ld..%ld)", what, s, lo, hi);
	return v;
}

unsigned get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static void parse_addr(const char *s, struct server_opts *o)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&o->addr;

	memset(&o->addr, 0, sizeof o->addr);
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		o->addrlen = sizeof *sin;
	} else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		o->addrlen = sizeof *sin6;
	} else {
		fatal("bad address '%s' (want an IPv4 or IPv6 literal)", s);
	}
}

void parse_server_opts(int argc, char **argv, const char *optstring,
		       const char *usage, struct server_opts *o)
{
	const char *addr = "127.0.0.1";
	long port = 0;
	const char *slash;
	int c;

	if (argc > 0 && argv[0]) {
		slash = strrchr(argv[0], '/');
		progname = slash ? slash + 1 : argv[0];
	}
	o->nproc = 4;
	o->use_epoll = 0;
	o->delay_ms = 0;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = parse_num(optarg, 0, 65535, "port");
			break;
		case 'n':
			o->nproc = (int)parse_num(optarg, 1, MAX_PROCS, "count");
			break;
		case 'e':
			o->use_epoll = 1;
			break;
		case 'd':
			o->delay_ms = parse_num(optarg, 0, 60000, "delay");
			break;
		default:
			fprintf(stderr, "usage: %s %s\n", progname, usage);
			exit(1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s %s\n", progname, usage);
		exit(1);
	}
	parse_addr(addr, o);
	set_port(&o->addr, (unsigned)port);

	/* A client that went away must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
}

int reuseport_socket(const struct server_opts *o)
{
	int one = 1;
	int fd;

	fd = socket(o->addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("setsockopt SO_REUSEADDR");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		die("setsockopt SO_REUSEPORT");
	if (bind(fd, (const struct sockaddr *)&o->addr, o->addrlen) < 0)
		die("bind");
	return fd;
}

unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname");
	return get_port(&ss);
}

/*
 * The whole protocol: one line with our pid, then EOF.  Clients that have
 * already gone are not our problem; anything else is a bug worth surfacing.
 */
void serve_one(int cfd)
{
	char line[32];
	int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());

	if (write_all(cfd, line, (size_t)len, 1) < 0 &&
	    errno != EPIPE && errno != ECONNRESET)
		die("send");
	/* On EINTR the descriptor is already gone; retrying could close another. */
	if (close(cfd) < 0 && errno != EINTR)
		die("close");
}

/* A request that takes this long: restarted when a signal interrupts it. */
static void take_time(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void accept_loop(int lfd, long delay_ms)
{
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);

		if (cfd < 0) {
			/* A connection reset while queued is not our error. */
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			die("accept");
		}
		if (delay_ms > 0)
			take_time(delay_ms);
		serve_one(cfd);
	}
}

static void on_signal(int sig)
{
	(void)sig;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		die("sigaction");
}

static void supervisor_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGCHLD);
}

/*
 * The parent takes its signals synchronously with sigwait().  A real (empty)
 * handler is installed because a blocked signal whose action is "ignore",
 * as SIGCHLD's default is, may be discarded instead of left pending.
 * Call before fork() so no signal slips in before the children exist.
 */
void supervisor_signals(void)
{
	sigset_t set;

	handle(SIGTERM, on_signal);
	handle(SIGINT, on_signal);
	handle(SIGCHLD, on_signal);
	supervisor_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die("sigprocmask");
}

/*
 * Children exit 0 on SIGTERM, even from inside a blocking accept().  They
 * ignore SIGINT: a terminal ^C also reaches the parent, which then stops
 * them, and a child exiting first would look like an unexpected death.
 */
void child_signals(void)
{
	sigset_t set;

	handle(SIGTERM, on_term);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	supervisor_set(&set);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		die("sigprocmask");
}

static void report(pid_t pid, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "%s: child %ld exited with status %d\n",
			progname, (long)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "%s: child %ld killed by signal %d\n",
			progname, (long)pid, WTERMSIG(status));
	else
		fprintf(stderr, "%s: child %ld stopped unexpectedly\n",
			progname, (long)pid);
}

static void stop_children(pid_t *kids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (kids[i] > 0 && kill(kids[i], SIGTERM) < 0 && errno != ESRCH)
			die("kill");
	for (i = 0; i < n; i++) {
		while (kids[i] > 0 && waitpid(kids[i], NULL, 0) < 0) {
			if (errno != EINTR)
				die("waitpid");
		}
		kids[i] = 0;
	}
}

/*
 * Wait for SIGTERM/SIGINT (stop the children, return 0) or for a child to
 * die on its own (report it, stop the rest, return 1).  Entries of kids[]
 * are zeroed once reaped, so we never signal a recycled pid.
 */
int supervise(pid_t *kids, int n)
{
	sigset_t set;
	int sig, err, i, failed = 0;
	pid_t pid;
	int status;

	supervisor_set(&set);
	for (;;) {
		err = sigwait(&set, &sig);
		if (err) {
			errno = err;
			die("sigwait");
		}
		if (sig == SIGTERM || sig == SIGINT) {
			stop_children(kids, n);
			return 0;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < n; i++)
				if (kids[i] == pid)
					kids[i] = 0;
			report(pid, status);
			failed = 1;
		}
		if (failed) {
			stop_children(kids, n);
			return 1;
		}
	}
}
