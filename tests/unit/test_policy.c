// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy parsing: typed values, every validation rule with its message and
 * position, large inputs, and the example policies in policies/.
 * Run from the repository root. Policies below are written with ' instead
 * of " for readability; with_double_quotes() turns them into JSON.
 */
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "unit.h"

static char *with_double_quotes(const char *s)
{
	char *json = strdup(s);

	for (char *p = json; p && *p; p++)
		if (*p == '\'')
			*p = '"';
	return json;
}

/* Parses a '-quoted policy; *d receives the diagnostics. */
static int parse_quoted(const char *file, const char *quoted, struct policy **p,
			struct diags *d)
{
	char *json = with_double_quotes(quoted);
	int err = policy_parse(file, json, strlen(json), p, d);

	free(json);
	return err;
}

static void print_diags(const struct diags *d)
{
	for (size_t i = 0; i < d->count; i++)
		fprintf(stderr, "    | %s\n", d->lines[i]);
}

static const uint8_t v4_10_0_0_0[16] = {10};
static const uint8_t v6_fd00[16] = {0xfd};

static const char web_policy[] =
	"{\n"
	"  'version': 1,\n"
	"  'name': 'web',\n"
	"  'mode': 'enforce',\n"
	"  'selector': {'io.kubernetes.pod.namespace': 'shop'},\n"
	"  'egress': {\n"
	"    'default': 'deny',\n"
	"    'rules': [\n"
	"      {'action': 'allow', 'to': ['10.0.0.0/8', 'fd00::/8'], "
	"'protocol': 'tcp', 'ports': [443, '8000-8100'], 'comment': "
	"'backends'},\n"
	"      {'action': 'allow', 'to': ['127.0.0.53'], 'protocol': 'udp', "
	"'ports': [53]},\n"
	"      {'action': 'deny',  'to': ['10.0.0.13']}\n"
	"    ]\n"
	"  },\n"
	"  'ingress': {'default': 'deny', 'rules': [{'action': 'allow', "
	"'from': ['192.168.0.0/16'], 'protocol': 'tcp', 'ports': [8080]}]},\n"
	"  'devices': {'default': 'deny', 'rules': [{'action': 'allow', "
	"'type': 'c', 'major': 1, 'minor': 3, 'access': 'rwm'}, {'action': "
	"'allow', 'type': 'c', 'major': 136, 'minor': '*', 'access': 'rw'}]}\n"
	"}\n";

static void check_web_egress(const struct policy_net_section *s)
{
	const struct policy_net_rule *r = s->rules;
	static const uint8_t resolver[16] = {127, 0, 0, 53};
	static const uint8_t blocked[16] = {10, 0, 0, 13};

	CHECK(s->present && s->default_action == CGF_DENY, "egress header");
	CHECK(s->nrules == 3, "egress has %zu rules", s->nrules);
	if (s->nrules != 3)
		return;

	CHECK(r[0].action == CGF_ALLOW && r[0].protocol == IPPROTO_TCP,
	      "rule 0 allows tcp");
	CHECK(r[0].naddrs == 2, "rule 0 has %zu addresses", r[0].naddrs);
	CHECK(r[0].addrs[0].family == 4 && r[0].addrs[0].prefixlen == 8 &&
		      !memcmp(r[0].addrs[0].addr, v4_10_0_0_0, 16),
	      "10.0.0.0/8");
	CHECK(r[0].addrs[1].family == 6 && r[0].addrs[1].prefixlen == 8 &&
		      !memcmp(r[0].addrs[1].addr, v6_fd00, 16),
	      "fd00::/8");
	CHECK(r[0].nports == 2, "rule 0 has %zu port ranges", r[0].nports);
	CHECK(r[0].ports[0].first == 443 && r[0].ports[0].last == 443,
	      "port 443");
	CHECK(r[0].ports[1].first == 8000 && r[0].ports[1].last == 8100,
	      "ports 8000-8100");
	CHECK(r[0].comment && !strcmp(r[0].comment, "backends"), "comment");
	CHECK(r[0].pos.line == 9 && r[0].pos.col == 7, "rule 0 at %u:%u",
	      r[0].pos.line, r[0].pos.col);
	CHECK(r[0].addrs[1].pos.line == 9 && r[0].addrs[1].pos.col == 48,
	      "fd00::/8 at %u:%u", r[0].addrs[1].pos.line,
	      r[0].addrs[1].pos.col);
	CHECK(r[0].ports[1].pos.line == 9 && r[0].ports[1].pos.col == 95,
	      "8000-8100 at %u:%u", r[0].ports[1].pos.line,
	      r[0].ports[1].pos.col);

	CHECK(r[1].action == CGF_ALLOW && r[1].protocol == IPPROTO_UDP,
	      "rule 1 allows udp");
	CHECK(r[1].naddrs == 1 && r[1].addrs[0].prefixlen == 32 &&
		      !memcmp(r[1].addrs[0].addr, resolver, 16),
	      "127.0.0.53/32");
	CHECK(r[1].nports == 1 && r[1].ports[0].first == 53 &&
		      r[1].ports[0].last == 53,
	      "port 53");
	CHECK(!r[1].comment, "rule 1 has no comment");

	CHECK(r[2].action == CGF_DENY && r[2].protocol == 0 && !r[2].nports,
	      "rule 2 denies any protocol and port");
	CHECK(r[2].naddrs == 1 && r[2].addrs[0].prefixlen == 32 &&
		      !memcmp(r[2].addrs[0].addr, blocked, 16),
	      "10.0.0.13/32");
	CHECK(r[2].addrs[0].pos.line == 11 && r[2].addrs[0].pos.col == 34,
	      "10.0.0.13 at %u:%u", r[2].addrs[0].pos.line,
	      r[2].addrs[0].pos.col);
}

static void check_web_ingress(const struct policy_net_section *s)
{
	static const uint8_t lan[16] = {192, 168};
	const struct policy_net_rule *r = s->rules;

	CHECK(s->present && s->default_action == CGF_DENY, "ingress header");
	CHECK(s->nrules == 1, "ingress has %zu rules", s->nrules);
	if (s->nrules != 1)
		return;
	CHECK(r->action == CGF_ALLOW && r->protocol == IPPROTO_TCP,
	      "ingress rule allows tcp");
	CHECK(r->naddrs == 1 && r->addrs[0].family == 4 &&
		      r->addrs[0].prefixlen == 16 &&
		      !memcmp(r->addrs[0].addr, lan, 16),
	      "192.168.0.0/16");
	CHECK(r->nports == 1 && r->ports[0].first == 8080 &&
		      r->ports[0].last == 8080,
	      "port 8080");
}

