// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The suggestion builder (lib/suggest.c) and recording descriptions. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diag.h"
#include "policy.h"
#include "recording.h"
#include "suggest.h"
#include "unit.h"

#define T0  1796136000000000000ull /* 2026-12-01T14:40:00Z */
#define SEC 1000000000ull

static struct observation flow(int dir, const char *addr, int proto, int port,
			       uint64_t count, uint64_t first_s,
			       uint64_t last_s)
{
	struct observation o = {.count = count,
				.first_ns = T0 + first_s * SEC,
				.last_ns = T0 + last_s * SEC};

	o.key.kind = CGF_REC_FLOW;
	o.key.direction = dir;
	o.key.protocol = proto;
	o.key.port = port;
	if (inet_pton(AF_INET, addr, o.key.addr) == 1) {
		o.key.family = 4;
	} else {
		o.key.family = 6;
		inet_pton(AF_INET6, addr, o.key.addr);
	}
	return o;
}

static struct observation device(int type, int major, int minor, int access,
				 uint64_t count)
{
	struct observation o = {
		.count = count, .first_ns = T0, .last_ns = T0 + SEC};

	o.key.kind = CGF_REC_DEVICE;
	o.key.dev_type = type;
	o.key.dev_major = major;
	o.key.dev_minor = minor;
	o.key.dev_access = access;
	return o;
}

/* The rules of one section as compact JSON, comments left out. */
static char *rules_text(const struct observation *obs, size_t n,
			enum suggest_section s, const struct suggest_opts *o)
{
	cJSON *rules = cJSON_CreateArray(), *r;
	char *text;

	CHECK(suggest_section_rules(obs, n, s, o, rules) == 0, "rules");
	cJSON_ArrayForEach(r, rules) cJSON_DeleteItemFromObject(r, "comment");
	text = cJSON_PrintUnformatted(rules);
	cJSON_Delete(rules);
	return text;
}

static const char *first_comment(const struct observation *obs, size_t n,
				 enum suggest_section s, char *buf, size_t len)
{
	struct suggest_opts o = {0};
	cJSON *rules = cJSON_CreateArray();
	const cJSON *c;

	suggest_section_rules(obs, n, s, &o, rules);
	c = cJSON_GetObjectItem(cJSON_GetArrayItem(rules, 0), "comment");
	snprintf(buf, len, "%s", cJSON_IsString(c) ? c->valuestring : "");
	cJSON_Delete(rules);
	return buf;
}

static void test_peers_grouped(void)
{
	struct observation obs[] = {
		flow(CGF_DIR_EGRESS, "10.0.0.10", IPPROTO_TCP, 443, 5, 10, 20),
		flow(CGF_DIR_EGRESS, "10.0.0.2", IPPROTO_TCP, 443, 1, 5, 5),
		flow(CGF_DIR_EGRESS, "fd00::1", IPPROTO_TCP, 443, 2, 30, 40),
		/* the same peer on two adjacent ports and one more: one rule */
		flow(CGF_DIR_EGRESS, "10.1.0.1", IPPROTO_TCP, 80, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "10.1.0.1", IPPROTO_TCP, 81, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "10.1.0.1", IPPROTO_TCP, 8443, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "127.0.0.53", IPPROTO_UDP, 53, 9, 0, 0),
		flow(CGF_DIR_EGRESS, "10.0.0.2", IPPROTO_ICMP, 0, 3, 0, 0),
		/* other sections are not this one's */
		flow(CGF_DIR_INGRESS, "10.0.0.2", IPPROTO_TCP, 8080, 1, 0, 0),
		device(CGF_DEV_CHAR, 1, 3, CGF_ACC_READ, 1),
	};
	struct suggest_opts o = {0};
	char *text = rules_text(obs, 10, SUGGEST_EGRESS, &o), buf[256];

	CHECK(!strcmp(text,
		      "[{\"action\":\"allow\",\"to\":[\"10.0.0.2\"],"
		      "\"protocol\":"
		      "\"icmp\"},"
		      "{\"action\":\"allow\",\"to\":[\"10.1.0.1\"],"
		      "\"protocol\":"
		      "\"tcp\",\"ports\":[\"80-81\",8443]},"
		      "{\"action\":\"allow\",\"to\":[\"10.0.0.2\",\"10.0.0."
		      "10\","
		      "\"fd00::1\"],\"protocol\":\"tcp\",\"ports\":[443]},"
		      "{\"action\":\"allow\",\"to\":[\"127.0.0.53\"],"
		      "\"protocol\":\"udp\",\"ports\":[53]}]"),
	      "egress rules: %s", text);
	free(text);
	/* sorted by protocol (icmp 1 first), then port: 443's rule is third */
	struct observation only443[] = {obs[0], obs[1], obs[2]};

	first_comment(only443, 3, SUGGEST_EGRESS, buf, sizeof(buf));
	CHECK(!strcmp(buf, "3 peers; seen 8 times, first 2026-12-01T14:40:05Z, "
			   "last 2026-12-01T14:40:40Z"),
	      "comment: %s", buf);
	first_comment(&obs[7], 1, SUGGEST_EGRESS, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1 peer; seen 3 times, first 2026-12-01T14:40:00Z, "
			   "last 2026-12-01T14:40:00Z"),
	      "icmp comment: %s", buf);

	text = rules_text(obs, 10, SUGGEST_INGRESS, &o);
	CHECK(!strcmp(text, "[{\"action\":\"allow\",\"from\":[\"10.0.0.2\"],"
			    "\"protocol\":\"tcp\",\"ports\":[8080]}]"),
	      "ingress rules: %s", text);
	free(text);
}

