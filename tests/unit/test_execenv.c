/*
 * test_execenv.c: the environment an exec with inherited endpoints gets
 * (shim/execenv.c): whether one names the shim, and what is added; the
 * shadows' pairs, written, read, and put in place of stale ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "execenv.h"

#define	BASE	"libreuseport_shim.so"
#define	LIB	"/opt/rp/lib/" BASE

static const char *const names[] = { "LD_PRELOAD", "LD_PRELOAD_64", NULL };

/* A process started with LD_PRELOAD=LIB, MODE and DIR set. */
static void
self_init(struct execenv_self *s)
{
	memset(s, 0, sizeof (*s));
	s->base = BASE;
	s->elem = LIB;
	s->preload[0] = "LD_PRELOAD=/asan.so " LIB;
	s->npreload = 1;
	s->names = names;
	s->vars[0] = "REUSEPORT_SHIM_MODE=emulate";
	s->vars[1] = "REUSEPORT_SHIM_DIR=/run/rp";
	s->nvars = 2;
}

static size_t
count(char *const *env)
{
	size_t n = 0;

	while (env[n] != NULL)
		n++;
	return (n);
}

static void
names_by_last_component(void **state)
{
	size_t len;
	const char *e;

	(void) state;
	assert_true(execenv_names(LIB, BASE));
	assert_true(execenv_names(BASE, BASE));
	assert_true(execenv_names("/a.so " LIB " /b.so", BASE));
	assert_true(execenv_names("/a.so:" LIB, BASE));
	assert_false(execenv_names("", BASE));
	assert_false(execenv_names("/a.so /b.so", BASE));
	assert_false(execenv_names("/x/not" BASE, BASE));
	assert_false(execenv_names(LIB ".1", BASE));
	assert_false(execenv_names("/" BASE "/x.so", BASE));
	assert_false(execenv_names(LIB, ""));
	e = execenv_find("  /a.so\t" LIB ":/b.so", BASE, &len);
	assert_non_null(e);
	assert_int_equal(len, strlen(LIB));
	assert_memory_equal(e, LIB, len);
}

static void
has_shim_any_preload_variable(void **state)
{
	char *none[] = { NULL };
	char *other[] = { "LD_PRELOAD=/a.so", "X=" LIB, NULL };
	char *prefix[] = { "LD_PRELOADX=" LIB, NULL };
	char *sixty4[] = { "A=1", "LD_PRELOAD_64=" LIB, NULL };

	(void) state;
	assert_false(execenv_has_shim(NULL, names, BASE));
	assert_false(execenv_has_shim(none, names, BASE));
	assert_false(execenv_has_shim(other, names, BASE));
	assert_false(execenv_has_shim(prefix, names, BASE));
	assert_true(execenv_has_shim(sixty4, names, BASE));
	assert_string_equal(execenv_get(sixty4, "A"), "1");
	assert_null(execenv_get(sixty4, "LD_PRELOAD"));
}

/* An empty environment gets the startup preload and variables, whole. */
static void
build_empty(void **state)
{
	struct execenv_self s;
	char *out[8], buf[256];

	(void) state;
	self_init(&s);
	assert_int_equal(execenv_build(NULL, &s, "/tmp/other", out, 8, buf,
	    sizeof (buf)), 3);
	assert_int_equal(count(out), 3);
	assert_string_equal(out[0], "LD_PRELOAD=/asan.so " LIB);
	assert_string_equal(out[1], "REUSEPORT_SHIM_MODE=emulate");
	/* The startup DIR, not the endpoint's: the same where both exist. */
	assert_string_equal(out[2], "REUSEPORT_SHIM_DIR=/run/rp");
}

/*
 * What the environment has is kept: its own preload value first (a
 * sanitizer's runtime stays ahead), its own REUSEPORT_SHIM_MODE.
 */
static void
build_keeps_theirs(void **state)
{
	struct execenv_self s;
	char *env[] = { "NGINX=6;", "LD_PRELOAD=/other.so",
	    "REUSEPORT_SHIM_MODE=off", NULL };
	char *out[8], buf[256];

	(void) state;
	self_init(&s);
	assert_int_equal(execenv_build(env, &s, "/x", out, 8, buf,
	    sizeof (buf)), 2);
	assert_int_equal(count(out), 4);
	assert_string_equal(out[0], "NGINX=6;");
	assert_string_equal(out[1], "LD_PRELOAD=/other.so " LIB);
	assert_string_equal(out[2], "REUSEPORT_SHIM_MODE=off");
	assert_string_equal(out[3], "REUSEPORT_SHIM_DIR=/run/rp");
	assert_true(execenv_has_shim(out, names, BASE));
	/* The caller's array is not written. */
	assert_string_equal(env[1], "LD_PRELOAD=/other.so");
}

