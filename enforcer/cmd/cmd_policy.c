// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgfence check | explain: policy files only, no kernel. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "addr_set.h"
#include "commands.h"
#include "compile.h"
#include "policy.h"
#include "socknames.h"
#include "policy_dir.h"
#include "util.h"

/*
 * A policy directory as the hook sees it: every file valid and named after
 * its policy, and no two selectors that can match one container.
 */
static int check_policy_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct policy_set set;
	struct diags d = {};
	const struct policy *fallback = NULL;
	size_t nselectors = 0;
	char summary[512];
	int err;

	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	err = policy_set_load(&(struct policy_dir){.fd = fd,
						   .path = path,
						   .last_good_fd = -1},
			      &set, &d);
	if (err && err != -EINVAL) {
		diags_print(&d, stderr);
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
		diags_free(&d);
		policy_set_free(&set);
		return 1;
	}
	for (size_t i = 0; i < set.n; i++) {
		const struct policy *p = set.policies[i];

		policy_summary(p, summary, sizeof(summary));
		printf("%s: ok: %s\n", p->path, summary);
		nselectors += p->nselector > 0;
		if (!strcmp(p->name, POLICY_DEFAULT_NAME))
			fallback = p;
	}
	policy_set_check(&set, &d);
	diags_print(&d, stderr);
	if (!d.count) {
		printf("%s: %zu policies, %zu with a selector; containers that "
		       "no selector matches and no annotation names get %s\n",
		       path, set.n, nselectors,
		       fallback ? "\"default\""
				: "no policy (no default.json: they run "
				  "unconfined, and that is recorded)");
	}
	err = d.count ? 1 : 0;
	diags_free(&d);
	policy_set_free(&set);
	return err;
}

static bool is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_check(int argc, char **argv)
{
	int failed = 0;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: cgfence check FILE|DIR...\n"
			"Validates policies; prints FILE:LINE:COL: problem for "
			"each error.\n"
			"A directory is checked as the hook uses it: every "
			"*.json valid and named\n"
			"after its file, and no two selectors that can match "
			"the same container.\n"
			"Files named *.schema.json are JSON Schemas for "
			"editors, never policies:\n"
			"they are skipped.\n");
		return argc < 2 ? 2 : 0;
	}
	for (int i = 1; i < argc; i++) {
		struct diags d = {};
		struct policy *p = NULL;
		char summary[512];
		int err;

		if (is_directory(argv[i])) {
			failed |= check_policy_dir(argv[i]);
			continue;
		}
		if (policy_path_is_schema(argv[i])) {
			printf("%s: skipped: a JSON Schema for editors, not a "
			       "policy\n",
			       argv[i]);
			continue;
		}
		err = policy_load_file(argv[i], &p, &d);

		if (err) {
			if (d.count)
				diags_print(&d, stderr);
			else
				fprintf(stderr, "%s: %s\n", argv[i],
					strerror(-err));
			failed = 1;
		} else {
			policy_summary(p, summary, sizeof(summary));
			printf("%s: ok: %s\n", argv[i], summary);
		}
		diags_free(&d);
		policy_free(p);
	}
	return failed;
}

static int parse_protocol(const char *s, uint8_t *proto)
{
	static const struct {
		const char *name;
		uint8_t number;
	} names[] = {{"tcp", IPPROTO_TCP},
		     {"udp", IPPROTO_UDP},
		     {"icmp", IPPROTO_ICMP},
		     {"icmpv6", IPPROTO_ICMPV6}};
	char *end;
	long n;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i].name)) {
			*proto = names[i].number;
			return 0;
		}
	}
	n = strtol(s, &end, 10);
	if (*s && !*end && n > 0 && n < 256) {
		*proto = n;
		return 0;
	}
	return -EINVAL;
}

