// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Address sets (enforcer/lib/addr_set.c) and policies naming them: the set
 * file format with every error and its position, editing a set's text,
 * resolution from a policy file and from a policy directory (missing,
 * invalid, outside links), compiled semantics (an empty set matches
 * nothing) and the parsed-policy cache seeing a set change. Works in a
 * private temporary directory; no root needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr_set.h"
#include "compile.h"
#include "policy_dir.h"
#include "unit.h"
#include "util.h"

static char dir[] = "/tmp/cgfence-sets-XXXXXX";

static void print_diags(const struct diags *d)
{
	for (size_t i = 0; i < d->count; i++)
		fprintf(stderr, "    | %s\n", d->lines[i]);
}

static bool diags_have(const struct diags *d, const char *text)
{
	for (size_t i = 0; i < d->count; i++)
		if (strstr(d->lines[i], text))
			return true;
	return false;
}

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL, "create %s", path);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static struct addr_set *parse_ok(const char *text)
{
	struct addr_set *s = NULL;
	struct diags d = {};
	int err = addr_set_parse("t.txt", "t", text, strlen(text), &s, &d);

	CHECK(err == 0 && s, "parse = %d", err);
	if (err)
		print_diags(&d);
	diags_free(&d);
	return s;
}

static void test_format(void)
{
	static const char text[] = "# feed 2026-11-25\n"
				   "\n"
				   "203.0.113.0/24\n"
				   "  198.51.100.7\t# one host\n"
				   "\t2001:db8:bad::/48  \n"
				   "203.0.113.0/24\n"
				   "10.0.0.0/8# no space before the comment\n"
				   "0.0.0.0/0\r\n"
				   "::/0";
	struct addr_set *s = parse_ok(text);

	if (!s)
		return;
	CHECK(s->nentries == 7, "%zu entries", s->nentries);
	CHECK(s->entries[0].family == 4 && s->entries[0].prefixlen == 24 &&
		      s->entries[0].addr[0] == 203 &&
		      s->entries[0].pos.line == 3 && s->entries[0].pos.col == 1,
	      "first entry at %u:%u", s->entries[0].pos.line,
	      s->entries[0].pos.col);
	CHECK(s->entries[1].prefixlen == 32 && s->entries[1].pos.line == 4 &&
		      s->entries[1].pos.col == 3,
	      "host at %u:%u", s->entries[1].pos.line, s->entries[1].pos.col);
	CHECK(s->entries[2].family == 6 && s->entries[2].prefixlen == 48 &&
		      s->entries[2].pos.col == 2,
	      "IPv6 entry");
	/* A duplicate is kept: it means what it means once, as in a rule. */
	CHECK(s->entries[3].pos.line == 6 &&
		      addr_set_find(s, &s->entries[3]) == &s->entries[0],
	      "duplicate");
	CHECK(s->entries[5].prefixlen == 0 && s->entries[6].family == 6 &&
		      s->entries[6].pos.line == 9,
	      "CRLF line and last line without a newline");
	CHECK(s->source_len == strlen(text) && !strcmp(s->source, text),
	      "the text is kept");
	addr_set_free(s);

	s = parse_ok("");
	CHECK(s && s->nentries == 0, "an empty file is an empty set");
	addr_set_free(s);
	s = parse_ok("# only comments\n\n   \n");
	CHECK(s && s->nentries == 0, "only comments");
	addr_set_free(s);
}

struct bad_set {
	const char *text;
	unsigned int line, col;
	const char *msg;
};

