/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Compiled policies in the kernel. A policy id names one set of tables
 * (header, LPM trie, class masks); cgroups running the same compiled policy
 * (same digest) share one id, reference counted in cgf_policy_info.
 */
#ifndef CGFENCE_TABLES_H
#define CGFENCE_TABLES_H

#include <stdint.h>

#include "compile.h"
#include "loader.h"

/* Finds the tables with cp's digest or creates them; takes a reference. */
int tables_acquire(struct cgf_state *st, const struct compiled_policy *cp,
		   const char *name, uint32_t *policy_id);

/* Drops a reference; the tables are deleted with the last one. */
int tables_release(struct cgf_state *st, uint32_t policy_id);

#endif
