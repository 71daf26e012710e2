// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A set's entries added or removed, planned on the table mirror without a
 * recompile (enforcer/lib/set_delta.c). Random policies whose rules name
 * random sets, in chains of random `set add` / `set del` changes; each
 * plan is replayed on a model of the kernel tables one write at a time:
 *   - before the flip every lookup still gives the old verdicts (a plan
 *     of one trie write has no flip: after it, the new ones);
 *   - afterwards the tables give exactly the verdicts of the policy
 *     compiled afresh with the changed set, and of the reference
 *     first-match evaluator;
 *   - the plan committed to the mapped mirror file equals the model, the
 *     file loads again (its checksum kept), and the full planner
 *     (delta.c) finds no trie entry left to change against compile.c's
 *     output.
 * Seed in CGF_TEST_SEED.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_set.h"
#include "set_delta.h"
#include "unit.h"
#include "policy_gen.h"
#include "delta_model.h"

#define CHAINS	  160
#define STEPS	  8
#define OLD_FLOWS 24
#define NEW_FLOWS 300

static int failures_reported;

static void report(const char *what, uint64_t seed, int chain, int step)
{
	unit_failed++;
	if (failures_reported++ < 5)
		fprintf(stderr,
			"test_set_delta: %s (seed %" PRIu64
			", chain %d, change %d)\n",
			what, seed, chain, step);
}

static uint8_t kind_of(uint8_t direction, uint8_t family)
{
	if (direction == CGF_DIR_INGRESS)
		return family == 4 ? CGF_T_INGRESS_V4 : CGF_T_INGRESS_V6;
	return family == 4 ? CGF_T_EGRESS_V4 : CGF_T_EGRESS_V6;
}

static void clear_host_bits(struct policy_cidr *c)
{
	for (unsigned int b = c->prefixlen; b < 128; b++)
		c->addr[b / 8] &= ~(0x80 >> (b % 8));
}

static void cidr_key(uint8_t direction, const struct policy_cidr *c,
		     struct cgf_lpm_key *k)
{
	struct policy_cidr t = *c;

	clear_host_bits(&t);
	memset(k, 0, sizeof(*k));
	k->kind = kind_of(direction, c->family);
	memcpy(k->data, t.addr, c->family == 4 ? 4 : 16);
	k->prefixlen = CGF_KIND_BITS + c->prefixlen;
}

static bool cidr_is_key(uint8_t direction, const struct policy_cidr *c,
			const struct cgf_lpm_key *k)
{
	struct cgf_lpm_key ck;

	cidr_key(direction, c, &ck);
	return !compiled_key_cmp(&ck, k);
}

/* The rules' lists as they are now (the set already changed). */
static bool lists(void *ctx, uint32_t rule, const struct cgf_lpm_key *key)
{
	const struct policy *p = ctx;
	uint8_t dir =
		key->kind == CGF_T_INGRESS_V4 || key->kind == CGF_T_INGRESS_V6
			? CGF_DIR_INGRESS
			: CGF_DIR_EGRESS;
	const struct policy_net_section *s =
		dir == CGF_DIR_INGRESS ? &p->ingress : &p->egress;
	const struct policy_net_rule *r = &s->rules[rule];

	for (size_t i = 0; i < r->naddrs; i++)
		if (cidr_is_key(dir, &r->addrs[i], key))
			return true;
	for (size_t k = 0; k < r->nsets; k++)
		for (size_t i = 0; i < r->sets[k].set->nentries; i++)
			if (cidr_is_key(dir, &r->sets[k].set->entries[i], key))
				return true;
	return false;
}

static bool set_has(const struct addr_set *s, const struct policy_cidr *c)
{
	for (size_t i = 0; i < s->nentries; i++)
		if (s->entries[i].family == c->family &&
		    s->entries[i].prefixlen == c->prefixlen &&
		    !memcmp(s->entries[i].addr, c->addr, 16))
			return true;
	return false;
}

/* The rules of a section that name set. */
static void rules_naming(const struct policy_net_section *s,
			 const struct addr_set *set, struct cgf_rule_mask *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t r = 0; s->present && r < s->nrules; r++)
		for (size_t k = 0; k < s->rules[r].nsets; k++)
			if (s->rules[r].sets[k].set == set)
				m->bits[r / 64] |= 1ull << (r % 64);
}

static bool mask_empty(const struct cgf_rule_mask *m)
{
	static const struct cgf_rule_mask none;

	return !memcmp(m, &none, sizeof(*m));
}

