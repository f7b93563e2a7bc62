/*
 * fuzz_config.c: libFuzzer target for the environment parser.
 *
 * The input is up to 6 NUL-separated strings, the values of
 * REUSEPORT_SHIM_MODE, _POLICY, _PORTS, _DIR, _LOG and _LINGER_MS in that
 * order; a variable with no string left is unset.  Each value lives in its
 * own exactly-sized allocation, so a read past its NUL is an ASan report.
 * config_parse's result must satisfy the invariants below, agree with the
 * single-variable parsers, and every rule must survive being printed and
 * parsed again and match its own address.  Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "reuseport_shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define	NVARS	7

static const char *const names[NVARS] = {
	REUSEPORT_SHIM_ENV_MODE,
	REUSEPORT_SHIM_ENV_POLICY,
	REUSEPORT_SHIM_ENV_PORTS,
	REUSEPORT_SHIM_ENV_DIR,
	REUSEPORT_SHIM_ENV_LOG,
	REUSEPORT_SHIM_ENV_LINGER,
	REUSEPORT_SHIM_ENV_UDP,
};
enum { V_MODE, V_POLICY, V_PORTS, V_DIR, V_LOG, V_LINGER, V_UDP };

static char *vals[NVARS];

#define	CHECK(cond)	do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_config: invariant failed: %s (%s:%d)\n", \
		    #cond, __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

static const char *
fake_getenv(const char *name)
{
	for (int i = 0; i < NVARS; i++) {
		if (strcmp(name, names[i]) == 0)
			return (vals[i]);
	}
	CHECK(strncmp(name, "REUSEPORT_SHIM_", 15) == 0);
	return (NULL);		/* a variable the fuzzer does not set */
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0)
			return (0);
	}
	return (1);
}

/* Print a rule as the syntax takes it, parse it again: the same rule. */
static void
rule_round_trip(const struct port_rule *r)
{
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	struct port_rule back[2];
	size_t n = 99;

	const char *proto = r->udp ? "udp" : "tcp";

	if (r->family == 0) {
		(void) snprintf(text, sizeof (text), "%s:%u", proto,
		    (unsigned)r->port);
	} else {
		CHECK(inet_ntop(r->family, r->addr, host, sizeof (host)) != NULL);
		(void) snprintf(text, sizeof (text),
		    r->family == AF_INET6 ? "%s:[%s]:%u" : "%s:%s:%u", proto,
		    host, (unsigned)r->port);
	}
	CHECK(config_parse_ports(text, back, 2, &n) == 0);
	CHECK(n == 1);
	CHECK(back[0].family == r->family && back[0].port == r->port &&
	    back[0].udp == r->udp);
	CHECK(memcmp(back[0].addr, r->addr, sizeof (r->addr)) == 0);
}

