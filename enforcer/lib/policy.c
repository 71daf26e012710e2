// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy language version 1: JSON text -> struct policy. Pure: no kernel,
 * no libbpf.
 *
 * The language only: the JSON it reads comes with positions
 * (json_positions.c) and typed, reporting access (json_read.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "addr_set.h"
#include "cgfence_logic.h"
#include "json_arena.h"
#include "json_read.h"
#include "policy.h"
#include "socknames.h"
#include "util.h"

/* dev_t packs a 12-bit major and a 20-bit minor (linux/kdev_t.h). */
#define DEV_MAJOR_MAX ((1 << 12) - 1)
#define DEV_MINOR_MAX ((1 << 20) - 1)

/* The language's state around the JSON reader's context. */
struct policy_parse {
	struct parse_ctx ctx;
	struct policy *p;
	const struct addr_set_source *sets; /* NULL: policy_parse() */
	struct diags set_diags;		    /* the set files' own problems */
};

static struct policy_parse *parse_of(struct parse_ctx *ctx)
{
	return (struct policy_parse *)((char *)ctx -
				       offsetof(struct policy_parse, ctx));
}

/* A parsed document: its tree lives in the arena, or in malloc without one. */
struct parsed_json {
	struct json_arena arena;
	cJSON *root;
};

static void parsed_json_release(struct parsed_json *j)
{
	if (json_arena_owns_trees(&j->arena))
		json_arena_end(&j->arena);
	else
		cJSON_Delete(j->root);
}

static int read_action(struct parse_ctx *ctx, const cJSON *node,
		       const char *path)
{
	static const char *const words[] = {"allow", "deny"};
	static const uint8_t actions[] = {CGF_ALLOW, CGF_DENY};
	int i = read_keyword(ctx, node, path, words, 2);

	return i < 0 ? -1 : actions[i];
}

/* ---- Addresses and ports ---- */

static const uint8_t v4_mapped_prefix[12] = {[10] = 0xff, [11] = 0xff};

static bool has_host_bits(const uint8_t *addr, unsigned int addr_bits,
			  unsigned int prefixlen, uint8_t *network)
{
	bool set = false;

	for (unsigned int byte = 0; byte < addr_bits / 8; byte++) {
		unsigned int first_bit = byte * 8;
		uint8_t keep;

		if (prefixlen >= first_bit + 8)
			keep = 0xff;
		else if (prefixlen <= first_bit)
			keep = 0;
		else
			keep = 0xff << (8 - (prefixlen - first_bit));
		network[byte] = addr[byte] & keep;
		set |= network[byte] != addr[byte];
	}
	return set;
}

/* "1-3 decimal digits", the whole string. */
static int parse_prefixlen(const char *s, unsigned int *out)
{
	size_t n = strspn(s, "0123456789");

	if (n < 1 || n > 3 || s[n])
		return -EINVAL;
	*out = atoi(s);
	return 0;
}

/* Fills c (all but pos) or writes the reason into why. */
int policy_parse_cidr(const char *s, struct policy_cidr *c, char *why,
		      size_t why_len)
{
	char addr[INET6_ADDRSTRLEN], shown[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t addr_len = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t network[16];
	unsigned int bits, prefixlen;

	memset(c->addr, 0, sizeof(c->addr));
	if (!addr_len || addr_len >= sizeof(addr))
		goto not_an_address;
	memcpy(addr, s, addr_len);
	addr[addr_len] = '\0';
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = 4;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = 6;
		bits = 128;
	} else {
		goto not_an_address;
	}

	prefixlen = bits;
	if (slash && parse_prefixlen(slash + 1, &prefixlen)) {
		snprintf(why, why_len, "\"%.64s\" has an invalid prefix length",
			 s);
		return -EINVAL;
	}
	if (prefixlen > bits) {
		snprintf(why, why_len,
			 "prefix length %u is out of range for IPv%u (0-%u)",
			 prefixlen, c->family, bits);
		return -EINVAL;
	}
	/* The kernel sees these as IPv4 traffic: the IPv4 tables decide. */
	if (c->family == 6 && prefixlen >= 96 &&
	    !memcmp(c->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix))) {
		inet_ntop(AF_INET, c->addr + 12, shown, sizeof(shown));
		if (slash)
			snprintf(why, why_len,
				 "%s is an IPv4-mapped IPv6 range; write the "
				 "IPv4 form %s/%u",
				 s, shown, prefixlen - 96);
		else
			snprintf(why, why_len,
				 "%s is an IPv4-mapped IPv6 address; write the "
				 "IPv4 form %s",
				 s, shown);
		return -EINVAL;
	}
	if (has_host_bits(c->addr, bits, prefixlen, network)) {
		inet_ntop(c->family == 4 ? AF_INET : AF_INET6, network, shown,
			  sizeof(shown));
		snprintf(why, why_len,
			 "%s has host bits set (did you mean %s/%u?)", s, shown,
			 prefixlen);
		return -EINVAL;
	}
	c->prefixlen = prefixlen;
	return 0;

not_an_address:
	snprintf(why, why_len,
		 "\"%.64s\" is not an IPv4 or IPv6 address or CIDR", s);
	return -EINVAL;
}

/* The set name, already parsed in this policy or read now; NULL if none. */
static const struct addr_set *find_set(struct policy_parse *pp,
				       const char *name, struct src_pos pos,
				       const char *item_path)
{
	struct policy *p = pp->p;
	struct addr_set *set = NULL, **bigger;
	char file[4096];
	int err;

	for (size_t i = 0; i < p->nsets; i++)
		if (!strcmp(p->sets[i]->name, name))
			return p->sets[i];
	if (!pp->sets) {
		report(&pp->ctx, pos,
		       "%s: \"@%s\" names an address set, and sets are read "
		       "from the sets/ directory next to a policy file; this "
		       "policy was not read from one",
		       item_path, name);
		return NULL;
	}
	snprintf(file, sizeof(file), "%s/%s%s",
		 pp->sets->dir_path ? pp->sets->dir_path : ADDR_SET_DIR, name,
		 ADDR_SET_SUFFIX);
	err = addr_set_get(pp->sets, name, &set, &pp->set_diags);
	if (err == -ENOMEM) {
		pp->ctx.oom = true;
		return NULL;
	}
	if (err == -ENOENT) {
		report(&pp->ctx, pos, "%s: set \"%s\" does not exist (no %s)",
		       item_path, name, file);
		return NULL;
	}
	if (err) {
		report(&pp->ctx, pos, "%s: set \"%s\" is not valid (%s)",
		       item_path, name, file);
		return NULL;
	}
	bigger = reallocarray(p->sets, p->nsets + 1, sizeof(*p->sets));
	if (!bigger) {
		addr_set_free(set);
		pp->ctx.oom = true;
		return NULL;
	}
	p->sets = bigger;
	p->sets[p->nsets++] = set;
	return set;
}

