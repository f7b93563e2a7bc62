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
	int		udp;		/* a UDP group's (udpowner.c) */
	int		direct;		/* a udpowner.c group's standby */
	int		rvfd;		/* the rendezvous socket, listening */
	char		path[RV_PATH_MAX];	/* where rvfd is named */
	enum shim_policy policy;
	uid_t		uid;		/* the only uid that may join */
	long		linger_ms;	/* kept after the last member */
	/* A standby's (standby.h); -1 for an owner. */
	int		boardfd;	/* the ack board */
	int		memfd;		/* what the owner shares with it */
	int		mirrorfd;	/* its end of the owner's mirror */
	int		prog;		/* running as OWNER_PROG, not a fork */
	char		*role;		/* its argv[1], or NULL */
	/* The service a standby runs in (plat_service_of); "" the owner's. */
	char		service[256];
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
 * Start a's standby (a->mirrorfd set): OWNER_PROG, the program this
 * process runs, as our child (*pid); 0, or -1 (ENOENT: a forked owner
 * has none).
 */
int standby_spawn(const struct owner_args *a, pid_t *pid);

/*
 * OWNER_PROG's arguments into a; -1 if any is malformed.  An owner:
 *   tcp ADDRESS LISTENFD RVFD POLICY UID LINGER_MS PATH
 * a UDP group's (its socket for LISTENFD):
 *   udp ADDRESS SOCKFD RVFD POLICY UID LINGER_MS PATH
 * a standby: the same after "standby", then BOARDFD MEMFD MIRRORFD
 * SERVICE ("-": the owner's); a standby of a udpowner.c group (UDP, or
 * TCP shared) is "udpstandby", BOARDFD and MEMFD -1.
 */
int owner_args_parse(struct owner_args *a, int argc, char **argv);
/* Be the owner; never returns. */
_Noreturn void owner_run(const struct owner_args *a);
/* owner_run's, for a UDP group, its fds in place (udpowner.c). */
_Noreturn void udp_owner_run(const struct owner_args *a, int sfd, int rvfd);
/* rpshim-owner udpstandby ...: wait on the owner; never returns. */
_Noreturn void udp_standby_run(const struct owner_args *a);
/* A member of a udpowner.c group as its standby takes it over. */
struct udp_member {
	size_t		slot;
	int		ctl;		/* the owner's side of its connection */
	int		dfd;		/* its queue's owner end, or -1 */
	long		pid;
	int		files;		/* HELLO_TAKES_FILE */
	int		rcvbuf;		/* its receive buffer; 0: not told */
	int		wants;		/* its reports; -1: not known */
};
/*
 * Be the owner in place of one that died (udpstandby.c), the group's
 * takeover before + 1; never returns.
 */
_Noreturn void udp_owner_takeover(const struct owner_args *a,
    const struct udp_member *m, size_t n, uint32_t before);
/*
 * Deaf to what operators send a daemon's processes, the application's
 * handlers gone: an owner's and a standby's signals.
 */
void owner_signals(void);
/*
 * The next process joining at the rendezvous rvfd, of user uid (others
 * refused, logged), close-on-exec and non-blocking; or -1 with errno:
 * EAGAIN, none waits; EMFILE or ENFILE (logged), out of fds: stop
 * watching rvfd for a while, else the pending joiner wakes us forever.
 */
int owner_next_joiner(int rvfd, uid_t uid);

struct standby_member;
struct standby_mem;
/*
 * Be the owner in place of one that died (standby.c): its n members,
 * mem and board as it left them.  Never returns.
 */
_Noreturn void owner_takeover(const struct owner_args *a,
    const struct standby_member *m, size_t n, struct standby_mem *mem);

#endif /* SHIM_OWNER_H */
