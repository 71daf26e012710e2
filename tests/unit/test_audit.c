// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Audit log records (enforcer/lib/audit.c) and reading them back
 * (audit_read.c): what the daemon writes, `cgfence log` reads the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_read.h"
#include "unit.h"

/* 2^53 - 1: the largest count a double holds exactly with all below it. */
#define BIG 9007199254740991ull

static const char *shown(const char *line)
{
	return line ? line : "(no line)";
}

static void test_numbers_exact(void)
{
	struct cgf_cgroup_stats total = {.emitted = BIG, .suppressed = 1},
				since = {.emitted = BIG - 1,
					 .undelivered = 1000000000000001ull};
	struct audit_enrichment en = {.container_id = "c1"};
	struct cgf_event ev = {
		.hook = CGF_HOOK_CONNECT4, .family = 4, .cgroup_id = BIG};
	char *line;
	cJSON *rec = NULL;

	line = audit_format_stats(0, BIG, &en, &total, &since);
	CHECK(line && strstr(line, "\"cgroup_id\":9007199254740991,"),
	      "cgroup id written exactly: %s", shown(line));
	CHECK(line && strstr(line, "\"emitted_total\":9007199254740991,") &&
		      strstr(line, "\"emitted\":9007199254740990,"),
	      "counts written exactly, not as 9.00719925474099e+15: %s",
	      shown(line));
	CHECK(line && audit_record_read(line, strlen(line), &rec) == 0 && rec,
	      "the record reads back");
	if (rec) {
		CHECK(audit_record_uint(rec, "emitted_total",
					AUDIT_COUNT_MAX) == BIG,
		      "read back exactly");
		CHECK(audit_record_uint(rec, "undelivered", AUDIT_COUNT_MAX) ==
			      1000000000000001ull,
		      "read back exactly");
		cJSON_Delete(rec);
	}
	free(line);

	line = audit_format_event(&ev, 0, &en);
	CHECK(line && strstr(line, "\"cgroup_id\":9007199254740991,"),
	      "an event's cgroup id written exactly: %s", shown(line));
	free(line);
	line = audit_format_counter(0, "lost", "count", BIG, NULL);
	CHECK(line && strstr(line, "\"count\":9007199254740991}"),
	      "a counter written exactly: %s", shown(line));
	free(line);
}

static void test_pod(void)
{
	struct k8s_identity pod = {.namespace_ = "shop", .pod = "api-0"};
	struct audit_enrichment en = {.container_id = "c1",
				      .cgroup_path = "/sys/fs/cgroup/c1",
				      .kubernetes = &pod};
	struct cgf_cgroup_stats total = {.emitted = 1}, since = {.emitted = 1};
	struct cgf_event ev = {
		.hook = CGF_HOOK_CONNECT4, .family = 4, .cgroup_id = 9};
	char *line = audit_format_event(&ev, 0, &en);
	cJSON *rec = NULL;

	CHECK(line && strstr(line, "\"cgroup\":\"/sys/fs/cgroup/c1\","
				   "\"kubernetes\":{\"namespace\":\"shop\","
				   "\"pod\":\"api-0\",\"container\":null}"),
	      "a denial names the pod: %s", shown(line));
	CHECK(line && audit_record_read(line, strlen(line), &rec) == 0 && rec,
	      "reads back");
	cJSON_Delete(rec);
	free(line);
	line = audit_format_stats(0, 9, &en, &total, &since);
	CHECK(line && strstr(line, "\"kubernetes\":{\"namespace\":\"shop\""),
	      "stats name the pod: %s", shown(line));
	free(line);
	en.kubernetes = NULL;
	line = audit_format_event(&ev, 0, &en);
	CHECK(line && !strstr(line, "kubernetes"), "no pod: %s", shown(line));
	free(line);
}

static int read_line(const char *text, size_t len, bool *record)
{
	char *line = malloc(len + 1);
	cJSON *rec = NULL;
	int err;

	memcpy(line, text, len);
	line[len] = '\0';
	err = audit_record_read(line, len, &rec);
	*record = rec != NULL;
	cJSON_Delete(rec);
	free(line);
	return err;
}

#define READ(text, record) read_line(text, sizeof(text) - 1, record)

/* A record is a whole line holding one JSON object. */
static void test_lines(void)
{
	bool rec;

	CHECK(READ("{\"type\":\"deny\"}\n", &rec) == 0 && rec, "a record");
	CHECK(READ("  {\"type\":\"deny\"} \r\n", &rec) == 0 && rec,
	      "white space around it, a CRLF line end");
	CHECK(READ("\n", &rec) == 0 && !rec, "an empty line is skipped");
	CHECK(READ("", &rec) == 0 && !rec, "nothing at all");
	CHECK(READ("{\"type\":\"deny\"} {\"type\":\"audit\"}\n", &rec) ==
		      -EINVAL,
	      "two objects on one line");
	CHECK(READ("{\"type\":\"daemon\"}0000Z\",\"type\":\"deny\"}\n", &rec) ==
		      -EINVAL,
	      "a record and the rest of another");
	CHECK(READ("{\"type\":\"deny\"}\0{\"x\":1}\n", &rec) == -EINVAL,
	      "a NUL byte in the line");
	CHECK(READ("[1]\n", &rec) == -EINVAL && READ("7\n", &rec) == -EINVAL,
	      "JSON, but not an object");
}

int main(void)
{
	test_numbers_exact();
	test_pod();
	test_lines();
	return unit_done("audit");
}
