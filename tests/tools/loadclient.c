/*
 * loadclient [-a ADDR] -p PORT -n COUNT [-c CONC] [-t TIMEOUT_MS]
 *
 * Load driver for the example servers.  Makes COUNT TCP connections to
 * ADDR:PORT with at most CONC in flight (CONC=1 is strictly sequential),
 * reads each reply ("<pid>\n" then EOF) and tallies connections per pid.
 * Each connection must connect and deliver its reply within TIMEOUT_MS;
 * refused, reset, timed out, empty or malformed replies count as failed.
 *
 * stdout: "pid <pid> <count>" per pid in ascending pid order, then
 * "answered <n> failed <m>".  Exit 0 if m == 0, else 1.  A breakdown of
 * failures goes to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 512
#define MAX_COUNT 10000000L
#define MAX_TIMEOUT_MS 600000L
#define REPLY_MAX 24		/* a pid line is far shorter */

enum state { IDLE, CONNECTING, READING };
enum why { F_REFUSED, F_RESET, F_TIMEOUT, F_EMPTY, F_BADREPLY, F_OTHER, F_NWHY };

static const char *why_name[F_NWHY] = {
	"refused", "reset", "timeout", "empty", "bad-reply", "other"
};

struct conn {
	enum state state;
	int fd;
	long long deadline;	/* ms, monotonic */
	char buf[REPLY_MAX];
	size_t len;
};

struct tally {
	long pid;
	long count;
};

static const char *progname = "loadclient";
static struct sockaddr_storage addr;
static socklen_t addrlen;
static long timeout_ms = 5000;

static struct tally *tallies;
static size_t ntallies, captallies;
static long answered, failed, fail_why[F_NWHY];

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", progname, what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [-a ADDR] -p PORT -n COUNT [-c CONC] "
		"[-t TIMEOUT_MS]\n", progname);
	exit(1);
}

static long parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: bad %s '%s' (want %ld..%ld)\n",
			progname, what, s, lo, hi);
		exit(1);
	}
	return v;
}

static void parse_addr(const char *s, long port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr;

	memset(&addr, 0, sizeof addr);
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		addrlen = sizeof *sin;
	} else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		addrlen = sizeof *sin6;
	} else {
		fprintf(stderr, "%s: bad address '%s'\n", progname, s);
		exit(1);
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_pid(long pid)
{
	size_t i;

	for (i = 0; i < ntallies; i++) {
		if (tallies[i].pid == pid) {
			tallies[i].count++;
			return;
		}
	}
	if (ntallies == captallies) {
		captallies = captallies ? captallies * 2 : 16;
		tallies = realloc(tallies, captallies * sizeof *tallies);
		if (!tallies)
			die("realloc");
	}
	tallies[ntallies].pid = pid;
	tallies[ntallies].count = 1;
	ntallies++;
}

static enum why errno_why(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return F_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return F_RESET;
	case ETIMEDOUT:
		return F_TIMEOUT;
	default:
		return F_OTHER;
	}
}

static void finish(struct conn *c, int ok, enum why why)
{
	if (ok) {
		answered++;
	} else {
		failed++;
		fail_why[why]++;
	}
	close(c->fd);
	c->fd = -1;
	c->state = IDLE;
}

/* A reply is exactly one positive decimal number and a newline. */
static void check_reply(struct conn *c)
{
	char *end;
	long pid;

	if (c->len == 0) {
		finish(c, 0, F_EMPTY);
		return;
	}
	c->buf[c->len] = '\0';
	errno = 0;
	pid = strtol(c->buf, &end, 10);
	if (errno || end == c->buf || pid <= 0 || strcmp(end, "\n") != 0 ||
	    c->buf[0] < '0' || c->buf[0] > '9') {
		finish(c, 0, F_BADREPLY);
		return;
	}
	count_pid(pid);
	finish(c, 1, F_OTHER);
}

