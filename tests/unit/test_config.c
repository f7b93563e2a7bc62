/*
 * test_config.c: the REUSEPORT_SHIM_* parsers, driven through a table
 * instead of the process environment, so each case is one call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "fakes.h"
#include "log.h"
#include "reuseport_shim.h"

/* Parse with exactly one variable set (name may be NULL: none). */
static int
parse1(struct shim_config *c, const char *name, const char *value)
{
	static struct fake_env one[1];

	one[0].name = name;
	one[0].value = value;
	fake_env_set(one, name != NULL ? 1 : 0);
	return (config_parse(c, fake_getenv));
}

/* Fill c with garbage first: config_parse must set every field itself. */
static void
dirty(struct shim_config *c)
{
	memset(c, 0xa5, sizeof (*c));
}

static void
test_defaults(void **state)
{
	struct shim_config c;

	(void) state;
	dirty(&c);
	assert_int_equal(parse1(&c, NULL, NULL), 0);
	assert_int_equal(c.valid, 1);
	assert_int_equal(c.mode, SHIM_MODE_AUTO);
	assert_int_equal(c.policy, SHIM_POLICY_ROUNDROBIN);
	assert_int_equal(c.log_level, LOG_LVL_ERROR);
	assert_int_equal(c.nrules, 0);
	assert_string_equal(c.dir, "");
}

static void
test_mode_values(void **state)
{
	static const struct {
		const char	*s;
		enum shim_mode	m;
	} t[] = {
		{ "auto", SHIM_MODE_AUTO },
		{ "emulate", SHIM_MODE_EMULATE },
		{ "off", SHIM_MODE_OFF },
	};
	struct shim_config c;

	(void) state;
	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++) {
		dirty(&c);
		assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_MODE, t[i].s), 0);
		assert_int_equal(c.valid, 1);
		assert_int_equal(c.mode, t[i].m);
	}
}

static void
test_policy_values(void **state)
{
	static const struct {
		const char	*s;
		enum shim_policy p;
	} t[] = {
		{ "roundrobin", SHIM_POLICY_ROUNDROBIN },
		{ "hash", SHIM_POLICY_HASH },
		{ "srcip", SHIM_POLICY_SRCIP },
		{ "leastloaded", SHIM_POLICY_LEASTLOADED },
		{ "shared", SHIM_POLICY_SHARED },
	};
	struct shim_config c;

	(void) state;
	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++) {
		dirty(&c);
		assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_POLICY, t[i].s),
		    0);
		assert_int_equal(c.valid, 1);
		assert_int_equal(c.policy, t[i].p);
		/* The owner logs the policy by name: it must read back. */
		assert_string_equal(config_policy_name(t[i].p), t[i].s);
	}
}

static void
test_log_values(void **state)
{
	static const struct {
		const char	*s;
		int		l;
	} t[] = {
		{ "error", LOG_LVL_ERROR },
		{ "warn", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },
	};
	struct shim_config c;

	(void) state;
	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++) {
		dirty(&c);
		assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_LOG, t[i].s), 0);
		assert_int_equal(c.valid, 1);
		assert_int_equal(c.log_level, t[i].l);
	}
}

/*
 * A rejected value must fail the parse and leave a message that lets the
 * user fix it without reading the source: the variable and every value
 * it takes.
 */
static void
expect_bad(const char *var, const char *val, const char *const *takes)
{
	struct shim_config c;

	dirty(&c);
	if (parse1(&c, var, val) != -1 || c.valid != 0) {
		print_error("%s=\"%s\" was accepted\n", var, val);
		fail();
	}
	/* The message must be a terminated string, not leftover bytes. */
	assert_non_null(memchr(c.error, '\0', sizeof (c.error)));
	if (strstr(c.error, var) == NULL) {
		print_error("error does not name %s: %s\n", var, c.error);
		fail();
	}
	for (; takes != NULL && *takes != NULL; takes++) {
		if (strstr(c.error, *takes) == NULL) {
			print_error("error does not list \"%s\": %s\n", *takes,
			    c.error);
			fail();
		}
	}
}

