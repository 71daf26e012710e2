// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the in-place change planner (enforcer/lib/delta.c) between
 * two policies, the input's two texts on either side of a line "====" (the
 * same text twice without one). Both are parsed and compiled; the tables
 * of the first are changed to the second and back, twice, until a change
 * runs out of room (-ENOSPC: the caller rebuilds); each plan replayed on
 * a model of the kernel tables one write at a time (tests/unit/
 * delta_model.h), and:
 *   - after every write before the flip, every key looks up the mask the
 *     old tables give it (no moment where neither policy holds);
 *   - after the flip, every key looks up the mask the new policy's own
 *     tables give it: the change yields exactly the new policy;
 *   - the model is the mirror the plan predicted;
 *   - a change to the same policy writes nothing.
 * "Every key": lookups change only where a prefix of either table starts
 * or ends, so those points, in both tables, cover every key.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "policy.h"
#include "delta_model.h"

/* Changes per run, from the first policy to the second and back. */
#define HOPS 4
/* Lookups per change spent on the checks between writes, at most. */
#define CHECK_BUDGET 200000

static void fail(const char *what, size_t write)
{
	fprintf(stderr, "fuzz_change_planner: %s (write %zu)\n", what, write);
	abort();
}

/* Key bits of each table kind: the kind, then the address or proto+port. */
static uint32_t full_bits(uint8_t kind)
{
	switch (kind) {
	case CGF_T_EGRESS_V4:
	case CGF_T_INGRESS_V4:
		return CGF_KIND_BITS + 32;
	case CGF_T_EGRESS_V6:
	case CGF_T_INGRESS_V6:
		return CGF_KIND_BITS + 128;
	default:
		return CGF_KIND_BITS + 24;
	}
}

static bool data_bit(const struct cgf_lpm_key *k, uint32_t b)
{
	return k->data[b / 8] & (0x80 >> (b % 8));
}

static void set_data_bit(struct cgf_lpm_key *k, uint32_t b, bool on)
{
	if (on)
		k->data[b / 8] |= 0x80 >> (b % 8);
	else
		k->data[b / 8] &= ~(0x80 >> (b % 8));
}

/* The first key of a prefix, and (if any) the first one after it. */
static int prefix_edges(const struct cgf_lpm_key *e, struct cgf_lpm_key out[2])
{
	uint32_t bits = full_bits(e->kind) - CGF_KIND_BITS;
	uint32_t len = e->prefixlen - CGF_KIND_BITS;
	int b;

	memset(out, 0, 2 * sizeof(*out));
	out[0].kind = e->kind;
	out[0].prefixlen = full_bits(e->kind);
	for (uint32_t i = 0; i < len && i < bits; i++)
		set_data_bit(&out[0], i, data_bit(e, i));
	if (!len)
		return 1;
	/* Past the end: the prefix plus one, host bits zero. */
	out[1] = out[0];
	for (b = (int)len - 1; b >= 0 && data_bit(&out[1], b); b--)
		set_data_bit(&out[1], b, false);
	if (b < 0)
		return 1; /* the prefix ends at the last key */
	set_data_bit(&out[1], b, true);
	return 2;
}

static const struct cgf_rule_mask *mask_at(const struct compiled_policy *c,
					   const struct cgf_lpm_key *k)
{
	static const struct cgf_rule_mask none;
	uint32_t id = compiled_lookup_class(c, k);

	return id < c->nclasses ? &c->classes[id] : &none;
}

static bool same_at_edges_of(const struct compiled_policy *a,
			     const struct compiled_policy *b,
			     const struct compiled_policy *edges)
{
	for (size_t i = 0; i < edges->nentries; i++) {
		struct cgf_lpm_key k[2];
		int n = prefix_edges(&edges->entries[i].key, k);

		for (int j = 0; j < n; j++)
			if (memcmp(mask_at(a, &k[j]), mask_at(b, &k[j]),
				   sizeof(struct cgf_rule_mask)))
				return false;
	}
	return true;
}