/* "10.1.2.3:443/tcp", "[fd00::1]:443/tcp", "10.1.2.3/icmp" */
static int parse_flow_spec(const char *spec, uint8_t direction, struct flow *f)
{
	char buf[128], *slash, *addr = buf, *port = NULL, *end;
	long n;

	memset(f, 0, sizeof(*f));
	f->direction = direction;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	slash = strrchr(buf, '/');
	if (!slash || parse_protocol(slash + 1, &f->protocol))
		return -EINVAL;
	*slash = '\0';
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			return -EINVAL;
		*close = '\0';
		addr = buf + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return -EINVAL;
	} else if (strchr(buf, '.')) {
		port = strchr(buf, ':');
		if (port)
			*port++ = '\0';
	}
	if (inet_pton(AF_INET, addr, f->addr) == 1)
		f->family = 4;
	else if (inet_pton(AF_INET6, addr, f->addr) == 1)
		f->family = 6;
	else
		return -EINVAL;
	if (port) {
		n = strtol(port, &end, 10);
		if (!*port || *end || n < 1 || n > 65535)
			return -EINVAL;
		f->port = n;
	} else if (f->protocol == IPPROTO_TCP || f->protocol == IPPROTO_UDP) {
		return -EINVAL;
	}
	return 0;
}

/* "c:1:3:rw" */
static int parse_device_spec(const char *spec, uint32_t *type, uint32_t *major,
			     uint32_t *minor, uint32_t *access)
{
	char t;
	unsigned int ma, mi;
	char acc[8];
	int used = 0;

	if (sscanf(spec, "%c:%u:%u:%7[rwm]%n", &t, &ma, &mi, acc, &used) != 4 ||
	    spec[used] || (t != 'c' && t != 'b'))
		return -EINVAL;
	*type = t == 'c' ? CGF_DEV_CHAR : CGF_DEV_BLOCK;
	*major = ma;
	*minor = mi;
	*access = 0;
	for (char *a = acc; *a; a++)
		*access |= *a == 'r'   ? CGF_ACC_READ
			   : *a == 'w' ? CGF_ACC_WRITE
				       : CGF_ACC_MKNOD;
	return 0;
}

static void print_verdict(const struct policy *p, const char *section,
			  const char *what, const struct verdict *v,
			  const struct src_pos *rule_pos, const char *via,
			  const char *comment)
{
	const char *action = v->action == CGF_ALLOW ? "allow" : "deny";

	printf("%s %s: %s", section, what, action);
	if (!v->restricted)
		printf(" (no %s section: unrestricted)", section);
	else if (v->rule == CGF_RULE_DEFAULT)
		printf(" by %s.default", section);
	else
		printf(" by %s.rules[%u] (%s:%u)%s%s%s", section, v->rule,
		       p->path, rule_pos ? rule_pos->line : 0, via ? via : "",
		       comment ? ": " : "", comment ? comment : "");
	if (p->mode == CGF_MODE_AUDIT && v->action == CGF_DENY)
		printf(" [audit mode: reported, not blocked]");
	putchar('\n');
}

static bool cidr_contains(const struct policy_cidr *c, const struct flow *f)
{
	unsigned int full = c->prefixlen / 8, rest = c->prefixlen % 8;

	if (c->family != f->family || memcmp(c->addr, f->addr, full))
		return false;
	return !rest || !((c->addr[full] ^ f->addr[full]) & (0xff00 >> rest));
}

/*
 * When the deciding rule matched the address through a set: which set and
 * which entry, as " (to @NAME: CIDR, FILE:LINE)". The compiled tables
 * decided; this is the rule's longest entry covering the address.
 */
static void describe_set_match(const struct policy_net_rule *rule,
			       const struct flow *flow, const char *key,
			       char *buf, size_t len)
{
	const struct policy_cidr *best = NULL;
	const struct addr_set *best_set = NULL;
	char cidr[64];
	struct flow f = *flow;

	buf[0] = '\0';
	flow_normalize(&f);
	for (size_t i = 0; i < rule->naddrs; i++)
		if (cidr_contains(&rule->addrs[i], &f) &&
		    (!best || rule->addrs[i].prefixlen > best->prefixlen))
			best = &rule->addrs[i];
	for (size_t k = 0; k < rule->nsets; k++) {
		const struct addr_set *set = rule->sets[k].set;

		for (size_t i = 0; set && i < set->nentries; i++) {
			if (cidr_contains(&set->entries[i], &f) &&
			    (!best ||
			     set->entries[i].prefixlen > best->prefixlen)) {
				best = &set->entries[i];
				best_set = set;
			}
		}
	}
	if (!best_set)
		return;
	addr_set_cidr_text(best, cidr, sizeof(cidr));
	snprintf(buf, len, " (%s @%s: %s, %s:%u)", key, best_set->name, cidr,
		 best_set->path, best->pos.line);
}