static void check_web_devices(const struct policy_dev_section *s)
{
	const struct policy_dev_rule *r = s->rules;

	CHECK(s->present && s->default_action == CGF_DENY, "devices header");
	CHECK(s->nrules == 2, "devices has %zu rules", s->nrules);
	if (s->nrules != 2)
		return;
	CHECK(r[0].action == CGF_ALLOW && r[0].type == CGF_DEV_CHAR &&
		      r[0].major == 1 && r[0].minor == 3,
	      "c 1:3");
	CHECK(r[0].access == (CGF_ACC_READ | CGF_ACC_WRITE | CGF_ACC_MKNOD),
	      "rwm is %u", r[0].access);
	CHECK(r[1].type == CGF_DEV_CHAR && r[1].major == 136 &&
		      r[1].minor == -1,
	      "c 136:*");
	CHECK(r[1].access == (CGF_ACC_READ | CGF_ACC_WRITE), "rw is %u",
	      r[1].access);
	CHECK(r[1].pos.line == 15, "device rule 1 on line %u", r[1].pos.line);
}

static void test_valid_policy(void)
{
	struct diags d = {0};
	struct policy *p = NULL;
	char summary[256];
	int err;

	err = parse_quoted("web.json", web_policy, &p, &d);
	CHECK(err == 0 && p, "web policy parses: %d", err);
	CHECK(d.count == 0, "no diagnostics");
	print_diags(&d);
	diags_free(&d);
	if (!p)
		return;

	CHECK(!strcmp(p->name, "web"), "name %s", p->name);
	CHECK(!strcmp(p->path, "web.json"), "path %s", p->path);
	CHECK(p->mode == CGF_MODE_ENFORCE, "mode %u", p->mode);
	CHECK(p->nselector == 1 &&
		      !strcmp(p->selector[0].key,
			      "io.kubernetes.pod.namespace") &&
		      !strcmp(p->selector[0].value, "shop"),
	      "selector");
	check_web_egress(&p->egress);
	check_web_ingress(&p->ingress);
	check_web_devices(&p->devices);

	policy_summary(p, summary, sizeof(summary));
	CHECK(!strcmp(summary, "web: enforce; egress default deny, 3 rules, 4 "
			       "addresses; "
			       "ingress default deny, 1 rule, 1 address; "
			       "devices default deny, 2 rules; sockets: no "
			       "raw, no packet; "
			       "selector 1 annotation"),
	      "summary: %s", summary);
	policy_summary(p, summary, 10);
	CHECK(!strcmp(summary, "web: enfo"), "truncated summary: %s", summary);
	policy_free(p);
}

/* Limits, defaults and the less common spellings, all valid. */
static void test_valid_edge_cases(void)
{
	static const char edges[] =
		"\xef\xbb\xbf{'version': 1, 'name': "
		"'a23456789.123456789_123456789-"
		"123456789012345678901234567890123',"
		" 'mode': 'audit', 'comment': 'top', 'selector': {},\n"
		" 'egress': {'default': 'allow', 'comment': 'section'},\n"
		" 'ingress': {'default': 'allow', 'rules': [\n"
		"  {'action': 'deny', 'from': ['0.0.0.0/0', '::/0', "
		"'::fffe:0:0/95'], 'protocol': 'any'},\n"
		"  {'action': 'allow', 'protocol': 'icmpv6', 'comment': ''},\n"
		"  {'action': 'allow', 'protocol': 'udp', 'ports': ['1-65535', "
		"'65535', 1]},\n"
		"  {'action': 'allow', 'protocol': 'icmp'}]},\n"
		" 'devices': {'default': 'allow', 'rules': [\n"
		"  {'action': 'deny', 'type': 'a', 'access': 'mwr'},\n"
		"  {'action': 'deny', 'type': 'b', 'major': 8, 'access': "
		"'w'},\n"
		"  {'action': 'allow', 'type': 'c', 'major': '*', 'minor': 0, "
		"'access': 'm', 'comment': 'x'},\n"
		"  {'action': 'allow', 'type': 'c', 'major': 4095, 'minor': "
		"1048575, 'access': 'r'}]}}";
	const struct policy_net_rule *r;
	const struct policy_dev_rule *dr;
	struct diags d = {0};
	struct policy *p = NULL;
	char summary[256];
	int err;

	err = parse_quoted("edges.json", edges, &p, &d);
	CHECK(err == 0 && p, "edge cases parse: %d", err);
	print_diags(&d);
	diags_free(&d);
	if (!p)
		return;
	CHECK(strlen(p->name) == CGF_NAME_LEN - 1, "63-byte name");
	CHECK(p->mode == CGF_MODE_AUDIT, "audit mode");
	CHECK(p->nselector == 0, "empty selector");
	CHECK(p->egress.present && p->egress.nrules == 0 &&
		      p->egress.default_action == CGF_ALLOW,
	      "egress present without rules");

	r = p->ingress.rules;
	CHECK(p->ingress.nrules == 4, "4 ingress rules");
	if (p->ingress.nrules == 4) {
		CHECK(r[0].naddrs == 3 && r[0].addrs[0].prefixlen == 0 &&
			      r[0].addrs[0].family == 4 &&
			      r[0].addrs[1].prefixlen == 0 &&
			      r[0].addrs[1].family == 6 &&
			      r[0].addrs[2].prefixlen == 95,
		      "0.0.0.0/0, ::/0 and ::fffe:0:0/95 (holds the mapped "
		      "range)");
		CHECK(r[0].protocol == 0, "any is 0");
		CHECK(r[0].pos.line == 4 && r[0].pos.col == 3,
		      "columns after a BOM: %u:%u", r[0].pos.line,
		      r[0].pos.col);
		CHECK(r[1].protocol == IPPROTO_ICMPV6 && r[1].comment &&
			      !*r[1].comment,
		      "icmpv6, empty comment");
		CHECK(r[2].nports == 3 && r[2].ports[0].first == 1 &&
			      r[2].ports[0].last == 65535 &&
			      r[2].ports[1].first == 65535 &&
			      r[2].ports[2].last == 1,
		      "port bounds");
		CHECK(r[3].protocol == IPPROTO_ICMP, "icmp");
	}

	dr = p->devices.rules;
	CHECK(p->devices.nrules == 4, "4 device rules");
	if (p->devices.nrules == 4) {
		CHECK(dr[0].type == CGF_DEV_ALL && dr[0].major == -1 &&
			      dr[0].minor == -1 && dr[0].action == CGF_DENY &&
			      dr[0].access == (CGF_ACC_READ | CGF_ACC_WRITE |
					       CGF_ACC_MKNOD),
		      "a *:* mwr");
		CHECK(dr[1].type == CGF_DEV_BLOCK && dr[1].major == 8 &&
			      dr[1].minor == -1 &&
			      dr[1].access == CGF_ACC_WRITE,
		      "b 8:* w");
		CHECK(dr[2].major == -1 && dr[2].minor == 0 &&
			      dr[2].access == CGF_ACC_MKNOD,
		      "c *:0 m");
		CHECK(dr[3].major == 4095 && dr[3].minor == 1048575,
		      "largest major and minor");
	}
	policy_summary(p, summary, sizeof(summary));
	CHECK(strstr(summary, ": audit; egress default allow, 0 rules; "
			      "ingress default allow, 4 rules, 3 addresses; "
			      "devices default allow, 4 rules; sockets: no "
			      "raw, no packet; "
			      "no selector"),
	      "summary: %s", summary);
	policy_free(p);
}

