// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <bpf/bpf.h>

#include "delta.h"
#include "lpm_write.h"
#include "set_source.h"
#include "tables.h"
#include "util.h"

static int find_by_digest(struct cgf_state *st, const uint8_t digest[32],
			  uint32_t *id_out, struct cgf_policy_info *info)
{
	int fd = st->map_fds[CGF_MAP_POLICY_INFO];
	uint32_t key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, info))
			continue;
		if (!memcmp(info->digest, digest, 32)) {
			*id_out = key;
			return 0;
		}
	}
	return -ENOENT;
}

static int allocate_id(struct cgf_state *st, uint32_t *id_out)
{
	struct cgf_policy_info info;

	for (int tries = 0; tries < 64; tries++) {
		uint32_t id;

		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			return -errno;
		if (id == 0)
			continue;
		if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id,
					&info) &&
		    errno == ENOENT) {
			*id_out = id;
			return 0;
		}
	}
	return -EAGAIN;
}

/* The mirror of a policy's tables lives in the run directory as "%08x". */
static void mirror_name(char buf[16], uint32_t id)
{
	snprintf(buf, 16, "%08x", id);
}

/*
 * The trie is sized to the mirror's capacity, so in-place changes can add
 * prefixes. A policy without network sections still gets one slot: the
 * kernel refuses maps of zero entries. The entries are distinct keys
 * (compile dedupes them) and the trie is new, so every write inserts.
 */
static int create_lpm(const struct table_state *ts, uint32_t id)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	char name[BPF_OBJ_NAME_LEN];
	int fd, err;

	snprintf(name, sizeof(name), "cgf_l_%08x", id);
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name,
			    sizeof(struct cgf_lpm_key), sizeof(uint32_t),
			    ts->entry_cap, &opts);
	if (fd < 0)
		return -errno;
	err = lpm_write_entries(fd, ts->entries, ts->nentries);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Writes masks[i] at ids[i] (or at i when ids is NULL) in one syscall. */
static int write_masks(int fd, const uint32_t *ids,
		       const struct cgf_rule_mask *masks, uint32_t n)
{
	_cleanup_free_ uint32_t *seq = NULL;
	__u32 count = n;

	if (!n)
		return 0;
	if (!ids) {
		seq = malloc(n * sizeof(*seq));
		if (!seq)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			seq[i] = i;
		ids = seq;
	}
	if (bpf_map_update_batch(fd, ids, masks, &count, NULL))
		return -errno;
	return count == n ? 0 : -EIO;
}

static int create_bank(const struct table_state *ts, uint32_t id, uint32_t bank)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
	char name[BPF_OBJ_NAME_LEN];
	int fd, err;

	snprintf(name, sizeof(name), "cgf_c%u_%08x", bank, id);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(uint32_t),
			    sizeof(struct cgf_rule_mask), ts->class_cap, &opts);
	if (fd < 0)
		return -errno;
	err = write_masks(fd, NULL, ts->banks[bank], ts->nclasses);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static uint64_t bank_key(uint32_t id, uint32_t bank)
{
	return ((uint64_t)id << 1) | (bank & 1);
}

static void delete_tables(struct cgf_state *st, uint32_t id)
{
	char mirror[16];

	/* Header first: a program that finds no header fails closed. */
	bpf_map_delete_elem(st->map_fds[CGF_MAP_POLICIES], &id);
	bpf_map_delete_elem(st->map_fds[CGF_MAP_LPM], &id);
	for (uint32_t bank = 0; bank < 2; bank++) {
		uint64_t key = bank_key(id, bank);

		bpf_map_delete_elem(st->map_fds[CGF_MAP_CLASSES], &key);
	}
	bpf_map_delete_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id);
	if (st->run_fd >= 0) {
		mirror_name(mirror, id);
		unlinkat(st->run_fd, mirror, 0);
		set_source_remove(st->run_fd, id);
	}
}

static void fill_info(struct cgf_policy_info *info,
		      const struct compiled_policy *cp, const char *name)
{
	memcpy(info->digest, cp->digest, sizeof(info->digest));
	snprintf(info->name, sizeof(info->name), "%s", name);
	info->mode = cp->hdr.mode;
	info->nentries = cp->nentries;
	info->nclasses = cp->nclasses;
}

