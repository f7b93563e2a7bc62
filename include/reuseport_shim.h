/*
 * reuseport_shim.h: the public face of reuseport-shim.
 *
 * reuseport-shim is an LD_PRELOAD library that gives programs SO_REUSEPORT
 * on kernels that lack it (illumos).  Programs need nothing from this header
 * to use the library; it is for programs and tools that want to name the
 * option on such a kernel, or to read the shim's settings.
 */
#ifndef REUSEPORT_SHIM_H
#define REUSEPORT_SHIM_H

#include <sys/socket.h>

/*
 * illumos headers do not define SO_REUSEPORT; the pending kernel patch and
 * illumos-joyent use 0x2004, so a binary built with this value keeps working
 * once the kernel learns the option and the shim steps aside.
 */
#ifndef SO_REUSEPORT
#define	SO_REUSEPORT	0x2004
#endif

/* The environment variables the library reads, once, at first use. */
#define	REUSEPORT_SHIM_ENV_MODE		"REUSEPORT_SHIM_MODE"
#define	REUSEPORT_SHIM_ENV_POLICY	"REUSEPORT_SHIM_POLICY"
#define	REUSEPORT_SHIM_ENV_PORTS	"REUSEPORT_SHIM_PORTS"
#define	REUSEPORT_SHIM_ENV_DIR		"REUSEPORT_SHIM_DIR"
#define	REUSEPORT_SHIM_ENV_LOG		"REUSEPORT_SHIM_LOG"
#define	REUSEPORT_SHIM_ENV_LINGER	"REUSEPORT_SHIM_LINGER_MS"
#define	REUSEPORT_SHIM_ENV_UDP		"REUSEPORT_SHIM_UDP"
/*
 * Set by the shim itself for a program it execs (not for users): which
 * inherited fd's options live on which other fd, "fd:shadow[,...]".
 */
#define	REUSEPORT_SHIM_ENV_SHADOWS	"REUSEPORT_SHIM_SHADOWS"
/*
 * With it, where the kernel cannot read an option back (illumos's
 * IP_PKTINFO): the inherited UDP members that asked for it, "fd[,...]".
 */
#define	REUSEPORT_SHIM_ENV_PKT4		"REUSEPORT_SHIM_PKT4"
/*
 * With it: the inherited UDP members whose owner takes what they tell it
 * of the reports they ask for, and of their receive buffer, "fd[,...]".
 */
#define	REUSEPORT_SHIM_ENV_TELLS	"REUSEPORT_SHIM_TELLS"
#define	REUSEPORT_SHIM_ENV_TELLBUF	"REUSEPORT_SHIM_TELLBUF"
/*
 * With it: the inherited members of UDP groups' shared way and the
 * sockets that keep their own receive buffers, "fd,own[,...]".
 */
#define	REUSEPORT_SHIM_ENV_OWNBUF	"REUSEPORT_SHIM_OWNBUF"

/* The wire protocol version spoken between members and owners. */
#define	REUSEPORT_SHIM_PROTO_VERSION	1

#endif /* REUSEPORT_SHIM_H */
