/*
 * udpclient: the UDP benchmark's load generator.
 *
 *   udpclient -p PORT -t SECONDS [-f FLOWS] [-w WINDOW] [-c THREADS]
 *	[-T TIMEOUT_MS] [-s SIZE]
 *
 * FLOWS flows (default 64), each a UDP socket of its own connected to
 * 127.0.0.1:PORT (so each has a 4-tuple of its own), shared out among
 * THREADS threads (default 2) that serve theirs with poll().  Each flow
 * keeps WINDOW datagrams (default 4) of SIZE bytes (default 64) in
 * flight: an answered one is replaced by the flow's next at once, one not
 * answered within TIMEOUT_MS (default 100) counts as lost and is
 * replaced too.  After SECONDS nothing new is sent, and what is in flight
 * gets TIMEOUT_MS to come back (lost if it does not).  A datagram is
 * (flow, seq, send time) and the worker's answer carries its pid (the
 * layout is in udpworker.c).  -f 1 -w 1 -c 1: the light-load latency.
 *
 * stdout, one line: "dgrams N secs S rate R p50_us X p99_us Y max_us Z
 * lost L late A affinity F sent T bad B senderr E", then "pid P count C"
 * per answering pid, ascending.  dgrams and rate count the datagrams
 * answered before SECONDS were up; latency is from before send() to the
 * answer's arrival (CLOCK_MONOTONIC).  late: answers that came after
 * their datagram was counted lost.  affinity: of every answer a flow got,
 * the share that came from the pid that answered the flow first, over
 * all flows (1.0000: no flow ever moved).  bad: answers that were not
 * ours; senderr: send() failures (the datagram then times out).
 * Exit 0 if anything was answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define	UDPB_MAGIC	0x52505544u	/* "RPUD" */
#define	UDPB_HDR	24
#define	MAX_DGRAM	65507
#define	MAX_FLOWS	4096
#define	MAX_WINDOW	64
#define	MAX_THREADS	64
#define	MAX_PIDS	256
#define	MAX_SAMPLES	(1L << 24)	/* per thread: 64 MiB at most */
#define	SCAN_NS		1000000ULL	/* timeouts looked for each ms */

struct slot {
	uint64_t	t_ns;		/* sent at */
	uint32_t	seq;
	int		busy;
};

struct flow {
	int		fd;
	uint32_t	id;
	uint32_t	next_seq;
	long		first_pid;	/* 0: no answer yet */
	long		n_first;	/* answers from first_pid */
	long		n_all;		/* answers */
	struct slot	slot[MAX_WINDOW];
};

struct tally {
	long	pid;
	long	count;
};

struct thr {
	pthread_t	tid;
	struct flow	*flows;
	int		nflows;
	struct pollfd	*pfd;
	uint32_t	*lat;		/* microseconds */
	long		nlat, caplat;
	struct tally	pids[MAX_PIDS];
	int		npids;
	long		other_pids;	/* beyond MAX_PIDS: counted only */
	long		done, lost, late, sent, bad, senderr;
};

static struct sockaddr_in addr;
static long timeout_ms = 100;
static size_t dsize = 64;
static int window = 4;
static uint64_t t_end_ns;

static void
usage(void)
{
	fprintf(stderr, "usage: udpclient -p PORT -t SECONDS [-f FLOWS] "
	    "[-w WINDOW] [-c THREADS] [-T TIMEOUT_MS] [-s SIZE]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

static double
num(const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		usage();
	return (v);
}

static void
put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	(void) memcpy(p, &v, sizeof (v));
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	(void) memcpy(&v, p, sizeof (v));
	return (ntohl(v));
}

/* The next datagram of flow f into slot s. */
static void
send_one(struct thr *t, struct flow *f, struct slot *s)
{
	unsigned char buf[MAX_DGRAM];
	uint64_t now = now_ns();

	(void) memset(buf, 0, UDPB_HDR);
	put32(buf, UDPB_MAGIC);
	put32(buf + 4, f->id);
	put32(buf + 8, f->next_seq);
	put32(buf + 16, (uint32_t)(now >> 32));
	put32(buf + 20, (uint32_t)now);
	if (dsize > UDPB_HDR)
		(void) memset(buf + UDPB_HDR, 'x', dsize - UDPB_HDR);
	s->seq = f->next_seq++;
	s->t_ns = now;
	s->busy = 1;
	/* Not sent (a full buffer, an ICMP error kept): it times out. */
	if (send(f->fd, buf, dsize, 0) < 0)
		t->senderr++;
	else
		t->sent++;
}

static void
tally(struct thr *t, struct flow *f, long pid)
{
	int i;

	if (f->first_pid == 0)
		f->first_pid = pid;
	f->n_all++;
	if (pid == f->first_pid)
		f->n_first++;
	for (i = 0; i < t->npids; i++) {
		if (t->pids[i].pid == pid) {
			t->pids[i].count++;
			return;
		}
	}
	if (t->npids < MAX_PIDS) {
		t->pids[t->npids].pid = pid;
		t->pids[t->npids++].count = 1;
	} else {
		t->other_pids++;
	}
}

static void
sample(struct thr *t, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (t->nlat == t->caplat && t->caplat < MAX_SAMPLES) {
		long nc = t->caplat ? t->caplat * 2 : 4096;
		uint32_t *p = realloc(t->lat, (size_t)nc * sizeof (*p));

		if (p != NULL) {
			t->lat = p;
			t->caplat = nc;
		}
	}
	if (t->nlat < t->caplat)
		t->lat[t->nlat++] = us > 4000000000ULL ? 4000000000U :
		    (uint32_t)us;
}

/* Every answer flow f has queued; the freed slots send again unless done. */
static void
receive(struct thr *t, struct flow *f, int sending)
{
	unsigned char buf[MAX_DGRAM];

	for (;;) {
		ssize_t n = recv(f->fd, buf, sizeof (buf), 0);
		uint32_t seq;
		long pid;
		int i;

		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;		/* EAGAIN, or nothing to do about it */
		}
		if ((size_t)n < UDPB_HDR || get32(buf) != UDPB_MAGIC ||
		    get32(buf + 4) != f->id || get32(buf + 12) == 0) {
			t->bad++;
			continue;
		}
		seq = get32(buf + 8);
		pid = (long)get32(buf + 12);
		tally(t, f, pid);
		for (i = 0; i < window; i++) {
			struct slot *s = &f->slot[i];
			uint64_t now;

			if (!s->busy || s->seq != seq)
				continue;
			now = now_ns();
			s->busy = 0;
			if (now < t_end_ns) {
				t->done++;
				sample(t, now - s->t_ns);
			}
			if (sending)
				send_one(t, f, s);
			break;
		}
		if (i == window)
			t->late++;
	}
}