/* "@NAME": a reference to the address set NAME. */
static void read_set_ref(struct parse_ctx *ctx, const cJSON *item,
			 const char *item_path, const char *s,
			 struct policy_net_rule *rule)
{
	struct policy_set_ref *ref = &rule->sets[rule->nsets];
	struct src_pos pos = value_pos(ctx, item);

	if (!policy_name_valid(s + 1)) {
		report(ctx, pos,
		       "%s: \"%.64s\" is not a set name: after '@', use a-z, "
		       "0-9, '.', '_' and '-', starting with a letter or digit",
		       item_path, s);
		return;
	}
	ref->set = find_set(parse_of(ctx), s + 1, pos, item_path);
	if (!ref->set)
		return;
	ref->name = ctx_strdup(ctx, s + 1);
	ref->pos = pos;
	rule->nsets++;
}

/* A string that is a valid address or CIDR (no "@set"): read into c. */
static bool is_plain_address(const cJSON *item, struct policy_cidr *c,
			     char *why, size_t why_len)
{
	return cJSON_IsString(item) && item->valuestring &&
	       item->valuestring[0] != '@' &&
	       policy_parse_cidr(item->valuestring, c, why, why_len) == 0;
}

static void read_address_list(struct parse_ctx *ctx, const cJSON *list,
			      const char *path, struct policy_net_rule *rule)
{
	const cJSON *item;
	char item_path[PATH_LEN], why[256];
	uint32_t cursor = 0;
	size_t i = 0, n;

	if (!expect_type(ctx, list, path, cJSON_Array))
		return;
	if (!list->child) {
		report(ctx, value_pos(ctx, list),
		       "%s: empty list; omit the key to mean any address",
		       path);
		return;
	}
	n = cJSON_GetArraySize(list);
	rule->addrs = ctx_calloc(ctx, n, sizeof(*rule->addrs));
	rule->sets = ctx_calloc(ctx, n, sizeof(*rule->sets));
	if (!rule->addrs || !rule->sets)
		return;
	/*
	 * A list may hold a million addresses: the item's path, only
	 * needed for a message, is written when there is one (why holds
	 * the reason is_plain_address() refused it).
	 */
	cJSON_ArrayForEach(item, list)
	{
		struct policy_cidr *c = &rule->addrs[rule->naddrs];
		const struct json_event *ev;
		const char *s;

		if (is_plain_address(item, c, why, sizeof(why))) {
			ev = json_positions_next_event(&ctx->jp, item, &cursor);
			c->pos = ev ? ev->pos : (struct src_pos){0};
			rule->naddrs++;
			i++;
			continue;
		}
		index_path(item_path, path, i++);
		s = expect_string(ctx, item, item_path);
		if (!s)
			continue;
		if (s[0] == '@') {
			read_set_ref(ctx, item, item_path, s, rule);
			continue;
		}
		report(ctx, value_pos(ctx, item), "%s: %s", item_path, why);
	}
}

/* Decimal digits at *s, advanced past them; 0 digits is an error. */
static int parse_port_digits(const char **s, long *out)
{
	const char *p = *s;
	long v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		if (v <= 65536)
			v = v * 10 + (*p - '0'); /* saturates: out of range */
	*s = p;
	*out = v;
	return 0;
}

/* "N" or "N-M". */
static int parse_port_range_text(const char *s, struct policy_port_range *r,
				 char *why, size_t why_len)
{
	const char *p = s, *first_text = s, *last_text;
	long first, last;
	int first_len, last_len;

	if (parse_port_digits(&p, &first))
		goto malformed;
	first_len = p - first_text;
	last = first;
	last_text = first_text;
	last_len = first_len;
	if (*p == '-') {
		last_text = ++p;
		if (parse_port_digits(&p, &last))
			goto malformed;
		last_len = p - last_text;
	}
	if (*p)
		goto malformed;
	if (first < 1 || first > 65535) {
		snprintf(why, why_len, "port %.*s is out of range (1-65535)",
			 first_len > 16 ? 16 : first_len, first_text);
		return -EINVAL;
	}
	if (last < 1 || last > 65535) {
		snprintf(why, why_len, "port %.*s is out of range (1-65535)",
			 last_len > 16 ? 16 : last_len, last_text);
		return -EINVAL;
	}
	if (first > last) {
		snprintf(why, why_len, "port range %ld-%ld is reversed", first,
			 last);
		return -EINVAL;
	}
	r->first = first;
	r->last = last;
	return 0;

malformed:
	snprintf(why, why_len,
		 "\"%.64s\" is not a port or port range (expected \"N\" or "
		 "\"N-M\")",
		 s);
	return -EINVAL;
}

static bool read_port_entry(struct parse_ctx *ctx, const cJSON *item,
			    const char *path, struct policy_port_range *r)
{
	char why[256];
	long long port;

	if (cJSON_IsNumber(item)) {
		if (!read_integer_in_range(ctx, item, path, "port", 1, 65535,
					   &port))
			return false;
		r->first = r->last = port;
		return true;
	}
	if (!cJSON_IsString(item)) {
		report(ctx, value_pos(ctx, item),
		       "%s: expected a port number or a \"N-M\" string, got %s",
		       path, json_kind_name(item->type));
		return false;
	}
	if (parse_port_range_text(item->valuestring, r, why, sizeof(why))) {
		report(ctx, value_pos(ctx, item), "%s: %s", path, why);
		return false;
	}
	return true;
}

static void read_port_list(struct parse_ctx *ctx, const cJSON *list,
			   const char *path, struct policy_net_rule *rule)
{
	const cJSON *item;
	char item_path[PATH_LEN];
	size_t i = 0;

	if (!expect_type(ctx, list, path, cJSON_Array))
		return;
	if (!list->child) {
		report(ctx, value_pos(ctx, list),
		       "%s: empty list; omit the key to mean any port", path);
		return;
	}
	rule->ports =
		ctx_calloc(ctx, cJSON_GetArraySize(list), sizeof(*rule->ports));
	if (!rule->ports)
		return;
	cJSON_ArrayForEach(item, list)
	{
		struct policy_port_range *r = &rule->ports[rule->nports];

		index_path(item_path, path, i++);
		if (!read_port_entry(ctx, item, item_path, r))
			continue;
		r->pos = value_pos(ctx, item);
		rule->nports++;
	}
}

