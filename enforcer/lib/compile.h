/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Compiles a typed policy into the exact tables the kernel loads (see the
 * table description in include/cgfence_abi.h), and evaluates flows against
 * those tables in user space with the same logic the BPF programs use.
 * Pure: no kernel, no libbpf.
 */
#ifndef CGFENCE_COMPILE_H
#define CGFENCE_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "cgfence_abi.h"
#include "policy.h"

struct compiled_entry {
	struct cgf_lpm_key key;
	uint32_t class_id;
};

struct compiled_policy {
	struct cgf_policy hdr;
	struct compiled_entry *entries; /* sorted by (kind, data, prefixlen) */
	size_t nentries;
	struct cgf_rule_mask *classes; /* distinct masks, index = class id */
	size_t nclasses;
	uint8_t digest[32]; /* SHA-256 over name, header, entries, classes */
};

/* Returns 0, or -E2BIG (too many rules) / -ENOMEM. */
int policy_compile(const struct policy *p, struct compiled_policy **out);
/*
 * The same tables in audit mode (a recorded cgroup denies nothing), with
 * their own digest, so that they are never shared with the enforcing
 * ones. 0 or -ENOMEM.
 */
int compiled_policy_audit_copy(const struct compiled_policy *c,
			       const char *name, struct compiled_policy **out);
/* What a policy_compile() error means. */
const char *compile_error_text(int err);
void compiled_policy_free(struct compiled_policy *c);
static inline void compiled_policy_freep(struct compiled_policy **c)
{
	compiled_policy_free(*c);
}

/*
 * The policy's compiled form, kept with the policy (p->derived): hookd
 * keeps parsed policies, so a container whose policy file did not change
 * reuses what an earlier one compiled.
 */
int policy_compiled(struct policy *p, const struct compiled_policy **out);

/* A flow as a hook sees it. family 4 or 6; IPv4-mapped IPv6 is normalised. */
struct flow {
	uint8_t direction; /* CGF_DIR_EGRESS / CGF_DIR_INGRESS */
	uint8_t family;
	uint8_t addr[16]; /* the remote address */
	uint8_t protocol; /* IP protocol number */
	uint16_t
		port; /* host order; the remote port for egress, local for ingress */
};

struct verdict {
	uint8_t action;	    /* CGF_ALLOW / CGF_DENY */
	uint32_t rule;	    /* index in the section, or CGF_RULE_DEFAULT */
	uint8_t restricted; /* 0: section absent, passed without a rule */
};

/* compiled_lookup_class() found no entry (the kind has no tables). */
#define COMPILED_NO_CLASS UINT32_MAX

/* Longest-prefix lookup over c->entries, as the kernel's LPM trie does. */
uint32_t compiled_lookup_class(const struct compiled_policy *c,
			       const struct cgf_lpm_key *key);
void compiled_judge_flow(const struct compiled_policy *c, const struct flow *f,
			 struct verdict *v);
void compiled_judge_device(const struct compiled_policy *c, uint32_t type,
			   uint32_t major, uint32_t minor, uint32_t access,
			   struct verdict *v);

void compiled_judge_socket(const struct compiled_policy *c, uint32_t family,
			   uint32_t type, uint32_t protocol, struct verdict *v);

/* Rewrites an IPv4-mapped IPv6 flow (::ffff:a.b.c.d) as the IPv4 flow. */
void flow_normalize(struct flow *f);

/* The order of compiled_policy.entries: (kind, data, prefixlen). */
int compiled_key_cmp(const struct cgf_lpm_key *a, const struct cgf_lpm_key *b);

/* Fills key for a flow's address (table kind chosen from direction/family). */
void flow_address_key(const struct flow *f, struct cgf_lpm_key *key);
void flow_port_key(const struct flow *f, struct cgf_lpm_key *key);

#endif
