/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `cgfence set add|del` without reading the set file's 100,000 entries
 * or compiling a policy again: the entries are checked against the set's
 * index (set_index.h), the file gets the changed lines in one rename, and
 * every running policy that names the set has its tables changed in place
 * from their mirror (set_delta.h), while what they were compiled from is
 * still what the directory holds (set_source.h). Whatever cannot be shown
 * to be so sends the command down its full path (a pass over the
 * directory, reload.h) before anything changed.
 */
#ifndef CGFENCE_SET_FAST_H
#define CGFENCE_SET_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "policy.h"

struct set_fast_request {
	const char *policy_dir, *bpffs, *lifecycle_log, *name;
	int sets_fd; /* POLICY_DIR/sets, locked by the caller */
	bool del;
	const struct policy_cidr *entries;
	char *const *texts; /* as the command line spelled them */
	size_t n;
};

enum {
	SET_FAST_DONE = 1,
	SET_FAST_NOT_HERE = 0, /* nothing changed: take the full path */
};

/*
 * SET_FAST_DONE (file and tables changed, lines printed, records
 * written), SET_FAST_NOT_HERE, -EEXIST (an entry already in, or not in:
 * refused, said), -EAGAIN (the file changed, but some tables did not: a
 * pass over the directory must follow), or another -errno (said; nothing
 * changed).
 */
int set_fast_change(const struct set_fast_request *rq);

/*
 * A pass (or `cgfence apply`) left policy_id running p (tables of that
 * digest), fenced from policy_dir: keeps what a later set change needs
 * (the tables' source, the index of each set p names). file: p's file as
 * the container records name it (NULL: p->path). Quiet: a failure only
 * costs the next set change its fast path.
 */
void set_fast_note(const struct cgf_state *st, uint32_t policy_id,
		   const struct policy *p, const char *policy_dir,
		   const char *file, const uint8_t digest[32]);

/*
 * A pass compiled p to digest for a container that runs policy_id, whose
 * digest differs: true when the tables are p all the same, changed by set
 * changes from what p's text and the same versions of its sets compiled
 * to (their record says so), and are now known by digest (kernel, mirror,
 * record): nothing to swap, and new containers share them.
 */
bool set_fast_adopt(const struct cgf_state *st, uint32_t policy_id,
		    const struct policy *p, const char *policy_dir,
		    const char *file, const uint8_t digest[32]);

#endif
