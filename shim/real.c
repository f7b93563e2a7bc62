/*
 * real.c: resolve the real socket functions once, under pthread_once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "real.h"

struct shim_real real;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/*
 * No stdio: this may run inside any wrapped call.  Through the real
 * write(2), resolved first: ours would wait for the setup that is
 * failing here.  Without it there is nothing to write with.
 */
static void
say(const char *s)
{
	if (real.write != NULL)
		(void) real.write(2, s, strlen(s));
}

static void
die(const char *what, const char *name)
{
	say("reuseport-shim: fatal: ");
	say(what);
	say(name);
	say("\n");
	abort();
}

/*
 * A missing symbol or one that resolves to ourselves would turn every
 * wrapped call into a crash or an endless loop later; fail loudly now.
 */
static void *
resolve(const char *name, int required)
{
	void *p = plat_dlsym_next(name);

	if (p == NULL) {
		if (required)
			die("no real function for ", name);
		return (NULL);
	}
	if (plat_is_ours(p))
		die("real function resolves to the shim itself: ", name);
	return (p);
}

/*
 * Function pointers and void * do not convert in ISO C; POSIX requires
 * dlsym's result to, and memcpy states that without a cast warning.
 */
#define	RESOLVE_AS(f, name, req)	do {				\
	void *p_ = resolve((name), (req));			\
	memcpy(&real.f, &p_, sizeof (p_));			\
} while (0)
#define	RESOLVE(f, req)	RESOLVE_AS(f, #f, req)

static void
resolve_all(void)
{
	if (real.close != NULL)
		return;		/* unit tests installed fakes */
	RESOLVE(write, 1);	/* first: die() writes with it */
	RESOLVE(socket, 1);
	RESOLVE(bind, 1);
	RESOLVE(listen, 1);
	RESOLVE(accept, 1);
	RESOLVE(accept4, 1);
	RESOLVE(connect, 1);
	RESOLVE(setsockopt, 1);
	RESOLVE(getsockopt, 1);
	RESOLVE(getsockname, 1);
	RESOLVE(getpeername, 1);
	RESOLVE(shutdown, 1);
	RESOLVE(close, 1);
	RESOLVE(dup, 1);
	RESOLVE(dup2, 1);
	RESOLVE(dup3, 0);
	RESOLVE(fcntl, 1);
	RESOLVE(ioctl, 1);
	RESOLVE_AS(xnet_bind, "__xnet_bind", 0);
	RESOLVE_AS(xnet_listen, "__xnet_listen", 0);
	RESOLVE_AS(xnet_getsockopt, "__xnet_getsockopt", 0);
	RESOLVE_AS(getsockopt64, "__getsockopt64", 0);
	RESOLVE_AS(setsockopt64, "__setsockopt64", 0);
	RESOLVE(read, 1);
	RESOLVE(readv, 1);
	RESOLVE(writev, 1);
	RESOLVE(send, 1);
	RESOLVE(recv, 1);
	RESOLVE(sendto, 1);
	RESOLVE(recvfrom, 1);
	RESOLVE(sendmsg, 1);
	RESOLVE(recvmsg, 1);
	RESOLVE_AS(xnet_connect, "__xnet_connect", 0);
	RESOLVE_AS(xnet_sendto, "__xnet_sendto", 0);
	RESOLVE_AS(xnet_sendmsg, "__xnet_sendmsg", 0);
	RESOLVE_AS(xnet_recvmsg, "__xnet_recvmsg", 0);
	RESOLVE(recvmmsg, 0);
	RESOLVE(sendmmsg, 0);
	RESOLVE_AS(read_chk, "__read_chk", 0);
	RESOLVE_AS(recv_chk, "__recv_chk", 0);
	RESOLVE_AS(recvfrom_chk, "__recvfrom_chk", 0);
	RESOLVE(execve, 1);
	RESOLVE(execv, 1);
	RESOLVE(execvp, 1);
	RESOLVE(execvpe, 0);
	RESOLVE(fexecve, 0);
	RESOLVE(posix_spawn, 1);
	RESOLVE(posix_spawnp, 1);
}

void
real_init(void)
{
	(void) pthread_once(&real_once, resolve_all);
}

ssize_t
real_sendmsg_xpg(int fd, const struct msghdr *m, int flags)
{
	return (real.xnet_sendmsg != NULL ? real.xnet_sendmsg(fd, m, flags) :
	    real.sendmsg(fd, m, flags));
}

ssize_t
real_recvmsg_xpg(int fd, struct msghdr *m, int flags)
{
	return (real.xnet_recvmsg != NULL ? real.xnet_recvmsg(fd, m, flags) :
	    real.recvmsg(fd, m, flags));
}
