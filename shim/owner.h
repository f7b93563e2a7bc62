/*
 * owner.h: the process that holds a group's real listener.
 *
 * The group's first bind starts it as a program of its own (OWNER_PROG,
 * beside the library), or forks it where that program is missing (a
 * chroot, a library copied alone); it detaches, and then only runs the loop
 * in owner.c: it accepts connections and hands each to an endpoint, keeps
 * its own reference until the endpoint acknowledges it, and exits when
 * the group's last member is gone, which frees the port.
 */
#ifndef SHIM_OWNER_H
#define SHIM_OWNER_H

#include <sys/types.h>

#include "config.h"
#include "rendezvous.h"

struct owner_args {
	int		listenfd;	/* the group's bound socket */
	int		rvfd;		/* the rendezvous socket, listening */
	char		path[RV_PATH_MAX];	/* where rvfd is named */
	enum shim_policy policy;
	uid_t		uid;		/* the only uid that may join */
	long		linger_ms;	/* kept this long after the last member */
};

/* The owner's program, installed beside the library. */
#define	OWNER_PROG	"rpshim-owner"

/*
 * Start the owner: OWNER_PROG if it is there, else a fork of the caller.
 * The caller keeps its copies of the fds and closes them.  0, or -1 if
 * no process could be made.
 */
int owner_spawn(const struct owner_args *a);

/*
 * OWNER_PROG's arguments (tcp ADDRESS LISTENFD RVFD POLICY UID LINGER_MS
 * PATH, as owner_spawn writes them) into a; -1 if any is malformed.
 */
int owner_args_parse(struct owner_args *a, int argc, char **argv);
/* Be the owner; never returns. */
_Noreturn void owner_run(const struct owner_args *a);

#endif /* SHIM_OWNER_H */