/* Datagrams older than the timeout are lost; returns how many are out. */
static long
scan(struct thr *t, uint64_t now, int sending)
{
	uint64_t tmo = (uint64_t)timeout_ms * 1000000ULL;
	long out = 0;

	for (int j = 0; j < t->nflows; j++) {
		struct flow *f = &t->flows[j];

		for (int i = 0; i < window; i++) {
			struct slot *s = &f->slot[i];

			if (!s->busy)
				continue;
			if (now - s->t_ns >= tmo) {
				t->lost++;
				s->busy = 0;
				if (sending)
					send_one(t, f, s);
			}
			out += s->busy;
		}
	}
	return (out);
}

static void *
run(void *arg)
{
	struct thr *t = arg;
	uint64_t next_scan, drain_end = 0;
	int sending = 1;

	for (int j = 0; j < t->nflows; j++) {
		t->pfd[j].fd = t->flows[j].fd;
		t->pfd[j].events = POLLIN;
		for (int i = 0; i < window; i++)
			send_one(t, &t->flows[j], &t->flows[j].slot[i]);
	}
	next_scan = now_ns() + SCAN_NS;
	for (;;) {
		uint64_t now;
		int n;

		n = poll(t->pfd, (nfds_t)t->nflows, 1);
		if (n < 0 && errno != EINTR) {
			perror("udpclient: poll");
			break;
		}
		for (int j = 0; n > 0 && j < t->nflows; j++) {
			if (t->pfd[j].revents == 0)
				continue;
			n--;
			receive(t, &t->flows[j], sending);
		}
		now = now_ns();
		if (sending && now >= t_end_ns) {
			sending = 0;
			drain_end = now + (uint64_t)timeout_ms * 1000000ULL;
		}
		if (now >= next_scan || !sending) {
			long out = scan(t, now, sending);

			next_scan = now + SCAN_NS;
			if (!sending && (out == 0 || now >= drain_end))
				break;
		}
	}
	/* Still out after the drain: lost. */
	for (int j = 0; j < t->nflows; j++) {
		for (int i = 0; i < window; i++) {
			if (t->flows[j].slot[i].busy) {
				t->flows[j].slot[i].busy = 0;
				t->lost++;
			}
		}
	}
	return (NULL);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return ((x > y) - (x < y));
}

static int
cmp_pid(const void *a, const void *b)
{
	long x = ((const struct tally *)a)->pid;
	long y = ((const struct tally *)b)->pid;

	return ((x > y) - (x < y));
}

/* Nearest rank. */
static uint32_t
pct(const uint32_t *v, long n, double p)
{
	long k;

	if (n == 0)
		return (0);
	k = (long)(p * (double)n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return (v[k]);
}

static int
flow_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), fl;

	if (fd < 0) {
		perror("udpclient: socket");
		exit(2);
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof (addr)) < 0) {
		perror("udpclient: connect");
		exit(2);
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		perror("udpclient: fcntl");
		exit(2);
	}
	return (fd);
}

