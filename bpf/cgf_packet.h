/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Judging packets: raw, ICMP and other sockets from their headers, the
 * answers to judged ICMP, connected UDP sockets, listeners, datagrams to
 * unconnected UDP sockets.
 */
#ifndef CGF_BPF_CGF_PACKET_H
#define CGF_BPF_CGF_PACKET_H

#include "cgf_kernel.h"
#include "cgf_parse.h"
#include "cgf_report.h"
#include "cgf_verdicts.h"

/*
 * ICMPv6 the kernel sends itself from raw sockets of a network namespace
 * made inside a fenced cgroup (its neighbour discovery and MLD sockets):
 * the only packets of raw sockets not created by a fenced process that
 * pass unjudged. A fenced process's own raw sockets are always judged.
 */
CGF_INLINE int cgf_icmp_is_kernel_own(const struct cgf_packet *pk)
{
	return pk->dst.protocol == IPPROTO_ICMPV6 &&
	       ((pk->icmp_type >= ICMPV6_MLD_QUERY &&
		 pk->icmp_type <= ICMPV6_NDISC_REDIRECT) ||
		pk->icmp_type == ICMPV6_MLD2_REPORT);
}

CGF_INLINE int cgf_icmp_is_echo_reply(const struct cgf_packet *pk)
{
	if (pk->dst.protocol == IPPROTO_ICMP)
		return pk->icmp_type == ICMP_ECHOREPLY;
	return pk->dst.protocol == IPPROTO_ICMPV6 &&
	       pk->icmp_type == ICMPV6_ECHO_REPLY;
}

CGF_INLINE int cgf_icmp_is_error(const struct cgf_packet *pk)
{
	if (pk->dst.protocol == IPPROTO_ICMP)
		return pk->icmp_type == ICMP_DEST_UNREACH ||
		       pk->icmp_type == ICMP_TIME_EXCEEDED ||
		       pk->icmp_type == ICMP_PARAMETERPROB;
	return pk->dst.protocol == IPPROTO_ICMPV6 &&
	       pk->icmp_type <= ICMPV6_ERROR_MAX;
}

/* An ICMP peer as the flow table keys it: address and protocol, no port. */
CGF_INLINE void cgf_icmp_flow_key(struct cgf_flow_key *k, __u64 cookie,
				  const struct cgf_peer *p)
{
	cgf_flow_key(k, cookie, p, 0);
}

/*
 * An echo reply or an ICMP error arriving at a raw or ICMP socket passes
 * unjudged only when it answers what that socket sent to a peer a
 * judgement allowed: the reply comes from that peer, the error quotes a
 * packet to it. Anything else is judged by its source.
 */
CGF_INLINE int cgf_icmp_answers_flow(struct __sk_buff *skb,
				     const struct cgf_packet *pk, __u32 epoch)
{
	struct cgf_flow_key fk;
	struct cgf_peer peer = pk->src;
	__u32 inner = pk->l4_off + ICMP_ERROR_INNER_OFF;

	if (cgf_icmp_is_error(pk)) {
		__u32 quoted[4];

		/* the quoted packet's destination: our flow's peer */
		if (pk->src.family == 4) {
			if (bpf_skb_load_bytes(skb, inner + 16, quoted, 4))
				return 0;
			cgf_peer_ip4(&peer, quoted[0]);
		} else {
			if (bpf_skb_load_bytes(skb, inner + 24, quoted, 16))
				return 0;
			cgf_peer_ip6(&peer, quoted);
		}
		peer.protocol = pk->src.protocol;
	} else if (!cgf_icmp_is_echo_reply(pk)) {
		return 0;
	}
	cgf_icmp_flow_key(&fk, bpf_get_socket_cookie(skb), &peer);
	return cgf_flow_known(&fk, epoch);
}

/*
 * A raw socket's packet that carries another protocol than the socket's
 * own: the socket wrote the IP header itself (IP_HDRINCL), which the
 * setsockopt program may not have seen (a 32-bit setsockopt bypasses
 * cgroup setsockopt programs).
 */
CGF_INLINE int cgf_wrote_own_header(const struct cgf_sock_kind *kind,
				    const struct cgf_packet *pk)
{
	return kind->type == SOCK_RAW && kind->protocol != IPPROTO_RAW &&
	       (kind->protocol & 0xff) != pk->dst.protocol;
}

CGF_INLINE int cgf_policy_allows_option(const struct cgf_cgroup_config *cfg,
					__u32 kind)
{
	struct cgf_policy *pol = cgf_policy_of(cfg);

	return pol && (pol->sockets.options & kind);
}

