/*
 * config.h: the environment, parsed once.  The parsers are pure so that
 * unit tests (and the fuzzer) can drive them without a process per case.
 */
#ifndef SHIM_CONFIG_H
#define SHIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum shim_mode {
	SHIM_MODE_AUTO = 0,	/* emulate only where the kernel lacks it */
	SHIM_MODE_EMULATE,	/* always emulate; the kernel never sees it */
	SHIM_MODE_OFF		/* pass everything through */
};

enum shim_policy {
	SHIM_POLICY_ROUNDROBIN = 0,
	SHIM_POLICY_HASH,
	SHIM_POLICY_SRCIP,
	SHIM_POLICY_LEASTLOADED,
	SHIM_POLICY_SHARED	/* every member's fd is the group's socket */
};

/* One REUSEPORT_SHIM_PORTS rule: "8080", "tcp:127.0.0.1:8080", ... */
struct port_rule {
	int		udp;		/* "udp:..."; else TCP */
	int		family;		/* 0: any address */
	uint8_t		addr[16];	/* network order, 4 bytes for IPv4 */
	uint16_t	port;		/* host order, never 0 */
};

#define	CONFIG_MAX_RULES	32
#define	CONFIG_PATH_MAX		256
#define	CONFIG_ERR_MAX		256
#define	CONFIG_LINGER_MAX	86400000L	/* a day */

struct shim_config {
	enum shim_mode	mode;
	enum shim_policy policy;
	enum shim_policy udp;	/* hash, srcip, roundrobin or shared */
	int		log_level;
	char		dir[CONFIG_PATH_MAX];	/* "" when not set */
	long		linger_ms;	/* kept after the last member */
	struct port_rule rules[CONFIG_MAX_RULES];
	size_t		nrules;
	int		valid;	/* 0: a variable was not understood */
	char		error[CONFIG_ERR_MAX];	/* what, when !valid */
};

/* A getenv-like lookup, so tests can supply their own environment. */
typedef const char *(*config_getenv_fn)(const char *name);

/*
 * Parse every variable into c.  Returns 0, or -1 with c->valid == 0 and
 * c->error naming the first variable that was not understood and the
 * values it takes.
 */
int config_parse(struct shim_config *c, config_getenv_fn get);

int config_parse_mode(const char *s, enum shim_mode *m);
int config_parse_policy(const char *s, enum shim_policy *p);
/* REUSEPORT_SHIM_UDP: hash, srcip, roundrobin or shared. */
int config_parse_udp(const char *s, enum shim_policy *p);
int config_parse_log(const char *s, int *level);
int config_parse_ms(const char *s, long *ms);
int config_parse_ports(const char *s, struct port_rule *rules, size_t max,
    size_t *n);

/* Non-zero if a rule covers (family, addr, port) of TCP. */
int config_rule_match(const struct shim_config *c, int family,
    const void *addr, uint16_t port);
/* The same for UDP (udp non-zero) or TCP. */
int config_rule_match_proto(const struct shim_config *c, int udp,
    int family, const void *addr, uint16_t port);

const char *config_policy_name(enum shim_policy p);

/* The process's configuration: read from the environment on first use. */
const struct shim_config *config_get(void);

/*
 * For unit tests only: the loaded configuration, writable, so that a test
 * can switch modes without a process per case.  The library never calls it.
 */
struct shim_config *config_for_tests(void);

#endif /* SHIM_CONFIG_H */
