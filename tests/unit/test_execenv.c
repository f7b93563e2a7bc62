/*
 * test_execenv.c: the environment an exec with inherited endpoints gets
 * (shim/execenv.c): whether one names the shim, and what is added, with
 * glibc's one preload variable and with illumos's per class; the
 * shadows' pairs, written, read, and put in place of stale ones; execvp's
 * search, for a C library without execvpe.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "execenv.h"

#define	BASE	"libreuseport_shim.so"
#define	LIB	"/opt/rp/lib/" BASE

static const char *const names[] = { "LD_PRELOAD", NULL };
/* illumos's, as plat_preload_vars() lists them there. */
static const char *const inames[] = { "LD_PRELOAD", "LD_PRELOAD_64",
    "LD_PRELOAD_32", NULL };

/* A process started with LD_PRELOAD="/asan.so LIB", MODE and DIR set. */
static void
self_init(struct execenv_self *s)
{
	memset(s, 0, sizeof (*s));
	s->base = BASE;
	s->pre[0].name = "LD_PRELOAD";
	s->pre[0].entry = "LD_PRELOAD=/asan.so " LIB;
	s->pre[0].elem = LIB;
	s->npre = 1;
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
has_shim_preload_variable(void **state)
{
	struct execenv_self s;
	char *none[] = { NULL };
	char *other[] = { "LD_PRELOAD=/a.so", "X=" LIB, NULL };
	char *prefix[] = { "LD_PRELOADX=" LIB, NULL };
	char *ours[] = { "A=1", "LD_PRELOAD=/a.so:" LIB, NULL };

	(void) state;
	self_init(&s);
	assert_false(execenv_has_shim(NULL, &s));
	assert_false(execenv_has_shim(none, &s));
	assert_false(execenv_has_shim(other, &s));
	assert_false(execenv_has_shim(prefix, &s));
	assert_true(execenv_has_shim(ours, &s));
	assert_string_equal(execenv_get(ours, "A"), "1");
	assert_null(execenv_get(ours, "LD_PRELOAD_64"));
	/* Not loaded through the environment: nothing to look for. */
	s.npre = 0;
	assert_true(execenv_has_shim(none, &s));
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
	    sizeof (buf), NULL), 3);
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
	size_t npre = 9;

	(void) state;
	self_init(&s);
	assert_int_equal(execenv_build(env, &s, "/x", out, 8, buf,
	    sizeof (buf), &npre), 2);
	assert_int_equal(npre, 1);
	assert_int_equal(count(out), 4);
	assert_string_equal(out[0], "NGINX=6;");
	assert_string_equal(out[1], "LD_PRELOAD=/other.so " LIB);
	assert_string_equal(out[2], "REUSEPORT_SHIM_MODE=off");
	assert_string_equal(out[3], "REUSEPORT_SHIM_DIR=/run/rp");
	assert_true(execenv_has_shim(out, &s));
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
	    out, 8, buf, sizeof (buf), NULL), 3);
	assert_string_equal(out[2],
	    "REUSEPORT_SHIM_DIR=/run/user/1/reuseport-shim");
	assert_null(out[3]);
	assert_int_equal(execenv_build(has, &s, "/other", out, 8, buf,
	    sizeof (buf), NULL), 2);
	assert_string_equal(out[0], "REUSEPORT_SHIM_DIR=/mine");
	assert_int_equal(count(out), 3);
	assert_int_equal(execenv_build(NULL, &s, NULL, out, 8, buf,
	    sizeof (buf), NULL), 2);
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
	    sizeof (buf), NULL), -1);
	assert_int_equal(execenv_build(env, &s, "/x", out, 6, buf,
	    sizeof (buf), NULL), 3);
	assert_int_equal(execenv_build(env, &s, "/x", out, 3, buf,
	    sizeof (buf), NULL), -1);
	/* "LD_PRELOAD=/other.so /opt/rp/lib/libreuseport_shim.so" + NUL. */
	assert_int_equal(execenv_build(env, &s, "/x", out, 8, buf,
	    strlen("LD_PRELOAD=/other.so " LIB), NULL), -1);
	assert_int_equal(execenv_build(env, &s, "/x", out, 8, buf,
	    strlen("LD_PRELOAD=/other.so " LIB) + 1, NULL), 3);
	s.nvars = 1;
	assert_int_equal(execenv_build(NULL, &s, "/run/x", out, 8, buf, 10,
	    NULL), -1);
}

