// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the audit log as `cgfence log` reads it, and as the daemon
 * and the hook write it.
 *
 * Read: the input is the log; each line, as getline() hands it over, goes
 * through the record readers (audit_read.h) the way the table, filters and
 * summary use them. A line taken as a record must be one JSON object and
 * nothing else: `cgfence log --json` passes it on as one.
 *
 * Written, then read back: the input's first bytes are an event as the
 * kernel reports it (struct cgf_event), the following lines the
 * container id, cgroup and policy name; each kind of record audit.c and
 * lifecycle.c write from them must read back with the same fields.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "audit.h"
#include "audit_read.h"
#include "lifecycle.h"
#include "socknames.h"

/* What the readers are asked for, by the table, filters and summary. */
static const char *const str_keys[] = {
	"time",	  "type",   "event",  "container_id", "cgroup", "policy",
	"source", "hook",   "rule",   "comm",	      "dst",	"src",
	"device", "access", "socket", "protocol",     "verdict"};
static const char *const uint_keys[] = {"dport",      "pid",   "emitted",
					"suppressed", "count", "undelivered",
					"generation"};

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_audit_line: %s (%s)\n", what, detail);
	abort();
}

static void read_every_field(const cJSON *rec)
{
	static const unsigned long long maxes[] = {65535, INT32_MAX,
						   AUDIT_COUNT_MAX, 0};
	char target[160], pod[400];

	for (size_t i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++)
		audit_record_str(rec, str_keys[i]);
	for (size_t i = 0; i < sizeof(uint_keys) / sizeof(uint_keys[0]); i++) {
		for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(
				rec, uint_keys[i]);
			unsigned long long got =
				audit_record_uint(rec, uint_keys[i], maxes[m]);

			if (got > maxes[m])
				fail("a number above its maximum",
				     uint_keys[i]);
			if (got && (!cJSON_IsNumber(v) ||
				    v->valuedouble != (double)got))
				fail("a number that is not the record's",
				     uint_keys[i]);
		}
	}
	audit_record_target(rec, target, sizeof(target));
	if (!memchr(target, '\0', sizeof(target)))
		fail("the target is not terminated", "");
	/* The POD column, the summary and --namespace/--pod. */
	audit_record_pod_text(rec, pod, sizeof(pod), true);
	if (!memchr(pod, '\0', sizeof(pod)))
		fail("the pod is not terminated", "");
}

/* Each line as getline() returns it: up to and with its newline. */
static void read_log(const uint8_t *data, size_t size)
{
	for (size_t at = 0; at < size;) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - data - at) + 1 : size - at;
		char *line = malloc(len + 1);
		cJSON *rec, *whole;

		if (!line)
			fail("out of memory", "");
		memcpy(line, data + at, len);
		line[len] = '\0';
		at += len;
		if (audit_record_read(line, len, &rec) || !rec) {
			free(line);
			continue;
		}
		if (memchr(data + at - len, '\0', len))
			fail("a line with a NUL byte was taken as a record",
			     line);
		whole = cJSON_ParseWithOpts(line, NULL, 1);
		if (!cJSON_IsObject(whole))
			fail("a line that is not one JSON object was taken as "
			     "a record",
			     line);
		cJSON_Delete(whole);
		read_every_field(rec);
		cJSON_Delete(rec);
		free(line);
	}
}

/* ---- written, then read back ---- */

/* The line (freed here) must be one record; the caller checks its fields. */
static cJSON *read_back(char *line)
{
	cJSON *rec;

	if (!line)
		fail("the writer ran out of memory", "");
	if (audit_record_read(line, strlen(line), &rec) || !rec)
		fail("a written record does not read back", line);
	free(line);
	return rec;
}

static void expect_str(const cJSON *rec, const char *key, const char *want)
{
	const char *got = audit_record_str(rec, key);

	if (!want ? got != NULL : !got || strcmp(got, want))
		fail("a string field reads back changed", key);
}

static void expect_uint(const cJSON *rec, const char *key,
			unsigned long long max, unsigned long long want)
{
	/* Doubles hold integers exactly up to 2^53 only. */
	if (want <= AUDIT_COUNT_MAX && audit_record_uint(rec, key, max) != want)
		fail("a number reads back changed", key);
}

/* audit.c's escaping of strings that come from containers, at most max. */
static void safe(char *buf, const char *s, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < max && i < 256 && s[i]; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = c;
		else
			o += sprintf(buf + o, "\\x%02x", c);
	}
	buf[o] = '\0';
}

static void expect_enrichment(const cJSON *rec,
			      const struct audit_enrichment *en)
{
	const char *s[3] = {en->container_id, en->cgroup_path, en->policy_name};
	static const char *const keys[3] = {"container_id", "cgroup", "policy"};
	char want[4 * 256 + 1];

	for (int i = 0; i < 3; i++) {
		if (s[i] && s[i][0]) {
			safe(want, s[i], 256);
			expect_str(rec, keys[i], want);
		} else {
			expect_str(rec, keys[i], NULL);
		}
	}
}