static void test_sockets_section(void)
{
	struct diags d = {0};
	struct policy *p = NULL;
	int err;

	err = parse_quoted(
		"s.json",
		"{'version': 1, 'name': 's', 'sockets': {'comment': 'a network "
		"tool',\n"
		" 'raw': ['icmp', 'icmpv6'], 'families': ['packet', 'any']}}",
		&p, &d);
	CHECK(err == 0 && p, "sockets section parses: %d", err);
	print_diags(&d);
	diags_free(&d);
	if (!p)
		return;
	CHECK(p->sockets.present && p->sockets.nraw == 2 &&
		      p->sockets.nfamilies == 2,
	      "entries: %zu raw, %zu families", p->sockets.nraw,
	      p->sockets.nfamilies);
	CHECK(p->sockets.raw[0].value == IPPROTO_ICMP &&
		      p->sockets.raw[1].value == IPPROTO_ICMPV6,
	      "raw protocols in order");
	CHECK(p->sockets.families[0].value == 17 &&
		      p->sockets.families[1].value == POLICY_SOCKETS_ANY,
	      "families: packet is 17, then any");
	CHECK(p->sockets.families[0].pos.line == 2 &&
		      p->sockets.families[0].pos.col == 42,
	      "position of families[0]: %u:%u", p->sockets.families[0].pos.line,
	      p->sockets.families[0].pos.col);
	policy_free(p);
}

static void test_minimal_policy(void)
{
	struct diags d = {0};
	struct policy *p = NULL;
	char summary[256];
	int err;

	err = parse_quoted("min.json", "{'name': 'min', 'version': 1}", &p, &d);
	CHECK(err == 0 && p, "minimal policy parses: %d", err);
	diags_free(&d);
	if (!p)
		return;
	CHECK(!p->egress.present && !p->ingress.present && !p->devices.present,
	      "absent sections");
	policy_summary(p, summary, sizeof(summary));
	CHECK(!strcmp(summary, "min: enforce; egress unrestricted; ingress "
			       "unrestricted; devices unrestricted; sockets: "
			       "no raw, no packet; "
			       "no selector"),
	      "summary: %s", summary);
	CHECK(!p->sockets.present && !p->sockets.nraw && !p->sockets.nfamilies,
	      "absent sockets section: no raw sockets, no more families");
	policy_free(p);
}

/*
 * "$schema" names the JSON Schema for editors and changes nothing: the
 * policy reads exactly as without it.
 */
static void test_schema_key(void)
{
	struct diags d = {0};
	struct policy *with = NULL, *without = NULL;
	char a[256], b[256];
	int err;

	err = parse_quoted(
		"s.json",
		"{'$schema': 'https://example.org/cgfence-policy.schema.json', "
		"'version': 1, 'name': 's', 'egress': {'default': 'deny'}}",
		&with, &d);
	CHECK(err == 0 && with && d.count == 0, "$schema accepted: %d", err);
	print_diags(&d);
	diags_free(&d);
	err = parse_quoted("s.json",
			   "{'version': 1, 'name': 's', 'egress': {'default': "
			   "'deny'}}",
			   &without, &d);
	CHECK(err == 0 && without, "same policy without $schema: %d", err);
	diags_free(&d);
	if (with && without) {
		policy_summary(with, a, sizeof(a));
		policy_summary(without, b, sizeof(b));
		CHECK(!strcmp(a, b), "same policy: %s / %s", a, b);
	}
	policy_free(with);
	policy_free(without);
}

#define HEAD	"{'version': 1, 'name': 't', "
#define EGRESS	HEAD "'egress': {'default': 'deny', 'rules': ["
#define INGRESS HEAD "'ingress': {'default': 'deny', 'rules': ["
#define DEVICES HEAD "'devices': {'default': 'deny', 'rules': ["

struct bad_case {
	const char *what;
	const char *policy;
	unsigned int line, col;
	const char *message;
};

