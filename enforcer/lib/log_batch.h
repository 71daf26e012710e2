/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The audit log's writer: lines are formatted straight into one buffer
 * and written with one write(2) per batch (a poll round of the daemon, or
 * a full buffer), not one per line. Every line is written or counted: a
 * batch that fails counts the lines it did not write whole, and the next
 * batch that can be written starts with a "write_errors" record saying
 * how many there were.
 *
 *	char *room = log_batch_room(&b);
 *	log_batch_commit(&b, audit_write_event(room, LOG_BATCH_LINE_MAX, ...));
 *	...
 *	log_batch_flush(&b);
 */
#ifndef CGFENCE_LOG_BATCH_H
#define CGFENCE_LOG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

/* The room log_batch_room() always gives. */
#define LOG_BATCH_LINE_MAX AUDIT_LINE_MAX

struct log_batch {
	int fd; /* -1: every line is counted as unwritten */
	char *buf;
	size_t cap, len;
	uint64_t unwritten; /* lines lost since the last write_errors record */
};

/* cap: the batch size in bytes, at least 2 * LOG_BATCH_LINE_MAX. */
int log_batch_init(struct log_batch *b, int fd, size_t cap);
void log_batch_free(struct log_batch *b);

/* LOG_BATCH_LINE_MAX bytes to write a line into (flushing first if needed). */
char *log_batch_room(struct log_batch *b);
/* The line written at log_batch_room(): its length, or < 0 (counted lost). */
void log_batch_commit(struct log_batch *b, long len);
/* Writes what is gathered; 0, or the write's -errno (the lines are counted). */
int log_batch_flush(struct log_batch *b);

#endif
