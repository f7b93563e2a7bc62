/*
 * evloop [-a ADDR] [-p PORT] [-e]
 *
 * A single-process, non-blocking event-loop server on one SO_REUSEPORT
 * socket.  Run several copies on the same port to get the multi-process
 * shape of event-driven servers.  It waits with poll(), or with epoll (-e,
 * Linux only): epoll watches the open file description rather than the
 * descriptor number, which makes it a distinct case worth exercising.
 * SIGTERM/SIGINT reach the loop through a self-pipe.
 *
 * stdout: "port <n>", then "ready <pid>".
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

/* Bounded so a steady stream of clients cannot starve the signal pipe. */
#define ACCEPTS_PER_WAKEUP 64

static const char usage[] = "[-a ADDR] [-p PORT] [-e]";
static int sig_w = -1;

static void on_signal(int sig)
{
	int saved = errno;
	ssize_t r;

	(void)sig;
	r = write(sig_w, "s", 1);	/* pipe full is fine: one byte wakes us */
	(void)r;
	errno = saved;
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		die("fcntl F_GETFL");
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fcntl(fd, F_SETFL, fl) < 0)
		die("fcntl F_SETFL");
}

static int make_sig_pipe(void)
{
	struct sigaction sa;
	int p[2];

	if (pipe(p) < 0)
		die("pipe");
	set_nonblock(p[0], 1);
	set_nonblock(p[1], 1);
	sig_w = p[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		die("sigaction");
	return p[0];
}

static void drain_accept(int lfd)
{
	int i, cfd;

	for (i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			die("accept");
		}
		/* BSDs hand O_NONBLOCK on to accepted sockets; Linux does not. */
		set_nonblock(cfd, 0);
		serve_one(cfd);
	}
}

static void unexpected(const char *what)
{
	errno = EIO;
	die(what);
}

static void run_poll(int lfd, int sig_r)
{
	struct pollfd pfd[2];

	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sig_r;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[1].revents)
			return;
		/* Anything but POLLIN on a listener would make us spin. */
		if (pfd[0].revents & ~POLLIN)
			unexpected("poll: error event on listening socket");
		if (pfd[0].revents & POLLIN)
			drain_accept(lfd);
	}
}

#ifdef __linux__
static void run_epoll(int lfd, int sig_r)
{
	struct epoll_event ev, evs[2];
	int ep, n, i;

	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl listening socket");
	ev.data.fd = sig_r;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sig_r, &ev) < 0)
		die("epoll_ctl signal pipe");
	for (;;) {
		n = epoll_wait(ep, evs, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == sig_r)
				goto out;
		for (i = 0; i < n; i++) {
			if (evs[i].events & ~(uint32_t)EPOLLIN)
				unexpected("epoll: error event on listening socket");
			drain_accept(lfd);
		}
	}
out:
	close(ep);
}
#endif

int main(int argc, char **argv)
{
	struct server_opts o;
	int lfd, sig_r;

	parse_server_opts(argc, argv, "a:p:e", usage, &o);
#ifndef __linux__
	if (o.use_epoll)
		fatal("-e: epoll is only available on Linux");
#endif

	sig_r = make_sig_pipe();
	lfd = reuseport_socket(&o);
	set_nonblock(lfd, 1);
	if (listen(lfd, LISTEN_BACKLOG) < 0)
		die("listen");
	say("port %u\n", bound_port(lfd));
	say("ready %ld\n", (long)getpid());

#ifdef __linux__
	if (o.use_epoll)
		run_epoll(lfd, sig_r);
	else
#endif
		run_poll(lfd, sig_r);

	close(lfd);
	return 0;
}
