/*
 * config.c: REUSEPORT_SHIM_* variables.  A value the shim does not
 * understand is reported once, naming the variable and what it takes,
 * and makes emulation fail with EINVAL: guessing what the user meant
 * would silently change how connections are spread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "reuseport_shim.h"

struct name_val {
	const char	*name;
	int		val;
};

static const struct name_val modes[] = {
	{ "auto", SHIM_MODE_AUTO },
	{ "emulate", SHIM_MODE_EMULATE },
	{ "off", SHIM_MODE_OFF },
	{ NULL, 0 }
};

static const struct name_val policies[] = {
	{ "roundrobin", SHIM_POLICY_ROUNDROBIN },
	{ "hash", SHIM_POLICY_HASH },
	{ "srcip", SHIM_POLICY_SRCIP },
	{ "leastloaded", SHIM_POLICY_LEASTLOADED },
	{ "shared", SHIM_POLICY_SHARED },
	{ NULL, 0 }
};

static const struct name_val levels[] = {
	{ "error", LOG_LVL_ERROR },
	{ "warn", LOG_LVL_WARN },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
	{ NULL, 0 }
};

static int
lookup(const struct name_val *t, const char *s, int *v)
{
	for (; t->name != NULL; t++) {
		if (strcmp(t->name, s) == 0) {
			*v = t->val;
			return (0);
		}
	}
	return (-1);
}

/* UDP's ways: leastloaded has no meaning without connections to count. */
static const struct name_val ways[] = {
	{ "hash", SHIM_POLICY_HASH },
	{ "srcip", SHIM_POLICY_SRCIP },
	{ "roundrobin", SHIM_POLICY_ROUNDROBIN },
	{ "shared", SHIM_POLICY_SHARED },
	{ NULL, 0 }
};

int
config_parse_mode(const char *s, enum shim_mode *m)
{
	int v;

	if (lookup(modes, s, &v) != 0)
		return (-1);
	*m = (enum shim_mode)v;
	return (0);
}

int
config_parse_policy(const char *s, enum shim_policy *p)
{
	int v;

	if (lookup(policies, s, &v) != 0)
		return (-1);
	*p = (enum shim_policy)v;
	return (0);
}

int
config_parse_udp(const char *s, enum shim_policy *p)
{
	int v;

	if (lookup(ways, s, &v) != 0)
		return (-1);
	*p = (enum shim_policy)v;
	return (0);
}

int
config_parse_log(const char *s, int *level)
{
	return (lookup(levels, s, level));
}

/* A decimal count of milliseconds, 0 to CONFIG_LINGER_MAX. */
int
config_parse_ms(const char *s, long *ms)
{
	long v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (*s - '0');
		if (v > CONFIG_LINGER_MAX)
			return (-1);
	}
	*ms = v;
	return (0);
}

const char *
config_policy_name(enum shim_policy p)
{
	for (const struct name_val *t = policies; t->name != NULL; t++) {
		if (t->val == (int)p)
			return (t->name);
	}
	return ("?");
}

/* A decimal port 1..65535, the whole of [s, e). */
static int
parse_port(const char *s, const char *e, uint16_t *port)
{
	unsigned long v = 0;

	if (s == e || e - s > 5)
		return (-1);
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/*
 * PORT | tcp:PORT | tcp:IPV4:PORT | tcp:[IPV6]:PORT, in [s, e), and the
 * same with udp: (a bare PORT is TCP's).
 */
static int
parse_rule(const char *s, const char *e, struct port_rule *r)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon;
	size_t hl;

	memset(r, 0, sizeof (*r));
	if (e - s > 4 && memcmp(s, "tcp:", 4) == 0) {
		s += 4;
	} else if (e - s > 4 && memcmp(s, "udp:", 4) == 0) {
		r->udp = 1;
		s += 4;
	}
	colon = NULL;
	for (const char *p = s; p < e; p++) {
		if (*p == ':')
			colon = p;
	}
	if (colon == NULL)
		return (parse_port(s, e, &r->port));
	if (parse_port(colon + 1, e, &r->port) != 0)
		return (-1);
	if (*s == '[') {
		if (colon - s < 3 || colon[-1] != ']')
			return (-1);
		hl = (size_t)(colon - s - 2);
		if (hl >= sizeof (host))
			return (-1);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		r->family = AF_INET6;
		return (inet_pton(AF_INET6, host, r->addr) == 1 ? 0 : -1);
	}
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof (host))
		return (-1);
	memcpy(host, s, hl);
	host[hl] = '\0';
	r->family = AF_INET;
	return (inet_pton(AF_INET, host, r->addr) == 1 ? 0 : -1);
}

