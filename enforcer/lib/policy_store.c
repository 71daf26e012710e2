// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "addr_set.h"
#include "policy_store.h"
#include "util.h"

#define STORE_ROOT	 "policy-dirs"
#define STORE_ERRORS_MAX (1024 * 1024)

int policy_store_open(int run_fd, const char *policy_dir_path, bool create,
		      int *store_fd)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx sum;
	_cleanup_close_ int root = -1;
	char key[17];
	int fd, err;

	sha256_init(&sum);
	sha256_update(&sum, strlen(policy_dir_path),
		      (const uint8_t *)policy_dir_path);
	sha256_digest(&sum, sizeof(digest), digest);
	for (int i = 0; i < 8; i++)
		snprintf(key + 2 * i, 3, "%02x", digest[i]);
	root = open_dir_below(run_fd, STORE_ROOT, create);
	if (root < 0)
		return root;
	fd = open_dir_below(root, key, create);
	if (fd < 0)
		return fd;
	/* For status: written once, not at every container start. */
	if (create && faccessat(fd, "path", F_OK, AT_SYMLINK_NOFOLLOW)) {
		err = write_file_at(fd, "path", policy_dir_path,
				    strlen(policy_dir_path), 0600);
		if (err) {
			close(fd);
			return err;
		}
	}
	*store_fd = fd;
	return 0;
}

