/*
 * test_policy.c: endpoint selection, without sockets: the owner's view of
 * its endpoints is an array, and each policy is a function of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "fakes.h"
#include "policy.h"
#include "proto.h"

#define	NCLIENTS	10000

static void
eps_init(struct policy_ep *eps, size_t n)
{
	memset(eps, 0, n * sizeof (*eps));
	for (size_t i = 0; i < n; i++) {
		eps[i].eligible = 1;
		eps[i].listening = 1;
		eps[i].id = (uint32_t)(1000 + i * 7);
	}
}

/*
 * The owner tells the policy of every change to a slot; the tests change
 * the array freely, so tell it all before each choice (an update of a
 * slot that did not change must change nothing).
 */
static size_t
pick(struct policy_state *p, const struct policy_ep *eps, size_t n,
    const struct proto_addr *peer)
{
	assert_int_equal(policy_reserve(p, n), 0);
	for (size_t i = 0; i < n; i++)
		policy_update(p, eps, i);
	return (policy_pick(p, eps, n, peer));
}

static struct proto_addr
peer_v4(uint32_t ip, uint16_t port)
{
	struct proto_addr a;

	memset(&a, 0, sizeof (a));
	a.family = AF_INET;
	a.port = htons(port);
	ip = htonl(ip);
	memcpy(a.addr, &ip, 4);
	return (a);
}

static struct proto_addr
peer_v6(uint32_t *seed, uint16_t port)
{
	struct proto_addr a;

	memset(&a, 0, sizeof (a));
	a.family = AF_INET6;
	a.port = htons(port);
	a.addr[0] = 0x20;
	a.addr[1] = 0x01;
	for (size_t i = 2; i < 16; i++)
		a.addr[i] = (uint8_t)fake_rand(seed);
	return (a);
}

static void
test_roundrobin_order(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(0x7f000001, 1);

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_ROUNDROBIN);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(pick(&p, eps, 4, &peer), i % 4);
}

static void
test_roundrobin_skips_ineligible(void **state)
{
	static const size_t want[] = { 0, 2, 3, 0, 2, 3, 0 };
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(0x7f000001, 1);

	(void) state;
	eps_init(eps, 4);
	eps[1].eligible = 0;
	policy_init(&p, SHIM_POLICY_ROUNDROBIN);
	for (size_t i = 0; i < sizeof (want) / sizeof (want[0]); i++)
		assert_int_equal(pick(&p, eps, 4, &peer), want[i]);

	/* Only the last one left: always it, with the cursor wrapping. */
	eps[0].eligible = eps[2].eligible = 0;
	for (int i = 0; i < 5; i++)
		assert_int_equal(pick(&p, eps, 4, &peer), 3);

	/* Fewer slots than before (an endpoint array that shrank). */
	eps_init(eps, 4);
	assert_true(pick(&p, eps, 2, &peer) < 2);
	assert_true(pick(&p, eps, 2, &peer) < 2);
}

static void
test_none_eligible(void **state)
{
	static const enum shim_policy kinds[] = { SHIM_POLICY_ROUNDROBIN,
	    SHIM_POLICY_HASH, SHIM_POLICY_SRCIP, SHIM_POLICY_LEASTLOADED };
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(0x0a000001, 999);

	(void) state;
	eps_init(eps, 4);
	for (size_t i = 0; i < 4; i++) {
		eps[i].eligible = 0;
		eps[i].idle = 1;	/* idle but not listening: still no */
	}
	for (size_t k = 0; k < sizeof (kinds) / sizeof (kinds[0]); k++) {
		policy_init(&p, kinds[k]);
		assert_int_equal(pick(&p, eps, 4, &peer), 4);
		assert_int_equal(pick(&p, eps, 0, &peer), 0);
		policy_fini(&p);
	}
}

static void
test_roundrobin_exact_fairness(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	size_t counts[5] = { 0 };
	uint32_t seed = 99;

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_ROUNDROBIN);
	for (int i = 0; i < 20000; i++) {
		/* Whatever the peer: round-robin does not look at it. */
		struct proto_addr peer = peer_v4(fake_rand(&seed), 80);

		counts[pick(&p, eps, 4, &peer)]++;
	}
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(counts[i], 5000);
	assert_int_equal(counts[4], 0);
}

