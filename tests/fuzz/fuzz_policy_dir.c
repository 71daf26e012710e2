// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a policy directory, as `cgfence check DIR` checks it and as
 * the hook chooses a container's policy from it. The input is the
 * container's annotations, one "key=value" a line, then the files:
 *
 *   cgfence.policy=web
 *   --- web.json
 *   {"version": 1, "name": "web"}
 *   --- default.json -> web.json       (a symbolic link)
 *   --- fifo.json |                    (a FIFO)
 *   --- dir.json/                      (a directory)
 *
 * written into a directory made once per process and emptied after each
 * run. The choice is checked against one made from the loaded set: a
 * policy named by annotation is chosen exactly when the set holds it and
 * its selector matches; else the one matching selector, two being an
 * error; else "default" if its selector matches; a directory with a file
 * that does not load refuses every choice but by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "policy_dir.h"

#define MAX_FILES	8
#define MAX_ANNOTATIONS 8
#define MAX_NAME	80

static char dir_path[64];
static int dir_fd = -1;
static FILE *devnull;

struct made {
	char name[MAX_NAME];
	bool is_dir;
};

static struct made made[MAX_FILES];
static size_t nmade;

static void remove_dir(void)
{
	rmdir(dir_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const bases[] = {"/dev/shm", "/tmp"};

	for (size_t i = 0; i < 2 && dir_fd < 0; i++) {
		snprintf(dir_path, sizeof(dir_path), "%s/cgf-fuzz-dir-XXXXXX",
			 bases[i]);
		if (mkdtemp(dir_path))
			dir_fd = open(dir_path,
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	devnull = fopen("/dev/null", "we");
	if (dir_fd < 0 || !devnull) {
		perror("fuzz_policy_dir: a temporary directory");
		abort();
	}
	atexit(remove_dir);
	return 0;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_policy_dir: %s (%s)\n", what, detail);
	abort();
}

static const struct policy *set_find(const struct policy_set *set,
				     const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->policies[i]->name, name))
			return set->policies[i];
	return NULL;
}

/*
 * Whether one container can match both selectors: the annotations both
 * ask for, if they never ask one key for two values, are such a container.
 */
static bool can_match_both(const struct policy *a, const struct policy *b)
{
	struct oci_annotation *u =
		calloc(a->nselector + b->nselector, sizeof(*u));
	bool both = true;
	size_t n = 0;

	if (!u)
		fail("can_match_both", "out of memory");
	for (int side = 0; side < 2 && both; side++) {
		const struct policy *p = side ? b : a;

		for (size_t i = 0; i < p->nselector; i++) {
			const struct policy_selector_entry *e = &p->selector[i];
			size_t k = 0;

			while (k < n && strcmp(u[k].key, e->key))
				k++;
			if (k < n && strcmp(u[k].value, e->value))
				both = false;
			else if (k == n)
				u[n++] = (struct oci_annotation){e->key,
								 e->value};
		}
	}
	if (both && (!policy_selector_matches(a, u, n) ||
		     !policy_selector_matches(b, u, n)))
		fail("the union of two selectors matches neither", a->name);
	free(u);
	return both;
}

/* policy_set_check() reports exactly the pairs one container can match. */
static void check_overlaps(const struct policy_set *set, size_t problems)
{
	size_t want = 0;

	for (size_t i = 0; i < set->n; i++)
		for (size_t j = i + 1; j < set->n; j++)
			want += set->policies[i]->nselector &&
				set->policies[j]->nselector &&
				can_match_both(set->policies[i],
					       set->policies[j]);
	/* One line per selector that overlaps others, not one per pair. */
	if (!want != !problems || problems > want)
		fail("cgfence check and the selectors disagree on overlaps",
		     "");
}

/* What policy_select() must do, worked out from the loaded set. */
static void check_choice(const struct policy_set *set, int set_err,
			 const struct oci_annotation *ann, size_t nann, int err,
			 const struct policy_selection *sel, const char *why)
{
	const char *named = NULL;
	const struct policy *want = NULL, *fallback = NULL;
	size_t matching = 0;

	for (size_t i = 0; i < nann; i++)
		if (!strcmp(ann[i].key, POLICY_ANNOTATION))
			named = ann[i].value;
	if (err && !why[0])
		fail("an error without a reason", "");
	if (named) {
		want = set_find(set, named);
		if (want && !policy_selector_matches(want, ann, nann))
			want = NULL;
		if (!want != !!err)
			fail("named policy chosen against the set", why);
		if (!err && (sel->how != POLICY_BY_ANNOTATION ||
			     strcmp(sel->policy->name, named)))
			fail("named policy: another one chosen", named);
		return;
	}
	/*
	 * A file that does not load (no last good versions here) refuses the
	 * containers it may be meant for (policy_dir.h); otherwise the others
	 * are chosen from as if it were not there.
	 */
	if (err == -EINVAL && strstr(why, "has no last good version")) {
		if (!set_err)
			fail("a valid directory refused as broken", why);
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct policy *p = set->policies[i];

		if (p->nselector && policy_selector_matches(p, ann, nann)) {
			matching++;
			want = p;
		} else if (!strcmp(p->name, POLICY_DEFAULT_NAME) &&
			   policy_selector_matches(p, ann, nann)) {
			fallback = p;
		}
	}
	if ((matching > 1) != !!err)
		fail("selectors: error against the set", why);
	if (err)
		return;
	if (matching == 1) {
		if (sel->how != POLICY_BY_SELECTOR ||
		    strcmp(sel->policy->name, want->name))
			fail("selectors: not the matching policy", want->name);
	} else if (fallback) {
		if (sel->how != POLICY_BY_DEFAULT ||
		    strcmp(sel->policy->name, POLICY_DEFAULT_NAME))
			fail("the default was not chosen", "");
	} else if (sel->how != POLICY_NONE || sel->policy) {
		fail("a policy chosen where none applies", "");
	}
}

/*
 * Everything the commands ask of policy_dir.c, in one place.
 */
static void check_and_select(const struct oci_annotation *ann, size_t nann)
{
	struct policy_selection sel;
	struct policy_set set;
	struct compiled_policy *cp = NULL;
	struct diags d = {};
	char why[2048] = "", summary[512];
	/* No cache of parsed files: every run writes new files, and a policy
	 * kept from an earlier run must never answer for this one. */
	struct policy_dir dir = {
		.fd = dir_fd, .path = dir_path, .last_good_fd = -1};
	int set_err, err;

	/* cgfence check DIR */
	set_err = policy_set_load(&dir, &set, &d);
	if (set_err && set_err != -EINVAL)
		fail("policy_set_load", strerror(-set_err));
	/* Else cgfence check would pass a directory the hook refuses. */
	if (set_err && !d.count)
		fail("a file did not load and nothing says why", "");
	for (size_t i = 0; i < set.n; i++) {
		policy_summary(set.policies[i], summary, sizeof(summary));
		fprintf(devnull, "%s: ok: %s\n", set.policies[i]->path,
			summary);
	}
	check_overlaps(&set, policy_set_check(&set, &d));
	diags_print(&d, devnull);
	diags_free(&d);

	/* The hook: choose, then compile. */
	err = policy_select(&dir, ann, nann, &sel, why, sizeof(why));
	if (err == -ENOMEM)
		fail("policy_select", "out of memory");
	check_choice(&set, set_err, ann, nann, err, &sel, why);
	if (!err && sel.policy) {
		if (policy_compile(sel.policy, &cp) == 0)
			compiled_policy_free(cp);
		fprintf(devnull, "%s\n", policy_choice_name(sel.how));
	}
	policy_free(sel.policy);
	policy_set_free(&set);
}

/* One "--- NAME" entry; names that are not one path component are skipped. */
static void make_entry(const char *head, size_t head_len, const char *body,
		       size_t body_len)
{
	char name[MAX_NAME], target[MAX_NAME] = "";
	const char *arrow;
	enum { FILE_, LINK, FIFO, DIR_ } kind = FILE_;
	size_t n = head_len;
	int fd;

	if (nmade == MAX_FILES || n >= MAX_NAME)
		return;
	memcpy(name, head, n);
	name[n] = '\0';
	arrow = strstr(name, " -> ");
	if (arrow) {
		snprintf(target, sizeof(target), "%s", arrow + 4);
		name[arrow - name] = '\0';
		kind = LINK;
	} else if (n > 2 && !strcmp(name + n - 2, " |")) {
		name[n - 2] = '\0';
		kind = FIFO;
	} else if (n > 1 && name[n - 1] == '/') {
		name[n - 1] = '\0';
		kind = DIR_;
	}
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return;
	switch (kind) {
	case LINK:
		if (symlinkat(target, dir_fd, name))
			return;
		break;
	case FIFO:
		if (mkfifoat(dir_fd, name, 0600))
			return;
		break;
	case DIR_:
		if (mkdirat(dir_fd, name, 0700))
			return;
		break;
	default:
		fd = openat(dir_fd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return;
		if (body_len && write(fd, body, body_len) != (ssize_t)body_len)
			fail("write", strerror(errno));
		close(fd);
	}
	snprintf(made[nmade].name, MAX_NAME, "%s", name);
	made[nmade++].is_dir = kind == DIR_;
}

static void empty_dir(void)
{
	for (size_t i = 0; i < nmade; i++)
		if (unlinkat(dir_fd, made[i].name,
			     made[i].is_dir ? AT_REMOVEDIR : 0))
			fail("cleaning the directory", strerror(errno));
	nmade = 0;
}

/* "key=value" lines; the OCI state has unique, non-empty keys. */
static size_t read_annotations(char *text, struct oci_annotation *ann)
{
	size_t n = 0;

	for (char *line = text, *next; line && n < MAX_ANNOTATIONS;
	     line = next) {
		char *eq;
		bool dup = false;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		eq = strchr(line, '=');
		if (!eq || eq == line)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < n; i++)
			dup |= !strcmp(ann[i].key, line);
		if (dup)
			continue;
		ann[n++] = (struct oci_annotation){line, eq + 1};
	}
	return n;
}

static const char sep[] = "--- ";

/* The next "--- " at the start of a line, from off on; len if none. */
static size_t next_entry(const char *text, size_t len, size_t off)
{
	for (size_t i = off; i + 4 <= len; i++)
		if ((i == 0 || text[i - 1] == '\n') &&
		    !memcmp(text + i, sep, 4))
			return i;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_annotation ann[MAX_ANNOTATIONS];
	char *text = malloc(size + 1);
	size_t at, nann;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	at = next_entry(text, size, 0);
	for (size_t head = at; head < size;) {
		size_t name = head + 4, eol, body, end;

		eol = name;
		while (eol < size && text[eol] != '\n')
			eol++;
		body = eol < size ? eol + 1 : size;
		end = next_entry(text, size, body);
		/* The newline before the next "--- " belongs to the file. */
		if (!memchr(text + name, '\0', eol - name))
			make_entry(text + name, eol - name, text + body,
				   end - body);
		head = end;
	}
	text[at] = '\0';
	nann = read_annotations(text, ann);
	check_and_select(ann, nann);
	empty_dir();
	free(text);
	return 0;
}
