// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "container_record.h"
#include "cgroup.h"
#include "lsm.h"
#include "record.h"
#include "recording.h"
#include "tables.h"
#include "util.h"

static void links_dir_name(char *buf, size_t len, uint64_t cgroup_id)
{
	snprintf(buf, len, "links/%" PRIu64, cgroup_id);
}

/* Unpins and detaches every link of a cgroup; missing links are fine. */
/*
 * Removes the pinned links of a cgroup. Unpinning releases a link, which
 * detaches it; detach first anyway when the cgroup lives, in case someone
 * else holds the link. A removed cgroup runs nothing: unpinning is enough.
 */
static void unlink_links(struct cgf_state *st, uint64_t cgroup_id,
			 bool cgroup_removed)
{
	char dir[64], path[PATH_MAX];
	struct stat sb;

	links_dir_name(dir, sizeof(dir), cgroup_id);
	/* The usual case on a container start: nothing was ever pinned. */
	if (fstatat(st->dir_fd, dir, &sb, AT_SYMLINK_NOFOLLOW) &&
	    errno == ENOENT)
		return;
	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s/%s", st->dir, dir,
			 cgf_prog_descs[i].name);
		fd = cgroup_removed ? -1 : bpf_obj_get(path);
		if (fd >= 0) {
			/* Detach now, even if someone else holds the link. */
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
	}
	unlinkat(st->dir_fd, dir, AT_REMOVEDIR);
}

static void unlink_all(struct cgf_state *st, uint64_t cgroup_id)
{
	unlink_links(st, cgroup_id, false);
}

static int attach_all(struct cgf_state *st, int cgroup_fd, uint64_t cgroup_id)
{
	char dir[64], path[PATH_MAX];
	int err;

	links_dir_name(dir, sizeof(dir), cgroup_id);
	if (mkdirat(st->dir_fd, dir, 0700) && errno != EEXIST)
		return -errno;
	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		int link_fd;

		if (st->prog_fds[i] < 0)
			continue; /* the LSM program, without the BPF LSM */
		link_fd = bpf_link_create(st->prog_fds[i], cgroup_fd,
					  cgf_prog_descs[i].attach_type, NULL);
		if (link_fd < 0) {
			err = -errno;
			log_debug("attaching %s: %s", cgf_prog_descs[i].name,
				  strerror(-err));
			goto fail;
		}
		snprintf(path, sizeof(path), "%s/%s/%s", st->dir, dir,
			 cgf_prog_descs[i].name);
		err = bpf_obj_pin(link_fd, path) ? -errno : 0;
		close(link_fd); /* the pin holds it */
		if (err)
			goto fail;
	}
	return 0;
fail:
	unlink_all(st, cgroup_id);
	return err;
}

static bool links_present(struct cgf_state *st, uint64_t cgroup_id)
{
	char dir[64];
	struct stat sb;

	links_dir_name(dir, sizeof(dir), cgroup_id);
	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		char path[128];

		if (st->prog_fds[i] < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir,
			 cgf_prog_descs[i].name);
		if (fstatat(st->dir_fd, path, &sb, 0))
			return false;
	}
	return true;
}

static void fill_info(struct cgf_cgroup_info *info,
		      const struct fence_request *req, uint32_t policy_id,
		      uint32_t generation)
{
	memset(info, 0, sizeof(*info));
	info->policy_id = policy_id;
	info->generation = generation;
	info->applied_ns = clock_ns(CLOCK_REALTIME);
	snprintf(info->policy_name, sizeof(info->policy_name), "%s",
		 req->policy_name);
	snprintf(info->container_id, sizeof(info->container_id), "%s",
		 req->container_id ? req->container_id : "");
	snprintf(info->path, sizeof(info->path), "%s", req->cgroup_dir);
}

static void container_key(struct cgf_container_key *k, const char *id)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", id);
}

/* The index entry of a container id, unless it points elsewhere by now. */
static void unindex_container(struct cgf_state *st, const char *id,
			      uint64_t cgroup_id)
{
	struct cgf_container_key k;
	uint64_t indexed;

	if (!id[0])
		return;
	container_key(&k, id);
	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CONTAINERS], &k,
				&indexed) == 0 &&
	    indexed == cgroup_id)
		bpf_map_delete_elem(st->map_fds[CGF_MAP_CONTAINERS], &k);
}

