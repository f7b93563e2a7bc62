/*
 * execenv.c: the environment for an exec that must keep the shim.
 *
 * Called between a program's exec call and the kernel's, possibly in a
 * vfork child or a signal handler: string work in the caller's room only.
 */
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

int
execenv_has_shim(char *const envp[], const char *const *names,
    const char *base)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		const char *v = execenv_get(envp, names[i]);

		if (v != NULL && execenv_names(v, base))
			return (1);
	}
	return (0);
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

int
execenv_build(char *const envp[], const struct execenv_self *self,
    const char *dir, char **out, size_t outmax, char *buf, size_t buflen)
{
	size_t n = 0, pos = 0;
	int added = 0;

	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (n + 1 >= outmax)
			return (-1);
		out[n++] = envp[i];
	}
	for (size_t p = 0; p < self->npreload; p++) {
		const char *ent = self->preload[p];
		size_t nl = name_len(ent), i;

		for (i = 0; i < n && !is_var(out[i], ent, nl); i++)
			;
		if (i < n && execenv_names(out[i] + nl + 1, self->base)) {
			continue;	/* it names us already */
		} else if (i < n) {
			/* Theirs first: a sanitizer runtime must stay ahead. */
			const char *parts[] = { out[i], " ", self->elem, NULL };

			if ((out[i] = put(buf, buflen, &pos, parts)) == NULL)
				return (-1);
		} else {
			if (n + 1 >= outmax)
				return (-1);
			/* Cast: execve's type; nobody writes through it. */
			out[n++] = (char *)ent;
		}
		added++;
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

int
execenv_pairs_format(const int *fds, const int *shadows, size_t n,
    char *buf, size_t len)
{
	static const char pre[] = REUSEPORT_SHIM_ENV_SHADOWS "=";
	size_t pos = sizeof (pre) - 1;

	if (len <= pos)
		return (-1);
	memcpy(buf, pre, pos);
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0 || shadows[i] < 0)
			return (-1);
		if (i > 0) {
			if (pos + 1 >= len)
				return (-1);
			buf[pos++] = ',';
		}
		if (put_num(buf, len, &pos, fds[i]) != 0 || pos + 1 >= len)
			return (-1);
		buf[pos++] = ':';
		if (put_num(buf, len, &pos, shadows[i]) != 0)
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
execenv_pairs_parse(const char *value, int *fds, int *shadows, size_t max)
{
	size_t n = 0;

	if (*value == '\0')
		return (0);
	for (;;) {
		int fd, sh;

		if (n == max || (fd = get_num(&value)) < 0 || *value++ != ':' ||
		    (sh = get_num(&value)) < 0)
			return (-1);
		fds[n] = fd;
		shadows[n++] = sh;
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