/* Every key looks up the same mask in both. */
static bool same_masks(const struct compiled_policy *a,
		       const struct compiled_policy *b)
{
	for (uint8_t kind = 0; kind < CGF_T__COUNT; kind++) {
		struct cgf_lpm_key first = {.prefixlen = full_bits(kind),
					    .kind = kind};

		if (memcmp(mask_at(a, &first), mask_at(b, &first),
			   sizeof(struct cgf_rule_mask)))
			return false;
	}
	return same_at_edges_of(a, b, a) && same_at_edges_of(a, b, b);
}

struct before_flip {
	const struct compiled_policy *old;
	size_t every; /* check after every so many writes */
	size_t last;  /* and after the last one */
};

static bool old_masks_hold(const struct table_state *m, uint32_t bank,
			   size_t write, void *ctx)
{
	const struct before_flip *c = ctx;
	struct compiled_policy view;

	if (write % c->every && write != c->last)
		return true;
	table_state_view(m, bank, &c->old->hdr, &view);
	if (!same_masks(&view, c->old))
		fail("a write before the flip changed a lookup", write);
	return true;
}

/*
 * From the tables *m holds (old's), to next: plans, replays and checks.
 * On success *m is the model after the flip. -ENOSPC: a rebuild instead.
 */
static int change(struct table_state *m, const struct compiled_policy *old,
		  const struct compiled_policy *next)
{
	struct compiled_policy view;
	struct delta_plan plan;
	struct before_flip c = {.old = old, .every = 1};
	size_t writes, lookups;
	int err;

	err = delta_plan_build(m, next, &plan);
	if (err == -ENOSPC)
		return err;
	if (err)
		fail("delta_plan_build failed", (size_t)-err);
	writes = plan.nactive + plan.ninactive + plan.nlpm;
	/* A check costs two lookups per prefix edge of both tables. */
	lookups = 4 * (m->nentries + plan.nlpm + old->nentries) + 12;
	if (writes * lookups > CHECK_BUDGET)
		c.every = writes * lookups / CHECK_BUDGET + 1;
	c.last = writes ? writes - 1 : 0;
	model_replay(m, &plan, old_masks_hold, &c);
	if (!model_matches_mirror(m, &plan.next))
		fail("the kernel model differs from the planned mirror", 0);
	table_state_view(m, m->active_bank, &next->hdr, &view);
	if (!same_masks(&view, next))
		fail("after the flip the tables are not the new policy's", 0);
	/* The mirror is the state the next change starts from. */
	table_state_free(m);
	*m = plan.next;
	memset(&plan.next, 0, sizeof(plan.next));
	delta_plan_free(&plan);
	return 0;
}

static struct compiled_policy *compile_text(const char *text, size_t len)
{
	struct compiled_policy *cp = NULL;
	struct policy *p = NULL;
	struct diags d = {};

	if (policy_parse("fuzz.json", text, len, &p, &d) == 0 &&
	    policy_compile(p, &cp) != 0)
		cp = NULL;
	policy_free(p);
	diags_free(&d);
	return cp;
}

static const char sep[] = "\n====\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *mid = memmem(text, size, sep, sizeof(sep) - 1);
	size_t alen = mid ? (size_t)(mid - text) : size;
	const char *b = mid ? mid + sizeof(sep) - 1 : text;
	size_t blen = mid ? size - alen - (sizeof(sep) - 1) : size;
	struct compiled_policy *ca = compile_text(text, alen);
	struct compiled_policy *cb = ca ? compile_text(b, blen) : NULL;
	struct table_state m;

	if (!cb)
		goto out;
	if (table_state_init(&m, ca, 1))
		fail("table_state_init failed", 0);
	if (!memcmp(ca->digest, cb->digest, sizeof(ca->digest))) {
		struct delta_plan plan;

		if (delta_plan_build(&m, cb, &plan))
			fail("no plan for an unchanged policy", 0);
		if (plan.nactive || plan.ninactive || plan.nlpm)
			fail("an unchanged policy writes", 0);
		delta_plan_free(&plan);
	}
	/*
	 * There and back, twice: the way back starts from tables with
	 * tombstones, and classes split further on every change.
	 */
	for (int hop = 0; hop < HOPS; hop++)
		if (change(&m, hop % 2 ? cb : ca, hop % 2 ? ca : cb))
			break;
	table_state_free(&m);
out:
	compiled_policy_free(ca);
	compiled_policy_free(cb);
	return 0;
}
