/*
 * platform.h: every difference between operating systems, behind one
 * interface.  Only platform.c may use anything beyond C11 and
 * POSIX.1-2008; everything else in shim/ is compiled strictly
 * (`make portcheck`), so a Linux-only call elsewhere fails the build.
 */
#ifndef SHIM_PLATFORM_H
#define SHIM_PLATFORM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

/* What a (level, name) socket option means to the shim. */
enum plat_opt_class {
	PLAT_OPT_OTHER = 0,
	PLAT_OPT_REUSEPORT,
	PLAT_OPT_REUSEADDR,
	PLAT_OPT_TYPE,
	PLAT_OPT_DOMAIN,
	PLAT_OPT_PROTOCOL,
	PLAT_OPT_ACCEPTCONN,
	PLAT_OPT_ERROR,
	PLAT_OPT_RCVTIMEO,
	PLAT_OPT_TIMESTAMP,	/* SO_TIMESTAMP, SO_TIMESTAMPNS */
	PLAT_OPT_RCVBUF		/* SO_RCVBUF, Linux's SO_RCVBUFFORCE */
};

/* How an option's value is stored and copied to accepted sockets. */
enum plat_opt_kind {
	PLAT_KIND_INT,		/* int, read back as written */
	PLAT_KIND_BOOL,		/* int, read back as 0 or 1 */
	PLAT_KIND_BUF,		/* int buffer size the kernel may scale */
	PLAT_KIND_LINGER	/* struct linger */
};

/* An option a listener keeps, and whether accepted sockets inherit it. */
struct plat_opt {
	int	level;
	int	name;
	enum plat_opt_kind kind;
	int	inherit;
};

#define	PLAT_OPT_MAX	12	/* = PROTO_MAX_OPTS: they go in one record */

/* The kernel's SO_REUSEPORT value (illumos: the pending patch's). */
extern const int plat_so_reuseport;
/* Non-zero where the kernel's headers define SO_REUSEPORT (Linux). */
extern const int plat_kernel_reuseport;
/* Non-zero where accept() copies O_NONBLOCK from the listener (illumos). */
extern const int plat_accept_inherits_nonblock;
/* accept4() flag bits, and the recvmsg flag that sets FD_CLOEXEC. */
extern const int plat_sock_cloexec;
extern const int plat_sock_nonblock;
/* O_NDELAY, which accept4's SOCK_NDELAY sets (illumos: not O_NONBLOCK). */
extern const int plat_o_ndelay;
#define	PLAT_O_NDELAY	plat_o_ndelay

enum plat_opt_class plat_opt_classify(int level, int name);
const struct plat_opt *plat_listener_opts(size_t *n);

/*
 * Options set on a member (on its shadow, see fdtab.h): 1 if the
 * kernel's accepted sockets inherit it from their listener (accept()
 * then sets it on each connection).
 */
int plat_opt_inherited(int level, int name);
/*
 * 1 if it acts on the listener itself, before accept (TCP_DEFER_ACCEPT,
 * the MSS a SYN-ACK offers): the owner sets it on the group's listener.
 */
int plat_opt_on_listener(int level, int name);
/* 1 if the kernel refuses it on a bound socket (IPV6_V6ONLY on Linux). */
int plat_opt_fixed_at_bind(int level, int name);
/*
 * The shim's own records on an endpoint must raise no SIGIO that the
 * application asked for (O_ASYNC): plat_async_pause turns it off (1 if
 * it was on); plat_async_resume turns it back on, and signals as the
 * kernel would have if a record came meanwhile.
 */
int plat_async_pause(int fd);
void plat_async_resume(int fd);
/*
 * Reset a TCP connection: at once on Linux (a disconnect), else when the
 * last reference to it closes (SO_LINGER 0).
 */
void plat_tcp_reset(int fd);
/*
 * A member's shadow (fdtab.h), never bound, reads back as the kernel's
 * socket bound to sa would: on Linux, IPv6-only for a specific address.
 */
void plat_shadow_bound(int fd, const struct sockaddr *sa);
/*
 * Copy from one socket to another the options that decide what a bind
 * may do (IPV6_V6ONLY, Linux's IP_FREEBIND and SO_BINDTODEVICE).
 */