/* A new recording's description, for suggest --container (recording.h). */
static void describe_recording(struct cgf_state *st,
			       const struct fence_request *req, uint64_t cgid,
			       uint32_t size)
{
	struct recording_info info;

	if (st->run_fd < 0 || recording_read(st->run_fd, cgid, &info) == 0)
		return; /* a record that goes on keeps its description */
	memset(&info, 0, sizeof(info));
	info.cgroup_id = cgid;
	snprintf(info.container_id, sizeof(info.container_id), "%s",
		 req->container_id ? req->container_id : "");
	snprintf(info.cgroup, sizeof(info.cgroup), "%s", req->cgroup_dir);
	snprintf(info.policy, sizeof(info.policy), "%s", req->policy_name);
	info.size = size;
	info.started_ns = clock_ns(CLOCK_REALTIME);
	if (recording_write(st->run_fd, &info))
		log_debug("%s: the recording has no description: suggest "
			  "finds it by --cgroup only",
			  req->cgroup_dir);
}

static int fence_apply_tables(struct cgf_state *st,
			      const struct fence_request *req,
			      const struct compiled_policy *policy,
			      bool recording, uint32_t record_size,
			      struct fence_result *res)
{
	int cfg_fd = st->map_fds[CGF_MAP_CGROUP_CFG];
	int info_fd = st->map_fds[CGF_MAP_CGROUP_INFO];
	_cleanup_close_ int cgroup_fd = -1;
	struct cgf_cgroup_info old = {}, info;
	struct cgf_cgroup_config cfg = {}, old_cfg = {};
	uint64_t cgid;
	uint32_t policy_id, new_epoch;
	bool had_record, fenced, attached_now = false, in_place = false;
	bool started_recording;
	int err;

	err = cgroup_open(req->cgroup_dir, &cgroup_fd, &cgid);
	if (err)
		return err;
	if (cgid == CGROUP_ROOT_ID)
		return -EPERM;
	if (req->expect_cgroup_id && cgid != req->expect_cgroup_id)
		return -ESTALE;
	/*
	 * Refusing socket families is the LSM program's job: fail closed. A
	 * recorded cgroup refuses nothing, so it needs none.
	 */
	if (!recording && fence_needs_bpf_lsm(st, policy) &&
	    !req->without_bpf_lsm)
		return -ENOPKG;
	res->cgroup_id = cgid;

	had_record = bpf_map_lookup_elem(info_fd, &cgid, &old) == 0;
	fenced = had_record && links_present(st, cgid);
	/* Before anything changes (an in-place change writes the tables the
	 * cgroup runs): no new epoch, no change. */
	err = state_next_epoch(st, &new_epoch);
	if (err)
		return err;

	if (fenced && bpf_map_lookup_elem(cfg_fd, &cgid, &old_cfg))
		memset(&old_cfg, 0, sizeof(old_cfg));
	started_recording = recording && !(fenced && old_cfg.record);

	/*
	 * What can fail without touching what the cgroup runs comes first: an
	 * in-place change below writes the very tables the cgroup runs (with
	 * --record, the audit-mode copy), so nothing after it may fail but
	 * the swap itself.
	 *
	 * Indexed before the swap, so that a fenced container is always found
	 * by its id. An entry left by a failure below points at a cgroup with
	 * no record of that container, which lookups ignore.
	 */
	if (req->container_id && req->container_id[0]) {
		struct cgf_container_key k;

		container_key(&k, req->container_id);
		if (bpf_map_update_elem(st->map_fds[CGF_MAP_CONTAINERS], &k,
					&cgid, BPF_ANY))
			return -errno;
	}
	/* The table fills only once the swap sets the record flag. */
	if (recording) {
		err = record_start(st, cgid, record_size);
		if (err)
			return err;
		describe_recording(st, req, cgid, record_size);
	}