/* Protocol number, 0 for "any", or -1 after reporting. */
static int read_protocol(struct parse_ctx *ctx, const cJSON *node,
			 const char *path)
{
	static const char *const words[] = {"tcp", "udp", "icmp", "icmpv6",
					    "any"};
	static const uint8_t numbers[] = {IPPROTO_TCP, IPPROTO_UDP,
					  IPPROTO_ICMP, IPPROTO_ICMPV6, 0};
	int i = read_keyword(ctx, node, path, words, 5);

	return i < 0 ? -1 : numbers[i];
}

/* ---- Sections ---- */

static void read_net_rule(struct parse_ctx *ctx, const cJSON *node,
			  const char *path, const char *section, bool egress,
			  struct policy_net_rule *rule)
{
	enum { R_ACTION, R_TO, R_FROM, R_PROTOCOL, R_PORTS, R_COMMENT, R__N };
	struct json_field f[R__N] = {
		[R_ACTION] = {.key = "action", .required = true},
		[R_TO] = {.key = "to", .unlisted = !egress},
		[R_FROM] = {.key = "from", .unlisted = egress},
		[R_PROTOCOL] = {.key = "protocol"},
		[R_PORTS] = {.key = "ports"},
		[R_COMMENT] = {.key = "comment"},
	};
	const struct json_field *addrs = &f[egress ? R_TO : R_FROM];
	const struct json_field *misplaced = &f[egress ? R_FROM : R_TO];
	char sub[PATH_LEN];
	int action, protocol = 0;

	rule->pos = value_pos(ctx, node);
	if (!expect_type(ctx, node, path, cJSON_Object))
		return;
	read_fields(ctx, node, path, f, R__N);

	if (f[R_ACTION].node) {
		action = read_action(ctx, f[R_ACTION].node,
				     subpath(sub, path, "action"));
		rule->action = action < 0 ? CGF_DENY : action;
	}
	if (misplaced->node)
		report(ctx, key_pos(ctx, misplaced->node),
		       "%s: \"%s\" is not valid in %s rules; use \"%s\"", path,
		       misplaced->key, section, addrs->key);
	if (addrs->node)
		read_address_list(ctx, addrs->node,
				  subpath(sub, path, addrs->key), rule);
	if (f[R_PROTOCOL].node) {
		protocol = read_protocol(ctx, f[R_PROTOCOL].node,
					 subpath(sub, path, "protocol"));
		rule->protocol = protocol < 0 ? 0 : protocol;
	}
	if (f[R_PORTS].node) {
		subpath(sub, path, "ports");
		/* An invalid protocol (-1) is reported already. */
		if (protocol == 0 || protocol == IPPROTO_ICMP ||
		    protocol == IPPROTO_ICMPV6)
			report(ctx, value_pos(ctx, f[R_PORTS].node),
			       "%s: ports need \"protocol\": \"tcp\" or "
			       "\"udp\"",
			       sub);
		read_port_list(ctx, f[R_PORTS].node, sub, rule);
	}
	if (f[R_COMMENT].node) {
		const char *s = expect_string(ctx, f[R_COMMENT].node,
					      subpath(sub, path, "comment"));

		if (s)
			rule->comment = ctx_strdup(ctx, s);
	}
}

/*
 * The members common to all sections; returns the rules array to read
 * (NULL when absent or invalid) and its length.
 */
static const cJSON *read_section_header(struct parse_ctx *ctx,
					const cJSON *node, const char *name,
					size_t max_rules,
					uint8_t *default_action, size_t *n)
{
	enum { S_DEFAULT, S_RULES, S_COMMENT, S__N };
	struct json_field f[S__N] = {
		[S_DEFAULT] = {.key = "default", .required = true},
		[S_RULES] = {.key = "rules"},
		[S_COMMENT] = {.key = "comment"},
	};
	char sub[PATH_LEN];
	const cJSON *rules;
	int action;

	*n = 0;
	read_fields(ctx, node, name, f, S__N);
	if (f[S_DEFAULT].node) {
		action = read_action(ctx, f[S_DEFAULT].node,
				     subpath(sub, name, "default"));
		*default_action = action < 0 ? CGF_DENY : action;
	}
	if (f[S_COMMENT].node)
		expect_string(ctx, f[S_COMMENT].node,
			      subpath(sub, name, "comment"));

	rules = f[S_RULES].node;
	if (!rules ||
	    !expect_type(ctx, rules, subpath(sub, name, "rules"), cJSON_Array))
		return NULL;
	*n = cJSON_GetArraySize(rules);
	if (*n > max_rules)
		report(ctx, value_pos(ctx, rules),
		       "%s: %zu rules; a section holds at most %zu", sub, *n,
		       max_rules);
	return rules;
}

static void read_net_section(struct parse_ctx *ctx, const cJSON *node,
			     const char *name, bool egress,
			     struct policy_net_section *s)
{
	const cJSON *rules, *item;
	char rule_path[PATH_LEN];
	size_t n, i = 0;

	if (!expect_type(ctx, node, name, cJSON_Object))
		return;
	s->present = true;
	rules = read_section_header(ctx, node, name, CGF_MAX_RULES,
				    &s->default_action, &n);
	if (!rules || !n)
		return;
	s->rules = ctx_calloc(ctx, n, sizeof(*s->rules));
	if (!s->rules)
		return;
	s->nrules = n;
	cJSON_ArrayForEach(item, rules)
	{
		snprintf(rule_path, sizeof(rule_path), "%s.rules[%zu]", name,
			 i);
		read_net_rule(ctx, item, rule_path, name, egress,
			      &s->rules[i++]);
	}
}

/* Major or minor: an integer up to max, or "*" / omitted for any (-1). */
static int64_t read_device_number(struct parse_ctx *ctx, const cJSON *node,
				  const char *path, const char *what,
				  long long max)
{
	long long v;

	if (!node)
		return -1;
	if (cJSON_IsString(node) && !strcmp(node->valuestring, "*"))
		return -1;
	if (cJSON_IsString(node)) {
		report(ctx, value_pos(ctx, node),
		       "%s: expected a non-negative integer or \"*\", got "
		       "\"%.64s\"",
		       path, node->valuestring);
		return -1;
	}
	if (!cJSON_IsNumber(node)) {
		report(ctx, value_pos(ctx, node),
		       "%s: expected a non-negative integer or \"*\", got %s",
		       path, json_kind_name(node->type));
		return -1;
	}
	if (!read_integer_in_range(ctx, node, path, what, 0, max, &v))
		return -1;
	return v;
}

