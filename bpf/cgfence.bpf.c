// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgfence BPF programs. One object, loaded once and pinned; every fenced
 * cgroup attaches the same programs and finds its policy through cgroup
 * storage (see include/cgfence_abi.h).
 *
 * Where flows are judged:
 *   connect4/6   TCP connects and UDP connects          (EPERM at once)
 *   sendmsg4/6   datagrams sent with an address         (EPERM at once)
 *   skb egress   TCP SYNs of sockets no connect hook judged, connected UDP
 *                sockets not judged under the current policy, ICMP and raw
 *   skb ingress  inbound TCP SYNs, datagrams to unconnected UDP sockets,
 *                ICMP and raw
 *   device       every device access
 * Packets of flows already judged pass after a few socket field reads.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define CGF_INLINE static __always_inline
#include "cgfence_logic.h"

#define AF_INET 2
#define AF_INET6 10
#define SK_PASS 1
#define SK_DROP 0

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
	__type(value, __u32); /* cgroup generation the peer was judged under */
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

	if (now - stats->window_start_ns >= 1000000000ull) {
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

CGF_INLINE void cgf_report_flow(const struct cgf_site *site,
				const struct cgf_cgroup_config *cfg,
				const struct cgf_peer *p,
				const struct cgf_judgement *j)
{
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	if (!j->denied)
		return;
	stats = cgf_stats_of(cfg->cgroup_id);
	if (!stats || !cgf_within_budget(stats, cfg))
		return;
	cgf_event_init(&ev, cfg, site, j->rule, j->action);
	ev.family = p->family;
	ev.protocol = p->protocol;
	ev.port = p->port;
	__builtin_memcpy(ev.addr, p->addr, 16);
	cgf_emit(site, stats, &ev);
}

/*
 * Verdicts remembered for a socket or a UDP peer hold for the generation
 * of the cgroup's configuration they were made under: every apply (a swap
 * or an in-place change) bumps it, so the next packet is judged anew.
 */
CGF_INLINE void cgf_mark_sock(struct bpf_sock *sk, __u32 generation)
{
	struct cgf_sock_state *st;

	st = bpf_sk_storage_get(&cgf_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st) {
		st->judged = 1;
		st->generation = generation;
	}
}

CGF_INLINE int cgf_sock_judged(struct bpf_sock *sk, __u32 generation)
{
	struct cgf_sock_state *st = bpf_sk_storage_get(&cgf_socks, sk, 0, 0);

	return st && st->judged && st->generation == generation;
}

CGF_INLINE void cgf_flow_key(struct cgf_flow_key *k, __u64 cookie,
			     const struct cgf_peer *p, __u16 port_host)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->sock_cookie = cookie;
	k->family = p->family;
	k->port = port_host;
	__builtin_memcpy(k->addr, p->addr, 16);
}

CGF_INLINE int cgf_flow_known(const struct cgf_flow_key *k, __u32 generation)
{
	__u32 *seen = bpf_map_lookup_elem(&cgf_udp_flows, k);

	return seen && *seen == generation;
}

CGF_INLINE void cgf_flow_remember(const struct cgf_flow_key *k, __u32 generation)
{
	bpf_map_update_elem(&cgf_udp_flows, k, &generation, BPF_ANY);
}

/* ---- connect and sendmsg: judged before anything is sent ---- */

/* The destination of a connect or sendmsg; family is the hook's, 4 or 6. */
CGF_INLINE void cgf_peer_from_sock_addr(struct bpf_sock_addr *ctx, int family,
					struct cgf_peer *p)
{
	if (family == 4) {
		cgf_peer_ip4(p, ctx->user_ip4);
	} else {
		__u32 ip6[4] = { ctx->user_ip6[0], ctx->user_ip6[1],
				 ctx->user_ip6[2], ctx->user_ip6[3] };

		cgf_peer_ip6(p, ip6);
	}
	p->protocol = ctx->protocol;
	p->port = bpf_ntohs(ctx->user_port);
}

CGF_INLINE int cgf_sock_addr_egress(struct bpf_sock_addr *ctx, int family,
				    __u8 hook, int is_sendmsg)
{
	struct cgf_site site = { ctx, hook, CGF_DIR_EGRESS, 1 };
	struct cgf_cgroup_config *cfg = cgf_config();
	struct cgf_peer peer = {}, *p = &peer;
	struct cgf_judgement j;
	struct cgf_flow_key fk;
	__u64 cookie = 0;

	if (!cfg)
		return SK_PASS;
	cgf_peer_from_sock_addr(ctx, family, p);

	if (is_sendmsg) {
		/* Replies to peers that an earlier judgement let in or out. */
		cookie = bpf_get_socket_cookie(ctx);
		cgf_flow_key(&fk, cookie, p, p->port);
		if (cgf_flow_known(&fk, cfg->generation))
			return SK_PASS;
	}
	cgf_judge(cfg, CGF_DIR_EGRESS, p, &j);
	cgf_report_flow(&site, cfg, p, &j);
	if (j.action != CGF_ALLOW)
		return SK_DROP;
	/*
	 * TCP needs no mark: every SYN_SENT socket came through this hook.
	 * A connected UDP socket is marked so its datagrams pass skb egress.
	 */
	if (is_sendmsg)
		cgf_flow_remember(&fk, cfg->generation);
	else if (ctx->sk && p->protocol == IPPROTO_UDP)
		cgf_mark_sock(ctx->sk, cfg->generation);
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
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 l4_ok; /* the L4 header was read (not a later fragment) */
};

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define IPV6_EXT_MAX 4