static void
test_mode_invalid(void **state)
{
	static const char *const takes[] = { "auto", "emulate", "off", NULL };
	static const char *const bad[] = { "", "AUTO", "emulated", " off",
	    "off ", "on", "1" };

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		expect_bad(REUSEPORT_SHIM_ENV_MODE, bad[i], takes);
}

static void
test_policy_invalid(void **state)
{
	static const char *const takes[] = { "roundrobin", "hash", "srcip",
	    "leastloaded", "shared", NULL };
	static const char *const bad[] = { "", "round-robin", "RR", "random",
	    "hash " };

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		expect_bad(REUSEPORT_SHIM_ENV_POLICY, bad[i], takes);
}

/* REUSEPORT_SHIM_UDP: the ways a UDP group serves; leastloaded is not one. */
static void
test_udp_values(void **state)
{
	static const struct {
		const char	*s;
		enum shim_policy p;
	} t[] = {
		{ "hash", SHIM_POLICY_HASH },
		{ "srcip", SHIM_POLICY_SRCIP },
		{ "roundrobin", SHIM_POLICY_ROUNDROBIN },
		{ "shared", SHIM_POLICY_SHARED },
	};
	static const char *const takes[] = { "hash", "srcip", "roundrobin",
	    "shared", NULL };
	static const char *const bad[] = { "", "leastloaded", "dispatched",
	    "SHARED", "hash " };
	struct shim_config c;

	(void) state;
	dirty(&c);
	assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_LOG, "error"), 0);
	assert_int_equal(c.udp, SHIM_POLICY_HASH);	/* the kernel's */
	for (size_t i = 0; i < sizeof (t) / sizeof (t[0]); i++) {
		dirty(&c);
		assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_UDP, t[i].s), 0);
		assert_int_equal(c.valid, 1);
		assert_int_equal(c.udp, t[i].p);
		assert_string_equal(config_policy_name(t[i].p), t[i].s);
	}
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		expect_bad(REUSEPORT_SHIM_ENV_UDP, bad[i], takes);
}

static void
test_log_invalid(void **state)
{
	static const char *const takes[] = { "error", "warn", "info", "debug",
	    NULL };
	static const char *const bad[] = { "", "warning", "DEBUG", "3" };

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		expect_bad(REUSEPORT_SHIM_ENV_LOG, bad[i], takes);
}

static void
test_linger(void **state)
{
	static const char *const takes[] = { "milliseconds", NULL };
	static const char *const bad[] = { "", "-1", "1.5", "10ms", " 5",
	    "86400001", "99999999999999999999" };
	struct shim_config c;

	(void) state;
	assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_LINGER, "1500"), 0);
	assert_int_equal(c.linger_ms, 1500);
	assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_LINGER, "86400000"), 0);
	assert_int_equal(c.linger_ms, 86400000L);
	assert_int_equal(parse1(&c, NULL, NULL), 0);
	assert_int_equal(c.linger_ms, 0);
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		expect_bad(REUSEPORT_SHIM_ENV_LINGER, bad[i], takes);
}

/* One expected rule: family 0 (any), AF_INET or AF_INET6 with text addr. */
static void
check_rule(const struct port_rule *r, int family, const char *addr,
    uint16_t port)
{
	uint8_t want[16];

	memset(want, 0, sizeof (want));
	if (addr != NULL)
		assert_int_equal(inet_pton(family, addr, want), 1);
	assert_int_equal(r->family, family);
	assert_int_equal(r->port, port);
	/* All 16 bytes: an IPv4 rule must leave the other 12 zero. */
	assert_memory_equal(r->addr, want, sizeof (want));
}

