// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics' pure parts: label text, bounded series tables, the listen
 * address, hookd's counters file and following a log as it grows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook_stats.h"
#include "log_tail.h"
#include "metrics.h"
#include "unit.h"

static char *render_table(const struct metrics_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	metrics_table_render(t, f);
	fclose(f);
	return text;
}

static void test_labels(void)
{
	struct metrics_labels l;

	metrics_labels_init(&l);
	metrics_label(&l, "policy", "web");
	metrics_label(&l, "pod", NULL); /* absent */
	metrics_label(&l, "container", "");
	metrics_label(&l, "odd", "a\"b\\c\nd");
	CHECK(!strcmp(l.text, "policy=\"web\",odd=\"a\\\"b\\\\c\\nd\""),
	      "escaped: %s", l.text);
	CHECK(!l.too_long, "fits");

	char big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	metrics_labels_init(&l);
	metrics_label(&l, "pod", big);
	CHECK(l.too_long, "a value past the buffer is never cut");
}

static void test_table(void)
{
	struct metrics_table t;
	struct metrics_labels a, b, c;
	char *text;

	CHECK(metrics_table_init(&t, "cgfence_x_total", 2) == 0, "init");
	metrics_labels_init(&a);
	metrics_label(&a, "policy", "a");
	metrics_labels_init(&b);
	metrics_label(&b, "policy", "b");
	metrics_labels_init(&c);
	metrics_label(&c, "policy", "c");
	metrics_table_add(&t, &a, 1);
	metrics_table_add(&t, &a, 2);
	metrics_table_add(&t, &b, 5);
	metrics_table_add(&t, &c, 7); /* a third label set: over the cap */
	metrics_table_add(&t, &a, 1);
	CHECK(metrics_table_get(&t, &a) == 4, "a: %llu",
	      (unsigned long long)metrics_table_get(&t, &a));
	CHECK(metrics_table_get(&t, &b) == 5, "b");
	CHECK(metrics_table_get(&t, &c) == 0, "c has no series");
	CHECK(t.overflow == 7, "c's count is the overflow: %llu",
	      (unsigned long long)t.overflow);
	text = render_table(&t);
	CHECK(strstr(text, "cgfence_x_total{policy=\"a\"} 4\n") &&
		      strstr(text, "cgfence_x_total{policy=\"b\"} 5\n") &&
		      !strstr(text, "\"c\""),
	      "rendered: %s", text);
	free(text);
	metrics_table_free(&t);

	/* Many series: all found again (probing past collisions). */
	CHECK(metrics_table_init(&t, "cgfence_y_total", 1000) == 0, "init");
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 1000; i++) {
			char v[16];

			snprintf(v, sizeof(v), "p%d", i);
			metrics_labels_init(&a);
			metrics_label(&a, "policy", v);
			metrics_table_add(&t, &a, i);
		}
	int wrong = 0;

	for (int i = 0; i < 1000; i++) {
		char v[16];

		snprintf(v, sizeof(v), "p%d", i);
		metrics_labels_init(&a);
		metrics_label(&a, "policy", v);
		wrong += metrics_table_get(&t, &a) != 3ull * i;
	}
	CHECK(wrong == 0 && t.overflow == 0 && t.used == 1000,
	      "1000 series, %d wrong", wrong);
	metrics_table_free(&t);
}

static void test_listen(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	const char *why = NULL;
	static const char *const bad[] = {
		"127.0.0.1",	   ":9464",	      "localhost:9464",
		"127.0.0.1:0",	   "127.0.0.1:65536", "127.0.0.1:x",
		"::1:9464",	   "[::1:9464",	      "[]:9464",
		"[nothost]:9464",  "127.0.0.1:",      "1.2.3:9464",
		"127.0.0.1: 9464",
	};

	CHECK(metrics_parse_listen("127.0.0.1:9464", &ss, &len, &why) == 0 &&
		      a4->sin_family == AF_INET &&
		      ntohs(a4->sin_port) == 9464 &&
		      a4->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
		      len == sizeof(*a4),
	      "ipv4");
	CHECK(metrics_parse_listen("[::1]:19100", &ss, &len, &why) == 0 &&
		      a6->sin6_family == AF_INET6 &&
		      ntohs(a6->sin6_port) == 19100 &&
		      IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr),
	      "ipv6");
	CHECK(metrics_parse_listen("0.0.0.0:9464", &ss, &len, &why) == 0,
	      "every interface, when asked");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK(metrics_parse_listen(bad[i], &ss, &len, &why) ==
				      -EINVAL &&
			      why && *why,
		      "refused: %s", bad[i]);
	}
}

