/*
 * init.c: the one-time setup every wrapper relies on.
 */
#include <pthread.h>

#include "config.h"
#include "exec.h"
#include "fdtab.h"
#include "inherit.h"
#include "real.h"
#include "shim.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	real_init();
	(void) config_get();
	exec_init();
	/*
	 * A fork while another thread holds the table lock would leave the
	 * child's copy locked forever.
	 */
	(void) pthread_atfork(fdtab_atfork_prepare, fdtab_atfork_parent,
	    fdtab_atfork_child);
	inherit_scan();
}

void
shim_init(void)
{
	(void) pthread_once(&init_once, init);
}
