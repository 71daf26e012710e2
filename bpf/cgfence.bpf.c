// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence BPF programs. One object, loaded once and pinned; every fenced
 * cgroup attaches the same programs and finds its policy through cgroup
 * storage (see include/cgfence_abi.h).
 *
 * Where flows are judged:
 *   connect4/6   TCP connects and UDP connects          (EPERM at once)
 *   sendmsg4/6   datagrams sent with an address         (EPERM at once)
 *   skb egress   connected UDP sockets not judged under the current
 *                policy; every packet of raw, ICMP and other sockets;
 *                any packet whose IP header is not what the socket's
 *                judgement assumed (options, extension headers)
 *   skb ingress  inbound TCP SYNs, datagrams to unconnected UDP sockets,
 *                every packet to raw, ICMP and other sockets
 *   sock_create  raw sockets (sockets.raw)                (EPERM at once)
 *   socket_create (BPF LSM) address families (sockets.families)
 *   device       every device access
 * Packets of judged TCP and UDP flows pass after a few socket field reads
 * and one look at the IP header's first bytes.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#define CGF_INLINE static __always_inline
#include "cgfence_logic.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define SK_PASS 1
#define SK_DROP 0
#define INADDR_LOOPBACK_BE bpf_htonl(0x7f000001)
#define NSEC_PER_SEC 1000000000ull

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, __u64); /* shared by every attach type of one cgroup */
	__type(value, struct cgf_cgroup_config);
} cgf_cgroup_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct cgf_policy);
} cgf_policies SEC(".maps");

struct cgf_lpm_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	/* Sizes, not types: clang emits only forward declarations for
	 * types named inside an inner map definition. */
	__uint(key_size, sizeof(struct cgf_lpm_key));
	__uint(value_size, sizeof(__u32));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, CGF_MAX_POLICIES);
	__type(key, __u32);
	__array(values, struct cgf_lpm_inner);
} cgf_lpm SEC(".maps");

struct cgf_classes_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct cgf_rule_mask));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2 * CGF_MAX_POLICIES);
	__type(key, __u64); /* (policy id << 1) | bank */
	__array(values, struct cgf_classes_inner);
} cgf_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgf_sock_state);
} cgf_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/*
	 * One LRU list per CPU: a full table evicts from the inserting CPU's
	 * own list, without the common list's lock and shrinking (the p99 of
	 * a first datagram on a new socket: 18.6 -> 14.0 us, connbench udp-new).
	 */
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, CGF_FLOW_TABLE_SIZE);
	__type(key, struct cgf_flow_key);
	__type(value, __u32); /* the cgroup epoch the peer was judged under */
} cgf_udp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} cgf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct cgf_cgroup_stats);
} cgf_stats SEC(".maps");

/* User-space state, pinned with the programs (see cgfence_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct cgf_cgroup_stats);
} cgf_stats_reported SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgf_meta);
} cgf_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct cgf_policy_info);
} cgf_policy_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct cgf_cgroup_info);
} cgf_cgroup_info SEC(".maps");

/* Poststop finds a container's cgroup here, not by walking cgf_cgroup_info. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_CGROUPS);
	__type(key, struct cgf_container_key);
	__type(value, __u64);
} cgf_containers SEC(".maps");

/* The remote end of a flow, as the tables want it. */
struct cgf_peer {
	__u8 family; /* 4 or 6 */
	__u8 protocol;
	__u16 port; /* host order: remote port (egress) or local port (ingress) */
	__u8 addr[16];
};

/* A judged flow: what decided and how. */
struct cgf_judgement {
	__u32 policy_id;
	__u32 rule;
	__u8 action; /* what happens: audit mode turns deny into allow */
	__u8 denied; /* what the policy said */
};

/* Where a judgement happened, for its report. */
struct cgf_site {
	void *ctx;
	__u8 hook; /* enum cgf_hook */
	__u8 direction;
	__u8 task_context; /* pid and comm are the current task's */
};

/* NULL: this cgroup is attached but not configured yet (pass). */
CGF_INLINE struct cgf_cgroup_config *cgf_config(void)
{
	struct cgf_cgroup_config *cfg = bpf_get_local_storage(&cgf_cgroup_cfg, 0);

	return cfg->policy_id ? cfg : NULL;
}