void plat_bind_opts_copy(int from, int to);

/* dlsym(RTLD_NEXT, name): the next definition after ours. */
void *plat_dlsym_next(const char *name);
/* Non-zero if p is a function of this library (a lookup that found us). */
int plat_is_ours(void *p);

/* Effective uid of the process at the other end of a Unix socket. */
int plat_peer_euid(int fd, uid_t *euid);

/*
 * accept on the owner's listener: new fd close-on-exec.  On illumos it
 * takes the listener's O_NONBLOCK; the member sets the flags it wants.
 */
int plat_accept_cloexec(int fd, struct sockaddr *sa, socklen_t *len);
/* recvmsg flags that make received fds close-on-exec (0: none exist). */
int plat_recv_cloexec_flag(void);
/* recvmsg flags that make one call non-blocking (0: none exist). */
int plat_recv_dontwait_flag(void);
/*
 * The same for a send on a Unix socket, or 0 where the kernel ignores
 * it there (illumos: sotpi_sendmsg heeds the file's O_NONBLOCK only; the
 * build that takes illumos's paths does without it too): poll first.
 */
int plat_send_dontwait_flag(void);
/*
 * shutdown() of a socket that is not connected (a listener, an
 * unconnected UDP socket) takes effect: Linux's does (a UDP socket's
 * says ENOTCONN all the same); illumos's fails with ENOTCONN and does
 * nothing (so_shutdown's X/Open check).
 */
extern const int plat_shutdown_unconnected;
/*
 * The longest vector sendmsg and recvmsg take: Linux's UIO_MAXIOV,
 * illumos's MSG_MAXIOVLEN (16; readv and writev take IOV_MAX there).
 */
extern const int plat_msg_iov_max;
/*
 * A socket's receive buffer in bytes as the kernel keeps it (Linux's is
 * twice what setsockopt asked), or -1; that of a new UDP socket of
 * family; fd's raised to about bytes where it holds less (up to what
 * the kernel allows; never shrunk: what it holds may still be read).
 */
int plat_rcvbuf(int fd);
int plat_rcvbuf_default(int family);
void plat_rcvbuf_grow(int fd, int bytes);
/*
 * The buffer to ask for a UDP member's forwarding pair: want; in the
 * build that takes illumos's paths on Linux, a small one that refuses
 * a datagram beyond 65536 bytes, as illumos's does whatever it is asked
 * (and holds about 21 KB), so that the owner's own queue for a member
 * whose pair is full and its large datagrams' files (udpowner.c) run in
 * the tests.
 */
int plat_pair_bytes(int want);
/* req (shim_ioctl's) is FIONREAD. */
int plat_is_fionread(unsigned long req);
/*
 * fn(arg), then done(darg): also if the thread is cancelled in fn (where
 * the C library's pthread_cleanup_push can be used: illumos's calls a
 * private libc function, and there done is skipped on cancellation).
 */
ssize_t plat_with_cleanup(ssize_t (*fn)(void *), void *arg,
    void (*done)(void *), void *darg);
/* send flags that keep a dead peer from raising SIGPIPE (0: none exist). */
int plat_send_nosignal_flag(void);

/*
 * A call that moves data, made by the application on a member: to it a
 * TCP socket with no connection, listening or bound only, whatever the
 * fd is underneath (the endpoint, a Unix socket to the owner).
 */
enum plat_io_op {
	PLAT_IO_SEND,		/* send, sendto */
	PLAT_IO_SENDMSG,
	PLAT_IO_WRITE,
	PLAT_IO_WRITEV,
	PLAT_IO_RECV,		/* recv, recvfrom */
	PLAT_IO_RECVMSG,
	PLAT_IO_READ,
	PLAT_IO_READV
};

struct iovec;

struct plat_io {
	enum plat_io_op	op;
	int		listening;	/* else bound, not listening */
	int		flags;		/* send's and recv's MSG_ flags */
	size_t		len;		/* bytes asked for (not vectors) */
	const struct iovec *iov;	/* readv, writev, the msg calls */
	long		iovcnt;
	int		control;	/* sendmsg: control data given */
};

