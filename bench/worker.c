/*
 * worker: the benchmark's server.  Every connection gets one line, the
 * serving process's pid ("<pid>\n"), then EOF, optionally after a delay.
 *
 *   worker [-p PORT] [-n SOCKETS] [-d DELAY_MS]
 *	One process opens SOCKETS (default 1) SO_REUSEPORT listeners on
 *	127.0.0.1:PORT (PORT 0: the first learns one, the rest reuse it),
 *	all non-blocking, and serves them with epoll.  Under the shim each
 *	one is an endpoint of the group.
 *   worker [-p PORT] -b [-d DELAY_MS]
 *	One SO_REUSEPORT listener on 127.0.0.1:PORT served with blocking
 *	accept(), one connection at a time (the prefork server's loop; the
 *	concurrency sweep's workers).
 *   worker -s FD [-d DELAY_MS]
 *	Serve the inherited listening socket FD with blocking accept().
 *   worker [-p PORT] -f N [-d DELAY_MS [-k K]]
 *	The shared-listener setup: bind and listen once (no SO_REUSEPORT),
 *	then fork N children that each serve it as -s does.  With -k only
 *	the first K children take the delay (the stalled worker).
 *   worker [-p PORT] -1
 *	With -n 1, don't set SO_REUSEPORT (the single acceptor).
 *
 * stdout, unbuffered, one write per line: "port N" first, then per serving
 * process "slow PID" (if it delays) and "ready PID".  SIGTERM/SIGINT stop
 * it; each serving process then prints "served PID COUNT".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_REUSEPORT
#define SO_REUSEPORT 0x2004		/* the illumos patch's value */
#endif

#define MAX_SOCKETS 65536
#define MAX_FORK 256
#define BACKLOG 4096
#define ACCEPTS_PER_WAKEUP 64		/* per socket, so signals get a turn */

static volatile sig_atomic_t stop;
static int sig_w = -1;
static long served;

static void die(const char *what)
{
	fprintf(stderr, "worker[%ld]: %s: %s\n", (long)getpid(), what,
		strerror(errno));
	exit(1);
}

static void fatal(const char *msg)
{
	fprintf(stderr, "worker: %s\n", msg);
	exit(1);
}

/* One line, one write(2): the driver reads us through a pipe. */
static void say(const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (len > 0 && write(STDOUT_FILENO, buf, (size_t)len) < 0)
		(void)0;	/* the driver went away: nothing to tell */
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "worker: bad %s '%s' (want %ld..%ld)\n", what,
			s, lo, hi);
		exit(1);
	}
	return v;
}

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	stop = 1;
	if (sig_w >= 0 && write(sig_w, "s", 1) < 0)
		(void)0;	/* pipe full: one byte is enough */
	errno = saved;
}

/* No SA_RESTART: a blocking accept() or the delay returns EINTR. */
static void signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction");
	signal(SIGPIPE, SIG_IGN);
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK
					    : fl & ~O_NONBLOCK) < 0)
		die("fcntl");
}

static void delay(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* Interrupted by SIGTERM: reply anyway, the loop then stops. */
	(void)nanosleep(&ts, NULL);
}

static void serve_one(int cfd, long delay_ms)
{
	char line[32];
	int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());

	if (delay_ms > 0)
		delay(delay_ms);
	/* A client that gave up is not our error: count it all the same. */
	(void)send(cfd, line, (size_t)len, MSG_NOSIGNAL);
	(void)close(cfd);
	served++;
}

static int listener(unsigned *port, int reuseport)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("setsockopt SO_REUSEADDR");
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		die("setsockopt SO_REUSEPORT");
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)*port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		die("bind");
	if (listen(fd, BACKLOG) < 0)
		die("listen");
	if (*port == 0) {
		if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
			die("getsockname");
		*port = ntohs(sin.sin_port);
	}
	return fd;
}

/* Accept and serve what listener fd has queued, up to a bound per wakeup. */
static void drain(int fd, long delay_ms)
{
	for (int k = 0; k < ACCEPTS_PER_WAKEUP && !stop; k++) {
		int cfd = accept(fd, NULL, NULL);

		if (cfd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			die("accept");
		}
		set_nonblock(cfd, 0);
		serve_one(cfd, delay_ms);
	}
}

/*
 * -n: SOCKETS non-blocking listeners and a self-pipe, under epoll: the
 * worker's cost per wakeup does not grow with its number of sockets, so
 * the growth table measures the group (kernel or shim), not poll(2).
 */