CGF_INLINE void cgf_peer_ip4(struct cgf_peer *p, __u32 addr_be)
{
	p->family = 4;
	__builtin_memcpy(p->addr, &addr_be, 4);
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged by the IPv4 rules. */
CGF_INLINE void cgf_peer_ip6(struct cgf_peer *p, const __u32 addr_be[4])
{
	if (addr_be[0] == 0 && addr_be[1] == 0 &&
	    addr_be[2] == bpf_htonl(0x0000ffff)) {
		cgf_peer_ip4(p, addr_be[3]);
		return;
	}
	p->family = 6;
	__builtin_memcpy(p->addr, addr_be, 16);
}

/* Judges p against the policy's tables; fails closed on missing tables. */
CGF_INLINE void cgf_judge(const struct cgf_cgroup_config *cfg, __u32 dir_id,
			  const struct cgf_peer *p, struct cgf_judgement *j)
{
	__u32 policy_id = cfg->policy_id;
	const struct cgf_direction *dir;
	struct cgf_policy *pol;
	struct cgf_rule_mask *ma, *mp;
	struct cgf_lpm_key key = {};
	__u32 *ca, *cp;
	void *lpm, *classes;
	__u64 bank_key;

	j->policy_id = policy_id;
	j->rule = CGF_RULE_DEFAULT;
	j->action = CGF_DENY;
	j->denied = 1;

	pol = bpf_map_lookup_elem(&cgf_policies, &policy_id);
	if (!pol)
		return;
	dir = dir_id == CGF_DIR_EGRESS ? &pol->egress : &pol->ingress;
	if (!dir->restricted) {
		j->action = CGF_ALLOW;
		j->denied = 0;
		return;
	}
	lpm = bpf_map_lookup_elem(&cgf_lpm, &policy_id);
	bank_key = ((__u64)policy_id << 1) | (pol->bank & 1);
	classes = bpf_map_lookup_elem(&cgf_classes, &bank_key);
	if (!lpm || !classes)
		return;

	if (p->family == 4) {
		key.kind = dir_id == CGF_DIR_EGRESS ? CGF_T_EGRESS_V4 : CGF_T_INGRESS_V4;
		key.prefixlen = CGF_KIND_BITS + 32;
	} else {
		key.kind = dir_id == CGF_DIR_EGRESS ? CGF_T_EGRESS_V6 : CGF_T_INGRESS_V6;
		key.prefixlen = CGF_KIND_BITS + 128;
	}
	__builtin_memcpy(key.data, p->addr, 16);
	ca = bpf_map_lookup_elem(lpm, &key);
	if (!ca)
		return;

	__builtin_memset(&key, 0, sizeof(key));
	key.kind = dir_id == CGF_DIR_EGRESS ? CGF_T_EGRESS_PORT : CGF_T_INGRESS_PORT;
	key.prefixlen = CGF_KIND_BITS + 24;
	key.data[0] = p->protocol;
	if (p->protocol == IPPROTO_TCP || p->protocol == IPPROTO_UDP) {
		key.data[1] = p->port >> 8;
		key.data[2] = p->port & 0xff;
	}
	cp = bpf_map_lookup_elem(lpm, &key);
	if (!cp)
		return;

	ma = bpf_map_lookup_elem(classes, ca);
	mp = bpf_map_lookup_elem(classes, cp);
	if (!ma || !mp)
		return;
	j->rule = cgf_first_rule(ma, mp);
	j->action = cgf_rule_action(dir, j->rule);
	j->denied = j->action == CGF_DENY;
	if (pol->mode == CGF_MODE_AUDIT)
		j->action = CGF_ALLOW;
}

/*
 * Counts the denial against the cgroup's budget and offers it to the perf
 * buffer. Exactly one of emitted, suppressed, undelivered grows per call.
 */
CGF_INLINE struct cgf_cgroup_stats *cgf_stats_of(__u64 cgroup_id)
{
	struct cgf_cgroup_stats *stats, fresh = {};
	__u64 catch_all = CGF_STATS_CATCH_ALL;

	stats = bpf_map_lookup_elem(&cgf_stats, &cgroup_id);
	if (stats)
		return stats;
	bpf_map_update_elem(&cgf_stats, &cgroup_id, &fresh, BPF_NOEXIST);
	stats = bpf_map_lookup_elem(&cgf_stats, &cgroup_id);
	/* Map full: count it where the loader keeps a slot, never nowhere. */
	return stats ? stats : bpf_map_lookup_elem(&cgf_stats, &catch_all);
}

CGF_INLINE int cgf_within_budget(struct cgf_cgroup_stats *stats,
				 const struct cgf_cgroup_config *cfg)
{
	__u64 now = bpf_ktime_get_boot_ns();

	if (now - stats->window_start_ns >= NSEC_PER_SEC) {
		stats->window_start_ns = now;
		stats->window_count = 0;
	}
	if (stats->window_count >= cfg->event_budget) {
		__sync_fetch_and_add(&stats->suppressed, 1);
		return 0;
	}
	__sync_fetch_and_add(&stats->window_count, 1);
	return 1;
}

CGF_INLINE void cgf_emit(const struct cgf_site *site,
			 struct cgf_cgroup_stats *stats, struct cgf_event *ev)
{
	if (site->task_context) {
		ev->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	}
	if (bpf_perf_event_output(site->ctx, &cgf_events, BPF_F_CURRENT_CPU, ev,
				  sizeof(*ev)))
		__sync_fetch_and_add(&stats->undelivered, 1);
	else
		__sync_fetch_and_add(&stats->emitted, 1);
}

CGF_INLINE void cgf_event_init(struct cgf_event *ev,
			       const struct cgf_cgroup_config *cfg,
			       const struct cgf_site *site, __u32 rule,
			       __u8 action)
{
	ev->version = CGF_EVENT_VERSION;
	ev->hook = site->hook;
	ev->direction = site->direction;
	ev->action = action;
	ev->policy_id = cfg->policy_id;
	ev->generation = cfg->generation;
	ev->rule = rule;
	ev->time_ns = bpf_ktime_get_boot_ns();
	ev->cgroup_id = cfg->cgroup_id;
}

/*
 * A denial's event, once counted against the cgroup's budget: NULL when
 * over it (counted as suppressed), else the stats to emit it against.
 */
CGF_INLINE struct cgf_cgroup_stats *cgf_event_begin(const struct cgf_site *site,
						    const struct cgf_cgroup_config *cfg,
						    __u32 rule, __u8 action,
						    struct cgf_event *ev)
{
	struct cgf_cgroup_stats *stats = cgf_stats_of(cfg->cgroup_id);

	if (!stats || !cgf_within_budget(stats, cfg))
		return NULL;
	cgf_event_init(ev, cfg, site, rule, action);
	return stats;
}

CGF_INLINE void cgf_report_flow(const struct cgf_site *site,
				const struct cgf_cgroup_config *cfg,
				const struct cgf_peer *p,
				const struct cgf_judgement *j)
{
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	if (!j->denied)
		return;
	stats = cgf_event_begin(site, cfg, j->rule, j->action, &ev);
	if (!stats)
		return;
	ev.family = p->family;
	ev.protocol = p->protocol;
	ev.port = p->port;
	__builtin_memcpy(ev.addr, p->addr, 16);
	cgf_emit(site, stats, &ev);
}

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

/* ---- connect and sendmsg: judged before anything is sent ---- */

/*
 * connect() or sendto() to 0.0.0.0 or :: reaches the host itself: the
 * kernel sends to the socket's bound address, or else to loopback. Write
 * that address in its place, so that what is judged is exactly where the
 * kernel sends (a destination that is not zero is used as written).
 */
CGF_INLINE void cgf_resolve_unspecified4(struct bpf_sock_addr *ctx, int is_sendmsg)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 src = 0;

	if (ctx->user_ip4)
		return;
	/* sendmsg4: the datagram's source (bound, or from IP_PKTINFO) */
	if (is_sendmsg)
		src = ctx->msg_src_ip4;
	else if (sk)
		src = sk->src_ip4;
	ctx->user_ip4 = src ? src : INADDR_LOOPBACK_BE;
}

