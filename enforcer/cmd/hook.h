/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The OCI hook's work, for `cgfence hook` and for requests to hookd. */
#ifndef CGFENCE_HOOK_H
#define CGFENCE_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgfence_abi.h"
#include "k8s_identity.h"
#include "loader.h"
#include "policy_dir.h"

/* What a createRuntime run fenced anew, so that it can be undone. */
struct hook_applied {
	bool fenced;
	uint64_t cgroup_id;
	char cgroup[CGF_PATH_LEN];
	char container_id[CGF_CONTAINER_ID_LEN];
	char policy[CGF_NAME_LEN];
	uint32_t policy_id;
	struct k8s_identity pod; /* zeroed: no pod's */
	/* The request's options: valid while hookd serves it. */
	const char *bpffs;
	const char *lifecycle_log;
};

/*
 * What hookd keeps from one request to the next, and owns: the pinned state
 * it holds open, the policies it parsed, and who wants to hear of the
 * policy directories its requests used (to watch them).
 */
struct hook_resident {
	struct state_keeper state;
	struct policy_cache *policies;
	void (*used_dir)(const char *policy_dir, const char *bpffs,
			 const char *lifecycle_log, void *ctx);
	void *ctx;
};

struct hook_serve_opts {
	struct hook_resident *resident;
	/* The runtime's process: a container must not share its cgroup. */
	pid_t runtime_pid;
	/*
	 * Called at poststop once the state lock is held, before the work:
	 * the runtime may go on (poststop always exits 0). Messages after it
	 * go to whatever stderr is then. NULL: answer at the end.
	 */
	void (*answer_early)(void *ctx);
	void *ctx;
	/* Out: filled when createRuntime fenced a cgroup that was not fenced. */
	struct hook_applied applied;
};

/*
 * One hook run inside a resident process: argv as `cgfence hook` takes it
 * (argv[0] is "hook") and the container state text. Messages go to
 * stderr. Returns the exit status `cgfence hook` would have.
 */
int hook_serve(int argc, char **argv, const char *text, size_t len,
	       struct hook_serve_opts *serve);

/*
 * The runtime left before hookd could answer a createRuntime that
 * succeeded: it will not start the container, so what was fenced is
 * detached again, and recorded as removed.
 */
void hook_serve_undo(struct hook_resident *resident,
		     const struct hook_applied *applied);

#endif
