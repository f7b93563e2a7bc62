/*
 * fakes.c: see fakes.h.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fakes.h"
#include "platform.h"
#include "proto.h"

static const struct fake_env *env_tab;
static size_t env_n;

void
fake_env_set(const struct fake_env *tab, size_t n)
{
	env_tab = tab;
	env_n = n;
}

const char *
fake_getenv(const char *name)
{
	for (size_t i = 0; i < env_n; i++) {
		if (strcmp(env_tab[i].name, name) == 0)
			return (env_tab[i].value);
	}
	return (NULL);
}

struct fake_sockopt fake_so;

void
fake_sockopt_reset(int (*next_set)(int, int, int, const void *, socklen_t),
    int (*next_get)(int, int, int, void *, socklen_t *))
{
	memset(&fake_so, 0, sizeof (fake_so));
	fake_so.next_set = next_set;
	fake_so.next_get = next_get;
}

static void
record(struct fake_call *tab, size_t *n, int fd, int level, int name,
    int value, socklen_t len)
{
	/* Past the end the count still grows: a test sees it overflowed. */
	if (*n < FAKE_MAX_CALLS) {
		tab[*n].fd = fd;
		tab[*n].level = level;
		tab[*n].name = name;
		tab[*n].value = value;
		tab[*n].len = len;
	}
	(*n)++;
}

int
fake_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int v = 0;

	if (val != NULL && len >= sizeof (int))
		memcpy(&v, val, sizeof (v));
	record(fake_so.set, &fake_so.nset, fd, level, name, v, len);
	if (level == SOL_SOCKET && name == plat_so_reuseport) {
		/*
		 * Answer for "the kernel" without reaching it: the test, not
		 * the machine, decides whether SO_REUSEPORT exists.
		 */
		if (fake_so.reuseport_errno != 0) {
			errno = fake_so.reuseport_errno;
			return (-1);
		}
		return (0);
	}
	if (fake_so.next_set == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (fake_so.next_set(fd, level, name, val, len));
}

int
fake_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	record(fake_so.get, &fake_so.nget, fd, level, name, 0,
	    len != NULL ? *len : 0);
	if (fake_so.next_get == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (fake_so.next_get(fd, level, name, val, len));
}

static size_t
count(const struct fake_call *tab, size_t n, int level, int name)
{
	size_t c = 0;

	if (n > FAKE_MAX_CALLS)
		n = FAKE_MAX_CALLS;
	for (size_t i = 0; i < n; i++) {
		if (tab[i].level == level && tab[i].name == name)
			c++;
	}
	return (c);
}

size_t
fake_count_set(int level, int name)
{
	return (count(fake_so.set, fake_so.nset, level, name));
}

size_t
fake_count_get(int level, int name)
{
	return (count(fake_so.get, fake_so.nget, level, name));
}

int
fake_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return (-1);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	(void) closedir(d);
	return (n - 1);		/* the directory's own fd */
}

int
fake_mkdtemp(char *out, size_t len)
{
	int n = snprintf(out, len, "/tmp/rpshim-unit-XXXXXX");

	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (mkdtemp(out) != NULL ? 0 : -1);
}

void
fake_rmtree(const char *dir)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char p[1024];

	if (lstat(dir, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		(void) unlink(dir);
		return;
	}
	/* A test may have left it mode 0000 or so; we are its owner. */
	(void) chmod(dir, 0700);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if (snprintf(p, sizeof (p), "%s/%s", dir,
			    e->d_name) < (int)sizeof (p))
				fake_rmtree(p);
		}
		(void) closedir(d);
	}
	(void) rmdir(dir);
}

uint32_t
fake_rand(uint32_t *state)
{
	uint32_t x = *state != 0 ? *state : 0x12345678u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return (x);
}

int
fake_conn(int own, uint32_t prev, uint32_t seq)
{
	struct proto_rec r;
	int c[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, c) != 0)
		return (-1);
	memset(&r, 0, sizeof (r));
	r.type = REC_CONN;
	r.seq = seq;
	r.arg = (int32_t)prev;
	r.addr.family = AF_INET;
	rc = proto_send(own, &r, c[0]);
	(void) close(c[0]);
	if (rc != 0) {
		(void) close(c[1]);
		return (-1);
	}
	return (c[1]);
}
