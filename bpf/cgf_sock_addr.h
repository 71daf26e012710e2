/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * connect(): the destination, as the kernel will use it, and its judgement
 * before anything is sent. (Datagrams sent with an address are judged by
 * the packet program, where they leave: cgf_packet.h; IPv4 ones by
 * sendmsg4 too, before the kernel can loop a copy back.)
 */
#ifndef CGF_BPF_CGF_SOCK_ADDR_H
#define CGF_BPF_CGF_SOCK_ADDR_H

#include "cgf_report.h"
#include "cgf_source.h"
#include "cgf_verdicts.h"

/*
 * connect() to 0.0.0.0 or :: reaches the host itself: the kernel connects
 * to the socket's bound address, or else to loopback. Write that address
 * in its place, so that what is judged is exactly where the kernel
 * connects (a destination that is not zero is used as written).
 */
CGF_INLINE void cgf_resolve_unspecified4(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 src = 0;

	if (ctx->user_ip4)
		return;
	if (sk)
		src = sk->src_ip4;
	ctx->user_ip4 = src ? src : INADDR_LOOPBACK_BE;
}

CGF_INLINE void cgf_resolve_unspecified6(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	__u32 mapped = bpf_htonl(0x0000ffff), src = 0;
	int bound_v4 = 0;

	if (w0 || w1 || w3 || (w2 && w2 != mapped))
		return;
	if (sk)
		bound_v4 = sk->src_ip6[0] == 0 && sk->src_ip6[1] == 0 &&
			   sk->src_ip6[2] == mapped;
	if (bound_v4)
		src = sk->src_ip4;
	if (w2) {
		/* ::ffff:0.0.0.0 connects as IPv4 to 0.0.0.0. */
		ctx->user_ip6[3] = src ? src : INADDR_LOOPBACK_BE;
		return;
	}
	if (bound_v4) {
		/* :: from a socket bound to an IPv4-mapped address: 127.0.0.1 */
		ctx->user_ip6[2] = mapped;
		ctx->user_ip6[3] = INADDR_LOOPBACK_BE;
		return;
	}
	ctx->user_ip6[3] = bpf_htonl(1); /* ::1 */
}

/* The destination of a connect; family is the hook's, 4 or 6. */
CGF_INLINE void cgf_peer_from_sock_addr(struct bpf_sock_addr *ctx, int family,
					struct cgf_peer *p)
{
	if (family == 4) {
		cgf_resolve_unspecified4(ctx);
		cgf_peer_ip4(p, ctx->user_ip4);
	} else {
		__u32 ip6[4];

		cgf_resolve_unspecified6(ctx);
		ip6[0] = ctx->user_ip6[0];
		ip6[1] = ctx->user_ip6[1];
		ip6[2] = ctx->user_ip6[2];
		ip6[3] = ctx->user_ip6[3];
		cgf_peer_ip6(p, ip6);
	}
	p->protocol = ctx->protocol;
	p->port = bpf_ntohs(ctx->user_port);
}

