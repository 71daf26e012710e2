// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <bpf/bpf.h>

#include "tables.h"
#include "util.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

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

/*
 * A policy without network sections compiles to no entries; the kernel
 * refuses maps of zero entries, so such tables get one empty slot.
 */
static int create_lpm(const struct compiled_policy *cp, uint32_t id)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	char name[BPF_OBJ_NAME_LEN];
	int fd, err;

	snprintf(name, sizeof(name), "cgf_l_%08x", id);
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, sizeof(struct cgf_lpm_key),
			    sizeof(uint32_t), cp->nentries ? cp->nentries : 1, &opts);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < cp->nentries; i++) {
		err = bpf_map_update_elem(fd, &cp->entries[i].key,
					  &cp->entries[i].class_id, BPF_NOEXIST);
		if (err) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	return fd;
}

static int create_classes(const struct compiled_policy *cp, uint32_t id)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
	char name[BPF_OBJ_NAME_LEN];
	int fd;

	snprintf(name, sizeof(name), "cgf_c_%08x", id);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(uint32_t),
			    sizeof(struct cgf_rule_mask), cp->nclasses ? cp->nclasses : 1,
			    &opts);
	if (fd < 0)
		return -errno;
	for (uint32_t i = 0; i < cp->nclasses; i++) {
		if (bpf_map_update_elem(fd, &i, &cp->classes[i], BPF_ANY)) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	return fd;
}

static void delete_tables(struct cgf_state *st, uint32_t id)
{
	/* Header first: a program that finds no header fails closed. */
	bpf_map_delete_elem(st->map_fds[CGF_MAP_POLICIES], &id);
	bpf_map_delete_elem(st->map_fds[CGF_MAP_LPM], &id);
	bpf_map_delete_elem(st->map_fds[CGF_MAP_CLASSES], &id);
	bpf_map_delete_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id);
}

static int create_tables(struct cgf_state *st, const struct compiled_policy *cp,
			 const char *name, uint32_t *id_out)
{
	struct cgf_policy_info info = { .refcount = 1 };
	_cleanup_close_ int lpm_fd = -1, cls_fd = -1;
	uint32_t id;
	int err;

	err = allocate_id(st, &id);
	if (err)
		return err;
	lpm_fd = create_lpm(cp, id);
	if (lpm_fd < 0)
		return lpm_fd;
	cls_fd = create_classes(cp, id);
	if (cls_fd < 0)
		return cls_fd;

	memcpy(info.digest, cp->digest, sizeof(info.digest));
	snprintf(info.name, sizeof(info.name), "%s", name);
	info.mode = cp->hdr.mode;
	info.created_ns = realtime_ns();
	info.nentries = cp->nentries;
	info.nclasses = cp->nclasses;

	if (bpf_map_update_elem(st->map_fds[CGF_MAP_POLICY_INFO], &id, &info,
				BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_LPM], &id, &lpm_fd, BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_CLASSES], &id, &cls_fd,
				BPF_NOEXIST) ||
	    bpf_map_update_elem(st->map_fds[CGF_MAP_POLICIES], &id, &cp->hdr,
				BPF_NOEXIST)) {
		err = -errno;
		delete_tables(st, id);
		return err;
	}
	*id_out = id;
	return 0;
}

struct idle_table {
	uint32_t id;
	uint64_t created_ns;
};

static int compare_idle_age(const void *a, const void *b)
{
	const struct idle_table *x = a, *y = b;

	return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
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
		idle[n++] = (struct idle_table){ key, info.created_ns };
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