/*
 * The kernel's answer to such a call: -1 and errno, or 0 (it succeeds
 * and moves nothing); *sigpipe is set to 1 where the kernel also raises
 * SIGPIPE on the calling thread.  Linux: EPIPE and SIGPIPE for the send
 * calls, ENOTCONN for the receive calls; illumos: ENOTCONN for both.
 */
ssize_t plat_unconnected_io(const struct plat_io *c, int *sigpipe);

/*
 * connect(sa, len) by the application on a member of this family: the
 * kernel's errno for a listener (listening), or for a socket bound into
 * a group the errors the kernel finds in the address, then EADDRINUSE
 * (the port is the group's listener's).  0: Linux takes AF_UNSPEC as
 * "disconnect", which ends a listener's listening and is a no-op for a
 * socket that has no connection.
 */
int plat_member_connect(int family, const struct sockaddr *sa,
    socklen_t len, int listening);

/*
 * Memory for the owner, which must not call malloc: it is forked from a
 * program that may have had another thread inside malloc at that moment.
 */
void *plat_alloc(size_t size);
void plat_free(void *p, size_t size);

/*
 * The owner's readiness poller: epoll on Linux, event ports on illumos
 * (and their one-shot logic over EPOLLONESHOT in the PLAT_LIKE_ILLUMOS
 * build), poll(2) elsewhere.  Each fd has a token
 * (a small dense integer); wait returns the tokens of ready fds, so the
 * owner's work per wakeup is what is ready, not every endpoint it has.
 */
struct plat_poller;
struct plat_poller *plat_poller_new(void);
#define	PLAT_POLL_IN	1
#define	PLAT_POLL_OUT	2
/*
 * Watch fd under token for what on says (PLAT_POLL_IN, PLAT_POLL_OUT,
 * both), or stop watching it (on == 0).
 */
int plat_poller_set(struct plat_poller *p, int fd, uint32_t token, int on);
/* Forget fd before it is closed. */
void plat_poller_del(struct plat_poller *p, int fd, uint32_t token);
/* Up to max ready tokens; 0 on timeout, -1 with errno (EINTR...). */
int plat_poller_wait(struct plat_poller *p, uint32_t *tokens, int max,
    int timeout_ms);

/*
 * A fork that runs no atfork handlers of the application (where the
 * system allows).  waited: the caller reaps the child with waitpid(pid),
 * and the application should see no SIGCHLD for it (illumos forkx).
 */
pid_t plat_fork(int waited);
/* The directory of this library (or program) into buf; -1 if unknown. */
int plat_self_dir(char *buf, size_t n);
/*
 * The service a process runs in, as its service manager knows it: on
 * Linux its cgroup (v2), whose restart (cgroup.kill, systemd's stop)
 * ends every process in it.  -1 where it cannot be told.
 */
int plat_service_of(pid_t pid, char *buf, size_t n);
/* Move this process into service (plat_service_of's name).  0 or -1. */
int plat_service_enter(const char *service);
/* The running program's own file, absolute; -1 if it cannot be told. */
int plat_self_exe(char *buf, size_t n);
/* The path of this library (or program) into buf; -1 if unknown. */
int plat_self_path(char *buf, size_t n);
/* The preload variables the run-time linker reads, NULL-terminated. */
const char *const *plat_preload_vars(void);
/*
 * posix_spawn path with argv and the environment less LD_PRELOAD*; the
 * caller reaps *pid with waitpid.  0, or -1 with errno.
 */
int plat_spawn(const char *path, char *const argv[], pid_t *pid);
/* Close every fd >= lowfd. */
void plat_closefrom(int lowfd);
/*
 * The next closefrom and close_range (the C library's, not ours), for
 * the application's calls.  close_range: -1 with ENOSYS where there is
 * none (illumos).
 */
void plat_closefrom_next(int lowfd);
int plat_close_range_next(unsigned first, unsigned last, int flags);
/* 0 if close_range with these flags only sets close-on-exec. */
int plat_close_range_closes(int flags);
/* Call fn for every open fd of the process (at startup: few). */
void plat_for_each_fd(void (*fn)(int fd, void *arg), void *arg);
/* Name the owner process so that ps(1) and tests can tell it apart. */
void plat_set_procname(const char *name);
/*
 * A shared memory object of size bytes that no other process can open,
 * named what (where the system shows a name: Linux's memfd); -1 if none.
 */
