// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a policy file, parsed, validated and compiled; every policy
 * that compiles is checked against the naive first-match evaluator of the
 * unit tests (tests/unit/policy_gen.h) at the edges of each rule's
 * addresses and ports. A disagreement aborts: the kernel would enforce
 * something else than the policy says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"
#include "unit.h"
#include "policy_gen.h"

static void agree(const struct policy *p, const struct compiled_policy *cp,
		  struct flow *f)
{
	struct verdict want, got;

	flow_normalize(f);
	ref_judge_flow(p, f, &want);
	compiled_judge_flow(cp, f, &got);
	if (want.action != got.action || want.rule != got.rule) {
		fprintf(stderr,
			"fuzz_policy: compiled tables disagree: rule %u vs "
			"%u\n",
			got.rule, want.rule);
		abort();
	}
}

/* Flows at the edges of a CIDR (its first address and the one before it). */
static void probe_cidr(const struct policy *p, const struct compiled_policy *cp,
		       uint8_t dir, const struct policy_cidr *c,
		       const struct policy_net_rule *r)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
					 0};
	uint16_t ports[4] = {1, 65535, 0, 0};

	if (r->nports) {
		ports[2] = r->ports[0].first;
		ports[3] = r->ports[0].last < 65535 ? r->ports[0].last + 1 : 1;
	}
	for (int before = 0; before < 2; before++) {
		struct flow f = {.direction = dir, .family = c->family};

		memcpy(f.addr, c->addr, 16);
		if (before) { /* the address just below the prefix */
			for (int i = c->family == 4 ? 3 : 15;
			     i >= 0 && f.addr[i]-- == 0; i--)
				;
		}
		for (size_t k = 0; k < sizeof(protos); k++) {
			f.protocol = protos[k] ? protos[k] : r->protocol;
			for (size_t q = 0; q < 4; q++) {
				f.port = ports[q];
				agree(p, cp, &f);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diags d = {0};
	struct policy *p = NULL;
	struct compiled_policy *cp = NULL;

	if (policy_parse("fuzz.json", (const char *)data, size, &p, &d) == 0 &&
	    policy_compile(p, &cp) == 0) {
		for (uint8_t dir = 0; dir < 2; dir++) {
			const struct policy_net_section *s =
				dir == CGF_DIR_EGRESS ? &p->egress
						      : &p->ingress;

			for (size_t r = 0; r < s->nrules && r < 64; r++)
				for (size_t a = 0;
				     a < s->rules[r].naddrs && a < 4; a++)
					probe_cidr(p, cp, dir,
						   &s->rules[r].addrs[a],
						   &s->rules[r]);
		}
	}
	compiled_policy_free(cp);
	policy_free(p);
	diags_free(&d);
	return 0;
}
