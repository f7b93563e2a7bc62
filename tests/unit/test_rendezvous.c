/*
 * test_rendezvous.c: the rendezvous directory (choice and security
 * checks) and the group sockets in it.  Everything on disk happens in a
 * private mkdtemp directory that teardown removes, whether the test
 * passed or not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "fakes.h"
#include "rendezvous.h"
#include "util.h"

#define	MAXFDS	8

struct fixture {
	char	tmp[64];	/* the mkdtemp directory */
	int	fds[MAXFDS];	/* closed by teardown */
	size_t	nfds;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof (*f));

	if (f == NULL || fake_mkdtemp(f->tmp, sizeof (f->tmp)) != 0) {
		free(f);
		return (-1);
	}
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->nfds; i++)
		(void) close(f->fds[i]);
	fake_rmtree(f->tmp);
	free(f);
	return (0);
}

/* Remember fd for teardown; returns it. */
static int
keep(struct fixture *f, int fd)
{
	if (fd >= 0 && f->nfds < MAXFDS)
		f->fds[f->nfds++] = fd;
	return (fd);
}

static void
sub(char *out, size_t len, const struct fixture *f, const char *name)
{
	int n = snprintf(out, len, "%s/%s", f->tmp, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* --- choosing the directory ------------------------------------------ */

/* A struct stat as lstat would fill it: type and mode, owner. */
static struct stat
fake_stat(mode_t mode, uid_t uid)
{
	struct stat st;

	memset(&st, 0, sizeof (st));
	st.st_mode = mode;
	st.st_uid = uid;
	return (st);
}

static void
test_choose(void **state)
{
	char out[CONFIG_PATH_MAX];

	(void) state;
	/* With a configured dir or XDG, no file is looked at: pure here. */
	assert_int_equal(rv_dir_choose(out, sizeof (out), "/etc/rp",
	    "/run/user/1000", 1000), 0);
	assert_string_equal(out, "/etc/rp");

	assert_int_equal(rv_dir_choose(out, sizeof (out), NULL,
	    "/run/user/1000", 1000), 0);
	assert_string_equal(out, "/run/user/1000/reuseport-shim");
	/* An empty configured dir is the same as none. */
	assert_int_equal(rv_dir_choose(out, sizeof (out), "",
	    "/run/user/1000", 1000), 0);
	assert_string_equal(out, "/run/user/1000/reuseport-shim");
}

/* The shared default: the /tmp name while nobody else holds it. */
static void
test_pick_tmp(void **state)
{
	char out[CONFIG_PATH_MAX], why[256];
	struct stat ours = fake_stat(S_IFDIR | 0700, 1234);
	struct stat home = fake_stat(S_IFDIR | 0755, 1234);
	struct rv_dir_in in = { NULL, NULL, 1234, NULL, "/home/u", &home };

	(void) state;
	/* Missing: it will be created. */
	why[0] = '\0';
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, why,
	    sizeof (why)), 0);
	assert_string_equal(out, "/tmp/reuseport-shim-1234");
	assert_string_equal(why, "");
	/* Ours already: the same name, so earlier groups are still found. */
	in.tmp = &ours;
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/tmp/reuseport-shim-1234");

	in.euid = 0;
	in.tmp = NULL;
	in.xdg = "";
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/tmp/reuseport-shim-0");
	/*
	 * A relative XDG_RUNTIME_DIR would put the sockets wherever the
	 * program happens to run: ignored, as the XDG spec says.
	 */
	in.euid = 77;
	in.xdg = "run/user/1000";
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/tmp/reuseport-shim-77");
}

/*
 * Another user took the /tmp name first (or planted a link or a file
 * there): the user's own HOME instead, which nobody else can create in.
 */