static void expect_target(const cJSON *rec, const char *want)
{
	char got[160];

	audit_record_target(rec, got, sizeof(got));
	if (strcmp(got, want))
		fail("the target reads back changed", got);
}

static void check_event(const struct cgf_event *ev,
			const struct audit_enrichment *en)
{
	cJSON *rec = read_back(audit_format_event(ev, ev->time_ns, en));
	char want[160], id[16], when[48];

	audit_format_time(ev->time_ns, when, sizeof(when));
	expect_str(rec, "time", when);
	expect_str(rec, "type", ev->action == CGF_ALLOW ? "audit" : "deny");
	expect_str(rec, "hook", audit_hook_name(ev->hook));
	expect_str(rec, "verdict", "deny");
	snprintf(id, sizeof(id), "%08x", ev->policy_id);
	expect_str(rec, "policy_id", id);
	expect_uint(rec, "generation", UINT32_MAX, ev->generation);
	expect_uint(rec, "cgroup_id", AUDIT_COUNT_MAX, ev->cgroup_id);
	expect_enrichment(rec, en);
	if (ev->pid) {
		expect_uint(rec, "pid", UINT32_MAX, ev->pid);
		safe(want, ev->comm, sizeof(ev->comm));
		expect_str(rec, "comm", want);
	} else {
		expect_str(rec, "comm", NULL);
	}
	if (!audit_record_str(rec, "rule"))
		fail("an event without its rule", "");

	if (ev->hook == CGF_HOOK_DEVICE) {
		snprintf(want, sizeof(want), "%c %u:%u %s%s%s",
			 ev->dev_type == CGF_DEV_BLOCK ? 'b' : 'c',
			 ev->dev_major, ev->dev_minor,
			 ev->dev_access & CGF_ACC_READ ? "r" : "",
			 ev->dev_access & CGF_ACC_WRITE ? "w" : "",
			 ev->dev_access & CGF_ACC_MKNOD ? "m" : "");
		expect_target(rec, want);
	} else if (ev->hook == CGF_HOOK_SOCKET ||
		   ev->hook == CGF_HOOK_SOCKOPT) {
		const char *family = socknames_family_name(ev->sock_family);
		const char *type = socknames_type_name(ev->sock_type);
		char fbuf[16], tbuf[16], both[48];

		snprintf(fbuf, sizeof(fbuf), "%u", ev->sock_family);
		snprintf(tbuf, sizeof(tbuf), "%u", ev->sock_type);
		snprintf(both, sizeof(both), "%s %s", family ?: fbuf,
			 type ?: tbuf);
		expect_str(rec, "socket", both);
		snprintf(want, sizeof(want), "socket %s", both);
		expect_target(rec, want);
	} else {
		bool egress = ev->direction == CGF_DIR_EGRESS;
		bool ports = ev->protocol == IPPROTO_TCP ||
			     ev->protocol == IPPROTO_UDP;
		const char *proto = audit_record_str(rec, "protocol");
		char addr[INET6_ADDRSTRLEN], port[16] = "";
		bool v6;

		inet_ntop(ev->family == 4 ? AF_INET : AF_INET6, ev->addr, addr,
			  sizeof(addr));
		expect_str(rec, egress ? "dst" : "src", addr);
		expect_str(rec, egress ? "src" : "dst", NULL);
		expect_str(rec, "direction", egress ? "egress" : "ingress");
		if (ports)
			expect_uint(rec, "dport", 65535, ev->port);
		else if (cJSON_GetObjectItemCaseSensitive(rec, "dport"))
			fail("a port where the protocol has none", "");
		if (!proto || !proto[0])
			fail("a flow without its protocol", "");
		/* The table writes a port only where there is one. */
		v6 = strchr(addr, ':');
		if (ports && ev->port)
			snprintf(port, sizeof(port), ":%u", ev->port);
		snprintf(want, sizeof(want), "%s%s%s%s%s/%s",
			 egress ? "" : "from ", v6 && port[0] ? "[" : "", addr,
			 v6 && port[0] ? "]" : "", port, proto ?: "?");
		expect_target(rec, want);
	}
	cJSON_Delete(rec);
}

