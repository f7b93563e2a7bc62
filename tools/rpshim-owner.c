/*
 * rpshim-owner: a group's owner as a program of its own.  The library
 * starts it (shim/owner.c, owner_spawn) from beside itself with the
 * group's listener and rendezvous socket open; it is not for people to
 * run.  It detaches (a new session, and a fork so that it is nobody's
 * child) and becomes the owner; the exit status tells the library whether
 * that fork happened.
 *
 *   rpshim-owner tcp ADDRESS LISTENFD RVFD POLICY UID LINGER_MS PATH
 */
#include <stdio.h>
#include <unistd.h>

#include "owner.h"

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
	if ((pid = fork()) < 0)
		return (1);
	if (pid > 0)
		_exit(0);
	owner_run(&a);
}
