/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's own structures, only the fields read where no field of a
 * BPF context has them; CO-RE relocates each read to this kernel's
 * layout. They are read through bpf_rdonly_cast (kernel 6.2 and later),
 * which the verifier turns into a plain move: no helper call.
 */
#ifndef CGF_BPF_CGF_KERNEL_H
#define CGF_BPF_CGF_KERNEL_H

#include <bpf/bpf_core_read.h>

#include "cgf_defs.h"

/* NULL where the kernel lacks it (before 6.2): then these reads are dead
 * code, which the verifier drops, unrelocated reads too. */
extern void *bpf_rdonly_cast(const void *obj__ign,
			     __u32 btf_id__k) __ksym __weak;

struct netns_sysctl_ipv6___cgf {
	__u8 ip_nonlocal_bind;
} __attribute__((preserve_access_index));

struct netns_ipv6___cgf {
	struct netns_sysctl_ipv6___cgf sysctl;
} __attribute__((preserve_access_index));

struct net___cgf {
	struct netns_ipv6___cgf ipv6;
} __attribute__((preserve_access_index));

struct sock_common___cgf {
	unsigned char skc_state;
	struct {
		struct net___cgf *net;
	} skc_net;
} __attribute__((preserve_access_index));

struct sock___cgf {
	struct sock_common___cgf __sk_common;
	__u16 sk_type;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

/* The kernel's struct sock behind a BPF socket pointer, read-only. */
CGF_INLINE struct sock___cgf *cgf_kernel_sock(const struct bpf_sock *sk)
{
	return bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock___cgf));
}

/* tcp_states.h: the states of sockets that are not full ones. */
#define CGF_TCP_TIME_WAIT    6
#define CGF_TCP_NEW_SYN_RECV 12

/* What the packet programs decide by first: the socket's type and protocol. */
struct cgf_sock_kind {
	__u16 type;
	__u16 protocol;
};

/*
 * The kind of a packet's socket (sk, from __sk_buff, which may be a
 * request or timewait socket): 0 for those, which belong to judged TCP
 * flows. Read from the kernel's socket where the kernel lets a program
 * cast to it; bpf_sk_fullsock, the only other way to the type and
 * protocol, is a call that costs as much as the rest of a datagram's
 * check (tests/bench/prog_cost.sh).
 */
CGF_INLINE int cgf_sock_kind_of(struct bpf_sock *sk, struct cgf_sock_kind *kind)
{
	struct sock___cgf *s;
	struct bpf_sock *full;

	if (bpf_rdonly_cast) {
		if (sk->state == CGF_TCP_TIME_WAIT ||
		    sk->state == CGF_TCP_NEW_SYN_RECV)
			return 0;
		s = cgf_kernel_sock(sk);
		kind->type = s->sk_type;
		kind->protocol = s->sk_protocol;
		return 1;
	}
	full = bpf_sk_fullsock(sk);
	if (!full)
		return 0;
	kind->type = full->type;
	kind->protocol = full->protocol;
	return 1;
}

/* A TCP stream socket: its connection started with a judged connect(). */
CGF_INLINE int cgf_kind_tcp_stream(const struct cgf_sock_kind *kind)
{
	return kind->type == SOCK_STREAM && kind->protocol == IPPROTO_TCP;
}

/* A UDP (or UDP-Lite) datagram socket, judged at connect or per sendmsg. */
CGF_INLINE int cgf_kind_udp_dgram(const struct cgf_sock_kind *kind)
{
	return kind->type == SOCK_DGRAM && (kind->protocol == IPPROTO_UDP ||
					    kind->protocol == IPPROTO_UDPLITE);
}

#endif
