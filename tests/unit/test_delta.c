// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * In-place policy changes (enforcer/lib/delta.c). Random policies change one
 * rule at a time, in chains, sometimes completely; each plan is replayed on
 * a model of the kernel tables one write at a time, and:
 *   - after every write before the flip, the active bank still gives the
 *     old policy's verdicts (no moment where neither policy holds);
 *   - after the flip, the other bank gives exactly the new policy's
 *     verdicts (compared with the naive evaluator);
 *   - the model equals the mirror the plan predicts, and the mirror
 *     survives a save and load.
 * Seed in CGF_TEST_SEED.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delta.h"
#include "unit.h"
#include "policy_gen.h"
#include "delta_model.h"

#define CHAINS		  300
#define CHANGES_PER_CHAIN 6
#define OLD_FLOWS	  24
#define NEW_FLOWS	  200

static int failures_reported;

static void report(const char *what, uint64_t seed, int step)
{
	if (failures_reported++ < 5)
		fprintf(stderr,
			"test_delta: %s (seed %" PRIu64 ", change %d)\n", what,
			seed, step);
}

struct old_sample {
	struct flow flows[OLD_FLOWS];
	struct verdict want[OLD_FLOWS];
};

static bool old_verdicts_hold(const struct table_state *m, uint32_t bank,
			      const struct cgf_policy *hdr,
			      const struct old_sample *o)
{
	struct compiled_policy view;

	table_state_view(m, bank, hdr, &view);
	for (int i = 0; i < OLD_FLOWS; i++) {
		struct verdict got;

		compiled_judge_flow(&view, &o->flows[i], &got);
		if (got.action != o->want[i].action ||
		    got.rule != o->want[i].rule)
			return false;
	}
	return true;
}

/* One rule (or a default) of a random present section changes. */
static void mutate(struct rng *g, struct policy *p)
{
	struct policy_net_section *s =
		rng_below(g, 2) ? &p->egress : &p->ingress;
	struct policy_net_rule *r;

	if (!s->present)
		s = s == &p->egress ? &p->ingress : &p->egress;
	if (!s->present || !s->nrules) {
		if (s->present)
			s->default_action ^= 1;
		return;
	}
	r = &s->rules[rng_below(g, s->nrules)];
	switch (rng_below(g, 5)) {
	case 0:
		r->action ^= 1;
		break;
	case 1:
		if (r->nports) {
			r->ports[0].first = 1 + rng_below(g, 2000);
			r->ports[0].last =
				r->ports[0].first + rng_below(g, 300);
		} else {
			s->default_action ^= 1;
		}
		break;
	case 2:
		random_cidr(g, r);
		break;
	case 3:
		if (r->naddrs > 1)
			r->naddrs--;
		else
			random_cidr(g, r);
		break;
	default:
		s->default_action ^= 1;
		break;
	}
}

static struct policy *random_policy(struct rng *g)
{
	struct policy *p = policy_new("delta");

	random_net_section(g, &p->egress);
	random_net_section(g, &p->ingress);
	return p;
}

struct old_check {
	const struct cgf_policy *hdr;
	const struct old_sample *sample;
};

static bool old_holds(const struct table_state *m, uint32_t bank, size_t write,
		      void *ctx)
{
	const struct old_check *c = ctx;

	return old_verdicts_hold(m, bank, c->hdr, c->sample);
}

/* Replays plan on m, checking the old verdicts after every write. */
static bool replay(struct table_state *m, const struct delta_plan *plan,
		   const struct cgf_policy *old_hdr, const struct old_sample *o)
{
	struct old_check c = {old_hdr, o};

	return model_replay(m, plan, old_holds, &c);
}

static bool new_verdicts_exact(struct rng *g, const struct table_state *m,
			       const struct compiled_policy *c,
			       const struct policy *p)
{
	struct compiled_policy view;

	table_state_view(m, m->active_bank, &c->hdr, &view);
	for (int i = 0; i < NEW_FLOWS; i++) {
		struct verdict want, got;
		struct flow f;

		random_flow(g, p, &f);
		ref_judge_flow(p, &f, &want);
		compiled_judge_flow(&view, &f, &got);
		if (got.action != want.action || got.rule != want.rule)
			return false;
	}
	return true;
}

