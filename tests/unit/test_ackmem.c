/*
 * test_ackmem.c: the ack board, owner and member side in one process (and
 * across a fork), without sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ackmem.h"
#include "fakes.h"

struct seen {
	size_t		n;
	size_t		slot[8];
	uint32_t	seq[8];
	uint32_t	busy[8];
	uint32_t	idle[8];
};

static void
record(void *arg, size_t i, const struct ackmem_mark *mk)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->slot[s->n] = i;
		s->seq[s->n] = mk->seq;
		s->busy[s->n] = mk->busy;
		s->idle[s->n] = mk->idle;
	}
	s->n++;
}

/* What slot i holds. */
static uint32_t
slot_of(struct ackmem_board *b, size_t i)
{
	return (ackmem_read(b, i));
}

static struct ackmem_board *
board(int *fd)
{
	struct ackmem_board *b = ackmem_create(fd);

	assert_non_null(b);
	assert_true(*fd >= 0);
	return (b);
}

static void
test_ack_is_collected_once(void **state)
{
	struct seen s = { 0 };
	struct ackmem *m;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 3, 100);
	assert_non_null(m = ackmem_attach(fd, 3));
	assert_int_equal(close(fd), 0);	/* the mapping outlives the fd */
	assert_int_equal(ackmem_ack(m, 100, 101), ACKMEM_ACKED);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 1);
	assert_int_equal(s.slot[0], 3);
	assert_int_equal(s.seq[0], 101);
	assert_int_equal(slot_of(b, 3), 101);
	s.n = 0;
	assert_int_equal(ackmem_collect(b, 16, record, &s), 0);
	assert_int_equal(s.n, 0);
	ackmem_release(m);
}

/*
 * Two processes of one endpoint may ack out of order: the later one may
 * not cover the earlier (its process could still die before acking), so
 * it goes by record and the slot stays; in turn, the board takes it.
 */
static void
test_slot_moves_in_turn_only(void **state)
{
	struct ackmem *m;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 0, 10);
	assert_non_null(m = ackmem_attach(fd, 0));
	/* 11 not yet taken */
	assert_int_equal(ackmem_ack(m, 11, 12), ACKMEM_RECORD);
	assert_int_equal(slot_of(b, 0), 10);
	assert_int_equal(ackmem_ack(m, 10, 11), ACKMEM_ACKED);
	assert_int_equal(slot_of(b, 0), 11);
	/* Sequence numbers wrap: only equality counts. */
	assert_true(ackmem_repair(b, 0, 11, 0xfffffff0U) == 0);
	assert_int_equal(ackmem_ack(m, 0xfffffff0U, 5), ACKMEM_ACKED);
	assert_int_equal(slot_of(b, 0), 5);
	assert_int_equal(ackmem_ack(m, 0xfffffff0U, 0xfffffff8U),
	    ACKMEM_RECORD);
	assert_int_equal(slot_of(b, 0), 5);
	ackmem_release(m);
	(void) close(fd);
}

/* The first ack while the owner sleeps wakes it; the next ones don't. */
static void
test_sleeping_owner_woken_once(void **state)
{
	struct ackmem *m1, *m2;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	assert_non_null(m1 = ackmem_attach(fd, 1));
	assert_non_null(m2 = ackmem_attach(fd, 2));
	/* Awake: nobody to wake. */
	assert_int_equal(ackmem_ack(m1, 0, 1), ACKMEM_ACKED);
	ackmem_sleeping(b, 1);
	assert_int_equal(ackmem_ack(m2, 0, 2), ACKMEM_WAKE);
	assert_int_equal(ackmem_ack(m1, 1, 3), ACKMEM_ACKED);
	ackmem_sleeping(b, 1);
	assert_int_equal(ackmem_ack(m1, 3, 4), ACKMEM_WAKE);
	ackmem_sleeping(b, 0);
	assert_int_equal(ackmem_ack(m2, 2, 5), ACKMEM_ACKED);
	ackmem_release(m1);
	ackmem_release(m2);
	(void) close(fd);
}

/*
 * An ack that moves nothing (a late one from an endpoint the owner
 * retired) says so, and must not take the wake flag from the member
 * whose ack is real.
 */