/* Each class's variable falls back on the one without the suffix. */
static void
fallback_by_suffix(void **state)
{
	(void) state;
	assert_ptr_equal(execenv_fallback(inames, "LD_PRELOAD_64"), inames[0]);
	assert_ptr_equal(execenv_fallback(inames, "LD_PRELOAD_32"), inames[0]);
	assert_null(execenv_fallback(inames, "LD_PRELOAD"));
	assert_null(execenv_fallback(names, "LD_PRELOAD"));
	assert_null(execenv_fallback(names + 1, "LD_PRELOAD_64"));
	assert_null(execenv_fallback(inames + 1, "LD_PRELOAD_64"));
	assert_null(execenv_fallback(inames, "LD_PRELOAD_16"));
	assert_null(execenv_fallback(inames, "_64"));
}

/* The class's own variable overrides the one it falls back on. */
static void
effective_class_overrides(void **state)
{
	char *env[] = { "LD_PRELOAD=/a.so", "LD_PRELOAD_64=/b.so", NULL };
	const char *entry = NULL;

	(void) state;
	assert_string_equal(execenv_effective(env, "LD_PRELOAD_64",
	    "LD_PRELOAD", &entry), "/b.so");
	assert_ptr_equal(entry, env[1]);
	assert_string_equal(execenv_effective(env, "LD_PRELOAD_32",
	    "LD_PRELOAD", &entry), "/a.so");
	assert_ptr_equal(entry, env[0]);
	assert_null(execenv_effective(env, "LD_PRELOAD_32", NULL, &entry));
	assert_null(execenv_effective(NULL, "LD_PRELOAD", NULL, NULL));
}

#define	LIB64	"/opt/rp/lib/64/" BASE
#define	LIB32	"/opt/rp/lib/" BASE

/*
 * What is kept of each class's variable at startup: its entry whole, and
 * our own element of it, the library of that class, out of a list.
 */
static void
self_pre_per_class(void **state)
{
	struct execenv_self s;
	char *env[] = { "LD_PRELOAD=/other.so",
	    "LD_PRELOAD_64=/umem.so " LIB64 " /after.so",
	    "LD_PRELOAD_32=" LIB32 ":/x32.so", NULL };
	char *plain[] = { "LD_PRELOAD=/asan.so:" LIB, NULL };
	char *over[] = { "LD_PRELOAD=" LIB, "LD_PRELOAD_64=/mine.so", NULL };
	char buf[512];
	size_t used;

	(void) state;
	memset(&s, 0, sizeof (s));
	s.base = BASE;
	assert_int_equal(execenv_self_pre(&s, inames, env, buf, sizeof (buf),
	    &used), 0);
	assert_int_equal(s.npre, 2);
	assert_string_equal(s.pre[0].name, "LD_PRELOAD_64");
	assert_string_equal(s.pre[0].fallback, "LD_PRELOAD");
	assert_string_equal(s.pre[0].entry, env[1]);
	assert_string_equal(s.pre[0].elem, LIB64);
	assert_string_equal(s.pre[1].name, "LD_PRELOAD_32");
	assert_string_equal(s.pre[1].entry, env[2]);
	assert_string_equal(s.pre[1].elem, LIB32);
	assert_true(used <= sizeof (buf));
	/* Copies: the environment may change later. */
	assert_true(s.pre[0].entry >= buf && s.pre[0].entry < buf + used);

	/* glibc's one variable, colon-separated. */
	assert_int_equal(execenv_self_pre(&s, names, plain, buf, sizeof (buf),
	    &used), 0);
	assert_int_equal(s.npre, 1);
	assert_null(s.pre[0].fallback);
	assert_string_equal(s.pre[0].entry, plain[0]);
	assert_string_equal(s.pre[0].elem, LIB);

	/* LD_PRELOAD for both classes on illumos, but where overridden. */
	assert_int_equal(execenv_self_pre(&s, inames, plain, buf, sizeof (buf),
	    &used), 0);
	assert_int_equal(s.npre, 2);
	assert_string_equal(s.pre[0].entry, plain[0]);
	assert_string_equal(s.pre[1].entry, plain[0]);
	assert_string_equal(s.pre[1].elem, LIB);
	assert_int_equal(execenv_self_pre(&s, inames, over, buf, sizeof (buf),
	    &used), 0);
	assert_int_equal(s.npre, 1);
	assert_string_equal(s.pre[0].name, "LD_PRELOAD_32");
	assert_string_equal(s.pre[0].entry, over[0]);

	/* No room: -1, and what fit. */
	assert_int_equal(execenv_self_pre(&s, inames, env, buf,
	    strlen(env[1]) + 1 + strlen(LIB64) + 1, &used), -1);
	assert_int_equal(s.npre, 1);
	assert_string_equal(s.pre[0].elem, LIB64);
	assert_int_equal(execenv_self_pre(&s, inames, env, buf, 8, &used), -1);
	assert_int_equal(s.npre, 0);
}

