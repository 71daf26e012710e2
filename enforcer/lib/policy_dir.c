// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr_set.h"
#include <cjson/cJSON.h>

#include "policy_dir.h"
#include "util.h"

static const char json_suffix[] = ".json";

/* "DIR/FILE" for messages only; files are opened relative to dir_fd. */
static void display_path(char *buf, size_t len, const char *dir_path,
			 const char *file)
{
	size_t n = strlen(dir_path);

	snprintf(buf, len, "%s%s%s", dir_path,
		 n && dir_path[n - 1] == '/' ? "" : "/", file);
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

struct policy_cache {
	struct parsed_file slots[PARSED_CACHE_SIZE];
	uint64_t use_clock;
};

struct policy_cache *policy_cache_new(void)
{
	return calloc(1, sizeof(struct policy_cache));
}

void policy_cache_free(struct policy_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < PARSED_CACHE_SIZE; i++) {
		free(c->slots[i].path);
		policy_free(c->slots[i].policy);
	}
	free(c);
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

/* Every set file p was built from is still the version it read. */
static bool sets_unchanged(const struct policy *p, int dir_fd)
{
	_cleanup_close_ int sets_fd = -1;

	if (!p->nsets)
		return true;
	sets_fd = addr_set_open_dir(dir_fd);
	if (sets_fd < 0)
		return false;
	for (size_t i = 0; i < p->nsets; i++) {
		char file[CGF_NAME_LEN + sizeof(ADDR_SET_SUFFIX)];
		_cleanup_close_ int fd = -1;
		struct stat st;

		snprintf(file, sizeof(file), "%s%s", p->sets[i]->name,
			 ADDR_SET_SUFFIX);
		if (open_file_beneath(sets_fd, file, POLICY_MAX_FILE_SIZE, &fd,
				      &st) ||
		    !file_version_same(&p->sets[i]->version, &st))
			return false;
	}
	return true;
}

static struct policy *parsed_lookup(struct policy_cache *c, const char *path,
				    const struct stat *st, int dir_fd)
{
	for (size_t i = 0; i < PARSED_CACHE_SIZE; i++) {
		if (same_file(&c->slots[i], path, st) &&
		    sets_unchanged(c->slots[i].policy, dir_fd)) {
			c->slots[i].last_use = ++c->use_clock;
			return policy_ref(c->slots[i].policy);
		}
	}
	return NULL;
}

/*
 * A file changed less than this long ago may change again within the same
 * timestamp tick, unseen: it is parsed every time until it has settled.
 */
#define PARSED_SETTLE_NS (1000ull * 1000 * 1000)

static bool times_settled(const struct timespec *m, const struct timespec *c)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint64_t mtime = (uint64_t)m->tv_sec * 1000000000ull + m->tv_nsec;
	uint64_t ctime = (uint64_t)c->tv_sec * 1000000000ull + c->tv_nsec;
	uint64_t last = mtime > ctime ? mtime : ctime;

	return now > last && now - last >= PARSED_SETTLE_NS;
}

/* The policy file and every set file it read. */
static bool settled(const struct stat *st, const struct policy *p)
{
	if (!times_settled(&st->st_mtim, &st->st_ctim))
		return false;
	for (size_t i = 0; i < p->nsets; i++)
		if (!times_settled(&p->sets[i]->version.mtime,
				   &p->sets[i]->version.ctime))
			return false;
	return true;
}

/* Replaces the entry of the same path, else the least recently used. */
static void parsed_remember(struct policy_cache *c, const char *path,
			    const struct stat *st, struct policy *p)
{
	struct parsed_file *parsed = c->slots, *slot = NULL;
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
	if (!settled(st, p))
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
				     .last_use = ++c->use_clock};
}

/*
 * DIR/NAME.json below dir_fd, its sets in DIR/sets; path is where messages
 * say the file is, dir_path the directory.
 */
static int load_from(int dir_fd, const char *dir_path, const char *path,
		     const char *name, struct policy_cache *cache,
		     struct addr_set_cache *sets_cache, struct policy **out,
		     struct diags *d)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1, sets_fd = -1;
	char sets_path[4096];
	char file[CGF_NAME_LEN + sizeof(json_suffix)];
	struct stat st;
	size_t len = 0;
	int err;

	*out = NULL;
	snprintf(file, sizeof(file), "%s%s", name, json_suffix);
	err = open_file_beneath(dir_fd, file, POLICY_MAX_FILE_SIZE, &fd, &st);
	if (!err && cache && (*out = parsed_lookup(cache, path, &st, dir_fd)))
		return 0;
	if (!err)
		err = read_policy(fd, &st, &text, &len);
	if (err) {
		if (err != -ENOENT)
			diags_add(d, path, (struct src_pos){0}, "%s",
				  beneath_error_text(err));
		return err;
	}
	sets_fd = addr_set_open_dir(dir_fd);
	display_path(sets_path, sizeof(sets_path), dir_path, ADDR_SET_DIR);
	err = policy_parse_at(
		path, text, len,
		&(struct addr_set_source){.dir_fd = sets_fd < 0 ? -1 : sets_fd,
					  .dir_path = sets_path,
					  .cache = sets_cache},
		out, d);
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
	(*out)->source = text;
	(*out)->source_len = len;
	text = NULL;
	if (cache)
		parsed_remember(cache, path, &st, *out);
	return 0;
}

