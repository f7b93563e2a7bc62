/*
 * ackmem.h: acknowledgements through memory shared by the owner and its
 * members (the ack board).
 *
 * The owner keeps its own reference to every connection it sends until
 * the member has taken it (DESIGN: nothing lost).  Saying so with an ACK
 * record cost a sendmsg in the member and a wakeup of the owner per
 * connection (bench/PROFILE.md: 0.71 of the kernel's connection rate
 * with records, 0.78 with no acks at all, which would lose connections;
 * the board measured +2.6% over records).  Instead the member writes the
 * sequence number of the last record it took into its endpoint's slot and
 * marks the slot dirty; the owner reads dirty slots whenever it runs.
 * It must still let go promptly (while it holds a connection, the
 * application's close() sends no FIN), so before sleeping with
 * connections outstanding it raises a flag, and the first member to ack
 * while the flag is up clears it and sends an ACK record to wake it.
 *
 * A member without a board (after exec, a build that does not ask for
 * one, or if mapping failed) sends an ACK record for every connection, as
 * before; the owner takes both.
 */
#ifndef SHIM_ACKMEM_H
#define SHIM_ACKMEM_H

#include <stddef.h>
#include <stdint.h>

/* Slots on a board: endpoint slots of the owner beyond it send records. */
#define	ACKMEM_SLOTS	4096

/* The owner's side. */
struct ackmem_board;

/* A new board and an fd for it to pass to members; NULL if none. */
struct ackmem_board *ackmem_create(int *fd);
/* Slot i starts over for a new endpoint: nothing up to seq is its. */
void ackmem_reset(struct ackmem_board *b, size_t i, uint32_t seq);
/* Slot i back to seq if it still reads bad; 0 if it did. */
int ackmem_repair(struct ackmem_board *b, size_t i, uint32_t bad,
    uint32_t seq);
/* Slot i's handler time starts over (a new endpoint). */
void ackmem_clear_busy(struct ackmem_board *b, size_t i);
/*
 * Slot i's endpoint is gone: its last word, and the slot set to seq.  The
 * slot is marked retired first, so that a member whose ack comes too late
 * to be in that last word learns so (ACKMEM_RETIRED) instead of taking
 * the connection for its own: the owner hands such connections on.
 */
uint32_t ackmem_retire(struct ackmem_board *b, size_t i, uint32_t seq);
/* A slot's idle word before its member says anything. */
#define	ACKMEM_IDLE_NONE	UINT32_MAX

/* What a marked slot says. */
struct ackmem_mark {
	uint32_t	seq;	/* taken, everything up to it */
	uint32_t	busy;	/* as ackmem_busy() left it */
	uint32_t	idle;	/* its application waits, having taken this */
};
/*
 * Slots below n marked since the last call: fn(arg, i, mark) for each.
 * Returns how many there were.
 */
size_t ackmem_collect(struct ackmem_board *b, size_t n,
    void (*fn)(void *arg, size_t i, const struct ackmem_mark *mk), void *arg);
/* The process that acked last on slot i (0: none yet), for stat. */
int ackmem_pid(const struct ackmem_board *b, size_t i);
/* Raise (1) or lower (0) the flag: the owner is about to sleep. */
void ackmem_sleeping(struct ackmem_board *b, int on);

/* This process's pid, cheaply (records carry it too). */
int ackmem_self(void);

/* A member's side: its process's mapping of one endpoint's board. */
struct ackmem;

/* Map the board that came with WELCOME for slot i; NULL: use records. */
struct ackmem *ackmem_attach(int fd, uint32_t i);
/* Which mapping this is in this process (not 0). */
uint32_t ackmem_gen(const struct ackmem *m);
/* References: one per shim_sock, one per accept() in progress. */
void ackmem_hold(struct ackmem *m);
void ackmem_release(struct ackmem *m);
/* What ackmem_ack did, and what is left to do. */
enum ackmem_said {
	/* On the board: nothing more. */
	ACKMEM_ACKED = 0,
	/*
	 * On the board, and the owner sleeps: send an ACK record to wake
	 * it.  The connection is ours whatever becomes of that record.
	 */
	ACKMEM_WAKE,
	/*
	 * Not on the board (the board is off for this endpoint, or an
	 * earlier connection is still another process's to acknowledge):
	 * the ACK record is the acknowledgement.
	 */
	ACKMEM_RECORD,
	/*
	 * Not on the board, and the owner retired the slot before it
	 * could be: it has let go of the connection.  If the endpoint is
	 * gone from this process (closed under the accept), it handed the
	 * connection on: not ours.  If this process still holds it, the
	 * owner ejected it (its queue stays its own) or the slot was
	 * written by someone else: an ACK record, and the connection is
	 * ours (accept.c).
	 */
	ACKMEM_RETIRED
};

/*
 * Connection seq was taken; prev is the CONN the owner sent this endpoint
 * just before it (CONN's arg), which the slot reads if every earlier one
 * was taken.  An enum ackmem_said.
 */
int ackmem_ack(struct ackmem *m, uint32_t prev, uint32_t seq);
/*
 * This endpoint's application came back for a connection us microseconds
 * after it took the last one: how long it keeps away, averaged.
 */
void ackmem_busy(struct ackmem *m, uint64_t us);
/*
 * leastloaded: a thread of this endpoint's application is about to wait
 * for a connection (ackmem_waited when it stops).  It says so on the
 * board, which the owner reads as it chooses where the next connection
 * goes: no record, no wakeup (the owner never holds a connection back
 * for an idle endpoint, so it learns in time).  -1: not on this board
 * (an older owner's, or ackmem_off): send an IDLE record instead.
 */
int ackmem_wait(struct ackmem *m);
/* Whether ackmem_wait can say so on this board (it may stop, see off). */
int ackmem_idle_ok(const struct ackmem *m);
void ackmem_waited(struct ackmem *m);
/* The latest connection taken on this endpoint in this process (0: none). */
uint32_t ackmem_last(const struct ackmem *m);
/* The wake record could not be sent: put the flag back for the next. */
void ackmem_rewake(struct ackmem *m);
/*
 * A record was taken off the stream and lost (its fd truncated away):
 * "everything up to" would hide the gap, so exact ACK records from now on.
 */
void ackmem_off(struct ackmem *m);

/*
 * The board fd's board, made by an owner that died, for the standby that
 * takes over; NULL if it is not one.  And what slot i reads now.
 */
struct ackmem_board *ackmem_adopt(int fd);
uint32_t ackmem_read(const struct ackmem_board *b, size_t i);

#endif /* SHIM_ACKMEM_H */