CGF_INLINE int cgf_parse_l4(struct __sk_buff *skb, __u32 off, struct cgf_packet *pk)
{
	__u8 l4[14];
	__u8 proto = pk->dst.protocol;

	if (proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off, l4, 14))
			return -1;
		pk->tcp_flags = l4[13];
	} else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) {
		if (bpf_skb_load_bytes(skb, off, l4, 4))
			return -1;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		if (bpf_skb_load_bytes(skb, off, l4, 1))
			return -1;
		pk->icmp_type = l4[0];
		pk->l4_ok = 1;
		return 0;
	} else {
		pk->l4_ok = 1;
		return 0;
	}
	pk->src.port = ((__u16)l4[0] << 8) | l4[1];
	pk->dst.port = ((__u16)l4[2] << 8) | l4[3];
	pk->l4_ok = 1;
	return 0;
}

CGF_INLINE int cgf_parse_ipv4(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 ip[20];
	__u32 saddr, daddr;

	if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
		return -1;
	__builtin_memcpy(&saddr, ip + 12, 4);
	__builtin_memcpy(&daddr, ip + 16, 4);
	cgf_peer_ip4(&pk->src, saddr);
	cgf_peer_ip4(&pk->dst, daddr);
	pk->src.protocol = pk->dst.protocol = ip[9];
	/* A later fragment has no L4 header: judged with port 0. */
	if (((ip[6] & 0x1f) | ip[7]) != 0)
		return 0;
	return cgf_parse_l4(skb, (ip[0] & 0x0f) * 4, pk);
}

CGF_INLINE int cgf_parse_ipv6(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 ip[40];
	__u8 ext[8];
	__u32 off = 40;
	__u8 next;

	if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
		return -1;
	pk->src.family = pk->dst.family = 6;
	__builtin_memcpy(pk->src.addr, ip + 8, 16);
	__builtin_memcpy(pk->dst.addr, ip + 24, 16);
	next = ip[6];
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
			break;
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return -1;
		if (next == IPPROTO_FRAGMENT) {
			pk->src.protocol = pk->dst.protocol = ext[0];
			if (((ext[2] << 8) | (ext[3] & 0xf8)) != 0)
				return 0; /* later fragment */
			next = ext[0];
			off += 8;
			continue;
		}
		next = ext[0];
		off += (ext[1] + 1) * 8;
	}
	pk->src.protocol = pk->dst.protocol = next;
	return cgf_parse_l4(skb, off, pk);
}

CGF_INLINE int cgf_parse(struct __sk_buff *skb, struct cgf_packet *pk)
{
	__u8 version;

	if (bpf_skb_load_bytes(skb, 0, &version, 1))
		return -1;
	if ((version >> 4) == 4)
		return cgf_parse_ipv4(skb, pk);
	if ((version >> 4) == 6)
		return cgf_parse_ipv6(skb, pk);
	return -1;
}

/* ICMP echo replies and errors belong to flows judged elsewhere. */
CGF_INLINE int cgf_icmp_is_reply(const struct cgf_packet *pk)
{
	if (pk->dst.protocol == IPPROTO_ICMP)
		return pk->icmp_type == 0 || pk->icmp_type == 3 ||
		       pk->icmp_type == 11 || pk->icmp_type == 12;
	if (pk->dst.protocol == IPPROTO_ICMPV6)
		return pk->icmp_type < 128 || pk->icmp_type == 129;
	return 0;
}

CGF_INLINE int cgf_verdict(const struct cgf_judgement *j)
{
	return j->action == CGF_ALLOW ? SK_PASS : SK_DROP;
}

