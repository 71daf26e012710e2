/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Audit log records: one JSON object per line. Pure formatting, shared by
 * the daemon (writer) and its tests; no kernel access.
 *
 * Record types ("type"):
 *   deny    the kernel refused a connection, datagram, packet or device
 *   audit   a policy in audit mode would have refused it; it went through
 *   stats   per-cgroup counters: events suppressed over the budget and
 *           events that could not be delivered (no daemon, buffer full)
 *   lost    the perf buffer overflowed on a CPU (the same events are in
 *           the cgroups' undelivered counts)
 *   write_errors  lines the daemon could not write (disk full)
 *   daemon  the daemon started or stopped
 * and the lifecycle records of the hook (applied, replaced, removed,
 * unconfined).
 */
#ifndef CGFENCE_AUDIT_H
#define CGFENCE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "cgfence_abi.h"
#include "k8s_identity.h"

struct audit_enrichment {
	const char *container_id; /* NULL or "" when unknown */
	const char *cgroup_path;
	const char *policy_name;
	/* The container's pod, or NULL: "kubernetes": {...} after "cgroup". */
	const struct k8s_identity *kubernetes;
};

/* "2026-11-25T13:50:01.123456Z" */
void audit_format_time(uint64_t realtime_ns, char *buf, size_t len);
const char *audit_hook_name(uint8_t hook);
/* The rule that decided, as records name it: "egress.rules[2]", "devices.default". */
void audit_rule_text(const struct cgf_event *ev, char *buf, size_t len);

/*
 * Each writes one line ending in '\n' (and a NUL after it) into buf and
 * returns its length, or -ENOSPC when it does not fit. AUDIT_LINE_MAX
 * holds any event, stats or daemon record (every string from a container
 * is cut at 256 bytes, each shown in at most 6 characters).
 */
#define AUDIT_LINE_MAX 8192

long audit_write_event(char *buf, size_t cap, const struct cgf_event *ev,
		       uint64_t realtime_ns, const struct audit_enrichment *en);
long audit_write_stats(char *buf, size_t cap, uint64_t realtime_ns,
		       uint64_t cgroup_id, const struct audit_enrichment *en,
		       const struct cgf_cgroup_stats *total,
		       const struct cgf_cgroup_stats *since_last);
long audit_write_counter(char *buf, size_t cap, uint64_t realtime_ns,
			 const char *type, const char *key, uint64_t value,
			 const char *note);
long audit_write_daemon(char *buf, size_t cap, uint64_t realtime_ns,
			const char *what, const char *log_path);

/* The same, as a malloc'ed line, or NULL on ENOMEM. */
char *audit_format_event(const struct cgf_event *ev, uint64_t realtime_ns,
			 const struct audit_enrichment *en);
char *audit_format_stats(uint64_t realtime_ns, uint64_t cgroup_id,
			 const struct audit_enrichment *en,
			 const struct cgf_cgroup_stats *total,
			 const struct cgf_cgroup_stats *since_last);
char *audit_format_counter(uint64_t realtime_ns, const char *type,
			   const char *key, uint64_t value, const char *note);
char *audit_format_daemon(uint64_t realtime_ns, const char *what,
			  const char *log_path);

#endif