CGF_INLINE void cgf_resolve_unspecified6(struct bpf_sock_addr *ctx, int is_sendmsg)
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
		/* ::ffff:0.0.0.0 connects as IPv4 to 0.0.0.0. (sendmsg6 never
		 * sees IPv4-mapped destinations: sendmsg4 judges those.) */
		if (!is_sendmsg)
			ctx->user_ip6[3] = src ? src : INADDR_LOOPBACK_BE;
		return;
	}
	if (bound_v4 && !is_sendmsg) {
		/* :: from a socket bound to an IPv4-mapped address: 127.0.0.1 */
		ctx->user_ip6[2] = mapped;
		ctx->user_ip6[3] = INADDR_LOOPBACK_BE;
		return;
	}
	ctx->user_ip6[3] = bpf_htonl(1); /* ::1 */
}

/* The destination of a connect or sendmsg; family is the hook's, 4 or 6. */
CGF_INLINE void cgf_peer_from_sock_addr(struct bpf_sock_addr *ctx, int family,
					int is_sendmsg, struct cgf_peer *p)
{
	if (family == 4) {
		cgf_resolve_unspecified4(ctx, is_sendmsg);
		cgf_peer_ip4(p, ctx->user_ip4);
	} else {
		__u32 ip6[4];

		cgf_resolve_unspecified6(ctx, is_sendmsg);
		ip6[0] = ctx->user_ip6[0];
		ip6[1] = ctx->user_ip6[1];
		ip6[2] = ctx->user_ip6[2];
		ip6[3] = ctx->user_ip6[3];
		cgf_peer_ip6(p, ip6);
	}
	p->protocol = ctx->protocol;
	p->port = bpf_ntohs(ctx->user_port);
}

CGF_INLINE int cgf_sock_addr_egress(struct bpf_sock_addr *ctx, int family,
				    __u8 hook, int is_sendmsg)
{
	struct cgf_site site = { .ctx = ctx, .hook = hook,
				 .direction = CGF_DIR_EGRESS, .task_context = 1 };
	struct cgf_cgroup_config *cfg = cgf_config();
	struct cgf_peer peer = {}, *p = &peer;
	struct cgf_judgement j;
	struct cgf_flow_key fk;
	__u64 cookie = 0;

	if (!cfg)
		return SK_PASS;
	/*
	 * A datagram sent with no address (a connected socket with control
	 * messages, such as IP_TOS) goes to the connected peer, which the
	 * packet program judges; the kernel refuses an explicit port 0 before
	 * this hook runs, so port 0 here means "no address".
	 */
	if (is_sendmsg && ctx->user_port == 0)
		return SK_PASS;
	cgf_peer_from_sock_addr(ctx, family, is_sendmsg, p);

	if (is_sendmsg) {
		/* Replies to peers that an earlier judgement let in or out. */
		cookie = bpf_get_socket_cookie(ctx);
		cgf_flow_key(&fk, cookie, p, p->port);
		if (cgf_flow_known(&fk, cfg->epoch))
			return SK_PASS;
	}
	cgf_judge(cfg, CGF_DIR_EGRESS, p, &j);
	cgf_report_flow(&site, cfg, p, &j);
	if (j.action != CGF_ALLOW)
		return SK_DROP;
	/*
	 * TCP needs no mark: every SYN_SENT stream socket came through this
	 * hook. A connected UDP socket is marked so its datagrams pass skb
	 * egress.
	 */
	if (is_sendmsg)
		cgf_flow_remember(&fk, cfg->epoch);
	else if (ctx->sk && p->protocol == IPPROTO_UDP)
		cgf_mark_sock(ctx->sk, cfg->epoch);
	return SK_PASS;
}