static void format_access_letter(char *buf, size_t size, char c)
{
	if (c > ' ' && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", (unsigned char)c);
}

/* CGF_ACC_* bits from "rwm" letters; 0 after reporting. */
static uint8_t read_access(struct parse_ctx *ctx, const cJSON *node,
			   const char *path)
{
	const char *s = expect_string(ctx, node, path), *letter;
	static const char letters[] = "rwm";
	static const uint8_t bits[] = {CGF_ACC_READ, CGF_ACC_WRITE,
				       CGF_ACC_MKNOD};
	uint8_t access = 0, bit;
	char shown[16];

	if (!s)
		return 0;
	if (!*s) {
		report(ctx, value_pos(ctx, node),
		       "%s: empty access; use one or more of r, w and m", path);
		return 0;
	}
	for (const char *p = s; *p; p++) {
		letter = strchr(letters, *p);
		format_access_letter(shown, sizeof(shown), *p);
		if (!letter) {
			report(ctx, value_pos(ctx, node),
			       "%s: access \"%.16s\" has unknown letter %s "
			       "(use r, w and m)",
			       path, s, shown);
			return 0;
		}
		bit = bits[letter - letters];
		if (access & bit) {
			report(ctx, value_pos(ctx, node),
			       "%s: access \"%.16s\" repeats %s", path, s,
			       shown);
			return 0;
		}
		access |= bit;
	}
	return access;
}

static void read_device_rule(struct parse_ctx *ctx, const cJSON *node,
			     const char *path, struct policy_dev_rule *rule)
{
	enum { D_ACTION, D_TYPE, D_MAJOR, D_MINOR, D_ACCESS, D_COMMENT, D__N };
	struct json_field f[D__N] = {
		[D_ACTION] = {.key = "action", .required = true},
		[D_TYPE] = {.key = "type", .required = true},
		[D_MAJOR] = {.key = "major"},
		[D_MINOR] = {.key = "minor"},
		[D_ACCESS] = {.key = "access", .required = true},
		[D_COMMENT] = {.key = "comment"},
	};
	static const char *const type_words[] = {"c", "b", "a"};
	static const uint8_t types[] = {CGF_DEV_CHAR, CGF_DEV_BLOCK,
					CGF_DEV_ALL};
	char sub[PATH_LEN];
	int action, type;

	rule->pos = value_pos(ctx, node);
	rule->major = rule->minor = -1;
	if (!expect_type(ctx, node, path, cJSON_Object))
		return;
	read_fields(ctx, node, path, f, D__N);

	if (f[D_ACTION].node) {
		action = read_action(ctx, f[D_ACTION].node,
				     subpath(sub, path, "action"));
		rule->action = action < 0 ? CGF_DENY : action;
	}
	if (f[D_TYPE].node) {
		type = read_keyword(ctx, f[D_TYPE].node,
				    subpath(sub, path, "type"), type_words, 3);
		rule->type = type < 0 ? CGF_DEV_ALL : types[type];
	}
	rule->major = read_device_number(ctx, f[D_MAJOR].node,
					 subpath(sub, path, "major"), "major",
					 DEV_MAJOR_MAX);
	rule->minor = read_device_number(ctx, f[D_MINOR].node,
					 subpath(sub, path, "minor"), "minor",
					 DEV_MINOR_MAX);
	if (f[D_ACCESS].node)
		rule->access = read_access(ctx, f[D_ACCESS].node,
					   subpath(sub, path, "access"));
	if (f[D_COMMENT].node)
		expect_string(ctx, f[D_COMMENT].node,
			      subpath(sub, path, "comment"));
}

/* ---- Terminals: what the device rules cannot see ---- */

/* The section's verdict on one character device access: the kernel's
 * first match (cgfence_logic.h) over the rules as parsed. */
static const struct policy_dev_rule *
dev_judge(const struct policy_dev_section *s, int64_t major, int64_t minor,
	  uint8_t access, uint8_t *action)
{
	for (size_t i = 0; i < s->nrules; i++) {
		const struct policy_dev_rule *r = &s->rules[i];
		struct cgf_device_rule k = {
			.type = r->type,
			.access = r->access,
			.action = r->action,
			.flags = (r->major == -1 ? CGF_DEV_ANY_MAJOR : 0) |
				 (r->minor == -1 ? CGF_DEV_ANY_MINOR : 0),
			.major = r->major == -1 ? 0 : (uint32_t)r->major,
			.minor = r->minor == -1 ? 0 : (uint32_t)r->minor,
		};

		if (cgf_device_rule_matches(&k, CGF_DEV_CHAR, major, minor,
					    access)) {
			*action = r->action;
			return r;
		}
	}
	*action = s->default_action;
	return NULL;
}

/* Whether some open (read, write or both) of major:minor is allowed. */
static const struct policy_dev_rule *
dev_some_open(const struct policy_dev_section *s, int64_t major, int64_t minor,
	      bool allowed, bool *found)
{
	static const uint8_t opens[] = {CGF_ACC_READ, CGF_ACC_WRITE,
					CGF_ACC_READ | CGF_ACC_WRITE};
	const struct policy_dev_rule *r;
	uint8_t action;

	*found = false;
	for (size_t i = 0; i < sizeof(opens); i++) {
		r = dev_judge(s, major, minor, opens[i], &action);
		if ((action == CGF_ALLOW) == allowed) {
			*found = true;
			return r;
		}
	}
	return NULL;
}

/*
 * The TIOCGPTPEER ioctl on an open /dev/ptmx opens its terminal (a
 * /dev/pts/N, c 136:N) without the device check an open(2) gets: no
 * cgroup device program sees it. A policy that lets /dev/ptmx be opened
 * while it denies a terminal does not hold; it is refused, at the rule
 * (or default) that allows /dev/ptmx.
 */
static void check_terminals(struct parse_ctx *ctx, const cJSON *node,
			    const struct policy_dev_section *s)
{
	const struct policy_dev_rule *ptmx_rule, *pts_rule = NULL;
	int64_t pts_minor = 0;
	bool ptmx_open, pts_denied = false;
	char where[PATH_LEN], pts[64];

	ptmx_rule = dev_some_open(s, POLICY_DEV_PTMX_MAJOR,
				  POLICY_DEV_PTMX_MINOR, true, &ptmx_open);
	if (!ptmx_open)
		return;
	/* Every minor a rule names, and one none names (the highest is as
	 * good as any other such minor). */
	for (size_t i = 0; i <= s->nrules && !pts_denied; i++) {
		int64_t minor =
			i < s->nrules ? s->rules[i].minor : DEV_MINOR_MAX;

		if (minor == -1)
			continue;
		pts_rule = dev_some_open(s, POLICY_DEV_PTS_MAJOR, minor, false,
					 &pts_denied);
		pts_minor = minor;
	}
	if (!pts_denied)
		return;
	if (ptmx_rule)
		snprintf(where, sizeof(where), "devices.rules[%zu]",
			 (size_t)(ptmx_rule - s->rules));
	else
		snprintf(where, sizeof(where), "devices.default");
	if (pts_rule)
		snprintf(pts, sizeof(pts), "devices.rules[%zu]",
			 (size_t)(pts_rule - s->rules));
	else
		snprintf(pts, sizeof(pts), "devices.default");
	report(ctx,
	       ptmx_rule ? ptmx_rule->pos
			 : value_pos(ctx, cJSON_GetObjectItemCaseSensitive(
						  node, "default")),
	       "%s: allows /dev/ptmx (c %d:%d) while %s denies a terminal "
	       "(c %d:%lld): the TIOCGPTPEER ioctl on /dev/ptmx opens its "
	       "terminal with no device check; deny c %d:%d too, or allow "
	       "c %d:* \"rw\"",
	       where, POLICY_DEV_PTMX_MAJOR, POLICY_DEV_PTMX_MINOR, pts,
	       POLICY_DEV_PTS_MAJOR, (long long)pts_minor,
	       POLICY_DEV_PTMX_MAJOR, POLICY_DEV_PTMX_MINOR,
	       POLICY_DEV_PTS_MAJOR);
}

static void read_device_section(struct parse_ctx *ctx, const cJSON *node,
				struct policy_dev_section *s)
{
	const cJSON *rules, *item;
	char rule_path[PATH_LEN];
	unsigned int nerrors = ctx->nerrors;
	size_t n, i = 0;

	if (!expect_type(ctx, node, "devices", cJSON_Object))
		return;
	s->present = true;
	rules = read_section_header(ctx, node, "devices", CGF_MAX_DEVICE_RULES,
				    &s->default_action, &n);
	if (!rules || !n)
		return;
	s->rules = ctx_calloc(ctx, n, sizeof(*s->rules));
	if (!s->rules)
		return;
	s->nrules = n;
	cJSON_ArrayForEach(item, rules)
	{
		snprintf(rule_path, sizeof(rule_path), "devices.rules[%zu]", i);
		read_device_rule(ctx, item, rule_path, &s->rules[i++]);
	}
	/* Only rules read as written say what the section allows. */
	if (ctx->nerrors == nerrors)
		check_terminals(ctx, node, s);
}

/* ---- Sockets ---- */

/* A list of names, each turned into a number by lookup(); "any" allowed. */
static void
read_socket_list(struct parse_ctx *ctx, const cJSON *list, const char *path,
		 int (*lookup)(struct parse_ctx *ctx, const cJSON *item,
			       const char *item_path, const char *name),
		 struct policy_socket_entry **out, size_t *n)
{
	const cJSON *item;
	char item_path[PATH_LEN];
	size_t i = 0;

	if (!expect_type(ctx, list, path, cJSON_Array))
		return;
	if (!cJSON_GetArraySize(list)) {
		report(ctx, value_pos(ctx, list),
		       "%s: empty list (omit the key to allow none)", path);
		return;
	}
	*out = ctx_calloc(ctx, cJSON_GetArraySize(list), sizeof(**out));
	if (!*out)
		return;
	cJSON_ArrayForEach(item, list)
	{
		const char *name;
		int value;

		index_path(item_path, path, i++);
		name = expect_string(ctx, item, item_path);
		if (!name)
			continue;
		value = !strcmp(name, "any")
				? POLICY_SOCKETS_ANY
				: lookup(ctx, item, item_path, name);
		if (value < 0)
			continue;
		for (size_t k = 0; k < *n; k++)
			if ((*out)[k].value == value)
				report(ctx, value_pos(ctx, item),
				       "%s: \"%s\" is listed already (line %u)",
				       item_path, name, (*out)[k].pos.line);
		(*out)[*n].value = value;
		(*out)[*n].pos = value_pos(ctx, item);
		(*n)++;
	}
}

/* The list's words, through read_keyword (read_socket_list took "any"). */
static int lookup_raw_protocol(struct parse_ctx *ctx, const cJSON *item,
			       const char *item_path, const char *name)
{
	static const char *const words[] = {"tcp", "udp", "icmp", "icmpv6",
					    "any"};
	static const uint16_t values[] = {IPPROTO_TCP, IPPROTO_UDP,
					  IPPROTO_ICMP, IPPROTO_ICMPV6,
					  POLICY_SOCKETS_ANY};
	int i = read_keyword(ctx, item, item_path, words, ARRAY_SIZE(words));

	return i < 0 ? -1 : values[i];
}

static int lookup_family(struct parse_ctx *ctx, const cJSON *item,
			 const char *item_path, const char *name)
{
	int family = socknames_family_by_name(name);

	if (family < 0) {
		report(ctx, value_pos(ctx, item),
		       "%s: unknown address family \"%.64s\" (Linux AF_ names "
		       "in lower case: \"packet\", \"xdp\", \"vsock\", ...; or "
		       "\"any\")",
		       item_path, name);
		return -1;
	}
	if (socknames_family_always_allowed(family)) {
		report(ctx, value_pos(ctx, item),
		       "%s: \"%s\" is always allowed; list only the families "
		       "beyond unix, inet, inet6 and netlink",
		       item_path, name);
		return -1;
	}
	return family;
}

/* sockets.options: the words and the CGF_SOCKOPT_* bit of each. */
static const char *const option_words[] = {"hdrincl", "recverr", "transparent",
					   "multicast", "any"};
static const uint16_t option_values[] = {
	CGF_SOCKOPT_HDRINCL, CGF_SOCKOPT_RECVERR, CGF_SOCKOPT_TRANSPARENT,
	CGF_SOCKOPT_MULTICAST, POLICY_SOCKETS_ANY};

static const char *option_word(uint16_t value)
{
	for (size_t i = 0; i < ARRAY_SIZE(option_values); i++)
		if (option_values[i] == value)
			return option_words[i];
	return "?";
}

static int lookup_option(struct parse_ctx *ctx, const cJSON *item,
			 const char *item_path, const char *name)
{
	int i = read_keyword(ctx, item, item_path, option_words,
			     ARRAY_SIZE(option_words));

	return i < 0 ? -1 : option_values[i];
}

static void read_sockets_section(struct parse_ctx *ctx, const cJSON *node,
				 struct policy_sockets *s)
{
	enum { K_RAW, K_FAMILIES, K_OPTIONS, K_COMMENT, K__N };
	struct json_field f[K__N] = {
		[K_RAW] = {.key = "raw"},
		[K_FAMILIES] = {.key = "families"},
		[K_OPTIONS] = {.key = "options"},
		[K_COMMENT] = {.key = "comment"},
	};

	if (!expect_type(ctx, node, "sockets", cJSON_Object))
		return;
	s->present = true;
	read_fields(ctx, node, "sockets", f, K__N);
	if (f[K_RAW].node)
		read_socket_list(ctx, f[K_RAW].node, "sockets.raw",
				 lookup_raw_protocol, &s->raw, &s->nraw);
	if (f[K_FAMILIES].node)
		read_socket_list(ctx, f[K_FAMILIES].node, "sockets.families",
				 lookup_family, &s->families, &s->nfamilies);
	if (f[K_OPTIONS].node)
		read_socket_list(ctx, f[K_OPTIONS].node, "sockets.options",
				 lookup_option, &s->options, &s->noptions);
	if (f[K_COMMENT].node)
		expect_string(ctx, f[K_COMMENT].node, "sockets.comment");
}

/* ---- Top level ---- */

static void read_version(struct parse_ctx *ctx, const cJSON *node)
{
	long long version;
	char text[32];

	if (!expect_type(ctx, node, "version", cJSON_Number))
		return;
	number_text(ctx, node, text, sizeof(text));
	if (number_text_to_integer(text, &version) || version != 1)
		report(ctx, value_pos(ctx, node),
		       "version: unsupported policy version %s (this cgfence "
		       "reads version 1)",
		       text);
}

static bool is_name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '-');
}

