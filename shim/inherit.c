/*
 * inherit.c: endpoints that came through exec.
 *
 * A listening endpoint that is not close-on-exec survives exec (nginx's
 * binary upgrade, programs handed listening fds by their parent), but the
 * new program's shim starts with an empty table and would see a bare Unix
 * socket.  At startup it looks at the fds it was given: a Unix stream
 * socket whose peer is bound under our rendezvous directory, by a process
 * of our uid, is an endpoint, and its peer's name says of which group.
 * (A member that never listened may survive exec as well: it is taken for
 * a listener, and waits in accept() instead of failing with EINVAL.)  Its
 * options stayed with its shadow in the old program; the new one starts
 * a shadow of its own when first asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "fdtab.h"
#include "inherit.h"
#include "log.h"
#include "platform.h"
#include "real.h"
#include "rendezvous.h"

struct scan {
	char	dir[CONFIG_PATH_MAX];
	int	found;
};

static void
look(int fd, void *arg)
{
	struct scan *s = arg;
	struct sockaddr_un un;
	struct sockaddr_storage ss;
	socklen_t len = sizeof (un), alen;
	struct shim_sock *sk;
	struct stat st;
	sigset_t saved;
	uid_t uid;
	int type;
	socklen_t tlen = sizeof (type);

	memset(&un, 0, sizeof (un));
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
	    type != SOCK_STREAM ||
	    real.getpeername(fd, (struct sockaddr *)&un, &len) != 0 ||
	    un.sun_family != AF_UNIX || len <= sizeof (un.sun_family))
		return;
	un.sun_path[sizeof (un.sun_path) - 1] = '\0';
	if (rv_parse_peer(s->dir, un.sun_path, &ss, &alen) != 0)
		return;
	if (plat_peer_euid(fd, &uid) != 0 || uid != geteuid()) {
		shim_log(LOG_LVL_WARN, "fd %d looks like a shared listener "
		    "but its owner is not ours; leaving it alone", fd);
		return;
	}
	if ((sk = sock_new(ss.ss_family)) == NULL)
		return;
	sk->state = SK_ENDPOINT;
	sk->reuseport = 1;
	sk->addr = ss;
	sk->addrlen = alen;
	fdtab_lock(&saved);
	if (fdtab_put(fd, sk) != 0)
		sock_free(sk);
	else
		s->found++;
	fdtab_unlock(&saved);
}

void
inherit_scan(void)
{
	const struct shim_config *c = config_get();
	struct scan s;
	int saved = errno;

	if (c->mode == SHIM_MODE_OFF)
		return;
	memset(&s, 0, sizeof (s));
	/* Only the name: a program that never groups creates no directory. */
	if (rv_dir_choose(s.dir, sizeof (s.dir), c->dir,
	    getenv("XDG_RUNTIME_DIR"), geteuid()) != 0)
		return;
	plat_for_each_fd(look, &s);
	if (s.found > 0)
		shim_log(LOG_LVL_INFO, "%d shared listener(s) inherited",
		    s.found);
	errno = saved;
}