/* A run's last connection waits at most 128 us for its worker. */
static void
test_run_for(void **state)
{
	static const struct {
		uint32_t busy, run;
	} t[] = {
		{ 0, 1 }, { 1, 16 }, { 8, 16 }, { 9, 8 }, { 18, 8 }, { 19, 4 },
		{ 42, 4 }, { 43, 2 }, { 128, 2 }, { 129, 1 }, { 100000, 1 },
		{ UINT32_MAX, 1 },
	};

	(void) state;
	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++)
		assert_int_equal(policy_run_for(t[i].busy), t[i].run);
	for (uint32_t busy = 1; busy < 1000; busy++) {
		uint32_t r = policy_run_for(busy);

		assert_true(r >= 1 && r <= POLICY_RUN_MAX && (r & (r - 1)) == 0);
		assert_true((uint64_t)(r - 1) * busy <= 128);
		assert_true(r == POLICY_RUN_MAX || (2 * r - 1) * busy > 128);
	}
}

/* Runs: each endpoint takes its turn of p.run connections in a row. */
static void
test_roundrobin_runs(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(0x7f000001, 1);

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_ROUNDROBIN);
	p.run = 4;
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(pick(&p, eps, 4, &peer), (i / 4) % 4);

	/* An endpoint that stops being eligible ends its run at once. */
	assert_int_equal(pick(&p, eps, 4, &peer), 0);
	eps[0].eligible = 0;
	assert_int_equal(pick(&p, eps, 4, &peer), 1);
	eps[0].eligible = 1;
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pick(&p, eps, 4, &peer), 1);

	/*
	 * Runs stop in the middle of a pass (connections came far apart):
	 * the rest of the pass goes one at a time round those still owed
	 * (0 had 1 of its 4, 2 and 3 none), then a pass of 1 each.
	 */
	static const size_t rest[] = { 2, 3, 0, 2, 3, 0, 2, 3, 0, 2, 3 };

	p.run = 1;
	for (size_t i = 0; i < sizeof (rest) / sizeof (rest[0]); i++)
		assert_int_equal(pick(&p, eps, 4, &peer), rest[i]);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(pick(&p, eps, 4, &peer), i % 4);
	policy_fini(&p);
}

/*
 * Endpoints that come and go (at their cap, leaving) and a group that
 * shrinks and grows, with runs of every length: those eligible all along
 * stay within one quota of each other.
 */
static void
test_roundrobin_runs_flapping(void **state)
{
	struct policy_state p;
	struct policy_ep eps[8];
	struct proto_addr peer = peer_v4(0x7f000001, 1);
	size_t counts[8] = { 0 }, n = 8;
	uint32_t seed = 31337;

	(void) state;
	eps_init(eps, 8);
	policy_init(&p, SHIM_POLICY_ROUNDROBIN);
	for (int step = 0; step < 200000; step++) {
		size_t got, lo, hi;

		if (fake_rand(&seed) % 50 == 0)
			p.run = 1U << (fake_rand(&seed) % 5);
		/* Slots 0 and 1 always; 2..5 flap; 6 and 7 come and go. */
		if (fake_rand(&seed) % 10 == 0) {
			size_t j = 2 + fake_rand(&seed) % 4;

			eps[j].eligible = !eps[j].eligible;
		}
		if (fake_rand(&seed) % 1000 == 0)
			n = n == 8 ? 6 : 8;
		got = pick(&p, eps, n, &peer);
		assert_true(got < n && eps[got].eligible);
		counts[got]++;
		lo = counts[0] < counts[1] ? counts[0] : counts[1];
		hi = counts[0] > counts[1] ? counts[0] : counts[1];
		assert_true(hi - lo <= POLICY_RUN_MAX);
	}
	policy_fini(&p);
}

