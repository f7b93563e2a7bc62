/*
 * fdtab.h: which of the process's fds the shim looks after, and what it
 * knows about each.
 *
 * Every wrapped call asks fdtab_maybe() first: one atomic load, no lock,
 * no allocation.  Only fds it answers yes for take the table's lock.
 */
#ifndef SHIM_FDTAB_H
#define SHIM_FDTAB_H

#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include "platform.h"

struct ackmem;

enum sk_state {
	SK_OPT = 0,	/* SO_REUSEPORT recorded, not bound by the shim */
	SK_MEMBER,	/* bound into a group; ctlfd connects to the owner */
	SK_ENDPOINT	/* listening: the fd itself is the owner connection */
};

/* A stored listener option (see plat_listener_opts()). */
struct sk_opt {
	int32_t	value;
	int	set;		/* value known */
};

/* One socket as the application sees it; dup'ed fds share it. */
struct shim_sock {
	unsigned	refs;		/* fds in the table pointing here */
	enum sk_state	state;
	int		family;
	int		reuseport;	/* the recorded SO_REUSEPORT value */
	int		ctlfd;		/* SK_MEMBER: hidden owner connection */
	int		shut;		/* shutdown() was called */
	int		tell_idle;	/* leastloaded: say when we wait */
	int		idle_told;	/* and we said so since the last CONN */
	uint32_t	last_seq;	/* the last CONN taken by this process */
	struct ackmem	*ack;		/* the group's ack board, or NULL */
	struct sockaddr_storage addr;	/* the group's address */
	socklen_t	addrlen;
	/* Listener options, read at listen() or set since. */
	struct sk_opt	opts[PLAT_OPT_MAX];
	/* The owner's listener's values: accepted sockets start with them. */
	struct sk_opt	lopts[PLAT_OPT_MAX];
};

/* Lock-free: 0 means the shim certainly does not track fd. */
int fdtab_maybe(int fd);

/*
 * The shim's own fds (a member's connection to its owner, between bind
 * and listen) are hidden: the application never opened them, so its
 * close() of that number, as in a loop closing every fd, gets EBADF
 * instead of silently taking the socket out of its group.
 */
void fdtab_hide(int fd, int on);
int fdtab_hidden(int fd);

/* The table lock; signals are blocked while it is held. */
void fdtab_lock(sigset_t *saved);
void fdtab_unlock(const sigset_t *saved);

/* With the lock held. */
struct shim_sock *fdtab_get(int fd);
/* Point fd at sk (refs + 1); an entry fd had is dropped first.  0 or -1. */
int fdtab_put(int fd, struct shim_sock *sk);
/* Forget fd; returns its sock if fd was its last reference, else NULL. */
struct shim_sock *fdtab_del(int fd);
/* The fds pointing at sk, up to max; returns how many there are. */
size_t fdtab_fds_of(const struct shim_sock *sk, int *fds, size_t max);

struct shim_sock *sock_new(int family);
void sock_free(struct shim_sock *sk);

/* fork: the table lock is taken before and released in both after. */
void fdtab_atfork_prepare(void);
void fdtab_atfork_parent(void);
void fdtab_atfork_child(void);

#endif /* SHIM_FDTAB_H */