/* Each policy has exactly one problem, reported at line:col. */
static const struct bad_case bad_cases[] = {
	{"missing comma", "{'version': 1 'name': 't'}", 1, 15,
	 "invalid JSON near"},
	{"trailing garbage", "{'version': 1, 'name': 't'} x", 1, 29,
	 "invalid JSON near \"x\""},
	{"unexpected end", "{'version': 1,\n 'name': 't',", 2, 14,
	 "invalid JSON: unexpected end of file"},
	{"empty file", "", 1, 1, "invalid JSON: unexpected end of file"},
	{"trailing comma in an object",
	 "{'version': 1,\n 'name': 't',\n 'egress': {'default': 'deny',}\n}", 3,
	 31, "invalid JSON near \"}\""},
	{"trailing comma in an array",
	 EGRESS "{'action': 'deny', 'to': ['10.0.0.0/8', ]}]}}", 1, 109,
	 "invalid JSON near \"]}]}}\""},
	{"unquoted key", "{version: 1, 'name': 't'}", 1, 2,
	 "invalid JSON near \"version: 1, \""},
	{"comment", "{'version': 1, // the name\n 'name': 't'}", 1, 16,
	 "invalid JSON near \"// the name\""},
	{"two commas", "{'version': 1,,\n 'name': 't'}", 1, 15,
	 "invalid JSON near \",\""},
	{"top level not an object", "[1]", 1, 1,
	 "a policy is a JSON object, got an array"},
	{"missing version", "{'name': 't'}", 1, 1,
	 "missing required key \"version\""},
	{"version 2", "{'version': 2, 'name': 't'}", 1, 13,
	 "version: unsupported policy version 2 (this cgfence reads version "
	 "1)"},
	{"version 1.0", "{'version': 1.0, 'name': 't'}", 1, 13,
	 "unsupported policy version 1.0"},
	{"version as string", "{'version': '1', 'name': 't'}", 1, 13,
	 "version: expected a number, got a string"},
	{"missing name", "{'version': 1}", 1, 1,
	 "missing required key \"name\""},
	{"empty name", "{'version': 1, 'name': ''}", 1, 24,
	 "name: must not be empty"},
	{"bad name chars", "{'version': 1, 'name': 'Web!'}", 1, 24,
	 "name: \"Web!\" is invalid"},
	{"name starts with dash", "{'version': 1, 'name': '-web'}", 1, 24,
	 "name: \"-web\" is invalid"},
	{"name ending in .schema", "{'version': 1, 'name': 'web.schema'}", 1,
	 24,
	 "name: \"web.schema\" ends in \".schema\", which is kept for JSON "
	 "Schema files"},
	{"name too long",
	 "{'version': 1, 'name': "
	 "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}",
	 1, 24, "name: too long (64 bytes, at most 63)"},
	{"name not a string", "{'version': 1, 'name': 5}", 1, 24,
	 "name: expected a string, got a number"},
	{"duplicate key", HEAD "'name': 'u'}", 1, 29,
	 "duplicate key \"name\" (first on line 1)"},
	{"unknown top-level key", HEAD "'egres': {}}", 1, 29,
	 "unknown key \"egres\" (expected one of: version, name, mode, "
	 "selector, egress, ingress, devices, sockets, comment, $schema)"},
	{"$schema not a string", HEAD "'$schema': true}", 1, 40,
	 "$schema: expected a string, got a boolean"},
	{"$schema twice", HEAD "'$schema': 'a', '$schema': 'b'}", 1, 45,
	 "duplicate key \"$schema\" (first on line 1)"},
	{"bad mode", HEAD "'mode': 'strict'}", 1, 37,
	 "mode: expected \"enforce\" or \"audit\", got \"strict\""},
	{"selector not an object", HEAD "'selector': ['a']}", 1, 41,
	 "selector: expected an object, got an array"},
	{"selector value not a string", HEAD "'selector': {'a': 1}}", 1, 47,
	 "selector: value of \"a\" must be a string, got a number"},
	{"selector empty key", HEAD "'selector': {'': 'x'}}", 1, 42,
	 "selector: empty annotation key"},
	{"selector duplicate key",
	 HEAD "'selector': {'a': 'x', 'b': 'y', 'a': 'z'}}", 1, 62,
	 "selector: duplicate key \"a\" (first on line 1)"},
	{"section not an object", HEAD "'egress': []}", 1, 39,
	 "egress: expected an object, got an array"},
	{"section without default", HEAD "'egress': {'rules': []}}", 1, 39,
	 "egress: missing required key \"default\""},
	{"bad default", HEAD "'ingress': {'default': 'block'}}", 1, 52,
	 "ingress.default: expected \"allow\" or \"deny\", got \"block\""},
	{"rules not an array",
	 HEAD "'egress': {'default': 'deny', 'rules': {}}}", 1, 68,
	 "egress.rules: expected an array, got an object"},
	{"unknown section key",
	 HEAD "'egress': {'default': 'deny', 'rule': []}}", 1, 59,
	 "egress: unknown key \"rule\" (expected one of: default, rules, "
	 "comment)"},
	{"rule not an object", EGRESS "'allow']}}", 1, 69,
	 "egress.rules[0]: expected an object, got a string"},
	{"rule without action",
	 EGRESS "{'action': 'allow'}, {'to': ['10.0.0.0/8']}]}}", 1, 90,
	 "egress.rules[1]: missing required key \"action\""},
	{"bad action", EGRESS "{'action': 'permit'}]}}", 1, 80,
	 "egress.rules[0].action: expected \"allow\" or \"deny\", got "
	 "\"permit\""},
	{"unknown rule key", EGRESS "{'action': 'allow', 'port': [80]}]}}", 1,
	 89,
	 "egress.rules[0]: unknown key \"port\" (expected one of: action, to, "
	 "protocol, ports, comment)"},
	{"duplicate rule key",
	 EGRESS "{'action': 'allow', 'action': 'deny'}]}}", 1, 89,
	 "egress.rules[0]: duplicate key \"action\""},
	{"from in egress",
	 EGRESS "{'action': 'allow', 'from': ['10.0.0.0/8']}]}}", 1, 89,
	 "egress.rules[0]: \"from\" is not valid in egress rules; use \"to\""},
	{"to in ingress",
	 INGRESS "{'action': 'allow', 'to': ['10.0.0.0/8']}]}}", 1, 90,
	 "ingress.rules[0]: \"to\" is not valid in ingress rules; use "
	 "\"from\""},
	{"addresses not a list",
	 EGRESS "{'action': 'allow', 'to': '10.0.0.0/8'}]}}", 1, 95,
	 "egress.rules[0].to: expected an array, got a string"},
	{"empty address list", EGRESS "{'action': 'allow', 'to': []}]}}", 1, 95,
	 "egress.rules[0].to: empty list; omit the key to mean any address"},
	{"address not a string",
	 INGRESS "{'action': 'allow', 'from': ['10.0.0.0/8', 10]}]}}", 1, 113,
	 "ingress.rules[0].from[1]: expected a string, got a number"},
	{"unparsable address",
	 EGRESS "{'action': 'allow', 'to': ['10.0.0.256']}]}}", 1, 96,
	 "egress.rules[0].to[0]: \"10.0.0.256\" is not an IPv4 or IPv6 address "
	 "or CIDR"},
	{"address with garbage",
	 EGRESS "{'action': 'allow', 'to': ['example.com']}]}}", 1, 96,
	 "\"example.com\" is not an IPv4 or IPv6 address or CIDR"},
	{"bad prefix syntax",
	 EGRESS "{'action': 'allow', 'to': ['10.0.0.0/x']}]}}", 1, 96,
	 "\"10.0.0.0/x\" has an invalid prefix length"},
	{"IPv4 /33", EGRESS "{'action': 'allow', 'to': ['10.0.0.0/33']}]}}", 1,
	 96,
	 "egress.rules[0].to[0]: prefix length 33 is out of range for IPv4 "
	 "(0-32)"},
	{"IPv6 /129",
	 EGRESS "{'action': 'allow', 'to': ['fd00::/8', 'fd00::/129']}]}}", 1,
	 108,
	 "egress.rules[0].to[1]: prefix length 129 is out of range for IPv6 "
	 "(0-128)"},
	{"IPv4 host bits",
	 EGRESS "{'action': 'allow', 'to': ['10.0.0.0/8', '10.1.0.0/16', "
		"'10.2.0.0/16', '10.0.0.1/8']}]}}",
	 1, 140,
	 "egress.rules[0].to[3]: 10.0.0.1/8 has host bits set (did you mean "
	 "10.0.0.0/8?)"},
	{"IPv6 host bits",
	 EGRESS "{'action': 'allow', 'to': ['fd00::1/64']}]}}", 1, 96,
	 "fd00::1/64 has host bits set (did you mean fd00::/64?)"},
	{"IPv4-mapped address",
	 EGRESS "{'action': 'allow', 'to': ['::ffff:1.2.3.4']}]}}", 1, 96,
	 "egress.rules[0].to[0]: ::ffff:1.2.3.4 is an IPv4-mapped IPv6 "
	 "address; write the IPv4 form 1.2.3.4"},
	{"IPv4-mapped range",
	 EGRESS "{'action': 'allow', 'to': ['::ffff:10.0.0.0/104']}]}}", 1, 96,
	 "::ffff:10.0.0.0/104 is an IPv4-mapped IPv6 range; write the IPv4 "
	 "form 10.0.0.0/8"},
	{"bad protocol", EGRESS "{'action': 'allow', 'protocol': 'sctp'}]}}", 1,
	 101,
	 "egress.rules[0].protocol: expected \"tcp\", \"udp\", \"icmp\", "
	 "\"icmpv6\" or \"any\", got \"sctp\""},
	{"port 0",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': [0]}]}}", 1,
	 118, "egress.rules[0].ports[0]: port 0 is out of range (1-65535)"},
	{"port 65536",
	 EGRESS
	 "{'action': 'allow', 'protocol': 'tcp', 'ports': [80, 65536]}]}}",
	 1, 122,
	 "egress.rules[0].ports[1]: port 65536 is out of range (1-65535)"},
	{"negative port",
	 EGRESS "{'action': 'allow', 'protocol': 'udp', 'ports': [-53]}]}}", 1,
	 118, "port -53 is out of range (1-65535)"},
	{"huge port",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': "
		"[99999999999999999999]}]}}",
	 1, 118, "port 99999999999999999999 is out of range (1-65535)"},
	{"port 80.5",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': [80.5]}]}}", 1,
	 118, "egress.rules[0].ports[0]: port 80.5 is not an integer"},
	{"port 1e3",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': [1e3]}]}}", 1,
	 118, "port 1e3 is not an integer"},
	{"port range starting at 0",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': ['0-10']}]}}",
	 1, 118, "port 0 is out of range (1-65535)"},
	{"port range ending at 65536",
	 EGRESS
	 "{'action': 'allow', 'protocol': 'tcp', 'ports': ['8000-65536']}]}}",
	 1, 118, "port 65536 is out of range (1-65535)"},
	{"reversed port range",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': [443, "
		"'9000-8000']}]}}",
	 1, 123, "egress.rules[0].ports[1]: port range 9000-8000 is reversed"},
	{"port abc",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': ['abc']}]}}",
	 1, 118,
	 "egress.rules[0].ports[0]: \"abc\" is not a port or port range "
	 "(expected \"N\" or \"N-M\")"},
	{"port range with spaces",
	 EGRESS
	 "{'action': 'allow', 'protocol': 'tcp', 'ports': ['80 - 90']}]}}",
	 1, 118, "\"80 - 90\" is not a port or port range"},
	{"port as boolean",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': [true]}]}}", 1,
	 118,
	 "egress.rules[0].ports[0]: expected a port number or a \"N-M\" "
	 "string, got a boolean"},
	{"empty port list",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': []}]}}", 1,
	 117,
	 "egress.rules[0].ports: empty list; omit the key to mean any port"},
	{"ports without protocol",
	 EGRESS "{'action': 'allow', 'ports': [80]}]}}", 1, 98,
	 "egress.rules[0].ports: ports need \"protocol\": \"tcp\" or \"udp\""},
	{"ports with icmp",
	 INGRESS "{'action': 'allow', 'protocol': 'icmp', 'ports': [80]}]}}", 1,
	 119,
	 "ingress.rules[0].ports: ports need \"protocol\": \"tcp\" or \"udp\""},
	{"comment not a string", EGRESS "{'action': 'allow', 'comment': 5}]}}",
	 1, 100, "egress.rules[0].comment: expected a string, got a number"},
	{"device rule without type",
	 DEVICES "{'action': 'allow', 'access': 'r'}]}}", 1, 70,
	 "devices.rules[0]: missing required key \"type\""},
	{"device rule without access",
	 DEVICES "{'action': 'allow', 'type': 'c'}]}}", 1, 70,
	 "devices.rules[0]: missing required key \"access\""},
	{"bad device type",
	 DEVICES "{'action': 'allow', 'type': 'x', 'access': 'r'}]}}", 1, 98,
	 "devices.rules[0].type: expected \"c\", \"b\" or \"a\", got \"x\""},
	{"major x",
	 DEVICES
	 "{'action': 'allow', 'type': 'c', 'major': 'x', 'access': 'r'}]}}",
	 1, 112,
	 "devices.rules[0].major: expected a non-negative integer or \"*\", "
	 "got \"x\""},
	{"major null",
	 DEVICES
	 "{'action': 'allow', 'type': 'c', 'major': null, 'access': 'r'}]}}",
	 1, 112,
	 "devices.rules[0].major: expected a non-negative integer or \"*\", "
	 "got null"},
	{"major 4096",
	 DEVICES
	 "{'action': 'allow', 'type': 'c', 'major': 4096, 'access': 'r'}]}}",
	 1, 112, "devices.rules[0].major: major 4096 is out of range (0-4095)"},
	{"negative major",
	 DEVICES
	 "{'action': 'allow', 'type': 'b', 'major': -1, 'access': 'r'}]}}",
	 1, 112, "major -1 is out of range (0-4095)"},
	{"minor 2^20",
	 DEVICES "{'action': 'allow', 'type': 'c', 'major': 1, 'minor': "
		 "1048576, 'access': 'r'}]}}",
	 1, 124,
	 "devices.rules[0].minor: minor 1048576 is out of range (0-1048575)"},
	{"minor 2^32",
	 DEVICES "{'action': 'allow', 'type': 'c', 'major': 1, 'minor': "
		 "4294967296, 'access': 'r'}]}}",
	 1, 124, "minor 4294967296 is out of range (0-1048575)"},
	{"minor 1.5",
	 DEVICES "{'action': 'allow', 'type': 'c', 'major': 1, 'minor': 1.5, "
		 "'access': 'r'}]}}",
	 1, 124, "devices.rules[0].minor: minor 1.5 is not an integer"},
	{"access rx",
	 DEVICES "{'action': 'allow', 'type': 'c', 'access': 'rx'}]}}", 1, 113,
	 "devices.rules[0].access: access \"rx\" has unknown letter 'x' (use "
	 "r, w and m)"},
	{"access rr",
	 DEVICES "{'action': 'allow', 'type': 'c', 'access': 'rr'}]}}", 1, 113,
	 "devices.rules[0].access: access \"rr\" repeats 'r'"},
	{"access empty",
	 DEVICES "{'action': 'allow', 'type': 'a', 'access': ''}]}}", 1, 113,
	 "devices.rules[0].access: empty access; use one or more of r, w and "
	 "m"},
	{"access not a string",
	 DEVICES "{'action': 'allow', 'type': 'a', 'access': ['r']}]}}", 1, 113,
	 "devices.rules[0].access: expected a string, got an array"},
	{"unknown device rule key",
	 DEVICES
	 "{'action': 'allow', 'type': 'c', 'minr': 3, 'access': 'r'}]}}",
	 1, 103,
	 "devices.rules[0]: unknown key \"minr\" (expected one of: action, "
	 "type, major, minor, access, comment)"},
	{"NUL escape in a string", "{'version': 1, 'name': 't\\u0000x'}", 1, 26,
	 "strings must not contain \\u0000"},
	{"columns count characters",
	 HEAD "'comment': '\xc3\xa9"
	      "t\xc3\xa9"
	      "', 'x': 1}",
	 1, 47, "unknown key \"x\""},
	{"unknown sockets key", HEAD "'sockets': {'packet': 'allow'}}", 1, 41,
	 "sockets: unknown key \"packet\" (expected one of: raw, families, "
	 "options, comment)"},
	{"raw protocol sctp", HEAD "'sockets': {'raw': ['sctp']}}", 1, 49,
	 "sockets.raw[0]: expected \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or "
	 "\"any\", got \"sctp\""},
	{"unknown family", HEAD "'sockets': {'families': ['pakcet']}}", 1, 54,
	 "sockets.families[0]: unknown address family \"pakcet\""},
	{"family always allowed", HEAD "'sockets': {'families': ['inet']}}", 1,
	 54, "sockets.families[0]: \"inet\" is always allowed"},
	{"empty raw list", HEAD "'sockets': {'raw': []}}", 1, 48,
	 "sockets.raw: empty list (omit the key to allow none)"},
	{"family listed twice",
	 HEAD "'sockets': {'families': ['packet', 'xdp', 'packet']}}", 1, 71,
	 "sockets.families[2]: \"packet\" is listed already (line 1)"},
	{"sockets not an object", HEAD "'sockets': []}", 1, 40,
	 "sockets: expected an object, got an array"},
	{"raw not a list", HEAD "'sockets': {'raw': 'icmp'}}", 1, 48,
	 "sockets.raw: expected an array, got a string"},
	{"major with leading zeros",
	 DEVICES
	 "{'action': 'allow', 'type': 'c', 'major': 0001, 'access': 'r'}]}}",
	 1, 112,
	 "devices.rules[0].major: major 0001 has leading zeros, which JSON "
	 "does not allow"},
	{"port longer than any number taken",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': "
		"[0000000000000000000000000000000000000000080]}]}}",
	 1, 118,
	 "egress.rules[0].ports[0]: port 0000000000000000000000000000... is "
	 "out of range (1-65535)"},
	{"port with an exponent",
	 EGRESS "{'action': 'allow', 'protocol': 'tcp', 'ports': [080e3]}]}}",
	 1, 118, "egress.rules[0].ports[0]: port 080e3 is not an integer"},
	{"unknown socket option", HEAD "'sockets': {'options': ['freebind']}}",
	 1, 53,
	 "sockets.options[0]: expected \"hdrincl\", \"recverr\", "
	 "\"transparent\", \"multicast\" or \"any\", got \"freebind\""},
	{"family by number", HEAD "'sockets': {'families': [17]}}", 1, 54,
	 "sockets.families[0]: expected a string, got a number"},
	{"error on a later line",
	 "{\n  'version': 1,\n  'name': 't',\n  'egress': {\n    'default': "
	 "'deny',\n    'rules': [\n\t{'action': 'allow', 'to': ['10.0.0.0/8', "
	 "'10.0.0.1/33']}\n    ]\n  }\n}",
	 7, 43,
	 "egress.rules[0].to[1]: prefix length 33 is out of range for IPv4 "
	 "(0-32)"},
};

