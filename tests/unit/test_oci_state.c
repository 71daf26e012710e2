// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The OCI state a hook reads, and the lifecycle records it writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lifecycle.h"
#include "oci_state.h"
#include "unit.h"

static int parse(const char *text, struct oci_state *s, char *why)
{
	return oci_state_parse(text, strlen(text), s, why, 256);
}

static void test_valid(void)
{
	struct oci_state s;
	char why[256] = "";
	int err;

	err = parse(
		"{\"ociVersion\": \"1.0.2\", \"id\": \"web-1\", \"status\": "
		"\"creating\","
		" \"pid\": 4242, \"bundle\": \"/run/b\","
		" \"annotations\": {\"cgfence.policy\": \"web\", \"x\": \"\"}}",
		&s, why);
	CHECK(err == 0, "valid state: %s", why);
	if (err)
		return;
	CHECK(!strcmp(s.id, "web-1") && !strcmp(s.status, "creating"),
	      "id, status");
	CHECK(s.pid == 4242 && !strcmp(s.bundle, "/run/b"), "pid, bundle");
	CHECK(s.nannotations == 2, "annotations: %zu", s.nannotations);
	CHECK(!strcmp(oci_state_annotation(&s, "cgfence.policy"), "web"),
	      "lookup");
	CHECK(oci_state_annotation(&s, "missing") == NULL,
	      "missing annotation");
	oci_state_free(&s);

	/* poststop: no pid, no annotations */
	err = parse("{\"id\": \"web-1\", \"status\": \"stopped\"}", &s, why);
	CHECK(err == 0 && s.pid == 0 && s.nannotations == 0,
	      "poststop state: %s", why);
	oci_state_free(&s);
}

static void test_invalid(void)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{"", "not valid JSON"},
		{"[]", "not a JSON object"},
		{"{\"status\": \"creating\"}", "no container \"id\""},
		{"{\"id\": \"\", \"status\": \"creating\"}", "container id"},
		{"{\"id\": \"a/b\", \"status\": \"creating\"}", "container id"},
		{"{\"id\": \"a b\", \"status\": \"creating\"}", "container id"},
		{"{\"id\": \"a\"}", "no \"status\""},
		{"{\"id\": \"a\", \"status\": \"creating\", \"pid\": -1}",
		 "\"pid\""},
		{"{\"id\": \"a\", \"status\": \"creating\", \"pid\": 1.5}",
		 "\"pid\""},
		{"{\"id\": \"a\", \"status\": \"creating\", \"pid\": \"12\"}",
		 "\"pid\""},
		{"{\"id\": \"a\", \"status\": \"creating\", \"annotations\": "
		 "{\"k\": 1}}",
		 "must be a string"},
		{"{\"id\": \"a\", \"status\": \"creating\", \"annotations\": "
		 "{\"k\": \"1\", \"k\": \"2\"}}",
		 "appears twice"},
		{"{\"id\": \"a\", \"id\": \"b\", \"status\": \"creating\"}",
		 "appears twice"},
		{"{\"id\": \"a\", \"status\": \"creating\", \"annotations\": "
		 "{\"\": \"w\"}}",
		 "empty key"},
		/* cJSON would cut the value at the NUL: "web" */
		{"{\"id\": \"a\", \"status\": \"creating\", \"annotations\": "
		 "{\"cgfence.policy\": \"web\\u0000x\"}}",
		 "\\u0000"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oci_state s;
		char why[256] = "";
		int err = parse(cases[i].text, &s, why);

		CHECK(err == -EINVAL && strstr(why, cases[i].why),
		      "case %zu: expected '%s', got %d '%s'", i, cases[i].why,
		      err, why);
	}
}

static void test_too_long_id(void)
{
	char text[512], id[200];
	struct oci_state s;
	char why[256];

	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "{\"id\": \"%s\", \"status\": \"creating\"}", id);
	CHECK(parse(text, &s, why) == -EINVAL, "id longer than the record");
}

static void test_size_limit(void)
{
	size_t len = OCI_STATE_MAX_SIZE + 1;
	char *big = malloc(len);
	struct oci_state s;
	char why[256];

	memset(big, ' ', len);
	CHECK(oci_state_parse(big, len, &s, why, sizeof(why)) == -EINVAL &&
		      strstr(why, "larger"),
	      "size limit: %s", why);
	free(big);
}

static void test_lifecycle_format(void)
{
	struct lifecycle_event ev = {
		.kind = LIFECYCLE_APPLIED,
		.source = "hook",
		.container_id = "web-\"1\"",
		.cgroup = "/sys/fs/cgroup/web",
		.cgroup_id = 18446744073709551615ull,
		.policy = "web",
		.policy_id = 0xdeadbeef,
		.mode = "enforce",
		.selected_by = "annotation",
	};
	struct lifecycle_event unconfined = {.kind = LIFECYCLE_UNCONFINED,
					     .source = "hook",
					     .container_id = "c2"};
	char *line = lifecycle_format(&ev, 1764077755123456789ull);
	cJSON *obj = line ? cJSON_Parse(line) : NULL;

	CHECK(obj != NULL, "valid JSON: %s", line ? line : "(null)");
	CHECK(line && !strchr(line, '\n'), "one line");
	CHECK(line && strstr(line, "\"time\":\"2025-11-25T13:35:55.123456Z\""),
	      "RFC 3339 time: %s", line ? line : "");
	CHECK(line && strstr(line, "\"cgroup_id\":18446744073709551615"),
	      "64-bit id kept exactly: %s", line ? line : "");
	CHECK(obj && !strcmp(cJSON_GetObjectItem(obj, "container_id")
				     ->valuestring,
			     "web-\"1\""),
	      "escaping");
	CHECK(obj && !strcmp(cJSON_GetObjectItem(obj, "event")->valuestring,
			     "applied"),
	      "event");
	CHECK(obj && !strcmp(cJSON_GetObjectItem(obj, "policy_id")->valuestring,
			     "deadbeef"),
	      "policy id in hex, as in deny records");
	CHECK(obj && !strcmp(cJSON_GetObjectItem(obj, "type")->valuestring,
			     "lifecycle"),
	      "audit log record type");
	cJSON_Delete(obj);
	free(line);

	line = lifecycle_format(&unconfined, 0);
	CHECK(line && strstr(line, "\"event\":\"unconfined\"") &&
		      strstr(line, "\"policy\":null") &&
		      strstr(line, "\"cgroup_id\":null") &&
		      !strstr(line, "kubernetes"),
	      "unconfined: %s", line ? line : "");
	free(line);
}

static void test_lifecycle_pod(void)
{
	struct k8s_identity pod = {
		.namespace_ = "shop", .pod = "web-0", .container = "nginx"};
	struct lifecycle_event ev = {.kind = LIFECYCLE_APPLIED,
				     .source = "hook",
				     .container_id = "c3",
				     .cgroup_id = 7,
				     .kubernetes = &pod};
	char *line = lifecycle_format(&ev, 0);

	CHECK(line && strstr(line, "\"cgroup_id\":7,\"kubernetes\":{"
				   "\"namespace\":\"shop\",\"pod\":"
				   "\"web-0\",\"container\":\"nginx\"},"),
	      "a pod's container: %s", line ? line : "");
	free(line);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_too_long_id();
	test_size_limit();
	test_lifecycle_format();
	test_lifecycle_pod();
	return unit_done("oci_state");
}