/* Picks the change and makes it in the set; the planner's input in ch. */
static size_t make_change(struct rng *g, struct policy *p, struct addr_set *set,
			  struct set_delta_change *ch)
{
	struct cgf_rule_mask rules[2];
	struct policy_cidr xs[3];
	size_t nx = 1 + (rng_below(g, 4) == 0) * rng_below(g, 3), n = 0;
	bool add = !set->nentries || rng_below(g, 2);

	rules_naming(&p->egress, set, &rules[CGF_DIR_EGRESS]);
	rules_naming(&p->ingress, set, &rules[CGF_DIR_INGRESS]);
	for (size_t i = 0; i < nx; i++) {
		if (add) {
			do {
				memset(&xs[i], 0, sizeof(xs[i]));
				random_cidr_value(g, &xs[i].family, xs[i].addr,
						  &xs[i].prefixlen);
				clear_host_bits(&xs[i]);
			} while (set_has(set, &xs[i]));
			set_add_cidr_raw(set, xs[i].family, xs[i].addr,
					 xs[i].prefixlen);
		} else {
			if (!set->nentries) {
				nx = i;
				break;
			}
			xs[i] = set->entries[rng_below(g, set->nentries)];
			/* Every copy goes, as set del does. */
			for (size_t j = 0; j < set->nentries;)
				if (set->entries[j].family == xs[i].family &&
				    set->entries[j].prefixlen ==
					    xs[i].prefixlen &&
				    !memcmp(set->entries[j].addr, xs[i].addr,
					    16))
					set->entries[j] =
						set->entries[--set->nentries];
				else
					j++;
		}
	}
	for (size_t i = 0; i < nx; i++)
		for (uint8_t d = 0; d < 2; d++) {
			if (mask_empty(&rules[d]))
				continue;
			cidr_key(d, &xs[i], &ch[n].key);
			ch[n++].rules = rules[d];
		}
	return n;
}

static void state_copy(struct table_state *dst, const struct table_state *src)
{
	*dst = *src;
	dst->entries = grow(NULL, src->entry_cap + 1, sizeof(*dst->entries));
	memcpy(dst->entries, src->entries,
	       src->nentries * sizeof(*dst->entries));
	for (int b = 0; b < 2; b++) {
		dst->banks[b] = grow(NULL, src->class_cap + 1,
				     sizeof(struct cgf_rule_mask));
		memcpy(dst->banks[b], src->banks[b],
		       src->class_cap * sizeof(struct cgf_rule_mask));
	}
	dst->refs = grow(NULL, src->class_cap + 1, sizeof(*dst->refs));
	memcpy(dst->refs, src->refs, src->class_cap * sizeof(*dst->refs));
}

struct sample {
	struct flow flows[NEW_FLOWS];
	struct verdict want[NEW_FLOWS];
	size_t n;
};

static bool verdicts_hold(const struct table_state *m, uint32_t bank,
			  const struct cgf_policy *hdr, const struct sample *s)
{
	struct compiled_policy view;

	table_state_view(m, bank, hdr, &view);
	for (size_t i = 0; i < s->n; i++) {
		struct verdict got;

		compiled_judge_flow(&view, &s->flows[i], &got);
		if (got.action != s->want[i].action ||
		    got.rule != s->want[i].rule)
			return false;
	}
	return true;
}

/* Replays the plan as the kernel takes it; false if a check failed. */
static bool replay(struct table_state *m, const struct delta_plan *plan,
		   const struct cgf_policy *hdr, const struct sample *old,
		   const struct sample *new)
{
	uint32_t A = m->active_bank;
	bool ok = true, flip = plan->next.active_bank != A;

	for (size_t i = 0; i < plan->nactive; i++) {
		m->banks[A][plan->active_ids[i]] = plan->active_masks[i];
		if (plan->active_ids[i] >= m->nclasses)
			m->nclasses = plan->active_ids[i] + 1;
		ok &= verdicts_hold(m, A, hdr, old);
	}
	for (size_t i = 0; i < plan->ninactive; i++) {
		m->banks[A ^ 1][plan->inactive_ids[i]] =
			plan->inactive_masks[i];
		ok &= verdicts_hold(m, A, hdr, old);
	}
	for (size_t i = 0; i < plan->nlpm; i++) {
		model_lpm_write(m, &plan->lpm[i]);
		if (flip)
			ok &= verdicts_hold(m, A, hdr, old);
	}
	if (plan->next.nclasses > m->nclasses)
		m->nclasses = plan->next.nclasses;
	m->active_bank = plan->next.active_bank;
	return ok && verdicts_hold(m, m->active_bank, hdr, new);
}

