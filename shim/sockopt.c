/*
 * sockopt.c: setsockopt, getsockopt, getsockname and getpeername.
 *
 * On an endpoint the fd is a Unix socket, so every question a program
 * may ask a listener is answered here, from what the shim recorded, as
 * the kernel would answer it for a TCP listener.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "fdtab.h"
#include "log.h"
#include "platform.h"
#include "real.h"
#include "shim.h"
#include "util.h"

/* The index of (level, name) in plat_listener_opts(), or -1. */
static int
opt_index(int level, int name)
{
	size_t n;
	const struct plat_opt *t = plat_listener_opts(&n);

	for (size_t i = 0; i < n; i++) {
		if (t[i].level == level && t[i].name == name)
			return ((int)i);
	}
	return (-1);
}

/* The family of a TCP socket; -1 for anything else, which we leave alone. */
static int
tcp_family(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);
	int type;
	socklen_t tlen = sizeof (type);

	if (real.getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
	    type != SOCK_STREAM)
		return (-1);
	return (ss.ss_family);
}

static int
set_reuseport(int fd, const void *val, socklen_t len, setsockopt_fn rf)
{
	const struct shim_config *c = config_get();
	struct shim_sock *sk;
	sigset_t saved;
	int family = -1, v, saved_errno = errno;

	if (c->mode == SHIM_MODE_OFF)
		return (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len));
	/* A tracked fd may be an endpoint, a Unix socket: don't ask it. */
	if (!fdtab_maybe(fd) && (family = tcp_family(fd)) < 0) {
		errno = saved_errno;
		return (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len));
	}
	/* The kernel's own checks, first, as it makes them. */
	if (len < sizeof (int)) {
		errno = EINVAL;
		return (-1);
	}
	if (val == NULL) {
		errno = EFAULT;
		return (-1);
	}
	if (!c->valid) {
		errno = EINVAL;
		return (-1);
	}
	memcpy(&v, val, sizeof (v));
	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) != NULL) {
		sk->reuseport = v != 0;
		fdtab_unlock(&saved);
		errno = saved_errno;
		return (0);
	}
	fdtab_unlock(&saved);
	if (family < 0 && (family = tcp_family(fd)) < 0) {
		errno = saved_errno;
		return (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len));
	}
	if (c->mode == SHIM_MODE_AUTO) {
		if (rf(fd, SOL_SOCKET, plat_so_reuseport, val, len) == 0)
			return (0);	/* the kernel has it: step aside */
		/*
		 * Only ENOPROTOOPT says the kernel lacks the option (illumos
		 * without the patch).  Its EINVAL is about the socket (illumos:
		 * shut down for sending) and is the caller's answer.
		 */
		if (errno != ENOPROTOOPT)
			return (-1);
	}
	fdtab_lock(&saved);
	if ((sk = fdtab_get(fd)) == NULL) {
		if ((sk = sock_new(family)) == NULL || fdtab_put(fd, sk) != 0) {
			if (sk != NULL)
				sock_free(sk);
			fdtab_unlock(&saved);
			errno = ENOMEM;
			return (-1);
		}
	}
	sk->reuseport = v != 0;
	fdtab_unlock(&saved);
	errno = saved_errno;
	return (0);
}

/* setsockopt on an endpoint: record what a TCP listener would keep. */
static int
set_on_endpoint(struct shim_sock *sk, int level, int name, const void *val,
    socklen_t len)
{
	int i = opt_index(level, name);
	size_t n;
	const struct plat_opt *t = plat_listener_opts(&n);

	if (i < 0) {
		/* A TCP or IP option with no meaning for the owner's work. */
		shim_log(LOG_LVL_DEBUG, "setsockopt(%d, %d) on a shared "
		    "listener: accepted, not applied", level, name);
		return (0);
	}
	if (t[i].kind == PLAT_KIND_LINGER) {
		struct linger l;

		if (len < sizeof (l)) {
			errno = EINVAL;
			return (-1);
		}
		memcpy(&l, val, sizeof (l));
		sk->opts[i].value = l.l_onoff ? l.l_linger : -1;
	} else {
		int v;

		if (len < sizeof (int)) {
			errno = EINVAL;
			return (-1);
		}
		memcpy(&v, val, sizeof (v));
		sk->opts[i].value = plat_opt_readback(&t[i], v);
	}
	sk->opts[i].set = 1;
	return (0);
}

int
shim_setsockopt(int fd, int level, int name, const void *val, socklen_t len,
    enum shim_variant var)
{
	enum plat_opt_class cls;
	struct shim_sock *sk;
	sigset_t saved;
	int rc, saved_errno = errno;
	setsockopt_fn rf;