static void test_hook_stats(void)
{
	struct hook_stats s = {}, back;
	char *text, *cut;
	int line;

	hook_stats_record(&s, HOOK_STAGE_CREATE_RUNTIME, HOOK_RESULT_OK,
			  300000); /* 0.3 ms: first bucket */
	hook_stats_record(&s, HOOK_STAGE_CREATE_RUNTIME, HOOK_RESULT_OK,
			  1000000); /* exactly 1 ms: the 1 ms bucket */
	hook_stats_record(&s, HOOK_STAGE_CREATE_RUNTIME, HOOK_RESULT_REFUSED,
			  20000000000ull); /* 20 s: beyond the last */
	hook_stats_record(&s, HOOK_STAGE_POSTSTOP, HOOK_RESULT_OK, 700000);
	CHECK(s.duration_buckets[HOOK_STAGE_CREATE_RUNTIME][0] == 1 &&
		      s.duration_buckets[HOOK_STAGE_CREATE_RUNTIME][1] == 1 &&
		      s.duration_buckets[HOOK_STAGE_CREATE_RUNTIME]
					[HOOK_STATS_BUCKETS] == 1,
	      "buckets");
	CHECK(hook_stage_of("createRuntime") == HOOK_STAGE_CREATE_RUNTIME &&
		      hook_stage_of("poststop") == HOOK_STAGE_POSTSTOP &&
		      hook_stage_of("--bpffs") == HOOK_STAGE_UNKNOWN &&
		      hook_stage_of(NULL) == HOOK_STAGE_UNKNOWN,
	      "stages");
	text = hook_stats_format(&s);
	CHECK(text && hook_stats_parse(text, &back, &line) == 0 &&
		      !memcmp(&s, &back, sizeof(s)),
	      "round trip (line %d)", line);

	/* A file cut short (no final newline), another version, garbage. */
	cut = strdup(text);
	cut[strlen(cut) - 1] = '\0';
	CHECK(hook_stats_parse(cut, &back, &line) == -EINVAL, "cut");
	CHECK(hook_stats_parse("version 2\n", &back, &line) == -EINVAL,
	      "version 2");
	CHECK(hook_stats_parse("version 1\nrequests.x.ok 1\n", &back, &line) ==
			      -EINVAL &&
		      line == 2,
	      "unknown key at line 2 (%d)", line);
	CHECK(hook_stats_parse("version 1\nrequests.poststop.ok -1\n", &back,
			       &line) == -EINVAL,
	      "not a number");
	CHECK(hook_stats_parse("", &back, &line) == -EINVAL, "empty");
	free(cut);

	/* The histogram is cumulative, as Prometheus wants it. */
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	hook_stats_render(&s, f);
	fclose(f);
	CHECK(strstr(out, "cgfence_hook_request_duration_seconds_bucket{"
			  "stage=\"createRuntime\",le=\"0.0005\"} 1\n") &&
		      strstr(out, "cgfence_hook_request_duration_seconds_"
				  "bucket{stage=\"createRuntime\",le=\"10\"} "
				  "2\n") &&
		      strstr(out, "cgfence_hook_request_duration_seconds_"
				  "bucket{stage=\"createRuntime\",le=\"+Inf\"}"
				  " 3\n") &&
		      strstr(out, "cgfence_hook_request_duration_seconds_"
				  "count{stage=\"createRuntime\"} 3\n") &&
		      strstr(out, "cgfence_hook_requests_total{stage="
				  "\"createRuntime\",result=\"refused\"} 1\n"),
	      "%s", out);
	free(out);
	free(text);
}

struct seen {
	int n;
	char last[128];
};

static void on_line(char *line, size_t len, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", line);
}

static void append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	      "append");
	close(fd);
}

static void test_log_tail(void)
{
	char dir[] = "/tmp/cgfence-test-tail.XXXXXX", path[64], old[80];
	struct log_tail t;
	struct seen s = {};

	CHECK(mkdtemp(dir) != NULL, "tmpdir");
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	snprintf(old, sizeof(old), "%s/audit.jsonl.1", dir);
	append(path, "{\"hit\":0} history\n");
	CHECK(log_tail_open(&t, path) == 0, "open");
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 0, "what was there is not new: %d", s.n);
	append(path, "{\"hit\":1}\n{\"miss\":1}\n{\"hit\":2");
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 1 && !strcmp(s.last, "{\"hit\":1}"), "one line: %d %s",
	      s.n, s.last);
	append(path, "}\n");
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 2 && !strcmp(s.last, "{\"hit\":2}"),
	      "a line finished later: %d %s", s.n, s.last);

	/* Rotated (renamed, made anew): the old file's end, then the new. */
	append(path, "{\"hit\":3}\n");
	CHECK(rename(path, old) == 0, "rename");
	append(old, "{\"hit\":4}\n");
	append(path, "{\"hit\":5}\n");
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 5 && !strcmp(s.last, "{\"hit\":5}"), "rotated: %d %s", s.n,
	      s.last);

	/* Cut short in place (copytruncate): read again from the start. */
	CHECK(truncate(path, 0) == 0, "truncate");
	log_tail_poll(&t, "hit", on_line, &s);
	append(path, "{\"hit\":6}\n");
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 6 && !strcmp(s.last, "{\"hit\":6}"), "truncated: %d %s",
	      s.n, s.last);

	/* A line too long is skipped whole; the next one counts. */
	{
		size_t n = LOG_TAIL_MAX_LINE + 100;
		char *big = malloc(n + 2);

		memset(big, 'h', n);
		memcpy(big, "hit", 3);
		big[n] = '\n';
		big[n + 1] = '\0';
		append(path, big);
		append(path, "{\"hit\":7}\n");
		free(big);
	}
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 7 && !strcmp(s.last, "{\"hit\":7}"), "long line: %d %s",
	      s.n, s.last);
	log_tail_close(&t);

	/* A file that appears later is read from its start. */
	unlink(path);
	CHECK(log_tail_open(&t, path) == 0 && t.fd < 0, "missing is fine");
	append(path, "{\"hit\":8}\n");
	log_tail_poll(&t, "hit", on_line, &s);
	CHECK(s.n == 8, "appeared: %d", s.n);
	log_tail_close(&t);
	unlink(path);
	unlink(old);
	rmdir(dir);
}

int main(void)
{
	test_labels();
	test_table();
	test_listen();
	test_hook_stats();
	test_log_tail();
	return unit_done("test_metrics");
}