static int explain_flow(const struct policy *p,
			const struct compiled_policy *cp, const char *spec,
			uint8_t direction)
{
	const char *section =
		direction == CGF_DIR_EGRESS ? "egress" : "ingress";
	const struct policy_net_section *sec =
		direction == CGF_DIR_EGRESS ? &p->egress : &p->ingress;
	const struct policy_net_rule *rule = NULL;
	char via[4200] = "";
	struct verdict v;
	struct flow f;

	if (parse_flow_spec(spec, direction, &f)) {
		log_error("--%s '%s': expected ADDRESS:PORT/PROTOCOL, "
			  "[IPV6]:PORT/PROTOCOL or ADDRESS/PROTOCOL",
			  section, spec);
		return 2;
	}
	compiled_judge_flow(cp, &f, &v);
	if (v.restricted && v.rule != CGF_RULE_DEFAULT && v.rule < sec->nrules)
		rule = &sec->rules[v.rule];
	if (rule)
		describe_set_match(rule, &f,
				   direction == CGF_DIR_EGRESS ? "to" : "from",
				   via, sizeof(via));
	print_verdict(p, section, spec, &v, rule ? &rule->pos : NULL, via,
		      rule ? rule->comment : NULL);
	return 0;
}

static int explain_device(const struct policy *p,
			  const struct compiled_policy *cp, const char *spec)
{
	const struct policy_dev_rule *rule = NULL;
	uint32_t type, major, minor, access;
	struct verdict v;

	if (parse_device_spec(spec, &type, &major, &minor, &access)) {
		log_error("--device '%s': expected TYPE:MAJOR:MINOR:ACCESS, "
			  "e.g. c:1:3:rw",
			  spec);
		return 2;
	}
	compiled_judge_device(cp, type, major, minor, access, &v);
	if (v.restricted && v.rule != CGF_RULE_DEFAULT &&
	    v.rule < p->devices.nrules)
		rule = &p->devices.rules[v.rule];
	print_verdict(p, "devices", spec, &v, rule ? &rule->pos : NULL, NULL,
		      NULL);
	return 0;
}

/* "packet:raw", "inet:raw:icmp", "inet6:dgram:icmpv6", "vsock:stream" */
static int parse_socket_spec(const char *spec, int *family, int *type,
			     uint8_t *protocol)
{
	char buf[64], *type_s, *proto_s;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	type_s = strchr(buf, ':');
	if (!type_s)
		return -EINVAL;
	*type_s++ = '\0';
	proto_s = strchr(type_s, ':');
	if (proto_s)
		*proto_s++ = '\0';
	*family = socknames_family_by_name(buf);
	*type = socknames_type_by_name(type_s);
	*protocol = 0;
	if (*family < 0 || *type < 0 ||
	    (proto_s && parse_protocol(proto_s, protocol)))
		return -EINVAL;
	return 0;
}

/* The entry of sockets.raw or sockets.families that allowed value, or -1. */
static ssize_t socket_entry(const struct policy_socket_entry *list, size_t n,
			    uint16_t value)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].value == value ||
		    list[i].value == POLICY_SOCKETS_ANY)
			return i;
	return -1;
}