CGF_INLINE int cgf_connect(struct bpf_sock_addr *ctx, int family, __u8 hook)
{
	struct cgf_site site = {.ctx = ctx,
				.hook = hook,
				.direction = CGF_DIR_EGRESS,
				.task_context = 1};
	struct cgf_cgroup_config *cfg = cgf_config();
	struct cgf_peer peer = {}, *p = &peer;
	struct cgf_judgement j;
	struct cgf_peer_key pk;
	int udp;

	if (!cfg)
		return SK_PASS;
	cgf_peer_from_sock_addr(ctx, family, p);
	/* From any address its namespace lets it bind (cgf_source.h). */
	if (family == 6 && cgf_any_source_refused(cfg, ctx->sk))
		return cgf_refuse_flow(&site, cfg, p, CGF_RULE_SOCKETS_OPTION);

	/*
	 * A UDP peer allowed under this epoch, from any socket: one lookup; a
	 * TCP peer only if it is this CPU's recent one (TCP peers are not in
	 * the table).
	 */
	cgf_peer_key(&pk, cfg->epoch, p);
	udp = cgf_is_udp_peer(p);
	if (udp ? cgf_peer_verdict(&pk) >= 0 : cgf_peer_recent(&pk))
		return SK_PASS;
	cgf_judge(cfg, CGF_DIR_EGRESS, p, &j);
	cgf_report_flow(&site, cfg, p, &j);
	if (j.action != CGF_ALLOW)
		return SK_DROP;
	/*
	 * TCP needs no mark: every SYN_SENT stream socket came through this
	 * hook. An allowed UDP peer is kept for the cgroup's every socket (the
	 * packets of a connected one pass skb egress and ingress on it); an
	 * audit-mode denial is marked on the socket, reported once. An
	 * allowed TCP peer is kept only as this CPU's recent peer (the next
	 * connection to the same backend skips the judgement), except where
	 * the cgroup is recorded: there every connection is counted.
	 */
	if (udp)
		cgf_peer_remember(&pk, &j);
	else if (!j.denied && !cfg->record)
		cgf_peer_recent_set(&pk);
	if (ctx->sk && udp && j.denied)
		cgf_mark_sock(ctx->sk, cfg->epoch);
	return SK_PASS;
}

/*
 * An IPv4 datagram sent with an address, before it is built. A broadcast
 * or multicast one is copied back to the sockets of the network namespace
 * (ip_mc_output) before the original reaches the packet program, which
 * judges only the original (and never sees a multicast one with TTL 0):
 * so every destination not allowed under the current policy is judged
 * here, where a denial fails sendmsg with EPERM before any copy exists.
 * Whether the datagram will be broadcast is known only after this hook
 * (the route, and SO_BROADCAST, which another thread may turn on in
 * between): no cheaper test can tell which datagrams need it. An allowed
 * peer passes after one lookup; the packet program keeps what its replies
 * need; the CPU's recent peer passes after one compare. (IPv6 has no
 * broadcast and loops its multicast back after the packet program: no
 * sendmsg6.)
 */
CGF_INLINE int cgf_sendmsg4_before_copy(struct bpf_sock_addr *ctx)
{
	struct cgf_site site = {.ctx = ctx,
				.hook = CGF_HOOK_SENDMSG4,
				.direction = CGF_DIR_EGRESS,
				.task_context = 1};
	struct cgf_cgroup_config *cfg;
	struct cgf_peer peer = {};
	struct cgf_judgement j;
	struct cgf_peer_key pk;
	struct cgf_flow_key fk;

	/*
	 * Port 0: no address (a connected socket's datagram with control
	 * messages goes to its peer, judged at connect; the kernel refuses an
	 * explicit port 0 before this hook).
	 */
	if (ctx->user_port == 0)
		return SK_PASS;
	cfg = cgf_config();
	if (!cfg)
		return SK_PASS;
	/* 0.0.0.0: the bound address or loopback, as the kernel sends it. */
	if (!ctx->user_ip4)
		ctx->user_ip4 = ctx->msg_src_ip4 ? ctx->msg_src_ip4
						 : INADDR_LOOPBACK_BE;
	cgf_peer_from_sock_addr(ctx, 4, &peer);
	cgf_peer_key(&pk, cfg->epoch, &peer);
	if (cgf_peer_verdict(&pk) >= 0)
		return SK_PASS;
	/* An audit-mode denial is reported once per socket and peer, as the
	 * packet program does (cgf_judge_datagram). */
	cgf_flow_key(&fk, bpf_get_socket_cookie(ctx), &peer, peer.port);
	if (cgf_flow_known(&fk, cfg->epoch))
		return SK_PASS;
	cgf_judge(cfg, CGF_DIR_EGRESS, &peer, &j);
	cgf_report_flow(&site, cfg, &peer, &j);
	if (j.action != CGF_ALLOW)
		return SK_DROP;
	cgf_peer_remember(&pk, &j);
	if (j.denied)
		cgf_flow_remember(&fk, cfg->epoch);
	return SK_PASS;
}

#endif