/*
 * Judges one packet from its own headers: raw, ICMP and other sockets, and
 * TCP or UDP packets whose headers are not the plain ones. sk is the
 * packet's socket, of that kind.
 */
CGF_INLINE int cgf_judge_packet(struct __sk_buff *skb, struct bpf_sock *sk,
				const struct cgf_sock_kind *kind,
				const struct cgf_cgroup_config *cfg,
				__u32 dir_id)
{
	struct cgf_site site = {.ctx = skb,
				.hook = dir_id == CGF_DIR_EGRESS
						? CGF_HOOK_EGRESS
						: CGF_HOOK_INGRESS,
				.direction = dir_id};
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	struct cgf_peer *remote;
	struct cgf_flow_key fk;
	int err = cgf_parse(skb, &pk);

	remote = dir_id == CGF_DIR_EGRESS ? &pk.dst : &pk.src;
	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	if (err == CGF_UNRESOLVED)
		return cgf_refuse_flow(&site, cfg, remote,
				       CGF_RULE_BAD_HEADERS);
	if (dir_id == CGF_DIR_EGRESS) {
		struct cgf_sock_state *st = NULL;

		if (sk)
			st = bpf_sk_storage_get(&cgf_socks, sk, 0, 0);
		if (pk.source_routed)
			return cgf_refuse_flow(&site, cfg, remote,
					       CGF_RULE_SOURCE_ROUTE);
		if (sk && cgf_wrote_own_header(kind, &pk) &&
		    !cgf_policy_allows_option(cfg, CGF_SOCKOPT_HDRINCL))
			return cgf_refuse_flow(&site, cfg, remote,
					       CGF_RULE_SOCKETS_OPTION);
		if (!(st && st->created_fenced) && cgf_icmp_is_kernel_own(&pk))
			return SK_PASS;
	} else {
		if (cgf_icmp_answers_flow(skb, &pk, cfg->epoch))
			return SK_PASS;
		remote->port = pk.dst.port; /* ingress rules name local ports */
	}
	cgf_judge(cfg, dir_id, remote, &j);
	cgf_report_flow(&site, cfg, remote, &j);
	/* What an allowed ICMP packet starts may answer (cgf_icmp_answers_flow). */
	if (j.action == CGF_ALLOW && dir_id == CGF_DIR_EGRESS &&
	    (pk.dst.protocol == IPPROTO_ICMP ||
	     pk.dst.protocol == IPPROTO_ICMPV6)) {
		cgf_icmp_flow_key(&fk, bpf_get_socket_cookie(skb), &pk.dst);
		if (!cgf_flow_known(&fk, cfg->epoch))
			cgf_flow_remember(&fk, cfg->epoch);
	}
	return cgf_verdict(&j);
}

CGF_INLINE void cgf_peer_from_sock(struct cgf_peer *p, struct bpf_sock *sk,
				   const struct cgf_sock_kind *kind)
{
	if (sk->family == AF_INET) {
		cgf_peer_ip4(p, sk->dst_ip4);
	} else {
		__u32 ip6[4] = {sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2],
				sk->dst_ip6[3]};

		cgf_peer_ip6(p, ip6);
	}
	p->protocol = kind->protocol;
	p->port = bpf_ntohs(sk->dst_port);
}

/*
 * A connected UDP socket's packet to or from its peer (p, or read from sk
 * when NULL): it passes when that peer is allowed under the current policy
 * (cgf_peer_verdicts, whichever socket asked first); otherwise the peer is
 * judged (as egress: the socket went out to it), whichever way the packet
 * goes, so that a policy that now denies the peer stops its replies too.
 */
CGF_INLINE int cgf_judge_connected(struct __sk_buff *skb, struct bpf_sock *sk,
				   const struct cgf_sock_kind *kind,
				   const struct cgf_cgroup_config *cfg,
				   __u8 hook, const struct cgf_peer *p)
{
	struct cgf_site site = {.ctx = skb,
				.hook = hook,
				.direction = CGF_DIR_EGRESS,
				.task_context = hook == CGF_HOOK_EGRESS};
	struct cgf_peer own = {};
	struct cgf_judgement j;
	struct cgf_peer_key pk;

	if (!p) {
		cgf_peer_from_sock(&own, sk, kind);
		p = &own;
	}
	cgf_peer_key(&pk, cfg->epoch, p);
	if (cgf_peer_verdict(&pk) >= 0)
		return SK_PASS;
	/* An audit-mode denial of the peer, reported already. */
	if (cgf_sock_judged(sk, cfg->epoch))
		return SK_PASS;
	cgf_judge(cfg, CGF_DIR_EGRESS, p, &j);
	cgf_report_flow(&site, cfg, p, &j);
	cgf_peer_remember(&pk, &j);
	if (j.action == CGF_ALLOW && j.denied)
		cgf_mark_sock(sk, cfg->epoch);
	return cgf_verdict(&j);
}