static void check_stats(const struct cgf_event *ev,
			const struct audit_enrichment *en)
{
	/* Counters from the event's bytes: any 64-bit values. */
	struct cgf_cgroup_stats total = {.emitted = ev->time_ns,
					 .suppressed = ev->cgroup_id,
					 .undelivered = ev->policy_id},
				since = {.emitted = ev->generation,
					 .suppressed = ev->rule,
					 .undelivered = ev->cgroup_id >> 11};
	cJSON *rec = read_back(audit_format_stats(ev->time_ns, ev->cgroup_id,
						  en, &total, &since));

	expect_str(rec, "type", "stats");
	expect_enrichment(rec, en);
	expect_uint(rec, "emitted", AUDIT_COUNT_MAX, since.emitted);
	expect_uint(rec, "suppressed", AUDIT_COUNT_MAX, since.suppressed);
	expect_uint(rec, "undelivered", AUDIT_COUNT_MAX, since.undelivered);
	expect_uint(rec, "emitted_total", AUDIT_COUNT_MAX, total.emitted);
	expect_uint(rec, "suppressed_total", AUDIT_COUNT_MAX, total.suppressed);
	expect_uint(rec, "undelivered_total", AUDIT_COUNT_MAX,
		    total.undelivered);
	cJSON_Delete(rec);

	rec = read_back(audit_format_counter(ev->time_ns, "lost", "count",
					     ev->cgroup_id, en->policy_name));
	expect_str(rec, "type", "lost");
	expect_uint(rec, "count", AUDIT_COUNT_MAX, ev->cgroup_id);
	expect_str(rec, "note", en->policy_name);
	cJSON_Delete(rec);
}

static void check_daemon(const struct cgf_event *ev,
			 const struct audit_enrichment *en)
{
	const char *log = en->cgroup_path ? en->cgroup_path : "";
	char want[4 * 256 + 1];
	cJSON *rec =
		read_back(audit_format_daemon(ev->time_ns, "started", log));

	expect_str(rec, "type", "daemon");
	expect_str(rec, "event", "started");
	safe(want, log, 256);
	expect_str(rec, "log", want);
	cJSON_Delete(rec);
}

static void check_lifecycle(const struct cgf_event *ev,
			    const struct audit_enrichment *en)
{
	static const char *const kinds[] = {"applied", "replaced", "removed",
					    "unconfined"};
	struct lifecycle_event le = {
		.kind = ev->hook % 4,
		.source = "hook",
		.container_id = en->container_id,
		.cgroup = en->cgroup_path,
		.cgroup_id = ev->cgroup_id,
		.policy = en->policy_name,
		.policy_id = ev->policy_id,
		.mode = ev->action ? "audit" : "enforce",
		.selected_by = ev->direction ? "selector" : NULL,
		.reason = en->policy_name,
	};
	char *text = lifecycle_format(&le, ev->time_ns), *line;
	cJSON *rec;
	size_t n;

	if (!text)
		fail("lifecycle_format ran out of memory", "");
	/* As lifecycle_record() writes it: with its newline. */
	n = strlen(text);
	line = malloc(n + 2);
	if (!line)
		fail("out of memory", "");
	memcpy(line, text, n);
	memcpy(line + n, "\n", 2);
	free(text);
	rec = read_back(line);
	expect_str(rec, "type", "lifecycle");
	expect_str(rec, "event", kinds[le.kind]);
	expect_str(rec, "source", "hook");
	/* Lifecycle records keep the strings as they are; empty is null. */
	expect_str(rec, "container_id",
		   le.container_id && le.container_id[0] ? le.container_id
							 : NULL);
	expect_str(rec, "cgroup", le.cgroup && le.cgroup[0] ? le.cgroup : NULL);
	expect_str(rec, "policy", le.policy && le.policy[0] ? le.policy : NULL);
	expect_str(rec, "reason", le.reason);
	expect_str(rec, "mode", le.mode);
	expect_str(rec, "selected_by", le.selected_by);
	cJSON_Delete(rec);
}

/* Lines after the event: container id, cgroup, policy name. */
static void split_strings(const uint8_t *data, size_t size, char **s, int max)
{
	size_t at = 0;

	for (int i = 0; i < max; i++) {
		const uint8_t *nl;
		size_t len;

		s[i] = NULL;
		if (at >= size)
			continue;
		nl = memchr(data + at, '\n', size - at);
		len = nl ? (size_t)(nl - data - at) : size - at;
		s[i] = strndup((const char *)data + at, len);
		if (!s[i])
			fail("out of memory", "");
		at += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgf_event ev = {};
	struct audit_enrichment en;
	size_t n = size < sizeof(ev) ? size : sizeof(ev);
	char *s[3];

	read_log(data, size);

	memcpy(&ev, data, n);
	split_strings(data + n, size - n, s, 3);
	en = (struct audit_enrichment){s[0], s[1], s[2]};
	check_event(&ev, &en);
	check_stats(&ev, &en);
	check_daemon(&ev, &en);
	check_lifecycle(&ev, &en);
	for (int i = 0; i < 3; i++)
		free(s[i]);
	return 0;
}
