/*
 * inherit.h: recognise endpoints inherited across exec (see inherit.c).
 */
#ifndef SHIM_INHERIT_H
#define SHIM_INHERIT_H

void inherit_scan(void);

#endif /* SHIM_INHERIT_H */