static void test_bad_policies(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct diags d = {0};
		struct policy *p = NULL;
		char prefix[64];
		int err;

		err = parse_quoted("bad.json", c->policy, &p, &d);
		snprintf(prefix, sizeof(prefix), "bad.json:%u:%u: ", c->line,
			 c->col);
		CHECK(err == -EINVAL && !p, "%s: returned %d", c->what, err);
		CHECK(d.count == 1, "%s: %zu diagnostics", c->what, d.count);
		if (d.count >= 1) {
			CHECK(!strncmp(d.lines[0], prefix, strlen(prefix)) &&
				      strstr(d.lines[0] + strlen(prefix),
					     c->message),
			      "%s:\n    got      %s\n    expected %s...%s",
			      c->what, d.lines[0], prefix, c->message);
		}
		if (d.count != 1)
			print_diags(&d);
		policy_free(p);
		diags_free(&d);
	}
}

/* Every problem is reported, not just the first, and in document order. */
static void test_all_errors_reported(void)
{
	static const char text[] =
		"{'version': 2, 'name': 'X',\n"
		" 'egress': {'default': 'deny', 'rules': [\n"
		"  {'action': 'allow', 'to': ['10.0.0.1/8', '1.2.3.4/40']},\n"
		"  {'action': 'maybe', 'protocol': 'tcp', 'ports': [0, "
		"'2-1']}]},\n"
		" 'devices': {'default': 'deny', 'rules': [{'action': 'allow', "
		"'type': 'c', 'access': 'rx', 'extra': 1}]}}";
	static const char *const expected[] = {
		"bad.json:1:13: version: unsupported policy version 2",
		"bad.json:1:24: name: \"X\" is invalid",
		"bad.json:3:30: egress.rules[0].to[0]: 10.0.0.1/8 has host "
		"bits set",
		"bad.json:3:44: egress.rules[0].to[1]: prefix length 40 is out "
		"of range",
		"bad.json:4:14: egress.rules[1].action: expected \"allow\" or "
		"\"deny\", got \"maybe\"",
		"bad.json:4:52: egress.rules[1].ports[0]: port 0 is out of "
		"range",
		"bad.json:4:55: egress.rules[1].ports[1]: port range 2-1 is "
		"reversed",
		"bad.json:5:86: devices.rules[0].access: access \"rx\" has "
		"unknown letter 'x'",
		"bad.json:5:92: devices.rules[0]: unknown key \"extra\"",
	};
	size_t n = sizeof(expected) / sizeof(expected[0]);
	struct diags d = {0};
	struct policy *p = NULL;
	int err;

	err = parse_quoted("bad.json", text, &p, &d);
	CHECK(err == -EINVAL && !p, "returned %d", err);
	CHECK(d.count == n, "%zu diagnostics", d.count);
	for (size_t i = 0; i < n && i < d.count; i++)
		CHECK(!strncmp(d.lines[i], expected[i], strlen(expected[i])),
		      "got %s, expected %s", d.lines[i], expected[i]);
	if (d.count != n)
		print_diags(&d);
	diags_free(&d);
}

