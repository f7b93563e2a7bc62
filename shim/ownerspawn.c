/*
 * ownerspawn.c: starting a group's owner, and an owner's standby: the
 * program rpshim-owner (OWNER_PROG) from beside the library, or a fork
 * of the caller where that program is missing (owners only); and the
 * program's arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "log.h"
#include "owner.h"
#include "platform.h"
#include "real.h"

/* Reap the intermediate process; 0 if it reported the owner started. */
static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return (0);	/* reaped by the application: fine */
	}
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
}

/* "127.0.0.1:8080", "[::]:443": the address fd is bound to. */
static void
group_name(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof (ss);
	char host[INET6_ADDRSTRLEN];
	const void *addr;
	unsigned port;

	(void) snprintf(buf, n, "?");
	if (real.getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		addr = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		addr = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	}
	if (inet_ntop(ss.ss_family, addr, host, sizeof (host)) == NULL)
		return;
	(void) snprintf(buf, n, ss.ss_family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", host, port);
}

#define	NFDS	5	/* listener, rendezvous, board, memory, mirror */

/*
 * Run prog (OWNER_PROG) as an owner (a->mirrorfd < 0) or a standby, with
 * copies of a's fds that survive exec (ours are close-on-exec), away from
 * 0-2.  An owner: 0 once it reported it detached, else -1.  A standby
 * stays our child: 0 and its pid in *sbpid.
 */
static int
spawn_at(const char *prog, const struct owner_args *a, pid_t *sbpid)
{
	const int src[NFDS] = { a->listenfd, a->rvfd, a->boardfd, a->memfd,
	    a->mirrorfd };
	char nums[NFDS + 3][24], where[INET6_ADDRSTRLEN + 16];
	char *argv[NFDS + 11];
	int fds[NFDS], nfds = a->mirrorfd >= 0 ? NFDS : 2, argc = 0, rc = -1;
	pid_t pid;

	for (int i = 0; i < nfds; i++)
		fds[i] = -1;
	for (int i = 0; i < nfds; i++) {
		/* A UDP group's standby has no board and no memory: -1. */
		if (src[i] < 0 && (i == 2 || i == 3))
			continue;
		if ((fds[i] = real.fcntl(src[i], F_DUPFD, 10)) < 0)
			goto out;
	}
	/* What ps and pgrep -f show: whose group this is, first. */
	group_name(a->listenfd, where, sizeof (where));
	argv[argc++] = OWNER_PROG;
	argv[argc++] = a->mirrorfd >= 0 ? (a->udp ||
	    a->policy == SHIM_POLICY_SHARED ? "udpstandby" : "standby") :
	    a->udp ? "udp" : "tcp";
	argv[argc++] = where;
	(void) snprintf(nums[0], sizeof (nums[0]), "%d", fds[0]);
	(void) snprintf(nums[1], sizeof (nums[1]), "%d", fds[1]);
	(void) snprintf(nums[2], sizeof (nums[2]), "%d", (int)a->policy);
	(void) snprintf(nums[3], sizeof (nums[3]), "%ld", (long)a->uid);
	(void) snprintf(nums[4], sizeof (nums[4]), "%ld", a->linger_ms);
	for (int i = 0; i < 5; i++)
		argv[argc++] = nums[i];
	argv[argc++] = (char *)a->path;
	for (int i = 2; i < nfds; i++) {
		(void) snprintf(nums[i + 3], sizeof (nums[0]), "%d", fds[i]);
		argv[argc++] = nums[i + 3];
	}
	if (a->mirrorfd >= 0)
		argv[argc++] = a->service[0] != '\0' ? (char *)a->service : "-";
	argv[argc] = NULL;
	if (plat_spawn(prog, argv, &pid) == 0) {
		if (sbpid != NULL) {
			*sbpid = pid;
			rc = 0;
		} else {
			rc = reap(pid);
		}
	}
out:
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			(void) real.close(fds[i]);
	}
	return (rc);
}

/*
 * The owner as a program of its own, OWNER_PROG beside the library:
 * nothing of the application's image is copied (illumos reserves swap
 * for all of a forked image, so a large program's fork can fail), and ps,
 * pidof and pkill see rpshim-owner, not the daemon.  -1 with errno
 * ENOENT if there is no such program, so the caller can fork instead.
 */