int plat_shm_fd(size_t size, const char *what);
/* The owner's scheduling: throughput over wakeup latency, where offered. */
void plat_owner_sched(void);
/* The running program's short name, for log lines. */
const char *plat_progname(void);

/*
 * The i-th option plat_opt_inherited() answers 1 for, into *level and
 * *name; -1 past the last.
 */
int plat_opt_inherited_nth(size_t i, int *level, int *name);
/* The same for plat_opt_on_listener's. */
int plat_opt_on_listener_nth(size_t i, int *level, int *name);
/*
 * The int to set so that getsockopt reads back v, for an option read
 * from one socket and set on another (Linux: half a buffer size).
 */
int plat_opt_unread(int level, int name, int v);

/* execvp's search path where PATH is unset (the C library's default). */
const char *plat_exec_path(void);

/* --- UDP groups (udp.c, udpowner.c) ---------------------------------- */

struct proto_addr;
struct dgram_hdr;
struct timespec;

/*
 * Which report of a datagram's arrival (level, name) asks for, or 0:
 * where it was sent to, its TTL or hop limit, its TOS or traffic class.
 */
#define	PLAT_PKT_V4	0x1U	/* IP_PKTINFO */
#define	PLAT_PKT_V6	0x2U	/* IPV6_RECVPKTINFO */
#define	PLAT_PKT_TTL	0x4U	/* IP_RECVTTL */
#define	PLAT_PKT_TOS	0x8U	/* IP_RECVTOS */
#define	PLAT_PKT_HOPS	0x10U	/* IPV6_RECVHOPLIMIT */
#define	PLAT_PKT_TCLASS	0x20U	/* IPV6_RECVTCLASS */
/*
 * The arrival time: a member's own queue gives it where it can
 * (plat_queue_stamps), else the member takes the time it read it.
 */
#define	PLAT_PKT_STAMP	0x40U	/* SO_TIMESTAMP */
#define	PLAT_PKT_STAMPNS	0x80U	/* SO_TIMESTAMPNS (Linux) */
#define	PLAT_PKT_STAMPS	(PLAT_PKT_STAMP | PLAT_PKT_STAMPNS)
/* Those an owner asks its socket for only while a member wants them. */
#define	PLAT_PKT_REPORTS	(PLAT_PKT_TTL | PLAT_PKT_TOS | PLAT_PKT_HOPS | \
	PLAT_PKT_TCLASS)
unsigned plat_pktinfo_opt(int level, int name);
/* The reports fd's options ask for now. */
unsigned plat_pktinfo_asked(int fd);
/*
 * Where the kernel cannot say (illumos: IP_PKTINFO, see platform.c), the
 * shim keeps fd's ask: note each setsockopt of such an option (kept)
 * that succeeded, forget fds lo..hi as they close or are replaced, copy
 * it to a dup of fd; held: fd has it.  Memory of the process's own: a
 * vfork child, which shares its parent's, must not write it.
 */
int plat_pktinfo_kept(int level, int name);
int plat_pktinfo_held(int fd);
void plat_pktinfo_note(int fd, int level, int name, const void *val,
    socklen_t len);
void plat_pktinfo_forget(int lo, int hi);
void plat_pktinfo_dup(int from, int to);
/* fd asked for what the shim keeps (an exec's REUSEPORT_SHIM_PKT4). */
void plat_pktinfo_mark(int fd);
/* The plain recvmsg's header is XPG's (Linux), not 4.3BSD's (illumos). */
extern const int plat_plain_msg_xpg;
/* Linux's MSG_ERRQUEUE; 0 where there is none. */
extern const int plat_msg_errqueue;
/* recvmmsg's MSG_WAITFORONE (Linux); 0 where there is none. */
extern const int plat_msg_waitforone;
/*
 * The owner's socket (of family): report each datagram's destination,
 * and of want (PLAT_PKT_REPORTS: what its members ask for) its TTL (hop
 * limit) and TOS (traffic class); the others not.
 */