	/*
	 * A cgroup alone on its policy changes it in place: only what differs
	 * is written. Anything else (tables shared with other cgroups, the same
	 * policy loaded already, no usable mirror) builds or reuses tables.
	 */
	if (fenced && old.policy_id &&
	    !tables_have_digest(st, policy->digest)) {
		err = tables_change_in_place(st, old.policy_id, policy,
					     req->policy_name, 1, &res->change);
		if (!err) {
			in_place = true;
			policy_id = old.policy_id;
		} else {
			log_debug("policy %08x: no in-place change (%s), "
				  "rebuilding",
				  old.policy_id, strerror(-err));
		}
	}
	if (!in_place) {
		err = tables_acquire(st, policy, req->policy_name, &policy_id);
		if (err)
			goto fail_record;
	}
	if (!fenced) {
		unlink_all(st, cgid); /* leftovers of an interrupted apply */
		err = attach_all(st, cgroup_fd, cgid);
		if (err)
			goto fail_release;
		attached_now = true;
	}
	/*
	 * The swap: every hook of the cgroup reads this one value. The same
	 * tables again (a re-apply of an unchanged policy) keep the epoch, so
	 * that remembered verdicts, which they would give again, stay. (A
	 * recording that starts judges, and records, everything anew.)
	 */
	if (fenced && !in_place && policy_id == old.policy_id &&
	    old_cfg.epoch && old_cfg.record == recording)
		cfg.epoch = old_cfg.epoch;
	else
		cfg.epoch = new_epoch;
	cfg.record = recording;
	cfg.policy_id = policy_id;
	cfg.generation = fenced ? old.generation + 1 : 1;
	cfg.cgroup_id = cgid;
	/* A swap without a budget of its own keeps the cgroup's. */
	if (!req->event_budget && fenced && old_cfg.event_budget)
		cfg.event_budget = old_cfg.event_budget;
	else
		cfg.event_budget = req->event_budget ? req->event_budget
						     : CGF_DEFAULT_EVENT_BUDGET;
	if (bpf_map_update_elem(cfg_fd, &cgid, &cfg, BPF_ANY)) {
		err = -errno;
		goto fail_detach;
	}
	fill_info(&info, req, policy_id, cfg.generation);
	if (bpf_map_update_elem(info_fd, &cgid, &info, BPF_ANY)) {
		err = -errno;
		goto fail_detach;
	}
	if (!recording && fenced && old_cfg.record)
		record_stop(st, cgid);
	if (had_record && old.policy_id && !in_place)
		tables_release(st, old.policy_id);
	if (had_record && strncmp(old.container_id, info.container_id,
				  sizeof(old.container_id)))
		unindex_container(st, old.container_id, cgid);

	res->policy_id = policy_id;
	res->generation = cfg.generation;
	res->replaced = fenced;
	res->in_place = in_place;
	return 0;

fail_detach:
	if (attached_now)
		unlink_all(st, cgid);
fail_release:
	if (!in_place)
		tables_release(st, policy_id);
fail_record:
	if (started_recording)
		record_stop(st, cgid);
	return err;
}

int fence_apply(struct cgf_state *st, const struct fence_request *req,
		struct fence_result *res)
{
	_cleanup_(compiled_policy_freep) struct compiled_policy *audit = NULL;
	const struct compiled_policy *policy = req->policy;
	uint32_t record_size =
		req->record_size ? req->record_size : CGF_RECORD_DEFAULT_SIZE;
	bool recording;
	int err;

	memset(res, 0, sizeof(*res));
	recording = req->record == FENCE_RECORD_START;
	if (req->record == FENCE_RECORD_KEEP) {
		struct cgf_cgroup_config old_cfg;
		_cleanup_close_ int fd = -1;
		uint64_t cgid;

		err = cgroup_open(req->cgroup_dir, &fd, &cgid);
		if (err)
			return err;
		recording = bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_CFG],
						&cgid, &old_cfg) == 0 &&
			    old_cfg.record;
	}
	/* A recorded cgroup denies nothing: its policy runs in audit mode. */
	if (recording && policy->hdr.mode != CGF_MODE_AUDIT) {
		err = compiled_policy_audit_copy(policy, req->policy_name,
						 &audit);
		if (err)
			return err;
		policy = audit;
	}
	err = fence_apply_tables(st, req, policy, recording, record_size, res);
	res->recording = !err && recording;
	return err;
}