int policy_load_at(const struct policy_dir *dir, const char *name,
		   struct policy **out, struct diags *d)
{
	char path[4096];

	*out = NULL;
	if (!policy_name_valid(name))
		return -EINVAL;
	display_path(path, sizeof(path), dir->path, name);
	strncat(path, json_suffix, sizeof(path) - strlen(path) - 1);
	return load_from(dir->fd, dir->path, path, name, dir->cache,
			 dir->sets_cache, out, d);
}

/*
 * The last good version of NAME, under the file's own path for messages;
 * -ENOENT when none is kept.
 */
static int load_last_good(const struct policy_dir *dir, const char *name,
			  struct policy **out)
{
	struct diags ignored = {};
	char path[4096];
	int err;

	*out = NULL;
	if (dir->last_good_fd < 0)
		return -ENOENT;
	display_path(path, sizeof(path), dir->path, name);
	strncat(path, json_suffix, sizeof(path) - strlen(path) - 1);
	err = load_from(dir->last_good_fd, dir->path, path, name, NULL, NULL,
			out, &ignored);
	diags_free(&ignored);
	if (!err)
		(*out)->last_good = true;
	return err;
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

		/* A JSON Schema for editors beside the policies is none. */
		if (de->d_name[0] == '.' || len <= strlen(json_suffix) ||
		    strcmp(de->d_name + len - strlen(json_suffix),
			   json_suffix) ||
		    policy_path_is_schema(de->d_name))
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

static int note_invalid(struct policy_set *set, const char *name)
{
	char **bigger = realloc(set->invalid,
				(set->ninvalid + 1) * sizeof(*set->invalid));

	if (!bigger)
		return -ENOMEM;
	set->invalid = bigger;
	set->invalid[set->ninvalid] = strdup(name);
	if (!set->invalid[set->ninvalid])
		return -ENOMEM;
	set->ninvalid++;
	return 0;
}

int policy_set_load(const struct policy_dir *dir, struct policy_set *set,
		    struct diags *d)
{
	_cleanup_(addr_set_cache_freep) struct addr_set_cache *pass = NULL;
	struct policy_dir with_sets;
	char **files = NULL;
	size_t nfiles = 0;
	int err, result = 0;