bool policy_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= CGF_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(name[i], i == 0))
			return false;
	return true;
}

bool policy_path_is_schema(const char *path)
{
	static const char suffix[] = POLICY_SCHEMA_NAME_SUFFIX ".json";
	size_t len = strlen(path), n = strlen(suffix);

	return len > n && !strcmp(path + len - n, suffix);
}

static char *read_name(struct parse_ctx *ctx, const cJSON *node)
{
	const char *s = expect_string(ctx, node, "name");
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	if (!len) {
		report(ctx, value_pos(ctx, node), "name: must not be empty");
		return NULL;
	}
	if (len >= CGF_NAME_LEN) {
		report(ctx, value_pos(ctx, node),
		       "name: too long (%zu bytes, at most %d)", len,
		       CGF_NAME_LEN - 1);
		return NULL;
	}
	if (!policy_name_valid(s)) {
		report(ctx, value_pos(ctx, node),
		       "name: \"%s\" is invalid: use a-z, 0-9, '.', "
		       "'_' and '-', starting with a letter or digit",
		       s);
		return NULL;
	}
	if (len > strlen(POLICY_SCHEMA_NAME_SUFFIX) &&
	    !strcmp(s + len - strlen(POLICY_SCHEMA_NAME_SUFFIX),
		    POLICY_SCHEMA_NAME_SUFFIX)) {
		report(ctx, value_pos(ctx, node),
		       "name: \"%s\" ends in \"%s\", which is kept for JSON "
		       "Schema files (a policy directory never reads "
		       "*%s.json)",
		       s, POLICY_SCHEMA_NAME_SUFFIX, POLICY_SCHEMA_NAME_SUFFIX);
		return NULL;
	}
	return ctx_strdup(ctx, s);
}

