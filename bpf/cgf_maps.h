/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every map of the object: the state the programs share (one object, so
 * that every attach type of every cgroup sees the same tables), and the
 * user-space state pinned with them (see include/cgfence_abi.h).
 */
#ifndef CGF_BPF_CGF_MAPS_H
#define CGF_BPF_CGF_MAPS_H

#include "cgf_defs.h"
#include "cgfence_abi.h"

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

/*
 * Per CPU: the peers (UDP, UDP-Lite or TCP) this CPU last found allowed,
 * one per slot, a slot per epoch modulo CGF_RECENT_SLOTS (cgf_verdicts.h,
 * cgf_peer_recent): a parent's and a child's programs both run on one
 * socket, each under its own epoch, and keep a peer each. seq is odd
 * while a writer writes key; a reader trusts key only if seq was even and
 * unchanged around its reading (a program can be preempted by another on
 * its CPU). A per-CPU array, not cgroup storage: the kernel inlines its
 * lookup, where bpf_get_local_storage is a call (about 25 ns here,
 * tests/bench/prog_cost.sh); the epoch in the key tells the cgroups apart.
 */
struct cgf_recent_peer {
	__u64 seq;
	struct cgf_peer_key key;
};

#define CGF_RECENT_SLOTS 4

struct cgf_recent_peers {
	struct cgf_recent_peer slot[CGF_RECENT_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgf_recent_peers);
} cgf_recent_peers SEC(".maps");

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
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* as cgf_udp_flows */
	__uint(max_entries, CGF_PEER_TABLE_SIZE);
	__type(key, struct cgf_peer_key);
	__type(value, __u32); /* CGF_PEER_* flags */
} cgf_peer_verdicts SEC(".maps");

/*
 * Denial events, two perf buffers per CPU (cgfence_abi.h): key cpu wakes
 * the daemon per 64 KiB (cheap in a burst), key CGF_EVENTS_FIRST_KEY + cpu
 * at once, for the first event after a quiet spell on the CPU
 * (cgf_report.h). One map, so that the verifier sees one map either way.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, 2 * CGF_EVENTS_FIRST_KEY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} cgf_events SEC(".maps");

/* Per CPU: when its last event was offered (CLOCK_BOOTTIME). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cgf_event_clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as used */
	__uint(max_entries, CGF_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct cgf_cgroup_stats);
} cgf_stats SEC(".maps");

/* Recorded cgroups: cgroup id -> its record table (cgfence_abi.h). */
struct cgf_record_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* each table's own size: user space's choice */
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory as the record grows */
	__uint(key_size, sizeof(struct cgf_record_key));
	__uint(value_size, sizeof(struct cgf_record_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, CGF_MAX_CGROUPS);
	__type(key, __u64);
	__array(values, struct cgf_record_inner);
} cgf_records SEC(".maps");

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

#endif
