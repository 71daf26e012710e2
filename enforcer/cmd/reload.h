/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A pass over a policy directory and the running containers fenced from
 * it (the hook's container records): each gets what the directory now
 * chooses for it, swapped in atomically per cgroup (in place where it
 * runs alone on its policy). A file that does not validate is replaced by
 * its last good version, a directory with overlapping selectors by the
 * last good directory (policy_dir.h); a container whose policy left the
 * directory keeps its version. What changed becomes lifecycle records:
 *
 *   changed         container, new policy and id, previous_policy(_id)
 *   kept            container whose policy is gone, with the reason
 *   policy-invalid  policy_dir, file, reason "FILE:LINE:COL: message";
 *                   once per problem, not again while it stays
 *
 * Run by hookd when a directory it watches changes, and by
 * `cgfence reload` on demand.
 */
#ifndef CGFENCE_RELOAD_H
#define CGFENCE_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "hook.h"

struct reload_request {
	const char *policy_dir;
	const char *bpffs;
	const char *lifecycle_log;
	const char *source; /* "hookd" or "reload", for the records */
	/* hookd: its state and parsed policies; NULL for one pass. */
	struct hook_resident *resident;
	/* How long to wait for the state lock; 0: the default. */
	unsigned int lock_timeout_ms;
	/* `cgfence reload`: a line per change on stdout, problems on stderr. */
	bool print;
};

struct reload_result {
	unsigned int containers; /* fenced from the directory */
	unsigned int changed;
	unsigned int kept;     /* keep a version the directory dropped */
	unsigned int problems; /* of the directory, now */
	uint64_t kernel_ns;    /* in fence_apply(), all containers */
	/* Tables changed in place for all their containers at once. */
	size_t shared_changes, lpm_writes, mask_writes;
	/* Of those: waiting for readers of the bank a change < 1 s before
	 * wrote (delta.h). */
	uint64_t wait_ns;
	uint64_t elapsed_ns;
};

/* 0 when the pass ran (problems or not), or a negative errno. */
int reload_policy_dir(const struct reload_request *rq,
		      struct reload_result *res);

#endif
