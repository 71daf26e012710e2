// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy selection for containers: names, selectors, the default
 * fallback, fail-closed cases, and the directory check. Works in a
 * private temporary directory; no root needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_dir.h"
#include "util.h"
#include "unit.h"

static char dir[] = "/tmp/cgfence-unit-XXXXXX";
static int dir_fd = -1;
/* The directory as the hook reads it (no last good versions kept). */
static struct policy_dir pdir = {.fd = -1, .path = dir, .last_good_fd = -1};

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* A valid policy NAME with an optional selector (JSON object text). */
static void write_policy(const char *name, const char *selector)
{
	char file[128], text[1024];

	snprintf(file, sizeof(file), "%s.json", name);
	snprintf(text, sizeof(text),
		 "{\"version\": 1, \"name\": \"%s\"%s%s, \"egress\": "
		 "{\"default\": \"deny\"}}\n",
		 name, selector ? ", \"selector\": " : "",
		 selector ? selector : "");
	write_file(file, text);
}

struct selected {
	int err;
	enum policy_choice how;
	char name[64];
	char why[1024];
};

static struct selected select_for(const struct oci_annotation *ann, size_t n)
{
	struct policy_selection sel;
	struct selected r = {};

	r.err = policy_select(&pdir, ann, n, &sel, r.why, sizeof(r.why));
	r.how = sel.how;
	if (!r.err && sel.policy)
		snprintf(r.name, sizeof(r.name), "%s", sel.policy->name);
	policy_free(sel.policy);
	return r;
}

static void test_names(void)
{
	CHECK(policy_name_valid("web"), "web");
	CHECK(policy_name_valid("web-1.v2_x"), "punctuation inside");
	CHECK(!policy_name_valid(""), "empty");
	CHECK(!policy_name_valid("../etc/passwd"), "path");
	CHECK(!policy_name_valid(".."), "dot dot");
	CHECK(!policy_name_valid("a/b"), "slash");
	CHECK(!policy_name_valid("Web"), "upper case");
	CHECK(!policy_name_valid("-web"), "leading dash");
	CHECK(!policy_name_valid(".web"), "leading dot");
	CHECK(!policy_name_valid("012345678901234567890123456789012345678901234"
				 "5678901234567890123"),
	      "64 bytes is too long");
}

static void test_selection(void)
{
	struct oci_annotation named_web[] = {{"cgfence.policy", "web"}};
	struct oci_annotation shop[] = {{"ns", "shop"}, {"team", "a"}};
	struct oci_annotation other[] = {{"ns", "other"}};
	struct oci_annotation named_bad[] = {{"cgfence.policy", "../web"}};
	struct oci_annotation named_missing[] = {{"cgfence.policy", "nope"}};
	struct oci_annotation named_shop[] = {{"cgfence.policy", "shop"}};
	struct oci_annotation named_shop_in_shop[] = {
		{"cgfence.policy", "shop"}, {"ns", "shop"}};
	struct selected r;

	write_policy("web", NULL);
	write_policy("shop", "{\"ns\": \"shop\"}");
	write_policy("default", NULL);

	r = select_for(named_web, 1);
	CHECK(!r.err && r.how == POLICY_BY_ANNOTATION && !strcmp(r.name, "web"),
	      "annotation names web: %d %s %s", r.err, r.name, r.why);
	r = select_for(shop, 2);
	CHECK(!r.err && r.how == POLICY_BY_SELECTOR && !strcmp(r.name, "shop"),
	      "selector: %d %s %s", r.err, r.name, r.why);
	r = select_for(other, 1);
	CHECK(!r.err && r.how == POLICY_BY_DEFAULT &&
		      !strcmp(r.name, "default"),
	      "fallback: %d %s %s", r.err, r.name, r.why);
	r = select_for(NULL, 0);
	CHECK(!r.err && r.how == POLICY_BY_DEFAULT, "no annotations at all");

	r = select_for(named_bad, 1);
	CHECK(r.err == -EINVAL && strstr(r.why, "not a policy name"),
	      "a path is refused: %s", r.why);
	r = select_for(named_missing, 1);
	CHECK(r.err == -ENOENT && strstr(r.why, "does not exist"),
	      "missing policy: %s", r.why);
	r = select_for(named_shop, 1);
	CHECK(r.err == -EPERM && strstr(r.why, "selector"),
	      "naming a policy bound elsewhere is refused: %s", r.why);
	r = select_for(named_shop_in_shop, 2);
	CHECK(!r.err && !strcmp(r.name, "shop"), "naming it where it applies");

	/* Without default.json: unconfined, which the hook records. */
	remove_file("default.json");
	r = select_for(other, 1);
	CHECK(!r.err && r.how == POLICY_NONE, "no default: none (%s)", r.why);

	/* Two selectors matching one container: refused. */
	write_policy("team-a", "{\"team\": \"a\"}");
	r = select_for(shop, 2);
	CHECK(r.err == -EINVAL && strstr(r.why, "both match"), "ambiguous: %s",
	      r.why);
	r = select_for(other, 1);
	CHECK(!r.err && r.how == POLICY_NONE,
	      "unaffected container still works");
	remove_file("team-a.json");

	/*
	 * A file never valid takes no part (its selector is unknown): it does
	 * not stop unrelated containers from starting.
	 */
	write_file("broken.json",
		   "{\"version\": 1, \"name\": \"broken\", \"egress\": 7}\n");
	r = select_for(other, 1);
	CHECK(!r.err && r.how == POLICY_NONE,
	      "a broken file does not block others: %d %s", r.err, r.why);
	r = select_for(named_web, 1);
	CHECK(!r.err && !strcmp(r.name, "web"), "a named policy is unaffected");
	remove_file("broken.json");

	/* The file must hold the policy of its name. */
	write_file("alias.json", "{\"version\": 1, \"name\": \"web\"}\n");
	{
		struct oci_annotation named_alias[] = {
			{"cgfence.policy", "alias"}};

		r = select_for(named_alias, 1);
		CHECK(r.err == -EINVAL && strstr(r.why, "declares the name"),
		      "name mismatch: %s", r.why);
	}
	remove_file("alias.json");
}