/* Whatever the runs, no endpoint gets more than one run ahead. */
static void
test_roundrobin_runs_fair(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(0x7f000001, 1);
	size_t counts[5] = { 0 }, lo, hi;
	uint32_t seed = 4242;

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_ROUNDROBIN);
	for (int i = 0; i < 20000; i++) {
		if (i % 100 == 0)
			p.run = 1U << (fake_rand(&seed) % 5);
		counts[pick(&p, eps, 4, &peer)]++;
		lo = hi = counts[0];
		for (size_t k = 1; k < 4; k++) {
			lo = counts[k] < lo ? counts[k] : lo;
			hi = counts[k] > hi ? counts[k] : hi;
		}
		assert_true(hi - lo <= POLICY_RUN_MAX);
	}
	assert_int_equal(counts[4], 0);
}

static unsigned
load_class(const struct policy_ep *e)
{
	return ((e->idle ? 0 : 1000) + e->unacked);
}

/*
 * The owner updates one slot at a time, as things happen, and the index
 * grows under it: after any such history, the choice is an eligible slot
 * (the least loaded for leastloaded), and srcip's is exactly what a fresh
 * index of the same endpoints would choose.
 */
static void
test_index_random(void **state)
{
	static const enum shim_policy kinds[] = { SHIM_POLICY_HASH,
	    SHIM_POLICY_SRCIP, SHIM_POLICY_LEASTLOADED };
	struct policy_ep eps[64];
	uint32_t seed = 777;

	(void) state;
	for (size_t k = 0; k < sizeof (kinds) / sizeof (kinds[0]); k++) {
		struct policy_state p;
		size_t n = 16;

		eps_init(eps, 64);
		policy_init(&p, kinds[k]);
		assert_int_equal(policy_reserve(&p, n), 0);
		for (size_t i = 0; i < n; i++)
			policy_update(&p, eps, i);
		for (int step = 0; step < 20000; step++) {
			size_t i = fake_rand(&seed) % n, got;
			struct policy_ep *e = &eps[i];
			struct proto_addr peer = peer_v4(fake_rand(&seed), 80);
			int any = 0;

			if (step == 5000) {	/* more endpoints: a bigger index */
				assert_int_equal(policy_reserve(&p, 64), 0);
				for (size_t j = n; j < 64; j++)
					policy_update(&p, eps, j);
				n = 64;
			}
			switch (fake_rand(&seed) % 5) {
			case 0:
				e->listening = !e->listening;
				e->eligible = e->listening;
				break;
			case 1:
				e->eligible = e->listening && !e->eligible;
				break;
			case 2:
				e->idle = !e->idle;
				break;
			case 3:
				e->unacked = fake_rand(&seed) % 64;
				break;
			default:
				e->id += 64;	/* another endpoint in the slot */
				break;
			}
			policy_update(&p, eps, i);
			got = policy_pick(&p, eps, n, &peer);
			for (size_t j = 0; j < n; j++)
				any |= eps[j].eligible;
			if (!any) {
				assert_int_equal(got, n);
				continue;
			}
			assert_true(got < n);
			assert_true(eps[got].eligible);
			for (size_t j = 0; j < n && kinds[k] ==
			    SHIM_POLICY_LEASTLOADED; j++) {
				if (eps[j].eligible)
					assert_true(load_class(&eps[got]) <=
					    load_class(&eps[j]));
			}
			if (kinds[k] == SHIM_POLICY_SRCIP && step % 97 == 0) {
				struct policy_state q;

				policy_init(&q, SHIM_POLICY_SRCIP);
				assert_int_equal(pick(&q, eps, n, &peer), got);
				policy_fini(&q);
			}
		}
		policy_fini(&p);
	}
}

static void
test_hash_stable(void **state)
{
	struct policy_state p, q;
	struct policy_ep eps[4];
	uint32_t seed = 7;

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_HASH);
	policy_init(&q, SHIM_POLICY_HASH);
	for (int i = 0; i < 1000; i++) {
		struct proto_addr a = i % 2 ? peer_v4(fake_rand(&seed),
		    (uint16_t)fake_rand(&seed)) :
		    peer_v6(&seed, (uint16_t)fake_rand(&seed));
		size_t first = pick(&p, eps, 4, &a);

		assert_true(first < 4);
		/* Again, and from a fresh state (a restarted owner). */
		assert_int_equal(pick(&p, eps, 4, &a), first);
		assert_int_equal(pick(&q, eps, 4, &a), first);
	}
}

