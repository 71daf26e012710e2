/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hookd's counters of hook requests, by stage and result, and their
 * latency (from taking the connection up to the answer, what the runtime
 * waits). hookd rewrites them in one rename once no request waits, to a file
 * (default /run/cgfence/hookd.stats) that `cgfence daemon --metrics`
 * reads at each scrape: the daemon serves the metrics, hookd the hooks.
 * Counters start at zero when hookd starts. Pure: no kernel, no libbpf.
 *
 * The file, one "key value" line each ("version 1" first):
 *   requests.STAGE.RESULT N
 *   duration_sum_ns.STAGE N
 *   duration_bucket.STAGE.I N   requests of bucket I (not cumulative;
 *                               I = HOOK_STATS_BUCKETS is beyond the last)
 */
#ifndef CGFENCE_HOOK_STATS_H
#define CGFENCE_HOOK_STATS_H

#include <stdint.h>
#include <stdio.h>

enum hook_stage {
	HOOK_STAGE_CREATE_RUNTIME,
	HOOK_STAGE_PRESTART,
	HOOK_STAGE_POSTSTOP,
	HOOK_STAGE_UNKNOWN, /* none given (the state's status says), or unread */
	HOOK_STAGE_COUNT,
};

enum hook_result {
	HOOK_RESULT_OK,	     /* exit status 0 */
	HOOK_RESULT_REFUSED, /* another status: the container does not start */
	HOOK_RESULT_DELEGATED, /* the client runs `cgfence hook` itself */
	HOOK_RESULT_DROPPED,   /* malformed or too slow: no answer */
	HOOK_RESULT_COUNT,
};

#define HOOK_STATS_BUCKETS 14
/* Upper bounds of the latency buckets, in nanoseconds. */
extern const uint64_t hook_stats_bucket_ns[HOOK_STATS_BUCKETS];

struct hook_stats {
	uint64_t requests[HOOK_STAGE_COUNT][HOOK_RESULT_COUNT];
	uint64_t duration_sum_ns[HOOK_STAGE_COUNT];
	uint64_t duration_buckets[HOOK_STAGE_COUNT][HOOK_STATS_BUCKETS + 1];
};

const char *hook_stage_name(enum hook_stage stage);
const char *hook_result_name(enum hook_result result);

/* The stage a hook's last argument names (NULL: none). */
enum hook_stage hook_stage_of(const char *word);

void hook_stats_record(struct hook_stats *s, enum hook_stage stage,
		       enum hook_result result, uint64_t duration_ns);

/* The file's text; caller frees. NULL when out of memory. */
char *hook_stats_format(const struct hook_stats *s);

/*
 * Reads the file's text. 0, or -EINVAL (not that format, or another
 * version; *line says which line), with out zeroed first.
 */
int hook_stats_parse(const char *text, struct hook_stats *out, int *line);

/*
 * cgfence_hook_requests_total and cgfence_hook_request_duration_seconds
 * (a histogram); s NULL: the families without samples (no hookd file).
 */
void hook_stats_render(const struct hook_stats *s, FILE *out);

#endif