static void
test_pick_squatted(void **state)
{
	static const struct {
		mode_t		mode;
		uid_t		uid;
		const char	*reason;
	} taken[] = {
		{ S_IFDIR | 0700, 999, "owned by uid 999, not 1234" },
		{ S_IFDIR | 0777, 1234, "writable by group or others" },
		{ S_IFDIR | 0720, 1234, "writable by group or others" },
		{ S_IFLNK | 0777, 999, "(a symbolic link)" },
		{ S_IFREG | 0600, 999, "is not a directory" },
	};
	char out[CONFIG_PATH_MAX], why[256];
	struct stat home = fake_stat(S_IFDIR | 0755, 1234), tmp;
	struct rv_dir_in in = { NULL, NULL, 1234, &tmp, "/home/u", &home };

	(void) state;
	for (size_t i = 0; i < sizeof (taken) / sizeof (taken[0]); i++) {
		tmp = fake_stat(taken[i].mode, taken[i].uid);
		why[0] = '\0';
		assert_int_equal(rv_dir_pick(out, sizeof (out), &in, why,
		    sizeof (why)), 1);
		assert_string_equal(out, "/home/u/.reuseport-shim");
		assert_non_null(strstr(why, "/tmp/reuseport-shim-1234"));
		assert_non_null(strstr(why, taken[i].reason));
	}
	/* The same answer for every process that sees the same things. */
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 1);
	assert_string_equal(out, "/home/u/.reuseport-shim");
	in.home = "/";
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 1);
	assert_string_equal(out, "/.reuseport-shim");
	in.home = "/home/u/";
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 1);
	assert_string_equal(out, "/home/u/.reuseport-shim");

	/* An explicit directory is never second-guessed. */
	tmp = fake_stat(S_IFDIR | 0700, 999);
	in.cfgdir = "/srv/rv";
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/srv/rv");
	in.cfgdir = NULL;
	in.xdg = "/run/user/1234";
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/run/user/1234/reuseport-shim");
}

/*
 * No HOME to use: the /tmp name stays, to be refused with its reason.
 * HOME must be an absolute directory of the user's: HOME=/tmp (or any
 * directory others may write) would be the same trap again.
 */
static void
test_pick_no_home(void **state)
{
	char out[CONFIG_PATH_MAX], why[256];
	struct stat tmp = fake_stat(S_IFDIR | 0700, 999), home;
	struct rv_dir_in in = { NULL, NULL, 1234, &tmp, NULL, &home };
	static const struct {
		const char	*home;
		mode_t		mode;
		uid_t		uid;
	} bad[] = {
		{ NULL, S_IFDIR | 0755, 1234 },
		{ "", S_IFDIR | 0755, 1234 },
		{ "home/u", S_IFDIR | 0755, 1234 },
		{ "/tmp", S_IFDIR | 01777, 0 },
		{ "/home/other", S_IFDIR | 0755, 999 },
		{ "/home/u", S_IFREG | 0644, 1234 },
	};

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		in.home = bad[i].home;
		home = fake_stat(bad[i].mode, bad[i].uid);
		why[0] = '\0';
		assert_int_equal(rv_dir_pick(out, sizeof (out), &in, why,
		    sizeof (why)), 0);
		assert_string_equal(out, "/tmp/reuseport-shim-1234");
		assert_string_equal(why, "");
	}
	/* HOME that could not be examined. */
	in.home = "/home/u";
	in.homest = NULL;
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/tmp/reuseport-shim-1234");
}

/* The checks rv_dir_check applies, on a stat alone, with its messages. */
static void
test_dir_stat_ok(void **state)
{
	char why[256];
	struct stat st;

	(void) state;
	st = fake_stat(S_IFDIR | 0700, 5);
	assert_int_equal(rv_dir_stat_ok("/d", &st, 5, why, sizeof (why)), 0);
	st = fake_stat(S_IFDIR | 0755, 5);
	assert_int_equal(rv_dir_stat_ok("/d", &st, 5, why, sizeof (why)), 0);
	st = fake_stat(S_IFDIR | 0700, 6);
	assert_int_equal(rv_dir_stat_ok("/d", &st, 5, why, sizeof (why)), -1);
	assert_string_equal(why, "/d is owned by uid 6, not 5");
	st = fake_stat(S_IFDIR | 0702, 5);
	assert_int_equal(rv_dir_stat_ok("/d", &st, 5, why, sizeof (why)), -1);
	assert_string_equal(why,
	    "/d is writable by group or others (mode 702)");
	st = fake_stat(S_IFLNK | 0777, 5);
	assert_int_equal(rv_dir_stat_ok("/d", &st, 5, why, sizeof (why)), -1);
	assert_string_equal(why, "/d is not a directory (a symbolic link)");
}

