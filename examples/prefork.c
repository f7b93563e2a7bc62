/*
 * prefork [-a ADDR] [-p PORT] [-n N] [-d MS]
 *
 * The classic prefork pattern with SO_REUSEPORT: N children each open,
 * bind and listen on their OWN socket for ADDR:PORT, and the kernel spreads
 * incoming connections over them.  Each connection is answered with the
 * serving child's pid, after MS milliseconds with -d (a slow request).
 *
 * stdout: "port <n>" from the parent first, then "ready <pid>" per child.
 */
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage[] = "[-a ADDR] [-p PORT] [-n N] [-d MS]";

static void child(const struct server_opts *o, int ready_w)
{
	int fd;

	child_signals();
	fd = reuseport_socket(o);
	if (listen(fd, LISTEN_BACKLOG) < 0)
		die("listen");
	say("ready %ld\n", (long)getpid());
	/* Tell the parent we hold the port, so it may drop its probe socket. */
	if (write(ready_w, "r", 1) != 1)
		die("write ready pipe");
	close(ready_w);
	accept_loop(fd, o->delay_ms);
}

/* Returns once every child has either reported ready or died. */
static void wait_ready(int ready_r, int n)
{
	char buf[64];
	int got = 0;
	ssize_t r;

	while (got < n) {
		r = read(ready_r, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read ready pipe");
		}
		if (r == 0)
			break;	/* all write ends closed: some child died */
		got += (int)r;
	}
}

int main(int argc, char **argv)
{
	struct server_opts o;
	pid_t kids[MAX_PROCS];
	int probe = -1, pipefd[2], i;
	pid_t pid;

	parse_server_opts(argc, argv, "a:p:n:d:", usage, &o);

	/*
	 * With port 0 the children must agree on one port: learn it from a
	 * SO_REUSEPORT socket bound here, and keep that socket bound until
	 * every child has bound too, so nobody else can take the port.
	 */
	if (get_port(&o.addr) == 0) {
		probe = reuseport_socket(&o);
		set_port(&o.addr, bound_port(probe));
	}
	say("port %u\n", get_port(&o.addr));

	if (pipe(pipefd) < 0)
		die("pipe");
	supervisor_signals();
	for (i = 0; i < o.nproc; i++) {
		pid = fork();
		if (pid < 0) {
			int err = errno;

			kids[i] = 0;
			o.nproc = i;
			for (i = 0; i < o.nproc; i++)
				kill(kids[i], SIGTERM);
			errno = err;
			die("fork");
		}
		if (pid == 0) {
			close(pipefd[0]);
			if (probe >= 0)
				close(probe);
			child(&o, pipefd[1]);
			exit(1);	/* not reached */
		}
		kids[i] = pid;
	}
	close(pipefd[1]);
	wait_ready(pipefd[0], o.nproc);
	close(pipefd[0]);
	if (probe >= 0)
		close(probe);

	return supervise(kids, o.nproc);
}
