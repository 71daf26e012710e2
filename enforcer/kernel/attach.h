/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Fencing cgroups: attach the programs with pinned links, point the
 * cgroup's storage at a policy id (the atomic swap), detach.
 */
#ifndef CGFENCE_ATTACH_H
#define CGFENCE_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "compile.h"
#include "k8s_identity.h"
#include "loader.h"
#include "tables.h"

/* What an apply does to the cgroup's recording (record.h). */
enum fence_record {
	FENCE_RECORD_KEEP = 0, /* as it was: a swap by reload or hookd */
	FENCE_RECORD_START,    /* record (and evaluate the policy in audit) */
	FENCE_RECORD_STOP,     /* the table stays for suggest, unfed */
};

struct fence_request {
	const char *cgroup_dir;
	const struct compiled_policy *policy;
	const char *policy_name;
	const char *container_id; /* may be NULL */
	uint32_t event_budget;	  /* denial events per second; 0: the default */
	/*
	 * Fence even where the BPF LSM cannot refuse the address families the
	 * policy refuses (sockets.families): the caller knows the processes
	 * cannot create them anyway, or the operator accepted it.
	 */
	bool without_bpf_lsm;
	/*
	 * The cgroup must have this id (a record's cgroup: a directory made
	 * anew at the same path is another cgroup); 0: any. -ESTALE otherwise.
	 */
	uint64_t expect_cgroup_id;
	enum fence_record record;
	uint32_t record_size; /* FENCE_RECORD_START: entries; 0: the default */
};

struct fence_result {
	uint64_t cgroup_id;
	uint32_t policy_id;
	uint32_t generation;
	int replaced; /* 1 when an earlier policy was swapped out */
	int in_place; /* 1 when that policy's tables were changed in place */
	struct tables_change change; /* what the in-place change wrote */
	bool recording;		     /* the cgroup records (in audit mode) */
};

/*
 * Fences a cgroup with a policy, or swaps the policy of a fenced one in a
 * single map update. On failure nothing it added is left behind. -ENOPKG:
 * the policy refuses socket families and the BPF LSM is not active.
 */
int fence_apply(struct cgf_state *st, const struct fence_request *req,
		struct fence_result *res);

/*
 * A policy directory's pass: the n cgroups that run policy_id (all of
 * them, -EBUSY otherwise) move to cp together, so its tables change in
 * place, writing only what differs, and each cgroup gets a new epoch and
 * generation. without_bpf_lsm as in struct fence_request, for all of
 * them. On error nothing changed and the caller swaps per cgroup
 * (-EBUSY: one of them records, and keeps its policy in audit mode).
 */
int fence_change_shared(struct cgf_state *st, uint32_t policy_id,
			const struct compiled_policy *cp, const char *name,
			const uint64_t *cgroup_ids, size_t n,
			bool without_bpf_lsm, struct tables_change *change);

/*
 * After the tables the n cgroups run changed in place: each cgroup gets a
 * new epoch (what it remembered as judged is judged again) from the block
 * first_epoch.. reserved before the change (state_reserve_epochs), a new
 * generation, and its record names the policy. Returns 0, or the first
 * error (a cgroup left with its old epoch: the caller must not say done).
 */
int fence_renew_cgroups(struct cgf_state *st, const char *name,
			const uint64_t *cgroup_ids, size_t n,
			uint32_t first_epoch);

/* The policy refuses families and the pinned state has no LSM program. */
bool fence_needs_bpf_lsm(const struct cgf_state *st,
			 const struct compiled_policy *policy);

/* What a fence_apply() error means, for the message that names the cgroup. */
const char *fence_error_text(int err);

/* Removes links, configuration and the policy reference of a cgroup. */
int fence_detach_id(struct cgf_state *st, uint64_t cgroup_id);
int fence_detach_dir(struct cgf_state *st, const char *cgroup_dir);
/* The same for a cgroup that no longer exists (cheaper: nothing to detach). */
int fence_release_removed(struct cgf_state *st, uint64_t cgroup_id);

/*
 * The cgroup fenced last for a container id, by the index fence_apply
 * keeps (a runtime may reuse an id; an older record of it is stale and gc
 * removes it). -ENOENT when none is fenced.
 */
int fence_find_container(struct cgf_state *st, const char *container_id,
			 uint64_t *cgroup_id);

/*
 * How many of cgfence's programs are no longer attached to a fenced
 * cgroup (someone detached them), or a negative errno.
 */
int fence_missing_programs(struct cgf_state *st, int cgroup_fd);

struct fence_gc_stats {
	unsigned int records;	  /* cgroups that no longer exist */
	unsigned int link_dirs;	  /* pinned links without a record */
	unsigned int refcounts;	  /* policy reference counts corrected */
	unsigned int idle_tables; /* compiled policies no cgroup used */
	unsigned int counters;	  /* reported denial counters of gone cgroups */
};

/* pod: the container's (from its record, gone now), or NULL. */
typedef void (*fence_gc_removed_fn)(uint64_t cgroup_id,
				    const struct cgf_cgroup_info *info,
				    const struct k8s_identity *pod, void *ctx);

/*
 * Removes the state of cgroups that no longer exist (their poststop never
 * ran), links without a record, recounts the policy references, and
 * deletes the tables no cgroup uses. Calls removed() per record.
 */
int fence_gc(struct cgf_state *st, fence_gc_removed_fn removed, void *ctx,
	     struct fence_gc_stats *stats);

#endif
