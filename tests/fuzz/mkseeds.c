/*
 * mkseeds.c: writes the seed corpora in tests/fuzz/corpus/, so that they
 * follow the record layout if it changes: make fuzz-seeds.
 *
 *   mkseeds PROTO_DIR CONFIG_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "proto.h"

static void
put(const char *dir, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	(void) snprintf(path, sizeof (path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/*
 * Encode n records into one stream seed, followed by nctl control bytes
 * (fuzz_proto.c: send_record): how each record is sent over the socket.
 */
static void
records_ctl(const char *dir, const char *name, const struct proto_rec *r,
    size_t n, const uint8_t *ctl, size_t nctl)
{
	uint8_t buf[8 * PROTO_REC_SIZE + 8];

	if (n > 8 || nctl > 8)
		abort();
	for (size_t i = 0; i < n; i++)
		proto_encode(&r[i], buf + i * PROTO_REC_SIZE);
	if (nctl > 0)
		memcpy(buf + n * PROTO_REC_SIZE, ctl, nctl);
	put(dir, name, buf, n * PROTO_REC_SIZE + nctl);
}

static void
records(const char *dir, const char *name, const struct proto_rec *r, size_t n)
{
	records_ctl(dir, name, r, n, NULL, 0);
}

static struct proto_rec
rec(int type, uint32_t seq, int32_t arg)
{
	struct proto_rec r;

	memset(&r, 0, sizeof (r));
	r.type = (uint8_t)type;
	r.seq = seq;
	r.arg = arg;
	return (r);
}

static struct proto_addr
addr4(const char *s, uint16_t port)
{
	struct proto_addr a;

	memset(&a, 0, sizeof (a));
	a.family = AF_INET;
	a.port = htons(port);
	(void) inet_pton(AF_INET, s, a.addr);
	return (a);
}

static struct proto_addr
addr6(const char *s, uint16_t port, uint32_t scope)
{
	struct proto_addr a;

	memset(&a, 0, sizeof (a));
	a.family = AF_INET6;
	a.port = htons(port);
	a.scope_id = scope;
	(void) inet_pton(AF_INET6, s, a.addr);
	return (a);
}

/* name, then the values of MODE POLICY PORTS DIR LOG LINGER_MS. */
static const struct {
	const char	*name;
	const char	*vals[6];
} configs[] = {
	{ "ok-default", { "auto", "roundrobin", "8080", "/tmp/rp", "error",
	    "100" } },
	{ "ok-rules", { "emulate", "hash",
	    "tcp:127.0.0.1:8080,tcp:[::1]:443,9000",
	    "/run/user/1000/reuseport-shim", "debug", "0" } },
	{ "ok-any", { "off", "srcip", "tcp:[::]:443,tcp:0.0.0.0:80", "",
	    "info", "86400000" } },
	{ "ok-some", { "emulate", "leastloaded" } },
	{ "bad-mode", { "bogus" } },
	{ "bad-policy", { "auto", "rr" } },
	{ "bad-comma", { "auto", "hash", "80," } },
	{ "bad-port", { "auto", "hash", "70000" } },
	{ "bad-scope", { "auto", "hash", "tcp:[fe80::1%eth0]:80" } },
	{ "bad-dir", { "auto", "hash", "80", "relative/dir" } },
	{ "bad-log", { "auto", "hash", "80", "/d", "loud" } },
	{ "bad-linger", { "auto", "hash", "80", "/d", "warn", "86400001" } },
};

int
main(int argc, char **argv)
{
	struct proto_rec r[8];

	if (argc != 3) {
		fprintf(stderr, "usage: mkseeds PROTO_DIR CONFIG_DIR\n");
		return (2);
	}

	/* A member's life: HELLO, LISTEN, ACK, UNLISTEN. */
	r[0] = rec(REC_HELLO, 0, 4242);
	r[1] = rec(REC_LISTEN, 1, 128);
	r[2] = rec(REC_ACK, 7, 0);
	r[3] = rec(REC_UNLISTEN, 8, 0);
	records(argv[1], "member-stream", r, 4);
	/* Sent with an fd, two, ten; the last split at 15 with an fd each. */
	records_ctl(argv[1], "member-stream-badfds", r, 4,
	    (const uint8_t []){ 1, 2, 3, 5 << 3 | 2 }, 4);
	records(argv[1], "hello", r, 1);

	r[0] = rec(REC_WELCOME, 0, 0);
	r[0].addr = addr4("127.0.0.1", 8080);
	records(argv[1], "welcome-v4", r, 1);
	r[0].addr = addr6("::", 443, 0);
	records(argv[1], "welcome-v6", r, 1);

	r[0] = rec(REC_LISTEN_OK, 1, 0);
	r[0].nopts = 3;
	r[0].opts[0] = 1;
	r[0].opts[1] = 0;
	r[0].opts[2] = 65536;
	r[1] = rec(REC_LISTEN_OK, 2, 98);	/* EADDRINUSE, no options */
	records(argv[1], "listen-ok", r, 2);
	r[0].nopts = PROTO_MAX_OPTS;
	for (int i = 0; i < PROTO_MAX_OPTS; i++)
		r[0].opts[i] = i - 1;
	records(argv[1], "listen-ok-full", r, 1);

	/* An owner's side: WELCOME then CONNs (each with its fd). */
	r[0] = rec(REC_WELCOME, 0, 0);
	r[0].addr = addr6("fe80::1", 8443, 2);
	r[1] = rec(REC_CONN, 1, 0);
	r[1].addr = addr4("10.0.0.7", 51234);
	r[2] = rec(REC_CONN, 2, 0);
	r[2].addr = addr6("2001:db8::7", 40000, 0);
	r[2].addr.flowinfo = 0x12345;
	records(argv[1], "owner-stream", r, 3);
	/* The CONNs split at 30 (fd first) and 60 (fd last): both valid. */
	records_ctl(argv[1], "owner-stream-split", r, 3,
	    (const uint8_t []){ 0, 10 << 3 | 4, 20 << 3 }, 3);

	/* A status client's exchange: STAT, then STAT_GROUP and STAT_EPs. */
	r[0] = rec(REC_STAT, 0, 0);
	r[1] = rec(REC_STAT_GROUP, 4242, 2);
	r[1].addr = addr4("0.0.0.0", 8080);
	r[1].nopts = STAT_G_COUNT;
	for (int i = 0; i < STAT_G_COUNT; i++)
		r[1].opts[i] = i * 7;
	r[2] = rec(REC_STAT_EP, 1, 4243);
	r[2].nopts = STAT_E_COUNT;
	for (int i = 0; i < STAT_E_COUNT; i++)
		r[2].opts[i] = 1 + i;
	r[3] = rec(REC_STAT_EP, 2, 4244);
	r[3].nopts = 1;
	r[3].opts[0] = 2;
	records(argv[1], "stat-stream", r, 4);
	r[0] = rec(REC_IDLE, 12, 0);
	records(argv[1], "idle", r, 1);

	for (size_t i = 0; i < sizeof (configs) / sizeof (configs[0]); i++) {
		char buf[512];
		size_t len = 0;

		for (int v = 0; v < 6 && configs[i].vals[v] != NULL; v++) {
			size_t l = strlen(configs[i].vals[v]);

			if (v > 0)
				buf[len++] = '\0';
			memcpy(buf + len, configs[i].vals[v], l);
			len += l;
		}
		put(argv[2], configs[i].name, buf, len);
	}
	return (0);
}