int fence_change_shared(struct cgf_state *st, uint32_t policy_id,
			const struct compiled_policy *cp, const char *name,
			const uint64_t *cgroup_ids, size_t n,
			bool without_bpf_lsm, struct tables_change *change)
{
	uint32_t first_epoch;
	uint64_t start;
	int err;

	if (fence_needs_bpf_lsm(st, cp) && !without_bpf_lsm)
		return -ENOPKG;
	/* A recorded cgroup keeps its policy in audit mode: one by one. */
	for (size_t i = 0; i < n; i++) {
		struct cgf_cgroup_config cfg;

		if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_CFG],
					&cgroup_ids[i], &cfg) == 0 &&
		    cfg.record && cp->hdr.mode != CGF_MODE_AUDIT)
			return -EBUSY;
	}
	/* Before the tables change: a cgroup must never keep the verdicts
	 * of the old policy under the new one for want of an epoch. */
	err = state_reserve_epochs(st, n, &first_epoch);
	if (err)
		return err;
	err = tables_change_in_place(st, policy_id, cp, name, n, change);
	if (err)
		return err;
	start = clock_ns(CLOCK_BOOTTIME);
	err = fence_renew_cgroups(st, name, cgroup_ids, n, first_epoch);
	/* The kernel's part: the tables' writes and flip, and each cgroup's. */
	change->kernel_ns += clock_ns(CLOCK_BOOTTIME) - start;
	return err;
}

int fence_renew_cgroups(struct cgf_state *st, const char *name,
			const uint64_t *cgroup_ids, size_t n,
			uint32_t first_epoch)
{
	int cfg_fd = st->map_fds[CGF_MAP_CGROUP_CFG];
	int info_fd = st->map_fds[CGF_MAP_CGROUP_INFO];
	int err = 0;

	/*
	 * The tables hold the new policy: each cgroup's remembered verdicts
	 * go with a new epoch, as after an in-place change of one cgroup. A
	 * cgroup that is gone has nothing to renew; any other failure is
	 * the caller's to report, after the others are renewed.
	 */
	for (size_t i = 0; i < n; i++) {
		struct cgf_cgroup_config cfg;
		struct cgf_cgroup_info info;

		if (bpf_map_lookup_elem(cfg_fd, &cgroup_ids[i], &cfg) ||
		    bpf_map_lookup_elem(info_fd, &cgroup_ids[i], &info)) {
			if (errno != ENOENT && !err)
				err = -errno;
			continue;
		}
		cfg.epoch = first_epoch + (uint32_t)i;
		cfg.generation = info.generation + 1;
		if (bpf_map_update_elem(cfg_fd, &cgroup_ids[i], &cfg,
					BPF_EXIST)) {
			if (errno != ENOENT && !err)
				err = -errno;
			continue;
		}
		info.generation = cfg.generation;
		info.applied_ns = clock_ns(CLOCK_REALTIME);
		snprintf(info.policy_name, sizeof(info.policy_name), "%s",
			 name);
		if (bpf_map_update_elem(info_fd, &cgroup_ids[i], &info,
					BPF_EXIST) &&
		    errno != ENOENT && !err)
			err = -errno;
	}
	return err;
}

bool fence_needs_bpf_lsm(const struct cgf_state *st,
			 const struct compiled_policy *policy)
{
	return policy->hdr.sockets.families != CGF_ALL_FAMILIES &&
	       !state_has_bpf_lsm(st);
}

const char *fence_error_text(int err)
{
	static char text[384];

	switch (err) {
	case -ENOPKG:
		snprintf(text, sizeof(text),
			 "the policy refuses packet sockets and other address "
			 "families (sockets.families), which only the BPF LSM "
			 "can enforce, and the BPF LSM is %s: not fencing "
			 "(allow the families in the policy, \"sockets\": "
			 "{\"families\": [\"any\"]}, to fence without that "
			 "part)",
			 bpf_lsm_describe());
		return text;
	case -EMEDIUMTYPE:
		return "not a cgroup v2 directory";
	case -EPERM:
		return "refusing to fence the root cgroup";
	case -E2BIG:
		return compile_error_text(err);
	case -ESTALE:
		return "the cgroup at that path is not the one recorded (it "
		       "was made anew)";
	case -EOVERFLOW:
		return "the pinned programs' 2^32 configuration epochs are "
		       "used up (one per apply, one per cgroup a set change "
		       "reaches); one handed out again could pass what an "
		       "old policy allowed: detach every cgroup, remove the "
		       "bpffs directory's obj/ and apply again";
	default:
		return strerror(-err);
	}
}

/*
 * A cgroup's denial counters go once the daemon has reported all of them:
 * an unreported count stays until it is (gc retries).
 */
