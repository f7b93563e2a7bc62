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

/*
 * A preload variable that named us at startup.  ld.so.1 reads
 * LD_PRELOAD_64 for a 64-bit program and LD_PRELOAD_32 for a 32-bit
 * one, and LD_PRELOAD only where that one is unset (a suffixed variable
 * overrides the generic one, even empty: the Linker and Libraries
 * Guide, "Environment Variables").  name is the variable read for one
 * class of programs, fallback the one read in its place (NULL where
 * there is none: glibc's LD_PRELOAD).  entry is whichever of the two
 * was in effect, "NAME=value" whole, and elem our own element of its
 * value (one path of a list: the library of that class).
 */
struct execenv_pre {
	const char	*name;
	const char	*fallback;
	const char	*entry;
	const char	*elem;
};

/* What this process had at startup. */
struct execenv_self {
	/* Our library's file name ("libreuseport_shim.so"); NULL: unknown. */
	const char	*base;
	/* Each class's preload variable whose value named us. */
	struct execenv_pre pre[EXECENV_PRELOAD_MAX];
	size_t		npre;
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

/* envp's value of name (envp NULL: empty), or NULL. */
const char *execenv_get(char *const envp[], const char *name);

/*
 * Of the preload variables names (NULL-terminated): the one name falls
 * back on (name less a "_32" or "_64" suffix, if names has it), or NULL.
 */
const char *execenv_fallback(const char *const *names, const char *name);

/*
 * The preload value the run-time linker takes for name in envp: name's,
 * else fallback's (NULL: none), else NULL; *entry (if not NULL) is the
 * whole "NAME=value" it came from.
 */
const char *execenv_effective(char *const envp[], const char *name,
    const char *fallback, const char **entry);

/*
 * self->pre from envp, a startup environment: for each class of
 * program (names, the preload variables the run-time linker reads,
 * NULL-terminated; one that others fall back on is no class of its own),
 * the variable in effect if its value names self->base, and our element
 * of it, copied into buf (len bytes), *used the bytes of it taken.  0,
 * or -1 if some did not fit (self->pre then has those that did).
 */
int execenv_self_pre(struct execenv_self *self, const char *const *names,
    char *const envp[], char *buf, size_t len, size_t *used);

/*
 * Non-zero if envp (NULL: empty) still names base in every class's
 * preload variable that named it at startup (self->pre).
 */
int execenv_has_shim(char *const envp[], const struct execenv_self *self);

/*
 * envp with what it lacks of self, into out (outmax pointers,
 * NULL-terminated) and buf for the strings made.  For each class of
 * self->pre whose preload value in effect in envp does not name us: our
 * element appended to the variable in effect (theirs first: a
 * sanitizer's runtime must stay ahead) if that is the class's own or the
 * one in effect at startup; if only the fallback is set and the class
 * had its own, the fallback's value and our element under the class's
 * name (which overrides it, and leaves the other class alone); if
 * neither is set, the startup entry whole (a sanitizer's runtime ahead
 * of us comes back with it).  Then the REUSEPORT_SHIM_*
 * variables envp has not, and REUSEPORT_SHIM_DIR=dir when neither has
 * that one (dir NULL: not added).  The number of entries added or
 * changed, of which *npre (if not NULL) preload variables, or -1 if out
 * or buf is too small (nothing is usable then).
 */
int execenv_build(char *const envp[], const struct execenv_self *self,
    const char *dir, char **out, size_t outmax, char *buf, size_t buflen,
    size_t *npre);

/*
 * execvp's search (POSIX exec), for a C library without execvpe: file
 * with a slash is run as it is; else each element of path (':'-separated,
 * an empty one the current directory, as "./file") with "/file", in
 * order.  A candidate that fails with ENOENT, ENOTDIR, EACCES, or does
 * not fit buf (buflen bytes) is passed over, any other error ends the
 * search with it; at the end, EACCES if one was seen, else the last
 * such error.  One that fails with ENOEXEC (a script without "#!") is run
 * by the shell sh as "sh candidate args...", argv[0] left out, and its
 * answer is final (more than EXECENV_SH_ARGS - 2 entries in argv: E2BIG,
 * as illumos's execvp, whose room this is).
 * exec is execve (a test's fake in the unit tests): each call returns
 * only on failure, with errno set.  Returns -1, errno set.
 * Async-signal-safe: the caller gives buf, the shell's argv is on the
 * stack.
 */
#define	EXECENV_SH_ARGS	256
typedef int execenv_exec_fn(const char *, char *const [], char *const []);
int execenv_search(const char *file, char *const argv[], char *const envp[],
    const char *path, const char *sh, execenv_exec_fn *exec, char *buf,
    size_t buflen);

/*
 * A member's options live on its shadow (fdtab.h), a hidden socket that
 * is close-on-exec: without it an inherited listener reads its options
 * back as a fresh socket's and accepted sockets lose them (nginx's
 * binary upgrade).  exec keeps the shadows open and names them, paired
 * with their endpoints' fds, in REUSEPORT_SHIM_SHADOWS=fd:shadow[,...].
 * A UDP member of a dispatched way (udp.h) names two fds more, its
 * connection to the owner and the group's socket: fd:shadow:ctl:out.  A
 * member of the shared way, the group's socket itself with no shadow,
 * names its fd three times: fd:fd:ctl:fd (an earlier build takes that
 * for a UDP member's and leaves it alone, with a warning, and keeps ctl
 * open, a TCP one as an endpoint it never reads: the member stays in
 * its group while the new program runs).
 * The entry for EXECENV_PAIRS_MAX of them, numbers below 65536 (the fd
 * table's bitmap, the only fds it lists), fits EXECENV_PAIRS_BYTES.
 */
#define	EXECENV_PAIRS_MAX	128
#define	EXECENV_PAIRS_BYTES	3200

struct execenv_pair {
	int	fd;
	int	shadow;
	int	ctl;		/* -1: a TCP endpoint's (fd:shadow) */
	int	out;
};

/*
 * The entry "REUSEPORT_SHIM_SHADOWS=fd:shadow,..." of the n pairs,
 * numbers >= 0 (ctl and out both -1, or both >= 0), into buf: its
 * length, or -1 if it does not fit (buf is not usable then).
 */
int execenv_pairs_format(const struct execenv_pair *p, size_t n,
    char *buf, size_t len);

/*
 * The pairs of a REUSEPORT_SHIM_SHADOWS value into p (max): how many, or
 * -1 if the value is not exactly that syntax (decimal numbers below
 * 2^31, no sign, no blanks; 2 or 4 of them an entry) or has more than
 * max: the value is forged or broken, and none of it is used.
 */
int execenv_pairs_parse(const char *value, struct execenv_pair *p,
    size_t max);

/*
 * The entry "name=fd,..." of n fds (>= 0) into buf: its length, or -1 if
 * it does not fit; and the fds of such a value into fds (max): how many,
 * or -1 if it is not exactly that syntax or has more than max.
 */
int execenv_fds_format(const char *name, const int *fds, size_t n,
    char *buf, size_t len);
int execenv_fds_parse(const char *value, int *fds, size_t max);

/*
 * envp (NULL: empty) without its entries named name, and entry appended
 * (NULL: none), into out (outmax pointers, NULL-terminated); out may be
 * envp itself.  The number of entries, or -1 if out is too small, in
 * which case out is left as it was.
 */
int execenv_replace(char *const envp[], const char *name, char *entry,
    char **out, size_t outmax);

#endif /* SHIM_EXECENV_H */
