// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The set index (enforcer/lib/set_index.c) and the record of what a
 * policy's tables were compiled from (set_source.c): written, read back,
 * changed in place, and refused when stale, damaged or half-changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_set.h"
#include "set_index.h"
#include "set_source.h"
#include "unit.h"
#include "util.h"

static struct policy_cidr cidr(const char *text)
{
	struct policy_cidr c;
	char why[128];

	memset(&c, 0, sizeof(c));
	if (policy_parse_cidr(text, &c, why, sizeof(why)))
		abort(); /* a typo in the test */
	return c;
}

static void test_index(int dfd)
{
	struct policy_cidr entries[] = {cidr("10.0.0.2"), cidr("10.0.0.1"),
					cidr("2001:db8::/32"), cidr("10.0.0.2"),
					cidr("10.0.0.0/8")};
	struct policy_cidr added = cidr("192.0.2.7");
	struct file_version v = {.dev = 1, .ino = 42, .size = 60};
	struct file_version v2 = v;
	struct set_index ix;
	const struct set_index_entry *e;
	char name[128];
	struct stat st = {0};

	CHECK(set_index_name("/etc/cgfence/policies", "feed", name,
			     sizeof(name)) == 0 &&
		      !strncmp(name, "setindex-", 9) &&
		      strstr(name, "-feed") != NULL,
	      "name %s", name);
	CHECK(set_index_write(dfd, name, entries, 5, &v) == 0, "write");
	CHECK(set_index_open(&ix, dfd, name) == 0, "open");
	CHECK(set_index_count(&ix) == 4, "4 distinct entries, not %zu",
	      set_index_count(&ix));
	e = set_index_find(&ix, &entries[0]);
	CHECK(e && e->copies == 2, "10.0.0.2 listed twice");
	e = set_index_find(&ix, &entries[4]);
	CHECK(e && e->copies == 1, "10.0.0.0/8 once");
	CHECK(!set_index_find(&ix, &added), "192.0.2.7 not in");
	CHECK(set_index_is(&ix, &v), "its version");
	st.st_dev = 1;
	st.st_ino = 42;
	st.st_size = 61;
	CHECK(!set_index_current(&ix, &st), "a file of another size is stale");
	v2.size = 71;
	CHECK(set_index_change(&ix, &added, 1, false, &v2) == 0, "add");
	CHECK(set_index_find(&ix, &added) && set_index_count(&ix) == 5 &&
		      set_index_is(&ix, &v2) && !set_index_is(&ix, &v),
	      "added, new version");
	CHECK(set_index_change(&ix, &entries[1], 1, true, &v) == 0, "del");
	CHECK(!set_index_find(&ix, &entries[1]) && set_index_count(&ix) == 4,
	      "removed");
	set_index_close(&ix);
	/* Changes went to the file: a second reader sees them. */
	CHECK(set_index_open(&ix, dfd, name) == 0 &&
		      set_index_find(&ix, &added) &&
		      !set_index_find(&ix, &entries[1]),
	      "changes are in the file");
	set_index_close(&ix);
	/* One left half-done (sequence odd) is refused. */
	{
		int fd = openat(dfd, name, O_WRONLY | O_CLOEXEC);
		char odd = 1;

		CHECK(pwrite(fd, &odd, 1, 8) == 1, "damage");
		close(fd);
	}
	CHECK(set_index_open(&ix, dfd, name) == -EBADMSG,
	      "a half-changed index refused");
	/* So is a truncated one. */
	CHECK(set_index_write(dfd, name, entries, 5, &v) == 0, "rewrite");
	{
		int fd = openat(dfd, name, O_WRONLY | O_CLOEXEC);

		CHECK(ftruncate(fd, 130) == 0, "truncate");
		close(fd);
	}
	CHECK(set_index_open(&ix, dfd, name) == -EBADMSG,
	      "a truncated index refused");
	unlinkat(dfd, name, 0);
}

static void test_source(int dfd)
{
	struct set_source s = {0}, back;
	struct set_source_rule rule = {0};
	struct set_source_set set = {0};
	struct policy_cidr lit = cidr("198.51.100.0/24");
	char *names[] = {"feed", "other"};

	memset(s.digest, 0xab, sizeof(s.digest));
	set_source_text_sha256("{}", 2, s.text_sha256);
	s.policy_dir = "/etc/cgfence/policies";
	s.policy = "web";
	s.file = "/etc/cgfence/policies/web.json";
	set.name = "feed";
	set.version = (struct file_version){.dev = 3,
					    .ino = 99,
					    .size = 1234567890123ll,
					    .mtime = {1796137932, 258378415},
					    .ctime = {1796137933, 1}};
	s.sets = &set;
	s.nsets = 1;
	rule.direction = CGF_DIR_INGRESS;
	rule.rule = 7;
	rule.addrs = &lit;
	rule.naddrs = 1;
	rule.sets = names;
	rule.nsets = 2;
	s.rules = &rule;
	s.nrules = 1;
	CHECK(set_source_write(dfd, 0x1234abcd, &s) == 0, "write");
	CHECK(set_source_read(dfd, 0x1234abcd, &back) == 0, "read");
	CHECK(!memcmp(back.digest, s.digest, 32) &&
		      !memcmp(back.text_sha256, s.text_sha256, 32) &&
		      !strcmp(back.policy, "web") &&
		      !strcmp(back.file, s.file) && back.nsets == 1 &&
		      !memcmp(&back.sets[0].version, &set.version,
			      sizeof(set.version)) &&
		      back.nrules == 1 && back.rules[0].rule == 7 &&
		      back.rules[0].direction == CGF_DIR_INGRESS &&
		      back.rules[0].naddrs == 1 &&
		      back.rules[0].addrs[0].prefixlen == 24 &&
		      back.rules[0].nsets == 2,
	      "round trip");
	CHECK(set_source_names(&back, "other") && !set_source_names(&back, "x"),
	      "names");
	set_source_free(&back);
	/* Garbage is refused, not half-read. */
	CHECK(write_file_at(dfd, "setsource-1234abcd", "{\"digest\": 1}", 13,
			    0600) == 0,
	      "garbage");
	CHECK(set_source_read(dfd, 0x1234abcd, &back) == -EBADMSG,
	      "garbage refused");
	CHECK(set_source_remove(dfd, 0x1234abcd) == 0 &&
		      set_source_read(dfd, 0x1234abcd, &back) == -ENOENT,
	      "removed");
}

int main(void)
{
	char dir[] = "/tmp/cgf-set-index-XXXXXX";
	int dfd;

	if (!mkdtemp(dir))
		return 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	test_index(dfd);
	test_source(dfd);
	close(dfd);
	rmdir(dir);
	return unit_done("test_set_index");
}
