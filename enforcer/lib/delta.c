// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Planning in-place policy changes; see delta.h for the protocol. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"
#include "hashtab.h"
#include "util.h"

#define NEW_KEY	    UINT32_MAX
#define STATE_MAGIC "CGFTBL2"

static const struct cgf_rule_mask no_rules;

static bool mask_equal(const struct cgf_rule_mask *a,
		       const struct cgf_rule_mask *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static int alloc_banks(struct table_state *s)
{
	for (int b = 0; b < 2; b++) {
		s->banks[b] = calloc(s->class_cap, sizeof(*s->banks[b]));
		if (!s->banks[b])
			return -ENOMEM;
	}
	s->refs = calloc(s->class_cap ? s->class_cap : 1, sizeof(*s->refs));
	return s->refs ? 0 : -ENOMEM;
}

void table_state_free(struct table_state *s)
{
	free(s->entries);
	free(s->banks[0]);
	free(s->banks[1]);
	free(s->refs);
	memset(s, 0, sizeof(*s));
}

int table_state_init(struct table_state *s, const struct compiled_policy *cp,
		     uint32_t policy_id)
{
	memset(s, 0, sizeof(*s));
	s->policy_id = policy_id;
	s->nclasses = cp->nclasses;
	/* Room for the splits and new prefixes of many small changes. */
	s->class_cap = cp->nclasses * 2 + 256;
	s->entry_cap = cp->nentries + cp->nentries / 4 + 256;
	memcpy(s->digest, cp->digest, sizeof(s->digest));
	s->nentries = cp->nentries;
	/* Entries are allocated to capacity: the mirror grows like the trie. */
	s->entries = calloc(s->entry_cap, sizeof(*s->entries));
	if (!s->entries || alloc_banks(s)) {
		table_state_free(s);
		return -ENOMEM;
	}
	/* A policy without network sections has no entries: memcpy from
	 * NULL is undefined even for 0 bytes. */
	if (cp->nentries)
		memcpy(s->entries, cp->entries,
		       cp->nentries * sizeof(*s->entries));
	/* Both banks start equal, so the first change writes only a diff. */
	for (int b = 0; b < 2 && cp->nclasses; b++)
		memcpy(s->banks[b], cp->classes,
		       cp->nclasses * sizeof(*cp->classes));
	for (size_t i = 0; i < cp->nentries; i++)
		s->refs[cp->entries[i].class_id]++;
	return 0;
}

void table_state_view(const struct table_state *s, uint32_t bank,
		      const struct cgf_policy *hdr,
		      struct compiled_policy *view)
{
	memset(view, 0, sizeof(*view));
	view->hdr = *hdr;
	view->entries = s->entries;
	view->nentries = s->nentries;
	view->classes = s->banks[bank & 1];
	view->nclasses = s->nclasses;
}

static const struct cgf_rule_mask *
effective_mask(const struct compiled_policy *c, const struct cgf_lpm_key *key)
{
	uint32_t id = compiled_lookup_class(c, key);

	return id < c->nclasses ? &c->classes[id] : &no_rules;
}

/*
 * (old mask, new mask) -> class id: ids are shared across both banks. A
 * key is one pair of masks; the table's context is the pair of banks being
 * built, where class id's pair is (a[id], b[id]).
 */
struct mask_pair {
	const struct cgf_rule_mask *a, *b;
};

static bool pair_is_class(const void *ctx, uint32_t id, const void *key)
{
	const struct mask_pair *banks = ctx;
	const struct mask_pair *pair = key;

	return mask_equal(&banks->a[id], pair->a) &&
	       mask_equal(&banks->b[id], pair->b);
}

static uint64_t pair_hash(const struct mask_pair *pair)
{
	return hashtab_hash_bytes(
		pair->b, sizeof(*pair->b),
		hashtab_hash_bytes(pair->a, sizeof(*pair->a), 0));
}

struct planner {
	const struct table_state *cur;
	struct delta_plan *plan;
	struct mask_pair banks; /* the banks being built */
	struct hashtab pairs;
	uint8_t *claimed; /* class id has its new-bank mask decided */
	uint8_t *keep;	  /* class id has an entry whose mask stays */
	uint32_t A, I;	  /* active and inactive bank */
};

/* The class for (a, b): an existing one, or a new id (step 1 write). */
static int class_for_pair(struct planner *pl, const struct cgf_rule_mask *a,
			  const struct cgf_rule_mask *b, uint32_t *id_out)
{
	struct table_state *next = &pl->plan->next;
	struct mask_pair pair = {a, b};
	uint64_t hash = pair_hash(&pair);
	uint32_t id = hashtab_find(&pl->pairs, hash, &pair);
	int err;

	if (id != HASHTAB_NONE) {
		*id_out = id;
		return 0;
	}
	if (next->nclasses >= next->class_cap)
		return -ENOSPC;
	id = next->nclasses++;
	next->banks[pl->A][id] = *a;
	next->banks[pl->I][id] = *b;
	pl->claimed[id] = 1;
	err = hashtab_insert(&pl->pairs, hash, id);
	if (err)
		return err;
	pl->plan->active_ids[pl->plan->nactive] = id;
	pl->plan->active_masks[pl->plan->nactive++] = *a;
	*id_out = id;
	return 0;
}

/* An existing entry: keep its class unless that class is now split. */
static int place_existing(struct planner *pl, const struct compiled_entry *e,
			  const struct cgf_rule_mask *b, uint32_t *id_out)
{
	struct table_state *next = &pl->plan->next;
	uint32_t c = e->class_id;

	if (c >= pl->cur->nclasses)
		return -EBADMSG;
	if (!pl->claimed[c]) {
		/* A class some of whose entries keep their mask keeps it:
		 * the others split off, and only they are written. */
		const struct cgf_rule_mask *claim =
			pl->keep && pl->keep[c] ? &next->banks[pl->A][c] : b;
		struct mask_pair pair = {&next->banks[pl->A][c], claim};
		uint64_t hash = pair_hash(&pair);
		int err = 0;

		pl->claimed[c] = 1;
		next->banks[pl->I][c] = *claim;
		*id_out = c;
		if (hashtab_find(&pl->pairs, hash, &pair) == HASHTAB_NONE)
			err = hashtab_insert(&pl->pairs, hash, c);
		if (err || claim == b)
			return err;
	}
	if (mask_equal(&next->banks[pl->I][c], b)) {
		*id_out = c;
		return 0;
	}
	return class_for_pair(pl, &next->banks[pl->A][c], b, id_out);
}

static int plan_alloc(struct delta_plan *plan, const struct table_state *cur,
		      size_t max_entries)
{
	struct table_state *next = &plan->next;

	next->class_cap = cur->class_cap;
	next->entry_cap = cur->entry_cap;
	next->policy_id = cur->policy_id;
	next->nclasses = cur->nclasses;
	next->flipped_ns = cur->flipped_ns;
	next->entries =
		calloc(max_entries ? max_entries : 1, sizeof(*next->entries));
	/* max_entries is the trie's capacity, so the mirror can grow in place. */
	plan->lpm = calloc(max_entries ? max_entries : 1, sizeof(*plan->lpm));
	plan->active_ids = calloc(cur->class_cap, sizeof(*plan->active_ids));
	plan->active_masks =
		calloc(cur->class_cap, sizeof(*plan->active_masks));
	plan->inactive_ids =
		calloc(cur->class_cap, sizeof(*plan->inactive_ids));
	plan->inactive_masks =
		calloc(cur->class_cap, sizeof(*plan->inactive_masks));
	if (!next->entries || !plan->lpm || !plan->active_ids ||
	    !plan->active_masks || !plan->inactive_ids ||
	    !plan->inactive_masks || alloc_banks(next))
		return -ENOMEM;
	for (int b = 0; b < 2; b++)
		memcpy(next->banks[b], cur->banks[b],
		       cur->class_cap * sizeof(*cur->banks[b]));
	return 0;
}

static int plan_entries(struct planner *pl,
			const struct compiled_policy *next_cp,
			const struct compiled_policy *old_view)
{
	const struct table_state *cur = pl->cur;
	struct delta_plan *plan = pl->plan;
	struct table_state *next = &plan->next;
	size_t i = 0, j = 0;
	int err;

	/* Walk the union of both sorted entry lists. */
	while (i < cur->nentries || j < next_cp->nentries) {
		const struct cgf_lpm_key *key;
		const struct compiled_entry *old = NULL;
		int cmp;
		uint32_t id;

		if (i == cur->nentries)
			cmp = 1;
		else if (j == next_cp->nentries)
			cmp = -1;
		else
			cmp = compiled_key_cmp(&cur->entries[i].key,
					       &next_cp->entries[j].key);
		if (cmp <= 0)
			old = &cur->entries[i++];
		if (cmp >= 0)
			j++;
		key = old ? &old->key : &next_cp->entries[j - 1].key;

		if (next->nentries >= next->entry_cap)
			return -ENOSPC;
		if (old) {
			err = place_existing(pl, old,
					     effective_mask(next_cp, key), &id);
		} else {
			err = class_for_pair(pl, effective_mask(old_view, key),
					     effective_mask(next_cp, key), &id);
		}
		if (err)
			return err;
		next->entries[next->nentries].key = *key;
		next->entries[next->nentries++].class_id = id;
		if (!old || old->class_id != id)
			plan->lpm[plan->nlpm++] =
				next->entries[next->nentries - 1];
	}
	return 0;
}

int delta_plan_build(const struct table_state *cur,
		     const struct compiled_policy *next_cp,
		     struct delta_plan *plan)
{
	struct cgf_policy no_hdr = {};
	struct compiled_policy old_view;
	struct planner pl = {.cur = cur, .plan = plan};
	int err;

	memset(plan, 0, sizeof(*plan));
	pl.A = cur->active_bank & 1;
	pl.I = pl.A ^ 1;
	err = plan_alloc(plan, cur, cur->entry_cap);
	if (err)
		goto fail;
	pl.banks = (struct mask_pair){plan->next.banks[pl.A],
				      plan->next.banks[pl.I]};
	/* Sized for every id, so that it never grows. */
	err = hashtab_init(&pl.pairs, cur->class_cap, pair_is_class, &pl.banks);
	if (err)
		goto fail;
	pl.claimed = calloc(cur->class_cap, 1);
	if (!pl.claimed) {
		err = -ENOMEM;
		goto fail;
	}
	table_state_view(cur, pl.A, &no_hdr, &old_view);
	/* Which classes have an entry that keeps its mask (a feed that
	 * replaces 1% of a set leaves 99% of its class as it is). */
	pl.keep = calloc(cur->class_cap, 1);
	if (!pl.keep) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cur->nentries; i++) {
		uint32_t c = cur->entries[i].class_id;

		if (c < cur->nclasses && !pl.keep[c] &&
		    mask_equal(effective_mask(next_cp, &cur->entries[i].key),
			       &cur->banks[pl.A][c]))
			pl.keep[c] = 1;
	}
	err = plan_entries(&pl, next_cp, &old_view);
	if (err)
		goto fail;

	/* Step 2: the inactive bank, where it does not already say so. */
	for (uint32_t id = 0; id < plan->next.nclasses; id++) {
		const struct cgf_rule_mask *want = &plan->next.banks[pl.I][id];

		if (!pl.claimed[id] || mask_equal(want, &cur->banks[pl.I][id]))
			continue;
		plan->inactive_ids[plan->ninactive] = id;
		plan->inactive_masks[plan->ninactive++] = *want;
	}
	plan->next.active_bank = pl.I;
	memcpy(plan->next.digest, next_cp->digest, sizeof(plan->next.digest));
	hashtab_free(&pl.pairs);
	free(pl.claimed);
	free(pl.keep);
	return 0;
fail:
	hashtab_free(&pl.pairs);
	free(pl.claimed);
	free(pl.keep);
	delta_plan_free(plan);
	return err;
}

