/*
 * test_accept.c: accept() on an endpoint that another thread closes or
 * shuts down, or whose board slot the owner retires, while the call is
 * between reading a connection and acknowledging it (issue 12: one
 * connection served twice).  This process plays the owner: a socket pair
 * stands for the endpoint, the CONN records and the ack board are made
 * here, and the real recvmsg is wrapped so that "another thread" acts at
 * the one moment that matters: after the record was read, before the
 * connection is acknowledged.  No threads, no waiting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ackmem.h"
#include "fakes.h"
#include "fdtab.h"
#include "proto.h"
#include "real.h"
#include "shim.h"

#define	SLOT	5

static struct {
	int		ep;		/* the member's endpoint */
	int		own;		/* the owner's end of it */
	int		peer;		/* the client's end of the connection */
	struct shim_sock *sk;
	struct ackmem_board *b;
	struct ackmem	*m;
	int		boardfd;
} t;

static ssize_t (*next_recvmsg)(int, struct msghdr *, int);
static void (*between)(void);

/* The real recvmsg, then once what "another thread" does meanwhile. */
static ssize_t
hooked_recvmsg(int fd, struct msghdr *mh, int flags)
{
	ssize_t n = next_recvmsg(fd, mh, flags);
	void (*f)(void) = between;

	if (n > 0 && f != NULL) {
		between = NULL;
		f();
	}
	return (n);
}

/*
 * An endpoint at t.ep, listening (SK_ENDPOINT), acking on board slot
 * SLOT from seq 10 if board, else by record; a connection queued on it
 * as CONN seq with prev (its client end at t.peer, our copy closed: only
 * the one in flight is left).
 */
static void
endpoint(int board, uint32_t prev, uint32_t seq)
{
	sigset_t saved;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t.ep = sv[0];
	t.own = sv[1];
	assert_non_null(t.sk = sock_new(AF_INET));
	t.sk->state = SK_ENDPOINT;
	t.m = NULL;
	if (board) {
		assert_non_null(t.b = ackmem_create(&t.boardfd));
		ackmem_reset(t.b, SLOT, 10);
		assert_non_null(t.m = ackmem_attach(t.boardfd, SLOT));
		t.sk->ack = t.m;
	}
	fdtab_lock(&saved);
	assert_int_equal(fdtab_put(t.ep, t.sk), 0);
	fdtab_unlock(&saved);
	assert_true((t.peer = fake_conn(t.own, prev, seq)) >= 0);
}

/* The connection's only other copy is closed: its client end reads EOF. */
static int
conn_closed(void)
{
	char ch;
	ssize_t n;

	(void) fcntl(t.peer, F_SETFL, O_NONBLOCK);
	n = read(t.peer, &ch, 1);
	return (n == 0);
}

/* The next record the owner's end has: its type and seq, or -1. */
static int
owner_got(uint32_t *seq)
{
	struct proto_rec r;
	int fd = -1;

	(void) fcntl(t.own, F_SETFL, O_NONBLOCK);
	if (proto_recv(t.own, &r, &fd, 0) != 1)
		return (-1);
	if (fd >= 0)
		(void) close(fd);
	*seq = r.seq;
	return (r.type);
}

static void
done(int cfd)
{
	sigset_t saved;

	if (cfd >= 0)
		(void) close(cfd);
	fdtab_lock(&saved);
	fdtab_forget(t.ep);	/* the sock goes, its board with it */
	fdtab_unlock(&saved);
	(void) close(t.ep);
	(void) close(t.own);
	(void) close(t.peer);
	if (t.b != NULL)
		(void) close(t.boardfd);
	t.b = NULL;
}

/* Another thread's close(): the shim's, as the application calls it. */
static void
act_close(void)
{
	assert_int_equal(shim_close(t.ep), 0);
}

/* The owner saw the endpoint end: its slot retired. */
static void
act_retire(void)
{
	(void) ackmem_retire(t.b, SLOT, 99);
}

static void
act_close_retire(void)
{
	act_close();
	act_retire();
}

/* shutdown(SHUT_RD) in another thread, and the owner's send then failed. */
static void
act_shut_retire(void)
{
	sigset_t saved;

	fdtab_lock(&saved);
	fdtab_get(t.ep)->shut = 1;
	fdtab_unlock(&saved);
	act_retire();
}

static int
accept_with(void (*act)(void))
{
	between = act;
	return (shim_accept(t.ep, NULL, NULL, 0, 0));
}

/*
 * Closed under the accept, acked on the board before the owner saw the
 * end: the connection is ours, as Linux returns a connection that comes
 * to a listener closed under its accept().
 */