static void
parse_ports_ok(struct shim_config *c, const char *spec)
{
	dirty(c);
	if (parse1(c, REUSEPORT_SHIM_ENV_PORTS, spec) != 0 || !c->valid) {
		print_error("PORTS=\"%s\" refused: %s\n", spec, c->error);
		fail();
	}
}

static void
test_ports_valid(void **state)
{
	struct shim_config c;

	(void) state;
	parse_ports_ok(&c, "8080");
	assert_int_equal(c.nrules, 1);
	check_rule(&c.rules[0], 0, NULL, 8080);

	parse_ports_ok(&c, "tcp:8080");
	assert_int_equal(c.nrules, 1);
	check_rule(&c.rules[0], 0, NULL, 8080);
	assert_int_equal(c.rules[0].udp, 0);

	parse_ports_ok(&c, "udp:53,udp:127.0.0.1:5353,udp:[::1]:853");
	assert_int_equal(c.nrules, 3);
	check_rule(&c.rules[0], 0, NULL, 53);
	check_rule(&c.rules[1], AF_INET, "127.0.0.1", 5353);
	check_rule(&c.rules[2], AF_INET6, "::1", 853);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(c.rules[i].udp, 1);

	parse_ports_ok(&c, "tcp:127.0.0.1:8080");
	assert_int_equal(c.nrules, 1);
	check_rule(&c.rules[0], AF_INET, "127.0.0.1", 8080);

	parse_ports_ok(&c, "tcp:[::]:443");
	assert_int_equal(c.nrules, 1);
	check_rule(&c.rules[0], AF_INET6, "::", 443);

	parse_ports_ok(&c, "8080,tcp:[::1]:9090");
	assert_int_equal(c.nrules, 2);
	check_rule(&c.rules[0], 0, NULL, 8080);
	check_rule(&c.rules[1], AF_INET6, "::1", 9090);

	/* The extremes of the port range. */
	parse_ports_ok(&c, "1,65535");
	assert_int_equal(c.nrules, 2);
	check_rule(&c.rules[0], 0, NULL, 1);
	check_rule(&c.rules[1], 0, NULL, 65535);
}

static void
test_ports_invalid(void **state)
{
	static const char *const takes[] = { "PORT", "tcp:", NULL };
	static const char *const bad[] = {
		"0", "65536", "99999", "123456", "abc", "8080,", ",8080",
		"8080,,9090", "tcp:", "tcp:1.2.3:80", "tcp:[::1:80",
		"tcp:::1:80", "tcp:[]:80", "tcp:[::1]:", "tcp:127.0.0.1:",
		"tcp::80", "udp:", "udp:0", "tcp:udp:80", "sctp:80",
		"tcp:8080x", "-1", "+80", " 80",
	};

	(void) state;
	for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
		expect_bad(REUSEPORT_SHIM_ENV_PORTS, bad[i], takes);
}

/*
 * An empty REUSEPORT_SHIM_PORTS is refused like every other value the shim
 * does not understand (a script that lost its value), not taken as "no
 * rules".  This test found it.
 */
static void
test_ports_empty_refused(void **state)
{
	(void) state;
	expect_bad(REUSEPORT_SHIM_ENV_PORTS, "", NULL);
}

/* n comma-separated ports 1..n. */
static void
many_ports(char *buf, size_t len, int n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 1; i <= n; i++) {
		int k = snprintf(buf + off, len - off, "%s%d", i > 1 ? "," : "",
		    1000 + i);

		assert_true(k > 0 && (size_t)k < len - off);
		off += (size_t)k;
	}
}

static void
test_ports_limit(void **state)
{
	struct shim_config c;
	char spec[512];

	(void) state;
	many_ports(spec, sizeof (spec), CONFIG_MAX_RULES);
	parse_ports_ok(&c, spec);
	assert_int_equal(c.nrules, CONFIG_MAX_RULES);
	check_rule(&c.rules[CONFIG_MAX_RULES - 1], 0, NULL,
	    1000 + CONFIG_MAX_RULES);

	many_ports(spec, sizeof (spec), CONFIG_MAX_RULES + 1);
	expect_bad(REUSEPORT_SHIM_ENV_PORTS, spec, NULL);
}