void plat_pktinfo_enable(int fd, int family, unsigned want);
/*
 * One control message of a received datagram (level, type, data of len)
 * into h's reports (dst and ifindex, ttl, tos): 1 if it was one.
 */
int plat_pktinfo_parse(int level, int type, const void *data, size_t len,
    struct dgram_hdr *h);
/*
 * The nth (from 0) control message that reports h's arrival as the
 * kernel writes them for want (PLAT_PKT_*), in its order: level, type
 * and data (in out); its data's length, or 0 when there are no more.
 * The arrival time is now's where now is not NULL (the member's queue
 * gave none: see plat_queue_stamps); illumos writes it after the
 * destination, Linux first.
 */
#define	PLAT_PKTINFO_MAX	32
size_t plat_pktinfo_make(unsigned want, const struct dgram_hdr *h,
    const struct timespec *now, int nth, int *level, int *type, void *out);
/*
 * A dispatched member's queue (a Unix datagram socket) reports each
 * datagram's arrival time (SO_TIMESTAMP) itself: Linux's does; illumos's
 * refuses the option (tl, its Unix sockets' transport, knows none), and
 * the build that takes illumos's paths does without it as well.
 */
extern const int plat_queue_stamps;
/*
 * A dispatched member's options set before bind on its own socket
 * (from) that the shim carries: SO_RCVTIMEO onto its queue (data), which
 * receives wait on, SO_BROADCAST onto the group's socket (out), which
 * its sends leave by.
 */
void plat_udp_member_opts(int from, int data, int out);
/*
 * A dispatched member's own sending options.  Its sends leave by the
 * group's socket, every member's, where setting them would change every
 * member's datagrams; so each that fd has set (TOS or traffic class, TTL
 * or hop limit, Linux's UDP_SEGMENT) rides on each of its sends as the
 * control message that sets it for one datagram, as both kernels take.
 */
#define	PLAT_SENDOPTS	5
struct plat_sendopts {
	unsigned	set;		/* bit i: v[i] rides on each send */
	int		v[PLAT_SENDOPTS];
};
/*
 * The application set (level, name) to val on fd (a member's shadow,
 * which took it): if it is one of them (1, else 0), into o as fd keeps
 * it, or out of o where val means "the default" (a TTL of -1, a TOS of
 * 0).
 */
int plat_sendopt_note(int fd, int level, int name, const void *val,
    socklen_t len, struct plat_sendopts *o);
/*
 * Those fd (a socket of family) has that differ from a fresh socket's,
 * at join: o, or o unchanged if no socket can be had to compare.
 */
void plat_sendopts_read(int fd, int family, struct plat_sendopts *o);
/*
 * The ith (from 0) of them, or NULL: the option (level, name), the
 * control message that sets it for one datagram (type, at level), of
 * size bytes (an int, or a uint16_t); the value setsockopt takes as
 * "the default"; whether a multicast send ignores it (the unicast TTL:
 * its own option sets a multicast one's).
 */
struct plat_sendopt {
	int	level, name, type;
	size_t	size;
	int	unset;
	int	unicast;
};
const struct plat_sendopt *plat_sendopt_nth(size_t i);

/*
 * Options a member of the shared way set before bind that the group's
 * one socket takes too (the receive reports): from -> to.
 */
void plat_udp_opts_copy(int from, int to);

/*
 * Up to n (at most PLAT_BATCH) datagrams from fd without waiting, into
 * hdrs: how many (lens[i] the length of each), or -1 with errno (EAGAIN:
 * none).  One system call where the kernel has one (recvmmsg).
 */
#define	PLAT_BATCH	64
int plat_recv_batch(int fd, struct msghdr *hdrs, unsigned *lens,
    unsigned n);
/*
 * v[0..n) (n at most PLAT_BATCH) to fd in order without waiting, in one
 * system call where the kernel has one (sendmmsg): how many went, or -1
 * with errno if not even the first did; *err, the errno of the one that
 * did not go, or 0 where the kernel does not tell (sendmmsg's short
 * count).
 */
int plat_send_batch(int fd, struct msghdr *const *v, unsigned n, int *err);

#endif /* SHIM_PLATFORM_H */
