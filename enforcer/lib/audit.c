// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "cgfence_logic.h"
#include "socknames.h"

void audit_format_time(uint64_t realtime_ns, char *buf, size_t len)
{
	time_t secs = realtime_ns / 1000000000ull;
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06uZ", base,
		 (unsigned int)(realtime_ns % 1000000000ull / 1000));
}

const char *audit_hook_name(uint8_t hook)
{
	static const char *const names[] = {
		[CGF_HOOK_CONNECT4] = "connect4",
		[CGF_HOOK_CONNECT6] = "connect6",
		[CGF_HOOK_SENDMSG4] = "sendmsg4",
		[CGF_HOOK_SENDMSG6] = "sendmsg6",
		[CGF_HOOK_EGRESS] = "egress",
		[CGF_HOOK_INGRESS] = "ingress",
		[CGF_HOOK_DEVICE] = "device",
		[CGF_HOOK_SOCKET] = "socket",
		[CGF_HOOK_SOCKOPT] = "setsockopt",
	};

	if (hook < sizeof(names) / sizeof(names[0]) && names[hook])
		return names[hook];
	return "unknown";
}

static const char *protocol_name(uint8_t proto, char *buf, size_t len)
{
	const char *name = socknames_protocol_name(proto);

	if (name)
		return name;
	snprintf(buf, len, "%u", proto);
	return buf;
}

/*
 * Strings that come from containers (comm, ids) may hold any byte: keep
 * printable ASCII, write anything else as \xNN so every line is valid UTF-8.
 */
static void add_safe_string(cJSON *obj, const char *key, const char *s,
			    size_t max)
{
	char buf[4 * 256 + 1];
	size_t o = 0;

	if (max > 256)
		max = 256;
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = c;
		else
			o += snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	cJSON_AddStringToObject(obj, key, buf);
}

/*
 * 64-bit counts and ids as exact decimals: cJSON prints a double with 15
 * significant digits when that reads back within a rounding error, so
 * 9007199254740991 would be written 9.00719925474099e+15.
 */
static void add_u64(cJSON *obj, const char *key, uint64_t value)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, value);
	cJSON_AddRawToObject(obj, key, text);
}

static char *finish_line(cJSON *obj)
{
	char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
	char *line = NULL;

	if (text) {
		size_t n = strlen(text);

		line = malloc(n + 2);
		if (line) {
			memcpy(line, text, n);
			line[n] = '\n';
			line[n + 1] = '\0';
		}
	}
	free(text);
	cJSON_Delete(obj);
	return line;
}

static cJSON *new_record(uint64_t realtime_ns, const char *type)
{
	cJSON *obj = cJSON_CreateObject();
	char when[48];

	if (!obj)
		return NULL;
	audit_format_time(realtime_ns, when, sizeof(when));
	cJSON_AddStringToObject(obj, "time", when);
	cJSON_AddStringToObject(obj, "type", type);
	return obj;
}

static void add_enrichment(cJSON *obj, uint64_t cgroup_id,
			   const struct audit_enrichment *en)
{
	add_u64(obj, "cgroup_id", cgroup_id);
	if (en && en->container_id && en->container_id[0])
		add_safe_string(obj, "container_id", en->container_id, 256);
	if (en && en->cgroup_path && en->cgroup_path[0])
		add_safe_string(obj, "cgroup", en->cgroup_path, 256);
	if (en)
		k8s_identity_add_json(obj, en->kubernetes);
	if (en && en->policy_name && en->policy_name[0])
		add_safe_string(obj, "policy", en->policy_name, 256);
}

static void rule_text(const char *section, uint32_t rule, char *buf, size_t len)
{
	switch (rule) {
	case CGF_RULE_DEFAULT:
		snprintf(buf, len, "%s.default", section);
		break;
	case CGF_RULE_SOCKETS_RAW:
		snprintf(buf, len, "sockets.raw");
		break;
	case CGF_RULE_SOCKETS_FAMILY:
		snprintf(buf, len, "sockets.families");
		break;
	case CGF_RULE_SOCKETS_OPTION:
		snprintf(buf, len, "sockets.options");
		break;
	/* Refused for its headers: no rule of the section decided. */
	case CGF_RULE_SOURCE_ROUTE:
		snprintf(buf, len, "%s.source-route", section);
		break;
	case CGF_RULE_BAD_HEADERS:
		snprintf(buf, len, "%s.unparsed-headers", section);
		break;
	default:
		snprintf(buf, len, "%s.rules[%u]", section, rule);
	}
}

void audit_rule_text(const struct cgf_event *ev, char *buf, size_t len)
{
	const char *section =
		ev->direction == CGF_DIR_EGRESS ? "egress" : "ingress";

	if (ev->hook == CGF_HOOK_DEVICE)
		section = "devices";
	else if (ev->hook == CGF_HOOK_SOCKET || ev->hook == CGF_HOOK_SOCKOPT)
		section = "sockets";
	rule_text(section, ev->rule, buf, len);
}

