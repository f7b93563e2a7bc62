/*
 * util.c: address and option copies, the member's request/reply, the
 * clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "platform.h"
#include "real.h"
#include "util.h"

int
util_addr_out(struct sockaddr *sa, socklen_t *len, const void *src,
    socklen_t srclen)
{
	if (len == NULL) {
		errno = EFAULT;
		return (-1);
	}
	if ((int)*len < 0) {
		errno = EINVAL;
		return (-1);
	}
	if (sa != NULL)
		memcpy(sa, src, *len < srclen ? *len : srclen);
	*len = srclen;
	return (0);
}

socklen_t
util_addr_canon(struct sockaddr_storage *out, const struct sockaddr *sa,
    socklen_t len)
{
	memset(out, 0, sizeof (*out));
	if (sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		struct sockaddr_in *o = (struct sockaddr_in *)out;

		o->sin_family = AF_INET;
		o->sin_port = in->sin_port;
		o->sin_addr = in->sin_addr;
		return (sizeof (*o));
	}
	/* RFC 2133's 24 bytes end before sin6_scope_id: not read. */
	if (sa->sa_family == AF_INET6 && len >= 24) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		struct sockaddr_in6 *o = (struct sockaddr_in6 *)out;

		o->sin6_family = AF_INET6;
		o->sin6_port = in6->sin6_port;
		o->sin6_addr = in6->sin6_addr;
		if (len >= sizeof (*in6) &&
		    IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr))
			o->sin6_scope_id = in6->sin6_scope_id;
		return (sizeof (*o));
	}
	return (0);
}

int
util_opt_out(void *val, socklen_t *len, const void *src, socklen_t srclen)
{
	if (len == NULL) {
		errno = EFAULT;
		return (-1);
	}
	if ((int)*len < 0) {
		errno = EINVAL;
		return (-1);
	}
	if (*len > srclen)
		*len = srclen;
	if (*len > 0) {
		if (val == NULL) {
			errno = EFAULT;
			return (-1);
		}
		memcpy(val, src, *len);
	}
	return (0);
}

int
util_request(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep)
{
	return (util_request_fd(ctl, req, want, rep, NULL));
}

int
util_request_fd(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep, int *repfd)
{
	return (util_request_until(ctl, req, want, rep, repfd,
	    util_deadline(UTIL_REPLY_TIMEOUT_MS)));
}

int
util_wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		uint64_t now = util_now_us(), ms;
		int n;

		/* Rounded up: a wait cut to 0 ms would spin to the deadline. */
		ms = now >= deadline ? 0 : (deadline - now + 999) / 1000;
		n = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
		if (n > 0)
			return (0);
		if (n == 0 && util_now_us() >= deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
		if (n < 0 && errno != EINTR)
			return (-1);
	}
}

int
util_request_until(int ctl, const struct proto_rec *req, int want,
    struct proto_rec *rep, int *repfd, uint64_t deadline)
{
	int cfd, cloexec = plat_recv_cloexec_flag();

	if (repfd != NULL)
		*repfd = -1;
	if (proto_send(ctl, req, -1) != 0) {
		if (errno == EPIPE)
			errno = ECONNRESET;
		return (-1);
	}
	for (;;) {
		int n;

		if (util_wait_fd(ctl, POLLIN, deadline) != 0)
			return (-1);
		n = proto_recv(ctl, rep, &cfd, cloexec);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			errno = n == 0 ? ECONNRESET : errno;
			return (-1);
		}
		if (rep->type != want) {
			if (cfd >= 0)
				(void) real.close(cfd);
			errno = EPROTO;
			return (-1);
		}
		if (repfd == NULL && cfd >= 0)
			(void) real.close(cfd);
		else if (repfd != NULL) {
			if (cfd >= 0 && cloexec == 0)
				(void) real.fcntl(cfd, F_SETFD, FD_CLOEXEC);
			*repfd = cfd;
		}
		return (0);
	}
}

int
util_opt_read(int fd, const struct plat_opt *o, int32_t *value)
{
	union {
		int		v;
		struct linger	l;
	} u;
	socklen_t len = sizeof (u);

	memset(&u, 0, sizeof (u));
	if (real.getsockopt(fd, o->level, o->name, &u, &len) != 0)
		return (-1);
	if (o->kind == PLAT_KIND_LINGER)
		*value = u.l.l_onoff ? u.l.l_linger : -1;
	else
		*value = u.v;
	return (0);
}

uint64_t
util_now_us(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U);
}

uint64_t
util_deadline(unsigned ms)
{
	return (util_now_us() + (uint64_t)ms * 1000U);
}

/*
 * RLIMIT_NOFILE's soft limit raised to the hard one (it was the starting
 * program's): the soft limit now, RLIM_INFINITY included, or 0 if it
 * cannot be read.
 */
static unsigned long
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return (0);
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t cur = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = cur;
	}
	return (rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX :
	    (unsigned long)rl.rlim_cur);
}

size_t
util_fd_members(size_t per, size_t max, size_t reserve)
{
	unsigned long lim = raise_nofile(), room;

	if (lim == 0)
		return (max);
	/* A small one: a quarter (twice the reserve could be all of it). */
	room = lim > 4 * reserve ? lim - 2 * reserve : lim / 4 + 1;
	room /= per;
	if (room == 0)
		return (1);	/* the member that started the group */
	return (room < max ? (size_t)room : max);
}