static const struct bad_set bad_sets[] = {
	{"10.0.0.1/8\n", 1, 1,
	 "10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)"},
	{"\n  10.0.0.0/33\n", 2, 3,
	 "prefix length 33 is out of range for IPv4 (0-32)"},
	{"fd00::/129", 1, 1, "prefix length 129 is out of range for IPv6"},
	{"10.0.0.0/\n", 1, 1, "\"10.0.0.0/\" has an invalid prefix length"},
	{"# x\n::ffff:10.0.0.1\n", 2, 1,
	 "::ffff:10.0.0.1 is an IPv4-mapped IPv6 address; write the IPv4 "
	 "form 10.0.0.1"},
	{"::ffff:0:0/96\n", 1, 1,
	 "is an IPv4-mapped IPv6 range; write the IPv4 form 0.0.0.0/0"},
	{"example.com\n", 1, 1,
	 "\"example.com\" is not an IPv4 or IPv6 address or CIDR"},
	{"10.0.0.1 10.0.0.2\n", 1, 10,
	 "one address or CIDR per line; \"10.0.0.2\" follows \"10.0.0.1\""},
	{"10.0.0.1, 10.0.0.2\n", 1, 11, "follows \"10.0.0.1,\""},
	{"1.2.3.4\n5.6.7.8\x00\n", 2, 8, "unexpected NUL byte"},
	{"\t@other\n", 1, 2, "\"@other\" is not an IPv4 or IPv6 address"},
	{"1111111111111111111111111111111111111111111111111111111111111111"
	 "1111111111111111111111111111111111111111111111111111111111111111",
	 1, 1, "is not an IPv4 or IPv6 address or CIDR"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_sets); i++) {
		const struct bad_set *b = &bad_sets[i];
		size_t len = strlen(b->text);
		struct addr_set *s = NULL;
		struct diags d = {};
		char want[64];
		int err;

		if (strstr(b->msg, "NUL"))
			len = 17;
		err = addr_set_parse("dir/sets/b.txt", "b", b->text, len, &s,
				     &d);
		snprintf(want, sizeof(want), "dir/sets/b.txt:%u:%u: ", b->line,
			 b->col);
		CHECK(err == -EINVAL && !s && d.count == 1 &&
			      !strncmp(d.lines[0], want, strlen(want)) &&
			      strstr(d.lines[0], b->msg),
		      "bad set %zu: want %s%s", i, want, b->msg);
		if (d.count != 1 || strncmp(d.lines[0], want, strlen(want)))
			print_diags(&d);
		diags_free(&d);
	}
}

static void test_all_errors_reported(void)
{
	static const char text[] = "10.0.0.1/8\n"
				   "192.0.2.0/24\n"
				   "nope\n"
				   "fd00::1/64 # host bits\n";
	char *many = malloc(200 * 8 + 1);
	struct addr_set *s = NULL;
	struct diags d = {};
	int err;

	err = addr_set_parse("x.txt", "x", text, strlen(text), &s, &d);
	CHECK(err == -EINVAL && d.count == 3 &&
		      !strncmp(d.lines[0], "x.txt:1:1: ", 11) &&
		      !strncmp(d.lines[1], "x.txt:3:1: ", 11) &&
		      !strncmp(d.lines[2], "x.txt:4:1: ", 11),
	      "every error, in order (%zu)", d.count);
	diags_free(&d);

	many[0] = '\0';
	for (int i = 0; i < 200; i++)
		strcat(many, "bad bad\n");
	err = addr_set_parse("m.txt", "m", many, strlen(many), &s, &d);
	CHECK(err == -EINVAL && d.count == 101 &&
		      strstr(d.lines[100], "100 more errors not shown"),
	      "at most 100 errors listed (%zu)", d.count);
	diags_free(&d);
	free(many);
}

static void test_edit(void)
{
	static const char text[] = "# feed\n"
				   "203.0.113.0/24   # abuse\n"
				   "198.51.100.7\n"
				   "\n"
				   "2001:db8::/32";
	struct addr_set *s = parse_ok(text);
	struct policy_cidr add[3], del[1];
	char why[128], *out = NULL;
	size_t len = 0;

	if (!s)
		return;
	CHECK(!policy_parse_cidr("192.0.2.0/24", &add[0], why, sizeof(why)) &&
		      !policy_parse_cidr("2001:db8::1", &add[1], why,
					 sizeof(why)) &&
		      !policy_parse_cidr("203.0.113.0/24", &add[2], why,
					 sizeof(why)) &&
		      !policy_parse_cidr("198.51.100.7", &del[0], why,
					 sizeof(why)),
	      "test entries");
	CHECK(addr_set_format(s, add, 3, del, 1, &out, &len) == 0 && out,
	      "format");
	CHECK(out &&
		      !strcmp(out, "# feed\n"
				   "203.0.113.0/24   # abuse\n"
				   "\n"
				   "2001:db8::/32\n"
				   "192.0.2.0/24\n"
				   "2001:db8::1\n") &&
		      len == strlen(out),
	      "comments kept, removed line dropped, new entries appended, "
	      "present one not repeated:\n%s",
	      out ? out : "");
	/* The result parses back to the edited set. */
	if (out) {
		struct addr_set *back = parse_ok(out);

		CHECK(back && back->nentries == 4 &&
			      addr_set_find(back, &add[1]) &&
			      !addr_set_find(back, &del[0]),
		      "round trip");
		addr_set_free(back);
	}
	free(out);
	CHECK(addr_set_format(s, NULL, 0, NULL, 0, &out, &len) == 0 &&
		      !strcmp(out, "# feed\n"
				   "203.0.113.0/24   # abuse\n"
				   "198.51.100.7\n"
				   "\n"
				   "2001:db8::/32\n"),
	      "no change: the same text (a final newline added)");
	free(out);
	addr_set_free(s);
}