SEC("cgroup/connect4")
int cgf_connect4(struct bpf_sock_addr *ctx)
{
	return cgf_sock_addr_egress(ctx, 4, CGF_HOOK_CONNECT4, 0);
}

SEC("cgroup/connect6")
int cgf_connect6(struct bpf_sock_addr *ctx)
{
	return cgf_sock_addr_egress(ctx, 6, CGF_HOOK_CONNECT6, 0);
}

SEC("cgroup/sendmsg4")
int cgf_sendmsg4(struct bpf_sock_addr *ctx)
{
	return cgf_sock_addr_egress(ctx, 4, CGF_HOOK_SENDMSG4, 1);
}

SEC("cgroup/sendmsg6")
int cgf_sendmsg6(struct bpf_sock_addr *ctx)
{
	return cgf_sock_addr_egress(ctx, 6, CGF_HOOK_SENDMSG6, 1);
}

/* ---- packets ---- */

struct cgf_packet {
	struct cgf_peer src; /* port: source port */
	struct cgf_peer dst; /* port: destination port */
	__u32 l4_off; /* where the L4 header starts */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 l4_ok; /* the L4 header was read (not a later fragment) */
	__u8 source_routed; /* IPv4 source route option, IPv6 routing header */
};

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define IPV4_HDR_LEN 20 /* without options */
#define IPV6_HDR_LEN 40
#define IPV4_OPTIONS_MAX 40
#define IPOPT_END 0
#define IPOPT_NOOP 1
#define IPOPT_LSRR 0x83
#define IPOPT_SSRR 0x89
/*
 * Extension headers followed before the walk gives up. Real packets carry
 * one or two; a longer chain is refused (CGF_RULE_BAD_HEADERS), never
 * judged as if its upper-layer header were unknown.
 */
#define IPV6_EXT_MAX 8

/* Parse results besides "judge this": the packet is refused. */
enum cgf_parse_result {
	CGF_PARSED = 0,
	CGF_UNPARSABLE = -1, /* truncated or not IP: dropped, not reported */
	CGF_UNRESOLVED = -2, /* headers that cannot be followed to the end */
};

/* ICMP types (RFC 792, RFC 4443) the exemptions and answers name. */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMPV6_ERROR_MAX 127 /* ICMPv6 types 0-127 are errors */
#define ICMPV6_ECHO_REPLY 129
#define ICMPV6_MLD_QUERY 130
#define ICMPV6_NDISC_REDIRECT 137
#define ICMPV6_MLD2_REPORT 143
#define ICMP_ERROR_INNER_OFF 8 /* the offending packet follows 8 bytes */

CGF_INLINE int cgf_parse_l4(struct __sk_buff *skb, __u32 off, struct cgf_packet *pk)
{
	__u8 l4[14];
	__u8 proto = pk->dst.protocol;

	pk->l4_off = off;
	if (proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off, l4, 14))
			return CGF_UNPARSABLE;
		pk->tcp_flags = l4[13];
	} else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) {
		if (bpf_skb_load_bytes(skb, off, l4, 4))
			return CGF_UNPARSABLE;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		if (bpf_skb_load_bytes(skb, off, l4, 1))
			return CGF_UNPARSABLE;
		pk->icmp_type = l4[0];
		pk->l4_ok = 1;
		return CGF_PARSED;
	} else {
		pk->l4_ok = 1;
		return CGF_PARSED;
	}
	pk->src.port = ((__u16)l4[0] << 8) | l4[1];
	pk->dst.port = ((__u16)l4[2] << 8) | l4[3];
	pk->l4_ok = 1;
	return CGF_PARSED;
}

/*
 * A source route sends the packet to its first hop, not to the header's
 * final destination that a judgement saw: such packets are refused. So are
 * options the walk cannot follow. Returns CGF_PARSED, CGF_SOURCE_ROUTED or
 * an error.
 */
#define CGF_SOURCE_ROUTED 1

struct cgf_options_walk {
	__u8 opt[64]; /* indexed & 63: every read is in bounds */
	__u32 off;
	__u32 len;
	int result;
};

/* One option per call (bpf_loop: the verifier checks this body once). */
static long cgf_ipv4_option_step(__u32 i, void *data)
{
	struct cgf_options_walk *w = data;
	__u8 type, olen;

	if (w->off >= w->len)
		return 1;
	type = w->opt[w->off & 63];
	if (type == IPOPT_END)
		return 1;
	if (type == IPOPT_NOOP) {
		w->off++;
		return 0;
	}
	if (type == IPOPT_LSRR || type == IPOPT_SSRR)
		w->result = CGF_SOURCE_ROUTED;
	olen = w->opt[(w->off + 1) & 63];
	if (olen < 2 || w->off + olen > w->len) {
		w->result = CGF_UNRESOLVED;
		return 1;
	}
	w->off += olen;
	return 0;
}