static void
test_hash_spread(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	size_t counts[5] = { 0 }, n = 40000;
	uint32_t seed = 12345;

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_HASH);
	for (size_t i = 0; i < n; i++) {
		struct proto_addr a = peer_v4(fake_rand(&seed),
		    (uint16_t)(1024 + fake_rand(&seed) % 60000));

		counts[pick(&p, eps, 4, &a)]++;
	}
	for (size_t i = 0; i < 4; i++)
		assert_in_range(counts[i], n / 4 * 85 / 100, n / 4 * 115 / 100);

	/*
	 * One client address, many ports (a single busy client): the port
	 * is part of the hash, so its connections spread too.
	 */
	memset(counts, 0, sizeof (counts));
	for (size_t i = 0; i < n; i++) {
		struct proto_addr a = peer_v4(0xc0000201, (uint16_t)(1024 + i));

		counts[pick(&p, eps, 4, &a)]++;
	}
	for (size_t i = 0; i < 4; i++)
		assert_in_range(counts[i], n / 4 * 85 / 100, n / 4 * 115 / 100);
}

static void
test_srcip_ignores_port(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	uint32_t seed = 5;
	size_t seen[4] = { 0 };

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_SRCIP);
	for (int i = 0; i < 200; i++) {
		uint32_t ip = fake_rand(&seed);
		struct proto_addr a = peer_v4(ip, 1);
		size_t first = pick(&p, eps, 4, &a);

		assert_true(first < 4);
		seen[first]++;
		for (uint16_t port = 2; port < 50000; port += 4999) {
			a = peer_v4(ip, port);
			assert_int_equal(pick(&p, eps, 4, &a), first);
		}
		a = peer_v6(&seed, 1);
		first = pick(&p, eps, 4, &a);
		a.port = htons(65000);
		assert_int_equal(pick(&p, eps, 4, &a), first);
	}
	/* Not one slot for everybody: the address does choose. */
	for (size_t i = 0; i < 4; i++)
		assert_true(seen[i] > 0);
}

static void
pick_all(struct policy_state *p, const struct policy_ep *eps, size_t n,
    const struct proto_addr *peers, size_t *out)
{
	for (size_t i = 0; i < NCLIENTS; i++) {
		out[i] = pick(p, eps, n, &peers[i]);
		assert_true(out[i] < n);
	}
}

static void
test_srcip_consistent(void **state)
{
	static struct proto_addr peers[NCLIENTS];
	static size_t before[NCLIENTS], after[NCLIENTS];
	struct policy_state p;
	struct policy_ep eps[11];
	uint32_t seed = 2024;
	size_t moved = 0, on_removed = 0;
	const size_t gone = 3;

	(void) state;
	for (size_t i = 0; i < NCLIENTS; i++)
		peers[i] = peer_v4(fake_rand(&seed),
		    (uint16_t)fake_rand(&seed));
	eps_init(eps, 11);
	policy_init(&p, SHIM_POLICY_SRCIP);
	pick_all(&p, eps, 10, peers, before);

	/* One endpoint goes: exactly its clients move, nobody else. */
	eps[gone].eligible = 0;
	pick_all(&p, eps, 10, peers, after);
	for (size_t i = 0; i < NCLIENTS; i++) {
		if (before[i] == gone) {
			on_removed++;
			assert_int_not_equal(after[i], gone);
		} else {
			assert_int_equal(after[i], before[i]);
		}
	}
	/* And it had its share (roughly 1/10) to begin with. */
	assert_in_range(on_removed, NCLIENTS / 20, NCLIENTS * 3 / 20);
	eps[gone].eligible = 1;

	/*
	 * An 11th comes: about 1/11 of the clients move, all of them to the
	 * newcomer (a modulo hash would move nearly everybody).
	 */
	pick_all(&p, eps, 11, peers, after);
	for (size_t i = 0; i < NCLIENTS; i++) {
		if (after[i] != before[i]) {
			moved++;
			assert_int_equal(after[i], 10);
		}
	}
	assert_in_range(moved, NCLIENTS * 5 / 100, NCLIENTS * 15 / 100);
}