/* ---- policies naming sets ---- */

static const char policy_text[] =
	"{\"version\": 1, \"name\": \"web\",\n"
	" \"egress\": {\"default\": \"allow\", \"rules\": [\n"
	"  {\"action\": \"deny\", \"to\": [\"192.0.2.1\", \"@block\"]},\n"
	"  {\"action\": \"deny\", \"to\": [\"@empty\"]},\n"
	"  {\"action\": \"allow\", \"to\": [\"@block\", \"@empty\"], "
	"\"protocol\": \"udp\"}\n"
	" ]},\n"
	" \"ingress\": {\"default\": \"deny\", \"rules\": [\n"
	"  {\"action\": \"allow\", \"from\": [\"@block\"]}\n"
	" ]}}\n";

static struct verdict judge(const struct compiled_policy *c, uint8_t dir,
			    const char *addr, uint8_t protocol, uint16_t port)
{
	struct flow f = {.direction = dir, .protocol = protocol, .port = port};
	struct verdict v;

	f.family = inet_pton(AF_INET, addr, f.addr) == 1 ? 4 : 6;
	if (f.family == 6)
		inet_pton(AF_INET6, addr, f.addr);
	compiled_judge_flow(c, &f, &v);
	return v;
}

static void test_policy_file(void)
{
	char path[512];
	struct policy *p = NULL;
	struct compiled_policy *c = NULL;
	struct diags d = {};
	struct verdict v;
	char summary[512];
	int err;

	mkdirat(AT_FDCWD, dir, 0700);
	snprintf(path, sizeof(path), "%s/sets", dir);
	mkdir(path, 0700);
	write_file("web.json", policy_text);
	write_file("sets/block.txt", "# blocked\n203.0.113.0/24\n"
				     "2001:db8:bad::/48\n198.51.100.7\n");
	write_file("sets/empty.txt", "# nothing yet\n");
	snprintf(path, sizeof(path), "%s/web.json", dir);
	err = policy_load_file(path, &p, &d);
	CHECK(err == 0 && p, "policy with sets loads: %d", err);
	if (err) {
		print_diags(&d);
		diags_free(&d);
		return;
	}
	CHECK(p->nsets == 2 && !strcmp(p->sets[0]->name, "block") &&
		      !strcmp(p->sets[1]->name, "empty"),
	      "the sets it read, once each, by name");
	CHECK(p->sets[0]->refs >= 1 && p->egress.rules[0].nsets == 1 &&
		      p->egress.rules[0].sets[0].set == p->sets[0] &&
		      p->ingress.rules[0].sets[0].set == p->sets[0] &&
		      p->egress.rules[0].sets[0].pos.line == 3 &&
		      p->egress.rules[0].sets[0].pos.col == 42,
	      "two rules name one set: one parsed set (ref at %u:%u)",
	      p->egress.rules[0].sets[0].pos.line,
	      p->egress.rules[0].sets[0].pos.col);
	CHECK(p->nsets == 2 && !strcmp(p->sets[0]->name, "block") &&
		      !strcmp(p->sets[1]->name, "empty"),
	      "the policy's sets, by name, once each");
	CHECK(policy_rule_address_count(&p->egress.rules[0]) == 4 &&
		      policy_rule_address_count(&p->egress.rules[1]) == 0,
	      "address counts");
	policy_summary(p, summary, sizeof(summary));
	CHECK(strstr(summary, "egress default allow, 3 rules, 7 addresses "
			      "(6 from sets)") != NULL,
	      "summary counts set addresses: %s", summary);

	CHECK(policy_compile(p, &c) == 0, "compile");
	v = judge(c, CGF_DIR_EGRESS, "203.0.113.77", IPPROTO_TCP, 443);
	CHECK(v.action == CGF_DENY && v.rule == 0, "set entry: rule %u",
	      v.rule);
	v = judge(c, CGF_DIR_EGRESS, "192.0.2.1", IPPROTO_TCP, 443);
	CHECK(v.action == CGF_DENY && v.rule == 0, "literal beside the set");
	v = judge(c, CGF_DIR_EGRESS, "2001:db8:bad::5", IPPROTO_UDP, 53);
	CHECK(v.rule == 0, "IPv6 set entry");
	/* Rule 1 names only an empty set: it matches nothing, not "any". */
	v = judge(c, CGF_DIR_EGRESS, "8.8.8.8", IPPROTO_TCP, 443);
	CHECK(v.action == CGF_ALLOW && v.rule == CGF_RULE_DEFAULT,
	      "empty set matches no address (rule %u)", v.rule);
	v = judge(c, CGF_DIR_INGRESS, "198.51.100.7", IPPROTO_TCP, 22);
	CHECK(v.action == CGF_ALLOW && v.rule == 0, "ingress from a set");
	v = judge(c, CGF_DIR_INGRESS, "198.51.100.8", IPPROTO_TCP, 22);
	CHECK(v.action == CGF_DENY && v.rule == CGF_RULE_DEFAULT,
	      "ingress outside the set");
	compiled_policy_free(c);
	policy_free(p);
	diags_free(&d);
}

