/*
 * standby.h: an owner's standby, so that killing the owner (kill -9, the
 * OOM killer) does not end its group.
 *
 * What keeps a group alive is open files, not the owner process: the
 * listener (and the connections in its queue), the rendezvous socket
 * (joiners in its backlog), the ack board, and the owner's side of each
 * member's endpoint.  The standby, the same program, started by the
 * owner, holds copies of them all, passed as members join, and sleeps on
 * a socket pair to the owner.  The owner tells it of each join, listen
 * and end (MIRROR records) before it answers the member, and writes the
 * last CONN it sent each endpoint into memory they share (one store per
 * connection).  When the owner dies, the pair reads end of stream with no
 * FINISH before it: the standby becomes the owner (owner_takeover) with
 * everything as the dead one left it, and starts a standby of its own.
 * Members notice nothing; the listener never closes.
 *
 * Lost: the connections the dead owner had accepted and not yet sent (it
 * publishes how many; the new owner logs it), and, later, those it had
 * sent a member that then dies without taking them (only the dead owner
 * had copies to hand on).  A stopped owner is not dead: nothing happens.
 *
 * stat's counts go on.  Which member a connection went to is known only
 * in the owner, one connection at a time (the sequence numbers on the
 * board and here are the group's, one series for all members: no count
 * can be read off them), so the owner keeps each endpoint's count in the
 * shared memory, stored as its last CONN is, before the CONN is sent: a
 * store to memory only it writes, no record.  The count is what the
 * endpoint kept of what it was handed (gcore's ops->handed), which an
 * ack does not change: so the CONNs the dead owner had in flight count
 * from the takeover on, not as the member takes them (the new owner
 * cannot match those acks to CONNs), and if the member dies without
 * taking them they stay in the group's total (they are lost).  Also one
 * too many: a CONN whose count was stored when the kill came before its
 * send (it is lost, held unsent).  Exact otherwise.  What members that
 * left had taken changes only as one leaves: the mirror records carry
 * it (a standby keeps the last), which a kill cannot tear.
 *
 * No record is cut in half by the death: each is one send of its own,
 * queued whole or not at all, and the owner reads whole records (its
 * buffer holds a whole number of them).  A member's stream the new owner
 * cannot parse is closed as any broken member's is (GCORE_EJECT).
 */
#ifndef SHIM_STANDBY_H
#define SHIM_STANDBY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "owner.h"
#include "proto.h"

/* MIRROR records: arg is one of these, seq the endpoint's slot. */
enum standby_event {
	SB_JOIN = 1,	/* with the owner's side of the endpoint */
	SB_LISTEN,
	SB_UNLISTEN,
	SB_END,
	SB_FINISH,	/* the group ends: let go of everything and exit */
	SB_QUEUE,	/* UDP, dispatched: with our end of a member's queue */
	SB_COUNT,	/* a TCP standby's first: only the departed count */
	SB_OPTS		/* a member's buffer and reports changed (UDP), */
			/* its backlog, or the listener's (TCP) */
};

/*
 * A TCP owner's records: opts[2], opts[3] its gcore's departed, low
 * first; opts[4] the endpoint's listen backlog (SB_JOIN, SB_LISTEN: 0
 * unknown), opts[5] the listener's now (0 unknown).  An earlier build's
 * records stop at SB_NOPTS.
 */
#define	SB_O_DEPARTED	2
#define	SB_NOPTS	4
#define	SB_O_BACKLOG	4
#define	SB_O_LBACKLOG	5
#define	SB_NOPTS_TCP	6
/*
 * A UDP owner's SB_JOIN and SB_OPTS: the member's receive buffer (0: not
 * told) and the reports it asks for (PLAT_PKT_REPORTS), which a standby
 * taking over needs (what it holds for a member, what the socket gives),
 * and how many takeovers the group has had (for stat).
 */
#define	SB_O_RCVBUF	2
#define	SB_O_WANTS	3
#define	SB_O_TAKEOVERS	4
#define	SB_NOPTS_UDP	5

/* SB_JOIN's flags (opts[1]; opts[0] is the member's pid). */
#define	SB_F_LISTENING	0x1
#define	SB_F_BOARD	0x2
#define	SB_F_FILES	0x4	/* UDP: takes payloads in files */

/* A member as the standby takes it over. */
struct standby_member {
	size_t		slot;
	int		fd;
	long		pid;
	int		listening;
	int		board;
	int		backlog;	/* its listen()'s; 0: not known */
};

struct standby_mem;

