// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A set's entries added or removed, planned on the table mirror; see
 * set_delta.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "set_delta.h"

#define KEY_MAX_BITS (CGF_KIND_BITS + 128)
#define NOT_TAKEN    0

static const struct cgf_rule_mask no_rules;

static bool mask_equal(const struct cgf_rule_mask *a,
		       const struct cgf_rule_mask *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* (m & ~r) | add */
static void mask_replace_bits(struct cgf_rule_mask *m,
			      const struct cgf_rule_mask *r,
			      const struct cgf_rule_mask *add)
{
	for (int w = 0; w < CGF_MASK_WORDS; w++)
		m->bits[w] = (m->bits[w] & ~r->bits[w]) | add->bits[w];
}

static uint8_t key_byte(const struct cgf_lpm_key *k, unsigned int i)
{
	return i == 0 ? k->kind : k->data[i - 1];
}

/* outer's first outer->prefixlen bits are inner's, and inner is longer. */
static bool key_contains(const struct cgf_lpm_key *outer,
			 const struct cgf_lpm_key *inner)
{
	uint32_t bits = outer->prefixlen;

	if (outer->prefixlen > inner->prefixlen)
		return false;
	for (unsigned int i = 0; bits; i++) {
		uint8_t diff = key_byte(outer, i) ^ key_byte(inner, i);

		if (bits < 8)
			return !(diff & (0xff00 >> bits));
		if (diff)
			return false;
		bits -= 8;
	}
	return true;
}

/* The first entry not before key. */
static size_t lower_bound(const struct table_state *s,
			  const struct cgf_lpm_key *key)
{
	size_t lo = 0, hi = s->nentries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (compiled_key_cmp(&s->entries[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct planner {
	const struct table_state *cur;
	struct delta_plan *plan;
	struct compiled_policy view; /* the active bank */
	set_delta_lists_fn lists;
	void *ctx;
	uint32_t A, I;
	uint32_t nclasses;  /* after the plan */
	uint32_t free_next; /* where to look for a class no entry uses */
	uint32_t *taken;    /* class id -> 1 + its index in the active writes */
	struct cgf_rule_mask *new_masks; /* of the active writes, same index */
	size_t lpm_cap, inserts;
};

static int plan_lpm(struct planner *pl, const struct cgf_lpm_key *key,
		    uint32_t class_id)
{
	struct delta_plan *plan = pl->plan;

	if (plan->nlpm == pl->lpm_cap) {
		size_t cap = pl->lpm_cap ? pl->lpm_cap * 2 : 16;
		struct compiled_entry *lpm =
			reallocarray(plan->lpm, cap, sizeof(*lpm));

		if (!lpm)
			return -ENOMEM;
		plan->lpm = lpm;
		pl->lpm_cap = cap;
	}
	plan->lpm[plan->nlpm].key = *key;
	plan->lpm[plan->nlpm++].class_id = class_id;
	return 0;
}

/* A class whose active mask is a (what the entry gives now) and whose
 * mask after the flip is b: one made by this plan, or a new one. */
static int class_for_pair(struct planner *pl, const struct cgf_rule_mask *a,
			  const struct cgf_rule_mask *b, uint32_t *id_out)
{
	struct delta_plan *plan = pl->plan;
	const struct table_state *cur = pl->cur;
	uint32_t id;

	for (size_t i = 0; i < plan->nactive; i++) {
		if (mask_equal(&plan->active_masks[i], a) &&
		    mask_equal(&pl->new_masks[i], b)) {
			*id_out = plan->active_ids[i];
			return 0;
		}
	}
	while (pl->free_next < cur->nclasses &&
	       (cur->refs[pl->free_next] || pl->taken[pl->free_next]))
		pl->free_next++;
	if (pl->free_next < cur->nclasses) {
		id = pl->free_next++;
	} else {
		if (pl->nclasses >= cur->class_cap)
			return -ENOSPC;
		id = pl->nclasses++;
	}
	plan->active_ids[plan->nactive] = id;
	plan->active_masks[plan->nactive] = *a;
	pl->new_masks[plan->nactive] = *b;
	pl->taken[id] = ++plan->nactive;
	*id_out = id;
	return 0;
}

/* The rules of r that list key (after the change). */
static void own_rules(struct planner *pl, const struct cgf_rule_mask *r,
		      const struct cgf_lpm_key *key, struct cgf_rule_mask *out)
{
	*out = no_rules;
	for (int w = 0; w < CGF_MASK_WORDS; w++) {
		for (uint64_t bits = r->bits[w]; bits; bits &= bits - 1) {
			uint32_t rule = w * 64 + __builtin_ctzll(bits);

			if (pl->lists(pl->ctx, rule, key))
				out->bits[w] |= 1ull << (rule % 64);
		}
	}
}

static const struct cgf_rule_mask *active_mask(const struct planner *pl,
					       uint32_t id)
{
	return id < pl->cur->nclasses ? &pl->cur->banks[pl->A][id] : &no_rules;
}

/* An entry whose mask changes (or a new one): its write. */
static int plan_entry(struct planner *pl, const struct cgf_lpm_key *key,
		      const struct cgf_rule_mask *old,
		      const struct cgf_rule_mask *new, bool insert,
		      uint32_t same_class)
{
	uint32_t id = same_class;
	int err;

	if (!insert && mask_equal(old, new))
		return 0;
	if (!mask_equal(old, new)) {
		err = class_for_pair(pl, old, new, &id);
		if (err)
			return err;
	}
	pl->inserts += insert;
	return plan_lpm(pl, key, id);
}

/*
 * One prefix X: the rules' bits worked out again for X and everything
 * below it, walking them in key order with the chain of enclosing
 * prefixes on a stack (as compile.c does for the whole policy).
 */
static int plan_change(struct planner *pl, const struct set_delta_change *ch)
{
	const struct table_state *cur = pl->cur;
	struct {
		const struct cgf_lpm_key *key;
		struct cgf_rule_mask rules;
	} stack[KEY_MAX_BITS - CGF_KIND_BITS + 2];
	struct cgf_lpm_key parent_key = ch->key;
	struct cgf_rule_mask old, new, own;
	size_t pos = lower_bound(cur, &ch->key), depth = 0;
	bool exists = pos < cur->nentries &&
		      !compiled_key_cmp(&cur->entries[pos].key, &ch->key);
	uint32_t parent = COMPILED_NO_CLASS;
	int err;

	if (ch->key.prefixlen < CGF_KIND_BITS ||
	    ch->key.prefixlen > KEY_MAX_BITS)
		return -EINVAL;
	if (!exists || ch->key.prefixlen > CGF_KIND_BITS) {
		parent_key.prefixlen -= exists;
		parent = compiled_lookup_class(&pl->view, &parent_key);
	}
	/* Every kind of a restricted direction has its /0: a new prefix
	 * always lies below an entry. */
	if (!exists && parent == COMPILED_NO_CLASS)
		return -EAGAIN;
	old = exists ? *active_mask(pl, cur->entries[pos].class_id)
		     : *active_mask(pl, parent);
	own_rules(pl, &ch->rules, &ch->key, &own);
	stack[0].key = &ch->key;
	stack[0].rules = *active_mask(pl, parent);
	for (int w = 0; w < CGF_MASK_WORDS; w++)
		stack[0].rules.bits[w] =
			(stack[0].rules.bits[w] & ch->rules.bits[w]) |
			own.bits[w];
	depth = 1;
	new = old;
	mask_replace_bits(&new, &ch->rules, &stack[0].rules);
	err = plan_entry(pl, &ch->key, &old, &new, !exists, parent);
	if (err)
		return err;
	for (size_t i = pos + exists;
	     i < cur->nentries && key_contains(&ch->key, &cur->entries[i].key);
	     i++) {
		const struct compiled_entry *e = &cur->entries[i];

		while (depth > 1 &&
		       !key_contains(stack[depth - 1].key, &e->key))
			depth--;
		own_rules(pl, &ch->rules, &e->key, &own);
		stack[depth].key = &e->key;
		for (int w = 0; w < CGF_MASK_WORDS; w++)
			stack[depth].rules.bits[w] =
				stack[depth - 1].rules.bits[w] | own.bits[w];
		old = *active_mask(pl, e->class_id);
		new = old;
		mask_replace_bits(&new, &ch->rules, &stack[depth].rules);
		depth++;
		err = plan_entry(pl, &e->key, &old, &new, false, e->class_id);
		if (err)
			return err;
	}
	return 0;
}

static int compare_changes(const void *a, const void *b)
{
	const struct set_delta_change *x = a, *y = b;

	return compiled_key_cmp(&x->key, &y->key);
}

/*
 * A plan of one trie write needs no flip: a lookup sees the entry before
 * or after the write, never half a change. It then takes a class that
 * already has the new mask in the active bank, and writes nothing else:
 * no bank (so it never waits for the readers of an earlier flip), no new
 * class (so a long run of one-entry changes does not use them up). True
 * when the plan is now that.
 */
static bool single_write(struct planner *pl)
{
	struct delta_plan *plan = pl->plan;
	const struct table_state *cur = pl->cur;
	uint32_t id;

	if (plan->nlpm != 1 || plan->nactive > 1)
		return false;
	if (plan->nactive == 0)
		return true; /* a new entry with its parent's class */
	if (plan->lpm[0].class_id != plan->active_ids[0])
		return false;
	for (id = 0; id < cur->nclasses; id++)
		if (cur->refs[id] && !pl->taken[id] &&
		    mask_equal(&cur->banks[pl->A][id], &pl->new_masks[0]))
			break;
	if (id == cur->nclasses)
		return false;
	pl->taken[plan->active_ids[0]] = NOT_TAKEN;
	pl->nclasses = cur->nclasses;
	plan->nactive = 0;
	plan->lpm[0].class_id = id;
	return true;
}

/* Step 2 of delta.h: every class in use gets its new mask in the other
 * bank, where that bank does not already say so. */
static void plan_inactive(struct planner *pl)
{
	const struct table_state *cur = pl->cur;
	struct delta_plan *plan = pl->plan;

	for (uint32_t id = 0; id < pl->nclasses; id++) {
		const struct cgf_rule_mask *want;

		if (pl->taken[id])
			want = &pl->new_masks[pl->taken[id] - 1];
		else if (id < cur->nclasses && cur->refs[id])
			want = &cur->banks[pl->A][id];
		else
			continue;
		if (id < cur->nclasses &&
		    mask_equal(&cur->banks[pl->I][id], want))
			continue;
		plan->inactive_ids[plan->ninactive] = id;
		plan->inactive_masks[plan->ninactive++] = *want;
	}
}

int set_delta_plan(const struct table_state *cur,
		   const struct set_delta_change *ch, size_t n,
		   set_delta_lists_fn lists, void *ctx, struct delta_plan *plan)
{
	struct cgf_policy no_hdr = {};
	struct planner pl = {.cur = cur,
			     .plan = plan,
			     .lists = lists,
			     .ctx = ctx,
			     .A = cur->active_bank & 1,
			     .I = (cur->active_bank & 1) ^ 1,
			     .nclasses = cur->nclasses};
	struct set_delta_change *sorted = NULL;
	size_t cap = cur->class_cap ? cur->class_cap : 1;
	int err = -ENOMEM;

	memset(plan, 0, sizeof(*plan));
	plan->active_ids = calloc(cap, sizeof(*plan->active_ids));
	plan->active_masks = calloc(cap, sizeof(*plan->active_masks));
	plan->inactive_ids = calloc(cap, sizeof(*plan->inactive_ids));
	plan->inactive_masks = calloc(cap, sizeof(*plan->inactive_masks));
	pl.taken = calloc(cap, sizeof(*pl.taken));
	pl.new_masks = calloc(cap, sizeof(*pl.new_masks));
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!plan->active_ids || !plan->active_masks || !plan->inactive_ids ||
	    !plan->inactive_masks || !pl.taken || !pl.new_masks || !sorted)
		goto out;
	if (n)
		memcpy(sorted, ch, n * sizeof(*ch));
	qsort(sorted, n, sizeof(*sorted), compare_changes);
	/* In key order a prefix comes right before what it contains. */
	err = -EAGAIN;
	for (size_t i = 1; i < n; i++)
		if (key_contains(&sorted[i - 1].key, &sorted[i].key))
			goto out;
	table_state_view(cur, pl.A, &no_hdr, &pl.view);
	err = 0;
	for (size_t i = 0; !err && i < n; i++)
		err = plan_change(&pl, &sorted[i]);
	if (!err && cur->nentries + pl.inserts > cur->entry_cap)
		err = -ENOSPC;
	if (err)
		goto out;
	if (single_write(&pl)) {
		plan->next.active_bank = pl.A;
	} else {
		plan_inactive(&pl);
		plan->next.active_bank = pl.I;
	}
	plan->next.nclasses = pl.nclasses;
out:
	free(sorted);
	free(pl.taken);
	free(pl.new_masks);
	if (err)
		delta_plan_free(plan);
	return err;
}

/* ---- after the kernel took the plan ---- */

static void set_mask(struct table_state *s, uint64_t *sum, uint32_t bank,
		     uint32_t id, const struct cgf_rule_mask *m)
{
	*sum -= table_sum_mask(bank, id, &s->banks[bank][id]);
	s->banks[bank][id] = *m;
	*sum += table_sum_mask(bank, id, m);
}

static void add_ref(struct table_state *s, uint64_t *sum, uint32_t id,
		    int delta)
{
	*sum -= table_sum_ref(id, s->refs[id]);
	s->refs[id] += delta;
	*sum += table_sum_ref(id, s->refs[id]);
}

int set_delta_commit(struct table_state *s, uint64_t *sum,
		     const struct delta_plan *plan)
{
	uint32_t A = s->active_bank & 1, I = A ^ 1;

	if (plan->next.nclasses > s->class_cap)
		return -EINVAL;
	/* Ids that come into use join the checksum as they are. */
	for (uint32_t id = s->nclasses; id < plan->next.nclasses; id++) {
		*sum += table_sum_mask(0, id, &s->banks[0][id]);
		*sum += table_sum_mask(1, id, &s->banks[1][id]);
		*sum += table_sum_ref(id, s->refs[id]);
	}
	if (plan->next.nclasses > s->nclasses)
		s->nclasses = plan->next.nclasses;
	for (size_t i = 0; i < plan->nactive; i++)
		set_mask(s, sum, A, plan->active_ids[i],
			 &plan->active_masks[i]);
	for (size_t i = 0; i < plan->ninactive; i++)
		set_mask(s, sum, I, plan->inactive_ids[i],
			 &plan->inactive_masks[i]);
	for (size_t i = 0; i < plan->nlpm; i++) {
		const struct compiled_entry *e = &plan->lpm[i];
		size_t pos = lower_bound(s, &e->key);

		if (e->class_id >= s->nclasses)
			return -EINVAL;
		if (pos < s->nentries &&
		    !compiled_key_cmp(&s->entries[pos].key, &e->key)) {
			*sum -= table_sum_entry(&s->entries[pos]);
			add_ref(s, sum, s->entries[pos].class_id, -1);
		} else {
			if (s->nentries == s->entry_cap)
				return -ENOSPC;
			memmove(&s->entries[pos + 1], &s->entries[pos],
				(s->nentries - pos) * sizeof(*s->entries));
			s->nentries++;
		}
		s->entries[pos] = *e;
		*sum += table_sum_entry(e);
		add_ref(s, sum, e->class_id, 1);
	}
	s->active_bank = plan->next.active_bank & 1;
	return 0;
}