/* An endpoint's peer name, as rv_listen binds it, gives back the group. */
static void
test_parse_peer(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	uint8_t v6[16] = { [15] = 1 };

	(void) state;
	assert_int_equal(rv_parse_peer("/d", "/d/tcp4-127.0.0.1-8080.123-0",
	    &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof (*in));
	assert_int_equal(ntohs(in->sin_port), 8080);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(rv_parse_peer("/d", "/d/tcp6-::1-443.9-12", &ss,
	    &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 443);
	assert_memory_equal(&in6->sin6_addr, v6, 16);
	assert_int_equal(in6->sin6_scope_id, 0);

	assert_int_equal(rv_parse_peer("/d", "/d/tcp6-fe80::1%3-80.1-0", &ss,
	    &len), 0);
	assert_int_equal(in6->sin6_scope_id, 3);

	/* What rv_path and rv_listen write must parse back. */
	{
		struct sockaddr_in a = { .sin_family = AF_INET };
		char path[RV_PATH_MAX + RV_SUFFIX_MAX];

		a.sin_port = htons(65535);
		a.sin_addr.s_addr = htonl(0x0a000002);
		assert_int_equal(rv_path(path, sizeof (path), "/run/x",
		    (struct sockaddr *)&a), 0);
		strcat(path, ".4242-7");
		assert_int_equal(rv_parse_peer("/run/x", path, &ss, &len), 0);
		assert_memory_equal(&in->sin_addr, &a.sin_addr, 4);
		assert_int_equal(in->sin_port, a.sin_port);
	}
}

/* Names that are not an endpoint's peer: never taken for one. */
static void
test_parse_peer_rejects(void **state)
{
	static const char *const bad[] = {
		"/e/tcp4-127.0.0.1-8080.1-0",	/* another directory */
		"/dd/tcp4-127.0.0.1-8080.1-0",	/* a prefix, not the dir */
		"/d/tcp4-127.0.0.1-8080",	/* the name, not a bound name */
		"/d/udp4-127.0.0.1-8080.1-0",
		"/d/tcp4-127.0.0.1-0.1-0",	/* port 0 */
		"/d/tcp4-127.0.0.1-65536.1-0",
		"/d/tcp4-127.0.0.1-80x.1-0",
		"/d/tcp4-127.0.0.1.1-0",	/* no port */
		"/d/tcp4-::1-80.1-0",		/* v6 address in a tcp4 name */
		"/d/tcp6-127.0.0.1-80.1-0",
		"/d/tcp6-fe80::1%x-80.1-0",
		"/d/tcp4-127.0.0.1-80.1-",	/* truncated suffix */
		"/d/tcp4-127.0.0.1-80.1",
		"/d/tcp4-127.0.0.1-80.-1",
		"/d/tcp4--80.1-0",
		"/d/",
		"",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		if (rv_parse_peer("/d", bad[i], &ss, &len) == 0)
			fail_msg("took \"%s\" for an endpoint's peer", bad[i]);
	}
}

/*
 * UDP groups' names sit beside TCP's ("udp4-...", "udp6-..."): the
 * protocol-aware parser tells them apart, and what rv_path_proto writes
 * parses back to the same address and protocol.
 */
static void
test_parse_peer_proto(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	uint8_t v6[16] = { [15] = 1 };
	enum rv_proto proto;
	socklen_t len;

	(void) state;
	proto = RV_TCP;
	assert_int_equal(rv_parse_peer_proto("/d",
	    "/d/udp4-127.0.0.1-53.123-0", &ss, &len, &proto), 0);
	assert_int_equal(proto, RV_UDP);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof (*in));
	assert_int_equal(ntohs(in->sin_port), 53);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(rv_parse_peer_proto("/d", "/d/udp6-::1-5353.9-12",
	    &ss, &len, &proto), 0);
	assert_int_equal(proto, RV_UDP);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 5353);
	assert_memory_equal(&in6->sin6_addr, v6, 16);
	assert_int_equal(in6->sin6_scope_id, 0);

	assert_int_equal(rv_parse_peer_proto("/d",
	    "/d/udp6-fe80::1%3-80.1-0", &ss, &len, &proto), 0);
	assert_int_equal(proto, RV_UDP);
	assert_int_equal(in6->sin6_scope_id, 3);

	/* TCP's names through the same parser say TCP. */
	proto = RV_UDP;
	assert_int_equal(rv_parse_peer_proto("/d",
	    "/d/tcp4-127.0.0.1-8080.1-0", &ss, &len, &proto), 0);
	assert_int_equal(proto, RV_TCP);

	/* Both protocols, both families: written, then read back. */
	for (int p = RV_TCP; p <= RV_UDP; p++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		struct sockaddr_in6 b = { .sin6_family = AF_INET6 };
		char path[RV_PATH_MAX + RV_SUFFIX_MAX];

		a.sin_port = htons(65535);
		a.sin_addr.s_addr = htonl(0x0a000002);
		assert_int_equal(rv_path_proto(path, sizeof (path), "/run/x",
		    (struct sockaddr *)&a, (enum rv_proto)p), 0);
		strcat(path, ".4242-7");
		assert_int_equal(rv_parse_peer_proto("/run/x", path, &ss,
		    &len, &proto), 0);
		assert_int_equal(proto, p);
		assert_memory_equal(&in->sin_addr, &a.sin_addr, 4);
		assert_int_equal(in->sin_port, a.sin_port);

		b.sin6_port = htons(1);
		b.sin6_scope_id = 7;
		assert_int_equal(inet_pton(AF_INET6, "fe80::2", &b.sin6_addr),
		    1);
		assert_int_equal(rv_path_proto(path, sizeof (path), "/run/x",
		    (struct sockaddr *)&b, (enum rv_proto)p), 0);
		strcat(path, ".1-0");
		assert_int_equal(rv_parse_peer_proto("/run/x", path, &ss,
		    &len, &proto), 0);
		assert_int_equal(proto, p);
		assert_memory_equal(&in6->sin6_addr, &b.sin6_addr, 16);
		assert_int_equal(in6->sin6_port, b.sin6_port);
		assert_int_equal(in6->sin6_scope_id, 7);
	}
}

