// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Address set files (sets/NAME.txt): parsing, reading, editing, a cache. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "addr_set.h"
#include "util.h"

/* Past this many, errors are counted but not listed (as in policies). */
#define SET_MAX_ERRORS 100

void file_version_of(struct file_version *v, const struct stat *st)
{
	*v = (struct file_version){.dev = st->st_dev,
				   .ino = st->st_ino,
				   .size = st->st_size,
				   .mtime = st->st_mtim,
				   .ctime = st->st_ctim};
}

bool file_version_same(const struct file_version *v, const struct stat *st)
{
	return v->dev == st->st_dev && v->ino == st->st_ino &&
	       v->size == st->st_size &&
	       v->mtime.tv_sec == st->st_mtim.tv_sec &&
	       v->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       v->ctime.tv_sec == st->st_ctim.tv_sec &&
	       v->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

struct set_parse {
	const char *path;
	struct diags *d;
	unsigned int nerrors;
};

static void set_error(struct set_parse *sp, unsigned int line, unsigned int col,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_error(struct set_parse *sp, unsigned int line, unsigned int col,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (sp->nerrors++ >= SET_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add(sp->d, sp->path, (struct src_pos){line, col}, "%s", msg);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (without its newline): an entry into *c, or nothing (0/1). */
static int parse_line(struct set_parse *sp, const char *line, size_t len,
		      unsigned int lineno, struct policy_cidr *c)
{
	const char *hash = memchr(line, '#', len);
	size_t start = 0, end = hash ? (size_t)(hash - line) : len, tok_end;
	char token[128], why[256];

	while (start < end && is_blank(line[start]))
		start++;
	while (end > start && is_blank(line[end - 1]))
		end--;
	if (start == end)
		return 0;
	for (tok_end = start; tok_end < end && !is_blank(line[tok_end]);
	     tok_end++)
		;
	if (tok_end < end) {
		size_t next = tok_end;

		while (is_blank(line[next]))
			next++;
		set_error(sp, lineno, next + 1,
			  "one address or CIDR per line; \"%.*s\" follows "
			  "\"%.*s\" (a comment starts with '#')",
			  (int)(end - next > 32 ? 32 : end - next), line + next,
			  (int)(tok_end - start > 64 ? 64 : tok_end - start),
			  line + start);
		return -EINVAL;
	}
	if (end - start >= sizeof(token)) {
		set_error(sp, lineno, start + 1,
			  "\"%.64s...\" is not an IPv4 or IPv6 address or CIDR",
			  line + start);
		return -EINVAL;
	}
	memcpy(token, line + start, end - start);
	token[end - start] = '\0';
	if (policy_parse_cidr(token, c, why, sizeof(why))) {
		set_error(sp, lineno, start + 1, "%s", why);
		return -EINVAL;
	}
	c->pos = (struct src_pos){lineno, start + 1};
	return 1;
}

/* Lines of text: how many, for the entries array. */
static size_t count_lines(const char *text, size_t len)
{
	size_t n = 1;

	for (const char *p = text; (p = memchr(p, '\n', text + len - p)); p++)
		n++;
	return n;
}

int addr_set_parse(const char *path, const char *name, const char *text,
		   size_t len, struct addr_set **out, struct diags *d)
{
	struct set_parse sp = {.path = path, .d = d};
	struct addr_set *s;
	unsigned int lineno = 0;
	size_t at = 0;

	*out = NULL;
	if (len > POLICY_MAX_FILE_SIZE) {
		diags_add(d, path, (struct src_pos){0},
			  "file is larger than the %u MiB limit",
			  POLICY_MAX_FILE_SIZE >> 20);
		return -EFBIG;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->refs = 1;
	s->name = strdup(name);
	s->path = strdup(path ? path : name);
	s->source = malloc(len + 1);
	s->entries = calloc(count_lines(text, len), sizeof(*s->entries));
	if (!s->name || !s->path || !s->source || !s->entries)
		goto oom;
	memcpy(s->source, text, len);
	s->source[len] = '\0';
	s->source_len = len;

	while (at < len || (at == len && !lineno)) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t line_len = nl ? (size_t)(nl - text - at) : len - at;
		const char *nul = memchr(text + at, '\0', line_len);

		lineno++;
		if (nul)
			set_error(&sp, lineno, nul - (text + at) + 1,
				  "unexpected NUL byte");
		else if (parse_line(&sp, text + at, line_len, lineno,
				    &s->entries[s->nentries]) > 0)
			s->nentries++;
		at += line_len + 1;
	}
	if (sp.nerrors > SET_MAX_ERRORS)
		diags_add(d, path, (struct src_pos){0},
			  "%u more errors not shown",
			  sp.nerrors - SET_MAX_ERRORS);
	if (sp.nerrors) {
		addr_set_free(s);
		return -EINVAL;
	}
	*out = s;
	return 0;

oom:
	addr_set_free(s);
	diags_add(d, path, (struct src_pos){0}, "out of memory");
	return -ENOMEM;
}

int addr_set_open_dir(int dir_fd)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dir_fd, ADDR_SET_DIR, &how,
			      sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* "DIR/sets/NAME.txt" for messages. */
static void set_display_path(char *buf, size_t len, const char *dir_path,
			     const char *name)
{
	size_t n = dir_path ? strlen(dir_path) : 0;

	snprintf(buf, len, "%s%s%s%s", n ? dir_path : "",
		 n && dir_path[n - 1] != '/' ? "/" : "", name, ADDR_SET_SUFFIX);
}

/* Opens and reads NAME.txt; st: its fstat. */
static int read_set_file(int sets_fd, const char *name, char **text,
			 size_t *len, struct stat *st)
{
	char file[CGF_NAME_LEN + sizeof(ADDR_SET_SUFFIX)];
	struct bounded_read how = {.max = POLICY_MAX_FILE_SIZE};
	_cleanup_close_ int fd = -1;
	int err;

	if (!policy_name_valid(name))
		return -EINVAL;
	snprintf(file, sizeof(file), "%s%s", name, ADDR_SET_SUFFIX);
	err = open_file_beneath(sets_fd, file, POLICY_MAX_FILE_SIZE, &fd, st);
	if (err)
		return err;
	how.size_hint = st->st_size;
	return read_fd_bounded(fd, &how, text, len);
}

static int load_with_stat(int sets_fd, const char *dir_path, const char *name,
			  struct addr_set **out, struct stat *st,
			  struct diags *d)
{
	_cleanup_free_ char *text = NULL;
	char path[4096];
	size_t len = 0;
	int err;

	*out = NULL;
	set_display_path(path, sizeof(path), dir_path, name);
	err = read_set_file(sets_fd, name, &text, &len, st);
	if (err == -ENOENT)
		return err;
	if (err) {
		diags_add(d, path, (struct src_pos){0}, "%s",
			  beneath_error_text(err));
		return err;
	}
	err = addr_set_parse(path, name, text, len, out, d);
	if (!err)
		file_version_of(&(*out)->version, st);
	return err;
}

int addr_set_load_at(int sets_fd, const char *dir_path, const char *name,
		     struct addr_set **out, struct diags *d)
{
	struct stat st;

	return load_with_stat(sets_fd, dir_path, name, out, &st, d);
}

struct addr_set *addr_set_ref(struct addr_set *s)
{
	s->refs++;
	return s;
}

void addr_set_free(struct addr_set *s)
{
	if (!s || --s->refs > 0)
		return;
	free(s->name);
	free(s->path);
	free(s->entries);
	free(s->source);
	free(s);
}

static bool cidr_equal(const struct policy_cidr *a, const struct policy_cidr *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static const struct policy_cidr *find_in(const struct policy_cidr *list,
					 size_t n, const struct policy_cidr *c)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_equal(&list[i], c))
			return &list[i];
	return NULL;
}

const struct policy_cidr *addr_set_find(const struct addr_set *s,
					const struct policy_cidr *c)
{
	return find_in(s->entries, s->nentries, c);
}

void addr_set_cidr_text(const struct policy_cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned int bits = c->family == 4 ? 32 : 128;

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr,
		  sizeof(addr));
	if (c->prefixlen == bits)
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, "%s/%u", addr, c->prefixlen);
}

int addr_set_format(const struct addr_set *s, const struct policy_cidr *add,
		    size_t nadd, const struct policy_cidr *del, size_t ndel,
		    char **out, size_t *out_len)
{
	/* Each added entry: at most an IPv6 address, "/128" and "\n". */
	size_t cap = s->source_len + 2 + nadd * (INET6_ADDRSTRLEN + 6);
	const char *text = s->source;
	size_t at = 0, used = 0, next_entry = 0;
	unsigned int lineno = 0;
	char *buf = malloc(cap);

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	while (at < s->source_len) {
		const char *nl = memchr(text + at, '\n', s->source_len - at);
		size_t line_len =
			nl ? (size_t)(nl - text - at) + 1 : s->source_len - at;
		bool drop = false;

		lineno++;
		/* Entries are in file order, at most one per line. */
		if (next_entry < s->nentries &&
		    s->entries[next_entry].pos.line == lineno)
			drop = find_in(del, ndel, &s->entries[next_entry++]);
		if (!drop) {
			memcpy(buf + used, text + at, line_len);
			used += line_len;
		}
		at += line_len;
	}
	if (used && buf[used - 1] != '\n')
		buf[used++] = '\n';
	for (size_t i = 0; i < nadd; i++) {
		char entry[INET6_ADDRSTRLEN + 5];

		if (addr_set_find(s, &add[i]) || find_in(add, i, &add[i]))
			continue;
		addr_set_cidr_text(&add[i], entry, sizeof(entry));
		used += snprintf(buf + used, cap - used, "%s\n", entry);
	}
	buf[used] = '\0';
	*out = buf;
	if (out_len)
		*out_len = used;
	return 0;
}

/* ---- The cache of one load pass ---- */

struct cached_set {
	char *name;
	struct file_version version;
	struct addr_set *set; /* one reference; NULL: the file was invalid */
	int err;
	int open_err; /* it could not be opened (version unknown) */
};

struct addr_set_cache {
	struct cached_set *items;
	size_t n, cap;
};

struct addr_set_cache *addr_set_cache_new(void)
{
	return calloc(1, sizeof(struct addr_set_cache));
}

void addr_set_cache_free(struct addr_set_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].name);
		addr_set_free(c->items[i].set);
	}
	free(c->items);
	free(c);
}