static void test_symlinks_refused(void)
{
	struct oci_annotation named[] = {{"cgfence.policy", "linked"}};
	char target[512], link[512];
	struct selected r;

	snprintf(target, sizeof(target), "%s/web.json", dir);
	snprintf(link, sizeof(link), "%s/linked.json", dir);
	CHECK(symlink(target, link) == 0, "symlink: %s", strerror(errno));
	r = select_for(named, 1);
	CHECK(r.err && strstr(r.why, "symbolic link"), "symlink: %s", r.why);
	unlink(link);
}

static void test_directory_check(void)
{
	struct policy_set set;
	struct diags d = {};
	size_t problems;

	write_policy("team-a", "{\"team\": \"a\"}");
	write_policy("team-b", "{\"team\": \"b\"}");
	CHECK(policy_set_load(&pdir, &set, &d) == 0, "load");
	problems = policy_set_check(&set, &d);
	/* shop {ns: shop} overlaps team-a and team-b; a and b disagree. */
	CHECK(problems == 1, "one line per selector: %zu", problems);
	CHECK(d.count == 1 && strstr(d.lines[0], "ns=shop, team=a") &&
		      strstr(d.lines[0], "(and 1 more)"),
	      "overlap message: %s", d.count ? d.lines[0] : "(none)");
	diags_free(&d);
	policy_set_free(&set);

	write_file("Bad Name.json", "{}");
	CHECK(policy_set_load(&pdir, &set, &d) == -EINVAL, "bad file name");
	CHECK(d.count == 1 && strstr(d.lines[0], "not a policy name"), "%s",
	      d.count ? d.lines[0] : "(none)");
	CHECK(set.n == 4, "the valid ones still load: %zu", set.n);
	diags_free(&d);
	policy_set_free(&set);
	remove_file("Bad Name.json");

	/* A JSON Schema beside the policies is for editors, never a policy. */
	write_file("cgfence-policy.schema.json",
		   "{\"$schema\": \"https://json-schema.org/draft/2020-12/"
		   "schema\"}");
	CHECK(policy_set_load(&pdir, &set, &d) == 0 && d.count == 0,
	      "a schema file is skipped: %s", d.count ? d.lines[0] : "");
	CHECK(set.n == 4 && set.nfiles == 4, "%zu policies of %zu files", set.n,
	      set.nfiles);
	diags_free(&d);
	policy_set_free(&set);
	remove_file("cgfence-policy.schema.json");
}

