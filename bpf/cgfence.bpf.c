// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence BPF programs. One object, loaded once and pinned; every fenced
 * cgroup attaches the same programs and finds its policy through cgroup
 * storage (see include/cgfence_abi.h).
 *
 * Where flows are judged:
 *   connect4/6   TCP connects and UDP connects          (EPERM at once)
 *   sendmsg4     IPv4 datagrams sent with an address: a broadcast or
 *                multicast one's copy is looped back before skb egress
 *                                                       (EPERM at once)
 *   skb egress   every UDP datagram, by where its header sends it: its
 *                peer's kept verdict, or a judgement (sendto and send
 *                fail with EPERM); every packet of raw, ICMP and other
 *                sockets; any packet whose IP header is not what the
 *                socket's judgement assumed (options, extension headers)
 *   skb ingress  inbound TCP SYNs, datagrams to unconnected UDP sockets,
 *                every packet to raw, ICMP and other sockets
 *   sock_create  raw sockets (sockets.raw); IPv6 sockets where
 *                ip_nonlocal_bind lets them send from any address
 *                (sockets.options "transparent")       (EPERM at once)
 *   socket_create (BPF LSM) address families (sockets.families)
 *   device       every device access
 * Packets of judged TCP flows pass after a few socket field reads and one
 * look at the IP header's first byte; UDP datagrams after one compare with
 * the CPU's recent peer, or one lookup of their peer (cgf_verdicts.h).
 *
 * No sendmsg6 program: the packet program judges every datagram anyway
 * (a corked one leaves under the policy of its last part, not its first),
 * and a datagram it drops fails the sendmsg with EPERM, as a sendmsg
 * program's refusal would. IPv4 needs sendmsg4 as well: the kernel
 * delivers a broadcast or multicast datagram's copy to the namespace's
 * own sockets before the packet program runs (cgf_sock_addr.h).
 */
/*
 * This file holds the entry points; the headers beside it hold the rest,
 * one concern each (each includes what it needs):
 *   cgf_defs.h       the kernel's numbers the programs name, constants
 *   cgf_maps.h       every map
 *   cgf_judge.h      a flow against the policy's tables (first match)
 *   cgf_record.h     recording: what a recorded cgroup does, aggregated
 *   cgf_report.h     denials: budget, perf buffer, counters
 *   cgf_verdicts.h   remembered verdicts (a CPU's recent peer, peers,
 *                    sockets, flows), keyed by epoch
 *   cgf_sock_addr.h  connect and sendmsg destinations
 *   cgf_parse.h      IP and L4 headers
 *   cgf_packet.h     judging packets
 *   cgf_source.h     sources a socket may choose (ip_nonlocal_bind)
 */
#include "cgf_sock_addr.h"
#include "cgf_packet.h"
#include "cgf_source.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- connect (and sendmsg4): judged before anything is sent ---- */

