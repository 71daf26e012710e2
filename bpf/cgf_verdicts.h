/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Remembered verdicts: UDP peers allowed for the whole cgroup, (socket,
 * peer) flows and connected sockets, each judged under a configuration
 * epoch.
 */
#ifndef CGF_BPF_CGF_VERDICTS_H
#define CGF_BPF_CGF_VERDICTS_H

#include "cgf_judge.h"

/*
 * Verdicts remembered for a socket or a peer hold for the epoch of the
 * cgroup configuration they were made under: every apply (a swap or an
 * in-place change) gets a new one, unique on the host, so the next packet
 * is judged anew, and a verdict of one fenced cgroup never passes for
 * another's (a parent's and a child's programs both run on a socket).
 */
CGF_INLINE void cgf_mark_sock(struct bpf_sock *sk, __u32 epoch)
{
	struct cgf_sock_state *st;

	st = bpf_sk_storage_get(&cgf_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st) {
		st->judged = 1;
		st->epoch = epoch;
	}
}

CGF_INLINE int cgf_sock_judged(struct bpf_sock *sk, __u32 epoch)
{
	struct cgf_sock_state *st = bpf_sk_storage_get(&cgf_socks, sk, 0, 0);

	return st && st->judged && st->epoch == epoch;
}

/* A UDP peer's verdict is kept; ICMP and other protocols are judged apart. */
CGF_INLINE int cgf_is_udp_peer(const struct cgf_peer *p)
{
	return p->protocol == IPPROTO_UDP || p->protocol == IPPROTO_UDPLITE;
}

CGF_INLINE void cgf_peer_key(struct cgf_peer_key *k, __u32 epoch,
			     const struct cgf_peer *p)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->epoch = epoch;
	k->family = p->family;
	k->protocol = p->protocol;
	k->port = p->port;
	__builtin_memcpy(k->addr, p->addr, 16);
}

/* The flags of the peer's allowed verdict under the epoch; NULL: judge it. */
CGF_INLINE __u32 *cgf_peer_allowed(const struct cgf_peer_key *k)
{
	return bpf_map_lookup_elem(&cgf_peer_verdicts, k);
}

/* Only what the policy allowed: a denial, audit mode's too, is reported. */
CGF_INLINE void cgf_peer_remember(const struct cgf_peer_key *k,
				  const struct cgf_judgement *j)
{
	__u32 flags = j->ingress_restricted ? CGF_PEER_REPLIES_JUDGED : 0;

	if (!j->denied)
		bpf_map_update_elem(&cgf_peer_verdicts, k, &flags, BPF_ANY);
}

CGF_INLINE void cgf_flow_key(struct cgf_flow_key *k, __u64 cookie,
			     const struct cgf_peer *p, __u16 port_host)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->sock_cookie = cookie;
	k->family = p->family;
	k->protocol = p->protocol;
	k->port = port_host;
	__builtin_memcpy(k->addr, p->addr, 16);
}

CGF_INLINE int cgf_flow_known(const struct cgf_flow_key *k, __u32 epoch)
{
	__u32 *seen = bpf_map_lookup_elem(&cgf_udp_flows, k);

	return seen && *seen == epoch;
}

CGF_INLINE void cgf_flow_remember(const struct cgf_flow_key *k, __u32 epoch)
{
	bpf_map_update_elem(&cgf_udp_flows, k, &epoch, BPF_ANY);
}

#endif