	memset(set, 0, sizeof(*set));
	/* A set that several policies name: read once in this pass. */
	if (!dir->sets_cache) {
		pass = addr_set_cache_new();
		if (!pass)
			return -ENOMEM;
		with_sets = *dir;
		with_sets.sets_cache = pass;
		dir = &with_sets;
	}
	err = list_json_files(dir->fd, &files, &nfiles);
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
			display_path(path, sizeof(path), dir->path, files[i]);
			diags_add(d, path, (struct src_pos){0},
				  "\"%s\" is not a policy name: use a-z, 0-9, "
				  "'.', '_' and '-', starting with a letter or "
				  "digit",
				  name);
			result = -EINVAL;
			continue;
		}
		err = policy_load_at(dir, name, &p, d);
		if (err == -ENOMEM) {
			result = err;
			break;
		}
		if (err) {
			if (err == -ENOENT) { /* removed since the listing */
				display_path(path, sizeof(path), dir->path,
					     files[i]);
				diags_add(d, path, (struct src_pos){0}, "%s",
					  strerror(ENOENT));
			}
			if (note_invalid(set, name)) {
				result = -ENOMEM;
				break;
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

static void free_unknown(struct policy_unknown *u)
{
	free(u->name);
	free(u->path);
	for (size_t i = 0; i < u->nselector; i++) {
		free(u->selector[i].key);
		free(u->selector[i].value);
	}
	free(u->selector);
}

void policy_set_free(struct policy_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		policy_free(set->policies[i]);
	free(set->policies);
	free_names(set->invalid, set->ninvalid);
	for (size_t i = 0; i < set->nunknown; i++)
		free_unknown(&set->unknown[i]);
	free(set->unknown);
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

/* "k1=v1,k2=v2" with the keys sorted: equal for equal selectors. */
static char *selector_key(const struct policy *p)
{
	size_t len = 1, used = 0;
	const char *last = "";
	char *buf;

	for (size_t i = 0; i < p->nselector; i++)
		len += strlen(p->selector[i].key) +
		       strlen(p->selector[i].value) + 2;
	buf = malloc(len);
	if (!buf)
		return NULL;
	buf[0] = '\0';
	/* Selectors are small: choosing the next key each time is enough. */
	for (size_t n = 0; n < p->nselector; n++) {
		const struct policy_selector_entry *next = NULL;

		for (size_t i = 0; i < p->nselector; i++)
			if (strcmp(p->selector[i].key, last) > 0 &&
			    (!next ||
			     strcmp(p->selector[i].key, next->key) < 0))
				next = &p->selector[i];
		if (!next)
			break;
		used += snprintf(buf + used, len - used, "%s%s=%s",
				 used ? "," : "", next->key, next->value);
		last = next->key;
	}
	return buf;
}

struct selector_group {
	char *key;
	const struct policy *first, *second; /* by name */
	size_t members;
};

static int compare_groups(const void *a, const void *b)
{
	const struct selector_group *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->first->name, y->first->name);
}

static void report_overlap(struct diags *d, const struct policy *a,
			   const struct policy *b, size_t more)
{
	char example[512], and_more[64] = "";

	describe_union(example, sizeof(example), a, b);
	if (more)
		snprintf(and_more, sizeof(and_more), " (and %zu more)", more);
	diags_add(d, a->path, (struct src_pos){0},
		  "selector overlaps with policy \"%s\" (%s)%s: a container "
		  "annotated %s would match both",
		  b->name, b->path, and_more, example);
}

/*
 * Policies with equal selectors are grouped first (sorting their keys), so
 * that a directory where thousands share one selector costs n log n and
 * one line; distinct selectors are then compared pairwise: one line for
 * each selector that overlaps later ones.
 */
size_t policy_set_check(const struct policy_set *set, struct diags *d)
{
	struct selector_group *groups;
	size_t n = 0, ngroups = 0, problems = 0;

	groups = calloc(set->n ? set->n : 1, sizeof(*groups));
	if (!groups) {
		diags_add(d, NULL, (struct src_pos){0}, "%s", strerror(ENOMEM));
		return 1;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (!set->policies[i]->nselector)
			continue;
		groups[n].key = selector_key(set->policies[i]);
		groups[n].first = set->policies[i];
		groups[n].members = 1;
		if (!groups[n].key) {
			diags_add(d, NULL, (struct src_pos){0}, "%s",
				  strerror(ENOMEM));
			problems = 1;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(groups, n, sizeof(*groups), compare_groups);
	for (size_t i = 0; i < n; i++) {
		struct selector_group *last =
			ngroups ? &groups[ngroups - 1] : NULL;

		if (last && !strcmp(last->key, groups[i].key)) {
			if (!last->second)
				last->second = groups[i].first;
			last->members++;
			free(groups[i].key);
			continue;
		}
		groups[ngroups++] = groups[i];
	}
	n = ngroups;
	for (size_t i = 0; i < ngroups; i++) {
		const struct selector_group *g = &groups[i];
		const struct policy *other = g->second;
		size_t more = g->members > 1 ? g->members - 2 : 0;

		/* Each pair of groups once, at the first of the two. */
		for (size_t j = i + 1; j < ngroups; j++) {
			if (!selectors_overlap(g->first, groups[j].first))
				continue;
			if (!other) {
				other = groups[j].first;
				more += groups[j].members - 1;
			} else {
				more += groups[j].members;
			}
		}
		if (!other)
			continue;
		report_overlap(d, g->first, other, more);
		problems++;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(groups[i].key);
	free(groups);
	return problems;
}

/* Every key of the selector is among the annotations, with its value. */
static bool selector_entries_match(const struct policy_selector_entry *sel,
				   size_t nsel,
				   const struct oci_annotation *ann,
				   size_t nann)
{
	for (size_t i = 0; i < nsel; i++) {
		bool found = false;

		for (size_t j = 0; j < nann && !found; j++)
			found = !strcmp(ann[j].key, sel[i].key) &&
				!strcmp(ann[j].value, sel[i].value);
		if (!found)
			return false;
	}
	return true;
}

bool policy_selector_matches(const struct policy *p,
			     const struct oci_annotation *ann, size_t nann)
{
	return selector_entries_match(p->selector, p->nselector, ann, nann);
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
	case POLICY_BY_FILE:
		return "file";
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

static int select_named(const struct policy_dir *dir, const char *name,
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
	err = policy_load_at(dir, name, &p, &d);
	/* A broken edit: the last good version serves until it is fixed. */
	if (err && err != -ENOENT && err != -ENOMEM &&
	    load_last_good(dir, name, &p) == 0)
		err = 0;
	if (err == -ENOENT) {
		display_path(path, sizeof(path), dir->path, name);
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
		sel->last_good = p->last_good;
	}
	diags_free(&d);
	return err;
}

static int compare_policy_names(const void *a, const void *b)
{
	return strcmp((*(struct policy *const *)a)->name,
		      (*(struct policy *const *)b)->name);
}

/* Adds the last good version of every file that did not validate. */
/* What can be read of a broken file's selector (struct policy_unknown). */
static int probe_unknown(const struct policy_dir *dir, const char *name,
			 struct policy_unknown *u)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	char file[CGF_NAME_LEN + sizeof(json_suffix)], path[4096];
	const cJSON *sel, *e;
	struct stat st;
	cJSON *root;
	size_t len;

	memset(u, 0, sizeof(*u));
	display_path(path, sizeof(path), dir->path, name);
	strncat(path, json_suffix, sizeof(path) - strlen(path) - 1);
	u->name = strdup(name);
	u->path = strdup(path);
	if (!u->name || !u->path)
		return -ENOMEM;
	snprintf(file, sizeof(file), "%s%s", name, json_suffix);
	if (open_file_beneath(dir->fd, file, POLICY_MAX_FILE_SIZE, &fd, &st) ||
	    read_policy(fd, &st, &text, &len))
		return 0;
	root = cJSON_ParseWithLength(text, len);
	sel = cJSON_GetObjectItemCaseSensitive(root, "selector");
	if (root && !sel) {
		u->selector_known = true; /* none: used only when named */
	} else if (cJSON_IsObject(sel)) {
		size_t n = cJSON_GetArraySize(sel);

		u->selector = calloc(n ? n : 1, sizeof(*u->selector));
		u->selector_known = u->selector != NULL;
		cJSON_ArrayForEach(e, sel)
		{
			if (!cJSON_IsString(e) || !u->selector_known) {
				u->selector_known = false;
				break;
			}
			u->selector[u->nselector].key = strdup(e->string);
			u->selector[u->nselector].value =
				strdup(e->valuestring);
			if (!u->selector[u->nselector].key ||
			    !u->selector[u->nselector].value) {
				u->selector_known = false;
				break;
			}
			u->nselector++;
		}
	}
	cJSON_Delete(root);
	return 0;
}

static int add_last_good_versions(const struct policy_dir *dir,
				  struct policy_set *set)
{
	set->unknown = calloc(set->ninvalid ? set->ninvalid : 1,
			      sizeof(*set->unknown));
	if (!set->unknown)
		return -ENOMEM;
	for (size_t i = 0; i < set->ninvalid; i++) {
		struct policy *p;
		int err = load_last_good(dir, set->invalid[i], &p);

		if (err == -ENOMEM)
			return err;
		if (!err) {
			set->policies[set->n++] = p; /* room: one per file */
			continue;
		}
		err = probe_unknown(dir, set->invalid[i],
				    &set->unknown[set->nunknown++]);
		if (err)
			return err;
	}
	if (set->n)
		qsort(set->policies, set->n, sizeof(*set->policies),
		      compare_policy_names);
	return 0;
}

/* The last good directory as a whole; -ENOENT when none is kept. */
static int load_last_good_set(const struct policy_dir *dir,
			      struct policy_set *set)
{
	struct policy_dir kept = {.fd = dir->last_good_fd, .path = dir->path};
	struct diags ignored = {};
	int err;

	if (dir->last_good_fd < 0)
		return -ENOENT;
	err = policy_set_load(&kept, set, &ignored);
	diags_free(&ignored);
	if (err) {
		policy_set_free(set);
		return err;
	}
	for (size_t i = 0; i < set->n; i++)
		set->policies[i]->last_good = true;
	return 0;
}

int policy_set_resolve(const struct policy_dir *dir, struct policy_set *set,
		       struct diags *d, bool *adopted)
{
	struct policy_set kept;
	struct diags overlaps = {};
	int err;

	*adopted = false;
	err = policy_set_load(dir, set, d);
	if (err == -EINVAL)
		err = add_last_good_versions(dir, set);
	if (err)
		goto fail;
	if (!policy_set_check(set, &overlaps)) {
		*adopted = true;
		return 0;
	}
	diags_move(d, &overlaps);
	/* Overlapping selectors: the last good directory, if there is one. */
	if (load_last_good_set(dir, &kept) == 0) {
		policy_set_free(set);
		*set = kept;
	}
	return 0;
fail:
	diags_free(&overlaps);
	policy_set_free(set);
	return err;
}

int policy_select_in_set(const struct policy_set *set,
			 const struct oci_annotation *ann, size_t nann,
			 struct policy_selection *sel, char *why,
			 size_t why_len)
{
	struct policy *match = NULL, *fallback = NULL;

	memset(sel, 0, sizeof(*sel));
	sel->how = POLICY_NONE;
	for (size_t i = 0; i < nann; i++) {
		if (strcmp(ann[i].key, POLICY_ANNOTATION))
			continue;
		for (size_t j = 0; j < set->n; j++) {
			struct policy *p = set->policies[j];

			if (strcmp(p->name, ann[i].value))
				continue;
			if (!policy_selector_matches(p, ann, nann)) {
				snprintf(why, why_len,
					 "policy \"%s\" has a selector this "
					 "container's annotations do not "
					 "match",
					 p->name);
				return -EPERM;
			}
			sel->how = POLICY_BY_ANNOTATION;
			sel->policy = policy_ref(p);
			sel->last_good = p->last_good;
			return 0;
		}
		snprintf(why, why_len,
			 "policy \"%.80s\" named by annotation %s is not in "
			 "the directory, or never was valid",
			 ann[i].value, POLICY_ANNOTATION);
		return -ENOENT;
	}
	for (size_t i = 0; i < set->n; i++) {
		struct policy *p = set->policies[i];

		if (p->nselector && policy_selector_matches(p, ann, nann)) {
			if (match) {
				snprintf(why, why_len,
					 "cannot choose a policy: the "
					 "selectors of \"%s\" and \"%s\" both "
					 "match this container",
					 match->name, p->name);
				return -EINVAL;
			}
			match = p;
		} else if (!strcmp(p->name, POLICY_DEFAULT_NAME) &&
			   policy_selector_matches(p, ann, nann)) {
			fallback = p;
		}
	}
	/* Fail closed for the containers a broken file may be meant for. */
	for (size_t i = 0; i < set->nunknown; i++) {
		const struct policy_unknown *u = &set->unknown[i];
		bool meant;

		if (!u->selector_known)
			meant = !match; /* default, or unconfined, otherwise */
		else if (u->nselector)
			meant = selector_entries_match(u->selector,
						       u->nselector, ann, nann);
		else
			meant = !match && !strcmp(u->name, POLICY_DEFAULT_NAME);
		if (meant) {
			snprintf(why, why_len,
				 "cannot choose a policy: %s does not validate "
				 "and has no last good version, and it may be "
				 "meant for this container (fix it, or remove "
				 "it)",
				 u->path);
			return -EINVAL;
		}
	}
	sel->how = match      ? POLICY_BY_SELECTOR
		   : fallback ? POLICY_BY_DEFAULT
			      : POLICY_NONE;
	sel->policy = match ? match : fallback;
	if (sel->policy) {
		policy_ref(sel->policy);
		sel->last_good = sel->policy->last_good;
	}
	return 0;
}

/*
 * A file that does not validate takes part with its last good version;
 * one that never was valid takes none (its selector is unknown): the
 * lifecycle log and `cgfence status` show it, and containers that name it
 * are refused.
 */
static int select_by_selector(const struct policy_dir *dir,
			      const struct oci_annotation *ann, size_t nann,
			      struct policy_selection *sel, char *why,
			      size_t why_len)
{
	struct policy_set set;
	struct diags d = {};
	bool adopted;
	int err;

	err = policy_set_resolve(dir, &set, &d, &adopted);
	if (err) {
		char problem[1024];

		first_problem(problem, sizeof(problem), &d, strerror(-err));
		snprintf(why, why_len, "cannot choose a policy: %s", problem);
	} else {
		err = policy_select_in_set(&set, ann, nann, sel, why, why_len);
	}
	policy_set_free(&set);
	diags_free(&d);
	return err;
}

int policy_select(const struct policy_dir *dir,
		  const struct oci_annotation *ann, size_t nann,
		  struct policy_selection *sel, char *why, size_t why_len)
{
	memset(sel, 0, sizeof(*sel));
	sel->how = POLICY_NONE;
	for (size_t i = 0; i < nann; i++)
		if (!strcmp(ann[i].key, POLICY_ANNOTATION))
			return select_named(dir, ann[i].value, ann, nann, sel,
					    why, why_len);
	return select_by_selector(dir, ann, nann, sel, why, why_len);
}