static void sample_flows(struct rng *g, const struct policy *p,
			 const struct compiled_policy *c, struct sample *s,
			 size_t n, bool reference)
{
	s->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct verdict ref;

		random_flow(g, p, &s->flows[s->n]);
		compiled_judge_flow(c, &s->flows[s->n], &s->want[s->n]);
		if (reference) {
			ref_judge_flow(p, &s->flows[s->n], &ref);
			if (ref.action != s->want[s->n].action ||
			    ref.rule != s->want[s->n].rule)
				unit_failed++; /* compile.c itself is wrong */
		}
		s->n++;
	}
}

static void test_chains(uint64_t seed)
{
	struct rng g = {seed ^ 0x5e7d};
	char dir[] = "/tmp/cgf-set-delta-XXXXXX";
	size_t plans = 0, writes = 0, single = 0, fallbacks = 0;
	int dfd;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int chain = 0; chain < CHAINS; chain++) {
		struct addr_set *sets[2];
		struct set_pool pool = {sets, 2};
		struct policy *p = policy_new("sets");
		struct compiled_policy *c;
		struct table_map map;

		for (int k = 0; k < 2; k++) {
			sets[k] = random_set(&g, k ? "t" : "s");
			for (size_t i = 0; i < sets[k]->nentries; i++)
				clear_host_bits(&sets[k]->entries[i]);
		}
		random_net_section_with(&g, &p->egress, &pool);
		random_net_section_with(&g, &p->ingress, &pool);
		policy_collect_sets(p);
		c = compile_ok(p);
		{
			struct table_state init;

			CHECK(c && table_state_init(&init, c, 3) == 0, "init");
			CHECK(table_state_save(&init, dfd, "m") == 0, "save");
			table_state_free(&init);
		}
		CHECK(table_map_open(&map, dfd, "m") == 0, "map");
		for (int step = 0; step < STEPS; step++) {
			struct set_delta_change ch[6];
			static struct sample old, new;
			struct compiled_policy *next_c;
			struct table_state model, back;
			struct delta_plan plan, full;
			size_t n;
			int err;

			sample_flows(&g, p, c, &old, OLD_FLOWS, false);
			n = make_change(&g, p, sets[rng_below(&g, 2)], ch);
			next_c = compile_ok(p);
			if (!next_c)
				break;
			sample_flows(&g, p, next_c, &new, NEW_FLOWS, true);
			err = set_delta_plan(&map.s, ch, n, lists, p, &plan);
			if (err == -EAGAIN || err == -ENOSPC) {
				/* The command recompiles: so does the test. */
				struct table_state init;

				fallbacks++;
				table_map_close(&map);
				CHECK(table_state_init(&init, next_c, 3) == 0 &&
					      table_state_save(&init, dfd,
							       "m") == 0 &&
					      table_map_open(&map, dfd, "m") ==
						      0,
				      "rebuild");
				table_state_free(&init);
				compiled_policy_free(c);
				c = next_c;
				continue;
			}
			CHECK(err == 0, "set_delta_plan = %d", err);
			if (err)
				break;
			plans++;
			writes += plan.nlpm;
			single += plan.next.active_bank == map.s.active_bank;
			state_copy(&model, &map.s);
			if (!replay(&model, &plan, &c->hdr, &old, &new))
				report("verdicts before or after the flip",
				       seed, chain, step);
			else
				unit_passed++;
			table_map_begin(&map);
			CHECK(set_delta_commit(&map.s, &map.sum, &plan) == 0,
			      "commit");
			table_map_end(&map);
			if (!model_matches_mirror(&model, &map.s))
				report("the mirror is not what the kernel "
				       "holds",
				       seed, chain, step);
			err = table_state_load(&back, dfd, "m");
			CHECK(err == 0, "the changed mirror loads: %d", err);
			if (!err) {
				/* The full planner: nothing left to change. */
				CHECK(delta_plan_build(&back, next_c, &full) ==
						      0 &&
					      full.nlpm == 0,
				      "full plan after a set change: %zu trie "
				      "writes (seed %" PRIu64 ", chain %d)",
				      full.nlpm, seed, chain);
				delta_plan_free(&full);
				table_state_free(&back);
			}
			delta_plan_free(&plan);
			table_state_free(&model);
			compiled_policy_free(c);
			c = next_c;
		}
		table_map_close(&map);
		compiled_policy_free(c);
		for (int k = 0; k < 2; k++)
			addr_set_free(sets[k]);
		test_policy_free(p);
	}
	unlinkat(dfd, "m", 0);
	close(dfd);
	rmdir(dir);
	printf("test_set_delta: %zu plans, %zu trie writes, %zu without a "
	       "flip, %zu recompiled\n",
	       plans, writes, single, fallbacks);
	CHECK(plans > CHAINS * STEPS / 2, "most changes planned (%zu)", plans);
}