/*
 * A datagram to dst that is not a connected socket's to its own peer: an
 * unconnected socket's (sendto, sendmsg with an address, a corked datagram
 * whatever the socket has done since its first part), or a connected
 * socket's sent with an address of its own. It passes when its peer is
 * allowed under the current policy (one lookup, the common case), or when
 * an audit-mode denial of it was reported for this socket; otherwise it
 * is judged now, and a denial fails the sendmsg with EPERM.
 */
CGF_INLINE int cgf_judge_datagram(struct __sk_buff *skb,
				  const struct cgf_cgroup_config *cfg,
				  const struct cgf_peer *dst)
{
	/* Datagrams leave in the sending task's own system call. */
	struct cgf_site site = {.ctx = skb,
				.hook = CGF_HOOK_EGRESS,
				.direction = CGF_DIR_EGRESS,
				.task_context = 1};
	struct cgf_judgement j;
	struct cgf_peer_key key;
	struct cgf_flow_key fk;
	long flags;

	cgf_peer_key(&key, cfg->epoch, dst);
	flags = cgf_peer_verdict(&key);
	if (flags >= 0 && !(flags & CGF_PEER_REPLIES_JUDGED))
		return SK_PASS;
	cgf_flow_key(&fk, bpf_get_socket_cookie(skb), dst, dst->port);
	if (flags >= 0) {
		/* Where ingress is restricted, the peer's replies pass to
		 * this socket only (cgf_udp_ingress). */
		if (!cgf_flow_known(&fk, cfg->epoch))
			cgf_flow_remember(&fk, cfg->epoch);
		return SK_PASS;
	}
	if (cgf_flow_known(&fk, cfg->epoch))
		return SK_PASS;
	cgf_judge(cfg, CGF_DIR_EGRESS, dst, &j);
	cgf_report_flow(&site, cfg, dst, &j);
	if (j.action != CGF_ALLOW)
		return SK_DROP;
	cgf_peer_remember(&key, &j);
	if (j.denied || j.ingress_restricted)
		cgf_flow_remember(&fk, cfg->epoch);
	return SK_PASS;
}

/*
 * A TCP or UDP socket's packet whose header is not the plain one (IPv4
 * options, IPv6 extension headers: what setsockopt or a control message
 * adds, or what a server echoes of its client's options). It goes where
 * the socket goes, which its judgement saw, unless it carries a source
 * route; a header chain the walk cannot follow is refused too.
 * Returns -1 when the socket's own verdict stands.
 */
CGF_INLINE int cgf_check_socket_headers(struct __sk_buff *skb,
					const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = {.ctx = skb,
				.hook = CGF_HOOK_EGRESS,
				.direction = CGF_DIR_EGRESS};
	struct cgf_packet pk = {};
	int err = cgf_parse(skb, &pk);

	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	if (err == CGF_UNRESOLVED)
		return cgf_refuse_flow(&site, cfg, &pk.dst,
				       CGF_RULE_BAD_HEADERS);
	if (pk.source_routed)
		return cgf_refuse_flow(&site, cfg, &pk.dst,
				       CGF_RULE_SOURCE_ROUTE);
	return -1;
}

CGF_INLINE int cgf_same_peer(const struct cgf_peer *a, const struct cgf_peer *b)
{
	const __u32 *x = (const __u32 *)a->addr, *y = (const __u32 *)b->addr;

	return a->family == b->family && a->protocol == b->protocol &&
	       a->port == b->port && x[0] == y[0] && x[1] == y[1] &&
	       x[2] == y[2] && x[3] == y[3];
}

/*
 * A UDP datagram whose headers are not the plain ones: checked as a
 * socket's (source routes, chains the walk cannot follow), then parsed to
 * the UDP header for its destination (dst). Returns -1 when dst is read,
 * else the packet's verdict: without a UDP header it is refused.
 */
CGF_INLINE int cgf_udp_dst_parsed(struct __sk_buff *skb,
				  const struct cgf_cgroup_config *cfg,
				  struct cgf_peer *dst)
{
	struct cgf_site site = {.ctx = skb,
				.hook = CGF_HOOK_EGRESS,
				.direction = CGF_DIR_EGRESS,
				.task_context = 1};
	struct cgf_packet pk = {};
	int err = cgf_check_socket_headers(skb, cfg);

	if (err >= 0)
		return err;
	err = cgf_parse(skb, &pk);
	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	if (err || !pk.l4_ok || !cgf_is_udp_peer(&pk.dst))
		return cgf_refuse_flow(&site, cfg, &pk.dst,
				       CGF_RULE_BAD_HEADERS);
	*dst = pk.dst;
	return -1;
}

