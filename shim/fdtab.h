/*
 * fdtab.h: which of the process's fds the shim looks after, and what it
 * knows about each.
 *
 * Every wrapped call asks fdtab_maybe() first: one atomic load, no lock,
 * no allocation.  Only fds it answers yes for take the table's lock.
 * Nothing here calls malloc or free, with the lock or without: the
 * wrapped calls are async-signal-safe, and so must the table be (fdtab.c
 * says how its memory comes).
 *
 * The table checks itself, as socket_wrapper's swrap_remove_stale does:
 * an fd can be closed or replaced where no wrapper sees it (a raw system
 * call, the C library's own close inside fclose, another library), and a
 * later socket given that number must not be taken for a member.  Each
 * entry remembers what its fd referred to (fstat: device, inode, type),
 * and fdtab_get() compares before it answers.  On illumos a socket's
 * inode number has only 16 bits, so a replacement there can, now and
 * then, pass for the original.
 */
#ifndef SHIM_FDTAB_H
#define SHIM_FDTAB_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "platform.h"

struct ackmem;

enum sk_state {
	SK_OPT = 0,	/* SO_REUSEPORT recorded, not bound by the shim */
	SK_MEMBER,	/* bound into a group: the fd is its endpoint */
	SK_ENDPOINT,	/* the same, listening */
	SK_DIRECT	/* its fd reads directly: the group's socket itself */
			/* (the shared way), or, UDP dispatched, its own */
			/* queue of datagrams (udp.h) */
};

/*
 * An option the application set that the kernel's accepted sockets
 * inherit from their listener: accept() sets it on each connection, as
 * the application passed it (a read-back value can differ: Linux doubles
 * buffer sizes).
 */
#define	SK_COPY_MAX	24
#define	SK_COPY_BYTES	32	/* a timeval, a linger, a congestion name */
struct sk_copy {
	int		level;
	int		name;
	socklen_t	len;
	unsigned char	val[SK_COPY_BYTES];
};

/*
 * One socket as the application sees it; dup'ed fds share it.  From
 * bind() on, the application's fds refer to the endpoint (a Unix socket
 * connected to the owner), and the kernel socket the application made
 * stays, unbound and never listening, as the shadow: a hidden fd that
 * takes its options (the kernel validates, clamps and reads them back)
 * and answers for it where a listener's answer is the socket's own.
 */
struct shim_sock {
	uint64_t	serial;		/* which sock: records are reused */
	unsigned	refs;		/* fds in the table pointing here */
	enum sk_state	state;
	int		family;
	int		reuseport;	/* the recorded SO_REUSEPORT value */
	int		shadow;		/* hidden kernel socket, or -1 */
	/* UDP (udp.h): hidden too, each -1 where not used. */
	int		ctl;		/* the connection to the owner */
	int		out;		/* the group's socket, for sends */
	int		way;		/* SK_DIRECT: enum shim_policy */
	int		dgram;		/* SK_DIRECT: a UDP socket */
	unsigned	pktinfo;	/* SK_DIRECT: the application asked */
	struct plat_sendopts so;	/* SK_DIRECT: its own, on each send */
	int		shut;		/* shutdown() was called */
	int		tell_idle;	/* leastloaded: say when we wait */
	int		tell_reports;	/* UDP: tell the owner (udp.h) */
	int		tell_rcvbuf;	/* and its buffer */
	int		rcvbuf;		/* UDP: its shadow's SO_RCVBUF */
	int		idle_told;	/* and we said so since the last CONN */
	uint32_t	last_seq;	/* the last CONN this process took */
	uint32_t	slot1;		/* its board slot + 1; 0: none */
	struct ackmem	*ack;		/* the group's ack board, or NULL */
	struct sockaddr_storage addr;	/* the group's address */
	socklen_t	addrlen;
	size_t		ncopy;
	struct sk_copy	copy[SK_COPY_MAX];
};

/* Lock-free: 0 means the shim certainly does not track fd. */
int fdtab_maybe(int fd);

/* Lock-free: 0 means no fd in lo..hi is tracked or hidden. */
int fdtab_any(int lo, int hi);

/* Lock-free, one load: 1 means no fd at all is tracked or hidden. */
int fdtab_none(void);

/*
 * Lock-free, read-only (a vfork child may ask): the lowest fd >= from
 * that may be tracked or hidden, or -1.  Fds beyond 65535 are not
 * listed (see fdtab_any).
 */
int fdtab_next(int from);