/* The rule that decided, as the policy's JSON path names it. */
static void add_rule(cJSON *obj, const struct cgf_event *ev)
{
	char buf[64];

	audit_rule_text(ev, buf, sizeof(buf));
	cJSON_AddStringToObject(obj, "rule", buf);
}

static const char *sockopt_name(uint32_t level, uint32_t optname)
{
	static const struct {
		uint32_t level, name;
		const char *text;
	} names[] = {
		{CGF_SOL_IP, CGF_IP_HDRINCL, "IP_HDRINCL"},
		{CGF_SOL_IP, CGF_IP_RECVERR, "IP_RECVERR"},
		{CGF_SOL_IP, CGF_IP_RECVERR_RFC4884, "IP_RECVERR_RFC4884"},
		{CGF_SOL_IP, CGF_IP_TRANSPARENT, "IP_TRANSPARENT"},
		{CGF_SOL_IP, CGF_IP_FREEBIND, "IP_FREEBIND"},
		{CGF_SOL_IPV6, CGF_IPV6_HDRINCL, "IPV6_HDRINCL"},
		{CGF_SOL_IPV6, CGF_IPV6_RECVERR, "IPV6_RECVERR"},
		{CGF_SOL_IPV6, CGF_IPV6_RECVERR_RFC4884,
		 "IPV6_RECVERR_RFC4884"},
		{CGF_SOL_IPV6, CGF_IPV6_TRANSPARENT, "IPV6_TRANSPARENT"},
		{CGF_SOL_IPV6, CGF_IPV6_FREEBIND, "IPV6_FREEBIND"},
		{CGF_SOL_IP, CGF_IP_ADD_MEMBERSHIP, "IP_ADD_MEMBERSHIP"},
		{CGF_SOL_IP, CGF_IP_UNBLOCK_SOURCE, "IP_UNBLOCK_SOURCE"},
		{CGF_SOL_IP, CGF_IP_BLOCK_SOURCE, "IP_BLOCK_SOURCE"},
		{CGF_SOL_IP, CGF_IP_ADD_SOURCE_MEMBERSHIP,
		 "IP_ADD_SOURCE_MEMBERSHIP"},
		{CGF_SOL_IP, CGF_IP_MSFILTER, "IP_MSFILTER"},
		{CGF_SOL_IPV6, CGF_IPV6_ADD_MEMBERSHIP, "IPV6_ADD_MEMBERSHIP"},
	};
	static const struct {
		uint32_t name;
		const char *text;
	} mcast_names[] = {
		{CGF_MCAST_JOIN_GROUP, "MCAST_JOIN_GROUP"},
		{CGF_MCAST_BLOCK_SOURCE, "MCAST_BLOCK_SOURCE"},
		{CGF_MCAST_UNBLOCK_SOURCE, "MCAST_UNBLOCK_SOURCE"},
		{CGF_MCAST_JOIN_SOURCE_GROUP, "MCAST_JOIN_SOURCE_GROUP"},
		{CGF_MCAST_MSFILTER, "MCAST_MSFILTER"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].level == level && names[i].name == optname)
			return names[i].text;
	/* The protocol-independent ones, at either level. */
	for (size_t i = 0; i < sizeof(mcast_names) / sizeof(mcast_names[0]);
	     i++)
		if ((level == CGF_SOL_IP || level == CGF_SOL_IPV6) &&
		    mcast_names[i].name == optname)
			return mcast_names[i].text;
	return "?";
}

/* A refused socket(2) or setsockopt(2): "family", "type", "protocol",
 * "socket": "packet raw" (and "option"). */
static void add_socket(cJSON *obj, const struct cgf_event *ev)
{
	const char *family = socknames_family_name(ev->sock_family);
	const char *type = socknames_type_name(ev->sock_type);
	char fbuf[16], tbuf[16], proto[8], both[48];

	if (!family) {
		snprintf(fbuf, sizeof(fbuf), "%u", ev->sock_family);
		family = fbuf;
	}
	if (!type) {
		snprintf(tbuf, sizeof(tbuf), "%u", ev->sock_type);
		type = tbuf;
	}
	cJSON_AddStringToObject(obj, "family", family);
	cJSON_AddStringToObject(obj, "type", type);
	if (ev->sock_family == AF_INET || ev->sock_family == AF_INET6)
		cJSON_AddStringToObject(
			obj, "protocol",
			protocol_name(ev->protocol, proto, sizeof(proto)));
	else
		cJSON_AddNumberToObject(obj, "protocol", ev->protocol);
	snprintf(both, sizeof(both), "%s %s", family, type);
	cJSON_AddStringToObject(obj, "socket", both);
	if (ev->hook == CGF_HOOK_SOCKOPT)
		cJSON_AddStringToObject(obj, "option",
					sockopt_name(ev->dev_major, ev->port));
	add_rule(obj, ev);
}

