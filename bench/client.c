/*
 * client: the benchmark's load generator.
 *
 *   client -p PORT -c CONCURRENCY [-P PROCS] (-n COUNT | -t SECONDS)
 *	[-T TIMEOUT_MS]
 *
 * CONCURRENCY threads each loop, as fast as they can: connect to
 * 127.0.0.1:PORT, read the reply line ("<pid>\n"), close.  With -P there
 * are PROCS processes of CONCURRENCY threads each (forked, started
 * together; each sends its tallies back over a pipe; SIGINT or SIGTERM
 * to the first stops them all).  With -n they share COUNT connections
 * (split evenly between processes); with -t they stop starting new ones
 * after SECONDS.  Latency is from before connect() to the reply's newline
 * (CLOCK_MONOTONIC).  A connection that is refused, reset, times out
 * (TIMEOUT_MS, default 5000, for connect and for the reply) or gets no
 * pid counts as failed.  -n runs are bounded too: at most 600 s.
 *
 * stdout: "conns N failed M secs S rate R p50_us X p99_us Y max_us Z",
 * then "pid P count C" per replying pid, ascending.  rate counts answered
 * connections only.  Failure reasons go to stderr.  Exit 0 if M == 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 4096
#define MAX_PROCS 1024
#define MAX_PIDS 256
#define MAX_SAMPLES (1L << 24)		/* per thread: 64 MiB at most */
#define HARD_LIMIT_S 600.0

enum why { F_CONNECT, F_TIMEOUT, F_RESET, F_EMPTY, F_OTHER, F_NWHY };
static const char *why_name[F_NWHY] = {
	"connect", "timeout", "reset", "empty/bad-reply", "other"
};

struct tally {
	long pid;
	long count;
};

struct worker {
	pthread_t tid;
	uint32_t *lat;			/* microseconds */
	long nlat, caplat;
	struct tally pids[MAX_PIDS];
	int npids;
	long other_pids;		/* beyond MAX_PIDS: counted, not named */
	long failed, why[F_NWHY];
};

static struct sockaddr_in addr;
static long timeout_ms = 5000;
static long count = -1;
static double seconds = -1, t_end;
static atomic_long claimed;
static pid_t kids[MAX_PROCS];
static volatile sig_atomic_t nkids;