/* A 64-bit process started with each class's variable naming us. */
static void
self_classes(struct execenv_self *s, char *buf, size_t len)
{
	char *env[] = { "LD_PRELOAD_64=/umem.so " LIB64,
	    "LD_PRELOAD_32=" LIB32 ":/x32.so", NULL };
	size_t used;

	memset(s, 0, sizeof (*s));
	s->base = BASE;
	assert_int_equal(execenv_self_pre(s, inames, env, buf, len, &used), 0);
	s->vars[0] = "REUSEPORT_SHIM_MODE=emulate";
	s->nvars = 1;
}

/* Each class's variable gets its own library back, never the other's. */
static void
build_per_class(void **state)
{
	struct execenv_self s;
	char keep[256], buf[512], *out[8];
	char *both[] = { "LD_PRELOAD_64=/x.so", "LD_PRELOAD_32=/y.so", NULL };
	char *plain[] = { "LD_PRELOAD=/z.so", NULL };
	char *one[] = { "LD_PRELOAD_64=" LIB64, "REUSEPORT_SHIM_MODE=off",
	    NULL };
	char *empty[] = { "LD_PRELOAD_64=", "LD_PRELOAD_32=", NULL };
	size_t npre;

	(void) state;
	self_classes(&s, keep, sizeof (keep));
	/* Dropped: each as it was at startup, whole. */
	assert_int_equal(execenv_build(NULL, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 3);
	assert_int_equal(npre, 2);
	assert_string_equal(out[0], "LD_PRELOAD_64=/umem.so " LIB64);
	assert_string_equal(out[1], "LD_PRELOAD_32=" LIB32 ":/x32.so");
	assert_string_equal(out[2], "REUSEPORT_SHIM_MODE=emulate");
	assert_true(execenv_has_shim(out, &s));
	assert_false(execenv_has_shim(both, &s));

	/* Theirs, each with its class's library after. */
	assert_int_equal(execenv_build(both, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 3);
	assert_int_equal(npre, 2);
	assert_string_equal(out[0], "LD_PRELOAD_64=/x.so " LIB64);
	assert_string_equal(out[1], "LD_PRELOAD_32=/y.so " LIB32);
	assert_true(execenv_has_shim(out, &s));

	/*
	 * Only LD_PRELOAD: it stays as it is for others; each class gets
	 * its own variable, which overrides it, with its libraries and ours.
	 */
	assert_int_equal(execenv_build(plain, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 3);
	assert_int_equal(count(out), 4);
	assert_string_equal(out[0], "LD_PRELOAD=/z.so");
	assert_string_equal(out[1], "LD_PRELOAD_64=/z.so " LIB64);
	assert_string_equal(out[2], "LD_PRELOAD_32=/z.so " LIB32);

	/* One class kept (nginx's "env LD_PRELOAD_64;"): the other added. */
	assert_false(execenv_has_shim(one, &s));
	assert_int_equal(execenv_build(one, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 1);
	assert_int_equal(npre, 1);
	assert_int_equal(count(out), 3);
	assert_string_equal(out[0], "LD_PRELOAD_64=" LIB64);
	assert_string_equal(out[1], "REUSEPORT_SHIM_MODE=off");
	assert_string_equal(out[2], "LD_PRELOAD_32=" LIB32 ":/x32.so");

	/* Set but empty: ours alone, no separator. */
	assert_int_equal(execenv_build(empty, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 3);
	assert_string_equal(out[0], "LD_PRELOAD_64=" LIB64);
	assert_string_equal(out[1], "LD_PRELOAD_32=" LIB32);
}

/*
 * Started with LD_PRELOAD alone on illumos (both classes from it): it
 * comes back once, as it was, or with our element once; a class
 * variable that overrides it gets ours appended.
 */
static void
build_plain_for_classes(void **state)
{
	struct execenv_self s;
	char keep[256], buf[512], *out[8];
	char *start[] = { "LD_PRELOAD=/a.so " LIB, NULL };
	char *theirs[] = { "LD_PRELOAD=/o.so", NULL };
	char *over[] = { "LD_PRELOAD_64=/q.so", NULL };
	size_t used, npre;

	(void) state;
	memset(&s, 0, sizeof (s));
	s.base = BASE;
	assert_int_equal(execenv_self_pre(&s, inames, start, keep,
	    sizeof (keep), &used), 0);
	assert_int_equal(s.npre, 2);
	assert_int_equal(execenv_build(NULL, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 1);
	assert_int_equal(count(out), 1);
	assert_string_equal(out[0], "LD_PRELOAD=/a.so " LIB);
	assert_int_equal(execenv_build(theirs, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 1);
	assert_int_equal(count(out), 1);
	assert_string_equal(out[0], "LD_PRELOAD=/o.so " LIB);
	assert_int_equal(execenv_build(over, &s, NULL, out, 8, buf,
	    sizeof (buf), &npre), 2);
	assert_int_equal(count(out), 2);
	assert_string_equal(out[0], "LD_PRELOAD_64=/q.so " LIB);
	assert_string_equal(out[1], "LD_PRELOAD=/a.so " LIB);
	assert_true(execenv_has_shim(out, &s));
}

/*
 * A fake execve for execenv_search: records each path and argv, and
 * fails with the next of errs (0: "succeeds", which a real execve never
 * returns from; the fake returns 0 and the search must stop there too).
 */
#define	FAKE_MAX	16
static char fake_path[FAKE_MAX][128];
static char fake_argv[FAKE_MAX][128];
static int fake_errs[FAKE_MAX];
static size_t fake_n;

static int
fake_exec(const char *path, char *const argv[], char *const envp[])
{
	size_t k = fake_n++;

	(void) envp;
	assert_true(k < FAKE_MAX);
	(void) strcpy(fake_path[k], path);
	fake_argv[k][0] = '\0';
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			(void) strcat(fake_argv[k], " ");
		(void) strcat(fake_argv[k], argv[i]);
	}
	errno = fake_errs[k];
	return (-1);
}

static void
fake_reset(int e0, int e1, int e2, int e3)
{
	memset(fake_errs, 0, sizeof (fake_errs));
	fake_errs[0] = e0;
	fake_errs[1] = e1;
	fake_errs[2] = e2;
	fake_errs[3] = e3;
	fake_n = 0;
}

static char *const av[] = { "prog", "-x", "y", NULL };

/* A name with a slash is run as it is; no search. */
static void
search_slash(void **state)
{
	char buf[64];

	(void) state;
	fake_reset(ENOENT, 0, 0, 0);
	assert_int_equal(execenv_search("./prog", av, NULL, "/a:/b", "/bin/sh",
	    fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fake_n, 1);
	assert_string_equal(fake_path[0], "./prog");
	assert_string_equal(fake_argv[0], "prog -x y");
	fake_reset(0, 0, 0, 0);
	assert_int_equal(execenv_search("", av, NULL, "/a", "/bin/sh",
	    fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fake_n, 0);
}

/* Each element in order, "/file" appended; an empty one is ".". */
static void
search_order(void **state)
{
	char buf[64];

	(void) state;
	fake_reset(ENOENT, ENOTDIR, ENOENT, ENOENT);
	assert_int_equal(execenv_search("prog", av, NULL, "/a::/b/:", "/bin/sh",
	    fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(fake_n, 4);
	assert_string_equal(fake_path[0], "/a/prog");
	assert_string_equal(fake_path[1], "./prog");
	assert_string_equal(fake_path[2], "/b//prog");
	assert_string_equal(fake_path[3], "./prog");
	assert_int_equal(errno, ENOENT);
	/* The one that runs ends it. */
	fake_reset(ENOENT, 0, ENOENT, 0);
	assert_int_equal(execenv_search("prog", av, NULL, "/a:/b:/c",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(fake_n, 2);
	/* An empty PATH is the current directory. */
	fake_reset(ENOENT, 0, 0, 0);
	(void) execenv_search("prog", av, NULL, "", "/bin/sh", fake_exec,
	    buf, sizeof (buf));
	assert_int_equal(fake_n, 1);
	assert_string_equal(fake_path[0], "./prog");
}

/*
 * EACCES is remembered and the search goes on; it is the answer if
 * nothing ran.  Any other error ends the search with it.
 */
static void
search_errors(void **state)
{
	char buf[64];

	(void) state;
	fake_reset(EACCES, ENOENT, ENOTDIR, 0);
	assert_int_equal(execenv_search("prog", av, NULL, "/a:/b:/c",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(fake_n, 3);
	assert_int_equal(errno, EACCES);
	fake_reset(ENOENT, E2BIG, ENOENT, 0);
	assert_int_equal(execenv_search("prog", av, NULL, "/a:/b:/c",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(fake_n, 2);
	assert_int_equal(errno, E2BIG);
	fake_reset(ENOENT, ENOTDIR, 0, 0);
	assert_int_equal(execenv_search("prog", av, NULL, "/a:/b",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(errno, ENOTDIR);
	/* A candidate longer than the room is passed over. */
	fake_reset(ENOENT, 0, 0, 0);
	assert_int_equal(execenv_search("prog", av, NULL,
	    "/a-very-long-directory-name:/b", "/bin/sh", fake_exec, buf, 16),
	    -1);
	assert_int_equal(fake_n, 1);
	assert_string_equal(fake_path[0], "/b/prog");
	fake_reset(ENOENT, 0, 0, 0);
	assert_int_equal(execenv_search("prog", av, NULL,
	    "/a-very-long-directory-name", "/bin/sh", fake_exec, buf, 16), -1);
	assert_int_equal(fake_n, 0);
	assert_int_equal(errno, ENAMETOOLONG);
	/* Exactly the room: "/b/prog" and its NUL in 8 bytes. */
	fake_reset(ENOENT, 0, 0, 0);
	(void) execenv_search("prog", av, NULL, "/b", "/bin/sh", fake_exec,
	    buf, 8);
	assert_int_equal(fake_n, 1);
	fake_reset(ENOENT, 0, 0, 0);
	(void) execenv_search("prog", av, NULL, "/b", "/bin/sh", fake_exec,
	    buf, 7);
	assert_int_equal(fake_n, 0);
}

/* ENOEXEC: the shell runs the candidate with the arguments; final. */
static void
search_script(void **state)
{
	char buf[64];
	char *many[EXECENV_SH_ARGS + 1];

	(void) state;
	fake_reset(ENOENT, ENOEXEC, ENOENT, 0);
	assert_int_equal(execenv_search("prog", av, NULL, "/a:/b:/c",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(fake_n, 3);
	assert_string_equal(fake_path[2], "/bin/sh");
	assert_string_equal(fake_argv[2], "/bin/sh /b/prog -x y");
	assert_int_equal(errno, ENOENT);
	fake_reset(ENOEXEC, 0, 0, 0);
	(void) execenv_search("/x/run.sh", av, NULL, "/a", "/bin/sh",
	    fake_exec, buf, sizeof (buf));
	assert_int_equal(fake_n, 2);
	assert_string_equal(fake_argv[1], "/bin/sh /x/run.sh -x y");
	/* More arguments than the shell's argv has room for: E2BIG. */
	for (size_t i = 0; i < EXECENV_SH_ARGS; i++)
		many[i] = "a";
	many[EXECENV_SH_ARGS] = NULL;
	fake_reset(ENOEXEC, 0, 0, 0);
	assert_int_equal(execenv_search("/x/run.sh", many, NULL, "/a",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(fake_n, 1);
	many[EXECENV_SH_ARGS - 1] = NULL;
	fake_reset(ENOEXEC, 0, 0, 0);
	assert_int_equal(execenv_search("/x/run.sh", many, NULL, "/a",
	    "/bin/sh", fake_exec, buf, sizeof (buf)), -1);
	assert_int_equal(errno, E2BIG);
	/* EXECENV_SH_ARGS - 2 entries: sh, the script, 253 more, NULL. */
	many[EXECENV_SH_ARGS - 2] = NULL;
	fake_reset(ENOEXEC, 0, 0, 0);
	(void) execenv_search("/x/run.sh", many, NULL, "/a", "/bin/sh",
	    fake_exec, buf, sizeof (buf));
	assert_int_equal(fake_n, 2);
}

#define	SHADOWS	"REUSEPORT_SHIM_SHADOWS="

/* Pairs written as fd:shadow, comma-separated, and read back alike. */
static void
pairs_round_trip(void **state)
{
	const struct execenv_pair p[] = {
		{ 3, 1000, -1, -1 }, { 4, 1000, -1, -1 }, { 65535, 0, -1, -1 },
		{ 7, 8, 9, 10 }		/* a UDP member's */
	};
	struct execenv_pair r[5];
	char buf[64];

	(void) state;
	assert_int_equal(execenv_pairs_format(p, 4, buf, sizeof (buf)),
	    strlen(SHADOWS "3:1000,4:1000,65535:0,7:8:9:10"));
	assert_string_equal(buf, SHADOWS "3:1000,4:1000,65535:0,7:8:9:10");
	assert_int_equal(execenv_pairs_parse(buf + strlen(SHADOWS), r, 5), 4);
	assert_memory_equal(r, p, sizeof (p));
	assert_int_equal(execenv_pairs_format(p, 0, buf, sizeof (buf)),
	    strlen(SHADOWS));
	assert_string_equal(buf, SHADOWS);
	assert_int_equal(execenv_pairs_parse("", r, 4), 0);
	assert_int_equal(execenv_pairs_parse("2147483647:0", r, 4), 1);
	assert_int_equal(r[0].fd, 2147483647);
	assert_int_equal(r[0].ctl, -1);
	assert_int_equal(r[0].out, -1);
}

/* A list of fds, "NAME=3,65535": written, read back, its room, its syntax. */
static void
fds_round_trip(void **state)
{
	const int fds[] = { 3, 65535, 0 }, neg[] = { 4, -1 };
	int r[4];
	char buf[32];

	(void) state;
	assert_int_equal(execenv_fds_format("P", fds, 3, buf, sizeof (buf)),
	    strlen("P=3,65535,0"));
	assert_string_equal(buf, "P=3,65535,0");
	assert_int_equal(execenv_fds_parse(buf + 2, r, 4), 3);
	assert_memory_equal(r, fds, sizeof (fds));
	assert_int_equal(execenv_fds_format("P", fds, 0, buf, sizeof (buf)),
	    2);
	assert_string_equal(buf, "P=");
	assert_int_equal(execenv_fds_parse("", r, 4), 0);
	/* Exactly its room: the terminator's byte too, else -1. */
	assert_int_equal(execenv_fds_format("P", fds, 2, buf,
	    strlen("P=3,65535") + 1), strlen("P=3,65535"));
	assert_int_equal(execenv_fds_format("P", fds, 2, buf,
	    strlen("P=3,65535")), -1);
	assert_int_equal(execenv_fds_format("P", neg, 2, buf, sizeof (buf)),
	    -1);
	/* Forged or broken: none of it. */
	assert_int_equal(execenv_fds_parse("3,", r, 4), -1);
	assert_int_equal(execenv_fds_parse(",3", r, 4), -1);
	assert_int_equal(execenv_fds_parse("3 ,4", r, 4), -1);
	assert_int_equal(execenv_fds_parse("-3", r, 4), -1);
	assert_int_equal(execenv_fds_parse("2147483648", r, 4), -1);
	assert_int_equal(execenv_fds_parse("1,2,3,4,5", r, 4), -1);
	assert_int_equal(execenv_fds_parse("1,2,3,4", r, 4), 4);
}

/* The worst case the room is sized for fits; one byte less does not. */
static void
pairs_format_room(void **state)
{
	struct execenv_pair p[EXECENV_PAIRS_MAX];
	const struct execenv_pair neg[] = { { -1, 3, -1, -1 } },
	    half[] = { { 3, 4, 5, -1 } };
	char buf[EXECENV_PAIRS_BYTES];
	int len;

	(void) state;
	for (size_t i = 0; i < EXECENV_PAIRS_MAX; i++) {
		p[i].fd = 65535 - (int)i;
		p[i].shadow = p[i].ctl = p[i].out = 65535;
	}
	len = execenv_pairs_format(p, EXECENV_PAIRS_MAX, buf, sizeof (buf));
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	p[1].ctl = p[1].out = -1;
	assert_int_equal(execenv_pairs_format(p, 2, buf,
	    strlen(SHADOWS "65535:65535:65535:65535,65534:65535") + 1),
	    strlen(SHADOWS "65535:65535:65535:65535,65534:65535"));
	assert_int_equal(execenv_pairs_format(p, 2, buf,
	    strlen(SHADOWS "65535:65535:65535:65535,65534:65535")), -1);
	assert_int_equal(execenv_pairs_format(p, 1, buf, 8), -1);
	assert_int_equal(execenv_pairs_format(neg, 1, buf, sizeof (buf)), -1);
	assert_int_equal(execenv_pairs_format(half, 1, buf, sizeof (buf)),
	    -1);
}

/* A forged or broken value is refused whole. */
static void
pairs_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"3", "3:", ":4", "3:4,", ",3:4", "3:4,,5:6", "3:4:5", "-3:4",
		"+3:4", "3: 4", " 3:4", "3:4 ", "3;4", "2147483648:1",
		"99999999999999999999:1", "3:4,5", "0x3:4", "3:4,5:6,7:8",
		"3:4:5:", "3:4:5:6:7", "3:4::6", "3:4:5:-6",
	};
	struct execenv_pair r[2];

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		if (execenv_pairs_parse(bad[i], r, 2) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
	assert_int_equal(execenv_pairs_parse("3:4,5:6:7:8", r, 2), 2);
	assert_int_equal(r[1].fd, 5);
	assert_int_equal(r[1].shadow, 6);
	assert_int_equal(r[1].ctl, 7);
	assert_int_equal(r[1].out, 8);
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
		cmocka_unit_test(has_shim_preload_variable),
		cmocka_unit_test(build_empty),
		cmocka_unit_test(build_keeps_theirs),
		cmocka_unit_test(build_dir_from_endpoint),
		cmocka_unit_test(build_no_room),
		cmocka_unit_test(fallback_by_suffix),
		cmocka_unit_test(effective_class_overrides),
		cmocka_unit_test(self_pre_per_class),
		cmocka_unit_test(build_per_class),
		cmocka_unit_test(build_plain_for_classes),
		cmocka_unit_test(search_slash),
		cmocka_unit_test(search_order),
		cmocka_unit_test(search_errors),
		cmocka_unit_test(search_script),
		cmocka_unit_test(pairs_round_trip),
		cmocka_unit_test(fds_round_trip),
		cmocka_unit_test(pairs_format_room),
		cmocka_unit_test(pairs_parse_refuses),
		cmocka_unit_test(replace_stale),
		cmocka_unit_test(replace_no_room),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