static void
test_leastloaded_prefers_idle(void **state)
{
	struct policy_state p;
	struct policy_ep eps[3];
	struct proto_addr peer = peer_v4(1, 1);

	(void) state;
	eps_init(eps, 3);
	policy_init(&p, SHIM_POLICY_LEASTLOADED);
	/* Slot 2 waits in accept, though it has more unacked than slot 0. */
	eps[0].unacked = 0;
	eps[1].unacked = 5;
	eps[2].unacked = 3;
	eps[2].idle = 1;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pick(&p, eps, 3, &peer), 2);

	/* An idle slot that is not eligible (at its cap) is not chosen. */
	eps[2].eligible = 0;
	assert_int_equal(pick(&p, eps, 3, &peer), 0);
}

static void
test_leastloaded_fewest_unacked(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(1, 1);

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_LEASTLOADED);
	eps[0].unacked = 4;
	eps[1].unacked = 2;
	eps[2].unacked = 9;
	eps[3].unacked = 1;
	assert_int_equal(pick(&p, eps, 4, &peer), 3);
	/* The owner counts the one it just sent. */
	eps[3].unacked = 3;
	assert_int_equal(pick(&p, eps, 4, &peer), 1);
	eps[1].unacked = 3;
	/* 1 and 3 tie at 3: the one longer in that class (3) goes first. */
	assert_int_equal(pick(&p, eps, 4, &peer), 3);
}

static void
test_leastloaded_ties_alternate(void **state)
{
	struct policy_state p;
	struct policy_ep eps[4];
	struct proto_addr peer = peer_v4(1, 1);
	size_t last = 4, counts[5] = { 0 };

	(void) state;
	eps_init(eps, 4);
	policy_init(&p, SHIM_POLICY_LEASTLOADED);
	/* 0 and 3 are busy; 1 and 2 equal: they must take turns. */
	eps[0].unacked = eps[3].unacked = 7;
	eps[1].unacked = eps[2].unacked = 2;
	for (int i = 0; i < 10; i++) {
		size_t k = pick(&p, eps, 4, &peer);

		assert_true(k == 1 || k == 2);
		assert_int_not_equal(k, last);
		last = k;
		counts[k]++;
	}
	assert_int_equal(counts[1], 5);
	assert_int_equal(counts[2], 5);

	/* Equal idle slots alternate too. */
	eps_init(eps, 4);
	eps[0].idle = eps[2].idle = 1;
	last = 4;
	for (int i = 0; i < 6; i++) {
		size_t k = pick(&p, eps, 4, &peer);

		assert_true(k == 0 || k == 2);
		assert_int_not_equal(k, last);
		last = k;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundrobin_order),
		cmocka_unit_test(test_roundrobin_skips_ineligible),
		cmocka_unit_test(test_none_eligible),
		cmocka_unit_test(test_roundrobin_exact_fairness),
		cmocka_unit_test(test_run_for),
		cmocka_unit_test(test_roundrobin_runs),
		cmocka_unit_test(test_roundrobin_runs_fair),
		cmocka_unit_test(test_roundrobin_runs_flapping),
		cmocka_unit_test(test_index_random),
		cmocka_unit_test(test_hash_stable),
		cmocka_unit_test(test_hash_spread),
		cmocka_unit_test(test_srcip_ignores_port),
		cmocka_unit_test(test_srcip_consistent),
		cmocka_unit_test(test_leastloaded_prefers_idle),
		cmocka_unit_test(test_leastloaded_fewest_unacked),
		cmocka_unit_test(test_leastloaded_ties_alternate),
	};

	return (cmocka_run_group_tests_name("policy", tests, NULL, NULL));
}