static void test_aggregate(void)
{
	struct observation obs[] = {
		flow(CGF_DIR_EGRESS, "192.168.1.7", IPPROTO_TCP, 22, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "192.168.1.200", IPPROTO_TCP, 22, 2, 0, 9),
		flow(CGF_DIR_EGRESS, "192.168.2.1", IPPROTO_TCP, 22, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "2001:db8:0:1::5", IPPROTO_TCP, 22, 1, 0,
		     0),
		flow(CGF_DIR_EGRESS, "2001:db8:0:1:ffff::9", IPPROTO_TCP, 22, 1,
		     0, 0),
	};
	struct suggest_opts o = {.aggregate_v4 = 24, .aggregate_v6 = 64};
	char *text = rules_text(obs, 5, SUGGEST_EGRESS, &o);

	CHECK(!strcmp(text, "[{\"action\":\"allow\",\"to\":[\"192.168.1.0/24\","
			    "\"192.168.2.0/24\",\"2001:db8:0:1::/64\"],"
			    "\"protocol\":\"tcp\",\"ports\":[22]}]"),
	      "aggregated: %s", text);
	free(text);
	o.aggregate_v4 = 20;
	text = rules_text(obs, 3, SUGGEST_EGRESS, &o);
	CHECK(!strcmp(text,
		      "[{\"action\":\"allow\",\"to\":[\"192.168.0.0/20\"],"
		      "\"protocol\":\"tcp\",\"ports\":[22]}]"),
	      "/20: %s", text);
	free(text);
}

static void test_devices(void)
{
	struct observation obs[] = {
		device(CGF_DEV_CHAR, 1, 3, CGF_ACC_READ, 1),
		device(CGF_DEV_CHAR, 1, 3, CGF_ACC_READ | CGF_ACC_WRITE, 2),
		device(CGF_DEV_BLOCK, 8, 0, CGF_ACC_READ, 1),
		device(CGF_DEV_CHAR, 136, 0, CGF_ACC_WRITE | CGF_ACC_MKNOD, 1),
	};
	struct suggest_opts o = {0};
	char *text = rules_text(obs, 4, SUGGEST_DEVICES, &o), buf[256];

	CHECK(!strcmp(text,
		      "[{\"action\":\"allow\",\"type\":\"c\",\"major\":1,"
		      "\"minor\":"
		      "3,\"access\":\"rw\"},"
		      "{\"action\":\"allow\",\"type\":\"c\",\"major\":136,"
		      "\"minor\":\"*\",\"access\":\"wm\"},"
		      "{\"action\":\"allow\",\"type\":\"b\",\"major\":8,"
		      "\"minor\":"
		      "0,\"access\":\"r\"}]"),
	      "devices: %s", text);
	free(text);
	first_comment(obs, 2, SUGGEST_DEVICES, buf, sizeof(buf));
	CHECK(!strcmp(buf, "seen 3 times, first 2026-12-01T14:40:00Z, last "
			   "2026-12-01T14:40:01Z"),
	      "device comment: %s", buf);
}

