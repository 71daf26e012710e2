/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Judging a flow against the tables of the cgroup's policy: the peer as
 * the tables want it, the lookups, first match.
 */
#ifndef CGF_BPF_CGF_JUDGE_H
#define CGF_BPF_CGF_JUDGE_H

#include "cgf_maps.h"
#include "cgf_record.h"
#include "cgfence_logic.h"

/* The remote end of a flow, as the tables want it. */
struct cgf_peer {
	__u8 family; /* 4 or 6 */
	__u8 protocol;
	__u16 port; /* host order: remote port (egress) or local port (ingress) */
	__u8 addr[16];
};

/* A judged flow: what decided and how. */
struct cgf_judgement {
	__u32 policy_id;
	__u32 rule;
	__u8 action; /* what happens: audit mode turns deny into allow */
	__u8 denied; /* what the policy said */
	__u8 ingress_restricted; /* replies need a flow entry to pass */
};

/* Where a judgement happened, for its report. */
struct cgf_site {
	void *ctx;
	__u8 hook; /* enum cgf_hook */
	__u8 direction;
	__u8 task_context; /* pid and comm are the current task's */
};

/* The policy the cgroup runs; NULL means its tables are gone: refuse. */
CGF_INLINE struct cgf_policy *cgf_policy_of(const struct cgf_cgroup_config *cfg)
{
	__u32 policy_id = cfg->policy_id;

	return bpf_map_lookup_elem(&cgf_policies, &policy_id);
}

/* What happens to a denial: audit mode lets it through (and reports it). */
CGF_INLINE __u8 cgf_enforced(const struct cgf_policy *pol, __u8 action)
{
	return pol->mode == CGF_MODE_AUDIT ? CGF_ALLOW : action;
}

/* NULL: this cgroup is attached but not configured yet (pass). */
CGF_INLINE struct cgf_cgroup_config *cgf_config(void)
{
	struct cgf_cgroup_config *cfg =
		bpf_get_local_storage(&cgf_cgroup_cfg, 0);

	return cfg->policy_id ? cfg : NULL;
}

CGF_INLINE void cgf_peer_ip4(struct cgf_peer *p, __u32 addr_be)
{
	p->family = 4;
	__builtin_memcpy(p->addr, &addr_be, 4);
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged by the IPv4 rules. */
CGF_INLINE void cgf_peer_ip6(struct cgf_peer *p, const __u32 addr_be[4])
{
	if (addr_be[0] == 0 && addr_be[1] == 0 &&
	    addr_be[2] == bpf_htonl(0x0000ffff)) {
		cgf_peer_ip4(p, addr_be[3]);
		return;
	}
	p->family = 6;
	__builtin_memcpy(p->addr, addr_be, 16);
}

/* Judges p against the policy's tables; fails closed on missing tables. */
CGF_INLINE void cgf_judge(const struct cgf_cgroup_config *cfg, __u32 dir_id,
			  const struct cgf_peer *p, struct cgf_judgement *j)
{
	__u32 policy_id = cfg->policy_id;
	const struct cgf_direction *dir;
	struct cgf_policy *pol;
	struct cgf_rule_mask *ma, *mp;
	struct cgf_lpm_key key = {};
	__u32 *ca, *cp;
	void *lpm, *classes;
	__u64 bank_key;

	j->policy_id = policy_id;
	j->rule = CGF_RULE_DEFAULT;
	j->action = CGF_DENY;
	j->denied = 1;
	j->ingress_restricted = 1;

	/* Every judgement is a new flow: a recorded cgroup remembers it. */
	if (cfg->record)
		cgf_record_flow(cfg, dir_id, p->family, p->protocol, p->port,
				p->addr);
	pol = cgf_policy_of(cfg);
	if (!pol)
		return;
	/* A recorded cgroup's replies, like those of a restricted ingress,
	 * pass by their flow entry: they must not be recorded as new flows. */
	j->ingress_restricted = pol->ingress.restricted != 0 || cfg->record;
	dir = dir_id == CGF_DIR_EGRESS ? &pol->egress : &pol->ingress;
	if (!dir->restricted) {
		j->action = CGF_ALLOW;
		j->denied = 0;
		return;
	}
	lpm = bpf_map_lookup_elem(&cgf_lpm, &policy_id);
	bank_key = ((__u64)policy_id << 1) | (pol->bank & 1);
	classes = bpf_map_lookup_elem(&cgf_classes, &bank_key);
	if (!lpm || !classes)
		return;

	if (p->family == 4) {
		key.kind = dir_id == CGF_DIR_EGRESS ? CGF_T_EGRESS_V4
						    : CGF_T_INGRESS_V4;
		key.prefixlen = CGF_KIND_BITS + 32;
	} else {
		key.kind = dir_id == CGF_DIR_EGRESS ? CGF_T_EGRESS_V6
						    : CGF_T_INGRESS_V6;
		key.prefixlen = CGF_KIND_BITS + 128;
	}
	__builtin_memcpy(key.data, p->addr, 16);
	ca = bpf_map_lookup_elem(lpm, &key);
	if (!ca)
		return;

	__builtin_memset(&key, 0, sizeof(key));
	key.kind = dir_id == CGF_DIR_EGRESS ? CGF_T_EGRESS_PORT
					    : CGF_T_INGRESS_PORT;
	key.prefixlen = CGF_KIND_BITS + 24;
	key.data[0] = p->protocol;
	if (p->protocol == IPPROTO_TCP || p->protocol == IPPROTO_UDP) {
		key.data[1] = p->port >> 8;
		key.data[2] = p->port & 0xff;
	}
	cp = bpf_map_lookup_elem(lpm, &key);
	if (!cp)
		return;

	ma = bpf_map_lookup_elem(classes, ca);
	mp = bpf_map_lookup_elem(classes, cp);
	if (!ma || !mp)
		return;
	j->rule = cgf_first_rule(ma, mp);
	j->action = cgf_rule_action(dir, j->rule);
	j->denied = j->action == CGF_DENY;
	if (pol->mode == CGF_MODE_AUDIT)
		j->action = CGF_ALLOW;
}

#endif