/*
 * Lock-free: 0 in a process that must not change the table: a vfork
 * child (it shares its parent's memory, not its fds) or a child forked
 * without the atfork handlers.  Its fd calls go straight to the kernel.
 */
int fdtab_ours(void);

/*
 * The shim's own fds (a member's shadow socket) are hidden: the
 * application never opened them, so its close() of that number, as in a
 * loop closing every fd, gets EBADF instead of silently taking the
 * socket's options away.  Hiding one records what it refers to and which
 * process made it.  Both with the lock held.
 */
void fdtab_hide(int fd, int on);
int fdtab_hidden(int fd);
/*
 * fdtab_hide(fd, 1) after moving fd away from the low numbers that the
 * application uses and expects (dup2 onto a fixed number, a daemon's
 * fd loop): the number now in use, fd itself if it could not be moved.
 */
int fdtab_hide_away(int fd);
/*
 * The application's dup2 (dup3, F_DUP2FD...) is about to land on hidden
 * fd: copy it away, the sock that uses it following.  The new number, or
 * -1 (nothing changed).  The copy left at fd is no longer hidden.
 */
int fdtab_hidden_move(int fd);
/* The hidden fd is about to go: its sock no longer has it. */
void fdtab_hidden_drop(int fd);
/*
 * The lowest hidden fd in lo..hi that this process made, or -1: the ones
 * closefrom and close_range leave open.
 */
int fdtab_hidden_next(int lo, int hi);

/* The table lock; signals are blocked while it is held. */
void fdtab_lock(sigset_t *saved);
void fdtab_unlock(const sigset_t *saved);
/*
 * A direct member's sock changed what its data calls need (pktinfo,
 * shut), with the lock held: published again at unlock (fdfast.h).
 * Entries and hidden fds coming and going are noted by the table itself.
 */
void fdtab_changed(void);

/*
 * With the lock held.  fdtab_get: the sock fd refers to, or NULL; an
 * entry whose fd no longer refers to what it did is forgotten (as
 * fdtab_forget) and NULL returned, and a member whose shadow was
 * replaced loses it (shadow -1: a new one is made when next needed).
 * It keeps errno.
 */
struct shim_sock *fdtab_get(int fd);
/*
 * Point fd at sk (refs + 1); an entry fd had is dropped first.  0, or -1
 * with errno ENOMEM (no memory for the entry) or EBADF (fd < 0).
 * The entry takes what fd refers to now; a number that is not open (the
 * unit tests' fakes) is not checked later.
 */
int fdtab_put(int fd, struct shim_sock *sk);
/*
 * fd's sock, or a new one of family put in place if it has none (the
 * application never set the option: a forced port); NULL with errno
 * ENOMEM.
 */
struct shim_sock *fdtab_get_or_new(int fd, int family);
/* Forget fd; returns its sock if fd was its last reference, else NULL. */
struct shim_sock *fdtab_del(int fd);
/*
 * Forget fd, which the application closed or is closing: a sock left
 * without fds is freed, and its shadow closed.
 */
void fdtab_forget(int fd);
/*
 * closefrom/close_range of lo..hi: forget every fd there, and drop the
 * hidden ones there that another process made (a forked child closes
 * its copies: keeping them would hold its parent's connections open).
 */
void fdtab_forget_range(int lo, int hi);
/* The fds pointing at sk, up to max; returns how many there are. */
size_t fdtab_fds_of(const struct shim_sock *sk, int *fds, size_t max);
/* sk's fds were made to refer to another file: their entries follow. */
void fdtab_reident(const struct shim_sock *sk);
/*
 * Make every fd of sk refer to file (dup2), each keeping its fd flags,
 * and their entries follow: the fd numbers stay, so an epoll or event
 * port registration made on them keeps working.  Up to FDTAB_BECOME_MAX
 * fds (the rest are left, with a warning).  With the lock held.
 */
#define	FDTAB_BECOME_MAX	64
void fdtab_become(const struct shim_sock *sk, int file);

/*
 * A sock from the pool (no malloc: see fdtab.c), zeroed but for family,
 * shadow, ctl and out -1 and a serial no other sock of this process has
 * had; NULL with errno ENOMEM.  sock_free puts it back (its board
 * released); the next sock_new may hand out the same address, never the
 * same serial.  Either with or without the table lock.
 */
struct shim_sock *sock_new(int family);
void sock_free(struct shim_sock *sk);

/* fork: the table lock is taken before and released in both after. */
void fdtab_atfork_prepare(void);
void fdtab_atfork_parent(void);
void fdtab_atfork_child(void);

#endif /* SHIM_FDTAB_H */