/* One address added to a 100,000-entry set: one trie write, no class. */
static void test_one_in_many(void)
{
	struct policy *p = policy_new("feed");
	struct addr_set *set = set_new("feed");
	struct set_delta_change ch = {0};
	struct compiled_policy *c;
	struct table_state s;
	struct delta_plan plan;
	struct policy_net_rule *r;

	section_enable(&p->egress, CGF_ALLOW);
	r = rule_add(&p->egress, CGF_DENY, 0);
	rule_add_set(r, set);
	for (uint32_t i = 0; i < 100000; i++) {
		uint8_t a[16] = {10, i >> 16, i >> 8, i};

		set_add_cidr_raw(set, 4, a, 32);
	}
	policy_collect_sets(p);
	c = compile_ok(p);
	CHECK(c && table_state_init(&s, c, 1) == 0, "init");
	{
		uint8_t a[16] = {172, 31, 0, 1};

		set_add_cidr_raw(set, 4, a, 32);
		cidr_key(CGF_DIR_EGRESS, &set->entries[set->nentries - 1],
			 &ch.key);
	}
	ch.rules.bits[0] = 1;
	CHECK(set_delta_plan(&s, &ch, 1, lists, p, &plan) == 0, "plan");
	CHECK(plan.nlpm == 1 && plan.nactive == 0 && plan.ninactive == 0 &&
		      plan.next.active_bank == s.active_bank &&
		      plan.next.nclasses == s.nclasses,
	      "one address: %zu trie writes, %zu + %zu masks, %s flip",
	      plan.nlpm, plan.nactive, plan.ninactive,
	      plan.next.active_bank == s.active_bank ? "no" : "a");
	delta_plan_free(&plan);
	table_state_free(&s);
	compiled_policy_free(c);
	addr_set_free(set);
	test_policy_free(p);
}

/*
 * A feed's new version, 1,000 of 100,000 entries replaced, through the
 * full planner (delta.c): only the difference is written, even when the
 * first entry of the set's class is one that goes.
 */
static void test_feed_replaced(void)
{
	struct policy *p = policy_new("feed");
	struct addr_set *set = set_new("feed");
	struct compiled_policy *c, *c2;
	struct policy_net_rule *r;
	struct table_state s;
	struct delta_plan plan;

	section_enable(&p->egress, CGF_ALLOW);
	r = rule_add(&p->egress, CGF_DENY, 0);
	rule_add_set(r, set);
	for (uint32_t i = 0; i < 100000; i++) {
		uint8_t a[16] = {10, i >> 16, i >> 8, i};

		set_add_cidr_raw(set, 4, a, 32);
	}
	policy_collect_sets(p);
	c = compile_ok(p);
	CHECK(c && table_state_init(&s, c, 1) == 0, "init");
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t a[16] = {11, i >> 16, i >> 8, i};

		set->entries[i].addr[0] = a[0];
	}
	c2 = compile_ok(p);
	CHECK(c2 && delta_plan_build(&s, c2, &plan) == 0, "plan");
	printf("test_set_delta: a feed replacing 1000 of 100000 entries: %zu "
	       "trie writes, %zu + %zu masks\n",
	       plan.nlpm, plan.nactive, plan.ninactive);
	CHECK(plan.nlpm <= 2000 && plan.nactive + plan.ninactive <= 8,
	      "feed: %zu trie writes, %zu masks", plan.nlpm,
	      plan.nactive + plan.ninactive);
	delta_plan_free(&plan);
	table_state_free(&s);
	compiled_policy_free(c);
	compiled_policy_free(c2);
	addr_set_free(set);
	test_policy_free(p);
}

int main(void)
{
	const char *env = getenv("CGF_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20261201;

	printf("test_set_delta: seed %" PRIu64
	       " (set CGF_TEST_SEED to change)\n",
	       seed);
	test_chains(seed);
	test_one_in_many();
	test_feed_replaced();
	return unit_done("test_set_delta");
}