int
config_parse_ports(const char *s, struct port_rule *rules, size_t max,
    size_t *n)
{
	*n = 0;
	if (*s == '\0')
		return (-1);	/* set but empty: a script lost its value */
	while (*s != '\0') {
		const char *e = strchr(s, ',');

		if (e == NULL)
			e = s + strlen(s);
		if (*n == max || parse_rule(s, e, &rules[*n]) != 0)
			return (-1);
		(*n)++;
		s = (*e == ',') ? e + 1 : e;
		if (*e == ',' && *s == '\0')
			return (-1);	/* a trailing comma is a typo */
	}
	return (0);
}

int
config_rule_match(const struct shim_config *c, int family, const void *addr,
    uint16_t port)
{
	return (config_rule_match_proto(c, 0, family, addr, port));
}

int
config_rule_match_proto(const struct shim_config *c, int udp, int family,
    const void *addr, uint16_t port)
{
	for (size_t i = 0; i < c->nrules; i++) {
		const struct port_rule *r = &c->rules[i];

		if (r->port != port || r->udp != (udp != 0))
			continue;
		if (r->family == 0)
			return (1);
		if (r->family == family && memcmp(r->addr, addr,
		    family == AF_INET ? 4 : 16) == 0)
			return (1);
	}
	return (0);
}

static int
bad(struct shim_config *c, const char *var, const char *val,
    const char *takes)
{
	(void) snprintf(c->error, sizeof (c->error),
	    "%s=\"%s\" is not understood; it takes %s", var, val, takes);
	c->valid = 0;
	return (-1);
}

int
config_parse(struct shim_config *c, config_getenv_fn get)
{
	const char *v;

	memset(c, 0, sizeof (*c));
	c->valid = 1;
	c->mode = SHIM_MODE_AUTO;
	c->policy = SHIM_POLICY_ROUNDROBIN;
	c->udp = SHIM_POLICY_HASH;	/* the kernel's flow affinity */
	c->log_level = LOG_LVL_ERROR;

	if ((v = get(REUSEPORT_SHIM_ENV_LOG)) != NULL &&
	    config_parse_log(v, &c->log_level) != 0)
		return (bad(c, REUSEPORT_SHIM_ENV_LOG, v,
		    "error, warn, info or debug"));
	if ((v = get(REUSEPORT_SHIM_ENV_MODE)) != NULL &&
	    config_parse_mode(v, &c->mode) != 0)
		return (bad(c, REUSEPORT_SHIM_ENV_MODE, v,
		    "auto, emulate or off"));
	if ((v = get(REUSEPORT_SHIM_ENV_POLICY)) != NULL &&
	    config_parse_policy(v, &c->policy) != 0)
		return (bad(c, REUSEPORT_SHIM_ENV_POLICY, v,
		    "roundrobin, hash, srcip, leastloaded or shared"));
	if ((v = get(REUSEPORT_SHIM_ENV_PORTS)) != NULL &&
	    config_parse_ports(v, c->rules, CONFIG_MAX_RULES, &c->nrules) != 0)
		return (bad(c, REUSEPORT_SHIM_ENV_PORTS, v,
		    "a comma-separated list of PORT, tcp:PORT, tcp:IPV4:PORT, "
		    "tcp:[IPV6]:PORT or the same with udp: (at most 32)"));
	if ((v = get(REUSEPORT_SHIM_ENV_UDP)) != NULL &&
	    config_parse_udp(v, &c->udp) != 0)
		return (bad(c, REUSEPORT_SHIM_ENV_UDP, v,
		    "hash, srcip, roundrobin or shared"));
	if ((v = get(REUSEPORT_SHIM_ENV_LINGER)) != NULL &&
	    config_parse_ms(v, &c->linger_ms) != 0)
		return (bad(c, REUSEPORT_SHIM_ENV_LINGER, v,
		    "a number of milliseconds from 0 to 86400000"));
	if ((v = get(REUSEPORT_SHIM_ENV_DIR)) != NULL) {
		if (v[0] != '/' || strlen(v) >= sizeof (c->dir))
			return (bad(c, REUSEPORT_SHIM_ENV_DIR, v,
			    "an absolute directory path"));
		(void) strcpy(c->dir, v);
	}
	return (0);
}

static struct shim_config the_config;
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static const char *
env(const char *name)
{
	return (getenv(name));
}

static void
load(void)
{
	(void) config_parse(&the_config, env);
	shim_log_level = the_config.log_level;
	if (!the_config.valid)
		shim_log(LOG_LVL_ERROR, "%s", the_config.error);
}

const struct shim_config *
config_get(void)
{
	(void) pthread_once(&config_once, load);
	return (&the_config);
}

/* For unit tests only (see config.h): the library itself never calls it. */
struct shim_config *
config_for_tests(void)
{
	(void) config_get();
	return (&the_config);
}
