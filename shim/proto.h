/*
 * proto.h: the records members and owners exchange over a Unix stream.
 *
 * Every record has the same size, so a reader that shares an endpoint
 * with other processes (after fork) takes whole records or nothing, and a
 * stream parser needs no length field to trust.  Fields have fixed widths
 * and offsets: a 32-bit and a 64-bit program may share one owner.
 *
 *   member -> owner: HELLO (arg = pid, seq = HELLO_* capabilities),
 *                    LISTEN (arg = backlog),
 *                    ACK (seq = connection taken; with a board, sent only
 *                    to wake the owner, see ackmem.h), UNLISTEN,
 *                    IDLE (seq = the last CONN it received),
 *                    RETURN (seq = a CONN whose fd it could not take,
 *                    out of fds: give that connection to another)
 *   owner -> member: WELCOME (addr = the group's address, arg = policy,
 *                    or -1: refused, the group is full; with an fd, the
 *                    ack board and seq = this endpoint's slot on it),
 *                    LISTEN_OK (arg = errno, opts = listener options),
 *                    CONN (seq, addr = peer) with one fd
 *
 * A status client (reuseport-shim stat) sends STAT instead of HELLO and
 * gets STAT_GROUP (seq = owner pid, arg = endpoints that follow, addr,
 * opts = STAT_G_*), then arg STAT_EP records (seq = endpoint id, arg =
 * the pid that joined, opts = STAT_E_*), then end of stream.  STOP
 * (reuseport-shim stop) ends the group: the owner closes everything.
 * SETOPT (opts = level, name, int value), also on a connection of its
 * own, sets an option of the listener itself (plat_opt_on_listener) for
 * a member; the owner answers SETOPT (arg = errno) once it is set.
 * MIRROR records go from an owner to its standby only (standby.h).
 * GONE (owner -> member, with the owner's own end of that endpoint as its
 * fd) ends a group on purpose (reuseport-shim stop): see accept.c.
 *
 * A UDP group's owner answers HELLO with WELCOME (arg = the way, see
 * udp.h) carrying the group's real socket, then, unless the way is
 * shared, DGRAM carrying the member's end of its datagram pair (arg:
 * PROTO_DGRAM_* features; 0 from an owner of an earlier build).  The
 * connection stays open for as long as the member is one, quiet but
 * for SETOPT (opts[0] = the PLAT_PKT_REPORTS its application asks for
 * now; opts[1], where DGRAM said PROTO_DGRAM_RCVBUF, its receive
 * buffer in bytes as its kernel socket keeps it), which a member sends
 * where DGRAM said PROTO_DGRAM_REPORTS and the owner answers (arg 0)
 * once its socket reports what its members ask and holds what their
 * buffers would (an owner of an earlier build reads opts[0] only).
 * STAT_GROUP and STAT_EP say DELIVERED for datagrams forwarded.
 */
#ifndef SHIM_PROTO_H
#define SHIM_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define	PROTO_MAGIC	0x48535052u	/* "RPSH" read as bytes */
/* DGRAM's arg: the owner takes SETOPT for the TTL and TOS reports. */
#define	PROTO_DGRAM_REPORTS	0x1
/* And for the member's receive buffer (opts[1]), which it adds up. */
#define	PROTO_DGRAM_RCVBUF	0x2
#define	PROTO_REC_SIZE	96
#define	PROTO_MAX_OPTS	12	/* fills the record: (96 - 48) / 4 */

/*
 * HELLO's seq: what the member can take.  An owner sends the ack board
 * (WELCOME with an fd) only to a member that says so, so members and
 * owners of different builds still talk (an endpoint inherited across
 * an exec of a newer build, during a binary upgrade).
 */
#define	HELLO_TAKES_BOARD	0x1U
/*
 * A UDP member says which TTL and TOS reports it asks for (above
 * HELLO_REPORTS_SHIFT, PLAT_PKT_REPORTS) and will say when that changes
 * (SETOPT); one of an earlier build does not, and gets them all.
 */
#define	HELLO_TELLS_REPORTS	0x2U
/*
 * A UDP member takes a datagram whose payload comes in a file passed
 * with its header (dgram.h in_file): one too large for its queue with
 * the header (illumos's Unix datagrams carry 65536 bytes at most).
 */
#define	HELLO_TAKES_FILE	0x4U
/*
 * A member of a UDP group's shared way tells its receive buffer (SETOPT
 * opts[1]) where the owner's WELCOME says it takes it: WELCOME_TAKES_TELLS
 * in its seq, sent only to a member that said HELLO_TELLS_SHARED (one of
 * an earlier build reads that seq as a count: 0, the first member).
 */
#define	HELLO_TELLS_SHARED	0x8U
#define	WELCOME_TAKES_TELLS	0x80000000U
#define	HELLO_REPORTS_SHIFT	8

enum proto_type {
	REC_HELLO = 1,
	REC_WELCOME,
	REC_LISTEN,
	REC_LISTEN_OK,
	REC_CONN,
	REC_ACK,
	REC_UNLISTEN,
	REC_STAT,
	REC_STAT_GROUP,
	REC_STAT_EP,
	REC_IDLE,		/* member: waiting; seq = last CONN it took */
	REC_RETURN,		/* member: cannot take CONN seq: hand it on */
	REC_STOP,		/* status client: end the group now */
	REC_SETOPT,		/* set an option on the listener; its answer */
	REC_MIRROR,		/* owner -> its standby (standby.h) */
	REC_GONE,		/* owner: the group ends; fd = our end */
	REC_DGRAM,		/* UDP owner: fd = the member's datagram end */
	REC_TYPE_END		/* one past the last valid type */
};