void delta_plan_free(struct delta_plan *plan)
{
	free(plan->active_ids);
	free(plan->active_masks);
	free(plan->inactive_ids);
	free(plan->inactive_masks);
	free(plan->lpm);
	table_state_free(&plan->next);
	memset(plan, 0, sizeof(*plan));
}

/* ---- the mirror file ---- */

/*
 * Laid out to its capacities (header, entries[entry_cap], two banks of
 * class_cap masks, refs[class_cap]), so that it can be mapped and changed
 * where it lies (table_map_open(): a set change writes a few entries, not
 * the whole file). seq is odd while a change is under way: a process that
 * died in the middle leaves a mirror nobody trusts. sum adds a hash of
 * every entry, mask and count, so a damaged file is refused and a change
 * of a few of them updates it in O(1).
 */
struct state_file_header {
	char magic[8];
	uint64_t seq;
	uint32_t policy_id;
	uint32_t active_bank;
	uint32_t nclasses;
	uint32_t class_cap;
	uint32_t entry_cap;
	uint32_t pad;
	uint64_t flipped_ns;
	uint64_t nentries;
	uint8_t digest[32];
	uint64_t sum;
	uint8_t reserved[32];
};
_Static_assert(sizeof(struct state_file_header) == STATE_HEADER_SIZE,
	       "mirror header size");

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static size_t entries_offset(void)
{
	return STATE_HEADER_SIZE;
}