/* The whole policy validates as cgfence check would. */
static void test_policy_validates(void)
{
	struct observation obs[] = {
		flow(CGF_DIR_EGRESS, "10.0.0.1", IPPROTO_TCP, 443, 1, 0, 0),
		flow(CGF_DIR_INGRESS, "10.0.0.2", IPPROTO_UDP, 53, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "fd00::2", IPPROTO_ICMPV6, 0, 1, 0, 0),
		flow(CGF_DIR_EGRESS, "10.0.0.3", 132, 0, 1, 0, 0), /* SCTP */
		device(CGF_DEV_CHAR, 1, 3, CGF_ACC_READ, 1),
	};
	struct suggest_opts o = {.name = "web-1",
				 .source = "container abc (cgroup /x)",
				 .not_recorded = 7,
				 .table_size = 100};
	cJSON *p = suggest_policy(obs, 5, &o);
	char *text = cJSON_Print(p);
	const cJSON *comment = cJSON_GetObjectItem(p, "comment");
	struct policy *parsed = NULL;
	struct diags d = {0};
	int err = policy_parse("(suggested)", text, strlen(text), &parsed, &d);

	CHECK(err == 0, "the suggestion parses: %s", text);
	if (err)
		diags_print(&d, stderr);
	CHECK(parsed && !strcmp(parsed->name, "web-1") &&
		      parsed->mode == CGF_MODE_ENFORCE &&
		      parsed->egress.nrules == 3 &&
		      parsed->egress.default_action == CGF_DENY &&
		      parsed->ingress.nrules == 1 &&
		      parsed->devices.nrules == 1,
	      "parsed as suggested");
	CHECK(cJSON_IsString(comment) &&
		      strstr(comment->valuestring, "record of container abc "
						   "(cgroup /x): 5 distinct") &&
		      strstr(comment->valuestring,
			     "WARNING: the record table (100 entries) was "
			     "full: "
			     "7 observations were not recorded"),
	      "policy comment: %s",
	      cJSON_IsString(comment) ? comment->valuestring : "-");
	policy_free(parsed);
	diags_free(&d);
	free(text);
	cJSON_Delete(p);

	/* Nothing observed: everything denied, still a valid policy. */
	p = suggest_policy(NULL, 0, &(struct suggest_opts){.name = "none"});
	text = cJSON_Print(p);
	parsed = NULL;
	CHECK(policy_parse("(empty)", text, strlen(text), &parsed, &d) == 0 &&
		      parsed->egress.present && !parsed->egress.nrules &&
		      parsed->devices.present,
	      "empty suggestion: %s", text);
	policy_free(parsed);
	diags_free(&d);
	free(text);
	cJSON_Delete(p);
}

/*
 * A container that opened /dev/ptmx and one terminal: the suggestion
 * allows every terminal read and write (TIOCGPTPEER opens one with no
 * device check, and devpts numbers them anew), so cgfence check takes it;
 * /dev/ptmx alone gets the terminals' rule too.
 */
static void test_terminals(void)
{
	struct observation obs[] = {
		device(CGF_DEV_CHAR, 5, 2, CGF_ACC_READ | CGF_ACC_WRITE, 1),
		device(CGF_DEV_CHAR, 136, 3, CGF_ACC_WRITE, 1),
	};
	struct suggest_opts o = {.name = "tty"};

	for (size_t n = 1; n <= 2; n++) {
		cJSON *p = suggest_policy(obs, n, &o);
		char *text = cJSON_PrintUnformatted(p);
		struct policy *parsed = NULL;
		struct diags d = {0};
		int err = policy_parse("(suggested)", text, strlen(text),
				       &parsed, &d);

		CHECK(err == 0, "%zu devices: the suggestion parses: %s", n,
		      text);
		if (err)
			diags_print(&d, stderr);
		CHECK(strstr(text, "{\"action\":\"allow\",\"type\":\"c\","
				   "\"major\":136,\"minor\":\"*\","
				   "\"access\":\"rw\""),
		      "%zu devices: every terminal, rw: %s", n, text);
		policy_free(parsed);
		diags_free(&d);
		free(text);
		cJSON_Delete(p);
	}
}

static struct observation socket_obs(int kind, int family, int protocol,
				     int option)
{
	struct observation o = {.count = 1, .first_ns = T0, .last_ns = T0};

	o.key.kind = kind;
	o.key.family = family;
	o.key.protocol = protocol;
	o.key.port = option;
	return o;
}

