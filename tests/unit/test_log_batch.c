// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's line writer (log_batch.c) and the allocation-free JSON it
 * formats into (json_line.c): lines go out in one write per batch, and a
 * write that fails loses no line uncounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_read.h"
#include "json_line.h"
#include "log_batch.h"
#include "unit.h"

static void test_json_line(void)
{
	char buf[256];
	struct json_line j;
	long n;

	json_line_begin(&j, buf, sizeof(buf));
	json_line_str(&j, "s", "a\"b\\c\n\t\x01\xc3\xa9");
	json_line_safe_str(&j, "comm", "x\"\\\x7f\xff", 16);
	json_line_u64(&j, "n", 18446744073709551615ull);
	json_line_u64(&j, "zero", 0);
	json_line_object_begin(&j, "o");
	json_line_null(&j, "a");
	json_line_true(&j, "b");
	json_line_object_end(&j);
	n = json_line_end(&j);
	CHECK(n > 0 && (size_t)n == strlen(buf), "length returned: %ld", n);
	CHECK(!strcmp(buf, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\","
			   "\"comm\":\"x\\\"\\\\\\\\x7f\\\\xff\","
			   "\"n\":18446744073709551615,\"zero\":0,"
			   "\"o\":{\"a\":null,\"b\":true}}\n"),
	      "cJSON's escapes, container bytes as \\xNN: %s", buf);

	json_line_begin(&j, buf, 16);
	json_line_str(&j, "key", "a value longer than the buffer");
	CHECK(json_line_end(&j) == -ENOSPC, "a line that does not fit fails");
	json_line_begin(&j, buf, sizeof(buf));
	json_line_safe_str(&j, "k", "abcdef", 3);
	CHECK(json_line_end(&j) > 0 && !strcmp(buf, "{\"k\":\"abc\"}\n"),
	      "a container string cut at its field's size: %s", buf);
}

static long add_line(struct log_batch *b, const char *type)
{
	long n = audit_write_counter(log_batch_room(b), LOG_BATCH_LINE_MAX, 0,
				     type, "count", 1, NULL);

	log_batch_commit(b, n);
	return n;
}

static size_t lines_of(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void test_batch_one_write(void)
{
	struct log_batch b;
	char got[1 << 16];
	int p[2];
	ssize_t n;

	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
	CHECK(log_batch_init(&b, p[1], 1 << 20) == 0, "init");
	for (int i = 0; i < 100; i++)
		add_line(&b, "lost");
	CHECK(b.len > 0, "nothing written before the flush");
	CHECK(log_batch_flush(&b) == 0, "flush");
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	CHECK(n > 0 && lines_of(got) == 100, "100 lines in one read: %zu",
	      lines_of(got));
	CHECK(b.unwritten == 0 && b.len == 0, "nothing counted lost");
	log_batch_free(&b);
	close(p[0]);
	close(p[1]);
}

/* A full buffer is flushed before the next line, which then fits. */
static void test_batch_full(void)
{
	struct log_batch b;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	CHECK(log_batch_init(&b, fd, 2 * LOG_BATCH_LINE_MAX) == 0, "init");
	long shortest = 1;

	for (int i = 0; i < 10000; i++) {
		long n = add_line(&b, "lost");

		shortest = n < shortest ? n : shortest;
	}
	CHECK(shortest > 0 && b.len < b.cap && b.unwritten == 0,
	      "flushed when full, every line fitted, nothing lost");
	log_batch_free(&b);
	CHECK(log_batch_init(&b, fd, LOG_BATCH_LINE_MAX) == -EINVAL,
	      "a batch smaller than two lines is refused");
	close(fd);
}

/* /dev/full: every write fails with ENOSPC; a closed pipe with EPIPE. */
static void test_batch_write_errors(void)
{
	struct log_batch b;
	char got[4096];
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC), p[2];
	ssize_t n;

	CHECK(log_batch_init(&b, full, 1 << 16) == 0, "init");
	for (int i = 0; i < 7; i++)
		add_line(&b, "lost");
	CHECK(log_batch_flush(&b) == -ENOSPC, "the write's error returned");
	CHECK(b.unwritten == 7, "7 lines counted lost: %llu",
	      (unsigned long long)b.unwritten);
	log_batch_commit(&b, -ENOSPC);
	CHECK(b.unwritten == 8, "a line that could not be formatted counts");

	/* Room again: the count goes first, then the lines. */
	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
	b.fd = p[1];
	add_line(&b, "daemon");
	CHECK(log_batch_flush(&b) == 0, "flush");
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	CHECK(strstr(got, "\"type\":\"write_errors\",\"count\":8,") &&
		      strstr(got, "write_errors") < strchr(got, '\n') &&
		      strstr(got, "\"type\":\"daemon\""),
	      "the loss is reported before the next line: %s", got);
	CHECK(lines_of(got) == 2 && b.unwritten == 0, "then forgotten: %s",
	      got);
	close(p[0]);

	/* No reader: EPIPE (SIGPIPE ignored as in the daemon). */
	signal(SIGPIPE, SIG_IGN);
	add_line(&b, "lost");
	add_line(&b, "lost");
	CHECK(log_batch_flush(&b) == -EPIPE && b.unwritten == 2,
	      "a broken pipe counts its lines: %llu",
	      (unsigned long long)b.unwritten);
	close(p[1]);
	log_batch_free(&b);
	close(full);
}

/* A write cut short: the lines out whole are written, the rest counted. */
static void test_batch_cut_short(void)
{
	struct log_batch b;
	static char got[1 << 16];
	int p[2];
	ssize_t n;

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096, "a one-page pipe");
	CHECK(log_batch_init(&b, p[1], 1 << 16) == 0, "init");
	for (int i = 0; i < 200; i++)
		add_line(&b, "lost");
	CHECK(b.len > (size_t)fcntl(p[1], F_GETPIPE_SZ), "more than fits");
	CHECK(log_batch_flush(&b) == -EAGAIN, "the pipe filled");
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	CHECK(n > 0 && lines_of(got) + b.unwritten == 200,
	      "whole lines written %zu + counted lost %llu == 200",
	      lines_of(got), (unsigned long long)b.unwritten);
	log_batch_free(&b);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	test_json_line();
	test_batch_one_write();
	test_batch_full();
	test_batch_write_errors();
	test_batch_cut_short();
	return unit_done("log_batch");
}