/* The owner's: made once, shared with every standby it starts. */
struct standby_mem *standby_mem_create(int *fd);
struct standby_mem *standby_mem_attach(int fd);
/* CONN seq goes to endpoint slot now: stored before it is sent. */
void standby_mem_sent(struct standby_mem *m, size_t slot, uint32_t seq);
/* It did not go: slot's last CONN is back to was (seq stays). */
void standby_mem_unsent(struct standby_mem *m, size_t slot, uint32_t was);
/* Connections the owner accepted and holds unsent. */
void standby_mem_inhand(struct standby_mem *m, uint32_t n);
/* Endpoint slot's count now (gcore's ops->handed). */
void standby_mem_handed(struct standby_mem *m, size_t slot, uint64_t n);

uint32_t standby_mem_seq(const struct standby_mem *m);
uint32_t standby_mem_slot_sent(const struct standby_mem *m, size_t slot);
uint32_t standby_mem_held(const struct standby_mem *m);
/* 0 where an owner of an older build made the memory: no counts there. */
uint64_t standby_mem_slot_handed(const struct standby_mem *m, size_t slot);
/*
 * The departed count the mirror said last: the standby's own, kept with
 * its view of the memory for the takeover.
 */
void standby_mem_set_departed(struct standby_mem *m, uint64_t n);
uint64_t standby_mem_departed(const struct standby_mem *m);
/* The listener's backlog as the mirror said last; 0 if it never did. */
void standby_mem_set_backlog(struct standby_mem *m, int n);
int standby_mem_backlog(const struct standby_mem *m);
uint32_t standby_mem_takeovers(const struct standby_mem *m);
/* One more takeover, by this process; how many so far. */
uint32_t standby_mem_took_over(struct standby_mem *m);

/*
 * Owner: start a standby for a (its listener, rendezvous, path...), with
 * the board and memory fds, and wait until it is up; *fd is the owner's
 * end of the mirror (sends wait up to a second), *pid the standby, our
 * child.  0, or -1 (no standby is left running).
 */
int standby_start(const struct owner_args *a, int boardfd, int memfd,
    int *fd, pid_t *pid);
/*
 * Owner: end standby pid (SIGKILL; it must never take over from a live
 * owner) and reap it; fd, the mirror, is closed after.
 */
void standby_kill(pid_t pid, int fd);
/* Owner: one MIRROR record (epfd: the endpoint, for SB_JOIN).  0 or -1. */
int standby_tell(int fd, enum standby_event ev, size_t slot, long pid,
    int flags, int epfd);
/*
 * A TCP owner's: the same, with its departed count (SB_O_DEPARTED), the
 * endpoint's backlog and the listener's (SB_O_BACKLOG, SB_O_LBACKLOG).
 */
int standby_tell_tcp(int fd, enum standby_event ev, size_t slot, long pid,
    int flags, int epfd, uint64_t departed, int backlog, int lbacklog);
/* A UDP owner's: the same, with SB_O_RCVBUF, _WANTS and _TAKEOVERS. */
int standby_tell_udp(int fd, enum standby_event ev, size_t slot, long pid,
    int flags, int epfd, int rcvbuf, unsigned wants, uint32_t takeovers);
/*
 * Owner, ending the group: FINISH, and wait (up to a second) until the
 * standby let go of the listener, so that the port is free when we are
 * gone; then it is killed and reaped all the same (one that missed the
 * FINISH would take the ended group over).  fd is closed.
 */
void standby_finish(int fd, pid_t pid);

/*
 * Standby: the next MIRROR record from the owner on mirrorfd, for a slot
 * below nslots (*fd its fd, close-on-exec, or -1; records for no slot
 * are skipped): 1.  0: the owner is gone (end of stream: its end closes
 * only as it exits).  -1 (logged): a record that could not be read; the
 * owner lives, and two owners must never be: the standby leaves.
 */
int standby_next(int mirrorfd, size_t nslots, struct proto_rec *r,
    int *fd);

/*
 * Standby, TCP's or a udpowner.c group's, first thing: its log name,
 * signals and process name, and the fds it was started with (a's that
 * are not -1) close-on-exec.
 */
void standby_begin(const struct owner_args *a);
/* Standby holding its copies: tell the owner on mirrorfd; else exit. */
void standby_say_up(int mirrorfd);

/* rpshim-owner standby ...: wait on the owner; never returns. */
_Noreturn void standby_run(const struct owner_args *a);

#endif /* SHIM_STANDBY_H */