/*
 * A UDP socket's datagram (sk), judged by where its header sends it: the
 * destination read from plain headers at fixed offsets, or parsed. A
 * connected socket's datagram to its own peer goes by the socket's
 * verdict; any other, sendto on a connected socket too, by its own.
 */
CGF_INLINE int cgf_udp_egress(struct __sk_buff *skb, struct bpf_sock *sk,
			      const struct cgf_sock_kind *kind,
			      const struct cgf_cgroup_config *cfg)
{
	struct cgf_peer dst = {};
	int verdict;

	if (!cgf_plain_udp_dst(skb, kind->protocol, &dst)) {
		verdict = cgf_udp_dst_parsed(skb, cfg, &dst);
		if (verdict >= 0)
			return verdict;
	}
	if (sk->state == BPF_TCP_ESTABLISHED) {
		struct cgf_peer own = {};

		cgf_peer_from_sock(&own, sk, kind);
		if (cgf_same_peer(&own, &dst))
			return cgf_judge_connected(skb, sk, kind, cfg,
						   CGF_HOOK_EGRESS, &own);
	}
	return cgf_judge_datagram(skb, cfg, &dst);
}

/*
 * A packet of a socket that may send from any address, where the policy
 * refuses that (cgf_source.h): refused, reported with its destination.
 */
CGF_INLINE int cgf_refuse_any_source(struct __sk_buff *skb,
				     const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = {.ctx = skb,
				.hook = CGF_HOOK_EGRESS,
				.direction = CGF_DIR_EGRESS,
				.task_context = 1};
	struct cgf_packet pk = {};

	cgf_parse(skb, &pk); /* whatever it found names the destination */
	return cgf_refuse_flow(&site, cfg, &pk.dst, CGF_RULE_SOCKETS_OPTION);
}

/* A datagram for an unconnected UDP socket: a new peer unless known. */
CGF_INLINE int cgf_udp_ingress(struct __sk_buff *skb,
			       const struct cgf_sock_kind *kind,
			       const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = {.ctx = skb,
				.hook = CGF_HOOK_INGRESS,
				.direction = CGF_DIR_INGRESS};
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	struct cgf_flow_key fk;
	struct cgf_peer remote;
	struct cgf_policy *pol = cgf_policy_of(cfg);
	int err;

	/*
	 * Nothing to judge where ingress is unrestricted (cgf_judge would
	 * allow, cgf_refuse_flow too); but where egress is restricted, the
	 * flow below is what lets the socket answer the datagram's sender,
	 * and a recorded cgroup records its new peers, as they are judged.
	 */
	if (pol && !pol->ingress.restricted && !pol->egress.restricted &&
	    !cfg->record)
		return SK_PASS;
	err = cgf_parse(skb, &pk);
	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	/* The socket gets a datagram only behind a header chain the walk
	 * followed to its UDP header: anything else cannot be judged. */
	if (err || !pk.l4_ok || pk.dst.protocol != kind->protocol)
		return cgf_refuse_flow(&site, cfg, &pk.src,
				       CGF_RULE_BAD_HEADERS);
	cgf_flow_key(&fk, bpf_get_socket_cookie(skb), &pk.src, pk.src.port);
	if (cgf_flow_known(&fk, cfg->epoch))
		return SK_PASS;
	remote = pk.src;
	remote.port = pk.dst.port;
	cgf_judge(cfg, CGF_DIR_INGRESS, &remote, &j);
	cgf_report_flow(&site, cfg, &remote, &j);
	if (j.action == CGF_ALLOW)
		cgf_flow_remember(&fk, cfg->epoch);
	return cgf_verdict(&j);
}

/* A segment for a listening socket: a SYN opens an inbound connection. */
CGF_INLINE int cgf_listener_ingress(struct __sk_buff *skb,
				    const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = {.ctx = skb,
				.hook = CGF_HOOK_INGRESS,
				.direction = CGF_DIR_INGRESS};
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	int err = cgf_parse(skb, &pk);

	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	/* Without its TCP header nobody can tell a SYN: refused. */
	if (err || !pk.l4_ok || pk.dst.protocol != IPPROTO_TCP)
		return cgf_refuse_flow(&site, cfg, &pk.src,
				       CGF_RULE_BAD_HEADERS);
	if ((pk.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
		return SK_PASS;
	pk.src.port = pk.dst.port;
	cgf_judge(cfg, CGF_DIR_INGRESS, &pk.src, &j);
	cgf_report_flow(&site, cfg, &pk.src, &j);
	return cgf_verdict(&j);
}

#endif
