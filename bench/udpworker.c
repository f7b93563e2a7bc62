/*
 * udpworker: the UDP benchmark's server.  A datagram that starts with
 * the benchmark's magic goes back to where it came from, the same bytes
 * with the serving process's pid written into it.
 *
 *   udpworker [-p PORT] [-1]
 *	One UDP socket on 127.0.0.1:PORT, SO_REUSEPORT set before bind()
 *	(-1: not set).  PORT 0: the kernel picks one, for the next workers
 *	to reuse.  Served with blocking recvfrom() and sendto(), one
 *	datagram at a time: the plain loop of a small UDP server.  Under
 *	the shim the socket is a member of the port's group.
 *   udpworker [-p PORT] -f N
 *	One socket, bound once without SO_REUSEPORT, served by N forked
 *	children with blocking recvfrom() (the kernel wakes one reader per
 *	datagram): the plain shared socket, to compare the shim's shared
 *	way with.
 *
 * The datagram (network byte order; udpclient.c writes it):
 *	 0  magic	"RPUD"
 *	 4  flow	the client's flow id
 *	 8  seq		the flow's sequence number
 *	12  pid		0 from the client; the serving pid in the reply
 *	16  t_ns	the client's send time, opaque here
 *	24  padding	up to the client's size
 *
 * stdout, unbuffered, one write per line: "port N", then "ready PID" per
 * serving process.
 * SIGTERM or SIGINT stops it (no SA_RESTART: recvfrom() returns EINTR);
 * it then prints "served PID COUNT bad BAD unsent UNSENT" (datagrams
 * answered, ignored as not ours, answers sendto() refused).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_REUSEPORT
#define	SO_REUSEPORT	0x2004		/* the illumos patch's value */
#endif

#define	UDPB_MAGIC	0x52505544u	/* "RPUD" */
#define	UDPB_HDR	24
#define	UDPB_OFF_PID	12
#define	MAX_DGRAM	65536
#define	MAX_FORK	256

static volatile sig_atomic_t stop;

static void
die(const char *what)
{
	fprintf(stderr, "udpworker[%ld]: %s: %s\n", (long)getpid(), what,
	    strerror(errno));
	exit(1);
}

/* One line, one write(2): the driver reads us through a pipe. */
static void
say(const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof (buf), fmt, ap);
	va_end(ap);
	if (len > 0 && write(STDOUT_FILENO, buf, (size_t)len) < 0)
		(void) 0;	/* the driver went away: nothing to tell */
}

static long
num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "udpworker: bad %s '%s' (want %ld..%ld)\n",
		    what, s, lo, hi);
		exit(1);
	}
	return (v);
}

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

/* No SA_RESTART: a blocking recvfrom() returns EINTR. */
static void
signals(void)
{
	struct sigaction sa;

	(void) memset(&sa, 0, sizeof (sa));
	sa.sa_handler = on_signal;
	(void) sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction");
	(void) signal(SIGPIPE, SIG_IGN);
}

static int
udp_socket(unsigned *port, int reuseport)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof (sin);
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof (one)) < 0)
		die("setsockopt SO_REUSEPORT");
	(void) memset(&sin, 0, sizeof (sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)*port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof (sin)) < 0)
		die("bind");
	if (*port == 0) {
		if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
			die("getsockname");
		*port = ntohs(sin.sin_port);
		if (*port == 0) {
			errno = EADDRNOTAVAIL;
			die("getsockname: port 0 after bind");
		}
	}
	return (fd);
}

static void
serve(int fd)
{
	static unsigned char buf[MAX_DGRAM];
	struct sockaddr_storage from;
	uint32_t magic, pid = htonl((uint32_t)getpid());
	long served = 0, bad = 0, unsent = 0;

	say("ready %ld\n", (long)getpid());
	while (!stop) {
		socklen_t flen = sizeof (from);
		ssize_t n = recvfrom(fd, buf, sizeof (buf), 0,
		    (struct sockaddr *)&from, &flen);

		if (n < 0) {
			/* ECONNREFUSED: an ICMP error of an earlier answer. */
			if (errno == EINTR || errno == ECONNREFUSED ||
			    errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			die("recvfrom");
		}
		if (n < UDPB_HDR) {
			bad++;
			continue;
		}
		(void) memcpy(&magic, buf, sizeof (magic));
		if (ntohl(magic) != UDPB_MAGIC) {
			bad++;
			continue;
		}
		(void) memcpy(buf + UDPB_OFF_PID, &pid, sizeof (pid));
		/* A full buffer or a gone client: the client sees it lost. */
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from,
		    flen) < 0)
			unsent++;
		else
			served++;
	}
	say("served %ld %ld bad %ld unsent %ld\n", (long)getpid(), served,
	    bad, unsent);
}

/* -f: N children serve fd; we only reap (SIGTERM reaches the group). */
static void
serve_forked(int fd, long n)
{
	pid_t kids[MAX_FORK];
	long i;

	for (i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			die("fork");
		if (kids[i] == 0) {
			serve(fd);
			exit(0);
		}
	}
	(void) close(fd);
	for (i = 0; i < n; i++) {
		while (waitpid(kids[i], NULL, 0) < 0) {
			if (errno != EINTR)
				break;
			if (stop) {
				for (long j = 0; j < n; j++)
					(void) kill(kids[j], SIGTERM);
			}
		}
	}
}

int
main(int argc, char **argv)
{
	long port = 0, nfork = 0;
	unsigned p;
	int reuse = 1, c, fd;

	while ((c = getopt(argc, argv, "p:f:1")) != -1) {
		switch (c) {
		case 'p':
			port = num(optarg, 0, 65535, "port");
			break;
		case 'f':
			nfork = num(optarg, 1, MAX_FORK, "process count");
			reuse = 0;
			break;
		case '1':
			reuse = 0;
			break;
		default:
			fprintf(stderr, "usage: udpworker [-p PORT] "
			    "[-1 | -f N]\n");
			return (2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "udpworker: no operands expected\n");
		return (2);
	}
	signals();
	p = (unsigned)port;
	fd = udp_socket(&p, reuse);
	say("port %u\n", p);
	if (nfork > 0)
		serve_forked(fd, nfork);
	else
		serve(fd);
	return (0);
}
