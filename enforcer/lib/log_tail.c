// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_tail.h"

static int open_log(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int log_tail_open(struct log_tail *t, const char *path)
{
	struct stat st;

	*t = (struct log_tail){.fd = -1};
	t->path = strdup(path);
	t->buf = malloc(LOG_TAIL_MAX_LINE);
	if (!t->path || !t->buf) {
		log_tail_close(t);
		return -ENOMEM;
	}
	t->fd = open_log(path, &st);
	if (t->fd >= 0) {
		t->dev = st.st_dev;
		t->ino = st.st_ino;
		t->offset = st.st_size; /* from now on */
	} else {
		t->fd = -1;
	}
	return 0;
}

void log_tail_close(struct log_tail *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	free(t->path);
	free(t->buf);
	t->path = t->buf = NULL;
}

/* The current file from t->offset to its last complete line. */
static int read_new_lines(struct log_tail *t, const char *needle,
			  void (*on_line)(char *, size_t, void *), void *ctx)
{
	size_t needle_len = strlen(needle);
	struct stat st;

	if (fstat(t->fd, &st))
		return -errno;
	if (st.st_size < t->offset) { /* cut short in place: all is new */
		t->offset = 0;
		t->skipping = false;
	}
	for (;;) {
		ssize_t n =
			pread(t->fd, t->buf, LOG_TAIL_MAX_LINE - 1, t->offset);
		char *p, *nl, *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		p = t->buf;
		end = t->buf + n;
		while ((nl = memchr(p, '\n', end - p))) {
			*nl = '\0';
			if (t->skipping)
				t->skipping = false;
			else if (memmem(p, nl - p, needle, needle_len))
				on_line(p, nl - p, ctx);
			p = nl + 1;
		}
		if (p == t->buf) {
			/* No newline: a line in progress, or one too long. */
			if (n < LOG_TAIL_MAX_LINE - 1)
				return 0;
			t->skipping = true;
			p = end;
		}
		t->offset += p - t->buf;
	}
}

int log_tail_poll(struct log_tail *t, const char *needle,
		  void (*on_line)(char *line, size_t len, void *ctx), void *ctx)
{
	struct stat st;
	int err = 0, fd;

	if (t->fd >= 0)
		err = read_new_lines(t, needle, on_line, ctx);
	/* The path names another file now: the old one is read to its end. */
	if (stat(t->path, &st) ||
	    (t->fd >= 0 && st.st_dev == t->dev && st.st_ino == t->ino))
		return err;
	fd = open_log(t->path, &st);
	if (fd < 0)
		return err;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->offset = 0;
	t->skipping = false;
	return read_new_lines(t, needle, on_line, ctx);
}