static void read_mode(struct parse_ctx *ctx, const cJSON *node, uint32_t *mode)
{
	static const char *const words[] = {"enforce", "audit"};
	static const uint32_t modes[] = {CGF_MODE_ENFORCE, CGF_MODE_AUDIT};
	int i = read_keyword(ctx, node, "mode", words, 2);

	if (i >= 0)
		*mode = modes[i];
}

static void read_selector(struct parse_ctx *ctx, const cJSON *node,
			  struct policy *p)
{
	const cJSON *member;
	size_t n;

	if (!expect_type(ctx, node, "selector", cJSON_Object))
		return;
	n = cJSON_GetArraySize(node);
	if (!n)
		return;
	report_duplicate_keys(ctx, node, "selector", n);
	p->selector = ctx_calloc(ctx, n, sizeof(*p->selector));
	if (!p->selector)
		return;
	cJSON_ArrayForEach(member, node)
	{
		struct policy_selector_entry *e = &p->selector[p->nselector];

		if (!*member->string) {
			report(ctx, key_pos(ctx, member),
			       "selector: empty annotation key");
			continue;
		}
		if (!cJSON_IsString(member)) {
			report(ctx, value_pos(ctx, member),
			       "selector: value of \"%.64s\" must be a string, "
			       "got %s",
			       member->string, json_kind_name(member->type));
			continue;
		}
		e->key = ctx_strdup(ctx, member->string);
		e->value = ctx_strdup(ctx, member->valuestring);
		p->nselector++;
	}
}

static void read_policy(struct parse_ctx *ctx, const cJSON *root,
			struct policy *p)
{
	enum {
		T_VERSION,
		T_NAME,
		T_MODE,
		T_SELECTOR,
		T_EGRESS,
		T_INGRESS,
		T_DEVICES,
		T_SOCKETS,
		T_COMMENT,
		T_SCHEMA,
		T__N
	};
	struct json_field f[T__N] = {
		[T_VERSION] = {.key = "version", .required = true},
		[T_NAME] = {.key = "name", .required = true},
		[T_MODE] = {.key = "mode"},
		[T_SELECTOR] = {.key = "selector"},
		[T_EGRESS] = {.key = "egress"},
		[T_INGRESS] = {.key = "ingress"},
		[T_DEVICES] = {.key = "devices"},
		[T_SOCKETS] = {.key = "sockets"},
		[T_COMMENT] = {.key = "comment"},
		/* For editors (policies/cgfence-policy.schema.json): no meaning. */
		[T_SCHEMA] = {.key = "$schema"},
	};

	if (!cJSON_IsObject(root)) {
		report(ctx, value_pos(ctx, root),
		       "a policy is a JSON object, got %s",
		       json_kind_name(root->type));
		return;
	}
	read_fields(ctx, root, "", f, T__N);
	if (f[T_VERSION].node)
		read_version(ctx, f[T_VERSION].node);
	if (f[T_NAME].node)
		p->name = read_name(ctx, f[T_NAME].node);
	p->mode = CGF_MODE_ENFORCE;
	if (f[T_MODE].node)
		read_mode(ctx, f[T_MODE].node, &p->mode);
	if (f[T_SELECTOR].node)
		read_selector(ctx, f[T_SELECTOR].node, p);
	if (f[T_EGRESS].node)
		read_net_section(ctx, f[T_EGRESS].node, "egress", true,
				 &p->egress);
	if (f[T_INGRESS].node)
		read_net_section(ctx, f[T_INGRESS].node, "ingress", false,
				 &p->ingress);
	if (f[T_DEVICES].node)
		read_device_section(ctx, f[T_DEVICES].node, &p->devices);
	if (f[T_SOCKETS].node)
		read_sockets_section(ctx, f[T_SOCKETS].node, &p->sockets);
	if (f[T_COMMENT].node)
		expect_string(ctx, f[T_COMMENT].node, "comment");
	if (f[T_SCHEMA].node)
		expect_string(ctx, f[T_SCHEMA].node, "$schema");
}