static void start(struct conn *c)
{
	int fd = socket(addr.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl");
	c->fd = fd;
	c->len = 0;
	c->deadline = now_ms() + timeout_ms;
	if (connect(fd, (struct sockaddr *)&addr, addrlen) == 0) {
		c->state = READING;
	} else if (errno == EINPROGRESS || errno == EINTR) {
		/* EINTR: the connect goes on asynchronously, like EINPROGRESS. */
		c->state = CONNECTING;
	} else if (errno == EAGAIN || errno == EADDRNOTAVAIL) {
		/* Out of local ports: a failure of ours, but a failure. */
		c->state = CONNECTING;
		finish(c, 0, F_OTHER);
	} else {
		int err = errno;

		c->state = CONNECTING;
		finish(c, 0, errno_why(err));
	}
}

static void on_writable(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		finish(c, 0, errno_why(err));
	else
		c->state = READING;
}

static void on_readable(struct conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->len >= sizeof c->buf - 1) {
			finish(c, 0, F_BADREPLY);
			return;
		}
		n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
		if (n > 0) {
			c->len += (size_t)n;
		} else if (n == 0) {
			check_reply(c);
			return;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else {
			finish(c, 0, errno_why(errno));
			return;
		}
	}
}

static int cmp_tally(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int main(int argc, char **argv)
{
	static struct conn conns[MAX_CONC];
	static struct pollfd pfd[MAX_CONC];
	static int which[MAX_CONC];
	const char *host = "127.0.0.1";
	long port = -1, count = -1, conc = 1, started = 0;
	long long now, wait;
	int active, npfd, i, opt;
	size_t k;

	while ((opt = getopt(argc, argv, "a:p:n:c:t:")) != -1) {
		switch (opt) {
		case 'a':
			host = optarg;
			break;
		case 'p':
			port = parse_num(optarg, 1, 65535, "port");
			break;
		case 'n':
			count = parse_num(optarg, 1, MAX_COUNT, "count");
			break;
		case 'c':
			conc = parse_num(optarg, 1, MAX_CONC, "concurrency");
			break;
		case 't':
			timeout_ms = parse_num(optarg, 1, MAX_TIMEOUT_MS,
					       "timeout");
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port < 0 || count < 0)
		usage();
	parse_addr(host, port);

	for (i = 0; i < conc; i++) {
		conns[i].state = IDLE;
		conns[i].fd = -1;
	}
	for (;;) {
		/* Keep CONC connections in flight while any remain to start. */
		for (i = 0; i < conc && started < count; i++) {
			if (conns[i].state == IDLE) {
				start(&conns[i]);
				started++;
			}
		}

		now = now_ms();
		wait = -1;
		npfd = 0;
		active = 0;
		for (i = 0; i < conc; i++) {
			struct conn *c = &conns[i];

			if (c->state == IDLE)
				continue;
			if (now >= c->deadline) {
				finish(c, 0, F_TIMEOUT);
				continue;
			}
			active++;
			if (wait < 0 || c->deadline - now < wait)
				wait = c->deadline - now;
			pfd[npfd].fd = c->fd;
			pfd[npfd].events = c->state == CONNECTING ? POLLOUT : POLLIN;
			pfd[npfd].revents = 0;
			which[npfd++] = i;
		}
		if (active == 0) {
			if (started < count)
				continue;	/* slots freed by timeouts */
			break;
		}

		if (poll(pfd, (nfds_t)npfd, (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 0; i < npfd; i++) {
			struct conn *c = &conns[which[i]];

			if (!pfd[i].revents)
				continue;
			if (c->state == CONNECTING)
				on_writable(c);
			/* A reply may already be waiting, so read right away. */
			if (c->state == READING)
				on_readable(c);
		}
	}

	qsort(tallies, ntallies, sizeof *tallies, cmp_tally);
	for (k = 0; k < ntallies; k++)
		printf("pid %ld %ld\n", tallies[k].pid, tallies[k].count);
	printf("answered %ld failed %ld\n", answered, failed);
	if (fflush(stdout) == EOF)
		die("write stdout");
	if (failed) {
		fprintf(stderr, "%s: failures:", progname);
		for (i = 0; i < F_NWHY; i++)
			if (fail_why[i])
				fprintf(stderr, " %s %ld", why_name[i], fail_why[i]);
		fputc('\n', stderr);
	}
	return failed ? 1 : 0;
}