/* Not a UDP group's bound name: never taken for one (nor TCP's). */
static void
test_parse_peer_proto_rejects(void **state)
{
	static const char *const bad[] = {
		"/e/udp4-127.0.0.1-53.1-0",	/* another directory */
		"/d/udp4-127.0.0.1-53",		/* the name, not a bound name */
		"/d/udp5-127.0.0.1-53.1-0",	/* no such family */
		"/d/udq4-127.0.0.1-53.1-0",	/* no such protocol */
		"/d/UDP4-127.0.0.1-53.1-0",
		"/d/sctp4-127.0.0.1-53.1-0",
		"/d/udp-127.0.0.1-53.1-0",
		"/d/udp4-127.0.0.1-0.1-0",	/* port 0 */
		"/d/udp4-127.0.0.1-65536.1-0",
		"/d/udp4-::1-53.1-0",		/* v6 address in a udp4 name */
		"/d/udp6-127.0.0.1-53.1-0",
		"/d/udp6-fe80::1%x-53.1-0",
		"/d/udp4-127.0.0.1-53.1-",	/* truncated suffix */
		"/d/udp4--53.1-0",
		"/d/udp",
	};
	struct sockaddr_storage ss;
	enum rv_proto proto;
	socklen_t len;

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++) {
		if (rv_parse_peer_proto("/d", bad[i], &ss, &len, &proto) == 0)
			fail_msg("took \"%s\" for an endpoint's peer", bad[i]);
	}
	/* The TCP-only parser still refuses a UDP group's name. */
	assert_int_equal(rv_parse_peer("/d", "/d/udp6-::1-53.1-0", &ss, &len),
	    -1);
}

