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

int shim_log_level = LOG_LVL_ERROR;

static const char *log_role = "";

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
	(void) write(2, buf, (size_t)n);
	errno = saved;	/* the shim's own work never leaks an errno */
}
