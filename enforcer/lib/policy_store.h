/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a live policy directory keeps between passes, under the run
 * directory of the pinned state (CGF_RUN_DIR/<state>, tmpfs: gone at
 * reboot, like the state itself):
 *
 *   policy-dirs/KEY/path     the policy directory (KEY: 16 hex digits of
 *                            the SHA-256 of its path)
 *   policy-dirs/KEY/good/    NAME.json of the last valid directory: what a
 *                            file that stops validating is replaced with
 *   policy-dirs/KEY/errors   the problems the last pass found, one per
 *                            line ("FILE:LINE:COL: message")
 *
 * good/ is replaced as a whole (written next to it, then swapped with
 * renameat2(RENAME_EXCHANGE)), so a reader sees one directory version.
 * Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_POLICY_STORE_H
#define CGFENCE_POLICY_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "policy_dir.h"

/*
 * The store of policy_dir_path below run_fd, made when create; -ENOENT
 * when it does not exist and !create.
 */
int policy_store_open(int run_fd, const char *policy_dir_path, bool create,
		      int *store_fd);

/* The last good versions (for struct policy_dir), or -1 when none. */
int policy_store_good_fd(int store_fd);

/* Makes set the last good directory unless it is already; 1 when it was. */
int policy_store_save(int store_fd, const struct policy_set *set);

/*
 * Records the problems of this pass (an empty d: none); fresh gets the
 * lines the previous pass did not have, which are the ones to report.
 */
int policy_store_set_errors(int store_fd, const struct diags *d,
			    struct diags *fresh);

/*
 * Passes over the directory so far (policy-dirs/KEY/generation): a hook
 * that chose before it held the state lock reads it again under the lock,
 * and chooses again when a pass ran meanwhile. Bumped by each pass, under
 * the state lock.
 */
uint64_t policy_store_generation(int store_fd);
int policy_store_bump_generation(int store_fd);

/* For `cgfence status`: each stored directory and its problems. */
typedef void (*policy_store_visit_fn)(const char *policy_dir,
				      const char *errors, void *ctx);
int policy_store_visit(int run_fd, policy_store_visit_fn visit, void *ctx);

#endif
