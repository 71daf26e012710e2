/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sources a socket may choose. A network namespace whose
 * net.ipv6.ip_nonlocal_bind is on lets every IPv6 socket in it bind any
 * address, or name any source per message (IPV6_PKTINFO), as IPV6_FREEBIND
 * does for one socket: a fenced process then makes an allowed server answer
 * a host its policy denies. No socket option shows it to the setsockopt
 * program, so the sysctl itself is read, from the socket's namespace, where
 * a socket is made, connects, and sends. (IPv4's ip_nonlocal_bind binds,
 * but the route refuses to send from such an address.)
 */
#ifndef CGF_BPF_CGF_SOURCE_H
#define CGF_BPF_CGF_SOURCE_H

#include "cgf_kernel.h"
#include "cgf_record.h"
#include "cgf_report.h"

/* An IPv6 socket whose namespace lets it send from any address. */
CGF_INLINE int cgf_any_source6(const struct bpf_sock *sk)
{
	struct sock___cgf *s;

	if (!sk || sk->family != AF_INET6 || !bpf_rdonly_cast)
		return 0;
	s = cgf_kernel_sock(sk);
	return s->__sk_common.skc_net.net->ipv6.sysctl.ip_nonlocal_bind != 0;
}

/*
 * The policy refuses such a socket what it refuses IPV6_FREEBIND: where
 * egress is restricted, unless sockets.options lists "transparent".
 */
CGF_INLINE int cgf_any_source_refused(const struct cgf_cgroup_config *cfg,
				      const struct bpf_sock *sk)
{
	struct cgf_policy *pol;

	if (!cgf_any_source6(sk))
		return 0;
	pol = cgf_policy_of(cfg);
	return !pol ||
	       cgf_judge_sockopt(pol, CGF_SOCKOPT_TRANSPARENT) == CGF_DENY;
}

/*
 * socket(2) of such a socket fails with EPERM (audit mode: reported, and
 * made); -1 for every other socket. A recorded cgroup records that it
 * needs "transparent".
 */
CGF_INLINE int cgf_any_source_socket(struct bpf_sock *sk)
{
	struct cgf_cgroup_config *cfg;
	struct cgf_policy *pol;
	__u8 action;

	if (!cgf_any_source6(sk))
		return -1;
	cfg = cgf_config();
	if (!cfg)
		return -1;
	if (cfg->record)
		cgf_record_sockopt(cfg, CGF_SOCKOPT_TRANSPARENT);
	pol = cgf_policy_of(cfg);
	if (!pol)
		return SK_DROP;
	if (cgf_judge_sockopt(pol, CGF_SOCKOPT_TRANSPARENT) == CGF_ALLOW)
		return -1;
	action = cgf_enforced(pol, CGF_DENY);
	cgf_report_socket(sk, cfg, CGF_RULE_SOCKETS_OPTION, action, sk->family,
			  sk->type, sk->protocol);
	return action == CGF_ALLOW ? -1 : SK_DROP;
}

#endif
