// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hook_stats.h"
#include "metrics.h"
#include "util.h"

#define HOOK_STATS_VERSION 1

/* 0.5 ms to 10 s: a hook run takes about a millisecond here. */
const uint64_t hook_stats_bucket_ns[HOOK_STATS_BUCKETS] = {
	500000ull,     1000000ull,     2500000ull,    5000000ull,
	10000000ull,   25000000ull,    50000000ull,   100000000ull,
	250000000ull,  500000000ull,   1000000000ull, 2500000000ull,
	5000000000ull, 10000000000ull,
};

static const char *const stage_names[HOOK_STAGE_COUNT] = {
	[HOOK_STAGE_CREATE_RUNTIME] = "createRuntime",
	[HOOK_STAGE_PRESTART] = "prestart",
	[HOOK_STAGE_POSTSTOP] = "poststop",
	[HOOK_STAGE_UNKNOWN] = "unknown",
};

static const char *const result_names[HOOK_RESULT_COUNT] = {
	[HOOK_RESULT_OK] = "ok",
	[HOOK_RESULT_REFUSED] = "refused",
	[HOOK_RESULT_DELEGATED] = "delegated",
	[HOOK_RESULT_DROPPED] = "dropped",
};

const char *hook_stage_name(enum hook_stage stage)
{
	return stage < HOOK_STAGE_COUNT ? stage_names[stage] : "unknown";
}

const char *hook_result_name(enum hook_result result)
{
	return result < HOOK_RESULT_COUNT ? result_names[result] : "unknown";
}

enum hook_stage hook_stage_of(const char *word)
{
	for (int i = 0; word && i < HOOK_STAGE_UNKNOWN; i++)
		if (!strcmp(word, stage_names[i]))
			return i;
	return HOOK_STAGE_UNKNOWN;
}

void hook_stats_record(struct hook_stats *s, enum hook_stage stage,
		       enum hook_result result, uint64_t duration_ns)
{
	int b = 0;

	if (stage >= HOOK_STAGE_COUNT || result >= HOOK_RESULT_COUNT)
		return;
	while (b < HOOK_STATS_BUCKETS && duration_ns > hook_stats_bucket_ns[b])
		b++;
	s->requests[stage][result]++;
	s->duration_sum_ns[stage] += duration_ns;
	s->duration_buckets[stage][b]++;
}

char *hook_stats_format(const struct hook_stats *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "version %d\n", HOOK_STATS_VERSION);
	for (int st = 0; st < HOOK_STAGE_COUNT; st++) {
		for (int r = 0; r < HOOK_RESULT_COUNT; r++)
			fprintf(f, "requests.%s.%s %" PRIu64 "\n",
				stage_names[st], result_names[r],
				s->requests[st][r]);
		fprintf(f, "duration_sum_ns.%s %" PRIu64 "\n", stage_names[st],
			s->duration_sum_ns[st]);
		for (int b = 0; b <= HOOK_STATS_BUCKETS; b++)
			fprintf(f, "duration_bucket.%s.%d %" PRIu64 "\n",
				stage_names[st], b, s->duration_buckets[st][b]);
	}
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* The counter a key names, or NULL. */
static uint64_t *counter_of(struct hook_stats *s, const char *key)
{
	char name[64];

	for (int st = 0; st < HOOK_STAGE_COUNT; st++) {
		for (int r = 0; r < HOOK_RESULT_COUNT; r++) {
			snprintf(name, sizeof(name), "requests.%s.%s",
				 stage_names[st], result_names[r]);
			if (!strcmp(key, name))
				return &s->requests[st][r];
		}
		snprintf(name, sizeof(name), "duration_sum_ns.%s",
			 stage_names[st]);
		if (!strcmp(key, name))
			return &s->duration_sum_ns[st];
		for (int b = 0; b <= HOOK_STATS_BUCKETS; b++) {
			snprintf(name, sizeof(name), "duration_bucket.%s.%d",
				 stage_names[st], b);
			if (!strcmp(key, name))
				return &s->duration_buckets[st][b];
		}
	}
	return NULL;
}

int hook_stats_parse(const char *text, struct hook_stats *out, int *line)
{
	const char *p = text;
	bool versioned = false;

	memset(out, 0, sizeof(*out));
	for (*line = 1; *p; (*line)++) {
		const char *end = strchr(p, '\n');
		char buf[128], *space;
		unsigned long long v;
		uint64_t *counter;
		size_t n;

		if (!end)
			return -EINVAL; /* every line ends: a cut file is not it */
		n = end - p;
		if (n >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p, n);
		buf[n] = '\0';
		p = end + 1;
		space = strchr(buf, ' ');
		if (!space)
			return -EINVAL;
		*space = '\0';
		if (parse_uint(space + 1, 0, UINT64_MAX, &v))
			return -EINVAL;
		if (!versioned) {
			if (strcmp(buf, "version") || v != HOOK_STATS_VERSION)
				return -EINVAL;
			versioned = true;
			continue;
		}
		counter = counter_of(out, buf);
		if (!counter)
			return -EINVAL;
		*counter = v;
	}
	if (!versioned) {
		*line = 1;
		return -EINVAL;
	}
	return 0;
}

void hook_stats_render(const struct hook_stats *s, FILE *out)
{
	static const char requests[] = "cgfence_hook_requests_total";
	static const char duration[] = "cgfence_hook_request_duration_seconds";

	metrics_family(out, requests, "counter",
		       "OCI hook requests cgfence hookd served, by stage and "
		       "result (from hookd's counters file).");
	for (int st = 0; s && st < HOOK_STAGE_COUNT; st++) {
		for (int r = 0; r < HOOK_RESULT_COUNT; r++) {
			struct metrics_labels l;

			if (!s->requests[st][r])
				continue;
			metrics_labels_init(&l);
			metrics_label(&l, "stage", stage_names[st]);
			metrics_label(&l, "result", result_names[r]);
			metrics_sample(out, requests, l.text,
				       s->requests[st][r]);
		}
	}
	metrics_family(out, duration, "histogram",
		       "Time from hookd taking a hook request up to its "
		       "answer, what the runtime waits.");
	for (int st = 0; s && st < HOOK_STAGE_COUNT; st++) {
		uint64_t count = 0;

		for (int b = 0; b <= HOOK_STATS_BUCKETS; b++)
			count += s->duration_buckets[st][b];
		if (!count)
			continue;
		count = 0;
		for (int b = 0; b <= HOOK_STATS_BUCKETS; b++) {
			char le[32];

			count += s->duration_buckets[st][b];
			if (b < HOOK_STATS_BUCKETS)
				snprintf(le, sizeof(le), "%g",
					 hook_stats_bucket_ns[b] / 1e9);
			else
				snprintf(le, sizeof(le), "+Inf");
			fprintf(out,
				"%s_bucket{stage=\"%s\",le=\"%s\"} %" PRIu64
				"\n",
				duration, stage_names[st], le, count);
		}
		fprintf(out, "%s_sum{stage=\"%s\"} %.9f\n", duration,
			stage_names[st], s->duration_sum_ns[st] / 1e9);
		fprintf(out, "%s_count{stage=\"%s\"} %" PRIu64 "\n", duration,
			stage_names[st], count);
	}
}