/* web.json is refused with ntotal messages, among them every want[]. */
static void expect_errors_among(const char *what, const char *const *want,
				size_t nwant, size_t ntotal)
{
	char path[512];
	struct policy *p = NULL;
	struct diags d = {};
	int err;

	snprintf(path, sizeof(path), "%s/web.json", dir);
	err = policy_load_file(path, &p, &d);
	CHECK(err == -EINVAL && !p, "%s: refused (%d)", what, err);
	CHECK(d.count == ntotal, "%s: %zu messages, want %zu", what, d.count,
	      ntotal);
	for (size_t i = 0; i < nwant; i++) {
		char line[1024];

		snprintf(line, sizeof(line), want[i], dir, dir);
		CHECK(diags_have(&d, line), "%s: want %s", what, line);
	}
	if (d.count != ntotal)
		print_diags(&d);
	diags_free(&d);
	policy_free(p);
}

static void expect_errors(const char *what, const char *const *want,
			  size_t nwant)
{
	expect_errors_among(what, want, nwant, nwant);
}

static void test_policy_errors(void)
{
	char path[512];

	/* A missing set: one error at each reference, naming the file. */
	snprintf(path, sizeof(path), "%s/sets/block.txt", dir);
	unlink(path);
	{
		static const char *const want[] = {
			"%s/web.json:3:42: egress.rules[0].to[1]: set "
			"\"block\" "
			"does not exist (no %s/sets/block.txt)",
			"%s/web.json:5:30: egress.rules[2].to[0]: set "
			"\"block\" "
			"does not exist",
			"%s/web.json:8:32: ingress.rules[0].from[0]: set "
			"\"block\" does not exist"};

		expect_errors("missing set", want, ARRAY_SIZE(want));
	}
	/* An invalid set: its own errors once, one at each reference. */
	write_file("sets/block.txt", "203.0.113.1/24\n\n  nope # x\n");
	{
		static const char *const want[] = {
			"%s/web.json:3:42: egress.rules[0].to[1]: set "
			"\"block\" "
			"is not valid (%s/sets/block.txt)",
			"%s/web.json:5:30: egress.rules[2].to[0]: set "
			"\"block\" "
			"is not valid",
			"%s/web.json:8:32: ingress.rules[0].from[0]: set "
			"\"block\" is not valid",
			"%s/sets/block.txt:1:1: 203.0.113.1/24 has host bits "
			"set",
			"%s/sets/block.txt:3:3: \"nope\" is not an IPv4 or "
			"IPv6 "
			"address or CIDR"};

		expect_errors("invalid set", want, ARRAY_SIZE(want));
	}
	/* A link that leads out of sets/ is refused like a policy's. */
	snprintf(path, sizeof(path), "%s/sets/block.txt", dir);
	unlink(path);
	write_file("outside.txt", "203.0.113.0/24\n");
	CHECK(symlink("../outside.txt", path) == 0, "symlink");
	{
		static const char *const want[] = {
			"%s/sets/block.txt: is a symbolic link that leads "
			"outside",
			"%s/web.json:3:42: egress.rules[0].to[1]: set "
			"\"block\" "
			"is not valid"};

		expect_errors_among("link out of sets/", want, ARRAY_SIZE(want),
				    ARRAY_SIZE(want) + 2);
		/* (the link once, one error per reference) */
	}
	unlink(path);
	/* No sets/ directory at all, and a name that is not a set name. */
	write_file("sets/block.txt", "203.0.113.0/24\n");
	{
		struct policy *p = NULL;
		struct diags d = {};
		static const char text[] =
			"{\"version\": 1, \"name\": \"x\", \"egress\": "
			"{\"default\": \"deny\", \"rules\": [{\"action\": "
			"\"allow\", \"to\": [\"@Block\", \"@\", "
			"\"@block\"]}]}}";

		CHECK(policy_parse("x.json", text, strlen(text), &p, &d) ==
				      -EINVAL &&
			      d.count == 3 &&
			      strstr(d.lines[0],
				     "\"@Block\" is not a set name") &&
			      strstr(d.lines[1], "\"@\" is not a set name") &&
			      strstr(d.lines[2],
				     "x.json:1:111: egress.rules[0].to[2]: "
				     "\"@block\" names an address set, and "
				     "sets are read from the sets/ directory "
				     "next to a policy file"),
		      "policy_parse() has no sets");
		diags_free(&d);
	}
}