static void
test_closed_acked_in_time(void **state)
{
	int cfd;

	(void) state;
	endpoint(1, 10, 11);
	assert_true((cfd = accept_with(act_close)) >= 0);
	assert_int_equal(ackmem_read(t.b, SLOT), 11);
	assert_false(conn_closed());
	t.ep = -1;
	done(cfd);
}

/*
 * The owner saw the end first (the recvmsg that read the record held the
 * last reference) and handed the connection on: not returned, closed.
 */
static void
test_closed_retired_first(void **state)
{
	(void) state;
	endpoint(1, 10, 11);
	errno = 0;
	assert_int_equal(accept_with(act_close_retire), -1);
	assert_int_equal(errno, EBADF);
	assert_true(conn_closed());
	assert_int_equal(ackmem_read(t.b, SLOT), 99);
	t.ep = -1;
	done(-1);
}

/*
 * Out of turn (another thread holds the connection before it), closed:
 * the record that would be its ack has nowhere to go, and on the
 * number's next owner it must not land.
 */
static void
test_closed_out_of_turn(void **state)
{
	uint32_t seq;

	(void) state;
	endpoint(1, 12, 13);
	errno = 0;
	assert_int_equal(accept_with(act_close), -1);
	assert_int_equal(errno, EBADF);
	assert_true(conn_closed());
	assert_int_equal(owner_got(&seq), -1);	/* only the end */
	assert_int_equal(ackmem_read(t.b, SLOT), 10);
	t.ep = -1;
	done(-1);
}

/* Without a board: the same. */
static void
test_closed_no_board(void **state)
{
	(void) state;
	endpoint(0, 10, 11);
	errno = 0;
	assert_int_equal(accept_with(act_close), -1);
	assert_int_equal(errno, EBADF);
	assert_true(conn_closed());
	t.ep = -1;
	done(-1);
}

/* Without a board, nothing in the way: a record, and it is ours. */
static void
test_no_board_record(void **state)
{
	uint32_t seq = 0;
	int cfd;

	(void) state;
	endpoint(0, 10, 11);
	assert_true((cfd = accept_with(NULL)) >= 0);
	assert_int_equal(owner_got(&seq), REC_ACK);
	assert_int_equal(seq, 11);
	assert_false(conn_closed());
	done(cfd);
}

/*
 * Retired while this process still holds the endpoint: the owner ejected
 * it, and what was queued to it stays its own (it may also be a stray
 * write on the board: the record settles that).
 */
static void
test_retired_still_held(void **state)
{
	uint32_t seq = 0;
	int cfd;

	(void) state;
	endpoint(1, 10, 11);
	assert_true((cfd = accept_with(act_retire)) >= 0);
	assert_int_equal(owner_got(&seq), REC_ACK);
	assert_int_equal(seq, 11);
	assert_false(conn_closed());
	done(cfd);
}

/* Shut down for reading, then retired: handed on; EINVAL, as the kernel. */
static void
test_shut_retired(void **state)
{
	(void) state;
	endpoint(1, 10, 11);
	errno = 0;
	assert_int_equal(accept_with(act_shut_retire), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(conn_closed());
	done(-1);
}

/*
 * The owner sleeps; the board ack made it, the wake record cannot go
 * (closed): the connection is ours, and the next ack wakes the owner.
 */
static void
test_wake_after_close(void **state)
{
	struct ackmem *other;
	int cfd;

	(void) state;
	endpoint(1, 10, 11);
	ackmem_reset(t.b, SLOT + 1, 50);
	assert_non_null(other = ackmem_attach(t.boardfd, SLOT + 1));
	ackmem_sleeping(t.b, 1);
	assert_true((cfd = accept_with(act_close)) >= 0);
	assert_int_equal(ackmem_read(t.b, SLOT), 11);
	assert_int_equal(ackmem_ack(other, 50, 51), ACKMEM_WAKE);
	ackmem_release(other);
	t.ep = -1;
	done(cfd);
}

/* errno is the caller's on success. */
static void
test_errno_kept(void **state)
{
	int cfd;

	(void) state;
	endpoint(1, 10, 11);
	errno = 1234;
	assert_true((cfd = accept_with(NULL)) >= 0);
	assert_int_equal(errno, 1234);
	done(cfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_acked_in_time),
		cmocka_unit_test(test_closed_retired_first),
		cmocka_unit_test(test_closed_out_of_turn),
		cmocka_unit_test(test_closed_no_board),
		cmocka_unit_test(test_no_board_record),
		cmocka_unit_test(test_retired_still_held),
		cmocka_unit_test(test_shut_retired),
		cmocka_unit_test(test_wake_after_close),
		cmocka_unit_test(test_errno_kept),
	};

	shim_init();
	next_recvmsg = real.recvmsg;
	real.recvmsg = hooked_recvmsg;
	/* A peer gone while we write must not kill the test. */
	(void) signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests_name("accept", tests, NULL, NULL));
}