static void usage(void)
{
	fprintf(stderr, "usage: client -p PORT -c CONCURRENCY [-P PROCS] "
		"(-n COUNT | -t SECONDS) [-T TIMEOUT_MS]\n");
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double num(const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		usage();
	return v;
}

static void fail(struct worker *w, enum why why)
{
	w->failed++;
	w->why[why]++;
}

static void record(struct worker *w, double t0, long pid)
{
	double us = (now() - t0) * 1e6;
	int i;

	if (w->nlat == w->caplat && w->caplat < MAX_SAMPLES) {
		long nc = w->caplat ? w->caplat * 2 : 4096;
		uint32_t *p = realloc(w->lat, (size_t)nc * sizeof *p);

		if (p) {
			w->lat = p;
			w->caplat = nc;
		}
	}
	if (w->nlat < w->caplat)
		w->lat[w->nlat++] = us > 4e9 ? 4000000000U : (uint32_t)us;
	for (i = 0; i < w->npids; i++) {
		if (w->pids[i].pid == pid) {
			w->pids[i].count++;
			return;
		}
	}
	if (w->npids < MAX_PIDS) {
		w->pids[w->npids].pid = pid;
		w->pids[w->npids++].count = 1;
	} else {
		w->other_pids++;
	}
}

/* One connection; returns 0 and the replying pid, or the failure. */
static int one(long *pid)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char buf[32];
	size_t len = 0;
	char *end;
	int fd, r = F_OTHER;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return F_OTHER;
	/* Linux applies SO_SNDTIMEO to connect() too. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		goto out;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		r = (errno == EINPROGRESS || errno == EAGAIN ||
		     errno == ETIMEDOUT) ? F_TIMEOUT : F_CONNECT;
		goto out;
	}
	while (len < sizeof buf - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = (errno == EAGAIN || errno == EWOULDBLOCK)
				? F_TIMEOUT : errno == ECONNRESET ? F_RESET
				: F_OTHER;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (!memchr(buf, '\n', len)) {
		r = F_EMPTY;
		goto out;
	}
	errno = 0;
	*pid = strtol(buf, &end, 10);
	r = (errno || end == buf || *end != '\n' || *pid <= 0) ? F_EMPTY : -1;
out:
	close(fd);
	return r;
}

static void *run(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		double t0 = now();
		long pid;
		int r;

		if (t0 >= t_end)
			break;
		if (count >= 0 && atomic_fetch_add(&claimed, 1) >= count)
			break;
		r = one(&pid);
		if (r < 0)
			record(w, t0, pid);
		else
			fail(w, (enum why)r);
	}
	return NULL;
}

/* Run CONC threads over ws[0..CONC), all started from now until t_end. */
static int threads(struct worker *ws, long conc)
{
	long i;

	for (i = 0; i < conc; i++) {
		if (pthread_create(&ws[i].tid, NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "client: pthread_create failed\n");
			return -1;
		}
	}
	for (i = 0; i < conc; i++)
		pthread_join(ws[i].tid, NULL);
	return 0;
}

static int full(int fd, void *buf, size_t len, int out)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The driver stops us: the processes we forked go too. */
static void on_signal(int sig)
{
	sig_atomic_t i;

	for (i = 0; i < nkids; i++)
		(void)kill(kids[i], SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * PROCS processes of CONC threads each; their tallies land in
 * ws[p * CONC + i] as if they had been our own threads.  A child waits
 * for the end time on the start pipe (so all start together), runs, and
 * writes each thread's struct, then its latencies, to its result pipe.
 */
static int processes(struct worker *ws, long procs, long conc, double *t0)
{
	struct sigaction sa;
	int start[2], res[MAX_PROCS], fd[2], rc = 0;
	long p, i, total = count;
	double *ends;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(start) < 0) {
		perror("client: pipe");
		return -1;
	}
	for (p = 0; p < procs; p++) {
		pid_t pid;

		if (pipe(fd) < 0) {
			perror("client: pipe");
			rc = -1;
			break;
		}
		if (total >= 0)
			count = total / procs + (p < total % procs);
		pid = fork();
		if (pid < 0) {
			perror("client: fork");
			close(fd[0]);
			close(fd[1]);
			rc = -1;
			break;
		}
		if (pid == 0) {
			struct worker *w = ws + p * conc;

			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			close(start[1]);
			close(fd[0]);
			for (i = 0; i < p; i++)
				close(res[i]);
			if (full(start[0], &t_end, sizeof t_end, 0) < 0 ||
			    threads(w, conc) < 0)
				_exit(2);
			for (i = 0; i < conc; i++)
				if (full(fd[1], &w[i], sizeof w[i], 1) < 0)
					_exit(2);
			for (i = 0; i < conc; i++)
				if (w[i].nlat && full(fd[1], w[i].lat,
				    (size_t)w[i].nlat * sizeof *w[i].lat, 1) < 0)
					_exit(2);
			_exit(0);
		}
		close(fd[1]);
		res[p] = fd[0];
		kids[p] = pid;
		nkids = (sig_atomic_t)(p + 1);
	}
	count = total;
	close(start[0]);
	/* The clock starts when all are forked; each reads its copy of the end. */
	*t0 = now();
	t_end = *t0 + (seconds > 0 ? seconds : HARD_LIMIT_S);
	ends = malloc((size_t)(nkids ? nkids : 1) * sizeof *ends);
	if (rc == 0 && ends) {
		for (p = 0; p < nkids; p++)
			ends[p] = t_end;
		if (full(start[1], ends, (size_t)nkids * sizeof *ends, 1) < 0)
			rc = -1;
	} else {
		rc = -1;
	}
	free(ends);
	close(start[1]);	/* a child not started reads EOF and leaves */
	for (p = 0; p < nkids; p++) {
		struct worker *w = ws + p * conc;

		for (i = 0; i < conc && rc == 0; i++) {
			if (full(res[p], &w[i], sizeof w[i], 0) < 0) {
				rc = -1;
				break;
			}
			w[i].lat = NULL;
			w[i].caplat = 0;
		}
		for (i = 0; i < conc && rc == 0; i++) {
			if (!w[i].nlat)
				continue;
			w[i].lat = malloc((size_t)w[i].nlat * sizeof *w[i].lat);
			if (!w[i].lat || full(res[p], w[i].lat, (size_t)w[i].nlat
					      * sizeof *w[i].lat, 0) < 0)
				rc = -1;
			else
				w[i].caplat = w[i].nlat;
		}
		if (rc < 0) {
			/* Leave the merge nothing half read. */
			for (i = 0; i < conc; i++) {
				free(w[i].lat);
				memset(&w[i], 0, sizeof w[i]);
			}
		}
		close(res[p]);
	}
	for (p = 0; p < nkids; p++) {
		int st;

		if (rc < 0)
			(void)kill(kids[p], SIGTERM);
		while (waitpid(kids[p], &st, 0) < 0 && errno == EINTR)
			continue;
	}
	nkids = 0;
	if (rc < 0)
		fprintf(stderr, "client: a client process failed\n");
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_pid(const void *a, const void *b)
{
	long x = ((const struct tally *)a)->pid, y = ((const struct tally *)b)->pid;

	return (x > y) - (x < y);
}

/* Nearest rank. */
static uint32_t pct(const uint32_t *v, long n, double p)
{
	long k;

	if (n == 0)
		return 0;
	k = (long)(p * (double)n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

int main(int argc, char **argv)
{
	static struct tally all[MAX_PIDS];
	struct worker *ws;
	long conc = 1, procs = 1, port = -1, nlat = 0, conns = 0, failed = 0;
	long why[F_NWHY] = { 0 }, other_pids = 0;
	uint32_t *lat;
	double t0, secs;
	int nall = 0, c, j, k;
	long i, nw;

	while ((c = getopt(argc, argv, "p:c:P:n:t:T:")) != -1) {
		switch (c) {
		case 'p': port = (long)num(optarg, 1, 65535); break;
		case 'c': conc = (long)num(optarg, 1, MAX_CONC); break;
		case 'P': procs = (long)num(optarg, 1, MAX_PROCS); break;
		case 'n': count = (long)num(optarg, 1, 1e9); break;
		case 't': seconds = num(optarg, 0.01, HARD_LIMIT_S); break;
		case 'T': timeout_ms = (long)num(optarg, 1, 600000); break;
		default: usage();
		}
	}
	if (optind != argc || port < 0 || (count < 0) == (seconds < 0))
		usage();
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((unsigned short)port);

	if (count >= 0 && count < procs)
		procs = count;
	nw = conc * procs;
	ws = calloc((size_t)nw, sizeof *ws);
	if (!ws) {
		perror("client: calloc");
		return 2;
	}
	t0 = now();
	t_end = t0 + (seconds > 0 ? seconds : HARD_LIMIT_S);
	if (procs > 1 ? processes(ws, procs, conc, &t0) < 0
		      : threads(ws, conc) < 0)
		return 2;
	secs = now() - t0;

	for (i = 0; i < nw; i++)
		nlat += ws[i].nlat;
	lat = malloc((size_t)(nlat ? nlat : 1) * sizeof *lat);
	if (!lat) {
		perror("client: malloc");
		return 2;
	}
	nlat = 0;
	for (i = 0; i < nw; i++) {
		struct worker *w = &ws[i];

		memcpy(lat + nlat, w->lat, (size_t)w->nlat * sizeof *lat);
		nlat += w->nlat;
		failed += w->failed;
		other_pids += w->other_pids;
		for (j = 0; j < F_NWHY; j++)
			why[j] += w->why[j];
		for (j = 0; j < w->npids; j++) {
			conns += w->pids[j].count;
			for (k = 0; k < nall && all[k].pid != w->pids[j].pid; k++)
				continue;
			if (k == nall) {
				if (nall == MAX_PIDS) {
					other_pids += w->pids[j].count;
					continue;
				}
				all[nall].pid = w->pids[j].pid;
				all[nall++].count = 0;
			}
			all[k].count += w->pids[j].count;
		}
		conns += w->other_pids;
	}
	qsort(lat, (size_t)nlat, sizeof *lat, cmp_u32);
	qsort(all, (size_t)nall, sizeof *all, cmp_pid);
	printf("conns %ld failed %ld secs %.3f rate %.0f p50_us %u p99_us %u "
	       "max_us %u\n", conns, failed, secs,
	       secs > 0 ? (double)conns / secs : 0.0, pct(lat, nlat, 0.50),
	       pct(lat, nlat, 0.99), nlat ? lat[nlat - 1] : 0);
	for (k = 0; k < nall; k++)
		printf("pid %ld count %ld\n", all[k].pid, all[k].count);
	if (other_pids)
		printf("pid other count %ld\n", other_pids);
	if (failed) {
		fprintf(stderr, "client: %ld failed:", failed);
		for (j = 0; j < F_NWHY; j++)
			if (why[j])
				fprintf(stderr, " %s %ld", why_name[j], why[j]);
		fputc('\n', stderr);
	}
	return failed ? 1 : 0;
}
