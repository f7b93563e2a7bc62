/*
 * execenv.c: the environment for an exec that must keep the shim.
 *
 * Called between a program's exec call and the kernel's, possibly in a
 * vfork child or a signal handler: string work in the caller's room only.
 * So is execvp's search, for a C library without execvpe: the old way,
 * its execvp with environ pointing elsewhere for the call, writes the
 * parent's environ from a vfork child, and a thread of the parent could
 * read it meanwhile.
 */
#include <errno.h>
#include <string.h>

#include "execenv.h"
#include "reuseport_shim.h"

#define	DIR_PREFIX	REUSEPORT_SHIM_ENV_DIR "="

static int
is_sep(char c)
{
	return (c == ' ' || c == '\t' || c == ':');
}

const char *
execenv_find(const char *value, const char *base, size_t *len)
{
	size_t bl = strlen(base);

	if (bl == 0)
		return (NULL);
	while (*value != '\0') {
		const char *s, *e, *b;

		for (s = value; is_sep(*s); s++)
			;
		for (e = s; *e != '\0' && !is_sep(*e); e++)
			;
		/* The element's last component: paths and bare names. */
		for (b = e; b > s && b[-1] != '/'; b--)
			;
		if ((size_t)(e - b) == bl && memcmp(b, base, bl) == 0) {
			*len = (size_t)(e - s);
			return (s);
		}
		value = e;
	}
	return (NULL);
}

int
execenv_names(const char *value, const char *base)
{
	size_t len;

	return (execenv_find(value, base, &len) != NULL);
}

/* entry is "name=...". */
static int
is_var(const char *entry, const char *name, size_t nl)
{
	return (strncmp(entry, name, nl) == 0 && entry[nl] == '=');
}

const char *
execenv_get(char *const envp[], const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (is_var(envp[i], name, nl))
			return (envp[i] + nl + 1);
	}
	return (NULL);
}

const char *
execenv_fallback(const char *const *names, const char *name)
{
	size_t nl = strlen(name);

	if (nl < 3 || (strcmp(name + nl - 3, "_32") != 0 &&
	    strcmp(name + nl - 3, "_64") != 0))
		return (NULL);
	for (size_t i = 0; names[i] != NULL; i++) {
		if (strlen(names[i]) == nl - 3 &&
		    strncmp(names[i], name, nl - 3) == 0)
			return (names[i]);
	}
	return (NULL);
}

/* The index of name among envp's first n entries (or up to NULL), or -1. */
static int
find_var(char *const envp[], size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n && envp[i] != NULL; i++) {
		if (is_var(envp[i], name, nl))
			return ((int)i);
	}
	return (-1);
}

const char *
execenv_effective(char *const envp[], const char *name,
    const char *fallback, const char **entry)
{
	const char *from = NULL;
	int i;

	if (envp == NULL)
		return (NULL);
	if ((i = find_var(envp, (size_t)-1, name)) >= 0)
		from = envp[i];
	else if (fallback != NULL &&
	    (i = find_var(envp, (size_t)-1, fallback)) >= 0)
		from = envp[i];
	if (from == NULL)
		return (NULL);
	if (entry != NULL)
		*entry = from;
	return (strchr(from, '=') + 1);
}

/* len bytes of s, and a NUL, at buf + *pos; NULL if they do not fit. */
static const char *
copy(char *buf, size_t buflen, size_t *pos, const char *s, size_t len)
{
	char *p = buf + *pos;

	if (len >= buflen - *pos)
		return (NULL);
	memcpy(p, s, len);
	p[len] = '\0';
	*pos += len + 1;
	return (p);
}