static void test_sockets(void)
{
	struct observation obs[] = {
		socket_obs(CGF_REC_RAW_SOCKET, AF_INET, IPPROTO_ICMP, 0),
		socket_obs(CGF_REC_RAW_SOCKET, AF_INET6, IPPROTO_ICMPV6, 0),
		socket_obs(CGF_REC_RAW_SOCKET, AF_INET, IPPROTO_ICMP, 0),
		socket_obs(CGF_REC_RAW_SOCKET, AF_INET, IPPROTO_RAW, 0),
		socket_obs(CGF_REC_SOCKOPT, 0, 0, CGF_SOCKOPT_RECVERR),
		socket_obs(CGF_REC_SOCKOPT, 0, 0, CGF_SOCKOPT_HDRINCL),
		socket_obs(CGF_REC_RAW_SOCKET, AF_INET, 132, 0), /* SCTP */
	};
	cJSON *p = cJSON_CreateObject();
	char *text, buf[64];

	CHECK(suggest_sockets(obs, 7, p) == 0, "sockets");
	text = cJSON_PrintUnformatted(p);
	CHECK(!strcmp(text,
		      "{\"sockets\":{\"raw\":[\"icmp\",\"icmpv6\",\"any\"],"
		      "\"options\":[\"hdrincl\",\"recverr\"]}}"),
	      "sockets: %s", text);
	free(text);
	/* merged into a section that has "any" already: nothing added */
	cJSON_Delete(p);
	p = cJSON_Parse("{\"sockets\": {\"raw\": [\"any\"]}}");
	CHECK(suggest_sockets(obs, 1, p) == 0, "merge");
	text = cJSON_PrintUnformatted(p);
	CHECK(!strcmp(text, "{\"sockets\":{\"raw\":[\"any\"]}}"), "merged: %s",
	      text);
	free(text);
	cJSON_Delete(p);
	/* no socket observation: no sockets section */
	p = cJSON_CreateObject();
	struct observation dev = device(CGF_DEV_CHAR, 1, 3, CGF_ACC_READ, 1);

	CHECK(suggest_sockets(&dev, 1, p) == 0 &&
		      !cJSON_GetObjectItem(p, "sockets"),
	      "no sockets");
	cJSON_Delete(p);
	observation_text(&obs[1], buf, sizeof(buf));
	CHECK(!strcmp(buf, "inet6:raw:icmpv6"), "%s", buf);
	observation_text(&obs[4], buf, sizeof(buf));
	CHECK(!strcmp(buf, "option recverr"), "%s", buf);
	CHECK(observation_section(&obs[4]) == SUGGEST_SOCKETS, "section");
}

static void test_texts(void)
{
	struct observation v6 =
		flow(CGF_DIR_EGRESS, "fd00::1", IPPROTO_UDP, 53, 1, 0, 0);
	struct observation icmp =
		flow(CGF_DIR_EGRESS, "10.0.0.1", IPPROTO_ICMP, 0, 1, 0, 0);
	struct observation dev = device(CGF_DEV_BLOCK, 8, 1, CGF_ACC_READ, 1);
	char buf[128];

	observation_text(&v6, buf, sizeof(buf));
	CHECK(!strcmp(buf, "[fd00::1]:53/udp"), "%s", buf);
	observation_text(&icmp, buf, sizeof(buf));
	CHECK(!strcmp(buf, "10.0.0.1/icmp"), "%s", buf);
	observation_text(&dev, buf, sizeof(buf));
	CHECK(!strcmp(buf, "b:8:1:r"), "%s", buf);
	suggest_seen_text(1, T0, T0, buf, sizeof(buf));
	CHECK(!strcmp(buf, "seen once, first 2026-12-01T14:40:00Z, last "
			   "2026-12-01T14:40:00Z"),
	      "%s", buf);

	suggest_policy_name("Web_1/Front", buf, sizeof(buf));
	CHECK(!strcmp(buf, "web_1-front"), "%s", buf);
	suggest_policy_name("--x", buf, sizeof(buf));
	CHECK(!strcmp(buf, "x"), "%s", buf);
	suggest_policy_name("", buf, sizeof(buf));
	CHECK(!strcmp(buf, "suggested"), "%s", buf);
	suggest_policy_name("0123456789012345678901234567890123456789012345678"
			    "90123456789abcdef",
			    buf, sizeof(buf));
	CHECK(strlen(buf) == 63 && policy_name_valid(buf), "%s", buf);
}

static void test_recording_round_trip(void)
{
	struct recording_info r = {.cgroup_id = 18446744073709551000ull,
				   .size = 16384,
				   .started_ns = T0,
				   .stopped_ns = T0 + 5 * SEC},
			      back;
	char *text;

	strcpy(r.container_id, "abc");
	strcpy(r.cgroup, "/sys/fs/cgroup/x");
	strcpy(r.policy, "record");
	text = recording_format(&r);
	CHECK(text && recording_parse(text, &back) == 0 &&
		      back.cgroup_id == r.cgroup_id && back.size == r.size &&
		      back.started_ns == T0 &&
		      back.stopped_ns == r.stopped_ns &&
		      !strcmp(back.container_id, "abc") &&
		      !strcmp(back.cgroup, "/sys/fs/cgroup/x") &&
		      !strcmp(back.policy, "record"),
	      "round trip: %s", text ? text : "-");
	free(text);
	CHECK(recording_parse("{\"cgroup_id\": 5}", &back) == -EINVAL,
	      "incomplete");
	CHECK(recording_parse("not json", &back) == -EINVAL, "not json");
}

int main(void)
{
	test_peers_grouped();
	test_aggregate();
	test_devices();
	test_policy_validates();
	test_terminals();
	test_sockets();
	test_texts();
	test_recording_round_trip();
	return unit_done("suggest");
}