static void add_flow(cJSON *obj, const struct cgf_event *ev)
{
	char addr[INET6_ADDRSTRLEN], proto[8];
	int egress = ev->direction == CGF_DIR_EGRESS;

	if (!inet_ntop(ev->family == 4 ? AF_INET : AF_INET6, ev->addr, addr,
		       sizeof(addr)))
		strcpy(addr, "?");
	cJSON_AddStringToObject(obj, "direction",
				egress ? "egress" : "ingress");
	cJSON_AddStringToObject(
		obj, "protocol",
		protocol_name(ev->protocol, proto, sizeof(proto)));
	cJSON_AddStringToObject(obj, egress ? "dst" : "src", addr);
	if (ev->protocol == IPPROTO_TCP || ev->protocol == IPPROTO_UDP)
		cJSON_AddNumberToObject(obj, "dport", ev->port);
	add_rule(obj, ev);
}

static void add_device(cJSON *obj, const struct cgf_event *ev)
{
	char dev[48], access[4];
	int n = 0;

	snprintf(dev, sizeof(dev), "%c %u:%u",
		 ev->dev_type == CGF_DEV_BLOCK ? 'b' : 'c', ev->dev_major,
		 ev->dev_minor);
	if (ev->dev_access & CGF_ACC_READ)
		access[n++] = 'r';
	if (ev->dev_access & CGF_ACC_WRITE)
		access[n++] = 'w';
	if (ev->dev_access & CGF_ACC_MKNOD)
		access[n++] = 'm';
	access[n] = '\0';
	cJSON_AddStringToObject(obj, "device", dev);
	cJSON_AddStringToObject(obj, "access", access);
	add_rule(obj, ev);
}

char *audit_format_event(const struct cgf_event *ev, uint64_t realtime_ns,
			 const struct audit_enrichment *en)
{
	cJSON *obj = new_record(realtime_ns,
				ev->action == CGF_ALLOW ? "audit" : "deny");
	char id[16];

	if (!obj)
		return NULL;
	cJSON_AddStringToObject(obj, "hook", audit_hook_name(ev->hook));
	add_enrichment(obj, ev->cgroup_id, en);
	snprintf(id, sizeof(id), "%08x", ev->policy_id);
	cJSON_AddStringToObject(obj, "policy_id", id);
	cJSON_AddNumberToObject(obj, "generation", ev->generation);
	if (ev->hook == CGF_HOOK_DEVICE)
		add_device(obj, ev);
	else if (ev->hook == CGF_HOOK_SOCKET || ev->hook == CGF_HOOK_SOCKOPT)
		add_socket(obj, ev);
	else
		add_flow(obj, ev);
	cJSON_AddStringToObject(obj, "verdict", "deny");
	if (ev->pid) {
		cJSON_AddNumberToObject(obj, "pid", ev->pid);
		add_safe_string(obj, "comm", ev->comm, sizeof(ev->comm));
	}
	return finish_line(obj);
}

char *audit_format_stats(uint64_t realtime_ns, uint64_t cgroup_id,
			 const struct audit_enrichment *en,
			 const struct cgf_cgroup_stats *total,
			 const struct cgf_cgroup_stats *since_last)
{
	cJSON *obj = new_record(realtime_ns, "stats");

	if (!obj)
		return NULL;
	add_enrichment(obj, cgroup_id, en);
	add_u64(obj, "emitted", since_last->emitted);
	add_u64(obj, "suppressed", since_last->suppressed);
	add_u64(obj, "undelivered", since_last->undelivered);
	add_u64(obj, "emitted_total", total->emitted);
	add_u64(obj, "suppressed_total", total->suppressed);
	add_u64(obj, "undelivered_total", total->undelivered);
	return finish_line(obj);
}

char *audit_format_counter(uint64_t realtime_ns, const char *type,
			   const char *key, uint64_t value, const char *note)
{
	cJSON *obj = new_record(realtime_ns, type);

	if (!obj)
		return NULL;
	add_u64(obj, key, value);
	if (note)
		cJSON_AddStringToObject(obj, "note", note);
	return finish_line(obj);
}

char *audit_format_daemon(uint64_t realtime_ns, const char *what,
			  const char *log_path)
{
	cJSON *obj = new_record(realtime_ns, "daemon");

	if (!obj)
		return NULL;
	cJSON_AddStringToObject(obj, "event", what);
	add_safe_string(obj, "log", log_path, 256);
	return finish_line(obj);
}
