// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy_dir.h"
#include "util.h"

static const char json_suffix[] = ".json";

bool policy_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= CGF_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

/* "DIR/FILE" for messages only; files are opened relative to dir_fd. */
static void display_path(char *buf, size_t len, const char *dir_path,
			 const char *file)
{
	size_t n = strlen(dir_path);

	snprintf(buf, len, "%s%s%s", dir_path,
		 n && dir_path[n - 1] == '/' ? "" : "/", file);
}

/* Opens a regular file below dir_fd without following a symbolic link. */
static int open_policy_at(int dir_fd, const char *file, int *out,
			  struct stat *st)
{
	_cleanup_close_ int fd = -1;

	/* O_NONBLOCK: opening a FIFO planted here must not hang the hook. */
	fd = openat(dir_fd, file,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st))
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (st->st_size > POLICY_MAX_FILE_SIZE)
		return -EFBIG;
	*out = fd;
	fd = -1;
	return 0;
}

static int read_policy(int fd, const struct stat *st, char **out,
		       size_t *out_len)
{
	struct bounded_read how = {.max = POLICY_MAX_FILE_SIZE,
				   .size_hint = (size_t)st->st_size};

	return read_fd_bounded(fd, &how, out, out_len);
}

/*
 * Policies a resident process (hookd) parsed, reused while their file is
 * the same: same inode, size, modification and change times. Parsing and
 * compiling a 100k-address policy takes tens of milliseconds; every
 * container start would pay it.
 */
#define PARSED_CACHE_SIZE 64

struct parsed_file {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	struct policy *policy; /* one reference */
	uint64_t last_use;
};

static struct parsed_file parsed[PARSED_CACHE_SIZE];
static bool keep_parsed;
static uint64_t use_clock;

void policy_dir_keep_parsed(bool on)
{
	keep_parsed = on;
}

static bool same_file(const struct parsed_file *f, const char *path,
		      const struct stat *st)
{
	return f->policy && f->dev == st->st_dev && f->ino == st->st_ino &&
	       f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec &&
	       f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       f->ctime.tv_sec == st->st_ctim.tv_sec &&
	       f->ctime.tv_nsec == st->st_ctim.tv_nsec &&
	       !strcmp(f->path, path);
}

static struct policy *parsed_lookup(const char *path, const struct stat *st)
{
	for (size_t i = 0; i < PARSED_CACHE_SIZE; i++) {
		if (same_file(&parsed[i], path, st)) {
			parsed[i].last_use = ++use_clock;
			return policy_ref(parsed[i].policy);
		}
	}
	return NULL;
}

/*
 * A file changed less than this long ago may change again within the same
 * timestamp tick, unseen: it is parsed every time until it has settled.
 */
#define PARSED_SETTLE_NS (1000ull * 1000 * 1000)

static bool settled(const struct stat *st)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint64_t mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
			 st->st_mtim.tv_nsec;
	uint64_t ctime = (uint64_t)st->st_ctim.tv_sec * 1000000000ull +
			 st->st_ctim.tv_nsec;
	uint64_t last = mtime > ctime ? mtime : ctime;

	return now > last && now - last >= PARSED_SETTLE_NS;
}

/* Replaces the entry of the same path, else the least recently used. */
static void parsed_remember(const char *path, const struct stat *st,
			    struct policy *p)
{
	struct parsed_file *slot = NULL;
	char *copy;

	for (size_t i = 0; i < PARSED_CACHE_SIZE; i++) {
		if (parsed[i].path && !strcmp(parsed[i].path, path)) {
			slot = &parsed[i];
			break;
		}
	}
	if (slot) { /* an older version of the file */
		free(slot->path);
		policy_free(slot->policy);
		*slot = (struct parsed_file){0};
	}
	if (!settled(st))
		return;
	if (!slot) {
		slot = &parsed[0];
		for (size_t i = 1; i < PARSED_CACHE_SIZE; i++)
			if (parsed[i].last_use < slot->last_use)
				slot = &parsed[i];
		free(slot->path);
		policy_free(slot->policy);
	}
	copy = strdup(path);
	if (!copy) {
		*slot = (struct parsed_file){0};
		return;
	}
	*slot = (struct parsed_file){.path = copy,
				     .dev = st->st_dev,
				     .ino = st->st_ino,
				     .size = st->st_size,
				     .mtime = st->st_mtim,
				     .ctime = st->st_ctim,
				     .policy = policy_ref(p),
				     .last_use = ++use_clock};
}

static const char *read_error_text(int err)
{
	switch (err) {
	case -ELOOP:
		return "is a symbolic link; policies must be regular files";
	case -EINVAL:
		return "is not a regular file";
	case -EFBIG:
		return "is larger than the policy size limit";
	default:
		return strerror(-err);
	}
}