static int
spawn_prog(const struct owner_args *a)
{
	char prog[RV_PATH_MAX + 32];

	if (plat_self_dir(prog, sizeof (prog)) != 0 ||
	    strlen(prog) + sizeof ("/" OWNER_PROG) > sizeof (prog)) {
		errno = ENOENT;
		return (-1);
	}
	(void) strcat(prog, "/" OWNER_PROG);
	if (access(prog, X_OK) != 0) {
		errno = ENOENT;
		return (-1);
	}
	return (spawn_at(prog, a, NULL));
}

int
standby_spawn(const struct owner_args *a, pid_t *pid)
{
	char prog[RV_PATH_MAX + 32];

	/* Only the program itself: a forked owner has no program to run. */
	if (!a->prog || plat_self_exe(prog, sizeof (prog)) != 0) {
		errno = ENOENT;
		return (-1);
	}
	return (spawn_at(prog, a, pid));
}

static int
num(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0' || *v < 0 ? -1 : 0);
}

int
owner_args_parse(struct owner_args *a, int argc, char **argv)
{
	long v[5], f[3];
	int standby, direct;

	/* argv[1], argv[2]: the role and address, for people too. */
	if (argc < 2)
		return (-1);
	/* udpstandby: of a udpowner.c group (UDP, or TCP shared). */
	direct = strcmp(argv[1], "udpstandby") == 0;
	standby = direct || strcmp(argv[1], "standby") == 0;
	if (argc != (standby ? 13 : 9) || (!standby &&
	    strcmp(argv[1], "tcp") != 0 && strcmp(argv[1], "udp") != 0))
		return (-1);
	memset(a, 0, sizeof (*a));
	a->udp = strcmp(argv[1], "udp") == 0;
	for (int i = 0; i < 5; i++) {
		if (num(argv[i + 3], &v[i]) != 0)
			return (-1);
	}
	for (int i = 0; i < 3; i++) {
		f[i] = -1;
		if (direct && i < 2 && strcmp(argv[i + 9], "-1") == 0)
			continue;
		if (standby && (num(argv[i + 9], &f[i]) != 0 || f[i] > INT_MAX))
			return (-1);
	}
	if (v[0] > INT_MAX || v[1] > INT_MAX ||
	    v[2] > SHIM_POLICY_SHARED ||
	    strlen(argv[8]) >= sizeof (a->path))
		return (-1);
	a->listenfd = (int)v[0];
	a->rvfd = (int)v[1];
	a->policy = (enum shim_policy)v[2];
	a->uid = (uid_t)v[3];
	a->linger_ms = v[4];
	(void) strcpy(a->path, argv[8]);
	a->boardfd = (int)f[0];
	a->memfd = (int)f[1];
	a->mirrorfd = (int)f[2];
	a->prog = 1;
	a->role = argv[1];
	a->direct = direct;
	if (standby && strcmp(argv[12], "-") != 0) {
		if (strlen(argv[12]) >= sizeof (a->service))
			return (-1);
		(void) strcpy(a->service, argv[12]);
	}
	return (0);
}

int
owner_spawn(const struct owner_args *a)
{
	struct owner_args b = *a;
	pid_t pid, mid;
	int saved = errno;

	b.boardfd = b.memfd = b.mirrorfd = -1;
	if (spawn_prog(&b) == 0)
		return (0);
	if (errno != ENOENT)
		shim_log(LOG_LVL_WARN, "cannot start %s: %s; forking the "
		    "owner instead", OWNER_PROG, strerror(errno));
	errno = saved;
	/*
	 * Double fork: the owner is not our child (nothing of ours to reap,
	 * no zombie if the application never waits), and setsid detaches it
	 * from the terminal, so ^C to the application spares the group.
	 */
	pid = plat_fork(1);
	if (pid < 0)
		return (-1);
	if (pid == 0) {
		(void) setsid();
		mid = plat_fork(0);
		if (mid != 0)
			_exit(mid < 0 ? 1 : 0);
		b.prog = 0;
		owner_run(&b);
	}
	return (reap(pid));
}
