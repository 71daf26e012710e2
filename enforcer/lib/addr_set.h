/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Named address sets: the file sets/NAME.txt next to the policies, which a
 * rule names with "@NAME" in its "to" or "from" list. Pure: no kernel, no
 * libbpf; files are opened below a directory fd.
 *
 * Format: one IPv4 or IPv6 address or CIDR per line, checked like the
 * addresses of a policy (policy_parse_cidr(): no host bits, no IPv4-mapped
 * IPv6); "#" starts a comment that runs to the end of the line; blank
 * lines and spaces or tabs around an entry are ignored. An entry listed
 * twice means what it means once, as in a rule's own list. An empty set
 * is valid: a rule whose addresses are only empty sets matches nothing.
 *
 *     # blocklist.txt: from the abuse feed, 2026-11-25
 *     203.0.113.0/24
 *     198.51.100.7      # one host
 *     2001:db8:bad::/48
 */
#ifndef CGFENCE_ADDR_SET_H
#define CGFENCE_ADDR_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "diag.h"
#include "policy.h"

#define ADDR_SET_DIR	"sets"
#define ADDR_SET_SUFFIX ".txt"

/* What identifies a file's version: same inode, size, mtime, ctime. */
struct file_version {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

void file_version_of(struct file_version *v, const struct stat *st);
bool file_version_same(const struct file_version *v, const struct stat *st);

struct addr_set {
	char *name; /* policy_name_valid() */
	char *path; /* "DIR/sets/NAME.txt", for messages */
	/* In file order; pos: line and column in the set file. */
	struct policy_cidr *entries;
	size_t nentries;
	/* The file's text, as parsed (to save it, or to edit it). */
	char *source;
	size_t source_len;
	/* Of the file it was read from (addr_set_load_at()); else zero. */
	struct file_version version;
	unsigned int refs;
};

/*
 * Parses a set's text. On success 0 and *out (one reference). On invalid
 * input -EINVAL with every problem appended to d as "PATH:LINE:COL:
 * message"; -EFBIG past POLICY_MAX_FILE_SIZE, -ENOMEM.
 */
int addr_set_parse(const char *path, const char *name, const char *text,
		   size_t len, struct addr_set **out, struct diags *d);

/*
 * Reads sets_fd/NAME.txt below sets_fd (the sets/ directory; a symbolic
 * link is followed only while it stays below it), a regular file of at
 * most POLICY_MAX_FILE_SIZE. dir_path is "DIR/sets" for messages. Returns
 * -ENOENT without a message when the file does not exist (the caller
 * knows where it was named); other errors are also written to d.
 */
int addr_set_load_at(int sets_fd, const char *dir_path, const char *name,
		     struct addr_set **out, struct diags *d);

/* Opens DIR/sets below dir_fd: the fd, -ENOENT when there is none, -errno. */
int addr_set_open_dir(int dir_fd);

struct addr_set *addr_set_ref(struct addr_set *s);
void addr_set_free(struct addr_set *s);

/* The entry equal to c (family, prefix length, address), or NULL. */
const struct policy_cidr *addr_set_find(const struct addr_set *s,
					const struct policy_cidr *c);

/* "203.0.113.0/24", "198.51.100.7" (a host: no length), "2001:db8::/32". */
void addr_set_cidr_text(const struct policy_cidr *c, char *buf, size_t len);

/*
 * The set's text after an edit, for `cgfence set add|del`: every line of
 * s->source kept as it is (comments, blank lines, order), but a line
 * whose entry is in del is dropped (with a comment on that line); each
 * entry of add not in the set yet (nor earlier in add) is appended on a
 * line of its own, in addr_set_cidr_text() form. A malloc'ed text in *out.
 */
int addr_set_format(const struct addr_set *s, const struct policy_cidr *add,
		    size_t nadd, const struct policy_cidr *del, size_t ndel,
		    char **out, size_t *out_len);

/*
 * Sets already read during one load pass (policy_set_load(), a directory
 * check): a set that several policies name is read and parsed once, and
 * the problems of an invalid one are reported once. A set is reused only
 * while its file is the same version. Not meant to live longer than a
 * pass: a file changed twice within one timestamp tick looks unchanged.
 */
struct addr_set_cache;
struct addr_set_cache *addr_set_cache_new(void);
void addr_set_cache_free(struct addr_set_cache *c);
static inline void addr_set_cache_freep(struct addr_set_cache **c)
{
	addr_set_cache_free(*c);
}

/* Where a policy's "@NAME" references are resolved. */
struct addr_set_source {
	int dir_fd;	      /* the sets/ directory, or -1: there is none */
	const char *dir_path; /* "DIR/sets", for messages */
	struct addr_set_cache *cache; /* or NULL */
};

/*
 * addr_set_load_at() through source's cache. -ENOENT (no message) when
 * the source has no directory or no such file; -EINVAL when the set is
 * invalid (its problems go to d the first time only).
 */
int addr_set_get(const struct addr_set_source *source, const char *name,
		 struct addr_set **out, struct diags *d);

#endif