static void
test_choose_too_long(void **state)
{
	char out[32], big[64];
	struct stat tmp, home;
	struct rv_dir_in in = { NULL, NULL, 0, NULL, NULL, NULL };

	(void) state;
	/* Exactly fits (31 characters and the NUL), then one more. */
	memset(big, 'a', sizeof (big));
	big[0] = '/';
	big[31] = '\0';
	assert_int_equal(rv_dir_choose(out, sizeof (out), big, NULL, 0), 0);
	assert_string_equal(out, big);
	big[31] = 'a';
	big[32] = '\0';
	assert_int_equal(rv_dir_choose(out, sizeof (out), big, NULL, 0), -1);

	/* XDG plus the suffix that no longer fits. */
	big[20] = '\0';
	assert_int_equal(rv_dir_choose(out, sizeof (out), NULL, big, 0), -1);
	/* The /tmp name with a large uid, in a small buffer. */
	in.euid = 4000000000u;
	assert_int_equal(rv_dir_pick(out, 20, &in, NULL, 0), -1);
	/* A HOME too long for the name: the /tmp name, for its refusal. */
	tmp = fake_stat(S_IFDIR | 0700, 999);
	home = fake_stat(S_IFDIR | 0700, 1);
	in.euid = 1;
	in.tmp = &tmp;
	in.home = big;
	in.homest = &home;
	assert_int_equal(rv_dir_pick(out, sizeof (out), &in, NULL, 0), 0);
	assert_string_equal(out, "/tmp/reuseport-shim-1");
}

/* --- socket paths ------------------------------------------------------ */

static void
test_path(void **state)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	char out[RV_PATH_MAX];

	(void) state;
	memset(&in4, 0, sizeof (in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(8080);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &in4.sin_addr), 1);
	assert_int_equal(rv_path(out, sizeof (out), "/d",
	    (struct sockaddr *)&in4), 0);
	assert_string_equal(out, "/d/tcp4-127.0.0.1-8080");

	memset(&in6, 0, sizeof (in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(443);
	assert_int_equal(inet_pton(AF_INET6, "::1", &in6.sin6_addr), 1);
	assert_int_equal(rv_path(out, sizeof (out), "/d",
	    (struct sockaddr *)&in6), 0);
	assert_string_equal(out, "/d/tcp6-::1-443");

	/* fe80::1 on two links are two groups. */
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr), 1);
	in6.sin6_port = htons(80);
	in6.sin6_scope_id = 2;
	assert_int_equal(rv_path(out, sizeof (out), "/d",
	    (struct sockaddr *)&in6), 0);
	assert_string_equal(out, "/d/tcp6-fe80::1%2-80");
	in6.sin6_scope_id = 3;
	assert_int_equal(rv_path(out, sizeof (out), "/d",
	    (struct sockaddr *)&in6), 0);
	assert_string_equal(out, "/d/tcp6-fe80::1%3-80");

	memset(&un, 0, sizeof (un));
	un.sun_family = AF_UNIX;
	assert_int_equal(rv_path(out, sizeof (out), "/d",
	    (struct sockaddr *)&un), -1);
}

/* A UDP group's socket has its own name: both can hold one port. */
static void
test_path_proto(void **state)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	char out[RV_PATH_MAX], tcp[RV_PATH_MAX];

	(void) state;
	memset(&in4, 0, sizeof (in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(53);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &in4.sin_addr), 1);
	assert_int_equal(rv_path_proto(out, sizeof (out), "/d",
	    (struct sockaddr *)&in4, RV_UDP), 0);
	assert_string_equal(out, "/d/udp4-127.0.0.1-53");
	assert_int_equal(rv_path_proto(out, sizeof (out), "/d",
	    (struct sockaddr *)&in4, RV_TCP), 0);
	assert_int_equal(rv_path(tcp, sizeof (tcp), "/d",
	    (struct sockaddr *)&in4), 0);
	assert_string_equal(out, tcp);
	assert_string_equal(out, "/d/tcp4-127.0.0.1-53");

	memset(&in6, 0, sizeof (in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(5353);
	assert_int_equal(inet_pton(AF_INET6, "::", &in6.sin6_addr), 1);
	assert_int_equal(rv_path_proto(out, sizeof (out), "/d",
	    (struct sockaddr *)&in6, RV_UDP), 0);
	assert_string_equal(out, "/d/udp6-::-5353");
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr), 1);
	in6.sin6_scope_id = 2;
	assert_int_equal(rv_path_proto(out, sizeof (out), "/d",
	    (struct sockaddr *)&in6, RV_UDP), 0);
	assert_string_equal(out, "/d/udp6-fe80::1%2-5353");
	/* Too long for the buffer, as rv_path. */
	assert_int_equal(rv_path_proto(out, 10, "/d",
	    (struct sockaddr *)&in4, RV_UDP), -1);
}