int
main(int argc, char **argv)
{
	static struct tally all[MAX_PIDS];
	static struct thr ts[MAX_THREADS];
	struct flow *flows;
	struct pollfd *pfds;
	long port = -1, nflows = 64, nthr = 2, nlat = 0, other_pids = 0;
	long done = 0, lost = 0, late = 0, sent = 0, bad = 0, senderr = 0;
	long n_first = 0, n_all = 0;
	double seconds = -1, secs;
	uint64_t t0;
	uint32_t *lat;
	int nall = 0, c, j, k;
	long i;

	while ((c = getopt(argc, argv, "p:t:f:w:c:T:s:")) != -1) {
		switch (c) {
		case 'p':
			port = (long)num(optarg, 1, 65535);
			break;
		case 't':
			seconds = num(optarg, 0.01, 600);
			break;
		case 'f':
			nflows = (long)num(optarg, 1, MAX_FLOWS);
			break;
		case 'w':
			window = (int)num(optarg, 1, MAX_WINDOW);
			break;
		case 'c':
			nthr = (long)num(optarg, 1, MAX_THREADS);
			break;
		case 'T':
			timeout_ms = (long)num(optarg, 1, 60000);
			break;
		case 's':
			dsize = (size_t)num(optarg, UDPB_HDR, MAX_DGRAM);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port < 0 || seconds < 0)
		usage();
	if (nthr > nflows)
		nthr = nflows;
	(void) memset(&addr, 0, sizeof (addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((unsigned short)port);

	flows = calloc((size_t)nflows, sizeof (*flows));
	pfds = calloc((size_t)nflows, sizeof (*pfds));
	if (flows == NULL || pfds == NULL) {
		perror("udpclient: calloc");
		return (2);
	}
	for (i = 0; i < nflows; i++) {
		flows[i].fd = flow_socket();
		flows[i].id = (uint32_t)i;
	}
	/* Thread k serves flows [k * F / C, (k + 1) * F / C). */
	for (i = 0; i < nthr; i++) {
		long lo = i * nflows / nthr, hi = (i + 1) * nflows / nthr;

		ts[i].flows = flows + lo;
		ts[i].pfd = pfds + lo;
		ts[i].nflows = (int)(hi - lo);
	}
	t0 = now_ns();
	t_end_ns = t0 + (uint64_t)(seconds * 1e9);
	for (i = 0; i < nthr; i++) {
		if (pthread_create(&ts[i].tid, NULL, run, &ts[i]) != 0) {
			fprintf(stderr, "udpclient: pthread_create failed\n");
			return (2);
		}
	}
	for (i = 0; i < nthr; i++)
		(void) pthread_join(ts[i].tid, NULL);
	secs = (double)(t_end_ns - t0) / 1e9;

	for (i = 0; i < nthr; i++)
		nlat += ts[i].nlat;
	lat = malloc((size_t)(nlat ? nlat : 1) * sizeof (*lat));
	if (lat == NULL) {
		perror("udpclient: malloc");
		return (2);
	}
	nlat = 0;
	for (i = 0; i < nthr; i++) {
		struct thr *t = &ts[i];

		if (t->nlat > 0)
			(void) memcpy(lat + nlat, t->lat,
			    (size_t)t->nlat * sizeof (*lat));
		nlat += t->nlat;
		done += t->done;
		lost += t->lost;
		late += t->late;
		sent += t->sent;
		bad += t->bad;
		senderr += t->senderr;
		other_pids += t->other_pids;
		for (j = 0; j < t->npids; j++) {
			for (k = 0; k < nall && all[k].pid != t->pids[j].pid;
			    k++)
				continue;
			if (k == nall) {
				if (nall == MAX_PIDS) {
					other_pids += t->pids[j].count;
					continue;
				}
				all[nall].pid = t->pids[j].pid;
				all[nall++].count = 0;
			}
			all[k].count += t->pids[j].count;
		}
	}
	for (i = 0; i < nflows; i++) {
		n_first += flows[i].n_first;
		n_all += flows[i].n_all;
		(void) close(flows[i].fd);
	}
	qsort(lat, (size_t)nlat, sizeof (*lat), cmp_u32);
	qsort(all, (size_t)nall, sizeof (*all), cmp_pid);
	printf("dgrams %ld secs %.3f rate %.0f p50_us %u p99_us %u max_us %u "
	    "lost %ld late %ld affinity %.4f sent %ld bad %ld senderr %ld\n",
	    done, secs, secs > 0 ? (double)done / secs : 0.0,
	    pct(lat, nlat, 0.50), pct(lat, nlat, 0.99),
	    nlat ? lat[nlat - 1] : 0, lost, late,
	    n_all > 0 ? (double)n_first / (double)n_all : 0.0, sent, bad,
	    senderr);
	for (k = 0; k < nall; k++)
		printf("pid %ld count %ld\n", all[k].pid, all[k].count);
	if (other_pids)
		printf("pid other count %ld\n", other_pids);
	if (lost > 0 || bad > 0 || senderr > 0)
		fprintf(stderr, "udpclient: lost %ld late %ld bad %ld "
		    "senderr %ld of %ld sent\n", lost, late, bad, senderr,
		    sent);
	return (done > 0 ? 0 : 1);
}