static void
test_stale_ack_leaves_flag(void **state)
{
	struct ackmem *gone, *live;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 3, 100);
	assert_non_null(gone = ackmem_attach(fd, 3));
	assert_non_null(live = ackmem_attach(fd, 4));
	assert_int_equal(ackmem_retire(b, 3, 200), 100);
	ackmem_sleeping(b, 1);
	assert_int_equal(ackmem_ack(gone, 100, 150), ACKMEM_RETIRED);
	assert_int_equal(slot_of(b, 3), 200);
	assert_int_equal(ackmem_ack(live, 0, 201), ACKMEM_WAKE);
	/* A wake that could not be sent is owed by the next one. */
	ackmem_rewake(live);
	assert_int_equal(ackmem_ack(live, 201, 202), ACKMEM_WAKE);
	ackmem_release(gone);
	ackmem_release(live);
	(void) close(fd);
}

/*
 * The close race (issue 12): an ack that comes after the owner retired
 * the slot (it saw the endpoint end and handed on what had not been
 * acknowledged) says RETIRED, not RECORD: the member must not take the
 * connection for its own.  So it does whatever the slot reads by then:
 * retired, or reset for the endpoint that took the slot next.  While the
 * endpoint lives, an ack out of turn is a record, as before.
 */
static void
test_retired_marker(void **state)
{
	struct ackmem *a, *c, *d;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 6, 100);
	assert_non_null(a = ackmem_attach(fd, 6));
	assert_int_equal(ackmem_ack(a, 101, 102), ACKMEM_RECORD);
	assert_int_equal(ackmem_ack(a, 100, 101), ACKMEM_ACKED);
	/* The owner's last look has the ack made before it. */
	assert_int_equal(ackmem_retire(b, 6, 300), 101);
	assert_int_equal(ackmem_ack(a, 101, 102), ACKMEM_RETIRED);
	assert_int_equal(slot_of(b, 6), 300);
	/* The next endpoint in the slot: the old one's acks stay retired. */
	ackmem_reset(b, 6, 400);
	assert_non_null(c = ackmem_attach(fd, 6));
	assert_int_equal(ackmem_ack(a, 102, 103), ACKMEM_RETIRED);
	assert_int_equal(slot_of(b, 6), 400);
	assert_int_equal(ackmem_ack(c, 400, 401), ACKMEM_ACKED);
	assert_int_equal(ackmem_ack(c, 402, 403), ACKMEM_RECORD);
	/* Mapped after its endpoint was retired: retired from the start. */
	assert_int_equal(ackmem_retire(b, 6, 500), 401);
	assert_non_null(d = ackmem_attach(fd, 6));
	assert_int_equal(ackmem_ack(d, 401, 402), ACKMEM_RETIRED);
	/* Other slots live on. */
	ackmem_reset(b, 7, 10);
	ackmem_release(d);
	assert_non_null(d = ackmem_attach(fd, 7));
	assert_int_equal(ackmem_ack(d, 10, 11), ACKMEM_ACKED);
	ackmem_release(a);
	ackmem_release(c);
	ackmem_release(d);
	(void) close(fd);
}

/*
 * The ack and the owner's retirement at the same moment, many times (the
 * owner waits a random moment after the start, so that both orders
 * come): the connection is in the owner's last look at the slot or the
 * member hears RETIRED, exactly one of the two.
 */
#define	RACE_ROUNDS	2000

static struct {
	atomic_int	round;		/* the round the ack may go in */
	atomic_int	done;		/* the last round it went in */
	struct ackmem	*m;
	uint32_t	base;
	int		said;
} race;

static void *
race_acker(void *arg)
{
	(void) arg;
	for (int r = 1; r <= RACE_ROUNDS; r++) {
		while (atomic_load(&race.round) != r)
			(void) sched_yield();
		race.said = ackmem_ack(race.m, race.base, race.base + 1);
		atomic_store(&race.done, r);
	}
	return (NULL);
}