static void
test_rule_match(void **state)
{
	struct shim_config c;
	uint8_t lo4[4], other4[4], lo6[16], other6[16];

	(void) state;
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", lo4), 1);
	assert_int_equal(inet_pton(AF_INET, "10.0.0.1", other4), 1);
	assert_int_equal(inet_pton(AF_INET6, "::1", lo6), 1);
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", other6), 1);

	/* Any address: both families, only its port. */
	parse_ports_ok(&c, "8080");
	assert_true(config_rule_match(&c, AF_INET, lo4, 8080));
	assert_true(config_rule_match(&c, AF_INET, other4, 8080));
	assert_true(config_rule_match(&c, AF_INET6, lo6, 8080));
	assert_false(config_rule_match(&c, AF_INET, lo4, 8081));
	assert_false(config_rule_match(&c, AF_INET6, lo6, 80));

	/* A specific IPv4 address. */
	parse_ports_ok(&c, "tcp:127.0.0.1:8080");
	assert_true(config_rule_match(&c, AF_INET, lo4, 8080));
	assert_false(config_rule_match(&c, AF_INET, other4, 8080));
	assert_false(config_rule_match(&c, AF_INET, lo4, 8081));
	/* An IPv6 address never matches an IPv4 rule, whatever its bytes. */
	{
		uint8_t v6[16];

		memset(v6, 0, sizeof (v6));
		memcpy(v6, lo4, 4);
		assert_false(config_rule_match(&c, AF_INET6, v6, 8080));
	}

	/* A specific IPv6 address: all 16 bytes count. */
	parse_ports_ok(&c, "tcp:[::1]:9090");
	assert_true(config_rule_match(&c, AF_INET6, lo6, 9090));
	assert_false(config_rule_match(&c, AF_INET6, other6, 9090));
	assert_false(config_rule_match(&c, AF_INET6, lo6, 9091));
	{
		uint8_t v6[16];

		memcpy(v6, lo6, sizeof (v6));
		v6[0] ^= 0x20;	/* differs only in the first byte */
		assert_false(config_rule_match(&c, AF_INET6, v6, 9090));
	}

	/* Several rules: any one of them matching is enough. */
	parse_ports_ok(&c, "tcp:10.0.0.1:80,tcp:[::1]:443,7000");
	assert_true(config_rule_match(&c, AF_INET, other4, 80));
	assert_false(config_rule_match(&c, AF_INET, lo4, 80));
	assert_true(config_rule_match(&c, AF_INET6, lo6, 443));
	assert_true(config_rule_match(&c, AF_INET, lo4, 7000));
	assert_false(config_rule_match(&c, AF_INET6, lo6, 80));

	/* udp: rules force UDP groups only; the others, TCP ones only. */
	parse_ports_ok(&c, "udp:53,udp:[::1]:443,8080");
	assert_true(config_rule_match_proto(&c, 1, AF_INET, lo4, 53));
	assert_false(config_rule_match_proto(&c, 0, AF_INET, lo4, 53));
	assert_false(config_rule_match(&c, AF_INET, lo4, 53));
	assert_true(config_rule_match_proto(&c, 1, AF_INET6, lo6, 443));
	assert_false(config_rule_match_proto(&c, 1, AF_INET6, other6, 443));
	assert_false(config_rule_match_proto(&c, 1, AF_INET, lo4, 8080));
	assert_true(config_rule_match_proto(&c, 0, AF_INET, lo4, 8080));

	/* No rules: nothing is forced. */
	parse_ports_ok(&c, "1");
	c.nrules = 0;
	assert_false(config_rule_match(&c, AF_INET, lo4, 1));
}

