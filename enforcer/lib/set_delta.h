/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The change of a policy's tables when entries are added to or removed
 * from an address set its rules name, planned from the table mirror alone
 * (delta.h), without compiling the policy again: what `cgfence set add`
 * and `set del` write.
 *
 * A trie entry's mask is the set of rules listing a prefix that contains
 * it (compile.c); a prefix X added to or removed from a set changes only
 * the bits of the rules naming the set, and only in the entries X
 * contains: X itself (inserted if new) and the entries below it. Those
 * bits are worked out again from what the rules list after the change
 * (the caller's lists() callback: a rule's own addresses and its sets'
 * entries); every other bit and every other entry stays. The plan follows
 * the two-bank protocol of delta.h, so it is written with the same code
 * and keeps the old verdicts until the flip; each changed entry moves to
 * a class of its own pair of masks (a class no entry uses any more is
 * taken again first), so no other entry changes with it. Pure: no kernel.
 */
#ifndef CGFENCE_SET_DELTA_H
#define CGFENCE_SET_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delta.h"

struct set_delta_change {
	struct cgf_lpm_key key;	    /* the prefix, in its table kind */
	struct cgf_rule_mask rules; /* the rules of that direction naming the
				     * set */
};

/* Whether rule `rule` (of key's direction) lists exactly key, after the
 * change. */
typedef bool (*set_delta_lists_fn)(void *ctx, uint32_t rule,
				   const struct cgf_lpm_key *key);

/*
 * Plans the changes ch[0..n) from cur (its refs counted) into plan (as
 * delta_plan_build() would fill it, but plan->next holds only active_bank
 * and nclasses). -EAGAIN when one changed prefix contains another (the
 * caller recompiles instead), -ENOSPC when a capacity would be exceeded.
 */
int set_delta_plan(const struct table_state *cur,
		   const struct set_delta_change *ch, size_t n,
		   set_delta_lists_fn lists, void *ctx,
		   struct delta_plan *plan);

/*
 * After the kernel took the plan: s becomes the tables as they are now
 * (writes replayed, refs counted, the flip), and *sum (the mapped
 * mirror's checksum, delta.h) follows every value that changed.
 */
int set_delta_commit(struct table_state *s, uint64_t *sum,
		     const struct delta_plan *plan);

#endif