static void
test_path_too_long(void **state)
{
	struct sockaddr_in in4;
	char dir[RV_PATH_MAX + 16], out[512];
	const size_t tail = strlen("/tcp4-1.2.3.4-80");
	/* A group's name leaves room for the suffix of its bound name. */
	const size_t longest = RV_PATH_MAX - RV_SUFFIX_MAX - 1;

	(void) state;
	memset(&in4, 0, sizeof (in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(80);
	assert_int_equal(inet_pton(AF_INET, "1.2.3.4", &in4.sin_addr), 1);

	/*
	 * The limit is sun_path's, not the caller's buffer: the longest
	 * name fits, one character more does not.
	 */
	memset(dir, 'x', sizeof (dir));
	dir[0] = '/';
	dir[longest - tail] = '\0';
	assert_int_equal(rv_path(out, sizeof (out), dir,
	    (struct sockaddr *)&in4), 0);
	assert_int_equal(strlen(out), longest);
	dir[longest - tail] = 'x';
	dir[longest + 1 - tail] = '\0';
	assert_int_equal(rv_path(out, sizeof (out), dir,
	    (struct sockaddr *)&in4), -1);
	/* A directory that alone is longer than sun_path. */
	dir[sizeof (dir) - 1] = '\0';
	assert_int_equal(rv_path(out, sizeof (out), dir,
	    (struct sockaddr *)&in4), -1);

	/* And the caller's buffer is respected too. */
	assert_int_equal(rv_path(out, 10, "/d", (struct sockaddr *)&in4), -1);
}

/* --- directory checks --------------------------------------------------- */

static void
test_check_creates(void **state)
{
	struct fixture *f = *state;
	char d[128], why[256];
	struct stat st;

	sub(d, sizeof (d), f, "rv");
	why[0] = '\0';
	assert_int_equal(rv_dir_check(d, geteuid(), why, sizeof (why)), 0);
	assert_int_equal(lstat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());

	/* Again: it exists now, and is fine. */
	assert_int_equal(rv_dir_check(d, geteuid(), why, sizeof (why)), 0);

	/* A parent that does not exist: refused with the reason. */
	sub(d, sizeof (d), f, "no/such/dir");
	assert_int_equal(rv_dir_check(d, geteuid(), why, sizeof (why)), -1);
	assert_non_null(strstr(why, "no/such/dir"));
}

static void
expect_refused(const char *d, uid_t euid, const char *reason)
{
	char why[256];

	why[0] = '\0';
	if (rv_dir_check(d, euid, why, sizeof (why)) != -1) {
		print_error("%s accepted (expected: %s)\n", d, reason);
		fail();
	}
	if (strstr(why, reason) == NULL) {
		print_error("reason \"%s\" does not say \"%s\"\n", why, reason);
		fail();
	}
}

static void
test_check_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	char good[128], link[128], why[256];

	sub(good, sizeof (good), f, "good");
	sub(link, sizeof (link), f, "link");
	assert_int_equal(mkdir(good, 0700), 0);
	assert_int_equal(rv_dir_check(good, geteuid(), why, sizeof (why)), 0);
	/*
	 * Whoever could plant the link could later point it elsewhere: a
	 * link is refused even when its target would pass.
	 */
	assert_int_equal(symlink(good, link), 0);
	expect_refused(link, geteuid(), "symbolic link");
}

static void
test_check_refuses_file(void **state)
{
	struct fixture *f = *state;
	char file[128];
	int fd;

	sub(file, sizeof (file), f, "file");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	(void) close(fd);
	expect_refused(file, geteuid(), "not a directory");
}

static void
test_check_refuses_writable(void **state)
{
	static const mode_t modes[] = { 0777, 0720, 0702, 0770, 0703 };
	struct fixture *f = *state;
	char d[128];

	sub(d, sizeof (d), f, "shared");
	assert_int_equal(mkdir(d, 0700), 0);
	for (size_t i = 0; i < sizeof (modes) / sizeof (modes[0]); i++) {
		/* chmod, not mkdir's mode: the umask would hide the bits. */
		assert_int_equal(chmod(d, modes[i]), 0);
		expect_refused(d, geteuid(), "writable by group or others");
	}
	assert_int_equal(chmod(d, 0700), 0);
	expect_refused(d, geteuid() + 1, "owned by");
}

static void
test_check_refuses_other_owner(void **state)
{
	struct fixture *f = *state;
	char d[128];

	if (geteuid() != 0) {
		print_message("not root: cannot give a directory away\n");
		skip();
	}
	sub(d, sizeof (d), f, "theirs");
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(chown(d, 65534, 65534), 0);
	expect_refused(d, geteuid(), "owned by uid 65534");
}

/* --- sockets ------------------------------------------------------------ */

/*
 * The directory holds exactly the sockets named in want (n of them):
 * the private name a socket was bound under is gone after the rename.
 */
static void
assert_only(const char *dir, const char *const *want, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t seen = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		int known = 0;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		for (size_t i = 0; i < n; i++)
			known |= strcmp(e->d_name, want[i]) == 0;
		if (!known) {
			(void) closedir(d);
			print_error("left behind: %s/%s\n", dir, e->d_name);
			fail();
		}
		seen++;
	}
	(void) closedir(d);
	assert_int_equal(seen, n);
}