/* hookd's parsed-policy cache: a set file's change makes a new policy. */
static void test_directory_and_cache(void)
{
	struct policy_cache *cache = policy_cache_new();
	struct policy_dir pdir = {
		.path = dir, .last_good_fd = -1, .cache = cache};
	struct policy *a = NULL, *b = NULL;
	struct policy_set set;
	struct diags d = {};
	struct stat st;
	char path[512];
	struct timespec old[2];

	pdir.fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	write_file("web.json", policy_text);
	write_file("sets/block.txt", "203.0.113.0/24\n");
	/* Old times: the files count as settled, so the cache keeps them. */
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 100;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	snprintf(path, sizeof(path), "%s/web.json", dir);
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(path, sizeof(path), "%s/sets/block.txt", dir);
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(path, sizeof(path), "%s/sets/empty.txt", dir);
	utimensat(AT_FDCWD, path, old, 0);
	sleep(1); /* ctime moved with utimensat: let it settle */
	sleep(1);

	CHECK(policy_load_at(&pdir, "web", &a, &d) == 0, "load");
	CHECK(policy_load_at(&pdir, "web", &b, &d) == 0 && a == b,
	      "unchanged files: the cached policy");
	policy_free(b);
	b = NULL;
	snprintf(path, sizeof(path), "%s/sets/block.txt", dir);
	write_file("sets/block.txt", "203.0.113.0/24\n198.51.100.0/24\n");
	stat(path, &st);
	CHECK(policy_load_at(&pdir, "web", &b, &d) == 0 && b && a != b &&
		      b->sets[0]->nentries == 2,
	      "a changed set file: parsed again");
	policy_free(a);
	policy_free(b);
	print_diags(&d);
	diags_free(&d);

	/* A directory load reads a set named by two policies once. */
	write_file("api.json",
		   "{\"version\": 1, \"name\": \"api\", \"selector\": {\"a\": "
		   "\"b\"}, \"egress\": {\"default\": \"deny\", \"rules\": "
		   "[{\"action\": \"allow\", \"to\": [\"@block\"]}]}}\n");
	pdir.cache = NULL;
	CHECK(policy_set_load(&pdir, &set, &d) == 0 && set.n == 2 &&
		      set.policies[0]->sets[0] == set.policies[1]->sets[0],
	      "one parsed set shared by both policies");
	policy_set_free(&set);
	print_diags(&d);
	diags_free(&d);
	/* An invalid set named by two policies: its errors once. */
	write_file("sets/block.txt", "nope\n");
	CHECK(policy_set_load(&pdir, &set, &d) == -EINVAL && set.n == 0 &&
		      set.ninvalid == 2 && d.count == 5,
	      "invalid shared set: one error in the set, one per reference "
	      "(%zu)",
	      d.count);
	if (d.count != 5)
		print_diags(&d);
	policy_set_free(&set);
	diags_free(&d);
	snprintf(path, sizeof(path), "%s/api.json", dir);
	unlink(path);
	close(pdir.fd);
	policy_cache_free(cache);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_format();
	test_errors();
	test_all_errors_reported();
	test_edit();
	test_policy_file();
	test_policy_errors();
	test_directory_and_cache();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done("addr_set");
}