int
execenv_self_pre(struct execenv_self *self, const char *const *names,
    char *const envp[], char *buf, size_t len, size_t *used)
{
	size_t pos = 0;
	int full = 0;

	self->npre = 0;
	for (size_t i = 0; names[i] != NULL; i++) {
		struct execenv_pre *pre = &self->pre[self->npre];
		const char *entry = NULL, *v, *e;
		size_t k, el;

		for (k = 0; names[k] != NULL &&
		    execenv_fallback(names, names[k]) != names[i]; k++)
			;
		if (names[k] != NULL)
			continue;	/* LD_PRELOAD where there are classes */
		pre->name = names[i];
		pre->fallback = execenv_fallback(names, names[i]);
		if ((v = execenv_effective(envp, pre->name, pre->fallback,
		    &entry)) == NULL || (e = execenv_find(v, self->base,
		    &el)) == NULL)
			continue;
		if (self->npre == EXECENV_PRELOAD_MAX ||
		    (pre->entry = copy(buf, len, &pos, entry,
		    strlen(entry))) == NULL ||
		    (pre->elem = copy(buf, len, &pos, e, el)) == NULL) {
			full = 1;
			continue;
		}
		self->npre++;
	}
	*used = pos;
	return (full ? -1 : 0);
}

int
execenv_has_shim(char *const envp[], const struct execenv_self *self)
{
	for (size_t p = 0; p < self->npre; p++) {
		const char *v = execenv_effective(envp, self->pre[p].name,
		    self->pre[p].fallback, NULL);

		if (v == NULL || !execenv_names(v, self->base))
			return (0);
	}
	return (1);
}

/* The name part of "name=value". */
static size_t
name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return (eq != NULL ? (size_t)(eq - entry) : strlen(entry));
}

/* Append the strings (NULL-terminated list) at *pos; NULL: no room. */
static char *
put(char *buf, size_t buflen, size_t *pos, const char *const *parts)
{
	char *start = buf + *pos;

	for (; *parts != NULL; parts++) {
		size_t l = strlen(*parts);

		if (l >= buflen - *pos)
			return (NULL);
		memcpy(buf + *pos, *parts, l);
		*pos += l;
	}
	if (*pos >= buflen)
		return (NULL);
	buf[(*pos)++] = '\0';
	return (start);
}

/*
 * One class's preload variable back in out (n entries so far, NULL-
 * terminated or not): see execenv_build.  1 if something was added or
 * changed, 0 if nothing needed to be, -1 if out or buf is too small.
 */
static int
put_pre(char **out, size_t *n, size_t outmax, const char *base,
    const struct execenv_pre *pre, char *buf, size_t buflen, size_t *pos)
{
	const char *v, *from = NULL;
	int i, fb;

	out[*n] = NULL;
	v = execenv_effective(out, pre->name, pre->fallback, &from);
	if (v != NULL && execenv_names(v, base))
		return (0);
	fb = pre->fallback != NULL &&
	    is_var(pre->entry, pre->fallback, strlen(pre->fallback));
	if ((i = find_var(out, *n, pre->name)) >= 0 || (v != NULL && fb)) {
		/* The variable in effect: ours after theirs. */
		const char *parts[] = { from, *v != '\0' ? " " : "", pre->elem,
		    NULL };

		if (i < 0)
			i = find_var(out, *n, pre->fallback);
		if ((out[i] = put(buf, buflen, pos, parts)) == NULL)
			return (-1);
		return (1);
	}
	if (*n + 1 >= outmax)
		return (-1);
	if (v != NULL) {
		/*
		 * Only the fallback is set, and the class's own variable,
		 * which overrides it, was ours: the fallback's list then ours,
		 * under the class's name (the other class keeps its own).
		 */
		const char *parts[] = { pre->name, "=", v, *v != '\0' ? " " :
		    "", pre->elem, NULL };

		if ((out[*n] = put(buf, buflen, pos, parts)) == NULL)
			return (-1);
	} else {
		/* Cast: execve's type; nobody writes through it. */
		out[*n] = (char *)pre->entry;
	}
	(*n)++;
	return (1);
}

