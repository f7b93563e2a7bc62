/*
 * rpshim-owner: a group's owner as a program of its own.  The library
 * starts it (shim/owner.c, owner_spawn) from beside itself with the
 * group's listener and rendezvous socket open; it is not for people to
 * run.  It detaches (a new session, and a fork so that it is nobody's
 * child) and becomes the owner; the exit status tells the library whether
 * that fork happened.
 *
 *   rpshim-owner tcp ADDRESS LISTENFD RVFD POLICY UID LINGER_MS PATH
 *
 * An owner starts its standby (shim/standby.h) the same way:
 *
 *   rpshim-owner standby ADDRESS LISTENFD RVFD POLICY UID LINGER_MS PATH
 *       BOARDFD MEMFD MIRRORFD SERVICE
 */
#include <stdio.h>
#include <unistd.h>

#include "owner.h"
#include "standby.h"

int
main(int argc, char **argv)
{
	struct owner_args a;
	pid_t pid;

	if (owner_args_parse(&a, argc, argv) != 0) {
		(void) fprintf(stderr, "usage: %s tcp ADDRESS LISTENFD RVFD "
		    "POLICY UID LINGER_MS PATH\n(started by "
		    "libreuseport_shim.so, not by hand)\n", OWNER_PROG);
		return (2);
	}
	(void) setsid();
	/* A standby stays its owner's child: the owner knows its pid. */
	if (a.mirrorfd >= 0 && a.direct)
		udp_standby_run(&a);
	if (a.mirrorfd >= 0)
		standby_run(&a);
	if ((pid = fork()) < 0)
		return (1);
	if (pid > 0)
		_exit(0);
	owner_run(&a);
}
