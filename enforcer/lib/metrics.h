/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus' text exposition format (0.0.4), for `cgfence daemon
 * --metrics` and `--metrics-textfile`: label text, series tables and the
 * listen address. Pure: no kernel, no libbpf.
 *
 * A series table holds one family's labelled counters. One thread counts
 * into it (the perf buffer reader for denials); any number of others
 * render it at the same time, without a lock: a series is published once
 * its labels are written (release/acquire on `ready`), and values only
 * grow by atomic adds. Nothing is ever removed, so a reader never sees a
 * slot change under it. Its size is bounded: past max_series distinct
 * label sets, what would have made a new series is counted in the
 * table's overflow instead (cgfence_metrics_series_overflow_total), so
 * that pod churn or a policy with many rules cannot grow the daemon or
 * the scrape without end.
 */
#ifndef CGFENCE_METRICS_H
#define CGFENCE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* One series' label text, escaped: room for a pod's whole identity. */
#define METRICS_LABELS_MAX 1024

/* `name="value",...`, escaped as the format wants; values never cut. */
struct metrics_labels {
	char text[METRICS_LABELS_MAX];
	size_t len;
	bool too_long; /* the series goes to the overflow count */
};

void metrics_labels_init(struct metrics_labels *l);
/* Adds key="value"; a NULL or empty value adds nothing (absent label). */
void metrics_label(struct metrics_labels *l, const char *key,
		   const char *value);

struct metrics_series {
	_Atomic uint64_t value;
	_Atomic uint32_t ready; /* labels written: the series may be shown */
	uint32_t hash;
	char labels[METRICS_LABELS_MAX];
};

struct metrics_table {
	const char *name; /* the family's sample name */
	size_t capacity;  /* slots, a power of two, at least 2 * max_series */
	size_t max_series;
	size_t used; /* the writer's own count */
	_Atomic uint64_t overflow;
	struct metrics_series *slots;
};

/* 0 or -ENOMEM. */
int metrics_table_init(struct metrics_table *t, const char *name,
		       size_t max_series);
void metrics_table_free(struct metrics_table *t);

/* Adds delta to the series of these labels: only ever from one thread. */
void metrics_table_add(struct metrics_table *t, const struct metrics_labels *l,
		       uint64_t delta);

/*
 * The series of these labels, made if missing (the writer only), or NULL
 * when the table is full: then count with metrics_table_overflow(). A
 * series stays where it is for the table's life, so a writer may keep
 * the pointer and add to its value directly.
 */
struct metrics_series *metrics_table_series(struct metrics_table *t,
					    const struct metrics_labels *l);
static inline void metrics_series_add(struct metrics_series *s, uint64_t delta)
{
	atomic_fetch_add_explicit(&s->value, delta, memory_order_relaxed);
}
static inline void metrics_table_overflow(struct metrics_table *t,
					  uint64_t delta)
{
	atomic_fetch_add_explicit(&t->overflow, delta, memory_order_relaxed);
}

/* The value of a series, 0 when it has none (tests, any thread). */
uint64_t metrics_table_get(const struct metrics_table *t,
			   const struct metrics_labels *l);

/* "# HELP name help" and "# TYPE name type". */
void metrics_family(FILE *out, const char *name, const char *type,
		    const char *help);
/* One sample: name{labels} value (no braces for empty labels). */
void metrics_sample(FILE *out, const char *name, const char *labels,
		    uint64_t value);
/* Every series of the table, from any thread. */
void metrics_table_render(const struct metrics_table *t, FILE *out);

/*
 * The family counting what the tables could not hold:
 * cgfence_metrics_series_overflow_total{family="..."}.
 */
void metrics_render_overflow(FILE *out, const struct metrics_table *const *t,
			     size_t n);

/*
 * ADDR:PORT to listen on: an IPv4 address or a bracketed IPv6 one
 * ("127.0.0.1:9464", "[::1]:9464"), port 1-65535; no host names (no
 * resolver), and no empty address: all interfaces must be asked for
 * ("0.0.0.0:9464"). 0, or -EINVAL with *why saying what is wrong.
 */
int metrics_parse_listen(const char *text, struct sockaddr_storage *addr,
			 socklen_t *len, const char **why);

#endif