static void
check_valid(const struct shim_config *c)
{
	CHECK(c->error[0] == '\0');
	CHECK(c->nrules <= CONFIG_MAX_RULES);
	CHECK(c->mode >= SHIM_MODE_AUTO && c->mode <= SHIM_MODE_OFF);
	CHECK(c->policy >= SHIM_POLICY_ROUNDROBIN &&
	    c->policy <= SHIM_POLICY_SHARED);
	CHECK(strcmp(config_policy_name(c->policy), "?") != 0);
	/* UDP's ways: any policy but leastloaded; hash unless told. */
	CHECK(c->udp >= SHIM_POLICY_ROUNDROBIN &&
	    c->udp <= SHIM_POLICY_SHARED &&
	    c->udp != SHIM_POLICY_LEASTLOADED);
	if (vals[V_UDP] == NULL) {
		CHECK(c->udp == SHIM_POLICY_HASH);
	} else {
		enum shim_policy w;

		CHECK(config_parse_udp(vals[V_UDP], &w) == 0 && w == c->udp);
	}
	CHECK(c->log_level >= LOG_LVL_ERROR && c->log_level <= LOG_LVL_DEBUG);
	CHECK(memchr(c->dir, '\0', sizeof (c->dir)) != NULL);
	CHECK(c->dir[0] == '\0' || c->dir[0] == '/');
	CHECK(c->linger_ms >= 0 && c->linger_ms <= CONFIG_LINGER_MAX);

	/* What was set is what was parsed; what was not keeps its default. */
	if (vals[V_DIR] != NULL)
		CHECK(strcmp(c->dir, vals[V_DIR]) == 0);
	else
		CHECK(c->dir[0] == '\0');
	if (vals[V_LINGER] == NULL)
		CHECK(c->linger_ms == 0);
	if (vals[V_PORTS] == NULL)
		CHECK(c->nrules == 0);
	if (vals[V_MODE] == NULL)
		CHECK(c->mode == SHIM_MODE_AUTO);
	else {
		enum shim_mode m;

		CHECK(config_parse_mode(vals[V_MODE], &m) == 0 && m == c->mode);
	}

	for (size_t i = 0; i < c->nrules; i++) {
		const struct port_rule *r = &c->rules[i];
		uint8_t other[16];

		CHECK(r->port != 0);
		CHECK(r->family == 0 || r->family == AF_INET ||
		    r->family == AF_INET6);
		if (r->family == 0)
			CHECK(all_zero(r->addr, sizeof (r->addr)));
		if (r->family == AF_INET)
			CHECK(all_zero(r->addr + 4, sizeof (r->addr) - 4));
		rule_round_trip(r);
		/*
		 * A rule matches its own address, on either family if any,
		 * for its own protocol.
		 */
		CHECK(r->udp == 0 || r->udp == 1);
		if (r->family == 0) {
			CHECK(config_rule_match_proto(c, r->udp, AF_INET,
			    r->addr, r->port));
			CHECK(config_rule_match_proto(c, r->udp, AF_INET6,
			    r->addr, r->port));
		} else {
			CHECK(config_rule_match_proto(c, r->udp, r->family,
			    r->addr, r->port));
		}
		/* A different address matches only if some rule says so. */
		memcpy(other, r->addr, sizeof (other));
		other[0] ^= 0xff;
		(void) config_rule_match(c, AF_INET, other, r->port);
		(void) config_rule_match(c, AF_INET6, other, r->port);
	}
	{
		static const uint8_t any[16], lo4[16] = { 127, 0, 0, 1 };
		static const uint8_t lo6[16] = { [15] = 1 };

		/* No rule has port 0, so nothing matches it. */
		CHECK(!config_rule_match(c, AF_INET, any, 0));
		CHECK(!config_rule_match(c, AF_INET6, any, 0));
		(void) config_rule_match(c, AF_INET, lo4, 8080);
		(void) config_rule_match(c, AF_INET6, lo6, 443);
		(void) config_rule_match(c, AF_INET6, any, 65535);
	}
}

static void
check_invalid(const struct shim_config *c)
{
	int named = 0;

	CHECK(memchr(c->error, '\0', sizeof (c->error)) != NULL);
	CHECK(c->error[0] != '\0');
	CHECK(strstr(c->error, "REUSEPORT_SHIM_") != NULL);
	/* The message names a variable that was set. */
	for (int i = 0; i < NVARS; i++) {
		size_t l = strlen(names[i]);

		if (vals[i] != NULL && strncmp(c->error, names[i], l) == 0 &&
		    c->error[l] == '=')
			named = 1;
	}
	CHECK(named);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shim_config c;
	size_t off = 0;
	int r;

	/* "" is no variable, "a" MODE=a, "a\0" MODE=a POLICY="", ... */
	for (int i = 0; i < NVARS; i++) {
		const uint8_t *nul;
		size_t len;

		vals[i] = NULL;
		if (off > size || (off == size && i == 0))
			continue;	/* no string left: unset */
		nul = off < size ? memchr(data + off, '\0', size - off) : NULL;
		len = nul != NULL ? (size_t)(nul - (data + off)) : size - off;
		vals[i] = malloc(len + 1);
		CHECK(vals[i] != NULL);
		memcpy(vals[i], data + off, len);
		vals[i][len] = '\0';
		off += len + 1;	/* past the NUL, or past the end if none */
	}

	r = config_parse(&c, fake_getenv);
	CHECK(r == 0 || r == -1);
	CHECK((r == 0) == (c.valid == 1));
	CHECK(c.valid == 0 || c.valid == 1);
	if (c.valid)
		check_valid(&c);
	else
		check_invalid(&c);

	/* The ports parser alone, with less room than it may need. */
	if (vals[V_PORTS] != NULL) {
		struct port_rule *few = malloc(2 * sizeof (*few));
		size_t n = 99;

		CHECK(few != NULL);
		if (config_parse_ports(vals[V_PORTS], few, 2, &n) == 0)
			CHECK(n <= 2);
		free(few);
	}
	for (int i = 0; i < NVARS; i++) {
		free(vals[i]);
		vals[i] = NULL;
	}
	return (0);
}
