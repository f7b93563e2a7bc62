/*
 * bindfork [-a ADDR] [-p PORT] [-n N]
 *
 * The nginx pattern: one process opens N SO_REUSEPORT sockets on the same
 * ADDR:PORT and listens on all of them, then forks N workers; worker i
 * keeps only socket i.  The parent, like the nginx master, keeps every
 * socket open and only supervises.
 *
 * stdout: "port <n>" from the parent first, then "ready <pid>" per child.
 */
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage[] = "[-a ADDR] [-p PORT] [-n N]";

static void child(int *socks, int n, int mine)
{
	int i;

	child_signals();
	for (i = 0; i < n; i++)
		if (i != mine)
			close(socks[i]);
	say("ready %ld\n", (long)getpid());
	accept_loop(socks[mine], 0);
}

int main(int argc, char **argv)
{
	struct server_opts o;
	int socks[MAX_PROCS];
	pid_t kids[MAX_PROCS];
	pid_t pid;
	int i;

	parse_server_opts(argc, argv, "a:p:n:", usage, &o);

	/* The first socket may take port 0; the rest join the port it got. */
	for (i = 0; i < o.nproc; i++) {
		socks[i] = reuseport_socket(&o);
		if (i == 0)
			set_port(&o.addr, bound_port(socks[0]));
	}
	for (i = 0; i < o.nproc; i++)
		if (listen(socks[i], LISTEN_BACKLOG) < 0)
			die("listen");
	say("port %u\n", get_port(&o.addr));

	supervisor_signals();
	for (i = 0; i < o.nproc; i++) {
		pid = fork();
		if (pid < 0) {
			int err = errno;

			o.nproc = i;
			for (i = 0; i < o.nproc; i++)
				kill(kids[i], SIGTERM);
			errno = err;
			die("fork");
		}
		if (pid == 0) {
			child(socks, o.nproc, i);
			exit(1);	/* not reached */
		}
		kids[i] = pid;
	}

	return supervise(kids, o.nproc);
}
