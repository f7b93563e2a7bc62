/*
 * log.h: one line per event on stderr, through the real write(2), with
 * the program name and pid, so that an owner's lines are told apart from
 * the application's.
 */
#ifndef SHIM_LOG_H
#define SHIM_LOG_H

enum shim_log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

extern int shim_log_level;

void shim_log_write(enum shim_log_level lvl, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * The same line from strings alone (the list ends with NULL), without
 * stdio: for the exec wrappers, which may run in a vfork child or a
 * signal handler, where only async-signal-safe calls may be made.
 */
void shim_log_strs(enum shim_log_level lvl, ...);

/* The level test is inline so that a disabled line costs one compare. */
#define	shim_log(lvl, ...)	do {					\
	if ((int)(lvl) <= shim_log_level)				\
		shim_log_write((lvl), __VA_ARGS__);			\
} while (0)

/* The name under which this process logs ("owner" after the fork). */
void shim_log_set_role(const char *role);

#endif /* SHIM_LOG_H */