CGF_INLINE int cgf_ipv4_options(struct __sk_buff *skb, __u32 len)
{
	struct cgf_options_walk w = { .len = len, .result = CGF_PARSED };

	if (!len || len > IPV4_OPTIONS_MAX)
		return CGF_UNRESOLVED;
	/* 4 to 40; written so that the verifier sees 1 to 64 too. */
	asm volatile("%0 += -1; %0 &= 0x3f; %0 += 1" : "+r"(len));
	if (bpf_skb_load_bytes(skb, IPV4_HDR_LEN, w.opt, len))
		return CGF_UNPARSABLE;
	if (bpf_loop(IPV4_OPTIONS_MAX, cgf_ipv4_option_step, &w, 0) < 0)
		return CGF_UNRESOLVED;
	/* A walk that ran out of steps before the end is not followed. */
	if (w.result == CGF_PARSED && w.off < w.len && w.opt[w.off & 63] != IPOPT_END)
		return CGF_UNRESOLVED;
	return w.result;
}

CGF_INLINE int cgf_parse_ipv4(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 ip[IPV4_HDR_LEN];
	__u32 saddr, daddr, hlen;
	int err;

	if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
		return CGF_UNPARSABLE;
	hlen = (ip[0] & 0x0f) * 4;
	if (hlen < IPV4_HDR_LEN)
		return CGF_UNPARSABLE;
	__builtin_memcpy(&saddr, ip + 12, 4);
	__builtin_memcpy(&daddr, ip + 16, 4);
	cgf_peer_ip4(&pk->src, saddr);
	cgf_peer_ip4(&pk->dst, daddr);
	pk->src.protocol = pk->dst.protocol = ip[9];
	if (hlen > IPV4_HDR_LEN) {
		err = cgf_ipv4_options(skb, hlen - IPV4_HDR_LEN);
		if (err < 0)
			return err;
		pk->source_routed = err == CGF_SOURCE_ROUTED;
	}
	/* A later fragment has no L4 header: judged with port 0. */
	if (((ip[6] & 0x1f) | ip[7]) != 0)
		return CGF_PARSED;
	return cgf_parse_l4(skb, hlen, pk);
}

/* The extension headers the kernel follows to reach the upper layer. */
CGF_INLINE int cgf_ipv6_is_ext(__u8 next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	       next == IPPROTO_DSTOPTS || next == IPPROTO_FRAGMENT ||
	       next == IPPROTO_AH;
}

CGF_INLINE int cgf_parse_ipv6(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 ip[IPV6_HDR_LEN];
	__u8 ext[8];
	__u32 off = IPV6_HDR_LEN;
	__u8 next;

	if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
		return CGF_UNPARSABLE;
	pk->src.family = pk->dst.family = 6;
	__builtin_memcpy(pk->src.addr, ip + 8, 16);
	__builtin_memcpy(pk->dst.addr, ip + 24, 16);
	next = ip[6];
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (!cgf_ipv6_is_ext(next))
			break;
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return CGF_UNPARSABLE;
		if (next == IPPROTO_FRAGMENT) {
			pk->src.protocol = pk->dst.protocol = ext[0];
			if (((ext[2] << 8) | (ext[3] & 0xf8)) != 0)
				return CGF_PARSED; /* later fragment */
			next = ext[0];
			off += 8;
			continue;
		}
		if (next == IPPROTO_ROUTING)
			pk->source_routed = 1;
		if (next == IPPROTO_AH)
			off += (ext[1] + 2) * 4;
		else
			off += (ext[1] + 1) * 8;
		next = ext[0];
	}
	if (cgf_ipv6_is_ext(next))
		return CGF_UNRESOLVED;
	pk->src.protocol = pk->dst.protocol = next;
	return cgf_parse_l4(skb, off, pk);
}

CGF_INLINE int cgf_parse(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 version;

	if (bpf_skb_load_bytes(skb, 0, &version, 1))
		return CGF_UNPARSABLE;
	if ((version >> 4) == 4)
		return cgf_parse_ipv4(skb, pk);
	if ((version >> 4) == 6)
		return cgf_parse_ipv6(skb, pk);
	return CGF_UNPARSABLE;
}

/*
 * The fast path's one look at the packet: true when the IP header is the
 * plain one that a stream or datagram socket's judgement assumed, with the
 * socket's protocol right behind it (no IPv4 options, no IPv6 extension
 * headers). Anything else is judged from the packet itself.
 */
