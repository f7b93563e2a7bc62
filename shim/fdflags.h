/*
 * fdflags.h: what the flags of the calls that make fds mean: accept4's
 * SOCK_ flags (accept.c) and fcntl's duplicating commands (fdops.c).
 * The rules take the system's values as arguments, so that unit tests
 * can drive them with another system's (illumos's SOCK_NDELAY and
 * SOCK_CLOFORK, F_DUP2FD, F_DUP3FD) on any build machine.
 */
#ifndef SHIM_FDFLAGS_H
#define SHIM_FDFLAGS_H

/* accept4's flag bits and what they set; a bit the system lacks is 0. */
struct accept_bits {
	int	sock_cloexec;
	int	sock_nonblock;
	int	sock_ndelay;	/* illumos: O_NDELAY on the new fd */
	int	sock_clofork;	/* illumos: FD_CLOFORK on the new fd */
	int	fd_cloexec;
	int	fd_clofork;
	int	o_nonblock;
	int	o_ndelay;
	int	inherit;	/* listener's O_NONBLOCK/O_NDELAY carry over */
};

/* This system's bits. */
void accept_bits_sys(struct accept_bits *b);
/* 0, or EINVAL if flags has a bit the kernel's accept4 does not know. */
int accept_flags_check(const struct accept_bits *b, int flags);
/* The fd flags (F_SETFD) a connection accepted with flags gets. */
int accept_fd_flags(const struct accept_bits *b, int flags);
/*
 * The file status flags (F_SETFL) it gets, lfl being the listener's
 * (F_GETFL; read only where b->inherit).
 */
int accept_fl_flags(const struct accept_bits *b, int flags, int lfl);

/* What an fcntl command does to the fd table. */
enum fcntl_dup {
	FCNTL_NODUP = 0,
	FCNTL_DUPFD,	/* a new fd, the lowest free one >= arg */
	FCNTL_DUP2FD,	/* fd arg, which is closed first if open */
	FCNTL_DUP3FD	/* the same, with fd flags in a fourth argument */
};

/* This system's kind of cmd. */
enum fcntl_dup fcntl_dup_kind(int cmd);
/* shim_fcntl once cmd's kind is known. */
int fdops_fcntl(int fd, int cmd, enum fcntl_dup kind, void *arg, int arg1);

#endif /* SHIM_FDFLAGS_H */
