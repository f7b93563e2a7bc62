/*
 * fdfast.h: the fds of direct members (SK_DIRECT: UDP members, and TCP
 * members of the shared way), readable without the table's lock.
 *
 * A UDP member's data calls are a server's hottest path (and accept() a
 * shared TCP member's), and the table's way (a lock that blocks
 * signals, an fstat of every fd the sock keeps, getpid) costs more
 * system calls than the call itself.  So the table publishes, after each
 * change made under its lock, what those calls need of each such fd;
 * readers take it lock-free, each entry under a sequence count, and
 * check only that the fd still refers to what it did (one fstat, and
 * none for the shared way, whose calls go to the fd itself either way).
 * A process with more such fds than FDFAST_MAX has the rest on the slow
 * path.  exec reads it too (exec.c, survivor): it may run in a vfork
 * child or a signal handler, where the table's lock must not be taken,
 * and must tell whether a member survives.
 */
#ifndef SHIM_FDFAST_H
#define SHIM_FDFAST_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"

#define	FDFAST_MAX	64

#define	FDFAST_SHARED	0x1U	/* the shared way: the fd is the socket */
#define	FDFAST_SHUT_WR	0x2U	/* shut down for sending */
#define	FDFAST_STREAM	0x4U	/* TCP (shared): the C library's calls */
#define	FDFAST_PKT_SHIFT	4	/* PLAT_PKT_* above this */

struct fdfast_ent {
	int		fd;
	int		out;		/* the group's socket, for sends */
	int		ctl;		/* the connection to the owner */
	unsigned	flags;
	uint64_t	dev;		/* what fd refers to (fstat) */
	uint64_t	ino;
	struct plat_sendopts so;	/* the member's own, on each send */
};

/*
 * The writer, serialized by the caller (the table's lock): these n (at
 * most FDFAST_MAX) are the UDP member fds now.
 */
void fdfast_publish(const struct fdfast_ent *v, size_t n);
/* How many are published (the writer's view). */
size_t fdfast_count(void);
/*
 * Lock-free: fd's entry, checked against fstat unless shared: 1, or 0
 * (not published, or stale: ask the table).
 */
int fdfast_get(int fd, struct fdfast_ent *e);

#endif /* SHIM_FDFAST_H */