int
execenv_build(char *const envp[], const struct execenv_self *self,
    const char *dir, char **out, size_t outmax, char *buf, size_t buflen,
    size_t *npre)
{
	size_t n = 0, pos = 0, pres = 0;
	int added = 0;

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (n + 1 >= outmax)
			return (-1);
		out[n++] = envp[i];
	}
	if (n >= outmax)
		return (-1);
	for (size_t p = 0; p < self->npre; p++) {
		int r = put_pre(out, &n, outmax, self->base, &self->pre[p],
		    buf, buflen, &pos);

		if (r < 0)
			return (-1);
		pres += (size_t)r;
		added += r;
	}
	for (size_t v = 0; v < self->nvars; v++) {
		const char *ent = self->vars[v];
		size_t nl = name_len(ent), i;

		for (i = 0; i < n && !is_var(out[i], ent, nl); i++)
			;
		if (i < n)
			continue;
		if (n + 1 >= outmax)
			return (-1);
		out[n++] = (char *)ent;
		added++;
	}
	if (dir != NULL) {
		const char *parts[] = { DIR_PREFIX, dir, NULL };
		size_t i;

		for (i = 0; i < n && !is_var(out[i], REUSEPORT_SHIM_ENV_DIR,
		    sizeof (DIR_PREFIX) - 2); i++)
			;
		if (i == n) {
			if (n + 1 >= outmax ||
			    (out[n] = put(buf, buflen, &pos, parts)) == NULL)
				return (-1);
			n++;
			added++;
		}
	}
	out[n] = NULL;
	if (npre != NULL)
		*npre = pres;
	return (added);
}

/* v (>= 0) in decimal at buf + *pos; 0, or -1 if it does not fit. */
static int
put_num(char *buf, size_t len, size_t *pos, int v)
{
	char d[12];
	size_t k = sizeof (d);

	do {
		d[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	if (sizeof (d) - k >= len - *pos)
		return (-1);
	memcpy(buf + *pos, d + k, sizeof (d) - k);
	*pos += sizeof (d) - k;
	return (0);
}

/* ':' and n at *pos. */
static int
put_field(char *buf, size_t len, size_t *pos, int n)
{
	if (*pos + 1 >= len)
		return (-1);
	buf[(*pos)++] = ':';
	return (put_num(buf, len, pos, n));
}

int
execenv_pairs_format(const struct execenv_pair *p, size_t n, char *buf,
    size_t len)
{
	static const char pre[] = REUSEPORT_SHIM_ENV_SHADOWS "=";
	size_t pos = sizeof (pre) - 1;

	if (len <= pos)
		return (-1);
	memcpy(buf, pre, pos);
	for (size_t i = 0; i < n; i++) {
		if (p[i].fd < 0 || p[i].shadow < 0 ||
		    (p[i].ctl < 0) != (p[i].out < 0))
			return (-1);
		if (i > 0) {
			if (pos + 1 >= len)
				return (-1);
			buf[pos++] = ',';
		}
		if (put_num(buf, len, &pos, p[i].fd) != 0 ||
		    put_field(buf, len, &pos, p[i].shadow) != 0 ||
		    (p[i].ctl >= 0 && (put_field(buf, len, &pos,
		    p[i].ctl) != 0 || put_field(buf, len, &pos,
		    p[i].out) != 0)))
			return (-1);
	}
	buf[pos] = '\0';
	return ((int)pos);
}

/* A decimal number below 2^31 at *s, *s moved past it; -1 if none. */
static int
get_num(const char **s)
{
	const char *p = *s;
	long v = 0;

	if (*p < '0' || *p > '9')
		return (-1);
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 0x7fffffffL)
			return (-1);
	}
	*s = p;
	return ((int)v);
}

int
execenv_pairs_parse(const char *value, struct execenv_pair *p, size_t max)
{
	size_t n = 0;

	if (*value == '\0')
		return (0);
	for (;;) {
		struct execenv_pair e = { -1, -1, -1, -1 };

		if (n == max || (e.fd = get_num(&value)) < 0 ||
		    *value++ != ':' || (e.shadow = get_num(&value)) < 0)
			return (-1);
		/* A UDP member's: two more, or none. */
		if (*value == ':') {
			value++;
			if ((e.ctl = get_num(&value)) < 0 || *value++ != ':' ||
			    (e.out = get_num(&value)) < 0)
				return (-1);
		}
		p[n++] = e;
		if (*value == '\0')
			return ((int)n);
		if (*value++ != ',')
			return (-1);
	}
}