static bool forget_reported_stats(struct cgf_state *st, uint64_t cgroup_id)
{
	struct cgf_cgroup_stats now, reported = {};

	if (cgroup_id == CGF_STATS_CATCH_ALL ||
	    bpf_map_lookup_elem(st->map_fds[CGF_MAP_STATS], &cgroup_id, &now))
		return false;
	bpf_map_lookup_elem(st->map_fds[CGF_MAP_STATS_REPORTED], &cgroup_id,
			    &reported);
	if (now.emitted != reported.emitted ||
	    now.suppressed != reported.suppressed ||
	    now.undelivered != reported.undelivered)
		return false;
	bpf_map_delete_elem(st->map_fds[CGF_MAP_STATS], &cgroup_id);
	bpf_map_delete_elem(st->map_fds[CGF_MAP_STATS_REPORTED], &cgroup_id);
	return true;
}

/* What the hook recorded for choosing again (container_record.h). */
static void forget_container_record(struct cgf_state *st, uint64_t cgroup_id)
{
	if (st->run_fd >= 0)
		container_record_remove(st->run_fd, cgroup_id);
}

static int detach_id(struct cgf_state *st, uint64_t cgroup_id,
		     bool cgroup_removed)
{
	struct cgf_cgroup_info info;
	int info_fd = st->map_fds[CGF_MAP_CGROUP_INFO];

	if (bpf_map_lookup_elem(info_fd, &cgroup_id, &info)) {
		if (errno != ENOENT)
			return -errno;
		/* Links without a record (an interrupted apply): remove them. */
		unlink_links(st, cgroup_id, cgroup_removed);
		forget_container_record(st, cgroup_id);
		return -ENOENT;
	}
	unlink_links(st, cgroup_id, cgroup_removed);
	forget_container_record(st, cgroup_id);
	record_stop(st,
		    cgroup_id); /* its table stays for suggest; gc ages it */
	unindex_container(st, info.container_id, cgroup_id);
	bpf_map_delete_elem(info_fd, &cgroup_id);
	forget_reported_stats(st, cgroup_id);
	if (info.policy_id)
		tables_release(st, info.policy_id);
	return 0;
}

int fence_detach_id(struct cgf_state *st, uint64_t cgroup_id)
{
	return detach_id(st, cgroup_id, false);
}

int fence_release_removed(struct cgf_state *st, uint64_t cgroup_id)
{
	return detach_id(st, cgroup_id, true);
}

int fence_detach_dir(struct cgf_state *st, const char *cgroup_dir)
{
	_cleanup_close_ int fd = -1;
	uint64_t cgid;
	int err;

	err = cgroup_open(cgroup_dir, &fd, &cgid);
	if (err)
		return err;
	return fence_detach_id(st, cgid);
}

int fence_find_container(struct cgf_state *st, const char *container_id,
			 uint64_t *cgroup_id)
{
	struct cgf_cgroup_info info;
	struct cgf_container_key k;
	uint64_t id;

	if (!container_id[0])
		return -ENOENT;
	container_key(&k, container_id);
	if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CONTAINERS], &k, &id) ||
	    bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_INFO], &id, &info) ||
	    strncmp(info.container_id, container_id, sizeof(info.container_id)))
		return -ENOENT;
	*cgroup_id = id;
	return 0;
}

static int prog_id_of(int prog_fd, uint32_t *id)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

int fence_missing_programs(struct cgf_state *st, int cgroup_fd)
{
	int missing = 0;

	for (int i = 0; i < CGF_PROG__COUNT; i++) {
		uint32_t ids[64], cnt = ARRAY_SIZE(ids), mine = 0;
		bool found = false;
		int err;

		if (st->prog_fds[i] < 0)
			continue;
		err = prog_id_of(st->prog_fds[i], &mine);
		if (err)
			return err;
		if (bpf_prog_query(cgroup_fd, cgf_prog_descs[i].attach_type, 0,
				   NULL, ids, &cnt))
			return -errno;
		for (uint32_t j = 0; j < cnt && !found; j++)
			found = ids[j] == mine;
		missing += !found;
	}
	return missing;
}

/* Every key of a hash map keyed by u64, so that entries can be deleted. */
static int collect_u64_keys(int map_fd, uint64_t **out, size_t *out_n)
{
	uint64_t key, next, *keys = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		if (n == cap) {
			uint64_t *bigger;

			cap = cap ? cap * 2 : 64;
			bigger = realloc(keys, cap * sizeof(*keys));
			if (!bigger) {
				free(keys);
				return -ENOMEM;
			}
			keys = bigger;
		}
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	*out = keys;
	*out_n = n;
	return 0;
}

