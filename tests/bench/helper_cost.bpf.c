// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What one step of a program costs on this machine, measured on the hooks
 * a datagram passes (tests/bench/helper_cost.sh): each program below does
 * one thing a datagram's check may do, then allows the datagram. Beside
 * the empty one of its hook, the difference is that step's cost: a helper
 * call (bpf_get_local_storage, bpf_sk_fullsock), a lookup the kernel
 * inlines (a per-CPU array), or a read of the kernel's socket through
 * bpf_rdonly_cast (cgf_sock_kind_of, bpf/cgf_kernel.h).
 */
#include "../../bpf/cgf_kernel.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64);
	__type(value, __u64);
} hc_storage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hc_percpu SEC(".maps");

/* The value read decides nothing, but the compiler must not drop it. */
#define HC_ALLOW_UNLESS(x) ((x) == 0x5eed ? SK_DROP : SK_PASS)

SEC("cgroup/sendmsg4")
int hc_send_empty(struct bpf_sock_addr *ctx)
{
	return SK_PASS;
}

SEC("cgroup/sendmsg4")
int hc_send_storage(struct bpf_sock_addr *ctx)
{
	__u64 *v = bpf_get_local_storage(&hc_storage, 0);

	return HC_ALLOW_UNLESS(*v);
}

SEC("cgroup/sendmsg4")
int hc_send_percpu(struct bpf_sock_addr *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&hc_percpu, &zero);

	return v ? HC_ALLOW_UNLESS(*v) : SK_PASS;
}

SEC("cgroup_skb/egress")
int hc_egress_empty(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("cgroup_skb/egress")
int hc_egress_storage(struct __sk_buff *skb)
{
	__u64 *v = bpf_get_local_storage(&hc_storage, 0);

	return HC_ALLOW_UNLESS(*v);
}

SEC("cgroup_skb/egress")
int hc_egress_fullsock(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk || !(sk = bpf_sk_fullsock(sk)))
		return SK_PASS;
	return HC_ALLOW_UNLESS(sk->type);
}

SEC("cgroup_skb/egress")
int hc_egress_kind(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct cgf_sock_kind kind = {};

	if (!sk || !cgf_sock_kind_of(sk, &kind))
		return SK_PASS;
	return HC_ALLOW_UNLESS(kind.type);
}