CGF_INLINE int cgf_headers_plain(struct __sk_buff *skb, __u32 protocol)
{
	__u8 *data = (__u8 *)(long)skb->data;
	__u8 *end = (__u8 *)(long)skb->data_end;

	if (data + IPV6_HDR_LEN > end) {
		/* Short or not linear: read it (rare; IPv4 SYNs of 20+20). */
		__u8 b[7];

		if (bpf_skb_load_bytes(skb, 0, b, 1))
			return 0;
		if (b[0] == 0x45)
			return 1;
		if ((b[0] >> 4) != 6 || bpf_skb_load_bytes(skb, 0, b, 7))
			return 0;
		return b[6] == protocol;
	}
	if (data[0] == 0x45) /* version 4, header length 20 */
		return 1;
	return (data[0] >> 4) == 6 && data[6] == protocol;
}

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

CGF_INLINE int cgf_verdict(const struct cgf_judgement *j)
{
	return j->action == CGF_ALLOW ? SK_PASS : SK_DROP;
}

/*
 * A packet refused for its headers, not by a rule: reported against the
 * direction's restriction, and let through where the policy leaves the
 * direction unrestricted (there is nothing to get around there).
 */
CGF_INLINE int cgf_refuse_packet(const struct cgf_site *site,
				 const struct cgf_cgroup_config *cfg,
				 const struct cgf_peer *remote, __u32 rule)
{
	struct cgf_judgement j = { .policy_id = cfg->policy_id, .rule = rule,
				   .action = CGF_DENY, .denied = 1 };
	__u32 policy_id = cfg->policy_id;
	struct cgf_policy *pol = bpf_map_lookup_elem(&cgf_policies, &policy_id);
	const struct cgf_direction *dir;

	if (pol) {
		dir = site->direction == CGF_DIR_EGRESS ? &pol->egress : &pol->ingress;
		if (!dir->restricted)
			return SK_PASS;
		if (pol->mode == CGF_MODE_AUDIT)
			j.action = CGF_ALLOW;
	}
	cgf_report_flow(site, cfg, remote, &j);
	return cgf_verdict(&j);
}

/*
 * Judges one packet from its own headers: raw, ICMP and other sockets, and
 * TCP or UDP packets whose headers are not the plain ones. sk is the
 * packet's socket.
 */
CGF_INLINE int cgf_judge_packet(struct __sk_buff *skb, struct bpf_sock *sk,
				const struct cgf_cgroup_config *cfg, __u32 dir_id)
{
	struct cgf_site site = { .ctx = skb,
				 .hook = dir_id == CGF_DIR_EGRESS ? CGF_HOOK_EGRESS :
								    CGF_HOOK_INGRESS,
				 .direction = dir_id };
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	struct cgf_peer *remote;
	struct cgf_flow_key fk;
	int err = cgf_parse(skb, &pk);

	remote = dir_id == CGF_DIR_EGRESS ? &pk.dst : &pk.src;
	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	if (err == CGF_UNRESOLVED)
		return cgf_refuse_packet(&site, cfg, remote, CGF_RULE_BAD_HEADERS);
	if (dir_id == CGF_DIR_EGRESS) {
		struct cgf_sock_state *st = NULL;

		if (sk)
			st = bpf_sk_storage_get(&cgf_socks, sk, 0, 0);
		if (pk.source_routed)
			return cgf_refuse_packet(&site, cfg, remote,
						 CGF_RULE_SOURCE_ROUTE);
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
	    (pk.dst.protocol == IPPROTO_ICMP || pk.dst.protocol == IPPROTO_ICMPV6)) {
		cgf_icmp_flow_key(&fk, bpf_get_socket_cookie(skb), &pk.dst);
		if (!cgf_flow_known(&fk, cfg->epoch))
			cgf_flow_remember(&fk, cfg->epoch);
	}
	return cgf_verdict(&j);
}

CGF_INLINE void cgf_peer_from_sock(struct cgf_peer *p, struct bpf_sock *sk)
{
	if (sk->family == AF_INET) {
		cgf_peer_ip4(p, sk->dst_ip4);
	} else {
		__u32 ip6[4] = { sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2],
				 sk->dst_ip6[3] };

		cgf_peer_ip6(p, ip6);
	}
	p->protocol = sk->protocol;
	p->port = bpf_ntohs(sk->dst_port);
}

/* A connected socket not judged under the current policy: judge its peer. */
CGF_INLINE int cgf_judge_connected(struct __sk_buff *skb, struct bpf_sock *sk,
				   const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = { .ctx = skb, .hook = CGF_HOOK_EGRESS,
				 .direction = CGF_DIR_EGRESS };
	struct cgf_peer p = {};
	struct cgf_judgement j;

	if (cgf_sock_judged(sk, cfg->epoch))
		return SK_PASS;
	cgf_peer_from_sock(&p, sk);
	cgf_judge(cfg, CGF_DIR_EGRESS, &p, &j);
	cgf_report_flow(&site, cfg, &p, &j);
	if (j.action == CGF_ALLOW)
		cgf_mark_sock(sk, cfg->epoch);
	return cgf_verdict(&j);
}

/* What a packet program knows before looking at the packet. */
enum cgf_packet_owner {
	CGF_OWNER_PASS, /* not configured, or a request/timewait socket: pass */
	CGF_OWNER_NONE, /* no socket: judge the packet itself */
	CGF_OWNER_SOCKET, /* *sk is the full socket the packet belongs to */
};