static void test_chains(uint64_t seed)
{
	struct rng g = {seed};
	size_t plans = 0, rebuilds = 0, lpm_writes = 0, bank_writes = 0;

	for (int chain = 0; chain < CHAINS; chain++) {
		struct policy *p = random_policy(&g);
		struct compiled_policy *c = compile_ok(p);
		struct table_state model;

		if (!c || table_state_init(&model, c, 1)) {
			CHECK(0, "initial state");
			return;
		}
		for (int step = 0; step < CHANGES_PER_CHAIN; step++) {
			struct compiled_policy *next_c;
			struct old_sample old;
			struct delta_plan plan;
			int err;

			for (int i = 0; i < OLD_FLOWS; i++) {
				random_flow(&g, p, &old.flows[i]);
				compiled_judge_flow(c, &old.flows[i],
						    &old.want[i]);
			}
			if (step == CHANGES_PER_CHAIN - 1 && chain % 3 == 0) {
				/* Everything changes: a different policy. */
				test_policy_free(p);
				p = random_policy(&g);
			} else {
				mutate(&g, p);
			}
			next_c = compile_ok(p);
			if (!next_c)
				break;
			err = delta_plan_build(&model, next_c, &plan);
			if (err == -ENOSPC) {
				/* Out of room: the caller rebuilds; so do we. */
				rebuilds++;
				table_state_free(&model);
				CHECK(table_state_init(&model, next_c, 1) == 0,
				      "rebuild");
			} else {
				CHECK(err == 0, "delta_plan_build = %d", err);
				if (err)
					break;
				plans++;
				lpm_writes += plan.nlpm;
				bank_writes += plan.nactive + plan.ninactive;
				if (!replay(&model, &plan, &c->hdr, &old))
					report("old verdicts changed before "
					       "the flip",
					       seed, step);
				else
					unit_passed++;
				if (!model_matches_mirror(&model, &plan.next))
					report("kernel model differs from the "
					       "planned mirror",
					       seed, step);
				else
					unit_passed++;
				table_state_free(&model);
				model = plan.next;
				memset(&plan.next, 0, sizeof(plan.next));
				delta_plan_free(&plan);
			}
			if (!new_verdicts_exact(&g, &model, next_c, p))
				report("new verdicts differ from the naive "
				       "evaluator",
				       seed, step);
			else
				unit_passed++;
			compiled_policy_free(c);
			c = next_c;
		}
		compiled_policy_free(c);
		table_state_free(&model);
		test_policy_free(p);
	}
	CHECK(failures_reported == 0, "%d failures (first ones above)",
	      failures_reported);
	CHECK(plans > CHAINS * 3, "only %zu plans", plans);
	printf("test_delta: %zu in-place changes (%zu LPM writes, %zu bank "
	       "writes), %zu rebuilds\n",
	       plans, lpm_writes, bank_writes, rebuilds);
}

/* A few entries of a set in, a few out: what `cgfence set add|del` does. */
static void change_set(struct rng *g, struct addr_set *set)
{
	uint32_t removals = set->nentries ? rng_below(g, 4) : 0;
	uint32_t additions = rng_below(g, 5);

	for (uint32_t i = 0; i < removals && set->nentries; i++) {
		size_t at = rng_below(g, set->nentries);

		set->entries[at] = set->entries[--set->nentries];
	}
	for (uint32_t i = 0; i < additions; i++)
		random_set_entry(g, set);
}

/*
 * A policy whose rules name sets; a set changes by a few random entries;
 * the plan from the tables as they are to the new compiled policy keeps
 * the old verdicts until the flip and then gives the new policy's, as a
 * fresh compile does (and as the reference evaluator says).
 */
static void test_set_changes(uint64_t seed)
{
	struct rng g = {seed ^ 0x5e7};
	size_t plans = 0, lpm_writes = 0;

	for (int chain = 0; chain < CHAINS / 3; chain++) {
		struct addr_set *sets[3];
		struct set_pool pool = {sets, 3};
		struct policy *p = policy_new("sets");
		struct compiled_policy *c;
		struct table_state model;

		for (int k = 0; k < 3; k++) {
			char name[8];

			snprintf(name, sizeof(name), "s%d", k);
			sets[k] = random_set(&g, name);
		}
		random_net_section_with(&g, &p->egress, &pool);
		random_net_section_with(&g, &p->ingress, &pool);
		policy_collect_sets(p);
		c = compile_ok(p);
		if (!c || table_state_init(&model, c, 1)) {
			CHECK(0, "initial state");
			return;
		}
		for (int step = 0; step < CHANGES_PER_CHAIN; step++) {
			struct compiled_policy *next_c;
			struct old_sample old;
			struct delta_plan plan;
			struct compiled_policy view;
			int err;

			for (int i = 0; i < OLD_FLOWS; i++) {
				random_flow(&g, p, &old.flows[i]);
				compiled_judge_flow(c, &old.flows[i],
						    &old.want[i]);
			}
			change_set(&g, sets[rng_below(&g, 3)]);
			next_c = compile_ok(p);
			if (!next_c)
				break;
			err = delta_plan_build(&model, next_c, &plan);
			if (err == -ENOSPC) {
				table_state_free(&model);
				CHECK(table_state_init(&model, next_c, 1) == 0,
				      "rebuild");
			} else {
				CHECK(err == 0, "delta_plan_build = %d", err);
				if (err)
					break;
				plans++;
				lpm_writes += plan.nlpm;
				if (!replay(&model, &plan, &c->hdr, &old))
					report("set change: old verdicts "
					       "changed before the flip",
					       seed, step);
				else
					unit_passed++;
				if (!model_matches_mirror(&model, &plan.next))
					report("set change: model differs from "
					       "the planned mirror",
					       seed, step);
				else
					unit_passed++;
				table_state_free(&model);
				model = plan.next;
				memset(&plan.next, 0, sizeof(plan.next));
				delta_plan_free(&plan);
			}
			/* The tables now judge as a fresh compile does. */
			table_state_view(&model, model.active_bank,
					 &next_c->hdr, &view);
			for (int i = 0; i < NEW_FLOWS; i++) {
				struct verdict fresh, got;
				struct flow f;

				random_flow(&g, p, &f);
				compiled_judge_flow(next_c, &f, &fresh);
				compiled_judge_flow(&view, &f, &got);
				if (got.action != fresh.action ||
				    got.rule != fresh.rule) {
					report("set change: tables differ from "
					       "a fresh compile",
					       seed, step);
					break;
				}
			}
			if (!new_verdicts_exact(&g, &model, next_c, p))
				report("set change: verdicts differ from the "
				       "naive evaluator",
				       seed, step);
			else
				unit_passed++;
			compiled_policy_free(c);
			c = next_c;
		}
		compiled_policy_free(c);
		table_state_free(&model);
		for (int k = 0; k < 3; k++)
			addr_set_free(sets[k]);
		test_policy_free(p);
	}
	CHECK(failures_reported == 0, "%d failures (first ones above)",
	      failures_reported);
	CHECK(plans > CHAINS / 3, "only %zu set-change plans", plans);
	printf("test_delta: %zu set changes in place (%zu LPM writes)\n", plans,
	       lpm_writes);
}