/* hookd's cache: the same file gives the same policy; a changed one not. */
static void test_keep_parsed(void)
{
	struct policy *a, *b, *c;
	struct stat before, after;
	struct diags d = {};
	char path[512];

	pdir.cache = policy_cache_new();
	write_policy("cached", NULL);
	CHECK(policy_load_at(&pdir, "cached", &a, &d) == 0 &&
		      policy_load_at(&pdir, "cached", &b, &d) == 0,
	      "loads of a file just written");
	CHECK(a && b && a != b && a->refs == 1,
	      "a file written less than a second ago is parsed every time");
	policy_free(a);
	policy_free(b);
	usleep(1100 * 1000); /* settled */
	CHECK(policy_load_at(&pdir, "cached", &a, &d) == 0, "first load");
	CHECK(policy_load_at(&pdir, "cached", &b, &d) == 0, "second load");
	CHECK(a && a == b && a->refs == 3,
	      "unchanged file: the kept policy, shared (refs %u)",
	      a ? a->refs : 0);
	policy_free(b);

	/* Edited in place to the same size: only the times tell. */
	snprintf(path, sizeof(path), "%s/cached.json", dir);
	stat(path, &before);
	write_file("cached.json", "{\"version\": 1, \"name\": \"cached\", "
				  "\"ingress\": {\"default\":\"deny\"}}\n");
	stat(path, &after);
	CHECK(before.st_ino == after.st_ino && before.st_size == after.st_size,
	      "the edit keeps inode and size");
	CHECK(policy_load_at(&pdir, "cached", &b, &d) == 0,
	      "load after a same-size edit");
	CHECK(b && b != a && b->ingress.present && !b->egress.present,
	      "same inode and size, new times: parsed anew");
	policy_free(b);
	usleep(1100 * 1000);
	CHECK(policy_load_at(&pdir, "cached", &b, &d) == 0 &&
		      policy_load_at(&pdir, "cached", &c, &d) == 0 && b == c &&
		      b->ingress.present,
	      "the edited file, once settled, is kept in turn");
	policy_free(b);
	policy_free(c);

	/* Rewritten with other content (a new inode, as editors do). */
	snprintf(path, sizeof(path), "%s/cached.json", dir);
	unlink(path);
	write_file("cached.json", "{\"version\": 1, \"name\": \"cached\", "
				  "\"mode\": \"audit\"}\n");
	CHECK(policy_load_at(&pdir, "cached", &c, &d) == 0, "reload");
	CHECK(c && c != a && c->mode == CGF_MODE_AUDIT,
	      "changed file: parsed anew");
	CHECK(a->refs == 1, "the old version is no longer kept (refs %u)",
	      a->refs);
	policy_free(a);
	policy_free(c);

	/* An invalid file is reported each time, never served from the cache. */
	write_file("cached.json", "{\"version\": 1, \"name\": \"other\"}\n");
	CHECK(policy_load_at(&pdir, "cached", &c, &d) == -EINVAL && !c,
	      "invalid after a valid one: refused");
	CHECK(d.count == 1, "with its problem reported");
	diags_free(&d);
	policy_cache_free(pdir.cache);
	pdir.cache = NULL;
	remove_file("cached.json");
}

/* Many policies on one selector: one line, not one per pair. */
static void test_shared_selector(void)
{
	struct policy_set set;
	struct diags d = {};
	char name[32];

	/* Alone in the directory from here on. */
	remove_file("web.json");
	remove_file("shop.json");
	remove_file("default.json");
	remove_file("team-a.json");
	remove_file("team-b.json");
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "same-%03d", i);
		write_policy(name, "{\"app\": \"same\"}");
	}
	CHECK(policy_set_load(&pdir, &set, &d) == 0, "load");
	CHECK(policy_set_check(&set, &d) == 1 && d.count == 1 &&
		      strstr(d.lines[0], "same-000.json") &&
		      strstr(d.lines[0], "\"same-001\"") &&
		      strstr(d.lines[0], "(and 298 more)"),
	      "300 equal selectors: %zu lines, %s", d.count,
	      d.count ? d.lines[0] : "");
	diags_free(&d);
	policy_set_free(&set);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "same-%03d.json", i);
		remove_file(name);
	}
}