int policy_load_at(int dir_fd, const char *dir_path, const char *name,
		   struct policy **out, struct diags *d)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	char file[CGF_NAME_LEN + sizeof(json_suffix)];
	char path[4096];
	struct stat st;
	size_t len = 0;
	int err;

	*out = NULL;
	if (!policy_name_valid(name))
		return -EINVAL;
	snprintf(file, sizeof(file), "%s%s", name, json_suffix);
	display_path(path, sizeof(path), dir_path, file);
	err = open_policy_at(dir_fd, file, &fd, &st);
	if (!err && keep_parsed && (*out = parsed_lookup(path, &st)))
		return 0;
	if (!err)
		err = read_policy(fd, &st, &text, &len);
	if (err) {
		if (err != -ENOENT)
			diags_add(d, path, (struct src_pos){0}, "%s",
				  read_error_text(err));
		return err;
	}
	err = policy_parse(path, text, len, out, d);
	if (err)
		return err;
	if (strcmp((*out)->name, name) != 0) {
		diags_add(d, path, (struct src_pos){0},
			  "declares the name \"%s\"; the policy named NAME "
			  "must be in NAME.json",
			  (*out)->name);
		policy_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	if (keep_parsed)
		parsed_remember(path, &st, *out);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The *.json entries of the directory, sorted, for stable messages. */
static int list_json_files(int dir_fd, char ***out, size_t *out_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= strlen(json_suffix) ||
		    strcmp(de->d_name + len - strlen(json_suffix), json_suffix))
			continue;
		if (n == cap) {
			char **bigger;

			cap = cap ? cap * 2 : 16;
			bigger = realloc(names, cap * sizeof(*names));
			if (!bigger)
				goto oom;
			names = bigger;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto oom;
		n++;
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(*names), compare_names);
	*out = names;
	*out_n = n;
	return 0;
oom:
	closedir(dir);
	free_names(names, n);
	return -ENOMEM;
}

int policy_set_load(int dir_fd, const char *dir_path, struct policy_set *set,
		    struct diags *d)
{
	char **files = NULL;
	size_t nfiles = 0;
	int err, result = 0;

	memset(set, 0, sizeof(*set));
	err = list_json_files(dir_fd, &files, &nfiles);
	if (err)
		return err;
	set->nfiles = nfiles;
	set->policies = calloc(nfiles ? nfiles : 1, sizeof(*set->policies));
	if (!set->policies) {
		free_names(files, nfiles);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nfiles; i++) {
		char name[256], path[4096];
		struct policy *p;

		snprintf(name, sizeof(name), "%.*s",
			 (int)(strlen(files[i]) - strlen(json_suffix)),
			 files[i]);
		if (!policy_name_valid(name)) {
			display_path(path, sizeof(path), dir_path, files[i]);
			diags_add(d, path, (struct src_pos){0},
				  "\"%s\" is not a policy name: use a-z, 0-9, "
				  "'.', '_' and '-', starting with a letter or "
				  "digit",
				  name);
			result = -EINVAL;
			continue;
		}
		err = policy_load_at(dir_fd, dir_path, name, &p, d);
		if (err == -ENOMEM) {
			result = err;
			break;
		}
		if (err) {
			if (err == -ENOENT) { /* removed since the listing */
				display_path(path, sizeof(path), dir_path,
					     files[i]);
				diags_add(d, path, (struct src_pos){0}, "%s",
					  strerror(ENOENT));
			}
			if (!result)
				result = -EINVAL;
			continue;
		}
		set->policies[set->n++] = p;
	}
	free_names(files, nfiles);
	return result;
}

void policy_set_free(struct policy_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		policy_free(set->policies[i]);
	free(set->policies);
	memset(set, 0, sizeof(*set));
}

static const char *selector_value(const struct policy *p, const char *key)
{
	for (size_t i = 0; i < p->nselector; i++)
		if (!strcmp(p->selector[i].key, key))
			return p->selector[i].value;
	return NULL;
}

/* Two selectors can match one container unless they disagree on a key. */
static bool selectors_overlap(const struct policy *a, const struct policy *b)
{
	for (size_t i = 0; i < a->nselector; i++) {
		const char *v = selector_value(b, a->selector[i].key);

		if (v && strcmp(v, a->selector[i].value))
			return false;
	}
	return true;
}

/* "k1=v1, k2=v2": the annotations of a container both selectors match. */
static void describe_union(char *buf, size_t len, const struct policy *a,
			   const struct policy *b)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int side = 0; side < 2; side++) {
		const struct policy *p = side ? b : a;

		for (size_t i = 0; i < p->nselector && used < len; i++) {
			if (side && selector_value(a, p->selector[i].key))
				continue;
			used += snprintf(buf + used, len - used, "%s%s=%s",
					 used ? ", " : "", p->selector[i].key,
					 p->selector[i].value);
		}
	}
}

size_t policy_set_check(const struct policy_set *set, struct diags *d)
{
	size_t problems = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct policy *a = set->policies[i];

		if (!a->nselector)
			continue;
		for (size_t j = i + 1; j < set->n; j++) {
			const struct policy *b = set->policies[j];
			char example[512];

			if (!b->nselector || !selectors_overlap(a, b))
				continue;
			describe_union(example, sizeof(example), a, b);
			diags_add(d, a->path, (struct src_pos){0},
				  "selector overlaps with policy \"%s\" (%s): "
				  "a container annotated %s would match both",
				  b->name, b->path, example);
			problems++;
		}
	}
	return problems;
}

