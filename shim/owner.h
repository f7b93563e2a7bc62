/*
 * owner.h: the process that holds a group's real listener.
 *
 * It is forked from the group's first bind (no exec: chroots and missing
 * install paths don't matter), detaches, and then only ever runs the loop
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

/*
 * Start the owner.  The caller keeps its copies of the fds and closes
 * them.  0, or -1 if no process could be made.
 */
int owner_spawn(const struct owner_args *a);

#endif /* SHIM_OWNER_H */