CGF_INLINE int cgf_packet_owner(struct __sk_buff *skb,
				struct cgf_cgroup_config **cfg,
				struct bpf_sock **sk)
{
	*cfg = cgf_config();
	if (!*cfg)
		return CGF_OWNER_PASS;
	*sk = skb->sk;
	if (!*sk)
		return CGF_OWNER_NONE;
	*sk = bpf_sk_fullsock(*sk);
	/* Request and timewait sockets belong to judged TCP flows. */
	return *sk ? CGF_OWNER_SOCKET : CGF_OWNER_PASS;
}

/* A TCP stream socket: its connection started with a judged connect(). */
CGF_INLINE int cgf_is_tcp_stream(const struct bpf_sock *sk)
{
	return sk->type == SOCK_STREAM && sk->protocol == IPPROTO_TCP;
}

/* A UDP (or UDP-Lite) datagram socket, judged at connect or per sendmsg. */
CGF_INLINE int cgf_is_udp_dgram(const struct bpf_sock *sk)
{
	return sk->type == SOCK_DGRAM &&
	       (sk->protocol == IPPROTO_UDP || sk->protocol == IPPROTO_UDPLITE);
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
	struct cgf_site site = { .ctx = skb, .hook = CGF_HOOK_EGRESS,
				 .direction = CGF_DIR_EGRESS };
	struct cgf_packet pk = {};
	int err = cgf_parse(skb, &pk);

	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	if (err == CGF_UNRESOLVED)
		return cgf_refuse_packet(&site, cfg, &pk.dst, CGF_RULE_BAD_HEADERS);
	if (pk.source_routed)
		return cgf_refuse_packet(&site, cfg, &pk.dst, CGF_RULE_SOURCE_ROUTE);
	return -1;
}

SEC("cgroup_skb/egress")
int cgf_egress(struct __sk_buff *skb)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk = NULL;
	int owner = cgf_packet_owner(skb, &cfg, &sk);
	int verdict;

	if (owner == CGF_OWNER_PASS)
		return SK_PASS;
	if (owner == CGF_OWNER_SOCKET && (cgf_is_tcp_stream(sk) || cgf_is_udp_dgram(sk))) {
		if (!cgf_headers_plain(skb, sk->protocol)) {
			verdict = cgf_check_socket_headers(skb, cfg);
			if (verdict >= 0)
				return verdict;
		}
		/*
		 * TCP: a connection starts with connect() (or a Fast Open
		 * sendmsg), which connect4/6 of this same cgroup judged before
		 * the SYN was built, or with a SYN ingress judged; everything
		 * else is an established, accepted or closing connection. UDP:
		 * unconnected sends were judged by sendmsg4/6, per datagram.
		 */
		if (sk->type == SOCK_STREAM || sk->state != BPF_TCP_ESTABLISHED)
			return SK_PASS;
		return cgf_judge_connected(skb, sk, cfg);
	}
	/* Raw sockets (IPPROTO_TCP ones too), ICMP sockets, SCTP, ... */
	return cgf_judge_packet(skb, sk, cfg, CGF_DIR_EGRESS);
}

