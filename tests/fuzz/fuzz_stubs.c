/*
 * fuzz_stubs.c: what the fuzz targets link instead of the rest of the
 * library.  platform.c's constructor calls shim_init(), which would pull
 * in every file and read the real environment; the targets need none of
 * that, and call real_init() themselves.
 */
#include "shim.h"

void
shim_init(void)
{
}
