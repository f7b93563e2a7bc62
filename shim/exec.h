/*
 * exec.h: keep the shim across exec for inherited endpoints (exec.c).
 */
#ifndef SHIM_EXEC_H
#define SHIM_EXEC_H

/*
 * Keep the startup values of the preload variables and of every
 * REUSEPORT_SHIM_* variable: the program may change its environment
 * later, and an exec must not depend on what it left there.
 */
void exec_init(void);

#endif /* SHIM_EXEC_H */
