// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log_batch.h"
#include "util.h"

int log_batch_init(struct log_batch *b, int fd, size_t cap)
{
	if (cap < 2 * LOG_BATCH_LINE_MAX)
		return -EINVAL;
	*b = (struct log_batch){.fd = fd, .cap = cap};
	b->buf = malloc(cap);
	return b->buf ? 0 : -ENOMEM;
}

void log_batch_free(struct log_batch *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

static uint64_t lines_in(const char *p, size_t len)
{
	uint64_t n = 0;

	for (const char *end = p + len; (p = memchr(p, '\n', end - p)); p++)
		n++;
	return n;
}

/* Writes len bytes; returns how many went out whole, and sets *err. */
static size_t write_some(int fd, const char *p, size_t len, int *err)
{
	size_t done = 0;

	*err = 0;
	if (fd < 0) {
		*err = -EBADF;
		return 0;
	}
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n < 0 ? -errno : -EIO;
			break;
		}
		done += n;
	}
	return done;
}

/* The count of earlier losses goes first; it stays counted if it fails. */
static void write_loss_note(struct log_batch *b)
{
	char note[512];
	long n = audit_write_counter(
		note, sizeof(note), clock_ns(CLOCK_REALTIME), "write_errors",
		"count", b->unwritten, "lines the daemon could not write");
	int err;

	if (n > 0 && write_some(b->fd, note, n, &err) == (size_t)n)
		b->unwritten = 0;
}

int log_batch_flush(struct log_batch *b)
{
	size_t done;
	int err;

	if (!b->len)
		return 0;
	if (b->unwritten)
		write_loss_note(b);
	done = write_some(b->fd, b->buf, b->len, &err);
	/* A line cut by the failure is lost too: count from its start. */
	b->unwritten += lines_in(b->buf + done, b->len - done);
	b->len = 0;
	return err;
}

char *log_batch_room(struct log_batch *b)
{
	if (b->cap - b->len < LOG_BATCH_LINE_MAX)
		log_batch_flush(b);
	return b->buf + b->len;
}

void log_batch_commit(struct log_batch *b, long len)
{
	if (len < 0)
		b->unwritten++;
	else
		b->len += len;
}