static int create_tables(struct cgf_state *st, const struct compiled_policy *cp,
			 const char *name, uint32_t *id_out)
{
	struct cgf_policy_info info = {.refcount = 1};
	_cleanup_close_ int lpm_fd = -1, bank0_fd = -1, bank1_fd = -1;
	uint64_t key0, key1;
	struct table_state ts;
	char mirror[16];
	uint32_t id;
	int err;

	err = allocate_id(st, &id);
	if (err)
		return err;
	err = table_state_init(&ts, cp, id);
	if (err)
		return err;
	lpm_fd = create_lpm(&ts, id);
	bank0_fd = lpm_fd < 0 ? lpm_fd : create_bank(&ts, id, 0);
	bank1_fd = bank0_fd < 0 ? bank0_fd : create_bank(&ts, id, 1);
	if (bank1_fd < 0) {
		table_state_free(&ts);
		return bank1_fd;
	}
	fill_info(&info, cp, name);
	info.created_ns = clock_ns(CLOCK_REALTIME);
	key0 = bank_key(id, 0);
	key1 = bank_key(id, 1);
	if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id, &info,
				BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_LPM], &id, &lpm_fd,
				BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_CLASSES], &key0, &bank0_fd,
				BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_CLASSES], &key1, &bank1_fd,
				BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_POLICIES], &id, &cp->hdr,
				BPF_NOEXIST)) {
		err = -errno;
		delete_tables(st, id);
		table_state_free(&ts);
		return err;
	}
	/* Without its mirror a policy still works; it changes by rebuild. */
	if (st->run_fd >= 0) {
		mirror_name(mirror, id);
		if (table_state_save(&ts, st->run_fd, mirror))
			log_debug("policy %08x: cannot save the table mirror",
				  id);
	}
	table_state_free(&ts);
	*id_out = id;
	return 0;
}

/* An inner map of a map-in-map, by key, as an fd of our own. */
static int inner_map_fd(int outer_fd, const void *key)
{
	uint32_t inner_id;
	int fd;

	if (bpf_map_lookup_elem(outer_fd, key, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	return fd < 0 ? -errno : fd;
}

/* The kernel half of a planned change: writes, then the flip. */
static int apply_plan(struct cgf_state *st, uint32_t id,
		      const struct table_state *cur,
		      const struct delta_plan *plan,
		      const struct cgf_policy *new_hdr,
		      struct tables_change *out)
{
	return tables_write_plan(st, id, cur, plan, new_hdr, out);
}

int tables_write_plan(struct cgf_state *st, uint32_t id,
		      const struct table_state *cur,
		      const struct delta_plan *plan,
		      const struct cgf_policy *new_hdr,
		      struct tables_change *out)
{
	uint64_t key_a = bank_key(id, cur->active_bank);
	uint64_t key_i = bank_key(id, cur->active_bank ^ 1);
	_cleanup_close_ int lpm_fd =
		inner_map_fd(st->map_fds[CGF_MAP_LPM], &id);
	_cleanup_close_ int a_fd =
		inner_map_fd(st->map_fds[CGF_MAP_CLASSES], &key_a);
	_cleanup_close_ int i_fd =
		inner_map_fd(st->map_fds[CGF_MAP_CLASSES], &key_i);
	struct cgf_policy hdr;
	int err;

	if (lpm_fd < 0 || a_fd < 0 || i_fd < 0)
		return -ENOENT;
	if (new_hdr)
		hdr = *new_hdr;
	else if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICIES], &id, &hdr))
		return -errno;
	/*
	 * A program that read the header before the previous flip may still
	 * be using the bank about to be rewritten. Re-inserting that bank's
	 * map makes the kernel wait for every such program (an RCU grace
	 * period); after a second they are long gone anyway.
	 */
	if (plan->ninactive && cur->flipped_ns &&
	    clock_ns(CLOCK_BOOTTIME) - cur->flipped_ns < 1000000000ull) {
		uint64_t w0 = clock_ns(CLOCK_BOOTTIME);

		if (bpf_map_update_elem(st->map_fds[CGF_MAP_CLASSES], &key_i,
					&i_fd, BPF_EXIST))
			return -errno;
		out->wait_ns = clock_ns(CLOCK_BOOTTIME) - w0;
	}
	err = write_masks(a_fd, plan->active_ids, plan->active_masks,
			  plan->nactive);
	if (!err)
		err = write_masks(i_fd, plan->inactive_ids,
				  plan->inactive_masks, plan->ninactive);
	for (size_t i = 0; !err && i < plan->nlpm; i++) {
		if (bpf_map_update_elem(lpm_fd, &plan->lpm[i].key,
					&plan->lpm[i].class_id, BPF_ANY))
			err = -errno;
	}
	if (err)
		return err;
	/* A plan that keeps the bank and the header has no flip. */
	if (!new_hdr && plan->next.active_bank == cur->active_bank)
		return 0;
	hdr.bank = plan->next.active_bank;
	if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICIES], &id, &hdr,
				BPF_EXIST))
		return -errno;
	return 0;
}