/* A client connects, is accepted, and a byte goes across. */
static void
assert_serves(struct fixture *f, int lfd, const char *path)
{
	int c, a;
	char b = 0;

	c = keep(f, rv_connect(path));
	assert_true(c >= 0);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
	a = keep(f, accept(lfd, NULL, NULL));
	assert_true(a >= 0);
	assert_int_equal(write(c, "k", 1), 1);
	assert_int_equal(read(a, &b, 1), 1);
	assert_int_equal(b, 'k');
}

static void
test_listen_connect(void **state)
{
	static const char *const names[] = { "tcp4-127.0.0.1-8080" };
	struct fixture *f = *state;
	char path[128];
	struct stat st;
	int lfd;

	sub(path, sizeof (path), f, names[0]);
	lfd = keep(f, rv_listen(path));
	assert_true(lfd >= 0);
	/* An owner's listener must not leak into programs it execs. */
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_serves(f, lfd, path);
	assert_only(f->tmp, names, 1);
}

static void
test_listen_replaces_stale(void **state)
{
	static const char *const names[] = { "tcp6-::1-443" };
	struct fixture *f = *state;
	struct sockaddr_un un;
	char path[128];
	int s, lfd;

	sub(path, sizeof (path), f, names[0]);
	/* A socket file left by an owner that died: nobody listens. */
	memset(&un, 0, sizeof (un));
	un.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof (un.sun_path));
	strcpy(un.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&un, sizeof (un)), 0);
	(void) close(s);
	errno = 0;
	assert_int_equal(rv_connect(path), -1);
	assert_int_equal(errno, ECONNREFUSED);

	lfd = keep(f, rv_listen(path));
	assert_true(lfd >= 0);
	assert_serves(f, lfd, path);
	assert_only(f->tmp, names, 1);

	/* And a second owner replaces a live one the same way. */
	lfd = keep(f, rv_listen(path));
	assert_true(lfd >= 0);
	assert_serves(f, lfd, path);
	assert_only(f->tmp, names, 1);
}