static size_t bank_offset(uint32_t entry_cap, uint32_t class_cap, int bank)
{
	return align8(entries_offset() +
		      (size_t)entry_cap * sizeof(struct compiled_entry)) +
	       (size_t)bank * class_cap * sizeof(struct cgf_rule_mask);
}

static size_t refs_offset(uint32_t entry_cap, uint32_t class_cap)
{
	return bank_offset(entry_cap, class_cap, 2);
}

static size_t file_size(uint32_t entry_cap, uint32_t class_cap)
{
	return refs_offset(entry_cap, class_cap) +
	       (size_t)class_cap * sizeof(uint32_t);
}

uint64_t table_sum_entry(const struct compiled_entry *e)
{
	return hashtab_hash_u64(hashtab_hash_bytes(e, sizeof(*e), 1));
}

uint64_t table_sum_mask(uint32_t bank, uint32_t id,
			const struct cgf_rule_mask *m)
{
	return hashtab_hash_u64(hashtab_hash_bytes(
		m, sizeof(*m), 2 + bank * 0x100000000ull + id));
}

uint64_t table_sum_ref(uint32_t id, uint32_t refs)
{
	return hashtab_hash_u64(((uint64_t)id << 32 | refs) ^
				0x5bd1e9955bd1e995ull);
}

