/*
 * real.c: resolve the real socket functions once, under pthread_once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"
#include "real.h"

struct shim_real real;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void
die(const char *what, const char *name)
{
	/* No stdio: this may run inside any wrapped call. */
	static const char pre[] = "reuseport-shim: fatal: ";

	(void) write(2, pre, sizeof (pre) - 1);
	(void) write(2, what, strlen(what));
	(void) write(2, name, strlen(name));
	(void) write(2, "\n", 1);
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
	RESOLVE_AS(xnet_bind, "__xnet_bind", 0);
	RESOLVE_AS(xnet_listen, "__xnet_listen", 0);
	RESOLVE_AS(xnet_getsockopt, "__xnet_getsockopt", 0);
	RESOLVE_AS(getsockopt64, "__getsockopt64", 0);
	RESOLVE_AS(setsockopt64, "__setsockopt64", 0);
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