/* One address added to a 100,000-address policy touches a handful of entries. */
static void test_small_change_is_small(void)
{
	struct policy *p = policy_new("big");
	struct policy_net_rule *r;
	struct compiled_policy *c, *c2;
	struct table_state s;
	struct delta_plan plan;
	char addr[32];

	section_enable(&p->egress, CGF_DENY);
	for (int rule = 0; rule < 300; rule++) {
		r = rule_add(&p->egress, CGF_ALLOW, IPPROTO_TCP);
		rule_add_ports(r, 1000 + rule, 1000 + rule);
		for (int i = 0; i < 334; i++) {
			int n = rule * 334 + i;

			snprintf(addr, sizeof(addr), "10.%d.%d.%d",
				 (n >> 16) & 255, (n >> 8) & 255, n & 255);
			rule_add_cidr(r, addr);
		}
	}
	c = compile_ok(p);
	CHECK(c && table_state_init(&s, c, 7) == 0, "init");
	rule_add_cidr(&p->egress.rules[42], "192.0.2.1");
	c2 = compile_ok(p);
	CHECK(delta_plan_build(&s, c2, &plan) == 0, "plan");
	printf("test_delta: one address added to %zu entries: %zu LPM writes, "
	       "%zu + %zu bank writes\n",
	       c->nentries, plan.nlpm, plan.nactive, plan.ninactive);
	CHECK(plan.nlpm <= 2 && plan.nactive + plan.ninactive <= 4,
	      "a one-address change wrote %zu entries and %zu masks", plan.nlpm,
	      plan.nactive + plan.ninactive);

	/* The mirror round-trips through its file. */
	{
		char dir[] = "/tmp/cgf-delta-XXXXXX";
		struct table_state back;
		int dfd;

		CHECK(mkdtemp(dir) != NULL, "mkdtemp");
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(table_state_save(&plan.next, dfd, "t") == 0, "save");
		CHECK(table_state_load(&back, dfd, "t") == 0, "load");
		CHECK(back.nentries == plan.next.nentries &&
			      !memcmp(back.entries, plan.next.entries,
				      back.nentries * sizeof(*back.entries)) &&
			      back.active_bank == plan.next.active_bank &&
			      !memcmp(back.banks[1], plan.next.banks[1],
				      back.nclasses *
					      sizeof(struct cgf_rule_mask)),
		      "round trip");
		table_state_free(&back);
		/* A damaged file is refused, not trusted. */
		{
			int fd = openat(dfd, "t", O_WRONLY | O_CLOEXEC);

			CHECK(pwrite(fd, "X", 1, 200) == 1, "damage");
			close(fd);
		}
		CHECK(table_state_load(&back, dfd, "t") == -EBADMSG,
		      "corrupt file refused");
		unlinkat(dfd, "t", 0);
		close(dfd);
		rmdir(dir);
	}
	delta_plan_free(&plan);
	table_state_free(&s);
	compiled_policy_free(c);
	compiled_policy_free(c2);
	test_policy_free(p);
}

int main(void)
{
	const char *env = getenv("CGF_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20261125;

	printf("test_delta: seed %" PRIu64 " (set CGF_TEST_SEED to change)\n",
	       seed);
	test_chains(seed);
	test_set_changes(seed);
	test_small_change_is_small();
	return unit_done("test_delta");
}