/*
 * cJSON points one byte past a bad object key: `{"a": 1,}` is reported
 * after the '}', `{name: 1}` at the 'a'. A non-space byte that directly
 * follows '{' or ',' (spaces aside) and is not a string's end is that key.
 */
static size_t fix_syntax_error_offset(const char *text, size_t offset)
{
	unsigned char culprit;
	size_t i;

	if (!offset)
		return offset;
	culprit = text[offset - 1];
	if (culprit <= ' ' || culprit == '"')
		return offset;
	for (i = offset - 1; i > 0 && (unsigned char)text[i - 1] <= ' '; i--)
		;
	if (i > 0 && (text[i - 1] == '{' || text[i - 1] == ','))
		return offset - 1;
	return offset;
}

static void report_syntax_error(struct parse_ctx *ctx, size_t offset)
{
	struct src_pos pos;
	size_t n;

	offset = fix_syntax_error_offset(ctx->text, offset);
	pos = offset_to_pos(ctx->text, ctx->len, offset);
	if (offset >= ctx->len) {
		report(ctx, pos, "invalid JSON: unexpected end of file");
		return;
	}
	n = strcspn(ctx->text + offset, "\r\n");
	if (!n)
		report(ctx, pos, "invalid JSON at the end of the line");
	else
		report(ctx, pos, "invalid JSON near \"%.*s\"",
		       n > 16 ? 16 : (int)n, ctx->text + offset);
}

/* Parses ctx->text into p, reporting into ctx. */
static int parse_policy_text(struct parse_ctx *ctx, struct policy *p)
{
	_cleanup_(parsed_json_release) struct parsed_json json = {};
	const char *nul = memchr(ctx->text, '\0', ctx->len), *end = NULL;
	cJSON *root;
	int err;

	if (nul) {
		report(ctx, offset_to_pos(ctx->text, ctx->len, nul - ctx->text),
		       "unexpected NUL byte");
		return -EINVAL;
	}
	/* Nested in another parse (never, today): malloc as before. */
	json_arena_begin(&json.arena);
	/* The length counts the terminating NUL, which cJSON then requires. */
	root = json.root =
		cJSON_ParseWithLengthOpts(ctx->text, ctx->len + 1, &end, true);
	if (!root) {
		report_syntax_error(ctx, end ? (size_t)(end - ctx->text) : 0);
		return -EINVAL;
	}
	err = json_positions_build(&ctx->jp, ctx->text, ctx->len, root);
	if (err)
		return err;
	if (ctx->jp.nul_escape != SIZE_MAX) {
		/* cJSON cuts the string there: "web\u0000x" reads "web". */
		report(ctx,
		       offset_to_pos(ctx->text, ctx->len, ctx->jp.nul_escape),
		       "strings must not contain \\u0000");
		return -EINVAL;
	}
	read_policy(ctx, root, p);
	if (ctx->oom)
		return -ENOMEM;
	return ctx->nerrors ? -EINVAL : 0;
}

static int compare_sets(const void *a, const void *b)
{
	const struct addr_set *x = *(const struct addr_set *const *)a;
	const struct addr_set *y = *(const struct addr_set *const *)b;

	return strcmp(x->name, y->name);
}

/* policy_parse_at() of text that ends in a NUL (text[len] == '\0'). */
static int parse_terminated(const char *path, const char *text, size_t len,
			    const struct addr_set_source *sets,
			    struct policy **out, struct diags *d)
{
	struct policy_parse pp = {.ctx = {.file = path, .len = len}};
	struct addr_set_source with_cache;
	struct addr_set_cache *own_cache = NULL;
	struct policy *p;
	int err;

	*out = NULL;
	if (len > POLICY_MAX_FILE_SIZE) {
		diags_add(d, path, (struct src_pos){0},
			  "file is larger than the %u MiB limit",
			  POLICY_MAX_FILE_SIZE >> 20);
		return -EFBIG;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->refs = 1;
	/* A set named twice in this policy is read and reported once. */
	if (sets && !sets->cache) {
		own_cache = addr_set_cache_new();
		with_cache = *sets;
		with_cache.cache = own_cache;
		sets = &with_cache;
	}
	if (!p || (sets == &with_cache && !own_cache)) {
		free(p);
		addr_set_cache_free(own_cache);
		diags_add(d, path, (struct src_pos){0}, "out of memory");
		return -ENOMEM;
	}
	pp.ctx.text = text;
	pp.p = p;
	pp.sets = sets;

	err = parse_policy_text(&pp.ctx, p);
	if (!err && path) {
		p->path = strdup(path);
		if (!p->path)
			err = -ENOMEM;
	}
	if (p->nsets)
		qsort(p->sets, p->nsets, sizeof(*p->sets), compare_sets);
	json_positions_free(&pp.ctx.jp);
	flush_errors(&pp.ctx, d);
	free(pp.ctx.errors);
	diags_move(d, &pp.set_diags);
	addr_set_cache_free(own_cache);
	if (err == -ENOMEM)
		diags_add(d, path, (struct src_pos){0}, "out of memory");
	if (err) {
		policy_free(p);
		return err;
	}
	*out = p;
	return 0;
}

int policy_parse_at(const char *path, const char *text, size_t len,
		    const struct addr_set_source *sets, struct policy **out,
		    struct diags *d)
{
	_cleanup_(freep) char *copy = NULL;

