/*
 * Shared helpers for the example servers.  Nothing here knows about the
 * shim: these are ordinary programs that use SO_REUSEPORT the usual way.
 */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <sys/types.h>
#include <sys/socket.h>

/* Old or non-Linux headers may lack it; 0x2004 is the illumos patch value. */
#ifndef SO_REUSEPORT
#define SO_REUSEPORT 0x2004
#endif

#define LISTEN_BACKLOG 128
#define MAX_PROCS 1024

struct server_opts {
	struct sockaddr_storage addr;	/* -a and -p combined */
	socklen_t addrlen;
	int nproc;			/* -n, default 4 */
	int use_epoll;			/* -e */
	long delay_ms;			/* -d: each connection takes this long */
};

extern const char *progname;

void die(const char *what);
void fatal(const char *fmt, ...);
void say(const char *fmt, ...);

void parse_server_opts(int argc, char **argv, const char *optstring,
		       const char *usage, struct server_opts *o);
unsigned get_port(const struct sockaddr_storage *ss);
void set_port(struct sockaddr_storage *ss, unsigned port);

int reuseport_socket(const struct server_opts *o);
unsigned bound_port(int fd);

void serve_one(int cfd);
void accept_loop(int lfd, long delay_ms);

void supervisor_signals(void);
void child_signals(void);
int supervise(pid_t *kids, int n);

#endif