/* What sum must be for s (every live class id, both banks). */
static uint64_t state_sum(const struct table_state *s)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < s->nentries; i++)
		sum += table_sum_entry(&s->entries[i]);
	for (uint32_t id = 0; id < s->nclasses; id++) {
		sum += table_sum_mask(0, id, &s->banks[0][id]);
		sum += table_sum_mask(1, id, &s->banks[1][id]);
		sum += table_sum_ref(id, s->refs[id]);
	}
	return sum;
}

/* How many entries use each class; 0 or -EBADMSG (an id out of range). */
static int count_refs(const struct table_state *s, uint32_t *refs)
{
	memset(refs, 0, s->class_cap * sizeof(*refs));
	for (size_t i = 0; i < s->nentries; i++) {
		if (s->entries[i].class_id >= s->nclasses)
			return -EBADMSG;
		refs[s->entries[i].class_id]++;
	}
	return 0;
}

static void header_of(const struct table_state *s, struct state_file_header *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->policy_id = s->policy_id;
	h->active_bank = s->active_bank;
	h->nclasses = s->nclasses;
	h->class_cap = s->class_cap;
	h->entry_cap = s->entry_cap;
	h->flipped_ns = s->flipped_ns;
	h->nentries = s->nentries;
	memcpy(h->digest, s->digest, sizeof(h->digest));
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t at)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, at);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
		at += n;
	}
	return 0;
}

int table_state_save(const struct table_state *s, int dir_fd, const char *name)
{
	struct state_file_header h;
	size_t mlen = s->nclasses * sizeof(struct cgf_rule_mask);
	uint32_t *refs = calloc(s->class_cap ? s->class_cap : 1, sizeof(*refs));
	struct table_state counted = *s;
	char tmp[128];
	int fd, err;

	if (!refs)
		return -ENOMEM;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= sizeof(tmp)) {
		free(refs);
		return -ENAMETOOLONG;
	}
	err = count_refs(s, refs);
	if (err) {
		free(refs);
		return err;
	}
	counted.refs = refs;
	header_of(s, &h);
	h.sum = state_sum(&counted);
	fd = openat(dir_fd, tmp,
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0) {
		free(refs);
		return -errno;
	}
	/* The unused capacity stays a hole: the file costs what it holds. */
	if (ftruncate(fd, file_size(s->entry_cap, s->class_cap)))
		err = -errno;
	if (!err)
		err = pwrite_all(fd, &h, sizeof(h), 0);
	if (!err)
		err = pwrite_all(fd, s->entries,
				 s->nentries * sizeof(*s->entries),
				 entries_offset());
	for (int b = 0; b < 2 && !err; b++)
		err = pwrite_all(fd, s->banks[b], mlen,
				 bank_offset(s->entry_cap, s->class_cap, b));
	if (!err)
		err = pwrite_all(fd, refs, s->nclasses * sizeof(*refs),
				 refs_offset(s->entry_cap, s->class_cap));
	free(refs);
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dir_fd, tmp, dir_fd, name))
		err = -errno;
	if (err)
		unlinkat(dir_fd, tmp, 0);
	return err;
}

