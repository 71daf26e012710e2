/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A model of the kernel tables a change plan (enforcer/lib/delta.h) is
 * written to, one write at a time, as the kernel takes them: shared by the
 * unit test of the planner and its fuzz harness.
 */
#ifndef CGFENCE_DELTA_MODEL_H
#define CGFENCE_DELTA_MODEL_H

#include <stdbool.h>
#include <string.h>

#include "delta.h"

/* An LPM update as the kernel does it: insert or replace the value. */
static inline void model_lpm_write(struct table_state *m,
				   const struct compiled_entry *e)
{
	size_t lo = 0, hi = m->nentries;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (compiled_key_cmp(&m->entries[mid].key, &e->key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->nentries &&
	    !compiled_key_cmp(&m->entries[lo].key, &e->key)) {
		m->entries[lo].class_id = e->class_id;
		return;
	}
	memmove(&m->entries[lo + 1], &m->entries[lo],
		(m->nentries - lo) * sizeof(*m->entries));
	m->entries[lo] = *e;
	m->nentries++;
}

/*
 * What must hold after each write before the flip, looking up through the
 * active bank: the old policy's verdicts. Called with the write's number.
 */
typedef bool (*model_check_fn)(const struct table_state *m, uint32_t bank,
			       size_t write, void *ctx);

/*
 * Replays plan on m in its order (delta.h: steps 1 to 3, then the flip);
 * false when holds() failed after one of the writes before the flip.
 */
static inline bool model_replay(struct table_state *m,
				const struct delta_plan *plan,
				model_check_fn holds, void *ctx)
{
	uint32_t A = m->active_bank, I = A ^ 1;
	size_t write = 0;
	bool ok = true;

	for (size_t i = 0; i < plan->nactive; i++) {
		m->banks[A][plan->active_ids[i]] = plan->active_masks[i];
		if (plan->active_ids[i] >= m->nclasses)
			m->nclasses = plan->active_ids[i] + 1;
		ok &= holds(m, A, write++, ctx);
	}
	for (size_t i = 0; i < plan->ninactive; i++) {
		m->banks[I][plan->inactive_ids[i]] = plan->inactive_masks[i];
		ok &= holds(m, A, write++, ctx);
	}
	for (size_t i = 0; i < plan->nlpm; i++) {
		model_lpm_write(m, &plan->lpm[i]);
		ok &= holds(m, A, write++, ctx);
	}
	m->nclasses = plan->next.nclasses;
	m->active_bank = I;
	return ok;
}

/* The model is what the plan predicted (ids no entry uses may differ). */
static inline bool model_matches_mirror(const struct table_state *m,
					const struct table_state *next)
{
	if (m->nentries != next->nentries ||
	    memcmp(m->entries, next->entries,
		   m->nentries * sizeof(*m->entries)))
		return false;
	/* The active bank is what lookups read. */
	for (size_t i = 0; i < m->nentries; i++) {
		uint32_t id = m->entries[i].class_id;

		if (memcmp(&m->banks[m->active_bank][id],
			   &next->banks[next->active_bank][id],
			   sizeof(struct cgf_rule_mask)))
			return false;
	}
	return true;
}

#endif