/* A datagram for an unconnected UDP socket: a new peer unless known. */
CGF_INLINE int cgf_udp_ingress(struct __sk_buff *skb, struct bpf_sock *sk,
			       const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = { .ctx = skb, .hook = CGF_HOOK_INGRESS,
				 .direction = CGF_DIR_INGRESS };
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	struct cgf_flow_key fk;
	struct cgf_peer remote;
	int err = cgf_parse(skb, &pk);

	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	/* The socket gets a datagram only behind a header chain the walk
	 * followed to its UDP header: anything else cannot be judged. */
	if (err || !pk.l4_ok || pk.dst.protocol != sk->protocol)
		return cgf_refuse_packet(&site, cfg, &pk.src, CGF_RULE_BAD_HEADERS);
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
	struct cgf_site site = { .ctx = skb, .hook = CGF_HOOK_INGRESS,
				 .direction = CGF_DIR_INGRESS };
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	int err = cgf_parse(skb, &pk);

	if (err == CGF_UNPARSABLE)
		return SK_DROP;
	/* Without its TCP header nobody can tell a SYN: refused. */
	if (err || !pk.l4_ok || pk.dst.protocol != IPPROTO_TCP)
		return cgf_refuse_packet(&site, cfg, &pk.src, CGF_RULE_BAD_HEADERS);
	if ((pk.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
		return SK_PASS;
	pk.src.port = pk.dst.port;
	cgf_judge(cfg, CGF_DIR_INGRESS, &pk.src, &j);
	cgf_report_flow(&site, cfg, &pk.src, &j);
	return cgf_verdict(&j);
}

SEC("cgroup_skb/ingress")
int cgf_ingress(struct __sk_buff *skb)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk = NULL;
	int owner = cgf_packet_owner(skb, &cfg, &sk);

	if (owner == CGF_OWNER_PASS)
		return SK_PASS;
	if (owner == CGF_OWNER_SOCKET && cgf_is_tcp_stream(sk)) {
		/* Only a SYN to a listener opens an inbound connection. */
		if (sk->state != BPF_TCP_LISTEN)
			return SK_PASS;
		return cgf_listener_ingress(skb, cfg);
	}
	if (owner == CGF_OWNER_SOCKET && cgf_is_udp_dgram(sk)) {
		/* A connected socket only receives from its judged peer. */
		if (sk->state == BPF_TCP_ESTABLISHED)
			return SK_PASS;
		return cgf_udp_ingress(skb, sk, cfg);
	}
	/* Raw sockets see copies of every packet of their protocol. */
	return cgf_judge_packet(skb, sk, cfg, CGF_DIR_INGRESS);
}

/* ---- sockets ---- */

CGF_INLINE void cgf_report_socket(void *ctx, const struct cgf_cgroup_config *cfg,
				  __u32 rule, __u8 action, __u32 family,
				  __u32 type, __u32 protocol)
{
	struct cgf_site site = { .ctx = ctx, .hook = CGF_HOOK_SOCKET,
				 .task_context = 1 };
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	stats = cgf_event_begin(&site, cfg, rule, action, &ev);
	if (!stats)
		return;
	ev.sock_family = family;
	ev.sock_type = type;
	ev.protocol = protocol;
	cgf_emit(&site, stats, &ev);
}

/*
 * Every AF_INET/AF_INET6 socket a fenced process creates (never the
 * kernel's own): raw sockets the policy does not allow fail with EPERM;
 * sockets whose packets are judged one by one are marked as the fenced
 * process's, which no exemption for the kernel's own packets covers.
 */
SEC("cgroup/sock_create")
int cgf_sock_create(struct bpf_sock *sk)
{
	struct cgf_cgroup_config *cfg = cgf_config();
	struct cgf_sock_state *st;
	struct cgf_policy *pol;
	__u32 policy_id, rule;
	__u8 action;

	if (!cfg || cgf_is_tcp_stream(sk) || cgf_is_udp_dgram(sk))
		return SK_PASS;
	if (sk->type == SOCK_RAW) {
		policy_id = cfg->policy_id;
		pol = bpf_map_lookup_elem(&cgf_policies, &policy_id);
		if (!pol)
			return SK_DROP;
		action = cgf_judge_socket(&pol->sockets, sk->family, sk->type,
					  sk->protocol, &rule);
		if (action == CGF_DENY) {
			if (pol->mode == CGF_MODE_AUDIT)
				action = CGF_ALLOW;
			cgf_report_socket(sk, cfg, rule, action, sk->family,
					  sk->type, sk->protocol);
			if (action == CGF_DENY)
				return SK_DROP;
		}
	}
	st = bpf_sk_storage_get(&cgf_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return SK_DROP; /* fail closed: its packets would lose the mark */
	st->created_fenced = 1;
	return SK_PASS;
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
	__u32 policy_id, rule;
	__u8 action;

	if (kern || family == AF_UNIX || family == AF_INET ||
	    family == AF_INET6 || family == AF_NETLINK)
		return 1; /* the common case, before any lookup */
	cfg = cgf_config();
	if (!cfg)
		return 1;
	policy_id = cfg->policy_id;
	pol = bpf_map_lookup_elem(&cgf_policies, &policy_id);
	if (!pol)
		return 0;
	action = cgf_judge_socket(&pol->sockets, family, type, protocol, &rule);
	if (action == CGF_ALLOW)
		return 1;
	if (pol->mode == CGF_MODE_AUDIT)
		action = CGF_ALLOW;
	cgf_report_socket(ctx, cfg, rule, action, family, type, protocol);
	return action == CGF_ALLOW;
}

/* ---- devices ---- */

CGF_INLINE void cgf_report_device(struct bpf_cgroup_dev_ctx *ctx,
				  const struct cgf_cgroup_config *cfg,
				  __u32 rule, __u8 action)
{
	struct cgf_site site = { .ctx = ctx, .hook = CGF_HOOK_DEVICE,
				 .task_context = 1 };
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	stats = cgf_event_begin(&site, cfg, rule, action, &ev);
	if (!stats)
		return;
	ev.dev_type = ctx->access_type & 0xffff;
	ev.dev_access = ctx->access_type >> 16;
	ev.dev_major = ctx->major;
	ev.dev_minor = ctx->minor;
	cgf_emit(&site, stats, &ev);
}

SEC("cgroup/dev")
int cgf_device(struct bpf_cgroup_dev_ctx *ctx)
{
	struct cgf_cgroup_config *cfg = cgf_config();
	__u32 policy_id, rule;
	struct cgf_policy *pol;
	__u8 action;

	if (!cfg)
		return SK_PASS;
	policy_id = cfg->policy_id;
	pol = bpf_map_lookup_elem(&cgf_policies, &policy_id);
	if (!pol)
		return SK_DROP;
	if (!pol->devices.restricted)
		return SK_PASS;
	action = cgf_judge_device(&pol->devices, ctx->access_type & 0xffff,
				  ctx->major, ctx->minor, ctx->access_type >> 16,
				  &rule);
	if (action == CGF_ALLOW)
		return SK_PASS;
	if (pol->mode == CGF_MODE_AUDIT)
		action = CGF_ALLOW;
	cgf_report_device(ctx, cfg, rule, action);
	return action == CGF_ALLOW ? SK_PASS : SK_DROP;
}
