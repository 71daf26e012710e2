/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reporting denials: the per-cgroup budget and the perf buffer, so that
 * every denial is counted as emitted, suppressed or undelivered.
 */
#ifndef CGF_BPF_CGF_REPORT_H
#define CGF_BPF_CGF_REPORT_H

#include "cgf_judge.h"

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

/* A CPU quiet this long: its next event wakes the daemon at once. */
#define CGF_QUIET_NS 1000000

/* Offers the event to the perf buffer that wakes the daemon as it needs. */
CGF_INLINE long cgf_output(void *ctx, struct cgf_event *ev)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&cgf_event_clock, &zero);
	__u64 key = bpf_get_smp_processor_id();

	if (!last || ev->time_ns - *last >= CGF_QUIET_NS)
		key += CGF_EVENTS_FIRST_KEY;
	if (last)
		*last = ev->time_ns;
	return bpf_perf_event_output(ctx, &cgf_events, key, ev, sizeof(*ev));
}

CGF_INLINE void cgf_emit(const struct cgf_site *site,
			 struct cgf_cgroup_stats *stats, struct cgf_event *ev)
{
	if (site->task_context) {
		ev->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	}
	if (cgf_output(site->ctx, ev))
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
CGF_INLINE struct cgf_cgroup_stats *
cgf_event_begin(const struct cgf_site *site,
		const struct cgf_cgroup_config *cfg, __u32 rule, __u8 action,
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

CGF_INLINE void cgf_report_socket(void *ctx,
				  const struct cgf_cgroup_config *cfg,
				  __u32 rule, __u8 action, __u32 family,
				  __u32 type, __u32 protocol)
{
	struct cgf_site site = {
		.ctx = ctx, .hook = CGF_HOOK_SOCKET, .task_context = 1};
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

CGF_INLINE void cgf_report_sockopt(void *ctx,
				   const struct cgf_cgroup_config *cfg,
				   __u8 action, __u32 family, __u32 type,
				   __u32 protocol, __s32 level, __s32 optname)
{
	struct cgf_site site = {
		.ctx = ctx, .hook = CGF_HOOK_SOCKOPT, .task_context = 1};
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	stats = cgf_event_begin(&site, cfg, CGF_RULE_SOCKETS_OPTION, action,
				&ev);
	if (!stats)
		return;
	ev.sock_family = family;
	ev.sock_type = type;
	ev.protocol = protocol;
	ev.port = optname;
	ev.dev_major = level;
	cgf_emit(&site, stats, &ev);
}

CGF_INLINE void cgf_report_device(struct bpf_cgroup_dev_ctx *ctx,
				  const struct cgf_cgroup_config *cfg,
				  __u32 rule, __u8 action)
{
	struct cgf_site site = {
		.ctx = ctx, .hook = CGF_HOOK_DEVICE, .task_context = 1};
	struct cgf_cgroup_stats *stats;
	struct cgf_event ev = {};

	stats = cgf_event_begin(&site, cfg, rule, action, &ev);
	if (!stats)
		return;
	ev.dev_type = CGF_DEV_TYPE(ctx->access_type);
	ev.dev_access = CGF_DEV_ACCESS(ctx->access_type);
	ev.dev_major = ctx->major;
	ev.dev_minor = ctx->minor;
	cgf_emit(&site, stats, &ev);
}

CGF_INLINE int cgf_verdict(const struct cgf_judgement *j)
{
	return j->action == CGF_ALLOW ? SK_PASS : SK_DROP;
}

/*
 * A flow refused for its headers or its socket, not by a rule: reported
 * against the direction's restriction, and let through where the policy
 * leaves the direction unrestricted (there is nothing to get around there).
 */
CGF_INLINE int cgf_refuse_flow(const struct cgf_site *site,
			       const struct cgf_cgroup_config *cfg,
			       const struct cgf_peer *remote, __u32 rule)
{
	struct cgf_judgement j = {.policy_id = cfg->policy_id,
				  .rule = rule,
				  .action = CGF_DENY,
				  .denied = 1};
	struct cgf_policy *pol = cgf_policy_of(cfg);
	const struct cgf_direction *dir;

	if (pol) {
		dir = site->direction == CGF_DIR_EGRESS ? &pol->egress
							: &pol->ingress;
		if (!dir->restricted)
			return SK_PASS;
		if (pol->mode == CGF_MODE_AUDIT)
			j.action = CGF_ALLOW;
	}
	cgf_report_flow(site, cfg, remote, &j);
	return cgf_verdict(&j);
}

#endif