/* No DIR at startup (XDG_RUNTIME_DIR chose it): the endpoint's. */
static void
build_dir_from_endpoint(void **state)
{
	struct execenv_self s;
	char *out[8], buf[256];
	char *has[] = { "REUSEPORT_SHIM_DIR=/mine", NULL };

	(void) state;
	self_init(&s);
	s.nvars = 1;
	assert_int_equal(execenv_build(NULL, &s, "/run/user/1/reuseport-shim",
	    out, 8, buf, sizeof (buf)), 3);
	assert_string_equal(out[2],
	    "REUSEPORT_SHIM_DIR=/run/user/1/reuseport-shim");
	assert_null(out[3]);
	assert_int_equal(execenv_build(has, &s, "/other", out, 8, buf,
	    sizeof (buf)), 2);
	assert_string_equal(out[0], "REUSEPORT_SHIM_DIR=/mine");
	assert_int_equal(count(out), 3);
	assert_int_equal(execenv_build(NULL, &s, NULL, out, 8, buf,
	    sizeof (buf)), 2);
	assert_int_equal(count(out), 2);
}

/* Too little room anywhere: -1, never a cut environment. */
static void
build_no_room(void **state)
{
	struct execenv_self s;
	char *env[] = { "A=1", "B=2", "LD_PRELOAD=/other.so", NULL };
	char *out[8], buf[256];

	(void) state;
	self_init(&s);
	/* 3 + MODE + DIR + NULL = 6 pointers; LD_PRELOAD changed in place. */
	assert_int_equal(execenv_build(env, &s, "/x", out, 5, buf,
	    sizeof (buf)), -1);
	assert_int_equal(execenv_build(env, &s, "/x", out, 6, buf,
	    sizeof (buf)), 3);
	assert_int_equal(execenv_build(env, &s, "/x", out, 3, buf,
	    sizeof (buf)), -1);
	/* "LD_PRELOAD=/other.so /opt/rp/lib/libreuseport_shim.so" + NUL. */
	assert_int_equal(execenv_build(env, &s, "/x", out, 8, buf,
	    strlen("LD_PRELOAD=/other.so " LIB)), -1);
	assert_int_equal(execenv_build(env, &s, "/x", out, 8, buf,
	    strlen("LD_PRELOAD=/other.so " LIB) + 1), 3);
	s.nvars = 1;
	assert_int_equal(execenv_build(NULL, &s, "/run/x", out, 8, buf, 10),
	    -1);
}

#define	SHADOWS	"REUSEPORT_SHIM_SHADOWS="

/* Pairs written as fd:shadow, comma-separated, and read back alike. */
static void
pairs_round_trip(void **state)
{
	int fds[] = { 3, 4, 65535 }, shs[] = { 1000, 1000, 0 };
	int rf[4], rs[4];
	char buf[64];

	(void) state;
	assert_int_equal(execenv_pairs_format(fds, shs, 3, buf, sizeof (buf)),
	    strlen(SHADOWS "3:1000,4:1000,65535:0"));
	assert_string_equal(buf, SHADOWS "3:1000,4:1000,65535:0");
	assert_int_equal(execenv_pairs_parse(buf + strlen(SHADOWS), rf, rs,
	    4), 3);
	assert_memory_equal(rf, fds, sizeof (fds));
	assert_memory_equal(rs, shs, sizeof (shs));
	assert_int_equal(execenv_pairs_format(fds, shs, 0, buf, sizeof (buf)),
	    strlen(SHADOWS));
	assert_string_equal(buf, SHADOWS);
	assert_int_equal(execenv_pairs_parse("", rf, rs, 4), 0);
	assert_int_equal(execenv_pairs_parse("2147483647:0", rf, rs, 4), 1);
	assert_int_equal(rf[0], 2147483647);
}

