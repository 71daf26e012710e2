/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Following a JSON-lines log as others append to it: the daemon's metrics
 * count the lifecycle records (policy changes, rejected policy files)
 * that the hook, hookd and `cgfence reload` append to the audit log.
 *
 * Starts at the end of the file (what was there is history, not new
 * counts). A file renamed away and made anew (logrotate's create) is read
 * to its end, then the new one from its start; a file cut short in place
 * (copytruncate) is read again from its start, once a look finds it
 * shorter than where reading stopped (what was appended between the cut
 * and that look, past that point, is missed: rotate with `create`, as
 * contrib/logrotate does). Lines longer than
 * LOG_TAIL_MAX_LINE are skipped, as `cgfence log` refuses them. Pure: no
 * kernel, no libbpf.
 */
#ifndef CGFENCE_LOG_TAIL_H
#define CGFENCE_LOG_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LOG_TAIL_MAX_LINE (64 * 1024)

struct log_tail {
	char *path;
	int fd; /* -1: the file does not exist (yet) */
	dev_t dev;
	ino_t ino;
	off_t offset;
	bool skipping; /* inside a line too long to read */
	char *buf;     /* LOG_TAIL_MAX_LINE */
};

/* 0 or -ENOMEM; a missing file is not an error (it is looked for again). */
int log_tail_open(struct log_tail *t, const char *path);
void log_tail_close(struct log_tail *t);

/*
 * Calls on_line for every complete line appended since the last call
 * that contains needle (a cheap filter before parsing), line without its
 * newline and NUL-terminated. 0 or a negative errno of reading.
 */
int log_tail_poll(struct log_tail *t, const char *needle,
		  void (*on_line)(char *line, size_t len, void *ctx),
		  void *ctx);

#endif
