/*
 * execenv.h: the environment a program exec'd with inherited endpoints
 * needs, so that its shim is loaded and finds their group (see exec.c).
 * Pure and async-signal-safe: no allocation, no locks, no stdio; the
 * caller gives the room.
 */
#ifndef SHIM_EXECENV_H
#define SHIM_EXECENV_H

#include <stddef.h>

#define	EXECENV_PRELOAD_MAX	4	/* preload variables a system reads */
#define	EXECENV_VARS_MAX	16	/* REUSEPORT_SHIM_* variables kept */

/* What this process had at startup. */
struct execenv_self {
	/* Our library's file name ("libreuseport_shim.so"); NULL: unknown. */
	const char	*base;
	/* Our entry in a startup preload value ("/x/libreuseport_shim.so"). */
	const char	*elem;
	/* "LD_PRELOAD=..." entries that named us, whole, as at startup. */
	const char	*preload[EXECENV_PRELOAD_MAX];
	size_t		npreload;
	/* The preload variable names this system reads, NULL-terminated. */
	const char *const *names;
	/* "REUSEPORT_SHIM_X=v" entries as at startup. */
	const char	*vars[EXECENV_VARS_MAX];
	size_t		nvars;
};

/*
 * The element of a preload value (space- or colon-separated) whose last
 * path component is base, its length in *len; NULL if none.
 */
const char *execenv_find(const char *value, const char *base, size_t *len);
/* Non-zero if the preload value names base. */
int execenv_names(const char *value, const char *base);

/* Non-zero if envp (NULL: empty) has a preload variable naming base. */
int execenv_has_shim(char *const envp[], const char *const *names,
    const char *base);

/* envp's value of name, or NULL. */
const char *execenv_get(char *const envp[], const char *name);

/*
 * envp with what it lacks of self: each preload variable of self's
 * (the startup value when envp has none, else envp's value with
 * self->elem appended where it does not name us already), the
 * REUSEPORT_SHIM_* variables envp has not, and REUSEPORT_SHIM_DIR=dir when neither has that one (dir NULL: not
 * added).  Into out (outmax pointers, NULL-terminated) and buf for the
 * strings made.  The number of entries added, or -1 if out or buf is
 * too small (nothing is usable then).
 */
int execenv_build(char *const envp[], const struct execenv_self *self,
    const char *dir, char **out, size_t outmax, char *buf, size_t buflen);

/*
 * A member's options live on its shadow (fdtab.h), a hidden socket that
 * is close-on-exec: without it an inherited listener reads its options
 * back as a fresh socket's and accepted sockets lose them (nginx's
 * binary upgrade).  exec keeps the shadows open and names them, paired
 * with their endpoints' fds, in REUSEPORT_SHIM_SHADOWS=fd:shadow[,...].
 * The entry for EXECENV_PAIRS_MAX pairs of numbers below 65536 (the fd
 * table's bitmap, the only fds it lists) fits EXECENV_PAIRS_BYTES.
 */
#define	EXECENV_PAIRS_MAX	128
#define	EXECENV_PAIRS_BYTES	2048

/*
 * The entry "REUSEPORT_SHIM_SHADOWS=fd:shadow,..." of the n pairs
 * (fds[i], shadows[i]), numbers >= 0, into buf: its length, or -1 if it
 * does not fit (buf is not usable then).
 */
int execenv_pairs_format(const int *fds, const int *shadows, size_t n,
    char *buf, size_t len);

/*
 * The pairs of a REUSEPORT_SHIM_SHADOWS value into fds and shadows (max
 * each): how many, or -1 if the value is not exactly that syntax (decimal
 * numbers below 2^31, no sign, no blanks) or has more than max pairs:
 * the value is forged or broken, and none of it is used.
 */
int execenv_pairs_parse(const char *value, int *fds, int *shadows,
    size_t max);

/*
 * envp (NULL: empty) without its entries named name, and entry appended
 * (NULL: none), into out (outmax pointers, NULL-terminated); out may be
 * envp itself.  The number of entries, or -1 if out is too small, in
 * which case out is left as it was.
 */
int execenv_replace(char *const envp[], const char *name, char *entry,
    char **out, size_t outmax);

#endif /* SHIM_EXECENV_H */
