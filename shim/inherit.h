/*
 * inherit.h: recognise endpoints inherited across exec (see inherit.c).
 */
#ifndef SHIM_INHERIT_H
#define SHIM_INHERIT_H

struct shim_sock;

void inherit_scan(void);
/* What accepted sockets must get, read from sk's shadow (lock held). */
void inherit_copies(struct shim_sock *sk);

#endif /* SHIM_INHERIT_H */
