/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Compiled policies in the kernel. A policy id names one set of tables
 * (header, LPM trie, class masks); cgroups running the same compiled policy
 * (same digest) share one id, reference counted in cgf_policy_info.
 */
#ifndef CGFENCE_TABLES_H
#define CGFENCE_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "delta.h"
#include "loader.h"

/*
 * Tables whose last cgroup left stay loaded, idle (refcount 0), for the
 * next container with the same policy: putting an inner map into the
 * map-in-maps, or taking it out, waits for an RCU grace period (about
 * 10 ms each), which would otherwise be paid twice per container start and
 * twice per stop. At most TABLES_IDLE_KEEP idle policies are kept; `cgfence
 * gc` deletes them all.
 */
#define TABLES_IDLE_KEEP 16

/* Finds the tables with cp's digest or creates them; takes a reference. */
int tables_acquire(struct cgf_state *st, const struct compiled_policy *cp,
		   const char *name, uint32_t *policy_id);

struct tables_change {
	size_t lpm_writes;  /* trie entries inserted or repointed */
	size_t mask_writes; /* class masks written, both banks */
	uint64_t kernel_ns; /* from the first write to the flip */
	uint64_t
		wait_ns; /* for readers of the previous bank (changes < 1 s apart) */
};

/*
 * Changes policy `id` in place to cp (see delta.h): only what differs is
 * written, and the flip is one header update. For a policy that exactly
 * `holders` cgroups run, all of them moving to cp (-EBUSY otherwise: the
 * others keep it), whose mirror is intact (-ENOENT, -ESTALE, -EBADMSG
 * otherwise); -ENOSPC when its capacity is spent. On any error the old
 * policy still holds and the caller rebuilds instead.
 */
int tables_change_in_place(struct cgf_state *st, uint32_t id,
			   const struct compiled_policy *cp, const char *name,
			   unsigned int holders, struct tables_change *out);

/*
 * The kernel half of a planned change of policy `id`, whose mirror is cur:
 * the plan's writes, then the flip to its bank with new_hdr (NULL: the
 * header the policy has; no flip at all when the bank stays). The caller
 * made sure cur describes the tables; on error the old policy still holds
 * and the mirror no longer describes the tables.
 */
int tables_write_plan(struct cgf_state *st, uint32_t id,
		      const struct table_state *cur,
		      const struct delta_plan *plan,
		      const struct cgf_policy *new_hdr,
		      struct tables_change *out);

/* Whether compiled tables with this digest are loaded (and so shared). */
bool tables_have_digest(struct cgf_state *st, const uint8_t digest[32]);

/* Drops a reference; at zero the tables stay, idle. */
int tables_release(struct cgf_state *st, uint32_t policy_id);

/* Deletes idle tables, oldest first, until at most keep remain; the count. */
int tables_prune_idle(struct cgf_state *st, unsigned int keep);

#endif