/* A flood of errors is cut short but counted. */
static void test_error_limit(void)
{
	size_t n = 500, len = 0, cap = 64 + n * 16;
	char *text = malloc(cap);
	struct diags d = {0};
	struct policy *p = NULL;
	int err;

	len += snprintf(text + len, cap - len,
			"{\"version\": 1, \"name\": \"t\", \"egress\": "
			"{\"default\": \"deny\", \"rules\": [{\"action\": "
			"\"deny\", \"to\": [");
	for (size_t i = 0; i < n; i++)
		len += snprintf(text + len, cap - len, "%s\"x\"", i ? "," : "");
	len += snprintf(text + len, cap - len, "]}]}}");
	err = policy_parse("flood.json", text, len, &p, &d);
	CHECK(err == -EINVAL, "returned %d", err);
	CHECK(d.count == 101, "%zu diagnostics", d.count);
	if (d.count)
		CHECK(!strcmp(d.lines[d.count - 1],
			      "flood.json: 400 more errors not shown"),
		      "last: %s", d.lines[d.count - 1]);
	diags_free(&d);
	free(text);
}

static void test_nul_byte(void)
{
	static const char text[] = "{\"version\": 1,\n \"name\": \"t\0\"}";
	struct diags d = {0};
	struct policy *p = NULL;
	int err;

	err = policy_parse("nul.json", text, sizeof(text) - 1, &p, &d);
	CHECK(err == -EINVAL && !p, "returned %d", err);
	CHECK(d.count == 1 &&
		      !strcmp(d.lines[0], "nul.json:2:12: unexpected NUL byte"),
	      "got %s", d.count ? d.lines[0] : "nothing");
	diags_free(&d);
}