SEC("cgroup/connect4")
int cgf_connect4(struct bpf_sock_addr *ctx)
{
	return cgf_connect(ctx, 4, CGF_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int cgf_connect6(struct bpf_sock_addr *ctx)
{
	return cgf_connect(ctx, 6, CGF_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int cgf_sendmsg4(struct bpf_sock_addr *ctx)
{
	return cgf_sendmsg4_before_copy(ctx);
}

/* ---- packets ---- */

SEC("cgroup_skb/egress")
int cgf_egress(struct __sk_buff *skb)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk = skb->sk;
	struct cgf_sock_kind kind = {};
	int verdict;

	/* Request and timewait sockets belong to judged TCP flows. */
	if (sk && !cgf_sock_kind_of(sk, &kind))
		return SK_PASS;
	/*
	 * TCP: a connection starts with connect() (or a Fast Open sendmsg),
	 * which connect4/6 of this same cgroup judged before the SYN was
	 * built, or with a SYN ingress judged; everything else is an
	 * established, accepted or closing connection. Its packets with plain
	 * headers pass at once, before the configuration is even looked up:
	 * what every packet of a judged flow costs.
	 */
	if (sk && cgf_kind_tcp_stream(&kind) &&
	    cgf_headers_plain(skb, kind.protocol))
		return SK_PASS;
	cfg = cgf_config();
	if (!cfg)
		return SK_PASS;
	/* A socket made before its namespace let it send from any address
	 * (cgf_source.h); TCP's source was fixed at its judged connect. */
	if (sk && cgf_any_source_refused(cfg, sk))
		return cgf_refuse_any_source(skb, cfg);
	if (sk && cgf_kind_udp_dgram(&kind))
		return cgf_udp_egress(skb, sk, &kind, cfg);
	if (sk && cgf_kind_tcp_stream(&kind)) {
		verdict = cgf_check_socket_headers(skb, cfg);
		return verdict >= 0 ? verdict : SK_PASS;
	}
	/* Raw sockets (IPPROTO_TCP ones too), ICMP sockets, SCTP, ... */
	return cgf_judge_packet(skb, sk, &kind, cfg, CGF_DIR_EGRESS);
}

SEC("cgroup_skb/ingress")
int cgf_ingress(struct __sk_buff *skb)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk = skb->sk;
	struct cgf_sock_kind kind = {};

	/* Request and timewait sockets belong to judged TCP flows. */
	if (sk && !cgf_sock_kind_of(sk, &kind))
		return SK_PASS;
	/* Only a SYN to a listener opens an inbound connection: every other
	 * TCP segment passes, before any lookup. */
	if (sk && cgf_kind_tcp_stream(&kind) && sk->state != BPF_TCP_LISTEN)
		return SK_PASS;
	cfg = cgf_config();
	if (!cfg)
		return SK_PASS;
	if (sk && cgf_kind_tcp_stream(&kind))
		return cgf_listener_ingress(skb, cfg);
	if (sk && cgf_kind_udp_dgram(&kind)) {
		/* A connected socket only receives from its peer: judged
		 * under the current policy, or judged now. */
		if (sk->state == BPF_TCP_ESTABLISHED)
			return cgf_judge_connected(skb, sk, &kind, cfg,
						   CGF_HOOK_INGRESS, NULL);
		return cgf_udp_ingress(skb, &kind, cfg);
	}
	/* Raw sockets see copies of every packet of their protocol. */
	return cgf_judge_packet(skb, sk, &kind, cfg, CGF_DIR_INGRESS);
}

/* ---- sockets ---- */

/*
 * Every AF_INET/AF_INET6 socket a fenced process creates (never the
 * kernel's own): raw sockets the policy does not allow fail with EPERM;
 * sockets whose packets are judged one by one are marked as the fenced
 * process's, which no exemption for the kernel's own packets covers.
 */
SEC("cgroup/sock_create")
int cgf_sock_create(struct bpf_sock *sk)
{
	struct cgf_cgroup_config *cfg;
	struct cgf_sock_state *st;
	struct cgf_policy *pol;
	int verdict;
	struct cgf_sock_kind kind = {.type = sk->type,
				     .protocol = sk->protocol};
	__u32 rule;
	__u8 action;

	/* An IPv6 socket whose namespace lets it send from any address. */
	verdict = cgf_any_source_socket(sk);
	if (verdict >= 0)
		return verdict;
	if (cgf_kind_tcp_stream(&kind) || cgf_kind_udp_dgram(&kind))
		return SK_PASS; /* judged at connect and sendmsg */
	cfg = cgf_config();
	/*
	 * Marked even before the first configuration (a cgroup that runs
	 * processes while apply attaches): the exemption for the kernel's own
	 * packets must never cover a socket a process made.
	 */
	st = bpf_sk_storage_get(&cgf_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return SK_DROP; /* fail closed: its packets would lose the mark */
	st->created_fenced = 1;
	if (!cfg)
		return SK_PASS;
	if (sk->type == SOCK_RAW) {
		if (cfg->record)
			cgf_record_raw_socket(cfg, sk->family, sk->protocol);
		pol = cgf_policy_of(cfg);
		if (!pol)
			return SK_DROP;
		if (cgf_judge_socket(&pol->sockets, sk->family, sk->type,
				     sk->protocol, &rule) == CGF_DENY) {
			action = cgf_enforced(pol, CGF_DENY);
			cgf_report_socket(sk, cfg, rule, action, sk->family,
					  sk->type, sk->protocol);
			if (action == CGF_DENY)
				return SK_DROP;
		}
	}
	return SK_PASS;
}

/*
 * sockets.options: turning on an option that takes traffic where no
 * judgement looks (IP_HDRINCL, IP_RECVERR, IP_TRANSPARENT and their IPv6
 * twins) or joining a multicast group fails with EPERM unless the policy
 * allows it; turning one off, and every other option, passes untouched.
 */
SEC("cgroup/setsockopt")
int cgf_setsockopt(struct bpf_sockopt *ctx)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk = ctx->sk;
	__u32 kind = cgf_sockopt_kind(ctx->level, ctx->optname);
	__s32 *value = ctx->optval;
	struct cgf_policy *pol;
	__u8 action;

	if (!kind)
		return 1;
	/* A flag's value, as the kernel copied it: 0 turns it off. (The
	 * multicast options take a struct, whose first word 0 can mean "any
	 * interface".) */
	if (kind != CGF_SOCKOPT_MULTICAST &&
	    (void *)(value + 1) <= ctx->optval_end && *value == 0)
		return 1;
	cfg = cgf_config();
	if (!cfg)
		return 1;
	if (cfg->record)
		cgf_record_sockopt(cfg, kind);
	pol = cgf_policy_of(cfg);
	if (!pol)
		return 0;
	if (cgf_judge_sockopt(pol, kind) == CGF_ALLOW)
		return 1;
	action = cgf_enforced(pol, CGF_DENY);
	cgf_report_sockopt(ctx, cfg, action, sk ? sk->family : 0,
			   sk ? sk->type : 0, sk ? sk->protocol : 0, ctx->level,
			   ctx->optname);
	return action == CGF_ALLOW;
}

/*
 * sockets.families, in the BPF LSM: the families that reach the wire past
 * the packet programs (AF_PACKET, AF_XDP) or leave the network namespace
 * (AF_VSOCK), and every other one the policy does not list, fail with
 * EPERM. (lsm_cgroup: 1 allows, 0 refuses with EPERM.)
 */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(cgf_socket_create, int family, int type, int protocol, int kern)
{
	struct cgf_cgroup_config *cfg;
	struct cgf_policy *pol;
	__u32 rule;
	__u8 action;

	if (kern || family == AF_UNIX || family == AF_INET ||
	    family == AF_INET6 || family == AF_NETLINK)
		return 1; /* the common case, before any lookup */
	cfg = cgf_config();
	if (!cfg)
		return 1;
	pol = cgf_policy_of(cfg);
	if (!pol)
		return 0;
	if (cgf_judge_socket(&pol->sockets, family, type, protocol, &rule) ==
	    CGF_ALLOW)
		return 1;
	action = cgf_enforced(pol, CGF_DENY);
	cgf_report_socket(ctx, cfg, rule, action, family, type, protocol);
	return action == CGF_ALLOW;
}

/* ---- devices ---- */

SEC("cgroup/dev")
int cgf_device(struct bpf_cgroup_dev_ctx *ctx)
{
	struct cgf_cgroup_config *cfg = cgf_config();
	__u32 rule;
	struct cgf_policy *pol;
	__u8 action;

	if (!cfg)
		return SK_PASS;
	if (cfg->record)
		cgf_record_device(cfg, CGF_DEV_TYPE(ctx->access_type),
				  ctx->major, ctx->minor,
				  CGF_DEV_ACCESS(ctx->access_type));
	pol = cgf_policy_of(cfg);
	if (!pol)
		return SK_DROP;
	if (!pol->devices.restricted)
		return SK_PASS;
	action = cgf_judge_device(&pol->devices, CGF_DEV_TYPE(ctx->access_type),
				  ctx->major, ctx->minor,
				  CGF_DEV_ACCESS(ctx->access_type), &rule);
	if (action == CGF_ALLOW)
		return SK_PASS;
	action = cgf_enforced(pol, action);
	cgf_report_device(ctx, cfg, rule, action);
	return action == CGF_ALLOW ? SK_PASS : SK_DROP;
}