/* The header is sane and the file as long as its capacities say. */
static int check_header(const struct state_file_header *h, off_t size)
{
	if (memcmp(h->magic, STATE_MAGIC, sizeof(h->magic)) || (h->seq & 1) ||
	    h->nclasses > h->class_cap || h->nentries > h->entry_cap ||
	    h->active_bank > 1 ||
	    (uint64_t)size != file_size(h->entry_cap, h->class_cap))
		return -EBADMSG;
	return 0;
}

static void state_of_header(struct table_state *s,
			    const struct state_file_header *h)
{
	s->policy_id = h->policy_id;
	s->active_bank = h->active_bank;
	s->nclasses = h->nclasses;
	s->class_cap = h->class_cap;
	s->entry_cap = h->entry_cap;
	s->flipped_ns = h->flipped_ns;
	s->nentries = h->nentries;
	memcpy(s->digest, h->digest, sizeof(s->digest));
}

static int pread_exact(int fd, void *buf, size_t len, off_t at)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, at);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EBADMSG;
		p += n;
		len -= n;
		at += n;
	}
	return 0;
}

/* Entries strictly in key order, refs as counted, the sum right. */
static int check_contents(const struct table_state *s, uint64_t want_sum)
{
	uint32_t *refs = calloc(s->class_cap ? s->class_cap : 1, sizeof(*refs));
	int err;

	if (!refs)
		return -ENOMEM;
	err = count_refs(s, refs);
	for (size_t i = 1; !err && i < s->nentries; i++)
		if (compiled_key_cmp(&s->entries[i - 1].key,
				     &s->entries[i].key) >= 0)
			err = -EBADMSG;
	if (!err && memcmp(refs, s->refs, s->nclasses * sizeof(*refs)))
		err = -EBADMSG;
	if (!err && state_sum(s) != want_sum)
		err = -EBADMSG;
	free(refs);
	return err;
}

int table_state_load(struct table_state *s, int dir_fd, const char *name)
{
	_cleanup_close_ int fd =
		openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct state_file_header h;
	struct stat stb;
	size_t mlen;
	int err;

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &stb))
		return -errno;
	err = pread_exact(fd, &h, sizeof(h), 0);
	if (!err)
		err = check_header(&h, stb.st_size);
	if (err)
		return err;
	state_of_header(s, &h);
	s->entries = calloc(h.entry_cap ? h.entry_cap : 1, sizeof(*s->entries));
	if (!s->entries || alloc_banks(s)) {
		table_state_free(s);
		return -ENOMEM;
	}
	mlen = s->nclasses * sizeof(struct cgf_rule_mask);
	err = pread_exact(fd, s->entries, s->nentries * sizeof(*s->entries),
			  entries_offset());
	for (int b = 0; b < 2 && !err; b++)
		err = pread_exact(fd, s->banks[b], mlen,
				  bank_offset(s->entry_cap, s->class_cap, b));
	if (!err)
		err = pread_exact(fd, s->refs, s->nclasses * sizeof(*s->refs),
				  refs_offset(s->entry_cap, s->class_cap));
	if (!err)
		err = check_contents(s, h.sum);
	if (err)
		table_state_free(s);
	return err;
}

/* ---- the mirror mapped, for changes of a few entries ---- */

int table_map_open(struct table_map *m, int dir_fd, const char *name)
{
	struct state_file_header h;
	struct stat stb;
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (m->fd < 0)
		return -errno;
	if (fstat(m->fd, &stb)) {
		err = -errno;
		goto fail;
	}
	err = pread_exact(m->fd, &h, sizeof(h), 0);
	if (!err)
		err = check_header(&h, stb.st_size);
	if (err)
		goto fail;
	m->len = stb.st_size;
	m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd,
		       0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		err = -errno;
		goto fail;
	}
	state_of_header(&m->s, &h);
	m->s.entries =
		(struct compiled_entry *)((char *)m->base + entries_offset());
	for (int b = 0; b < 2; b++)
		m->s.banks[b] =
			(struct cgf_rule_mask *)((char *)m->base +
						 bank_offset(h.entry_cap,
							     h.class_cap, b));
	m->s.refs = (uint32_t *)((char *)m->base +
				 refs_offset(h.entry_cap, h.class_cap));
	m->sum = h.sum;
	return 0;
fail:
	table_map_close(m);
	return err;
}

void table_map_begin(struct table_map *m)
{
	struct state_file_header *h = m->base;

	h->seq++; /* odd: not to be trusted until table_map_end() */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void table_map_end(struct table_map *m)
{
	struct state_file_header *h = m->base;
	uint64_t seq = h->seq;

	header_of(&m->s, h);
	h->sum = m->sum;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->seq = seq + 1;
}

void table_map_close(struct table_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}