static void
test_listen_connect_errors(void **state)
{
	struct fixture *f = *state;
	char path[128], longp[256];

	sub(path, sizeof (path), f, "nobody-here");
	errno = 0;
	assert_int_equal(rv_connect(path), -1);
	assert_int_equal(errno, ENOENT);

	/* Longer than sun_path: refused, not truncated to another name. */
	memset(longp, 'z', sizeof (longp));
	memcpy(longp, f->tmp, strlen(f->tmp));
	longp[strlen(f->tmp)] = '/';
	longp[sizeof (longp) - 1] = '\0';
	assert_int_equal(rv_listen(longp), -1);
	errno = 0;
	assert_int_equal(rv_connect(longp), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_only(f->tmp, NULL, 0);
}

/* --- bounded waits ------------------------------------------------------ */

/*
 * An owner that takes no connections (stopped, out of fds) fills its
 * backlog; a connect to it must give up, not wait as long as the owner.
 * SIGALRM's default action ends the test if it hangs instead.
 */
static void
test_connect_full_backlog(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un un;
	char path[128];
	int l, c, e;

	sub(path, sizeof (path), f, "tcp4-127.0.0.1-1");
	memset(&un, 0, sizeof (un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, path);
	l = keep(f, socket(AF_UNIX, SOCK_STREAM, 0));
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&un, sizeof (un)), 0);
	assert_int_equal(listen(l, 0), 0);
	/* Fill the backlog: nobody accepts. */
	for (;;) {
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(c >= 0);
		assert_int_equal(fcntl(c, F_SETFL, O_NONBLOCK), 0);
		if (connect(c, (struct sockaddr *)&un, sizeof (un)) != 0)
			break;
		assert_int_not_equal(keep(f, c), -1);
		assert_true(f->nfds < MAXFDS);
	}
	(void) close(c);
	(void) alarm(10);
	errno = 0;
	assert_int_equal(rv_connect_until(path, util_deadline(200)), -1);
	e = errno;
	(void) alarm(0);
	assert_true(e == EAGAIN || e == ETIMEDOUT);

	/* Once the owner takes one, the next connect works, and blocks. */
	(void) keep(f, accept(l, NULL, NULL));
	c = keep(f, rv_connect_until(path, util_deadline(200)));
	assert_true(c >= 0);
	assert_int_equal(fcntl(c, F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
}

#define	TICKS_MAX	2000	/* signals sent, 2 ms apart: well past 100 ms */

static volatile sig_atomic_t ticks;
static volatile sig_atomic_t tick_stop;

static void
on_tick(int sig)
{
	(void) sig;
	ticks++;
}

static void *
ticker(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;
	struct timespec ts = { 0, 2000000L };

	while (!tick_stop && ticks < TICKS_MAX) {
		(void) pthread_kill(main_thread, SIGUSR1);
		(void) nanosleep(&ts, NULL);
	}
	return (NULL);
}

/*
 * Signals every 2 ms (no SA_RESTART, as an application may install
 * them): the wait ends at its deadline all the same.  A wait restarted
 * from the start on each EINTR would outlast the ticker.
 */
static void
test_wait_survives_signals(void **state)
{
	struct sigaction sa, old;
	pthread_t self = pthread_self(), t;
	int p[2], rc, e, n;

	(void) state;
	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = on_tick;
	(void) sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(pipe(p), 0);
	ticks = 0;
	tick_stop = 0;
	assert_int_equal(pthread_create(&t, NULL, ticker, &self), 0);
	rc = util_wait_fd(p[0], POLLIN, util_deadline(100));
	e = errno;
	n = ticks;
	tick_stop = 1;
	(void) pthread_join(t, NULL);
	(void) sigaction(SIGUSR1, &old, NULL);
	(void) close(p[0]);
	(void) close(p[1]);
	assert_int_equal(rc, -1);
	assert_int_equal(e, ETIMEDOUT);
	if (n == 0 || n >= TICKS_MAX) {
		print_error("%d signals during the wait (want 1..%d)\n", n,
		    TICKS_MAX - 1);
		fail();
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_pick_tmp),
		cmocka_unit_test(test_pick_squatted),
		cmocka_unit_test(test_pick_no_home),
		cmocka_unit_test(test_dir_stat_ok),
		cmocka_unit_test(test_choose_too_long),
		cmocka_unit_test(test_parse_peer),
		cmocka_unit_test(test_parse_peer_rejects),
		cmocka_unit_test(test_parse_peer_proto),
		cmocka_unit_test(test_parse_peer_proto_rejects),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_path_proto),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test_setup_teardown(test_check_creates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_refuses_symlink,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_refuses_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_refuses_writable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_refuses_other_owner,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_connect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listen_replaces_stale,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_connect_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_full_backlog,
		    setup, teardown),
		cmocka_unit_test(test_wait_survives_signals),
	};

	return (cmocka_run_group_tests_name("rendezvous", tests, NULL, NULL));
}