static void
test_retire_race(void **state)
{
	pthread_t t;
	size_t seen = 0, retired = 0, bad = 0;
	uint32_t rnd = 12345;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	atomic_store(&race.round, 0);
	atomic_store(&race.done, 0);
	assert_int_equal(pthread_create(&t, NULL, race_acker, NULL), 0);
	for (int r = 1; r <= RACE_ROUNDS; r++) {
		uint32_t base = (uint32_t)r * 16, last;

		ackmem_reset(b, 9, base);
		assert_non_null(race.m = ackmem_attach(fd, 9));
		race.base = base;
		atomic_store(&race.round, r);
		for (volatile uint32_t k = fake_rand(&rnd) % 2000; k > 0; k--)
			continue;
		last = ackmem_retire(b, 9, base + 2);
		while (atomic_load(&race.done) != r)
			(void) sched_yield();
		if (last == base + 1 && (race.said == ACKMEM_ACKED ||
		    race.said == ACKMEM_WAKE))
			seen++;
		else if (last == base && race.said == ACKMEM_RETIRED)
			retired++;
		else
			bad++;
		ackmem_release(race.m);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(seen + retired, RACE_ROUNDS);
	(void) close(fd);
}

/* The same across processes: a member mapped in a child hears it. */
static void
test_retired_across_fork(void **state)
{
	int fd, st, p1[2], p2[2];
	char c = 0;
	pid_t pid;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 11, 50);
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ackmem *m = ackmem_attach(fd, 11);

		if (m == NULL || write(p1[1], &c, 1) != 1 ||
		    read(p2[0], &c, 1) != 1)
			_exit(2);
		_exit(ackmem_ack(m, 50, 51) == ACKMEM_RETIRED ? 0 : 1);
	}
	assert_int_equal(read(p1[0], &c, 1), 1);
	assert_int_equal(ackmem_retire(b, 11, 60), 50);
	assert_int_equal(write(p2[1], &c, 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(slot_of(b, 11), 60);
	(void) close(p1[0]);
	(void) close(p1[1]);
	(void) close(p2[0]);
	(void) close(p2[1]);
	(void) close(fd);
}

/* Off (a record went missing): records from now on, the slot untouched. */
static void
test_off_means_records(void **state)
{
	struct ackmem *m;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 2, 10);
	assert_non_null(m = ackmem_attach(fd, 2));
	ackmem_off(m);
	assert_int_equal(ackmem_ack(m, 10, 12), ACKMEM_RECORD);
	assert_int_equal(slot_of(b, 2), 10);
	/* Off and retired: retired still (the owner let go of it). */
	(void) ackmem_retire(b, 2, 20);
	assert_int_equal(ackmem_ack(m, 20, 21), ACKMEM_RETIRED);
	assert_int_equal(slot_of(b, 2), 20);
	ackmem_release(m);
	(void) close(fd);
}

/*
 * leastloaded: a wait says what was taken last, marked only when that
 * changes; an ack while another thread waits says it too.  An older
 * owner's board (no features) and a board turned off take records.
 */
static void
test_idle_word(void **state)
{
	struct seen s = { 0 };
	struct ackmem *m;
	uint32_t *hdr;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 2, 100);
	assert_non_null(m = ackmem_attach(fd, 2));
	assert_int_equal(ackmem_collect(b, 16, record, &s), 0);
	assert_true(ackmem_idle_ok(m));
	assert_int_equal(ackmem_wait(m), 0);
	ackmem_waited(m);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 1);
	assert_int_equal(s.slot[0], 2);
	assert_int_equal(s.idle[0], 0);		/* nothing taken yet */
	s.n = 0;
	assert_int_equal(ackmem_wait(m), 0);	/* unchanged: no mark */
	ackmem_waited(m);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 0);

	/* Taken, nobody waiting: the ack only. */
	assert_int_equal(ackmem_ack(m, 100, 101), ACKMEM_ACKED);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 1);
	assert_int_equal(s.seq[0], 101);
	assert_int_equal(s.idle[0], 0);
	s.n = 0;
	/* One thread waits on; another takes 102: idle, having taken it. */
	assert_int_equal(ackmem_wait(m), 0);
	assert_int_equal(ackmem_ack(m, 101, 102), ACKMEM_ACKED);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 1);
	assert_int_equal(s.seq[0], 102);
	assert_int_equal(s.idle[0], 102);
	ackmem_waited(m);
	ackmem_off(m);
	assert_false(ackmem_idle_ok(m));
	assert_int_equal(ackmem_wait(m), -1);
	ackmem_release(m);

	/* An older build's board: 0 in its features word (third). */
	hdr = mmap(NULL, 64, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(hdr != MAP_FAILED);
	hdr[2] = 0;
	assert_non_null(m = ackmem_attach(fd, 2));
	assert_false(ackmem_idle_ok(m));
	assert_int_equal(ackmem_wait(m), -1);
	ackmem_release(m);
	assert_int_equal(munmap(hdr, 64), 0);
	(void) close(fd);
}

