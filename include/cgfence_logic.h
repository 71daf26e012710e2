/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Decision logic shared word for word by the BPF programs and by user space
 * (`cgfence explain`, the compiler's tests), so both give the same answer
 * from the same tables. Only plain C over the ABI structs lives here.
 */
#ifndef CGFENCE_LOGIC_H
#define CGFENCE_LOGIC_H

#include "cgfence_abi.h"

#ifndef CGF_INLINE
#define CGF_INLINE static inline
#endif

/* Count of trailing zero bits of x != 0. Written out because clang 14's BPF
 * backend crashes on __builtin_ctzll. */
CGF_INLINE __u32 cgf_ctz64(__u64 x)
{
	__u32 n = 0;

	if (!(x & 0xffffffffULL)) {
		n += 32;
		x >>= 32;
	}
	if (!(x & 0xffff)) {
		n += 16;
		x >>= 16;
	}
	if (!(x & 0xff)) {
		n += 8;
		x >>= 8;
	}
	if (!(x & 0xf)) {
		n += 4;
		x >>= 4;
	}
	if (!(x & 0x3)) {
		n += 2;
		x >>= 2;
	}
	if (!(x & 0x1))
		n += 1;
	return n;
}

/* Index of the lowest rule set in both masks, or CGF_RULE_DEFAULT. */
CGF_INLINE __u32 cgf_first_rule(const struct cgf_rule_mask *a,
				const struct cgf_rule_mask *b)
{
	for (__u32 w = 0; w < CGF_MASK_WORDS; w++) {
		__u64 both = a->bits[w] & b->bits[w];

		if (both)
			return w * 64 + cgf_ctz64(both);
	}
	return CGF_RULE_DEFAULT;
}

CGF_INLINE __u8 cgf_rule_action(const struct cgf_direction *dir, __u32 rule)
{
	if (rule >= CGF_MAX_RULES)
		return dir->default_action;
	return (dir->allow[(rule / 64) & (CGF_MASK_WORDS - 1)] >> (rule % 64)) &
	       1;
}

CGF_INLINE int cgf_device_rule_matches(const struct cgf_device_rule *r,
				       __u32 type, __u32 major, __u32 minor,
				       __u32 access)
{
	if (r->type != CGF_DEV_ALL && r->type != type)
		return 0;
	if (!(r->flags & CGF_DEV_ANY_MAJOR) && r->major != major)
		return 0;
	if (!(r->flags & CGF_DEV_ANY_MINOR) && r->minor != minor)
		return 0;
	if (r->action == CGF_ALLOW)
		return (access & ~(__u32)r->access) == 0;
	return (access & r->access) != 0;
}

/* Returns the action; *rule gets the deciding rule or CGF_RULE_DEFAULT. */
CGF_INLINE __u8 cgf_judge_device(const struct cgf_devices *devs, __u32 type,
				 __u32 major, __u32 minor, __u32 access,
				 __u32 *rule)
{
	__u32 n = devs->nrules;

	for (__u32 i = 0; i < CGF_MAX_DEVICE_RULES; i++) {
		if (i >= n)
			break;
		if (cgf_device_rule_matches(&devs->rules[i], type, major, minor,
					    access)) {
			*rule = i;
			return devs->rules[i].action;
		}
	}
	*rule = CGF_RULE_DEFAULT;
	return devs->default_action;
}

/* sockets.raw: may a raw socket of this IP protocol be created? */
CGF_INLINE int cgf_raw_allowed(const struct cgf_sockets *s, __u32 protocol)
{
	return (s->raw_protocols[(protocol / 64) &
				 (CGF_RAW_PROTOCOL_WORDS - 1)] >>
		(protocol % 64)) &
	       1;
}

#define CGF_AF_INET		 2
#define CGF_AF_INET6		 10
#define CGF_SOCK_RAW		 3
#define CGF_SOL_IP		 0
#define CGF_SOL_IPV6		 41
#define CGF_IP_HDRINCL		 3
#define CGF_IP_RECVERR		 11
#define CGF_IP_TRANSPARENT	 19
#define CGF_IP_FREEBIND		 15
#define CGF_IP_RECVERR_RFC4884	 26
#define CGF_IPV6_RECVERR	 25
#define CGF_IPV6_RECVERR_RFC4884 31
#define CGF_IPV6_HDRINCL	 36
#define CGF_IPV6_TRANSPARENT	 75
#define CGF_IPV6_FREEBIND	 78
/* Multicast membership and source filters (the same numbers at both
 * levels from MCAST_JOIN_GROUP on). */
#define CGF_IP_ADD_MEMBERSHIP	     35
#define CGF_IP_UNBLOCK_SOURCE	     37
#define CGF_IP_BLOCK_SOURCE	     38
#define CGF_IP_ADD_SOURCE_MEMBERSHIP 39
#define CGF_IP_MSFILTER		     41
#define CGF_MCAST_JOIN_GROUP	     42
#define CGF_MCAST_BLOCK_SOURCE	     43
#define CGF_MCAST_UNBLOCK_SOURCE     44
#define CGF_MCAST_JOIN_SOURCE_GROUP  46
#define CGF_MCAST_MSFILTER	     48
#define CGF_IPV6_ADD_MEMBERSHIP	     20

/* Which CGF_SOCKOPT_* a setsockopt(level, optname) is, or 0: none of ours. */
CGF_INLINE __u32 cgf_sockopt_kind(__s32 level, __s32 optname)
{
	/*
	 * Joining a group or changing its source filter makes the kernel send
	 * IGMP or MLD reports naming the groups and sources the process chose,
	 * with no socket of its own for the packet programs to judge. Leaving
	 * only undoes a join.
	 */
	if (level == CGF_SOL_IP || level == CGF_SOL_IPV6) {
		switch (optname) {
		case CGF_MCAST_JOIN_GROUP:
		case CGF_MCAST_BLOCK_SOURCE:
		case CGF_MCAST_UNBLOCK_SOURCE:
		case CGF_MCAST_JOIN_SOURCE_GROUP:
		case CGF_MCAST_MSFILTER:
			return CGF_SOCKOPT_MULTICAST;
		}
	}
	if (level == CGF_SOL_IP) {
		switch (optname) {
		case CGF_IP_HDRINCL:
			return CGF_SOCKOPT_HDRINCL;
		case CGF_IP_RECVERR:
		case CGF_IP_RECVERR_RFC4884:
			return CGF_SOCKOPT_RECVERR;
		case CGF_IP_TRANSPARENT:
		case CGF_IP_FREEBIND: /* on IPv6 sockets: any source address */
			return CGF_SOCKOPT_TRANSPARENT;
		case CGF_IP_ADD_MEMBERSHIP:
		case CGF_IP_UNBLOCK_SOURCE:
		case CGF_IP_BLOCK_SOURCE:
		case CGF_IP_ADD_SOURCE_MEMBERSHIP:
		case CGF_IP_MSFILTER:
			return CGF_SOCKOPT_MULTICAST;
		}
	} else if (level == CGF_SOL_IPV6) {
		switch (optname) {
		case CGF_IPV6_HDRINCL:
			return CGF_SOCKOPT_HDRINCL;
		case CGF_IPV6_RECVERR:
		case CGF_IPV6_RECVERR_RFC4884:
			return CGF_SOCKOPT_RECVERR;
		case CGF_IPV6_TRANSPARENT:
		case CGF_IPV6_FREEBIND:
			return CGF_SOCKOPT_TRANSPARENT;
		case CGF_IPV6_ADD_MEMBERSHIP:
			return CGF_SOCKOPT_MULTICAST;
		}
	}
	return 0;
}

/*
 * sockets.options on turning an option on: CGF_ALLOW, or CGF_DENY. RECVERR
 * matters only where ingress is restricted, TRANSPARENT and MULTICAST
 * where egress is.
 */
CGF_INLINE __u8 cgf_judge_sockopt(const struct cgf_policy *pol, __u32 kind)
{
	if (!kind || (pol->sockets.options & kind))
		return CGF_ALLOW;
	if (kind == CGF_SOCKOPT_RECVERR && !pol->ingress.restricted)
		return CGF_ALLOW;
	if ((kind == CGF_SOCKOPT_TRANSPARENT ||
	     kind == CGF_SOCKOPT_MULTICAST) &&
	    !pol->egress.restricted)
		return CGF_ALLOW;
	return CGF_DENY;
}

/*
 * The sockets section on one socket(2): CGF_ALLOW, or CGF_DENY with *rule
 * CGF_RULE_SOCKETS_FAMILY or CGF_RULE_SOCKETS_RAW.
 */
CGF_INLINE __u8 cgf_judge_socket(const struct cgf_sockets *s, __u32 family,
				 __u32 type, __u32 protocol, __u32 *rule)
{
	*rule = CGF_RULE_DEFAULT;
	if (family >= CGF_FAMILY_BITS || !((s->families >> family) & 1)) {
		*rule = CGF_RULE_SOCKETS_FAMILY;
		return CGF_DENY;
	}
	if ((family == CGF_AF_INET || family == CGF_AF_INET6) &&
	    type == CGF_SOCK_RAW && !cgf_raw_allowed(s, protocol & 0xff)) {
		*rule = CGF_RULE_SOCKETS_RAW;
		return CGF_DENY;
	}
	return CGF_ALLOW;
}

#endif /* CGFENCE_LOGIC_H */