static void serve_poll(unsigned port, long nsock, long delay_ms, int reuse)
{
	struct epoll_event ev, evs[64];
	int *fds, p[2], ep;
	long i;

	fds = calloc((size_t)nsock, sizeof *fds);
	if (!fds)
		die("calloc");
	if (pipe(p) < 0)
		die("pipe");
	set_nonblock(p[0], 1);
	set_nonblock(p[1], 1);
	sig_w = p[1];
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)-1;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
		die("epoll_ctl");
	for (i = 0; i < nsock; i++) {
		fds[i] = listener(&port, reuse);
		set_nonblock(fds[i], 1);
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			die("epoll_ctl");
	}
	say("port %u\n", port);
	if (delay_ms > 0)
		say("slow %ld\n", (long)getpid());
	say("ready %ld\n", (long)getpid());
	while (!stop) {
		int n = epoll_wait(ep, evs, 64, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int j = 0; j < n && !stop; j++) {
			if (evs[j].data.u64 == (uint64_t)-1) {
				stop = 1;
				break;
			}
			if (evs[j].events & ~EPOLLIN) {
				errno = EIO;
				die("epoll: error event on a listener");
			}
			drain(fds[evs[j].data.u64], delay_ms);
		}
	}
	say("served %ld %ld\n", (long)getpid(), served);
}

/* -s, and each child of -f: blocking accept() on an inherited listener. */
static void serve_blocking(int lfd, long delay_ms)
{
	if (delay_ms > 0)
		say("slow %ld\n", (long)getpid());
	say("ready %ld\n", (long)getpid());
	while (!stop) {
		int cfd = accept(lfd, NULL, NULL);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			die("accept");
		}
		serve_one(cfd, delay_ms);
	}
	say("served %ld %ld\n", (long)getpid(), served);
}

static void serve_forked(unsigned port, long n, long delay_ms, long k)
{
	pid_t kids[MAX_FORK];
	int lfd = listener(&port, 0);
	long i;

	say("port %u\n", port);
	for (i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			die("fork");
		if (kids[i] == 0) {
			serve_blocking(lfd, i < k ? delay_ms : 0);
			exit(0);
		}
	}
	close(lfd);
	/* SIGTERM reaches the whole process group; we only reap. */
	for (i = 0; i < n; i++) {
		while (waitpid(kids[i], NULL, 0) < 0) {
			if (errno != EINTR)
				break;
			if (stop) {
				long j;

				for (j = 0; j < n; j++)
					(void)kill(kids[j], SIGTERM);
			}
		}
	}
}

int main(int argc, char **argv)
{
	long port = 0, nsock = 1, delay_ms = 0, nfork = 0, kslow = -1;
	int sfd = -1, reuse = 1, block = 0, c;

	while ((c = getopt(argc, argv, "p:n:d:s:f:k:b1")) != -1) {
		switch (c) {
		case 'p': port = num(optarg, 0, 65535, "port"); break;
		case 'n': nsock = num(optarg, 1, MAX_SOCKETS, "socket count"); break;
		case 'd': delay_ms = num(optarg, 0, 600000, "delay"); break;
		case 's': sfd = (int)num(optarg, 0, 1 << 20, "fd"); break;
		case 'f': nfork = num(optarg, 1, MAX_FORK, "process count"); break;
		case 'k': kslow = num(optarg, 0, MAX_FORK, "slow count"); break;
		case 'b': block = 1; break;
		case '1': reuse = 0; break;
		default:
			fatal("usage: worker [-p PORT] [-n SOCKETS | -b] "
			      "[-d DELAY_MS] [-s FD | -f N [-k K]] [-1]");
		}
	}
	if (optind != argc)
		fatal("no operands expected");
	if (!reuse && nsock != 1)
		fatal("-1 needs -n 1");
	if (block && (nsock != 1 || sfd >= 0 || nfork > 0))
		fatal("-b takes one listener of its own");
	signals();
	if (sfd >= 0) {
		set_nonblock(sfd, 0);
		serve_blocking(sfd, delay_ms);
	} else if (nfork > 0) {
		serve_forked((unsigned)port, nfork, delay_ms,
			     kslow < 0 ? nfork : kslow);
	} else if (block) {
		unsigned p = (unsigned)port;
		int lfd = listener(&p, reuse);

		say("port %u\n", p);
		serve_blocking(lfd, delay_ms);
	} else {
		serve_poll((unsigned)port, nsock, delay_ms, reuse);
	}
	return 0;
}
