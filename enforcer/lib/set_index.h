/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The entries of one address set file (addr_set.h), sorted, for `cgfence
 * set add|del` to look up and change without reading and parsing the
 * file again. Kept in the run directory of the pinned state, one file per
 * set file, valid only for the version of the set file it names
 * (file_version: same inode, size and times): a set file replaced or
 * edited by anyone else makes it stale, and the command takes its full
 * path. Mapped and changed where it lies; seq is odd while a change is
 * under way, so one left half-done is never trusted. Pure: no kernel.
 */
#ifndef CGFENCE_SET_INDEX_H
#define CGFENCE_SET_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "addr_set.h"

struct set_index_entry {
	uint8_t family;
	uint8_t prefixlen;
	uint16_t copies; /* lines of the file with this entry */
	uint8_t addr[16];
};

struct set_index {
	struct set_index_header *h;
	struct set_index_entry *entries; /* h->count of them, sorted */
	size_t len;
	int fd;
};

/* "setindex-KEY-NAME": KEY of the policy directory, as policy_store.h. */
int set_index_name(const char *policy_dir, const char *set, char *buf,
		   size_t len);

/* Writes the index of n entries (file order, copies allowed) for the set
 * file at version v, in one rename. */
int set_index_write(int dir_fd, const char *name, const struct policy_cidr *c,
		    size_t n, const struct file_version *version);

/* 0, -ENOENT, -EBADMSG (damaged or half-changed), -errno. */
int set_index_open(struct set_index *ix, int dir_fd, const char *name);
void set_index_close(struct set_index *ix);

/* The index is of the set file as stat() finds it now. */
bool set_index_current(const struct set_index *ix, const struct stat *st);
/* The index is of that version of the set file. */
bool set_index_is(const struct set_index *ix, const struct file_version *v);
size_t set_index_count(const struct set_index *ix);
/* The entry equal to c, or NULL. */
const struct set_index_entry *set_index_find(const struct set_index *ix,
					     const struct policy_cidr *c);

/*
 * Adds (del false) or removes c[0..n), which the index has not (has, once
 * each), and names the set file's new version. -ENOSPC when the file has
 * no room for them: the caller writes it anew.
 */
int set_index_change(struct set_index *ix, const struct policy_cidr *c,
		     size_t n, bool del, const struct file_version *version);

#endif