/* Judges one packet with a full parse: ICMP, raw sockets, the unusual. */
CGF_INLINE int cgf_judge_packet(struct __sk_buff *skb,
				const struct cgf_cgroup_config *cfg, __u32 dir_id)
{
	struct cgf_site site = { skb,
				 dir_id == CGF_DIR_EGRESS ? CGF_HOOK_EGRESS :
							    CGF_HOOK_INGRESS,
				 dir_id, 0 };
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	struct cgf_peer *remote;

	if (cgf_parse(skb, &pk))
		return SK_DROP;
	if (cgf_icmp_is_reply(&pk))
		return SK_PASS;
	if (dir_id == CGF_DIR_EGRESS) {
		remote = &pk.dst;
	} else {
		remote = &pk.src;
		remote->port = pk.dst.port; /* ingress rules name local ports */
	}
	cgf_judge(cfg, dir_id, remote, &j);
	cgf_report_flow(&site, cfg, remote, &j);
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
	struct cgf_site site = { skb, CGF_HOOK_EGRESS, CGF_DIR_EGRESS, 0 };
	struct cgf_peer p = {};
	struct cgf_judgement j;

	if (cgf_sock_judged(sk, cfg->generation))
		return SK_PASS;
	cgf_peer_from_sock(&p, sk);
	cgf_judge(cfg, CGF_DIR_EGRESS, &p, &j);
	cgf_report_flow(&site, cfg, &p, &j);
	if (j.action == CGF_ALLOW)
		cgf_mark_sock(sk, cfg->generation);
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

SEC("cgroup_skb/egress")
int cgf_egress(struct __sk_buff *skb)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk;
	int owner = cgf_packet_owner(skb, &cfg, &sk);

	if (owner == CGF_OWNER_PASS)
		return SK_PASS;
	if (owner == CGF_OWNER_NONE)
		return cgf_judge_packet(skb, cfg, CGF_DIR_EGRESS);

	/*
	 * TCP: a connection starts with connect() (or a Fast Open sendmsg),
	 * which connect4/6 of this same cgroup judged before the SYN was
	 * built; everything else is an established, accepted or closing
	 * connection. So no TCP packet needs work here.
	 */
	if (sk->protocol == IPPROTO_TCP)
		return SK_PASS;
	if (sk->protocol == IPPROTO_UDP && sk->type == 2 /* SOCK_DGRAM */) {
		/* Unconnected sends were judged by sendmsg4/6, per datagram. */
		if (sk->state != BPF_TCP_ESTABLISHED)
			return SK_PASS;
		return cgf_judge_connected(skb, sk, cfg);
	}
	return cgf_judge_packet(skb, cfg, CGF_DIR_EGRESS);
}

/* A datagram for an unconnected UDP socket: a new peer unless known. */
CGF_INLINE int cgf_udp_ingress(struct __sk_buff *skb,
			       const struct cgf_cgroup_config *cfg)
{
	struct cgf_site site = { skb, CGF_HOOK_INGRESS, CGF_DIR_INGRESS, 0 };
	struct cgf_packet pk = {};
	struct cgf_judgement j;
	struct cgf_flow_key fk;
	struct cgf_peer remote;

	if (cgf_parse(skb, &pk) || !pk.l4_ok)
		return SK_DROP;
	cgf_flow_key(&fk, bpf_get_socket_cookie(skb), &pk.src, pk.src.port);
	if (cgf_flow_known(&fk, cfg->generation))
		return SK_PASS;
	remote = pk.src;
	remote.port = pk.dst.port;
	cgf_judge(cfg, CGF_DIR_INGRESS, &remote, &j);
	cgf_report_flow(&site, cfg, &remote, &j);
	if (j.action == CGF_ALLOW)
		cgf_flow_remember(&fk, cfg->generation);
	return cgf_verdict(&j);
}

SEC("cgroup_skb/ingress")
int cgf_ingress(struct __sk_buff *skb)
{
	struct cgf_cgroup_config *cfg;
	struct bpf_sock *sk;
	int owner = cgf_packet_owner(skb, &cfg, &sk);

	if (owner == CGF_OWNER_PASS)
		return SK_PASS;
	if (owner == CGF_OWNER_NONE)
		return cgf_judge_packet(skb, cfg, CGF_DIR_INGRESS);

	if (sk->protocol == IPPROTO_TCP) {
		struct cgf_site site = { skb, CGF_HOOK_INGRESS, CGF_DIR_INGRESS, 0 };
		struct cgf_packet pk = {};
		struct cgf_judgement j;

		/* Only a SYN to a listener opens an inbound connection. */
		if (sk->state != BPF_TCP_LISTEN)
			return SK_PASS;
		if (cgf_parse(skb, &pk) || !pk.l4_ok)
			return SK_DROP;
		if ((pk.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
			return SK_PASS;
		pk.src.port = pk.dst.port;
		cgf_judge(cfg, CGF_DIR_INGRESS, &pk.src, &j);
		cgf_report_flow(&site, cfg, &pk.src, &j);
		return cgf_verdict(&j);
	}
	if (sk->protocol == IPPROTO_UDP && sk->type == 2 /* SOCK_DGRAM */) {
		/* A connected socket only receives from its judged peer. */
		if (sk->state == BPF_TCP_ESTABLISHED)
			return SK_PASS;
		return cgf_udp_ingress(skb, cfg);
	}
	return cgf_judge_packet(skb, cfg, CGF_DIR_INGRESS);
}

/* ---- devices ---- */

CGF_INLINE void cgf_report_device(struct bpf_cgroup_dev_ctx *ctx,
				  const struct cgf_cgroup_config *cfg,
				  __u32 rule, __u8 action)
{
	struct cgf_site site = { ctx, CGF_HOOK_DEVICE, 0, 1 };
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	stats = cgf_stats_of(cfg->cgroup_id);
	if (!stats || !cgf_within_budget(stats, cfg))
		return;
	cgf_event_init(&ev, cfg, &site, rule, action);
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
