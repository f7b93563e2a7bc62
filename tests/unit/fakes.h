/*
 * fakes.h: what several unit tests share: a table-driven getenv, a
 * recording stand-in for the real setsockopt/getsockopt, an fd counter
 * and temporary directories that are removed again.
 */
#ifndef UNIT_FAKES_H
#define UNIT_FAKES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* --- environment --------------------------------------------------- */

struct fake_env {
	const char	*name;
	const char	*value;
};

/* Make fake_getenv answer from tab (n entries) until the next call. */
void fake_env_set(const struct fake_env *tab, size_t n);
/* A config_getenv_fn: the table's value, or NULL as getenv would. */
const char *fake_getenv(const char *name);

/* --- socket option calls ------------------------------------------- */

#define	FAKE_MAX_CALLS	64

struct fake_call {
	int	fd;
	int	level;
	int	name;
	int	value;		/* setsockopt: the int passed, if any */
	socklen_t len;
};

struct fake_sockopt {
	/* setsockopt: SO_REUSEPORT fails with this errno when non-zero. */
	int		reuseport_errno;
	size_t		nset;
	struct fake_call set[FAKE_MAX_CALLS];
	size_t		nget;
	struct fake_call get[FAKE_MAX_CALLS];
	/* Where calls the fakes don't answer themselves go. */
	int		(*next_set)(int, int, int, const void *, socklen_t);
	int		(*next_get)(int, int, int, void *, socklen_t *);
};

extern struct fake_sockopt fake_so;

/*
 * Reset the record and remember where to pass calls on to (the real
 * functions, so that a socket still answers SO_TYPE and the like).
 */
void fake_sockopt_reset(
    int (*next_set)(int, int, int, const void *, socklen_t),
    int (*next_get)(int, int, int, void *, socklen_t *));

/*
 * Record every call; SO_REUSEPORT succeeds or fails as configured
 * without reaching the kernel, so the test decides what "the kernel"
 * supports; anything else goes to next_*.
 */
int fake_setsockopt(int fd, int level, int name, const void *val,
    socklen_t len);
int fake_getsockopt(int fd, int level, int name, void *val, socklen_t *len);

/* How many recorded calls named (level, name). */
size_t fake_count_set(int level, int name);
size_t fake_count_get(int level, int name);

/* --- processes and files ------------------------------------------- */

/* Open fds of this process, or -1 where /proc/self/fd does not exist. */
int fake_count_fds(void);

/* mkdtemp under /tmp into out; 0 or -1. */
int fake_mkdtemp(char *out, size_t len);
/* Remove dir and everything under it (without following symlinks). */
void fake_rmtree(const char *dir);

/*
 * An owner's CONN on own (seq, after prev), carrying one end of a new
 * socket pair for the connection: the other end (its "client"), or -1.
 * Ours is closed: only the copy in flight is left.
 */
int fake_conn(int own, uint32_t prev, uint32_t seq);

/* A small deterministic PRNG (xorshift32), so failures are reproducible. */
uint32_t fake_rand(uint32_t *state);

#endif /* UNIT_FAKES_H */