bool policy_selector_matches(const struct policy *p,
			     const struct oci_annotation *ann, size_t nann)
{
	for (size_t i = 0; i < p->nselector; i++) {
		bool found = false;

		for (size_t j = 0; j < nann && !found; j++)
			found = !strcmp(ann[j].key, p->selector[i].key) &&
				!strcmp(ann[j].value, p->selector[i].value);
		if (!found)
			return false;
	}
	return true;
}

const char *policy_choice_name(enum policy_choice how)
{
	switch (how) {
	case POLICY_BY_ANNOTATION:
		return "annotation";
	case POLICY_BY_SELECTOR:
		return "selector";
	case POLICY_BY_DEFAULT:
		return "default";
	default:
		return "none";
	}
}

/* "first problem (and N more)" from a diagnostics list. */
static void first_problem(char *buf, size_t len, const struct diags *d,
			  const char *fallback)
{
	if (!d->count) {
		snprintf(buf, len, "%s", fallback);
		return;
	}
	if (d->count == 1)
		snprintf(buf, len, "%s", d->lines[0]);
	else
		snprintf(buf, len, "%s (and %zu more problems)", d->lines[0],
			 d->count - 1);
}

static int select_named(int dir_fd, const char *dir_path, const char *name,
			const struct oci_annotation *ann, size_t nann,
			struct policy_selection *sel, char *why, size_t why_len)
{
	struct diags d = {};
	char problem[1024], path[4096];
	struct policy *p;
	int err;

	if (!policy_name_valid(name)) {
		snprintf(why, why_len,
			 "annotation %s=\"%.80s\" is not a policy name "
			 "([a-z0-9][a-z0-9._-]*, no paths)",
			 POLICY_ANNOTATION, name);
		return -EINVAL;
	}
	err = policy_load_at(dir_fd, dir_path, name, &p, &d);
	if (err == -ENOENT) {
		display_path(path, sizeof(path), dir_path, name);
		snprintf(why, why_len,
			 "policy \"%s\" named by annotation %s does not exist "
			 "(no %s.json)",
			 name, POLICY_ANNOTATION, path);
	} else if (err) {
		first_problem(problem, sizeof(problem), &d, strerror(-err));
		snprintf(why, why_len, "policy \"%s\" is invalid: %s", name,
			 problem);
	} else if (!policy_selector_matches(p, ann, nann)) {
		snprintf(why, why_len,
			 "policy \"%s\" has a selector this container's "
			 "annotations do not match",
			 name);
		policy_free(p);
		err = -EPERM;
	} else {
		sel->how = POLICY_BY_ANNOTATION;
		sel->policy = p;
	}
	diags_free(&d);
	return err;
}

static int select_by_selector(int dir_fd, const char *dir_path,
			      const struct oci_annotation *ann, size_t nann,
			      struct policy_selection *sel, char *why,
			      size_t why_len)
{
	struct policy_set set;
	struct policy *match = NULL, *fallback = NULL;
	struct diags d = {};
	char problem[1024];
	int err;

	/* Fail closed: a file that does not load might have matched. */
	err = policy_set_load(dir_fd, dir_path, &set, &d);
	if (err) {
		first_problem(problem, sizeof(problem), &d, strerror(-err));
		snprintf(why, why_len, "cannot choose a policy: %s", problem);
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		struct policy *p = set.policies[i];

		if (p->nselector && policy_selector_matches(p, ann, nann)) {
			if (match) {
				snprintf(why, why_len,
					 "cannot choose a policy: the "
					 "selectors of \"%s\" and \"%s\" both "
					 "match this container",
					 match->name, p->name);
				err = -EINVAL;
				goto out;
			}
			match = p;
		} else if (!strcmp(p->name, POLICY_DEFAULT_NAME) &&
			   policy_selector_matches(p, ann, nann)) {
			fallback = p;
		}
	}
	sel->how = match      ? POLICY_BY_SELECTOR
		   : fallback ? POLICY_BY_DEFAULT
			      : POLICY_NONE;
	sel->policy = match ? match : fallback;
	/* Hand the chosen policy over: the set must not free it. */
	for (size_t i = 0; i < set.n; i++)
		if (set.policies[i] == sel->policy)
			set.policies[i] = set.policies[--set.n];
out:
	policy_set_free(&set);
	diags_free(&d);
	return err;
}

int policy_select(int dir_fd, const char *dir_path,
		  const struct oci_annotation *ann, size_t nann,
		  struct policy_selection *sel, char *why, size_t why_len)
{
	memset(sel, 0, sizeof(*sel));
	sel->how = POLICY_NONE;
	for (size_t i = 0; i < nann; i++)
		if (!strcmp(ann[i].key, POLICY_ANNOTATION))
			return select_named(dir_fd, dir_path, ann[i].value, ann,
					    nann, sel, why, why_len);
	return select_by_selector(dir_fd, dir_path, ann, nann, sel, why,
				  why_len);
}