/*
 * TIOCGPTPEER on /dev/ptmx opens its terminal with no device check: a
 * section that lets /dev/ptmx open while it denies a terminal is refused
 * at what allows /dev/ptmx; one that denies both, or allows both, is not.
 */
static void test_terminals(void)
{
	static const struct {
		const char *rules, *error;
	} cases[] = {
		{"\"default\": \"allow\", \"rules\": [{\"action\": \"deny\", "
		 "\"type\": \"c\", \"major\": 136, \"access\": \"rw\"}]",
		 "t.json:1:52: devices.default: allows /dev/ptmx (c 5:2) while "
		 "devices.rules[0] denies a terminal (c 136:1048575): the "
		 "TIOCGPTPEER ioctl on /dev/ptmx opens its terminal with no "
		 "device check; deny c 5:2 too, or allow c 136:* \"rw\""},
		{"\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", "
		 "\"type\": \"c\", \"major\": 5, \"minor\": 2, \"access\": "
		 "\"r\"}, {\"action\": \"allow\", \"type\": \"a\", \"major\": "
		 "136, \"minor\": 7, \"access\": \"rw\"}]",
		 "t.json:1:70: devices.rules[0]: allows /dev/ptmx (c 5:2) "
		 "while "
		 "devices.default denies a terminal (c 136:2): the TIOCGPTPEER "
		 "ioctl on /dev/ptmx opens its terminal with no device check; "
		 "deny c 5:2 too, or allow c 136:* \"rw\""},
		{"\"default\": \"allow\", \"rules\": [{\"action\": \"deny\", "
		 "\"type\": \"c\", \"major\": 5, \"minor\": 2, \"access\": "
		 "\"rw\"}, {\"action\": \"deny\", \"type\": \"c\", \"major\": "
		 "136, \"access\": \"rw\"}]",
		 NULL},
		{"\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", "
		 "\"type\": \"c\", \"major\": 5, \"minor\": 2, \"access\": "
		 "\"rwm\"}, {\"action\": \"allow\", \"type\": \"c\", "
		 "\"major\": 136, \"access\": \"rw\"}]",
		 NULL},
		/* Denying mknod of a terminal is no open: it holds. */
		{"\"default\": \"allow\", \"rules\": [{\"action\": \"deny\", "
		 "\"type\": \"c\", \"major\": 136, \"access\": \"m\"}]",
		 NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct diags d = {0};
		struct policy *p = NULL;
		int err;

		snprintf(text, sizeof(text),
			 "{\"version\": 1, \"name\": \"t\", \"devices\": {%s}}",
			 cases[i].rules);
		err = policy_parse("t.json", text, strlen(text), &p, &d);
		if (cases[i].error)
			CHECK(err == -EINVAL && d.count == 1 &&
				      !strcmp(d.lines[0], cases[i].error),
			      "case %zu: %d, got %s", i, err,
			      d.count ? d.lines[0] : "nothing");
		else
			CHECK(err == 0, "case %zu: %d, %s", i, err,
			      d.count ? d.lines[0] : "");
		policy_free(p);
		diags_free(&d);
	}
}

/* Builds a policy whose section has n rules; *col gets the rules' '['. */
static char *policy_with_rules(const char *section, const char *rule, size_t n,
			       unsigned int *col)
{
	size_t cap = 128 + n * (strlen(rule) + 2), len = 0;
	char *text = malloc(cap);

	len += snprintf(text, cap,
			"{\"version\": 1, \"name\": \"t\", \"%s\": "
			"{\"default\": \"deny\", \"rules\": ",
			section);
	*col = len + 1;
	text[len++] = '[';
	for (size_t i = 0; i < n; i++)
		len += snprintf(text + len, cap - len, "%s%s", i ? "," : "",
				rule);
	snprintf(text + len, cap - len, "]}}");
	return text;
}

static void check_rule_limit(const char *section, const char *rule, size_t max)
{
	char expected[128];
	unsigned int col;

	for (size_t n = max; n <= max + 1; n++) {
		char *text = policy_with_rules(section, rule, n, &col);
		struct diags d = {0};
		struct policy *p = NULL;
		int err;

		err = policy_parse("rules.json", text, strlen(text), &p, &d);
		if (n == max) {
			CHECK(err == 0, "%s with %zu rules: %d", section, n,
			      err);
		} else {
			snprintf(expected, sizeof(expected),
				 "rules.json:1:%u: %s.rules: %zu rules; a "
				 "section holds at most %zu",
				 col, section, n, max);
			CHECK(err == -EINVAL && d.count == 1 &&
				      !strcmp(d.lines[0], expected),
			      "%s with %zu rules: %d, %s", section, n, err,
			      d.count ? d.lines[0] : "no message");
		}
		policy_free(p);
		diags_free(&d);
		free(text);
	}
}

static void test_rule_limits(void)
{
	check_rule_limit("egress",
			 "{\"action\": \"allow\", \"to\": [\"10.0.0.0/8\"]}",
			 CGF_MAX_RULES);
	check_rule_limit("ingress", "{\"action\": \"deny\"}", CGF_MAX_RULES);
	check_rule_limit(
		"devices",
		"{\"action\": \"allow\", \"type\": \"c\", \"access\": \"rw\"}",
		CGF_MAX_DEVICE_RULES);
}

/* Large address lists must stay linear: this takes milliseconds. */
static void test_many_addresses(void)
{
	size_t n = 100000, cap = 128 + n * 20, len = 0;
	char *text = malloc(cap);
	struct diags d = {0};
	struct policy *p = NULL;
	unsigned int last_col = 0;
	int err;

	len += snprintf(text, cap,
			"{\"version\": 1, \"name\": \"big\", \"egress\": "
			"{\"default\": \"allow\", \"rules\": [{\"action\": "
			"\"deny\", \"to\": [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			text[len++] = ',';
		last_col = len + 1;
		len += snprintf(text + len, cap - len, "\"10.%zu.%zu.%zu\"",
				i >> 16, (i >> 8) & 0xff, i & 0xff);
	}
	len += snprintf(text + len, cap - len, "]}]}}");

	err = policy_parse("big.json", text, len, &p, &d);
	CHECK(err == 0 && p, "100000 addresses parse: %d", err);
	print_diags(&d);
	if (p && p->egress.nrules == 1) {
		const struct policy_net_rule *r = &p->egress.rules[0];
		static const uint8_t last[16] = {10, 1, 0x86, 0x9f};

		CHECK(r->naddrs == n, "%zu addresses", r->naddrs);
		CHECK(r->addrs[n - 1].prefixlen == 32 &&
			      !memcmp(r->addrs[n - 1].addr, last, 16),
		      "last address is 10.1.134.159");
		CHECK(r->addrs[n - 1].pos.line == 1 &&
			      r->addrs[n - 1].pos.col == last_col,
		      "last address at %u:%u, expected 1:%u",
		      r->addrs[n - 1].pos.line, r->addrs[n - 1].pos.col,
		      last_col);
	}
	policy_free(p);
	diags_free(&d);
	free(text);
}

static void test_load_file_errors(void)
{
	struct diags d = {0};
	struct policy *p = NULL;
	int err;

	err = policy_load_file("policies/does-not-exist.json", &p, &d);
	CHECK(err == -ENOENT && !p, "missing file: %d", err);
	CHECK(d.count == 1 &&
		      !strcmp(d.lines[0], "policies/does-not-exist.json: No "
					  "such file or directory"),
	      "got %s", d.count ? d.lines[0] : "nothing");
	diags_free(&d);

	err = policy_load_file("policies", &p, &d);
	CHECK(err == -EISDIR && !p, "directory: %d", err);
	CHECK(d.count == 1 && !strcmp(d.lines[0], "policies: Is a directory"),
	      "got %s", d.count ? d.lines[0] : "nothing");
	diags_free(&d);
}

/* Refused at once: a FIFO would block the open, a device never end. */
static void test_load_file_not_regular(void)
{
	char dir[] = "/tmp/cgfence-unit-XXXXXX", fifo[64], want[96];
	struct diags d = {0};
	struct policy *p = NULL;
	int err;

	err = policy_load_file("/dev/zero", &p, &d);
	CHECK(err == -EINVAL && !p, "device: %d", err);
	CHECK(d.count == 1 &&
		      !strcmp(d.lines[0], "/dev/zero: not a regular file"),
	      "got %s", d.count ? d.lines[0] : "nothing");
	diags_free(&d);

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(want, sizeof(want), "%s: not a regular file", fifo);
	CHECK(!mkfifo(fifo, 0600), "mkfifo: %s", strerror(errno));
	err = policy_load_file(fifo, &p, &d);
	CHECK(err == -EINVAL && !p, "FIFO: %d", err);
	CHECK(d.count == 1 && !strcmp(d.lines[0], want), "got %s",
	      d.count ? d.lines[0] : "nothing");
	diags_free(&d);
	unlink(fifo);
	rmdir(dir);
}

/* Every example shipped in policies/ must be valid. */
static void test_example_policies(void)
{
	glob_t g;
	int rc = glob("policies/*.json", 0, NULL, &g);

	CHECK(rc == 0 && g.gl_pathc >= 4,
	      "found %zu example policies (run from the repository root)",
	      rc == 0 ? g.gl_pathc : 0);
	if (rc)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct diags d = {0};
		struct policy *p = NULL;
		int err;

		if (policy_path_is_schema(g.gl_pathv[i]))
			continue; /* policies/cgfence-policy.schema.json */
		err = policy_load_file(g.gl_pathv[i], &p, &d);

		CHECK(err == 0 && p && d.count == 0, "%s: %d", g.gl_pathv[i],
		      err);
		print_diags(&d);
		policy_free(p);
		diags_free(&d);
	}
	globfree(&g);
}