/*
 * The idle word and what was taken move forward only: acks out of order
 * (threads) and a process that took less (fork) do not set them back.
 * A fork's child does not inherit its parent's waiting threads.
 */
static void
test_idle_forward_only(void **state)
{
	struct seen s = { 0 };
	struct ackmem *m1, *m2;
	int fd, st;
	pid_t pid;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 5, 100);
	assert_non_null(m1 = ackmem_attach(fd, 5));
	assert_non_null(m2 = ackmem_attach(fd, 5));
	/* 102's ack comes before 101's: the latest taken is still 102. */
	assert_int_equal(ackmem_ack(m1, 101, 102), ACKMEM_RECORD);
	assert_int_equal(ackmem_ack(m1, 100, 101), ACKMEM_ACKED);
	assert_int_equal(ackmem_last(m1), 102);
	assert_int_equal(ackmem_wait(m1), 0);
	ackmem_waited(m1);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 1);
	assert_int_equal(s.idle[0], 102);
	/* Another process of the endpoint, having taken nothing, waits. */
	s.n = 0;
	assert_int_equal(ackmem_wait(m2), 0);
	ackmem_waited(m2);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 0);

	/* The parent waits; its child takes 103 and is busy with it. */
	assert_int_equal(ackmem_wait(m1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(ackmem_ack(m1, 101, 103) == ACKMEM_ACKED ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(ackmem_collect(b, 16, record, &s), 1);
	assert_int_equal(s.seq[0], 103);
	assert_int_equal(s.idle[0], 102);	/* not "idle, having 103" */
	ackmem_waited(m1);
	ackmem_release(m1);
	ackmem_release(m2);
	(void) close(fd);
}

/* collect(n) looks at slots below n only; the others wait their turn. */
static void
test_collect_bounded(void **state)
{
	struct seen s = { 0 };
	struct ackmem *m;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	assert_non_null(m = ackmem_attach(fd, 40));
	(void) ackmem_ack(m, 0, 7);
	assert_int_equal(ackmem_collect(b, 32, record, &s), 0);
	assert_int_equal(ackmem_collect(b, 41, record, &s), 1);
	assert_int_equal(s.slot[0], 40);
	/* A slot of the right word past n: not reported, still marked. */
	s.n = 0;
	(void) ackmem_ack(m, 7, 8);
	assert_int_equal(ackmem_collect(b, 40, record, &s), 0);
	assert_int_equal(ackmem_collect(b, 64, record, &s), 1);
	assert_int_equal(s.seq[0], 8);
	ackmem_release(m);
	(void) close(fd);
}

/* Slot out of range, a file too small, a file that is no board. */
static void
test_attach_refuses(void **state)
{
	char path[] = "/tmp/ackmem-test.XXXXXX";
	static char junk[300000];
	int fd, f;

	(void) state;
	(void) board(&fd);
	assert_null(ackmem_attach(fd, ACKMEM_SLOTS));
	(void) close(fd);
	assert_true((f = mkstemp(path)) >= 0);
	(void) unlink(path);
	assert_int_equal(write(f, junk, 100), 100);
	assert_null(ackmem_attach(f, 0));
	memset(junk, 0x5a, sizeof (junk));
	assert_int_equal(write(f, junk, sizeof (junk)), (ssize_t)sizeof (junk));
	assert_null(ackmem_attach(f, 0));
	(void) close(f);
}

/* A hold keeps the mapping for an accept() that outlives the socket. */
static void
test_hold_outlives_release(void **state)
{
	struct ackmem *m;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	assert_non_null(m = ackmem_attach(fd, 5));
	ackmem_hold(m);
	ackmem_release(m);		/* the socket's reference */
	/* Still mapped. */
	assert_int_equal(ackmem_ack(m, 0, 9), ACKMEM_ACKED);
	assert_int_equal(slot_of(b, 5), 9);
	ackmem_release(m);
	(void) close(fd);
}

/* A member in another process: what it writes, the owner reads. */
/* The time an application keeps away: measured, averaged, per slot. */
static uint32_t
busy_now(struct ackmem_board *b, struct ackmem *m, uint32_t seq)
{
	struct seen s = { 0 };

	assert_int_equal(ackmem_ack(m, seq - 1, seq), ACKMEM_ACKED);
	assert_int_equal(ackmem_collect(b, 8, record, &s), 1);
	return (s.busy[0]);
}

static void
test_busy_average(void **state)
{
	struct ackmem *m;
	uint32_t seq = 0;
	int fd;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_reset(b, 5, 0);
	assert_non_null(m = ackmem_attach(fd, 5));
	/* Not measured yet reads 0; a first sample of 0 us reads 1. */
	assert_int_equal(busy_now(b, m, ++seq), 0);
	ackmem_busy(m, 0);
	assert_int_equal(busy_now(b, m, ++seq), 1);
	/* The first sample is taken whole, later ones count 1/8. */
	ackmem_clear_busy(b, 5);
	ackmem_busy(m, 5);
	assert_int_equal(busy_now(b, m, ++seq), 5);
	ackmem_busy(m, 805);	/* 5 + 800 / 8 */
	assert_int_equal(busy_now(b, m, ++seq), 105);
	/*
	 * Samples close to the average move it too (in whole microseconds
	 * a 5 us average would never see a run of 12 us samples).
	 */
	ackmem_clear_busy(b, 5);
	ackmem_busy(m, 5);
	for (int k = 0; k < 40; k++)
		ackmem_busy(m, 12);
	assert_in_range(busy_now(b, m, ++seq), 11, 12);
	/* A clock gone backwards (a huge difference): bounded. */
	ackmem_busy(m, UINT64_MAX);
	assert_in_range(busy_now(b, m, ++seq), 1U << 24, 1U << 28);
	/* A new endpoint in the slot starts unmeasured. */
	ackmem_clear_busy(b, 5);
	assert_int_equal(busy_now(b, m, ++seq), 0);
	ackmem_release(m);
	(void) close(fd);
}

static void
test_across_fork(void **state)
{
	struct seen s = { 0 };
	int fd, st;
	pid_t pid;
	struct ackmem_board *b = board(&fd);

	(void) state;
	ackmem_sleeping(b, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ackmem *m = ackmem_attach(fd, 7);

		_exit(m != NULL && ackmem_ack(m, 0, 77) == ACKMEM_WAKE ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(ackmem_collect(b, 8, record, &s), 1);
	assert_int_equal(s.slot[0], 7);
	assert_int_equal(s.seq[0], 77);
	(void) close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_is_collected_once),
		cmocka_unit_test(test_slot_moves_in_turn_only),
		cmocka_unit_test(test_sleeping_owner_woken_once),
		cmocka_unit_test(test_stale_ack_leaves_flag),
		cmocka_unit_test(test_retired_marker),
		cmocka_unit_test(test_retire_race),
		cmocka_unit_test(test_retired_across_fork),
		cmocka_unit_test(test_off_means_records),
		cmocka_unit_test(test_idle_word),
		cmocka_unit_test(test_idle_forward_only),
		cmocka_unit_test(test_collect_bounded),
		cmocka_unit_test(test_attach_refuses),
		cmocka_unit_test(test_hold_outlives_release),
		cmocka_unit_test(test_busy_average),
		cmocka_unit_test(test_across_fork),
	};

	return (cmocka_run_group_tests_name("ackmem", tests, NULL, NULL));
}