int policy_store_good_fd(int store_fd)
{
	return openat(store_fd, "good",
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* good/sets/ holds the address sets p names, text for text. */
static bool same_sets(int good, const struct policy *p)
{
	_cleanup_close_ int sets = -1;

	if (!p->nsets)
		return true;
	sets = openat(good, "sets",
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sets < 0)
		return false;
	for (size_t i = 0; i < p->nsets; i++) {
		const struct addr_set *set = p->sets[i];
		_cleanup_free_ char *text = NULL;
		char name[300];
		size_t len;

		snprintf(name, sizeof(name), "%s.txt", set->name);
		if (read_file_at(sets, name, POLICY_MAX_FILE_SIZE, &text,
				 &len) ||
		    len != set->source_len || memcmp(text, set->source, len))
			return false;
	}
	return true;
}

/* The address sets p names, into dir/sets/ (made when needed). */
static int save_sets(int dir, const struct policy *p)
{
	_cleanup_close_ int sets = -1;
	int err = 0;

	if (!p->nsets)
		return 0;
	sets = open_dir_below(dir, "sets", true);
	if (sets < 0)
		return sets;
	for (size_t i = 0; i < p->nsets && !err; i++) {
		const struct addr_set *set = p->sets[i];
		char name[300];

		snprintf(name, sizeof(name), "%s.txt", set->name);
		err = set->source ? write_file_at(sets, name, set->source,
						  set->source_len, 0600)
				  : -EINVAL;
	}
	return err;
}

/* Whether good/ holds exactly the policies of set, text for text. */
static bool same_as_good(int store_fd, const struct policy_set *set)
{
	_cleanup_close_ int good = policy_store_good_fd(store_fd);
	size_t files = 0;
	struct dirent *de;
	DIR *d;

	if (good < 0)
		return false;
	for (size_t i = 0; i < set->n; i++) {
		const struct policy *p = set->policies[i];
		_cleanup_free_ char *text = NULL;
		char name[300];
		size_t len;

		snprintf(name, sizeof(name), "%s.json", p->name);
		if (read_file_at(good, name, POLICY_MAX_FILE_SIZE, &text,
				 &len) ||
		    len != p->source_len || memcmp(text, p->source, len))
			return false;
		if (!same_sets(good, p))
			return false;
	}
	d = fdopendir(dup(good));
	if (!d)
		return false;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		files += n > 5 && !strcmp(de->d_name + n - 5, ".json");
	}
	closedir(d);
	return files == set->n;
}

int policy_store_save(int store_fd, const struct policy_set *set)
{
	_cleanup_close_ int next = -1;
	int err = 0;

	if (same_as_good(store_fd, set))
		return 0;
	remove_tree_at(store_fd, "good.next");
	next = open_dir_below(store_fd, "good.next", true);
	if (next < 0)
		return next;
	for (size_t i = 0; i < set->n && !err; i++) {
		const struct policy *p = set->policies[i];
		char name[300];

		snprintf(name, sizeof(name), "%s.json", p->name);
		err = p->source ? write_file_at(next, name, p->source,
						p->source_len, 0600)
				: -EINVAL;
		if (!err)
			err = save_sets(next, p);
	}
	if (err)
		goto fail;
	/*
	 * The previous version stays as good.next until the next save: a
	 * reader that opened good/ just before the swap still finds its files.
	 */
	if (renameat2(store_fd, "good.next", store_fd, "good",
		      RENAME_EXCHANGE) == 0)
		return 1;
	if (errno == ENOENT &&
	    renameat(store_fd, "good.next", store_fd, "good") == 0)
		return 1;
	err = -errno;
fail:
	remove_tree_at(store_fd, "good.next");
	return err;
}

int policy_store_set_errors(int store_fd, const struct diags *d,
			    struct diags *fresh)
{
	_cleanup_free_ char *before = NULL, *now = NULL;
	size_t len = 0;

	if (read_file_at(store_fd, "errors", STORE_ERRORS_MAX, &before, NULL))
		before = NULL;
	for (size_t i = 0; i < d->count; i++) {
		const char *line = d->lines[i];
		size_t n = strlen(line);
		const char *at = before;
		bool seen = false;
		char *grown;

		while (at && !seen && (at = strstr(at, line))) {
			seen = (at == before || at[-1] == '\n') &&
			       (at[n] == '\n' || !at[n]);
			at += n;
		}
		if (!seen)
			diags_add(fresh, NULL, (struct src_pos){0}, "%s", line);
		grown = realloc(now, len + n + 2);
		if (!grown)
			return -ENOMEM;
		now = grown;
		memcpy(now + len, line, n);
		len += n;
		now[len++] = '\n';
		now[len] = '\0';
	}
	if (!len && !before)
		return 0;
	return write_file_at(store_fd, "errors", now ? now : "", len, 0600);
}

uint64_t policy_store_generation(int store_fd)
{
	_cleanup_free_ char *text = NULL;
	unsigned long long n = 0;
	size_t len;

	if (store_fd < 0 ||
	    read_file_at(store_fd, "generation", 64, &text, &len) || !len)
		return 0;
	if (text[len - 1] == '\n')
		text[len - 1] = '\0';
	return parse_uint(text, 0, UINT64_MAX, &n) ? 0 : n;
}

int policy_store_bump_generation(int store_fd)
{
	char text[32];
	int len = snprintf(
		text, sizeof(text), "%llu\n",
		(unsigned long long)policy_store_generation(store_fd) + 1);

	return write_file_at(store_fd, "generation", text, len, 0600);
}

int policy_store_visit(int run_fd, policy_store_visit_fn visit, void *ctx)
{
	_cleanup_close_ int root = open_dir_below(run_fd, STORE_ROOT, false);
	struct dirent *de;
	DIR *d;

	if (root < 0)
		return root == -ENOENT ? 0 : root;
	d = fdopendir(dup(root));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *errors = NULL;
		_cleanup_close_ int fd = -1;

		if (de->d_name[0] == '.')
			continue;
		fd = open_dir_below(root, de->d_name, false);
		if (fd < 0 || read_file_at(fd, "path", 4096, &path, NULL))
			continue;
		if (read_file_at(fd, "errors", STORE_ERRORS_MAX, &errors, NULL))
			errors = NULL;
		visit(path, errors ? errors : "", ctx);
	}
	closedir(d);
	return 0;
}
