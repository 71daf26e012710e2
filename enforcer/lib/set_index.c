// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A set file's entries, sorted and mapped; see set_index.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "set_index.h"
#include "util.h"

#define INDEX_MAGIC "CGFSIX1"

struct set_index_header {
	char magic[8];
	uint64_t seq;
	uint64_t count, cap;
	uint64_t dev, ino;
	int64_t size;
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint8_t reserved[40];
};
_Static_assert(sizeof(struct set_index_header) == 128, "index header");
_Static_assert(sizeof(struct set_index_entry) == 20, "index entry");

int set_index_name(const char *policy_dir, const char *set, char *buf,
		   size_t len)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	size_t n;

	sha256_init(&ctx);
	sha256_update(&ctx, strlen(policy_dir), (const uint8_t *)policy_dir);
	sha256_digest(&ctx, sizeof(digest), digest);
	n = snprintf(buf, len, "setindex-");
	for (int i = 0; i < 8 && n < len; i++)
		n += snprintf(buf + n, len - n, "%02x", digest[i]);
	if (n < len)
		n += snprintf(buf + n, len - n, "-%s", set);
	return n < len ? 0 : -ENAMETOOLONG;
}

static int entry_cmp(const struct set_index_entry *a,
		     const struct set_index_entry *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r;
	return a->prefixlen < b->prefixlen ? -1 : a->prefixlen > b->prefixlen;
}

static int entry_qsort_cmp(const void *a, const void *b)
{
	return entry_cmp(a, b);
}

static void entry_of(struct set_index_entry *e, const struct policy_cidr *c)
{
	memset(e, 0, sizeof(*e));
	e->family = c->family;
	e->prefixlen = c->prefixlen;
	e->copies = 1;
	memcpy(e->addr, c->addr, sizeof(e->addr));
}

static void version_into(struct set_index_header *h,
			 const struct file_version *v)
{
	h->dev = v->dev;
	h->ino = v->ino;
	h->size = v->size;
	h->mtime_sec = v->mtime.tv_sec;
	h->mtime_nsec = v->mtime.tv_nsec;
	h->ctime_sec = v->ctime.tv_sec;
	h->ctime_nsec = v->ctime.tv_nsec;
}

static size_t index_size(uint64_t cap)
{
	return sizeof(struct set_index_header) +
	       cap * sizeof(struct set_index_entry);
}

int set_index_write(int dir_fd, const char *name, const struct policy_cidr *c,
		    size_t n, const struct file_version *version)
{
	size_t cap = n + n / 8 + 64, count = 0;
	struct set_index_header *h;
	struct set_index_entry *e;
	char *buf = calloc(1, index_size(cap));
	int err;

	if (!buf)
		return -ENOMEM;
	h = (struct set_index_header *)buf;
	e = (struct set_index_entry *)(buf + sizeof(*h));
	for (size_t i = 0; i < n; i++)
		entry_of(&e[i], &c[i]);
	qsort(e, n, sizeof(*e), entry_qsort_cmp);
	/* Listed twice means what it means once; del removes every copy. */
	for (size_t i = 0; i < n; i++) {
		if (count && !entry_cmp(&e[count - 1], &e[i])) {
			if (e[count - 1].copies < UINT16_MAX)
				e[count - 1].copies++;
			continue;
		}
		e[count++] = e[i];
	}
	memcpy(h->magic, INDEX_MAGIC, sizeof(h->magic));
	h->count = count;
	h->cap = cap;
	version_into(h, version);
	err = write_file_at(dir_fd, name, buf, index_size(cap), 0600);
	free(buf);
	return err;
}

void set_index_close(struct set_index *ix)
{
	if (ix->h)
		munmap(ix->h, ix->len);
	if (ix->fd >= 0)
		close(ix->fd);
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
}

int set_index_open(struct set_index *ix, int dir_fd, const char *name)
{
	struct stat st;
	int err;

	memset(ix, 0, sizeof(*ix));
	ix->fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (ix->fd < 0)
		return -errno;
	if (fstat(ix->fd, &st)) {
		err = -errno;
		goto fail;
	}
	err = -EBADMSG;
	if ((size_t)st.st_size < sizeof(struct set_index_header))
		goto fail;
	ix->len = st.st_size;
	ix->h = mmap(NULL, ix->len, PROT_READ | PROT_WRITE, MAP_SHARED, ix->fd,
		     0);
	if (ix->h == MAP_FAILED) {
		ix->h = NULL;
		err = -errno;
		goto fail;
	}
	if (memcmp(ix->h->magic, INDEX_MAGIC, sizeof(ix->h->magic)) ||
	    (ix->h->seq & 1) || ix->h->count > ix->h->cap ||
	    index_size(ix->h->cap) != ix->len)
		goto fail;
	ix->entries = (struct set_index_entry *)(ix->h + 1);
	return 0;
fail:
	set_index_close(ix);
	return err;
}

bool set_index_current(const struct set_index *ix, const struct stat *st)
{
	const struct set_index_header *h = ix->h;

	return h->dev == st->st_dev && h->ino == st->st_ino &&
	       h->size == st->st_size && h->mtime_sec == st->st_mtim.tv_sec &&
	       h->mtime_nsec == st->st_mtim.tv_nsec &&
	       h->ctime_sec == st->st_ctim.tv_sec &&
	       h->ctime_nsec == st->st_ctim.tv_nsec;
}

bool set_index_is(const struct set_index *ix, const struct file_version *v)
{
	const struct set_index_header *h = ix->h;

	return h->dev == (uint64_t)v->dev && h->ino == (uint64_t)v->ino &&
	       h->size == v->size && h->mtime_sec == v->mtime.tv_sec &&
	       h->mtime_nsec == v->mtime.tv_nsec &&
	       h->ctime_sec == v->ctime.tv_sec &&
	       h->ctime_nsec == v->ctime.tv_nsec;
}

size_t set_index_count(const struct set_index *ix)
{
	return ix->h->count;
}

/* The first entry not before e. */
static size_t lower_bound(const struct set_index *ix,
			  const struct set_index_entry *e)
{
	size_t lo = 0, hi = ix->h->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_cmp(&ix->entries[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct set_index_entry *set_index_find(const struct set_index *ix,
					     const struct policy_cidr *c)
{
	struct set_index_entry e;
	size_t at;

	entry_of(&e, c);
	at = lower_bound(ix, &e);
	return at < ix->h->count && !entry_cmp(&ix->entries[at], &e)
		       ? &ix->entries[at]
		       : NULL;
}

int set_index_change(struct set_index *ix, const struct policy_cidr *c,
		     size_t n, bool del, const struct file_version *version)
{
	struct set_index_header *h = ix->h;

	if (!del && h->count + n > h->cap)
		return -ENOSPC;
	h->seq++; /* odd: not to be trusted until the end */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (size_t i = 0; i < n; i++) {
		struct set_index_entry e;
		size_t at;
		bool in;

		entry_of(&e, &c[i]);
		at = lower_bound(ix, &e);
		in = at < h->count && !entry_cmp(&ix->entries[at], &e);
		if (in == !del)
			continue; /* the caller checked: cannot happen */
		if (del) {
			memmove(&ix->entries[at], &ix->entries[at + 1],
				(h->count - at - 1) * sizeof(e));
			h->count--;
		} else {
			memmove(&ix->entries[at + 1], &ix->entries[at],
				(h->count - at) * sizeof(e));
			ix->entries[at] = e;
			h->count++;
		}
	}
	version_into(h, version);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->seq++;
	return 0;
}