int tables_change_in_place(struct cgf_state *st, uint32_t id,
			   const struct compiled_policy *cp, const char *name,
			   unsigned int holders, struct tables_change *out)
{
	struct cgf_policy_info info;
	struct cgf_policy hdr;
	struct table_state cur;
	struct delta_plan plan;
	char mirror[16];
	uint64_t t0;
	int err;

	memset(out, 0, sizeof(*out));
	if (st->run_fd < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id, &info) ||
	    bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICIES], &id, &hdr))
		return -ENOENT;
	if (info.refcount != holders)
		return -EBUSY; /* other cgroups run it: they keep it */
	mirror_name(mirror, id);
	err = table_state_load(&cur, st->run_fd, mirror);
	if (err)
		return err;
	if (cur.policy_id != id || cur.active_bank != hdr.bank ||
	    memcmp(cur.digest, info.digest, sizeof(cur.digest))) {
		table_state_free(&cur);
		return -ESTALE;
	}
	err = delta_plan_build(&cur, cp, &plan);
	if (err) {
		table_state_free(&cur);
		return err;
	}
	/*
	 * Until the change is done the tables carry no compiled digest (all
	 * zero, which no compile gives) and no mirror: a process killed
	 * after the write leaves tables a pass replaces, never ones it takes
	 * for the old version, which a later edit back would compile to.
	 */
	memset(info.digest, 0, sizeof(info.digest));
	if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id, &info,
				BPF_EXIST)) {
		err = -errno;
		goto out;
	}
	unlinkat(st->run_fd, mirror, 0);
	t0 = clock_ns(CLOCK_BOOTTIME);
	err = apply_plan(st, id, &cur, &plan, &cp->hdr, out);
	out->kernel_ns = clock_ns(CLOCK_BOOTTIME) - t0 - out->wait_ns;
	if (err)
		goto out; /* the old policy still holds (by no digest) */
	out->lpm_writes = plan.nlpm;
	out->mask_writes = plan.nactive + plan.ninactive;
	fill_info(&info, cp, name);
	bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id, &info,
			    BPF_EXIST);
	plan.next.flipped_ns = clock_ns(CLOCK_BOOTTIME);
	if (table_state_save(&plan.next, st->run_fd, mirror))
		unlinkat(st->run_fd, mirror, 0);
out:
	delta_plan_free(&plan);
	table_state_free(&cur);
	return err;
}

bool tables_have_digest(struct cgf_state *st, const uint8_t digest[32])
{
	struct cgf_policy_info info;
	uint32_t id;

	return find_by_digest(st, digest, &id, &info) == 0;
}

struct idle_table {
	uint32_t id;
	uint64_t created_ns;
};

static int compare_idle_age(const void *a, const void *b)
{
	const struct idle_table *x = a, *y = b;

	return x->created_ns < y->created_ns ? -1
					     : x->created_ns > y->created_ns;
}

int tables_prune_idle(struct cgf_state *st, unsigned int keep)
{
	int fd = st->map_fds[CGF_MAP_POLICY_INFO];
	struct idle_table *idle = NULL;
	struct cgf_policy_info info;
	uint32_t key, next;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int deleted = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &info) || info.refcount)
			continue;
		if (n == cap) {
			struct idle_table *bigger;

			cap = cap ? cap * 2 : 16;
			bigger = realloc(idle, cap * sizeof(*idle));
			if (!bigger) {
				free(idle);
				return -ENOMEM;
			}
			idle = bigger;
		}
		idle[n++] = (struct idle_table){key, info.created_ns};
	}
	if (n > keep) {
		qsort(idle, n, sizeof(*idle), compare_idle_age);
		for (size_t i = 0; i < n - keep; i++, deleted++)
			delete_tables(st, idle[i].id);
	}
	free(idle);
	return deleted;
}

int tables_acquire(struct cgf_state *st, const struct compiled_policy *cp,
		   const char *name, uint32_t *policy_id)
{
	struct cgf_policy_info info;
	uint32_t id;

	if (find_by_digest(st, cp->digest, &id, &info) == 0) {
		info.refcount++;
		if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id,
					&info, BPF_EXIST))
			return -errno;
		*policy_id = id;
		return 0;
	}
	tables_prune_idle(st, TABLES_IDLE_KEEP - 1);
	return create_tables(st, cp, name, policy_id);
}

int tables_release(struct cgf_state *st, uint32_t policy_id)
{
	struct cgf_policy_info info;

	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id,
				&info))
		return -errno;
	if (info.refcount == 0)
		return 0; /* idle already */
	info.refcount--;
	if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &policy_id,
				&info, BPF_EXIST))
		return -errno;
	return 0;
}
