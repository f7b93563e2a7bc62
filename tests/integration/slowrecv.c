/*
 * slowrecv.c: a test library (t_closerace.sh) preloaded after the shim,
 * so that the shim's recvmsg (real.recvmsg: the next definition after the
 * shim's own) comes here.  Armed (slowrecv_arm), the next recvmsg that
 * brings a descriptor is held after the kernel returned it, until
 * slowrecv_go, or 10 s at most: the moment between a member reading a
 * connection and acknowledging it, held open so that the owner can act
 * in it, every time instead of once in a million.  The test (in this same
 * process) calls these functions through ctypes.
 */
#define	_GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t (*next_recvmsg)(int, struct msghdr *, int);
static atomic_int armed, held, inside;
static int gate[2] = { -1, -1 };

int
slowrecv_arm(void)
{
	if (gate[0] < 0 && pipe(gate) != 0)
		return (-1);
	atomic_store(&armed, 1);
	return (0);
}

/* 1 while a recvmsg is held. */
int
slowrecv_held(void)
{
	return (atomic_load(&held));
}

/* Threads inside recvmsg now (waiting in the kernel, nearly always). */
int
slowrecv_inside(void)
{
	return (atomic_load(&inside));
}

void
slowrecv_go(void)
{
	char c = 0;

	if (gate[1] >= 0)
		(void) write(gate[1], &c, 1);
}

ssize_t
recvmsg(int fd, struct msghdr *mh, int flags)
{
	struct pollfd p;
	ssize_t n;
	char c;
	int e;

	if (next_recvmsg == NULL)
		next_recvmsg = (ssize_t (*)(int, struct msghdr *, int))
		    dlsym(RTLD_NEXT, "recvmsg");
	atomic_fetch_add(&inside, 1);
	n = next_recvmsg(fd, mh, flags);
	atomic_fetch_sub(&inside, 1);
	if (n > 0 && mh->msg_controllen > 0 && atomic_exchange(&armed, 0)) {
		e = errno;
		atomic_store(&held, 1);
		p.fd = gate[0];
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, 10000) == 1)
			(void) read(gate[0], &c, 1);
		atomic_store(&held, 0);
		errno = e;
	}
	return (n);
}