static int explain_socket(const struct policy *p,
			  const struct compiled_policy *cp, const char *spec)
{
	const struct policy_sockets *s = &p->sockets;
	bool always = false;
	const char *key;
	const struct policy_socket_entry *list;
	ssize_t at;
	int family, type;
	uint8_t protocol;
	struct verdict v;

	if (parse_socket_spec(spec, &family, &type, &protocol)) {
		log_error(
			"--socket '%s': expected FAMILY:TYPE[:PROTOCOL], e.g. "
			"packet:raw or inet:raw:icmp",
			spec);
		return 2;
	}
	compiled_judge_socket(cp, family, type, protocol, &v);
	/* Which list decided: raw protocols for inet raw sockets, else families. */
	if (socknames_family_always_allowed(family) && type == SOCK_RAW &&
	    (family == AF_INET || family == AF_INET6)) {
		key = "raw", list = s->raw;
		at = socket_entry(s->raw, s->nraw, protocol);
	} else if (!socknames_family_always_allowed(family)) {
		key = "families", list = s->families;
		at = socket_entry(s->families, s->nfamilies, family);
	} else {
		key = NULL, list = NULL, at = -1, always = true;
	}
	printf("socket %s: %s", spec, v.action == CGF_ALLOW ? "allow" : "deny");
	if (v.rule == CGF_RULE_SOCKETS_RAW)
		printf(" by sockets.raw (raw sockets of this protocol are not "
		       "listed)");
	else if (v.rule == CGF_RULE_SOCKETS_FAMILY)
		printf(" by sockets.families (not listed: only unix, inet, "
		       "inet6 and netlink are always allowed)");
	else if (at >= 0)
		printf(" by sockets.%s[%zd] (%s:%u)", key, at, p->path,
		       list[at].pos.line);
	else if (always)
		printf(" (always allowed)");
	if (p->mode == CGF_MODE_AUDIT && v.action == CGF_DENY)
		printf(" [audit mode: reported, not blocked]");
	if (family == AF_PACKET && v.action == CGF_ALLOW)
		printf(" [packet sockets pass no egress or ingress rule]");
	putchar('\n');
	return 0;
}

int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"egress", required_argument, NULL, 'e'},
		{"ingress", required_argument, NULL, 'i'},
		{"device", required_argument, NULL, 'd'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{}};
	const char *path = NULL;
	struct {
		int kind;
		const char *spec;
	} queries[64];
	int nqueries = 0, c, rc = 0;
	struct compiled_policy *cp = NULL;
	struct policy *p = NULL;
	struct diags d = {};

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			path = optarg;
			break;
		case 'e':
		case 'i':
		case 'd':
		case 's':
			if (nqueries == (int)ARRAY_SIZE(queries)) {
				log_error("too many queries");
				return 2;
			}
			queries[nqueries].kind = c;
			queries[nqueries++].spec = optarg;
			break;
		case 'h':
			printf("usage: cgfence explain --policy FILE [--egress "
			       "ADDR:PORT/PROTO] [--ingress ADDR:PORT/PROTO] "
			       "[--device c:MAJ:MIN:ACC]\n"
			       "                       [--socket "
			       "FAMILY:TYPE[:PROTO]]...\n"
			       "For --ingress, ADDR is the remote source and "
			       "PORT the local port.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!path || !nqueries || optind != argc) {
		log_error("explain needs --policy FILE and at least one "
			  "--egress, --ingress, --device or --socket");
		return 2;
	}
	if (policy_load_file(path, &p, &d)) {
		diags_print(&d, stderr);
		diags_free(&d);
		return 1;
	}
	if (policy_compile(p, &cp)) {
		log_error("%s: cannot compile the policy", path);
		policy_free(p);
		return 1;
	}
	for (int i = 0; i < nqueries && !rc; i++) {
		if (queries[i].kind == 'd')
			rc = explain_device(p, cp, queries[i].spec);
		else if (queries[i].kind == 's')
			rc = explain_socket(p, cp, queries[i].spec);
		else
			rc = explain_flow(p, cp, queries[i].spec,
					  queries[i].kind == 'e'
						  ? CGF_DIR_EGRESS
						  : CGF_DIR_INGRESS);
	}
	compiled_policy_free(cp);
	policy_free(p);
	return rc;
}