static int gc_records(struct cgf_state *st, fence_gc_removed_fn removed,
		      void *ctx, struct fence_gc_stats *stats)
{
	int info_fd = st->map_fds[CGF_MAP_CGROUP_INFO];
	_cleanup_free_ uint64_t *ids = NULL;
	size_t n;
	int err;

	err = collect_u64_keys(info_fd, &ids, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct cgf_cgroup_info info;
		struct k8s_identity pod;
		int fd = -1;

		/* By id, not path: a renamed cgroup is still alive. */
		err = cgroup_open_by_id(ids[i], &fd);
		if (err == 0) {
			close(fd);
			continue;
		}
		if (err != -ESTALE && err != -ENOENT)
			return err;
		if (bpf_map_lookup_elem(info_fd, &ids[i], &info))
			continue;
		/* Read before the detach removes the record. */
		container_record_pod(st->run_fd, ids[i], &pod);
		if (fence_detach_id(st, ids[i]) == 0) {
			stats->records++;
			if (removed)
				removed(ids[i], &info, pod.pod[0] ? &pod : NULL,
					ctx);
		}
	}
	return 0;
}

/* Counters of cgroups gone and fenced no more, once reported. */
static int gc_stats(struct cgf_state *st, struct fence_gc_stats *stats)
{
	_cleanup_free_ uint64_t *ids = NULL;
	struct cgf_cgroup_info info;
	size_t n;
	int err;

	err = collect_u64_keys(st->map_fds[CGF_MAP_STATS], &ids, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		int fd = -1;

		if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_INFO],
					&ids[i], &info) == 0)
			continue;
		if (cgroup_open_by_id(ids[i], &fd) == 0) {
			close(fd);
			continue;
		}
		stats->counters += forget_reported_stats(st, ids[i]);
	}
	return 0;
}

static int gc_link_dirs(struct cgf_state *st, struct fence_gc_stats *stats)
{
	struct cgf_cgroup_info info;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(st->dir_fd, "links", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		char *end;
		uint64_t id = strtoull(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end)
			continue;
		if (bpf_map_lookup_elem(st->map_fds[CGF_MAP_CGROUP_INFO], &id,
					&info) == 0)
			continue;
		unlink_all(st, id);
		stats->link_dirs++;
	}
	closedir(dir);
	return 0;
}

/*
 * Reference counts can only drift when an apply was killed between taking
 * a reference and writing the record; under the lock nobody is applying,
 * so the records are the truth.
 */
static int gc_refcounts(struct cgf_state *st, struct fence_gc_stats *stats)
{
	int pinfo_fd = st->map_fds[CGF_MAP_POLICY_INFO];
	int info_fd = st->map_fds[CGF_MAP_CGROUP_INFO];
	uint32_t key, next, *pids = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(pinfo_fd, prev, &next) == 0) {
		if (n == cap) {
			uint32_t *bigger;

			cap = cap ? cap * 2 : 64;
			bigger = realloc(pids, cap * sizeof(*pids));
			if (!bigger) {
				free(pids);
				return -ENOMEM;
			}
			pids = bigger;
		}
		pids[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++) {
		struct cgf_policy_info pinfo;
		struct cgf_cgroup_info info;
		uint64_t ckey, cnext;
		void *cprev = NULL;
		uint32_t users = 0;

		while (bpf_map_get_next_key(info_fd, cprev, &cnext) == 0) {
			ckey = cnext;
			cprev = &ckey;
			if (bpf_map_lookup_elem(info_fd, &ckey, &info) == 0 &&
			    info.policy_id == pids[i])
				users++;
		}
		if (bpf_map_lookup_elem(pinfo_fd, &pids[i], &pinfo) ||
		    pinfo.refcount == users)
			continue;
		stats->refcounts++;
		pinfo.refcount = users; /* 0: idle, pruned below */
		bpf_map_update_elem(pinfo_fd, &pids[i], &pinfo, BPF_EXIST);
	}
	free(pids);
	return 0;
}

int fence_gc(struct cgf_state *st, fence_gc_removed_fn removed, void *ctx,
	     struct fence_gc_stats *stats)
{
	int err;

	memset(stats, 0, sizeof(*stats));
	err = gc_records(st, removed, ctx, stats);
	if (!err)
		err = gc_link_dirs(st, stats);
	if (!err)
		err = gc_refcounts(st, stats);
	if (!err)
		err = gc_stats(st, stats);
	if (!err) {
		int n = tables_prune_idle(st, 0);

		if (n < 0)
			return n;
		stats->idle_tables = n;
	}
	return err;
}