static struct cached_set *cache_find(struct addr_set_cache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->items[i].name, name))
			return &c->items[i];
	return NULL;
}

/* Remembers the outcome; out of memory only means it is not remembered. */
static void cache_store(struct addr_set_cache *c, const char *name,
			const struct stat *st, struct addr_set *set, int err,
			int open_err)
{
	struct cached_set *slot = cache_find(c, name);

	if (!slot) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			struct cached_set *items =
				reallocarray(c->items, cap, sizeof(*items));

			if (!items)
				return;
			c->items = items;
			c->cap = cap;
		}
		slot = &c->items[c->n];
		*slot = (struct cached_set){.name = strdup(name)};
		if (!slot->name)
			return;
		c->n++;
	}
	addr_set_free(slot->set);
	file_version_of(&slot->version, st);
	slot->set = set ? addr_set_ref(set) : NULL;
	slot->err = err;
	slot->open_err = open_err;
}

int addr_set_get(const struct addr_set_source *source, const char *name,
		 struct addr_set **out, struct diags *d)
{
	_cleanup_close_ int fd = -1;
	struct cached_set *hit;
	char file[CGF_NAME_LEN + sizeof(ADDR_SET_SUFFIX)];
	struct stat st = {0};
	int err;

	*out = NULL;
	if (!source || source->dir_fd < 0)
		return -ENOENT;
	if (!source->cache)
		return addr_set_load_at(source->dir_fd, source->dir_path, name,
					out, d);
	if (!policy_name_valid(name))
		return -EINVAL;
	/* Same version as the one read earlier in this pass: reuse it. */
	snprintf(file, sizeof(file), "%s%s", name, ADDR_SET_SUFFIX);
	err = open_file_beneath(source->dir_fd, file, POLICY_MAX_FILE_SIZE, &fd,
				&st);
	if (err == -ENOENT)
		return err;
	hit = cache_find(source->cache, name);
	if (hit &&
	    (err ? hit->open_err == err
		 : !hit->open_err && file_version_same(&hit->version, &st))) {
		if (hit->set)
			*out = addr_set_ref(hit->set);
		return hit->err;
	}
	if (err) {
		char path[4096];

		set_display_path(path, sizeof(path), source->dir_path, name);
		diags_add(d, path, (struct src_pos){0}, "%s",
			  beneath_error_text(err));
		cache_store(source->cache, name, &st, NULL, err, err);
		return err;
	}
	err = load_with_stat(source->dir_fd, source->dir_path, name, out, &st,
			     d);
	if (err != -ENOMEM && err != -ENOENT)
		cache_store(source->cache, name, &st, *out, err, 0);
	return err;
}
