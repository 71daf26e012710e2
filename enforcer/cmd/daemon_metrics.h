/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's Prometheus metrics: served at /metrics by libmicrohttpd's
 * own thread (--metrics ADDR:PORT) and written for node-exporter's
 * textfile collector (--metrics-textfile FILE) by a worker thread, which
 * also follows the lifecycle log. The perf buffer reader only counts
 * into lock-free tables (metrics.h): a scrape never waits for it, and it
 * never waits for a scrape.
 *
 * Where each family comes from (README "Metrics"):
 *   denials, suppressed, undelivered, lost   the events and the per-cgroup
 *                     counters this daemon reads (denials: the events it
 *                     received; suppressed and undelivered: the deltas it
 *                     logs in its stats records)
 *   fenced cgroups, policies loaded   the pinned maps, at each scrape
 *   lifecycle records, policy changes, rejected policy files   the
 *                     lifecycle records appended to the lifecycle log
 *   hook requests and their latency   hookd's counters file
 */
#ifndef CGFENCE_DAEMON_METRICS_H
#define CGFENCE_DAEMON_METRICS_H

#include <stdint.h>

#include "audit.h"
#include "cgfence_abi.h"

#define CGF_DEFAULT_HOOKD_STATS "/run/cgfence/hookd.stats"

struct daemon_metrics_opts {
	const char *listen;   /* ADDR:PORT, or NULL */
	const char *textfile; /* or NULL */
	const char *lifecycle_log;
	const char *hookd_stats;
	unsigned int textfile_interval_s;
	int cgroup_info_fd, policy_info_fd; /* the pinned maps */
};

struct daemon_metrics;

/*
 * The part that may need privileges: the listening socket (a port below
 * 1024), the textfile's directory. Messages are written here (they name
 * the option). 0 or a negative errno.
 */
int daemon_metrics_new(const struct daemon_metrics_opts *o,
		       struct daemon_metrics **out);

/*
 * Starts the server's and the worker's threads, with every signal
 * blocked (the main loop handles them). Call it after dropping the
 * capabilities (threads keep those they start with) and before the
 * seccomp filter, which then covers every thread.
 */
int daemon_metrics_start(struct daemon_metrics *m);

/* From the perf buffer reader: one denial or would-be denial. */
void daemon_metrics_event(struct daemon_metrics *m, const struct cgf_event *ev,
			  const struct audit_enrichment *en);
/* From the stats report: what a cgroup's counters grew by. */
void daemon_metrics_stats(struct daemon_metrics *m,
			  const struct audit_enrichment *en,
			  const struct cgf_cgroup_stats *delta);
void daemon_metrics_lost(struct daemon_metrics *m, uint64_t count);

/* Stops the threads, writes the textfile a last time, frees m. */
void daemon_metrics_free(struct daemon_metrics *m);

#endif