static void
test_dir(void **state)
{
	static const char *const takes[] = { "absolute", NULL };
	struct shim_config c;
	char longdir[CONFIG_PATH_MAX + 8];

	(void) state;
	dirty(&c);
	assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_DIR, "/run/rp"), 0);
	assert_int_equal(c.valid, 1);
	assert_string_equal(c.dir, "/run/rp");

	expect_bad(REUSEPORT_SHIM_ENV_DIR, "run/rp", takes);
	expect_bad(REUSEPORT_SHIM_ENV_DIR, "./rp", takes);
	expect_bad(REUSEPORT_SHIM_ENV_DIR, "~/rp", takes);
	expect_bad(REUSEPORT_SHIM_ENV_DIR, "", takes);

	/* One that does not fit the buffer is refused, never truncated. */
	memset(longdir, 'd', sizeof (longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof (longdir) - 1] = '\0';
	expect_bad(REUSEPORT_SHIM_ENV_DIR, longdir, NULL);
	/* The longest that fits is taken whole. */
	longdir[CONFIG_PATH_MAX - 1] = '\0';
	dirty(&c);
	assert_int_equal(parse1(&c, REUSEPORT_SHIM_ENV_DIR, longdir), 0);
	assert_string_equal(c.dir, longdir);
}

/* Everything at once, and an error in one variable among good ones. */
static void
test_all_together(void **state)
{
	static const struct fake_env good[] = {
		{ REUSEPORT_SHIM_ENV_MODE, "emulate" },
		{ REUSEPORT_SHIM_ENV_POLICY, "srcip" },
		{ REUSEPORT_SHIM_ENV_LOG, "debug" },
		{ REUSEPORT_SHIM_ENV_PORTS, "tcp:[::1]:443" },
		{ REUSEPORT_SHIM_ENV_DIR, "/var/run/rp" },
		{ "UNRELATED", "x" },
	};
	static const struct fake_env onebad[] = {
		{ REUSEPORT_SHIM_ENV_MODE, "emulate" },
		{ REUSEPORT_SHIM_ENV_POLICY, "fastest" },
		{ REUSEPORT_SHIM_ENV_LOG, "debug" },
	};
	struct shim_config c;

	(void) state;
	dirty(&c);
	fake_env_set(good, sizeof (good) / sizeof (good[0]));
	assert_int_equal(config_parse(&c, fake_getenv), 0);
	assert_int_equal(c.valid, 1);
	assert_int_equal(c.mode, SHIM_MODE_EMULATE);
	assert_int_equal(c.policy, SHIM_POLICY_SRCIP);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_int_equal(c.nrules, 1);
	check_rule(&c.rules[0], AF_INET6, "::1", 443);
	assert_string_equal(c.dir, "/var/run/rp");

	dirty(&c);
	fake_env_set(onebad, sizeof (onebad) / sizeof (onebad[0]));
	assert_int_equal(config_parse(&c, fake_getenv), -1);
	assert_int_equal(c.valid, 0);
	assert_non_null(strstr(c.error, REUSEPORT_SHIM_ENV_POLICY));
	assert_non_null(strstr(c.error, "fastest"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_mode_values),
		cmocka_unit_test(test_policy_values),
		cmocka_unit_test(test_udp_values),
		cmocka_unit_test(test_log_values),
		cmocka_unit_test(test_mode_invalid),
		cmocka_unit_test(test_policy_invalid),
		cmocka_unit_test(test_log_invalid),
		cmocka_unit_test(test_linger),
		cmocka_unit_test(test_ports_valid),
		cmocka_unit_test(test_ports_invalid),
		cmocka_unit_test(test_ports_empty_refused),
		cmocka_unit_test(test_ports_limit),
		cmocka_unit_test(test_rule_match),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_all_together),
	};

	return (cmocka_run_group_tests_name("config", tests, NULL, NULL));
}