static void test_diags_format(void)
{
	struct diags d = {0};

	diags_add(&d, "f.json", (struct src_pos){3, 7}, "bad %s", "thing");
	diags_add(&d, "f.json", (struct src_pos){0}, "no position");
	diags_add(&d, NULL, (struct src_pos){0}, "no file");
	for (int i = 0; i < 20; i++)
		diags_add(&d, "f.json", (struct src_pos){1, 1}, "%d", i);
	CHECK(d.count == 23, "%zu lines", d.count);
	CHECK(!strcmp(d.lines[0], "f.json:3:7: bad thing"), "%s", d.lines[0]);
	CHECK(!strcmp(d.lines[1], "f.json: no position"), "%s", d.lines[1]);
	CHECK(!strcmp(d.lines[2], "no file"), "%s", d.lines[2]);
	CHECK(!strcmp(d.lines[22], "f.json:1:1: 19"), "%s", d.lines[22]);
	diags_free(&d);
	CHECK(d.count == 0 && !d.lines, "freed");
}

int main(void)
{
	test_diags_format();
	test_valid_policy();
	test_valid_edge_cases();
	test_minimal_policy();
	test_schema_key();
	test_sockets_section();
	test_bad_policies();
	test_all_errors_reported();
	test_error_limit();
	test_nul_byte();
	test_terminals();
	test_rule_limits();
	test_many_addresses();
	test_load_file_errors();
	test_load_file_not_regular();
	test_example_policies();
	return unit_done("test_policy");
}