/* STAT_GROUP options. */
enum {
	STAT_G_POLICY = 0,	/* enum shim_policy */
	STAT_G_UPTIME,		/* seconds */
	STAT_G_DELIVERED_LO,	/* connections accepted by members */
	STAT_G_DELIVERED_HI,
	STAT_G_WAITING,		/* connections waiting for an endpoint */
	STAT_G_LINGER,		/* REUSEPORT_SHIM_LINGER_MS */
	STAT_G_RUN,		/* roundrobin's run now; 0: not told */
	STAT_G_STANDBY,		/* the standby's pid; 0: none now */
	STAT_G_TAKEOVERS,	/* standbys that took over from an owner */
	STAT_G_UDP,		/* 1: a UDP group (policy may be shared) */
	STAT_G_DROPS_LO,	/* UDP: datagrams no member could take */
	STAT_G_DROPS_HI,
	STAT_G_COUNT
};

/* STAT_EP options. */
enum {
	STAT_E_STATE = 0,	/* 1 joined, 2 listening */
	STAT_E_UNACKED,
	STAT_E_DELIVERED_LO,
	STAT_E_DELIVERED_HI,
	STAT_E_IDLE,		/* its application waits for a connection */
	STAT_E_FIRST,		/* the member that started the group */
	STAT_E_BUSY_US,		/* its time per connection; 0: not measured */
	STAT_E_PID0,		/* processes that accept on it lately, */
	STAT_E_PID1,		/* the latest first; 0: none (yet) */
	STAT_E_PID2,
	STAT_E_PID3,
	STAT_E_DROPS,		/* UDP: datagrams dropped, its queue full */
	STAT_E_COUNT
};
_Static_assert(STAT_G_COUNT <= PROTO_MAX_OPTS, "STAT_GROUP fits a record");
_Static_assert(STAT_E_COUNT <= PROTO_MAX_OPTS, "STAT_EP fits a record");
#define	STAT_PIDS	(STAT_E_PID3 + 1 - STAT_E_PID0)

/*
 * Options a status client must get; the ones after (RUN, STANDBY,
 * TAKEOVERS, BUSY_US) are newer, and an owner of an older build leaves
 * them out.
 */
#define	STAT_G_REQUIRED	STAT_G_RUN
#define	STAT_E_REQUIRED	STAT_E_BUSY_US

/* An IPv4 or IPv6 socket address, independent of the C library's layout. */
struct proto_addr {
	uint16_t	family;		/* AF_INET or AF_INET6 */
	uint16_t	port;		/* network order */
	uint32_t	flowinfo;
	uint32_t	scope_id;
	uint8_t		addr[16];	/* network order; 4 bytes for IPv4 */
};

/* A proto_addr as bytes: family 2, port 2, flow 4, scope 4, addr 16. */
#define	PROTO_ADDR_SIZE	28
void proto_addr_put(uint8_t *p, const struct proto_addr *a);
void proto_addr_get(const uint8_t *p, struct proto_addr *a);

struct proto_rec {
	uint8_t		type;
	uint32_t	seq;
	int32_t		arg;
	struct proto_addr addr;
	uint32_t	nopts;
	int32_t		opts[PROTO_MAX_OPTS];
};

/*
 * Which records carry an fd: CONN exactly one (the connection), WELCOME
 * one or none (the ack board, see ackmem.h), the others none.
 */
int proto_type_has_fd(int type);	/* must carry one */
int proto_type_may_fd(int type);	/* may carry one */

void proto_encode(const struct proto_rec *r, uint8_t out[PROTO_REC_SIZE]);
/* 0, or -1 if the bytes are not a valid record (magic, version, type...). */
int proto_decode(const uint8_t in[PROTO_REC_SIZE], struct proto_rec *r);

int proto_addr_from_sockaddr(struct proto_addr *pa, const struct sockaddr *sa,
    socklen_t len);
/* Returns the length of the sockaddr written into ss. */
socklen_t proto_addr_to_sockaddr(const struct proto_addr *pa,
    struct sockaddr_storage *ss);

/*
 * Send one record, with connfd attached when >= 0.  0, or -1 with errno;
 * a record only partly sent (never seen for one small record on Linux)
 * is reported as EPIPE: the stream can no longer be parsed.
 */
int proto_send(int fd, const struct proto_rec *r, int connfd);
/*
 * len bytes of buf as one message, with passfd attached when >= 0; one
 * sendmsg with flags (and no SIGPIPE): what it returns.
 */
ssize_t proto_send_fd(int fd, const void *buf, size_t len, int passfd,
    int flags);

/*
 * Receive one whole record.  *connfd gets the fd that came with it or -1;
 * flags are recvmsg flags (close-on-exec receipt).  Blocks or not as the
 * socket does; EAGAIN means no record was taken.  Returns
 * 1, 0 at end of stream, or -1 with errno (EPROTO: not a valid record, or
 * an fd where none belongs, or none where one does; any fd is closed;
 * EMFILE: a valid record whose fd the kernel could not give us, out of
 * fds: *r holds it).
 */
int proto_recv(int fd, struct proto_rec *r, int *connfd, int flags);

/* Close every fd the control messages of mh carried. */
void proto_close_fds(struct msghdr *mh);
/*
 * The one fd mh's control messages carried, or -1 if they carried none
 * or more than one; *nfds, how many.
 */
int proto_only_fd(struct msghdr *mh, int *nfds);

#endif /* SHIM_PROTO_H */