	*out = NULL;
	if (len > POLICY_MAX_FILE_SIZE) /* refused before the text is read */
		return parse_terminated(path, text, len, sets, out, d);
	/* The parser needs a NUL after the text. */
	copy = malloc(len + 1);
	if (!copy) {
		diags_add(d, path, (struct src_pos){0}, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	return parse_terminated(path, copy, len, sets, out, d);
}

int policy_parse(const char *path, const char *text, size_t len,
		 struct policy **out, struct diags *d)
{
	return policy_parse_at(path, text, len, NULL, out, d);
}

size_t policy_rule_address_count(const struct policy_net_rule *r)
{
	size_t n = r->naddrs;

	for (size_t i = 0; i < r->nsets; i++)
		n += r->sets[i].set->nentries;
	return n;
}

/*
 * Reads at most POLICY_MAX_FILE_SIZE bytes (-EFBIG past that) of a regular
 * file: a FIFO or a device would block or never end.
 */
static int read_policy_file(const char *path, char **out, size_t *out_len)
{
	_cleanup_(closep) int fd = -1;
	struct bounded_read how = {.max = POLICY_MAX_FILE_SIZE};
	struct stat st;

	fd = open_regular_file(path, &st);
	if (fd < 0)
		return fd;
	if (st.st_size > POLICY_MAX_FILE_SIZE)
		return -EFBIG;
	how.size_hint = st.st_size;
	return read_fd_bounded(fd, &how, out, out_len);
}

/*
 * The sets/ directory next to the file at path; dir_path gets its name
 * for messages ("sets" for a file in the current directory).
 */
static int open_sets_dir_of(const char *path, char *dir_path, size_t len)
{
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int dir_fd = -1;
	char dir[4096];

	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1),
			 path);
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(dir_path, len, "%s%s", slash ? dir : "", ADDR_SET_DIR);
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	return addr_set_open_dir(dir_fd);
}

int policy_load_file(const char *path, struct policy **out, struct diags *d)
{
	_cleanup_(freep) char *text = NULL;
	_cleanup_close_ int sets_fd = -1;
	char sets_path[4096];
	size_t len = 0;
	int err;

	*out = NULL;
	err = read_policy_file(path, &text, &len);
	if (err == -EFBIG) {
		diags_add(d, path, (struct src_pos){0},
			  "file is larger than the %u MiB limit",
			  POLICY_MAX_FILE_SIZE >> 20);
		return err;
	}
	if (err) {
		diags_add(d, path, (struct src_pos){0}, "%s",
			  file_error_text(err));
		return err;
	}
	sets_fd = open_sets_dir_of(path, sets_path, sizeof(sets_path));
	/* read_fd_bounded() ends the text in a NUL: no copy of a big file. */
	err = parse_terminated(
		path, text, len,
		&(struct addr_set_source){.dir_fd = sets_fd < 0 ? -1 : sets_fd,
					  .dir_path = sets_path},
		out, d);
	/* The text it was parsed from: what a set change checks it against
	 * (set_source.h), as for a directory's policies. */
	if (!err) {
		(*out)->source = text;
		(*out)->source_len = len;
		text = NULL;
	}
	return err;
}

static void net_section_free(struct policy_net_section *s)
{
	for (size_t i = 0; i < s->nrules; i++) {
		free(s->rules[i].addrs);
		for (size_t k = 0; k < s->rules[i].nsets; k++)
			free(s->rules[i].sets[k].name);
		free(s->rules[i].sets);
		free(s->rules[i].ports);
		free(s->rules[i].comment);
	}
	free(s->rules);
}

struct policy *policy_ref(struct policy *p)
{
	p->refs++;
	return p;
}

void policy_free(struct policy *p)
{
	if (!p || --p->refs > 0)
		return;
	if (p->derived_free)
		p->derived_free(p->derived);
	free(p->source);
	for (size_t i = 0; i < p->nselector; i++) {
		free(p->selector[i].key);
		free(p->selector[i].value);
	}
	free(p->selector);
	net_section_free(&p->egress);
	net_section_free(&p->ingress);
	for (size_t i = 0; i < p->nsets; i++)
		addr_set_free(p->sets[i]);
	free(p->sets);
	free(p->devices.rules);
	free(p->sockets.raw);
	free(p->sockets.families);
	free(p->sockets.options);
	free(p->name);
	free(p->path);
	free(p);
}

/* ---- One-line summary ---- */

struct text_buf {
	char *buf;
	size_t size, used;
};

static void text_append(struct text_buf *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void text_append(struct text_buf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->used >= t->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->size - t->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->used += n;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static const char *action_name(uint8_t action)
{
	return action == CGF_ALLOW ? "allow" : "deny";
}

static void summarize_net_section(struct text_buf *t, const char *name,
				  const struct policy_net_section *s)
{
	size_t naddrs = 0, from_sets = 0;

	if (!s->present) {
		text_append(t, "; %s unrestricted", name);
		return;
	}
	for (size_t i = 0; i < s->nrules; i++) {
		naddrs += policy_rule_address_count(&s->rules[i]);
		from_sets += policy_rule_address_count(&s->rules[i]) -
			     s->rules[i].naddrs;
	}
	text_append(t, "; %s default %s, %zu %s", name,
		    action_name(s->default_action), s->nrules,
		    plural(s->nrules, "rule", "rules"));
	if (naddrs)
		text_append(t, ", %zu %s", naddrs,
			    plural(naddrs, "address", "addresses"));
	if (from_sets)
		text_append(t, " (%zu from sets)", from_sets);
}

static const char *raw_protocol_name(uint16_t value)
{
	const char *name = socknames_protocol_name(value);

	return name ? name : "any";
}

/* "; sockets: raw icmp, icmpv6; families packet", or the defaults. */
static void summarize_sockets(struct text_buf *t,
			      const struct policy_sockets *s)
{
	if (!s->nraw && !s->nfamilies && !s->noptions) {
		text_append(t, "; sockets: no raw, no packet");
		return;
	}
	text_append(t, "; sockets: raw %s", s->nraw ? "" : "none");
	for (size_t i = 0; i < s->nraw; i++)
		text_append(t, "%s%s", i ? ", " : "",
			    raw_protocol_name(s->raw[i].value));
	text_append(t, "; families %s", s->nfamilies ? "" : "default");
	for (size_t i = 0; i < s->nfamilies; i++) {
		const char *name = socknames_family_name(s->families[i].value);

		text_append(t, "%s%s", i ? ", " : "", name ? name : "any");
	}
	for (size_t i = 0; i < s->noptions; i++)
		text_append(t, "%s%s", i ? ", " : "; options ",
			    option_word(s->options[i].value));
}

void policy_summary(const struct policy *p, char *buf, size_t len)
{
	struct text_buf t = {.buf = buf, .size = len};

	if (!len)
		return;
	buf[0] = '\0';
	text_append(&t, "%s: %s", p->name ? p->name : "(unnamed)",
		    p->mode == CGF_MODE_AUDIT ? "audit" : "enforce");
	summarize_net_section(&t, "egress", &p->egress);
	summarize_net_section(&t, "ingress", &p->ingress);
	if (p->devices.present)
		text_append(&t, "; devices default %s, %zu %s",
			    action_name(p->devices.default_action),
			    p->devices.nrules,
			    plural(p->devices.nrules, "rule", "rules"));
	else
		text_append(&t, "; devices unrestricted");
	summarize_sockets(&t, &p->sockets);
	if (p->nselector)
		text_append(&t, "; selector %zu %s", p->nselector,
			    plural(p->nselector, "annotation", "annotations"));
	else
		text_append(&t, "; no selector");
}
