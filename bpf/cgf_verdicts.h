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

#define CGF_BARRIER() asm volatile("" ::: "memory")

_Static_assert(sizeof(struct cgf_peer_key) == 24,
	       "cgf_peer_recent compares 6 words");

/* This CPU's slot for the epoch's recent peer (cgf_maps.h). */
CGF_INLINE struct cgf_recent_peer *cgf_recent_slot(__u32 epoch)
{
	__u32 zero = 0;
	struct cgf_recent_peers *all =
		bpf_map_lookup_elem(&cgf_recent_peers, &zero);

	return all ? &all->slot[epoch & (CGF_RECENT_SLOTS - 1)] : NULL;
}

/*
 * The peer this CPU last found allowed for this cgroup, under k's epoch,
 * with no flags (replies judged per socket are not kept here): a datagram
 * or a connect to it passes without the hash lookup (about 75 ns of
 * cgf_peer_allowed's LRU hash at 100k addresses, measured with
 * prog_cost.sh) or, for TCP, the judgement. Only a verdict
 * cgf_peer_verdicts holds, or a judgement just made, is kept;
 * the epoch in the key expires it with the configuration it was made
 * under, like the table's.
 */
CGF_INLINE int cgf_peer_recent(const struct cgf_peer_key *k)
{
	struct cgf_recent_peer *r = cgf_recent_slot(k->epoch);
	const volatile __u64 *seqp;
	const __u32 *a, *b = (const __u32 *)k;
	__u64 seq;
	int same;

	if (!r)
		return 0;
	seqp = &r->seq;
	a = (const __u32 *)&r->key;
	seq = *seqp;
	if (seq & 1)
		return 0;
	CGF_BARRIER();
	same = a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
	CGF_BARRIER();
	return same && *seqp == seq;
}

/* Keeps k as the recent peer, unless another writer on this CPU is at it. */
CGF_INLINE void cgf_peer_recent_set(const struct cgf_peer_key *k)
{
	struct cgf_recent_peer *r = cgf_recent_slot(k->epoch);
	volatile __u64 *seqp;
	__u32 *a;
	const __u32 *b = (const __u32 *)k;
	__u64 seq;

	if (!r)
		return;
	seqp = &r->seq;
	a = (__u32 *)&r->key;
	seq = *seqp;
	/* Only one writer from an even seq: the one whose swap took it. */
	if ((seq & 1) ||
	    __sync_val_compare_and_swap(&r->seq, seq, seq + 1) != seq)
		return;
	CGF_BARRIER();
	for (int i = 0; i < 6; i++)
		a[i] = b[i];
	CGF_BARRIER();
	*seqp = seq + 2;
}

/*
 * The flags of the UDP peer's allowed verdict under k's epoch, or -1 when
 * it must be judged: the CPU's recent peer (flags 0) after one compare,
 * else the table, whose flagless verdict then becomes the recent one.
 */
CGF_INLINE long cgf_peer_verdict(const struct cgf_peer_key *k)
{
	__u32 *known, flags;

	if (cgf_peer_recent(k))
		return 0;
	known = cgf_peer_allowed(k);
	if (!known)
		return -1;
	flags = *known;
	if (!flags)
		cgf_peer_recent_set(k);
	return flags;
}

/* Only what the policy allowed: a denial, audit mode's too, is reported. */
CGF_INLINE void cgf_peer_remember(const struct cgf_peer_key *k,
				  const struct cgf_judgement *j)
{
	__u32 flags = j->ingress_restricted ? CGF_PEER_REPLIES_JUDGED : 0;

	if (j->denied)
		return;
	bpf_map_update_elem(&cgf_peer_verdicts, k, &flags, BPF_ANY);
	if (!flags)
		cgf_peer_recent_set(k);
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
