/*
 * udp.h: members of UDP groups.
 *
 * A UDP socket with SO_REUSEPORT (or on a udp: port of
 * REUSEPORT_SHIM_PORTS) joins its group at bind, as a TCP one does; the
 * group's owner holds the one real socket, bound to the address.  The
 * group serves its members one of two ways (REUSEPORT_SHIM_UDP):
 *
 * - dispatched (hash, srcip, roundrobin): the owner reads the datagrams
 *   and forwards each, with its source and destination (dgram.h), to the
 *   member the policy chose, over a Unix datagram pair whose member end
 *   becomes the application's fd.  recv and its kin here take the
 *   header off and answer as the kernel's UDP socket would; sends leave
 *   through a hidden copy of the real socket (sk->out), straight to the
 *   kernel, with the member's own sending options as control messages
 *   (udpsend.c).  The application's own socket stays as the shadow, for
 *   its options.
 * - shared: the application's fd becomes the real socket itself; the
 *   kernel hands each datagram to whichever member reads first, and the
 *   shim is not in the way of any call but connect, and of SO_RCVBUF,
 *   which is each member's own, kept on its own socket as a shadow
 *   (sockopt.c shared_buf).
 *
 * Either way the member keeps its rendezvous connection (sk->ctl,
 * hidden): the owner knows it gone when that closes.
 *
 * A TCP group with REUSEPORT_SHIM_POLICY=shared is served the shared way
 * too, by the same owner (udpowner.c): every member's fd is the group's
 * listener, and accept() takes from the one queue, no owner in between
 * (the kernel chooses who wakes; nothing is lost when a member dies).
 */
#ifndef SHIM_UDP_H
#define SHIM_UDP_H

#include <sys/types.h>
#include <sys/socket.h>

#include "platform.h"
#include "proto.h"

struct shim_sock;

/*
 * Make fd a member (SK_DIRECT) of a UDP group (dgram), or of a TCP group
 * served the shared way, the owner having answered on ctl with welcome
 * and sockfd, the group's socket (the caller's to close); a dispatched
 * member's DGRAM record follows on ctl.  ss: the group's address.  ctl
 * is taken on success.  0, or -1 with errno.
 */
int direct_install(int fd, int ctl, const struct sockaddr_storage *ss,
    socklen_t len, const struct proto_rec *welcome, int sockfd, int dgram);

/*
 * Dispatched member fd tells its owner, on tell (a hidden copy of its
 * connection, closed here), the PLAT_PKT_REPORTS of want it asks for
 * (where its owner takes them: tell_reports) and its receive buffer
 * (tell_rcvbuf: the owner's socket holds the sum of its members'); the
 * owner answers once its socket does, so that a datagram after comes
 * with them.  Again while another thread changed them meanwhile (its
 * answer may have come first).
 */
void udp_tell_owner(int fd, int tell, unsigned want, int rcvbuf);
/*
 * The copy of sk's connection to its owner that udp_tell_owner takes:
 * hidden, or -1.  The table's lock held (a close cannot hand the number
 * on before the copy is made).
 */
int udp_tell_copy(const struct shim_sock *sk);

/* What a dispatched member's data calls need, read under the lock. */
struct udp_io {
	int		out;		/* the group's socket, for sends */
	unsigned	pktinfo;	/* PLAT_PKT_*: reports asked for */
	int		shut_wr;	/* shut down for sending */
	struct plat_sendopts so;	/* the member's own (udpsend.c) */
};

/* sk->shut of a UDP member: what shutdown() stopped. */
#define	UDP_SHUT_RD	0x1
#define	UDP_SHUT_WR	0x2

/*
 * shutdown(SHUT_RD) of a TCP member of the shared way (sk, the lock
 * held): its fds stop listening (accept fails with EINVAL, poll never
 * says readable), it leaves the group; the others' listener is left
 * alone.  A thread already blocked in accept() on it is not woken.
 */
void direct_leave(struct shim_sock *sk);

/*
 * shutdown() of a dispatched member fd (sk, the lock held): the answer
 * of an unconnected UDP socket (its shadow's), and, as Linux, the
 * shutdown all the same: receives then end (0), sends fail (EPIPE).
 */
int udp_shutdown(int fd, struct shim_sock *sk, int how);

/*
 * recvmsg on a dispatched member's fd: the next datagram, as the kernel.
 * xpg 0: m is illumos's 4.3BSD header (no msg_flags; no reports).
 */
ssize_t udp_recvmsg(int fd, struct msghdr *m, int flags,
    const struct udp_io *u, int xpg);
/* recv, recvfrom, read and their _chk kin: the same, on one buffer. */
ssize_t udp_recv(int fd, void *buf, size_t len, int flags,
    struct sockaddr *from, socklen_t *fromlen, const struct udp_io *u);
/* readv. */
ssize_t udp_readv(int fd, const struct iovec *iov, int iovcnt,
    const struct udp_io *u);
/* Both kernels' limit of a vector (IOV_MAX, UIO_MAXIOV). */
#define	UDP_IOV_KERNEL	1024
/* What iov's cnt entries hold, in bytes. */
size_t udp_iov_total(const struct iovec *iov, int cnt);

/* Linux's struct mmsghdr, which strict POSIX code may not name. */
struct udp_mmsg {
	struct msghdr	hdr;
	unsigned int	len;
};

/*
 * recvmmsg (Linux): vec is a struct mmsghdr array; timeout (a struct
 * timespec, or NULL) as Linux keeps it: checked after each datagram,
 * what is left written back.
 */
int udp_recvmmsg(int fd, void *vec, unsigned n, int flags, void *timeout,
    const struct udp_io *u);

/* A send call of a dispatched member, as sendmsg would make it. */
struct udp_send {
	const struct iovec *iov;
	long		iovcnt;
	const struct sockaddr *to;	/* NULL: none given */
	socklen_t	tolen;
	const void	*ctl;		/* the application's cmsgs, or NULL */
	size_t		ctllen;
	int		flags;
};

/*
 * A member with sending options of its own (u->so.set, udpsend.c): s
 * sent by out with them, as one sendmsg; its answer.
 */
ssize_t udp_send_opts(int out, const struct udp_io *u,
    const struct udp_send *s);
/* sendmmsg (Linux): vec a struct mmsghdr array, as udp_recvmmsg's. */
int udp_sendmmsg_opts(int out, const struct udp_io *u, void *vec,
    unsigned n, int flags);

#endif /* SHIM_UDP_H */