/*
 * A live directory: a file that stops validating is replaced by its last
 * good version; overlapping selectors bring the last good directory back.
 */
static void test_last_good(void)
{
	struct oci_annotation blue[] = {{"app", "blue"}};
	struct oci_annotation named_live[] = {{"cgfence.policy", "live"},
					      {"app", "blue"}};
	char good[600];
	struct policy_set set;
	struct diags d = {};
	struct selected r;
	bool adopted;

	snprintf(good, sizeof(good), "%s/good", dir);
	CHECK(mkdir(good, 0700) == 0, "mkdir good");
	write_file("good/live.json",
		   "{\"version\": 1, \"name\": \"live\", \"selector\": "
		   "{\"app\": \"blue\"}, \"mode\": \"audit\"}\n");
	pdir.last_good_fd = open(good, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	write_file("live.json", "{\"version\": 1, \"name\": \"live\",\n"
				"  \"egress\": 7}\n");
	r = select_for(named_live, 2);
	CHECK(!r.err && !strcmp(r.name, "live"),
	      "named, broken: its last good version: %d %s", r.err, r.why);
	r = select_for(blue, 1);
	CHECK(!r.err && r.how == POLICY_BY_SELECTOR && !strcmp(r.name, "live"),
	      "by selector, broken: its last good version: %d %s", r.err,
	      r.why);
	CHECK(policy_set_resolve(&pdir, &set, &d, &adopted) == 0 && adopted,
	      "resolves");
	CHECK(d.count == 1 && strstr(d.lines[0], "live.json:2:"),
	      "the problem with its position: %s", d.count ? d.lines[0] : "");
	for (size_t i = 0; i < set.n; i++)
		if (!strcmp(set.policies[i]->name, "live"))
			CHECK(set.policies[i]->last_good &&
				      set.policies[i]->mode == CGF_MODE_AUDIT,
			      "the kept version is in the set");
	diags_free(&d);
	policy_set_free(&set);

	/* Valid again, but overlapping another: the last good directory. */
	write_policy("live", "{\"app\": \"blue\"}");
	write_policy("rival", "{\"app\": \"blue\"}");
	CHECK(policy_set_resolve(&pdir, &set, &d, &adopted) == 0 && !adopted,
	      "overlap: not adopted");
	CHECK(d.count == 1 && strstr(d.lines[0], "overlaps"), "reported: %s",
	      d.count ? d.lines[0] : "");
	CHECK(set.n == 1 && set.policies[0]->last_good &&
		      set.policies[0]->mode == CGF_MODE_AUDIT,
	      "the last good directory serves: %zu", set.n);
	diags_free(&d);
	policy_set_free(&set);
	remove_file("rival.json");
	remove_file("live.json");
	remove_file("good/live.json");
	rmdir(good);
	close(pdir.last_good_fd);
	pdir.last_good_fd = -1;
}

/*
 * A file that never validated (no last good version) refuses exactly the
 * containers it may be meant for: those its readable selector matches,
 * those that would get default when it is default.json, and, when nothing
 * of it can be read, those that no valid selector claims.
 */
static void test_never_valid(void)
{
	struct oci_annotation red[] = {{"app", "red"}};
	struct oci_annotation blue[] = {{"app", "blue"}};
	struct oci_annotation none[] = {{"other", "x"}};
	struct selected r;

	write_policy("blue", "{\"app\": \"blue\"}");
	write_file("red.json",
		   "{\"version\": 1, \"name\": \"red\", "
		   "\"selector\": {\"app\": \"red\"}, \"egress\": 7}\n");
	r = select_for(red, 1);
	CHECK(r.err == -EINVAL && strstr(r.why, "red.json does not validate"),
	      "meant for it: refused: %d %s", r.err, r.why);
	r = select_for(blue, 1);
	CHECK(!r.err && !strcmp(r.name, "blue"), "others unaffected: %s",
	      r.why);
	r = select_for(none, 1);
	CHECK(!r.err && r.how == POLICY_NONE, "not meant for it: %s", r.why);
	remove_file("red.json");

	write_file("default.json", "{\"version\": 1, \"name\": \"default\", "
				   "\"egress\": 7}\n");
	r = select_for(none, 1);
	CHECK(r.err == -EINVAL && strstr(r.why, "default.json"),
	      "a broken default: who would get it is refused: %s", r.why);
	r = select_for(blue, 1);
	CHECK(!r.err && !strcmp(r.name, "blue"), "selected ones start: %s",
	      r.why);
	remove_file("default.json");

	write_file("garbled.json", "{\"version\": 1, \"selector\": {\n");
	r = select_for(none, 1);
	CHECK(r.err == -EINVAL && strstr(r.why, "garbled.json"),
	      "unreadable: refuses the unclaimed: %s", r.why);
	r = select_for(blue, 1);
	CHECK(!r.err && !strcmp(r.name, "blue"),
	      "unreadable: a container a valid selector claims starts: %s",
	      r.why);
	remove_file("garbled.json");
	remove_file("blue.json");
}

/* The kubelet's ConfigMap layout; links never lead out of the directory. */
static void test_configmap_layout(void)
{
	struct oci_annotation named_cm[] = {{"cgfence.policy", "cm"}};
	struct oci_annotation named_out[] = {{"cgfence.policy", "out"}};
	char path[600], outside[600];
	struct selected r;

	snprintf(path, sizeof(path), "%s/..2026_12_01_08_00_00.1", dir);
	CHECK(mkdir(path, 0700) == 0, "mkdir timestamped");
	write_file("..2026_12_01_08_00_00.1/cm.json",
		   "{\"version\": 1, \"name\": \"cm\"}\n");
	snprintf(path, sizeof(path), "%s/..data", dir);
	CHECK(symlink("..2026_12_01_08_00_00.1", path) == 0, "..data");
	snprintf(path, sizeof(path), "%s/cm.json", dir);
	CHECK(symlink("..data/cm.json", path) == 0, "cm.json");
	r = select_for(named_cm, 1);
	CHECK(!r.err && !strcmp(r.name, "cm"), "through ..data: %d %s", r.err,
	      r.why);

	snprintf(outside, sizeof(outside), "%s.outside.json", dir);
	snprintf(path, sizeof(path), "%s/out.json", dir);
	CHECK(symlink(outside, path) == 0, "absolute link");
	r = select_for(named_out, 1);
	CHECK(r.err && strstr(r.why, "leads outside the policy directory"),
	      "absolute link out refused: %s", r.why);
	unlink(path);
	CHECK(symlink("../../etc/hostname", path) == 0, "relative link");
	r = select_for(named_out, 1);
	CHECK(r.err && strstr(r.why, "leads outside the policy directory"),
	      "relative link out refused: %s", r.why);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cm.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/..data", dir);
	unlink(path);
	remove_file("..2026_12_01_08_00_00.1/cm.json");
	snprintf(path, sizeof(path), "%s/..2026_12_01_08_00_00.1", dir);
	rmdir(path);
}

/* Records name a policy directory in one spelling. */
static void test_path_spelling(void)
{
	static const char *const cases[][2] = {
		{"/etc/cgfence/policies/", "/etc/cgfence/policies"},
		{"//etc//cgfence/./policies/.", "/etc/cgfence/policies"},
		{"/", "/"},
		{"/./", "/"},
		{"/a/.b/..c/", "/a/.b/..c"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", cases[i][0]);
		path_normalize(buf);
		CHECK(!strcmp(buf, cases[i][1]), "%s -> %s, want %s",
		      cases[i][0], buf, cases[i][1]);
	}
}

static void test_examples(void)
{
	int fd = open("policies", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct policy_set set;
	struct diags d = {};

	CHECK(fd >= 0, "run from the repository root");
	if (fd < 0)
		return;
	CHECK(policy_set_load(&(struct policy_dir){.fd = fd,
						   .path = "policies",
						   .last_good_fd = -1},
			      &set, &d) == 0 &&
		      policy_set_check(&set, &d) == 0,
	      "policies/ is a valid policy directory: %s",
	      d.count ? d.lines[0] : "");
	diags_free(&d);
	policy_set_free(&set);
	close(fd);
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pdir.fd = dir_fd;
	test_names();
	test_selection();
	test_symlinks_refused();
	test_directory_check();
	test_keep_parsed();
	test_shared_selector();
	test_last_good();
	test_configmap_layout();
	test_never_valid();
	test_path_spelling();
	test_examples();
	close(dir_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done("policy_dir");
}