/* The worst case the room is sized for fits; one byte less does not. */
static void
pairs_format_room(void **state)
{
	int fds[EXECENV_PAIRS_MAX], shs[EXECENV_PAIRS_MAX], neg[] = { -1 };
	char buf[EXECENV_PAIRS_BYTES];
	int len;

	(void) state;
	for (size_t i = 0; i < EXECENV_PAIRS_MAX; i++) {
		fds[i] = 65535 - (int)i;
		shs[i] = 65535;
	}
	len = execenv_pairs_format(fds, shs, EXECENV_PAIRS_MAX, buf,
	    sizeof (buf));
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	assert_int_equal(execenv_pairs_format(fds, shs, 2, buf,
	    strlen(SHADOWS "65535:65535,65534:65535") + 1),
	    strlen(SHADOWS "65535:65535,65534:65535"));
	assert_int_equal(execenv_pairs_format(fds, shs, 2, buf,
	    strlen(SHADOWS "65535:65535,65534:65535")), -1);
	assert_int_equal(execenv_pairs_format(fds, shs, 1, buf, 8), -1);
	assert_int_equal(execenv_pairs_format(neg, shs, 1, buf,
	    sizeof (buf)), -1);
}

/* A forged or broken value is refused whole. */
static void
pairs_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"3", "3:", ":4", "3:4,", ",3:4", "3:4,,5:6", "3:4:5", "-3:4",
		"+3:4", "3: 4", " 3:4", "3:4 ", "3;4", "2147483648:1",
		"99999999999999999999:1", "3:4,5", "0x3:4", "3:4,5:6,7:8",
	};
	int rf[2], rs[2];

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		if (execenv_pairs_parse(bad[i], rf, rs, 2) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
	assert_int_equal(execenv_pairs_parse("3:4,5:6", rf, rs, 2), 2);
	assert_int_equal(rf[1], 5);
	assert_int_equal(rs[1], 6);
}

/* Every stale entry goes, the new one is last; in place too. */
static void
replace_stale(void **state)
{
	char *env[] = { SHADOWS "9:9", "A=1", "REUSEPORT_SHIM_SHADOWSX=1",
	    SHADOWS "8:8", "B=2", NULL };
	char *out[8], entry[] = SHADOWS "3:1000";
	char *inplace[8] = { "A=1", SHADOWS "1:2", NULL };

	(void) state;
	assert_int_equal(execenv_replace(env, "REUSEPORT_SHIM_SHADOWS", entry,
	    out, 8), 4);
	assert_string_equal(out[0], "A=1");
	assert_string_equal(out[1], "REUSEPORT_SHIM_SHADOWSX=1");
	assert_string_equal(out[2], "B=2");
	assert_ptr_equal(out[3], entry);
	assert_null(out[4]);
	/* The caller's array is not written. */
	assert_string_equal(env[0], SHADOWS "9:9");
	/* No new entry: the stale ones dropped only. */
	assert_int_equal(execenv_replace(env, "REUSEPORT_SHIM_SHADOWS", NULL,
	    out, 8), 3);
	assert_null(out[3]);
	assert_int_equal(execenv_replace(NULL, "REUSEPORT_SHIM_SHADOWS",
	    entry, out, 2), 1);
	assert_ptr_equal(out[0], entry);
	assert_null(out[1]);
	assert_int_equal(execenv_replace(inplace, "REUSEPORT_SHIM_SHADOWS",
	    entry, inplace, 8), 2);
	assert_string_equal(inplace[0], "A=1");
	assert_ptr_equal(inplace[1], entry);
	assert_null(inplace[2]);
}

/* No room: -1, and the array (the caller's own, in place) untouched. */
static void
replace_no_room(void **state)
{
	char *env[5] = { "A=1", SHADOWS "1:2", "B=2", NULL };
	char entry[] = SHADOWS "3:4";

	(void) state;
	assert_int_equal(execenv_replace(env, "REUSEPORT_SHIM_SHADOWS", entry,
	    env, 4), -1);
	assert_string_equal(env[1], SHADOWS "1:2");
	assert_string_equal(env[2], "B=2");
	assert_int_equal(execenv_replace(env, "REUSEPORT_SHIM_SHADOWS", entry,
	    env, 5), 3);
	assert_ptr_equal(env[2], entry);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_by_last_component),
		cmocka_unit_test(has_shim_any_preload_variable),
		cmocka_unit_test(build_empty),
		cmocka_unit_test(build_keeps_theirs),
		cmocka_unit_test(build_dir_from_endpoint),
		cmocka_unit_test(build_no_room),
		cmocka_unit_test(pairs_round_trip),
		cmocka_unit_test(pairs_format_room),
		cmocka_unit_test(pairs_parse_refuses),
		cmocka_unit_test(replace_stale),
		cmocka_unit_test(replace_no_room),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