	shim_init();
	rf = var == SHIM_TIME64 && real.setsockopt64 != NULL ?
	    real.setsockopt64 : real.setsockopt;
	cls = plat_opt_classify(level, name);
	if (cls == PLAT_OPT_REUSEPORT)
		return (set_reuseport(fd, val, len, rf));
	if (!fdtab_maybe(fd))
		return (rf(fd, level, name, val, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (sk == NULL || sk->state != SK_ENDPOINT ||
	    (level == SOL_SOCKET && opt_index(level, name) < 0)) {
		fdtab_unlock(&saved);
		return (rf(fd, level, name, val, len));
	}
	if (val == NULL) {
		fdtab_unlock(&saved);
		errno = EFAULT;
		return (-1);
	}
	rc = set_on_endpoint(sk, level, name, val, len);
	fdtab_unlock(&saved);
	if (rc == 0)
		errno = saved_errno;
	return (rc);
}

static int
int_out(void *val, socklen_t *len, int v)
{
	return (util_opt_out(val, len, &v, sizeof (v)));
}

/* getsockopt on an endpoint, as a TCP listener would answer. */
static int
get_on_endpoint(const struct shim_sock *sk, int level, int name, void *val,
    socklen_t *len, int *handled)
{
	size_t n;
	const struct plat_opt *t = plat_listener_opts(&n);
	int i;

	*handled = 1;
	switch (plat_opt_classify(level, name)) {
	case PLAT_OPT_REUSEPORT:
		return (int_out(val, len, sk->reuseport));
	case PLAT_OPT_TYPE:
		return (int_out(val, len, SOCK_STREAM));
	case PLAT_OPT_DOMAIN:
		return (int_out(val, len, sk->family));
	case PLAT_OPT_PROTOCOL:
		return (int_out(val, len, IPPROTO_TCP));
	case PLAT_OPT_ACCEPTCONN:
		return (int_out(val, len, !sk->shut));
	case PLAT_OPT_ERROR:
		return (int_out(val, len, 0));
	default:
		break;
	}
	if ((i = opt_index(level, name)) >= 0 && sk->opts[i].set) {
		if (t[i].kind == PLAT_KIND_LINGER) {
			struct linger l;

			memset(&l, 0, sizeof (l));
			l.l_onoff = sk->opts[i].value >= 0;
			l.l_linger = l.l_onoff ? sk->opts[i].value : 0;
			return (util_opt_out(val, len, &l, sizeof (l)));
		}
		return (int_out(val, len, sk->opts[i].value));
	}
	if (level != SOL_SOCKET) {
		errno = ENOPROTOOPT;
		return (-1);
	}
	*handled = 0;
	return (0);
}

int
shim_getsockopt(int fd, int level, int name, void *val, socklen_t *len,
    enum shim_variant var)
{
	struct shim_sock *sk;
	sigset_t saved;
	int rc = 0, handled = 0, saved_errno = errno;
	getsockopt_fn rf;

	shim_init();
	if (var == SHIM_XNET && real.xnet_getsockopt != NULL)
		rf = real.xnet_getsockopt;
	else if (var == SHIM_TIME64 && real.getsockopt64 != NULL)
		rf = real.getsockopt64;
	else
		rf = real.getsockopt;
	if (!fdtab_maybe(fd))
		return (rf(fd, level, name, val, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (sk != NULL && sk->state == SK_ENDPOINT) {
		rc = get_on_endpoint(sk, level, name, val, len, &handled);
	} else if (sk != NULL &&
	    plat_opt_classify(level, name) == PLAT_OPT_REUSEPORT) {
		handled = 1;
		rc = int_out(val, len, sk->reuseport);
	} else if (sk != NULL && sk->state == SK_MEMBER &&
	    plat_opt_classify(level, name) == PLAT_OPT_ACCEPTCONN) {
		/* The first binder's real socket listens already, for the group. */
		handled = 1;
		rc = int_out(val, len, 0);
	}
	fdtab_unlock(&saved);
	if (!handled)
		return (rf(fd, level, name, val, len));
	if (rc == 0)
		errno = saved_errno;
	return (rc);
}

int
shim_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	struct shim_sock *sk;
	socklen_t sl = 0;
	sigset_t saved;
	int rc, saved_errno = errno;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.getsockname(fd, sa, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	if (sk != NULL && sk->state != SK_OPT) {
		ss = sk->addr;
		sl = sk->addrlen;
	}
	fdtab_unlock(&saved);
	if (sl == 0)
		return (real.getsockname(fd, sa, len));
	rc = util_addr_out(sa, len, &ss, sl);
	if (rc == 0)
		errno = saved_errno;
	return (rc);
}

int
shim_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct shim_sock *sk;
	sigset_t saved;
	int endpoint;

	shim_init();
	if (!fdtab_maybe(fd))
		return (real.getpeername(fd, sa, len));
	fdtab_lock(&saved);
	sk = fdtab_get(fd);
	endpoint = sk != NULL && sk->state == SK_ENDPOINT;
	fdtab_unlock(&saved);
	if (!endpoint)
		return (real.getpeername(fd, sa, len));
	errno = ENOTCONN;	/* a listener has no peer */
	return (-1);
}
