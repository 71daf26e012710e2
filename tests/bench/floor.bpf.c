// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The hooks' floor: programs on every cgroup hook cgfence attaches (BPF
 * LSM aside) that do nothing and allow everything. bench.sh fences a
 * cgroup with them beside cgfence and no policy, so that what the kernel
 * charges for running a program at each hook shows apart from what
 * cgfence's programs do there.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int floor_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/connect6")
int floor_connect6(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/sendmsg4")
int floor_sendmsg4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup_skb/egress")
int floor_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/ingress")
int floor_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup/sock_create")
int floor_sock_create(struct bpf_sock *sk)
{
	return 1;
}

SEC("cgroup/setsockopt")
int floor_setsockopt(struct bpf_sockopt *ctx)
{
	return 1;
}

SEC("cgroup/dev")
int floor_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	return 1;
}
