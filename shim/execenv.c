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
