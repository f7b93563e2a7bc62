/*
 * log.c: format into a stack buffer and write it in one call, so that
 * lines from several processes sharing a terminal don't interleave, and
 * so that logging never allocates (it runs inside wrapped calls and in
 * the owner, a child forked from a possibly multithreaded program).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "platform.h"
#include "real.h"

int shim_log_level = LOG_LVL_ERROR;

static const char *log_role = "";

/*
 * The real write(2): the library's own would take the table's lock,
 * which the line may be logged under, and wait for a setup that may be
 * what is logging.  The table is filled before main() (platform.c); a
 * program of the core objects that never fills it (a fuzz target) says
 * nothing.
 */
static void
put(const char *buf, size_t n)
{
	if (real.write != NULL)
		(void) real.write(2, buf, n);
}

void
shim_log_set_role(const char *role)
{
	log_role = role;
}

void
shim_log_write(enum shim_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char buf[512];
	int saved = errno;
	va_list ap;
	int n, m;

	n = snprintf(buf, sizeof (buf), "reuseport-shim[%s %s%d]: %s: ",
	    plat_progname(), log_role, (int)getpid(), names[lvl]);
	if (n < 0 || (size_t)n >= sizeof (buf))
		n = 0;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof (buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof (buf) - 2)
		n = (int)sizeof (buf) - 2;
	buf[n++] = '\n';
	put(buf, (size_t)n);
	errno = saved;	/* the shim's own work never leaks an errno */
}

/* Append s to buf (len bytes in use, room for one more: the newline). */
static size_t
cat(char *buf, size_t len, size_t size, const char *s)
{
	while (*s != '\0' && len < size - 1)
		buf[len++] = *s++;
	return (len);
}

void
shim_log_strs(enum shim_log_level lvl, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char buf[1024], num[24];
	int saved = errno;
	size_t n = 0, k = sizeof (num) - 1;
	long pid = (long)getpid();
	const char *s;
	va_list ap;

	if ((int)lvl > shim_log_level)
		return;
	num[k] = '\0';
	do {
		num[--k] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0 && k > 0);
	n = cat(buf, n, sizeof (buf), "reuseport-shim[");
	n = cat(buf, n, sizeof (buf), plat_progname());
	n = cat(buf, n, sizeof (buf), " ");
	n = cat(buf, n, sizeof (buf), log_role);
	n = cat(buf, n, sizeof (buf), num + k);
	n = cat(buf, n, sizeof (buf), "]: ");
	n = cat(buf, n, sizeof (buf), names[lvl]);
	n = cat(buf, n, sizeof (buf), ": ");
	va_start(ap, lvl);
	while ((s = va_arg(ap, const char *)) != NULL)
		n = cat(buf, n, sizeof (buf), s);
	va_end(ap);
	buf[n++] = '\n';
	put(buf, n);
	errno = saved;
}