int
execenv_fds_format(const char *name, const int *fds, size_t n, char *buf,
    size_t len)
{
	size_t pos = strlen(name) + 1;

	if (len <= pos)
		return (-1);
	memcpy(buf, name, pos - 1);
	buf[pos - 1] = '=';
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0 || (i > 0 && pos + 1 >= len))
			return (-1);
		if (i > 0)
			buf[pos++] = ',';
		if (put_num(buf, len, &pos, fds[i]) != 0)
			return (-1);
	}
	buf[pos] = '\0';
	return ((int)pos);
}

int
execenv_fds_parse(const char *value, int *fds, size_t max)
{
	size_t n = 0;

	if (*value == '\0')
		return (0);
	for (;;) {
		if (n == max || (fds[n++] = get_num(&value)) < 0)
			return (-1);
		if (*value == '\0')
			return ((int)n);
		if (*value++ != ',')
			return (-1);
	}
}

int
execenv_replace(char *const envp[], const char *name, char *entry,
    char **out, size_t outmax)
{
	size_t nl = strlen(name), total = 0, n = 0;

	while (envp != NULL && envp[total] != NULL)
		total++;
	/* Checked first: out may be envp, and must not be left half done. */
	if (total + 2 > outmax)
		return (-1);
	for (size_t i = 0; i < total; i++) {
		if (!is_var(envp[i], name, nl))
			out[n++] = envp[i];
	}
	if (entry != NULL)
		out[n++] = entry;
	out[n] = NULL;
	return ((int)n);
}

/*
 * cand with ENOEXEC: "sh cand argv[1]...", as execvp runs a script
 * without "#!".  The shell's answer is final.
 */
static int
run_sh(const char *cand, char *const argv[], char *const envp[],
    const char *sh, execenv_exec_fn *exec)
{
	char *sargv[EXECENV_SH_ARGS];
	size_t n = 2;

	/* Casts: exec's argv type; nobody writes through it. */
	sargv[0] = (char *)sh;
	sargv[1] = (char *)cand;
	for (size_t i = 1; argv != NULL && argv[0] != NULL &&
	    argv[i] != NULL; i++) {
		if (n + 1 >= EXECENV_SH_ARGS) {
			errno = E2BIG;
			return (-1);
		}
		sargv[n++] = argv[i];
	}
	sargv[n] = NULL;
	(void) exec(sh, sargv, envp);
	return (-1);
}

int
execenv_search(const char *file, char *const argv[], char *const envp[],
    const char *path, const char *sh, execenv_exec_fn *exec, char *buf,
    size_t buflen)
{
	size_t fl = strlen(file);
	int eacces = 0, last = ENOENT;

	if (fl == 0) {
		errno = ENOENT;
		return (-1);
	}
	if (strchr(file, '/') != NULL) {
		(void) exec(file, argv, envp);
		if (errno == ENOEXEC)
			return (run_sh(file, argv, envp, sh, exec));
		return (-1);
	}
	for (const char *p = path; ; p++) {
		const char *e = strchr(p, ':');
		size_t dl = e != NULL ? (size_t)(e - p) : strlen(p);

		/* An empty element is the current directory. */
		if (dl == 0) {
			p = ".";
			dl = 1;
		}
		if (dl + 1 + fl >= buflen) {
			last = ENAMETOOLONG;
		} else {
			memcpy(buf, p, dl);
			buf[dl] = '/';
			memcpy(buf + dl + 1, file, fl + 1);
			(void) exec(buf, argv, envp);
			switch (errno) {
			case ENOEXEC:
				return (run_sh(buf, argv, envp, sh, exec));
			case EACCES:
				eacces = 1;
				/* FALLTHROUGH */
			case ENOENT:
			case ENOTDIR:
				last = errno;
				break;
			default:
				return (-1);
			}
		}
		if (e == NULL)
			break;
		p = e;
	}
	errno = eacces ? EACCES : last;
	return (-1);
}
